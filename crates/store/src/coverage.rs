//! What the coverage and gap engine (`concord_domain::coverage`) needs, read from the
//! database: the interventions running in a period in an area, their latest reach, and the
//! needs stated there. Every visibility is loaded: aggregates include RESTRICTED work, and
//! the API decides what a caller may see of them.

use std::collections::HashMap;

use concord_domain::area::AreaPath;
use concord_domain::coverage::{NeedFigure, coverage_intervention_of};
use concord_domain::coverage_index::{
    CoverageIndex, CoverageSlice, IndexedIntervention, ReachFigure, reach_in,
};
use concord_domain::intervention::InterventionId;
use concord_domain::need::{NeedSector, Severity};
use concord_domain::values::{ActivityStatus, Period};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::{area, intervention, need, progress_report};
use crate::interventions::{assemble, located_in_any};
use crate::organisations::corrupt;
use crate::overlaps::paths_of;
use crate::{Store, StoreResult};

/// Interventions loaded per round trip when the whole registry is read.
const LOAD_CHUNK: u64 = 5_000;

impl Store {
    /// Interventions running on a day of `period` (cancelled work excluded) located in
    /// `within` or below it (everywhere when `None`), and the needs stated there.
    pub async fn coverage_inputs(
        &self,
        period: &Period,
        within: Option<&AreaPath>,
    ) -> StoreResult<CoverageSlice> {
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
        let mut out = CoverageSlice::default();
        for item in self.indexed(rows).await? {
            let mut i = item.intervention;
            i.reached = reach_in(&item.reports, period);
            out.visibility.insert(i.id, item.visibility);
            out.interventions.push(i);
        }
        out.needs = self.need_figures(Some(period), within).await?;
        Ok(out)
    }

    /// Every intervention and need, indexed for the coverage questions of one area.
    pub async fn coverage_index(&self) -> StoreResult<CoverageIndex> {
        let mut items = Vec::new();
        let mut after = 0;
        loop {
            let rows = intervention::Entity::find()
                .filter(intervention::Column::Id.gt(after))
                .order_by_asc(intervention::Column::Id)
                .limit(LOAD_CHUNK)
                .all(&self.db)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            items.extend(self.indexed(rows).await?);
        }
        Ok(CoverageIndex::new(
            items,
            self.need_figures(None, None).await?,
        ))
    }

    /// The current state of some interventions for the coverage index; an id missing from
    /// the answer was deleted.
    pub async fn coverage_items(
        &self,
        ids: &[InterventionId],
    ) -> StoreResult<Vec<IndexedIntervention>> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let rows = intervention::Entity::find()
                .filter(intervention::Column::Id.is_in(chunk.iter().map(|i| i.0)))
                .order_by_asc(intervention::Column::Id)
                .all(&self.db)
                .await?;
            items.extend(self.indexed(rows).await?);
        }
        Ok(items)
    }

    /// Every need, for the coverage index.
    pub async fn coverage_needs(&self) -> StoreResult<Vec<NeedFigure>> {
        self.need_figures(None, None).await
    }

    /// Rows as the coverage engine sees them, with their visibility and progress reports.
    async fn indexed(
        &self,
        rows: Vec<intervention::Model>,
    ) -> StoreResult<Vec<IndexedIntervention>> {
        let interventions = assemble(&self.db, rows).await?;
        let paths = paths_of(&self.db, &interventions).await?;
        let ids: Vec<i64> = interventions.iter().map(|i| i.id.0).collect();
        let mut reports: HashMap<i64, Vec<ReachFigure>> = HashMap::new();
        for chunk in ids.chunks(1000) {
            let rows = progress_report::Entity::find()
                .filter(progress_report::Column::InterventionId.is_in(chunk.iter().copied()))
                .order_by_asc(progress_report::Column::Id)
                .all(&self.db)
                .await?;
            for r in rows {
                reports
                    .entry(r.intervention_id)
                    .or_default()
                    .push(ReachFigure {
                        start: r.period_start,
                        end: r.period_end,
                        reached: u64::try_from(r.reached_total).unwrap_or(0),
                    });
            }
        }
        Ok(interventions
            .iter()
            .filter_map(|i| {
                let c = coverage_intervention_of(i, &paths, None)?;
                Some(IndexedIntervention {
                    intervention: c,
                    visibility: i.record.visibility,
                    reports: reports.remove(&i.id.0).unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Needs stated in `period` (all when `None`) in `within` or below it.
    async fn need_figures(
        &self,
        period: Option<&Period>,
        within: Option<&AreaPath>,
    ) -> StoreResult<Vec<NeedFigure>> {
        let mut out = Vec::new();
        let mut needs = need::Entity::find();
        if let Some(period) = period {
            needs = needs
                .filter(
                    need::Column::PeriodStart.lte(period.end().unwrap_or(chrono::NaiveDate::MAX)),
                )
                .filter(need::Column::PeriodEnd.gte(period.start()));
        }
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
        let mut area_ids: Vec<i64> = need_rows.iter().map(|n| n.area_id).collect();
        area_ids.sort_unstable();
        area_ids.dedup();
        let mut area_paths: HashMap<i64, String> = HashMap::new();
        for chunk in area_ids.chunks(1000) {
            let rows = area::Entity::find()
                .filter(area::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            area_paths.extend(rows.into_iter().map(|a| (a.id, a.path)));
        }
        for n in need_rows {
            let Some(path) = area_paths.get(&n.area_id) else {
                continue;
            };
            out.push(NeedFigure {
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
