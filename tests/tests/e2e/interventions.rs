use concord_e2e::{TestApp, error_code, error_fields};
use serde_json::{Value, json};

use crate::support::{
    INTERVENTION_FIELDS, create_intervention, create_mutation, create_organisation, seed_areas,
    water_input,
};

async fn registers_an_intervention_and_reads_it_back(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", Some("GB-CHC-202918")).await;
    let partner = create_organisation(app, "Afar Pastoralist Development Association", None).await;
    let mut input = water_input(&org, "GB-CHC-202918-ET-001");
    input["participants"] =
        json!([{ "organisationId": partner, "role": "IMPLEMENTING", "activityId": "APDA-77" }]);
    input["locations"][0]["site"] = json!("  Logia water point ");
    let created = create_intervention(app, input).await;

    assert_eq!(created["version"], 1);
    assert_eq!(created["visibility"], "PUBLIC");
    assert_eq!(created["reportingOrganisation"]["name"], "Oxfam GB");
    assert_eq!(created["participants"][0]["role"], "IMPLEMENTING");
    assert_eq!(
        created["participants"][0]["organisation"]["id"],
        partner.as_str()
    );
    assert_eq!(created["sectors"][2]["vocabulary"], "CLUSTER");
    assert_eq!(created["sectors"][2]["code"], "11");
    assert_eq!(created["sectors"][2]["sector"]["hpcCode"], "WSH");
    assert_eq!(created["locations"][0]["area"]["name"], "Awsi Rasu");
    assert_eq!(created["locations"][0]["target"], 3000);
    assert_eq!(created["locations"][0]["site"], "Logia water point");
    assert_eq!(created["locations"][1]["site"], Value::Null);
    assert_eq!(created["target"]["total"], 5000);
    assert_eq!(created["target"]["bands"][1]["maxAge"], Value::Null);
    assert_eq!(created["budget"]["currency"], "USD");
    assert_eq!(created["start"], "2025-01-01");
    assert_eq!(created["end"], "2025-06-30");

    let read = app
        .data_as(
            &app.admin,
            &format!("query($id: ID!) {{ intervention(id: $id) {{ {INTERVENTION_FIELDS} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(
        read["intervention"], created,
        "what was written is what is read"
    );
}

async fn filters_by_sector_area_dates_status_and_text(app: &TestApp) {
    seed_areas(app).await;
    let oxfam = create_organisation(app, "Oxfam GB", Some("GB-CHC-202918")).await;
    let wfp = create_organisation(app, "World Food Programme", Some("XM-DAC-41140")).await;
    create_intervention(app, water_input(&oxfam, "OX-1")).await;

    let mut food = water_input(&wfp, "WFP-1");
    food["title"] = json!("General food distribution");
    food["description"] = Value::Null;
    food["sectors"] = json!([{ "code": "72040" }]);
    food["locations"] = json!([{ "pcode": "ET0401" }]);
    food["plannedStart"] = json!("2024-01-01");
    food["plannedEnd"] = json!("2024-03-31");
    food["status"] = json!("CLOSED");
    food["target"] = Value::Null;
    create_intervention(app, food).await;

    let mut national = water_input(&wfp, "WFP-2");
    national["title"] = json!("Nationwide nutrition screening");
    national["description"] = Value::Null;
    national["sectors"] = json!([{ "code": "NUT" }]);
    national["locations"] = json!([{ "pcode": "ET" }]);
    national["plannedEnd"] = Value::Null;
    national["target"] = Value::Null;
    create_intervention(app, national).await;

    let titles = |data: &Value| -> Vec<String> {
        data["interventions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let query = "query($filter: InterventionFilter) { interventions(filter: $filter) { totalCount edges { node { title } } } }";
    let run = |filter: Value| async move {
        app.data_as(&app.admin, query, json!({ "filter": filter }))
            .await
    };

    // A cluster matches the DAC codes under it.
    let wash = run(json!({ "sector": "WSH" })).await;
    assert_eq!(titles(&wash), vec!["Emergency water trucking in Awsi Rasu"]);
    let food_cluster = run(json!({ "sector": "FSC" })).await;
    assert_eq!(titles(&food_cluster), vec!["General food distribution"]);
    // A DAC category matches its 5-digit codes.
    let water_category = run(json!({ "sector": "140" })).await;
    assert_eq!(water_category["interventions"]["totalCount"], 1);

    // An area includes its descendants, not its ancestors.
    let afar = run(json!({ "area": "ET02" })).await;
    assert_eq!(titles(&afar), vec!["Emergency water trucking in Awsi Rasu"]);
    let ethiopia = run(json!({ "area": "ET" })).await;
    assert_eq!(ethiopia["interventions"]["totalCount"], 3);

    // Active between two dates, open ends running on.
    let q1_2024 = run(json!({ "activeFrom": "2024-02-01", "activeTo": "2024-02-28" })).await;
    assert_eq!(titles(&q1_2024), vec!["General food distribution"]);
    let y2030 = run(json!({ "activeFrom": "2030-01-01", "activeTo": "2030-12-31" })).await;
    assert_eq!(titles(&y2030), vec!["Nationwide nutrition screening"]);

    let closed = run(json!({ "status": ["CLOSED"] })).await;
    assert_eq!(titles(&closed), vec!["General food distribution"]);
    let by_org = run(json!({ "organisationId": wfp })).await;
    assert_eq!(by_org["interventions"]["totalCount"], 2);
    let text = run(json!({ "text": "TRUCKING" })).await;
    assert_eq!(text["interventions"]["totalCount"], 1);
    let wildcard = run(json!({ "text": "%" })).await;
    assert_eq!(
        wildcard["interventions"]["totalCount"], 0,
        "LIKE wildcards are literal"
    );

    let unknown_sector = app
        .gql_as(&app.admin, query, json!({ "filter": { "sector": "nope" } }))
        .await;
    assert_eq!(error_code(&unknown_sector), "VALIDATION");
    let unknown_area = app
        .gql_as(&app.admin, query, json!({ "filter": { "area": "ET99" } }))
        .await;
    assert_eq!(error_code(&unknown_area), "VALIDATION");
}

async fn pages_with_cursors(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", None).await;
    for n in 0..5 {
        create_intervention(app, water_input(&org, &format!("OX-{n}"))).await;
    }
    let query = "query($after: String) { interventions(first: 2, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { externalId } } } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app
            .data_as(&app.admin, query, json!({ "after": after }))
            .await;
        let page = &data["interventions"];
        assert_eq!(page["totalCount"], 5);
        for edge in page["edges"].as_array().unwrap() {
            seen.push(edge["node"]["externalId"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, vec!["OX-0", "OX-1", "OX-2", "OX-3", "OX-4"]);
    let garbage = app
        .gql_as(&app.admin, query, json!({ "after": "not-a-cursor" }))
        .await;
    assert_eq!(error_code(&garbage), "VALIDATION");
}

async fn updates_and_deletes_with_optimistic_concurrency(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", None).await;
    let created = create_intervention(app, water_input(&org, "OX-1")).await;
    let id = created["id"].clone();
    let update = format!(
        "mutation($id: ID!, $v: Int!, $input: InterventionInput!) {{ updateIntervention(id: $id, expectedVersion: $v, input: $input) {{ intervention {{ {INTERVENTION_FIELDS} }} }} }}"
    );
    let mut input = water_input(&org, "OX-1");
    input["title"] = json!("Water trucking, extended");
    input["locations"] = json!([{ "pcode": "ET0401" }]);
    input["actualStart"] = json!("2025-02-01");
    let updated = app
        .data_as(
            &app.admin,
            &update,
            json!({ "id": id, "v": 1, "input": input }),
        )
        .await;
    let updated = &updated["updateIntervention"]["intervention"];
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["title"], "Water trucking, extended");
    assert_eq!(
        updated["locations"].as_array().unwrap().len(),
        1,
        "children replaced"
    );
    assert_eq!(updated["start"], "2025-02-01", "actual start wins");

    let stale = app
        .gql_as(
            &app.admin,
            &update,
            json!({ "id": id, "v": 1, "input": input }),
        )
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");

    let delete = "mutation($id: ID!, $v: Int!) { deleteIntervention(id: $id, expectedVersion: $v) { deletedId } }";
    let stale_delete = app
        .gql_as(&app.admin, delete, json!({ "id": id, "v": 1 }))
        .await;
    assert_eq!(error_code(&stale_delete), "CONFLICT");
    let deleted = app
        .data_as(&app.admin, delete, json!({ "id": id, "v": 2 }))
        .await;
    assert_eq!(deleted["deleteIntervention"]["deletedId"], id);
    let gone = app
        .data_as(
            &app.admin,
            "query($id: ID!) { intervention(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(gone["intervention"].is_null());
    let again = app
        .gql_as(&app.admin, delete, json!({ "id": id, "v": 2 }))
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND");
}

async fn refuses_invalid_input_without_writing(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", None).await;
    let mutation = create_mutation();

    let mut bad = water_input(&org, "OX-1");
    bad["sectors"][1]["percentage"] = json!(20.0);
    bad["plannedEnd"] = json!("2024-01-01");
    bad["locations"][0]["target"] = json!(-4);
    let response = app
        .gql_as(&app.admin, &mutation, json!({ "input": bad }))
        .await;
    assert_eq!(error_code(&response), "VALIDATION");
    let fields = error_fields(&response);
    for expected in ["sectors", "plannedEnd", "locations[0].target"] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} in {fields:?}"
        );
    }

    let mut unknown_refs = water_input("424242", "OX-2");
    unknown_refs["locations"] = json!([{ "pcode": "ET0999" }]);
    let response = app
        .gql_as(&app.admin, &mutation, json!({ "input": unknown_refs }))
        .await;
    assert_eq!(error_code(&response), "VALIDATION");
    assert_eq!(
        error_fields(&response),
        vec!["reportingOrganisationId", "locations[0].pcode"]
    );

    let bad_date = app
        .gql_as(
            &app.admin,
            &mutation,
            json!({ "input": { "plannedStart": "01/07/2021" } }),
        )
        .await;
    assert!(bad_date["errors"].is_array());

    create_intervention(app, water_input(&org, "OX-3")).await;
    let duplicate = app
        .gql_as(
            &app.admin,
            &mutation,
            json!({ "input": water_input(&org, "OX-3") }),
        )
        .await;
    assert_eq!(error_code(&duplicate), "CONFLICT");

    let count = app
        .data_as(&app.admin, "{ interventions { totalCount } }", json!({}))
        .await;
    assert_eq!(
        count["interventions"]["totalCount"], 1,
        "no half-written records"
    );
}

/// Outsiders (anonymous callers, members of other organisations) never see a RESTRICTED
/// record: not in lists, counts, filters or lookups, and changing it answers NOT_FOUND,
/// exactly as for an id that never existed. Members of the reporting organisation see it.
async fn restricted_records_do_not_exist_for_outsiders(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "International Rescue Committee", None).await;
    let other = create_organisation(app, "Other Agency", None).await;
    let member = app.user("member@irc.test", "EDITOR", &[&org]).await;
    let outsider = app.user("editor@other.test", "EDITOR", &[&other]).await;

    let mut gbv = water_input(&org, "IRC-GBV-1");
    gbv["title"] = json!("Women and girls safe space");
    gbv["sectors"] = json!([{ "code": "PRO-GBV" }]);
    let created = create_intervention(app, gbv).await;
    assert_eq!(
        created["visibility"], "RESTRICTED",
        "GBV work defaults to RESTRICTED"
    );
    let mut partners = water_input(&org, "IRC-2");
    partners["visibility"] = json!("PARTNERS");
    create_intervention(app, partners).await;
    create_intervention(app, water_input(&org, "IRC-3")).await;
    let id = created["id"].clone();

    let lists = r#"{ all: interventions { totalCount edges { node { externalId } } }
                     gbv: interventions(filter: { sector: "PRO-GBV" }) { totalCount }
                     text: interventions(filter: { text: "safe space" }) { totalCount } }"#;
    let anonymous = app.data(lists, json!({})).await;
    assert_eq!(anonymous["all"]["totalCount"], 1);
    assert_eq!(anonymous["all"]["edges"][0]["node"]["externalId"], "IRC-3");
    assert_eq!(anonymous["gbv"]["totalCount"], 0);
    assert_eq!(anonymous["text"]["totalCount"], 0);
    let seen_by_outsider = app.data_as(&outsider, lists, json!({})).await;
    assert_eq!(
        seen_by_outsider["all"]["totalCount"], 2,
        "PARTNERS, not RESTRICTED"
    );
    assert_eq!(seen_by_outsider["gbv"]["totalCount"], 0);
    assert_eq!(seen_by_outsider["text"]["totalCount"], 0);
    let seen_by_member = app.data_as(&member, lists, json!({})).await;
    assert_eq!(seen_by_member["all"]["totalCount"], 3);
    assert_eq!(seen_by_member["gbv"]["totalCount"], 1);

    let lookup = "query($id: ID!) { intervention(id: $id) { id } }";
    assert!(app.data(lookup, json!({ "id": id })).await["intervention"].is_null());
    assert!(app.data_as(&outsider, lookup, json!({ "id": id })).await["intervention"].is_null());
    assert_eq!(
        app.data_as(&member, lookup, json!({ "id": id })).await["intervention"]["id"],
        id
    );

    let update = "mutation($id: ID!, $input: InterventionInput!) { updateIntervention(id: $id, expectedVersion: 1, input: $input) { intervention { id } } }";
    let delete =
        "mutation($id: ID!) { deleteIntervention(id: $id, expectedVersion: 1) { deletedId } }";
    let progress = "mutation($input: ReportProgressInput!) { reportProgress(input: $input) { progressReport { id } } }";
    let progress_input = json!({ "input": { "interventionId": id, "periodStart": "2025-01-01", "periodEnd": "2025-01-31", "reached": { "total": 10 } } });
    let mut gbv_again = water_input(&org, "IRC-GBV-1");
    gbv_again["sectors"] = json!([{ "code": "PRO-GBV" }]);
    let update_input = json!({ "id": id, "input": gbv_again });

    assert_eq!(
        error_code(&app.gql(update, update_input.clone()).await),
        "UNAUTHENTICATED"
    );
    for response in [
        app.gql_as(&outsider, update, update_input.clone()).await,
        app.gql_as(&outsider, delete, json!({ "id": id })).await,
        app.gql_as(&outsider, progress, progress_input.clone())
            .await,
        app.gql_as(&outsider, delete, json!({ "id": "999999" }))
            .await,
    ] {
        assert_eq!(error_code(&response), "NOT_FOUND", "{response}");
        assert_eq!(
            response["errors"][0]["message"], "not found",
            "no existence oracle"
        );
    }
    app.data_as(&member, progress, progress_input).await;
    let updated = app.data_as(&member, update, update_input).await;
    assert_eq!(updated["updateIntervention"]["intervention"]["id"], id);
}

crate::on_both_backends!(
    registers_an_intervention_and_reads_it_back,
    filters_by_sector_area_dates_status_and_text,
    pages_with_cursors,
    updates_and_deletes_with_optimistic_concurrency,
    refuses_invalid_input_without_writing,
    restricted_records_do_not_exist_for_outsiders,
);
