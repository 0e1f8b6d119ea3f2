//! Operations: readiness that follows the database, Prometheus metrics, JSON logs with
//! request ids, CORS, the graceful drain, the shutdown and statement timeouts. Tests that
//! stop a database run a PostgreSQL cluster of their own on a free port; tests that hold a
//! lock use a fresh database on the shared test server.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord_e2e::{Backend, TestApp, TestDatabase, binary, metric_value};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A `concord serve` started by these tests with the environment they need, its standard
/// error kept for the log assertions.
struct Server {
    address: String,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl Server {
    async fn spawn(database_url: &str, env: &[(&str, &str)]) -> Server {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut command = Command::new(binary());
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database-pool", "4"])
            .env("CONCORD_DATA_DIR", data_dir.path())
            .env("CONCORD_DATABASE_URL", database_url)
            .env("RUST_LOG", "warn");
        // After the defaults: the configuration under test wins.
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start concord serve");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut errors = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let kept = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                eprintln!("concord: {line}");
                kept.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
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
        .unwrap_or_else(|| {
            panic!(
                "concord serve printed no address; stderr:\n{}",
                stderr.lock().unwrap().join("\n")
            )
        });
        Server {
            address,
            child,
            stderr,
            client: reqwest::Client::new(),
            _data_dir: data_dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn readyz(&self) -> (u16, Value) {
        match self
            .client
            .get(self.url("/readyz"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(e) => panic!("GET /readyz failed: {e}"),
        }
    }

    /// Polls /readyz until it answers `status`.
    async fn wait_ready_status(&self, status: u16, within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (got, body) = self.readyz().await;
            if got == status {
                return body;
            }
            assert!(
                started.elapsed() < within,
                "/readyz still answered {got} ({body}) after {within:?}, expected {status}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn terminate(&self) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server did not exit within {within:?}"))
            .expect("wait for the server")
    }

    fn logs(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

/// The `organisations { totalCount }` query, which reads the `organisation` table.
async fn count_organisations(client: reqwest::Client, address: String) -> reqwest::Result<Value> {
    client
        .post(format!("{address}/graphql"))
        .json(&json!({ "query": "query CountOrganisations { organisations { totalCount } }" }))
        .send()
        .await?
        .json()
        .await
}

// ---------------------------------------------------------------------------------------
// A PostgreSQL cluster of the test's own, to stop and start under a running server.

struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// initdb refuses to run as root: then every cluster command runs as `postgres`.
    as_postgres: bool,
}

/// The newest PostgreSQL server binaries of the Debian layout, or those on the PATH.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn id_of(flag: &str) -> Result<u32, String> {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .await
        .map_err(|e| format!("cannot run id: {e}"))?;
    if !output.status.success() {
        return Err("there is no postgres user to run the cluster as".to_owned());
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("id {flag} postgres: {e}"))
}

impl Cluster {
    /// Creates and starts a cluster with trust authentication, listening on 127.0.0.1 on a
    /// free port and on a socket in its own directory; Err says why it could not.
    async fn start_new() -> Result<Cluster, String> {
        let bin = postgres_bin().ok_or("no initdb/pg_ctl (Debian: /usr/lib/postgresql/*/bin)")?;
        let euid = Command::new("id")
            .arg("-u")
            .output()
            .await
            .map_err(|e| format!("cannot run id: {e}"))?;
        let as_postgres = String::from_utf8_lossy(&euid.stdout).trim() == "0";
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if as_postgres {
            let (uid, gid) = (id_of("-u").await?, id_of("-g").await?);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("cannot hand the cluster directory to postgres: {e}"))?;
        }
        let cluster = Cluster {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        let data = cluster.data();
        let output = cluster
            .command("initdb")
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"])
            .output()
            .await
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !output.status.success() {
            return Err(format!("initdb failed: {}", output_text(&output)));
        }
        cluster.start().await?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.stdin(Stdio::null()).kill_on_drop(false);
        command
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let output = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
            ])
            .args(["-w", "-t", "60"])
            .args(args)
            .output()
            .await
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {args:?} failed: {}\n{}",
                output_text(&output),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    async fn start(&self) -> Result<(), String> {
        self.pg_ctl(&["start"]).await
    }

    /// A fast stop: open connections are cut, as when a database host goes away.
    async fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["-m", "fast", "stop"]).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        };
        let _ = command
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn readyz_follows_the_database_without_a_restart() {
    let cluster = match Cluster::start_new().await {
        Ok(cluster) => cluster,
        Err(reason) if !in_ci() => {
            eprintln!("skipped: cannot run a PostgreSQL cluster of the test's own: {reason}");
            return;
        }
        Err(reason) => panic!("CI must run this test: {reason}"),
    };
    // A short wait for a connection, so a question asked while the database is down is
    // answered soon.
    let mut server = Server::spawn(
        &cluster.url(),
        &[("CONCORD_DATABASE_ACQUIRE_TIMEOUT", "2s")],
    )
    .await;
    let body = server.wait_ready_status(200, Duration::from_secs(10)).await;
    assert_eq!(body["ready"], true);

    cluster.stop().await.expect("stop the cluster");
    let body = server.wait_ready_status(503, Duration::from_secs(20)).await;
    assert_eq!(body["ready"], false);
    // A question meanwhile is told to come back, not that the server failed.
    let answer = count_organisations(server.client.clone(), server.address.clone())
        .await
        .expect("a GraphQL answer");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{answer}"
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["retryAfter"], 1,
        "{answer}"
    );
    assert!(answer["data"].is_null(), "{answer}");
    // The process is alive; only readiness follows the database.
    let healthz = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);

    cluster.start().await.expect("start the cluster again");
    let body = server.wait_ready_status(200, Duration::from_secs(30)).await;
    assert_eq!(body["ready"], true);
    let answer = count_organisations(server.client.clone(), server.address.clone())
        .await
        .expect("a GraphQL answer");
    assert_eq!(answer["data"]["organisations"]["totalCount"], 0, "{answer}");

    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).await.success());
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_count_and_time_named_operations() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    for _ in 0..2 {
        let response = count_organisations(app.client.clone(), app.address.clone())
            .await
            .unwrap();
        assert!(response.get("errors").is_none(), "{response}");
    }
    // A document that does not parse never reaches execution.
    app.gql("{ organisations { totalCount ", json!({})).await;
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let counted = |series: &str| {
        metric_value(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(
        counted(r#"concord_graphql_requests_total{operation="CountOrganisations",outcome="ok"}"#),
        2.0
    );
    assert_eq!(
        counted(
            r#"concord_graphql_request_duration_seconds_count{operation="CountOrganisations"}"#
        ),
        2.0
    );
    assert!(
        counted(
            r#"concord_graphql_request_duration_seconds_bucket{operation="CountOrganisations",le="+Inf"}"#
        ) == 2.0
    );
    assert!(
        counted(r#"concord_graphql_request_duration_seconds_sum{operation="CountOrganisations"}"#)
            > 0.0
    );
    // The harness signs the administrator in with an unnamed mutation.
    assert!(
        counted(r#"concord_graphql_requests_total{operation="anonymous",outcome="ok"}"#) >= 1.0
    );
    assert_eq!(
        counted(r#"concord_graphql_requests_total{operation="invalid",outcome="error"}"#),
        1.0
    );
    assert!(
        counted(r#"concord_http_requests_total{method="POST",route="/graphql",status="200"}"#)
            >= 3.0
    );
    assert!(text.contains(
        r#"concord_http_request_duration_seconds_bucket{method="POST",route="/graphql",le="0.1"}"#
    ));
    assert!(counted(r#"concord_db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(counted(r#"concord_db_pool_connections{state="in_use"}"#) >= 0.0);
    assert_eq!(counted("concord_db_pool_max_connections"), 4.0);
    app.stop().await;
}

#[tokio::test]
async fn production_logs_are_json_lines_carrying_the_request_id() {
    let database = TestDatabase::new(Backend::Sqlite).await.unwrap();
    let mut server = Server::spawn(
        &database.url,
        &[("CONCORD_ENV", "production"), ("RUST_LOG", "info")],
    )
    .await;
    let given = "e2e-log-check-7f3a";
    let response = server
        .client
        .post(server.url("/graphql"))
        .header("x-request-id", given)
        .json(&json!({ "query": "{ organisations { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], given);
    // Without one, the server makes one up and returns it.
    let response = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    // One that could not be logged as is gets replaced.
    let response = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "not a plain id")
        .send()
        .await
        .unwrap();
    let replaced = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(replaced, "not a plain id");
    assert_eq!(replaced.len(), 36);

    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).await.success());
    // The reader may still hold the last lines.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines: Vec<Value> = server
        .logs()
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request = |id: &str| {
        lines
            .iter()
            .find(|l| l["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no log line of request {id} in {lines:#?}"))
            .clone()
    };
    let line = of_request(given);
    assert_eq!(line["message"], "finished processing request");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["status"], 200);
    assert_eq!(line["span"]["path"], "/graphql");
    assert!(line["timestamp"].is_string());
    assert_eq!(of_request(&generated)["span"]["path"], "/healthz");
    assert!(lines.iter().any(|l| l["message"] == "serving"));
}

#[tokio::test]
async fn cors_headers_only_for_allowed_origins() {
    let allowed = "https://app.example.org";
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CONCORD_CORS_ORIGINS", allowed)])
        .await
        .unwrap();
    let post = |origin: &'static str| {
        app.client
            .post(format!("{}/graphql", app.address))
            .header("origin", origin)
            .json(&json!({ "query": "{ organisations { totalCount } }" }))
            .send()
    };
    let response = post(allowed).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
    assert!(
        response.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    let response = post("https://elsewhere.example.com").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // A browser's preflight before a signed-in POST.
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let response = preflight(allowed).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    let response = preflight("https://elsewhere.example.com").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;

    // By default no origin is allowed: no CORS headers at all.
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", allowed)
        .json(&json!({ "query": "{ organisations { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// A request held in flight deterministically: another connection locks the table it reads.

struct Locked {
    database: TestDatabase,
    holder: DatabaseConnection,
}

/// A fresh database on the shared test server, migrated by a first server start; None when
/// no test server is configured.
async fn postgres_database() -> Option<TestDatabase> {
    let database = TestDatabase::new(Backend::Postgres).await;
    if database.is_none() {
        eprintln!("skipped: CONCORD_TEST_POSTGRES_URL is not set");
    }
    database
}

impl Locked {
    async fn new(database: TestDatabase) -> Locked {
        let holder = Database::connect(&database.url).await.expect("connect");
        Locked { database, holder }
    }

    /// Locks `organisation` in a transaction until it is committed.
    async fn lock(&self) -> sea_orm::DatabaseTransaction {
        let txn = self.holder.begin().await.expect("begin");
        txn.execute_unprepared("LOCK TABLE organisation IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the organisation table");
        txn
    }

    /// Waits until a query of the server waits on the lock.
    async fn wait_for_blocked_query(&self) {
        let started = Instant::now();
        loop {
            let row = self
                .holder
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT count(*)::bigint AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .expect("read pg_stat_activity")
                .expect("a row");
            let waiting: i64 = row.try_get("", "n").expect("a count");
            if waiting > 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no query of the server waited on the lock"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn drop_database(mut self) {
        let _ = self.holder.close().await;
        self.database.drop_database().await;
    }
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let mut server = Server::spawn(&database.url, &[]).await;
    let locked = Locked::new(database).await;
    let txn = locked.lock().await;
    let request = tokio::spawn(count_organisations(
        server.client.clone(),
        server.address.clone(),
    ));
    locked.wait_for_blocked_query().await;

    server.terminate();
    // The server drains: it waits for the request, which waits for the lock.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited with a request in flight"
    );
    txn.commit().await.expect("release the lock");

    let answer = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(answer["data"]["organisations"]["totalCount"], 0, "{answer}");
    assert!(server.wait_exit(Duration::from_secs(20)).await.success());
    locked.drop_database().await;
}

#[tokio::test]
async fn the_shutdown_timeout_bounds_the_drain() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let mut server = Server::spawn(
        &database.url,
        &[
            ("CONCORD_SHUTDOWN_TIMEOUT", "1s"),
            ("CONCORD_STATEMENT_TIMEOUT", "60s"),
        ],
    )
    .await;
    let locked = Locked::new(database).await;
    let txn = locked.lock().await;
    let request = tokio::spawn(count_organisations(
        server.client.clone(),
        server.address.clone(),
    ));
    locked.wait_for_blocked_query().await;

    let started = Instant::now();
    server.terminate();
    // The lock is still held: only the timeout can end the drain.
    let status = server.wait_exit(Duration::from_secs(15)).await;
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(took >= Duration::from_millis(900), "exited after {took:?}");
    assert!(
        request.await.unwrap().is_err(),
        "the cut request got an answer"
    );
    txn.commit().await.expect("release the lock");
    locked.drop_database().await;
}

#[tokio::test]
async fn the_statement_timeout_ends_a_stuck_query() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let mut server = Server::spawn(&database.url, &[("CONCORD_STATEMENT_TIMEOUT", "500ms")]).await;
    let locked = Locked::new(database).await;
    let txn = locked.lock().await;
    let started = Instant::now();
    let answer = count_organisations(server.client.clone(), server.address.clone())
        .await
        .expect("an answer");
    let took = started.elapsed();
    // Answered while the lock is still held: PostgreSQL cancelled the statement.
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "TIMEOUT",
        "{answer}"
    );
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("statement timeout") && !m.contains("canceling")),
        "{answer}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    txn.commit().await.expect("release the lock");
    let answer = count_organisations(server.client.clone(), server.address.clone())
        .await
        .expect("an answer");
    assert_eq!(answer["data"]["organisations"]["totalCount"], 0, "{answer}");
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(20)).await.success());
    locked.drop_database().await;
}
