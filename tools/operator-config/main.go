// Prints the Prometheus configuration the Prometheus Operator generates for a Prometheus object (YAML on stdin).
package main

import (
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	"github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
	"sigs.k8s.io/yaml"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	p := &monitoringv1.Prometheus{}
	if err := yaml.UnmarshalStrict(in, p); err != nil {
		panic(err)
	}
	cg, err := prometheus.NewConfigGenerator(nil, p)
	if err != nil {
		panic(err)
	}
	cfg, err := cg.GenerateServerConfiguration(p, nil, nil, nil, nil, &assets.StoreBuilder{}, nil, nil, nil, nil)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(cfg)
}
