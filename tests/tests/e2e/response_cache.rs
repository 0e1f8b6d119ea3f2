//! The response cache: a repeated read is answered from memory, and never once anything
//! it may show was written, by this process or another, nor to another caller.

use std::time::Duration;

use concord_e2e::TestApp;
use serde_json::{Value, json};

use crate::support::{create_intervention, create_organisation, seed_areas, water_input};

const PAGE: &str = "query Page { interventions(first: 50) { totalCount edges { node { id title visibility reportingOrganisation { name } } } } }";

async fn cache_hits(app: &TestApp) -> f64 {
    concord_e2e::metric_value(
        &app.metrics().await,
        r#"concord_response_cache_total{outcome="hit"}"#,
    )
    .unwrap_or(0.0)
}

fn titles(page: &Value) -> Vec<String> {
    let mut titles: Vec<String> = page["interventions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

/// Asks until the answer shows `expected` titles (writes of another process reach a
/// PostgreSQL replica through LISTEN/NOTIFY, a moment after they commit).
async fn eventually(app: &TestApp, token: &str, expected: &[&str]) {
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = titles(&app.data_as(token, PAGE, json!({})).await);
        if seen == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {expected:?}, still answered {seen:?}");
}

/// Two organisations with a viewer each, and one RESTRICTED record of UNICEF's.
struct Viewers {
    unicef: String,
    oxfam: String,
    viewer_a: String,
    viewer_b: String,
}

async fn viewers(app: &TestApp) -> Viewers {
    seed_areas(app).await;
    let unicef = create_organisation(app, "UNICEF", None).await;
    let oxfam = create_organisation(app, "Oxfam GB", None).await;
    let viewer_a = app.user("viewer-a@example.org", "VIEWER", &[&unicef]).await;
    let viewer_b = app.user("viewer-b@example.org", "VIEWER", &[&oxfam]).await;
    let mut restricted = water_input(&unicef, "UN-1");
    restricted["title"] = json!("Restricted trucking");
    restricted["visibility"] = json!("RESTRICTED");
    create_intervention(app, restricted).await;
    Viewers {
        unicef,
        oxfam,
        viewer_a,
        viewer_b,
    }
}

async fn kept_answers_follow_writes_and_callers(app: &TestApp) {
    let Viewers {
        unicef,
        oxfam,
        viewer_a,
        viewer_b,
    } = viewers(app).await;

    // The same question twice: the second answer comes from memory, and is the same.
    let hits = cache_hits(app).await;
    let first = app.data_as(&viewer_a, PAGE, json!({})).await;
    let second = app.data_as(&viewer_a, PAGE, json!({})).await;
    assert_eq!(first, second);
    assert_eq!(titles(&first), ["Restricted trucking"]);
    assert!(
        cache_hits(app).await > hits,
        "the repeated question was answered from memory"
    );

    // Another organisation's viewer asks the same question: not the kept answer.
    for _ in 0..2 {
        let page = app.data_as(&viewer_b, PAGE, json!({})).await;
        assert_eq!(titles(&page), Vec::<String>::new());
        assert_eq!(page["interventions"]["totalCount"], 0);
    }

    // A write through this process: the next answer shows it at once, to both.
    let mut public = water_input(&oxfam, "OX-1");
    public["title"] = json!("Public trucking");
    public["visibility"] = json!("PUBLIC");
    create_intervention(app, public).await;
    let page = app.data_as(&viewer_a, PAGE, json!({})).await;
    assert_eq!(titles(&page), ["Public trucking", "Restricted trucking"]);
    let page = app.data_as(&viewer_b, PAGE, json!({})).await;
    assert_eq!(titles(&page), ["Public trucking"]);

    // An organisation renamed nowhere, but a new one named: answers that show organisation
    // names are retired by any write, not only by interventions.
    let orgs = "{ organisations(first: 50) { totalCount } }";
    let before = app.data_as(&viewer_b, orgs, json!({})).await["organisations"]["totalCount"]
        .as_i64()
        .unwrap();
    app.data_as(&viewer_b, orgs, json!({})).await;
    create_organisation(app, "Save the Children", None).await;
    let after = app.data_as(&viewer_b, orgs, json!({})).await["organisations"]["totalCount"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 1);

    // Viewer B joins UNICEF: their next answer includes its RESTRICTED work.
    let me = app.data_as(&viewer_b, "{ me { userId } }", json!({})).await;
    let id = me["me"]["userId"].as_str().unwrap().to_owned();
    app.data_as(
        &app.admin,
        "mutation($u: ID!, $o: [ID!]!) { setUserOrganisations(userId: $u, organisationIds: $o) { id } }",
        json!({ "u": id, "o": [oxfam, unicef] }),
    )
    .await;
    let page = app.data_as(&viewer_b, PAGE, json!({})).await;
    assert_eq!(titles(&page), ["Public trucking", "Restricted trucking"]);

    // An outsider's reads of RESTRICTED records are audited every time, never answered
    // from memory.
    let audited =
        "{ auditEvents(filter: { entity: \"intervention\" }) { edges { node { action } } } }";
    let reads = |data: Value| {
        data["auditEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["action"] == "READ")
            .count()
    };
    let before = reads(app.data_as(&app.admin, audited, json!({})).await);
    app.data_as(&app.admin, PAGE, json!({})).await;
    app.data_as(&app.admin, PAGE, json!({})).await;
    let after = reads(app.data_as(&app.admin, audited, json!({})).await);
    assert_eq!(
        after,
        before + 2,
        "each read of a RESTRICTED record is audited"
    );

    // A write through another process reaches this one's answers.
    let replica = app.replica().await;
    let mut elsewhere = water_input(&oxfam, "OX-2");
    elsewhere["title"] = json!("Written elsewhere");
    elsewhere["visibility"] = json!("PUBLIC");
    app.data_as(&viewer_a, PAGE, json!({})).await;
    create_intervention(&replica, elsewhere).await;
    eventually(
        app,
        &viewer_a,
        &[
            "Public trucking",
            "Restricted trucking",
            "Written elsewhere",
        ],
    )
    .await;

    // Deactivated through the other process: refused here too, not served from memory.
    app.data_as(&viewer_a, PAGE, json!({})).await;
    let me = app.data_as(&viewer_a, "{ me { userId } }", json!({})).await;
    let id = me["me"]["userId"].as_str().unwrap().to_owned();
    replica
        .data_as(
            &replica.admin,
            "mutation($u: ID!) { deactivateUser(userId: $u) { id } }",
            json!({ "u": id }),
        )
        .await;
    let mut status = 200;
    for _ in 0..50 {
        status = app.request(Some(&viewer_a), PAGE, json!({})).await.0;
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "a deactivated user is refused");
    replica.stop().await;
}

/// Sends a persisted query: its hash, and the document too when `register`.
async fn persisted(app: &TestApp, token: &str, query: &str, register: bool) -> Value {
    use sha2::{Digest, Sha256};
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let mut body =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    if register {
        body["query"] = json!(query);
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST /graphql");
    response.json().await.expect("a JSON response")
}

/// Clients that send persisted queries by hash (Apollo's automatic persisted queries) get
/// kept answers as clients that send the document do, under the same rules.
async fn persisted_queries_asked_by_hash_are_kept(app: &TestApp) {
    let Viewers {
        oxfam,
        viewer_a,
        viewer_b,
        ..
    } = viewers(app).await;

    let registered = persisted(app, &viewer_a, PAGE, true).await;
    assert_eq!(titles(&registered["data"]), ["Restricted trucking"]);
    let hits = cache_hits(app).await;
    let first = persisted(app, &viewer_a, PAGE, false).await;
    let second = persisted(app, &viewer_a, PAGE, false).await;
    assert_eq!(first, registered);
    assert_eq!(second, registered);
    assert!(
        cache_hits(app).await > hits,
        "the repeated hash was answered from memory"
    );

    // Another organisation's viewer asking by the same hash gets their own answer.
    for _ in 0..2 {
        let page = persisted(app, &viewer_b, PAGE, false).await;
        assert_eq!(titles(&page["data"]), Vec::<String>::new(), "{page:#}");
    }

    // A write retires the kept answer.
    let mut public = water_input(&oxfam, "OX-1");
    public["title"] = json!("Public trucking");
    public["visibility"] = json!("PUBLIC");
    create_intervention(app, public).await;
    let page = persisted(app, &viewer_a, PAGE, false).await;
    assert_eq!(
        titles(&page["data"]),
        ["Public trucking", "Restricted trucking"]
    );
    let page = persisted(app, &viewer_b, PAGE, false).await;
    assert_eq!(titles(&page["data"]), ["Public trucking"]);

    // A hash never registered is refused every time, never answered from memory.
    for _ in 0..2 {
        let unknown = persisted(app, &viewer_a, "{ sectors { code } }", false).await;
        assert_eq!(
            concord_e2e::error_code(&unknown),
            "PERSISTED_QUERY_NOT_FOUND"
        );
    }
}

crate::on_both_backends!(
    kept_answers_follow_writes_and_callers,
    persisted_queries_asked_by_hash_are_kept
);
