use concord_e2e::TestApp;

async fn health_and_graphiql(app: &TestApp) {
    let healthz = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    let body: serde_json::Value = readyz.json().await.unwrap();
    assert_eq!(body["ready"], true);
    let graphiql = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);
    assert!(
        graphiql
            .text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
}

async fn oversized_and_malformed_requests_are_refused(app: &TestApp) {
    let huge = "x".repeat(2 * 1024 * 1024);
    // A client of its own: the connection it uploads on may be closed under it.
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"query\":\"{{ organisations {{ totalCount }} }}\",\"x\":\"{huge}\"}}"
        ))
        .send()
        .await;
    // The server answers 413 as soon as the limit is passed; the client may still be
    // uploading and see the connection close instead. Either way nothing was processed.
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    let healthz = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    let response = app
        .gql("{ organisations { totalCount ", serde_json::json!({}))
        .await;
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected")
    );
}

crate::on_both_backends!(
    health_and_graphiql,
    oversized_and_malformed_requests_are_refused
);
