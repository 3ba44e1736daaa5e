//go:build tools

// Package tools pins the kube-apiserver main package so that `go mod tidy`
// records every module it needs; the file is never compiled.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
