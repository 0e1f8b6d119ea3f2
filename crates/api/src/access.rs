//! The one place that decides what a caller may read and change. Every resolver asks here,
//! so the rule holds on every database.
//!
//! Until callers can sign in, every caller is anonymous, and anonymous callers read PUBLIC
//! records only: PARTNERS records need a signed-in partner and RESTRICTED ones the reporting
//! organisation, so both stay hidden (a hidden record does not exist: NOT_FOUND, never
//! FORBIDDEN).

use async_graphql::Context;
use concord_domain::values::Visibility;

/// Who is calling. The HTTP layer puts one into every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Principal {
    #[default]
    Anonymous,
}

impl Principal {
    pub fn readable(&self) -> Vec<Visibility> {
        match self {
            Principal::Anonymous => vec![Visibility::Public],
        }
    }
}

pub fn principal<'a>(ctx: &'a Context<'_>) -> &'a Principal {
    static ANONYMOUS: Principal = Principal::Anonymous;
    ctx.data_opt::<Principal>().unwrap_or(&ANONYMOUS)
}

/// The visibilities the caller may read.
pub fn readable(ctx: &Context<'_>) -> Vec<Visibility> {
    principal(ctx).readable()
}
