//! How failures reach a client.
//!
//! Policy: the client's mistakes (invalid input, a missing or hidden record, a stale version
//! or duplicate key) become GraphQL errors with a stable `extensions.code` (`VALIDATION` with
//! the field paths, `NOT_FOUND`, `CONFLICT`) and a message meant for people. Our failures (a
//! database error, a bug) are logged with a correlation id and reach the client only as
//! `INTERNAL` with that id: no SQL, no stack, no file path. A database that is busy (a
//! deadlock broken, a lock held too long) or out of reach is neither: it answers
//! `UNAVAILABLE`, meaning nothing was written and the same request may be sent again; a
//! statement stopped at the statement timeout answers `TIMEOUT`, as a query stopped at
//! the query timeout does. This
//! is the one place that maps.

use async_graphql::{ErrorExtensions, Value};
use concord_domain::ValidationErrors;
use concord_store::StoreError;

/// Deliberately not `Display`: the only way to a client is `extend`, which adds the code,
/// so no error can slip out through async-graphql's blanket conversion without one.
#[derive(Clone, Debug)]
pub enum ApiError {
    Validation(ValidationErrors),
    /// No valid credentials where they are needed.
    Unauthenticated,
    /// The caller may see the record but not do this to it.
    Forbidden,
    /// Too many attempts; try again later.
    RateLimited,
    NotFound,
    Conflict(String),
    /// Another transaction held what this request needed, and its transaction was rolled
    /// back whole (tried again where the write can be). Details for the log only.
    Busy(String),
    /// The database was out of reach; nothing was written. Details for the log only.
    Unavailable(String),
    /// The database stopped a statement at the statement timeout; nothing was written.
    /// Details for the log only.
    TimedOut(String),
    /// Details for the log only.
    Internal(String),
}

/// Seconds a client is asked to wait before sending again a request that met a busy or
/// unreachable database.
pub(crate) const UNAVAILABLE_RETRY_AFTER: u64 = 1;

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "VALIDATION",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::RateLimited => "RATE_LIMITED",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Busy(_) | ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::TimedOut(_) => crate::limits::TIMEOUT,
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Validation(errors) => format!("invalid input: {errors}"),
            ApiError::Unauthenticated => "sign in first".to_owned(),
            ApiError::Forbidden => "you may not do this".to_owned(),
            ApiError::RateLimited => "too many attempts; try again later".to_owned(),
            ApiError::NotFound => "not found".to_owned(),
            ApiError::Conflict(message) => message.clone(),
            ApiError::Busy(_) | ApiError::Unavailable(_) => {
                "the database is busy or unavailable; nothing was written, try again".to_owned()
            }
            ApiError::TimedOut(_) => {
                "the database stopped the query at the statement timeout; nothing was written: ask for less (a smaller `first`, a narrower filter)"
                    .to_owned()
            }
            ApiError::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn invalid(field: &str, message: &str) -> Self {
        ApiError::Validation(concord_domain::ValidationError::new(field, message).into())
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Validation(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Forbidden => ApiError::Forbidden,
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(v) => ApiError::Validation(v),
            e @ StoreError::Busy(_) => ApiError::Busy(e.to_string()),
            e @ StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            e @ StoreError::TimedOut(_) => ApiError::TimedOut(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<std::sync::Arc<StoreError>> for ApiError {
    fn from(e: std::sync::Arc<StoreError>) -> Self {
        match &*e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Forbidden => ApiError::Forbidden,
            StoreError::Conflict(m) => ApiError::Conflict(m.clone()),
            StoreError::Invalid(v) => ApiError::Validation(v.clone()),
            e @ StoreError::Busy(_) => ApiError::Busy(e.to_string()),
            e @ StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            e @ StoreError::TimedOut(_) => ApiError::TimedOut(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A file import is driven from here, so it is retried from here.
impl concord_store::RolledBack for ApiError {
    fn by_contention(&self) -> bool {
        matches!(self, ApiError::Busy(_))
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let (message, correlation) = match self {
            ApiError::Internal(detail) => {
                let id = correlation_id();
                tracing::error!(correlation_id = %id, error = %detail, "internal error");
                (format!("internal error (correlation id {id})"), Some(id))
            }
            ApiError::Busy(detail) | ApiError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database busy or unavailable");
                (self.message(), None)
            }
            ApiError::TimedOut(detail) => {
                tracing::warn!(error = %detail, "statement timeout");
                (self.message(), None)
            }
            other => (other.message(), None),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Some(id) = &correlation {
                ext.set("correlationId", id.as_str());
            }
            if let ApiError::Busy(_) | ApiError::Unavailable(_) = self {
                ext.set("retryAfter", UNAVAILABLE_RETRY_AFTER);
            }
            if let ApiError::Validation(errors) = self {
                let fields: Vec<Value> = errors
                    .0
                    .iter()
                    .map(|e| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(
                            async_graphql::Name::new("field"),
                            Value::from(e.field.as_str()),
                        );
                        m.insert(
                            async_graphql::Name::new("message"),
                            Value::from(e.message.as_str()),
                        );
                        Value::Object(m)
                    })
                    .collect();
                ext.set("fields", Value::List(fields));
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

/// The id that ties a client's error report to our log line: the request's id when one is
/// being served (it is on the access log line too), else a short random one.
fn correlation_id() -> String {
    if let Some(id) = crate::limits::current_request_id() {
        return id;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", h.finish())
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbErr;

    fn extended(error: StoreError) -> async_graphql::Error {
        ApiError::from(error).extend()
    }

    #[test]
    fn a_busy_or_unreachable_database_answers_unavailable_without_detail() {
        for error in [
            StoreError::Busy(DbErr::Custom("deadlock detected on relation 16701".into())),
            StoreError::Unavailable(DbErr::Custom("connection refused".into())),
        ] {
            let answer = extended(error);
            let extensions = answer.extensions.expect("extensions");
            assert_eq!(extensions.get("code"), Some(&Value::from("UNAVAILABLE")));
            assert_eq!(extensions.get("retryAfter"), Some(&Value::from(1)));
            assert!(extensions.get("correlationId").is_none());
            assert_eq!(
                answer.message,
                "the database is busy or unavailable; nothing was written, try again"
            );
        }
    }

    #[test]
    fn a_statement_stopped_at_the_statement_timeout_answers_timeout() {
        let answer = extended(StoreError::TimedOut(DbErr::Custom(
            "canceling statement due to statement timeout".into(),
        )));
        let extensions = answer.extensions.expect("extensions");
        assert_eq!(extensions.get("code"), Some(&Value::from("TIMEOUT")));
        assert!(extensions.get("retryAfter").is_none());
        assert!(!answer.message.contains("canceling"), "{}", answer.message);
    }

    #[test]
    fn a_database_failure_of_ours_stays_internal() {
        let answer = extended(StoreError::from(DbErr::Custom(
            "change payload: oops".into(),
        )));
        let extensions = answer.extensions.expect("extensions");
        assert_eq!(extensions.get("code"), Some(&Value::from("INTERNAL")));
        assert!(extensions.get("retryAfter").is_none());
        assert!(!answer.message.contains("oops"), "{}", answer.message);
    }
}
