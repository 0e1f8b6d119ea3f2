use std::time::Duration;

use concord_e2e::{Backend, TestApp, error_code};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{create_mutation, create_organisation, seed_areas, water_input};

const FINDING: &str = "id kind score status reviewNote interventionA { id externalId } interventionB { id externalId }
    reasons { sectorMatch sectorCode spatialMatch levelsApart sharedAreaPcode timeShare } reviews { status note reviewer }";

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    let query = create_mutation().replace(
        "createIntervention(input: $input) {",
        &format!("createIntervention(input: $input) {{ overlaps {{ {FINDING} }}"),
    );
    app.data_as(token, &query, json!({ "input": input })).await["createIntervention"].clone()
}

async fn detected_at_write_time_and_reviewed(app: &TestApp) {
    seed_areas(app).await;
    let a = create_organisation(app, "Oxfam GB", None).await;
    let b = create_organisation(app, "Afar Water Association", None).await;
    let c = create_organisation(app, "Third Agency", None).await;
    let editor_a = app.user("a@oxfam.test", "EDITOR", &[&a]).await;
    let editor_b = app.user("b@afar.test", "EDITOR", &[&b]).await;
    let editor_c = app.user("c@third.test", "EDITOR", &[&c]).await;

    let first = create(app, &editor_a, water_input(&a, "OX-1")).await;
    assert_eq!(first["overlaps"], json!([]), "nothing to overlap with yet");
    // B works in the whole region: nested over A's zones, same WASH cluster.
    let mut regional = water_input(&b, "AWA-1");
    regional["title"] = json!("Borehole rehabilitation across Afar");
    regional["sectors"] = json!([{ "code": "WSH" }]);
    regional["locations"] = json!([{ "pcode": "ET02" }]);
    let second = create(app, &editor_b, regional.clone()).await;
    let overlaps = second["overlaps"].as_array().unwrap();
    assert_eq!(
        overlaps.len(),
        1,
        "possible duplication reported at write time: {second:#}"
    );
    let finding = &overlaps[0];
    assert_eq!(finding["kind"], "OVERLAP");
    assert_eq!(finding["status"], "OPEN");
    assert_eq!(finding["reasons"]["spatialMatch"], "NESTED");
    assert_eq!(finding["reasons"]["levelsApart"], 1);
    assert_eq!(finding["reasons"]["sectorMatch"], "SAME_CLUSTER");
    assert_eq!(finding["reasons"]["sharedAreaPcode"], "ET0201");
    let score = finding["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{score}");
    let finding_id = finding["id"].clone();

    // The finding is listed, and on both interventions.
    let listed = app
        .data_as(&editor_a, &format!("{{ overlaps(filter: {{ status: [OPEN] }}) {{ totalCount edges {{ node {{ {FINDING} }} }} }} }}"), json!({}))
        .await;
    assert_eq!(listed["overlaps"]["totalCount"], 1);
    let on_record = app
        .data_as(
            &editor_a,
            "query($id: ID!) { intervention(id: $id) { overlaps { id } } }",
            json!({ "id": first["intervention"]["id"] }),
        )
        .await;
    assert_eq!(on_record["intervention"]["overlaps"][0]["id"], finding_id);
    let in_area = app
        .data_as(&editor_a, "{ elsewhere: overlaps(filter: { area: \"ET04\" }) { totalCount } strong: overlaps(filter: { minScore: 0.999 }) { totalCount } }", json!({}))
        .await;
    assert_eq!(in_area["elsewhere"]["totalCount"], 0);
    assert_eq!(in_area["strong"]["totalCount"], 0);

    // The parties review; a third organisation may see it but not review it.
    let review = format!(
        "mutation($id: ID!, $note: String) {{ reviewOverlap(id: $id, status: COMPLEMENTARY, note: $note) {{ {FINDING} }} }}"
    );
    let outsider = app
        .gql_as(
            &editor_c,
            &review,
            json!({ "id": finding_id, "note": "not mine" }),
        )
        .await;
    assert_eq!(error_code(&outsider), "FORBIDDEN");
    let reviewed = app
        .data_as(
            &editor_a,
            &review,
            json!({ "id": finding_id, "note": "A trucks water, B repairs boreholes" }),
        )
        .await;
    assert_eq!(reviewed["reviewOverlap"]["status"], "COMPLEMENTARY");
    assert_eq!(
        reviewed["reviewOverlap"]["reviews"][0]["reviewer"],
        "a@oxfam.test"
    );

    // A recomputation keeps the review of a pair that still overlaps.
    let (ok, stdout, stderr) = app.cli(&["overlaps", "recompute"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("1 findings (0 new, 1 kept), 0 closed"),
        "{stdout}"
    );
    let kept = app
        .data_as(
            &editor_a,
            &format!("{{ overlaps {{ edges {{ node {{ {FINDING} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        kept["overlaps"]["edges"][0]["node"]["status"],
        "COMPLEMENTARY"
    );

    // The report lists it.
    let (ok, csv, _) = app.cli(&["overlaps", "report", "--format", "csv"]).await;
    assert!(ok);
    assert!(
        csv.starts_with("id,intervention_a,intervention_b,kind,score,status"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2);
    let (ok, report, _) = app.cli(&["overlaps", "report", "--format", "json"]).await;
    assert!(ok);
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report[0]["status"], "COMPLEMENTARY");

    // When B moves to food security, the pair no longer overlaps and the finding closes.
    let mut moved = regional;
    moved["sectors"] = json!([{ "code": "FSC" }]);
    let update = app
        .data_as(
            &editor_b,
            "mutation($id: ID!, $input: InterventionInput!) { updateIntervention(id: $id, expectedVersion: 1, input: $input) { overlaps { id } } }",
            json!({ "id": second["intervention"]["id"], "input": moved }),
        )
        .await;
    assert_eq!(update["updateIntervention"]["overlaps"], json!([]));
    let closed = app
        .data_as(
            &editor_a,
            &format!("{{ overlaps {{ edges {{ node {{ {FINDING} }} }} }} }}"),
            json!({}),
        )
        .await;
    let closed = &closed["overlaps"]["edges"][0]["node"];
    assert_eq!(closed["status"], "RESOLVED");
    assert_eq!(
        closed["reviews"].as_array().unwrap().len(),
        2,
        "history kept"
    );
}

async fn the_rule_excludes_chains_closed_work_and_reports_duplicate_records(app: &TestApp) {
    seed_areas(app).await;
    let a = create_organisation(app, "UNICEF", None).await;
    let b = create_organisation(app, "Local Partner", None).await;
    let admin = app.admin.clone();
    create(app, &admin, water_input(&a, "UNICEF-ET-1")).await;
    // The implementer's record of the same activity, naming the funder's activity id.
    let mut chain = water_input(&b, "LP-7");
    chain["participants"] =
        json!([{ "organisationId": a, "role": "FUNDING", "activityId": "UNICEF-ET-1" }]);
    assert_eq!(
        create(app, &admin, chain).await["overlaps"],
        json!([]),
        "a chain is one activity"
    );
    let mut cancelled = water_input(&b, "LP-8");
    cancelled["status"] = json!("CANCELLED");
    assert_eq!(create(app, &admin, cancelled).await["overlaps"], json!([]));
    // The same organisation entering its work twice.
    let twice = create(app, &admin, water_input(&a, "UNICEF-ET-1-copy")).await;
    let kinds: Vec<&str> = twice["overlaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"PROBABLE_DUPLICATE_RECORD"), "{twice:#}");
    // The same work at two differently named sites is two pieces of work, not one record
    // entered twice.
    let at_sites = |external_id: &str, sites: [&str; 2]| {
        let mut input = water_input(&a, external_id);
        input["locations"][0]["site"] = json!(sites[0]);
        input["locations"][1]["site"] = json!(sites[1]);
        input
    };
    create(
        app,
        &admin,
        at_sites("UNICEF-ET-2", ["Logia school", "Dubti school"]),
    )
    .await;
    let elsewhere = create(
        app,
        &admin,
        at_sites("UNICEF-ET-3", ["Logia health post", "Dubti health post"]),
    )
    .await;
    let duplicates_of = |payload: &Value| -> Vec<String> {
        payload["overlaps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "PROBABLE_DUPLICATE_RECORD")
            .flat_map(|f| {
                [
                    &f["interventionA"]["externalId"],
                    &f["interventionB"]["externalId"],
                ]
            })
            .filter_map(|id| id.as_str().map(str::to_owned))
            .filter(|id| id != "UNICEF-ET-3")
            .collect()
    };
    assert_eq!(
        duplicates_of(&elsewhere),
        vec!["UNICEF-ET-1", "UNICEF-ET-1-copy"],
        "records naming no site may still be the same; UNICEF-ET-2 names other sites"
    );
    let same_school = create(
        app,
        &admin,
        at_sites("UNICEF-ET-4", ["logia SCHOOL", "Afambo school"]),
    )
    .await;
    assert!(
        duplicates_of(&same_school).contains(&"UNICEF-ET-2".to_owned()),
        "{same_school:#}"
    );
}

/// A finding that involves a RESTRICTED intervention is invisible to those who may not read
/// it: they do not learn that protection work happens there.
async fn restricted_work_is_not_revealed_by_its_findings(app: &TestApp) {
    seed_areas(app).await;
    let a = create_organisation(app, "IRC", None).await;
    let b = create_organisation(app, "Other", None).await;
    let editor_a = app.user("a@irc.test", "EDITOR", &[&a]).await;
    let editor_b = app.user("b@other.test", "EDITOR", &[&b]).await;
    let mut gbv = water_input(&a, "IRC-GBV");
    gbv["sectors"] = json!([{ "code": "PRO-GBV" }]);
    create(app, &editor_a, gbv).await;
    let mut protection = water_input(&b, "OTHER-PRO");
    protection["sectors"] = json!([{ "code": "PRO" }]);
    protection["visibility"] = json!("PUBLIC");
    let written = create(app, &editor_b, protection).await;
    assert_eq!(
        written["overlaps"],
        json!([]),
        "B cannot see A's restricted work"
    );
    let seen_by_b = app
        .data_as(&editor_b, "{ overlaps { totalCount } }", json!({}))
        .await;
    assert_eq!(seen_by_b["overlaps"]["totalCount"], 0);
    let seen_by_a = app
        .data_as(&editor_a, "{ overlaps { totalCount } }", json!({}))
        .await;
    assert_eq!(seen_by_a["overlaps"]["totalCount"], 1, "A sees both sides");
    let seen_by_admin = app
        .data_as(&app.admin, "{ overlaps { totalCount } }", json!({}))
        .await;
    assert_eq!(seen_by_admin["overlaps"]["totalCount"], 1);
    let anonymous = app.data("{ overlaps { totalCount } }", json!({})).await;
    assert_eq!(anonymous["overlaps"]["totalCount"], 0);
}

/// Writers at the same time all land: on SQLite they queue for the write lock instead of
/// failing, and on PostgreSQL a candidate deleted while a write checks it is skipped
/// instead of failing the write with a foreign-key error.
async fn concurrent_writers_all_land(app: &TestApp) {
    seed_areas(app).await;
    let a = create_organisation(app, "Oxfam GB", None).await;
    let b = create_organisation(app, "Afar Water Association", None).await;
    let delete =
        "mutation($id: ID!) { deleteIntervention(id: $id, expectedVersion: 1) { deletedId } }";
    let mut doomed = Vec::new();
    for n in 0..6 {
        let written = create(app, &app.admin, water_input(&b, &format!("OLD-{n}"))).await;
        doomed.push(written["intervention"]["id"].as_str().unwrap().to_owned());
    }
    let creates = (0..12).map(|n| {
        let org = if n % 2 == 0 { &a } else { &b };
        let mut input = water_input(org, &format!("NEW-{n}"));
        input["title"] = json!(format!("Water point {n}"));
        let query = create_mutation();
        async move {
            app.gql_as(&app.admin, &query, json!({ "input": input }))
                .await
        }
    });
    let deletes = doomed
        .iter()
        .map(|id| async move { app.gql_as(&app.admin, delete, json!({ "id": id })).await });
    let (created, deleted) = futures_util::future::join(
        futures_util::future::join_all(creates),
        futures_util::future::join_all(deletes),
    )
    .await;
    for response in created.iter().chain(&deleted) {
        assert!(response.get("errors").is_none(), "{response:#}");
    }
    let left = app
        .data_as(&app.admin, "{ interventions { totalCount } }", json!({}))
        .await;
    assert_eq!(left["interventions"]["totalCount"], 12);
    // Every pair of the twelve is a finding (same place, sector and dates), and none
    // involves a deleted record.
    let open = app
        .data_as(
            &app.admin,
            "{ overlaps(filter: { status: [OPEN] }, first: 500) { totalCount edges { node { interventionA { externalId } interventionB { externalId } } } } }",
            json!({}),
        )
        .await;
    let edges = open["overlaps"]["edges"].as_array().unwrap();
    assert!(
        edges.iter().all(|e| {
            ["interventionA", "interventionB"].iter().all(|side| {
                e["node"][side]["externalId"]
                    .as_str()
                    .is_some_and(|x| x.starts_with("NEW-"))
            })
        }),
        "{open:#}"
    );
    let mut pairs: Vec<(String, String)> = edges
        .iter()
        .map(|e| {
            let side = |s: &str| e["node"][s]["externalId"].as_str().unwrap().to_owned();
            (side("interventionA"), side("interventionB"))
        })
        .collect();
    pairs.sort();
    assert_eq!(open["overlaps"]["totalCount"], 66, "{pairs:?}");

    // Each of the eighteen creations timed the overlap engine.
    let metrics = app.metrics().await;
    let engine_runs: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("concord_overlap_check_duration_seconds_count")
                && l.contains(r#"stage="engine""#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no overlap engine timing in:\n{metrics}"));
    assert!(engine_runs >= 18.0, "{engine_runs}");
}

crate::on_both_backends!(
    concurrent_writers_all_land,
    detected_at_write_time_and_reviewed,
    the_rule_excludes_chains_closed_work_and_reports_duplicate_records,
    restricted_work_is_not_revealed_by_its_findings,
);

/// Opens a graphql-transport-ws subscription to `overlapDetected` as the given caller.
async fn subscribe(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/graphql/ws", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    socket
        .send(Message::text(json!({ "type": "connection_init", "payload": if token.is_empty() { json!({}) } else { json!({ "authorization": format!("Bearer {token}") }) } }).to_string()))
        .await
        .unwrap();
    let ack = next_message(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { overlapDetected { id kind interventionA { externalId } interventionB { externalId } } }" } })
                .to_string(),
        ))
        .await
        .unwrap();
    socket
}

async fn next_message(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("a message within 15 s")
            .expect("the socket is open")
            .expect("a websocket message");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ping" && value["type"] != "pong" {
                return value;
            }
        }
    }
}

/// The finding of a write reaches subscribers, over WebSocket; on PostgreSQL it reaches
/// the subscribers of every replica, whichever one took the write.
async fn overlaps_are_pushed_to_subscribers(app: &TestApp, subscriber_on: &TestApp) {
    seed_areas(app).await;
    let a = create_organisation(app, "Oxfam GB", None).await;
    let b = create_organisation(app, "MSF", None).await;
    let mut socket = subscribe(subscriber_on, &app.admin).await;
    // Give the subscription a moment to register before the write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    create(app, &app.admin, water_input(&a, "OX-1")).await;
    create(app, &app.admin, water_input(&b, "MSF-1")).await;
    let event = next_message(&mut socket).await;
    assert_eq!(event["type"], "next", "{event}");
    let finding = &event["payload"]["data"]["overlapDetected"];
    assert_eq!(finding["kind"], "OVERLAP");
    assert_eq!(finding["interventionA"]["externalId"], "OX-1");
    assert_eq!(finding["interventionB"]["externalId"], "MSF-1");

    // An anonymous subscriber is not told about work it may not read.
    let mut anonymous = subscribe(subscriber_on, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut hidden = water_input(&b, "MSF-2");
    hidden["visibility"] = json!("PARTNERS");
    create(app, &app.admin, hidden).await;
    let admin_event = next_message(&mut socket).await;
    assert_eq!(
        admin_event["payload"]["data"]["overlapDetected"]["interventionB"]["externalId"],
        "MSF-2"
    );
    let nothing = tokio::time::timeout(Duration::from_millis(1500), anonymous.next()).await;
    assert!(
        nothing.is_err(),
        "no event for a finding the anonymous caller may not see"
    );
}

#[tokio::test]
async fn subscribers_receive_overlaps_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    overlaps_are_pushed_to_subscribers(&app, &app).await;
    app.stop().await;
}

#[tokio::test]
async fn subscribers_of_every_replica_receive_overlaps_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("skipped on Postgres: CONCORD_TEST_POSTGRES_URL is not set");
        return;
    };
    let replica = app.replica().await;
    // Written through the first process, delivered by the second.
    overlaps_are_pushed_to_subscribers(&app, &replica).await;
    replica.stop().await;
    app.stop().await;
}
