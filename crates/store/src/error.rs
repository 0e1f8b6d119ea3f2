//! Store errors.
//!
//! Policy: `NotFound`, `Forbidden`, `Conflict` and `Invalid` are the caller's (a missing or hidden record,
//! a stale version or a duplicate key, a reference to something that does not exist) and
//! carry a message fit for a client. `Unavailable` and `Database` are ours: the API logs them
//! with their origin and shows the client an opaque internal error.

use std::panic::Location;

use concord_domain::{ValidationError, ValidationErrors};
use sea_orm::{DbErr, SqlErr};

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

pub type StoreResult<T> = Result<T, StoreError>;
