//! Relay cursors and page sizes, shared by every connection.

use async_graphql::connection::CursorType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use concord_store::{MAX_PAGE_SIZE, PageRequest};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// An opaque cursor over a row id. Clients must not build cursors, so it is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdCursor(pub i64);

impl CursorType for IdCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "malformed cursor".to_owned())?;
        let text = String::from_utf8(bytes).map_err(|_| "malformed cursor".to_owned())?;
        text.strip_prefix("id:")
            .and_then(|n| n.parse().ok())
            .map(IdCursor)
            .ok_or_else(|| "malformed cursor".to_owned())
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("id:{}", self.0))
    }
}

/// Turns `first`/`after` into a page request. `first` is capped at the store's maximum.
pub fn page_request(first: Option<i32>, after: Option<String>) -> ApiResult<PageRequest> {
    let first = match first {
        Some(n) if n < 0 => return Err(ApiError::invalid("first", "must not be negative")),
        Some(n) => (n as u64).min(MAX_PAGE_SIZE),
        None => DEFAULT_PAGE_SIZE,
    };
    let after = after
        .map(|c| IdCursor::decode_cursor(&c).map_err(|e| ApiError::invalid("after", &e)))
        .transpose()?
        .map(|c| c.0);
    Ok(PageRequest { after, first })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = IdCursor(42).encode_cursor();
        assert_eq!(IdCursor::decode_cursor(&c), Ok(IdCursor(42)));
        assert!(IdCursor::decode_cursor("42").is_err());
        assert!(page_request(Some(-1), None).is_err());
        assert_eq!(
            page_request(Some(10_000), None).unwrap().first,
            MAX_PAGE_SIZE
        );
    }
}
