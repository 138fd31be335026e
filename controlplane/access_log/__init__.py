"""The access log: one hash-chained record per proxied request, spooled before forwarding."""
