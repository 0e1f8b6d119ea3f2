//! Needs and progress reports.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use concord_domain::access::Principal;
use concord_domain::area::{AreaPath, Pcode};
use concord_domain::intervention::InterventionId;
use concord_domain::need::{
    Need, NeedId, NeedSector, NewNeed, NewProgressReport, ProgressReport, ProgressReportId,
    Severity,
};
use concord_domain::organisation::OrganisationId;
use concord_domain::population::Population;
use concord_domain::values::Period;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::areas::pcodes_by_area_id;
use crate::audit::{self, Actor, AuditAction};
use crate::changes::RegistryChange;
use crate::entity::{area, need, progress_report};
use crate::interventions::visible_row;
use crate::organisations::corrupt;
use crate::{Page, PageRequest, Store, StoreError, StoreResult};

/// Which needs a list returns.
#[derive(Clone, Debug, Default)]
pub struct NeedFilter {
    /// In this area or any of its descendants.
    pub area: Option<AreaPath>,
    /// Any of these sector keys (see `NeedSector::key`).
    pub sector_keys: Option<Vec<String>>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub min_severity: Option<Severity>,
}

fn need_condition(filter: &NeedFilter) -> Condition {
    use need::Column as C;
    let mut cond = Condition::all();
    if let Some(path) = &filter.area {
        let (lower, upper) = path.subtree_range();
        cond = cond.add(
            C::AreaId.in_subquery(
                Query::select()
                    .column(area::Column::Id)
                    .from(area::Entity)
                    .and_where(area::Column::Path.gte(lower))
                    .and_where(area::Column::Path.lt(upper))
                    .to_owned(),
            ),
        );
    }
    if let Some(keys) = &filter.sector_keys {
        cond = cond.add(C::SectorKey.is_in(keys.clone()));
    }
    if let Some(to) = filter.to {
        cond = cond.add(C::PeriodStart.lte(to));
    }
    if let Some(from) = filter.from {
        cond = cond.add(C::PeriodEnd.gte(from));
    }
    if let Some(severity) = filter.min_severity {
        cond = cond.add(C::Severity.gte(i16::from(severity.get())));
    }
    cond
}

fn need_to_domain(row: need::Model, pcodes: &HashMap<i64, String>) -> StoreResult<Need> {
    Ok(Need {
        id: NeedId(row.id),
        need: NewNeed {
            pcode: pcodes
                .get(&row.area_id)
                .and_then(|p| Pcode::parse(p).ok())
                .ok_or_else(|| corrupt("need.area_id"))?,
            sector: NeedSector::from_key(&row.sector_key)
                .ok_or_else(|| corrupt("need.sector_key"))?,
            period: Period::new("period", row.period_start, Some(row.period_end))
                .map_err(|_| corrupt("need.period"))?,
            people_in_need: serde_json::from_value::<Population>(row.population)
                .map_err(|_| corrupt("need.population"))?,
            severity: row
                .severity
                .map(|s| Severity::parse("severity", i64::from(s)))
                .transpose()
                .map_err(|_| corrupt("need.severity"))?,
            source: row.source,
        },
    })
}

fn report_to_domain(row: progress_report::Model) -> StoreResult<ProgressReport> {
    Ok(ProgressReport {
        id: ProgressReportId(row.id),
        report: NewProgressReport {
            intervention: InterventionId(row.intervention_id),
            period: Period::new("period", row.period_start, Some(row.period_end))
                .map_err(|_| corrupt("progress_report.period"))?,
            reached: serde_json::from_value(row.reached)
                .map_err(|_| corrupt("progress_report.reached"))?,
            note: row.note,
        },
    })
}

impl Store {
    /// Inserts a need, or replaces the one stated for the same area, sector and period.
    pub async fn upsert_need(&self, record: &NewNeed, actor: &Actor) -> StoreResult<Need> {
        self.retrying(|| async {
            let txn = self.begin_write().await?;
            let saved = upsert_need_in(&txn, record, actor).await?;
            self.commit_write(txn, RegistryChange::Needs).await?;
            Ok(saved)
        })
        .await
    }

    /// Stores a whole table of needs in one transaction: all or nothing.
    pub async fn upsert_needs(&self, records: &[NewNeed], actor: &Actor) -> StoreResult<u64> {
        self.retrying(|| async {
            let txn = self.begin_write().await?;
            for record in records {
                upsert_need_in(&txn, record, actor).await?;
            }
            self.commit_write(txn, RegistryChange::Needs).await?;
            Ok(records.len() as u64)
        })
        .await
    }
}

/// Inserts a need, or replaces the one stated for the same area, sector and period, inside
/// the caller's transaction.
async fn upsert_need_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    record: &NewNeed,
    actor: &Actor,
) -> StoreResult<Need> {
    {
        let area_id: i64 = area::Entity::find()
            .select_only()
            .column(area::Column::Id)
            .filter(area::Column::Pcode.eq(record.pcode.as_str()))
            .into_tuple()
            .one(txn)
            .await?
            .ok_or_else(|| {
                StoreError::invalid("pcode", format!("no area has the P-code {}", record.pcode))
            })?;
        let key = record.sector.key();
        let end = record.period.end().unwrap_or(record.period.start());
        let existing = need::Entity::find()
            .filter(need::Column::AreaId.eq(area_id))
            .filter(need::Column::SectorKey.eq(key.clone()))
            .filter(need::Column::PeriodStart.eq(record.period.start()))
            .filter(need::Column::PeriodEnd.eq(end))
            .one(txn)
            .await?;
        let now = Utc::now();
        let population =
            serde_json::to_value(&record.people_in_need).map_err(|_| corrupt("need.population"))?;
        let mut row = need::ActiveModel {
            area_id: Set(area_id),
            sector_key: Set(key),
            period_start: Set(record.period.start()),
            period_end: Set(end),
            people_in_need: Set(record.people_in_need.total.get() as i64),
            population: Set(population),
            severity: Set(record.severity.map(|s| i16::from(s.get()))),
            source: Set(record.source.clone()),
            updated_at: Set(now),
            ..Default::default()
        };
        let pcodes = HashMap::from([(area_id, record.pcode.as_str().to_owned())]);
        let before = existing
            .clone()
            .map(|e| need_to_domain(e, &pcodes))
            .transpose()?;
        let saved = match existing {
            Some(existing) => {
                row.id = Set(existing.id);
                row.created_at = Set(existing.created_at);
                need::Entity::update(row).exec(txn).await?
            }
            None => {
                row.created_at = Set(now);
                need::Entity::insert(row).exec_with_returning(txn).await?
            }
        };
        let saved = need_to_domain(saved, &pcodes)?;
        let action = if before.is_some() {
            AuditAction::Update
        } else {
            AuditAction::Create
        };
        audit::record(
            txn,
            actor,
            action,
            "need",
            Some(saved.id.0),
            before.as_ref(),
            Some(&saved),
        )
        .await?;
        Ok(saved)
    }
}

impl Store {
    pub async fn needs(&self, filter: &NeedFilter, page: PageRequest) -> StoreResult<Page<Need>> {
        let mut query = need::Entity::find()
            .filter(need_condition(filter))
            .order_by_asc(need::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(need::Column::Id.gt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        let area_ids: Vec<i64> = rows.iter().map(|r| r.area_id).collect();
        let pcodes = pcodes_by_area_id(&self.db, area_ids).await?;
        let page_rows = Page::from_overfetch(rows, page.first);
        Ok(Page {
            items: page_rows
                .items
                .into_iter()
                .map(|r| need_to_domain(r, &pcodes))
                .collect::<StoreResult<_>>()?,
            has_next_page: page_rows.has_next_page,
        })
    }

    pub async fn count_needs(&self, filter: &NeedFilter) -> StoreResult<u64> {
        Ok(need::Entity::find()
            .filter(need_condition(filter))
            .count(&self.db)
            .await?)
    }

    /// Records the people reached in a period, replacing an earlier report of the same period.
    pub async fn report_progress(
        &self,
        record: &NewProgressReport,
        writer: &Principal,
        actor: &Actor,
    ) -> StoreResult<ProgressReport> {
        self.retrying(|| self.report_progress_once(record, writer, actor))
            .await
    }

    async fn report_progress_once(
        &self,
        record: &NewProgressReport,
        writer: &Principal,
        actor: &Actor,
    ) -> StoreResult<ProgressReport> {
        let txn = self.begin_write().await?;
        // Progress on a record the caller may not see is progress on nothing.
        let intervention = visible_row(&txn, record.intervention, &writer.read_scope()).await?;
        if !writer.may_write_for(OrganisationId(intervention.reporting_organisation_id)) {
            return Err(StoreError::Forbidden);
        }
        let end = record.period.end().unwrap_or(record.period.start());
        let existing = progress_report::Entity::find()
            .filter(progress_report::Column::InterventionId.eq(record.intervention.0))
            .filter(progress_report::Column::PeriodStart.eq(record.period.start()))
            .filter(progress_report::Column::PeriodEnd.eq(end))
            .one(&txn)
            .await?;
        let now = Utc::now();
        let mut row = progress_report::ActiveModel {
            intervention_id: Set(record.intervention.0),
            period_start: Set(record.period.start()),
            period_end: Set(end),
            reached_total: Set(record.reached.total.get() as i64),
            reached: Set(serde_json::to_value(&record.reached)
                .map_err(|_| corrupt("progress_report.reached"))?),
            note: Set(record.note.clone()),
            updated_at: Set(now),
            ..Default::default()
        };
        let before = existing.clone().map(report_to_domain).transpose()?;
        let saved = match existing {
            Some(existing) => {
                row.id = Set(existing.id);
                row.created_at = Set(existing.created_at);
                progress_report::Entity::update(row).exec(&txn).await?
            }
            None => {
                row.created_at = Set(now);
                progress_report::Entity::insert(row)
                    .exec_with_returning(&txn)
                    .await?
            }
        };
        let saved = report_to_domain(saved)?;
        let action = if before.is_some() {
            AuditAction::Update
        } else {
            AuditAction::Create
        };
        audit::record(
            &txn,
            actor,
            action,
            "progress_report",
            Some(saved.id.0),
            before.as_ref(),
            Some(&saved),
        )
        .await?;
        let change = RegistryChange::Interventions(vec![record.intervention]);
        self.commit_write(txn, change).await?;
        Ok(saved)
    }

    /// The progress reports of many interventions, in one statement, oldest period first.
    pub async fn progress_reports(
        &self,
        interventions: &[InterventionId],
    ) -> StoreResult<Vec<ProgressReport>> {
        if interventions.is_empty() {
            return Ok(Vec::new());
        }
        progress_report::Entity::find()
            .filter(
                progress_report::Column::InterventionId.is_in(interventions.iter().map(|i| i.0)),
            )
            .order_by_asc(progress_report::Column::PeriodStart)
            .all(&self.db)
            .await?
            .into_iter()
            .map(report_to_domain)
            .collect()
    }
}
