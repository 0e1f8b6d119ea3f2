//! What one request may ask of the server, and the refusals when it asks too much.
//!
//! Over HTTP: only JSON and multipart uploads are accepted on `POST /graphql` (a form post
//! from another site is refused before anything runs), a body is at most 1 MiB however it
//! is framed (uploads keep their 64 MiB), one operation per request unless batching is
//! turned on, and GET never executes a document. In the schema: depth, a complexity budget
//! where a page costs `first` times its children, aliases and directives per operation,
//! bracket nesting, fragment cycles, a timeout on queries, introspection only for signed-in
//! callers in production, and persisted queries (APQ).
//!
//! Every refusal carries a stable `extensions.code`: `LIMIT_EXCEEDED` (with `limit` and
//! `max`), `BAD_REQUEST`, `TIMEOUT`, `RATE_LIMITED`, `PERSISTED_QUERY_NOT_FOUND`.
//!
//! The document is measured in one pass that counts each fragment once, before
//! async-graphql's own checks run: those expand a fragment at every spread, so a document
//! of fragments that each spread the next several times would make them do exponential
//! work. Bracket nesting is measured on the text before it is parsed, so that a deeply
//! nested document gets the same coded refusal as any other shape over a limit.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    BatchRequest, IntrospectionMode, Request, Response, SchemaBuilder, ServerError, ServerResult,
    ValidationResult,
};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse};
use futures_util::StreamExt;

use crate::AppState;
use crate::access::Caller;
use crate::error::ApiError;
use crate::rate_limit::{LoginLimiter, RateKey, RateLimits, RequestLimiter, RetryAfter};

pub const DEFAULT_MAX_DEPTH: usize = 10;
/// A page of 500 interventions with every field costs about 26,000: one passes, two do
/// not, and neither does a page of 500 areas with a page of 500 children each (750,000).
pub const DEFAULT_MAX_COMPLEXITY: usize = 50_000;
pub const DEFAULT_MAX_ALIASES: usize = 30;
pub const DEFAULT_MAX_DIRECTIVES: usize = 20;
/// Operations in one batched request, when batching is on.
pub const DEFAULT_MAX_BATCH: usize = 5;
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Documents kept for persisted queries.
pub const DEFAULT_PERSISTED_QUERIES: usize = 1000;
/// Memory kept for answers of the response cache: 64 MiB.
pub const DEFAULT_RESPONSE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Deepest bracket nesting (`{`, `[`, `(`) of a document's text, and deepest chain of
/// selection sets and fragment spreads: far beyond any real query, well within the stack.
const MAX_NESTING: usize = 64;
/// Longest document kept as a persisted query; longer ones run but are not kept, so the
/// cache's memory stays bounded.
const MAX_PERSISTED_QUERY_BYTES: usize = 32 * 1024;

pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
pub const BAD_REQUEST: &str = "BAD_REQUEST";
pub const TIMEOUT: &str = "TIMEOUT";
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// The limits one server applies; `Default` is the documented defaults.
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// Deepest field nesting of an operation; introspection alone is exempt, since the
    /// standard introspection query is deeper and bounded by the schema itself.
    pub max_depth: usize,
    /// Budget of an operation: one per field, `first` (default 50) times the children for
    /// a page.
    pub max_complexity: usize,
    /// Aliases per operation, fragments counted where they are spread.
    pub max_aliases: usize,
    /// Directives per operation, fragments counted where they are spread.
    pub max_directives: usize,
    /// Whether a request may be a JSON array of operations.
    pub batching: bool,
    /// Operations in one batched request.
    pub max_batch: usize,
    /// Largest body of a request that is not an upload.
    pub max_body_bytes: usize,
    /// How long a query may run; mutations run to the end (each is one transaction, and
    /// an import takes as long as its file). Zero: no limit.
    pub query_timeout: Duration,
    /// Production: introspection and GraphiQL only for signed-in callers, and no field
    /// suggestions for anyone.
    pub production: bool,
    /// Documents kept for persisted queries (APQ); zero turns them off.
    pub persisted_queries: usize,
    /// Memory for answers kept by the response cache; zero turns it off.
    pub response_cache_bytes: usize,
    pub rate: RateLimits,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_directives: DEFAULT_MAX_DIRECTIVES,
            batching: false,
            max_batch: DEFAULT_MAX_BATCH,
            max_body_bytes: crate::MAX_BODY_BYTES,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            production: false,
            persisted_queries: DEFAULT_PERSISTED_QUERIES,
            response_cache_bytes: DEFAULT_RESPONSE_CACHE_BYTES,
            rate: RateLimits::default(),
        }
    }
}

/// A cost for a page of `first` items (at most the store's page size) whose items cost
/// `children`: for `#[graphql(complexity = ...)]` on connection fields. Saturating, so that
/// no `first` can overflow the sum async-graphql adds it to; a page never costs less than
/// its fields, so the field count measured before validation bounds the cost from below.
pub(crate) fn page_cost(first: Option<i32>, children: usize) -> usize {
    const CEILING: usize = 1 << 40;
    let first = match first {
        None => crate::paging::DEFAULT_PAGE_SIZE as usize,
        Some(n) => (n.max(1) as usize).min(concord_store::MAX_PAGE_SIZE as usize),
    };
    first
        .saturating_mul(children)
        .saturating_add(1)
        .min(CEILING)
}

/// A GraphQL error with a code.
pub(crate) fn coded(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

fn exceeded(limit: &str, max: usize, message: impl Into<String>) -> ServerError {
    let mut error = coded(LIMIT_EXCEEDED, message);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    error
}

// ---------------------------------------------------------------------------------------
// The schema: document limits, introspection, timeout, persisted queries.

/// Applies the limits to a schema being built, with the sign-in limiter as schema data.
pub(crate) fn configure<Q, M, S>(
    builder: SchemaBuilder<Q, M, S>,
    limits: &ApiLimits,
    login: LoginLimiter,
) -> SchemaBuilder<Q, M, S> {
    // Measured first: it runs before the persisted query extension, so no document over
    // the limits is ever kept.
    let mut builder = builder
        .extension(DocumentLimits(Arc::new(limits.clone())))
        .data(login);
    if limits.persisted_queries > 0 {
        builder = builder.extension(
            async_graphql::extensions::apollo_persisted_queries::ApolloPersistedQueries::new(
                async_graphql::extensions::apollo_persisted_queries::LruCacheStorage::new(
                    limits.persisted_queries,
                ),
            ),
        );
    }
    if limits.production {
        // Suggestions would spell out the schema to a caller refused introspection; one
        // schema serves every caller, so they are off for all.
        builder = builder.disable_suggestions();
    }
    builder
}

/// Connection data of a WebSocket whose caller may not introspect.
pub(crate) struct IntrospectionRefused;

/// The schema extension that enforces the document limits.
struct DocumentLimits(Arc<ApiLimits>);

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestLimits {
            limits: self.0.clone(),
            operation: Mutex::new(None),
        })
    }
}

/// One request's: what its operation is, known once the document is measured.
struct RequestLimits {
    limits: Arc<ApiLimits>,
    operation: Mutex<Option<Operation>>,
}

#[derive(Clone, Copy, Debug)]
struct Operation {
    kind: OperationType,
    introspection_only: bool,
    /// Every top-level field reads the registry: the answer may be kept.
    registry_reads: bool,
}

impl RequestLimits {
    fn operation(&self) -> Option<Operation> {
        *self.operation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let nesting = text_nesting(&request.query);
        if nesting > MAX_NESTING {
            return Err(exceeded(
                "nesting",
                MAX_NESTING,
                format!("the document nests {nesting} brackets deep; at most {MAX_NESTING}"),
            ));
        }
        let persisting =
            !request.query.is_empty() && request.extensions.0.contains_key("persistedQuery");
        if persisting {
            if request.query.len() > MAX_PERSISTED_QUERY_BYTES {
                request.extensions.0.remove("persistedQuery");
            } else {
                // Measured before the persisted query extension keeps it.
                let document = async_graphql::parser::parse_query(&request.query)?;
                measure(&document, &request, &self.limits)?;
            }
        }
        let mut request = next.run(ctx, request).await.map_err(|mut error| {
            if error.message == "PersistedQueryNotFound" {
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", PERSISTED_QUERY_NOT_FOUND);
            }
            error
        })?;
        // Over WebSocket the refusal comes with the connection's data, not the request.
        let mode = if ctx.data_opt::<IntrospectionRefused>().is_some() {
            IntrospectionMode::Disabled
        } else {
            request.introspection_mode
        };
        let operation_name = request.operation_name.clone();
        // A persisted document is measured again: introspection depends on the caller.
        let document = request.parsed_query()?;
        let operation = measure_with(document, mode, operation_name.as_deref(), &self.limits)?;
        *self.operation.lock().unwrap_or_else(|e| e.into_inner()) = operation;
        Ok(request)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let limits = &self.limits;
        // Depth first: a deep query is usually also costly, and depth is what to fix.
        let introspection_only = self.operation().is_some_and(|o| o.introspection_only);
        if result.depth > limits.max_depth && !introspection_only {
            return Err(vec![exceeded(
                "depth",
                limits.max_depth,
                format!(
                    "the query is {} fields deep; at most {}",
                    result.depth, limits.max_depth
                ),
            )]);
        }
        if result.complexity > limits.max_complexity {
            let mut error = exceeded(
                "complexity",
                limits.max_complexity,
                format!(
                    "the query costs {} and the budget is {}: ask for smaller pages (`first`) or fewer fields",
                    result.complexity, limits.max_complexity
                ),
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("cost", result.complexity as u64);
            return Err(vec![error]);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let timeout = self.limits.query_timeout;
        let operation = self.operation();
        if let (Some(verdict), Some(operation)) = (
            ctx.data_opt::<Arc<crate::response_cache::Verdict>>(),
            operation,
        ) {
            verdict.operation(
                &crate::metrics::operation_label_of(operation_name),
                operation.kind == OperationType::Query && operation.registry_reads,
            );
        }
        let query = operation.is_none_or(|o| o.kind == OperationType::Query);
        if !query || timeout.is_zero() {
            return next.run(ctx, operation_name).await;
        }
        match tokio::time::timeout(timeout, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    operation = operation_name.unwrap_or("anonymous"),
                    timeout_ms = timeout.as_millis() as u64,
                    "query stopped: timeout"
                );
                Response::from_errors(vec![coded(
                    TIMEOUT,
                    format!(
                        "the query ran longer than {} ms and was stopped",
                        timeout.as_millis()
                    ),
                )])
            }
        }
    }
}

/// The deepest bracket nesting of a document's text, outside strings and comments.
fn text_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut i, mut depth, mut deepest) = (0, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

fn measure(
    document: &ExecutableDocument,
    request: &Request,
    limits: &ApiLimits,
) -> ServerResult<()> {
    measure_with(
        document,
        request.introspection_mode,
        request.operation_name.as_deref(),
        limits,
    )
    .map(|_| ())
}

/// Checks every operation of a document against the limits and returns the one to run.
fn measure_with(
    document: &ExecutableDocument,
    introspection: IntrospectionMode,
    operation_name: Option<&str>,
    limits: &ApiLimits,
) -> ServerResult<Option<Operation>> {
    let mut counter = Counter {
        document,
        fragments: HashMap::new(),
    };
    let mut fields = 0u64;
    let mut selected = None;
    for (name, operation) in document.operations.iter() {
        let counts = counter
            .selection_set(&operation.node.selection_set.node, 1)
            .map_err(|e| e.into_error(limits))?;
        let directives = counts
            .directives
            .saturating_add(operation.node.directives.len() as u64);
        if counts.aliases > limits.max_aliases as u64 {
            return Err(exceeded(
                "aliases",
                limits.max_aliases,
                format!(
                    "the operation has {} aliases; at most {}",
                    counts.aliases, limits.max_aliases
                ),
            ));
        }
        if directives > limits.max_directives as u64 {
            return Err(exceeded(
                "directives",
                limits.max_directives,
                format!(
                    "the operation has {directives} directives; at most {}",
                    limits.max_directives
                ),
            ));
        }
        fields = fields.saturating_add(counts.fields);
        let root = root_fields(document, &operation.node);
        if introspection == IntrospectionMode::Disabled && root.introspects {
            return Err(coded(
                ApiError::Unauthenticated.code(),
                "introspection needs sign-in here; the schema is published at GET /schema.graphql",
            ));
        }
        let chosen = match (operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        if chosen {
            selected = Some(Operation {
                kind: operation.node.ty,
                introspection_only: root.only_introspection,
                registry_reads: root.registry_reads,
            });
        }
    }
    // Every field costs at least one, so a document with more fields than the budget is
    // over it: refused before async-graphql's checks expand its fragments.
    if fields > limits.max_complexity as u64 {
        let mut error = exceeded(
            "complexity",
            limits.max_complexity,
            format!(
                "the document selects {fields} fields, fragments counted where they are spread; the budget is {}",
                limits.max_complexity
            ),
        );
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("cost", fields);
        return Err(error);
    }
    Ok(selected)
}

/// What a selection set holds once its fragments are spread.
#[derive(Clone, Copy, Default)]
struct Counts {
    fields: u64,
    aliases: u64,
    directives: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.directives = self.directives.saturating_add(other.directives);
    }
}

enum Shape {
    TooDeep,
    Cycle(String),
}

impl Shape {
    fn into_error(self, limits: &ApiLimits) -> ServerError {
        match self {
            Shape::TooDeep => exceeded(
                "nesting",
                MAX_NESTING,
                format!("selection sets and fragment spreads nest more than {MAX_NESTING} deep"),
            ),
            Shape::Cycle(name) => exceeded(
                "depth",
                limits.max_depth,
                format!("fragment {name} spreads itself: the query would be infinitely deep"),
            ),
        }
    }
}

/// Counts selections with each fragment measured once (`None` while it is being measured,
/// which is how a cycle shows).
struct Counter<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a str, Option<Counts>>,
}

impl<'a> Counter<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, level: usize) -> Result<Counts, Shape> {
        if level > MAX_NESTING {
            return Err(Shape::TooDeep);
        }
        let mut counts = Counts::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    counts.add(Counts {
                        fields: 1,
                        aliases: u64::from(field.alias.is_some()),
                        directives: field.directives.len() as u64,
                    });
                    if !field.selection_set.node.items.is_empty() {
                        counts.add(self.selection_set(&field.selection_set.node, level + 1)?);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    counts.directives = counts
                        .directives
                        .saturating_add(fragment.node.directives.len() as u64);
                    counts.add(self.selection_set(&fragment.node.selection_set.node, level + 1)?);
                }
                Selection::FragmentSpread(spread) => {
                    counts.directives = counts
                        .directives
                        .saturating_add(spread.node.directives.len() as u64);
                    counts.add(self.fragment(spread.node.fragment_name.node.as_str(), level + 1)?);
                }
            }
        }
        Ok(counts)
    }

    fn fragment(&mut self, name: &'a str, level: usize) -> Result<Counts, Shape> {
        match self.fragments.get(name) {
            Some(Some(counts)) => return Ok(*counts),
            Some(None) => return Err(Shape::Cycle(name.to_owned())),
            None => {}
        }
        // An unknown fragment is validation's to report.
        let Some(definition) = self.document.fragments.get(name) else {
            return Ok(Counts::default());
        };
        self.fragments.insert(name, None);
        let mut counts = self.selection_set(&definition.node.selection_set.node, level)?;
        counts.directives = counts
            .directives
            .saturating_add(definition.node.directives.len() as u64);
        self.fragments.insert(name, Some(counts));
        Ok(counts)
    }
}

struct Root {
    introspects: bool,
    only_introspection: bool,
    registry_reads: bool,
}

/// Whether an operation's top-level fields (through fragments) ask for the schema.
fn root_fields(document: &ExecutableDocument, operation: &OperationDefinition) -> Root {
    fn walk<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
        root: &mut Root,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    root.registry_reads &= crate::response_cache::REGISTRY_READS.contains(&name)
                        && field.node.directives.is_empty();
                    match name {
                        "__schema" | "__type" => root.introspects = true,
                        "__typename" => {}
                        _ => root.only_introspection = false,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    walk(document, &fragment.node.selection_set.node, seen, root)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if seen.insert(name)
                        && let Some(definition) = document.fragments.get(name)
                    {
                        walk(document, &definition.node.selection_set.node, seen, root);
                    }
                }
            }
        }
    }
    let mut root = Root {
        introspects: false,
        only_introspection: true,
        registry_reads: true,
    };
    walk(
        document,
        &operation.selection_set.node,
        &mut HashSet::new(),
        &mut root,
    );
    root.only_introspection &= root.introspects;
    root
}

// ---------------------------------------------------------------------------------------
// HTTP: what reaches the schema, from whom, how often.

/// The HTTP side of the limits, kept in the router's state.
#[derive(Clone)]
pub(crate) struct HttpLimits {
    pub(crate) limits: Arc<ApiLimits>,
    pub(crate) requests: RequestLimiter,
}

impl HttpLimits {
    pub(crate) fn new(limits: &ApiLimits) -> Self {
        HttpLimits {
            limits: Arc::new(limits.clone()),
            requests: RequestLimiter::new(&limits.rate),
        }
    }
}

/// A request refused before it reached the schema: an HTTP status and one coded error.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    error: ServerError,
    retry_after: Option<u64>,
    allow: Option<&'static str>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            error: coded(code, message),
            retry_after: None,
            allow: None,
        }
    }

    fn too_large(max: usize) -> Self {
        Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error: exceeded(
                "body",
                max,
                format!("the request body is larger than {max} bytes"),
            ),
            retry_after: None,
            allow: None,
        }
    }

    fn rate_limited(retry: RetryAfter) -> Self {
        let seconds = retry.seconds();
        let mut error = coded(
            ApiError::RateLimited.code(),
            format!("too many requests; try again in {seconds} s"),
        );
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("retryAfter", seconds);
        Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            error,
            retry_after: Some(seconds),
            allow: None,
        }
    }

    /// Credentials that do not check out: 401; 503 with `Retry-After` when they could not be
    /// checked because the database was busy or out of reach; 500 when checking them failed
    /// on our side.
    fn credentials(error: ApiError) -> Self {
        let (status, retry_after) = match error {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, None),
            ApiError::Busy(_) | ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(crate::error::UNAVAILABLE_RETRY_AFTER),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        Refusal {
            status,
            error: async_graphql::ErrorExtensions::extend(&error)
                .into_server_error(async_graphql::Pos::default()),
            retry_after,
            allow: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        let mut response = (
            self.status,
            axum::Json(Response::from_errors(vec![self.error])),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// A request let through, with who sent it and from where.
pub(crate) struct Admitted {
    pub(crate) caller: Caller,
    pub(crate) batch: BatchRequest,
    pub(crate) client_ip: Option<IpAddr>,
}

/// The address of the connection, when the server was started with connection info.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Decides whether a `POST /graphql` runs, cheapest refusals first: the content type, the
/// credentials, the caller's allowance, then the body and the number of operations in it.
pub(crate) async fn admit(
    state: &AppState,
    request: axum::extract::Request,
) -> Result<Admitted, Refusal> {
    let limits = &state.limits.limits;
    let multipart = match media_type(request.headers()) {
        Some("application/json") => false,
        Some("multipart/form-data") => true,
        _ => {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BAD_REQUEST,
                "send GraphQL as application/json (or multipart/form-data for an upload)",
            ));
        }
    };
    let client_ip = client_ip(request.extensions());
    let caller = match state.authenticator.authenticate(request.headers()).await {
        Ok(caller) => caller,
        Err(error) => {
            // Guessing credentials spends the guesser's address's allowance.
            state
                .limits
                .requests
                .check(&RateKey::address(client_ip), 1)
                .map_err(Refusal::rate_limited)?;
            return Err(Refusal::credentials(error));
        }
    };
    let key = RateKey::of(&caller.principal, client_ip);
    state
        .limits
        .requests
        .check(&key, 1)
        .map_err(Refusal::rate_limited)?;
    let batch = if multipart {
        read_multipart(request).await?
    } else {
        let (parts, body) = request.into_parts();
        read_json(&parts.headers, body, limits.max_body_bytes).await?
    };
    if let BatchRequest::Batch(operations) = &batch {
        let max = if limits.batching { limits.max_batch } else { 1 };
        if operations.len() > max {
            let message = if limits.batching {
                format!("a batch of {} operations; at most {max}", operations.len())
            } else {
                "batched requests are not accepted: send one operation per request".to_owned()
            };
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                error: exceeded("batch", max, message),
                retry_after: None,
                allow: None,
            });
        }
        // Every operation of a batch is a request.
        let extra = u32::try_from(operations.len().saturating_sub(1)).unwrap_or(u32::MAX);
        state
            .limits
            .requests
            .check(&key, extra)
            .map_err(Refusal::rate_limited)?;
    }
    Ok(Admitted {
        caller,
        batch,
        client_ip,
    })
}

/// The content type without its parameters, lowercased.
fn media_type(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some("application/json"),
        "multipart/form-data" => Some("multipart/form-data"),
        _ => None,
    }
}

/// Reads a JSON body of at most `max` bytes, by its declared length or, when it is sent
/// in chunks, by counting what arrives.
async fn read_json(headers: &HeaderMap, body: Body, max: usize) -> Result<BatchRequest, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(Refusal::too_large(max));
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |l| l as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        })?;
        if bytes.len() + chunk.len() > max {
            return Err(Refusal::too_large(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice::<BatchRequest>(&bytes).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            format!("the body is not a GraphQL request: {e}"),
        )
    })
}

/// Reads an upload, streaming its files to disk; the router's body limit bounds it.
async fn read_multipart(request: axum::extract::Request) -> Result<BatchRequest, Refusal> {
    use axum::extract::FromRequest;
    async_graphql_axum::GraphQLBatchRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(request, &())
        .await
        .map(|batch| batch.into_inner())
        .map_err(|rejection| match rejection.0 {
            async_graphql::ParseRequestError::PayloadTooLarge => {
                Refusal::too_large(crate::MAX_UPLOAD_BYTES)
            }
            other => Refusal::new(
                StatusCode::BAD_REQUEST,
                BAD_REQUEST,
                format!("the upload is not a GraphQL multipart request: {other}"),
            ),
        })
}

/// `GET /graphql`: GraphiQL, never a document: a mutation must not run from a link or an
/// image tag, and queries go over POST like everything else.
pub(crate) async fn get_graphql(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let asks = request.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.starts_with("query=") || pair.starts_with("extensions="))
    });
    if asks {
        let mut refusal = Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BAD_REQUEST,
            "GraphQL documents are sent with POST; GET /graphql serves GraphiQL",
        );
        refusal.allow = Some("POST");
        return refusal.into_response();
    }
    if state.limits.limits.production {
        match state.authenticator.authenticate(request.headers()).await {
            Ok(caller) if caller.principal.is_signed_in() => {}
            Ok(_) => return StatusCode::NOT_FOUND.into_response(),
            Err(error) => return Refusal::credentials(error).into_response(),
        }
    }
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
    .into_response()
}

/// `GET /schema.graphql`: the SDL, for every caller in every mode.
pub(crate) async fn schema_sdl() -> impl IntoResponse {
    static SDL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        SDL.get_or_init(crate::sdl).clone(),
    )
}

// ---------------------------------------------------------------------------------------
// Correlation: the id an internal error shows is the request's id in the log.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if any.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs a request's work with its id (`x-request-id`, set by the router's layer or sent by
/// the client) as the correlation id of any internal error.
pub(crate) async fn with_request_id<F: std::future::Future>(
    headers: &HeaderMap,
    work: F,
) -> F::Output {
    match headers
        .get(crate::observability::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        Some(id) => REQUEST_ID.scope(id.to_owned(), work).await,
        None => work.await,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    #[tokio::test]
    async fn credentials_that_could_not_be_checked_answer_503_with_retry_after() {
        let response =
            Refusal::credentials(ApiError::Unavailable("pool timed out".into())).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
        assert!(!body.to_string().contains("pool timed out"), "{body}");

        let refused = Refusal::credentials(ApiError::Unauthenticated).into_response();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(refused.headers().get(header::RETRY_AFTER).is_none());
        let ours = Refusal::credentials(ApiError::Internal("bug".into())).into_response();
        assert_eq!(ours.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    struct Toy;

    #[Object]
    impl Toy {
        async fn value(&self) -> i32 {
            1
        }

        async fn child(&self) -> Toy {
            Toy
        }

        #[graphql(complexity = "page_cost(first, child_complexity)")]
        async fn page(&self, first: Option<i32>) -> Vec<Toy> {
            (0..first.unwrap_or(1)).map(|_| Toy).collect()
        }

        async fn slow(&self) -> i32 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            1
        }
    }

    fn toy(limits: ApiLimits) -> Schema<Toy, EmptyMutation, EmptySubscription> {
        let login = LoginLimiter::new(&RateLimits::off());
        configure(
            Schema::build(Toy, EmptyMutation, EmptySubscription),
            &limits,
            login,
        )
        .finish()
    }

    async fn code(
        schema: &Schema<Toy, EmptyMutation, EmptySubscription>,
        query: &str,
    ) -> (String, String) {
        let response = schema.execute(query).await;
        let Some(error) = response.errors.first() else {
            return (String::new(), String::new());
        };
        let extension = |name: &str| {
            error
                .extensions
                .as_ref()
                .and_then(|e| e.get(name))
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_default()
        };
        (extension("code"), extension("limit"))
    }

    fn limited() -> (String, String) {
        (LIMIT_EXCEEDED.to_owned(), String::new())
    }

    #[tokio::test]
    async fn document_shapes_are_refused_with_their_limit() {
        let schema = toy(ApiLimits::default());
        let ok = (String::new(), String::new());
        assert_eq!(code(&schema, "{ value child { value } }").await, ok);

        let aliases: String = (0..31).map(|i| format!("a{i}: value ")).collect();
        assert_eq!(
            code(&schema, &format!("{{ {aliases} }}")).await,
            (limited().0, "aliases".into())
        );
        // Aliases in a fragment count where it is spread.
        let sixteen: String = (0..16).map(|i| format!("a{i}: value ")).collect();
        assert_eq!(
            code(
                &schema,
                &format!("{{ ...F child {{ ...F }} }} fragment F on Toy {{ {sixteen} }}")
            )
            .await,
            (limited().0, "aliases".into())
        );

        let directives = "@skip(if: false) ".repeat(21);
        assert_eq!(
            code(&schema, &format!("{{ value {directives} }}")).await,
            (limited().0, "directives".into())
        );

        let deep = format!("{{ {} value {} }}", "child { ".repeat(10), "}".repeat(10));
        assert_eq!(code(&schema, &deep).await, (limited().0, "depth".into()));
        let nine = format!("{{ {} value {} }}", "child { ".repeat(9), "}".repeat(9));
        assert_eq!(code(&schema, &nine).await, ok);

        let brackets = format!("{}{}", "{ child ".repeat(100_000), "}".repeat(100_000));
        assert_eq!(
            code(&schema, &brackets).await,
            (limited().0, "nesting".into())
        );

        let cycle = "{ ...A } fragment A on Toy { child { ...B } } fragment B on Toy { ...A }";
        assert_eq!(code(&schema, cycle).await, (limited().0, "depth".into()));

        assert_eq!(
            code(
                &schema,
                "{ page(first: 500) { page(first: 500) { value } } }"
            )
            .await,
            (limited().0, "complexity".into())
        );
        assert_eq!(
            code(&schema, "{ page(first: 2147483647) { page(first: 2147483647) { page(first: 2147483647) { value } } } }").await,
            (limited().0, "complexity".into())
        );
        assert_eq!(
            code(&schema, "{ page(first: 500) { value child { value } } }").await,
            ok
        );
    }

    #[tokio::test]
    async fn fragments_that_multiply_are_measured_not_expanded() {
        let schema = toy(ApiLimits::default());
        // Each fragment spreads the next one ten times: 10^12 fields once expanded.
        let mut query = String::from("{ ...F0 }");
        for i in 0..12 {
            query.push_str(&format!(
                " fragment F{i} on Toy {{ {} }}",
                format!("...F{} ", i + 1).repeat(10)
            ));
        }
        query.push_str(" fragment F12 on Toy { value }");
        let started = std::time::Instant::now();
        assert_eq!(code(&schema, &query).await.0, LIMIT_EXCEEDED);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Many copies of one field: each counts.
        let copies = "value ".repeat(60_000);
        assert_eq!(
            code(&schema, &format!("{{ {copies} }}")).await.0,
            LIMIT_EXCEEDED
        );
    }

    #[tokio::test]
    async fn queries_time_out() {
        let schema = toy(ApiLimits {
            query_timeout: Duration::from_millis(50),
            ..ApiLimits::default()
        });
        assert_eq!(code(&schema, "{ slow }").await.0, TIMEOUT);
        assert_eq!(code(&schema, "{ value }").await.0, "");
    }

    #[tokio::test]
    async fn introspection_can_be_refused_per_request() {
        let schema = toy(ApiLimits::default());
        let query = "{ __schema { queryType { name } } }";
        assert!(schema.execute(query).await.errors.is_empty());
        let refused = schema
            .execute(Request::new(query).disable_introspection())
            .await;
        assert_eq!(
            refused.errors[0]
                .extensions
                .as_ref()
                .and_then(|e| e.get("code")),
            Some(&async_graphql::Value::from("UNAUTHENTICATED"))
        );
        let through_a_fragment = "{ ...F } fragment F on Toy { __type(name: \"Toy\") { name } }";
        assert!(
            !schema
                .execute(Request::new(through_a_fragment).disable_introspection())
                .await
                .errors
                .is_empty()
        );
        // __typename is not introspection of the schema.
        assert!(
            schema
                .execute(Request::new("{ __typename }").disable_introspection())
                .await
                .errors
                .is_empty()
        );
    }

    #[test]
    fn text_nesting_skips_strings_and_comments() {
        assert_eq!(text_nesting("{ a { b } }"), 2);
        assert_eq!(text_nesting("{ a(s: \"{{{{\") }"), 2);
        assert_eq!(text_nesting("{ a(s: \"\"\"{{{ \\\"\"\" {{\"\"\") }"), 2);
        assert_eq!(text_nesting("# {{{{\n{ a }"), 1);
        assert_eq!(text_nesting("{ a(s: \"\\\"{{\") }"), 2);
    }

    #[test]
    fn pages_cost_first_times_children_and_never_overflow() {
        assert_eq!(page_cost(Some(10), 3), 31);
        assert_eq!(page_cost(None, 2), 101);
        assert_eq!(page_cost(Some(-5), 2), 3);
        assert_eq!(page_cost(Some(i32::MAX), usize::MAX), 1 << 40);
    }

    #[tokio::test]
    async fn internal_errors_carry_the_request_id() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req-42"));
        let error = with_request_id(&headers, async {
            async_graphql::ErrorExtensions::extend(&ApiError::Internal("db down".into()))
        })
        .await;
        assert!(error.message.contains("req-42"), "{}", error.message);
        assert!(!error.message.contains("db down"));
    }
}
