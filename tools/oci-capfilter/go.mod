// An OCI runtime wrapper for hosts whose capability bounding set lacks some
// capabilities: it removes those from a container's config, then runs runc.
module thanos-fleet/tools/oci-capfilter

go 1.26.0
