//! Seeding helpers shared by the scenarios.

use concord_e2e::TestApp;
use serde_json::{Value, json};

/// A small P-code table: Ethiopia with two regions and three zones.
pub const AREAS_CSV: &str = "\
Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date
ETH,1,ET02,Afar,ETH,2021-01-01
ETH,2,ET0201,Awsi Rasu,ET02,2021-01-01
ETH,2,ET0202,Kilbet Rasu,ET02,2021-01-01
ETH,1,ET04,Oromia,ETH,2021-01-01
ETH,2,ET0401,West Wellega,ET04,2021-01-01
";

/// Imports the small table through the CLI, as an operator would.
pub async fn seed_areas(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("areas.csv");
    std::fs::write(&file, AREAS_CSV).unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "areas", file.to_str().unwrap()]).await;
    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("6 inserted"), "{stdout}");
}

pub async fn create_organisation(app: &TestApp, name: &str, iati: Option<&str>) -> String {
    let data = app
        .data_as(&app.admin,
            "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id } } }",
            json!({ "input": {
                "name": name,
                "iatiIdentifier": iati,
                "organisationType": "21",
                "level": "INTERNATIONAL",
                "country": "GB",
            }}),
        )
        .await;
    data["createOrganisation"]["organisation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const INTERVENTION_FIELDS: &str = "
    id externalId title version visibility status kind approach start end
    plannedStart plannedEnd actualStart actualEnd
    reportingOrganisation { id name }
    participants { role activityId organisation { id name } }
    sectors { vocabulary code percentage sector { name hpcCode } }
    locations { pcode target site area { name adminLevel } }
    target { total withDisability groups bands { sex minAge maxAge people } }
    budget { amount currency }
";

pub fn create_mutation() -> String {
    format!(
        "mutation($input: InterventionInput!) {{ createIntervention(input: $input) {{ intervention {{ {INTERVENTION_FIELDS} }} }} }}"
    )
}

/// A valid water intervention in Afar, with the given organisation and external id.
pub fn water_input(org: &str, external_id: &str) -> Value {
    json!({
        "externalId": external_id,
        "title": "Emergency water trucking in Awsi Rasu",
        "description": "Trucking to drought-affected kebeles",
        "reportingOrganisationId": org,
        "sectors": [
            { "vocabulary": "DAC5", "code": "14030", "percentage": 70.0 },
            { "vocabulary": "DAC5", "code": "14032", "percentage": 30.0 },
            { "code": "WSH" }
        ],
        "locations": [ { "pcode": "ET0201", "target": 3000 }, { "pcode": "ET0202" } ],
        "plannedStart": "2025-01-01",
        "plannedEnd": "2025-06-30",
        "status": "IMPLEMENTATION",
        "kind": "RESPONSE",
        "approach": "PROTECTION",
        "target": {
            "total": 5000,
            "withDisability": 400,
            "groups": ["IDP"],
            "bands": [
                { "sex": "FEMALE", "minAge": 0, "maxAge": 17, "people": 1400 },
                { "sex": "MALE", "minAge": 18, "people": 1100 }
            ]
        },
        "budget": { "amount": 250000.0, "currency": "USD" }
    })
}

pub async fn create_intervention(app: &TestApp, input: Value) -> Value {
    let data = app
        .data_as(&app.admin, &create_mutation(), json!({ "input": input }))
        .await;
    data["createIntervention"]["intervention"].clone()
}
