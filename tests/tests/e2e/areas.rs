use concord_e2e::{TestApp, error_code};
use serde_json::json;

use crate::support::seed_areas;

async fn navigates_the_pcode_hierarchy(app: &TestApp) {
    seed_areas(app).await;
    let data = app
        .data_as(&app.admin,
            r#"{ area(pcode: "ET0201") { pcode name adminLevel country validFrom
                   parent { pcode name }
                   ancestors { pcode adminLevel } }
                 country: area(pcode: "ET") { name adminLevel children(first: 1) { totalCount pageInfo { hasNextPage } edges { node { pcode } } } } }"#,
            json!({}),
        )
        .await;
    let area = &data["area"];
    assert_eq!(area["name"], "Awsi Rasu");
    assert_eq!(area["adminLevel"], 2);
    assert_eq!(area["country"], "ET");
    assert_eq!(area["validFrom"], "2021-01-01");
    assert_eq!(area["parent"]["pcode"], "ET02");
    let ancestors: Vec<&str> = area["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["pcode"].as_str().unwrap())
        .collect();
    assert_eq!(ancestors, vec!["ET", "ET02"]);
    assert_eq!(data["country"]["name"], "Ethiopia");
    assert_eq!(data["country"]["adminLevel"], 0);
    assert_eq!(data["country"]["children"]["totalCount"], 2);
    assert_eq!(data["country"]["children"]["pageInfo"]["hasNextPage"], true);

    let filtered = app
        .data_as(
            &app.admin,
            r#"{ level2: areas(filter: { level: 2, country: "ET" }) { totalCount }
                 underAfar: areas(filter: { parent: "ET02" }) { totalCount }
                 byName: areas(filter: { name: "wellega" }) { edges { node { pcode } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(filtered["level2"]["totalCount"], 3);
    assert_eq!(filtered["underAfar"]["totalCount"], 2);
    assert_eq!(filtered["byName"]["edges"][0]["node"]["pcode"], "ET0401");

    let bad = app
        .gql_as(
            &app.admin,
            r#"{ area(pcode: "not a pcode!") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "VALIDATION");
    let unknown = app
        .data_as(
            &app.admin,
            r#"{ area(pcode: "ET9999") { name } }"#,
            json!({}),
        )
        .await;
    assert!(unknown["area"].is_null());
}

async fn imports_the_real_global_pcode_table(app: &TestApp) {
    let Some(file) =
        concord_e2e::shared_data("hdx-scraper-pcodes/tests/fixtures/global_pcodes.csv")
    else {
        eprintln!("skipped: shared data is not present");
        return;
    };
    let (ok, stdout, stderr) = app.cli(&["import", "areas", file.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    // 8,914 rows plus the three countries they hang under.
    assert!(stdout.contains("8917 inserted"), "{stdout}");
    assert!(stdout.contains("0 rows refused"), "{stdout}");
    let data = app
        .data_as(
            &app.admin,
            r#"{ arm3: areas(filter: { country: "AM", level: 3 }) { totalCount }
                 idn: areas(filter: { country: "ID" }) { totalCount }
                 area(pcode: "AM01001") { name ancestors { pcode } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["arm3"]["totalCount"], 805);
    assert_eq!(data["idn"]["totalCount"], 34 + 522 + 7069 + 1);
    assert_eq!(data["area"]["ancestors"][1]["pcode"], "AM01");

    // A second import changes nothing but the names and dates it restates.
    let (ok, stdout, _) = app.cli(&["import", "areas", file.to_str().unwrap()]).await;
    assert!(ok);
    assert!(stdout.contains("0 inserted"), "{stdout}");
}

async fn reports_bad_rows_with_their_lines(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n\
         ARM,1,AM01,Yerevan,ARM,2014-10-01\n\
         ARM,2,AM0101,,AM01,2014-10-01\n\
         ARM,2,AM0102,Kentron,AM09,2014-10-01\n\
         ARM,2,AM0103,Arabkir,AM01,2014-10-01\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "areas", file.to_str().unwrap()]).await;
    assert!(
        ok,
        "a file with bad rows still imports its good rows: {stderr}"
    );
    assert!(
        stderr.contains("bad.csv:3:"),
        "empty name on line 3: {stderr}"
    );
    assert!(
        stderr.contains("bad.csv:4:"),
        "unknown parent on line 4: {stderr}"
    );
    assert!(
        stdout.contains("3 inserted"),
        "country, AM01 and AM0103: {stdout}"
    );
    let data = app
        .data_as(
            &app.admin,
            r#"{ areas(filter: { country: "AM" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["areas"]["totalCount"], 3);
}

crate::on_both_backends!(
    navigates_the_pcode_hierarchy,
    imports_the_real_global_pcode_table,
    reports_bad_rows_with_their_lines
);
