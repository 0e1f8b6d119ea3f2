//! The cross-tenant access matrix: every operation of the schema, for every kind of caller
//! and, where the operation acts on an intervention, for every visibility, against the
//! outcome the access rules (DESIGN.md section 5, `concord_domain::access`) give it.
//!
//! The operations are enumerated by introspection: an operation the schema has and the
//! matrix does not know fails the test, and so does one the matrix names and the schema
//! lacks, so nobody adds an operation without its row in `expected`.
//!
//! The expected outcomes are a table written from the rules, not from running the code:
//!
//! - Reading: anonymous callers read PUBLIC records; every signed-in caller PUBLIC and
//!   PARTNERS; RESTRICTED records of A are read by A's members and keys, the coordinator
//!   whose scope (ET02, WSH) covers them, and the administrator.
//! - A record the caller cannot read does not exist for them: `intervention` is null, it is
//!   absent from `interventions` and its `totalCount`, from the audit trail, and every
//!   mutation on it is NOT_FOUND.
//! - Writing A's interventions and progress: the administrator, A's editor and A's
//!   read-write key. Whoever reads the record but may not write it gets FORBIDDEN.
//!   Updates and deletes send a wrong `expectedVersion`, so the records never change and
//!   the callers allowed to write get CONFLICT: proof they passed visibility and permission.
//! - Overlap findings: B reports one PUBLIC intervention that overlaps each of A's records,
//!   so every record of A is one side of an OVERLAP finding whose other side everyone
//!   reads. A finding is seen by whoever reads both sides, so exactly where the caller
//!   reads A's record; one the caller cannot see is absent from `overlaps` and its
//!   `totalCount`, and reviewing it is NOT_FOUND. Among those who see it, reviewers are
//!   the administrator, coordinators whose scope covers either side, and the editors and
//!   read-write keys of A or B; anyone else who sees it gets FORBIDDEN.

use std::collections::BTreeSet;
use std::fmt;

use concord_e2e::{ADMIN_EMAIL, TestApp, error_code};
use serde_json::{Value, json};

use crate::support::{create_intervention, create_organisation, seed_areas, water_input};

/// Who calls. The order is the order of the columns of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    ViewerA,
    EditorA,
    EditorB,
    CoordinatorIn,
    CoordinatorOut,
    Admin,
    KeyReadA,
    KeyWriteA,
}

impl Who {
    const ALL: [Who; 9] = [
        Who::Anonymous,
        Who::ViewerA,
        Who::EditorA,
        Who::EditorB,
        Who::CoordinatorIn,
        Who::CoordinatorOut,
        Who::Admin,
        Who::KeyReadA,
        Who::KeyWriteA,
    ];

    fn slug(self) -> &'static str {
        match self {
            Who::Anonymous => "anonymous",
            Who::ViewerA => "viewer-a",
            Who::EditorA => "editor-a",
            Who::EditorB => "editor-b",
            Who::CoordinatorIn => "coordinator-in-scope",
            Who::CoordinatorOut => "coordinator-out-of-scope",
            Who::Admin => "admin",
            Who::KeyReadA => "key-read-a",
            Who::KeyWriteA => "key-read-write-a",
        }
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// The three interventions of A, all WASH in ET0201, one per visibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rec {
    Public,
    Partners,
    Restricted,
}

impl Rec {
    const ALL: [Rec; 3] = [Rec::Public, Rec::Partners, Rec::Restricted];

    fn visibility(self) -> &'static str {
        match self {
            Rec::Public => "PUBLIC",
            Rec::Partners => "PARTNERS",
            Rec::Restricted => "RESTRICTED",
        }
    }

    /// Unique as a substring too, so a text filter finds exactly this record.
    fn external_id(self) -> &'static str {
        match self {
            Rec::Public => "matrix-record-public",
            Rec::Partners => "matrix-record-partners",
            Rec::Restricted => "matrix-record-restricted",
        }
    }
}

/// Every operation of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    // Query
    Organisations,
    Organisation,
    Areas,
    Area,
    Sectors,
    Interventions,
    Intervention,
    Needs,
    Me,
    Users,
    ApiKeys,
    AuditEvents,
    Overlaps,
    Gaps,
    Coverage,
    WhoWhatWhere,
    // Mutation
    CreateOrganisation,
    CreateIntervention,
    UpdateIntervention,
    DeleteIntervention,
    UpsertNeed,
    ReportProgress,
    Login,
    RefreshSession,
    Logout,
    AddUser,
    SetUserRole,
    SetUserOrganisations,
    SetCoordinatorScope,
    DeactivateUser,
    CreateApiKey,
    RevokeApiKey,
    ReviewOverlap,
    UpsertInterventions,
    ImportIati,
    ImportHxl,
}

impl Op {
    const ALL: [Op; 36] = [
        Op::Organisations,
        Op::Organisation,
        Op::Areas,
        Op::Area,
        Op::Sectors,
        Op::Interventions,
        Op::Intervention,
        Op::Needs,
        Op::Me,
        Op::Users,
        Op::ApiKeys,
        Op::AuditEvents,
        Op::Overlaps,
        Op::Gaps,
        Op::Coverage,
        Op::WhoWhatWhere,
        Op::CreateOrganisation,
        Op::CreateIntervention,
        Op::UpdateIntervention,
        Op::DeleteIntervention,
        Op::UpsertNeed,
        Op::ReportProgress,
        Op::Login,
        Op::RefreshSession,
        Op::Logout,
        Op::AddUser,
        Op::SetUserRole,
        Op::SetUserOrganisations,
        Op::SetCoordinatorScope,
        Op::DeactivateUser,
        Op::CreateApiKey,
        Op::RevokeApiKey,
        Op::ReviewOverlap,
        Op::UpsertInterventions,
        Op::ImportIati,
        Op::ImportHxl,
    ];

    /// The root type and field name in the schema.
    fn field(self) -> (&'static str, &'static str) {
        match self {
            Op::Organisations => ("Query", "organisations"),
            Op::Organisation => ("Query", "organisation"),
            Op::Areas => ("Query", "areas"),
            Op::Area => ("Query", "area"),
            Op::Sectors => ("Query", "sectors"),
            Op::Interventions => ("Query", "interventions"),
            Op::Intervention => ("Query", "intervention"),
            Op::Needs => ("Query", "needs"),
            Op::Me => ("Query", "me"),
            Op::Users => ("Query", "users"),
            Op::ApiKeys => ("Query", "apiKeys"),
            Op::AuditEvents => ("Query", "auditEvents"),
            Op::Overlaps => ("Query", "overlaps"),
            Op::Gaps => ("Query", "gaps"),
            Op::Coverage => ("Query", "coverage"),
            Op::WhoWhatWhere => ("Query", "whoWhatWhere"),
            Op::CreateOrganisation => ("Mutation", "createOrganisation"),
            Op::CreateIntervention => ("Mutation", "createIntervention"),
            Op::UpdateIntervention => ("Mutation", "updateIntervention"),
            Op::DeleteIntervention => ("Mutation", "deleteIntervention"),
            Op::UpsertNeed => ("Mutation", "upsertNeed"),
            Op::ReportProgress => ("Mutation", "reportProgress"),
            Op::Login => ("Mutation", "login"),
            Op::RefreshSession => ("Mutation", "refreshSession"),
            Op::Logout => ("Mutation", "logout"),
            Op::AddUser => ("Mutation", "addUser"),
            Op::SetUserRole => ("Mutation", "setUserRole"),
            Op::SetUserOrganisations => ("Mutation", "setUserOrganisations"),
            Op::SetCoordinatorScope => ("Mutation", "setCoordinatorScope"),
            Op::DeactivateUser => ("Mutation", "deactivateUser"),
            Op::CreateApiKey => ("Mutation", "createApiKey"),
            Op::RevokeApiKey => ("Mutation", "revokeApiKey"),
            Op::ReviewOverlap => ("Mutation", "reviewOverlap"),
            Op::UpsertInterventions => ("Mutation", "upsertInterventions"),
            Op::ImportIati => ("Mutation", "importIati"),
            Op::ImportHxl => ("Mutation", "importHxl"),
        }
    }

    /// Operations on one intervention run once per record.
    fn per_record(self) -> bool {
        matches!(
            self,
            Op::Interventions
                | Op::Intervention
                | Op::AuditEvents
                | Op::UpdateIntervention
                | Op::DeleteIntervention
                | Op::ReportProgress
                | Op::Overlaps
                | Op::ReviewOverlap
        )
    }

    fn records(self) -> Vec<Option<Rec>> {
        if self.per_record() {
            Rec::ALL.into_iter().map(Some).collect()
        } else {
            vec![None]
        }
    }
}

/// What a case gives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Data, as the case function checks it.
    Data,
    /// The record does not exist for the caller: null, or absent from a list and its count.
    Hidden,
    /// `false` (logout of an unknown refresh token).
    False,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Validation,
    /// Anything else, described.
    Unexpected(String),
}

// Three letters each, so the rows of the table line up in columns.
const YES: Outcome = Outcome::Data;
const HID: Outcome = Outcome::Hidden;
const FLS: Outcome = Outcome::False;
const UNA: Outcome = Outcome::Unauthenticated;
const FOR: Outcome = Outcome::Forbidden;
const NTF: Outcome = Outcome::NotFound;
const CON: Outcome = Outcome::Conflict;

/// The table: the outcome the rules give each operation, caller and record.
fn expected(op: Op, who: Who, record: Option<Rec>) -> Outcome {
    use Op::*;
    use Rec::*;
    #[rustfmt::skip]
    let row: [Outcome; 9] = match (op, record) {
        //                                                     anon vwrA edA  edB  coIn coOu admn keyR keyW
        // Reference and public reads: everyone.
        (Organisations | Organisation | Areas | Area | Sectors | Needs | Me | Gaps | Coverage | WhoWhatWhere, None)
                                                           => [YES, YES, YES, YES, YES, YES, YES, YES, YES],
        // Reading interventions: PUBLIC anyone, PARTNERS signed in, RESTRICTED A and scope.
        // A finding is seen where both sides are read; B's side is PUBLIC, so where A's is.
        (Intervention | Interventions | Overlaps, Some(Public))
                                                           => [YES, YES, YES, YES, YES, YES, YES, YES, YES],
        (Intervention | Interventions | Overlaps, Some(Partners))
                                                           => [HID, YES, YES, YES, YES, YES, YES, YES, YES],
        (Intervention | Interventions | Overlaps, Some(Restricted))
                                                           => [HID, YES, YES, HID, YES, HID, YES, YES, YES],
        // Changing A's interventions (wrong expectedVersion: CONFLICT once allowed).
        (UpdateIntervention | DeleteIntervention, Some(Public | Partners))
                                                           => [UNA, FOR, CON, FOR, FOR, FOR, CON, FOR, CON],
        (UpdateIntervention | DeleteIntervention, Some(Restricted))
                                                           => [UNA, FOR, CON, NTF, FOR, NTF, CON, FOR, CON],
        (ReportProgress, Some(Public | Partners))          => [UNA, FOR, YES, FOR, FOR, FOR, YES, FOR, YES],
        (ReportProgress, Some(Restricted))                 => [UNA, FOR, YES, NTF, FOR, NTF, YES, FOR, YES],
        (CreateIntervention, None)                         => [UNA, FOR, YES, FOR, FOR, FOR, YES, FOR, YES],
        // Bulk writes and imports of A's records: refused per record where A's may not be
        // written, as a single create is.
        (UpsertInterventions | ImportIati | ImportHxl, None)
                                                           => [UNA, FOR, YES, FOR, FOR, FOR, YES, FOR, YES],
        // Reviewing the finding of A's record and B's: among those who see it, the
        // administrator, coordinators covering either side (ET02 + WSH covers both, ET04
        // neither), A's and B's editors and read-write keys.
        (ReviewOverlap, Some(Public | Partners))           => [UNA, FOR, YES, YES, YES, FOR, YES, FOR, YES],
        (ReviewOverlap, Some(Restricted))                  => [UNA, FOR, YES, NTF, YES, NTF, YES, FOR, YES],
        // The audit trail of each record: administrators and coordinators, who see the
        // events of the interventions they may read and no others.
        (AuditEvents, Some(Public | Partners))             => [UNA, FOR, FOR, FOR, YES, YES, YES, FOR, FOR],
        (AuditEvents, Some(Restricted))                    => [UNA, FOR, FOR, FOR, YES, HID, YES, FOR, FOR],
        // Coordination: registering organisations, stating needs (ET0201, WSH).
        (CreateOrganisation, None)                         => [UNA, FOR, FOR, FOR, YES, YES, YES, FOR, FOR],
        (UpsertNeed, None)                                 => [UNA, FOR, FOR, FOR, YES, FOR, YES, FOR, FOR],
        // Users: administrators only.
        (Users | AddUser | SetUserRole | SetUserOrganisations | SetCoordinatorScope
            | DeactivateUser, None)                        => [UNA, FOR, FOR, FOR, FOR, FOR, YES, FOR, FOR],
        // A's keys: A's editors and administrators; a key one may not manage does not exist.
        (ApiKeys | CreateApiKey, None)                     => [UNA, FOR, YES, FOR, FOR, FOR, YES, FOR, FOR],
        (RevokeApiKey, None)                               => [UNA, NTF, YES, NTF, NTF, NTF, YES, NTF, NTF],
        // Sessions: the same for everyone (wrong password, garbage tokens).
        (Login | RefreshSession, None)                     => [UNA, UNA, UNA, UNA, UNA, UNA, UNA, UNA, UNA],
        (Logout, None)                                     => [FLS, FLS, FLS, FLS, FLS, FLS, FLS, FLS, FLS],
        (op, record) => panic!("the table has no row for {op:?} on {record:?}"),
    };
    let column = Who::ALL
        .iter()
        .position(|w| *w == who)
        .expect("every caller has a column");
    row[column].clone()
}

/// Turns a response into an outcome: the error code, or what `check` makes of the data.
fn observe(response: &Value, check: impl FnOnce(&Value) -> Outcome) -> Outcome {
    if response.get("errors").is_some() {
        return match error_code(response) {
            "UNAUTHENTICATED" => Outcome::Unauthenticated,
            "FORBIDDEN" => Outcome::Forbidden,
            "NOT_FOUND" => Outcome::NotFound,
            "CONFLICT" => Outcome::Conflict,
            "VALIDATION" => Outcome::Validation,
            other => Outcome::Unexpected(format!("error code {other:?}")),
        };
    }
    check(&response["data"])
}

/// Data when the check holds, else what was wrong with it.
fn data_if(holds: bool, what: &str) -> Outcome {
    if holds {
        Outcome::Data
    } else {
        Outcome::Unexpected(format!("data, but {what}"))
    }
}

fn ids(nodes: &Value) -> Vec<&str> {
    nodes
        .as_array()
        .map(|n| n.iter().filter_map(|n| n["id"].as_str()).collect())
        .unwrap_or_default()
}

/// The server, the callers and the records the whole matrix shares.
struct Matrix<'a> {
    app: &'a TestApp,
    org_a: String,
    org_b: String,
    viewer_a: String,
    editor_a: String,
    editor_b: String,
    coordinator_in: String,
    coordinator_out: String,
    key_read: String,
    key_read_id: String,
    key_write: String,
    /// (record, id)
    records: Vec<(Rec, String)>,
    /// B's PUBLIC intervention, the other side of every finding.
    record_b: String,
    /// (record of A, id of its OVERLAP finding with B's record)
    findings: Vec<(Rec, String)>,
    /// A throwaway user the user-administration cases act on.
    target_user: String,
}

impl Matrix<'_> {
    fn token(&self, who: Who) -> Option<&str> {
        Some(match who {
            Who::Anonymous => return None,
            Who::ViewerA => &self.viewer_a,
            Who::EditorA => &self.editor_a,
            Who::EditorB => &self.editor_b,
            Who::CoordinatorIn => &self.coordinator_in,
            Who::CoordinatorOut => &self.coordinator_out,
            Who::Admin => &self.app.admin,
            Who::KeyReadA => &self.key_read,
            Who::KeyWriteA => &self.key_write,
        })
    }

    fn record_id(&self, record: Rec) -> &str {
        &self
            .records
            .iter()
            .find(|(r, _)| *r == record)
            .expect("every record is created")
            .1
    }

    fn finding_id(&self, record: Rec) -> &str {
        &self
            .findings
            .iter()
            .find(|(r, _)| *r == record)
            .expect("every record has its finding")
            .1
    }

    /// The input a record was created with (and an update sends back).
    fn record_input(&self, record: Rec) -> Value {
        record_input(&self.org_a, record)
    }

    /// Sends a request as a caller. The read-only key and the tokens go as bearer
    /// credentials, the read-write key in `X-Api-Key`: both ways of presenting a key count.
    async fn send(&self, who: Who, query: &str, variables: Value) -> Value {
        match (who, self.token(who)) {
            (Who::KeyWriteA, Some(key)) => self
                .app
                .client
                .post(format!("{}/graphql", self.app.address))
                .header("X-Api-Key", key)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .expect("POST /graphql")
                .json()
                .await
                .expect("a JSON response"),
            (_, Some(token)) => self.app.gql_as(token, query, variables).await,
            (_, None) => self.app.gql(query, variables).await,
        }
    }

    /// Sends a request and observes its outcome; returns the response too, for the report.
    async fn call(
        &self,
        who: Who,
        query: &str,
        variables: Value,
        check: impl FnOnce(&Value) -> Outcome,
    ) -> (Outcome, Value) {
        let response = self.send(who, query, variables).await;
        (observe(&response, check), response)
    }

    /// A fresh user nobody else uses, as the administrator.
    async fn throwaway_user(&self, label: &str) -> String {
        let data = self
            .app
            .data_as(
                &self.app.admin,
                "mutation($input: AddUserInput!) { addUser(input: $input) { id } }",
                json!({ "input": {
                    "email": format!("throwaway-{label}@concord.test"),
                    "password": "a long enough password",
                    "role": "VIEWER",
                }}),
            )
            .await;
        data["addUser"]["id"]
            .as_str()
            .expect("a user id")
            .to_owned()
    }

    /// A fresh key of A nobody uses, as the administrator.
    async fn throwaway_key(&self, label: &str) -> String {
        create_key(self.app, &self.app.admin, &self.org_a, label, "READ")
            .await
            .1
    }
}

fn record_input(org_a: &str, record: Rec) -> Value {
    let mut input = water_input(org_a, record.external_id());
    input["locations"] = json!([{ "pcode": "ET0201", "target": 3000 }]);
    input["visibility"] = json!(record.visibility());
    input
}

/// Creates a key of an organisation; returns (secret, id).
async fn create_key(
    app: &TestApp,
    token: &str,
    org: &str,
    name: &str,
    scope: &str,
) -> (String, String) {
    let data = app
        .data_as(
            token,
            "mutation($org: ID!, $name: String!, $scope: KeyScope!) {
                createApiKey(organisationId: $org, name: $name, scope: $scope) { secret apiKey { id } }
            }",
            json!({ "org": org, "name": name, "scope": scope }),
        )
        .await;
    (
        data["createApiKey"]["secret"]
            .as_str()
            .expect("a secret")
            .to_owned(),
        data["createApiKey"]["apiKey"]["id"]
            .as_str()
            .expect("a key id")
            .to_owned(),
    )
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.data_as(token, "{ me { userId } }", json!({})).await["me"]["userId"]
        .as_str()
        .expect("a user id")
        .to_owned()
}

async fn set_scope(app: &TestApp, user: &str, area: &str) {
    app.data_as(
        &app.admin,
        "mutation($u: ID!, $a: [String!]!) { setCoordinatorScope(userId: $u, areas: $a, sectors: [\"WSH\"]) { id } }",
        json!({ "u": user, "a": [area] }),
    )
    .await;
}

async fn setup(app: &TestApp) -> Matrix<'_> {
    seed_areas(app).await;
    let org_a = create_organisation(app, "Matrix Organisation A", Some(MATRIX_IATI_A)).await;
    let org_b = create_organisation(app, "Matrix Organisation B", None).await;
    let viewer_a = app.user("viewer-a@concord.test", "VIEWER", &[&org_a]).await;
    let editor_a = app.user("editor-a@concord.test", "EDITOR", &[&org_a]).await;
    let editor_b = app.user("editor-b@concord.test", "EDITOR", &[&org_b]).await;
    let coordinator_in = app
        .user("coordinator-in@concord.test", "COORDINATOR", &[])
        .await;
    let coordinator_out = app
        .user("coordinator-out@concord.test", "COORDINATOR", &[])
        .await;
    set_scope(app, &user_id(app, &coordinator_in).await, "ET02").await;
    set_scope(app, &user_id(app, &coordinator_out).await, "ET04").await;
    let (key_read, key_read_id) = create_key(app, &editor_a, &org_a, "matrix read", "READ").await;
    let (key_write, _) =
        create_key(app, &editor_a, &org_a, "matrix read-write", "READ_WRITE").await;
    let mut records = Vec::new();
    for record in Rec::ALL {
        let created = create_intervention(app, record_input(&org_a, record)).await;
        assert_eq!(created["visibility"], record.visibility());
        let id = created["id"].as_str().expect("an id").to_owned();
        records.push((record, id));
    }
    let (record_b, findings) = create_record_b(app, &org_b, &records).await;
    let target_user = app
        .data_as(
            &app.admin,
            "mutation($input: AddUserInput!) { addUser(input: $input) { id } }",
            json!({ "input": {
                "email": "matrix-target@concord.test",
                "password": "a long enough password",
                "role": "COORDINATOR",
            }}),
        )
        .await["addUser"]["id"]
        .as_str()
        .expect("a user id")
        .to_owned();
    Matrix {
        app,
        org_a,
        org_b,
        viewer_a,
        editor_a,
        editor_b,
        coordinator_in,
        coordinator_out,
        key_read,
        key_read_id,
        key_write,
        records,
        record_b,
        findings,
        target_user,
    }
}

/// B's PUBLIC WASH intervention in ET0201, at the same time as A's records, created as the
/// administrator, who sees every finding: its payload lists one OVERLAP finding with each
/// of A's records. Returns its id and which finding pairs it with which record.
async fn create_record_b(
    app: &TestApp,
    org_b: &str,
    records: &[(Rec, String)],
) -> (String, Vec<(Rec, String)>) {
    let mut input = water_input(org_b, "matrix-b-overlapping");
    input["locations"] = json!([{ "pcode": "ET0201", "target": 2000 }]);
    input["visibility"] = json!("PUBLIC");
    let data = app
        .data_as(
            &app.admin,
            "mutation($input: InterventionInput!) {
                createIntervention(input: $input) {
                    intervention { id visibility }
                    overlaps { id kind interventionA { id } interventionB { id } }
                }
            }",
            json!({ "input": input }),
        )
        .await;
    let created = &data["createIntervention"];
    assert_eq!(created["intervention"]["visibility"], "PUBLIC");
    let record_b = created["intervention"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let overlaps = created["overlaps"].as_array().expect("the overlaps");
    assert_eq!(
        overlaps.len(),
        records.len(),
        "one finding with each of A's records: {overlaps:?}"
    );
    let mut findings = Vec::new();
    for (record, id) in records {
        let paired: Vec<&Value> = overlaps
            .iter()
            .filter(|f| {
                let (a, b) = (&f["interventionA"]["id"], &f["interventionB"]["id"]);
                (a == id.as_str() && b == record_b.as_str())
                    || (a == record_b.as_str() && b == id.as_str())
            })
            .collect();
        let [finding] = paired.as_slice() else {
            panic!("not one finding of {record:?} and B's record: {overlaps:?}");
        };
        assert_eq!(finding["kind"], "OVERLAP", "{record:?}");
        let finding = finding["id"].as_str().expect("a finding id").to_owned();
        findings.push((*record, finding));
    }
    (record_b, findings)
}

/// Fails on an operation of the schema the matrix does not know, or one it knows the
/// schema lacks.
async fn operations_match_the_schema(app: &TestApp) {
    let data = app
        .data(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut schema = BTreeSet::new();
    for (root, key) in [("Query", "queryType"), ("Mutation", "mutationType")] {
        for field in data["__schema"][key]["fields"]
            .as_array()
            .expect("the root type's fields")
        {
            let name = field["name"].as_str().expect("a field name");
            schema.insert(format!("{root}.{name}"));
        }
    }
    let known: BTreeSet<String> = Op::ALL
        .iter()
        .map(|op| {
            let (root, name) = op.field();
            format!("{root}.{name}")
        })
        .collect();
    assert_eq!(known.len(), Op::ALL.len(), "an operation is named twice");
    let unknown: Vec<_> = schema.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "the schema has operations the access matrix does not know; add them to `Op` and \
         give them a row in `expected`: {unknown:?}"
    );
    let missing: Vec<_> = known.difference(&schema).collect();
    assert!(
        missing.is_empty(),
        "the access matrix names operations the schema lacks: {missing:?}"
    );
}

async fn access_matrix(app: &TestApp) {
    operations_match_the_schema(app).await;
    let m = setup(app).await;

    let mut cases = 0usize;
    let mut failures = Vec::new();
    for op in Op::ALL {
        for who in Who::ALL {
            for record in op.records() {
                let want = expected(op, who, record);
                let (got, response) = case(&m, op, who, record).await;
                cases += 1;
                if got != want {
                    let on = record.map(|r| format!(" on {r:?}")).unwrap_or_default();
                    failures.push(format!(
                        "{} as {who}{on}: expected {want:?}, got {got:?}\n    {response}",
                        op.field().1
                    ));
                }
            }
        }
    }
    eprintln!("access matrix: {cases} cases");

    let implied: usize = Op::ALL
        .iter()
        .map(|op| Who::ALL.len() * op.records().len())
        .sum();
    assert_eq!(cases, implied, "every cell of the table runs once");
    assert_eq!(implied, 9 * (28 + 8 * 3));
    assert!(
        failures.is_empty(),
        "{} of {cases} access matrix cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing the matrix did changed the records: wrong versions changed nothing.
    for (record, id) in &m.records {
        let data = app
            .data_as(
                &app.admin,
                "query($id: ID!) { intervention(id: $id) { version visibility } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data["intervention"]["version"], 1, "{record:?}");
        assert_eq!(data["intervention"]["visibility"], record.visibility());
    }

    // Every allowed review, and only those, was recorded: the status, and one step of the
    // history per caller the table lets review.
    for (record, id) in &m.findings {
        let data = app
            .data_as(
                &app.admin,
                "query($b: ID!) {
                    overlaps(filter: { organisationId: $b }, first: 500) {
                        nodes {
                            id status reviewNote reviews { status note }
                            interventionA { id } interventionB { id }
                        }
                    }
                }",
                json!({ "b": m.org_b }),
            )
            .await;
        let nodes = data["overlaps"]["nodes"].as_array().expect("the findings");
        let finding = nodes
            .iter()
            .find(|f| f["id"] == id.as_str())
            .unwrap_or_else(|| panic!("the finding of {record:?} is listed to the administrator"));
        let sides = [
            &finding["interventionA"]["id"],
            &finding["interventionB"]["id"],
        ];
        assert!(
            sides.contains(&&json!(m.record_id(*record))) && sides.contains(&&json!(m.record_b)),
            "{record:?}: {finding}"
        );
        let reviewers = Who::ALL
            .iter()
            .filter(|who| expected(Op::ReviewOverlap, **who, Some(*record)) == YES)
            .count();
        let reviews = finding["reviews"].as_array().expect("the reviews");
        assert_eq!(reviews.len(), reviewers, "{record:?}: {finding}");
        assert!(
            reviews.iter().all(|r| r["status"] == "COMPLEMENTARY"),
            "{record:?}: {finding}"
        );
        assert_eq!(finding["status"], "COMPLEMENTARY", "{record:?}");
        assert!(
            finding["reviewNote"]
                .as_str()
                .is_some_and(|n| n.starts_with("complementary, says ")),
            "{record:?}: {finding}"
        );
    }
}

/// Runs one cell of the matrix.
async fn case(m: &Matrix<'_>, op: Op, who: Who, record: Option<Rec>) -> (Outcome, Value) {
    let rec = || record.expect("a record-level operation has a record");
    match op {
        Op::Organisations => organisations(m, who).await,
        Op::Organisation => organisation(m, who).await,
        Op::Areas => areas(m, who).await,
        Op::Area => area(m, who).await,
        Op::Sectors => sectors(m, who).await,
        Op::Gaps => gaps(m, who).await,
        Op::Coverage => coverage(m, who).await,
        Op::WhoWhatWhere => who_what_where(m, who).await,
        Op::Interventions => interventions(m, who, rec()).await,
        Op::Intervention => intervention(m, who, rec()).await,
        Op::Needs => needs(m, who).await,
        Op::Me => me(m, who).await,
        Op::Users => users(m, who).await,
        Op::ApiKeys => api_keys(m, who).await,
        Op::AuditEvents => audit_events(m, who, rec()).await,
        Op::Overlaps => overlaps(m, who, rec()).await,
        Op::CreateOrganisation => create_organisation_case(m, who).await,
        Op::CreateIntervention => create_intervention_case(m, who).await,
        Op::UpdateIntervention => update_intervention(m, who, rec()).await,
        Op::DeleteIntervention => delete_intervention(m, who, rec()).await,
        Op::UpsertNeed => upsert_need(m, who).await,
        Op::ReportProgress => report_progress(m, who, rec()).await,
        Op::Login => login(m, who).await,
        Op::RefreshSession => refresh_session(m, who).await,
        Op::Logout => logout(m, who).await,
        Op::AddUser => add_user(m, who).await,
        Op::SetUserRole => set_user_role(m, who).await,
        Op::SetUserOrganisations => set_user_organisations(m, who).await,
        Op::SetCoordinatorScope => set_coordinator_scope(m, who).await,
        Op::DeactivateUser => deactivate_user(m, who).await,
        Op::CreateApiKey => create_api_key(m, who).await,
        Op::RevokeApiKey => revoke_api_key(m, who).await,
        Op::ReviewOverlap => review_overlap(m, who, rec()).await,
        Op::UpsertInterventions => upsert_interventions(m, who).await,
        Op::ImportIati => import_iati(m, who).await,
        Op::ImportHxl => import_hxl(m, who).await,
    }
}

// Queries.

async fn organisations(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ organisations(first: 500) { totalCount nodes { id } } }",
        json!({}),
        |d| {
            let nodes = ids(&d["organisations"]["nodes"]);
            data_if(
                nodes.contains(&m.org_a.as_str()) && nodes.contains(&m.org_b.as_str()),
                "A or B is missing",
            )
        },
    )
    .await
}

async fn organisation(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "query($id: ID!) { organisation(id: $id) { id name } }",
        json!({ "id": m.org_a }),
        |d| data_if(d["organisation"]["id"] == m.org_a.as_str(), "not A"),
    )
    .await
}

async fn areas(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ areas(filter: { parent: \"ET02\" }) { totalCount nodes { pcode } } }",
        json!({}),
        |d| data_if(d["areas"]["totalCount"] == 2, "not the two zones of Afar"),
    )
    .await
}

async fn area(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ area(pcode: \"ET0201\") { pcode name parent { pcode } } }",
        json!({}),
        |d| data_if(d["area"]["name"] == "Awsi Rasu", "not Awsi Rasu"),
    )
    .await
}

async fn gaps(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ gaps(filter: { area: \"ET02\", from: \"2025-01-01\", to: \"2025-12-31\" }) { totalCount nodes { kind pcode } } }",
        json!({}),
        |d| data_if(d["gaps"]["totalCount"].is_u64(), "no gap count"),
    )
    .await
}

/// Aggregates include RESTRICTED work; callers who may not read it get them suppressed
/// (fewer than three such records in the cell): rounded, with no names from it.
async fn coverage(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ coverage(area: \"ET0201\", sector: \"WSH\", from: \"2025-01-01\", to: \"2025-12-31\") { total { interventions suppressed targeted } } }",
        json!({}),
        |d| {
            let total = &d["coverage"]["total"];
            let reads_restricted = matches!(who, Who::ViewerA | Who::EditorA | Who::CoordinatorIn | Who::Admin | Who::KeyReadA | Who::KeyWriteA);
            let reads_partners = !matches!(who, Who::Anonymous);
            // Four records in the cell: A's three and B's public one.
            let (interventions, suppressed) = match (reads_restricted, reads_partners) {
                (true, _) => (4, false),
                (false, true) => (3, true),
                (false, false) => (2, true),
            };
            data_if(
                total["interventions"] == interventions && total["suppressed"] == suppressed,
                "coverage not as the privacy rule says",
            )
        },
    )
    .await
}

async fn who_what_where(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ whoWhatWhere(area: \"ET02\", level: 2, from: \"2025-01-01\", to: \"2025-12-31\") { pcode sector { hpcCode } cell { suppressed organisations { name } } } }",
        json!({}),
        |d| {
            let wash = d["whoWhatWhere"]
                .as_array()
                .and_then(|cells| cells.iter().find(|c| c["pcode"] == "ET0201" && c["sector"]["hpcCode"] == "WSH"));
            data_if(wash.is_some(), "no WASH cell for ET0201")
        },
    )
    .await
}

async fn sectors(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ sectors(vocabulary: CLUSTER, first: 500) { totalCount nodes { hpcCode } } }",
        json!({}),
        |d| {
            let wash = d["sectors"]["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|s| s["hpcCode"] == "WSH"));
            data_if(wash, "no WASH cluster")
        },
    )
    .await
}

/// The record found by a text filter on its external id (count and node), and present in
/// the unfiltered list, whose count is what the caller sees.
async fn interventions(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.record_id(record);
    m.call(
        who,
        "query($text: String!) {
            filtered: interventions(filter: { text: $text }) { totalCount nodes { id } }
            all: interventions(first: 500) { totalCount nodes { id } pageInfo { hasNextPage } }
        }",
        json!({ "text": record.external_id() }),
        |d| {
            let filtered = ids(&d["filtered"]["nodes"]);
            let all = ids(&d["all"]["nodes"]);
            if d["all"]["totalCount"] != all.len() || d["all"]["pageInfo"]["hasNextPage"] != false {
                return Outcome::Unexpected(
                    "data, but the unfiltered count is not the records listed".into(),
                );
            }
            match (d["filtered"]["totalCount"].as_u64(), filtered.as_slice()) {
                (Some(1), [found]) if *found == id && all.contains(&id) => Outcome::Data,
                (Some(0), []) if !all.contains(&id) => Outcome::Hidden,
                _ => Outcome::Unexpected("data, but listed and counted inconsistently".into()),
            }
        },
    )
    .await
}

async fn intervention(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.record_id(record);
    m.call(
        who,
        "query($id: ID!) { intervention(id: $id) { id visibility } }",
        json!({ "id": id }),
        |d| {
            let found = &d["intervention"];
            if found.is_null() {
                Outcome::Hidden
            } else {
                data_if(
                    found["id"] == id && found["visibility"] == record.visibility(),
                    "another record",
                )
            }
        },
    )
    .await
}

async fn needs(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ needs(filter: { area: \"ET02\" }, first: 500) { totalCount nodes { pcode } } }",
        json!({}),
        |d| {
            let listed = d["needs"]["nodes"].as_array().map(Vec::len);
            data_if(
                listed.is_some() && d["needs"]["totalCount"].as_u64() == listed.map(|l| l as u64),
                "the count is not the needs listed",
            )
        },
    )
    .await
}

async fn me(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let (role, orgs): (Value, Vec<&str>) = match who {
        Who::Anonymous => (Value::Null, vec![]),
        Who::ViewerA => (json!("VIEWER"), vec![m.org_a.as_str()]),
        Who::EditorA => (json!("EDITOR"), vec![m.org_a.as_str()]),
        Who::EditorB => (json!("EDITOR"), vec![m.org_b.as_str()]),
        Who::CoordinatorIn | Who::CoordinatorOut => (json!("COORDINATOR"), vec![]),
        Who::Admin => (json!("ADMIN"), vec![]),
        Who::KeyReadA | Who::KeyWriteA => (Value::Null, vec![m.org_a.as_str()]),
    };
    let key = matches!(who, Who::KeyReadA | Who::KeyWriteA);
    m.call(
        who,
        "{ me { signedIn userId apiKeyId role organisationIds } }",
        json!({}),
        |d| {
            let me = &d["me"];
            data_if(
                me["signedIn"] == (who != Who::Anonymous)
                    && me["role"] == role
                    && me["apiKeyId"].is_string() == key
                    && me["userId"].is_string() == (who != Who::Anonymous && !key)
                    && me["organisationIds"] == json!(orgs),
                "not who called",
            )
        },
    )
    .await
}

async fn users(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "{ users(first: 500) { totalCount nodes { email } } }",
        json!({}),
        |d| {
            let admin = d["users"]["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|u| u["email"] == ADMIN_EMAIL));
            data_if(admin, "the administrator is not listed")
        },
    )
    .await
}

async fn api_keys(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "query($org: ID!) { apiKeys(organisationId: $org) { id scope organisationId } }",
        json!({ "org": m.org_a }),
        |d| {
            let listed = ids(&d["apiKeys"]);
            data_if(
                listed.contains(&m.key_read_id.as_str()),
                "A's read key is not listed",
            )
        },
    )
    .await
}

/// The events of one record. Every record has at least its creation.
async fn audit_events(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.record_id(record);
    m.call(
        who,
        "query($id: ID!) {
            auditEvents(filter: { entity: \"intervention\", entityId: $id }, first: 500) {
                totalCount nodes { entity entityId action }
            }
        }",
        json!({ "id": id }),
        |d| {
            let events = &d["auditEvents"];
            let nodes = events["nodes"].as_array().cloned().unwrap_or_default();
            let all_this = nodes
                .iter()
                .all(|e| e["entity"] == "intervention" && e["entityId"] == id);
            match events["totalCount"].as_u64() {
                Some(0) if nodes.is_empty() => Outcome::Hidden,
                Some(n) if n == nodes.len() as u64 && all_this => Outcome::Data,
                _ => Outcome::Unexpected("data, but not this record's events".into()),
            }
        },
    )
    .await
}

/// The finding of a record and B's, listed with a filter on B and without one, each with a
/// count that is the findings listed.
async fn overlaps(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.finding_id(record);
    m.call(
        who,
        "query($b: ID!) {
            filtered: overlaps(filter: { organisationId: $b }, first: 500) {
                totalCount nodes { id } pageInfo { hasNextPage }
            }
            all: overlaps(first: 500) { totalCount nodes { id } pageInfo { hasNextPage } }
        }",
        json!({ "b": m.org_b }),
        |d| {
            let mut listed = Vec::new();
            for list in [&d["filtered"], &d["all"]] {
                let nodes = ids(&list["nodes"]);
                if list["totalCount"] != nodes.len() || list["pageInfo"]["hasNextPage"] != false {
                    return Outcome::Unexpected(
                        "data, but a count is not the findings listed".into(),
                    );
                }
                listed.push(nodes.contains(&id));
            }
            match listed.as_slice() {
                [true, true] => Outcome::Data,
                [false, false] => Outcome::Hidden,
                _ => Outcome::Unexpected(
                    "data, but listed with the filter on B and without it differently".into(),
                ),
            }
        },
    )
    .await
}

// Mutations.

async fn create_organisation_case(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let name = format!("Registered by {who}");
    m.call(
        who,
        "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id name } } }",
        json!({ "input": {
            "name": name,
            "organisationType": "22",
            "level": "NATIONAL",
            "country": "ET",
        }}),
        |d| data_if(d["createOrganisation"]["organisation"]["name"] == name.as_str(), "another name"),
    )
    .await
}

async fn create_intervention_case(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($input: InterventionInput!) {
            createIntervention(input: $input) { intervention { id reportingOrganisation { id } } }
        }",
        json!({ "input": water_input(&m.org_a, &format!("matrix-created-by-{who}")) }),
        |d| {
            data_if(
                d["createIntervention"]["intervention"]["reportingOrganisation"]["id"]
                    == m.org_a.as_str(),
                "not reported by A",
            )
        },
    )
    .await
}

async fn upsert_interventions(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($items: [InterventionInput!]!) {
            upsertInterventions(items: $items) { results { status errors { code } } }
        }",
        json!({ "items": [water_input(&m.org_a, &format!("matrix-upserted-by-{who}"))] }),
        |d| {
            let result = &d["upsertInterventions"]["results"][0];
            match (
                result["status"].as_str(),
                result["errors"][0]["code"].as_str(),
            ) {
                (Some("CREATED"), _) => Outcome::Data,
                (Some("REJECTED"), Some("FORBIDDEN")) => Outcome::Forbidden,
                _ => Outcome::Unexpected(format!("item result {result}")),
            }
        },
    )
    .await
}

/// A's IATI identifier, so an IATI file can name A as its reporting organisation.
const MATRIX_IATI_A: &str = "XM-MATRIX-A";

/// An import's report as an outcome: the record written, or refused as not the caller's.
fn import_outcome(report: &Value) -> Outcome {
    let refused_as_not_ours = report["rejected"].as_array().is_some_and(|r| {
        r.iter().any(|p| {
            p["reason"]
                .as_str()
                .is_some_and(|r| r.contains("may not write"))
        })
    });
    match (report["created"].as_u64(), refused_as_not_ours) {
        (Some(1), false) => Outcome::Data,
        (Some(0), true) => Outcome::Forbidden,
        _ => Outcome::Unexpected(format!("import report {report}")),
    }
}

/// Sends a GraphQL multipart request with one file, as the caller.
async fn upload(m: &Matrix<'_>, who: Who, query: &str, name: &str, content: &[u8]) -> Value {
    let boundary = "concord-matrix-boundary";
    let operations = json!({ "query": query, "variables": { "file": null } });
    let mut body = Vec::new();
    for (part, extra, bytes) in [
        (
            "operations",
            String::new(),
            operations.to_string().into_bytes(),
        ),
        (
            "map",
            String::new(),
            br#"{ "0": ["variables.file"] }"#.to_vec(),
        ),
        ("0", format!("; filename=\"{name}\""), content.to_vec()),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut request = m
        .app
        .client
        .post(format!("{}/graphql", m.app.address))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    request = match (who, m.token(who)) {
        (Who::KeyWriteA, Some(key)) => request.header("X-Api-Key", key),
        (_, Some(token)) => request.bearer_auth(token),
        (_, None) => request,
    };
    request
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("a JSON response")
}

async fn import_iati(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="2.03" generated-datetime="2026-01-01T00:00:00Z">
 <iati-activity last-updated-datetime="2026-01-01T00:00:00Z" xml:lang="en" default-currency="USD">
  <iati-identifier>{MATRIX_IATI_A}-IMPORTED-BY-{who}</iati-identifier>
  <reporting-org ref="{MATRIX_IATI_A}" type="22"><narrative>Matrix Organisation A</narrative></reporting-org>
  <title><narrative>Water trucking imported by {who}</narrative></title>
  <description type="1"><narrative>Water for displaced families.</narrative></description>
  <participating-org ref="{MATRIX_IATI_A}" role="4" type="22"><narrative>Matrix Organisation A</narrative></participating-org>
  <activity-status code="2"/>
  <activity-date type="1" iso-date="2025-01-01"/>
  <activity-date type="3" iso-date="2025-12-31"/>
  <recipient-country code="ET" percentage="100"/>
  <sector vocabulary="1" code="14030" percentage="100"/>
 </iati-activity>
</iati-activities>
"#
    );
    let response = upload(
        m,
        who,
        "mutation($file: Upload!) { importIati(file: $file) { created rejected { reason } } }",
        "activities.xml",
        xml.as_bytes(),
    )
    .await;
    (
        observe(&response, |d| import_outcome(&d["importIati"])),
        response,
    )
}

async fn import_hxl(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let csv = format!(
        "Organisation,Sector,Admin 2,Activity,Start,End,ID\n\
         #org+impl,#sector+cluster,#adm2+code,#activity,#date+start,#date+end,#activity+id\n\
         Matrix Organisation A,WASH,ET0201,Water trucking,01/01/2025,31/12/2025,matrix-3w-by-{who}\n"
    );
    let response = upload(
        m,
        who,
        "mutation($file: Upload!) { importHxl(file: $file, country: \"ET\") { created rejected { reason } } }",
        "3w.csv",
        csv.as_bytes(),
    )
    .await;
    (
        observe(&response, |d| import_outcome(&d["importHxl"])),
        response,
    )
}

async fn update_intervention(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($id: ID!, $input: InterventionInput!) {
            updateIntervention(id: $id, expectedVersion: 999, input: $input) { intervention { id version } }
        }",
        json!({ "id": m.record_id(record), "input": m.record_input(record) }),
        |_| Outcome::Unexpected("updated despite a wrong expectedVersion".into()),
    )
    .await
}

async fn delete_intervention(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($id: ID!) { deleteIntervention(id: $id, expectedVersion: 999) { deletedId } }",
        json!({ "id": m.record_id(record) }),
        |_| Outcome::Unexpected("deleted despite a wrong expectedVersion".into()),
    )
    .await
}

async fn upsert_need(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($input: NeedInput!) { upsertNeed(input: $input) { need { id pcode sector { hpcCode } } } }",
        json!({ "input": {
            "pcode": "ET0201",
            "sector": "WSH",
            "periodStart": "2025-01-01",
            "periodEnd": "2025-12-31",
            "peopleInNeed": 12000,
            "source": format!("stated by {who}"),
        }}),
        |d| {
            let need = &d["upsertNeed"]["need"];
            data_if(
                need["pcode"] == "ET0201" && need["sector"]["hpcCode"] == "WSH",
                "another need",
            )
        },
    )
    .await
}

async fn report_progress(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.record_id(record);
    m.call(
        who,
        "mutation($input: ReportProgressInput!) {
            reportProgress(input: $input) { progressReport { id interventionId } }
        }",
        json!({ "input": {
            "interventionId": id,
            "periodStart": "2025-01-01",
            "periodEnd": "2025-01-31",
            "reached": { "total": 250 },
            "note": format!("reported by {who}"),
        }}),
        |d| {
            data_if(
                d["reportProgress"]["progressReport"]["interventionId"] == id,
                "progress of another record",
            )
        },
    )
    .await
}

async fn login(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($e: String!) { login(email: $e, password: \"not the password at all\") { accessToken } }",
        json!({ "e": ADMIN_EMAIL }),
        |_| Outcome::Unexpected("signed in with a wrong password".into()),
    )
    .await
}

async fn refresh_session(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation { refreshSession(refreshToken: \"crt_garbage\") { accessToken } }",
        json!({}),
        |_| Outcome::Unexpected("a session from a garbage refresh token".into()),
    )
    .await
}

async fn logout(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation { logout(refreshToken: \"crt_garbage\") }",
        json!({}),
        |d| match d["logout"].as_bool() {
            Some(false) => Outcome::False,
            _ => Outcome::Unexpected("a garbage refresh token ended a session".into()),
        },
    )
    .await
}

async fn add_user(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let email = format!("added-by-{who}@concord.test");
    m.call(
        who,
        "mutation($input: AddUserInput!) { addUser(input: $input) { id email role } }",
        json!({ "input": { "email": email, "password": "a long enough password", "role": "VIEWER" } }),
        |d| data_if(d["addUser"]["email"] == email.as_str(), "another user"),
    )
    .await
}

async fn set_user_role(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($u: ID!) { setUserRole(userId: $u, role: COORDINATOR) { id role } }",
        json!({ "u": m.target_user }),
        |d| data_if(d["setUserRole"]["role"] == "COORDINATOR", "another role"),
    )
    .await
}

async fn set_user_organisations(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($u: ID!, $o: [ID!]!) { setUserOrganisations(userId: $u, organisationIds: $o) { id organisations { id } } }",
        json!({ "u": m.target_user, "o": [m.org_b] }),
        |d| {
            data_if(
                ids(&d["setUserOrganisations"]["organisations"]) == [m.org_b.as_str()],
                "other organisations",
            )
        },
    )
    .await
}

async fn set_coordinator_scope(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($u: ID!) { setCoordinatorScope(userId: $u, areas: [\"ET04\"], sectors: [\"WSH\"]) { id scopeAreas } }",
        json!({ "u": m.target_user }),
        |d| data_if(d["setCoordinatorScope"]["scopeAreas"] == json!(["ET04"]), "another scope"),
    )
    .await
}

async fn deactivate_user(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let user = m.throwaway_user(&format!("deactivated-by-{who}")).await;
    m.call(
        who,
        "mutation($u: ID!) { deactivateUser(userId: $u) { id active } }",
        json!({ "u": user }),
        |d| {
            data_if(
                d["deactivateUser"]["id"] == user.as_str()
                    && d["deactivateUser"]["active"] == false,
                "still active",
            )
        },
    )
    .await
}

async fn create_api_key(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    m.call(
        who,
        "mutation($org: ID!, $name: String!) {
            createApiKey(organisationId: $org, name: $name, scope: READ) { secret apiKey { id organisationId } }
        }",
        json!({ "org": m.org_a, "name": format!("created by {who}") }),
        |d| {
            let created = &d["createApiKey"];
            data_if(
                created["secret"].as_str().is_some_and(|s| s.starts_with("ck_"))
                    && created["apiKey"]["organisationId"] == m.org_a.as_str(),
                "not a key of A",
            )
        },
    )
    .await
}

async fn revoke_api_key(m: &Matrix<'_>, who: Who) -> (Outcome, Value) {
    let key = m.throwaway_key(&format!("revoked by {who}")).await;
    m.call(
        who,
        "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }",
        json!({ "id": key }),
        |d| {
            data_if(
                d["revokeApiKey"]["id"] == key.as_str()
                    && d["revokeApiKey"]["revokedAt"].is_string(),
                "not revoked",
            )
        },
    )
    .await
}

/// Says the finding of a record and B's is complementary work (again, for later callers).
async fn review_overlap(m: &Matrix<'_>, who: Who, record: Rec) -> (Outcome, Value) {
    let id = m.finding_id(record);
    let note = format!("complementary, says {who}");
    m.call(
        who,
        "mutation($id: ID!, $note: String) {
            reviewOverlap(id: $id, status: COMPLEMENTARY, note: $note) { id status reviewNote }
        }",
        json!({ "id": id, "note": note }),
        |d| {
            let reviewed = &d["reviewOverlap"];
            data_if(
                reviewed["id"] == id
                    && reviewed["status"] == "COMPLEMENTARY"
                    && reviewed["reviewNote"] == note.as_str(),
                "not this finding as reviewed",
            )
        },
    )
    .await
}

crate::on_both_backends!(access_matrix);
