//! GraphQL output types, each a thin view of a domain type.

mod area;
mod intervention;
mod need;
mod organisation;
mod overlap;
mod population;
mod sector;

pub use area::{Area, AreaConnection, area_connection};
pub use intervention::{Intervention, InterventionCount};
pub use need::{Need, NeedCount, ProgressReport};
pub use organisation::{Organisation, OrganisationCount};
pub use overlap::{FindingCount, OverlapFinding};
pub use population::Population;
pub use sector::{Sector, SectorCount};

use async_graphql::{Context, ID};

use crate::error::{ApiError, ApiResult};

/// Parses an id a client sent, naming the argument when it is not one of ours.
pub fn parse_id(field: &str, id: &ID) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid(field, "is not a valid id"))
}

pub fn store<'a>(ctx: &'a Context<'_>) -> &'a concord_store::Store {
    ctx.data_unchecked::<concord_store::Store>()
}
