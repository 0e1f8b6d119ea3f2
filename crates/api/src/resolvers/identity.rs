//! Sign-in, users, API keys and the audit trail.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use concord_domain::access::{
    ApiKeyId, KeyScope as DomainKeyScope, Principal, Role as DomainRole, UserId,
};
use concord_domain::area::Pcode;
use concord_domain::organisation::OrganisationId;
use concord_domain::reference;
use concord_domain::values::optional_text;
use concord_store::{AuditAction, AuditFilter, NewApiKey, NewUser};

use crate::access::{self, caller};
use crate::auth::passwords::{MIN_PASSWORD_CHARS, hash_password, verify_password};
use crate::auth::tokens::{hash_token, random_token};
use crate::auth::{API_KEY_PREFIX, Authenticator, Session};
use crate::enums::{KeyScope, Role};
use crate::error::{ApiError, ApiResult};
use crate::paging::{IdCursor, page_request};
use crate::types::{Organisation, parse_id, store};

fn authenticator<'a>(ctx: &'a Context<'_>) -> &'a Authenticator {
    ctx.data_unchecked::<Authenticator>()
}

fn ids(field: &str, ids: &[ID]) -> ApiResult<Vec<OrganisationId>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id).map(OrganisationId))
        .collect()
}

/// A person who signs in.
pub struct User(concord_store::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn role(&self) -> Role {
        self.0.role.into()
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    async fn organisations(&self, ctx: &Context<'_>) -> ApiResult<Vec<Organisation>> {
        Ok(store(ctx)
            .organisations_by_ids(&self.0.organisations)
            .await?
            .into_iter()
            .map(Organisation)
            .collect())
    }

    /// For coordinators: the P-codes of the areas they coordinate.
    async fn scope_areas(&self) -> Vec<String> {
        self.0
            .scope_areas
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    /// For coordinators: the sector codes they coordinate.
    async fn scope_sectors(&self) -> Vec<String> {
        self.0
            .scope_sectors
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A key a machine client (an NGO's own system) calls the API with. The secret is shown
/// once, when the key is created.
pub struct ApiKey(concord_store::ApiKey);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the key, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    async fn scope(&self) -> KeyScope {
        self.0.scope.into()
    }

    async fn organisation_id(&self) -> ID {
        ID(self.0.organisation.0.to_string())
    }

    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct CreatedApiKey {
    api_key: ApiKey,
    /// The key itself. It is not stored and cannot be shown again.
    secret: String,
}

/// Something that happened, as the audit trail records it.
pub struct AuditEvent(concord_store::AuditEvent);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The user's email, the key's name, or the command that acted.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    async fn actor_user_id(&self) -> Option<ID> {
        self.0.actor_user.map(|u| ID(u.0.to_string()))
    }

    async fn actor_api_key_id(&self) -> Option<ID> {
        self.0.actor_api_key.map(|k| ID(k.0.to_string()))
    }

    async fn client(&self) -> Option<&str> {
        self.0.client.as_deref()
    }

    /// CREATE, UPDATE, DELETE, READ, REVOKE or LOGIN.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// intervention, organisation, need, progress_report, area, user or api_key.
    async fn entity(&self) -> &str {
        &self.0.entity
    }

    async fn entity_id(&self) -> Option<ID> {
        self.0.entity_id.map(|i| ID(i.to_string()))
    }

    async fn before(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.before.clone().map(async_graphql::Json)
    }

    async fn after(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.after.clone().map(async_graphql::Json)
    }
}

pub struct AuditCount(AuditFilter);

#[Object]
impl AuditCount {
    /// How many events match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(store(ctx).count_audit_events(&self.0).await?)
    }
}

pub struct UserCount;

#[Object]
impl UserCount {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(store(ctx).count_users().await?)
    }
}

/// Who the caller is.
#[derive(SimpleObject)]
pub struct Me {
    signed_in: bool,
    user_id: Option<ID>,
    api_key_id: Option<ID>,
    role: Option<Role>,
    organisation_ids: Vec<ID>,
}

#[derive(InputObject, Default)]
pub struct AuditFilterInput {
    /// intervention, organisation, need, progress_report, area, user or api_key.
    pub entity: Option<String>,
    pub entity_id: Option<ID>,
    pub actor_user_id: Option<ID>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AddUserInput {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    pub role: Role,
    #[graphql(default)]
    pub organisation_ids: Vec<ID>,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// Who the caller is: anonymous, a user, or an API key.
    async fn me(&self, ctx: &Context<'_>) -> Me {
        let principal = access::principal(ctx);
        let (user_id, api_key_id) = match principal {
            Principal::User { id, .. } => (Some(ID(id.0.to_string())), None),
            Principal::ApiKey { id, .. } => (None, Some(ID(id.0.to_string()))),
            Principal::Anonymous => (None, None),
        };
        Me {
            signed_in: principal.is_signed_in(),
            user_id,
            api_key_id,
            role: principal.role().map(Into::into),
            organisation_ids: principal
                .organisations()
                .into_iter()
                .map(|o| ID(o.0.to_string()))
                .collect(),
        }
    }

    /// Every user (administrators).
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, User, UserCount>> {
        access::require(ctx, Principal::is_admin)?;
        let has_after = after.is_some();
        let page = store(ctx).users(page_request(first, after)?).await?;
        let mut connection =
            Connection::with_additional_fields(has_after, page.has_next_page, UserCount);
        connection.edges = page
            .items
            .into_iter()
            .map(|u| Edge::new(IdCursor(u.id.0), User(u)))
            .collect();
        Ok(connection)
    }

    /// The API keys of an organisation (its editors and administrators).
    async fn api_keys(&self, ctx: &Context<'_>, organisation_id: ID) -> ApiResult<Vec<ApiKey>> {
        let org = OrganisationId(parse_id("organisationId", &organisation_id)?);
        access::require(ctx, |p| p.may_manage_keys_of(org))?;
        Ok(store(ctx)
            .api_keys(org)
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }

    /// The audit trail, newest first (administrators; coordinators see the events on
    /// organisations, needs, areas and the interventions they may read).
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, AuditEvent, AuditCount>> {
        access::require(ctx, Principal::may_read_audit)?;
        let principal = access::principal(ctx);
        let input = filter.unwrap_or_default();
        let filter = AuditFilter {
            entity: input.entity,
            entity_id: input
                .entity_id
                .map(|i| parse_id("filter.entityId", &i))
                .transpose()?,
            actor_user: input
                .actor_user_id
                .map(|i| parse_id("filter.actorUserId", &i).map(UserId))
                .transpose()?,
            from: input.from,
            to: input.to,
            scope: (!principal.is_admin()).then(|| principal.read_scope()),
        };
        let has_after = after.is_some();
        let page = store(ctx)
            .audit_events(&filter, page_request(first, after)?)
            .await?;
        let mut connection =
            Connection::with_additional_fields(has_after, page.has_next_page, AuditCount(filter));
        connection.edges = page
            .items
            .into_iter()
            .map(|e| Edge::new(IdCursor(e.id), AuditEvent(e)))
            .collect();
        Ok(connection)
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Signs in with email and password. A wrong email and a wrong password get the same
    /// answer.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> ApiResult<Session> {
        // Each call is an attempt, aliased or not; a refused one never reaches the password.
        crate::rate_limit::check_login(ctx, &email)?;
        let credentials = store(ctx).credentials(&email).await?;
        let stored = credentials
            .as_ref()
            .filter(|c| c.active)
            .and_then(|c| c.password_hash.as_deref());
        let password_ok = verify_password(&password, stored);
        let Some(user) = credentials.filter(|_| password_ok) else {
            return Err(ApiError::Unauthenticated);
        };
        let session = authenticator(ctx).start_session(user.id).await?;
        let mut actor = access::actor(ctx).clone();
        actor.user = Some(user.id);
        actor.label = concord_store::normalise_email(&email);
        store(ctx)
            .record_event(&actor, AuditAction::Login, "user", Some(user.id.0))
            .await?;
        Ok(session)
    }

    /// Trades a refresh token for a new session. Each refresh token works once; using one
    /// twice ends its whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<Session> {
        authenticator(ctx).refresh(&refresh_token).await
    }

    /// Ends the session a refresh token belongs to.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> ApiResult<bool> {
        Ok(store(ctx)
            .revoke_refresh_token(&hash_token(&refresh_token))
            .await?)
    }

    /// Adds a user (administrators).
    async fn add_user(&self, ctx: &Context<'_>, input: AddUserInput) -> ApiResult<User> {
        access::require(ctx, Principal::is_admin)?;
        let email = input.email.trim();
        if !email.contains('@') || email.len() > 320 {
            return Err(ApiError::invalid("email", "is not an email address"));
        }
        if input.password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ApiError::invalid(
                "password",
                &format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        let hash = hash_password(&input.password).map_err(ApiError::Internal)?;
        let user = NewUser {
            email: email.to_owned(),
            password_hash: Some(hash),
            role: DomainRole::from(input.role),
            organisations: ids("organisationIds", &input.organisation_ids)?,
        };
        Ok(User(
            store(ctx).create_user(&user, access::actor(ctx)).await?,
        ))
    }

    /// Changes a user's role (administrators).
    async fn set_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> ApiResult<User> {
        access::require(ctx, Principal::is_admin)?;
        let id = UserId(parse_id("userId", &user_id)?);
        Ok(User(
            store(ctx)
                .set_user_role(id, role.into(), access::actor(ctx))
                .await?,
        ))
    }

    /// Replaces the organisations a user belongs to (administrators).
    async fn set_user_organisations(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        organisation_ids: Vec<ID>,
    ) -> ApiResult<User> {
        access::require(ctx, Principal::is_admin)?;
        let id = UserId(parse_id("userId", &user_id)?);
        let orgs = ids("organisationIds", &organisation_ids)?;
        Ok(User(
            store(ctx)
                .set_user_organisations(id, &orgs, access::actor(ctx))
                .await?,
        ))
    }

    /// Replaces what a coordinator coordinates: areas by P-code (each with everything below
    /// it) and sectors by code (a cluster brings its DAC codes) (administrators).
    async fn set_coordinator_scope(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(default)] areas: Vec<String>,
        #[graphql(default)] sectors: Vec<String>,
    ) -> ApiResult<User> {
        access::require(ctx, Principal::is_admin)?;
        let id = UserId(parse_id("userId", &user_id)?);
        let areas = areas
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Pcode::parse(p).map_err(|e| ApiError::invalid(&format!("areas[{i}]"), &e.message))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let sectors = sectors
            .iter()
            .enumerate()
            .map(|(i, code)| {
                reference::find_sector(code)
                    .map(|s| (s.vocabulary, s.code.clone()))
                    .ok_or_else(|| {
                        ApiError::invalid(&format!("sectors[{i}]"), "is not a known sector code")
                    })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(User(
            store(ctx)
                .set_coordinator_scope(id, &areas, &sectors, access::actor(ctx))
                .await?,
        ))
    }

    /// Deactivates a user: their sessions end and they can no longer sign in (administrators).
    async fn deactivate_user(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<User> {
        access::require(ctx, Principal::is_admin)?;
        let id = UserId(parse_id("userId", &user_id)?);
        Ok(User(
            store(ctx).deactivate_user(id, access::actor(ctx)).await?,
        ))
    }

    /// Creates an API key for an organisation (its editors and administrators). The secret
    /// is in the payload and nowhere else.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        organisation_id: ID,
        name: String,
        scope: KeyScope,
        expires_at: Option<DateTime<Utc>>,
    ) -> ApiResult<CreatedApiKey> {
        let org = OrganisationId(parse_id("organisationId", &organisation_id)?);
        access::require(ctx, |p| p.may_manage_keys_of(org))?;
        let name = optional_text("name", Some(&name), 200)
            .map_err(|e| ApiError::invalid("name", &e.message))?
            .ok_or_else(|| ApiError::invalid("name", "must not be empty"))?;
        if expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::invalid("expiresAt", "is in the past"));
        }
        let secret = random_token(API_KEY_PREFIX);
        let key = NewApiKey {
            organisation: org,
            name,
            prefix: secret.chars().take(10).collect(),
            token_hash: hash_token(&secret),
            scope: DomainKeyScope::from(scope),
            expires_at,
            created_by: match access::principal(ctx) {
                Principal::User { id, .. } => Some(*id),
                _ => None,
            },
        };
        let api_key = store(ctx).create_api_key(&key, access::actor(ctx)).await?;
        Ok(CreatedApiKey {
            api_key: ApiKey(api_key),
            secret,
        })
    }

    /// Revokes an API key at once (its organisation's editors and administrators).
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ApiKey> {
        access::signed_in(ctx)?;
        let id = ApiKeyId(parse_id("id", &id)?);
        let principal = &caller(ctx).principal;
        // Someone who may not manage a key learns nothing about it.
        let key = store(ctx)
            .api_key(id)
            .await?
            .filter(|k| principal.may_manage_keys_of(k.organisation))
            .ok_or(ApiError::NotFound)?;
        Ok(ApiKey(
            store(ctx)
                .revoke_api_key(key.id, access::actor(ctx))
                .await?,
        ))
    }
}
