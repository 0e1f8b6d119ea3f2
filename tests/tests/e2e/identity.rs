use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use concord_e2e::{Backend, TestApp, error_code};
use serde_json::{Value, json};

use crate::support::{create_intervention, create_organisation, seed_areas, water_input};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken expiresIn tokenType } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { signedIn role userId apiKeyId organisationIds } }";

async fn sessions_rotate_and_reuse_revokes(app: &TestApp) {
    let org = create_organisation(app, "Oxfam GB", None).await;
    app.user("editor@oxfam.test", "EDITOR", &[&org]).await;
    let wrong = app
        .gql(
            LOGIN,
            json!({ "e": "editor@oxfam.test", "p": "not the password at all" }),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    let unknown = app
        .gql(
            LOGIN,
            json!({ "e": "nobody@oxfam.test", "p": "not the password at all" }),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["message"], wrong["errors"][0]["message"],
        "no user oracle"
    );

    let session = app
        .data(
            LOGIN,
            json!({ "e": "EDITOR@oxfam.test", "p": "a long enough password" }),
        )
        .await["login"]
        .clone();
    assert_eq!(session["tokenType"], "Bearer");
    assert!(session["expiresIn"].as_u64().unwrap() <= 900);
    let me = app
        .data_as(session["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(me["me"]["signedIn"], true);
    assert_eq!(me["me"]["role"], "EDITOR");
    assert_eq!(me["me"]["organisationIds"], json!([org]));

    // Rotation: the refresh token works once and is replaced.
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    let rotated = app.data(REFRESH, json!({ "t": first })).await["refreshSession"].clone();
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    app.data_as(rotated["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    // Reuse of a spent token revokes the whole family, including its successor.
    let reused = app.gql(REFRESH, json!({ "t": first })).await;
    assert_eq!(error_code(&reused), "UNAUTHENTICATED");
    let successor = app.gql(REFRESH, json!({ "t": second })).await;
    assert_eq!(
        error_code(&successor),
        "UNAUTHENTICATED",
        "the family is revoked"
    );

    // Logout ends a session.
    let again = app
        .data(
            LOGIN,
            json!({ "e": "editor@oxfam.test", "p": "a long enough password" }),
        )
        .await["login"]
        .clone();
    let logged_out = app
        .data(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": again["refreshToken"] }),
        )
        .await;
    assert_eq!(logged_out["logout"], true);
    assert_eq!(
        error_code(
            &app.gql(REFRESH, json!({ "t": again["refreshToken"] }))
                .await
        ),
        "UNAUTHENTICATED"
    );

    // A bad token is refused outright with 401, never treated as anonymous.
    let (status, body) = app.request(Some("not.a.token"), ME, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let mut tampered = session["accessToken"].as_str().unwrap().to_owned();
    tampered.pop();
    let (status, _) = app.request(Some(&tampered), ME, json!({})).await;
    assert_eq!(status, 401);

    // Deactivated users can neither sign in nor refresh.
    let users = app
        .data_as(
            &app.admin,
            "{ users { edges { node { id email } } } }",
            json!({}),
        )
        .await;
    let editor_id = users["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["email"] == "editor@oxfam.test")
        .unwrap()["node"]["id"]
        .clone();
    let fresh = app
        .data(
            LOGIN,
            json!({ "e": "editor@oxfam.test", "p": "a long enough password" }),
        )
        .await["login"]
        .clone();
    app.data_as(
        &app.admin,
        "mutation($id: ID!) { deactivateUser(userId: $id) { active } }",
        json!({ "id": editor_id }),
    )
    .await;
    let refused = app
        .gql(
            LOGIN,
            json!({ "e": "editor@oxfam.test", "p": "a long enough password" }),
        )
        .await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED");
    assert_eq!(
        error_code(
            &app.gql(REFRESH, json!({ "t": fresh["refreshToken"] }))
                .await
        ),
        "UNAUTHENTICATED"
    );
    let (status, _) = app
        .request(fresh["accessToken"].as_str(), ME, json!({}))
        .await;
    assert_eq!(
        status, 401,
        "a deactivated user's live access token stops working"
    );
}

async fn api_keys_act_for_their_organisation(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "Oxfam GB", None).await;
    let editor = app.user("editor@oxfam.test", "EDITOR", &[&org]).await;
    let create = "mutation($org: ID!, $name: String!, $scope: KeyScope!) { createApiKey(organisationId: $org, name: $name, scope: $scope) { secret apiKey { id prefix scope } } }";
    let rw = app
        .data_as(
            &editor,
            create,
            json!({ "org": org, "name": "Oxfam activity system", "scope": "READ_WRITE" }),
        )
        .await["createApiKey"]
        .clone();
    let read = app
        .data_as(
            &editor,
            create,
            json!({ "org": org, "name": "Dashboard", "scope": "READ" }),
        )
        .await["createApiKey"]
        .clone();
    let rw_secret = rw["secret"].as_str().unwrap();
    assert!(rw_secret.starts_with("ck_"));
    assert!(rw_secret.starts_with(rw["apiKey"]["prefix"].as_str().unwrap()));

    // The key works as a bearer token and as X-Api-Key.
    let created = app
        .data_as(
            rw_secret,
            &crate::support::create_mutation(),
            json!({ "input": water_input(&org, "OX-KEY-1") }),
        )
        .await;
    assert_eq!(
        created["createIntervention"]["intervention"]["externalId"],
        "OX-KEY-1"
    );
    let via_header: Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-api-key", rw_secret)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(via_header["data"]["me"]["apiKeyId"], rw["apiKey"]["id"]);

    let refused = app
        .gql_as(
            read["secret"].as_str().unwrap(),
            &crate::support::create_mutation(),
            json!({ "input": water_input(&org, "OX-KEY-2") }),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "a read key cannot write");

    let listed = app
        .data_as(&editor, "query($org: ID!) { apiKeys(organisationId: $org) { id name scope lastUsedAt revokedAt } }", json!({ "org": org }))
        .await;
    let keys = listed["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(!keys[0]["lastUsedAt"].is_null(), "use is recorded");
    assert!(
        !listed.to_string().contains(rw_secret),
        "the secret is never shown again"
    );

    app.data_as(
        &editor,
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
        json!({ "id": rw["apiKey"]["id"] }),
    )
    .await;
    let (status, body) = app.request(Some(rw_secret), ME, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    let past = app
        .gql_as(
            &editor,
            "mutation($org: ID!) { createApiKey(organisationId: $org, name: \"old\", scope: READ, expiresAt: \"2020-01-01T00:00:00Z\") { secret } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(error_code(&past), "VALIDATION");
}

async fn every_write_is_audited(app: &TestApp) {
    seed_areas(app).await;
    let org = create_organisation(app, "IRC", None).await;
    let editor = app.user("editor@irc.test", "EDITOR", &[&org]).await;
    let mut input = water_input(&org, "IRC-1");
    input["sectors"] = json!([{ "code": "PRO-GBV" }]);
    let created = app
        .data_as(
            &editor,
            &crate::support::create_mutation(),
            json!({ "input": input }),
        )
        .await;
    let id = created["createIntervention"]["intervention"]["id"].clone();
    input["title"] = json!("Safe space, extended");
    app.data_as(
        &editor,
        "mutation($id: ID!, $input: InterventionInput!) { updateIntervention(id: $id, expectedVersion: 1, input: $input) { intervention { version } } }",
        json!({ "id": id, "input": input }),
    )
    .await;
    // The administrator reads the RESTRICTED record: a read from outside its organisation.
    app.data_as(
        &app.admin,
        "query($id: ID!) { intervention(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;

    let events = app
        .data_as(
            &app.admin,
            "query($id: ID!) { auditEvents(filter: { entity: \"intervention\", entityId: $id }) { totalCount edges { node { action actor client before after } } } }",
            json!({ "id": id }),
        )
        .await;
    let events = events["auditEvents"]["edges"].as_array().unwrap().clone();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["READ", "UPDATE", "CREATE"], "newest first");
    let update = &events[1]["node"];
    assert_eq!(update["actor"], "editor@irc.test");
    assert_eq!(
        update["before"]["record"]["title"],
        "Emergency water trucking in Awsi Rasu"
    );
    assert_eq!(update["after"]["record"]["title"], "Safe space, extended");
    assert_eq!(events[0]["node"]["actor"], concord_e2e::ADMIN_EMAIL);

    let forbidden = app
        .gql_as(&editor, "{ auditEvents { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");

    // Nothing in the API changes or deletes the trail.
    let schema = app
        .data(
            "{ __schema { mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mutations: Vec<String> = schema["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        mutations.iter().all(|m| !m.contains("audit")),
        "{mutations:?}"
    );
}

async fn admins_manage_users_and_scopes(app: &TestApp) {
    let org = create_organisation(app, "UNICEF", None).await;
    seed_areas(app).await;
    let added = app
        .data_as(
            &app.admin,
            "mutation($input: AddUserInput!) { addUser(input: $input) { id email role active organisations { name } } }",
            json!({ "input": { "email": "Coordinator@Cluster.test", "password": "a long enough password", "role": "VIEWER", "organisationIds": [org] } }),
        )
        .await;
    let user = &added["addUser"];
    assert_eq!(
        user["email"], "coordinator@cluster.test",
        "emails are normalised"
    );
    assert_eq!(user["organisations"][0]["name"], "UNICEF");
    let id = user["id"].clone();
    let scoped = app
        .data_as(
            &app.admin,
            "mutation($id: ID!) { setUserRole(userId: $id, role: COORDINATOR) { role } setCoordinatorScope(userId: $id, areas: [\"ET02\"], sectors: [\"WSH\"]) { scopeAreas scopeSectors } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(scoped["setUserRole"]["role"], "COORDINATOR");
    assert_eq!(scoped["setCoordinatorScope"]["scopeAreas"], json!(["ET02"]));
    assert_eq!(scoped["setCoordinatorScope"]["scopeSectors"], json!(["11"]));
    let bad_scope = app
        .gql_as(
            &app.admin,
            "mutation($id: ID!) { setCoordinatorScope(userId: $id, areas: [\"ET99\"]) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&bad_scope), "VALIDATION");
    let duplicate = app
        .gql_as(
            &app.admin,
            "mutation($input: AddUserInput!) { addUser(input: $input) { id } }",
            json!({ "input": { "email": "coordinator@cluster.test", "password": "a long enough password", "role": "VIEWER" } }),
        )
        .await;
    assert_eq!(error_code(&duplicate), "CONFLICT");
    let weak = app
        .gql_as(
            &app.admin,
            "mutation($input: AddUserInput!) { addUser(input: $input) { id } }",
            json!({ "input": { "email": "weak@cluster.test", "password": "short", "role": "VIEWER" } }),
        )
        .await;
    assert_eq!(error_code(&weak), "VALIDATION");
    // The coordinator reads the RESTRICTED work of its scope.
    let coordinator = app
        .login("coordinator@cluster.test", "a long enough password")
        .await;
    let mut gbv = water_input(&org, "U-GBV");
    gbv["sectors"] = json!([{ "code": "WSH" }]);
    gbv["visibility"] = json!("RESTRICTED");
    create_intervention(app, gbv).await;
    let seen = app
        .data_as(&coordinator, "{ interventions { totalCount } }", json!({}))
        .await;
    assert_eq!(seen["interventions"]["totalCount"], 1);
}

crate::on_both_backends!(
    sessions_rotate_and_reuse_revokes,
    api_keys_act_for_their_organisation,
    every_write_is_audited,
    admins_manage_users_and_scopes,
);

/// A deployment can require sign-in for everything.
#[tokio::test]
async fn private_deployments_refuse_anonymous_reads() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CONCORD_PUBLIC_READ", "false")])
        .await
        .unwrap();
    for query in [
        "{ interventions { totalCount } }",
        "{ organisations { totalCount } }",
        "{ areas { totalCount } }",
        "{ sectors { totalCount } }",
    ] {
        let response = app.gql(query, json!({})).await;
        assert_eq!(error_code(&response), "UNAUTHENTICATED", "{query}");
    }
    let me = app.data("{ me { signedIn } }", json!({})).await;
    assert_eq!(me["me"]["signedIn"], false);
    app.data_as(&app.admin, "{ interventions { totalCount } }", json!({}))
        .await;
    app.stop().await;
}

/// With configured EdDSA keys, access tokens carry the key id and verify.
#[tokio::test]
async fn configured_eddsa_keys_sign_tokens() {
    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/api/src/auth/testdata"
    );
    let signing = format!("{keys}/test-ed25519-current-private.pem");
    let verify = format!(
        "current={keys}/test-ed25519-current-public.pem,next={keys}/test-ed25519-next-public.pem"
    );
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CONCORD_JWT_ALGORITHM", "EdDSA"),
            ("CONCORD_JWT_SIGNING_KEY", &signing),
            ("CONCORD_JWT_KID", "current"),
            ("CONCORD_JWT_VERIFY_KEYS", &verify),
        ],
    )
    .await
    .unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(app.admin.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "current");
    assert_eq!(header["typ"], "at+jwt");
    let me = app.data_as(&app.admin, ME, json!({})).await;
    assert_eq!(me["me"]["role"], "ADMIN");
    app.stop().await;
}

/// Tokens of an external OIDC issuer are accepted when its keys (a JWKS file) and its
/// claim-to-role mapping are configured: the person must be known here by email, and the
/// role comes from the issuer's claim.
#[tokio::test]
async fn external_oidc_tokens_map_to_local_users() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/api/src/auth/testdata"
    );
    // The issuer's key pair; its public half goes into a JWKS file, as Keycloak publishes it.
    let public_pem =
        std::fs::read_to_string(format!("{keys}/test-ed25519-next-public.pem")).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            public_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let raw = &der[der.len() - 32..];
    let jwks = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "kc-1", "x": URL_SAFE_NO_PAD.encode(raw) }] });
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let issuer = "https://keycloak.test/realms/concord";
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CONCORD_OIDC_ISSUER", issuer),
            ("CONCORD_OIDC_AUDIENCE", "concord"),
            ("CONCORD_OIDC_JWKS_FILE", jwks_file.to_str().unwrap()),
            ("CONCORD_OIDC_ROLES_CLAIM", "realm_access.roles"),
            ("CONCORD_OIDC_ROLE_MAP", "concord-coordinator=COORDINATOR"),
        ],
    )
    .await
    .unwrap();
    app.user("person@agency.test", "VIEWER", &[]).await;

    let signing = EncodingKey::from_ed_pem(
        &std::fs::read(format!("{keys}/test-ed25519-next-private.pem")).unwrap(),
    )
    .unwrap();
    let token = |email: &str, jku: Option<&str>| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("kc-1".into());
        header.jku = jku.map(str::to_owned);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({
            "iss": issuer, "aud": "concord", "sub": "kc-user-1", "iat": now, "nbf": now, "exp": now + 300,
            "email": email, "email_verified": true, "typ": "Bearer",
            "realm_access": { "roles": ["offline_access", "concord-coordinator"] },
        });
        encode(&header, &claims, &signing).unwrap()
    };

    let me = app
        .data_as(&token("person@agency.test", None), ME, json!({}))
        .await;
    assert_eq!(me["me"]["signedIn"], true);
    assert_eq!(
        me["me"]["role"], "COORDINATOR",
        "the role comes from the issuer's mapped claim"
    );

    let (status, _) = app
        .request(Some(&token("stranger@agency.test", None)), ME, json!({}))
        .await;
    assert_eq!(status, 401, "unknown people are refused");

    // A header pointing at other keys changes nothing: only the configured JWKS verifies.
    let (status, _) = app
        .request(
            Some(&token(
                "person@agency.test",
                Some("https://attacker.test/jwks.json"),
            )),
            ME,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let forged = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("kc-1".into());
        header.jku = Some("https://attacker.test/jwks.json".into());
        let other = EncodingKey::from_ed_pem(
            &std::fs::read(format!("{keys}/test-ed25519-current-private.pem")).unwrap(),
        )
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        encode(
            &header,
            &json!({ "iss": issuer, "aud": "concord", "sub": "x", "iat": now, "nbf": now, "exp": now + 300, "email": "person@agency.test", "email_verified": true }),
            &other,
        )
        .unwrap()
    };
    let (status, _) = app.request(Some(&forged), ME, json!({})).await;
    assert_eq!(status, 401, "signed by a key the JWKS does not hold");
    app.stop().await;
}
