//! The overlap engine: finds duplicated effort, i.e. two interventions doing the same kind of
//! work for the same people in the same place at the same time.
//!
//! # The rule
//!
//! Two interventions **overlap** when all of the following hold:
//!
//! 1. **They share a sector**, at one of two levels:
//!    - *same code* (`SAME_CODE`): both carry the same DAC 5-digit code;
//!    - *same cluster* (`SAME_CLUSTER`): they meet through the crosswalk. A DAC code (5 or
//!      3 digit) stands for the clusters listed in its `clusters`, and a cluster for itself,
//!      so a DAC code matches its cluster(s) and two DAC codes under one cluster match. A
//!      cluster also covers its areas of responsibility (Protection covers GBV), but two
//!      different AoRs do not match each other (child protection is not GBV). A DAC
//!      3-digit category matches itself and the DAC 5-digit codes in it (`140` covers
//!      `14040`), but two 5-digit siblings do not match through their category alone
//!      (`15110` public administration is not `15150` democratic participation); they
//!      match only through a shared cluster. Unknown codes match only the same literal code.
//! 2. **They meet in space**: some location of one is the same area as, or an ancestor or
//!    descendant of, some location of the other in the P-code hierarchy (`AreaPath`
//!    prefix). Different countries never meet.
//! 3. **They meet in time**: their effective periods (actual dates where known, else
//!    planned; an open end is ongoing; ends are inclusive) share at least one day.
//! 4. **Different reporting organisations.**
//!
//! Closed (4) and cancelled (5) interventions overlap nothing: they deliver nothing any more.
//! Records that are links of one chain never form a finding: a funder's record and its
//! implementer's record of the same activity are the same work reported twice, not
//! duplicated effort. Two records are linked when one lists, among the activity ids it
//! references (`linked_ids`: participating-org activity ids, IATI `related-activity`,
//! `provider-activity-id`), an identifier the other goes by (`own_ids`); comparison ignores
//! ASCII case and surrounding space. The test is pairwise: two implementers citing the same
//! grant are not linked to each other (they may well duplicate each other), and a chain of
//! three (funder, implementer, sub-implementer) is excluded end to end only when the
//! caller puts the whole chain's ids in `linked_ids`.
//!
//! Conditions 1 to 3 with the **same** reporting organisation give the separate finding
//! `PROBABLE_DUPLICATE_RECORD` when the two records are also near-identical: their titles'
//! token sets (lower-cased runs of letters and digits) have a Jaccard index of at least 0.8
//! (equal normalised titles have 1), or they have the same dates and the same set of
//! locations. The same organisation running two different projects in one place is normal
//! and gives nothing. Nor do two records that both name the sites they work at within their
//! areas (a community, a school: a 3W's `#loc`) and share none: a 3W lists the same activity
//! once per community, and those rows are separate work, not one record entered twice.
//!
//! # The score
//!
//! Each finding carries a score in `0..=1` and the reasons behind it. Where a pair meets in
//! several ways, the reasons are the most specific: the first shared sector in the order
//! same code, then cluster, then DAC category (ties by code), and the meeting pair of
//! locations with the fewest levels apart, then the deepest, then by path.
//!
//! ```text
//! S = 1.0 for the same DAC code, 0.7 for the same cluster           sector specificity
//! P = 0.75 ^ levels_apart   (same area: 1; a country over a district two levels down: 0.5625)
//! T = overlap days / days of the shorter period                     time share, in (0, 1]
//! G = 1.0 if they share a population group, 0.5 if both name groups and none is shared,
//!     0.8 if either names none                                      ("all" shares with any group)
//! base  = S * P * (0.25 + 0.75 * T) * G
//! R     = (target_a * f_a + target_b * f_b) / people_in_need        targets over need
//! boost = clamp(R - 0.5, 0, 1)        (0 up to half the need, 0.5 at the need, 1 from 1.5x)
//! score = base + (1 - base) * boost * T
//! ```
//!
//! Why this shape: the first four factors are multiplied because each independently makes
//! duplication less likely, and a barely touching period (a handover) should count for little
//! but not nothing, hence `0.25 + 0.75 * T`. Targets that add up to more than the people in
//! need are the strongest signal that two actors count the same people, so the boost can
//! lift any pair towards 1; it is weighted by `T` because over-targeting only duplicates while
//! both run.
//!
//! - **Open ends.** An open end is counted, for `T` only, as running until the later of the
//!   other period's known end and 365 days (one planning cycle) after the later of the two
//!   starts. So two ongoing activities overlap fully (`T = 1`), and an ongoing activity meeting
//!   a dated one covers it for as long as the dated one runs. Whether they meet at all
//!   (condition 3) uses the true open end.
//! - **Need.** `R` is computed only when both targets are known and the lookup knows the
//!   people in need for the *enclosing* area of the meeting pair (the shallower of the two,
//!   which holds all the people both are counted against) and the shared sector; for a DAC
//!   code with no figure the clusters it maps to are tried in turn, since needs are usually
//!   stated per cluster. A target is the total over all of a record's locations, so it is
//!   apportioned evenly: `f` is the share of the record's distinct locations that meet the
//!   enclosing area. A stated need of zero counts as one person, so `R` stays finite.
//!
//! # Full recomputation: a sort-and-sweep in `O(n log n + k)`
//!
//! [`sweep`] never looks at all pairs. Each live record is expanded into *sector keys*: the
//! DAC 5-digit code it carries, the clusters it maps to, and the DAC category of its 5-digit
//! codes. A key is *general* for the records that carry it in full and *specific* for those
//! that only fall under it (an AoR under its cluster, a 5-digit code under its category);
//! two records share a sector exactly when they share a key on which they are not both
//! specific. Records are sorted once by start date and dealt into one bucket per key, so each
//! bucket comes out sorted. Within a bucket, every area that is a location of a member
//! becomes a *node*, and each member is listed at every node that is its location (as *own*)
//! or an ancestor of its location (as *descendant*), still in start order. Two records meet
//! in space exactly when one is own at a node and the other is listed there too, so each node
//! is swept alone: walking its list in start order with active sets of the records not yet
//! ended, a record pairs with the active records it may pair with (own with everyone, a
//! descendant only with own records, specific only with general) and nothing else.
//!
//! Accepted pairs are collected as pairs of ranks (positions in id order) packed in one
//! integer, put in `(a, b)` order by a radix sort, and only then turned into findings with
//! their reasons and score, so each finding is built once and in place.
//!
//! Cost, for `n` records and `k` pairs that meet on sector, space and time:
//!
//! - sorting by start date (and by id, unless the records come in id order): `O(n log n)`;
//! - dealing into buckets and nodes: `O(n * s * l * d)` for `s` keys, `l` locations and `d`
//!   hierarchy depth per record, all small constants (a record has a few sectors and
//!   places; COD hierarchies stop at admin 5);
//! - the node sweeps: every active record visited either ends before the current start (and
//!   is dropped then, once) or meets the current one in time; the lists only hold records
//!   sharing the key and meeting in space, so every visit is one of the `k` pairs. A pair is
//!   visited once per key it shares and per node it meets at (at most `s * l^2`, again a
//!   constant), and accepted only at the first of each, so nothing needs de-duplicating.
//!   `k` exceeds the number of findings only by the same-organisation and chained pairs that
//!   are then rejected;
//! - ordering: a radix sort of the accepted pairs (a fixed number of passes), `O(k)`;
//! - building the findings: `O(k)`.
//!
//! Total `O(n log n + k)`. A province- or country-level record is compared with the district
//! records below it only at its own node and only with those running at the same time, so
//! umbrellas cost what they find. At a registry's density `k` is large (every district sees several
//! actors per cluster at once, and every province-level record meets all of them), and
//! building the findings, not finding the pairs, is then most of the time.
//!
//! [`check_one`] is the incremental form: the store fetches the candidates of one written
//! record with indexed lookups (the sectors [`matching_sectors`] lists, the area's
//! ancestors and subtree, the dates) and the engine evaluates that short list pair by pair
//! with the same rule.

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::hash::Hasher;

use crate::fast_map::{FastHasher, FastMap};

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::area::AreaPath;
use crate::intervention::InterventionId;
use crate::organisation::OrganisationId;
use crate::reference::{self, SectorVocabulary};
use crate::values::{ActivityStatus, Period, PopulationGroup};

/// For the time share only: how long an open-ended activity is assumed to run past the
/// moment two activities meet (one humanitarian planning cycle).
pub const OPEN_END_HORIZON_DAYS: i64 = 365;

/// Sector specificity: a shared cluster is weaker evidence than a shared DAC code.
const SAME_CLUSTER_WEIGHT: f64 = 0.7;
/// Spatial specificity, per level of nesting between the meeting areas.
const NESTING_DECAY: f64 = 0.75;
/// Minimum Jaccard index of title tokens for two records of one organisation to be the same.
const TITLE_JACCARD: (usize, usize) = (4, 5);

/// What the engine needs to know about an intervention: plain data the store assembles, so
/// the rule can be tested here without a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverlapCandidate {
    pub id: InterventionId,
    /// The reporting organisation.
    pub organisation: OrganisationId,
    pub status: ActivityStatus,
    /// The effective period (see `NewIntervention::effective_period`).
    pub period: Period,
    pub sectors: Vec<(SectorVocabulary, String)>,
    #[serde(with = "area_paths_serde")]
    pub locations: Vec<AreaPath>,
    pub groups: Vec<PopulationGroup>,
    /// Total people targeted, over all locations.
    pub target: Option<u64>,
    pub title: String,
    /// The named places within its areas (communities, schools, camps), as written.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Identifiers this record goes by (its external id, its IATI identifier).
    pub own_ids: Vec<String>,
    /// Activity ids it references: participants' activity ids, related activities,
    /// provider activity ids.
    pub linked_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingKind {
    /// Two organisations doing the same work: the duplication the registry exists to show.
    Overlap,
    /// One organisation's work entered twice: a data-quality problem, not duplicated aid.
    ProbableDuplicateRecord,
}

impl FindingKind {
    /// The stable wire code, as the issue and the API spell it.
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::Overlap => "OVERLAP",
            FindingKind::ProbableDuplicateRecord => "PROBABLE_DUPLICATE_RECORD",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SectorMatch {
    SameCode,
    /// Through the cluster crosswalk or a DAC 3-digit category.
    SameCluster,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpatialMatch {
    SameArea,
    /// One area is an ancestor of the other, this many levels up (saturating at 255).
    Nested {
        levels_apart: u8,
    },
}

/// Why two records were paired, so a coordinator can judge the finding without reopening
/// both records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reasons {
    pub sector: SectorMatch,
    /// The key they share: a DAC 5-digit code, a cluster id, or a DAC 3-digit category.
    pub sector_code: (SectorVocabulary, String),
    pub spatial: SpatialMatch,
    /// The deeper of the meeting pair of areas: where the two are both at work.
    #[serde(with = "area_path_serde")]
    pub shared_area: AreaPath,
    /// Overlap days over the shorter duration, open ends capped (see the module doc).
    pub time_share: f64,
    pub shared_groups: Vec<PopulationGroup>,
    /// Combined (apportioned) targets over people in need, when both are known.
    pub targets_over_need: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The smaller id, so a pair has one spelling.
    pub a: InterventionId,
    pub b: InterventionId,
    pub kind: FindingKind,
    pub score: f64,
    pub reasons: Reasons,
}

/// People in need by area and sector, from whatever holds the needs (the store, a test).
pub trait NeedLookup {
    fn people_in_need(&self, area: &AreaPath, sector: &(SectorVocabulary, String)) -> Option<u64>;
}

/// For callers without needs data: the score then rests on the other factors alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoNeeds;

impl NeedLookup for NoNeeds {
    fn people_in_need(&self, _: &AreaPath, _: &(SectorVocabulary, String)) -> Option<u64> {
        None
    }
}

/// The rule for one pair; `None` when they neither overlap nor duplicate each other.
/// Symmetric: the finding is the same whichever way round the pair is given.
pub fn evaluate_pair(
    a: &OverlapCandidate,
    b: &OverlapCandidate,
    needs: &dyn NeedLookup,
) -> Option<Finding> {
    Index::build(vec![a, b]).evaluate(0, 1, needs)
}

/// Every finding among `candidates`, sorted by `(a, b)`; the same findings as
/// [`evaluate_pair`] over all pairs, in `O(n log n + k)` (see the module doc).
/// Ids are expected to be unique: two entries with one id are one record and never pair.
pub fn sweep(candidates: &[OverlapCandidate], needs: &dyn NeedLookup) -> Vec<Finding> {
    Index::build(candidates.iter().collect()).sweep(needs)
}

/// The findings of [`sweep`], in the same order, handed to `visit` one at a time instead
/// of collected. Memory then holds the candidates and 16 bytes per pair (the pair list and
/// its sort buffer) rather than every finding with its reasons: at a million records of the
/// benchmark profile, about 4 GB instead of about 35 GB.
pub fn sweep_each(
    candidates: &[OverlapCandidate],
    needs: &dyn NeedLookup,
    visit: &mut dyn FnMut(Finding),
) {
    let index = Index::build(candidates.iter().collect());
    let (by_rank, pairs) = index.sorted_pairs(None);
    index.visit_pairs(&by_rank, &pairs, needs, visit);
}

/// The findings between one written record and its pre-fetched candidates, sorted by
/// `(a, b)`. A candidate with the written record's own id (its stored previous version) is
/// skipped. Fetching more candidates than necessary only costs time: the rule decides.
pub fn check_one(
    written: &OverlapCandidate,
    candidates: &[OverlapCandidate],
    needs: &dyn NeedLookup,
) -> Vec<Finding> {
    let index = Index::build(std::iter::once(written).chain(candidates).collect());
    let mut findings: Vec<Finding> = (1..index.cands.len())
        .filter_map(|j| index.evaluate(0, j, needs))
        .collect();
    findings.sort_by_key(|f| (f.a, f.b));
    findings.dedup_by_key(|f| (f.a, f.b));
    findings
}

/// The findings of a batch of written records against each other and their pre-fetched
/// candidates: every finding among them that involves at least one written record, sorted
/// by `(a, b)`. A candidate with the id of a written record (its stored previous version)
/// is skipped. The same findings as [`check_one`] per written record, in one sweep: a
/// batch of imported records shares most of its candidates, so they are prepared once.
pub fn check_many(
    written: &[OverlapCandidate],
    candidates: &[&OverlapCandidate],
    needs: &dyn NeedLookup,
) -> Vec<Finding> {
    let ids: std::collections::HashSet<InterventionId> = written.iter().map(|w| w.id).collect();
    let cands: Vec<&OverlapCandidate> = written
        .iter()
        .chain(candidates.iter().copied().filter(|c| !ids.contains(&c.id)))
        .collect();
    let mut focus = vec![false; cands.len()];
    focus[..written.len()].fill(true);
    let index = Index::build(cands);
    index.sweep_focused(needs, Some(&focus))
}

/// Every sector code a record must carry to share a sector with one carrying `sectors`:
/// what the store filters on when it fetches the candidates for [`check_one`], so that the
/// crosswalk is applied by the same rule in the query as in the engine. Codes are canonical
/// (cluster ids, not HPC codes), in vocabulary and numeric order; an unknown code stands
/// for itself.
pub fn matching_sectors(sectors: &[(SectorVocabulary, String)]) -> Vec<(SectorVocabulary, String)> {
    let own: Vec<(SectorKey, Side)> = sectors
        .iter()
        .flat_map(|(vocabulary, code)| sector_keys(*vocabulary, code))
        .collect();
    let meets = |theirs: &[(SectorKey, Side)]| {
        theirs.iter().any(|(key, side)| {
            own.iter().any(|(mine, my_side)| {
                mine == key && (*side == Side::General || *my_side == Side::General)
            })
        })
    };
    let mut matching: Vec<SectorKey> = reference::sectors()
        .iter()
        .filter(|s| meets(&sector_keys(s.vocabulary, &s.code)))
        .map(|s| (s.vocabulary, s.code.clone()))
        .chain(
            sectors
                .iter()
                .filter(|(vocabulary, code)| reference::sector(*vocabulary, code).is_none())
                .map(|(vocabulary, code)| (*vocabulary, code.trim().to_owned())),
        )
        .collect();
    matching.sort_by(|x, y| (x.0, x.1.len(), x.1.as_str()).cmp(&(y.0, y.1.len(), y.1.as_str())));
    matching.dedup();
    matching
}

// ---------------------------------------------------------------------------------------
// Preparation: records turned into integers once, so the sweep compares numbers, not text
// ---------------------------------------------------------------------------------------

/// Whether a record carries a sector key in full or only falls under it; see the module doc.
/// `General` sorts first so that de-duplicating a record's keys keeps the stronger side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    General,
    Specific,
}

type SectorKey = (SectorVocabulary, String);

/// The keys one sector code stands for; the first is the code itself.
fn sector_keys(vocabulary: SectorVocabulary, code: &str) -> Vec<(SectorKey, Side)> {
    let code = code.trim();
    let Some(sector) = reference::sector(vocabulary, code) else {
        return vec![((vocabulary, code.to_owned()), Side::General)];
    };
    let mut keys = vec![((sector.vocabulary, sector.code.clone()), Side::General)];
    match sector.vocabulary {
        SectorVocabulary::Dac5 => {
            if let Some(category) = &sector.category {
                keys.push(((SectorVocabulary::Dac3, category.clone()), Side::Specific));
            }
            for cluster in &sector.clusters {
                cluster_keys(cluster, &mut keys);
            }
        }
        SectorVocabulary::Dac3 => {
            for cluster in &sector.clusters {
                cluster_keys(cluster, &mut keys);
            }
        }
        SectorVocabulary::Cluster => {
            if let Some(parent) = &sector.parent_cluster {
                keys.push(((SectorVocabulary::Cluster, parent.clone()), Side::Specific));
            }
        }
    }
    keys
}

fn cluster_keys(cluster: &str, keys: &mut Vec<(SectorKey, Side)>) {
    keys.push((
        (SectorVocabulary::Cluster, cluster.to_owned()),
        Side::General,
    ));
    if let Some(parent) = reference::sector(SectorVocabulary::Cluster, cluster)
        .and_then(|s| s.parent_cluster.as_ref())
    {
        keys.push(((SectorVocabulary::Cluster, parent.clone()), Side::Specific));
    }
}

/// The order in which shared keys are preferred as the reason: DAC codes (the only
/// same-code level), then clusters (where needs are stated), then DAC categories; within a
/// vocabulary, numeric code order.
fn key_order(key: &SectorKey) -> (u8, usize, &str) {
    let rank = match key.0 {
        SectorVocabulary::Dac5 => 0,
        SectorVocabulary::Cluster => 1,
        SectorVocabulary::Dac3 => 2,
    };
    (rank, key.1.len(), key.1.as_str())
}

fn day(date: chrono::NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The fields of a record the sweep reads for every pair it visits, packed in one cache
/// line: at a million records the pairs come in an order unrelated to memory, and every
/// record touched is a cache miss.
struct Prep {
    id: InterventionId,
    organisation: OrganisationId,
    start: i64,
    /// `i64::MAX` when open, so that intersection needs no special case.
    end: i64,
    target: u64,
    /// Ranges in `key_arena` and `loc_arena`. Lists are interned, so records with the same
    /// sectors or places share one and the arenas stay small enough to stay in cache.
    keys: (u32, u32),
    locs: (u32, u32),
    /// Population groups as bits, in `PopulationGroup::ALL` order.
    groups: u16,
    live: bool,
    open: bool,
    has_target: bool,
    /// Whether it is declared a link of a chain with some other record (see
    /// `Index::chained`); most are not, and their pairs skip the chain test.
    links: bool,
}

struct AreaInfo<'a> {
    depth: usize,
    /// Range in `chain_arena`: the ids of the area's ancestors, root first, then its own.
    chain: (usize, usize),
    /// Set for the areas that are some record's location: the only ones reasons name.
    path: Option<&'a AreaPath>,
}

fn group_bit(group: PopulationGroup) -> u16 {
    PopulationGroup::ALL
        .iter()
        .position(|g| *g == group)
        .map_or(0, |i| 1 << i)
}

/// A set of records in integer form. Key ids follow `key_order`, so comparing ids is
/// comparing keys in the order of preference, whatever set of records was prepared.
struct Index<'a> {
    cands: Vec<&'a OverlapCandidate>,
    preps: Vec<Prep>,
    keys: Vec<SectorKey>,
    /// Per key: the cluster keys to ask for needs when the key itself has no figure.
    need_fallback: Vec<Vec<u32>>,
    key_arena: Vec<(u32, Side)>,
    areas: Vec<AreaInfo<'a>>,
    chain_arena: Vec<u32>,
    loc_arena: Vec<u32>,
    /// Both orders of every pair of records declared links of one chain, sorted.
    chained: Vec<(u32, u32)>,
    /// Per record, its title's and sites' words, made when it first meets a record of its
    /// own organisation: a 3W can hold hundreds of one organisation's rows in one place,
    /// and splitting their titles once per pair would cost more than the rest of the rule.
    words: Vec<OnceCell<Words>>,
}

/// A record's title and sites as token sets (see `title_tokens`).
struct Words {
    title: Vec<String>,
    sites: Vec<Vec<String>>,
}

fn key_id(keys: &[SectorKey], key: &SectorKey) -> Option<u32> {
    keys.binary_search_by(|k| key_order(k).cmp(&key_order(key)))
        .ok()
        .map(|i| i as u32)
}

impl<'a> Index<'a> {
    fn build(cands: Vec<&'a OverlapCandidate>) -> Self {
        // Sector keys, computed once per distinct code.
        let mut sector_slot: FastMap<(SectorVocabulary, &'a str), usize> = FastMap::default();
        let mut sector_raw: Vec<Vec<(SectorKey, Side)>> = Vec::new();
        for c in cands.iter().filter(|c| c.status.is_live()) {
            for (vocabulary, code) in &c.sectors {
                sector_slot
                    .entry((*vocabulary, code.trim()))
                    .or_insert_with(|| {
                        sector_raw.push(sector_keys(*vocabulary, code));
                        sector_raw.len() - 1
                    });
            }
        }
        let mut keys: Vec<SectorKey> = sector_raw
            .iter()
            .flatten()
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_by(|x, y| key_order(x).cmp(&key_order(y)));
        keys.dedup();
        let need_fallback = keys
            .iter()
            .map(|(vocabulary, code)| match vocabulary {
                SectorVocabulary::Cluster => Vec::new(),
                _ => reference::sector(*vocabulary, code)
                    .map(|s| {
                        s.clusters
                            .iter()
                            .filter_map(|c| key_id(&keys, &(SectorVocabulary::Cluster, c.clone())))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let mut key_arena: Vec<(u32, Side)> = Vec::new();
        let sector_ranges: Vec<(u32, u32)> = sector_raw
            .iter()
            .map(|raw| {
                let mut ids: Vec<(u32, Side)> = raw
                    .iter()
                    .filter_map(|(key, side)| key_id(&keys, key).map(|id| (id, *side)))
                    .collect();
                ids.sort_unstable();
                ids.dedup_by_key(|(id, _)| *id);
                let from = key_arena.len() as u32;
                key_arena.extend_from_slice(&ids);
                (from, key_arena.len() as u32)
            })
            .collect();

        let mut index = Index {
            cands: Vec::new(),
            preps: Vec::with_capacity(cands.len()),
            keys,
            need_fallback,
            key_arena,
            areas: Vec::new(),
            chain_arena: Vec::new(),
            loc_arena: Vec::new(),
            chained: Vec::new(),
            words: Vec::new(),
        };
        let mut area_ids: FastMap<&'a str, u32> = FastMap::default();
        let mut single_loc: Vec<Option<(u32, u32)>> = Vec::new();
        let mut key_lists: FastMap<Vec<(u32, Side)>, (u32, u32)> = FastMap::default();
        let mut loc_lists: FastMap<Vec<u32>, (u32, u32)> = FastMap::default();
        let mut merged_keys: Vec<(u32, Side)> = Vec::new();
        let mut merged_locs: Vec<u32> = Vec::new();
        for c in &cands {
            let live = c.status.is_live();
            let start = day(c.period.start());
            // A deserialized period may end before it starts; read it as a single day.
            let end = c.period.end().map(|e| day(e).max(start));
            let (mut keys, mut locs) = ((0, 0), (0, 0));
            if live {
                merged_keys.clear();
                for (vocabulary, code) in &c.sectors {
                    if let Some(&slot) = sector_slot.get(&(*vocabulary, code.trim())) {
                        let (s, e) = sector_ranges[slot];
                        if c.sectors.len() == 1 {
                            keys = (s, e);
                        } else {
                            merged_keys.extend_from_slice(&index.key_arena[s as usize..e as usize]);
                        }
                    }
                }
                if c.sectors.len() > 1 {
                    merged_keys.sort_unstable();
                    merged_keys.dedup_by_key(|(id, _)| *id);
                    keys = intern_list(&mut key_lists, &mut index.key_arena, &merged_keys);
                }
                merged_locs.clear();
                for location in &c.locations {
                    merged_locs.push(index.intern_area(&mut area_ids, location));
                }
                merged_locs.sort_unstable();
                merged_locs.dedup();
                locs = match merged_locs.as_slice() {
                    [] => (0, 0),
                    [area] => {
                        let area = *area as usize;
                        if single_loc.len() <= area {
                            single_loc.resize(area + 1, None);
                        }
                        *single_loc[area].get_or_insert_with(|| {
                            intern_list(&mut loc_lists, &mut index.loc_arena, &merged_locs)
                        })
                    }
                    _ => intern_list(&mut loc_lists, &mut index.loc_arena, &merged_locs),
                };
            }
            index.preps.push(Prep {
                id: c.id,
                organisation: c.organisation,
                start,
                end: end.unwrap_or(i64::MAX),
                target: c.target.unwrap_or(0),
                keys,
                locs,
                groups: c.groups.iter().fold(0, |bits, g| bits | group_bit(*g)),
                live,
                open: end.is_none(),
                has_target: c.target.is_some(),
                links: false,
            });
        }
        index.words = cands.iter().map(|_| OnceCell::new()).collect();
        index.cands = cands;
        index.link_chains();
        index
    }

    /// Resolves the declared chains once, so the pair test is a binary search rather than
    /// string comparisons on two records fetched from all over memory. Only referenced ids
    /// are hashed into the table; every record's own ids are then looked up in it.
    fn link_chains(&mut self) {
        let mut referenced: FastMap<u64, Vec<(u32, u32)>> = FastMap::default();
        for (x, c) in self.cands.iter().enumerate() {
            if !self.preps[x].live {
                continue;
            }
            for (l, linked) in c.linked_ids.iter().enumerate() {
                let linked = linked.trim();
                if !linked.is_empty() {
                    referenced
                        .entry(id_hash(linked))
                        .or_default()
                        .push((x as u32, l as u32));
                }
            }
        }
        if referenced.is_empty() {
            return;
        }
        for (y, c) in self.cands.iter().enumerate() {
            if !self.preps[y].live {
                continue;
            }
            for own in &c.own_ids {
                let own = own.trim();
                let Some(referrers) = referenced.get(&id_hash(own)) else {
                    continue;
                };
                for &(x, l) in referrers {
                    let linked = self.cands[x as usize].linked_ids.get(l as usize);
                    if x as usize != y && linked.is_some_and(|l| l.trim().eq_ignore_ascii_case(own))
                    {
                        self.chained.push((x, y as u32));
                        self.chained.push((y as u32, x));
                    }
                }
            }
        }
        self.chained.sort_unstable();
        self.chained.dedup();
        for &(x, _) in &self.chained {
            self.preps[x as usize].links = true;
        }
    }

    /// Interns a path and every ancestor prefix of it (each ending at a '/'), so ancestry is
    /// a lookup in the descendant's chain. Equivalent to `AreaPath::is_ancestor_or_self_of`.
    fn intern_area(&mut self, ids: &mut FastMap<&'a str, u32>, location: &'a AreaPath) -> u32 {
        let path = location.as_str();
        if let Some(&id) = ids.get(path) {
            // Possibly interned before as an ancestor of another location, without a path.
            if let Some(area) = self.areas.get_mut(id as usize) {
                area.path.get_or_insert(location);
            }
            return id;
        }
        let mut parent: Option<u32> = None;
        // Every '/' after the first closes a prefix; a path not in canonical form (which
        // `AreaPath` rules out) still ends with itself.
        let ends = path
            .bytes()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| *b == b'/')
            .map(|(i, _)| i + 1)
            .chain((!path.ends_with('/') || path.len() < 2).then_some(path.len()));
        for end in ends {
            let prefix = &path[..end];
            let id = match ids.get(prefix) {
                Some(&id) => id,
                None => {
                    let id = self.areas.len() as u32;
                    let from = self.chain_arena.len();
                    if let Some(p) = parent {
                        let (s, e) = self.areas[p as usize].chain;
                        self.chain_arena.extend_from_within(s..e);
                    }
                    self.chain_arena.push(id);
                    self.areas.push(AreaInfo {
                        depth: self.chain_arena.len() - from - 1,
                        chain: (from, self.chain_arena.len()),
                        path: None,
                    });
                    ids.insert(prefix, id);
                    id
                }
            };
            parent = Some(id);
        }
        // The last prefix is the whole path.
        let id = parent.unwrap_or_default();
        if let Some(area) = self.areas.get_mut(id as usize) {
            area.path = Some(location);
        }
        id
    }

    fn keys_of(&self, i: usize) -> &[(u32, Side)] {
        self.arena_keys(self.preps[i].keys)
    }

    fn locs_of(&self, i: usize) -> &[u32] {
        self.arena_locs(self.preps[i].locs)
    }

    fn arena_keys(&self, (s, e): (u32, u32)) -> &[(u32, Side)] {
        &self.key_arena[s as usize..e as usize]
    }

    fn arena_locs(&self, (s, e): (u32, u32)) -> &[u32] {
        &self.loc_arena[s as usize..e as usize]
    }

    fn chain(&self, area: u32) -> &[u32] {
        let (s, e) = self.areas[area as usize].chain;
        &self.chain_arena[s..e]
    }

    fn depth(&self, area: u32) -> usize {
        self.areas[area as usize].depth
    }

    fn is_ancestor_or_self(&self, ancestor: u32, of: u32) -> bool {
        self.chain(of).get(self.depth(ancestor)) == Some(&ancestor)
    }

    fn meets(&self, x: u32, y: u32) -> bool {
        self.is_ancestor_or_self(x, y) || self.is_ancestor_or_self(y, x)
    }

    // -----------------------------------------------------------------------------------
    // The rule for one pair
    // -----------------------------------------------------------------------------------

    fn evaluate(&self, i: usize, j: usize, needs: &dyn NeedLookup) -> Option<Finding> {
        self.judge(i, j, None)
            .map(|judged| self.finding(&judged, needs))
    }

    /// Whether the pair forms a finding, and how they meet; the reasons and the score are
    /// left to `finding`, so that the sweep can order the pairs before paying for them.
    ///
    /// `at`: when called from the sweep, the bucket key and node the pair was met at; the
    /// pair is only accepted there if that is its canonical (first) key and node, so that a
    /// pair met several times is accepted once.
    fn judge(&self, i: usize, j: usize, at: Option<(u32, u32)>) -> Option<Judged<'a>> {
        let (x, y) = if self.preps[i].id <= self.preps[j].id {
            (i, j)
        } else {
            (j, i)
        };
        let (px, py) = (&self.preps[x], &self.preps[y]);
        if px.id == py.id || !px.live || !py.live || px.start > py.end || py.start > px.end {
            return None;
        }
        let key = first_shared_key(self.keys_of(x), self.keys_of(y))?;
        if at.is_some_and(|(k, _)| k != key) {
            return None;
        }
        let meeting = self.meeting(x, y)?;
        if at.is_some_and(|(_, node)| node != meeting.first_node) {
            return None;
        }
        let kind = if px.organisation == py.organisation {
            if !self.near_identical(x, y) {
                return None;
            }
            FindingKind::ProbableDuplicateRecord
        } else {
            FindingKind::Overlap
        };
        if px.links && py.links && self.chained.binary_search(&(x as u32, y as u32)).is_ok() {
            return None;
        }
        Some(Judged {
            x,
            y,
            key,
            meeting,
            kind,
        })
    }

    fn finding(&self, judged: &Judged<'a>, needs: &dyn NeedLookup) -> Finding {
        let Judged {
            x,
            y,
            key,
            meeting,
            kind,
        } = *judged;
        let (px, py) = (&self.preps[x], &self.preps[y]);
        let sector_code = &self.keys[key as usize];
        let sector = if sector_code.0 == SectorVocabulary::Dac5 {
            SectorMatch::SameCode
        } else {
            SectorMatch::SameCluster
        };
        let levels_apart = meeting.levels_apart;
        let spatial = if levels_apart == 0 {
            SpatialMatch::SameArea
        } else {
            SpatialMatch::Nested {
                levels_apart: u8::try_from(levels_apart).unwrap_or(u8::MAX),
            }
        };
        let time_share = time_share(px, py);
        let shared = shared_groups(px.groups, py.groups);
        let group_factor = if px.groups == 0 || py.groups == 0 {
            0.8
        } else if shared == 0 {
            0.5
        } else {
            1.0
        };
        let targets_over_need = if px.has_target && py.has_target {
            self.need_for(needs, meeting.shallow_path, key).map(|pin| {
                let fx = self.share_within(x, meeting.shallow_area);
                let fy = self.share_within(y, meeting.shallow_area);
                (px.target as f64 * fx + py.target as f64 * fy) / pin.max(1) as f64
            })
        } else {
            None
        };
        let score = score(
            sector,
            levels_apart,
            time_share,
            group_factor,
            targets_over_need,
        );
        Finding {
            a: px.id,
            b: py.id,
            kind,
            score,
            reasons: Reasons {
                sector,
                sector_code: sector_code.clone(),
                spatial,
                shared_area: meeting.deep_path.clone(),
                time_share,
                shared_groups: PopulationGroup::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| shared & (1 << i) != 0)
                    .map(|(_, g)| *g)
                    .collect(),
                targets_over_need,
            },
        }
    }

    /// Needs are usually stated per cluster while donors report DAC codes, so a DAC key
    /// without a figure falls back to its clusters.
    fn need_for(&self, needs: &dyn NeedLookup, area: &AreaPath, key: u32) -> Option<u64> {
        let key = key as usize;
        needs.people_in_need(area, &self.keys[key]).or_else(|| {
            self.need_fallback[key]
                .iter()
                .find_map(|&c| needs.people_in_need(area, &self.keys[c as usize]))
        })
    }

    fn meeting(&self, x: usize, y: usize) -> Option<Meeting<'a>> {
        let mut best: Option<Meeting<'a>> = None;
        for &lx in self.locs_of(x) {
            for &ly in self.locs_of(y) {
                let (dx, dy) = (self.depth(lx), self.depth(ly));
                let (shallow, deep) = if dx <= dy && self.is_ancestor_or_self(lx, ly) {
                    (lx, ly)
                } else if dy < dx && self.is_ancestor_or_self(ly, lx) {
                    (ly, lx)
                } else {
                    continue;
                };
                let (Some(shallow_path), Some(deep_path)) = (
                    self.areas[shallow as usize].path,
                    self.areas[deep as usize].path,
                ) else {
                    continue;
                };
                let candidate = Meeting {
                    first_node: shallow,
                    levels_apart: dx.abs_diff(dy),
                    deep_depth: dx.max(dy),
                    shallow_area: shallow,
                    shallow_path,
                    deep_path,
                };
                best = Some(match best {
                    None => candidate,
                    Some(b) => {
                        let first_node = b.first_node.min(candidate.first_node);
                        let mut better = if candidate.prefer_to(&b) == Ordering::Less {
                            candidate
                        } else {
                            b
                        };
                        better.first_node = first_node;
                        better
                    }
                });
            }
        }
        best
    }

    /// The share of a record's places that lie within (or contain) the enclosing area: its
    /// target is a total over all of them, spread evenly for want of better knowledge.
    fn share_within(&self, i: usize, enclosing: u32) -> f64 {
        let locs = self.locs_of(i);
        if locs.is_empty() {
            return 0.0;
        }
        let within = locs.iter().filter(|&&l| self.meets(l, enclosing)).count();
        within as f64 / locs.len() as f64
    }

    fn near_identical(&self, x: usize, y: usize) -> bool {
        let (wx, wy) = (self.words_of(x), self.words_of(y));
        if sites_apart(&wx.sites, &wy.sites) {
            return false;
        }
        let (px, py) = (&self.preps[x], &self.preps[y]);
        let same_dates = px.start == py.start && px.end == py.end;
        (same_dates && self.locs_of(x) == self.locs_of(y)) || tokens_alike(&wx.title, &wy.title)
    }

    fn words_of(&self, i: usize) -> &Words {
        self.words[i].get_or_init(|| {
            let record = self.cands[i];
            Words {
                title: title_tokens(&record.title),
                sites: record.sites.iter().map(|site| title_tokens(site)).collect(),
            }
        })
    }

    // -----------------------------------------------------------------------------------
    // The sweep
    // -----------------------------------------------------------------------------------

    /// Accepted pairs first, as rank pairs packed in a `u64` (ranks in id order), so that
    /// ordering the output sorts integers, and each finding is built once, in place.
    fn sweep(&self, needs: &dyn NeedLookup) -> Vec<Finding> {
        self.sweep_focused(needs, None)
    }

    /// The sweep, keeping only pairs with at least one record marked in `focus` (indexed
    /// like `cands`) when it is given.
    fn sweep_focused(&self, needs: &dyn NeedLookup, focus: Option<&[bool]>) -> Vec<Finding> {
        let (by_rank, pairs) = self.sorted_pairs(focus);
        let mut findings = Vec::with_capacity(pairs.len());
        self.visit_pairs(&by_rank, &pairs, needs, &mut |f| findings.push(f));
        findings
    }

    /// Records in id order, and the accepted pairs as rank pairs in order.
    fn sorted_pairs(&self, focus: Option<&[bool]>) -> (Vec<u32>, Vec<u64>) {
        let (by_rank, rank) = self.ranks();
        let pairs = sort_pairs(self.accepted_pairs(&rank, focus), rank.len());
        (by_rank, pairs)
    }

    /// Builds the finding of each pair, in the pairs' order, and hands it to `visit`.
    fn visit_pairs(
        &self,
        by_rank: &[u32],
        pairs: &[u64],
        needs: &dyn NeedLookup,
        visit: &mut dyn FnMut(Finding),
    ) {
        let unpack = |pair: u64| {
            let x = by_rank[(pair >> 32) as usize] as usize;
            let y = by_rank[(pair & u64::from(u32::MAX)) as usize] as usize;
            (x, y)
        };
        // In id order the second record of each pair is a random read. Touching a batch of
        // them first lets the memory system fetch them in parallel instead of one by one.
        for batch in pairs.chunks(16) {
            let warm = batch.iter().fold(0, |acc, &pair| {
                let (x, y) = unpack(pair);
                acc ^ self.preps[x].start ^ self.preps[y].start
            });
            std::hint::black_box(warm);
            for &pair in batch {
                let (x, y) = unpack(pair);
                if let Some(finding) = self.evaluate(x, y, needs) {
                    visit(finding);
                }
            }
        }
    }

    /// Records in id order (`by_rank`) and each record's place in it (`rank`).
    fn ranks(&self) -> (Vec<u32>, Vec<u32>) {
        let by_rank: Vec<u32> = if self.preps.is_sorted_by_key(|p| p.id) {
            // The store hands records over in id order; no need to sort them again.
            (0..self.preps.len() as u32).collect()
        } else {
            let mut by_id: Vec<(InterventionId, u32)> = (0..self.preps.len())
                .map(|i| (self.preps[i].id, i as u32))
                .collect();
            by_id.sort_unstable();
            by_id.into_iter().map(|(_, i)| i).collect()
        };
        let mut rank = vec![0u32; by_rank.len()];
        for (r, &i) in by_rank.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        (by_rank, rank)
    }

    fn accepted_pairs(&self, rank: &[u32], focus: Option<&[bool]>) -> Vec<u64> {
        // Sorting (start, record) tuples rather than record ids keyed by their start keeps
        // the comparisons in the array being sorted instead of a random read each.
        let mut order: Vec<(i64, u32)> = (0..self.preps.len())
            .filter(|&i| {
                self.preps[i].live && !self.keys_of(i).is_empty() && !self.locs_of(i).is_empty()
            })
            .map(|i| (self.preps[i].start, i as u32))
            .collect();
        order.sort_unstable();

        // Deal into buckets, one per key, in start order (a counting sort by key). Entries
        // carry what the pair test reads, so the sweep itself never goes back to a record.
        let key_count = self.keys.len();
        let mut offsets = vec![0usize; key_count + 1];
        for &(_, i) in &order {
            for &(k, _) in self.keys_of(i as usize) {
                offsets[k as usize + 1] += 1;
            }
        }
        for k in 0..key_count {
            offsets[k + 1] += offsets[k];
        }
        let mut fill = offsets.clone();
        let blank = Entry {
            rec: 0,
            rank: 0,
            id: InterventionId(0),
            organisation: OrganisationId(0),
            start: 0,
            end: 0,
            keys: (0, 0),
            locs: (0, 0),
            own: false,
            general: false,
            links: false,
        };
        let mut members = vec![blank; offsets[key_count]];
        let mut has_general = vec![false; key_count];
        for &(_, i) in &order {
            let prep = &self.preps[i as usize];
            for &(k, side) in self.keys_of(i as usize) {
                members[fill[k as usize]] = Entry {
                    rec: i,
                    rank: rank[i as usize],
                    id: prep.id,
                    organisation: prep.organisation,
                    start: prep.start,
                    end: prep.end,
                    keys: prep.keys,
                    locs: prep.locs,
                    own: false,
                    general: side == Side::General,
                    links: prep.links,
                };
                fill[k as usize] += 1;
                has_general[k as usize] |= side == Side::General;
            }
        }

        let mut pairs = Vec::new();
        let mut stamp = vec![u32::MAX; self.areas.len()];
        let mut slot_of = vec![0usize; self.areas.len()];
        let mut nodes: Vec<u32> = Vec::new();
        let mut lists: Vec<Vec<Entry>> = Vec::new();
        let mut active: [Vec<Entry>; 4] = Default::default();
        for k in 0..key_count {
            let bucket = &members[offsets[k]..offsets[k + 1]];
            // Specific members only pair with general ones.
            if !has_general[k] || bucket.len() < 2 {
                continue;
            }
            let stamp_k = k as u32;
            nodes.clear();
            for member in bucket {
                for &area in self.arena_locs(member.locs) {
                    if stamp[area as usize] != stamp_k {
                        stamp[area as usize] = stamp_k;
                        slot_of[area as usize] = nodes.len();
                        nodes.push(area);
                    }
                }
            }
            if lists.len() < nodes.len() {
                lists.resize_with(nodes.len(), Vec::new);
            }
            for list in &mut lists[..nodes.len()] {
                list.clear();
            }
            for member in bucket {
                for &area in self.arena_locs(member.locs) {
                    for &node in self.chain(area) {
                        if stamp[node as usize] != stamp_k {
                            continue;
                        }
                        let list = &mut lists[slot_of[node as usize]];
                        let own = node == area;
                        // A record's entries are dealt together, so a repeat is the last.
                        if let Some(last) = list.last_mut()
                            && last.rec == member.rec
                        {
                            last.own |= own;
                            continue;
                        }
                        list.push(Entry { own, ..*member });
                    }
                }
            }
            for (slot, &node) in nodes.iter().enumerate() {
                let list = &lists[slot];
                if list.len() < 2 {
                    continue;
                }
                for set in &mut active {
                    set.clear();
                }
                for entry in list {
                    for (which, set) in active.iter_mut().enumerate() {
                        let (set_own, set_general) = (which & 2 != 0, which & 1 != 0);
                        if !(entry.own || set_own) || !(entry.general || set_general) {
                            continue;
                        }
                        let mut n = 0;
                        while n < set.len() {
                            let partner = &set[n];
                            if partner.end < entry.start {
                                set.swap_remove(n);
                                continue;
                            }
                            n += 1;
                            let in_focus = focus
                                .is_none_or(|f| f[partner.rec as usize] || f[entry.rec as usize]);
                            if in_focus && self.accept(partner, entry, stamp_k, node) {
                                let (lo, hi) = if partner.rank < entry.rank {
                                    (partner.rank, entry.rank)
                                } else {
                                    (entry.rank, partner.rank)
                                };
                                pairs.push(u64::from(lo) << 32 | u64::from(hi));
                            }
                        }
                    }
                    active[usize::from(entry.own) * 2 + usize::from(entry.general)].push(*entry);
                }
            }
        }
        pairs
    }

    /// `judge` for two entries of a node list that meet in time, at their canonical key and
    /// node only, without reading the records unless they share an organisation or are
    /// both links of chains (the rare cases that need more).
    fn accept(&self, p: &Entry, e: &Entry, key: u32, node: u32) -> bool {
        if p.id == e.id {
            return false;
        }
        if first_shared_key(self.arena_keys(p.keys), self.arena_keys(e.keys)) != Some(key) {
            return false;
        }
        let mut first_node = u32::MAX;
        for &lp in self.arena_locs(p.locs) {
            for &le in self.arena_locs(e.locs) {
                if self.is_ancestor_or_self(lp, le) {
                    first_node = first_node.min(lp);
                } else if self.is_ancestor_or_self(le, lp) {
                    first_node = first_node.min(le);
                }
            }
        }
        if first_node != node {
            return false;
        }
        if p.organisation == e.organisation || (p.links && e.links) {
            return self
                .judge(p.rec as usize, e.rec as usize, Some((key, node)))
                .is_some();
        }
        true
    }
}

/// Puts pairs of ranks (packed `first << 32 | second`, both below `n`) in order in `O(k)`,
/// so that ordering the output keeps the sweep within `O(n log n + k)` where a comparison
/// sort would make it `O(k log k)`. An LSD radix sort of the pair packed into
/// `2 * ceil(log2 n)` bits, 11 bits a pass (four passes for a million records, at most six
/// for any `u32` ranks): a fan-out small enough for each pass to stream through the cache.
/// (Measured at 53M pairs it is within a third of `sort_unstable` either way, and under 5%
/// of the sweep.)
fn sort_pairs(pairs: Vec<u64>, n: usize) -> Vec<u64> {
    const DIGIT: u32 = 11;
    if pairs.len() < 2 {
        return pairs;
    }
    let bits = (usize::BITS - n.saturating_sub(1).leading_zeros()).clamp(1, 32);
    let second_mask = (1u64 << bits) - 1;
    // The digits are those of the tight packing, computed on the fly.
    let packed = |p: u64| (p >> 32) << bits | (p & second_mask);
    let mut from = pairs;
    let mut to = vec![0u64; from.len()];
    let total = 2 * bits;
    let mut shift = 0;
    while shift < total {
        let width = DIGIT.min(total - shift);
        let mask = (1u64 << width) - 1;
        let digit = |p: u64| ((packed(p) >> shift) & mask) as usize;
        let mut starts = vec![0usize; (1 << width) + 1];
        for &p in &from {
            starts[digit(p) + 1] += 1;
        }
        for i in 0..(1 << width) {
            starts[i + 1] += starts[i];
        }
        for &p in &from {
            let slot = &mut starts[digit(p)];
            to[*slot] = p;
            *slot += 1;
        }
        std::mem::swap(&mut from, &mut to);
        shift += width;
    }
    from
}

/// Stores a list once however many records carry it.
fn intern_list<T: Clone + Eq + std::hash::Hash>(
    lists: &mut FastMap<Vec<T>, (u32, u32)>,
    arena: &mut Vec<T>,
    list: &[T],
) -> (u32, u32) {
    if let Some(&range) = lists.get(list) {
        return range;
    }
    let from = arena.len() as u32;
    arena.extend_from_slice(list);
    let range = (from, arena.len() as u32);
    lists.insert(list.to_vec(), range);
    range
}

/// A pair that forms a finding: `x` has the smaller id.
#[derive(Clone, Copy)]
struct Judged<'a> {
    x: usize,
    y: usize,
    key: u32,
    meeting: Meeting<'a>,
    kind: FindingKind,
}

/// A record in a bucket or node list, with the fields the pair test reads.
#[derive(Clone, Copy)]
struct Entry {
    rec: u32,
    rank: u32,
    id: InterventionId,
    organisation: OrganisationId,
    start: i64,
    end: i64,
    keys: (u32, u32),
    locs: (u32, u32),
    own: bool,
    general: bool,
    links: bool,
}

/// Where two records meet in space: the preferred pair of areas for the reasons, and the
/// smallest node id for the sweep's canonical check.
#[derive(Clone, Copy)]
struct Meeting<'a> {
    first_node: u32,
    levels_apart: usize,
    deep_depth: usize,
    shallow_area: u32,
    shallow_path: &'a AreaPath,
    deep_path: &'a AreaPath,
}

impl Meeting<'_> {
    /// Fewest levels apart, then deepest, then by path: the most specific meeting first.
    fn prefer_to(&self, other: &Self) -> Ordering {
        self.levels_apart
            .cmp(&other.levels_apart)
            .then(other.deep_depth.cmp(&self.deep_depth))
            .then_with(|| self.deep_path.as_str().cmp(other.deep_path.as_str()))
            .then_with(|| self.shallow_path.as_str().cmp(other.shallow_path.as_str()))
    }
}

/// The smallest key both carry, unless both only fall under it.
fn first_shared_key(x: &[(u32, Side)], y: &[(u32, Side)]) -> Option<u32> {
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].0.cmp(&y[j].0) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                if x[i].1 == Side::General || y[j].1 == Side::General {
                    return Some(x[i].0);
                }
                i += 1;
                j += 1;
            }
        }
    }
    None
}

/// ASCII-case-insensitive, like the comparison it stands for.
fn id_hash(id: &str) -> u64 {
    let mut hasher = FastHasher::default();
    for b in id.bytes() {
        hasher.add(u64::from(b.to_ascii_lowercase()));
    }
    hasher.finish()
}

fn title_tokens(title: &str) -> Vec<String> {
    let mut tokens: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

/// Whether two records both name the sites they work at and share none: one organisation
/// doing the same activity in two communities of a district is two pieces of work (a 3W has
/// one row per community), however alike their titles and dates. Names compare as token
/// sets (see `title_tokens`), so case, punctuation and spacing do not matter.
fn sites_apart(x: &[Vec<String>], y: &[Vec<String>]) -> bool {
    !x.is_empty() && !y.is_empty() && !x.iter().any(|site| y.contains(site))
}

/// Token-set Jaccard of at least 0.8; titles with no letters or digits prove nothing.
fn tokens_alike(tx: &[String], ty: &[String]) -> bool {
    if tx.is_empty() || ty.is_empty() {
        return false;
    }
    let shared = tx.iter().filter(|t| ty.binary_search(t).is_ok()).count();
    let union = tx.len() + ty.len() - shared;
    shared * TITLE_JACCARD.1 >= union * TITLE_JACCARD.0
}

/// "All" is everyone, so it shares with any group the other names. Groups as bits.
fn shared_groups(x: u16, y: u16) -> u16 {
    let all = group_bit(PopulationGroup::All);
    let x_all = if x & all != 0 { !all } else { 0 };
    let y_all = if y & all != 0 { !all } else { 0 };
    (x & y) | (x & y_all) | (y & x_all)
}

fn time_share(x: &Prep, y: &Prep) -> f64 {
    let meet = x.start.max(y.start);
    let mut cap = meet.saturating_add(OPEN_END_HORIZON_DAYS - 1);
    for p in [x, y] {
        if !p.open {
            cap = cap.max(p.end);
        }
    }
    let end_of = |p: &Prep| if p.open { cap } else { p.end };
    let overlap = end_of(x).min(end_of(y)) - meet + 1;
    let shorter = (end_of(x) - x.start + 1).min(end_of(y) - y.start + 1);
    if overlap <= 0 || shorter <= 0 {
        return 0.0;
    }
    (overlap as f64 / shorter as f64).clamp(0.0, 1.0)
}

fn score(
    sector: SectorMatch,
    levels_apart: usize,
    time_share: f64,
    group_factor: f64,
    targets_over_need: Option<f64>,
) -> f64 {
    let s = match sector {
        SectorMatch::SameCode => 1.0,
        SectorMatch::SameCluster => SAME_CLUSTER_WEIGHT,
    };
    let p = NESTING_DECAY.powi(i32::try_from(levels_apart).unwrap_or(i32::MAX));
    let base = s * p * (0.25 + 0.75 * time_share) * group_factor;
    let boost = targets_over_need.map_or(0.0, |r| (r - 0.5).clamp(0.0, 1.0));
    let score = base + (1.0 - base) * boost * time_share;
    if score.is_finite() {
        score.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `AreaPath` has no serde of its own; it travels as its canonical string.
mod area_path_serde {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::area::AreaPath;

    pub fn serialize<S: Serializer>(path: &AreaPath, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(path.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AreaPath, D::Error> {
        let s = String::deserialize(deserializer)?;
        AreaPath::parse(&s).map_err(|e| D::Error::custom(e.message))
    }
}

mod area_paths_serde {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::area::AreaPath;

    pub fn serialize<S: Serializer>(paths: &[AreaPath], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(paths.iter().map(AreaPath::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<AreaPath>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|s| AreaPath::parse(s).map_err(|e| D::Error::custom(e.message)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use chrono::NaiveDate;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::area::Pcode;

    const DISTRICT: &str = "/XX/XX01/XX0101/";

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn path(s: &str) -> AreaPath {
        AreaPath::parse(s).unwrap()
    }

    fn period(start: &str, end: Option<&str>) -> Period {
        Period::new("period", d(start), end.map(d)).unwrap()
    }

    fn dac5(code: &str) -> SectorKey {
        (SectorVocabulary::Dac5, code.to_owned())
    }

    fn dac3(code: &str) -> SectorKey {
        (SectorVocabulary::Dac3, code.to_owned())
    }

    fn cluster(code: &str) -> SectorKey {
        (SectorVocabulary::Cluster, code.to_owned())
    }

    /// WASH (14030) in one district for 2024, with a title unlike any other id's.
    fn cand(id: i64, org: i64) -> OverlapCandidate {
        OverlapCandidate {
            id: InterventionId(id),
            organisation: OrganisationId(org),
            status: ActivityStatus::Implementation,
            period: period("2024-01-01", Some("2024-12-31")),
            sectors: vec![dac5("14030")],
            locations: vec![path(DISTRICT)],
            groups: Vec::new(),
            target: None,
            title: format!("Activity {id}"),
            own_ids: vec![format!("XX-{org}-{id}")],
            linked_ids: Vec::new(),
            sites: Vec::new(),
        }
    }

    fn with_sector(mut c: OverlapCandidate, sector: SectorKey) -> OverlapCandidate {
        c.sectors = vec![sector];
        c
    }

    fn at(mut c: OverlapCandidate, area: &str) -> OverlapCandidate {
        c.locations = vec![path(area)];
        c
    }

    fn during(mut c: OverlapCandidate, start: &str, end: Option<&str>) -> OverlapCandidate {
        c.period = period(start, end);
        c
    }

    struct Needs(Vec<(AreaPath, SectorKey, u64)>);

    impl NeedLookup for Needs {
        fn people_in_need(&self, area: &AreaPath, sector: &SectorKey) -> Option<u64> {
            self.0
                .iter()
                .find(|(a, s, _)| a == area && s == sector)
                .map(|(_, _, pin)| *pin)
        }
    }

    /// The rule for one pair, checked to be symmetric and to agree with the sweep.
    fn pair_with(
        a: &OverlapCandidate,
        b: &OverlapCandidate,
        needs: &dyn NeedLookup,
    ) -> Option<Finding> {
        let found = evaluate_pair(a, b, needs);
        assert_eq!(found, evaluate_pair(b, a, needs), "the rule is symmetric");
        let swept = sweep(&[a.clone(), b.clone()], needs);
        assert_eq!(swept, found.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(check_one(a, std::slice::from_ref(b), needs), swept);
        found
    }

    fn pair(a: &OverlapCandidate, b: &OverlapCandidate) -> Option<Finding> {
        pair_with(a, b, &NoNeeds)
    }

    fn ids(findings: &[Finding]) -> Vec<(i64, i64, FindingKind)> {
        findings.iter().map(|f| (f.a.0, f.b.0, f.kind)).collect()
    }

    #[test]
    fn a_national_umbrella_over_a_district_scores_lower_than_the_same_district() {
        let district = cand(1, 1);
        let same_district = cand(2, 2);
        let national = at(cand(3, 3), "/XX/");
        let province = at(cand(4, 4), "/XX/XX01/");
        let sibling = at(cand(5, 5), "/XX/XX01/XX0102/");

        let same = pair(&district, &same_district).unwrap();
        assert_eq!(same.kind, FindingKind::Overlap);
        assert_eq!(same.reasons.spatial, SpatialMatch::SameArea);
        assert_eq!(same.reasons.shared_area, path(DISTRICT));
        assert_eq!(same.score, 1.0 * 1.0 * 1.0 * 0.8);

        let umbrella = pair(&national, &district).unwrap();
        assert_eq!(
            umbrella.reasons.spatial,
            SpatialMatch::Nested { levels_apart: 2 }
        );
        assert_eq!(umbrella.reasons.shared_area, path(DISTRICT));
        let nested = pair(&province, &district).unwrap();
        assert_eq!(
            nested.reasons.spatial,
            SpatialMatch::Nested { levels_apart: 1 }
        );
        assert!(umbrella.score < nested.score && nested.score < same.score);
        assert!(pair(&sibling, &district).is_none(), "siblings do not meet");

        let all = [district, same_district, national, province, sibling];
        let expected = vec![
            (1, 2, FindingKind::Overlap),
            (1, 3, FindingKind::Overlap),
            (1, 4, FindingKind::Overlap),
            (2, 3, FindingKind::Overlap),
            (2, 4, FindingKind::Overlap),
            (3, 4, FindingKind::Overlap),
            (3, 5, FindingKind::Overlap),
            (4, 5, FindingKind::Overlap),
        ];
        assert_eq!(ids(&sweep(&all, &NoNeeds)), expected);
    }

    #[test]
    fn the_most_specific_meeting_is_the_reason() {
        let a = cand(1, 1);
        let mut b = at(cand(2, 2), "/XX/");
        b.locations.push(path(DISTRICT));
        let found = pair(&a, &b).unwrap();
        assert_eq!(found.reasons.spatial, SpatialMatch::SameArea);
    }

    #[test]
    fn ranges_touching_on_one_day_overlap_and_adjacent_days_do_not() {
        let q1 = during(cand(1, 1), "2024-01-01", Some("2024-03-31"));
        let from_31_march = during(cand(2, 2), "2024-03-31", Some("2024-06-30"));
        let from_1_april = during(cand(3, 3), "2024-04-01", Some("2024-06-30"));
        let touching = pair(&q1, &from_31_march).unwrap();
        assert_eq!(touching.reasons.time_share, 1.0 / 91.0);
        assert!(pair(&q1, &from_1_april).is_none());
        let all = [q1, from_31_march, from_1_april];
        assert_eq!(
            ids(&sweep(&all, &NoNeeds)),
            vec![(1, 2, FindingKind::Overlap), (2, 3, FindingKind::Overlap)]
        );
    }

    #[test]
    fn open_ends_run_on() {
        let ongoing = during(cand(1, 1), "2024-01-01", None);
        let spring = during(cand(2, 2), "2024-03-01", Some("2024-06-30"));
        let also_ongoing = during(cand(3, 3), "2025-06-01", None);
        let before = during(cand(4, 4), "2023-01-01", Some("2023-12-31"));
        assert_eq!(pair(&ongoing, &spring).unwrap().reasons.time_share, 1.0);
        assert_eq!(
            pair(&ongoing, &also_ongoing).unwrap().reasons.time_share,
            1.0
        );
        assert!(pair(&ongoing, &before).is_none());
        assert!(pair(&also_ongoing, &spring).is_none());
        // Ongoing from June against the whole year: June to December of the capped year.
        let from_june = during(cand(5, 5), "2024-06-01", None);
        let year = cand(6, 6);
        assert_eq!(
            pair(&from_june, &year).unwrap().reasons.time_share,
            214.0 / 365.0
        );
    }

    #[test]
    fn same_organisation_near_identical_records_are_probable_duplicates() {
        let mut a = cand(1, 1);
        a.title = "Emergency water trucking in Afar region".into();
        let mut same_title = during(cand(2, 1), "2024-03-01", Some("2024-05-31"));
        same_title.title = "emergency WATER trucking, in afar region".into();
        let mut similar = during(cand(3, 1), "2024-02-01", None);
        similar.title = "Emergency water trucking in Afar".into(); // 5 of 6 tokens
        let mut same_dates_and_places = cand(4, 1);
        same_dates_and_places.title = "Latrines for Afar schools".into();
        let mut other_work = during(cand(5, 1), "2024-06-01", Some("2024-09-30"));
        other_work.title = "Latrines for Afar schools".into();

        for dup in [&same_title, &similar, &same_dates_and_places] {
            assert_eq!(
                pair(&a, dup).unwrap().kind,
                FindingKind::ProbableDuplicateRecord
            );
        }
        assert!(pair(&a, &other_work).is_none(), "same org, different work");
        let all = [a, same_title, similar, same_dates_and_places, other_work];
        let dup = FindingKind::ProbableDuplicateRecord;
        assert_eq!(
            ids(&sweep(&all, &NoNeeds)),
            vec![
                (1, 2, dup),
                (1, 3, dup),
                (1, 4, dup),
                (2, 3, dup),
                (4, 5, dup), // the same title
            ]
        );
    }

    #[test]
    fn one_activity_at_differently_named_sites_is_not_a_duplicate() {
        // A 3W lists the same cash transfer once per community of the district.
        let at = |id: i64, sites: &[&str]| {
            let mut c = cand(id, 1);
            c.title = "Transferencias monetarias para fines de SAN".into();
            c.sites = sites.iter().map(|s| (*s).to_owned()).collect();
            c
        };
        let suyapa = at(1, &["Suyapa 2"]);
        let cristo_rey = at(2, &["Cristo Rey"]);
        let suyapa_again = at(3, &[" suyapa-2 "]);
        let unnamed = at(4, &[]);
        let both = at(5, &["Cristo Rey", "Urraquito Sur"]);

        assert!(pair(&suyapa, &cristo_rey).is_none(), "two communities");
        assert!(pair(&suyapa, &both).is_none(), "no community in common");
        let dup = FindingKind::ProbableDuplicateRecord;
        assert_eq!(pair(&suyapa, &suyapa_again).unwrap().kind, dup);
        assert_eq!(pair(&cristo_rey, &both).unwrap().kind, dup, "one in common");
        assert_eq!(pair(&suyapa, &unnamed).unwrap().kind, dup, "no evidence");
        // Sites only tell one organisation's records apart: another's is still an overlap.
        let mut other = at(6, &["Cristo Rey"]);
        other.organisation = OrganisationId(2);
        assert_eq!(pair(&suyapa, &other).unwrap().kind, FindingKind::Overlap);

        let all = [suyapa, cristo_rey, suyapa_again, unnamed, both, other];
        let overlap = FindingKind::Overlap;
        assert_eq!(
            ids(&sweep(&all, &NoNeeds)),
            vec![
                (1, 3, dup),
                (1, 4, dup),
                (1, 6, overlap),
                (2, 4, dup),
                (2, 5, dup),
                (2, 6, overlap),
                (3, 4, dup),
                (3, 6, overlap),
                (4, 5, dup),
                (4, 6, overlap),
                (5, 6, overlap),
            ]
        );
    }

    #[test]
    fn a_funder_and_implementer_chain_is_not_duplication() {
        let mut funder = cand(1, 1);
        funder.own_ids = vec!["XM-DAC-41114-ET-001".into()];
        let mut implementer = cand(2, 2);
        implementer.linked_ids = vec![" xm-dac-41114-et-001 ".into()];
        let mut other_implementer = cand(3, 3);
        other_implementer.linked_ids = vec!["XM-DAC-41114-ET-001".into()];
        let mut sub = cand(4, 4);
        sub.own_ids = vec!["SUB-1".into()];
        implementer.linked_ids.push("SUB-1".into());

        assert!(pair(&funder, &implementer).is_none());
        assert!(pair(&implementer, &sub).is_none(), "either direction");
        let all = [funder, implementer, other_implementer, sub];
        assert_eq!(
            ids(&sweep(&all, &NoNeeds)),
            vec![
                (1, 4, FindingKind::Overlap), // not declared as linked
                (2, 3, FindingKind::Overlap), // two implementers of one grant
                (3, 4, FindingKind::Overlap),
            ]
        );
    }

    #[test]
    fn cancelled_and_closed_work_overlaps_nothing() {
        let a = cand(1, 1);
        for status in ActivityStatus::ALL {
            let mut b = cand(2, 2);
            b.status = *status;
            assert_eq!(pair(&a, &b).is_some(), status.is_live(), "{status:?}");
        }
    }

    #[test]
    fn a_dac_code_meets_its_cluster_at_cluster_level() {
        let dac = cand(1, 1);
        let wash = with_sector(cand(2, 2), cluster("11"));
        let found = pair(&dac, &wash).unwrap();
        assert_eq!(found.reasons.sector, SectorMatch::SameCluster);
        assert_eq!(found.reasons.sector_code, cluster("11"));
        let by_hpc_code = with_sector(cand(3, 3), cluster("WSH"));
        assert_eq!(
            pair(&dac, &by_hpc_code).unwrap().reasons.sector_code,
            cluster("11")
        );
        let same_code = pair(&dac, &cand(4, 4)).unwrap();
        assert_eq!(same_code.reasons.sector, SectorMatch::SameCode);
        assert_eq!(same_code.reasons.sector_code, dac5("14030"));
        assert!(same_code.score > found.score);
    }

    #[test]
    fn two_dac_codes_of_one_cluster_meet_at_cluster_level() {
        let water = with_sector(cand(1, 1), dac5("14031"));
        let sanitation = with_sector(cand(2, 2), dac5("14032"));
        let found = pair(&water, &sanitation).unwrap();
        assert_eq!(found.reasons.sector, SectorMatch::SameCluster);
        assert_eq!(found.reasons.sector_code, cluster("11"));
        let category = with_sector(cand(3, 3), dac3("140"));
        assert_eq!(
            pair(&water, &category).unwrap().reasons.sector_code,
            cluster("11")
        );
    }

    #[test]
    fn different_sectors_do_not_meet() {
        let wash = cand(1, 1);
        let health = with_sector(cand(2, 2), dac5("12220"));
        assert!(pair(&wash, &health).is_none());
        // River basins sit in the water category but not in the WASH cluster.
        let basins = with_sector(cand(3, 3), dac5("14040"));
        assert!(pair(&basins, &with_sector(cand(4, 4), cluster("11"))).is_none());
        let category = with_sector(cand(5, 5), dac3("140"));
        assert_eq!(
            pair(&basins, &category).unwrap().reasons.sector_code,
            dac3("140")
        );
        // Siblings in a category without a cluster only meet through the category itself.
        let public_admin = with_sector(cand(6, 6), dac5("15110"));
        let democracy = with_sector(cand(7, 7), dac5("15150"));
        assert!(pair(&public_admin, &democracy).is_none());
        let governance = with_sector(cand(8, 8), dac3("151"));
        let found = pair(&public_admin, &governance).unwrap();
        assert_eq!(found.reasons.sector, SectorMatch::SameCluster);
        assert!(pair(&governance, &with_sector(cand(9, 9), dac3("151"))).is_some());
        // Unknown codes match only themselves.
        let unknown = with_sector(cand(10, 10), dac5("99999"));
        assert!(pair(&unknown, &wash).is_none());
        let found = pair(&unknown, &with_sector(cand(11, 11), dac5(" 99999"))).unwrap();
        assert_eq!(found.reasons.sector, SectorMatch::SameCode);
    }

    #[test]
    fn a_cluster_covers_its_areas_of_responsibility_but_they_do_not_cover_each_other() {
        let protection = with_sector(cand(1, 1), cluster("10"));
        let gbv = with_sector(cand(2, 2), cluster("5404"));
        let child_protection = with_sector(cand(3, 3), cluster("PRO-CPN"));
        let ending_violence = with_sector(cand(4, 4), dac5("15180"));
        assert_eq!(
            pair(&protection, &gbv).unwrap().reasons.sector_code,
            cluster("10")
        );
        assert!(pair(&gbv, &child_protection).is_none());
        assert_eq!(
            pair(&ending_violence, &gbv).unwrap().reasons.sector_code,
            cluster("5404")
        );
        assert!(pair(&ending_violence, &child_protection).is_none());
        assert!(pair(&ending_violence, &protection).is_some());
    }

    #[test]
    fn different_countries_never_meet() {
        let a = at(cand(1, 1), "/XX/XX01/");
        let b = at(cand(2, 2), "/YY/YY01/");
        let c = at(cand(3, 3), "/XXA/");
        let d = at(cand(4, 4), "/XX/");
        assert!(pair(&a, &b).is_none());
        assert!(
            pair(&c, &d).is_none(),
            "a path is a prefix only up to a '/'"
        );
        assert_eq!(
            ids(&sweep(&[a, b, c, d], &NoNeeds)),
            vec![(1, 4, FindingKind::Overlap)]
        );
    }

    #[test]
    fn targets_above_need_raise_the_score() {
        let mut a = cand(1, 1);
        a.target = Some(600);
        let mut b = cand(2, 2);
        b.target = Some(600);
        let plain = pair(&a, &b).unwrap();
        assert_eq!(plain.reasons.targets_over_need, None);
        // Needs are stated per cluster; the DAC code falls back to its cluster's figure.
        let needs = Needs(vec![(path(DISTRICT), cluster("11"), 1000)]);
        let over = pair_with(&a, &b, &needs).unwrap();
        assert_eq!(over.reasons.targets_over_need, Some(1.2));
        assert!(over.score > plain.score);
        assert!(over.score <= 1.0);
        let plenty = Needs(vec![(path(DISTRICT), dac5("14030"), 10_000)]);
        let under = pair_with(&a, &b, &plenty).unwrap();
        assert_eq!(under.reasons.targets_over_need, Some(0.12));
        assert_eq!(
            under.score, plain.score,
            "half the need or less adds nothing"
        );

        // A record's target is spread over its places; the need is the enclosing area's.
        let mut wide = at(cand(3, 3), "/XX/XX02/");
        wide.locations.push(path("/XX/XX01/"));
        wide.target = Some(1000);
        let province = Needs(vec![(path("/XX/XX01/"), cluster("11"), 1000)]);
        let found = pair_with(&wide, &a, &province).unwrap();
        assert_eq!(
            found.reasons.targets_over_need,
            Some((500.0 + 600.0) / 1000.0)
        );
        assert_eq!(found.reasons.shared_area, path(DISTRICT));
    }

    #[test]
    fn shared_groups_count_all_as_everyone() {
        let mut a = cand(1, 1);
        a.groups = vec![PopulationGroup::All];
        let mut b = cand(2, 2);
        b.groups = vec![
            PopulationGroup::InternallyDisplaced,
            PopulationGroup::HostCommunity,
        ];
        let mut c = cand(3, 3);
        c.groups = vec![PopulationGroup::Refugees];
        let shared = pair(&a, &b).unwrap();
        assert_eq!(
            shared.reasons.shared_groups,
            vec![
                PopulationGroup::InternallyDisplaced,
                PopulationGroup::HostCommunity
            ]
        );
        let disjoint = pair(&b, &c).unwrap();
        assert!(disjoint.reasons.shared_groups.is_empty());
        let unknown = pair(&b, &cand(4, 4)).unwrap();
        assert!(disjoint.score < unknown.score && unknown.score < shared.score);
    }

    #[test]
    fn matching_sectors_follow_the_crosswalk() {
        let wash = matching_sectors(&[dac5("14030")]);
        for expected in [
            dac5("14030"),
            dac5("14031"),
            dac5("72010"),
            dac3("140"),
            cluster("11"),
        ] {
            assert!(wash.contains(&expected), "{expected:?}");
        }
        assert!(
            !wash.contains(&dac5("14040")),
            "a sibling only through the category"
        );
        assert!(!wash.contains(&dac5("12220")));
        let gbv = matching_sectors(&[cluster("PRO-GBV")]);
        assert!(gbv.contains(&cluster("10")) && gbv.contains(&dac5("15180")));
        assert!(!gbv.contains(&cluster("5403")));
        assert_eq!(matching_sectors(&[dac5(" 99999")]), vec![dac5("99999")]);
    }

    #[test]
    fn rank_pairs_sort_like_a_comparison_sort() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [1usize, 2, 3, 1000, 5_000_000] {
            let pairs: Vec<u64> = (0..20_000)
                .map(|_| {
                    let (a, b) = (rng.random_range(0..n as u64), rng.random_range(0..n as u64));
                    a.min(b) << 32 | a.max(b)
                })
                .collect();
            let mut expected = pairs.clone();
            expected.sort_unstable();
            assert_eq!(sort_pairs(pairs, n), expected, "n = {n}");
        }
        assert!(sort_pairs(Vec::new(), 0).is_empty());
    }

    #[test]
    fn odd_input_does_not_panic() {
        let mut empty = cand(1, 1);
        empty.sectors.clear();
        empty.locations.clear();
        empty.title = "  ".into();
        assert!(pair(&empty, &cand(2, 2)).is_none());
        assert!(
            pair(&cand(3, 3), &cand(3, 4)).is_none(),
            "one id is one record"
        );
        let mut backwards: OverlapCandidate =
            serde_json::from_value(serde_json::to_value(cand(5, 5)).unwrap()).unwrap();
        let json = serde_json::json!({"start": "2024-05-01", "end": "2024-04-01"});
        backwards.period = serde_json::from_value(json).unwrap();
        let found = pair(&backwards, &cand(6, 6)).unwrap();
        assert_eq!(found.reasons.time_share, 1.0);
        let mut dup_places = cand(7, 7);
        dup_places.locations.push(path(DISTRICT));
        dup_places.sectors.push(dac5("14030"));
        assert!(pair(&dup_places, &cand(8, 8)).is_some());
        assert!(sweep(&[], &NoNeeds).is_empty());
        assert!(check_one(&cand(9, 9), &[], &NoNeeds).is_empty());
    }

    #[test]
    fn findings_travel_as_json() {
        let found = pair(&cand(1, 1), &at(cand(2, 2), "/XX/")).unwrap();
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["kind"], "OVERLAP");
        assert_eq!(json["reasons"]["shared_area"], DISTRICT);
        assert_eq!(json["reasons"]["spatial"]["NESTED"]["levels_apart"], 2);
        assert_eq!(serde_json::from_value::<Finding>(json).unwrap(), found);
        assert_eq!(
            FindingKind::ProbableDuplicateRecord.code(),
            "PROBABLE_DUPLICATE_RECORD"
        );
    }

    // -----------------------------------------------------------------------------------
    // Random data: the sweep against brute force
    // -----------------------------------------------------------------------------------

    /// Needs for provinces and countries, per cluster, so the need factor is exercised.
    struct SomeNeeds;

    impl NeedLookup for SomeNeeds {
        fn people_in_need(&self, area: &AreaPath, sector: &SectorKey) -> Option<u64> {
            (area.depth() <= 1 && sector.0 == SectorVocabulary::Cluster)
                .then(|| 1_000 + 500 * area.as_str().len() as u64 + 37 * sector.1.len() as u64)
        }
    }

    fn random_candidates(seed: u64, n: usize) -> Vec<OverlapCandidate> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut areas = vec!["/XX/".to_owned(), "/YY/".to_owned(), "/YY/YY01/".to_owned()];
        for p in 1..=3 {
            areas.push(format!("/XX/XX0{p}/"));
            for d in 1..=3 {
                areas.push(format!("/XX/XX0{p}/XX0{p}0{d}/"));
            }
        }
        areas.push("/YY/YY01/YY0101/".to_owned());
        let areas: Vec<AreaPath> = areas.iter().map(|a| path(a)).collect();
        let sectors = [
            dac5("14030"),
            dac5("14031"),
            dac5("14040"),
            dac5("12220"),
            dac5("12240"),
            dac5("15180"),
            dac5("72010"),
            dac5("15110"),
            dac5("99999"),
            dac3("140"),
            dac3("151"),
            cluster("11"),
            cluster("7"),
            cluster("10"),
            cluster("5404"),
            cluster("PRO-CPN"),
        ];
        let titles = [
            "Water trucking in Afar",
            "water trucking, in AFAR",
            "Emergency water trucking in Afar region",
            "Emergency water trucking in Afar",
            "Hygiene kits",
            "Cash for work",
            "Mobile clinics",
        ];
        let groups = [
            PopulationGroup::All,
            PopulationGroup::InternallyDisplaced,
            PopulationGroup::HostCommunity,
            PopulationGroup::Refugees,
        ];
        let mut ids: Vec<i64> = (1..=n as i64).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.random_range(0..=i));
        }
        let origin = d("2024-01-01");
        let mut out: Vec<OverlapCandidate> = Vec::with_capacity(n);
        for (i, &id) in ids.iter().enumerate() {
            if i > 0 && rng.random_bool(0.15) {
                // A near copy of an earlier record, by its organisation or another.
                let mut copy = out[rng.random_range(0..i)].clone();
                copy.id = InterventionId(id);
                copy.own_ids = vec![format!("ID-{id}")];
                if rng.random_bool(0.3) {
                    copy.organisation = OrganisationId(rng.random_range(1..=6));
                }
                if rng.random_bool(0.5) {
                    copy.title = titles[rng.random_range(0..titles.len())].to_owned();
                }
                out.push(copy);
                continue;
            }
            let start = origin + chrono::Days::new(rng.random_range(0..720));
            let end = (!rng.random_bool(0.15))
                .then(|| start + chrono::Days::new(rng.random_range(0..200)));
            let mut linked_ids = Vec::new();
            if i > 0 && rng.random_bool(0.1) {
                let target = &out[rng.random_range(0..i)];
                linked_ids.push(target.own_ids[0].to_ascii_lowercase());
            }
            out.push(OverlapCandidate {
                id: InterventionId(id),
                organisation: OrganisationId(rng.random_range(1..=6)),
                status: ActivityStatus::ALL[rng.random_range(0..ActivityStatus::ALL.len())],
                period: Period::new("p", start, end).unwrap(),
                sectors: (0..rng.random_range(1..=2))
                    .map(|_| sectors[rng.random_range(0..sectors.len())].clone())
                    .collect(),
                locations: (0..rng.random_range(1..=2))
                    .map(|_| areas[rng.random_range(0..areas.len())].clone())
                    .collect(),
                groups: (0..rng.random_range(0..=2))
                    .map(|_| groups[rng.random_range(0..groups.len())])
                    .collect(),
                target: rng.random_bool(0.7).then(|| rng.random_range(0..5_000)),
                title: titles[rng.random_range(0..titles.len())].to_owned(),
                own_ids: vec![format!("ID-{id}")],
                linked_ids,
                sites: Vec::new(),
            });
        }
        out
    }

    fn brute_force(candidates: &[OverlapCandidate], needs: &dyn NeedLookup) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (i, a) in candidates.iter().enumerate() {
            for b in &candidates[i + 1..] {
                findings.extend(evaluate_pair(a, b, needs));
            }
        }
        findings.sort_by_key(|f| (f.a, f.b));
        findings
    }

    #[test]
    fn a_batch_check_finds_exactly_the_pairs_touching_the_batch() {
        for seed in 0..10 {
            let candidates = random_candidates(seed, 300);
            let expected: Vec<Finding> = brute_force(&candidates, &SomeNeeds)
                .into_iter()
                .filter(|f| f.a.0 % 7 == 0 || f.b.0 % 7 == 0)
                .collect();
            let (written, rest): (Vec<_>, Vec<_>) =
                candidates.iter().cloned().partition(|c| c.id.0 % 7 == 0);
            // The stored previous version of a written record is among the candidates: it is
            // the written one that counts.
            let mut stale = written[0].clone();
            stale.period = period("1990-01-01", Some("1990-01-02"));
            let mut fetched = rest.clone();
            fetched.push(stale);
            let fetched: Vec<&OverlapCandidate> = fetched.iter().collect();
            let found = check_many(&written, &fetched, &SomeNeeds);
            assert!(!expected.is_empty(), "seed {seed}");
            assert_eq!(found, expected, "seed {seed}");
        }
    }

    #[test]
    fn the_streamed_sweep_hands_over_what_brute_force_finds_in_order() {
        for seed in 0..5 {
            let candidates = random_candidates(seed, 300);
            let expected = brute_force(&candidates, &SomeNeeds);
            let mut streamed = Vec::new();
            sweep_each(&candidates, &SomeNeeds, &mut |f| streamed.push(f));
            assert!(!expected.is_empty(), "seed {seed}");
            assert_eq!(streamed, expected, "seed {seed}");
        }
    }

    #[test]
    fn the_sweep_finds_exactly_what_brute_force_finds() {
        let (mut overlaps, mut duplicates) = (0, 0);
        for seed in 0..20 {
            let candidates = random_candidates(seed, 300);
            let expected = brute_force(&candidates, &SomeNeeds);
            let swept = sweep(&candidates, &SomeNeeds);
            assert_eq!(ids(&swept), ids(&expected), "seed {seed}");
            assert_eq!(swept, expected, "seed {seed}: same reasons and scores");
            overlaps += expected
                .iter()
                .filter(|f| f.kind == FindingKind::Overlap)
                .count();
            duplicates += expected
                .iter()
                .filter(|f| f.kind == FindingKind::ProbableDuplicateRecord)
                .count();
            assert!(
                expected
                    .iter()
                    .all(|f| f.a < f.b && (0.0..=1.0).contains(&f.score))
            );

            // What the store fetches for `check_one` by sector holds every partner found.
            let canonical = |(vocabulary, code): &SectorKey| {
                reference::sector(*vocabulary, code)
                    .map_or((*vocabulary, code.trim().to_owned()), |s| {
                        (s.vocabulary, s.code.clone())
                    })
            };
            for f in &expected {
                let find = |id| candidates.iter().find(|c| c.id == id).unwrap();
                let (a, b) = (find(f.a), find(f.b));
                let fetched = matching_sectors(&a.sectors);
                assert!(b.sectors.iter().any(|s| fetched.contains(&canonical(s))));
            }

            for written in candidates.iter().step_by(37) {
                let mut brute: Vec<Finding> = candidates
                    .iter()
                    .filter_map(|c| evaluate_pair(written, c, &SomeNeeds))
                    .collect();
                brute.sort_by_key(|f| (f.a, f.b));
                assert_eq!(check_one(written, &candidates, &SomeNeeds), brute);
            }
        }
        assert!(
            overlaps > 1_000 && duplicates > 100,
            "{overlaps} {duplicates}"
        );
    }

    // -----------------------------------------------------------------------------------
    // Timing at a million records
    // -----------------------------------------------------------------------------------

    /// Cumulative weights for skewed picks.
    struct Zipf(Vec<f64>);

    impl Zipf {
        fn new(n: usize, exponent: f64) -> Self {
            let mut total = 0.0;
            Self(
                (1..=n)
                    .map(|rank| {
                        total += 1.0 / (rank as f64).powf(exponent);
                        total
                    })
                    .collect(),
            )
        }

        fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
            let x = rng.random::<f64>() * self.0[self.0.len() - 1];
            self.0.partition_point(|&c| c <= x).min(self.0.len() - 1)
        }
    }

    fn million(n: usize) -> Vec<OverlapCandidate> {
        let mut rng = ChaCha8Rng::seed_from_u64(1_000_000);
        let mut admin1: Vec<AreaPath> = Vec::new();
        let mut admin2: Vec<(AreaPath, usize)> = Vec::new();
        for country in ["AF", "ET", "SO", "SD", "YE"] {
            let root = AreaPath::root(&Pcode::parse(country).unwrap());
            for p in 0..40 {
                let province = root.child(&Pcode::parse(&format!("{country}{p:02}")).unwrap());
                for d in 0..10 {
                    let code = Pcode::parse(&format!("{country}{p:02}{d:02}")).unwrap();
                    admin2.push((province.child(&code), admin1.len()));
                }
                admin1.push(province);
            }
        }
        // Skewed, but with the hot spots scattered rather than in file order.
        for i in (1..admin2.len()).rev() {
            admin2.swap(i, rng.random_range(0..=i));
        }
        // Humanitarian clusters and the DAC codes donors report the same work under,
        // most frequent first.
        let sectors = [
            cluster("6"),
            cluster("7"),
            cluster("11"),
            dac5("72040"),
            cluster("4"),
            dac5("12220"),
            cluster("3"),
            cluster("10"),
            cluster("9"),
            dac5("14030"),
            cluster("5404"),
            cluster("1"),
            cluster("5403"),
            cluster("2"),
            dac5("15110"),
        ];
        let sector_pick = Zipf::new(sectors.len(), 0.7);
        let area_pick = Zipf::new(admin2.len(), 0.5);
        let org_pick = Zipf::new(500, 1.0);
        let origin = d("2023-01-01");
        let statuses = [
            (ActivityStatus::Implementation, 0.70),
            (ActivityStatus::Pipeline, 0.08),
            (ActivityStatus::Finalisation, 0.10),
            (ActivityStatus::Suspended, 0.02),
            (ActivityStatus::Closed, 0.07),
            (ActivityStatus::Cancelled, 0.03),
        ];
        let mut orgs: Vec<i64> = Vec::with_capacity(n);
        (0..n)
            .map(|i| {
                let (area, province) = &admin2[area_pick.pick(&mut rng)];
                let locations = if rng.random_bool(0.15) {
                    vec![admin1[*province].clone()]
                } else {
                    vec![area.clone()]
                };
                let start = origin + chrono::Days::new(rng.random_range(0..1096));
                let months = rng.random_range(1..=12u64);
                let end = (!rng.random_bool(0.05)).then(|| start + chrono::Days::new(months * 30));
                let mut x = rng.random::<f64>();
                let status = statuses
                    .iter()
                    .find(|(_, w)| {
                        x -= w;
                        x < 0.0
                    })
                    .map_or(ActivityStatus::Implementation, |(s, _)| *s);
                let org = org_pick.pick(&mut rng) as i64;
                orgs.push(org);
                OverlapCandidate {
                    id: InterventionId(i as i64),
                    organisation: OrganisationId(org),
                    status,
                    period: Period::new("p", start, end).unwrap(),
                    sectors: vec![sectors[sector_pick.pick(&mut rng)].clone()],
                    locations,
                    groups: vec![PopulationGroup::ALL[rng.random_range(0..4)]],
                    target: Some(rng.random_range(100..20_000)),
                    title: format!("Activity {i}"),
                    own_ids: vec![format!("XM-{org}-{i}")],
                    linked_ids: if rng.random_bool(0.03) && i > 0 {
                        let j = rng.random_range(0..i);
                        vec![format!("XM-{}-{j}", orgs[j])]
                    } else {
                        Vec::new()
                    },
                    sites: Vec::new(),
                }
            })
            .collect()
    }

    /// A million records as a large crisis registry might hold them over three years: 15
    /// sectors (clusters and the DAC codes donors use for the same work, Zipf-skewed), 2,000
    /// districts under 200 provinces in five countries (Zipf-skewed, hot spots scattered),
    /// 15% of records at province level only, starts spread over 2023-2025, 1 to 12 months
    /// long (5% open-ended), 500 organisations (Zipf), 10% closed or cancelled, 3% linked.
    /// `OVERLAP_N` sets another size. At this density every district sees a dozen records
    /// per sector and year, so the findings run to tens of millions: the 1M run needs about
    /// 12 GB of memory, nearly all of it the findings themselves.
    #[test]
    #[ignore = "timing: cargo test --release -p concord-domain --lib overlap -- --ignored --nocapture"]
    fn sweep_a_million_records() {
        let n = std::env::var("OVERLAP_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let candidates = million(n);

        // The phases on their own, for whoever has to make this faster.
        let started = Instant::now();
        let index = Index::build(candidates.iter().collect());
        let (_, rank) = index.ranks();
        let prepared = started.elapsed();
        let pairs = index.accepted_pairs(&rank, None);
        let generated = started.elapsed();
        let mut by_comparison = pairs.clone();
        let before = Instant::now();
        by_comparison.sort_unstable();
        println!("(a comparison sort would take {:?})", before.elapsed());
        let before = Instant::now();
        let pairs = sort_pairs(pairs, rank.len());
        let sorted = generated + before.elapsed();
        assert_eq!(pairs, by_comparison);
        drop(by_comparison);
        println!(
            "phases: prepare {prepared:?}, {} pairs generated in {:?}, sorted in {:?}",
            pairs.len(),
            generated - prepared,
            sorted - generated
        );
        drop((pairs, index));

        let started = Instant::now();
        let findings = sweep(&candidates, &NoNeeds);
        let took = started.elapsed();
        println!(
            "sweep of {} candidates: {took:?}, {} findings",
            candidates.len(),
            findings.len(),
        );
        // [same code, same cluster] x [same area, nested], and duplicate records.
        let mut kinds = [[0usize; 2]; 2];
        let mut duplicates = 0;
        for f in &findings {
            let sector = usize::from(f.reasons.sector == SectorMatch::SameCluster);
            let nested = usize::from(f.reasons.spatial != SpatialMatch::SameArea);
            kinds[sector][nested] += 1;
            duplicates += usize::from(f.kind == FindingKind::ProbableDuplicateRecord);
        }
        println!(
            "same code: {} same area, {} nested; same cluster: {} same area, {} nested; \
             {duplicates} probable duplicate records",
            kinds[0][0], kinds[0][1], kinds[1][0], kinds[1][1]
        );
        assert!(
            findings
                .windows(2)
                .all(|w| (w[0].a, w[0].b) < (w[1].a, w[1].b))
        );
    }
}
