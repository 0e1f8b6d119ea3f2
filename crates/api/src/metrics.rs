//! Prometheus metrics at `GET /metrics`: HTTP requests by route, GraphQL requests by
//! operation name, the database pool (sampled at scrape time) and the coverage and gap
//! engines. Recording goes through the `metrics` facade into one process-wide recorder
//! that `metrics-exporter-prometheus` renders; without the recorder (CLI commands) every
//! recording is a no-op.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest,
};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

pub const HTTP_REQUESTS: &str = "concord_http_requests_total";
pub const HTTP_DURATION: &str = "concord_http_request_duration_seconds";
pub const GRAPHQL_REQUESTS: &str = "concord_graphql_requests_total";
pub const GRAPHQL_DURATION: &str = "concord_graphql_request_duration_seconds";
pub const POOL_CONNECTIONS: &str = "concord_db_pool_connections";
pub const POOL_MAX: &str = "concord_db_pool_max_connections";
pub const GAPS_DURATION: &str = "concord_gap_computation_duration_seconds";
pub const COVERAGE_DURATION: &str = "concord_coverage_computation_duration_seconds";
pub const WRITE_DURATION: &str = "concord_intervention_write_duration_seconds";
pub const RESPONSE_CACHE: &str = "concord_response_cache_total";

/// Operation names get a label of their own up to this many; later ones count as `other`.
/// Clients name operations freely, and every label value is a time series kept forever.
pub const MAX_OPERATION_LABELS: usize = 200;
const MAX_OPERATION_NAME: usize = 100;

/// From a millisecond to five minutes: requests at the low end, a gap computation over a
/// whole country at the high end.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. Installing twice is refused by the
/// facade, and tests build many routers in one process, so it is kept here once.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        match builder().install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            Err(error) => {
                // Another recorder owns the facade (an embedding program's): /metrics
                // stays empty rather than failing.
                tracing::warn!(%error, "cannot install the metrics recorder");
                builder().build_recorder().handle()
            }
        }
    })
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by method and route"
    );
    describe_counter!(
        GRAPHQL_REQUESTS,
        "GraphQL requests by operation name and outcome (ok, error)"
    );
    describe_histogram!(
        GRAPHQL_DURATION,
        Unit::Seconds,
        "GraphQL request latency (parse, validation, execution) by operation name"
    );
    describe_counter!(
        RESPONSE_CACHE,
        "Queries by what the response cache did: hit (answered from memory), kept (computed and kept), passed (computed, not keepable)"
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database pool connections by state (idle, in_use), sampled at scrape time"
    );
    describe_gauge!(
        POOL_MAX,
        "Largest number of database connections in the pool"
    );
    describe_histogram!(
        GAPS_DURATION,
        Unit::Seconds,
        "Time of the gap engine over the cells a `gaps` query covers"
    );
    describe_histogram!(
        COVERAGE_DURATION,
        Unit::Seconds,
        "Time of the coverage engine over an area and its children"
    );
    describe_histogram!(
        concord_store::OVERLAP_CHECK_DURATION,
        Unit::Seconds,
        "Time of the write-time overlap check by stage: fetch the candidates, run the engine, store the findings"
    );
    describe_histogram!(
        WRITE_DURATION,
        Unit::Seconds,
        "Time of an intervention write, its write-time overlap check included, by kind"
    );
}

/// `GET /metrics` in the Prometheus text format.
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    let handle = handle();
    let pool = state.store.pool_status();
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    gauge!(POOL_CONNECTIONS, "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    gauge!(POOL_MAX).set(f64::from(pool.max));
    // Histograms are folded into their buckets here rather than by a background thread.
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}

/// Counts and times every HTTP request by its route pattern (never the raw path, which a
/// client could vary without end).
pub(crate) async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed());
    response
}

/// The label of an operation name: the name itself while fewer than
/// [`MAX_OPERATION_LABELS`] names have been seen, `anonymous` for unnamed operations,
/// `other` past the limit, `invalid` for requests that never reached execution.
fn operation_label(seen: &Mutex<HashSet<String>>, name: Option<&str>) -> String {
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    // GraphQL names are `[_A-Za-z][_0-9A-Za-z]*`; the parser has checked that already.
    if name.len() > MAX_OPERATION_NAME {
        return "other".to_owned();
    }
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() < MAX_OPERATION_LABELS {
        seen.insert(name.to_owned());
        return name.to_owned();
    }
    "other".to_owned()
}

fn seen_operations() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The label a request's metrics are counted under.
pub(crate) fn operation_label_of(operation_name: Option<&str>) -> String {
    operation_label(seen_operations(), operation_name)
}

/// Counts and times an answer given from the response cache, under its operation's label.
pub(crate) fn record_kept_answer(operation: &str, started: Instant) {
    counter!(RESPONSE_CACHE, "outcome" => "hit").increment(1);
    counter!(GRAPHQL_REQUESTS, "operation" => operation.to_owned(), "outcome" => "ok").increment(1);
    metrics::histogram!(GRAPHQL_DURATION, "operation" => operation.to_owned())
        .record(started.elapsed());
}

/// Counts a query the response cache saw computed: kept or not.
pub(crate) fn record_computed_answer(kept: bool) {
    counter!(RESPONSE_CACHE, "outcome" => if kept { "kept" } else { "passed" }).increment(1);
}

/// The schema extension that counts and times GraphQL requests by operation name.
pub struct GraphQlMetrics;

impl ExtensionFactory for GraphQlMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestMetrics::default())
    }
}

/// One request's: the operation's label, known once the document is parsed and validated.
#[derive(Default)]
struct RequestMetrics {
    operation: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestMetrics {
    async fn request(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextRequest<'_>,
    ) -> async_graphql::Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let operation = self
            .operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "invalid".to_owned());
        let outcome = if response.is_ok() { "ok" } else { "error" };
        counter!(GRAPHQL_REQUESTS, "operation" => operation.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(GRAPHQL_DURATION, "operation" => operation).record(started.elapsed());
        response
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let label = operation_label_of(operation_name);
        *self.operation.lock().unwrap_or_else(|e| e.into_inner()) = Some(label);
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        let seen = Mutex::new(HashSet::new());
        assert_eq!(operation_label(&seen, None), "anonymous");
        assert_eq!(
            operation_label(&seen, Some("Interventions")),
            "Interventions"
        );
        for i in 1..MAX_OPERATION_LABELS {
            assert_eq!(
                operation_label(&seen, Some(&format!("Op{i}"))),
                format!("Op{i}")
            );
        }
        assert_eq!(operation_label(&seen, Some("OneTooMany")), "other");
        // Names seen before the limit keep their label.
        assert_eq!(
            operation_label(&seen, Some("Interventions")),
            "Interventions"
        );
        assert_eq!(operation_label(&seen, Some(&"A".repeat(101))), "other");
    }
}
