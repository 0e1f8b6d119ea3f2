//! Resolvers, one module per aggregate, joined into the root types.

mod areas;
pub(crate) mod coverage;
mod identity;
pub(crate) mod imports;
mod interventions;
mod needs;
mod organisations;
mod overlaps;
mod sectors;

use async_graphql::{Context, MergedObject};
use concord_domain::area::{AreaPath, Pcode};

use crate::error::{ApiError, ApiResult};
use crate::types::store;

#[derive(MergedObject, Default)]
pub struct Query(
    organisations::OrganisationQuery,
    areas::AreaQuery,
    sectors::SectorQuery,
    interventions::InterventionQuery,
    needs::NeedQuery,
    identity::IdentityQuery,
    overlaps::OverlapQuery,
    coverage::CoverageQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    organisations::OrganisationMutation,
    interventions::InterventionMutation,
    needs::NeedMutation,
    identity::IdentityMutation,
    overlaps::OverlapMutation,
    imports::ImportMutation,
);

pub use overlaps::Subscription;

/// Resolves a P-code a client filters by to its place in the hierarchy. An unknown P-code
/// is a mistake worth saying, not an empty result.
async fn area_path(ctx: &Context<'_>, field: &str, pcode: &str) -> ApiResult<AreaPath> {
    let pcode = Pcode::parse(pcode).map_err(|e| ApiError::invalid(field, &e.message))?;
    store(ctx)
        .area(&pcode)
        .await?
        .map(|a| a.path)
        .ok_or_else(|| ApiError::invalid(field, &format!("no area has the P-code {pcode}")))
}
