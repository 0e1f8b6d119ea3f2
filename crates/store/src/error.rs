//! Store errors.
//!
//! Policy: `NotFound`, `Forbidden`, `Conflict` and `Invalid` are the caller's (a missing or hidden record,
//! a stale version or a duplicate key, a reference to something that does not exist) and
//! carry a message fit for a client. `Busy` and `Unavailable` are passing: nothing was
//! written and the same request may succeed later. `TimedOut` is a statement PostgreSQL
//! stopped at the statement timeout: nothing was written, and the same request may well
//! take as long again. `Database` is ours: the API logs it with
//! its origin and shows the client an opaque internal error.

use std::panic::Location;

use concord_domain::{ValidationError, ValidationErrors};
use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The caller sees the record but may not change it.
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// Another transaction held what this one needed, and this one was rolled back whole:
    /// PostgreSQL broke a deadlock or a serialization conflict, or SQLite's write lock
    /// stayed taken past the busy timeout.
    #[error("the database is busy: {0}")]
    Busy(DbErr),
    /// PostgreSQL stopped a statement that ran past the statement timeout; its transaction
    /// was rolled back whole.
    #[error("the database stopped a statement at the statement timeout: {0}")]
    TimedOut(DbErr),
    #[error("the database is unavailable: {0}")]
    Unavailable(DbErr),
    #[error("database error at {location}: {source}")]
    Database {
        source: DbErr,
        location: &'static Location<'static>,
    },
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid(ValidationError::new(field, message).into())
    }
}

impl From<DbErr> for StoreError {
    /// Sorts a database error once, remembering where it surfaced.
    #[track_caller]
    fn from(source: DbErr) -> Self {
        match refusal(&source) {
            Some(Refusal::Contention) => return StoreError::Busy(source),
            Some(Refusal::Cancelled) => return StoreError::TimedOut(source),
            None => {}
        }
        match source.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return StoreError::Conflict("a record with the same key already exists".into());
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return StoreError::Conflict(
                    "the record is referenced by, or refers to, another record".into(),
                );
            }
            _ => {}
        }
        match source {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(source),
            DbErr::RecordNotFound(_) => StoreError::NotFound,
            source => StoreError::Database {
                source,
                location: Location::caller(),
            },
        }
    }
}

/// Why the database refused a statement, when that is a passing condition rather than a
/// fault of the request or of ours.
enum Refusal {
    /// Another transaction held what this one needed. PostgreSQL: `40P01` (deadlock
    /// detected) and `40001` (serialization failure). SQLite: the primary result codes
    /// `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6), whatever the extended code.
    Contention,
    /// PostgreSQL cancelled the statement (`57014`): it ran past the statement timeout.
    Cancelled,
}

/// Reads the database's own code; a failed `BEGIN` arrives as a connection error, so that
/// is read too.
fn refusal(error: &DbErr) -> Option<Refusal> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = error
    else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return None;
    };
    let code = e.code()?;
    if e.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        return match &*code {
            "40P01" | "40001" => Some(Refusal::Contention),
            "57014" => Some(Refusal::Cancelled),
            _ => None,
        };
    }
    let sqlite = e
        .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some();
    (sqlite && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)))
        .then_some(Refusal::Contention)
}

/// An error that may be a whole transaction rolled back because another transaction held
/// what it needed (`StoreError::Busy`): the same write may then simply be run again.
pub trait RolledBack: std::fmt::Debug {
    fn by_contention(&self) -> bool;
}

impl RolledBack for StoreError {
    fn by_contention(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
