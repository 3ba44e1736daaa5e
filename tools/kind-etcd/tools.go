//go:build tools

// Package tools pins the etcd that kubeadm v1.36 runs (image tag 3.6.8-0) so that `go mod tidy` records every module
// it needs; the file is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
