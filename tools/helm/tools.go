//go:build tools

// Package tools pins the helm command so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
