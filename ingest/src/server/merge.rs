//! Joining the callback routers of several connectors into one app.
//!
//! axum offers no way to list a router's routes, and `Router::merge` panics when two routers
//! register the same method on the same path. Two connectors configured with the same `path`
//! are a configuration mistake the operator must hear about as an error, not a crash, so the
//! merge is run under `catch_unwind` and the panic message becomes
//! [`ServerError::RouteConflict`]. The same path with different methods (WeCom's `GET` echo
//! check beside a `POST`) merges normally.

use std::panic::{AssertUnwindSafe, catch_unwind};

use axum::Router;

use super::ServerError;

/// Merges `routers` in order; a path + method claimed twice is an error.
pub fn merge_all(routers: Vec<Router>) -> Result<Router, ServerError> {
    let mut app = Router::new();
    for r in routers {
        let current = app;
        app = catch_unwind(AssertUnwindSafe(move || current.merge(r))).map_err(|payload| {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "two routers claim the same route".into());
            ServerError::RouteConflict(format!("{msg} (each callback connector needs its own `path`)"))
        })?;
    }
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};

    #[test]
    fn same_path_twice_is_an_error_not_a_panic() {
        let a = Router::new().route("/cb/x", post(|| async { "a" }));
        let b = Router::new().route("/cb/x", post(|| async { "b" }));
        let err = merge_all(vec![a, b]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/cb/x"), "{text}");
        assert!(text.contains("own `path`"), "{text}");
    }

    #[test]
    fn distinct_paths_and_methods_merge() {
        let a = Router::new().route("/cb/x", post(|| async { "a" }));
        let b = Router::new().route("/cb/x", get(|| async { "b" }));
        let c = Router::new().route("/cb/y", post(|| async { "c" }));
        assert!(merge_all(vec![a, b, c]).is_ok());
    }
}
