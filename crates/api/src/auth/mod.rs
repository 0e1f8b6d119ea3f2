//! Authentication: who is calling. Access tokens (JWTs) and rotating refresh tokens for
//! people, API keys for machine clients, and tokens of an external OIDC issuer when
//! configured. Authorization is `crate::access`.

pub mod passwords;
pub mod tokens;

pub use jsonwebtoken::Algorithm;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use chrono::{Duration, Utc};
use concord_domain::access::{Principal, Role, UserId};
use concord_store::{Actor, RefreshRefusal, Store};
use lru::LruCache;

use crate::access::Caller;
use crate::error::{ApiError, ApiResult};
use tokens::{TokenService, TokenSubject, hash_token, random_token};

/// API keys start with this, so one header can carry either a key or a JWT.
pub const API_KEY_PREFIX: &str = "ck_";
const REFRESH_PREFIX: &str = "crt_";
/// How long a refresh token lives unless used (and so rotated) before.
pub const REFRESH_TTL_DAYS: i64 = 30;

/// Turns request headers into a caller, once per request.
#[derive(Clone)]
pub struct Authenticator {
    pub tokens: Arc<TokenService>,
    pub store: Store,
    pub public_read: bool,
    principals: PrincipalCache,
}

/// People signed in recently, as they were at a store generation: any recorded write
/// (a role, an organisation, a deactivation, of this process or another) retires them all.
#[derive(Clone)]
struct PrincipalCache(Arc<Mutex<LruCache<UserId, KeptPrincipal>>>);

/// The generation it was read at, the principal, and the label the audit trail names.
type KeptPrincipal = (u64, Principal, String);

/// People kept in the principal cache.
const PRINCIPALS_KEPT: usize = 10_000;

impl Default for PrincipalCache {
    fn default() -> Self {
        PrincipalCache(Arc::new(Mutex::new(LruCache::new(
            NonZeroUsize::new(PRINCIPALS_KEPT).unwrap_or(NonZeroUsize::MIN),
        ))))
    }
}

/// A signed-in session: a short-lived access token and the refresh token that renews it.
#[derive(Clone, Debug, async_graphql::SimpleObject)]
pub struct Session {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub token_type: String,
    /// Use once with `refreshSession`; it is replaced on every use.
    pub refresh_token: String,
}

impl Authenticator {
    pub fn new(tokens: Arc<TokenService>, store: Store, public_read: bool) -> Self {
        Authenticator {
            tokens,
            store,
            public_read,
            principals: PrincipalCache::default(),
        }
    }

    /// The principal of an active user, from memory when nothing was written since it was
    /// read (other processes' writes were polled at the start of `authenticate`).
    async fn principal_for_user(&self, user: UserId) -> ApiResult<Option<(Principal, String)>> {
        let heard = self.store.hears_others();
        let generation = self.store.generation();
        if heard
            && let Some((at, principal, label)) = self
                .principals
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&user)
            && *at == generation
        {
            return Ok(Some((principal.clone(), label.clone())));
        }
        let found = self.store.principal_for_user(user).await?;
        if heard
            && self.store.generation() == generation
            && let Some((principal, label)) = &found
        {
            self.principals
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(user, (generation, principal.clone(), label.clone()));
        }
        Ok(found)
    }

    /// No credentials make an anonymous caller; bad credentials are refused outright, so a
    /// client with an expired token learns it instead of silently seeing less.
    pub async fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Caller> {
        // Writes journaled by other processes (SQLite) are read once per request, here,
        // before anything kept in memory (a principal, an answer) is trusted.
        self.store.poll_changes().await?;
        let client = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect::<String>());
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let api_key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let credential = match (bearer, api_key) {
            (Some(_), Some(_)) => return Err(ApiError::Unauthenticated),
            (Some(c), None) | (None, Some(c)) => c,
            (None, None) => {
                let mut caller = Caller::anonymous(self.public_read);
                caller.actor.client = client;
                return Ok(caller);
            }
        };
        let mut caller = if credential.starts_with(API_KEY_PREFIX) {
            self.api_key_caller(credential).await?
        } else {
            self.token_caller(credential).await?
        };
        caller.actor.client = client;
        Ok(caller)
    }

    async fn api_key_caller(&self, key: &str) -> ApiResult<Caller> {
        let key = self
            .store
            .use_api_key(&hash_token(key))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Caller {
            principal: Principal::ApiKey {
                id: key.id,
                organisation: key.organisation,
                scope: key.scope,
            },
            actor: Actor {
                api_key: Some(key.id),
                label: format!("api key {} ({})", key.name, key.prefix),
                ..Default::default()
            },
            public_read: self.public_read,
        })
    }

    async fn token_caller(&self, token: &str) -> ApiResult<Caller> {
        let subject = self.tokens.verify(token).map_err(|e| {
            tracing::debug!(error = %e, "token refused");
            ApiError::Unauthenticated
        })?;
        let (user_id, external_role) = match subject {
            TokenSubject::User { user_id } => (concord_domain::access::UserId(user_id), None),
            // People of an external issuer must be known here: their organisations and
            // scope live in Concord, only their role comes from the issuer's mapping.
            TokenSubject::External { email, role } => (
                self.store
                    .user_id_by_email(&email)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?,
                role.and_then(|r| Role::from_code(&r)),
            ),
        };
        let (mut principal, label) = self
            .principal_for_user(user_id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if let (Some(mapped), Principal::User { role, .. }) = (external_role, &mut principal) {
            *role = mapped;
        }
        Ok(Caller {
            principal,
            actor: Actor {
                user: Some(user_id),
                label,
                ..Default::default()
            },
            public_read: self.public_read,
        })
    }

    /// Starts a session for a user who proved who they are.
    pub async fn start_session(&self, user: concord_domain::access::UserId) -> ApiResult<Session> {
        let family = random_token("fam_");
        let refresh = random_token(REFRESH_PREFIX);
        self.store
            .store_refresh_token(
                user,
                &family,
                &hash_token(&refresh),
                Utc::now() + Duration::days(REFRESH_TTL_DAYS),
            )
            .await?;
        self.session(user, refresh)
    }

    /// Rotates a refresh token: the old one is spent, a new one takes its place. Presenting
    /// a spent token again revokes every token of its session.
    pub async fn refresh(&self, refresh_token: &str) -> ApiResult<Session> {
        let next = random_token(REFRESH_PREFIX);
        match self
            .store
            .rotate_refresh_token(
                &hash_token(refresh_token),
                &hash_token(&next),
                Utc::now() + Duration::days(REFRESH_TTL_DAYS),
            )
            .await?
        {
            Ok(user) => self.session(user, next),
            Err(RefreshRefusal::Invalid | RefreshRefusal::Reused) => Err(ApiError::Unauthenticated),
        }
    }

    fn session(
        &self,
        user: concord_domain::access::UserId,
        refresh_token: String,
    ) -> ApiResult<Session> {
        let (access_token, expires_in) = self
            .tokens
            .issue_access_token(user.0)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Session {
            access_token,
            expires_in,
            token_type: "Bearer".to_owned(),
            refresh_token,
        })
    }
}
