use concord_e2e::{TestApp, error_code};
use serde_json::json;

use crate::support::{create_intervention, create_organisation, seed_areas, water_input};

const UPSERT: &str = "mutation($input: NeedInput!) { upsertNeed(input: $input) { need { id } } }";

async fn need(app: &TestApp, pcode: &str, sector: Option<&str>, people: i64, severity: i64) {
    app.data_as(
        &app.admin,
        UPSERT,
        json!({ "input": { "pcode": pcode, "sector": sector, "periodStart": "2025-01-01", "periodEnd": "2025-12-31", "peopleInNeed": people, "severity": severity } }),
    )
    .await;
}

/// Needs nobody serves are UNCOVERED; thin coverage is UNDER_COVERED; targets above need
/// are OVER_COVERED; candidates come from neighbouring areas.
async fn gaps_are_found_and_ranked(app: &TestApp) {
    seed_areas(app).await;
    let oxfam = create_organisation(app, "Oxfam GB", None).await;
    need(app, "ET0201", Some("WSH"), 10_000, 4).await;
    need(app, "ET0202", Some("WSH"), 8_000, 4).await;
    need(app, "ET0401", Some("WSH"), 1_000, 2).await;
    need(app, "ET0201", Some("FSC"), 5_000, 3).await;
    // Oxfam targets 3,000 of ET0201's 10,000 for WASH, and over-serves ET0401.
    let mut in_0201 = water_input(&oxfam, "OX-1");
    in_0201["locations"] = json!([{ "pcode": "ET0201" }]);
    in_0201["target"] = json!({ "total": 3000 });
    create_intervention(app, in_0201).await;
    let mut in_0401 = water_input(&oxfam, "OX-2");
    in_0401["locations"] = json!([{ "pcode": "ET0401" }]);
    in_0401["target"] = json!({ "total": 2500 });
    create_intervention(app, in_0401).await;

    let query = "query($f: GapFilter) { gaps(filter: $f) { totalCount edges { node { kind pcode sector { hpcCode } severity peopleInNeed peopleUncovered priority candidates { organisation { name } caseload pcodes } } } } }";
    let all = app
        .data(
            query,
            json!({ "f": { "from": "2025-01-01", "to": "2025-12-31" } }),
        )
        .await;
    let gaps: Vec<(String, String, String)> = all["gaps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["pcode"].as_str().unwrap().to_owned(),
                n["sector"]["hpcCode"].as_str().unwrap_or("*").to_owned(),
            )
        })
        .collect();
    let has = |kind: &str, pcode: &str, sector: &str| {
        gaps.contains(&(kind.into(), pcode.into(), sector.into()))
    };
    assert!(has("UNCOVERED", "ET0202", "WSH"), "{gaps:?}");
    assert!(has("UNCOVERED", "ET0201", "FSC"), "{gaps:?}");
    assert!(has("UNDER_COVERED", "ET0201", "WSH"), "{gaps:?}");
    assert!(has("OVER_COVERED", "ET0401", "WSH"), "{gaps:?}");
    let priorities: Vec<f64> = all["gaps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["priority"].as_f64().unwrap())
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] >= w[1]),
        "highest priority first"
    );
    let uncovered = all["gaps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "UNCOVERED" && e["node"]["pcode"] == "ET0202")
        .unwrap();
    assert_eq!(uncovered["node"]["peopleUncovered"], 8000);
    assert_eq!(
        uncovered["node"]["candidates"][0]["organisation"]["name"], "Oxfam GB",
        "Oxfam works in the sibling zone"
    );

    let only = app
        .data(query, json!({ "f": { "area": "ET04", "kinds": ["OVER_COVERED"], "from": "2025-01-01", "to": "2025-12-31" } }))
        .await;
    assert_eq!(only["gaps"]["totalCount"], 1);

    // Drill-down: the region and one row per zone.
    let coverage = app
        .data(
            "{ coverage(area: \"ET02\", sector: \"WSH\", from: \"2025-01-01\", to: \"2025-12-31\") { total { pcode targeted } children { pcode peopleInNeed targeted reached organisations { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(coverage["coverage"]["total"]["targeted"], 3000);
    let children = coverage["coverage"]["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["pcode"], "ET0201");
    assert_eq!(children[0]["peopleInNeed"], 10000);
    assert_eq!(
        children[0]["reached"], 0,
        "a target is never counted as reached"
    );

    let bad = app
        .gql("{ coverage(area: \"ET99\", from: \"2025-01-01\", to: \"2025-12-31\") { total { pcode } } }", json!({}))
        .await;
    assert_eq!(error_code(&bad), "VALIDATION");

    let (ok, csv, stderr) = app
        .cli(&[
            "gaps",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--format",
            "csv",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(csv.starts_with(
        "kind,pcode,sector,severity,people_in_need,people_uncovered,priority,candidates"
    ));
    assert!(csv.contains("UNCOVERED,ET0202,WSH,4,8000,8000"), "{csv}");
}

/// A viewer who may not read a RESTRICTED intervention sees aggregates that include it,
/// but cannot single it out: no names, and counts too coarse to subtract it back out.
async fn restricted_work_cannot_be_singled_out_of_aggregates(app: &TestApp) {
    seed_areas(app).await;
    let irc = create_organisation(app, "IRC", None).await;
    let other = create_organisation(app, "Other", None).await;
    let outsider = app.user("outsider@other.test", "EDITOR", &[&other]).await;
    let mut public = water_input(&other, "PUB");
    public["locations"] = json!([{ "pcode": "ET0202" }]);
    public["sectors"] = json!([{ "code": "PRO" }]);
    public["target"] = json!({ "total": 5000 });
    public["visibility"] = json!("PUBLIC");
    create_intervention(app, public).await;
    let mut safe_space = water_input(&irc, "GBV");
    safe_space["locations"] = json!([{ "pcode": "ET0201" }]);
    safe_space["sectors"] = json!([{ "code": "PRO-GBV" }]);
    safe_space["target"] = json!({ "total": 1234 });
    create_intervention(app, safe_space).await;

    let query = |area: &str| {
        format!(
            "{{ coverage(area: \"{area}\", sector: \"PRO\", from: \"2025-01-01\", to: \"2025-12-31\") {{ total {{ targeted suppressed interventions organisations {{ name }} }} }} }}"
        )
    };
    let region = app.data_as(&outsider, &query("ET02"), json!({})).await;
    let zone = app.data_as(&outsider, &query("ET0202"), json!({})).await;
    let region = &region["coverage"]["total"];
    assert_eq!(region["suppressed"], true);
    let names: Vec<&str> = region["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Other"], "IRC is not named");
    let difference = region["targeted"].as_u64().unwrap()
        - zone["coverage"]["total"]["targeted"].as_u64().unwrap();
    assert_ne!(
        difference, 1234,
        "the safe space's target cannot be recovered by differencing"
    );

    let member = app.data_as(&app.admin, &query("ET02"), json!({})).await;
    assert_eq!(
        member["coverage"]["total"]["targeted"], 6234,
        "those who may read it see exact figures"
    );
    assert_eq!(member["coverage"]["total"]["suppressed"], false);
}

/// The `(kind, pcode)` of every WASH gap under ET02 that `app` answers.
async fn wash_gaps(app: &TestApp) -> Vec<(String, String)> {
    let query = "query($f: GapFilter) { gaps(filter: $f) { edges { node { kind pcode } } } }";
    let data = app
        .data(
            query,
            json!({ "f": { "area": "ET02", "sector": "WSH", "from": "2025-01-01", "to": "2025-12-31" } }),
        )
        .await;
    data["gaps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["kind"].as_str().unwrap().to_owned(),
                e["node"]["pcode"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A server answers gaps from an in-memory index; writes made through another process on
/// the same database (a replica, a CLI import) must reach it. On SQLite the next question
/// sees them; on PostgreSQL they arrive by notification, so the test allows a moment.
async fn gaps_see_writes_of_other_processes(app: &TestApp) {
    seed_areas(app).await;
    need(app, "ET0201", Some("WSH"), 10_000, 4).await;
    let uncovered = |pcode: &str| ("UNCOVERED".to_owned(), pcode.to_owned());
    assert!(wash_gaps(app).await.contains(&uncovered("ET0201")));
    // Long enough for a fresh server to have built its index from this small database.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(wash_gaps(app).await.contains(&uncovered("ET0201")));

    let replica = app.replica().await;
    let oxfam = create_organisation(&replica, "Oxfam GB", None).await;
    let mut input = water_input(&oxfam, "OX-1");
    input["locations"] = json!([{ "pcode": "ET0201" }]);
    input["target"] = json!({ "total": 10_000 });
    create_intervention(&replica, input).await;
    need(&replica, "ET0202", Some("WSH"), 8_000, 4).await;

    let postgres = app.database.url.starts_with("postgres");
    let mut gaps = wash_gaps(app).await;
    for _ in 0..50 {
        if !postgres
            || (!gaps.contains(&uncovered("ET0201")) && gaps.contains(&uncovered("ET0202")))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        gaps = wash_gaps(app).await;
    }
    assert!(
        !gaps.contains(&uncovered("ET0201")),
        "served through the replica: {gaps:?}"
    );
    assert!(
        gaps.contains(&uncovered("ET0202")),
        "stated through the replica: {gaps:?}"
    );
    replica.stop().await;
}

crate::on_both_backends!(
    gaps_are_found_and_ranked,
    restricted_work_cannot_be_singled_out_of_aggregates,
    gaps_see_writes_of_other_processes
);

/// Real needs tables load all or nothing, or partly with --partial.
async fn real_needs_tables_import(app: &TestApp) {
    let (Some(areas), Some(needs)) = (
        concord_e2e::shared_data("hdx-scraper-pcodes/tests/fixtures/global_pcodes.csv"),
        concord_e2e::shared_data("hdx-scraper-hno/tests/fixtures/afg_hpc_needs_api_2024.csv"),
    ) else {
        eprintln!("skipped: shared data is not present");
        return;
    };
    let (ok, _, _) = app.cli(&["import", "areas", areas.to_str().unwrap()]).await;
    assert!(ok);
    let args = [
        "import",
        "needs",
        needs.to_str().unwrap(),
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--country",
        "AF",
    ];
    let (ok, _, stderr) = app.cli(&args).await;
    assert!(!ok, "a file with a bad row is refused whole");
    assert!(stderr.contains("afg_hpc_needs_api_2024.csv:6:"), "{stderr}");
    let count = app.data("{ needs { totalCount } }", json!({})).await;
    assert_eq!(count["needs"]["totalCount"], 0, "nothing half-imported");
    let mut partial = args.to_vec();
    partial.push("--partial");
    let (ok, stdout, stderr) = app.cli(&partial).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("36 imported"), "{stdout}");
    let fsc = app
        .data("{ needs(filter: { area: \"AF\", sector: \"FSC\" }) { totalCount edges { node { pcode peopleInNeed { total } } } } }", json!({}))
        .await;
    let national = fsc["needs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["pcode"] == "AF")
        .unwrap();
    assert_eq!(national["node"]["peopleInNeed"]["total"], 15823677);
}

crate::on_both_backends!(real_needs_tables_import);

/// Coverage per area as GeoJSON, for maps: the areas with a centroid, with the same
/// sign-in and privacy rules as the API.
async fn coverage_exports_as_geojson(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("areas.csv");
    std::fs::write(
        &file,
        "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date,center_lat,center_lon\n\
         ETH,1,ET02,Afar,ETH,2021-01-01,11.75,40.96\n\
         ETH,2,ET0201,Awsi Rasu,ET02,2021-01-01,11.79,41.44\n\
         ETH,2,ET0202,Kilbet Rasu,ET02,2021-01-01,,\n\
         ETH,2,ET0203,Bad Point,ET02,2021-01-01,123,41\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "areas", file.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(":5:"),
        "a latitude out of range is a row error: {stderr}"
    );
    assert!(stdout.contains("4 inserted"), "{stdout}");
    let org = create_organisation(app, "Oxfam GB", None).await;
    need(app, "ET0201", Some("WSH"), 10_000, 4).await;
    let mut input = water_input(&org, "OX-1");
    input["locations"] = json!([{ "pcode": "ET0201" }]);
    input["target"] = json!({ "total": 3000 });
    create_intervention(app, input).await;

    let url = format!(
        "{}/export/coverage.geojson?area=ET02&sector=WSH&from=2025-01-01&to=2025-12-31",
        app.address
    );
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let collection: serde_json::Value = response.json().await.unwrap();
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().unwrap();
    let pcodes: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["pcode"].as_str().unwrap())
        .collect();
    assert_eq!(
        pcodes,
        vec!["ET02", "ET0201"],
        "areas without a centroid are left out"
    );
    assert_eq!(
        features[1]["geometry"]["coordinates"],
        json!([41.44, 11.79])
    );
    assert_eq!(features[1]["properties"]["peopleInNeed"], 10000);
    assert_eq!(features[1]["properties"]["targeted"], 3000);
    assert_eq!(
        features[1]["properties"]["organisations"],
        json!(["Oxfam GB"])
    );

    let bad = app
        .client
        .get(format!(
            "{}/export/coverage.geojson?area=nope!&from=2025-01-01&to=2025-12-31",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let forged = app
        .client
        .get(&url)
        .bearer_auth("forged.token.here")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let area = app
        .data(
            "{ area(pcode: \"ET0201\") { centroid { lat lon } } }",
            json!({}),
        )
        .await;
    assert_eq!(area["area"]["centroid"]["lat"], 11.79);
}

crate::on_both_backends!(coverage_exports_as_geojson);
