//! The audit trail: every write, and every read of a RESTRICTED record by someone outside
//! its organisation, appended in the same transaction as what it records. Nothing here
//! updates or deletes an event.

use chrono::{DateTime, Utc};
use concord_domain::access::{ApiKeyId, ReadScope, UserId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::entity::{audit_event, intervention};
use crate::interventions::readable;
use crate::{Page, PageRequest, Store, StoreResult, json_text};

/// Who did something, and through which client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub user: Option<UserId>,
    pub api_key: Option<ApiKeyId>,
    /// An email, a key's name, or the command that acted.
    pub label: String,
    /// The client as it named itself (User-Agent), or the command line.
    pub client: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn command(name: &str) -> Self {
        Actor {
            label: format!("concord {name}"),
            client: Some("cli".to_owned()),
            ..Default::default()
        }
    }
}

/// What happened to an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    Read,
    Revoke,
    Login,
}

impl AuditAction {
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::Create => "CREATE",
            AuditAction::Update => "UPDATE",
            AuditAction::Delete => "DELETE",
            AuditAction::Read => "READ",
            AuditAction::Revoke => "REVOKE",
            AuditAction::Login => "LOGIN",
        }
    }
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_user: Option<UserId>,
    pub actor_api_key: Option<ApiKeyId>,
    pub actor: String,
    pub client: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Which events a query returns.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<i64>,
    pub actor_user: Option<UserId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// For callers who may not read everything: events on interventions they cannot read,
    /// and on users and keys, are left out.
    pub scope: Option<ReadScope>,
}

/// A snapshot as JSON text: serialized once, straight to text, not through a
/// `serde_json::Value` tree that the insert would clone and serialize again.
fn to_json<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// The columns of an event, in the order [`event`] gives their values.
const EVENT_COLUMNS: [audit_event::Column; 10] = [
    audit_event::Column::At,
    audit_event::Column::ActorUserId,
    audit_event::Column::ActorApiKeyId,
    audit_event::Column::Actor,
    audit_event::Column::Client,
    audit_event::Column::Action,
    audit_event::Column::Entity,
    audit_event::Column::EntityId,
    audit_event::Column::Before,
    audit_event::Column::After,
];

fn event(
    backend: DbBackend,
    actor: &Actor,
    action: AuditAction,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<String>,
    after: Option<String>,
) -> [Expr; 10] {
    [
        Expr::val(Utc::now()),
        Expr::val(actor.user.map(|u| u.0)),
        Expr::val(actor.api_key.map(|k| k.0)),
        Expr::val(actor.label.chars().take(320).collect::<String>()),
        Expr::val(
            actor
                .client
                .as_ref()
                .map(|c| c.chars().take(200).collect::<String>()),
        ),
        Expr::val(action.code()),
        Expr::val(entity),
        Expr::val(entity_id),
        json_text(backend, before),
        json_text(backend, after),
    ]
}

/// Appends events in statements of at most 1,000 rows.
async fn insert_events<C: ConnectionTrait>(db: &C, events: Vec<[Expr; 10]>) -> StoreResult<()> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let mut insert = Query::insert();
        insert
            .into_table(audit_event::Entity)
            .columns(EVENT_COLUMNS);
        for values in events.by_ref().take(1000) {
            insert.values_panic(values);
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Appends one event, inside the caller's transaction.
pub(crate) async fn record<C: ConnectionTrait, B: Serialize, A: Serialize>(
    db: &C,
    actor: &Actor,
    action: AuditAction,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&B>,
    after: Option<&A>,
) -> StoreResult<()> {
    let backend = db.get_database_backend();
    insert_events(
        db,
        vec![event(
            backend,
            actor,
            action,
            entity,
            entity_id,
            before.and_then(to_json),
            after.and_then(to_json),
        )],
    )
    .await
}

/// Appends one event per created entity, in batches.
pub(crate) async fn record_created<C: ConnectionTrait, A: Serialize>(
    db: &C,
    actor: &Actor,
    entity: &str,
    created: &[(i64, &A)],
) -> StoreResult<()> {
    let backend = db.get_database_backend();
    insert_events(
        db,
        created
            .iter()
            .map(|(id, after)| {
                event(
                    backend,
                    actor,
                    AuditAction::Create,
                    entity,
                    Some(*id),
                    None,
                    to_json(after),
                )
            })
            .collect(),
    )
    .await
}

fn audit_condition(filter: &AuditFilter) -> Condition {
    use audit_event::Column as C;
    let mut cond = Condition::all();
    if let Some(entity) = &filter.entity {
        cond = cond.add(C::Entity.eq(entity.as_str()));
    }
    if let Some(id) = filter.entity_id {
        cond = cond.add(C::EntityId.eq(id));
    }
    if let Some(user) = filter.actor_user {
        cond = cond.add(C::ActorUserId.eq(user.0));
    }
    if let Some(from) = filter.from {
        cond = cond.add(C::At.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(C::At.lte(to));
    }
    if let Some(scope) = &filter.scope {
        cond = cond.add(
            Condition::any()
                .add(C::Entity.is_in(["organisation", "need", "area"]))
                .add(
                    Condition::all().add(C::Entity.eq("intervention")).add(
                        C::EntityId.in_subquery(
                            Query::select()
                                .column(intervention::Column::Id)
                                .from(intervention::Entity)
                                .cond_where(readable(scope))
                                .to_owned(),
                        ),
                    ),
                ),
        );
    }
    cond
}

fn to_event(row: audit_event::Model) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: row.at,
        actor_user: row.actor_user_id.map(UserId),
        actor_api_key: row.actor_api_key_id.map(ApiKeyId),
        actor: row.actor,
        client: row.client,
        action: row.action,
        entity: row.entity,
        entity_id: row.entity_id,
        before: row.before,
        after: row.after,
    }
}

impl Store {
    /// Newest first.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let mut query = audit_event::Entity::find()
            .filter(audit_condition(filter))
            .order_by_desc(audit_event::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(audit_event::Column::Id.lt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(to_event).collect(),
            page.first,
        ))
    }

    pub async fn count_audit_events(&self, filter: &AuditFilter) -> StoreResult<u64> {
        Ok(audit_event::Entity::find()
            .filter(audit_condition(filter))
            .count(&self.db)
            .await?)
    }

    /// Records that someone outside the reporting organisation read RESTRICTED records.
    pub async fn record_restricted_reads(
        &self,
        actor: &Actor,
        interventions: &[i64],
    ) -> StoreResult<()> {
        if interventions.is_empty() {
            return Ok(());
        }
        let backend = self.db.get_database_backend();
        insert_events(
            &self.db,
            interventions
                .iter()
                .map(|id| {
                    event(
                        backend,
                        actor,
                        AuditAction::Read,
                        "intervention",
                        Some(*id),
                        None,
                        None,
                    )
                })
                .collect(),
        )
        .await?;
        self.checkpoint_soon();
        Ok(())
    }
}

impl Store {
    /// Records an event that changes no stored entity (a sign-in).
    pub async fn record_event(
        &self,
        actor: &Actor,
        action: AuditAction,
        entity: &str,
        entity_id: Option<i64>,
    ) -> StoreResult<()> {
        record(
            &self.db,
            actor,
            action,
            entity,
            entity_id,
            None::<&()>,
            None::<&()>,
        )
        .await?;
        self.checkpoint_soon();
        Ok(())
    }
}
