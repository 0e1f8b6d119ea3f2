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
mod loaders;
mod paging;
mod resolvers;
mod scalars;
mod types;

use std::time::Duration;

use async_graphql::Schema;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use concord_store::Store;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

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
    schema_with(store, authenticator, events, cache)
}

fn schema_with(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    cache: coverage_cache::CoverageCache,
) -> ConcordSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(cache)
        .data(store)
        .data(authenticator)
        .data(events)
        .limit_depth(12)
        .finish()
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
}

/// The HTTP surface: `POST /graphql`, GraphiQL at `GET /graphql`, subscriptions over
/// WebSocket at `GET /graphql/ws` (graphql-transport-ws), `/healthz`, `/readyz`.
pub fn router(store: Store, authenticator: Authenticator, events: events::OverlapEvents) -> Router {
    let cache = coverage_cache::CoverageCache::new(store.clone());
    router_with(store, authenticator, events, cache)
}

/// The router over a coverage cache the caller keeps a handle on (benchmarks wait for it).
pub fn router_with(
    store: Store,
    authenticator: Authenticator,
    events: events::OverlapEvents,
    cache: coverage_cache::CoverageCache,
) -> Router {
    // Serving starts building the coverage index, so the first questions find it ready.
    cache.start();
    let schema = schema_with(store.clone(), authenticator.clone(), events, cache.clone());
    let state = AppState {
        schema,
        store,
        coverage: cache,
        authenticator,
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(subscriptions))
        .route("/export/coverage.geojson", get(export::coverage_geojson))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(RequestBodyLimitLayer::new(MAX_UPLOAD_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    // Only uploads may exceed the limit of a GraphQL document with its variables.
    let multipart = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if !multipart && length.is_some_and(|l| l > MAX_BODY_BYTES) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let caller = match state.authenticator.authenticate(&headers).await {
        Ok(caller) => caller,
        // Credentials that do not check out are refused before anything runs, with the same
        // error shape as every other.
        Err(error) => {
            let body = async_graphql::Response::from_errors(vec![
                async_graphql::ErrorExtensions::extend(&error)
                    .into_server_error(async_graphql::Pos::default()),
            ]);
            let status = if matches!(error, error::ApiError::Unauthenticated) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            return (status, Json(body)).into_response();
        }
    };
    let mut request = request.into_inner();
    if let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
    {
        request = request.data(resolvers::imports::IdempotencyKey(key.to_owned()));
    }
    GraphQLResponse::from(execute(&state.schema, &state.store, request, caller).await)
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

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
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
