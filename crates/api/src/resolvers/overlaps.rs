use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, Subscription};
use concord_domain::organisation::OrganisationId;
use concord_domain::reference;
use concord_domain::review::ReviewStatus as DomainStatus;
use concord_store::{FindingFilter, PageRequest, Store};
use futures_util::Stream;

use super::area_path;
use crate::access::{self, read_scope};
use crate::enums::ReviewStatus;
use crate::error::{ApiError, ApiResult};
use crate::events::OverlapEvents;
use crate::paging::{IdCursor, page_request};
use crate::scalars::Date;
use crate::types::{FindingCount, OverlapFinding, parse_id, store};

#[derive(InputObject, Default, Clone)]
pub struct OverlapFilter {
    pub status: Option<Vec<ReviewStatus>>,
    pub min_score: Option<f64>,
    /// Either intervention reported or joined by this organisation.
    pub organisation_id: Option<ID>,
    /// A P-code: either intervention located there or below.
    pub area: Option<String>,
    /// A DAC code, cluster id or HPC code, for either intervention.
    pub sector: Option<String>,
    /// Either intervention running on a day from `from` to `to`.
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl OverlapFilter {
    async fn into_store(self, ctx: &Context<'_>) -> ApiResult<FindingFilter> {
        if self.min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err(ApiError::invalid(
                "filter.minScore",
                "must be between 0 and 1",
            ));
        }
        Ok(FindingFilter {
            scope: read_scope(ctx)?,
            statuses: self
                .status
                .map(|s| s.into_iter().map(DomainStatus::from).collect()),
            min_score: self.min_score,
            organisation: self
                .organisation_id
                .map(|id| parse_id("filter.organisationId", &id).map(OrganisationId))
                .transpose()?,
            area: match self.area.as_deref() {
                Some(pcode) => Some(area_path(ctx, "filter.area", pcode).await?),
                None => None,
            },
            sectors: match self.sector.as_deref() {
                Some(code) => {
                    Some(reference::expand_sector_filter(code.trim()).ok_or_else(|| {
                        ApiError::invalid(
                            "filter.sector",
                            &format!("`{code}` is not a known sector code"),
                        )
                    })?)
                }
                None => None,
            },
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
            intervention: None,
            id: None,
        })
    }
}

#[derive(Default)]
pub struct OverlapQuery;

#[Object]
impl OverlapQuery {
    /// Overlap findings the caller may see (both interventions readable), oldest first.
    #[graphql(complexity = "crate::limits::page_cost(first, child_complexity)")]
    async fn overlaps(
        &self,
        ctx: &Context<'_>,
        filter: Option<OverlapFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<IdCursor, OverlapFinding, FindingCount>> {
        let filter = filter.unwrap_or_default().into_store(ctx).await?;
        let has_after = after.is_some();
        let page = store(ctx)
            .findings(&filter, page_request(first, after)?)
            .await?;
        let mut connection =
            Connection::with_additional_fields(has_after, page.has_next_page, FindingCount(filter));
        connection.edges = page
            .items
            .into_iter()
            .map(|f| Edge::new(IdCursor(f.id), OverlapFinding(f)))
            .collect();
        Ok(connection)
    }
}

#[derive(Default)]
pub struct OverlapMutation;

#[Object]
impl OverlapMutation {
    /// Records what a finding is: CONFIRMED_DUPLICATE, COMPLEMENTARY or RESOLVED (or OPEN
    /// again). Coordinators of either intervention's area and sector and the two
    /// organisations involved may review; the history is kept.
    async fn review_overlap(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: ReviewStatus,
        note: Option<String>,
    ) -> ApiResult<OverlapFinding> {
        let reviewer = access::signed_in(ctx)?;
        let id = parse_id("id", &id)?;
        let note = concord_domain::values::optional_text("note", note.as_deref(), 2000)
            .map_err(|e| ApiError::invalid("note", &e.message))?;
        let saved = store(ctx)
            .review_finding(id, status.into(), note, reviewer, access::actor(ctx))
            .await?;
        Ok(OverlapFinding(saved))
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New overlap findings as they are detected, on any replica, that the caller may see
    /// and that match the filter.
    async fn overlap_detected(
        &self,
        ctx: &Context<'_>,
        filter: Option<OverlapFilter>,
    ) -> async_graphql::Result<impl Stream<Item = OverlapFinding> + use<>> {
        let filter = filter.unwrap_or_default().into_store(ctx).await?;
        let store = ctx.data_unchecked::<Store>().clone();
        let receiver = ctx.data_unchecked::<OverlapEvents>().subscribe();
        Ok(futures_util::stream::unfold(
            (receiver, store, filter),
            |(mut receiver, store, filter)| async move {
                loop {
                    let id = match receiver.recv().await {
                        Ok(id) => id,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    };
                    let one = FindingFilter {
                        id: Some(id),
                        ..filter.clone()
                    };
                    let page = PageRequest {
                        after: None,
                        first: 1,
                    };
                    match store.findings(&one, page).await {
                        Ok(found) => {
                            if let Some(finding) = found.items.into_iter().next() {
                                return Some((OverlapFinding(finding), (receiver, store, filter)));
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot load a new finding"),
                    }
                }
            },
        ))
    }
}
