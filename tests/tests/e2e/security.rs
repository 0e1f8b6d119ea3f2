//! Abuse of the GraphQL endpoint, against the real server: each attempt is refused with
//! its status and `extensions.code`, and nothing it asked for runs. JWT attacks are in
//! `identity.rs`.
//!
//! Three servers per backend at most: the embedded default (document and HTTP limits,
//! persisted queries), production mode (introspection, suggestions, GraphiQL; SQLite only,
//! since no database is involved), and one with low rate limits set through the
//! environment.

use concord_e2e::{Backend, TestApp, error_code};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{
    INTERVENTION_FIELDS, create_intervention, create_organisation, seed_areas, water_input,
};

/// POSTs a raw body with a content type; returns the status, the headers and the body as
/// JSON (null when it is not JSON).
async fn post_raw(
    app: &TestApp,
    content_type: Option<&str>,
    token: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("POST /graphql");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// The `limit` a LIMIT_EXCEEDED error names.
fn limit(response: &Value) -> &str {
    response["errors"][0]["extensions"]["limit"]
        .as_str()
        .unwrap_or("")
}

fn assert_refused(response: &Value, code: &str, which: &str) {
    assert_eq!(error_code(response), code, "{which}: {response:#}");
    assert!(
        response["data"].is_null(),
        "{which}: nothing runs: {response:#}"
    );
}

async fn organisation_count(app: &TestApp) -> u64 {
    app.data("{ organisations { totalCount } }", json!({}))
        .await["organisations"]["totalCount"]
        .as_u64()
        .unwrap()
}

const CREATE_ORGANISATION: &str = "mutation { createOrganisation(input: { name: \"Sneaky\", organisationType: \"21\", level: \"INTERNATIONAL\" }) { organisation { id } } }";

/// Sends a body in chunks, without a Content-Length, over a raw connection, and returns
/// the status the server answered with.
async fn post_chunked(app: &TestApp, body: &[u8]) -> u16 {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut sent = stream.write_all(head.as_bytes()).await.is_ok();
    for chunk in body.chunks(64 * 1024) {
        if !sent {
            break;
        }
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer and close before the last chunk: that is the point.
        sent = stream.write_all(&frame).await.is_ok();
    }
    if sent {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"))
}

async fn request_shapes(app: &TestApp) {
    // Alias overloading: 30 aliases pass, 31 do not, and neither do 31 spread through a
    // fragment twice.
    let thirty: String = (0..30).map(|i| format!("a{i}: __typename ")).collect();
    app.data(&format!("{{ {thirty} }}"), json!({})).await;
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: organisations(first: 1) {{ totalCount }} "))
        .collect();
    let response = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_refused(&response, "LIMIT_EXCEEDED", "31 aliases");
    assert_eq!(limit(&response), "aliases");
    assert_eq!(response["errors"][0]["extensions"]["max"], 30);
    let sixteen: String = (0..16).map(|i| format!("n{i}: name ")).collect();
    let response = app
        .gql(
            &format!(
                "{{ organisations {{ edges {{ a: node {{ ...F }} b: node {{ ...F }} }} }} }} fragment F on Organisation {{ {sixteen} }}"
            ),
            json!({}),
        )
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "aliases through fragments");
    assert_eq!(limit(&response), "aliases");

    // Batch abuse: a JSON array is refused whole, its mutation included.
    let before = organisation_count(app).await;
    let batch = json!([
        { "query": CREATE_ORGANISATION },
        { "query": "{ organisations { totalCount } }" }
    ]);
    let (status, _, response) = post_raw(
        app,
        Some("application/json"),
        Some(&app.admin),
        batch.to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert_refused(&response, "LIMIT_EXCEEDED", "a batch");
    assert_eq!(limit(&response), "batch");
    let hundred: Vec<Value> = (0..100)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, _, response) = post_raw(
        app,
        Some("application/json"),
        None,
        Value::from(hundred).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(limit(&response), "batch");
    assert_eq!(organisation_count(app).await, before);

    // Deep nesting: eleven fields deep, and a thousand brackets.
    let deep = "{ areas { edges { node { children { edges { node { children { edges { node { children { edges { node { name } } } } } } } } } } } } }";
    let response = app.gql(deep, json!({})).await;
    assert_refused(&response, "LIMIT_EXCEEDED", "depth 11");
    assert_eq!(limit(&response), "depth");
    let brackets = format!("{}{}", "{ areas ".repeat(1000), "}".repeat(1000));
    let response = app.gql(&brackets, json!({})).await;
    assert_refused(&response, "LIMIT_EXCEEDED", "1000 brackets");
    assert_eq!(limit(&response), "nesting");

    // Circular fragments.
    let response = app
        .gql(
            "{ organisations { edges { node { ...A } } } } fragment A on Organisation { name ...B } fragment B on Organisation { id ...A }",
            json!({}),
        )
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "circular fragments");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("spreads itself")
    );

    // Fragments that multiply: each spreads the next ten times.
    let mut bomb = String::from("{ organisations { edges { node { ...F0 } } } }");
    for i in 0..8 {
        bomb.push_str(&format!(
            " fragment F{i} on Organisation {{ {} }}",
            format!("...F{} ", i + 1).repeat(10)
        ));
    }
    bomb.push_str(" fragment F8 on Organisation { name }");
    let response = app.gql(&bomb, json!({})).await;
    assert_refused(&response, "LIMIT_EXCEEDED", "a fragment bomb");
    assert_eq!(limit(&response), "complexity");

    // Directive overloading.
    let directives = "@include(if: true) ".repeat(21);
    let response = app
        .gql(
            &format!("{{ organisations {directives} {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "21 directives");
    assert_eq!(limit(&response), "directives");

    // Field duplication: every copy counts.
    let copies = "totalCount ".repeat(60_000);
    let response = app
        .gql(&format!("{{ organisations {{ {copies} }} }}"), json!({}))
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "60,000 copies of a field");
    assert_eq!(limit(&response), "complexity");

    // Complexity: pages multiply their children.
    let response = app
        .gql(
            "{ areas(first: 500) { edges { node { children(first: 500) { edges { node { name } } } } } } }",
            json!({}),
        )
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "a page of pages");
    assert_eq!(limit(&response), "complexity");
    assert!(
        response["errors"][0]["extensions"]["cost"]
            .as_u64()
            .unwrap()
            > 50_000
    );

    // A full page of interventions with every field and nested record is within budget;
    // two are not.
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", Some("GB-CHC-202918")).await;
    create_intervention(app, water_input(&org, "W-1")).await;
    let full_page = format!(
        "interventions(first: 500) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {INTERVENTION_FIELDS} }} }} }}"
    );
    let page = app.data(&format!("{{ {full_page} }}"), json!({})).await;
    assert_eq!(page["interventions"]["totalCount"], 1);
    let response = app
        .gql(&format!("{{ a: {full_page} b: {full_page} }}"), json!({}))
        .await;
    assert_refused(&response, "LIMIT_EXCEEDED", "two full pages");
    assert_eq!(limit(&response), "complexity");

    // Very large variables: over 1 MiB by length, and over 1 MiB in chunks.
    let huge = json!({
        "query": "query($t: String) { interventions(filter: { text: $t }) { totalCount } }",
        "variables": { "t": "x".repeat(1024 * 1024 + 1) },
    });
    // A client of its own: the server answers before reading the body, and the connection
    // it was still uploading on may close under it; either way nothing ran.
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(huge.to_string())
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
        let response: Value = response.json().await.unwrap();
        assert_refused(&response, "LIMIT_EXCEEDED", "a 1 MiB variable");
        assert_eq!(limit(&response), "body");
    }
    let small = br#"{"query":"{ __typename }"}"#;
    assert_eq!(post_chunked(app, small).await, 200);
    let chunked = format!(
        "{{\"query\":\"query($t: String) {{ interventions(filter: {{ text: $t }}) {{ totalCount }} }}\",\"variables\":{{\"t\":\"{}\"}}}}",
        "x".repeat(1024 * 1024 + 64 * 1024)
    );
    assert_eq!(post_chunked(app, chunked.as_bytes()).await, 413);

    // Cross-site form posts carry no JSON content type and are refused before anything runs.
    let form = format!("query={}", CREATE_ORGANISATION.replace(' ', "+"));
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let body = if content_type == Some("text/plain") {
            json!({ "query": CREATE_ORGANISATION }).to_string()
        } else {
            form.clone()
        };
        let (status, _, response) = post_raw(app, content_type, Some(&app.admin), body).await;
        assert_eq!(status, 415, "{content_type:?}");
        assert_refused(&response, "BAD_REQUEST", "a form post");
    }
    let (status, _, _) = post_raw(
        app,
        Some("application/json; charset=utf-8"),
        None,
        r#"{"query":"{ __typename }"}"#,
    )
    .await;
    assert_eq!(status, 200);

    // A GET runs nothing, a mutation least of all; without a document it is GraphiQL.
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", CREATE_ORGANISATION)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response: Value = response.json().await.unwrap();
    assert_refused(&response, "BAD_REQUEST", "a mutation over GET");
    assert_eq!(organisation_count(app).await, before + 1);
    let graphiql = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);

    // Outside production, a misspelt field gets a suggestion (production hides it).
    let response = app.gql("{ organisationz { totalCount } }", json!({})).await;
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{response:#}"
    );

    // Persisted queries: unknown hash, registration, then the hash alone.
    let query = "{ organisations { totalCount } }";
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let (status, _, response) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "extensions": persisted }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&response), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(response["errors"][0]["message"], "PersistedQueryNotFound");
    let (_, _, registered) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "query": query, "extensions": persisted }).to_string(),
    )
    .await;
    assert_eq!(
        registered["data"]["organisations"]["totalCount"],
        before + 1,
        "{registered:#}"
    );
    let (_, _, by_hash) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "extensions": persisted }).to_string(),
    )
    .await;
    assert_eq!(by_hash["data"], registered["data"], "{by_hash:#}");
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let (_, _, mismatch) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "query": query, "extensions": wrong }).to_string(),
    )
    .await;
    assert!(mismatch["data"].is_null() && !mismatch["errors"][0].is_null());
    // A document over the limits is refused, not kept.
    let aliased = format!("{{ {aliases} }}");
    let aliased_hash = format!("{:x}", Sha256::digest(aliased.as_bytes()));
    let over = json!({ "persistedQuery": { "version": 1, "sha256Hash": aliased_hash } });
    let (_, _, refused) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "query": aliased, "extensions": over }).to_string(),
    )
    .await;
    assert_eq!(limit(&refused), "aliases");
    let (_, _, unknown) = post_raw(
        app,
        Some("application/json"),
        None,
        json!({ "extensions": over }).to_string(),
    )
    .await;
    assert_eq!(error_code(&unknown), "PERSISTED_QUERY_NOT_FOUND");

    // The schema is published whatever the mode, as committed.
    let sdl = app
        .client
        .get(format!("{}/schema.graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(sdl.status(), 200);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(sdl.text().await.unwrap(), committed);
}

crate::on_both_backends!(request_shapes);

/// The introspection query GraphiQL and most tools send (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }";

async fn production_mode(app: &TestApp) {
    // Anonymous callers read data but not the schema, by any route.
    app.data("{ organisations { totalCount } }", json!({}))
        .await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Intervention\") { fields { name } } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let response = app.gql(query, json!({})).await;
        assert_refused(&response, "UNAUTHENTICATED", query);
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("/schema.graphql")
        );
    }
    app.data("{ __typename }", json!({})).await;

    // Signed-in callers introspect with the full query tools send, deeper than the depth
    // limit.
    let schema = app.data_as(&app.admin, INTROSPECTION, json!({})).await;
    assert_eq!(schema["__schema"]["queryType"]["name"], "Query");
    assert!(schema["__schema"]["types"].as_array().unwrap().len() > 50);

    // No suggestions that would spell the schema out.
    for token in [None, Some(app.admin.as_str())] {
        let (_, response) = app
            .request(token, "{ interventionz { totalCount } }", json!({}))
            .await;
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("Did you mean"), "{message}");
    }

    // GraphiQL is for signed-in callers; the SDL for everyone.
    let graphiql = |token: Option<&str>| {
        let mut request = app.client.get(format!("{}/graphql", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token.to_owned());
        }
        request.send()
    };
    assert_eq!(graphiql(None).await.unwrap().status(), 404);
    assert_eq!(graphiql(Some(&app.admin)).await.unwrap().status(), 200);
    assert_eq!(graphiql(Some("not.a.token")).await.unwrap().status(), 401);
    let sdl = app
        .client
        .get(format!("{}/schema.graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(sdl.status(), 200);
    assert!(sdl.text().await.unwrap().contains("type Query"));

    // Nor over WebSocket, where a query is a `subscribe` message like any other.
    let refused = introspect_over_websocket(app, None).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused:#}"
    );
    assert!(refused["payload"]["data"].is_null(), "{refused:#}");
    assert_eq!(
        introspect_over_websocket(app, Some(&app.admin)).await["payload"]["data"]["__schema"]["queryType"]
            ["name"],
        "Query"
    );
}

/// Sends `{ __schema { queryType { name } } }` over graphql-transport-ws and returns the
/// first answer (`next` with the data, or `error`).
async fn introspect_over_websocket(app: &TestApp, token: Option<&str>) -> Value {
    let url = format!("{}/graphql/ws", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    let messages = [
        json!({ "type": "connection_init", "payload": payload }),
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __schema { queryType { name } } }" } }),
    ];
    for message in messages {
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(15), socket.next())
            .await
            .expect("an answer within 15 s")
            .expect("the socket is open")
            .expect("a websocket message");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if matches!(value["type"].as_str(), Some("next" | "error")) {
                return value;
            }
        }
    }
}

#[tokio::test]
async fn production_mode_sqlite() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CONCORD_ENV", "production")])
        .await
        .expect("SQLite is always there");
    production_mode(&app).await;
    app.stop().await;
}

/// Low limits: 1 request a second after a burst of 30 per principal, 3 sign-in attempts a
/// minute per account and 10 per address.
const LOW_LIMITS: &[(&str, &str)] = &[
    ("CONCORD_RATE_LIMIT", "1"),
    ("CONCORD_RATE_BURST", "30"),
    ("CONCORD_LOGIN_LIMIT_ACCOUNT", "3"),
    ("CONCORD_LOGIN_LIMIT_IP", "10"),
];

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

async fn rate_limits(app: &TestApp) {
    let password = "a long enough password";
    app.data_as(
        &app.admin,
        "mutation($e: String!, $p: String!) { addUser(input: { email: $e, password: $p, role: VIEWER }) { id } }",
        json!({ "e": "target@concord.test", "p": password }),
    )
    .await;

    // Every aliased login is an attempt: the first three sign in, the other three are
    // refused although their password is right.
    let aliased: String = (0..6)
        .map(|i| format!("a{i}: login(email: $e, password: $p) {{ accessToken }} "))
        .collect();
    let response = app
        .gql(
            &format!("mutation($e: String!, $p: String!) {{ {aliased} }}"),
            json!({ "e": "target@concord.test", "p": password }),
        )
        .await;
    for signed_in in ["a0", "a1", "a2"] {
        assert!(
            response["data"][signed_in]["accessToken"].is_string(),
            "{response:#}"
        );
    }
    let errors = response["errors"].as_array().unwrap();
    let refused: Vec<&Value> = errors.iter().map(|e| &e["path"][0]).collect();
    assert_eq!(refused, [&json!("a3"), &json!("a4"), &json!("a5")]);
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "RATE_LIMITED")
    );
    // The account stays closed to the right password, whatever its spelling.
    let response = app
        .gql(LOGIN, json!({ "e": " TARGET@concord.test", "p": password }))
        .await;
    assert_eq!(error_code(&response), "RATE_LIMITED");

    // Per address: guesses at many accounts run out, then even the administrator's right
    // password is refused from here. Eight attempts are spent so far (the harness's sign-in
    // and seven above), so two remain, and one comes back every six seconds.
    let mut guessed = 0;
    loop {
        let response = app
            .gql(
                LOGIN,
                json!({ "e": format!("nobody{guessed}@concord.test"), "p": "not the password" }),
            )
            .await;
        match error_code(&response) {
            "UNAUTHENTICATED" => guessed += 1,
            "RATE_LIMITED" => break,
            other => panic!("{other}: {response:#}"),
        }
        assert!(guessed <= 8, "the address was never limited");
    }
    assert!(guessed >= 2, "{guessed}");
    let response = app
        .gql(
            LOGIN,
            json!({ "e": concord_e2e::ADMIN_EMAIL, "p": concord_e2e::ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&response), "RATE_LIMITED");

    // Requests per principal: an anonymous caller runs out and gets 429 with Retry-After.
    let mut refused = None;
    for _ in 0..80 {
        let (status, headers, body) = post_raw(
            app,
            Some("application/json"),
            None,
            r#"{"query":"{ __typename }"}"#,
        )
        .await;
        if status == 429 {
            refused = Some((headers, body));
            break;
        }
        assert_eq!(status, 200);
    }
    let (headers, body) = refused.expect("the anonymous caller was limited");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_refused(&body, "RATE_LIMITED", "429");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry_after);
    // Guessing credentials from the same address spends the same allowance (two tries: a
    // request may come back in the meantime).
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (status, _, _) = post_raw(
            app,
            Some("application/json"),
            Some("not.a.token"),
            r#"{"query":"{ __typename }"}"#,
        )
        .await;
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another principal has its own allowance.
    app.data_as(&app.admin, "{ me { signedIn } }", json!({}))
        .await;
}

async fn with_low_limits(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, LOW_LIMITS).await else {
        eprintln!("skipped on {backend:?}: CONCORD_TEST_POSTGRES_URL is not set");
        return;
    };
    rate_limits(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_sqlite() {
    with_low_limits(Backend::Sqlite).await;
}

#[tokio::test]
async fn rate_limits_postgres() {
    with_low_limits(Backend::Postgres).await;
}
