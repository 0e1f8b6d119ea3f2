//! IATI and 3W in and out, through the CLI and GraphQL uploads, and the bulk API.

use std::collections::BTreeSet;
use std::path::Path;

use concord_e2e::{TestApp, error_code};
use serde_json::{Value, json};

use crate::support::{create_organisation, seed_areas, water_input};

const DPORTAL: &str = "hdx-scraper-iati-viz/tests/fixtures/covid/input/dportal.xml";
const FOODSECURITY: &str = "hdx-scraper-iati-viz/tests/fixtures/foodsecurity/input/dportal.xml";
const HONDURAS: &str = "hdx-scraper-covid-viz/tests/fixtures/input/whowhatwhere_345_honduras.csv";

/// What identifies an imported intervention and what an import must keep, in a form two
/// databases can be compared on.
async fn snapshot(app: &TestApp) -> BTreeSet<String> {
    let query = "query($after: String) { interventions(first: 500, after: $after) { pageInfo { hasNextPage endCursor } edges { node { externalId title status plannedStart plannedEnd actualStart actualEnd humanitarian linkedActivities reportingOrganisation { name iatiIdentifier } sectors { code vocabulary percentage } locations { pcode site } budget { amount currency } } } } }";
    let mut out = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data_as(&app.admin, query, json!({ "after": after }))
            .await;
        let page = &data["interventions"];
        for edge in page["edges"].as_array().unwrap() {
            out.insert(edge["node"].to_string());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    out
}

fn summary_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

/// The real d-portal file: refused whole without --partial (every refusal explained), then
/// imported with it; importing again changes nothing; the export validates against the
/// 2.03 schema, and importing it into another database gives the same interventions.
async fn iati_files_round_trip(app: &TestApp) {
    let Some(file) = concord_e2e::shared_data(DPORTAL) else {
        eprintln!("skipped: shared data is not present");
        return;
    };
    let file = file.to_str().unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "iati", file]).await;
    assert!(!ok, "a file with refused activities is not imported whole");
    assert!(
        summary_line(&stdout).contains("401 read, 0 created"),
        "{stdout}"
    );
    assert!(
        summary_line(&stdout).contains("nothing imported"),
        "{stdout}"
    );
    let refusals = stderr.lines().filter(|l| l.starts_with(file)).count();
    assert!(
        refusals >= 108,
        "every refusal is reported: {refusals}\n{stderr}"
    );
    assert_eq!(snapshot(app).await.len(), 0, "nothing half-imported");

    let (ok, stdout, stderr) = app.cli(&["import", "iati", file, "--partial"]).await;
    assert!(ok, "{stderr}");
    let line = summary_line(&stdout).to_owned();
    assert!(
        line.contains("401 read, 293 created, 0 updated, 0 unchanged, 108 refused"),
        "{line}"
    );
    // The server hears of a CLI import a moment later on PostgreSQL, and may answer from
    // its cache until then.
    let first = app
        .settled(async || snapshot(app).await, |s| s.len() == 293)
        .await;
    assert_eq!(first.len(), 293);

    let (ok, stdout, _) = app.cli(&["import", "iati", file, "--partial"]).await;
    assert!(ok);
    assert!(
        summary_line(&stdout).contains("0 created, 0 updated, 293 unchanged"),
        "{stdout}"
    );
    assert_eq!(snapshot(app).await, first, "idempotent");

    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("export.xml");
    let (ok, _, stderr) = app
        .cli(&["export", "iati", "--out", exported.to_str().unwrap()])
        .await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("293 activities exported"), "{stderr}");
    validate_against_schema(&exported);

    let other = TestApp::spawn(backend_of(app)).await.unwrap();
    let (ok, stdout, stderr) = other
        .cli(&["import", "iati", exported.to_str().unwrap()])
        .await;
    assert!(ok, "{stderr}");
    assert!(
        summary_line(&stdout).contains("293 read, 293 created"),
        "{stdout}"
    );
    assert_eq!(
        snapshot(&other).await,
        first,
        "import, export, import gives the same"
    );
    other.stop().await;
}

fn backend_of(app: &TestApp) -> concord_e2e::Backend {
    if app.database.url.starts_with("postgres") {
        concord_e2e::Backend::Postgres
    } else {
        concord_e2e::Backend::Sqlite
    }
}

/// The export must be valid IATI 2.03: checked with xmllint against the published XSD.
fn validate_against_schema(file: &Path) {
    let Some(xsd) = concord_e2e::shared_data("IATI-Schemas/iati-activities-schema.xsd") else {
        return;
    };
    let output = std::process::Command::new("xmllint")
        .args([
            "--noout",
            "--schema",
            xsd.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .output();
    match output {
        Ok(o) => assert!(
            o.status.success(),
            "the export is not valid IATI 2.03:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped the schema check: xmllint is not installed");
        }
        Err(e) => panic!("xmllint is required in CI: {e}"),
    }
}

/// A P-code table built from a 3W file's own admin columns, so its rows can be placed.
fn areas_of_3w(file: &Path) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (p1, n1, p2, n2) = (
        column("PCODE1"),
        column("ADMIN 1"),
        column("PCODE2"),
        column("ADMIN 2"),
    );
    let mut areas = BTreeSet::new();
    for row in &rows[2..] {
        let get = |i: usize| row.get(i).unwrap_or("").trim().to_owned();
        let (code1, code2) = (get(p1), get(p2));
        let well_formed = |c: &str| c.len() >= 4 && c.starts_with("HN");
        if well_formed(&code1) {
            areas.insert(format!("HND,1,{code1},\"{}\",HND,2021-01-01", get(n1)));
            if well_formed(&code2) && code2.starts_with(&code1) {
                areas.insert(format!("HND,2,{code2},\"{}\",{code1},2021-01-01", get(n2)));
            }
        }
    }
    let mut out = "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n".to_owned();
    // Parents first: level 1 rows sort before level 2 rows.
    for line in areas {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The real Honduras 345W table: rows with junk P-codes are reported, the rest imported
/// with --partial; importing again changes nothing; export, import elsewhere, same data.
async fn hxl_3w_round_trip(app: &TestApp) {
    let Some(file) = concord_e2e::shared_data(HONDURAS) else {
        eprintln!("skipped: shared data is not present");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let areas = dir.path().join("areas.csv");
    std::fs::write(&areas, areas_of_3w(&file)).unwrap();
    let (ok, _, stderr) = app.cli(&["import", "areas", areas.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");

    let path = file.to_str().unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "hxl", path]).await;
    assert!(!ok, "rows with errors refuse the whole file");
    assert!(
        summary_line(&stdout).contains("2730 read, 0 created"),
        "{stdout}"
    );
    assert!(stderr.contains(&format!("{path}:")), "{stderr}");
    assert_eq!(snapshot(app).await.len(), 0);

    let (ok, stdout, stderr) = app.cli(&["import", "hxl", path, "--partial"]).await;
    assert!(ok, "{stderr}");
    let line = summary_line(&stdout).to_owned();
    let created: usize = line
        .split(", ")
        .find_map(|part| part.strip_suffix(" created"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(created > 2_000 && created <= 2_700, "{line}");
    let first = app
        .settled(async || snapshot(app).await, |s| s.len() == created)
        .await;
    assert_eq!(first.len(), created);
    // WVI lists its cash transfers once per community of a municipality: rows at
    // differently named communities are not probable duplicates of each other.
    let found = findings_by_kind(app).await;
    let expected: std::collections::BTreeMap<String, usize> = [
        ("OVERLAP".to_owned(), 11_320),
        ("PROBABLE_DUPLICATE_RECORD".to_owned(), 2_226),
    ]
    .into();
    assert_eq!(found, expected);
    let (ok, _, stderr) = app.cli(&["overlaps", "recompute"]).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        findings_by_kind(app).await,
        found,
        "the write-time check and the sweep agree"
    );

    let (ok, stdout, _) = app.cli(&["import", "hxl", path, "--partial"]).await;
    assert!(ok);
    assert!(
        summary_line(&stdout).contains(&format!("0 created, 0 updated, {created} unchanged")),
        "{stdout}"
    );

    let exported = dir.path().join("export.csv");
    let (ok, _, stderr) = app
        .cli(&["export", "hxl", "--out", exported.to_str().unwrap()])
        .await;
    assert!(ok, "{stderr}");
    let other = TestApp::spawn(backend_of(app)).await.unwrap();
    let (ok, _, stderr) = other
        .cli(&["import", "areas", areas.to_str().unwrap()])
        .await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = other
        .cli(&["import", "hxl", exported.to_str().unwrap()])
        .await;
    assert!(ok, "{stderr}");
    assert!(
        summary_line(&stdout).contains(&format!("{created} created")),
        "{stdout}"
    );
    assert_eq!(
        snapshot(&other).await,
        first,
        "import, export, import gives the same"
    );
    other.stop().await;
}

/// How many findings of each kind the overlap report lists.
async fn findings_by_kind(app: &TestApp) -> std::collections::BTreeMap<String, usize> {
    let (ok, csv, stderr) = app.cli(&["overlaps", "report", "--format", "csv"]).await;
    assert!(ok, "{stderr}");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("id,intervention_a,intervention_b,kind,"),
        "{csv}"
    );
    let mut out = std::collections::BTreeMap::new();
    for line in lines {
        let kind = line.split(',').nth(3).unwrap_or_default().to_owned();
        *out.entry(kind).or_insert(0) += 1;
    }
    out
}

/// A GraphQL multipart request (the spec's `operations`, `map` and file part), built by
/// hand so the test shows exactly what a client sends.
async fn upload(app: &TestApp, token: &str, mutation: &str, file: &Path) -> Value {
    let boundary = "concord-test-boundary";
    let operations = json!({ "query": mutation, "variables": { "file": null } });
    let mut body = Vec::new();
    let mut part = |name: &str, extra: &str, content: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part("operations", "", operations.to_string().as_bytes());
    part("map", "", br#"{ "0": ["variables.file"] }"#);
    part(
        "0",
        "; filename=\"upload.xml\"\r\nContent-Type: application/octet-stream",
        &std::fs::read(file).unwrap(),
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    app.client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `importIati` takes an upload; an editor may import only their own organisation's
/// activities, and nobody signed out may import at all.
async fn iati_upload_respects_access(app: &TestApp) {
    let Some(file) = concord_e2e::shared_data(FOODSECURITY) else {
        eprintln!("skipped: shared data is not present");
        return;
    };
    let mutation = "mutation($file: Upload!) { importIati(file: $file, partial: true) { read created updated unchanged applied organisationsCreated rejected { line identifier element reason } } }";
    let anonymous = upload(app, "", mutation, &file).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");

    let org = create_organisation(app, "Unrelated NGO", None).await;
    let editor = app
        .user("editor@unrelated.example", "EDITOR", &[&org])
        .await;
    let organisations = "{ organisations { totalCount } }";
    let before = app.data(organisations, json!({})).await;
    let refused = upload(app, &editor, mutation, &file).await;
    let report = &refused["data"]["importIati"];
    assert_eq!(report["read"], 7, "{refused}");
    assert_eq!(
        report["created"], 0,
        "an editor of another organisation writes nothing"
    );
    assert_eq!(
        report["organisationsCreated"],
        json!([]),
        "nor any organisation of the activities it was refused"
    );
    assert_eq!(app.data(organisations, json!({})).await, before);
    assert!(
        report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["line"].as_u64().unwrap() > 1),
        "every refusal names its line: {report}"
    );
    let reasons: Vec<&str> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    // The four importable activities are another organisation's: unknown to the editor,
    // who may not create them; the three others have no place.
    assert_eq!(reasons.len(), 7, "{reasons:?}");
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("reporting organisation") && r.contains("could not be resolved"))
            .count(),
        4,
        "{reasons:?}"
    );

    let admin = upload(app, &app.admin, mutation, &file).await;
    let report = &admin["data"]["importIati"];
    assert_eq!(report["read"], 7, "{admin}");
    assert_eq!(report["created"], 4, "{admin}");
    assert_eq!(report["rejected"].as_array().unwrap().len(), 3, "{admin}");
    assert_eq!(report["applied"], true);
    // Organisations are created for the activities written, not for those refused.
    let created: Vec<&str> = report["organisationsCreated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(!created.is_empty(), "{admin}");
    for only_refused in ["Tropenbos International", "JASS", "DefendDefenders"] {
        assert!(!created.contains(&only_refused), "{created:?}");
    }
}

const UPSERT: &str = "mutation($items: [InterventionInput!]!) { upsertInterventions(items: $items) { created updated unchanged rejected replayed results { index externalId status errors { code field message } intervention { id title } } } }";

async fn upsert(app: &TestApp, token: &str, key: Option<&str>, items: Value) -> Value {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": UPSERT, "variables": { "items": items } }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// The bulk API: a result per item, idempotent by external id and by Idempotency-Key, and
/// an editor cannot write for another organisation through it.
async fn bulk_upserts_are_per_item_and_idempotent(app: &TestApp) {
    seed_areas(app).await;
    let oxfam = create_organisation(app, "Oxfam GB", None).await;
    let other = create_organisation(app, "Other NGO", None).await;
    let editor = app.user("editor@oxfam.example", "EDITOR", &[&oxfam]).await;
    let mut bad_place = water_input(&oxfam, "OX-3");
    bad_place["locations"] = json!([{ "pcode": "ET9999" }]);
    let items = json!([
        water_input(&oxfam, "OX-1"),
        water_input(&oxfam, "OX-2"),
        bad_place,
        water_input(&other, "OT-1"),
    ]);
    let first = upsert(app, &editor, Some("batch-1"), items.clone()).await;
    let payload = &first["data"]["upsertInterventions"];
    assert_eq!(payload["created"], 2, "{first}");
    assert_eq!(payload["rejected"], 2);
    let results = payload["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "CREATED");
    assert_eq!(
        results[1]["intervention"]["title"],
        "Emergency water trucking in Awsi Rasu"
    );
    assert_eq!(results[2]["status"], "REJECTED");
    assert_eq!(results[2]["errors"][0]["code"], "VALIDATION");
    assert_eq!(results[2]["errors"][0]["field"], "locations[0].pcode");
    assert_eq!(results[3]["status"], "REJECTED");
    assert_eq!(
        results[3]["errors"][0]["code"], "FORBIDDEN",
        "another organisation's record"
    );

    // A retry with the same key is answered from the first answer, applying nothing.
    let replay = upsert(app, &editor, Some("batch-1"), items.clone()).await;
    let replayed = &replay["data"]["upsertInterventions"];
    assert_eq!(replayed["replayed"], true, "{replay}");
    assert_eq!(replayed["created"], 2);
    // The same key for other items is a mistake worth refusing.
    let misuse = upsert(
        app,
        &editor,
        Some("batch-1"),
        json!([water_input(&oxfam, "OX-9")]),
    )
    .await;
    assert_eq!(error_code(&misuse), "CONFLICT", "{misuse}");
    // Without a key, the same items are recognised by external id.
    let again = upsert(app, &editor, None, items).await;
    let again = &again["data"]["upsertInterventions"];
    assert_eq!(again["unchanged"], 2, "{again}");
    assert_eq!(again["created"], 0);
    let mut changed = water_input(&oxfam, "OX-1");
    changed["title"] = json!("Water trucking, second round");
    let updated = upsert(app, &editor, None, json!([changed])).await;
    assert_eq!(
        updated["data"]["upsertInterventions"]["updated"], 1,
        "{updated}"
    );

    let too_many: Vec<Value> = (0..1001)
        .map(|i| water_input(&oxfam, &format!("MANY-{i}")))
        .collect();
    let refused = upsert(app, &editor, None, json!(too_many)).await;
    assert_eq!(error_code(&refused), "VALIDATION", "{refused}");
    let anonymous = app
        .gql(UPSERT, json!({ "items": [water_input(&oxfam, "OX-5")] }))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

/// A batch is checked for overlaps against the stored records and against itself, in the
/// same transaction: only the pairs that share a sector, a place and time are found.
async fn bulk_writes_find_overlaps_with_stored_records(app: &TestApp) {
    seed_areas(app).await;
    let oxfam = create_organisation(app, "Oxfam GB", None).await;
    let other = create_organisation(app, "Other NGO", None).await;
    let stored = upsert(app, &app.admin, None, json!([water_input(&other, "OT-1")])).await;
    assert_eq!(
        stored["data"]["upsertInterventions"]["created"], 1,
        "{stored}"
    );
    let mut later = water_input(&oxfam, "OX-LATER");
    later["title"] = json!("School feeding");
    later["plannedStart"] = json!("2027-01-01");
    later["plannedEnd"] = json!("2027-06-30");
    let mut schools = water_input(&oxfam, "OX-SCHOOLS");
    schools["title"] = json!("Classrooms for displaced children");
    schools["sectors"] = json!([{ "vocabulary": "DAC5", "code": "11220" }]);
    let mut nested = water_input(&other, "OT-2");
    nested["title"] = json!("Borehole repair across the region");
    nested["locations"] = json!([{ "pcode": "ET02" }]);
    let batch = upsert(
        app,
        &app.admin,
        None,
        json!([water_input(&oxfam, "OX-1"), later, schools, nested]),
    )
    .await;
    assert_eq!(
        batch["data"]["upsertInterventions"]["created"], 4,
        "{batch}"
    );
    let data = app
        .data_as(
            &app.admin,
            "{ overlaps(first: 50) { totalCount edges { node { kind interventionA { externalId } interventionB { externalId } } } } }",
            json!({}),
        )
        .await;
    let mut pairs: Vec<(String, String, String)> = data["overlaps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            let mut ids = [
                node["interventionA"]["externalId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                node["interventionB"]["externalId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ];
            ids.sort();
            let [a, b] = ids;
            (a, b, node["kind"].as_str().unwrap().to_owned())
        })
        .collect();
    pairs.sort();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned(), "OVERLAP".to_owned());
    // The batch's water record meets the stored one and the region-wide one (nested). The
    // stored and the region-wide records are one organisation's and not alike; the later
    // and the school records meet nobody: other dates, another sector.
    assert_eq!(
        pairs,
        vec![pair("OT-1", "OX-1"), pair("OT-2", "OX-1")],
        "{data}"
    );
}

/// Broken files are refused with a clear error and change nothing.
async fn malformed_files_change_nothing(app: &TestApp) {
    seed_areas(app).await;
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.xml");
    std::fs::write(
        &truncated,
        "<?xml version=\"1.0\"?>\n<iati-activities version=\"2.03\">\n <iati-activity>\n  <iati-identifier>XM-1</iati-identifier>\n  <title><narrative>Cut",
    )
    .unwrap();
    let (ok, _, stderr) = app
        .cli(&["import", "iati", truncated.to_str().unwrap(), "--partial"])
        .await;
    assert!(!ok);
    assert!(
        stderr.contains("not an IATI 2.0x activity file"),
        "{stderr}"
    );
    let wrong = dir.path().join("organisations.xml");
    std::fs::write(
        &wrong,
        "<iati-organisations version=\"2.03\"></iati-organisations>",
    )
    .unwrap();
    let (ok, _, stderr) = app.cli(&["import", "iati", wrong.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("iati-organisations"), "{stderr}");
    let quote = dir.path().join("quote.csv");
    std::fs::write(
        &quote,
        "Organisation,Sector,Admin 2,Start\n#org,#sector,#adm2+code,#date+start\nOxfam,\"WASH,ET0201,01/01/2025\n",
    )
    .unwrap();
    let (ok, _, stderr) = app
        .cli(&["import", "hxl", quote.to_str().unwrap(), "--partial"])
        .await;
    assert!(!ok);
    assert!(stderr.contains("not a 3W table"), "{stderr}");
    assert!(stderr.contains("quote"), "{stderr}");
    assert_eq!(snapshot(app).await.len(), 0, "nothing written");
    let orgs = app
        .data("{ organisations { totalCount } }", json!({}))
        .await;
    assert_eq!(
        orgs["organisations"]["totalCount"], 0,
        "no organisation created either"
    );
}

crate::on_both_backends!(
    malformed_files_change_nothing,
    iati_files_round_trip,
    hxl_3w_round_trip,
    iati_upload_respects_access,
    bulk_upserts_are_per_item_and_idempotent,
    bulk_writes_find_overlaps_with_stored_records
);

/// A file whose import PostgreSQL rolls back to break a deadlock is imported again from the
/// start, uploaded or named on the command line, and lands once.
#[tokio::test]
async fn an_import_rolled_back_by_a_deadlock_is_run_again_on_postgres() {
    let Some(app) = TestApp::spawn(concord_e2e::Backend::Postgres).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set CONCORD_TEST_POSTGRES_URL"
        );
        eprintln!("skipped: CONCORD_TEST_POSTGRES_URL is not set");
        return;
    };
    seed_areas(&app).await;
    // Known beforehand, so the import's first write is its intervention, not an
    // organisation and its audit event.
    create_organisation(&app, "Deadlock Relief", None).await;
    let dir = tempfile::tempdir().unwrap();
    let table = |id: &str| {
        let file = dir.path().join(format!("{id}.csv"));
        std::fs::write(
            &file,
            format!(
                "Organisation,Sector,Admin 2,Activity,Start,End,ID\n\
                 #org+impl,#sector+cluster,#adm2+code,#activity,#date+start,#date+end,#activity+id\n\
                 Deadlock Relief,WASH,ET0201,Water trucking,01/01/2025,31/12/2025,{id}\n"
            ),
        )
        .unwrap();
        file
    };

    let uploaded = table("deadlock-upload");
    let answer = concord_e2e::through_a_deadlock(
        &app.database.url,
        upload(
            &app,
            &app.admin,
            "mutation($file: Upload!) { importHxl(file: $file, country: \"ET\") { created rejected { reason } } }",
            &uploaded,
        ),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(answer["data"]["importHxl"]["created"], 1, "{answer:#}");

    let named = table("deadlock-cli");
    let (ok, stdout, stderr) = concord_e2e::through_a_deadlock(
        &app.database.url,
        app.cli(&["import", "hxl", named.to_str().unwrap(), "--country", "ET"]),
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 created"), "{stdout}");

    let ids = app
        .data(
            "{ interventions(first: 50) { nodes { externalId } } }",
            json!({}),
        )
        .await;
    let mut ids: Vec<&str> = ids["interventions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["externalId"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["deadlock-cli", "deadlock-upload"], "each landed once");
    app.stop().await;
}
