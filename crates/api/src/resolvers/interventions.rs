use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concord_domain::intervention::{InterventionId, NewIntervention};
use concord_domain::organisation::OrganisationId;
use concord_domain::reference;
use concord_domain::values;
use concord_store::InterventionFilter as StoreFilter;

use super::area_path;
use crate::access::{self, read_scope};
use crate::enums::ActivityStatus;
use crate::error::{ApiError, ApiResult};
use crate::events::OverlapEvents;
use crate::inputs::InterventionInput;
use crate::paging::{IdCursor, page_request};
use crate::scalars::Date;
use crate::types::{Intervention, InterventionCount, OverlapFinding, parse_id, store};
use concord_store::WrittenIntervention;

#[derive(InputObject, Default)]
pub struct InterventionFilter {
    /// Reporting or participating organisation.
    pub organisation_id: Option<ID>,
    /// A DAC code, cluster id or HPC code. A cluster matches its DAC codes through the
    /// crosswalk, a DAC category its 5-digit codes.
    pub sector: Option<String>,
    /// A P-code: interventions located there or in any area below it.
    pub area: Option<String>,
    /// Running on at least one day from `activeFrom` to `activeTo` (inclusive).
    pub active_from: Option<Date>,
    pub active_to: Option<Date>,
    pub status: Option<Vec<ActivityStatus>>,
    /// Words in the title, description or external id.
    pub text: Option<String>,
}

impl InterventionFilter {
    async fn into_store(self, ctx: &Context<'_>) -> ApiResult<StoreFilter> {
        let sectors = match self.sector.as_deref() {
            Some(code) => Some(reference::expand_sector_filter(code.trim()).ok_or_else(|| {
                ApiError::invalid(
                    "filter.sector",
                    &format!("`{code}` is not a known sector code"),
                )
            })?),
            None => None,
        };
        let area = match self.area.as_deref() {
            Some(pcode) => Some(area_path(ctx, "filter.area", pcode).await?),
            None => None,
        };
        if let (Some(from), Some(to)) = (self.active_from, self.active_to)
            && to.0 < from.0
        {
            return Err(ApiError::invalid("filter.activeTo", "is before activeFrom"));
        }
        Ok(StoreFilter {
            scope: read_scope(ctx)?,
            organisation: self
                .organisation_id
                .map(|id| parse_id("filter.organisationId", &id).map(OrganisationId))
                .transpose()?,
            sectors,
            area,
            active_from: self.active_from.map(|d| d.0),
            active_to: self.active_to.map(|d| d.0),
            statuses: self
                .status
                .map(|s| s.into_iter().map(values::ActivityStatus::from).collect()),
            text: self.text,
        })
    }
}

#[derive(Default)]
pub struct InterventionQuery;

#[Object]
impl InterventionQuery {
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn interventions(
        &self,
        ctx: &Context<'_>,
        filter: Option<InterventionFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, Intervention, InterventionCount>> {
        let filter = filter.unwrap_or_default().into_store(ctx).await?;
        let has_after = after.is_some();
        let page = store(ctx)
            .interventions(&filter, page_request(first, after)?)
            .await?;
        record_restricted_reads(ctx, &page.items).await?;
        crate::loaders::prime_for_interventions(ctx, &page.items).await?;
        let mut connection = Connection::with_additional_fields(
            has_after,
            page.has_next_page,
            InterventionCount(filter),
        );
        connection.edges = page
            .items
            .into_iter()
            .map(|i| Edge::new(IdCursor(i.id.0), Intervention(i)))
            .collect();
        Ok(connection)
    }

    async fn intervention(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Intervention>> {
        let id = InterventionId(parse_id("id", &id)?);
        let found = store(ctx).intervention(id, &read_scope(ctx)?).await?;
        if let Some(found) = &found {
            record_restricted_reads(ctx, std::slice::from_ref(found)).await?;
        }
        Ok(found.map(Intervention))
    }
}

/// RESTRICTED records read by someone outside their reporting organisation (a coordinator,
/// an administrator) leave a trace in the audit trail.
async fn record_restricted_reads(
    ctx: &Context<'_>,
    read: &[concord_domain::intervention::Intervention],
) -> ApiResult<()> {
    let own = access::principal(ctx).organisations();
    let outside: Vec<i64> = read
        .iter()
        .filter(|i| {
            i.record.visibility == values::Visibility::Restricted
                && !own.contains(&i.record.reporting_organisation)
        })
        .map(|i| i.id.0)
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    // Every such read is audited, so this answer must not be given again from memory.
    if let Some(verdict) = ctx.data_opt::<std::sync::Arc<crate::response_cache::Verdict>>() {
        verdict.audited();
    }
    Ok(store(ctx)
        .record_restricted_reads(access::actor(ctx), &outside)
        .await?)
}

#[derive(SimpleObject)]
pub struct InterventionPayload {
    intervention: Intervention,
    /// Possible duplication found at write time: the findings of this intervention that
    /// the writer may see (both sides readable).
    overlaps: Vec<OverlapFinding>,
}

/// Announces new findings and keeps those the writer may see for the payload.
async fn payload(
    ctx: &Context<'_>,
    written: WrittenIntervention,
) -> ApiResult<InterventionPayload> {
    ctx.data_unchecked::<OverlapEvents>()
        .announce(&written.new_findings);
    let scope = access::principal(ctx).read_scope();
    let mut overlaps = Vec::new();
    for finding in written.overlaps {
        if let Some(visible) = store(ctx).finding(finding.id, &scope).await? {
            overlaps.push(OverlapFinding(visible));
        }
    }
    Ok(InterventionPayload {
        intervention: Intervention(written.intervention),
        overlaps,
    })
}

#[derive(SimpleObject)]
pub struct DeleteInterventionPayload {
    deleted_id: ID,
}

#[derive(Default)]
pub struct InterventionMutation;

#[Object]
impl InterventionMutation {
    /// Registers an intervention. The same external id twice for one organisation is a CONFLICT.
    async fn create_intervention(
        &self,
        ctx: &Context<'_>,
        input: InterventionInput,
    ) -> ApiResult<InterventionPayload> {
        access::signed_in(ctx)?;
        let record = NewIntervention::parse(&input.into_domain()?)?;
        access::require(ctx, |p| p.may_write_for(record.reporting_organisation))?;
        let started = std::time::Instant::now();
        let written = store(ctx)
            .create_intervention(&record, access::actor(ctx))
            .await?;
        metrics::histogram!(crate::metrics::WRITE_DURATION, "kind" => "create")
            .record(started.elapsed());
        payload(ctx, written).await
    }

    /// Replaces an intervention. `expectedVersion` is the version the caller last read; if
    /// someone changed it since, the update is refused with CONFLICT.
    async fn update_intervention(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i64,
        input: InterventionInput,
    ) -> ApiResult<InterventionPayload> {
        access::signed_in(ctx)?;
        let id = InterventionId(parse_id("id", &id)?);
        let record = NewIntervention::parse(&input.into_domain()?)?;
        let writer = access::signed_in(ctx)?;
        let started = std::time::Instant::now();
        let stored = store(ctx)
            .update_intervention(id, expected_version, writer, &record, access::actor(ctx))
            .await?;
        metrics::histogram!(crate::metrics::WRITE_DURATION, "kind" => "update")
            .record(started.elapsed());
        payload(ctx, stored).await
    }

    /// Deletes an intervention and its progress reports, if `expectedVersion` is current.
    async fn delete_intervention(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i64,
    ) -> ApiResult<DeleteInterventionPayload> {
        access::signed_in(ctx)?;
        let parsed = InterventionId(parse_id("id", &id)?);
        let writer = access::signed_in(ctx)?;
        store(ctx)
            .delete_intervention(parsed, expected_version, writer, access::actor(ctx))
            .await?;
        Ok(DeleteInterventionPayload { deleted_id: id })
    }
}
