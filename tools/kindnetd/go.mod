// A small stand-in for kind's kindnetd, for kind node images assembled
// offline (kindnetd itself is not served by the Go module proxy here).
module thanos-fleet/tools/kindnetd

go 1.26.0
