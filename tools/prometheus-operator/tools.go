//go:build tools

// Package tools pins the Prometheus Operator and its config reloader so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
	_ "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader"
)
