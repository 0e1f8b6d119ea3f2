//! Operations settings of `concord serve`, read once at start-up from flags or `CONCORD_*`
//! variables: the database pool and its timeouts, CORS, the shutdown drain; and the
//! logging set-up every command shares (JSON lines when `CONCORD_ENV=production`).

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::{HeaderName, HeaderValue, Method};
use clap::Args;
use concord_store::{PoolSettings, Store};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The header of a request's id, set by the API's router.
const REQUEST_ID: &str = "x-request-id";

#[derive(Args, Debug, Clone)]
pub struct OpsArgs {
    /// Connections the pool keeps open even when idle (the largest number is
    /// `--database-pool`).
    #[arg(long, env = "CONCORD_DATABASE_MIN_CONNECTIONS", default_value_t = 0)]
    pub database_min_connections: u32,

    /// How long opening a database connection may take (`500ms`, `5s`, `1m`).
    #[arg(long, env = "CONCORD_DATABASE_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_connect_timeout: Duration,

    /// How long a request waits for a free pooled connection before it fails.
    #[arg(long, env = "CONCORD_DATABASE_ACQUIRE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub database_acquire_timeout: Duration,

    /// Idle connections above the minimum are closed after this long; `0` keeps them.
    #[arg(long, env = "CONCORD_DATABASE_IDLE_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub database_idle_timeout: Duration,

    /// PostgreSQL `statement_timeout` of every serving connection; `0` leaves the server's
    /// own. Migrations at start-up run without it.
    #[arg(long, env = "CONCORD_STATEMENT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub statement_timeout: Duration,

    /// Browser origins allowed to call the API across origins: `*`, or a comma-separated
    /// list such as `https://app.example.org,https://dashboard.example.org`. Empty (the
    /// default) sends no CORS headers.
    #[arg(long, env = "CONCORD_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,

    /// After SIGTERM or SIGINT, how long in-flight requests may take to finish before the
    /// connections still open are closed.
    #[arg(long, env = "CONCORD_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

/// `0`, a number of seconds, or a number with `ms`, `s`, `m` or `h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 10s or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit `{other}` (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

fn non_zero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

impl OpsArgs {
    pub fn pool_settings(&self, max_connections: u32) -> PoolSettings {
        PoolSettings {
            max_connections,
            min_connections: self.database_min_connections.min(max_connections),
            connect_timeout: self.database_connect_timeout,
            acquire_timeout: self.database_acquire_timeout,
            idle_timeout: non_zero(self.database_idle_timeout),
            statement_timeout: non_zero(self.statement_timeout),
        }
    }

    /// The serving pool (migrations are applied before, on a connection of their own).
    pub async fn connect(&self, url: &str, max_connections: u32) -> anyhow::Result<Store> {
        Store::connect_with(url, &self.pool_settings(max_connections))
            .await
            .with_context(|| format!("cannot open the database at {}", crate::redact(url)))
    }

    /// The CORS layer, or None when no origin is allowed (no CORS headers at all). Checked
    /// at start-up: an origin a browser never sends would silently refuse every call.
    pub fn cors_layer(&self) -> anyhow::Result<Option<CorsLayer>> {
        let origins: Vec<&str> = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return Ok(None);
        }
        let allow = if origins == ["*"] {
            AllowOrigin::any()
        } else {
            let mut list = Vec::with_capacity(origins.len());
            for origin in origins {
                let Some((scheme, rest)) = origin.split_once("://") else {
                    bail!("CORS origin `{origin}` must be written scheme://host[:port]");
                };
                if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') {
                    bail!(
                        "CORS origin `{origin}` must be `*` alone or http(s)://host[:port], without a path"
                    );
                }
                list.push(
                    HeaderValue::from_str(origin)
                        .with_context(|| format!("CORS origin `{origin}` is not a header value"))?,
                );
            }
            AllowOrigin::list(list)
        };
        Ok(Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    HeaderName::from_static("idempotency-key"),
                    HeaderName::from_static(REQUEST_ID),
                ])
                // Browsers hide response headers from scripts unless listed: the id is
                // what a user quotes when reporting an error.
                .expose_headers([HeaderName::from_static(REQUEST_ID)])
                .max_age(Duration::from_secs(3600)),
        ))
    }
}

/// Whether `serve --env production` or `CONCORD_ENV=production` was given. Logging starts
/// before any command's arguments are read, for every command, so it looks for itself;
/// the flag wins over the variable, as in clap.
fn production(args: impl IntoIterator<Item = String>, variable: Option<String>) -> bool {
    let is_production = |v: &str| v.trim().eq_ignore_ascii_case("production");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--env" {
            return args.next().is_some_and(|v| is_production(&v));
        }
        if let Some(value) = arg.strip_prefix("--env=") {
            return is_production(value);
        }
    }
    variable.is_some_and(|v| is_production(&v))
}

/// Logs go to standard error: plain text, or JSON lines in production so that a log
/// pipeline reads fields (the request id among them) without parsing text.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into());
    if production(std::env::args().skip(1), std::env::var("CONCORD_ENV").ok()) {
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}

/// Splits a shutdown signal in two: the future `with_graceful_shutdown` waits on, and a
/// deadline that passes `drain` after the signal. Racing the server against the deadline
/// bounds how long a slow request or an open WebSocket can hold the process.
pub fn drain(
    signal: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (fired, mut watch) = tokio::sync::watch::channel(false);
    let signal = async move {
        signal.await;
        let _ = fired.send(true);
    };
    let deadline = async move {
        if watch.wait_for(|fired| *fired).await.is_err() {
            // The server stopped on its own: no deadline.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain).await;
    };
    (signal, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ops: OpsArgs,
    }

    fn ops(args: &[&str]) -> OpsArgs {
        let mut all = vec!["concord"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("valid arguments").ops
    }

    #[test]
    fn production_from_the_flag_or_the_variable() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let prod = Some("production".to_owned());
        assert!(production(args(&["serve"]), prod.clone()));
        assert!(production(args(&["serve", "--env", "Production"]), None));
        assert!(production(args(&["serve", "--env=production"]), None));
        assert!(!production(args(&["serve", "--env", "development"]), prod));
        assert!(!production(
            args(&["serve"]),
            Some("development".to_owned())
        ));
        assert!(!production(args(&["serve"]), None));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn defaults_and_zero_disables() {
        let settings = ops(&[]).pool_settings(10);
        assert_eq!(settings.statement_timeout, Some(Duration::from_secs(10)));
        assert_eq!(settings.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(settings.min_connections, 0);
        let settings = ops(&[
            "--statement-timeout",
            "0",
            "--database-min-connections",
            "50",
        ])
        .pool_settings(10);
        assert_eq!(settings.statement_timeout, None);
        assert_eq!(settings.min_connections, 10);
    }

    #[test]
    fn cors_origins_are_checked() {
        assert!(ops(&[]).cors_layer().unwrap().is_none());
        assert!(
            ops(&["--cors-origins", "*"])
                .cors_layer()
                .unwrap()
                .is_some()
        );
        assert!(
            ops(&[
                "--cors-origins",
                "https://a.example.org, http://localhost:3000"
            ])
            .cors_layer()
            .unwrap()
            .is_some()
        );
        assert!(
            ops(&["--cors-origins", "https://a.example.org/"])
                .cors_layer()
                .is_err()
        );
        assert!(
            ops(&["--cors-origins", "a.example.org"])
                .cors_layer()
                .is_err()
        );
        assert!(
            ops(&["--cors-origins", "*,https://a.example.org"])
                .cors_layer()
                .is_err()
        );
    }
}
