//! Test harness for black-box tests: starts the real `concord` binary on a free port with a
//! fresh database (a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! when `CONCORD_TEST_POSTGRES_URL` is set) and talks GraphQL to it over HTTP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server to create test databases on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("CONCORD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The shared third-party data (`../shared/data` beside the workspace), if present.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(relative);
    path.exists().then_some(path)
}

/// The `concord` binary built alongside the tests.
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("CONCORD_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/concord
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    profile_dir.join(format!("concord{}", std::env::consts::EXE_SUFFIX))
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database for one test.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("concord.db").display());
                Some(TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let server = postgres_url()?;
                let name = format!(
                    "concord_test_{}_{}",
                    std::process::id(),
                    DATABASES.fetch_add(1, Ordering::SeqCst)
                );
                let admin = Database::connect(&server)
                    .await
                    .expect("connect to the test PostgreSQL server");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a test database");
                admin.close().await.ok();
                let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
                Some(TestDatabase {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((server, name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL test database; SQLite files go with their directory.
    pub async fn drop_database(&mut self) {
        if let Some((server, name)) = self.postgres.take()
            && let Ok(admin) = Database::connect(&server).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// Runs `write` while making PostgreSQL roll its first attempt back to break a deadlock,
/// on purpose: another session holds the audit table, the write inserts its intervention
/// and waits for that table, then the other session asks for the intervention table. The
/// other session waits 60 s before looking for deadlocks, the write 1 s, so it is always
/// the write that is rolled back. `write` must not write an audit event before its first
/// intervention.
pub async fn through_a_deadlock<T>(
    database_url: &str,
    write: impl std::future::Future<Output = T>,
) -> T {
    use sea_orm::{DbBackend, Statement, TransactionTrait};

    let other = Database::connect(database_url).await.unwrap();
    let holder = other.begin().await.unwrap();
    holder
        .execute_unprepared(
            "SET LOCAL deadlock_timeout = '60s'; LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE",
        )
        .await
        .unwrap();
    let waiting = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE NOT l.granted AND c.relname = 'audit_event'",
    );
    let deadlock = async {
        let mut blocked = false;
        for _ in 0..400 {
            let row = other.query_one_raw(waiting.clone()).await.unwrap().unwrap();
            if row.try_get::<i64>("", "n").unwrap() > 0 {
                blocked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(blocked, "the write never waited for the audit table");
        // Granted only once the write's first attempt is rolled back.
        holder
            .execute_unprepared("LOCK TABLE intervention IN SHARE MODE")
            .await
            .unwrap();
        holder.commit().await.unwrap();
    };
    let (outcome, ()) = tokio::join!(write, deadlock);
    other.close().await.unwrap();
    outcome
}

/// Runs `concord` with arguments against a database and returns (success, stdout, stderr).
pub async fn run_cli(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .env("CONCORD_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run concord");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The administrator every test server starts with.
pub const ADMIN_EMAIL: &str = "admin@concord.test";
pub const ADMIN_PASSWORD: &str = "a long admin password";

/// A running server and its database.
pub struct TestApp {
    pub address: String,
    pub database: TestDatabase,
    pub client: reqwest::Client,
    /// An access token of the administrator.
    pub admin: String,
    child: Child,
    data_dir: std::sync::Arc<tempfile::TempDir>,
}

impl TestApp {
    /// Asks until `done` holds: a CLI import reaches a PostgreSQL server's gap index and
    /// response cache by notification, a moment later; on SQLite the next question must
    /// already see it.
    pub async fn settled<T>(
        &self,
        mut ask: impl AsyncFnMut() -> T,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let postgres = self.database.url.starts_with("postgres");
        let mut answer = ask().await;
        for _ in 0..100 {
            if !postgres || done(&answer) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = ask().await;
        }
        answer
    }

    /// Starts `concord serve` on a free port with a fresh database; None when the backend
    /// is not configured here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts a server with extra environment variables (configuration under test).
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
        let database = TestDatabase::new(backend).await?;
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut command = Command::new(binary());
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database-pool", "4"])
            .env("CONCORD_DATA_DIR", data_dir.path());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .env("CONCORD_DATABASE_URL", &database.url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start concord serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("concord listening on ") {
                    return Some(address.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("concord serve printed its address");
        let mut app = TestApp {
            address,
            database,
            client: reqwest::Client::new(),
            admin: String::new(),
            child,
            data_dir: std::sync::Arc::new(data_dir),
        };
        let output = Command::new(binary())
            .args(["user", "add", "--email", ADMIN_EMAIL, "--role", "ADMIN"])
            .env("CONCORD_DATABASE_URL", &app.database.url)
            .env("CONCORD_USER_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("run concord user add");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        app.admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        Some(app)
    }

    /// Starts a second server process on the same database and data directory, as a
    /// replica behind a load balancer would run. Its database is this one's: dropping it is
    /// the first app's job.
    pub async fn replica(&self) -> TestApp {
        let mut child = Command::new(binary())
            .args(["serve", "--bind", "127.0.0.1:0", "--database-pool", "4"])
            .env("CONCORD_DATA_DIR", self.data_dir.path())
            .env("CONCORD_DATABASE_URL", &self.database.url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start a replica");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("concord listening on ") {
                    return Some(address.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the replica printed its address");
        TestApp {
            address,
            database: TestDatabase {
                url: self.database.url.clone(),
                _dir: None,
                postgres: None,
            },
            client: reqwest::Client::new(),
            admin: self.admin.clone(),
            child,
            data_dir: self.data_dir.clone(),
        }
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let data = self
            .data(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        data["login"]["accessToken"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Adds a user through the API as the administrator, and signs them in.
    pub async fn user(&self, email: &str, role: &str, organisations: &[&str]) -> String {
        let password = "a long enough password";
        self.data_as(
            &self.admin,
            "mutation($input: AddUserInput!) { addUser(input: $input) { id } }",
            json!({ "input": { "email": email, "password": password, "role": role, "organisationIds": organisations } }),
        )
        .await;
        self.login(email, password).await
    }

    /// Sends an anonymous GraphQL request and returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.request(None, query, variables).await.1
    }

    /// Sends a GraphQL request with a bearer token (an access token or an API key).
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.request(Some(token), query, variables).await.1
    }

    /// Sends a GraphQL request and returns the HTTP status with the JSON body.
    pub async fn request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON response"))
    }

    /// Sends an anonymous GraphQL request that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.gql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// Sends a GraphQL request with a token that must succeed and returns its `data`.
    pub async fn data_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.gql_as(token, query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// The server's Prometheus metrics, as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Runs a CLI command against this server's database.
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        run_cli(&self.database.url, args).await
    }

    /// Stops the server with SIGTERM and waits for it, then drops the database.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        self.database.drop_database().await;
    }
}

/// The `extensions.code` of the first error of a response.
/// The value of one series (name and labels exactly as exported) in metrics text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// The field paths named by a VALIDATION error.
pub fn error_fields(response: &Value) -> Vec<String> {
    response["errors"][0]["extensions"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
