use async_graphql::{Context, ID, Object};
use concord_domain::need::{self, NeedSector};
use concord_domain::reference;
use concord_store::NeedFilter;

use super::{Area, Population, Sector};
use crate::error::ApiResult;
use crate::loaders::Areas;
use crate::scalars::Date;

/// People in need in an area, for a sector (or all sectors) and a period.
pub struct Need(pub need::Need);

#[Object]
impl Need {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    async fn pcode(&self) -> &str {
        self.0.need.pcode.as_str()
    }

    async fn area(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        Ok(ctx
            .data_unchecked::<Areas>()
            .load_one(self.0.need.pcode.clone())
            .await?
            .map(Area))
    }

    /// Absent for the intersectoral figure.
    async fn sector(&self) -> Option<Sector> {
        match &self.0.need.sector {
            NeedSector::Intersectoral => None,
            NeedSector::Sector { vocabulary, code } => {
                reference::sector(*vocabulary, code).map(Sector)
            }
        }
    }

    /// True for the figure across all sectors. People in need are never summed across
    /// sectors: the overall figure is this one.
    async fn intersectoral(&self) -> bool {
        self.0.need.sector == NeedSector::Intersectoral
    }

    async fn period_start(&self) -> Date {
        Date(self.0.need.period.start())
    }

    async fn period_end(&self) -> Option<Date> {
        self.0.need.period.end().map(Date)
    }

    async fn people_in_need(&self) -> Population {
        Population(self.0.need.people_in_need.clone())
    }

    /// JIAF severity, 1 (minimal) to 5 (catastrophic).
    async fn severity(&self) -> Option<u8> {
        self.0.need.severity.map(|s| s.get())
    }

    async fn source(&self) -> Option<&str> {
        self.0.need.source.as_deref()
    }
}

pub struct NeedCount(pub NeedFilter);

#[Object]
impl NeedCount {
    /// How many needs match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(super::store(ctx).count_needs(&self.0).await?)
    }
}

/// People reached by an intervention in one period.
pub struct ProgressReport(pub need::ProgressReport);

#[Object]
impl ProgressReport {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    async fn intervention_id(&self) -> ID {
        ID(self.0.report.intervention.0.to_string())
    }

    async fn period_start(&self) -> Date {
        Date(self.0.report.period.start())
    }

    async fn period_end(&self) -> Option<Date> {
        self.0.report.period.end().map(Date)
    }

    async fn reached(&self) -> Population {
        Population(self.0.report.reached.clone())
    }

    async fn note(&self) -> Option<&str> {
        self.0.report.note.as_deref()
    }
}
