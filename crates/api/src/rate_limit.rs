//! Rate limits, kept in memory per process (GCRA through `governor`): requests per principal
//! (an API key, a user, or the address of an anonymous caller), and sign-in attempts per
//! account and per address.
//!
//! Sign-in attempts are counted in the `login` resolver itself, one per call, so that twenty
//! aliased `login` fields in one request are twenty attempts, not one request. An attempt
//! over either limit is refused before the password is looked at: the password hash is the
//! expensive part and the thing being guessed.
//!
//! Behind a reverse proxy every anonymous caller shares the proxy's address; such a
//! deployment limits anonymous traffic at the proxy or raises the limit here.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use concord_domain::access::Principal;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{ApiError, ApiResult};

/// Requests per second a principal may sustain.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 50;
/// Requests a principal may send at once before the sustained rate applies.
pub const DEFAULT_REQUEST_BURST: u32 = 100;
/// Sign-in attempts per minute for one account (email).
pub const DEFAULT_LOGIN_PER_ACCOUNT: u32 = 10;
/// Sign-in attempts per minute from one address.
pub const DEFAULT_LOGIN_PER_ADDRESS: u32 = 30;

/// Rate limit settings; a zero turns that limit off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub requests_per_second: u32,
    pub request_burst: u32,
    pub login_per_account_per_minute: u32,
    pub login_per_address_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            request_burst: DEFAULT_REQUEST_BURST,
            login_per_account_per_minute: DEFAULT_LOGIN_PER_ACCOUNT,
            login_per_address_per_minute: DEFAULT_LOGIN_PER_ADDRESS,
        }
    }
}

impl RateLimits {
    /// No limit at all: for benchmarks, which measure the API and not the limiter.
    pub fn off() -> Self {
        RateLimits {
            requests_per_second: 0,
            request_burst: 0,
            login_per_account_per_minute: 0,
            login_per_address_per_minute: 0,
        }
    }
}

/// The address a request came from, as request data for the `login` resolver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientIp(pub IpAddr);

/// Whose allowance a request spends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RateKey {
    User(i64),
    ApiKey(i64),
    Address(IpAddr),
}

impl RateKey {
    /// Signed-in callers spend their own allowance wherever they call from; anonymous ones
    /// their address's (unknown when the server runs without connection info: then all
    /// anonymous callers share one).
    pub(crate) fn of(principal: &Principal, ip: Option<IpAddr>) -> RateKey {
        match principal {
            Principal::User { id, .. } => RateKey::User(id.0),
            Principal::ApiKey { id, .. } => RateKey::ApiKey(id.0),
            Principal::Anonymous => RateKey::address(ip),
        }
    }

    pub(crate) fn address(ip: Option<IpAddr>) -> RateKey {
        RateKey::Address(ip.map_or(IpAddr::from([0, 0, 0, 0]), address_group))
    }
}

/// One IPv6 holder gets a whole /64, so an address within it is no identity: the /64 is
/// the key. IPv4 addresses (mapped ones too) are keys themselves.
fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// How long a refused caller should wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, at least one.
    pub(crate) fn seconds(self) -> u64 {
        let d = self.0;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// A keyed limiter with its quota, which governor does not hand back.
struct Limiter<K: Clone + Hash + Eq> {
    keyed: Arc<Keyed<K>>,
    quota: Quota,
}

impl<K> Limiter<K>
where
    K: Clone + Hash + Eq + Send + Sync + 'static,
{
    fn new(quota: Option<Quota>) -> Option<Self> {
        let quota = quota?;
        let keyed = Arc::new(Keyed::<K>::keyed(quota));
        tidy_periodically(&keyed);
        Some(Limiter { keyed, quota })
    }

    fn spend(&self, key: &K, n: u32) -> Result<(), RetryAfter> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.keyed.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(RetryAfter(
                not_until.wait_time_from(self.keyed.clock().now()),
            )),
            // More at once than the burst allows never passes; a full allowance is the
            // honest wait before sending fewer.
            Err(_) => Err(RetryAfter(self.quota.burst_size_replenished_in())),
        }
    }
}

/// Forgets the keys whose allowance is full again, so that a stream of new addresses or
/// invented emails cannot grow the table without end.
fn tidy_periodically<K>(limiter: &Arc<Keyed<K>>)
where
    K: Clone + Hash + Eq + Send + Sync + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(limiter);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(limiter) = weak.upgrade() else {
                break;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// Requests per principal.
#[derive(Clone)]
pub(crate) struct RequestLimiter(Option<Arc<Limiter<RateKey>>>);

impl RequestLimiter {
    pub(crate) fn new(settings: &RateLimits) -> Self {
        let quota = NonZeroU32::new(settings.requests_per_second).map(|rate| {
            Quota::per_second(rate)
                .allow_burst(NonZeroU32::new(settings.request_burst).unwrap_or(rate))
        });
        RequestLimiter(Limiter::new(quota).map(Arc::new))
    }

    /// Spends `n` requests (a batch costs one per operation) of the key's allowance.
    pub(crate) fn check(&self, key: &RateKey, n: u32) -> Result<(), RetryAfter> {
        match &self.0 {
            Some(limiter) => limiter.spend(key, n),
            None => Ok(()),
        }
    }
}

/// Sign-in attempts per account and per address; schema data for the `login` resolver.
#[derive(Clone)]
pub(crate) struct LoginLimiter {
    account: Option<Arc<Limiter<String>>>,
    address: Option<Arc<Limiter<RateKey>>>,
}

impl LoginLimiter {
    pub(crate) fn new(settings: &RateLimits) -> Self {
        let per_minute = |n| NonZeroU32::new(n).map(Quota::per_minute);
        LoginLimiter {
            account: Limiter::new(per_minute(settings.login_per_account_per_minute)).map(Arc::new),
            address: Limiter::new(per_minute(settings.login_per_address_per_minute)).map(Arc::new),
        }
    }

    /// Spends one attempt of the address's allowance, then one of the account's. The
    /// address goes first: a guesser already over its own limit spends none of its
    /// victims' allowance.
    pub(crate) fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), RetryAfter> {
        if let Some(limiter) = &self.address {
            limiter.spend(&RateKey::address(ip), 1)?;
        }
        if let Some(limiter) = &self.account {
            limiter.spend(&concord_store::normalise_email(email), 1)?;
        }
        Ok(())
    }
}

/// Counts one sign-in attempt for `email` from the request's address; refused attempts
/// are `RATE_LIMITED`. Without a limiter in the schema (tests that build one bare) every
/// attempt passes.
pub(crate) fn check_login(ctx: &Context<'_>, email: &str) -> ApiResult<()> {
    let Some(limiter) = ctx.data_opt::<LoginLimiter>() else {
        return Ok(());
    };
    let ip = ctx.data_opt::<ClientIp>().map(|c| c.0);
    limiter.check(email, ip).map_err(|retry| {
        tracing::info!(
            retry_after = retry.seconds(),
            "sign-in attempt refused: rate limited"
        );
        ApiError::RateLimited
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(account: u32, address: u32) -> RateLimits {
        RateLimits {
            login_per_account_per_minute: account,
            login_per_address_per_minute: address,
            ..RateLimits::default()
        }
    }

    #[test]
    fn each_account_has_its_own_allowance() {
        let limiter = LoginLimiter::new(&limits(2, 100));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limiter.check("a@x.test", ip).is_ok());
        // The same account, spelled differently.
        assert!(limiter.check(" A@X.test", ip).is_ok());
        let refused = limiter.check("a@x.test", ip).unwrap_err();
        assert!(refused.seconds() >= 1 && refused.seconds() <= 60);
        assert!(limiter.check("b@x.test", ip).is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let limiter = LoginLimiter::new(&limits(100, 3));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for i in 0..3 {
            assert!(limiter.check(&format!("u{i}@x.test"), ip).is_ok());
        }
        assert!(limiter.check("u9@x.test", ip).is_err());
        assert!(
            limiter
                .check("u9@x.test", Some(IpAddr::from([10, 0, 0, 2])))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(RateKey::address(Some(a)), RateKey::address(Some(b)));
        assert_ne!(RateKey::address(Some(a)), RateKey::address(Some(c)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            RateKey::address(Some(mapped)),
            RateKey::Address(IpAddr::from([10, 0, 0, 1]))
        );
    }

    #[test]
    fn requests_are_limited_per_principal_and_batches_cost_more() {
        let limiter = RequestLimiter::new(&RateLimits {
            requests_per_second: 1,
            request_burst: 5,
            ..RateLimits::default()
        });
        let user = RateKey::User(1);
        assert!(limiter.check(&user, 4).is_ok());
        assert!(limiter.check(&user, 1).is_ok());
        assert!(limiter.check(&user, 1).is_err());
        assert!(limiter.check(&RateKey::User(2), 5).is_ok());
        // More than the burst never passes.
        assert!(limiter.check(&RateKey::User(3), 6).is_err());
        assert!(
            RequestLimiter::new(&RateLimits::off())
                .check(&user, 1000)
                .is_ok()
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(RetryAfter(Duration::from_millis(10)).seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1500)).seconds(), 2);
        assert_eq!(RetryAfter(Duration::ZERO).seconds(), 1);
    }
}
