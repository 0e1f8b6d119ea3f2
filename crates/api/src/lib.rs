//! Concord's API: the GraphQL schema (resolvers per aggregate, DataLoaders, typed errors),
//! the one access choke point, and the axum router that serves GraphQL, GraphiQL and the
//! health endpoints. It maps domain types to GraphQL and holds no business rule.

pub mod access;
mod enums;
pub mod error;
mod inputs;
mod loaders;
mod paging;
mod resolvers;
mod scalars;
mod types;

use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptySubscription, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use concord_store::Store;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use resolvers::{Mutation, Query};

pub type ConcordSchema = Schema<Query, Mutation, EmptySubscription>;

/// Largest request body accepted: a GraphQL document with its variables.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the schema over a store.
pub fn schema(store: Store) -> ConcordSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(store)
        .limit_depth(12)
        .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

#[derive(Clone)]
struct AppState {
    schema: ConcordSchema,
    store: Store,
}

/// The HTTP surface: `POST /graphql`, GraphiQL at `GET /graphql`, `/healthz`, `/readyz`.
pub fn router(store: Store) -> Router {
    let state = AppState {
        schema: schema(store.clone()),
        store,
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn graphql(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    execute(
        &state.schema,
        &state.store,
        request.into_inner(),
        access::Principal::Anonymous,
    )
    .await
    .into()
}

/// Runs one GraphQL request for a caller, with fresh loaders: the only way requests reach
/// the schema, over HTTP or in tests.
pub async fn execute(
    schema: &ConcordSchema,
    store: &Store,
    request: async_graphql::Request,
    principal: access::Principal,
) -> async_graphql::Response {
    let request = loaders::register(request, store).data(principal);
    schema.execute(request).await
}

async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
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
