//! Interventions with their sectors, locations and participants.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use concord_domain::access::{Principal, ReadScope};
use concord_domain::area::{AreaId, AreaPath, Pcode};
use concord_domain::intervention::{
    Intervention, InterventionId, Location, NewIntervention, Participation, SectorShare,
};
use concord_domain::organisation::OrganisationId;
use concord_domain::population::Population;
use concord_domain::reference::SectorVocabulary;
use concord_domain::values::{
    ActivityStatus, Approach, InterventionKind, Money, OrganisationRole, PeopleCount, Percentage,
    Period, Visibility,
};
use concord_domain::{ValidationError, ValidationErrors};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

use crate::areas::contains_pattern;
use crate::audit::{self, Actor, AuditAction};
use crate::changes::RegistryChange;
use crate::entity::{
    area, intervention, intervention_location, intervention_participant, intervention_sector,
    organisation,
};
use crate::organisations::corrupt;
use crate::overlaps::CandidateCache;
use crate::{Page, PageRequest, Store, StoreError, StoreResult};

/// Which interventions a list returns. `scope` is what the caller may read, decided by the
/// access rules; everything else is the client's filter.
#[derive(Clone, Debug, Default)]
pub struct InterventionFilter {
    pub scope: ReadScope,
    /// Reporting or participating.
    pub organisation: Option<OrganisationId>,
    /// Any of these sectors (already expanded through the crosswalk).
    pub sectors: Option<Vec<(SectorVocabulary, String)>>,
    /// Located in this area or any of its descendants.
    pub area: Option<AreaPath>,
    /// Running on at least one day of [active_from, active_to].
    pub active_from: Option<NaiveDate>,
    pub active_to: Option<NaiveDate>,
    pub statuses: Option<Vec<ActivityStatus>>,
    /// Case-insensitive substring of the title, description or external id.
    pub text: Option<String>,
}

/// A stored intervention with the overlaps the write-time check found for it.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenIntervention {
    pub intervention: Intervention,
    pub overlaps: Vec<crate::StoredFinding>,
    /// The ids of the findings this write opened, to announce to subscribers.
    pub new_findings: Vec<i64>,
}

/// Interventions written together in one transaction.
pub type NewInterventionBatch<'a> = &'a [NewIntervention];

/// Interventions working in any of these sectors.
pub(crate) fn in_any_sector(sectors: &[(SectorVocabulary, String)]) -> Condition {
    Condition::all().add(
        intervention::Column::Id.in_subquery(
            Query::select()
                .column(intervention_sector::Column::InterventionId)
                .from(intervention_sector::Entity)
                .cond_where(sector_rows(sectors))
                .to_owned(),
        ),
    )
}

/// The sector rows of any of these sectors.
fn sector_rows(sectors: &[(SectorVocabulary, String)]) -> Condition {
    // One `IN` list per vocabulary: a cluster's crosswalk can name a hundred codes.
    let mut by_vocabulary: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (vocabulary, code) in sectors {
        by_vocabulary
            .entry(vocabulary.iati_code())
            .or_default()
            .push(code.as_str());
    }
    let mut any = Condition::any();
    for (vocabulary, codes) in by_vocabulary {
        any = any.add(
            Condition::all()
                .add(intervention_sector::Column::Vocabulary.eq(vocabulary))
                .add(intervention_sector::Column::Code.is_in(codes)),
        );
    }
    any
}

/// Interventions located in any of these areas or below them: one range scan per area on
/// the materialised path.
pub(crate) fn located_in_any(paths: &[AreaPath]) -> Condition {
    located_where(areas_within(paths))
}

/// Areas in any of these areas or below them.
pub(crate) fn areas_within(paths: &[AreaPath]) -> Condition {
    let mut any = Condition::any();
    for path in paths {
        let (lower, upper) = path.subtree_range();
        any = any.add(
            Condition::all()
                .add(Expr::col((area::Entity, area::Column::Path)).gte(lower))
                .add(Expr::col((area::Entity, area::Column::Path)).lt(upper)),
        );
    }
    any
}

/// Areas with one of these P-codes (the areas above a written record, say).
pub(crate) fn areas_at(pcodes: Vec<String>) -> Condition {
    Condition::all().add(Expr::col((area::Entity, area::Column::Pcode)).is_in(pcodes))
}

/// Interventions with a location whose area meets `areas`.
pub(crate) fn located_where(areas: Condition) -> Condition {
    Condition::all().add(
        intervention::Column::Id.in_subquery(
            Query::select()
                .column((
                    intervention_location::Entity,
                    intervention_location::Column::InterventionId,
                ))
                .from(intervention_location::Entity)
                .inner_join(
                    area::Entity,
                    Expr::col((area::Entity, area::Column::Id)).equals((
                        intervention_location::Entity,
                        intervention_location::Column::AreaId,
                    )),
                )
                .cond_where(areas)
                .to_owned(),
        ),
    )
}

/// [`in_any_sector`] as a check of each intervention the rest of the query selects rather
/// than a list of every matching id: the form for when the other conditions (dates) are
/// narrower than the sectors.
pub(crate) fn has_any_sector(sectors: &[(SectorVocabulary, String)]) -> Condition {
    Condition::all().add(Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(intervention_sector::Entity)
            .cond_where(
                Condition::all()
                    .add(
                        Expr::col((
                            intervention_sector::Entity,
                            intervention_sector::Column::InterventionId,
                        ))
                        .equals((intervention::Entity, intervention::Column::Id)),
                    )
                    .add(sector_rows(sectors)),
            )
            .to_owned(),
    ))
}

/// [`located_where`] in the checking form of [`has_any_sector`].
pub(crate) fn has_location_where(areas: Condition) -> Condition {
    Condition::all().add(Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(intervention_location::Entity)
            .inner_join(
                area::Entity,
                Expr::col((area::Entity, area::Column::Id)).equals((
                    intervention_location::Entity,
                    intervention_location::Column::AreaId,
                )),
            )
            .cond_where(
                Condition::all()
                    .add(
                        Expr::col((
                            intervention_location::Entity,
                            intervention_location::Column::InterventionId,
                        ))
                        .equals((intervention::Entity, intervention::Column::Id)),
                    )
                    .add(areas),
            )
            .to_owned(),
    ))
}

/// The SQL form of `ReadScope::allows`: the two must always agree.
pub(crate) fn readable(scope: &ReadScope) -> Condition {
    use intervention::Column as C;
    if scope.everything {
        return Condition::all();
    }
    let mut any = Condition::any().add(C::Visibility.eq(Visibility::Public.code()));
    if scope.partners {
        any = any.add(C::Visibility.eq(Visibility::Partners.code()));
    }
    let mut restricted = Condition::any();
    let mut restricted_reachable = false;
    if !scope.own_organisations.is_empty() {
        restricted = restricted
            .add(C::ReportingOrganisationId.is_in(scope.own_organisations.iter().map(|o| o.0)));
        restricted_reachable = true;
    }
    if let Some(coordinated) = scope.coordinated.as_ref().filter(|c| !c.is_empty()) {
        let mut inside = Condition::all();
        if !coordinated.areas.is_empty() {
            inside = inside.add(located_in_any(&coordinated.areas));
        }
        if !coordinated.sectors.is_empty() {
            inside = inside.add(in_any_sector(&coordinated.sectors));
        }
        restricted = restricted.add(inside);
        restricted_reachable = true;
    }
    if restricted_reachable {
        any = any.add(
            Condition::all()
                .add(C::Visibility.eq(Visibility::Restricted.code()))
                .add(restricted),
        );
    }
    any
}

fn condition(filter: &InterventionFilter) -> Condition {
    use intervention::Column as C;
    let mut cond = Condition::all().add(readable(&filter.scope));
    if let Some(org) = filter.organisation {
        cond = cond.add(
            Condition::any()
                .add(C::ReportingOrganisationId.eq(org.0))
                .add(
                    C::Id.in_subquery(
                        Query::select()
                            .column(intervention_participant::Column::InterventionId)
                            .from(intervention_participant::Entity)
                            .and_where(intervention_participant::Column::OrganisationId.eq(org.0))
                            .to_owned(),
                    ),
                ),
        );
    }
    if let Some(sectors) = &filter.sectors {
        cond = cond.add(in_any_sector(sectors));
    }
    if let Some(path) = &filter.area {
        cond = cond.add(located_in_any(std::slice::from_ref(path)));
    }
    if let Some(to) = filter.active_to {
        cond = cond.add(C::EffectiveStart.lte(to));
    }
    if let Some(from) = filter.active_from {
        cond = cond.add(
            Condition::any()
                .add(C::EffectiveEnd.is_null())
                .add(C::EffectiveEnd.gte(from)),
        );
    }
    if let Some(statuses) = &filter.statuses {
        cond = cond.add(C::Status.is_in(statuses.iter().map(|s| s.code().to_owned())));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        let mut any = Condition::any();
        for column in [C::Title, C::Description, C::ExternalId] {
            any = any.add(
                Expr::expr(Func::lower(Expr::col((intervention::Entity, column))))
                    .like(contains_pattern(text)),
            );
        }
        cond = cond.add(any);
    }
    cond
}

/// What the database gives a new intervention row.
pub(crate) struct WrittenRow {
    pub id: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts intervention rows in one statement and returns what the database gave each, by
/// (reporting organisation, external id). The rows come back from the insert itself, in
/// no promised order, hence the natural key; reading them back with a second query costs
/// more than the insert on PostgreSQL once the table is large.
pub(crate) async fn insert_interventions<'r, C: ConnectionTrait>(
    txn: &C,
    records: impl Iterator<Item = &'r NewIntervention>,
) -> StoreResult<HashMap<(i64, String), WrittenRow>> {
    use intervention::Column as C;
    let mut rows = HashMap::with_capacity(records.size_hint().0);
    let mut insert = intervention::Entity::insert_many(records.map(row_values)).into_query();
    insert.returning(Query::returning().columns([
        C::ReportingOrganisationId,
        C::ExternalId,
        C::Id,
        C::Version,
        C::CreatedAt,
        C::UpdatedAt,
    ]));
    for row in txn
        .query_all(&insert)
        .await
        .map_err(|e| duplicate_external_id(e.into()))?
    {
        rows.insert(
            (
                row.try_get("", "reporting_organisation_id")?,
                row.try_get("", "external_id")?,
            ),
            WrittenRow {
                id: row.try_get("", "id")?,
                version: row.try_get("", "version")?,
                created_at: row.try_get("", "created_at")?,
                updated_at: row.try_get("", "updated_at")?,
            },
        );
    }
    Ok(rows)
}

pub(crate) fn row_values(record: &NewIntervention) -> intervention::ActiveModel {
    let period = record.effective_period();
    let now = Utc::now();
    intervention::ActiveModel {
        external_id: Set(record.external_id.clone()),
        reporting_organisation_id: Set(record.reporting_organisation.0),
        title: Set(record.title.clone()),
        description: Set(record.description.clone()),
        status: Set(record.status.code().to_owned()),
        kind: Set(record.kind.code().to_owned()),
        approach: Set(record.approach.code().to_owned()),
        planned_start: Set(record.planned.map(|p| p.start())),
        planned_end: Set(record.planned.and_then(|p| p.end())),
        actual_start: Set(record.actual.map(|p| p.start())),
        actual_end: Set(record.actual.and_then(|p| p.end())),
        // The domain refuses records without a start date, so a period always exists.
        effective_start: Set(period.map(|p| p.start()).unwrap_or(NaiveDate::MIN)),
        effective_end: Set(period.and_then(|p| p.end())),
        target_total: Set(record.target.as_ref().map(|t| t.total.get() as i64)),
        target: Set(record
            .target
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())),
        budget_amount: Set(record.budget.as_ref().map(Money::amount)),
        budget_currency: Set(record.budget.as_ref().map(|b| b.currency().to_owned())),
        visibility: Set(record.visibility.code().to_owned()),
        linked_activities: Set((!record.linked_activities.is_empty())
            .then(|| serde_json::json!(record.linked_activities))),
        humanitarian: Set(record.humanitarian),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Checks every id and P-code a record refers to, naming the offending field.
pub(crate) async fn resolve_references<C: ConnectionTrait>(
    db: &C,
    records: &[&NewIntervention],
) -> StoreResult<HashMap<String, i64>> {
    let mut org_ids: HashSet<i64> = HashSet::new();
    let mut pcodes: HashSet<&str> = HashSet::new();
    for r in records {
        org_ids.extend(r.organisations().iter().map(|o| o.0));
        pcodes.extend(r.locations.iter().map(|l| l.pcode.as_str()));
    }
    let found_orgs: HashSet<i64> = organisation::Entity::find()
        .select_only()
        .column(organisation::Column::Id)
        .filter(organisation::Column::Id.is_in(org_ids.iter().copied()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut areas: HashMap<String, i64> = HashMap::new();
    for chunk in pcodes.into_iter().collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<(i64, String)> = area::Entity::find()
            .select_only()
            .column(area::Column::Id)
            .column(area::Column::Pcode)
            .filter(area::Column::Pcode.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        areas.extend(rows.into_iter().map(|(id, pcode)| (pcode, id)));
    }
    let mut errors = ValidationErrors::default();
    for (n, r) in records.iter().enumerate() {
        let prefix = if records.len() > 1 {
            format!("[{n}].")
        } else {
            String::new()
        };
        if !found_orgs.contains(&r.reporting_organisation.0) {
            errors.push(ValidationError::new(
                format!("{prefix}reportingOrganisationId"),
                "no such organisation",
            ));
        }
        for (i, p) in r.participants.iter().enumerate() {
            if !found_orgs.contains(&p.organisation.0) {
                errors.push(ValidationError::new(
                    format!("{prefix}participants[{i}].organisationId"),
                    "no such organisation",
                ));
            }
        }
        for (i, l) in r.locations.iter().enumerate() {
            if !areas.contains_key(l.pcode.as_str()) {
                errors.push(ValidationError::new(
                    format!("{prefix}locations[{i}].pcode"),
                    format!("no area has the P-code {}", l.pcode),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    Ok(areas)
}

/// Writes the sectors, locations and participants of written rows, up to 2,000 rows per
/// statement, their values bound as they are (no entity models built and cloned).
pub(crate) async fn insert_children<C: ConnectionTrait>(
    db: &C,
    rows: &[(i64, &NewIntervention)],
    areas: &HashMap<String, i64>,
) -> StoreResult<()> {
    use intervention_location::Column as L;
    use intervention_participant::Column as P;
    use intervention_sector::Column as S;
    // Collected before the first await: a lazy iterator over borrowed records is not Send.
    let mut sectors = Vec::new();
    let mut locations = Vec::new();
    let mut participants = Vec::new();
    for (id, r) in rows {
        for s in &r.sectors {
            sectors.push([
                Expr::val(*id),
                Expr::val(s.vocabulary.iati_code()),
                Expr::val(s.code.as_str()),
                Expr::val(s.percentage.map(Percentage::get)),
            ]);
        }
        for l in &r.locations {
            let area = areas.get(l.pcode.as_str()).ok_or_else(|| {
                StoreError::invalid("locations", format!("no area has the P-code {}", l.pcode))
            })?;
            locations.push([
                Expr::val(*id),
                Expr::val(*area),
                Expr::val(l.target.map(|t| t.get() as i64)),
                Expr::val(l.site.clone()),
            ]);
        }
        for p in &r.participants {
            participants.push([
                Expr::val(*id),
                Expr::val(p.organisation.0),
                Expr::val(p.role.code()),
                Expr::val(p.activity_id.clone()),
            ]);
        }
    }
    insert_rows(
        db,
        intervention_sector::Entity,
        [S::InterventionId, S::Vocabulary, S::Code, S::Percentage],
        sectors,
    )
    .await?;
    insert_rows(
        db,
        intervention_location::Entity,
        [L::InterventionId, L::AreaId, L::Target, L::Site],
        locations,
    )
    .await?;
    insert_rows(
        db,
        intervention_participant::Entity,
        [P::InterventionId, P::OrganisationId, P::Role, P::ActivityId],
        participants,
    )
    .await
}

/// Inserts rows of `N` values into `table`, 2,000 rows per statement.
async fn insert_rows<C: ConnectionTrait, const N: usize>(
    db: &C,
    table: impl sea_orm::sea_query::IntoTableRef + Clone,
    columns: [impl sea_orm::sea_query::IntoIden + Copy; N],
    rows: impl IntoIterator<Item = [Expr; N]>,
) -> StoreResult<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut insert = Query::insert();
        insert.into_table(table.clone()).columns(columns);
        for values in rows.by_ref().take(2000) {
            insert.values_panic(values);
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

pub(crate) async fn delete_children<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<()> {
    intervention_sector::Entity::delete_many()
        .filter(intervention_sector::Column::InterventionId.eq(id))
        .exec(db)
        .await?;
    intervention_location::Entity::delete_many()
        .filter(intervention_location::Column::InterventionId.eq(id))
        .exec(db)
        .await?;
    intervention_participant::Entity::delete_many()
        .filter(intervention_participant::Column::InterventionId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) fn duplicate_external_id(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict(
            "this organisation already has an intervention with this external id".into(),
        ),
        other => other,
    }
}

/// Rebuilds domain interventions from rows, loading their children in three statements
/// (plus one for the P-codes of their areas), whatever the number of rows.
/// The locations of some interventions joined to their areas, in the order they were
/// written, selecting nothing yet: the caller names the columns it reads.
pub(crate) fn locations_with_areas(ids: Vec<i64>) -> Select<intervention_location::Entity> {
    intervention_location::Entity::find()
        .select_only()
        .join(
            JoinType::InnerJoin,
            intervention_location::Entity::belongs_to(area::Entity)
                .from(intervention_location::Column::AreaId)
                .to(area::Column::Id)
                .into(),
        )
        .filter(intervention_location::Column::InterventionId.is_in(ids))
        .order_by_asc(intervention_location::Column::Id)
}

pub(crate) async fn assemble<C: ConnectionTrait>(
    db: &C,
    rows: Vec<intervention::Model>,
) -> StoreResult<Vec<Intervention>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut sectors: HashMap<i64, Vec<SectorShare>> = HashMap::new();
    for s in intervention_sector::Entity::find()
        .filter(intervention_sector::Column::InterventionId.is_in(ids.clone()))
        .order_by_asc(intervention_sector::Column::Id)
        .all(db)
        .await?
    {
        sectors
            .entry(s.intervention_id)
            .or_default()
            .push(SectorShare {
                vocabulary: SectorVocabulary::from_iati_code(&s.vocabulary)
                    .ok_or_else(|| corrupt("intervention_sector.vocabulary"))?,
                code: s.code,
                percentage: s
                    .percentage
                    .map(|p| Percentage::parse("percentage", p))
                    .transpose()
                    .map_err(|_| corrupt("intervention_sector.percentage"))?,
            });
    }
    // Locations come with their P-codes in one statement.
    let location_rows: Vec<(i64, Option<i64>, Option<String>, String)> =
        locations_with_areas(ids.clone())
            .column(intervention_location::Column::InterventionId)
            .column(intervention_location::Column::Target)
            .column(intervention_location::Column::Site)
            .column(area::Column::Pcode)
            .into_tuple()
            .all(db)
            .await?;
    let mut locations: HashMap<i64, Vec<Location>> = HashMap::new();
    for (intervention, target, site, pcode) in location_rows {
        let pcode = Pcode::parse(&pcode).map_err(|_| corrupt("intervention_location.area_id"))?;
        locations.entry(intervention).or_default().push(Location {
            pcode,
            target: target
                .map(|t| PeopleCount::parse("target", t))
                .transpose()
                .map_err(|_| corrupt("intervention_location.target"))?,
            site,
        });
    }
    let mut participants: HashMap<i64, Vec<Participation>> = HashMap::new();
    for p in intervention_participant::Entity::find()
        .filter(intervention_participant::Column::InterventionId.is_in(ids))
        .order_by_asc(intervention_participant::Column::Id)
        .all(db)
        .await?
    {
        participants
            .entry(p.intervention_id)
            .or_default()
            .push(Participation {
                organisation: OrganisationId(p.organisation_id),
                role: OrganisationRole::from_code(&p.role)
                    .ok_or_else(|| corrupt("intervention_participant.role"))?,
                activity_id: p.activity_id,
            });
    }
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            to_domain(
                row,
                sectors.remove(&id).unwrap_or_default(),
                locations.remove(&id).unwrap_or_default(),
                participants.remove(&id).unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) async fn assemble_one<C: ConnectionTrait>(
    db: &C,
    row: intervention::Model,
) -> StoreResult<Intervention> {
    assemble(db, vec![row])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

fn to_domain(
    row: intervention::Model,
    sectors: Vec<SectorShare>,
    locations: Vec<Location>,
    participants: Vec<Participation>,
) -> StoreResult<Intervention> {
    let period =
        |start: Option<NaiveDate>, end: Option<NaiveDate>| -> StoreResult<Option<Period>> {
            start
                .map(|s| Period::new("period", s, end).map_err(|_| corrupt("intervention dates")))
                .transpose()
        };
    let budget = match (row.budget_amount, &row.budget_currency) {
        (Some(amount), Some(currency)) => Some(
            Money::parse("budget", amount, currency).map_err(|_| corrupt("intervention.budget"))?,
        ),
        _ => None,
    };
    let target: Option<Population> = row
        .target
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| corrupt("intervention.target"))?;
    Ok(Intervention {
        id: InterventionId(row.id),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        record: NewIntervention {
            external_id: row.external_id,
            title: row.title,
            description: row.description,
            reporting_organisation: OrganisationId(row.reporting_organisation_id),
            participants,
            sectors,
            locations,
            planned: period(row.planned_start, row.planned_end)?,
            actual: period(row.actual_start, row.actual_end)?,
            status: ActivityStatus::from_code(&row.status)
                .ok_or_else(|| corrupt("intervention.status"))?,
            kind: InterventionKind::from_code(&row.kind)
                .ok_or_else(|| corrupt("intervention.kind"))?,
            approach: Approach::from_code(&row.approach)
                .ok_or_else(|| corrupt("intervention.approach"))?,
            target,
            budget,
            visibility: Visibility::from_code(&row.visibility)
                .ok_or_else(|| corrupt("intervention.visibility"))?,
            linked_activities: row
                .linked_activities
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| corrupt("intervention.linked_activities"))?
                .unwrap_or_default(),
            humanitarian: row.humanitarian,
        },
    })
}

impl Store {
    /// Stores a new intervention and its children in one transaction.
    pub async fn create_intervention(
        &self,
        record: &NewIntervention,
        actor: &Actor,
    ) -> StoreResult<WrittenIntervention> {
        self.retrying(|| self.create_intervention_once(record, actor))
            .await
    }

    async fn create_intervention_once(
        &self,
        record: &NewIntervention,
        actor: &Actor,
    ) -> StoreResult<WrittenIntervention> {
        let txn = self.begin_write().await?;
        let areas = resolve_references(&txn, &[record]).await?;
        let row = intervention::Entity::insert(row_values(record))
            .exec_with_returning(&txn)
            .await
            .map_err(|e| duplicate_external_id(e.into()))?;
        insert_children(&txn, &[(row.id, record)], &areas).await?;
        let stored = assemble_one(&txn, row).await?;
        audit::record(
            &txn,
            actor,
            AuditAction::Create,
            "intervention",
            Some(stored.id.0),
            None::<&()>,
            Some(&stored),
        )
        .await?;
        let (overlaps, new_findings) = Store::check_overlaps_in(
            &txn,
            std::slice::from_ref(&stored),
            &HashSet::from([stored.id]),
            self.overlap_min_score,
            &mut CandidateCache::default(),
        )
        .await?;
        let change = RegistryChange::Interventions(vec![stored.id]);
        self.commit_write(txn, change).await?;
        Ok(WrittenIntervention {
            intervention: stored,
            overlaps,
            new_findings,
        })
    }

    /// Stores many interventions in one transaction (demo data, bulk imports); returns how
    /// many were written.
    pub async fn create_interventions(
        &self,
        records: NewInterventionBatch<'_>,
        actor: &Actor,
    ) -> StoreResult<u64> {
        if records.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        let refs: Vec<&NewIntervention> = records.iter().collect();
        let areas = resolve_references(&txn, &refs).await?;
        let mut written = Vec::with_capacity(records.len());
        for chunk in records.chunks(500) {
            let rows = insert_interventions(&txn, chunk.iter()).await?;
            for r in chunk {
                let row = rows
                    .get(&(r.reporting_organisation.0, r.external_id.clone()))
                    .ok_or(StoreError::NotFound)?;
                written.push((row.id, r));
            }
        }
        insert_children(&txn, &written, &areas).await?;
        audit::record_created(&txn, actor, "intervention", &written).await?;
        let change = RegistryChange::Interventions(
            written.iter().map(|(id, _)| InterventionId(*id)).collect(),
        );
        self.commit_write(txn, change).await?;
        Ok(written.len() as u64)
    }

    /// Replaces an intervention if the caller may see it, may write for its reporting
    /// organisation as it stands in this transaction, and saw its current version.
    pub async fn update_intervention(
        &self,
        id: InterventionId,
        expected_version: i64,
        writer: &Principal,
        record: &NewIntervention,
        actor: &Actor,
    ) -> StoreResult<WrittenIntervention> {
        self.retrying(|| self.update_intervention_once(id, expected_version, writer, record, actor))
            .await
    }

    async fn update_intervention_once(
        &self,
        id: InterventionId,
        expected_version: i64,
        writer: &Principal,
        record: &NewIntervention,
        actor: &Actor,
    ) -> StoreResult<WrittenIntervention> {
        let txn = self.begin_write().await?;
        let current = visible_row(&txn, id, &writer.read_scope()).await?;
        if !writer.may_write_for(OrganisationId(current.reporting_organisation_id))
            || !writer.may_write_for(record.reporting_organisation)
        {
            return Err(StoreError::Forbidden);
        }
        if current.version != expected_version {
            return Err(stale(current.version));
        }
        let areas = resolve_references(&txn, &[record]).await?;
        let mut values = row_values(record);
        values.id = Set(id.0);
        values.version = Set(current.version + 1);
        values.created_at = Set(current.created_at);
        let result = intervention::Entity::update_many()
            .set(values)
            .filter(intervention::Column::Id.eq(id.0))
            // Guards against a concurrent writer between the read above and this update.
            .filter(intervention::Column::Version.eq(expected_version))
            .exec(&txn)
            .await
            .map_err(|e| duplicate_external_id(e.into()))?;
        if result.rows_affected != 1 {
            return Err(stale(expected_version + 1));
        }
        let before = assemble_one(&txn, current).await?;
        delete_children(&txn, id.0).await?;
        insert_children(&txn, &[(id.0, record)], &areas).await?;
        let row = intervention::Entity::find_by_id(id.0)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let stored = assemble_one(&txn, row).await?;
        audit::record(
            &txn,
            actor,
            AuditAction::Update,
            "intervention",
            Some(id.0),
            Some(&before),
            Some(&stored),
        )
        .await?;
        let (overlaps, new_findings) = Store::check_overlaps_in(
            &txn,
            std::slice::from_ref(&stored),
            &HashSet::new(),
            self.overlap_min_score,
            &mut CandidateCache::default(),
        )
        .await?;
        let change = RegistryChange::Interventions(vec![stored.id]);
        self.commit_write(txn, change).await?;
        Ok(WrittenIntervention {
            intervention: stored,
            overlaps,
            new_findings,
        })
    }

    pub async fn delete_intervention(
        &self,
        id: InterventionId,
        expected_version: i64,
        writer: &Principal,
        actor: &Actor,
    ) -> StoreResult<()> {
        self.retrying(|| self.delete_intervention_once(id, expected_version, writer, actor))
            .await
    }

    async fn delete_intervention_once(
        &self,
        id: InterventionId,
        expected_version: i64,
        writer: &Principal,
        actor: &Actor,
    ) -> StoreResult<()> {
        let txn = self.begin_write().await?;
        let current = visible_row(&txn, id, &writer.read_scope()).await?;
        if !writer.may_write_for(OrganisationId(current.reporting_organisation_id)) {
            return Err(StoreError::Forbidden);
        }
        if current.version != expected_version {
            return Err(stale(current.version));
        }
        let before = assemble_one(&txn, current).await?;
        delete_children(&txn, id.0).await?;
        crate::entity::progress_report::Entity::delete_many()
            .filter(crate::entity::progress_report::Column::InterventionId.eq(id.0))
            .exec(&txn)
            .await?;
        let result = intervention::Entity::delete_many()
            .filter(intervention::Column::Id.eq(id.0))
            .filter(intervention::Column::Version.eq(expected_version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(stale(expected_version + 1));
        }
        audit::record(
            &txn,
            actor,
            AuditAction::Delete,
            "intervention",
            Some(id.0),
            Some(&before),
            None::<&()>,
        )
        .await?;
        let change = RegistryChange::Interventions(vec![id]);
        self.commit_write(txn, change).await?;
        Ok(())
    }

    pub async fn intervention(
        &self,
        id: InterventionId,
        scope: &ReadScope,
    ) -> StoreResult<Option<Intervention>> {
        match visible_row(&self.db, id, scope).await {
            Ok(row) => Ok(assemble(&self.db, vec![row]).await?.pop()),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn interventions(
        &self,
        filter: &InterventionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Intervention>> {
        let mut query = intervention::Entity::find()
            .filter(condition(filter))
            .order_by_asc(intervention::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(intervention::Column::Id.gt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        let page_rows = Page::from_overfetch(rows, page.first);
        Ok(Page {
            items: assemble(&self.db, page_rows.items).await?,
            has_next_page: page_rows.has_next_page,
        })
    }

    /// Many interventions by id in a handful of statements, those the caller may read.
    pub async fn interventions_by_ids(
        &self,
        ids: &[InterventionId],
        scope: &ReadScope,
    ) -> StoreResult<Vec<Intervention>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = intervention::Entity::find()
            .filter(intervention::Column::Id.is_in(ids.iter().map(|i| i.0)))
            .filter(readable(scope))
            .all(&self.db)
            .await?;
        assemble(&self.db, rows).await
    }

    pub async fn count_interventions(&self, filter: &InterventionFilter) -> StoreResult<u64> {
        Ok(intervention::Entity::find()
            .filter(condition(filter))
            .count(&self.db)
            .await?)
    }

    /// The area ids of P-codes, for callers that hold locations.
    pub async fn area_ids(&self, pcodes: &[Pcode]) -> StoreResult<HashMap<Pcode, AreaId>> {
        area_ids_in(&self.db, pcodes).await
    }
}

pub(crate) async fn area_ids_in<C: ConnectionTrait>(
    db: &C,
    pcodes: &[Pcode],
) -> StoreResult<HashMap<Pcode, AreaId>> {
    let rows: Vec<(i64, String)> = area::Entity::find()
        .select_only()
        .column(area::Column::Id)
        .column(area::Column::Pcode)
        .filter(area::Column::Pcode.is_in(pcodes.iter().map(|p| p.as_str().to_owned())))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, p)| Pcode::parse(&p).ok().map(|p| (p, AreaId(id))))
        .collect())
}

fn stale(current: i64) -> StoreError {
    StoreError::Conflict(format!(
        "the intervention was changed by someone else: its current version is {current}"
    ))
}

/// The row, if the caller may see it. A record the caller may not see does not exist for
/// them: same error, same message.
pub(crate) async fn visible_row<C: ConnectionTrait>(
    db: &C,
    id: InterventionId,
    scope: &ReadScope,
) -> StoreResult<intervention::Model> {
    intervention::Entity::find_by_id(id.0)
        .filter(readable(scope))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}
