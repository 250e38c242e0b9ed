//! Read queries.
