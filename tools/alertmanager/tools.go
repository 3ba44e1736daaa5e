//go:build tools

// Package tools pins the Alertmanager main package so that `go mod tidy`
// records every module it needs; the file is never compiled.
package tools

import _ "github.com/prometheus/alertmanager/cmd/alertmanager"
