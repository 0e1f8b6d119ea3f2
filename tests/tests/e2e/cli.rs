use concord_e2e::TestApp;
use serde_json::json;

/// The demo loads a realistic dataset that the API then serves; a second run leaves it be.
async fn demo_data_is_served(app: &TestApp) {
    let (ok, stdout, stderr) = app.cli(&["demo", "--size", "300", "--seed", "7"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("300 interventions"), "{stdout}");
    let data = app
        .data(
            r#"{ all: interventions(first: 100) { totalCount edges { node { title reportingOrganisation { name } sectors { code } locations { area { name } } } } }
                 organisations { totalCount }
                 needs { totalCount }
                 areas(filter: { level: 2 }) { totalCount } }"#,
            json!({}),
        )
        .await;
    let public = data["all"]["totalCount"].as_u64().unwrap();
    assert!(
        public > 150 && public < 300,
        "most, not all, demo records are PUBLIC: {public}"
    );
    assert!(data["organisations"]["totalCount"].as_u64().unwrap() >= 20);
    assert!(data["needs"]["totalCount"].as_u64().unwrap() > 50);
    assert!(data["areas"]["totalCount"].as_u64().unwrap() > 30);
    let first = &data["all"]["edges"][0]["node"];
    assert!(!first["sectors"].as_array().unwrap().is_empty());
    assert!(
        !first["locations"][0]["area"]["name"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    let (ok, stdout, _) = app.cli(&["demo", "--size", "300"]).await;
    assert!(ok);
    assert!(stdout.contains("already holds interventions"), "{stdout}");
}

crate::on_both_backends!(demo_data_is_served);

#[tokio::test]
async fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["schema", "--help"],
        vec!["demo", "--help"],
        vec!["import", "--help"],
        vec!["import", "areas", "--help"],
    ] {
        let (ok, stdout, stderr) = concord_e2e::run_cli("sqlite::memory:", &args).await;
        assert!(ok, "{args:?}: {stderr}");
        assert!(stdout.contains("Usage"), "{args:?}: {stdout}");
    }
}

/// `schema.graphql` is the public contract: it must be what the code serves.
#[tokio::test]
async fn committed_schema_matches_the_code() {
    let (ok, printed, stderr) = concord_e2e::run_cli("sqlite::memory:", &["schema"]).await;
    assert!(ok, "{stderr}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .expect("schema.graphql at the workspace root");
    assert!(
        committed == printed,
        "schema.graphql is stale: run `cargo run -p concord -- schema > schema.graphql` and review the diff"
    );
}

/// The first administrator and organisations come from the command line, without SQL.
async fn bootstrap_from_the_command_line(app: &TestApp) {
    let (ok, stdout, stderr) = app
        .cli(&[
            "org",
            "add",
            "--name",
            "Save the Children",
            "--acronym",
            "SC",
            "--iati-id",
            "GB-CHC-1076822",
            "--type",
            "21",
            "--level",
            "international",
            "--country",
            "GB",
        ])
        .await;
    assert!(ok, "{stderr}");
    let org_id = stdout
        .trim()
        .strip_prefix("organisation ")
        .and_then(|s| s.split(' ').next())
        .expect("the new id")
        .to_owned();
    let (ok, _, stderr) = app
        .cli(&[
            "org", "add", "--name", "Bad", "--type", "99", "--level", "LOCAL",
        ])
        .await;
    assert!(!ok);
    assert!(stderr.contains("organisationType"), "{stderr}");

    // The password is read from standard input when no variable gives it.
    let mut child = tokio::process::Command::new(concord_e2e::binary())
        .args([
            "user",
            "add",
            "--email",
            "editor@sc.test",
            "--role",
            "EDITOR",
            "--organisation",
            &org_id,
        ])
        .env("CONCORD_DATABASE_URL", &app.database.url)
        .env_remove("CONCORD_USER_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"a password from stdin\n").await.unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success());
    let token = app.login("editor@sc.test", "a password from stdin").await;
    let me = app
        .data_as(&token, "{ me { role organisationIds } }", json!({}))
        .await;
    assert_eq!(me["me"]["role"], "EDITOR");
    assert_eq!(me["me"]["organisationIds"], json!([org_id]));

    let (ok, _, stderr) = app
        .cli(&["user", "add", "--email", "x@sc.test", "--role", "EDITOR"])
        .await;
    assert!(!ok, "an empty password is refused");
    assert!(stderr.contains("12 characters"), "{stderr}");
}

crate::on_both_backends!(bootstrap_from_the_command_line);
