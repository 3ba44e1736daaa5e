//go:build tools

// Package tools pins the fleet-minio main package so that `go mod tidy` records
// every module it needs; the file is never compiled.
package tools

import _ "thanos-fleet/tools/fleet-minio/cmd/fleet-minio"
