//! eoffice simulator (not implemented yet).
