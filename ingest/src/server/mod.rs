//! The shared HTTP server: callback routes, `/healthz`, `/metrics` (not implemented yet).
