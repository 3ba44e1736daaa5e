//go:build tools

// Package tools pins the Prometheus and promtool main packages so that
// `go mod tidy` records every module they need; the file is never compiled.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
