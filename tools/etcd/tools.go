//go:build tools

// Package tools pins the etcd main package so that `go mod tidy` records
// every module it needs; the file is never compiled.
package tools

import _ "go.etcd.io/etcd/server/v3"
