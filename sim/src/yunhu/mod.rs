//! yunhu simulator (not implemented yet).
