//! The coverage index kept in memory, so a question about one area answers from the work
//! located around it instead of reloading that work from the database on every request.
//!
//! Freshness: every write this process commits is recorded by the store and applied before
//! the next question is answered (the changed interventions are reloaded, needs reloaded
//! whole). Writes of other processes (replicas, CLI imports) arrive the same way: through
//! LISTEN/NOTIFY on PostgreSQL, and on SQLite from the store's journal, read before each
//! question. While the index is being built (at start, or after areas are
//! re-imported) questions are answered straight from the database, so no answer is ever
//! older than what this process knows to have been committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use concord_domain::area::AreaPath;
use concord_domain::coverage_index::{CoverageIndex, CoverageSlice};
use concord_domain::values::Period;
use concord_store::{RegistryChange, Store};
use tokio::sync::RwLock;

use crate::error::ApiResult;

#[derive(Clone)]
pub struct CoverageCache(Arc<Inner>);

struct Inner {
    store: Store,
    index: RwLock<Option<CoverageIndex>>,
    building: AtomicBool,
    started: AtomicBool,
}

impl CoverageCache {
    pub fn new(store: Store) -> Self {
        CoverageCache(Arc::new(Inner {
            store,
            index: RwLock::new(None),
            building: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }))
    }

    /// Builds the index in the background and, on PostgreSQL, starts listening to other
    /// replicas. Idempotent; called at the first question when nobody called it before.
    pub fn start(&self) {
        if self.0.started.swap(true, Ordering::SeqCst) {
            return;
        }
        self.rebuild();
        let cache = self.clone();
        tokio::spawn(async move { cache.listen().await });
    }

    /// Whether questions are answered from memory yet.
    pub async fn is_ready(&self) -> bool {
        self.0.index.read().await.is_some()
    }

    /// The work and needs in and under `within` (everywhere when `None`), reach computed
    /// for `period`.
    pub async fn slice(
        &self,
        within: Option<&AreaPath>,
        period: &Period,
    ) -> ApiResult<CoverageSlice> {
        self.start();
        if let Some(slice) = self.slice_from_memory(within, period).await? {
            return Ok(slice);
        }
        Ok(self.0.store.coverage_inputs(period, within).await?)
    }

    async fn slice_from_memory(
        &self,
        within: Option<&AreaPath>,
        period: &Period,
    ) -> ApiResult<Option<CoverageSlice>> {
        self.0.store.poll_changes().await?;
        {
            let index = self.0.index.read().await;
            let Some(index) = index.as_ref() else {
                return Ok(None);
            };
            if self.0.store.pending_changes_empty() {
                return Ok(Some(index.slice(within, period)));
            }
        }
        // Changes are taken and applied under the write lock, so no reader sees the index
        // between the two.
        let mut guard = self.0.index.write().await;
        let Some(index) = guard.as_mut() else {
            return Ok(None);
        };
        let changes = self.0.store.take_changes();
        if changes.everything {
            *guard = None;
            drop(guard);
            self.rebuild();
            return Ok(None);
        }
        let ids: Vec<_> = changes.interventions.iter().copied().collect();
        match self.0.store.coverage_items(&ids).await {
            Ok(items) => {
                for id in &ids {
                    index.remove(*id);
                }
                for item in items {
                    index.upsert(item);
                }
            }
            Err(e) => {
                // Not applied: keep them for the next question.
                self.0
                    .store
                    .note_change(RegistryChange::Interventions(ids.clone()));
                if changes.needs {
                    self.0.store.note_change(RegistryChange::Needs);
                }
                return Err(e.into());
            }
        }
        if changes.needs {
            match self.0.store.coverage_needs().await {
                Ok(needs) => index.replace_needs(needs),
                Err(e) => {
                    self.0.store.note_change(RegistryChange::Needs);
                    return Err(e.into());
                }
            }
        }
        Ok(Some(index.slice(within, period)))
    }

    /// Builds a fresh index in the background unless one is being built. Changes recorded
    /// meanwhile stay pending and are applied on top of it.
    fn rebuild(&self) {
        if self.0.building.swap(true, Ordering::SeqCst) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = cache.0.store.mark_changes().await {
                    tracing::warn!(error = %e, "cannot read the registry journal yet");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                // What was recorded until now is in the build: applying it again after
                // would at best repeat work, and a bulk load's "everything" would throw
                // the fresh index away.
                let _ = cache.0.store.take_changes();
                match cache.0.store.coverage_index().await {
                    Ok(index) => {
                        *cache.0.index.write().await = Some(index);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot build the coverage index yet");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            }
            cache.0.building.store(false, Ordering::SeqCst);
        });
    }

    /// Records what other replicas announce. A dropped connection may have missed changes,
    /// so listening again starts from a full rebuild; while it is down, nothing is known to
    /// be current (`Store::hears_others`).
    async fn listen(&self) {
        let mut interrupted = false;
        loop {
            match self.0.store.listen_changes().await {
                Ok(Some(mut listener)) => {
                    if interrupted {
                        self.0.store.note_change(RegistryChange::Everything);
                    }
                    self.0.store.set_hearing_others(true);
                    while let Ok(change) = listener.next().await {
                        self.0.store.note_change(change);
                    }
                    self.0.store.set_hearing_others(false);
                    tracing::warn!("registry change notifications interrupted; listening again");
                    interrupted = true;
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for registry changes yet");
                    interrupted = true;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
