//! The one place that decides what a caller may read and change. Every resolver asks here,
//! and the rules themselves live in `concord_domain::access`, so they hold on every
//! database and in every code path.
//!
//! A record the caller may not read does not exist for them: NOT_FOUND, never FORBIDDEN, so
//! the API is no oracle of what exists. FORBIDDEN answers only an attempt to change a
//! record the caller can see.

use async_graphql::Context;
use concord_domain::access::{Principal, ReadScope};
use concord_store::Actor;

use crate::error::{ApiError, ApiResult};

/// Who is calling and how, put into every request by the HTTP layer.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub actor: Actor,
    /// False when the deployment requires sign-in for everything.
    pub public_read: bool,
}

impl Caller {
    pub fn anonymous(public_read: bool) -> Self {
        Caller {
            principal: Principal::Anonymous,
            actor: Actor {
                label: "anonymous".to_owned(),
                ..Default::default()
            },
            public_read,
        }
    }
}

pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    static ANONYMOUS: std::sync::OnceLock<Caller> = std::sync::OnceLock::new();
    ctx.data_opt::<Caller>()
        .unwrap_or_else(|| ANONYMOUS.get_or_init(|| Caller::anonymous(true)))
}

pub fn principal<'a>(ctx: &'a Context<'_>) -> &'a Principal {
    &caller(ctx).principal
}

pub fn actor<'a>(ctx: &'a Context<'_>) -> &'a Actor {
    &caller(ctx).actor
}

/// What the caller may read; refuses anonymous callers where sign-in is required.
pub fn read_scope(ctx: &Context<'_>) -> ApiResult<ReadScope> {
    let caller = caller(ctx);
    if !caller.principal.is_signed_in() && !caller.public_read {
        return Err(ApiError::Unauthenticated);
    }
    Ok(caller.principal.read_scope())
}

/// Refuses anonymous callers; every write needs someone to answer for it.
pub fn signed_in<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Principal> {
    let principal = principal(ctx);
    if principal.is_signed_in() {
        Ok(principal)
    } else {
        Err(ApiError::Unauthenticated)
    }
}

/// Refuses a signed-in caller the rule does not allow.
pub fn require(ctx: &Context<'_>, allowed: impl FnOnce(&Principal) -> bool) -> ApiResult<()> {
    let principal = signed_in(ctx)?;
    if allowed(principal) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}
