use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use concord_domain::need::{NeedSector, NewNeed, NewProgressReport, Severity};
use concord_domain::reference;
use concord_store::NeedFilter as StoreFilter;

use super::area_path;
use crate::access::{self, read_scope};
use crate::error::{ApiError, ApiResult};
use crate::inputs::{NeedInput, ReportProgressInput};
use crate::paging::{IdCursor, page_request};
use crate::scalars::Date;
use crate::types::{Need, NeedCount, ProgressReport, store};

#[derive(InputObject, Default)]
pub struct NeedFilter {
    /// A P-code: needs there or in any area below it.
    pub area: Option<String>,
    /// A DAC code, cluster id or HPC code, or `intersectoral`.
    pub sector: Option<String>,
    /// Needs whose period meets [from, to].
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub min_severity: Option<i64>,
}

impl NeedFilter {
    async fn into_store(self, ctx: &Context<'_>) -> ApiResult<StoreFilter> {
        read_scope(ctx)?;
        let sector_keys = match self.sector.as_deref().map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("intersectoral") => {
                Some(vec![NeedSector::Intersectoral.key()])
            }
            Some(code) => {
                let sectors = reference::expand_sector_filter(code).ok_or_else(|| {
                    ApiError::invalid(
                        "filter.sector",
                        &format!("`{code}` is not a known sector code"),
                    )
                })?;
                Some(
                    sectors
                        .into_iter()
                        .map(|(vocabulary, code)| NeedSector::Sector { vocabulary, code }.key())
                        .collect(),
                )
            }
            None => None,
        };
        Ok(StoreFilter {
            area: match self.area.as_deref() {
                Some(pcode) => Some(area_path(ctx, "filter.area", pcode).await?),
                None => None,
            },
            sector_keys,
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
            min_severity: self
                .min_severity
                .map(|s| Severity::parse("filter.minSeverity", s))
                .transpose()
                .map_err(|e| ApiError::invalid(&e.field, &e.message))?,
        })
    }
}

#[derive(Default)]
pub struct NeedQuery;

#[Object]
impl NeedQuery {
    /// People in need per area, sector and period.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn needs(
        &self,
        ctx: &Context<'_>,
        filter: Option<NeedFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, Need, NeedCount>> {
        let filter = filter.unwrap_or_default().into_store(ctx).await?;
        let has_after = after.is_some();
        let page = store(ctx)
            .needs(&filter, page_request(first, after)?)
            .await?;
        let mut connection =
            Connection::with_additional_fields(has_after, page.has_next_page, NeedCount(filter));
        connection.edges = page
            .items
            .into_iter()
            .map(|n| Edge::new(IdCursor(n.id.0), Need(n)))
            .collect();
        Ok(connection)
    }
}

#[derive(SimpleObject)]
pub struct UpsertNeedPayload {
    need: Need,
}

#[derive(SimpleObject)]
pub struct ReportProgressPayload {
    progress_report: ProgressReport,
}

#[derive(Default)]
pub struct NeedMutation;

#[Object]
impl NeedMutation {
    /// States the people in need of an area for a sector (or intersectoral) and a period,
    /// replacing an earlier figure for the same area, sector and period.
    async fn upsert_need(
        &self,
        ctx: &Context<'_>,
        input: NeedInput,
    ) -> ApiResult<UpsertNeedPayload> {
        access::signed_in(ctx)?;
        let need = NewNeed::parse(&input.into())?;
        let area = store(ctx).area(&need.pcode).await?.ok_or_else(|| {
            ApiError::invalid("pcode", &format!("no area has the P-code {}", need.pcode))
        })?;
        let sector = match &need.sector {
            NeedSector::Intersectoral => None,
            NeedSector::Sector { vocabulary, code } => Some((*vocabulary, code.clone())),
        };
        access::require(ctx, |p| p.may_state_need(&area.path, sector.as_ref()))?;
        Ok(UpsertNeedPayload {
            need: Need(store(ctx).upsert_need(&need, access::actor(ctx)).await?),
        })
    }

    /// Reports the people an intervention reached in a period, replacing an earlier report
    /// of the same period.
    async fn report_progress(
        &self,
        ctx: &Context<'_>,
        input: ReportProgressInput,
    ) -> ApiResult<ReportProgressPayload> {
        access::signed_in(ctx)?;
        let report = NewProgressReport::parse(&input.into_domain()?)?;
        let writer = access::signed_in(ctx)?;
        let saved = store(ctx)
            .report_progress(&report, writer, access::actor(ctx))
            .await?;
        Ok(ReportProgressPayload {
            progress_report: ProgressReport(saved),
        })
    }
}
