//! Overlap findings: the write-time check, the full recomputation, and the review workflow.
//! The rule and the sweep live in `concord_domain::overlap`; this module fetches
//! candidates, stores findings, and keeps their reviews.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use concord_domain::access::{Principal, ReadScope, RecordAccess, UserId};
use concord_domain::area::{AreaPath, Pcode};
use concord_domain::intervention::{Intervention, InterventionId};
use concord_domain::need::NeedSector;
use concord_domain::organisation::OrganisationId;
use concord_domain::overlap::{self, Finding, FindingKind, NeedLookup, OverlapCandidate, Reasons};
use concord_domain::population::Population;
use concord_domain::reference::SectorVocabulary;
use concord_domain::review::{
    CandidateParts, ReviewStatus, candidate_from, candidate_of, may_review, may_see,
};
use concord_domain::values::{ActivityStatus, Period, Visibility};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::audit::{self, Actor, AuditAction};
use crate::changes::RegistryChange;
use crate::entity::{
    area, intervention, intervention_location, intervention_participant, intervention_sector, need,
    overlap_finding, overlap_review,
};
use crate::interventions::{
    areas_at, areas_within, assemble, has_any_sector, has_location_where, in_any_sector,
    located_in_any, located_where, locations_with_areas, readable,
};
use crate::organisations::corrupt;
use crate::{Page, PageRequest, Store, StoreError, StoreResult, json_text};

/// A stored pair as the recomputation reads it: id, the two interventions, kind, status,
/// review note and score.
type StoredPairRow = (i64, i64, i64, String, String, Option<String>, f64);
/// The unique key of a finding: the two interventions and the kind.
type PairKey = (i64, i64, String);

/// How the system's own closing notes begin, so a recomputation can reopen what it closed.
const CLOSED_NOTE: &str = "closed:";

/// The histogram of the write-time overlap check's stages (`stage`: `fetch` the
/// candidates, run the `engine`, `store` the findings), in seconds; exported by the API's
/// `/metrics`.
pub const OVERLAP_CHECK_DURATION: &str = "concord_overlap_check_duration_seconds";

/// The PostgreSQL channel that carries new findings to every replica.
pub const OVERLAP_CHANNEL: &str = "concord_overlap";

/// A finding as stored, with where its review stands.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFinding {
    pub id: i64,
    pub finding: Finding,
    pub status: ReviewStatus,
    pub review_note: Option<String>,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
}

/// One step of a finding's review history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub status: ReviewStatus,
    pub note: Option<String>,
    pub reviewer: String,
    pub at: DateTime<Utc>,
}

/// Which findings a list returns. A finding is listed only when the caller may read both
/// of its interventions.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    pub scope: ReadScope,
    pub statuses: Option<Vec<ReviewStatus>>,
    pub min_score: Option<f64>,
    /// Either side reported or joined by this organisation.
    pub organisation: Option<concord_domain::organisation::OrganisationId>,
    /// Either side located here or below.
    pub area: Option<AreaPath>,
    /// Either side working in one of these sectors.
    pub sectors: Option<Vec<(SectorVocabulary, String)>>,
    /// Either side running on a day of [from, to].
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub intervention: Option<InterventionId>,
    /// One finding by id (subscriptions match each new finding against their filter).
    pub id: Option<i64>,
}

/// How far a recomputation has got, told as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecomputeProgress {
    /// Reading the live interventions.
    Loading { loaded: u64, total: u64 },
    /// Sweeping and storing: the findings so far run up to the `passed`th of the `total`
    /// interventions in id order. Pairs are counted from their smaller id, so the early
    /// interventions carry more of them.
    Storing {
        passed: u64,
        total: u64,
        findings: u64,
    },
}

/// What a recomputation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recomputation {
    pub candidates: u64,
    pub findings: u64,
    pub new: u64,
    pub updated: u64,
    pub closed: u64,
}

/// People in need by (area path, sector key), the highest figure of any period: the engine
/// asks about a place and sector, and the larger need is the cautious reading.
struct StoredNeeds(HashMap<(String, String), u64>);

impl NeedLookup for StoredNeeds {
    fn people_in_need(&self, area: &AreaPath, sector: &(SectorVocabulary, String)) -> Option<u64> {
        let key = NeedSector::Sector {
            vocabulary: sector.0,
            code: sector.1.clone(),
        }
        .key();
        self.0.get(&(area.as_str().to_owned(), key)).copied()
    }
}

async fn load_needs<C: ConnectionTrait>(
    db: &C,
    areas: Option<&[Pcode]>,
) -> StoreResult<StoredNeeds> {
    let mut area_query = area::Entity::find()
        .select_only()
        .column(area::Column::Id)
        .column(area::Column::Path);
    if let Some(pcodes) = areas {
        area_query = area_query
            .filter(area::Column::Pcode.is_in(pcodes.iter().map(|p| p.as_str().to_owned())));
    }
    let paths: HashMap<i64, String> = area_query
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut need_query = need::Entity::find()
        .select_only()
        .column(need::Column::AreaId)
        .column(need::Column::SectorKey)
        .column(need::Column::PeopleInNeed);
    if areas.is_some() {
        need_query = need_query.filter(need::Column::AreaId.is_in(paths.keys().copied()));
    }
    let rows: Vec<(i64, String, i64)> = need_query.into_tuple().all(db).await?;
    let mut map: HashMap<(String, String), u64> = HashMap::new();
    for (area_id, key, people) in rows {
        let Some(path) = paths.get(&area_id) else {
            continue;
        };
        let entry = map.entry((path.clone(), key)).or_default();
        *entry = Ord::max(*entry, u64::try_from(people).unwrap_or(0));
    }
    Ok(StoredNeeds(map))
}

/// The materialised paths of the P-codes interventions are located in.
pub(crate) async fn paths_of<C: ConnectionTrait>(
    db: &C,
    interventions: &[Intervention],
) -> StoreResult<HashMap<Pcode, AreaPath>> {
    let pcodes: HashSet<String> = interventions
        .iter()
        .flat_map(|i| {
            i.record
                .locations
                .iter()
                .map(|l| l.pcode.as_str().to_owned())
        })
        .collect();
    let mut out = HashMap::new();
    for chunk in pcodes.into_iter().collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<(String, String)> = area::Entity::find()
            .select_only()
            .column(area::Column::Pcode)
            .column(area::Column::Path)
            .filter(area::Column::Pcode.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for (pcode, path) in rows {
            out.insert(
                Pcode::parse(&pcode).map_err(|_| corrupt("area.pcode"))?,
                AreaPath::parse(&path).map_err(|_| corrupt("area.path"))?,
            );
        }
    }
    Ok(out)
}

fn live() -> Condition {
    Condition::all().add(intervention::Column::Status.is_not_in([
        ActivityStatus::Closed.code(),
        ActivityStatus::Cancelled.code(),
    ]))
}

/// Areas per candidate query: each is one range in an `OR`, and SQLite limits how deep an
/// expression may nest.
const AREAS_PER_QUERY: usize = 100;

/// The candidates of written records: live interventions sharing a sector key with one of
/// them, located in one of their areas, below or above them, and running at some time of
/// their span. Each part is an indexed lookup. For one record these are exactly its
/// candidates; for a batch, a superset of each record's own (the rule decides), fetched in
/// a few queries: one per [`AREAS_PER_QUERY`] areas, each with the sectors and dates of the
/// records located there only.
async fn candidates_for<'c, C: ConnectionTrait>(
    db: &C,
    written: &[&OverlapCandidate],
    cache: &'c mut CandidateCache,
) -> StoreResult<Vec<&'c OverlapCandidate>> {
    // An area whose ancestor is also written is inside that ancestor's range already.
    let mut paths: Vec<&AreaPath> = written.iter().flat_map(|w| &w.locations).collect();
    paths.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    paths.dedup();
    let mut outermost: Vec<&AreaPath> = Vec::new();
    for path in paths {
        if outermost
            .last()
            .is_none_or(|last| !last.is_ancestor_or_self_of(path))
        {
            outermost.push(path);
        }
    }
    // Which chunk of areas each record's locations fall in: in path order, the area that
    // holds a location is the last outermost one not after it.
    let mut by_chunk: Vec<Vec<&OverlapCandidate>> =
        vec![Vec::new(); outermost.len().div_ceil(AREAS_PER_QUERY)];
    for w in written {
        let mut chunks: Vec<usize> = w
            .locations
            .iter()
            .map(|l| {
                outermost
                    .partition_point(|p| p.as_str() <= l.as_str())
                    .saturating_sub(1)
                    / AREAS_PER_QUERY
            })
            .collect();
        chunks.sort_unstable();
        chunks.dedup();
        for c in chunks {
            by_chunk[c].push(w);
        }
    }
    let written_ids: HashSet<i64> = written.iter().map(|w| w.id.0).collect();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut found: Vec<(i64, i64)> = Vec::new();
    // What a set of sectors matches is what each of them matches: worked out once per code,
    // as a batch repeats a few codes many times.
    let mut matching: HashMap<&(SectorVocabulary, String), Vec<(SectorVocabulary, String)>> =
        HashMap::new();
    for (chunk, group) in outermost.chunks(AREAS_PER_QUERY).zip(&by_chunk) {
        let mut sectors: Vec<(SectorVocabulary, String)> = Vec::new();
        for sector in group.iter().flat_map(|w| &w.sectors) {
            sectors.extend_from_slice(
                matching
                    .entry(sector)
                    .or_insert_with(|| overlap::matching_sectors(std::slice::from_ref(sector))),
            );
        }
        sectors.sort();
        sectors.dedup();
        let start = group.iter().map(|w| w.period.start()).min();
        let end = group
            .iter()
            .map(|w| w.period.end())
            .try_fold(NaiveDate::MIN, |latest, end| {
                end.map(|e| Ord::max(latest, e))
            });
        let ancestors: Vec<String> = chunk
            .iter()
            .flat_map(|p| p.pcodes())
            .map(|p| p.as_str().to_owned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let paths: Vec<AreaPath> = chunk.iter().map(|p| (*p).clone()).collect();
        // Which condition drives the query decides its cost; a list of every record of some
        // sectors costs the size of the registry. One record's places are narrow: the
        // records located there are listed and each checked for a shared sector. A batch's
        // places and sectors together cover much of the registry: the rows running in its
        // span of time are walked and each checked for both.
        let places = Condition::any()
            .add(areas_within(&paths))
            .add(areas_at(ancestors));
        let mut cond = if written.len() == 1 {
            live()
                .add(has_any_sector(&sectors))
                .add(located_where(places))
        } else {
            live()
                .add(has_any_sector(&sectors))
                .add(has_location_where(places))
        };
        if let Some(start) = start {
            cond = cond.add(
                Condition::any()
                    .add(intervention::Column::EffectiveEnd.is_null())
                    .add(intervention::Column::EffectiveEnd.gte(start)),
            );
        }
        if let Some(end) = end {
            cond = cond.add(intervention::Column::EffectiveStart.lte(end));
        }
        let rows: Vec<(i64, i64)> = intervention::Entity::find()
            .select_only()
            .column(intervention::Column::Id)
            .column(intervention::Column::Version)
            .filter(cond)
            .into_tuple()
            .all(db)
            .await?;
        for (id, version) in rows {
            if !written_ids.contains(&id) && seen.insert(id) {
                found.push((id, version));
            }
        }
    }
    let mut stale: Vec<i64> = found
        .iter()
        .filter(|(id, version)| cache.version_of(*id) != Some(*version))
        .map(|(id, _)| *id)
        .collect();
    if cache.read.len() + stale.len() > CANDIDATE_CACHE_LIMIT {
        cache.read.clear();
        stale = found.iter().map(|(id, _)| *id).collect();
    }
    for chunk in stale.chunks(1000) {
        let query = intervention::Entity::find()
            .filter(intervention::Column::Id.is_in(chunk.iter().copied()));
        for (id, version, candidate) in read_candidates(db, query).await? {
            cache.keep(id, version, candidate);
        }
    }
    Ok(found.iter().filter_map(|(id, _)| cache.get(*id)).collect())
}

/// What the overlap rule reads of an intervention row.
#[derive(FromQueryResult)]
struct CandidateRow {
    id: i64,
    version: i64,
    external_id: String,
    reporting_organisation_id: i64,
    title: String,
    status: String,
    effective_start: NaiveDate,
    effective_end: Option<NaiveDate>,
    target: Option<serde_json::Value>,
    linked_activities: Option<serde_json::Value>,
}

/// The candidates of the interventions `query` selects, with their versions (`None` for a
/// record without dates, which overlaps nothing). Reads only what the rule reads, and the
/// locations' area paths joined in: the same candidates as [`candidate_of`] gives for the
/// assembled interventions, at a fraction of the cost of assembling them.
async fn read_candidates<C: ConnectionTrait>(
    db: &C,
    query: Select<intervention::Entity>,
) -> StoreResult<Vec<(InterventionId, i64, Option<OverlapCandidate>)>> {
    use intervention::Column as I;
    let rows: Vec<CandidateRow> = query
        .select_only()
        .columns([
            I::Id,
            I::Version,
            I::ExternalId,
            I::ReportingOrganisationId,
            I::Title,
            I::Status,
            I::EffectiveStart,
            I::EffectiveEnd,
            I::Target,
            I::LinkedActivities,
        ])
        .into_model()
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut sectors: HashMap<i64, Vec<(SectorVocabulary, String)>> = HashMap::new();
    let sector_rows: Vec<(i64, String, String)> = intervention_sector::Entity::find()
        .select_only()
        .columns([
            intervention_sector::Column::InterventionId,
            intervention_sector::Column::Vocabulary,
            intervention_sector::Column::Code,
        ])
        .filter(intervention_sector::Column::InterventionId.is_in(ids.clone()))
        .order_by_asc(intervention_sector::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for (id, vocabulary, code) in sector_rows {
        let vocabulary = SectorVocabulary::from_iati_code(&vocabulary)
            .ok_or_else(|| corrupt("intervention_sector.vocabulary"))?;
        sectors.entry(id).or_default().push((vocabulary, code));
    }
    let location_rows: Vec<(i64, String, Option<String>)> = locations_with_areas(ids.clone())
        .column(intervention_location::Column::InterventionId)
        .column(area::Column::Path)
        .column(intervention_location::Column::Site)
        .into_tuple()
        .all(db)
        .await?;
    let mut places: HashMap<i64, Vec<(AreaPath, Option<String>)>> = HashMap::new();
    // Paths repeat across a batch: parsed once each, then shared.
    let mut parsed: HashMap<String, AreaPath> = HashMap::new();
    for (id, path, site) in location_rows {
        let path = match parsed.get(&path) {
            Some(p) => p.clone(),
            None => {
                let p = AreaPath::parse(&path).map_err(|_| corrupt("area.path"))?;
                parsed.insert(path, p.clone());
                p
            }
        };
        places.entry(id).or_default().push((path, site));
    }
    let mut activity_ids: HashMap<i64, Vec<String>> = HashMap::new();
    let participant_rows: Vec<(i64, String)> = intervention_participant::Entity::find()
        .select_only()
        .column(intervention_participant::Column::InterventionId)
        .column(intervention_participant::Column::ActivityId)
        .filter(intervention_participant::Column::InterventionId.is_in(ids))
        .filter(intervention_participant::Column::ActivityId.is_not_null())
        .order_by_asc(intervention_participant::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for (id, activity) in participant_rows {
        activity_ids.entry(id).or_default().push(activity);
    }
    rows.into_iter()
        .map(|row| {
            let id = InterventionId(row.id);
            // A record without dates is stored with the earliest date as its start.
            if row.effective_start == NaiveDate::MIN {
                return Ok((id, row.version, None));
            }
            let period = Period::new("period", row.effective_start, row.effective_end)
                .map_err(|_| corrupt("intervention effective dates"))?;
            let target: Option<Population> = row
                .target
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| corrupt("intervention.target"))?;
            let linked: Vec<String> = row
                .linked_activities
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| corrupt("intervention.linked_activities"))?
                .unwrap_or_default();
            // As `NewIntervention::linked_ids`: participants' activity ids, then references.
            let mut linked_ids = activity_ids.remove(&row.id).unwrap_or_default();
            linked_ids.extend(linked);
            let candidate = candidate_from(CandidateParts {
                id,
                organisation: OrganisationId(row.reporting_organisation_id),
                status: ActivityStatus::from_code(&row.status)
                    .ok_or_else(|| corrupt("intervention.status"))?,
                period,
                sectors: sectors.remove(&row.id).unwrap_or_default(),
                locations: places.remove(&row.id).unwrap_or_default(),
                target,
                title: row.title,
                external_id: row.external_id,
                linked_ids,
            });
            Ok((id, row.version, Some(candidate)))
        })
        .collect()
}

/// The candidates one import has read, each with the version it was read at. An import's
/// batches mostly meet the same records (the registry's work in its region, and its own
/// earlier batches): a batch reads again only those written since, so each record is
/// read about once per import rather than once per batch. Records are versioned on
/// every write, and area paths never change in place, so a record of an unchanged version
/// is the candidate it was. Held by one import transaction, for as long as it runs; other
/// writers cannot change its candidates meanwhile (the SQLite write lock, the countries'
/// advisory locks on PostgreSQL), so the versions guard against what that reasoning
/// misses rather than against them.
#[derive(Debug, Default)]
pub(crate) struct CandidateCache {
    /// By intervention id: the version read, and its candidate (`None` when the record has
    /// no dates and so overlaps nothing).
    read: HashMap<i64, (i64, Option<OverlapCandidate>)>,
}

/// The most candidates an import keeps: past it, the cache starts over, so an import
/// spread over a registry of millions holds a bounded amount of memory. A candidate of an
/// IATI activity takes about 3 KB, so this is about 150 MB; starting over costs one batch
/// a fresh read of its candidates.
const CANDIDATE_CACHE_LIMIT: usize = 50_000;

impl CandidateCache {
    fn version_of(&self, id: i64) -> Option<i64> {
        self.read.get(&id).map(|(version, _)| *version)
    }

    fn get(&self, id: i64) -> Option<&OverlapCandidate> {
        self.read.get(&id).and_then(|(_, c)| c.as_ref())
    }

    fn keep(&mut self, id: InterventionId, version: i64, candidate: Option<OverlapCandidate>) {
        self.read.insert(id.0, (version, candidate));
    }
}

fn finding_of(row: overlap_finding::Model) -> StoreResult<StoredFinding> {
    let kind = match row.kind.as_str() {
        "OVERLAP" => FindingKind::Overlap,
        "PROBABLE_DUPLICATE_RECORD" => FindingKind::ProbableDuplicateRecord,
        _ => return Err(corrupt("overlap_finding.kind")),
    };
    let reasons: Reasons =
        serde_json::from_value(row.reasons).map_err(|_| corrupt("overlap_finding.reasons"))?;
    Ok(StoredFinding {
        id: row.id,
        finding: Finding {
            a: InterventionId(row.intervention_a),
            b: InterventionId(row.intervention_b),
            kind,
            score: row.score,
            reasons,
        },
        status: ReviewStatus::from_code(&row.status)
            .ok_or_else(|| corrupt("overlap_finding.status"))?,
        review_note: row.review_note,
        reviewed_by: row.reviewed_by.map(UserId),
        reviewed_at: row.reviewed_at,
        detected_at: row.detected_at,
    })
}

/// Stores findings: new pairs are inserted OPEN; pairs already known keep their review and
/// get the new score and reasons. Returns the stored findings and which of them are new.
async fn upsert_findings<C: ConnectionTrait>(
    db: &C,
    findings: &[Finding],
) -> StoreResult<(Vec<StoredFinding>, Vec<i64>)> {
    let mut stored = Vec::with_capacity(findings.len());
    let mut new = Vec::new();
    let now = Utc::now();
    // A few statements per 500 findings rather than two per finding: a dense area gives
    // dozens of findings per write.
    for chunk in findings.chunks(500) {
        let existing = findings_of_pairs(db, chunk).await?;
        let mut fresh = Vec::new();
        for f in chunk {
            let reasons =
                serde_json::to_value(&f.reasons).map_err(|_| corrupt("overlap_finding.reasons"))?;
            match existing.get(&(f.a.0, f.b.0, f.kind.code().to_owned())) {
                Some(row) if row.score == f.score && row.reasons == reasons => {
                    stored.push(finding_of(row.clone())?);
                }
                Some(row) => {
                    let mut active: overlap_finding::ActiveModel = row.clone().into();
                    active.score = Set(f.score);
                    active.reasons = Set(reasons);
                    active.updated_at = Set(now);
                    stored.push(finding_of(
                        overlap_finding::Entity::update(active).exec(db).await?,
                    )?);
                }
                None => fresh.push(f),
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let ids = insert_open(db, &fresh, now).await?;
        for f in fresh {
            let id = ids[&pair_key(f)];
            new.push(id);
            stored.push(opened(id, f, now));
        }
    }
    Ok((stored, new))
}

/// On PostgreSQL, waits until no other transaction is checking records in the same
/// countries, and keeps them waiting until this one ends. Two records written at the same
/// time would otherwise each miss the other, uncommitted, and their pair would never be
/// found; with the lock, the second one's candidates include the first. Records of
/// different countries never meet, so they do not wait for each other. (SQLite writers run
/// one at a time.)
async fn lock_countries<C: ConnectionTrait>(
    db: &C,
    written: &[OverlapCandidate],
) -> StoreResult<()> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let mut keys: Vec<i64> = written
        .iter()
        .flat_map(|w| &w.locations)
        .filter_map(|p| p.pcodes().first().map(|c| advisory_key(c.as_str())))
        .collect();
    // Always in one order, so two writers never wait for each other's second lock.
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A stable advisory-lock key for a country (FNV-1a): every replica and version must
/// compute the same one.
fn advisory_key(country: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "concord-overlap:".bytes().chain(country.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The findings whose partners still exist, holding them until the transaction ends. On
/// PostgreSQL a candidate read a moment ago may be deleted by a transaction that commits
/// before this one stores its findings; the key-share lock waits for such a delete and then
/// skips the row, so the finding is dropped instead of failing the whole write. (SQLite
/// writers run one at a time.)
async fn still_present<C: ConnectionTrait>(
    db: &C,
    written: &[OverlapCandidate],
    findings: Vec<Finding>,
) -> StoreResult<Vec<Finding>> {
    if db.get_database_backend() != DatabaseBackend::Postgres || findings.is_empty() {
        return Ok(findings);
    }
    let own: HashSet<i64> = written.iter().map(|w| w.id.0).collect();
    let partners: Vec<i64> = findings
        .iter()
        .flat_map(|f| [f.a.0, f.b.0])
        .filter(|id| !own.contains(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut present: HashSet<i64> = HashSet::with_capacity(partners.len());
    for chunk in partners.chunks(1000) {
        present.extend(
            intervention::Entity::find()
                .select_only()
                .column(intervention::Column::Id)
                .filter(intervention::Column::Id.is_in(chunk.iter().copied()))
                .lock(sea_orm::sea_query::LockType::KeyShare)
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    Ok(findings
        .into_iter()
        .filter(|f| {
            (own.contains(&f.a.0) || present.contains(&f.a.0))
                && (own.contains(&f.b.0) || present.contains(&f.b.0))
        })
        .collect())
}

/// The row of a newly found pair: OPEN, detected now.
fn pair_key(f: &Finding) -> PairKey {
    (f.a.0, f.b.0, f.kind.code().to_owned())
}

/// A finding just inserted: OPEN, not yet reviewed.
fn opened(id: i64, f: &Finding, now: DateTime<Utc>) -> StoredFinding {
    StoredFinding {
        id,
        finding: f.clone(),
        status: ReviewStatus::Open,
        review_note: None,
        reviewed_by: None,
        reviewed_at: None,
        detected_at: now,
    }
}

/// Inserts pairs as OPEN findings, up to 500 per statement, and returns each pair's id.
/// The reasons are bound as JSON text; the ids come back with their pairs (RETURNING gives
/// them in no promised order).
async fn insert_open<C: ConnectionTrait>(
    db: &C,
    findings: &[&Finding],
    now: DateTime<Utc>,
) -> StoreResult<HashMap<PairKey, i64>> {
    use overlap_finding::Column as C;
    let backend = db.get_database_backend();
    let mut ids = HashMap::with_capacity(findings.len());
    for chunk in findings.chunks(500) {
        let mut insert = Query::insert();
        insert.into_table(overlap_finding::Entity).columns([
            C::InterventionA,
            C::InterventionB,
            C::Kind,
            C::Score,
            C::Reasons,
            C::Status,
            C::DetectedAt,
            C::UpdatedAt,
        ]);
        for f in chunk {
            let reasons = serde_json::to_string(&f.reasons)
                .map_err(|_| corrupt("overlap_finding.reasons"))?;
            insert.values_panic([
                Expr::val(f.a.0),
                Expr::val(f.b.0),
                Expr::val(f.kind.code()),
                Expr::val(f.score),
                json_text(backend, Some(reasons)),
                Expr::val(ReviewStatus::Open.code()),
                Expr::val(now),
                Expr::val(now),
            ]);
        }
        insert.returning(Query::returning().columns([
            C::Id,
            C::InterventionA,
            C::InterventionB,
            C::Kind,
        ]));
        for row in db.query_all(&insert).await? {
            let id: i64 = row.try_get("", "id")?;
            let a: i64 = row.try_get("", "intervention_a")?;
            let b: i64 = row.try_get("", "intervention_b")?;
            let kind: String = row.try_get("", "kind")?;
            ids.insert((a, b, kind), id);
        }
    }
    if ids.len() != findings.len() {
        return Err(StoreError::NotFound);
    }
    Ok(ids)
}

/// Stores findings of pairs that cannot be stored yet, as one of their interventions was
/// created in this transaction: inserted OPEN, with no lookup first.
async fn insert_findings<C: ConnectionTrait>(
    db: &C,
    findings: &[Finding],
) -> StoreResult<(Vec<StoredFinding>, Vec<i64>)> {
    let now = Utc::now();
    let all: Vec<&Finding> = findings.iter().collect();
    let ids = insert_open(db, &all, now).await?;
    let stored: Vec<StoredFinding> = findings
        .iter()
        .map(|f| opened(ids[&pair_key(f)], f, now))
        .collect();
    let new = stored.iter().map(|f| f.id).collect();
    Ok((stored, new))
}

/// The stored findings of some pairs, by (a, b, kind), in one statement.
async fn findings_of_pairs<C: ConnectionTrait>(
    db: &C,
    findings: &[Finding],
) -> StoreResult<HashMap<(i64, i64, String), overlap_finding::Model>> {
    let wanted: HashSet<(i64, i64)> = findings.iter().map(|f| (f.a.0, f.b.0)).collect();
    // A write's findings all involve the written record: its own findings are few, while
    // the pairs among its candidates, which the two sides' ids would also match, can be
    // many in a dense area.
    let shared = findings.first().and_then(|first| {
        [first.a.0, first.b.0]
            .into_iter()
            .find(|id| findings.iter().all(|f| f.a.0 == *id || f.b.0 == *id))
    });
    let condition = match shared {
        Some(id) => Condition::any()
            .add(overlap_finding::Column::InterventionA.eq(id))
            .add(overlap_finding::Column::InterventionB.eq(id)),
        None => Condition::all()
            .add(
                overlap_finding::Column::InterventionA
                    .is_in(findings.iter().map(|f| f.a.0).collect::<HashSet<_>>()),
            )
            .add(
                overlap_finding::Column::InterventionB
                    .is_in(findings.iter().map(|f| f.b.0).collect::<HashSet<_>>()),
            ),
    };
    Ok(overlap_finding::Entity::find()
        .filter(condition)
        .all(db)
        .await?
        .into_iter()
        .filter(|row| wanted.contains(&(row.intervention_a, row.intervention_b)))
        .map(|row| {
            (
                (row.intervention_a, row.intervention_b, row.kind.clone()),
                row,
            )
        })
        .collect())
}

/// Closes findings whose pair no longer overlaps, keeping their history.
async fn close_findings<C: ConnectionTrait>(db: &C, ids: &[i64]) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let note = format!("{CLOSED_NOTE} the pair no longer overlaps");
    for chunk in ids.chunks(1000) {
        overlap_finding::Entity::update_many()
            .col_expr(
                overlap_finding::Column::Status,
                Expr::value(ReviewStatus::Resolved.code()),
            )
            .col_expr(
                overlap_finding::Column::ReviewNote,
                Expr::value(note.clone()),
            )
            .col_expr(overlap_finding::Column::ReviewedAt, Expr::value(now))
            .col_expr(overlap_finding::Column::UpdatedAt, Expr::value(now))
            .filter(overlap_finding::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
        overlap_review::Entity::insert_many(chunk.iter().map(|id| overlap_review::ActiveModel {
            finding_id: Set(*id),
            status: Set(ReviewStatus::Resolved.code().to_owned()),
            note: Set(Some(note.clone())),
            reviewer_user_id: Set(None),
            reviewer: Set("concord".to_owned()),
            at: Set(now),
            ..Default::default()
        }))
        .exec(db)
        .await?;
    }
    Ok(ids.len() as u64)
}

/// Findings the sweep hands over at once, and how many such chunks it may run ahead of
/// the merge that stores them.
const SWEPT_CHUNK: usize = 2_000;
const SWEEP_AHEAD: usize = 4;
/// Stored pairs a recomputation reads per statement.
const STORED_PAIRS_PAGE: u64 = 2_000;
/// New findings a recomputation announces at most: announcing every pair of a first
/// recomputation would flood subscribers with history; live events are for what is found
/// as it happens.
const ANNOUNCED_AT_MOST: usize = 1_000;

/// The stored pairs in `(a, b, kind)` order, read a page at a time by keyset.
struct StoredPairs {
    /// The largest id stored when the recomputation began: the pairs it inserts come
    /// after, and the cursor must not meet them as stored ones.
    until: Option<i64>,
    after: Option<PairKey>,
    page: VecDeque<StoredPairRow>,
    exhausted: bool,
}

impl StoredPairs {
    async fn new<C: ConnectionTrait>(db: &C) -> StoreResult<Self> {
        let until: Option<i64> = overlap_finding::Entity::find()
            .select_only()
            .column_as(overlap_finding::Column::Id.max(), "until")
            .into_tuple()
            .one(db)
            .await?
            .flatten();
        Ok(StoredPairs {
            until,
            after: None,
            page: VecDeque::new(),
            exhausted: until.is_none(),
        })
    }

    /// The `(a, b)` of the next stored pair.
    async fn next_pair<C: ConnectionTrait>(&mut self, db: &C) -> StoreResult<Option<(i64, i64)>> {
        if self.page.is_empty() && !self.exhausted {
            self.read_page(db).await?;
        }
        Ok(self.page.front().map(|row| (row.1, row.2)))
    }

    async fn pop<C: ConnectionTrait>(&mut self, db: &C) -> StoreResult<Option<StoredPairRow>> {
        self.next_pair(db).await?;
        Ok(self.page.pop_front())
    }

    async fn read_page<C: ConnectionTrait>(&mut self, db: &C) -> StoreResult<()> {
        use overlap_finding::Column as C;
        let mut query = overlap_finding::Entity::find()
            .select_only()
            .columns([
                C::Id,
                C::InterventionA,
                C::InterventionB,
                C::Kind,
                C::Status,
                C::ReviewNote,
                C::Score,
            ])
            .filter(C::Id.lte(self.until))
            .order_by_asc(C::InterventionA)
            .order_by_asc(C::InterventionB)
            .order_by_asc(C::Kind)
            .limit(STORED_PAIRS_PAGE);
        if let Some((a, b, kind)) = &self.after {
            // One row comparison, which both databases answer from the unique index.
            query = query.filter(
                Expr::tuple([
                    Expr::col(C::InterventionA),
                    Expr::col(C::InterventionB),
                    Expr::col(C::Kind),
                ])
                .gt(Expr::tuple([
                    Expr::val(*a),
                    Expr::val(*b),
                    Expr::val(kind.as_str()),
                ])),
            );
        }
        let rows: Vec<StoredPairRow> = query.into_tuple().all(db).await?;
        self.exhausted = (rows.len() as u64) < STORED_PAIRS_PAGE;
        self.after = rows.last().map(|row| (row.1, row.2, row.3.clone()));
        self.page.extend(rows);
        Ok(())
    }
}

/// A recomputation's merge of the sweep's findings with the stored pairs, both in `(a, b)`
/// order: a finding without a stored pair is opened, a stored pair found again keeps its
/// review (its score refreshed, reopened if the system had closed it), and a stored pair
/// the sweep passed without finding is closed. Writes go out in bulk as they accumulate.
struct FindingMerge {
    stored: StoredPairs,
    fresh: Vec<Finding>,
    vanished: Vec<i64>,
    /// The ids of new findings, until there are too many to announce.
    announced: Option<Vec<i64>>,
    now: DateTime<Utc>,
    summary: Recomputation,
}

impl FindingMerge {
    async fn new<C: ConnectionTrait>(db: &C) -> StoreResult<Self> {
        Ok(FindingMerge {
            stored: StoredPairs::new(db).await?,
            fresh: Vec::new(),
            vanished: Vec::new(),
            announced: Some(Vec::new()),
            now: Utc::now(),
            summary: Recomputation::default(),
        })
    }

    /// Merges the next findings of the sweep, which come in `(a, b)` order with one
    /// finding per pair.
    async fn take<C: ConnectionTrait>(
        &mut self,
        db: &C,
        findings: Vec<Finding>,
    ) -> StoreResult<()> {
        for f in findings {
            self.summary.findings += 1;
            let pair = (f.a.0, f.b.0);
            while self.stored.next_pair(db).await?.is_some_and(|p| p < pair) {
                if let Some(row) = self.stored.pop(db).await? {
                    self.passed(db, row).await?;
                }
            }
            let mut same = None;
            while self.stored.next_pair(db).await? == Some(pair) {
                let Some(row) = self.stored.pop(db).await? else {
                    break;
                };
                if same.is_none() && row.3 == f.kind.code() {
                    same = Some(row);
                } else {
                    self.passed(db, row).await?;
                }
            }
            match same {
                Some(row) => self.keep(db, row, &f).await?,
                None => {
                    self.fresh.push(f);
                    if self.fresh.len() >= 500 {
                        self.open(db).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the merge: what is left of the stored pairs no longer overlaps.
    async fn finish<C: ConnectionTrait>(mut self, db: &C) -> StoreResult<Recomputation> {
        self.open(db).await?;
        while let Some(row) = self.stored.pop(db).await? {
            self.passed(db, row).await?;
        }
        self.close(db).await?;
        if let Some(new) = &self.announced {
            notify(db, new).await?;
        }
        Ok(self.summary)
    }

    async fn keep<C: ConnectionTrait>(
        &mut self,
        db: &C,
        (id, _, _, _, status, note, score): StoredPairRow,
        f: &Finding,
    ) -> StoreResult<()> {
        self.summary.updated += 1;
        let closed_by_us = status == ReviewStatus::Resolved.code()
            && note.as_deref().is_some_and(|n| n.starts_with(CLOSED_NOTE));
        if (score - f.score).abs() <= 1e-9 && !closed_by_us {
            return Ok(());
        }
        let reasons =
            serde_json::to_value(&f.reasons).map_err(|_| corrupt("overlap_finding.reasons"))?;
        let mut update = overlap_finding::Entity::update_many()
            .col_expr(overlap_finding::Column::Score, Expr::value(f.score))
            .col_expr(overlap_finding::Column::Reasons, Expr::value(reasons))
            .col_expr(overlap_finding::Column::UpdatedAt, Expr::value(self.now));
        if closed_by_us {
            update = update
                .col_expr(
                    overlap_finding::Column::Status,
                    Expr::value(ReviewStatus::Open.code()),
                )
                .col_expr(
                    overlap_finding::Column::ReviewNote,
                    Expr::value(Option::<String>::None),
                );
        }
        update
            .filter(overlap_finding::Column::Id.eq(id))
            .exec(db)
            .await?;
        Ok(())
    }

    /// A stored pair not found again: closed, unless someone already resolved it.
    async fn passed<C: ConnectionTrait>(&mut self, db: &C, row: StoredPairRow) -> StoreResult<()> {
        if row.4 != ReviewStatus::Resolved.code() {
            self.vanished.push(row.0);
            if self.vanished.len() >= 1_000 {
                self.close(db).await?;
            }
        }
        Ok(())
    }

    async fn open<C: ConnectionTrait>(&mut self, db: &C) -> StoreResult<()> {
        if self.fresh.is_empty() {
            return Ok(());
        }
        let fresh: Vec<&Finding> = self.fresh.iter().collect();
        let ids = insert_open(db, &fresh, self.now).await?;
        self.summary.new += ids.len() as u64;
        if let Some(announced) = &mut self.announced {
            announced.extend(ids.into_values());
            if announced.len() > ANNOUNCED_AT_MOST {
                self.announced = None;
            }
        }
        self.fresh.clear();
        Ok(())
    }

    async fn close<C: ConnectionTrait>(&mut self, db: &C) -> StoreResult<()> {
        self.summary.closed += close_findings(db, &self.vanished).await?;
        self.vanished.clear();
        Ok(())
    }
}

/// The sweep on a thread of its own, its findings merged with the stored pairs in
/// `txn` as they come.
async fn sweep_and_merge(
    txn: &sea_orm::DatabaseTransaction,
    candidates: Vec<OverlapCandidate>,
    needs: StoredNeeds,
    min_score: f64,
    progress: &(dyn Fn(RecomputeProgress) + Sync),
) -> StoreResult<Recomputation> {
    // Loaded in id order: where a pair's smaller id falls tells how far the sweep is.
    let ids: Vec<InterventionId> = candidates.iter().map(|c| c.id).collect();
    let mut merge = FindingMerge::new(txn).await?;
    let (send, mut swept) = tokio::sync::mpsc::channel::<Vec<Finding>>(SWEEP_AHEAD);
    let sweep = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(SWEPT_CHUNK);
        let mut wanted = true;
        overlap::sweep_each(&candidates, &needs, &mut |f| {
            if !wanted || f.score < min_score {
                return;
            }
            chunk.push(f);
            if chunk.len() == SWEPT_CHUNK {
                // A refusal means the merge failed: the rest is not wanted.
                wanted = send.blocking_send(std::mem::take(&mut chunk)).is_ok();
            }
        });
        if wanted && !chunk.is_empty() {
            send.blocking_send(chunk).ok();
        }
    });
    while let Some(chunk) = swept.recv().await {
        let last = chunk.last().map(|f| f.a);
        merge.take(txn, chunk).await?;
        if let Some(a) = last {
            progress(RecomputeProgress::Storing {
                passed: ids.partition_point(|id| *id <= a) as u64,
                total: ids.len() as u64,
                findings: merge.summary.findings,
            });
        }
    }
    sweep.await.map_err(|e| StoreError::Database {
        source: sea_orm::DbErr::Custom(format!("the overlap sweep stopped: {e}")),
        location: std::panic::Location::caller(),
    })?;
    merge.finish(txn).await
}

/// The page cache of a recomputation on SQLite: 256 MiB instead of the connection's usual
/// 2 MiB. Its inserts land all over the findings' secondary indexes (by second intervention,
/// by status and score), and with a small cache each one reads again pages the previous
/// ones evicted. Put back before the transaction ends, so the connection goes back to the
/// pool as it came and only a running recomputation holds that much.
struct WideCache(Option<i64>);

/// In KiB, negative as SQLite takes a size rather than a page count.
const RECOMPUTE_CACHE: i64 = -262_144;

impl WideCache {
    async fn open<C: ConnectionTrait>(db: &C) -> StoreResult<Self> {
        let backend = db.get_database_backend();
        if backend != DatabaseBackend::Sqlite {
            return Ok(WideCache(None));
        }
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                "PRAGMA cache_size",
            ))
            .await?;
        let before: i64 = match row {
            Some(row) => row.try_get("", "cache_size")?,
            None => return Ok(WideCache(None)),
        };
        db.execute_unprepared(&format!("PRAGMA cache_size = {RECOMPUTE_CACHE}"))
            .await?;
        Ok(WideCache(Some(before)))
    }

    async fn close<C: ConnectionTrait>(self, db: &C) -> StoreResult<()> {
        if let Some(before) = self.0 {
            db.execute_unprepared(&format!("PRAGMA cache_size = {before}"))
                .await?;
        }
        Ok(())
    }
}

/// Tells every replica about new findings; PostgreSQL delivers it when the transaction
/// commits, and never if it rolls back.
async fn notify<C: ConnectionTrait>(db: &C, new: &[i64]) -> StoreResult<()> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    // One notification per finding, sent by one statement per thousand: an import can
    // find thousands at once.
    for chunk in new.chunks(1000) {
        let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, id) FROM unnest(string_to_array($2, ',')) AS id",
            [OVERLAP_CHANNEL.into(), ids.join(",").into()],
        ))
        .await?;
    }
    Ok(())
}

type SideFacts = (
    Visibility,
    concord_domain::organisation::OrganisationId,
    Vec<AreaPath>,
    Vec<(SectorVocabulary, String)>,
);

fn access_of(f: &SideFacts) -> RecordAccess<'_> {
    RecordAccess {
        visibility: f.0,
        reporting_organisation: f.1,
        locations: &f.2,
        sectors: &f.3,
    }
}

fn visible_pair(scope: &ReadScope) -> Condition {
    if scope.everything {
        return Condition::all();
    }
    Condition::all()
        .add(side_where(
            overlap_finding::Column::InterventionA,
            readable(scope),
        ))
        .add(side_where(
            overlap_finding::Column::InterventionB,
            readable(scope),
        ))
}

/// Whether the intervention on one side of a finding meets `cond`, as a check of each
/// finding the rest of the query walks (in id order, for a page). The list form (`a IN
/// (SELECT id ...) AND b IN (...)`) lets SQLite probe the pair index with every pair of
/// listed ids and sort what it finds: on 20,000 interventions with 1.3 million findings a
/// page of ten took 158 s that way, and 0.3 ms this way.
fn side_where(side: overlap_finding::Column, cond: Condition) -> Condition {
    Condition::all().add(Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(intervention::Entity)
            .cond_where(
                Condition::all()
                    .add(
                        Expr::col((intervention::Entity, intervention::Column::Id))
                            .equals((overlap_finding::Entity, side)),
                    )
                    .add(cond),
            )
            .to_owned(),
    ))
}

fn finding_condition(filter: &FindingFilter) -> Condition {
    use overlap_finding::Column as C;
    let mut cond = visible_pair(&filter.scope);
    if let Some(statuses) = &filter.statuses {
        cond = cond.add(C::Status.is_in(statuses.iter().map(|s| s.code())));
    }
    if let Some(min) = filter.min_score {
        cond = cond.add(C::Score.gte(min));
    }
    if let Some(id) = filter.id {
        cond = cond.add(C::Id.eq(id));
    }
    if let Some(id) = filter.intervention {
        cond = cond.add(
            Condition::any()
                .add(C::InterventionA.eq(id.0))
                .add(C::InterventionB.eq(id.0)),
        );
    }
    // Filters on the interventions apply to either side of the pair.
    let mut side = Condition::all();
    let mut has_side = false;
    if let Some(org) = filter.organisation {
        side = side.add(
            Condition::any()
                .add(intervention::Column::ReportingOrganisationId.eq(org.0))
                .add(
                    intervention::Column::Id.in_subquery(
                        Query::select()
                            .column(crate::entity::intervention_participant::Column::InterventionId)
                            .from(crate::entity::intervention_participant::Entity)
                            .and_where(
                                crate::entity::intervention_participant::Column::OrganisationId
                                    .eq(org.0),
                            )
                            .to_owned(),
                    ),
                ),
        );
        has_side = true;
    }
    if let Some(area) = &filter.area {
        side = side.add(located_in_any(std::slice::from_ref(area)));
        has_side = true;
    }
    if let Some(sectors) = &filter.sectors {
        side = side.add(in_any_sector(sectors));
        has_side = true;
    }
    if let Some(to) = filter.to {
        side = side.add(intervention::Column::EffectiveStart.lte(to));
        has_side = true;
    }
    if let Some(from) = filter.from {
        side = side.add(
            Condition::any()
                .add(intervention::Column::EffectiveEnd.is_null())
                .add(intervention::Column::EffectiveEnd.gte(from)),
        );
        has_side = true;
    }
    if has_side {
        cond = cond.add(
            Condition::any()
                .add(side_where(C::InterventionA, side.clone()))
                .add(side_where(C::InterventionB, side)),
        );
    }
    cond
}

impl Store {
    /// The write-time check: evaluates one stored intervention against its candidates,
    /// stores the findings, closes those of its pairs that no longer hold, and announces
    /// new ones. Runs inside the caller's transaction.
    pub(crate) async fn check_overlaps_in<C: ConnectionTrait>(
        db: &C,
        written: &[Intervention],
        created: &HashSet<InterventionId>,
        min_score: f64,
        cache: &mut CandidateCache,
    ) -> StoreResult<(Vec<StoredFinding>, Vec<i64>)> {
        if written.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let paths = paths_of(db, written).await?;
        let ids: Vec<i64> = written.iter().map(|w| w.id.0).collect();
        let mut previous: Vec<i64> = Vec::new();
        for chunk in ids.chunks(1000) {
            previous.extend(
                overlap_finding::Entity::find()
                    .select_only()
                    .column(overlap_finding::Column::Id)
                    .filter(
                        Condition::any()
                            .add(overlap_finding::Column::InterventionA.is_in(chunk.to_vec()))
                            .add(overlap_finding::Column::InterventionB.is_in(chunk.to_vec())),
                    )
                    .filter(overlap_finding::Column::Status.ne(ReviewStatus::Resolved.code()))
                    .into_tuple::<i64>()
                    .all(db)
                    .await?,
            );
        }
        let versions: HashMap<InterventionId, i64> =
            written.iter().map(|w| (w.id, w.version)).collect();
        let written: Vec<OverlapCandidate> = written
            .iter()
            .filter_map(|w| candidate_of(w, &paths))
            .collect();
        lock_countries(db, &written).await?;
        let live: Vec<&OverlapCandidate> = written.iter().filter(|w| w.status.is_live()).collect();
        let findings: Vec<Finding> = if live.is_empty() {
            Vec::new()
        } else {
            let started = std::time::Instant::now();
            let candidates = candidates_for(db, &live, cache).await?;
            let pcodes: Vec<Pcode> = live
                .iter()
                .flat_map(|w| w.locations.iter().flat_map(|p| p.pcodes()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let needs = load_needs(db, Some(&pcodes)).await?;
            metrics::histogram!(OVERLAP_CHECK_DURATION, "stage" => "fetch")
                .record(started.elapsed().as_secs_f64());
            let started = std::time::Instant::now();
            let findings = overlap::check_many(&written, &candidates, &needs)
                .into_iter()
                .filter(|f| f.score >= min_score)
                .collect();
            metrics::histogram!(OVERLAP_CHECK_DURATION, "stage" => "engine")
                .record(started.elapsed().as_secs_f64());
            findings
        };
        let started = std::time::Instant::now();
        let findings = still_present(db, &written, findings).await?;
        // A later batch of the same import meets these as they are now.
        for w in written {
            cache.keep(w.id, versions[&w.id], Some(w));
        }
        // A pair with a record created in this transaction cannot be stored yet.
        let (fresh, known): (Vec<Finding>, Vec<Finding>) = findings
            .into_iter()
            .partition(|f| created.contains(&f.a) || created.contains(&f.b));
        let (mut stored, mut new) = upsert_findings(db, &known).await?;
        let (inserted, inserted_new) = insert_findings(db, &fresh).await?;
        stored.extend(inserted);
        new.extend(inserted_new);
        let kept: HashSet<i64> = stored.iter().map(|f| f.id).collect();
        let vanished: Vec<i64> = previous
            .into_iter()
            .filter(|id| !kept.contains(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        close_findings(db, &vanished).await?;
        notify(db, &new).await?;
        metrics::histogram!(OVERLAP_CHECK_DURATION, "stage" => "store")
            .record(started.elapsed().as_secs_f64());
        Ok((stored, new))
    }

    /// Recomputes every finding with the sort-and-sweep: keeps the review of every pair that
    /// still overlaps, opens new pairs, closes pairs that no longer overlap. `progress` is
    /// told how loading, then sweeping and storing, go.
    ///
    /// The sweep runs on a thread of its own and hands its findings over in `(a, b)` order,
    /// a chunk at a time, while this task merges them with the stored pairs read in the same
    /// order, a page at a time: memory holds the candidates and the sweep's pair list, never
    /// every finding nor every stored pair (a dense registry of a million records has
    /// hundreds of millions), and storing overlaps sweeping on the other core.
    pub async fn recompute_overlaps(
        &self,
        progress: &(dyn Fn(RecomputeProgress) + Sync),
    ) -> StoreResult<Recomputation> {
        let total = intervention::Entity::find()
            .filter(live())
            .count(&self.db)
            .await?;
        let mut candidates = Vec::with_capacity(total as usize);
        let mut after = 0;
        loop {
            let query = intervention::Entity::find()
                .filter(live())
                .filter(intervention::Column::Id.gt(after))
                .order_by_asc(intervention::Column::Id)
                .limit(5_000);
            let read = read_candidates(&self.db, query).await?;
            let Some((last, _, _)) = read.last() else {
                break;
            };
            after = last.0;
            candidates.extend(read.into_iter().filter_map(|(_, _, c)| c));
            progress(RecomputeProgress::Loading {
                loaded: candidates.len() as u64,
                total,
            });
        }
        let needs = load_needs(&self.db, None).await?;
        let txn = self.begin_write().await?;
        let cache = WideCache::open(&txn).await?;
        let merged =
            sweep_and_merge(&txn, candidates, needs, self.overlap_min_score, progress).await;
        cache.close(&txn).await?;
        let summary = merged?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(Recomputation {
            candidates: total,
            ..summary
        })
    }

    pub async fn findings(
        &self,
        filter: &FindingFilter,
        page: PageRequest,
    ) -> StoreResult<Page<StoredFinding>> {
        let mut query = overlap_finding::Entity::find()
            .filter(finding_condition(filter))
            .order_by_asc(overlap_finding::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(overlap_finding::Column::Id.gt(after));
        }
        let rows = query.limit(page.first + 1).all(&self.db).await?;
        let page_rows = Page::from_overfetch(rows, page.first);
        Ok(Page {
            items: page_rows
                .items
                .into_iter()
                .map(finding_of)
                .collect::<StoreResult<_>>()?,
            has_next_page: page_rows.has_next_page,
        })
    }

    /// How many findings `filter` lists. For a caller who may not read everything, this is
    /// every matching finding less those with a side hidden from the caller, in one
    /// statement so both counts see the same data. Checking both sides of every finding
    /// instead costs two lookups into the interventions per finding (2 to 4 s at two
    /// million on SQLite); here each finding is tested against the set of records hidden
    /// from the caller, usually a few, listed once.
    pub async fn count_findings(&self, filter: &FindingFilter) -> StoreResult<u64> {
        if filter.scope.everything {
            return Ok(overlap_finding::Entity::find()
                .filter(finding_condition(filter))
                .count(&self.db)
                .await?);
        }
        let unscoped = FindingFilter {
            scope: ReadScope {
                everything: true,
                ..ReadScope::default()
            },
            ..filter.clone()
        };
        let hidden_records = Query::select()
            .column(intervention::Column::Id)
            .from(intervention::Entity)
            .cond_where(readable(&filter.scope).not())
            .to_owned();
        let count_where = |cond: Condition| {
            Query::select()
                .expr(Expr::col(overlap_finding::Column::Id).count())
                .from(overlap_finding::Entity)
                .cond_where(cond)
                .to_owned()
        };
        let matching = count_where(finding_condition(&unscoped));
        let hidden = count_where(
            finding_condition(&unscoped).add(
                Condition::any()
                    .add(overlap_finding::Column::InterventionA.in_subquery(hidden_records.clone()))
                    .add(overlap_finding::Column::InterventionB.in_subquery(hidden_records)),
            ),
        );
        let statement = Query::select()
            .expr_as(
                Expr::expr(Expr::SubQuery(None, Box::new(matching.into()))),
                "matching",
            )
            .expr_as(
                Expr::expr(Expr::SubQuery(None, Box::new(hidden.into()))),
                "hidden",
            )
            .to_owned();
        let row = self
            .db
            .query_one(&statement)
            .await?
            .ok_or(StoreError::NotFound)?;
        let matching: i64 = row.try_get("", "matching")?;
        let hidden: i64 = row.try_get("", "hidden")?;
        Ok(u64::try_from(matching - hidden).unwrap_or(0))
    }

    /// One finding, if the caller may read both of its interventions.
    pub async fn finding(&self, id: i64, scope: &ReadScope) -> StoreResult<Option<StoredFinding>> {
        overlap_finding::Entity::find_by_id(id)
            .filter(visible_pair(scope))
            .one(&self.db)
            .await?
            .map(finding_of)
            .transpose()
    }

    /// Every finding, for reports.
    pub async fn all_findings(&self) -> StoreResult<Vec<StoredFinding>> {
        overlap_finding::Entity::find()
            .order_by_asc(overlap_finding::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(finding_of)
            .collect()
    }

    pub async fn reviews(&self, finding: i64) -> StoreResult<Vec<Review>> {
        overlap_review::Entity::find()
            .filter(overlap_review::Column::FindingId.eq(finding))
            .order_by_asc(overlap_review::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                Ok(Review {
                    status: ReviewStatus::from_code(&r.status)
                        .ok_or_else(|| corrupt("overlap_review.status"))?,
                    note: r.note,
                    reviewer: r.reviewer,
                    at: r.at,
                })
            })
            .collect()
    }

    /// Records a review: only someone who may see both sides and is a party (or coordinates
    /// either side) may; history is kept.
    pub async fn review_finding(
        &self,
        id: i64,
        status: ReviewStatus,
        note: Option<String>,
        reviewer: &Principal,
        actor: &Actor,
    ) -> StoreResult<StoredFinding> {
        self.retrying(|| self.review_finding_once(id, status, note.clone(), reviewer, actor))
            .await
    }

    async fn review_finding_once(
        &self,
        id: i64,
        status: ReviewStatus,
        note: Option<String>,
        reviewer: &Principal,
        actor: &Actor,
    ) -> StoreResult<StoredFinding> {
        let txn = self.begin_write().await?;
        let row = overlap_finding::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let sides = assemble(
            &txn,
            intervention::Entity::find()
                .filter(intervention::Column::Id.is_in([row.intervention_a, row.intervention_b]))
                .order_by_asc(intervention::Column::Id)
                .all(&txn)
                .await?,
        )
        .await?;
        let paths = paths_of(&txn, &sides).await?;
        let facts: Vec<SideFacts> = sides
            .iter()
            .map(|i| {
                (
                    i.record.visibility,
                    i.record.reporting_organisation,
                    i.record
                        .locations
                        .iter()
                        .filter_map(|l| paths.get(&l.pcode).cloned())
                        .collect(),
                    i.record
                        .sectors
                        .iter()
                        .map(|s| (s.vocabulary, s.code.clone()))
                        .collect(),
                )
            })
            .collect();
        let [a, b] = facts.as_slice() else {
            return Err(StoreError::NotFound);
        };
        let (a, b) = (access_of(a), access_of(b));
        if !may_see(&reviewer.read_scope(), &a, &b) {
            return Err(StoreError::NotFound);
        }
        if !may_review(reviewer, &a, &b) {
            return Err(StoreError::Forbidden);
        }
        let before = finding_of(row.clone())?;
        let now = Utc::now();
        let mut active: overlap_finding::ActiveModel = row.into();
        active.status = Set(status.code().to_owned());
        active.review_note = Set(note.clone());
        active.reviewed_by = Set(actor.user.map(|u| u.0));
        active.reviewed_at = Set(Some(now));
        active.updated_at = Set(now);
        let saved = finding_of(overlap_finding::Entity::update(active).exec(&txn).await?)?;
        overlap_review::Entity::insert(overlap_review::ActiveModel {
            finding_id: Set(id),
            status: Set(status.code().to_owned()),
            note: Set(note),
            reviewer_user_id: Set(actor.user.map(|u| u.0)),
            reviewer: Set(actor.label.clone()),
            at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        audit::record(
            &txn,
            actor,
            AuditAction::Update,
            "overlap_finding",
            Some(id),
            Some(&before.status.code()),
            Some(&saved.status.code()),
        )
        .await?;
        self.commit_write(txn, RegistryChange::Other).await?;
        Ok(saved)
    }
}

/// New findings announced by any replica, through PostgreSQL LISTEN/NOTIFY.
pub struct OverlapListener(sea_orm::sqlx::postgres::PgListener);

impl OverlapListener {
    /// The id of the next new finding. Errors mean the connection dropped: listen again.
    pub async fn next(&mut self) -> StoreResult<i64> {
        loop {
            let notification = self
                .0
                .recv()
                .await
                .map_err(|e| StoreError::Unavailable(sea_orm::DbErr::Custom(e.to_string())))?;
            if let Ok(id) = notification.payload().parse() {
                return Ok(id);
            }
        }
    }
}

impl Store {
    /// Listens for new findings written through any process on this database. None on
    /// SQLite, where one process serves and announces its own findings.
    pub async fn listen_overlaps(&self) -> StoreResult<Option<OverlapListener>> {
        Ok(self.listen(OVERLAP_CHANNEL).await?.map(OverlapListener))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_domain::area::{AdminLevel, NewArea};
    use concord_domain::intervention::{
        InterventionInput, LocationInput, NewIntervention, ParticipationInput, SectorShareInput,
    };
    use concord_domain::organisation::{NewOrganisation, OrganisationInput};
    use concord_domain::population::PopulationInput;

    use crate::ImportRecord;

    fn area(code: &str, level: i64, parent: Option<&str>) -> NewArea {
        let pcode = Pcode::parse(code).unwrap();
        let parent = parent.map(|p| {
            (
                Pcode::parse(p).unwrap(),
                AdminLevel::new(level - 1).unwrap(),
            )
        });
        NewArea::new(
            pcode,
            code,
            AdminLevel::new(level).unwrap(),
            parent.as_ref().map(|(p, l)| (p, *l)),
            "ET",
            None,
        )
        .unwrap()
    }

    /// Records with every part the rule reads, some of it absent: the candidates read from
    /// the rows are exactly those of the assembled interventions.
    #[tokio::test]
    async fn candidates_read_from_rows_are_those_of_assembled_interventions() {
        let database = concord_e2e::TestDatabase::new(concord_e2e::Backend::Sqlite)
            .await
            .unwrap();
        let store = Store::connect(&database.url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let actor = Actor::command("test");
        let areas = [
            area("ET", 0, None),
            area("ET01", 1, Some("ET")),
            area("ET0101", 2, Some("ET01")),
        ];
        store.import_areas(&areas, &actor).await.unwrap();
        let mut orgs = Vec::new();
        for name in ["Alpha Relief", "Beta Aid"] {
            let org = NewOrganisation::parse(&OrganisationInput {
                name: name.into(),
                organisation_type: "22".into(),
                level: "NATIONAL".into(),
                ..Default::default()
            })
            .unwrap();
            orgs.push(store.create_organisation(&org, &actor).await.unwrap().id);
        }
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        let location = |pcode: &str, site: Option<&str>| LocationInput {
            pcode: pcode.into(),
            target: Some(40),
            site: site.map(Into::into),
        };
        let sector = |code: &str| SectorShareInput {
            vocabulary: None,
            code: code.into(),
            percentage: None,
        };
        let inputs = [
            InterventionInput {
                external_id: "full".into(),
                title: "Water trucking".into(),
                reporting_organisation: orgs[0],
                participants: vec![
                    ParticipationInput {
                        organisation: orgs[1],
                        role: "4".into(),
                        activity_id: Some("XM-BETA-1".into()),
                    },
                    ParticipationInput {
                        organisation: orgs[1],
                        role: "1".into(),
                        activity_id: None,
                    },
                ],
                sectors: vec![sector("14030"), sector("WSH")],
                locations: vec![location("ET0101", Some("Camp 4")), location("ET01", None)],
                planned_start: date(2025, 1, 1),
                planned_end: date(2025, 12, 31),
                actual_start: date(2025, 2, 1),
                status: "2".into(),
                kind: "RESPONSE".into(),
                approach: "BOTH".into(),
                target: Some(PopulationInput {
                    total: 80,
                    groups: vec!["IDP".into()],
                    ..Default::default()
                }),
                linked_activities: vec!["XM-FUNDER-9".into()],
                ..Default::default()
            },
            InterventionInput {
                external_id: "bare".into(),
                title: "Clinic".into(),
                reporting_organisation: orgs[1],
                sectors: vec![sector("12220")],
                locations: vec![location("ET", None)],
                planned_start: date(2024, 6, 1),
                status: "3".into(),
                kind: "RECOVERY".into(),
                approach: "PROTECTION".into(),
                ..Default::default()
            },
        ];
        let records: Vec<ImportRecord> = inputs
            .iter()
            .map(|input| ImportRecord {
                record: NewIntervention::parse(input).unwrap(),
                source: None,
            })
            .collect();
        store.import_interventions(&records, &actor).await.unwrap();

        let db = store.connection();
        let rows = intervention::Entity::find()
            .order_by_asc(intervention::Column::Id)
            .all(db)
            .await
            .unwrap();
        let assembled = assemble(db, rows).await.unwrap();
        let paths = paths_of(db, &assembled).await.unwrap();
        let expected: Vec<_> = assembled
            .iter()
            .map(|i| (i.id, i.version, candidate_of(i, &paths)))
            .collect();
        let read = read_candidates(
            db,
            intervention::Entity::find().order_by_asc(intervention::Column::Id),
        )
        .await
        .unwrap();
        assert_eq!(read, expected);
        let full = read[0].2.as_ref().unwrap();
        assert_eq!(full.linked_ids, ["XM-BETA-1", "XM-FUNDER-9"]);
        assert_eq!(full.sites, ["Camp 4"]);
        assert_eq!(full.locations.len(), 2);
        assert_eq!(full.target, Some(80));
    }
}
