use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use concord_domain::overlap::{FindingKind as DomainKind, SectorMatch, SpatialMatch};
use concord_store::StoredFinding;

use super::{Area, Intervention, store};
use crate::enums::{FindingKind, PopulationGroup, ReviewStatus, SectorVocabulary};
use crate::error::{ApiError, ApiResult};
use crate::loaders::{Areas, Interventions};

/// Two interventions that look like duplicated effort (or one organisation's work entered
/// twice), with the reasons and where its review stands. Shown only to callers who may read
/// both interventions.
pub struct OverlapFinding(pub StoredFinding);

/// Why the two interventions were paired.
#[derive(SimpleObject)]
pub struct OverlapReasons {
    /// SAME_CODE (the same DAC 5-digit code) or SAME_CLUSTER (through the crosswalk).
    pub sector_match: String,
    pub sector_vocabulary: SectorVocabulary,
    pub sector_code: String,
    /// SAME_AREA or NESTED.
    pub spatial_match: String,
    /// For NESTED: how many admin levels apart the two areas are.
    pub levels_apart: Option<u8>,
    /// The P-code of the deeper of the two meeting areas.
    pub shared_area_pcode: String,
    /// Days overlapped over the shorter duration.
    pub time_share: f64,
    pub shared_groups: Vec<PopulationGroup>,
    /// Combined targets over people in need there, when both are known.
    pub targets_over_need: Option<f64>,
}

/// One step of a review.
#[derive(SimpleObject)]
pub struct OverlapReview {
    pub status: ReviewStatus,
    pub note: Option<String>,
    pub reviewer: String,
    pub at: DateTime<Utc>,
}

impl OverlapFinding {
    async fn side(
        &self,
        ctx: &Context<'_>,
        id: concord_domain::intervention::InterventionId,
    ) -> ApiResult<Intervention> {
        ctx.data_unchecked::<Interventions>()
            .load_one(id)
            .await?
            .map(Intervention)
            // Findings are listed only when both sides are readable.
            .ok_or(ApiError::NotFound)
    }
}

#[Object]
impl OverlapFinding {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn kind(&self) -> FindingKind {
        match self.0.finding.kind {
            DomainKind::Overlap => FindingKind::Overlap,
            DomainKind::ProbableDuplicateRecord => FindingKind::ProbableDuplicateRecord,
        }
    }

    /// 0 to 1; see the README for the formula.
    async fn score(&self) -> f64 {
        self.0.finding.score
    }

    async fn status(&self) -> ReviewStatus {
        self.0.status.into()
    }

    /// The intervention with the smaller id.
    async fn intervention_a(&self, ctx: &Context<'_>) -> ApiResult<Intervention> {
        self.side(ctx, self.0.finding.a).await
    }

    async fn intervention_b(&self, ctx: &Context<'_>) -> ApiResult<Intervention> {
        self.side(ctx, self.0.finding.b).await
    }

    async fn reasons(&self) -> OverlapReasons {
        let r = &self.0.finding.reasons;
        let (spatial_match, levels_apart) = match r.spatial {
            SpatialMatch::SameArea => ("SAME_AREA", None),
            SpatialMatch::Nested { levels_apart } => ("NESTED", Some(levels_apart)),
        };
        OverlapReasons {
            sector_match: match r.sector {
                SectorMatch::SameCode => "SAME_CODE",
                SectorMatch::SameCluster => "SAME_CLUSTER",
            }
            .to_owned(),
            sector_vocabulary: r.sector_code.0.into(),
            sector_code: r.sector_code.1.clone(),
            spatial_match: spatial_match.to_owned(),
            levels_apart,
            shared_area_pcode: r
                .shared_area
                .pcodes()
                .last()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            time_share: r.time_share,
            shared_groups: r.shared_groups.iter().map(|g| (*g).into()).collect(),
            targets_over_need: r.targets_over_need,
        }
    }

    /// The area where the two meet (the deeper of the two).
    async fn shared_area(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        let Some(pcode) = self.0.finding.reasons.shared_area.pcodes().last().cloned() else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<Areas>()
            .load_one(pcode)
            .await?
            .map(Area))
    }

    async fn review_note(&self) -> Option<&str> {
        self.0.review_note.as_deref()
    }

    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }

    async fn detected_at(&self) -> DateTime<Utc> {
        self.0.detected_at
    }

    /// Every review, oldest first.
    async fn reviews(&self, ctx: &Context<'_>) -> ApiResult<Vec<OverlapReview>> {
        Ok(store(ctx)
            .reviews(self.0.id)
            .await?
            .into_iter()
            .map(|r| OverlapReview {
                status: r.status.into(),
                note: r.note,
                reviewer: r.reviewer,
                at: r.at,
            })
            .collect())
    }
}

pub struct FindingCount(pub concord_store::FindingFilter);

#[Object]
impl FindingCount {
    /// How many findings match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(store(ctx).count_findings(&self.0).await?)
    }
}
