//! What committed writes changed, for whoever keeps registry data in memory (the API's
//! coverage index). Writes through this process are recorded here as they commit. Writes
//! of other processes arrive too: on PostgreSQL every write is announced to every replica
//! (LISTEN/NOTIFY, delivered on commit, never on rollback) and a replica records what it
//! hears; on SQLite every write is journaled in `registry_change` in its own transaction,
//! and `poll_changes` reads what others journaled since it last looked.
//!
//! Every write that commits through `Store::commit_write` is recorded, whatever it wrote:
//! the generation counter moves on each, so an answer kept in memory (a cached response, a
//! signed-in principal) is known to be current exactly when the generation it was computed
//! at is still the current one.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use concord_domain::intervention::InterventionId;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, StoreResult};

/// The PostgreSQL channel that carries registry changes between replicas.
pub const REGISTRY_CHANNEL: &str = "concord_registry";

/// Journal rows kept on SQLite; a reader further behind than this reloads everything.
const JOURNAL_KEPT: i64 = 10_000;

/// Beyond this many changed interventions a consumer reloads everything: cheaper than
/// remembering each id, and what a bulk import calls for anyway.
const MAX_TRACKED: usize = 10_000;

/// One committed write's reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryChange {
    /// Interventions created, updated or deleted, or given a progress report.
    Interventions(Vec<InterventionId>),
    Needs,
    /// Areas re-imported, or too much at once to list.
    Everything,
    /// Organisations, people, API keys or overlap reviews: nothing the coverage index
    /// keeps, but what cached answers may show.
    Other,
}

/// Changes not yet taken by the consumer, coalesced so memory stays bounded however much
/// is written while nobody looks (a CLI import, say).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingChanges {
    pub interventions: BTreeSet<InterventionId>,
    pub needs: bool,
    pub everything: bool,
}

impl PendingChanges {
    pub fn is_empty(&self) -> bool {
        self.interventions.is_empty() && !self.needs && !self.everything
    }

    fn add(&mut self, change: RegistryChange) {
        match change {
            RegistryChange::Interventions(ids) => {
                if !self.everything {
                    self.interventions.extend(ids);
                }
            }
            RegistryChange::Needs => self.needs = true,
            RegistryChange::Everything => self.everything = true,
            RegistryChange::Other => {}
        }
        if self.everything || self.interventions.len() > MAX_TRACKED {
            self.everything = true;
            self.interventions.clear();
        }
    }
}

/// The pending changes, and the last journal row read (SQLite; `None` until marked).
#[derive(Debug, Default)]
pub(crate) struct ChangeLog(Mutex<PendingChanges>, Mutex<Option<i64>>, Generation);

/// How many changes were recorded, and whether changes of other processes are heard.
#[derive(Debug, Default)]
struct Generation {
    count: AtomicU64,
    heard: AtomicBool,
}

pub(crate) type SharedChangeLog = Arc<ChangeLog>;

impl RegistryChange {
    /// Announces the change to other processes inside the writer's transaction.
    pub(crate) async fn announce<C: ConnectionTrait>(&self, txn: &C) -> StoreResult<()> {
        // Consumers reload everything past `MAX_TRACKED` ids; listing them (a large import)
        // would only make the journal row or the notification large.
        let change = match self {
            RegistryChange::Interventions(ids) if ids.len() > MAX_TRACKED => {
                &RegistryChange::Everything
            }
            change => change,
        };
        // A payload that cannot be written is our bug, not a passing condition.
        let mut payload = serde_json::to_string(change)
            .map_err(|e| sea_orm::DbErr::Custom(format!("change payload: {e}")))?;
        if txn.get_database_backend() != DatabaseBackend::Postgres {
            return journal(txn, payload).await;
        }
        // NOTIFY payloads stop at 8,000 bytes.
        if payload.len() > 7_500 {
            payload = serde_json::to_string(&RegistryChange::Everything).unwrap_or_default();
        }
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [REGISTRY_CHANNEL.into(), payload.into()],
        ))
        .await?;
        Ok(())
    }
}

async fn journal<C: ConnectionTrait>(txn: &C, payload: String) -> StoreResult<()> {
    let backend = txn.get_database_backend();
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        "INSERT INTO registry_change (change) VALUES (?)",
        [payload.into()],
    ))
    .await?;
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        "DELETE FROM registry_change WHERE id <= (SELECT max(id) FROM registry_change) - ?",
        [JOURNAL_KEPT.into()],
    ))
    .await?;
    Ok(())
}

async fn journal_bounds<C: ConnectionTrait>(db: &C) -> StoreResult<(Option<i64>, Option<i64>)> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT min(id) AS low, max(id) AS high FROM registry_change",
        ))
        .await?;
    Ok(match row {
        Some(row) => (row.try_get("", "low")?, row.try_get("", "high")?),
        None => (None, None),
    })
}

impl Store {
    /// Starts reading the SQLite journal from now: called before a consumer loads what it
    /// keeps, so nothing committed after the load is missed.
    pub async fn mark_changes(&self) -> StoreResult<()> {
        if self.is_postgres() {
            return Ok(());
        }
        let (_, high) = journal_bounds(&self.db).await?;
        if let Ok(mut seen) = self.changes.1.lock() {
            *seen = Some(high.unwrap_or(0));
        }
        self.set_hearing_others(true);
        Ok(())
    }

    /// Records what other processes journaled on SQLite since the last look (nothing to do
    /// on PostgreSQL, where they are heard). One primary-key range read, usually empty.
    pub async fn poll_changes(&self) -> StoreResult<()> {
        if self.is_postgres() {
            return Ok(());
        }
        let Some(seen) = self.changes.1.lock().ok().and_then(|s| *s) else {
            return Ok(());
        };
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT id, change FROM registry_change WHERE id > ? ORDER BY id",
                [seen.into()],
            ))
            .await?;
        let Some(last) = rows
            .last()
            .map(|r| r.try_get::<i64>("", "id"))
            .transpose()?
        else {
            return Ok(());
        };
        let first: i64 = rows[0].try_get("", "id")?;
        // Ids are consecutive on SQLite; a hole means rows pruned before we read them.
        if first > seen + 1 {
            self.note_change(RegistryChange::Everything);
        }
        for row in &rows {
            let change: String = row.try_get("", "change")?;
            match serde_json::from_str(&change) {
                Ok(change) => self.note_change(change),
                Err(_) => self.note_change(RegistryChange::Everything),
            }
        }
        if let Ok(mut s) = self.changes.1.lock() {
            *s = Some(last);
        }
        Ok(())
    }

    /// Records a committed change made through this process or heard from another.
    pub fn note_change(&self, change: RegistryChange) {
        if let Ok(mut pending) = self.changes.0.lock() {
            pending.add(change);
        }
        self.changes.2.count.fetch_add(1, Ordering::SeqCst);
    }

    /// Moves on with every recorded change, made here or heard from another process.
    pub fn generation(&self) -> u64 {
        self.changes.2.count.load(Ordering::SeqCst)
    }

    /// Whether writes of other processes reach `generation`: on PostgreSQL while the change
    /// listener is connected, on SQLite once the journal is marked. Until then nothing
    /// may be kept on the strength of the generation alone.
    pub fn hears_others(&self) -> bool {
        self.changes.2.heard.load(Ordering::SeqCst)
    }

    /// Set by whoever listens to other processes. A lost connection may have missed
    /// changes, so both edges count as a change.
    pub fn set_hearing_others(&self, hearing: bool) {
        if self.changes.2.heard.swap(hearing, Ordering::SeqCst) != hearing {
            self.changes.2.count.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Commits a write transaction and records its change: announced to other processes
    /// inside the transaction (so only a commit announces it), recorded here after.
    pub(crate) async fn commit_write(
        &self,
        txn: sea_orm::DatabaseTransaction,
        change: RegistryChange,
    ) -> StoreResult<()> {
        change.announce(&txn).await?;
        txn.commit().await?;
        self.note_change(change);
        self.checkpoint_soon();
        Ok(())
    }

    pub fn pending_changes_empty(&self) -> bool {
        self.changes.0.lock().map(|p| p.is_empty()).unwrap_or(true)
    }

    /// The changes recorded since the last call.
    pub fn take_changes(&self) -> PendingChanges {
        self.changes
            .0
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default()
    }

    /// Listens for changes written through any process on this database. None on SQLite,
    /// where other processes are not heard (see the README on coverage freshness).
    pub async fn listen_changes(&self) -> StoreResult<Option<ChangeListener>> {
        Ok(self.listen(REGISTRY_CHANNEL).await?.map(ChangeListener))
    }
}

/// Registry changes announced by any replica.
pub struct ChangeListener(sea_orm::sqlx::postgres::PgListener);

impl ChangeListener {
    /// The next change. Errors mean the connection dropped: listen again, and reload
    /// everything, since changes may have been missed meanwhile.
    pub async fn next(&mut self) -> StoreResult<RegistryChange> {
        let notification = self
            .0
            .recv()
            .await
            .map_err(|e| StoreError::Unavailable(sea_orm::DbErr::Custom(e.to_string())))?;
        // Something committed, even if this version cannot tell what.
        Ok(serde_json::from_str(notification.payload()).unwrap_or(RegistryChange::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_changes_coalesce_and_stay_bounded() {
        let mut p = PendingChanges::default();
        assert!(p.is_empty());
        p.add(RegistryChange::Interventions(vec![
            InterventionId(2),
            InterventionId(1),
        ]));
        p.add(RegistryChange::Interventions(vec![InterventionId(2)]));
        assert_eq!(p.interventions.len(), 2);
        p.add(RegistryChange::Needs);
        assert!(p.needs && !p.everything);
        p.add(RegistryChange::Interventions(
            (0..=MAX_TRACKED as i64).map(InterventionId).collect(),
        ));
        assert!(p.everything);
        assert!(p.interventions.is_empty());
        p.add(RegistryChange::Interventions(vec![InterventionId(5)]));
        assert!(p.interventions.is_empty());
    }
}
