//! What the coverage and gap engine (`concord_domain::coverage`) needs, read from the
//! database: the interventions running in a period in an area, their latest reach, and the
//! needs stated there. Every visibility is loaded: aggregates include RESTRICTED work, and
//! the API decides what a caller may see of them.

use std::collections::HashMap;

use concord_domain::area::AreaPath;
use concord_domain::coverage::{CoverageIntervention, NeedFigure, coverage_intervention_of};
use concord_domain::intervention::InterventionId;
use concord_domain::need::{NeedSector, Severity};
use concord_domain::values::{ActivityStatus, Period, Visibility};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{area, intervention, need, progress_report};
use crate::interventions::{assemble, located_in_any};
use crate::organisations::corrupt;
use crate::overlaps::paths_of;
use crate::{Store, StoreResult};

/// The engine's inputs, with each intervention's visibility for the API's privacy rules.
#[derive(Clone, Debug, Default)]
pub struct CoverageInputs {
    pub interventions: Vec<CoverageIntervention>,
    pub visibility: HashMap<InterventionId, Visibility>,
    pub needs: Vec<NeedFigure>,
}

impl Store {
    /// Interventions running on a day of `period` (cancelled work excluded) located in
    /// `within` or below it (everywhere when `None`), and the needs stated there.
    pub async fn coverage_inputs(
        &self,
        period: &Period,
        within: Option<&AreaPath>,
    ) -> StoreResult<CoverageInputs> {
        let mut cond = Condition::all()
            .add(intervention::Column::Status.ne(ActivityStatus::Cancelled.code()))
            .add(
                Condition::any()
                    .add(intervention::Column::EffectiveEnd.is_null())
                    .add(intervention::Column::EffectiveEnd.gte(period.start())),
            );
        if let Some(end) = period.end() {
            cond = cond.add(intervention::Column::EffectiveStart.lte(end));
        }
        if let Some(area) = within {
            cond = cond.add(located_in_any(std::slice::from_ref(area)));
        }
        let rows = intervention::Entity::find()
            .filter(cond)
            .order_by_asc(intervention::Column::Id)
            .all(&self.db)
            .await?;
        let interventions = assemble(&self.db, rows).await?;
        let paths = paths_of(&self.db, &interventions).await?;

        // The latest report in the period is the reach: reports are cumulative per period
        // and a target is never a reach.
        let ids: Vec<i64> = interventions.iter().map(|i| i.id.0).collect();
        let mut reached: HashMap<i64, (chrono::NaiveDate, u64)> = HashMap::new();
        for chunk in ids.chunks(1000) {
            let mut reports = progress_report::Entity::find()
                .filter(progress_report::Column::InterventionId.is_in(chunk.iter().copied()))
                .filter(progress_report::Column::PeriodStart.gte(period.start()));
            if let Some(end) = period.end() {
                reports = reports.filter(progress_report::Column::PeriodEnd.lte(end));
            }
            for report in reports.all(&self.db).await? {
                let entry = reached
                    .entry(report.intervention_id)
                    .or_insert((report.period_end, 0));
                if report.period_end >= entry.0 {
                    *entry = (
                        report.period_end,
                        u64::try_from(report.reached_total).unwrap_or(0),
                    );
                }
            }
        }
        let mut out = CoverageInputs::default();
        for i in &interventions {
            out.visibility.insert(i.id, i.record.visibility);
            if let Some(c) = coverage_intervention_of(i, &paths, reached.get(&i.id.0).map(|r| r.1))
            {
                out.interventions.push(c);
            }
        }

        let mut needs = need::Entity::find()
            .filter(need::Column::PeriodStart.lte(period.end().unwrap_or(chrono::NaiveDate::MAX)));
        needs = needs.filter(need::Column::PeriodEnd.gte(period.start()));
        if let Some(area) = within {
            let (lower, upper) = area.subtree_range();
            needs = needs.filter(
                need::Column::AreaId.in_subquery(
                    Query::select()
                        .column(area::Column::Id)
                        .from(area::Entity)
                        .and_where(area::Column::Path.gte(lower))
                        .and_where(area::Column::Path.lt(upper))
                        .to_owned(),
                ),
            );
        }
        let need_rows = needs.all(&self.db).await?;
        let area_paths: HashMap<i64, String> = area::Entity::find()
            .filter(area::Column::Id.is_in(need_rows.iter().map(|n| n.area_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.path))
            .collect();
        for n in need_rows {
            let Some(path) = area_paths.get(&n.area_id) else {
                continue;
            };
            out.needs.push(NeedFigure {
                area: AreaPath::parse(path).map_err(|_| corrupt("area.path"))?,
                sector: NeedSector::from_key(&n.sector_key)
                    .ok_or_else(|| corrupt("need.sector_key"))?,
                period: Period::new("period", n.period_start, Some(n.period_end))
                    .map_err(|_| corrupt("need.period"))?,
                people_in_need: u64::try_from(n.people_in_need).unwrap_or(0),
                severity: n
                    .severity
                    .map(|s| Severity::parse("severity", i64::from(s)))
                    .transpose()
                    .map_err(|_| corrupt("need.severity"))?,
            });
        }
        Ok(out)
    }
}
