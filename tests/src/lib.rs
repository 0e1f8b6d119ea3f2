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

/// Runs `concord` with arguments against a database and returns (success, stdout, stderr).
pub async fn run_cli(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
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

/// A running server and its database.
pub struct TestApp {
    pub address: String,
    pub database: TestDatabase,
    pub client: reqwest::Client,
    child: Child,
}

impl TestApp {
    /// Starts `concord serve` on a free port with a fresh database; None when the backend
    /// is not configured here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let database = TestDatabase::new(backend).await?;
        let mut child = Command::new(binary())
            .args(["serve", "--bind", "127.0.0.1:0", "--database-pool", "4"])
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
        Some(TestApp {
            address,
            database,
            client: reqwest::Client::new(),
            child,
        })
    }

    /// Sends a GraphQL request and returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.expect("a JSON response")
    }

    /// Sends a GraphQL request that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.gql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
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
