use concord_e2e::{TestApp, error_code, error_fields};
use serde_json::json;

use crate::support::{create_intervention, create_organisation, seed_areas, water_input};

const UPSERT: &str = "mutation($input: NeedInput!) { upsertNeed(input: $input) { need { id pcode intersectoral severity source periodStart periodEnd sector { code hpcCode } area { name } peopleInNeed { total bands { sex minAge maxAge people } } } } }";

async fn states_needs_and_replaces_them_by_key(app: &TestApp) {
    seed_areas(app).await;
    let first = app
        .data_as(&app.admin,
            UPSERT,
            json!({ "input": { "pcode": "ET0201", "sector": "FSC", "periodStart": "2025-01-01", "periodEnd": "2025-12-31",
                    "peopleInNeed": 80418, "severity": 4, "source": "HNO 2025",
                    "bands": [{ "sex": "FEMALE", "minAge": 0, "maxAge": 17, "people": 20000 }] } }),
        )
        .await;
    let need = &first["upsertNeed"]["need"];
    assert_eq!(need["sector"]["hpcCode"], "FSC");
    assert_eq!(need["area"]["name"], "Awsi Rasu");
    assert_eq!(need["peopleInNeed"]["total"], 80418);
    assert_eq!(need["peopleInNeed"]["bands"][0]["people"], 20000);

    let second = app
        .data_as(&app.admin,
            UPSERT,
            json!({ "input": { "pcode": "ET0201", "sector": "6", "periodStart": "2025-01-01", "periodEnd": "2025-12-31",
                    "peopleInNeed": 90000, "severity": 5 } }),
        )
        .await;
    assert_eq!(
        second["upsertNeed"]["need"]["id"], need["id"],
        "same area, sector and period: replaced"
    );
    assert_eq!(second["upsertNeed"]["need"]["severity"], 5);

    app.data_as(&app.admin,
        UPSERT,
        json!({ "input": { "pcode": "ET0201", "periodStart": "2025-01-01", "periodEnd": "2025-12-31", "peopleInNeed": 95000, "severity": 4 } }),
    )
    .await;
    app.data_as(&app.admin,
        UPSERT,
        json!({ "input": { "pcode": "ET0401", "sector": "WSH", "periodStart": "2025-01-01", "periodEnd": "2025-12-31", "peopleInNeed": 1000, "severity": 2 } }),
    )
    .await;

    let query = "query($filter: NeedFilter) { needs(filter: $filter) { totalCount edges { node { pcode intersectoral peopleInNeed { total } } } } }";
    let run = |filter: serde_json::Value| async move {
        app.data_as(&app.admin, query, json!({ "filter": filter }))
            .await
    };
    assert_eq!(run(json!({})).await["needs"]["totalCount"], 3);
    assert_eq!(
        run(json!({ "area": "ET02" })).await["needs"]["totalCount"],
        2
    );
    assert_eq!(
        run(json!({ "sector": "FSC" })).await["needs"]["totalCount"],
        1
    );
    let intersectoral = run(json!({ "sector": "intersectoral" })).await;
    assert_eq!(
        intersectoral["needs"]["edges"][0]["node"]["intersectoral"],
        true
    );
    assert_eq!(
        run(json!({ "minSeverity": 4 })).await["needs"]["totalCount"],
        2
    );
    assert_eq!(
        run(json!({ "from": "2026-01-01" })).await["needs"]["totalCount"],
        0
    );

    let bad = app
        .gql_as(&app.admin,
            UPSERT,
            json!({ "input": { "pcode": "ET0201", "sector": "FSC", "periodStart": "2025-01-01", "periodEnd": "2024-12-31", "peopleInNeed": -1, "severity": 7 } }),
        )
        .await;
    assert_eq!(error_code(&bad), "VALIDATION");
    assert_eq!(
        error_fields(&bad),
        vec!["periodEnd", "peopleInNeed", "severity"]
    );
    let unknown = app
        .gql_as(&app.admin,
            UPSERT,
            json!({ "input": { "pcode": "ET0999", "periodStart": "2025-01-01", "periodEnd": "2025-12-31", "peopleInNeed": 1 } }),
        )
        .await;
    assert_eq!(error_fields(&unknown), vec!["pcode"]);
}

async fn reports_progress_per_period(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", None).await;
    let intervention = create_intervention(app, water_input(&org, "OX-1")).await;
    let report = "mutation($input: ReportProgressInput!) { reportProgress(input: $input) { progressReport { id periodStart reached { total } } } }";
    let input = |total: i64| {
        json!({ "input": { "interventionId": intervention["id"], "periodStart": "2025-01-01", "periodEnd": "2025-01-31",
                "reached": { "total": total, "bands": [{ "sex": "FEMALE", "people": total / 2 }] }, "note": "January" } })
    };
    let first = app.data_as(&app.admin, report, input(1200)).await;
    let again = app.data_as(&app.admin, report, input(1300)).await;
    assert_eq!(
        first["reportProgress"]["progressReport"]["id"],
        again["reportProgress"]["progressReport"]["id"],
        "a period is reported once; a new report replaces it"
    );
    app.data_as(&app.admin,
        report,
        json!({ "input": { "interventionId": intervention["id"], "periodStart": "2025-02-01", "periodEnd": "2025-02-28", "reached": { "total": 900 } } }),
    )
    .await;
    let read = app
        .data_as(&app.admin,
            "query($id: ID!) { intervention(id: $id) { target { total } progress { periodStart reached { total } } } }",
            json!({ "id": intervention["id"] }),
        )
        .await;
    let progress = &read["intervention"]["progress"];
    assert_eq!(progress[0]["reached"]["total"], 1300);
    assert_eq!(progress[1]["periodStart"], "2025-02-01");
    assert_eq!(
        read["intervention"]["target"]["total"], 5000,
        "targets are never reports of reach"
    );

    let bad = app.gql_as(&app.admin, report, input(-5)).await;
    assert_eq!(error_code(&bad), "VALIDATION");
    assert!(error_fields(&bad).contains(&"reached.total".to_owned()));
    let missing = app
        .gql_as(&app.admin,
            report,
            json!({ "input": { "interventionId": "9999", "periodStart": "2025-01-01", "periodEnd": "2025-01-31", "reached": { "total": 1 } } }),
        )
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

crate::on_both_backends!(
    states_needs_and_replaces_them_by_key,
    reports_progress_per_period
);
