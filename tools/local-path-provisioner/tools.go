//go:build tools

// Package tools pins local-path-provisioner so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
)
