//! Users, their organisations and coordination scopes, refresh tokens and API keys.

use chrono::{DateTime, Utc};
use concord_domain::access::{ApiKeyId, CoordinatorScope, KeyScope, Principal, Role, UserId};
use concord_domain::area::{AreaPath, Pcode};
use concord_domain::organisation::OrganisationId;
use concord_domain::reference::SectorVocabulary;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::audit::{Actor, AuditAction, record};
use crate::changes::RegistryChange;
use crate::entity::{
    api_key, app_user, area, coordinator_area, coordinator_sector, organisation, refresh_token,
    user_organisation,
};
use crate::organisations::corrupt;
use crate::{Page, PageRequest, Store, StoreError, StoreResult};

/// A user as administrators see it. The password hash never leaves the store except to
/// the login check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub organisations: Vec<OrganisationId>,
    pub scope_areas: Vec<Pcode>,
    pub scope_sectors: Vec<(SectorVocabulary, String)>,
    pub created_at: DateTime<Utc>,
}

/// What a login needs to check a password.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub id: UserId,
    pub password_hash: Option<String>,
    pub active: bool,
}

/// A new user, with the password already hashed by the caller.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub organisations: Vec<OrganisationId>,
}

/// An API key as its organisation sees it: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organisation: OrganisationId,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub organisation: OrganisationId,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub scope: KeyScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
}

/// Why a refresh token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Unknown, expired or revoked.
    Invalid,
    /// Already used once: someone holds a copy, so the whole family is now revoked.
    Reused,
}

/// Normalises an email for lookups: addresses are compared case-insensitively.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn role_of(code: &str) -> StoreResult<Role> {
    Role::from_code(code).ok_or_else(|| corrupt("app_user.role"))
}

fn key_of(row: api_key::Model) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        organisation: OrganisationId(row.organisation_id),
        name: row.name,
        prefix: row.prefix,
        scope: KeyScope::from_code(&row.scope).ok_or_else(|| corrupt("api_key.scope"))?,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        created_at: row.created_at,
    })
}

async fn load_user<C: ConnectionTrait>(db: &C, id: UserId) -> StoreResult<User> {
    let row = app_user::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let organisations = user_organisation::Entity::find()
        .filter(user_organisation::Column::UserId.eq(id.0))
        .order_by_asc(user_organisation::Column::OrganisationId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| OrganisationId(m.organisation_id))
        .collect();
    let area_ids: Vec<i64> = coordinator_area::Entity::find()
        .filter(coordinator_area::Column::UserId.eq(id.0))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.area_id)
        .collect();
    let mut scope_areas: Vec<Pcode> = crate::areas::pcodes_by_area_id(db, area_ids)
        .await?
        .into_values()
        .filter_map(|p| Pcode::parse(&p).ok())
        .collect();
    scope_areas.sort();
    let scope_sectors = coordinator_sector::Entity::find()
        .filter(coordinator_sector::Column::UserId.eq(id.0))
        .order_by_asc(coordinator_sector::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| {
            SectorVocabulary::from_iati_code(&s.vocabulary)
                .map(|v| (v, s.code))
                .ok_or_else(|| corrupt("coordinator_sector.vocabulary"))
        })
        .collect::<StoreResult<_>>()?;
    Ok(User {
        id,
        email: row.email,
        role: role_of(&row.role)?,
        active: row.active,
        organisations,
        scope_areas,
        scope_sectors,
        created_at: row.created_at,
    })
}

impl Store {
    pub async fn create_user(&self, user: &NewUser, actor: &Actor) -> StoreResult<User> {
        let txn = self.begin_write().await?;
        let now = Utc::now();
        let row = app_user::Entity::insert(app_user::ActiveModel {
            email: Set(normalise_email(&user.email)),
            password_hash: Set(user.password_hash.clone()),
            role: Set(user.role.code().to_owned()),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec_with_returning(&txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("a user with this email already exists".into())
            }
            other => other,
        })?;
        set_organisations(&txn, UserId(row.id), &user.organisations).await?;
        let created = load_user(&txn, UserId(row.id)).await?;
        record(
            &txn,
            actor,
            AuditAction::Create,
            "user",
            Some(row.id),
            None::<&()>,
            Some(&created),
        )
        .await?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(created)
    }

    pub async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        match load_user(&self.db, id).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        let mut query = app_user::Entity::find()
            .select_only()
            .column(app_user::Column::Id)
            .order_by_asc(app_user::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(app_user::Column::Id.gt(after));
        }
        let ids: Vec<i64> = query
            .limit(page.first + 1)
            .into_tuple()
            .all(&self.db)
            .await?;
        let page_ids = Page::from_overfetch(ids, page.first);
        let mut users = Vec::with_capacity(page_ids.items.len());
        for id in page_ids.items {
            users.push(load_user(&self.db, UserId(id)).await?);
        }
        Ok(Page {
            items: users,
            has_next_page: page_ids.has_next_page,
        })
    }

    pub async fn count_users(&self) -> StoreResult<u64> {
        Ok(app_user::Entity::find().count(&self.db).await?)
    }

    pub async fn credentials(&self, email: &str) -> StoreResult<Option<Credentials>> {
        Ok(app_user::Entity::find()
            .filter(app_user::Column::Email.eq(normalise_email(email)))
            .one(&self.db)
            .await?
            .map(|u| Credentials {
                id: UserId(u.id),
                password_hash: u.password_hash,
                active: u.active,
            }))
    }

    pub async fn user_id_by_email(&self, email: &str) -> StoreResult<Option<UserId>> {
        Ok(self
            .credentials(email)
            .await?
            .filter(|c| c.active)
            .map(|c| c.id))
    }

    /// The principal of an active user, with its coordination scope resolved to paths and
    /// the user's email (what the audit trail names). Every signed-in request needs it, so
    /// it is one statement: the user, their organisations, areas and sectors as tagged rows.
    pub async fn principal_for_user(&self, id: UserId) -> StoreResult<Option<(Principal, String)>> {
        let backend = self.db.get_database_backend();
        let p = if backend == DatabaseBackend::Postgres {
            "$1"
        } else {
            "?1"
        };
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT 'u' AS part, u.role AS text, u.email AS detail, \
                            CASE WHEN u.active THEN 1 ELSE 0 END AS number \
                       FROM app_user u WHERE u.id = {p} \
                     UNION ALL SELECT 'o', NULL, NULL, o.organisation_id \
                       FROM user_organisation o WHERE o.user_id = {p} \
                     UNION ALL SELECT 'a', a.path, NULL, c.id \
                       FROM coordinator_area c JOIN area a ON a.id = c.area_id WHERE c.user_id = {p} \
                     UNION ALL SELECT 's', s.vocabulary, s.code, s.id \
                       FROM coordinator_sector s WHERE s.user_id = {p}"
                ),
                [id.0.into()],
            ))
            .await?;
        let mut user: Option<(Role, String)> = None;
        let mut organisations = Vec::new();
        let mut areas = Vec::new();
        let mut sectors: Vec<(i64, SectorVocabulary, String)> = Vec::new();
        for row in rows {
            let part: String = row.try_get("", "part")?;
            let text: Option<String> = row.try_get("", "text")?;
            let detail: Option<String> = row.try_get("", "detail")?;
            let number: Option<i64> = row.try_get("", "number")?;
            match (part.as_str(), text, detail, number) {
                ("u", Some(role), Some(email), Some(active)) => {
                    if active == 0 {
                        return Ok(None);
                    }
                    user = Some((role_of(&role)?, email));
                }
                ("o", _, _, Some(organisation)) => organisations.push(OrganisationId(organisation)),
                ("a", Some(path), _, Some(_)) => {
                    areas.push(AreaPath::parse(&path).map_err(|_| corrupt("area.path"))?)
                }
                ("s", Some(vocabulary), Some(code), Some(order)) => sectors.push((
                    order,
                    SectorVocabulary::from_iati_code(&vocabulary)
                        .ok_or_else(|| corrupt("coordinator_sector.vocabulary"))?,
                    code,
                )),
                _ => return Err(corrupt("app_user")),
            }
        }
        let Some((role, email)) = user else {
            return Ok(None);
        };
        organisations.sort();
        sectors.sort_by_key(|(order, ..)| *order);
        let mut scope_sectors = Vec::new();
        for (_, vocabulary, code) in sectors {
            // A coordinated cluster covers the DAC codes under it, as filters do.
            let expanded = concord_domain::reference::expand_sector_filter(&code)
                .filter(|_| {
                    vocabulary == SectorVocabulary::Cluster || vocabulary == SectorVocabulary::Dac3
                })
                .unwrap_or_else(|| vec![(vocabulary, code.clone())]);
            for s in expanded {
                if !scope_sectors.contains(&s) {
                    scope_sectors.push(s);
                }
            }
        }
        Ok(Some((
            Principal::User {
                id,
                role,
                organisations,
                scope: CoordinatorScope {
                    areas,
                    sectors: scope_sectors,
                },
            },
            email,
        )))
    }

    pub async fn set_user_role(&self, id: UserId, role: Role, actor: &Actor) -> StoreResult<User> {
        let (txn, before) = self.begin_user_change(id).await?;
        app_user::Entity::update_many()
            .col_expr(app_user::Column::Role, Expr::value(role.code()))
            .col_expr(app_user::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(app_user::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        self.finish_user_change(txn, before, actor).await
    }

    pub async fn set_user_organisations(
        &self,
        id: UserId,
        organisations: &[OrganisationId],
        actor: &Actor,
    ) -> StoreResult<User> {
        let (txn, before) = self.begin_user_change(id).await?;
        set_organisations(&txn, id, organisations).await?;
        self.finish_user_change(txn, before, actor).await
    }

    /// Replaces the areas (by P-code) and sectors a coordinator coordinates.
    pub async fn set_coordinator_scope(
        &self,
        id: UserId,
        areas: &[Pcode],
        sectors: &[(SectorVocabulary, String)],
        actor: &Actor,
    ) -> StoreResult<User> {
        let (txn, before) = self.begin_user_change(id).await?;
        {
            let txn = &txn;
            let found: Vec<(i64, String)> = area::Entity::find()
                .select_only()
                .column(area::Column::Id)
                .column(area::Column::Pcode)
                .filter(area::Column::Pcode.is_in(areas.iter().map(|p| p.as_str().to_owned())))
                .into_tuple()
                .all(txn)
                .await?;
            for (i, pcode) in areas.iter().enumerate() {
                if !found.iter().any(|(_, p)| p == pcode.as_str()) {
                    return Err(StoreError::invalid(
                        format!("areas[{i}]"),
                        format!("no area has the P-code {pcode}"),
                    ));
                }
            }
            coordinator_area::Entity::delete_many()
                .filter(coordinator_area::Column::UserId.eq(id.0))
                .exec(txn)
                .await?;
            coordinator_sector::Entity::delete_many()
                .filter(coordinator_sector::Column::UserId.eq(id.0))
                .exec(txn)
                .await?;
            if !found.is_empty() {
                coordinator_area::Entity::insert_many(found.iter().map(|(area_id, _)| {
                    coordinator_area::ActiveModel {
                        user_id: Set(id.0),
                        area_id: Set(*area_id),
                        ..Default::default()
                    }
                }))
                .exec(txn)
                .await?;
            }
            if !sectors.is_empty() {
                coordinator_sector::Entity::insert_many(sectors.iter().map(|(v, c)| {
                    coordinator_sector::ActiveModel {
                        user_id: Set(id.0),
                        vocabulary: Set(v.iati_code().to_owned()),
                        code: Set(c.clone()),
                        ..Default::default()
                    }
                }))
                .exec(txn)
                .await?;
            }
        }
        self.finish_user_change(txn, before, actor).await
    }

    /// Deactivated users keep their history but can no longer sign in; their refresh
    /// tokens are revoked at once.
    pub async fn deactivate_user(&self, id: UserId, actor: &Actor) -> StoreResult<User> {
        let (txn, before) = self.begin_user_change(id).await?;
        let now = Utc::now();
        app_user::Entity::update_many()
            .col_expr(app_user::Column::Active, Expr::value(false))
            .col_expr(app_user::Column::UpdatedAt, Expr::value(now))
            .filter(app_user::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::UserId.eq(id.0))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        self.finish_user_change(txn, before, actor).await
    }

    /// Audits a change to a user with its before and after, and commits it.
    async fn finish_user_change(
        &self,
        txn: sea_orm::DatabaseTransaction,
        before: User,
        actor: &Actor,
    ) -> StoreResult<User> {
        let after = load_user(&txn, before.id).await?;
        record(
            &txn,
            actor,
            AuditAction::Update,
            "user",
            Some(before.id.0),
            Some(&before),
            Some(&after),
        )
        .await?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(after)
    }

    /// Opens the transaction of a change to a user, with the user as it was.
    async fn begin_user_change(
        &self,
        id: UserId,
    ) -> StoreResult<(sea_orm::DatabaseTransaction, User)> {
        let txn = self.begin_write().await?;
        let before = load_user(&txn, id).await?;
        Ok((txn, before))
    }

    /// Stores the hash of a new refresh token.
    pub async fn store_refresh_token(
        &self,
        user: UserId,
        family: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        refresh_token::Entity::insert(refresh_token::ActiveModel {
            user_id: Set(user.0),
            family: Set(family.to_owned()),
            token_hash: Set(token_hash.to_owned()),
            expires_at: Set(expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(Utc::now()),
            ..Default::default()
        })
        .exec(&self.db)
        .await?;
        self.checkpoint_soon();
        Ok(())
    }

    /// Uses a refresh token once: marks it used and stores its successor in the same family.
    /// A token used a second time revokes its whole family.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next_hash: &str,
        next_expires_at: DateTime<Utc>,
    ) -> StoreResult<Result<UserId, RefreshRefusal>> {
        let txn = self.begin_write().await?;
        let Some(current) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .one(&txn)
            .await?
        else {
            return Ok(Err(RefreshRefusal::Invalid));
        };
        let now = Utc::now();
        if current.used_at.is_some() {
            revoke_family(&txn, &current.family, now).await?;
            txn.commit().await?;
            self.checkpoint_soon();
            return Ok(Err(RefreshRefusal::Reused));
        }
        if current.revoked_at.is_some() || current.expires_at <= now {
            return Ok(Err(RefreshRefusal::Invalid));
        }
        let active = app_user::Entity::find_by_id(current.user_id)
            .one(&txn)
            .await?
            .is_some_and(|u| u.active);
        if !active {
            return Ok(Err(RefreshRefusal::Invalid));
        }
        // Guarded by used_at IS NULL so two concurrent uses cannot both succeed.
        let marked = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::Id.eq(current.id))
            .filter(refresh_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if marked.rows_affected != 1 {
            revoke_family(&txn, &current.family, now).await?;
            txn.commit().await?;
            self.checkpoint_soon();
            return Ok(Err(RefreshRefusal::Reused));
        }
        refresh_token::Entity::insert(refresh_token::ActiveModel {
            user_id: Set(current.user_id),
            family: Set(current.family.clone()),
            token_hash: Set(next_hash.to_owned()),
            expires_at: Set(next_expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        self.checkpoint_soon();
        Ok(Ok(UserId(current.user_id)))
    }

    /// Revokes the family of a refresh token (logout). Unknown tokens are ignored.
    pub async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<bool> {
        let Some(current) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        revoke_family(&self.db, &current.family, Utc::now()).await?;
        Ok(true)
    }

    pub async fn create_api_key(&self, key: &NewApiKey, actor: &Actor) -> StoreResult<ApiKey> {
        let txn = self.begin_write().await?;
        organisation::Entity::find_by_id(key.organisation.0)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::invalid("organisationId", "no such organisation"))?;
        let row = api_key::Entity::insert(api_key::ActiveModel {
            organisation_id: Set(key.organisation.0),
            name: Set(key.name.clone()),
            prefix: Set(key.prefix.clone()),
            token_hash: Set(key.token_hash.clone()),
            scope: Set(key.scope.code().to_owned()),
            expires_at: Set(key.expires_at),
            revoked_at: Set(None),
            last_used_at: Set(None),
            created_by: Set(key.created_by.map(|u| u.0)),
            created_at: Set(Utc::now()),
            ..Default::default()
        })
        .exec_with_returning(&txn)
        .await?;
        let created = key_of(row)?;
        record(
            &txn,
            actor,
            AuditAction::Create,
            "api_key",
            Some(created.id.0),
            None::<&()>,
            Some(&created),
        )
        .await?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(created)
    }

    pub async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        api_key::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(key_of)
            .transpose()
    }

    pub async fn api_keys(&self, organisation: OrganisationId) -> StoreResult<Vec<ApiKey>> {
        api_key::Entity::find()
            .filter(api_key::Column::OrganisationId.eq(organisation.0))
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(key_of)
            .collect()
    }

    pub async fn revoke_api_key(&self, id: ApiKeyId, actor: &Actor) -> StoreResult<ApiKey> {
        let txn = self.begin_write().await?;
        let before = api_key::Entity::find_by_id(id.0)
            .one(&txn)
            .await?
            .map(key_of)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_key::Column::Id.eq(id.0))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        let after = api_key::Entity::find_by_id(id.0)
            .one(&txn)
            .await?
            .map(key_of)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        record(
            &txn,
            actor,
            AuditAction::Revoke,
            "api_key",
            Some(id.0),
            Some(&before),
            Some(&after),
        )
        .await?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(after)
    }

    /// The key a presented secret belongs to, if it is live; records its use.
    pub async fn use_api_key(&self, token_hash: &str) -> StoreResult<Option<ApiKey>> {
        let Some(row) = api_key::Entity::find()
            .filter(api_key::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        if row.revoked_at.is_some() || row.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        // Recording every use would turn each read into a write; a minute's precision is
        // what "last used" needs.
        if row
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::minutes(1))
        {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
                .filter(api_key::Column::Id.eq(row.id))
                .exec(&self.db)
                .await?;
            self.checkpoint_soon();
        }
        key_of(row).map(Some)
    }
}

async fn set_organisations<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    organisations: &[OrganisationId],
) -> StoreResult<()> {
    let found: Vec<i64> = organisation::Entity::find()
        .select_only()
        .column(organisation::Column::Id)
        .filter(organisation::Column::Id.is_in(organisations.iter().map(|o| o.0)))
        .into_tuple()
        .all(db)
        .await?;
    for (i, org) in organisations.iter().enumerate() {
        if !found.contains(&org.0) {
            return Err(StoreError::invalid(
                format!("organisationIds[{i}]"),
                "no such organisation",
            ));
        }
    }
    user_organisation::Entity::delete_many()
        .filter(user_organisation::Column::UserId.eq(user.0))
        .exec(db)
        .await?;
    let mut unique = found;
    unique.sort_unstable();
    unique.dedup();
    if !unique.is_empty() {
        user_organisation::Entity::insert_many(unique.into_iter().map(|org| {
            user_organisation::ActiveModel {
                user_id: Set(user.0),
                organisation_id: Set(org),
                ..Default::default()
            }
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    family: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
