//! Limits and abuse settings of `concord serve`, from flags or `CONCORD_*` variables, turned
//! into the API's `ApiLimits`. The defaults are the API's own, so a bare `concord serve`
//! and an embedded router behave alike.

use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use concord_api::limits::{
    DEFAULT_MAX_ALIASES, DEFAULT_MAX_BATCH, DEFAULT_MAX_COMPLEXITY, DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DIRECTIVES, DEFAULT_PERSISTED_QUERIES, DEFAULT_RESPONSE_CACHE_BYTES,
};
use concord_api::rate_limit::{
    DEFAULT_LOGIN_PER_ACCOUNT, DEFAULT_LOGIN_PER_ADDRESS, DEFAULT_REQUEST_BURST,
    DEFAULT_REQUESTS_PER_SECOND,
};
use concord_api::{ApiLimits, RateLimits};

/// Where the server runs: the embedded default is open for exploring, production is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// `production` turns introspection and GraphiQL off for anonymous callers and field
    /// suggestions off for everyone.
    #[arg(
        long = "env",
        id = "environment",
        env = "CONCORD_ENV",
        value_enum,
        ignore_case = true,
        default_value = "development"
    )]
    pub environment: Environment,

    /// Deepest field nesting of an operation.
    #[arg(long, env = "CONCORD_MAX_DEPTH", default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,

    /// Complexity budget of an operation: one per field, `first` times the children for a page.
    #[arg(long, env = "CONCORD_MAX_COMPLEXITY", default_value_t = DEFAULT_MAX_COMPLEXITY)]
    pub max_complexity: usize,

    /// Aliases per operation.
    #[arg(long, env = "CONCORD_MAX_ALIASES", default_value_t = DEFAULT_MAX_ALIASES)]
    pub max_aliases: usize,

    /// Directives per operation.
    #[arg(long, env = "CONCORD_MAX_DIRECTIVES", default_value_t = DEFAULT_MAX_DIRECTIVES)]
    pub max_directives: usize,

    /// Accept JSON arrays of operations (batching).
    #[arg(long, env = "CONCORD_BATCHING", default_value_t = false, action = clap::ArgAction::Set)]
    pub batching: bool,

    /// Operations in one batched request, when batching is on.
    #[arg(long, env = "CONCORD_MAX_BATCH", default_value_t = DEFAULT_MAX_BATCH)]
    pub max_batch: usize,

    /// Largest request body in bytes (uploads have their own 64 MiB limit).
    #[arg(long, env = "CONCORD_MAX_BODY_BYTES", default_value_t = concord_api::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// How long a query may run before it is stopped (`10s`, `500ms`; 0: no limit);
    /// mutations run to the end.
    #[arg(long, env = "CONCORD_QUERY_TIMEOUT", default_value = "10s", value_parser = seconds)]
    pub query_timeout: Duration,

    /// Requests per second each principal (API key, user, or the address of an anonymous
    /// caller) may sustain; 0 turns request limiting off.
    #[arg(long, env = "CONCORD_RATE_LIMIT", default_value_t = DEFAULT_REQUESTS_PER_SECOND)]
    pub rate_limit: u32,

    /// Requests a principal may send at once before the sustained rate applies.
    #[arg(long, env = "CONCORD_RATE_BURST", default_value_t = DEFAULT_REQUEST_BURST)]
    pub rate_burst: u32,

    /// Sign-in attempts per minute for one account; 0: no limit.
    #[arg(long, env = "CONCORD_LOGIN_LIMIT_ACCOUNT", default_value_t = DEFAULT_LOGIN_PER_ACCOUNT)]
    pub login_limit_account: u32,

    /// Sign-in attempts per minute from one address; 0: no limit.
    #[arg(long, env = "CONCORD_LOGIN_LIMIT_IP", default_value_t = DEFAULT_LOGIN_PER_ADDRESS)]
    pub login_limit_ip: u32,

    /// Documents kept for persisted queries (APQ); 0 turns persisted queries off.
    #[arg(long, env = "CONCORD_PERSISTED_QUERIES", default_value_t = DEFAULT_PERSISTED_QUERIES)]
    pub persisted_queries: usize,

    /// Memory in MiB for answers kept by the response cache; 0 turns it off.
    #[arg(long, env = "CONCORD_RESPONSE_CACHE_MB", default_value_t = DEFAULT_RESPONSE_CACHE_BYTES / (1024 * 1024))]
    pub response_cache_mb: usize,
}

/// `0`, a number of seconds, or a number with `ms`, `s` or `m`.
fn seconds(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 10s or 500ms"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        other => return Err(format!("unknown unit `{other}`: use ms, s or m")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{text}`: {e}"))
}

impl LimitArgs {
    pub fn api_limits(&self) -> anyhow::Result<ApiLimits> {
        if self.max_batch == 0 {
            bail!("CONCORD_MAX_BATCH must be at least 1");
        }
        Ok(ApiLimits {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            max_aliases: self.max_aliases,
            max_directives: self.max_directives,
            batching: self.batching,
            max_batch: self.max_batch,
            max_body_bytes: self.max_body_bytes,
            query_timeout: self.query_timeout,
            production: self.environment == Environment::Production,
            persisted_queries: self.persisted_queries,
            response_cache_bytes: self.response_cache_mb.saturating_mul(1024 * 1024),
            rate: RateLimits {
                requests_per_second: self.rate_limit,
                request_burst: self.rate_burst,
                login_per_account_per_minute: self.login_limit_account,
                login_per_address_per_minute: self.login_limit_ip,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn the_defaults_are_the_apis() {
        let args = Probe::try_parse_from(["probe"]).unwrap().limits;
        let limits = args.api_limits().unwrap();
        let defaults = ApiLimits::default();
        assert_eq!(limits.max_depth, defaults.max_depth);
        assert_eq!(limits.max_complexity, defaults.max_complexity);
        assert_eq!(limits.query_timeout, defaults.query_timeout);
        assert_eq!(limits.rate, defaults.rate);
        assert!(!limits.production && !limits.batching);
    }

    #[test]
    fn production_and_bad_values() {
        let args =
            Probe::try_parse_from(["probe", "--env", "Production", "--query-timeout", "500ms"])
                .unwrap()
                .limits;
        let limits = args.api_limits().unwrap();
        assert!(limits.production);
        assert_eq!(limits.query_timeout, Duration::from_millis(500));
        assert!(Probe::try_parse_from(["probe", "--query-timeout", "-1"]).is_err());
        assert!(Probe::try_parse_from(["probe", "--query-timeout", "ten"]).is_err());
        assert!(
            Probe::try_parse_from(["probe", "--max-batch", "0"])
                .unwrap()
                .limits
                .api_limits()
                .is_err()
        );
        assert!(Probe::try_parse_from(["probe", "--env", "staging"]).is_err());
    }
}
