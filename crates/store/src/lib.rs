//! Concord's persistence: sea-orm entities and the repositories that map rows to domain
//! types, on SQLite (the embedded default) and PostgreSQL. Every write is one transaction;
//! no business rule lives here: the store hands plain data to the domain and back.

mod areas;
mod audit;
mod changes;
mod coverage;
pub mod entity;
mod error;
mod identity;
mod imports;
mod interventions;
mod needs;
mod organisations;
mod overlaps;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use concord_migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub use areas::{AreaFilter, AreaImport};
pub use audit::{Actor, AuditAction, AuditEvent, AuditFilter};
pub use changes::{ChangeListener, PendingChanges, REGISTRY_CHANNEL, RegistryChange};
pub use error::{RolledBack, StoreError, StoreResult};
pub use identity::{
    ApiKey, Credentials, NewApiKey, NewUser, RefreshRefusal, User, normalise_email,
};
pub use imports::{IdempotentResponse, Import, ImportOutcome, ImportRecord, SourceDocument};
pub use interventions::{InterventionFilter, NewInterventionBatch, WrittenIntervention};
pub use needs::NeedFilter;
pub use overlaps::{
    FindingFilter, OVERLAP_CHANNEL, OVERLAP_CHECK_DURATION, OverlapListener, Recomputation,
    RecomputeProgress, Review, StoredFinding,
};

/// The most rows one page may hold, whatever a client asks for.
pub const MAX_PAGE_SIZE: u64 = 500;

/// A keyset page request: rows after the id `after`, in id order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub first: u64,
}

/// One page of rows and whether more follow.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    fn from_overfetch(mut items: Vec<T>, first: u64) -> Self {
        let has_next_page = items.len() as u64 > first;
        items.truncate(first as usize);
        Page {
            items,
            has_next_page,
        }
    }
}

/// JSON text bound for a JSON column as it is. Bulk writes serialize straight to text
/// rather than through a `serde_json::Value` tree that the insert would clone and serialize
/// again. PostgreSQL's `json` columns take a text parameter only through a cast; SQLite
/// keeps JSON as text.
pub(crate) fn json_text(backend: DatabaseBackend, text: Option<String>) -> Expr {
    let value = Expr::val(text);
    match backend {
        DatabaseBackend::Postgres => value.cast_as("json"),
        _ => value,
    }
}

/// The connection to Concord's database and every repository on it.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Pairs scoring below this are not stored as findings (see `with_overlap_min_score`).
    overlap_min_score: f64,
    /// Shared by clones: what committed writes changed, for in-memory consumers.
    changes: changes::SharedChangeLog,
    /// Shared by clones: the background checkpoints (SQLite).
    checkpoints: Arc<Checkpoints>,
}

/// Whether a background checkpoint is running, and whether a commit came after the
/// running one began.
#[derive(Debug, Default)]
struct Checkpoints {
    running: AtomicBool,
    wanted: AtomicBool,
}

/// Pages of write-ahead log (4 KiB each) past which SQLite copies the log into the database
/// file itself, in the commit, instead of leaving it to the background checkpoint
/// (`checkpoint_soon`). SQLite's default, 1,000, made every large import wait for that
/// copy: 20,000 rows of a 3W table write about 147 MB of log, and their commit took about
/// 0.5 s of the import's 4 s. 65,536 pages (256 MiB) still bounds the log if background
/// checkpoints cannot keep up.
const WAL_BACKSTOP_PAGES: u32 = 65_536;

/// How many times a write is tried when PostgreSQL keeps rolling it back (see `retrying`).
const WRITE_ATTEMPTS: u32 = 3;

/// The default lowest score a pair needs to be stored as a finding.
pub const DEFAULT_OVERLAP_MIN_SCORE: f64 = 0.2;

/// How the connection pool behaves; `PoolSettings::new(max)` gives the defaults every
/// command but `serve` uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Connections idle this long are closed (down to `min_connections`); None keeps them.
    pub idle_timeout: Option<Duration>,
    /// PostgreSQL `statement_timeout` of every connection; None leaves the server's.
    pub statement_timeout: Option<Duration>,
}

impl PoolSettings {
    pub fn new(max_connections: u32) -> Self {
        PoolSettings {
            max_connections,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            statement_timeout: None,
        }
    }
}

/// The pool at one moment, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections, idle or in use.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

impl Store {
    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes fails outright, whatever
    /// the busy timeout, when another writer committed in between; waiting for the lock
    /// first lets concurrent writers queue instead.
    pub(crate) async fn begin_write(&self) -> StoreResult<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.db.get_database_backend() == DatabaseBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Runs a whole write again when PostgreSQL rolled it back to break a deadlock or a
    /// serialization conflict: the other transaction went on, so the next attempt usually
    /// gets through, and nothing of the failed one was written or announced. `write` must
    /// be one transaction from its beginning, with everything it needs in hand (not a
    /// stream already read). SQLite's busy error is not retried: it comes after the busy
    /// timeout has been waited out, and the caller is better told at once. Public for
    /// writes driven from above the store (a file import), whose errors say whether they
    /// were rolled back this way (`RolledBack`).
    pub async fn retrying<T, E, F, Fut>(&self, mut write: F) -> Result<T, E>
    where
        E: RolledBack,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            match write().await {
                Err(e) if e.by_contention() && self.is_postgres() && attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(error = ?e, attempt, "the database rolled a write back; trying it again");
                    // Spread out, so two writers that met once do not meet again at once.
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.subsec_nanos())
                            % 20,
                    );
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt) + jitter))
                        .await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// On SQLite, copies the write-ahead log into the database file in the background after
    /// a commit. Left to SQLite, the commit that takes the log past its threshold copies it
    /// itself, with an fsync, before it returns: at 100,000 interventions a registrant's
    /// commit took 2.7 ms on average that way, 1.3 ms this way. A passive checkpoint runs
    /// beside readers and writers; one runs at a time, and when commits came while it ran,
    /// one more runs after it, so every commit is copied soon. SQLite's own checkpoint stays
    /// as the backstop, past `WAL_BACKSTOP_PAGES`. Every write calls this after its commit.
    pub(crate) fn checkpoint_soon(&self) {
        if self.db.get_database_backend() != DatabaseBackend::Sqlite {
            return;
        }
        let checkpoints = Arc::clone(&self.checkpoints);
        checkpoints.wanted.store(true, Ordering::Release);
        if checkpoints.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let db = self.db.clone();
        tokio::spawn(async move {
            loop {
                while checkpoints.wanted.swap(false, Ordering::AcqRel) {
                    if let Err(e) = db
                        .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                        .await
                    {
                        tracing::warn!(error = %e, "background checkpoint failed");
                    }
                }
                checkpoints.running.store(false, Ordering::Release);
                // A commit that found this one still running after the last look left its
                // request here: take it up, unless another task already did.
                if !checkpoints.wanted.load(Ordering::Acquire)
                    || checkpoints.running.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            }
        });
    }

    /// Connects to `sqlite://PATH` (created if missing, in WAL mode) or `postgres://...`.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        Self::connect_with(url, &PoolSettings::new(max_connections)).await
    }

    /// Connects with explicit pool settings.
    pub async fn connect_with(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(settings.max_connections)
            .min_connections(settings.min_connections)
            .connect_timeout(settings.connect_timeout)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            .sqlx_logging(false);
        if let Some(timeout) = settings.statement_timeout
            && url.starts_with("postgres")
        {
            options.statement_timeout(timeout);
        }
        if url.starts_with("sqlite:") {
            // WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
            options.map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string())
            });
        }
        let db = Database::connect(options)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Store {
            db,
            overlap_min_score: DEFAULT_OVERLAP_MIN_SCORE,
            changes: Default::default(),
            checkpoints: Default::default(),
        })
    }

    /// Wraps an existing connection (tests attach a statement counter to theirs).
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Store {
            db,
            overlap_min_score: DEFAULT_OVERLAP_MIN_SCORE,
            changes: Default::default(),
            checkpoints: Default::default(),
        }
    }

    /// Sets the lowest score a pair needs to be stored as a finding. A province-wide
    /// programme meets every district activity of its cluster below it; at a registry's
    /// density most such pairs score low, and storing them all would bury the duplication
    /// coordinators need to see.
    #[must_use]
    pub fn with_overlap_min_score(mut self, min_score: f64) -> Self {
        self.overlap_min_score = min_score.clamp(0.0, 1.0);
        self
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Open and idle connections of the pool.
    pub fn pool_status(&self) -> PoolStatus {
        use sea_orm::DatabaseConnectionType as Kind;
        // Matched first: the pool getters panic on any other kind of connection.
        let (size, idle, max) = match &self.db.inner {
            Kind::SqlxPostgresPoolConnection(_) => {
                let pool = self.db.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            Kind::SqlxSqlitePoolConnection(_) => {
                let pool = self.db.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => (0, 0, 0),
        };
        PoolStatus {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }

    /// PostgreSQL carries events between replicas (LISTEN/NOTIFY); SQLite serves one process.
    pub fn is_postgres(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// A connection listening on a PostgreSQL NOTIFY channel; None on SQLite.
    pub(crate) async fn listen(
        &self,
        channel: &str,
    ) -> StoreResult<Option<sea_orm::sqlx::postgres::PgListener>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        let unavailable = |e: sea_orm::sqlx::Error| {
            StoreError::Unavailable(sea_orm::DbErr::Custom(e.to_string()))
        };
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(unavailable)?;
        listener.listen(channel).await.map_err(unavailable)?;
        Ok(Some(listener))
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Ready means the database answers and no migration is pending.
    pub async fn is_ready(&self) -> bool {
        if self.db.ping().await.is_err() {
            return false;
        }
        matches!(Migrator::get_pending_migrations(&self.db).await, Ok(p) if p.is_empty())
    }
}
