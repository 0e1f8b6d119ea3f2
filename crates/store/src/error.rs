//! Store errors.
//!
//! Policy: `NotFound`, `Forbidden`, `Conflict` and `Invalid` are the caller's (a missing or hidden record,
//! a stale version or a duplicate key, a reference to something that does not exist) and
//! carry a message fit for a client. `Busy` and `Unavailable` are passing: nothing was
//! written and the same request may succeed later. `Database` is ours: the API logs it with
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
        if is_contention(&source) {
            return StoreError::Busy(source);
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

/// Whether the database refused a statement because another transaction held what it
/// needed. PostgreSQL: `40P01` (deadlock detected) and `40001` (serialization failure).
/// SQLite: the primary result codes `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6), whatever the
/// extended code. A failed `BEGIN` arrives as a connection error, so that is read too.
fn is_contention(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = error
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return false;
    };
    let Some(code) = e.code() else {
        return false;
    };
    if e.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        return matches!(&*code, "40P01" | "40001");
    }
    e.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some()
        && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

pub type StoreResult<T> = Result<T, StoreError>;
