//go:build tools

// Package tools pins containerd, its runc shim and ctr so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
