//go:build tools

// Package tools pins node_exporter so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "github.com/prometheus/node_exporter"
)
