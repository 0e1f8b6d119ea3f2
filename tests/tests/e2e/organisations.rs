use concord_e2e::{TestApp, error_code, error_fields};
use serde_json::json;

use crate::support::create_organisation;

async fn registers_and_lists_organisations(app: &TestApp) {
    let id = create_organisation(
        app,
        "Save the Children International",
        Some("GB-CHC-1076822"),
    )
    .await;
    let data = app
        .data_as(&app.admin,
            "query($id: ID!) { organisation(id: $id) { id name iatiIdentifier organisationType organisationTypeName level country } }",
            json!({ "id": id }),
        )
        .await;
    let org = &data["organisation"];
    assert_eq!(org["name"], "Save the Children International");
    assert_eq!(org["iatiIdentifier"], "GB-CHC-1076822");
    assert_eq!(org["organisationTypeName"], "International NGO");
    assert_eq!(org["level"], "INTERNATIONAL");

    for n in 0..4 {
        create_organisation(app, &format!("Local partner {n}"), None).await;
    }
    let page = app
        .data_as(&app.admin,
            "{ organisations(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["organisations"]["totalCount"], 5);
    assert_eq!(page["organisations"]["pageInfo"]["hasNextPage"], true);
    let cursor = page["organisations"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let rest = app
        .data_as(&app.admin,
            "query($after: String) { organisations(first: 10, after: $after) { pageInfo { hasNextPage } edges { node { name } } } }",
            json!({ "after": cursor }),
        )
        .await;
    let names: Vec<&str> = rest["organisations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Local partner 1", "Local partner 2", "Local partner 3"]
    );
    assert_eq!(rest["organisations"]["pageInfo"]["hasNextPage"], false);
}

async fn refuses_bad_and_duplicate_organisations(app: &TestApp) {
    create_organisation(app, "UNICEF", Some("XM-DAC-41122")).await;
    let mutation = "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id } } }";
    let duplicate = app
        .gql_as(&app.admin,
            mutation,
            json!({ "input": { "name": "UNICEF again", "iatiIdentifier": "XM-DAC-41122", "organisationType": "40", "level": "INTERNATIONAL" } }),
        )
        .await;
    assert_eq!(error_code(&duplicate), "CONFLICT");

    let invalid = app
        .gql_as(&app.admin,
            mutation,
            json!({ "input": { "name": " ", "iatiIdentifier": "has spaces", "organisationType": "99", "level": "LOCAL", "country": "ZZ" } }),
        )
        .await;
    assert_eq!(error_code(&invalid), "VALIDATION");
    assert_eq!(
        error_fields(&invalid),
        vec!["name", "iatiIdentifier", "organisationType", "country"]
    );
    assert!(invalid["data"].is_null() || invalid["data"]["createOrganisation"].is_null());

    let count = app
        .data_as(&app.admin, "{ organisations { totalCount } }", json!({}))
        .await;
    assert_eq!(
        count["organisations"]["totalCount"], 1,
        "nothing half-written"
    );

    let bad_id = app
        .gql_as(
            &app.admin,
            "{ organisation(id: \"abc\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad_id), "VALIDATION");
    let missing = app
        .data_as(
            &app.admin,
            "{ organisation(id: \"999\") { id } }",
            json!({}),
        )
        .await;
    assert!(missing["organisation"].is_null());
}

crate::on_both_backends!(
    registers_and_lists_organisations,
    refuses_bad_and_duplicate_organisations
);
