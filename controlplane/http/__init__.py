"""The HTTP edge: error rendering, request context middleware and dependency aliases."""
