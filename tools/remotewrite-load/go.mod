// Sends a steady remote-write stream (Prometheus remote write 1.0: protobuf, snappy) for the receive benchmark.
module thanos-fleet/tools/remotewrite-load

go 1.26.0

require github.com/golang/snappy v1.0.0
