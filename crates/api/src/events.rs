//! Live events: new overlap findings reach every subscriber on every replica. On
//! PostgreSQL the writer's transaction sends a NOTIFY and every replica (the writer
//! included) LISTENs and forwards it to its own subscribers; on SQLite there is one process,
//! which forwards what it wrote.

use std::time::Duration;

use concord_store::Store;
use tokio::sync::broadcast;

/// The ids of new findings, fanned out to this process's subscribers.
#[derive(Clone)]
pub struct OverlapEvents {
    sender: broadcast::Sender<i64>,
    /// True when the database carries events between replicas, so a writer must not also
    /// announce locally (its own NOTIFY comes back to it).
    through_database: bool,
}

impl OverlapEvents {
    /// Starts listening to the database when it can carry events.
    pub async fn start(store: &Store) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let through_database = store.is_postgres();
        let events = OverlapEvents {
            sender,
            through_database,
        };
        if through_database {
            let forward = events.sender.clone();
            let store = store.clone();
            tokio::spawn(async move { listen(store, forward).await });
        }
        events
    }

    /// Announces findings this process just wrote (when the database does not).
    pub fn announce(&self, ids: &[i64]) {
        if self.through_database {
            return;
        }
        for id in ids {
            // No subscriber is not an error.
            let _ = self.sender.send(*id);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.sender.subscribe()
    }
}

/// Forwards notifications for as long as the process runs, listening again (after a pause)
/// when the connection drops.
async fn listen(store: Store, forward: broadcast::Sender<i64>) {
    loop {
        match store.listen_overlaps().await {
            Ok(Some(mut listener)) => loop {
                match listener.next().await {
                    Ok(id) => {
                        let _ = forward.send(id);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "overlap notifications interrupted; listening again");
                        break;
                    }
                }
            },
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "cannot listen for overlap notifications yet"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
