//go:build tools

// Package tools pins crictl so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
