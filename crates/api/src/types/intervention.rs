use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use concord_domain::{intervention, reference};
use concord_store::InterventionFilter;

use super::{Area, Organisation, Population, ProgressReport, Sector};
use crate::enums::{
    ActivityStatus, Approach, InterventionKind, OrganisationRole, SectorVocabulary, Visibility,
};
use crate::error::{ApiError, ApiResult};
use crate::loaders::{Areas, Organisations, Progress};
use crate::scalars::Date;

/// Who does what, where, when, for whom, with what money.
pub struct Intervention(pub intervention::Intervention);

/// An organisation taking part in an intervention, in an IATI role.
pub struct Participation(intervention::Participation);

/// A sector an intervention works in, with its share when given.
pub struct InterventionSector(intervention::SectorShare);

/// A place an intervention works in, with the people it targets there when known.
pub struct InterventionLocation(intervention::Location);

#[derive(SimpleObject)]
pub struct Money {
    pub amount: f64,
    /// ISO 4217 code.
    pub currency: String,
}

#[Object]
impl Intervention {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }

    /// The reporting organisation's own identifier (the IATI identifier when published to IATI).
    async fn external_id(&self) -> &str {
        &self.0.record.external_id
    }

    async fn title(&self) -> &str {
        &self.0.record.title
    }

    async fn description(&self) -> Option<&str> {
        self.0.record.description.as_deref()
    }

    async fn reporting_organisation(&self, ctx: &Context<'_>) -> ApiResult<Organisation> {
        ctx.data_unchecked::<Organisations>()
            .load_one(self.0.record.reporting_organisation)
            .await?
            .map(Organisation)
            .ok_or_else(|| {
                ApiError::Internal("intervention without its reporting organisation".into())
            })
    }

    async fn participants(&self) -> Vec<Participation> {
        self.0
            .record
            .participants
            .iter()
            .cloned()
            .map(Participation)
            .collect()
    }

    async fn sectors(&self) -> Vec<InterventionSector> {
        self.0
            .record
            .sectors
            .iter()
            .cloned()
            .map(InterventionSector)
            .collect()
    }

    async fn locations(&self) -> Vec<InterventionLocation> {
        self.0
            .record
            .locations
            .iter()
            .cloned()
            .map(InterventionLocation)
            .collect()
    }

    async fn planned_start(&self) -> Option<Date> {
        self.0.record.planned.map(|p| Date(p.start()))
    }

    async fn planned_end(&self) -> Option<Date> {
        self.0.record.planned.and_then(|p| p.end()).map(Date)
    }

    async fn actual_start(&self) -> Option<Date> {
        self.0.record.actual.map(|p| Date(p.start()))
    }

    async fn actual_end(&self) -> Option<Date> {
        self.0.record.actual.and_then(|p| p.end()).map(Date)
    }

    /// When the intervention runs: actual dates where known, else planned.
    async fn start(&self) -> Option<Date> {
        self.0.record.effective_period().map(|p| Date(p.start()))
    }

    /// Absent while the intervention is ongoing with no end date.
    async fn end(&self) -> Option<Date> {
        self.0
            .record
            .effective_period()
            .and_then(|p| p.end())
            .map(Date)
    }

    async fn status(&self) -> ActivityStatus {
        self.0.record.status.into()
    }

    async fn kind(&self) -> InterventionKind {
        self.0.record.kind.into()
    }

    async fn approach(&self) -> Approach {
        self.0.record.approach.into()
    }

    /// The people the intervention aims to reach. A target is never a count of people reached.
    async fn target(&self) -> Option<Population> {
        self.0.record.target.clone().map(Population)
    }

    async fn budget(&self) -> Option<Money> {
        self.0.record.budget.as_ref().map(|b| Money {
            amount: b.amount(),
            currency: b.currency().to_owned(),
        })
    }

    async fn visibility(&self) -> Visibility {
        self.0.record.visibility.into()
    }

    /// Identifiers of other records of the same activity this one references.
    async fn linked_activities(&self) -> &[String] {
        &self.0.record.linked_activities
    }

    /// The IATI humanitarian flag, when stated.
    async fn humanitarian(&self) -> Option<bool> {
        self.0.record.humanitarian
    }

    /// Increases on every change; send it back as `expectedVersion` to update or delete.
    async fn version(&self) -> i64 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Overlap findings of this intervention that the caller may see (both sides
    /// readable), the strongest first.
    async fn overlaps(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::OverlapFinding>> {
        let filter = concord_store::FindingFilter {
            scope: crate::access::read_scope(ctx)?,
            intervention: Some(self.0.id),
            ..Default::default()
        };
        let page = super::store(ctx)
            .findings(
                &filter,
                concord_store::PageRequest {
                    after: None,
                    first: concord_store::MAX_PAGE_SIZE,
                },
            )
            .await?;
        let mut findings: Vec<_> = page.items.into_iter().map(super::OverlapFinding).collect();
        findings.sort_by(|a, b| b.0.finding.score.total_cmp(&a.0.finding.score));
        Ok(findings)
    }

    /// People reached, period by period, oldest first.
    async fn progress(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProgressReport>> {
        Ok(ctx
            .data_unchecked::<Progress>()
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(ProgressReport)
            .collect())
    }
}

#[Object]
impl Participation {
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Organisation> {
        ctx.data_unchecked::<Organisations>()
            .load_one(self.0.organisation)
            .await?
            .map(Organisation)
            .ok_or_else(|| ApiError::Internal("participant without its organisation".into()))
    }

    async fn role(&self) -> OrganisationRole {
        self.0.role.into()
    }

    /// The participant's own identifier for the same activity.
    async fn activity_id(&self) -> Option<&str> {
        self.0.activity_id.as_deref()
    }
}

#[Object]
impl InterventionSector {
    async fn vocabulary(&self) -> SectorVocabulary {
        self.0.vocabulary.into()
    }

    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn percentage(&self) -> Option<f64> {
        self.0.percentage.map(|p| p.get())
    }

    async fn sector(&self) -> Option<Sector> {
        reference::sector(self.0.vocabulary, &self.0.code).map(Sector)
    }
}

#[Object]
impl InterventionLocation {
    async fn pcode(&self) -> &str {
        self.0.pcode.as_str()
    }

    async fn area(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        Ok(ctx
            .data_unchecked::<Areas>()
            .load_one(self.0.pcode.clone())
            .await?
            .map(Area))
    }

    /// People targeted in this area, when the reporter gave a per-location figure.
    async fn target(&self) -> Option<u64> {
        self.0.target.map(|t| t.get())
    }

    /// The named place within the area (a community, school or camp), when given.
    async fn site(&self) -> Option<&str> {
        self.0.site.as_deref()
    }
}

pub struct InterventionCount(pub InterventionFilter);

#[Object]
impl InterventionCount {
    /// How many interventions match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(super::store(ctx).count_interventions(&self.0).await?)
    }
}
