//! What wraps every request for operators: a request id (`x-request-id`, kept from the
//! client when well formed, else a fresh UUID) set on the request before any handler runs
//! and returned on the response, a tracing span carrying it, an access log line, and the
//! HTTP metrics.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest client-supplied request id kept; longer ones are replaced.
const MAX_REQUEST_ID: usize = 128;

/// Adds the operator's layers to a router: call it after the last route.
pub(crate) trait Instrument {
    fn instrumented(self) -> Self;
}

impl<S: Clone + Send + Sync + 'static> Instrument for Router<S> {
    fn instrumented(self) -> Self {
        // Installed now, not at the first scrape: what happens before it counts too.
        crate::metrics::handle();
        // The last layer added runs first: ids are settled before the span opens, and the
        // span is open around the handler and the metrics.
        self.layer(axum::middleware::from_fn(crate::metrics::track_http))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(axum::middleware::map_request(drop_malformed_request_id))
    }
}

fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The path only: a query string may hold a GraphQL document with its variables.
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// A client's id is kept for correlation across services unless it could not be logged
/// as is: then it is dropped and a fresh one generated.
async fn drop_malformed_request_id(mut request: Request) -> Request {
    if request
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|v| !well_formed(v))
    {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

fn well_formed(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_must_be_short_and_plain() {
        let ok = |s: &str| well_formed(&HeaderValue::from_str(s).unwrap());
        assert!(ok("3f1c2a9e-7b3d-4f7a-9c1e-0d2b8a6f4e21"));
        assert!(ok("req_42.a:b"));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!ok("quote\""));
        assert!(!ok(&"a".repeat(129)));
    }
}
