//! Concord's API: the GraphQL schema (resolvers per aggregate, DataLoaders, typed errors),
//! the one access choke point, and the axum router that serves GraphQL, GraphiQL and the
//! health endpoints. It maps domain types to GraphQL and holds no business rule.

pub mod access;
pub mod auth;
pub mod coverage_cache;
mod enums;
pub mod error;
pub mod events;
mod export;
pub mod imports;
mod inputs;
pub mod limits;
mod loaders;
pub mod metrics;
mod observability;
mod paging;
pub mod rate_limit;
mod resolvers;
pub mod response_cache;
mod scalars;
mod types;

use std::time::Duration;

use async_graphql::Schema;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use concord_store::Store;
use observability::Instrument;
use tower_http::limit::RequestBodyLimitLayer;

pub use limits::ApiLimits;
pub use rate_limit::RateLimits;
pub use resolvers::{Mutation, Query, Subscription};

pub type ConcordSchema = Schema<Query, Mutation, Subscription>;

/// Largest request body accepted: a GraphQL document with its variables.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest multipart request (a file upload to `importIati` or `importHxl`); larger files
/// go through the CLI, which streams them.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Builds the schema over a store and the authenticator that signs sessions.
pub fn schema(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
) -> ConcordSchema {
    let cache = coverage_cache::CoverageCache::new(store.clone());
    schema_with(store, authenticator, events, cache, &ApiLimits::default())
}

fn schema_with(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    cache: coverage_cache::CoverageCache,
    limits: &ApiLimits,
) -> ConcordSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(cache)
        .data(store)
        .data(authenticator)
        .data(events)
        .extension(metrics::GraphQlMetrics);
    limits::configure(builder, limits, rate_limit::LoginLimiter::new(&limits.rate)).finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

pub use auth::Authenticator;

#[derive(Clone)]
pub(crate) struct AppState {
    schema: ConcordSchema,
    store: Store,
    coverage: coverage_cache::CoverageCache,
    authenticator: Authenticator,
    limits: limits::HttpLimits,
    responses: response_cache::ResponseCache,
}

/// The HTTP surface: `POST /graphql`, GraphiQL at `GET /graphql`, subscriptions over
/// WebSocket at `GET /graphql/ws` (graphql-transport-ws), `/healthz`, `/readyz`, `/metrics`.
pub fn router(store: Store, authenticator: Authenticator, events: events::OverlapEvents) -> Router {
    router_with_limits(store, authenticator, events, ApiLimits::default())
}

/// The router with configured limits (`concord serve`).
pub fn router_with_limits(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    limits: ApiLimits,
) -> Router {
    let cache = coverage_cache::CoverageCache::new(store.clone());
    build_router(store, authenticator, events, cache, &limits)
}

/// The router over a coverage cache the caller keeps a handle on (benchmarks wait for it).
/// Benchmarks measure the API, not the rate limiter nor answers kept from an earlier
/// identical question: no rate limits and no response cache here.
pub fn router_with(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    cache: coverage_cache::CoverageCache,
) -> Router {
    let limits = ApiLimits {
        rate: RateLimits::off(),
        response_cache_bytes: 0,
        ..ApiLimits::default()
    };
    build_router(store, authenticator, events, cache, &limits)
}

fn build_router(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    cache: coverage_cache::CoverageCache,
    limits: &ApiLimits,
) -> Router {
    // Serving starts building the coverage index, so the first questions find it ready.
    cache.start();
    let schema = schema_with(
        store.clone(),
        authenticator.clone(),
        events,
        cache.clone(),
        limits,
    );
    let state = AppState {
        schema,
        store,
        coverage: cache,
        authenticator,
        limits: limits::HttpLimits::new(limits),
        responses: response_cache::ResponseCache::new(limits.response_cache_bytes),
    };
    Router::new()
        .route("/graphql", get(limits::get_graphql).post(graphql))
        .route("/schema.graphql", get(limits::schema_sdl))
        .route("/graphql/ws", get(subscriptions))
        .route("/export/coverage.geojson", get(export::coverage_geojson))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .layer(RequestBodyLimitLayer::new(MAX_UPLOAD_BYTES))
        .instrumented()
        .with_state(state)
}

async fn graphql(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let headers = request.headers().clone();
    limits::with_request_id(&headers, async {
        let admitted = match limits::admit(&state, request).await {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal.into_response(),
        };
        let idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 200);
        let production = state.limits.limits.production;
        let run = |mut request: async_graphql::Request| {
            if let Some(key) = idempotency_key {
                request = request.data(resolvers::imports::IdempotencyKey(key.to_owned()));
            }
            if let Some(ip) = admitted.client_ip {
                request = request.data(rate_limit::ClientIp(ip));
            }
            if production && !admitted.caller.principal.is_signed_in() {
                request = request.disable_introspection();
            }
            execute(
                &state.schema,
                &state.store,
                request,
                admitted.caller.clone(),
            )
        };
        let response = match admitted.batch {
            async_graphql::BatchRequest::Single(request) => {
                let introspection = !production || admitted.caller.principal.is_signed_in();
                let answer = answer_once(&state, request, &admitted.caller, introspection, run);
                match answer.await {
                    Answer::Kept(body) => return kept_answer(body),
                    Answer::Computed(response) => async_graphql::BatchResponse::Single(response),
                }
            }
            async_graphql::BatchRequest::Batch(requests) => {
                let mut responses = Vec::with_capacity(requests.len());
                for request in requests {
                    responses.push(run(request).await);
                }
                async_graphql::BatchResponse::Batch(responses)
            }
        };
        GraphQLResponse::from(response).into_response()
    })
    .await
}

enum Answer {
    Kept(axum::body::Bytes),
    Computed(async_graphql::Response),
}

/// One operation, answered from the response cache when it holds the answer, and kept
/// there when the answer may be.
async fn answer_once<F, R>(
    state: &AppState,
    request: async_graphql::Request,
    caller: &access::Caller,
    introspection: bool,
    run: F,
) -> Answer
where
    F: FnOnce(async_graphql::Request) -> R,
    R: std::future::Future<Output = async_graphql::Response>,
{
    let started = std::time::Instant::now();
    // Writes journaled by other processes (SQLite) were read when the caller was
    // authenticated, just before.
    let slot = state
        .store
        .hears_others()
        .then(|| {
            state
                .responses
                .slot(&request, caller, introspection, state.store.generation())
        })
        .flatten();
    let Some(slot) = slot else {
        return Answer::Computed(run(request).await);
    };
    if let Some(hit) = state.responses.get(&slot) {
        metrics::record_kept_answer(&hit.operation, started);
        return Answer::Kept(hit.body);
    }
    let verdict = std::sync::Arc::new(response_cache::Verdict::default());
    let response = run(request.data(verdict.clone())).await;
    let kept = state
        .responses
        .put(slot, &verdict, &response, state.store.generation());
    metrics::record_computed_answer(kept);
    Answer::Computed(response)
}

/// A kept answer, sent as async-graphql sends a computed one.
fn kept_answer(body: axum::body::Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/graphql-response+json",
        )],
        body,
    )
        .into_response()
}

/// Runs one GraphQL request for a caller, with fresh loaders: the only way requests reach
/// the schema, over HTTP or in tests.
pub async fn execute(
    schema: &ConcordSchema,
    store: &Store,
    request: async_graphql::Request,
    caller: access::Caller,
) -> async_graphql::Response {
    let request = loaders::register(request, store, caller.principal.read_scope()).data(caller);
    schema.execute(request).await
}

/// A WebSocket of subscriptions. The caller signs in with the connection's init payload
/// (`{"authorization": "Bearer <token or API key>"}`) or the upgrade request's headers.
async fn subscriptions(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let authenticator = state.authenticator.clone();
            let store = state.store.clone();
            let production = state.limits.limits.production;
            GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let mut headers = headers;
                    if let Some(value) = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|v| v.as_str())
                        && let Ok(value) = value.parse()
                    {
                        headers.insert(axum::http::header::AUTHORIZATION, value);
                    }
                    let caller = authenticator
                        .authenticate(&headers)
                        .await
                        .map_err(|e| async_graphql::ErrorExtensions::extend(&e))?;
                    let mut data = async_graphql::Data::default();
                    loaders::RequestLoaders::new(&store, caller.principal.read_scope())
                        .uncached()
                        .into_data(&mut data);
                    if production && !caller.principal.is_signed_in() {
                        data.insert(limits::IntrospectionRefused);
                    }
                    data.insert(caller);
                    Ok(data)
                })
                .serve()
        })
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready means the database answers and is migrated; a load balancer stops sending traffic
/// while it is not.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ready = tokio::time::timeout(Duration::from_secs(2), state.store.is_ready())
        .await
        .unwrap_or(false);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::json!({ "ready": ready })))
}
