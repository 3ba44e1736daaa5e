//go:build tools

// Package tools pins the Thanos main package so that `go mod tidy` records
// every module it needs; the file is never compiled.
package tools

import _ "github.com/thanos-io/thanos/cmd/thanos"
