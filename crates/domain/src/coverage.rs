//! Coverage and gaps: for an area, a sector and a period, how many people are in need, how
//! many the registered interventions target and reach, and who is there; and, over every
//! area and sector with a stated need, where the response falls short, overshoots or is
//! about to stop, ranked, with the organisations nearby that could step in.
//!
//! # Coverage
//!
//! A **coverage cell** is an area, a sector (or the intersectoral figure) and a period. It
//! holds the people in need, the people targeted and reached by the interventions located in
//! the area or in any of its descendants, the organisations present and the number of
//! interventions.
//!
//! - **Which interventions count.** Those whose period (the effective one: actual dates
//!   where known, else planned) shares a day with the period asked about, whatever their
//!   status except *cancelled* (5), which delivered nothing. *Closed* (4) work counts for the
//!   time it ran: a cell for a past quarter holds what was done then. An intervention counts
//!   in an area when one of its locations is the area or a descendant of it (`AreaPath`
//!   prefix); a province-wide intervention counts for the province, not for each of its
//!   districts, since nothing says which districts it serves.
//! - **Which sector.** An intervention counts in a sector cell when one of its codes is the
//!   cell's sector or falls under it through the crosswalk: a DAC code counts for the
//!   clusters it maps to (`reference::sector(..).clusters`), an area of responsibility for
//!   its cluster (GBV counts for Protection), a DAC 5-digit code for its 3-digit category.
//!   This is exactly [`reference::expand_sector_filter`] read backwards ([`counted_in`]),
//!   so a "WASH" cell shows the WASH work a donor reported as DAC `14030`.
//! - **People in need** are the figure stated for the area itself and the cell's sector
//!   in a need whose period meets the period asked about (the highest, if several do: people
//!   in need is a head count, not a flow, so figures for consecutive periods are never
//!   added). They are **never summed across sectors**: the same person needs water and
//!   food. The overall figure is the intersectoral one, and an area without an
//!   intersectoral figure has no overall figure (`None`), not the sum or the highest of its
//!   sectors. Nor is a figure derived from the children's: a province's need is what the
//!   analysis says for the province.
//! - **People targeted.** An intervention's target is placed on its locations: a location
//!   with its own target gets that target; the rest of the total (total minus the located
//!   targets) is split over the locations without one *in proportion to the people in need*
//!   there, in the sector of the cell (the intersectoral need for the intersectoral cell),
//!   when every one of them has a figure and they add up to more than zero, *else evenly*.
//!   An area then counts what was placed on its locations and its descendants'. Sums stay
//!   fractional until the cell is reported, then round to whole people.
//! - **People reached** come only from progress reports (`reached`: the latest reported
//!   reach in the period). **A target is never counted as reached**: an intervention that
//!   has reported nothing has reached nobody yet, as far as the registry knows. The reach
//!   is placed on the locations in the same proportions as the target (by need, else
//!   evenly, when there is no target to follow).
//! - **Across sectors, the highest, not the sum.** The intersectoral cell counts every
//!   intervention and organisation, but its people targeted (and reached) are the highest
//!   figure of any one sector in the area, since a family served by a WASH and a health
//!   partner is one family. An intervention *declared disjoint* (its people are known to be
//!   served by nobody else) is added on top instead. People in different areas are
//!   different people, so the highest is taken area by area and then added up the
//!   hierarchy, as OCHA aggregates intersectoral figures (the maximum at the lowest level,
//!   then summed):
//!
//!   ```text
//!   N(A) = max( max over sectors s of S_s(A),  sum over children c of N(c) )
//!   intersectoral(A) = N(A) + D(A)
//!   ```
//!
//!   where `S_s(A)` is sector `s`'s figure in `A` (with descendants) without the disjoint
//!   interventions, and `D(A)` the disjoint interventions' people in `A`, each intervention
//!   once. For a district with nothing below it, `N` is just its highest sector; a province
//!   counts the sum of its districts' highest sectors, or its own highest sector when that
//!   is more (province-wide work is assumed to reach the districts' people first).
//!   Within one sector the figures of different interventions are added, as a 5W sheet
//!   does; whether two of them serve the same people is the overlap engine's question
//!   ([`crate::overlap`]), not this one's.
//! - **A funding chain counts once, at the implementing record.** Two records are linked
//!   when one lists, among the activity ids it references (`linked_ids`), an identifier the
//!   other goes by (`own_ids`), ignoring ASCII case and surrounding space: the rule of
//!   [`crate::overlap`]. Links are followed transitively among the records that count for
//!   the period, so funder, intermediary and implementer form one chain. In a chain with an
//!   implementing record (reported by the implementer, or naming no implementing partner),
//!   only the implementing records count: the funder's record of the same activity adds no
//!   people, no intervention and no organisation (the funder is not in the field). Two
//!   implementers citing one grant are both implementing and both count. A chain with no
//!   implementing record counts once, at the record that reports a reach (else the lowest
//!   id).
//! - **Organisations** are the reporting organisations of the counted interventions, each
//!   once; **interventions** is the number of counted interventions, each once however
//!   many of its locations lie in the area.
//!
//! # Gaps
//!
//! [`gaps`] looks at every area and sector (and the intersectoral figure) with a stated need
//! in the period, plus every area with needs in several sectors, and reports:
//!
//! | kind | when | people uncovered |
//! |------|------|------------------|
//! | `UNCOVERED` | people in need > 0, severity >= `min_severity_uncovered` (3), and no intervention | people in need |
//! | `UNDER_COVERED` | people in need > 0 and targeted / in need < `under_covered_below` (0.5), and not `UNCOVERED` (so also a need with no intervention and a lower or unknown severity) | in need - targeted |
//! | `OVER_COVERED` | targeted > people in need (duplication in aggregate) | 0 |
//! | `ENDING` | the latest end of the counted interventions, `E`, falls at most `ending_within_days` (60) after `today`, the need runs on after it (the period asked about is open-ended, or ends after `E` and not before `today`), and people in need > 0 | min(targeted, in need) |
//! | `NARROW` | the sectors with people in need > 0 in the area map to at least two human security dimensions, and the interventions in the area serve exactly one of them | the largest need among the area's sectors of which no dimension is served |
//!
//! - `ENDING`'s `E` is the latest end of all the cell's interventions, so *nothing follows*
//!   is built in: a follow-up that starts later also ends later, and moves `E` beyond the
//!   horizon (an open end never ends). A closed record ends by `today` at the latest. An
//!   `E` before `today` means coverage has already lapsed while the need runs on: flagged
//!   too, with that date. `ENDING` comes in addition to the ratio classes.
//! - `NARROW` is a finding on the area as a whole: its sector is intersectoral, its people
//!   in need are the intersectoral figure (else the highest sector figure, never a sum),
//!   its severity the intersectoral one (else the highest of the sectors), and `unserved`
//!   lists the needed dimensions nobody serves. A sector's dimensions are the crosswalk's
//!   (`Sector::dimensions`); an intervention serves the dimensions of its own codes.
//!
//! ## Priority
//!
//! ```text
//! priority = 2^(severity - 3) * log10(1 + people) * time * weight
//!
//! severity  JIAF phase 1..5 (0.25, 0.5, 1, 2, 4); unknown counts as 2 (stressed)
//! people    people uncovered; for OVER_COVERED the people targeted beyond the need
//! time      1, except ENDING: 1 - 0.5 * min(days until E, N) / N  (1 when already
//!           lapsed or ending today, 0.5 at the horizon N = ending_within_days)
//! weight    1 for UNCOVERED, UNDER_COVERED and ENDING; 0.5 for NARROW (its people
//!           also appear in their sector's own gaps: it flags a pattern); 0.25 for
//!           OVER_COVERED (nobody goes without, resources are wasted)
//! ```
//!
//! Why this shape: humanitarian prioritisation puts severity first and magnitude second,
//! so each severity phase doubles the priority while people count on a log scale: a
//! severity-4 gap of 1,000 people (6.0) ranks with a severity-3 gap of a million (6.0).
//! Time only discounts what is still covered today, down to half at the horizon. Ties are broken by people uncovered, then
//! area path, sector key and kind, so the order is total and stable.
//!
//! ## Candidate actors
//!
//! For every gap but `OVER_COVERED` (whose remedy is to consolidate, not to add actors),
//! the organisations with a live (not closed or cancelled) intervention in the period, in
//! the gap's sector (for `NARROW`, the unserved sector with the largest need), located in
//! the parent area itself or in a sibling area (or their descendants), and with no live
//! intervention in the gap's area in that sector. Each comes with its *caseload*: the people
//! targeted by its live interventions there that run on `today` (placed on locations as
//! above), and the areas (parent, siblings) it works in. Ranked by caseload, largest first
//! (the biggest operation next door is the one with the staff, stock and access to extend),
//! then by organisation id; at most `max_candidates` (5). A country has no parent and gets
//! none: work does not cross borders by proximity.
//!
//! # Plain data, and the cost
//!
//! Like [`crate::overlap`], the engine takes plain data the store assembles
//! ([`CoverageIntervention`], [`NeedFigure`]; [`coverage_intervention_of`] builds the first
//! from a stored record), so every rule is tested here without a database. No hierarchy is
//! passed: the materialised path carries every ancestor, and the parent and siblings of an
//! area are found from the paths of the records and needs themselves (a sibling with no
//! work in the sector has no candidate to offer).
//!
//! The interventions are indexed once, in two passes over them. The first reads each
//! record's strings once (own ids for the chains, sector codes turned into cell keys once
//! per distinct code, places interned with all their ancestors) into a compact form; chains
//! are resolved by hashing only the ids that something references. The second adds each
//! counted record to the cells (area, sector) of its locations only; the figures, the
//! latest ends, the dimensions served and the organisations are then rolled up the
//! hierarchy once, children before parents (an area that several locations of one record
//! lie under takes the extra counts off). Organisation lists are merged through a dense
//! table by organisation. The gaps are then read cell by cell from that table, and
//! candidates from the parent's rolled-up list minus the area's own. Cost: `O(n * l * k)`
//! for `n` interventions with `l` locations and `k` cell keys each (a handful), plus
//! `O(c * (d + o))` for `c` cells, hierarchy depth `d` and `o` organisations per cell: no
//! cell ever looks at the interventions again.

use crate::fast_map::FastMap;
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::area::{AreaPath, Pcode};
use crate::intervention::{Intervention, InterventionId};
use crate::need::{NeedSector, Severity};
use crate::organisation::OrganisationId;
use crate::reference::{self, Dimension, SectorVocabulary};
use crate::values::{ActivityStatus, OrganisationRole, Period};

/// `UNDER_COVERED` below this share of the people in need targeted.
pub const DEFAULT_UNDER_COVERED_BELOW: f64 = 0.5;
/// `ENDING` when coverage ends within this many days.
pub const DEFAULT_ENDING_WITHIN_DAYS: u32 = 60;
/// `UNCOVERED` from this JIAF severity phase up.
pub const DEFAULT_MIN_SEVERITY_UNCOVERED: u8 = 3;
/// Candidate actors listed per gap.
pub const DEFAULT_MAX_CANDIDATES: usize = 5;

/// The severity phase assumed for a need nobody graded: stressed, below the severe phases.
const UNKNOWN_SEVERITY: u8 = 2;
const NARROW_WEIGHT: f64 = 0.5;
const OVER_COVERED_WEIGHT: f64 = 0.25;

/// What the engine needs to know about an intervention: plain data the store assembles.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageIntervention {
    pub id: InterventionId,
    /// The reporting organisation.
    pub organisation: OrganisationId,
    pub status: ActivityStatus,
    /// The effective period (see `NewIntervention::effective_period`).
    pub period: Period,
    pub sectors: Vec<(SectorVocabulary, String)>,
    /// Each location with the people targeted there, when the record says.
    pub locations: Vec<(AreaPath, Option<u64>)>,
    /// Total people targeted, over all locations.
    pub target: Option<u64>,
    /// The latest reported reach in the period; never derived from the target.
    pub reached: Option<u64>,
    /// Identifiers this record goes by (its external id, its IATI identifier).
    pub own_ids: Vec<String>,
    /// Activity ids it references: participants' activity ids, related activities.
    pub linked_ids: Vec<String>,
    /// Reported by the implementer, or the record names no implementing partner.
    pub implementing: bool,
    /// Its people are declared served by no other sector's activity in its areas, so the
    /// intersectoral figure adds them instead of taking the highest sector.
    pub disjoint: bool,
}

/// One stated need: people in need in an area, for a sector or intersectoral, in a period.
#[derive(Clone, Debug, PartialEq)]
pub struct NeedFigure {
    pub area: AreaPath,
    pub sector: NeedSector,
    pub period: Period,
    pub people_in_need: u64,
    pub severity: Option<Severity>,
}

/// The thresholds of the gap classes, and the reference date ("today").
#[derive(Clone, Debug, PartialEq)]
pub struct GapSettings {
    pub under_covered_below: f64,
    pub ending_within_days: u32,
    pub min_severity_uncovered: u8,
    pub max_candidates: usize,
    pub today: NaiveDate,
}

impl GapSettings {
    /// The defaults of the module doc, as of `today`.
    pub fn new(today: NaiveDate) -> Self {
        Self {
            under_covered_below: DEFAULT_UNDER_COVERED_BELOW,
            ending_within_days: DEFAULT_ENDING_WITHIN_DAYS,
            min_severity_uncovered: DEFAULT_MIN_SEVERITY_UNCOVERED,
            max_candidates: DEFAULT_MAX_CANDIDATES,
            today,
        }
    }
}

/// Coverage of one area (with its descendants), one sector and one period.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageCell {
    pub area: AreaPath,
    pub sector: NeedSector,
    /// The figure stated for this area and sector; `None` when there is none.
    pub people_in_need: Option<u64>,
    pub severity: Option<Severity>,
    pub targeted: u64,
    pub reached: u64,
    /// Sorted by id.
    pub organisations: Vec<OrganisationId>,
    pub interventions: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GapKind {
    Uncovered,
    UnderCovered,
    OverCovered,
    Ending,
    Narrow,
}

impl GapKind {
    pub const ALL: [GapKind; 5] = [
        Self::Uncovered,
        Self::UnderCovered,
        Self::OverCovered,
        Self::Ending,
        Self::Narrow,
    ];

    /// The stable wire code, as the issue and the API spell it.
    pub fn code(self) -> &'static str {
        match self {
            Self::Uncovered => "UNCOVERED",
            Self::UnderCovered => "UNDER_COVERED",
            Self::OverCovered => "OVER_COVERED",
            Self::Ending => "ENDING",
            Self::Narrow => "NARROW",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    fn weight(self) -> f64 {
        match self {
            Self::Uncovered | Self::UnderCovered | Self::Ending => 1.0,
            Self::Narrow => NARROW_WEIGHT,
            Self::OverCovered => OVER_COVERED_WEIGHT,
        }
    }
}

/// An organisation working next to a gap that could extend to it.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateActor {
    pub organisation: OrganisationId,
    /// People targeted by its live interventions running today in the parent and
    /// sibling areas, in the gap's sector.
    pub caseload: u64,
    /// Where it works: the parent area first if it works there, then siblings by path.
    pub areas: Vec<AreaPath>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    pub area: AreaPath,
    /// Intersectoral for `NARROW`.
    pub sector: NeedSector,
    pub kind: GapKind,
    pub severity: Option<Severity>,
    pub people_in_need: u64,
    pub people_uncovered: u64,
    pub targeted: u64,
    pub priority: f64,
    /// `ENDING` only: the last day of coverage.
    pub ends_on: Option<NaiveDate>,
    /// `NARROW` only: the dimensions needed in the area that no intervention serves.
    pub unserved: Vec<Dimension>,
    /// Ranked; empty for `OVER_COVERED`.
    pub candidates: Vec<CandidateActor>,
}

/// Coverage of `area` and its descendants for one sector (or intersectoral) in `period`.
pub fn coverage(
    area: &AreaPath,
    sector: &NeedSector,
    period: &Period,
    interventions: &[CoverageIntervention],
    needs: &[NeedFigure],
) -> CoverageCell {
    coverage_by_child(
        std::slice::from_ref(area),
        sector,
        period,
        interventions,
        needs,
    )
    .pop()
    .expect("one row per area")
}

/// The drill-down rows: coverage of each of `areas` (typically the children of the area
/// being drilled into, which the store lists from the hierarchy), in the order given, each
/// with its descendants. The interventions are indexed once for all rows.
pub fn coverage_by_child(
    areas: &[AreaPath],
    sector: &NeedSector,
    period: &Period,
    interventions: &[CoverageIntervention],
    needs: &[NeedFigure],
) -> Vec<CoverageCell> {
    let focus = Focus {
        areas: areas.iter().map(|a| (a.as_str(), ())).collect(),
        sector: need_key(sector),
    };
    let engine = Engine::build(period, interventions, needs, None, Some(&focus));
    areas.iter().map(|a| engine.row(a, sector)).collect()
}

/// Every cell with a stated need in the period (area, sector or intersectoral), sorted by
/// area path then sector key: the coverage map.
pub fn need_cells(
    period: &Period,
    interventions: &[CoverageIntervention],
    needs: &[NeedFigure],
) -> Vec<CoverageCell> {
    let engine = Engine::build(period, interventions, needs, None, None);
    let mut cells: Vec<CoverageCell> = engine
        .needs
        .keys()
        .map(|&(node, key)| engine.cell_at(node, key))
        .collect();
    cells.sort_by(|a, b| (&a.area, a.sector.key()).cmp(&(&b.area, b.sector.key())));
    cells
}

/// Every gap of every cell with a stated need in `period` (see the module doc), sorted by
/// priority, highest first.
pub fn gaps(
    period: &Period,
    interventions: &[CoverageIntervention],
    needs: &[NeedFigure],
    settings: &GapSettings,
) -> Vec<Gap> {
    Engine::build(period, interventions, needs, Some(settings.today), None).gaps(period, settings)
}

/// The sector cells a code counts in: itself, its DAC category, the clusters it maps to
/// and the clusters those belong to (an AoR's lead cluster). The inverse of
/// [`reference::expand_sector_filter`]; an unknown code counts only for itself.
pub fn counted_in(vocabulary: SectorVocabulary, code: &str) -> Vec<(SectorVocabulary, String)> {
    let Some(sector) = reference::sector(vocabulary, code) else {
        return vec![(vocabulary, code.trim().to_owned())];
    };
    let mut out = vec![(sector.vocabulary, sector.code.clone())];
    if let Some(category) = &sector.category {
        out.push((SectorVocabulary::Dac3, category.clone()));
    }
    let clusters: Vec<&String> = match sector.vocabulary {
        SectorVocabulary::Cluster => sector.parent_cluster.iter().collect(),
        _ => sector.clusters.iter().collect(),
    };
    for cluster in clusters {
        out.push((SectorVocabulary::Cluster, cluster.clone()));
        if sector.vocabulary != SectorVocabulary::Cluster
            && let Some(parent) = reference::sector(SectorVocabulary::Cluster, cluster)
                .and_then(|c| c.parent_cluster.as_ref())
        {
            out.push((SectorVocabulary::Cluster, parent.clone()));
        }
    }
    let mut seen = Vec::with_capacity(out.len());
    out.retain(|k| {
        let new = !seen.contains(k);
        if new {
            seen.push(k.clone());
        }
        new
    });
    out
}

/// The engine's view of a stored intervention, as `review::candidate_of` gives the overlap
/// engine's. `paths` holds the materialised path of every P-code it is located in; `reached`
/// is its latest progress report in the period, if any. The record has no field declaring
/// its people disjoint from other sectors', so `disjoint` is false; a caller that knows
/// better sets it.
pub fn coverage_intervention_of(
    intervention: &Intervention,
    paths: &HashMap<Pcode, AreaPath>,
    reached: Option<u64>,
) -> Option<CoverageIntervention> {
    let record = &intervention.record;
    let period = record.effective_period()?;
    let implementers: Vec<OrganisationId> = record
        .participants
        .iter()
        .filter(|p| p.role == OrganisationRole::Implementing)
        .map(|p| p.organisation)
        .collect();
    Some(CoverageIntervention {
        id: intervention.id,
        organisation: record.reporting_organisation,
        status: record.status,
        period,
        sectors: record
            .sectors
            .iter()
            .map(|s| (s.vocabulary, s.code.clone()))
            .collect(),
        locations: record
            .locations
            .iter()
            .filter_map(|l| {
                paths
                    .get(&l.pcode)
                    .map(|p| (p.clone(), l.target.map(|t| t.get())))
            })
            .collect(),
        target: record.target.as_ref().map(|t| t.total.get()),
        reached,
        own_ids: vec![record.external_id.clone()],
        linked_ids: record.linked_ids(),
        implementing: implementers.is_empty()
            || implementers.contains(&record.reporting_organisation),
        disjoint: false,
    })
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

type SectorKey = (SectorVocabulary, String);

/// Key id of the intersectoral cells.
const INTERSECTORAL: u32 = 0;
/// Key id standing for "no sector code at all", so such records still take part in the
/// intersectoral highest-sector rule.
const UNSECTORED: u32 = 1;
const NO_NODE: u32 = u32::MAX;
/// An open end, as a day number.
const OPEN: i32 = i32::MAX;

fn day(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MAX)
}

fn people(x: f64) -> u64 {
    if x > 0.0 { x.round() as u64 } else { 0 }
}

fn canonical(vocabulary: SectorVocabulary, code: &str) -> SectorKey {
    reference::sector(vocabulary, code).map_or_else(
        || (vocabulary, code.trim().to_owned()),
        |s| (s.vocabulary, s.code.clone()),
    )
}

/// `None` for the intersectoral figure.
fn need_key(sector: &NeedSector) -> Option<SectorKey> {
    match sector {
        NeedSector::Intersectoral => None,
        NeedSector::Sector { vocabulary, code } => Some(canonical(*vocabulary, code)),
    }
}

fn dimension_bit(dimension: Dimension) -> u8 {
    Dimension::ALL
        .iter()
        .position(|d| *d == dimension)
        .map_or(0, |i| 1 << i)
}

fn dimensions_of(vocabulary: SectorVocabulary, code: &str) -> u8 {
    reference::sector(vocabulary, code).map_or(0, |s| {
        s.dimensions
            .iter()
            .fold(0, |bits, d| bits | dimension_bit(*d))
    })
}

fn dimension_list(bits: u8) -> Vec<Dimension> {
    Dimension::ALL
        .into_iter()
        .filter(|d| bits & dimension_bit(*d) != 0)
        .collect()
}

/// A case-insensitive hash of an identifier, without allocating its lower-case form.
fn id_hash(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash = (hash ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn priority(severity: Option<Severity>, people: u64, time: f64, kind: GapKind) -> f64 {
    let phase = severity.map_or(UNKNOWN_SEVERITY, Severity::get);
    2f64.powi(i32::from(phase) - 3) * (1.0 + people as f64).log10() * time * kind.weight()
}

// ---------------------------------------------------------------------------------------
// Chains: a funder's record and its implementer's count once
// ---------------------------------------------------------------------------------------

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// The chain rule (see the module doc), in three steps so that the engine reads each
/// record's own ids in the same pass as its sectors and places: [`Chains::new`] hashes the
/// ids something references (few records reference any), [`Chains::own_ids`] links a record
/// to those that reference one of its ids, [`Chains::kept`] decides.
struct Chains {
    referenced: FastMap<u64, Vec<(u32, u32)>>,
    parent: Vec<u32>,
    members: Vec<u32>,
}

impl Chains {
    fn new(records: &[&CoverageIntervention]) -> Self {
        let mut referenced: FastMap<u64, Vec<(u32, u32)>> = FastMap::default();
        for (x, r) in records.iter().enumerate() {
            for (l, linked) in r.linked_ids.iter().enumerate() {
                let linked = linked.trim();
                if !linked.is_empty() {
                    referenced
                        .entry(id_hash(linked))
                        .or_default()
                        .push((x as u32, l as u32));
                }
            }
        }
        let parent = if referenced.is_empty() {
            Vec::new()
        } else {
            (0..records.len() as u32).collect()
        };
        Self {
            referenced,
            parent,
            members: Vec::new(),
        }
    }

    fn own_ids(&mut self, y: usize, records: &[&CoverageIntervention]) {
        if self.referenced.is_empty() {
            return;
        }
        for own in &records[y].own_ids {
            let own = own.trim();
            let Some(referrers) = self.referenced.get(&id_hash(own)) else {
                continue;
            };
            for &(x, l) in referrers {
                let linked = records[x as usize].linked_ids[l as usize].trim();
                if x as usize != y && linked.eq_ignore_ascii_case(own) {
                    let a = find(&mut self.parent, x);
                    let b = find(&mut self.parent, y as u32);
                    self.parent[a as usize] = b;
                    self.members.push(x);
                    self.members.push(y as u32);
                }
            }
        }
    }

    /// Which records count.
    fn kept(mut self, records: &[&CoverageIntervention]) -> Vec<bool> {
        let mut keep = vec![true; records.len()];
        let mut chains: Vec<(u32, u32)> = std::mem::take(&mut self.members)
            .into_iter()
            .map(|m| (find(&mut self.parent, m), m))
            .collect();
        chains.sort_unstable();
        chains.dedup();
        for chain in chains.chunk_by(|a, b| a.0 == b.0) {
            let records_of = || {
                chain
                    .iter()
                    .map(|&(_, m)| (m as usize, records[m as usize]))
            };
            if records_of().any(|(_, r)| r.implementing) {
                for (m, r) in records_of() {
                    keep[m] = r.implementing;
                }
            } else {
                let best = records_of()
                    .min_by_key(|(_, r)| (r.reached.is_none(), r.id))
                    .map(|(m, _)| m);
                for (m, _) in records_of() {
                    keep[m] = Some(m) == best;
                }
            }
        }
        keep
    }
}

// ---------------------------------------------------------------------------------------
// Areas and sector keys as integers
// ---------------------------------------------------------------------------------------

struct Areas<'a> {
    ids: FastMap<&'a str, u32>,
    path: Vec<&'a str>,
    full: Vec<Option<&'a AreaPath>>,
    parent: Vec<u32>,
    depth: Vec<u8>,
    /// Range in `chain_arena`: the ancestors root first, then the area itself.
    chain: Vec<(u32, u32)>,
    chain_arena: Vec<u32>,
}

impl<'a> Areas<'a> {
    fn new() -> Self {
        Self {
            ids: FastMap::default(),
            path: Vec::new(),
            full: Vec::new(),
            parent: Vec::new(),
            depth: Vec::new(),
            chain: Vec::new(),
            chain_arena: Vec::new(),
        }
    }

    fn intern(&mut self, area: &'a AreaPath) -> u32 {
        let id = self.intern_str(area.as_str());
        self.full[id as usize].get_or_insert(area);
        id
    }

    /// Interns a canonical path and every ancestor prefix of it.
    fn intern_str(&mut self, path: &'a str) -> u32 {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let inner = path.strip_suffix('/').unwrap_or(path);
        let parent = match inner.rfind('/') {
            Some(i) if i > 0 => self.intern_str(&path[..=i]),
            _ => NO_NODE,
        };
        let id = self.path.len() as u32;
        let from = self.chain_arena.len();
        if parent != NO_NODE {
            let (s, e) = self.chain[parent as usize];
            self.chain_arena.extend_from_within(s as usize..e as usize);
        }
        self.chain_arena.push(id);
        self.chain
            .push((from as u32, self.chain_arena.len() as u32));
        self.depth.push(if parent == NO_NODE {
            0
        } else {
            self.depth[parent as usize] + 1
        });
        self.parent.push(parent);
        self.path.push(path);
        self.full.push(None);
        self.ids.insert(path, id);
        id
    }

    fn chain_of(&self, node: u32) -> &[u32] {
        let (s, e) = self.chain[node as usize];
        &self.chain_arena[s as usize..e as usize]
    }

    fn area_path(&self, node: u32) -> AreaPath {
        self.full[node as usize].cloned().unwrap_or_else(|| {
            AreaPath::parse(self.path[node as usize]).expect("a prefix of a canonical path")
        })
    }
}

struct Keys<'a> {
    /// By key id; the first two (intersectoral, unsectored) are placeholders.
    keys: Vec<SectorKey>,
    ids: FastMap<SectorKey, u32>,
    /// The dimensions of each key's sector, for needs.
    dims: Vec<u8>,
    /// Per code a record carries: its key list and its own dimensions.
    codes: FastMap<(SectorVocabulary, &'a str), (u32, u8)>,
    lists: Vec<Vec<u32>>,
    list_ids: FastMap<Vec<u32>, u32>,
}

impl<'a> Keys<'a> {
    fn new() -> Self {
        let mut keys = Self {
            keys: vec![
                (SectorVocabulary::Cluster, "*".to_owned()),
                (SectorVocabulary::Cluster, String::new()),
            ],
            ids: FastMap::default(),
            dims: vec![0, 0],
            codes: FastMap::default(),
            lists: Vec::new(),
            list_ids: FastMap::default(),
        };
        keys.list(vec![UNSECTORED]);
        keys
    }

    fn intern(&mut self, key: SectorKey) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.dims.push(dimensions_of(key.0, &key.1));
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    fn list(&mut self, mut ids: Vec<u32>) -> u32 {
        ids.sort_unstable();
        ids.dedup();
        if let Some(&id) = self.list_ids.get(&ids) {
            return id;
        }
        let id = self.lists.len() as u32;
        self.lists.push(ids.clone());
        self.list_ids.insert(ids, id);
        id
    }

    fn code(&mut self, vocabulary: SectorVocabulary, code: &'a str) -> (u32, u8) {
        if let Some(&found) = self.codes.get(&(vocabulary, code)) {
            return found;
        }
        let ids: Vec<u32> = counted_in(vocabulary, code)
            .into_iter()
            .map(|k| self.intern(k))
            .collect();
        let found = (self.list(ids), dimensions_of(vocabulary, code));
        self.codes.insert((vocabulary, code), found);
        found
    }

    /// The key list and dimensions of a record's sector codes.
    fn record(&mut self, sectors: &'a [(SectorVocabulary, String)]) -> (u32, u8) {
        match sectors {
            [] => (0, 0),
            [(vocabulary, code)] => self.code(*vocabulary, code),
            _ => {
                let mut ids = Vec::new();
                let mut dims = 0;
                for (vocabulary, code) in sectors {
                    let (list, d) = self.code(*vocabulary, code);
                    ids.extend_from_slice(&self.lists[list as usize]);
                    dims |= d;
                }
                (self.list(ids), dims)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------

struct Focus<'f> {
    areas: FastMap<&'f str, ()>,
    /// `None`: intersectoral, every sector.
    sector: Option<SectorKey>,
}

fn under_focus(path: &str, focus: &Focus<'_>) -> bool {
    path.bytes()
        .enumerate()
        .skip(1)
        .any(|(i, b)| b == b'/' && focus.areas.contains_key(&path[..=i]))
}

#[derive(Clone, Debug)]
struct Cell {
    node: u32,
    key: u32,
    /// Sums over the interventions not declared disjoint (sector cells only). Until
    /// `finish`, a cell holds the records located at its area itself; after it, the
    /// records in the area and its descendants.
    targeted: f64,
    reached: f64,
    /// Sums over the disjoint ones (in the intersectoral cell: each once).
    targeted_disjoint: f64,
    reached_disjoint: f64,
    interventions: u32,
    /// Latest end day of the interventions; `OPEN` when one never ends.
    end: i32,
    /// Dimensions served by the interventions.
    dims: u8,
}

#[derive(Clone, Copy, Debug)]
struct OrgEntry {
    org: u32,
    /// Has a live (not closed or cancelled) intervention here.
    live: bool,
    /// People targeted by its live interventions running today.
    caseload: f64,
}

/// Merges organisation lists: a dense table by organisation and the list of those seen.
struct Merger {
    table: Vec<(f64, bool, bool)>,
    seen: Vec<u32>,
}

impl Merger {
    fn new(organisations: usize) -> Self {
        Self {
            table: vec![(0.0, false, false); organisations],
            seen: Vec::new(),
        }
    }

    fn add(&mut self, entries: &[OrgEntry]) {
        for e in entries {
            let slot = &mut self.table[e.org as usize];
            if !slot.2 {
                *slot = (0.0, false, true);
                self.seen.push(e.org);
            }
            slot.0 += e.caseload;
            slot.1 |= e.live;
        }
    }

    /// The merged list, by organisation; the table is left empty.
    fn take(&mut self) -> Vec<OrgEntry> {
        self.seen.sort_unstable();
        let list = self
            .seen
            .iter()
            .map(|&org| {
                let slot = &mut self.table[org as usize];
                let entry = OrgEntry {
                    org,
                    live: slot.1,
                    caseload: slot.0,
                };
                slot.2 = false;
                entry
            })
            .collect();
        self.seen.clear();
        list
    }
}

fn live_in(list: &[OrgEntry], org: u32) -> bool {
    list.binary_search_by_key(&org, |e| e.org)
        .is_ok_and(|i| list[i].live)
}

#[derive(Clone, Copy, Debug, Default)]
struct NeedAcc {
    people_in_need: u64,
    severity: Option<Severity>,
}

#[derive(Default)]
struct Scratch {
    locations: Vec<(u32, Option<u64>)>,
    nodes: Vec<u32>,
    weights: Vec<f64>,
    shares: Vec<(f64, f64)>,
    keys: Vec<u32>,
}

/// What a cell reads, the intersectoral rule applied.
struct Figures {
    targeted: f64,
    reached: f64,
    interventions: u32,
    end: Option<i32>,
    dims: u8,
}

struct Engine<'a> {
    keys: Keys<'a>,
    areas: Areas<'a>,
    cell_ids: FastMap<(u32, u32), u32>,
    cells: Vec<Cell>,
    /// Organisations at the locations, by cell, as the records are added.
    org_entries: Vec<(u32, OrgEntry)>,
    /// Cells that would count a record with several locations below them more than once,
    /// and how many times too many.
    count_corrections: Vec<(u32, u32)>,
    /// Per cell, organisations at its area itself / in its area and descendants, by org.
    local_orgs: Vec<Vec<OrgEntry>>,
    subtree_orgs: Vec<Vec<OrgEntry>>,
    /// Per (location, key list): the cells of the location's chain, node-major, each node's
    /// intersectoral cell first and then its keys in list order. Creating them all makes
    /// sure every cell's parent cell exists for the roll-up; a record is added to the last
    /// node's, its location's.
    chain_cells: FastMap<(u32, u32), (u32, u32)>,
    chain_cell_arena: Vec<u32>,
    needs: FastMap<(u32, u32), NeedAcc>,
    /// Per node: `N` of the intersectoral rule (targeted, reached), without disjoint
    /// records.
    intersectoral: Vec<(f64, f64)>,
    org_ids: FastMap<i64, u32>,
    orgs: Vec<OrganisationId>,
    today: Option<i32>,
}

/// A record as the first pass reads it: its sectors and places as integers, so the pass
/// that adds it reads only the record's own fields, not its strings again.
struct Prep {
    /// Position among the candidates.
    record: u32,
    list: u32,
    /// Range in the location arena: distinct areas, with their located targets.
    locations: (u32, u32),
    dims: u8,
}

impl<'a> Engine<'a> {
    fn build(
        period: &Period,
        interventions: &'a [CoverageIntervention],
        needs: &'a [NeedFigure],
        today: Option<NaiveDate>,
        focus: Option<&Focus<'_>>,
    ) -> Self {
        let mut engine = Engine {
            keys: Keys::new(),
            areas: Areas::new(),
            cell_ids: FastMap::default(),
            cells: Vec::new(),
            org_entries: Vec::new(),
            count_corrections: Vec::new(),
            local_orgs: Vec::new(),
            subtree_orgs: Vec::new(),
            chain_cells: FastMap::default(),
            chain_cell_arena: Vec::new(),
            needs: FastMap::default(),
            intersectoral: Vec::new(),
            org_ids: FastMap::default(),
            orgs: Vec::new(),
            today: today.map(day),
        };
        for need in needs.iter().filter(|n| n.period.intersects(period)) {
            let node = engine.areas.intern(&need.area);
            let key = need_key(&need.sector).map_or(INTERSECTORAL, |k| engine.keys.intern(k));
            let acc = engine.needs.entry((node, key)).or_default();
            acc.people_in_need = acc.people_in_need.max(need.people_in_need);
            acc.severity = acc.severity.max(need.severity);
        }
        let focus_key = focus
            .and_then(|f| f.sector.clone())
            .map(|k| engine.keys.intern(k));

        let candidates: Vec<&CoverageIntervention> = interventions
            .iter()
            .filter(|r| r.status != ActivityStatus::Cancelled && r.period.intersects(period))
            .collect();
        // Chains are resolved over every candidate, in or out of focus: a funder's record
        // in the area is dropped for an implementer's record elsewhere.
        let mut chains = Chains::new(&candidates);
        let mut preps: Vec<Prep> = Vec::with_capacity(candidates.len());
        let mut arena: Vec<(u32, Option<u64>)> = Vec::with_capacity(candidates.len());
        for (x, r) in candidates.iter().enumerate() {
            chains.own_ids(x, &candidates);
            if let Some(focus) = focus
                && !r
                    .locations
                    .iter()
                    .any(|(area, _)| under_focus(area.as_str(), focus))
            {
                continue;
            }
            let (list, dims) = engine.keys.record(&r.sectors);
            if let Some(key) = focus_key
                && !engine.keys.lists[list as usize].contains(&key)
            {
                continue;
            }
            let from = arena.len();
            for (area, target) in &r.locations {
                let node = engine.areas.intern(area);
                match arena[from..].iter_mut().find(|(n, _)| *n == node) {
                    Some((_, t)) => {
                        *t = match (*t, *target) {
                            (Some(a), Some(b)) => Some(a + b),
                            (a, b) => a.or(b),
                        }
                    }
                    None => arena.push((node, *target)),
                }
            }
            if arena.len() > from {
                preps.push(Prep {
                    record: x as u32,
                    list,
                    locations: (from as u32, arena.len() as u32),
                    dims,
                });
            }
        }
        let keep = chains.kept(&candidates);
        let mut scratch = Scratch::default();
        for prep in &preps {
            if keep[prep.record as usize] {
                let (from, to) = prep.locations;
                let locations = &arena[from as usize..to as usize];
                engine.add(
                    candidates[prep.record as usize],
                    prep,
                    locations,
                    &mut scratch,
                );
            }
        }
        engine.finish();
        engine
    }

    fn org(&mut self, id: OrganisationId) -> u32 {
        *self.org_ids.entry(id.0).or_insert_with(|| {
            self.orgs.push(id);
            (self.orgs.len() - 1) as u32
        })
    }

    fn cell(&mut self, node: u32, key: u32) -> u32 {
        *self.cell_ids.entry((node, key)).or_insert_with(|| {
            self.cells.push(Cell {
                node,
                key,
                targeted: 0.0,
                reached: 0.0,
                targeted_disjoint: 0.0,
                reached_disjoint: 0.0,
                interventions: 0,
                end: i32::MIN,
                dims: 0,
            });
            (self.cells.len() - 1) as u32
        })
    }

    fn cells_of_chain(&mut self, location: u32, list: u32) -> (u32, u32) {
        if let Some(&range) = self.chain_cells.get(&(location, list)) {
            return range;
        }
        let keys = self.keys.lists[list as usize].clone();
        let chain = self.areas.chain_of(location).to_vec();
        let mut cells = Vec::with_capacity(chain.len() * (keys.len() + 1));
        for node in chain {
            cells.push(self.cell(node, INTERSECTORAL));
            for &key in &keys {
                cells.push(self.cell(node, key));
            }
        }
        let from = self.chain_cell_arena.len() as u32;
        self.chain_cell_arena.extend_from_slice(&cells);
        let range = (from, self.chain_cell_arena.len() as u32);
        self.chain_cells.insert((location, list), range);
        range
    }

    fn add(
        &mut self,
        r: &CoverageIntervention,
        prep: &Prep,
        locations: &[(u32, Option<u64>)],
        scratch: &mut Scratch,
    ) {
        let (list, dims) = (prep.list, prep.dims);
        let org = self.org(r.organisation);
        let live = r.status.is_live();
        let start = day(r.period.start());
        let mut end = r.period.end().map_or(OPEN, |e| day(e).max(start));
        if let Some(today) = self.today
            && r.status == ActivityStatus::Closed
        {
            end = end.min(today.max(start));
        }
        let running = live && self.today.is_some_and(|t| start <= t && t <= end);
        let disjoint = r.disjoint;

        if let [(location, located)] = *locations {
            // One location, the common case: the whole target and reach go there.
            let target = located.or(r.target).unwrap_or(0) as f64;
            let reached = r.reached.unwrap_or(0) as f64;
            // The record is added to its location's cells only (the intersectoral one
            // first); `finish` rolls the figures up to the ancestors, whose cells the
            // chain cache has created.
            let (_, to) = self.cells_of_chain(location, list);
            let width = self.keys.lists[list as usize].len() + 1;
            let cells = &self.chain_cell_arena[to as usize - width..to as usize];
            for (j, &c) in cells.iter().enumerate() {
                let cell = &mut self.cells[c as usize];
                cell.interventions += 1;
                cell.end = cell.end.max(end);
                cell.dims |= dims;
                if disjoint {
                    cell.targeted_disjoint += target;
                    cell.reached_disjoint += reached;
                } else if j != 0 {
                    cell.targeted += target;
                    cell.reached += reached;
                }
                self.org_entries.push((
                    c,
                    OrgEntry {
                        org,
                        live,
                        caseload: if running { target } else { 0.0 },
                    },
                ));
            }
            return;
        }

        // Several locations: each gets its shares, which depend on the cell's sector.
        // Rolled up, an area with `m` of the record's locations below it (itself included)
        // would count the record `m` times: the `m - 1` extra are taken off after the
        // roll-up.
        scratch.locations.clear();
        scratch.locations.extend_from_slice(locations);
        scratch.nodes.clear();
        for &(location, _) in locations {
            scratch
                .nodes
                .extend_from_slice(self.areas.chain_of(location));
        }
        scratch.nodes.sort_unstable();
        let mut keys = std::mem::take(&mut scratch.keys);
        keys.clear();
        keys.push(INTERSECTORAL);
        keys.extend_from_slice(&self.keys.lists[list as usize]);
        for run in scratch.nodes.chunk_by(|a, b| a == b) {
            for &key in &keys {
                let c = self.cell(run[0], key);
                if run.len() > 1 {
                    self.count_corrections.push((c, run.len() as u32 - 1));
                }
            }
        }
        for &key in &keys {
            self.split(r, key, scratch);
            for (l, &(location, _)) in scratch.locations.iter().enumerate() {
                let (target, reached) = scratch.shares[l];
                let c = self.cell_ids[&(location, key)];
                let cell = &mut self.cells[c as usize];
                cell.interventions += 1;
                cell.end = cell.end.max(end);
                cell.dims |= dims;
                if disjoint {
                    cell.targeted_disjoint += target;
                    cell.reached_disjoint += reached;
                } else if key != INTERSECTORAL {
                    cell.targeted += target;
                    cell.reached += reached;
                }
                self.org_entries.push((
                    c,
                    OrgEntry {
                        org,
                        live,
                        caseload: if running { target } else { 0.0 },
                    },
                ));
            }
        }
        scratch.keys = keys;
    }

    /// Places a record's target and reach on `scratch.locations` for the cells of `key`,
    /// into `scratch.shares` (see the module doc).
    fn split(&self, r: &CoverageIntervention, key: u32, scratch: &mut Scratch) {
        let locations = &scratch.locations;
        scratch.shares.clear();
        scratch
            .shares
            .extend(locations.iter().map(|(_, t)| (t.unwrap_or(0) as f64, 0.0)));
        let located: u64 = locations.iter().filter_map(|(_, t)| *t).sum();
        let rest = r.target.map_or(0, |t| t.saturating_sub(located)) as f64;
        let unlocated = locations.iter().filter(|(_, t)| t.is_none()).count();
        if rest > 0.0 && unlocated > 0 {
            self.weights(key, locations, |t| t.is_none(), &mut scratch.weights);
            for (share, w) in scratch.shares.iter_mut().zip(&scratch.weights) {
                share.0 += rest * w;
            }
        }
        let reached = r.reached.unwrap_or(0) as f64;
        if reached > 0.0 {
            let total: f64 = scratch.shares.iter().map(|s| s.0).sum();
            if total > 0.0 {
                for share in &mut scratch.shares {
                    share.1 = reached * share.0 / total;
                }
            } else {
                self.weights(key, locations, |_| true, &mut scratch.weights);
                for (share, w) in scratch.shares.iter_mut().zip(&scratch.weights) {
                    share.1 = reached * w;
                }
            }
        }
    }

    /// Weights of the locations that `take` selects (zero for the others): their people in
    /// need for `key` when all have a figure adding up to more than zero, else equal.
    fn weights(
        &self,
        key: u32,
        locations: &[(u32, Option<u64>)],
        take: impl Fn(Option<u64>) -> bool,
        weights: &mut Vec<f64>,
    ) {
        weights.clear();
        let mut total = 0.0;
        let mut all_known = key != UNSECTORED;
        for &(node, t) in locations {
            let w = if take(t) {
                match self.needs.get(&(node, key)) {
                    Some(n) => n.people_in_need as f64,
                    None => {
                        all_known = false;
                        0.0
                    }
                }
            } else {
                -1.0
            };
            total += w.max(0.0);
            weights.push(w);
        }
        let taken = weights.iter().filter(|w| **w >= 0.0).count() as f64;
        for w in weights.iter_mut() {
            *w = if *w < 0.0 {
                0.0
            } else if all_known && total > 0.0 {
                *w / total
            } else {
                1.0 / taken
            };
        }
    }

    fn finish(&mut self) {
        let cells = self.cells.len();
        let mut order: Vec<u32> = (0..cells as u32).collect();
        order.sort_unstable_by_key(|&c| {
            std::cmp::Reverse(self.areas.depth[self.cells[c as usize].node as usize])
        });
        let parent_cell: Vec<u32> = self
            .cells
            .iter()
            .map(|cell| match self.areas.parent[cell.node as usize] {
                NO_NODE => NO_NODE,
                parent => self.cell_ids[&(parent, cell.key)],
            })
            .collect();

        // Figures, children before parents.
        for &c in &order {
            let pc = parent_cell[c as usize];
            if pc == NO_NODE {
                continue;
            }
            let child = self.cells[c as usize].clone();
            let parent = &mut self.cells[pc as usize];
            parent.targeted += child.targeted;
            parent.reached += child.reached;
            parent.targeted_disjoint += child.targeted_disjoint;
            parent.reached_disjoint += child.reached_disjoint;
            parent.interventions += child.interventions;
            parent.end = parent.end.max(child.end);
            parent.dims |= child.dims;
        }
        for (c, extra) in std::mem::take(&mut self.count_corrections) {
            self.cells[c as usize].interventions -= extra;
        }

        // Organisations: at the locations, then rolled up. Lists are merged through a
        // dense table by organisation, so only the distinct organisations are sorted.
        let mut starts = vec![0u32; cells + 1];
        for &(c, _) in &self.org_entries {
            starts[c as usize + 1] += 1;
        }
        for c in 0..cells {
            starts[c + 1] += starts[c];
        }
        let mut fill = starts.clone();
        let mut bucketed = vec![
            OrgEntry {
                org: 0,
                live: false,
                caseload: 0.0,
            };
            self.org_entries.len()
        ];
        for (c, entry) in std::mem::take(&mut self.org_entries) {
            bucketed[fill[c as usize] as usize] = entry;
            fill[c as usize] += 1;
        }
        let mut merger = Merger::new(self.orgs.len());
        self.local_orgs = (0..cells)
            .map(|c| {
                merger.add(&bucketed[starts[c] as usize..starts[c + 1] as usize]);
                merger.take()
            })
            .collect();
        drop(bucketed);
        let mut child_starts = vec![0u32; cells + 1];
        for &pc in &parent_cell {
            if pc != NO_NODE {
                child_starts[pc as usize + 1] += 1;
            }
        }
        for c in 0..cells {
            child_starts[c + 1] += child_starts[c];
        }
        let mut fill = child_starts.clone();
        let mut child_cells = vec![0u32; child_starts[cells] as usize];
        for (c, &pc) in parent_cell.iter().enumerate() {
            if pc != NO_NODE {
                child_cells[fill[pc as usize] as usize] = c as u32;
                fill[pc as usize] += 1;
            }
        }
        self.subtree_orgs = vec![Vec::new(); cells];
        for &c in &order {
            let c = c as usize;
            merger.add(&self.local_orgs[c]);
            for &child in &child_cells[child_starts[c] as usize..child_starts[c + 1] as usize] {
                merger.add(&self.subtree_orgs[child as usize]);
            }
            self.subtree_orgs[c] = merger.take();
        }

        let nodes = self.areas.path.len();
        let mut highest = vec![(0.0f64, 0.0f64); nodes];
        for cell in self.cells.iter().filter(|c| c.key != INTERSECTORAL) {
            let max = &mut highest[cell.node as usize];
            max.0 = max.0.max(cell.targeted);
            max.1 = max.1.max(cell.reached);
        }
        let mut children = vec![(0.0f64, 0.0f64); nodes];
        let mut order: Vec<u32> = (0..nodes as u32).collect();
        order.sort_unstable_by_key(|&n| std::cmp::Reverse(self.areas.depth[n as usize]));
        for node in order {
            let (own, below) = (highest[node as usize], children[node as usize]);
            let n = (own.0.max(below.0), own.1.max(below.1));
            highest[node as usize] = n;
            let parent = self.areas.parent[node as usize];
            if parent != NO_NODE {
                children[parent as usize].0 += n.0;
                children[parent as usize].1 += n.1;
            }
        }
        self.intersectoral = highest;
    }

    fn figures(&self, node: u32, key: u32) -> Figures {
        let Some(&c) = self.cell_ids.get(&(node, key)) else {
            return Figures {
                targeted: 0.0,
                reached: 0.0,
                interventions: 0,
                end: None,
                dims: 0,
            };
        };
        let cell = &self.cells[c as usize];
        let (targeted, reached) = if key == INTERSECTORAL {
            self.intersectoral[node as usize]
        } else {
            (cell.targeted, cell.reached)
        };
        Figures {
            targeted: targeted + cell.targeted_disjoint,
            reached: reached + cell.reached_disjoint,
            interventions: cell.interventions,
            end: (cell.interventions > 0).then_some(cell.end),
            dims: cell.dims,
        }
    }

    fn need_sector(&self, key: u32) -> NeedSector {
        if key == INTERSECTORAL {
            return NeedSector::Intersectoral;
        }
        let (vocabulary, code) = &self.keys.keys[key as usize];
        NeedSector::Sector {
            vocabulary: *vocabulary,
            code: code.clone(),
        }
    }

    fn row(&self, area: &AreaPath, sector: &NeedSector) -> CoverageCell {
        let key = match need_key(sector) {
            None => Some(INTERSECTORAL),
            Some(k) => self.keys.ids.get(&k).copied(),
        };
        match (self.areas.ids.get(area.as_str()), key) {
            (Some(&node), Some(key)) => self.cell_at(node, key),
            _ => CoverageCell {
                area: area.clone(),
                sector: sector.clone(),
                people_in_need: None,
                severity: None,
                targeted: 0,
                reached: 0,
                organisations: Vec::new(),
                interventions: 0,
            },
        }
    }

    fn cell_at(&self, node: u32, key: u32) -> CoverageCell {
        let f = self.figures(node, key);
        let need = self.needs.get(&(node, key));
        let mut organisations: Vec<OrganisationId> = self
            .cell_ids
            .get(&(node, key))
            .map(|&c| {
                self.subtree_orgs[c as usize]
                    .iter()
                    .map(|e| self.orgs[e.org as usize])
                    .collect()
            })
            .unwrap_or_default();
        organisations.sort_unstable();
        CoverageCell {
            area: self.areas.area_path(node),
            sector: self.need_sector(key),
            people_in_need: need.map(|n| n.people_in_need),
            severity: need.and_then(|n| n.severity),
            targeted: people(f.targeted),
            reached: people(f.reached),
            organisations,
            interventions: f.interventions,
        }
    }

    fn gaps(&self, period: &Period, settings: &GapSettings) -> Vec<Gap> {
        let today = day(settings.today);
        let within_days = i32::try_from(settings.ending_within_days).unwrap_or(i32::MAX);
        let horizon = today.saturating_add(within_days);
        let period_end = period.end().map(day);
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); self.areas.path.len()];
        for (node, &parent) in self.areas.parent.iter().enumerate() {
            if parent != NO_NODE {
                children[parent as usize].push(node as u32);
            }
        }
        for list in &mut children {
            list.sort_by_key(|&n| self.areas.path[n as usize]);
        }
        let candidates = |node: u32, key: u32| self.candidates(node, key, &children, settings);

        let mut out = Vec::new();
        let mut sector_needs: FastMap<u32, Vec<(u32, NeedAcc)>> = FastMap::default();
        for (&(node, key), need) in &self.needs {
            if key != INTERSECTORAL && need.people_in_need > 0 {
                sector_needs.entry(node).or_default().push((key, *need));
            }
            let f = self.figures(node, key);
            let pin = need.people_in_need;
            let targeted = people(f.targeted);
            let gap = |kind: GapKind, uncovered: u64, pressing: u64, time: f64| Gap {
                area: self.areas.area_path(node),
                sector: self.need_sector(key),
                kind,
                severity: need.severity,
                people_in_need: pin,
                people_uncovered: uncovered,
                targeted,
                priority: priority(need.severity, pressing, time, kind),
                ends_on: None,
                unserved: Vec::new(),
                candidates: Vec::new(),
            };
            let uncovered = pin > 0
                && f.interventions == 0
                && need
                    .severity
                    .is_some_and(|s| s.get() >= settings.min_severity_uncovered);
            if uncovered {
                let mut g = gap(GapKind::Uncovered, pin, pin, 1.0);
                g.candidates = candidates(node, key);
                out.push(g);
            } else if pin > 0 && (targeted as f64) < settings.under_covered_below * pin as f64 {
                let short = pin.saturating_sub(targeted);
                let mut g = gap(GapKind::UnderCovered, short, short, 1.0);
                g.candidates = candidates(node, key);
                out.push(g);
            } else if targeted > pin {
                out.push(gap(GapKind::OverCovered, 0, targeted - pin, 1.0));
            }
            if let Some(end) = f.end
                && pin > 0
                && end <= horizon
                && period_end.is_none_or(|pe| end < pe && pe >= today)
            {
                let days_left = f64::from((end - today).max(0));
                let within = f64::from(settings.ending_within_days);
                let time = if within > 0.0 {
                    1.0 - 0.5 * days_left.min(within) / within
                } else {
                    1.0
                };
                let losing = targeted.min(pin);
                let mut g = gap(GapKind::Ending, losing, losing, time);
                g.ends_on = Some(date_of(end));
                g.candidates = candidates(node, key);
                out.push(g);
            }
        }

        for (&node, sectors) in &sector_needs {
            let needed = sectors
                .iter()
                .fold(0u8, |bits, (key, _)| bits | self.keys.dims[*key as usize]);
            if needed.count_ones() < 2 {
                continue;
            }
            let f = self.figures(node, INTERSECTORAL);
            if (needed & f.dims).count_ones() != 1 {
                continue;
            }
            let overall = self.needs.get(&(node, INTERSECTORAL));
            let severity = overall
                .and_then(|n| n.severity)
                .or_else(|| sectors.iter().filter_map(|(_, n)| n.severity).max());
            let pin = overall.map_or_else(
                || {
                    sectors
                        .iter()
                        .map(|(_, n)| n.people_in_need)
                        .max()
                        .unwrap_or(0)
                },
                |n| n.people_in_need,
            );
            let widest_unserved = sectors
                .iter()
                .filter(|(key, _)| self.keys.dims[*key as usize] & f.dims == 0)
                .max_by(|a, b| {
                    (
                        a.1.people_in_need,
                        std::cmp::Reverse(&self.keys.keys[a.0 as usize]),
                    )
                        .cmp(&(
                            b.1.people_in_need,
                            std::cmp::Reverse(&self.keys.keys[b.0 as usize]),
                        ))
                });
            let uncovered = widest_unserved.map_or(0, |(_, n)| n.people_in_need);
            out.push(Gap {
                area: self.areas.area_path(node),
                sector: NeedSector::Intersectoral,
                kind: GapKind::Narrow,
                severity,
                people_in_need: pin,
                people_uncovered: uncovered,
                targeted: people(f.targeted),
                priority: priority(severity, uncovered, 1.0, GapKind::Narrow),
                ends_on: None,
                unserved: dimension_list(needed & !f.dims),
                candidates: widest_unserved
                    .map(|(key, _)| candidates(node, *key))
                    .unwrap_or_default(),
            });
        }

        out.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(b.people_uncovered.cmp(&a.people_uncovered))
                .then_with(|| a.area.cmp(&b.area))
                .then_with(|| a.sector.key().cmp(&b.sector.key()))
                .then(a.kind.cmp(&b.kind))
        });
        out
    }

    /// Organisations live in `key` in the parent of `node` or its other children, and not
    /// in `node` itself, by caseload (see the module doc).
    fn candidates(
        &self,
        node: u32,
        key: u32,
        children: &[Vec<u32>],
        settings: &GapSettings,
    ) -> Vec<CandidateActor> {
        let parent = self.areas.parent[node as usize];
        if parent == NO_NODE || settings.max_candidates == 0 {
            return Vec::new();
        }
        let Some(&pc) = self.cell_ids.get(&(parent, key)) else {
            return Vec::new();
        };
        let own: &[OrgEntry] = self
            .cell_ids
            .get(&(node, key))
            .map_or(&[], |&c| &self.subtree_orgs[c as usize]);
        let mut picks: Vec<&OrgEntry> = self.subtree_orgs[pc as usize]
            .iter()
            .filter(|e| e.live && !live_in(own, e.org))
            .collect();
        picks.sort_by(|a, b| {
            b.caseload
                .total_cmp(&a.caseload)
                .then(self.orgs[a.org as usize].cmp(&self.orgs[b.org as usize]))
        });
        picks.truncate(settings.max_candidates);
        picks
            .into_iter()
            .map(|e| {
                let mut areas = Vec::new();
                if live_in(&self.local_orgs[pc as usize], e.org) {
                    areas.push(self.areas.area_path(parent));
                }
                for &sibling in &children[parent as usize] {
                    if sibling != node
                        && let Some(&sc) = self.cell_ids.get(&(sibling, key))
                        && live_in(&self.subtree_orgs[sc as usize], e.org)
                    {
                        areas.push(self.areas.area_path(sibling));
                    }
                }
                CandidateActor {
                    organisation: self.orgs[e.org as usize],
                    caseload: people(e.caseload),
                    areas,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Instant;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const P: &str = "/ET/ET01/";
    const D1: &str = "/ET/ET01/ET0101/";
    const D2: &str = "/ET/ET01/ET0102/";
    const D3: &str = "/ET/ET01/ET0103/";
    const D4: &str = "/ET/ET01/ET0104/";
    const D5: &str = "/ET/ET01/ET0105/";
    const WSH: &str = "11";
    const HEA: &str = "7";
    const FSC: &str = "6";

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn path(s: &str) -> AreaPath {
        AreaPath::parse(s).unwrap()
    }

    fn period(start: &str, end: Option<&str>) -> Period {
        Period::new("period", d(start), end.map(d)).unwrap()
    }

    fn year() -> Period {
        period("2024-01-01", Some("2024-12-31"))
    }

    fn cluster(code: &str) -> (SectorVocabulary, String) {
        (SectorVocabulary::Cluster, code.to_owned())
    }

    fn dac5(code: &str) -> (SectorVocabulary, String) {
        (SectorVocabulary::Dac5, code.to_owned())
    }

    fn sector(code: &str) -> NeedSector {
        NeedSector::Sector {
            vocabulary: SectorVocabulary::Cluster,
            code: code.to_owned(),
        }
    }

    fn sev(phase: i64) -> Option<Severity> {
        Some(Severity::parse("severity", phase).unwrap())
    }

    /// A WASH activity of 2024 in one area, implemented by its reporter.
    fn rec(id: i64, org: i64, area: &str, target: Option<u64>) -> CoverageIntervention {
        CoverageIntervention {
            id: InterventionId(id),
            organisation: OrganisationId(org),
            status: ActivityStatus::Implementation,
            period: year(),
            sectors: vec![cluster(WSH)],
            locations: vec![(path(area), None)],
            target,
            reached: None,
            own_ids: vec![format!("XM-{org}-{id}")],
            linked_ids: Vec::new(),
            implementing: true,
            disjoint: false,
        }
    }

    fn in_sector(mut r: CoverageIntervention, code: &str) -> CoverageIntervention {
        r.sectors = vec![cluster(code)];
        r
    }

    fn reaching(mut r: CoverageIntervention, reached: u64) -> CoverageIntervention {
        r.reached = Some(reached);
        r
    }

    fn during(mut r: CoverageIntervention, start: &str, end: Option<&str>) -> CoverageIntervention {
        r.period = period(start, end);
        r
    }

    fn need(area: &str, code: Option<&str>, pin: u64, severity: Option<Severity>) -> NeedFigure {
        NeedFigure {
            area: path(area),
            sector: code.map_or(NeedSector::Intersectoral, sector),
            period: year(),
            people_in_need: pin,
            severity,
        }
    }

    fn orgs(ids: &[i64]) -> Vec<OrganisationId> {
        ids.iter().map(|&i| OrganisationId(i)).collect()
    }

    fn cov(
        area: &str,
        s: &NeedSector,
        rs: &[CoverageIntervention],
        ns: &[NeedFigure],
    ) -> CoverageCell {
        coverage(&path(area), s, &year(), rs, ns)
    }

    // -----------------------------------------------------------------------------------
    // Sectors
    // -----------------------------------------------------------------------------------

    #[test]
    fn counted_in_is_the_sector_filter_read_backwards() {
        let all = reference::sectors();
        let expanded: Vec<Vec<(SectorVocabulary, String)>> = all
            .iter()
            .map(|t| reference::expand_sector_filter(&t.code).unwrap())
            .collect();
        for s in all {
            let cells = counted_in(s.vocabulary, &s.code);
            for (t, filter) in all.iter().zip(&expanded) {
                let key = (t.vocabulary, t.code.clone());
                let listed = filter.contains(&(s.vocabulary, s.code.clone()));
                assert_eq!(cells.contains(&key), listed, "{} in {}", s.code, t.code);
            }
        }
        assert_eq!(
            counted_in(SectorVocabulary::Dac5, "14030"),
            vec![
                dac5("14030"),
                (SectorVocabulary::Dac3, "140".to_owned()),
                cluster("11")
            ]
        );
        assert_eq!(
            counted_in(SectorVocabulary::Cluster, "PRO-GBV"),
            vec![cluster("5404"), cluster("10")]
        );
        assert_eq!(
            counted_in(SectorVocabulary::Dac5, " 99999 "),
            vec![dac5("99999")]
        );
    }

    #[test]
    fn a_cell_counts_its_sector_through_the_crosswalk_and_its_descendants_only() {
        let mut donor = rec(1, 1, D1, Some(100));
        donor.sectors = vec![dac5("14030")];
        let gbv = in_sector(rec(2, 2, D1, Some(40)), "5404");
        let wash = rec(3, 3, D2, Some(10));
        let province_wide = rec(4, 4, P, Some(1_000));
        let mut cancelled = rec(5, 5, D1, Some(7));
        cancelled.status = ActivityStatus::Cancelled;
        let mut closed = rec(6, 6, D1, Some(3));
        closed.status = ActivityStatus::Closed;
        let last_year = during(rec(7, 7, D1, Some(9)), "2023-01-01", Some("2023-12-31"));
        let rs = [
            donor,
            gbv,
            wash,
            province_wide,
            cancelled,
            closed,
            last_year,
        ];

        let c = cov(D1, &sector(WSH), &rs, &[]);
        assert_eq!(
            (c.targeted, c.interventions),
            (103, 2),
            "DAC 14030 is WASH; closed counts"
        );
        assert_eq!(c.organisations, orgs(&[1, 6]));
        assert_eq!(cov(D1, &sector("WSH"), &rs, &[]), c, "HPC code spelling");
        assert_eq!(cov(D1, &sector(HEA), &rs, &[]).interventions, 0);
        assert_eq!(
            cov(D1, &sector("10"), &rs, &[]).targeted,
            40,
            "GBV is protection"
        );
        let dac3 = NeedSector::Sector {
            vocabulary: SectorVocabulary::Dac3,
            code: "140".to_owned(),
        };
        assert_eq!(cov(D1, &dac3, &rs, &[]).targeted, 100);
        let code = NeedSector::Sector {
            vocabulary: SectorVocabulary::Dac5,
            code: "14030".to_owned(),
        };
        assert_eq!(
            cov(D2, &code, &rs, &[]).interventions,
            0,
            "a cluster is not a DAC code"
        );
        let province = cov(P, &sector(WSH), &rs, &[]);
        assert_eq!((province.targeted, province.interventions), (1_113, 4));
        assert_eq!(province.organisations, orgs(&[1, 3, 4, 6]));
        let elsewhere = cov("/SO/", &sector(WSH), &rs, &[]);
        assert_eq!((elsewhere.targeted, elsewhere.interventions), (0, 0));
    }

    // -----------------------------------------------------------------------------------
    // Counting rules
    // -----------------------------------------------------------------------------------

    #[test]
    fn people_in_need_are_never_summed_across_sectors_nor_periods() {
        let mut first_half = need(D1, Some(WSH), 900, sev(4));
        first_half.period = period("2024-01-01", Some("2024-06-30"));
        let ns = [
            need(D1, Some(WSH), 1_000, sev(3)),
            first_half,
            need(D1, Some(HEA), 800, sev(2)),
            need(D1, None, 1_200, sev(3)),
            need(D2, Some(WSH), 500, None),
            need(D2, Some(HEA), 700, None),
        ];
        let all = NeedSector::Intersectoral;
        assert_eq!(cov(D1, &all, &[], &ns).people_in_need, Some(1_200));
        assert_eq!(
            cov(D2, &all, &[], &ns).people_in_need,
            None,
            "no sum, no max"
        );
        assert_eq!(
            cov(P, &sector(WSH), &[], &ns).people_in_need,
            None,
            "no sum of districts"
        );
        let wash = cov(D1, &sector(WSH), &[], &ns);
        assert_eq!((wash.people_in_need, wash.severity), (Some(1_000), sev(4)));
        let second_half = period("2024-07-01", Some("2024-12-31"));
        let later = coverage(&path(D1), &sector(WSH), &second_half, &[], &ns);
        assert_eq!(
            (later.people_in_need, later.severity),
            (Some(1_000), sev(3))
        );

        let found = gaps(&year(), &[], &ns, &GapSettings::new(d("2024-06-01")));
        let overall: Vec<&Gap> = found
            .iter()
            .filter(|g| g.sector == NeedSector::Intersectoral && g.kind != GapKind::Narrow)
            .collect();
        assert_eq!(overall.len(), 1);
        assert_eq!(
            (overall[0].people_in_need, overall[0].kind),
            (1_200, GapKind::Uncovered)
        );
    }

    #[test]
    fn across_sectors_the_highest_figure_counts_unless_declared_disjoint() {
        let wash_a = reaching(rec(1, 1, D1, Some(500)), 300);
        let wash_b = reaching(rec(2, 2, D1, Some(100)), 100);
        let health = reaching(in_sector(rec(3, 3, D1, Some(400)), HEA), 350);
        let elsewhere = reaching(in_sector(rec(4, 4, D2, Some(1_000)), HEA), 50);
        let all = NeedSector::Intersectoral;
        let mut rs = vec![wash_a, wash_b, health, elsewhere];

        let wash = cov(D1, &sector(WSH), &rs, &[]);
        assert_eq!(
            (wash.targeted, wash.reached),
            (600, 400),
            "one sector: sums"
        );
        let d1 = cov(D1, &all, &rs, &[]);
        assert_eq!(
            (d1.targeted, d1.reached),
            (600, 400),
            "highest sector, not 1000 / 750"
        );
        assert_eq!((d1.interventions, d1.organisations.len()), (3, 3));
        // Different districts hold different people: the province adds up its districts'
        // highest figures (600 + 1,000 and 400 + 50), not the highest of its sector totals
        // (health: 1,400 and 400).
        let province = cov(P, &all, &rs, &[]);
        assert_eq!((province.targeted, province.reached), (1_600, 450));
        assert_eq!(province.interventions, 4);
        // A province-wide activity overlaps its districts' people: counted when it is more.
        rs.push(reaching(rec(5, 5, P, Some(2_500)), 100));
        let province = cov(P, &all, &rs, &[]);
        assert_eq!((province.targeted, province.reached), (3_100, 500));
        rs.pop();

        rs[2].disjoint = true;
        let d1 = cov(D1, &all, &rs, &[]);
        assert_eq!(
            (d1.targeted, d1.reached),
            (1_000, 750),
            "disjoint work is added"
        );
        let health = cov(D1, &sector(HEA), &rs, &[]);
        assert_eq!(
            (health.targeted, health.reached),
            (400, 350),
            "sector figures unchanged"
        );
        let province = cov(P, &all, &rs, &[]);
        assert_eq!(
            (province.targeted, province.reached),
            (2_000, 800),
            "1,600 + 400, 450 + 350"
        );
        // A disjoint record in two sectors counts once.
        rs[2].sectors = vec![cluster(HEA), cluster(FSC)];
        let d1 = cov(D1, &all, &rs, &[]);
        assert_eq!((d1.targeted, d1.reached), (1_000, 750));
    }

    #[test]
    fn a_target_is_never_counted_as_reached() {
        let rs = [
            rec(1, 1, D1, Some(1_000)),
            reaching(rec(2, 2, D1, Some(500)), 0),
            reaching(rec(3, 3, D1, None), 40),
        ];
        let c = cov(D1, &sector(WSH), &rs, &[]);
        assert_eq!((c.targeted, c.reached), (1_500, 40));
        let c = cov(D1, &NeedSector::Intersectoral, &rs, &[]);
        assert_eq!((c.targeted, c.reached), (1_500, 40));
    }

    #[test]
    fn a_funding_chain_counts_once_at_the_implementing_record() {
        let mut funder = rec(1, 1, P, Some(1_000));
        funder.implementing = false;
        funder.own_ids = vec!["DON-1".into()];
        funder.linked_ids = vec!["IMP-7".into()];
        let mut implementer = reaching(rec(2, 2, D1, Some(1_000)), 400);
        implementer.own_ids = vec![" imp-7 ".into()];
        let mut second = rec(3, 3, D2, Some(500));
        second.linked_ids = vec!["don-1".into()];
        let only_funder = {
            let mut r = rec(4, 1, D3, Some(300));
            r.implementing = false;
            r.linked_ids = vec!["IMP-99".into()];
            r
        };
        let rs = [funder.clone(), implementer.clone()];
        for area in [P, D1] {
            let c = cov(area, &sector(WSH), &rs, &[]);
            assert_eq!(
                (c.targeted, c.reached, c.interventions),
                (1_000, 400, 1),
                "{area}"
            );
            assert_eq!(
                c.organisations,
                orgs(&[2]),
                "the funder is not in the field"
            );
        }
        // Two implementers citing one grant both count; a funder whose implementer did
        // not report counts.
        let rs = [funder, implementer, second, only_funder];
        let c = cov(P, &sector(WSH), &rs, &[]);
        assert_eq!((c.targeted, c.interventions), (1_800, 3));
        assert_eq!(c.organisations, orgs(&[1, 2, 3]));
        assert_eq!(cov(D3, &sector(WSH), &rs, &[]).targeted, 300);

        // A chain without an implementing record counts once, where the reach is reported.
        let mut a = rec(20, 8, D1, Some(100));
        a.implementing = false;
        a.own_ids = vec!["G-1".into()];
        a.linked_ids = vec!["G-2".into()];
        let mut b = reaching(rec(21, 9, D2, Some(100)), 60);
        b.implementing = false;
        b.own_ids = vec!["G-2".into()];
        let c = cov(P, &sector(WSH), &[a.clone(), b.clone()], &[]);
        assert_eq!((c.interventions, c.reached), (1, 60));
        assert_eq!(c.organisations, orgs(&[9]));
        b.reached = None;
        let c = cov(P, &sector(WSH), &[a, b], &[]);
        assert_eq!(c.organisations, orgs(&[8]), "else the lowest id");
    }

    #[test]
    fn targets_are_placed_per_location_else_by_need_else_evenly() {
        let areas = [path(D1), path(D2), path(D3)];
        let ns = [
            need(D2, Some(WSH), 100, sev(3)),
            need(D3, Some(WSH), 250, sev(3)),
            need(D1, Some(HEA), 100, sev(3)),
        ];
        let rows = |r: CoverageIntervention, code: &str| -> Vec<(u64, u64)> {
            coverage_by_child(&areas, &sector(code), &year(), &[r], &ns)
                .into_iter()
                .map(|c| (c.targeted, c.reached))
                .collect()
        };
        // Per-location target at D1; the remaining 700 by need at D2 and D3 (100 : 250);
        // the reach in the same proportions as the target.
        let mut r = reaching(rec(1, 1, D1, Some(1_000)), 500);
        r.locations = vec![(path(D1), Some(300)), (path(D2), None), (path(D3), None)];
        assert_eq!(
            rows(r.clone(), WSH),
            vec![(300, 150), (200, 100), (500, 250)]
        );
        let province = cov(P, &sector(WSH), &[r.clone()], &ns);
        assert_eq!(
            (province.targeted, province.reached, province.interventions),
            (1_000, 500, 1)
        );
        // No per-location target: all by need.
        r.locations = vec![(path(D2), None), (path(D3), None)];
        r.target = Some(700);
        assert_eq!(rows(r.clone(), WSH), vec![(0, 0), (200, 143), (500, 357)]);
        // Health needs are known for D1 only: evenly.
        assert_eq!(
            rows(in_sector(r.clone(), HEA), HEA),
            vec![(0, 0), (350, 250), (350, 250)]
        );
        // Located targets and no total: the located targets alone.
        r.locations = vec![(path(D1), Some(50)), (path(D2), None)];
        r.target = None;
        r.reached = None;
        assert_eq!(rows(r, WSH), vec![(50, 0), (0, 0), (0, 0)]);
    }

    // -----------------------------------------------------------------------------------
    // Gaps
    // -----------------------------------------------------------------------------------

    fn scenario() -> (Vec<CoverageIntervention>, Vec<NeedFigure>) {
        let needs = vec![
            need(D1, Some(WSH), 1_000, sev(4)),
            need(D2, Some(WSH), 1_000, sev(3)),
            need(D3, Some(WSH), 1_000, sev(3)),
            need(D4, Some(WSH), 1_000, sev(2)),
            need(D4, Some(HEA), 500, sev(2)),
            need(D5, Some(FSC), 800, sev(3)),
            need(D5, Some(HEA), 600, sev(3)),
        ];
        let mut follow_up = in_sector(rec(6, 6, D4, Some(100)), HEA);
        follow_up.status = ActivityStatus::Pipeline;
        let interventions = vec![
            rec(1, 2, D2, Some(300)),
            rec(2, 3, D3, Some(800)),
            rec(3, 4, D3, Some(700)),
            during(rec(4, 5, D4, Some(600)), "2024-01-01", Some("2024-07-01")),
            during(
                in_sector(rec(5, 5, D4, Some(300)), HEA),
                "2024-01-01",
                Some("2024-07-15"),
            ),
            during(follow_up, "2024-07-16", Some("2024-12-31")),
            rec(7, 7, P, Some(2_000)),
            rec(8, 3, D5, Some(100)),
            in_sector(rec(9, 10, D1, Some(50)), FSC),
            in_sector(rec(10, 11, D5, Some(500)), HEA),
        ];
        (interventions, needs)
    }

    type GapRow = (
        &'static str,
        NeedSector,
        GapKind,
        u64,
        u64,
        Option<NaiveDate>,
    );

    fn rows(found: &[Gap]) -> Vec<(String, NeedSector, GapKind, u64, u64, Option<NaiveDate>)> {
        found
            .iter()
            .map(|g| {
                let area = g.area.as_str().to_owned();
                (
                    area,
                    g.sector.clone(),
                    g.kind,
                    g.people_uncovered,
                    g.targeted,
                    g.ends_on,
                )
            })
            .collect()
    }

    fn expect(rows: &[GapRow]) -> Vec<(String, NeedSector, GapKind, u64, u64, Option<NaiveDate>)> {
        rows.iter()
            .map(|(a, s, k, u, t, e)| ((*a).to_owned(), s.clone(), *k, *u, *t, *e))
            .collect()
    }

    fn actors(found: &Gap) -> Vec<(i64, u64, Vec<&str>)> {
        found
            .candidates
            .iter()
            .map(|c| {
                let areas = c.areas.iter().map(AreaPath::as_str).collect();
                (c.organisation.0, c.caseload, areas)
            })
            .collect()
    }

    #[test]
    fn every_gap_class_with_its_people_priority_and_candidates() {
        let (rs, ns) = scenario();
        let settings = GapSettings::new(d("2024-06-01"));
        let found = gaps(&year(), &rs, &ns, &settings);
        use GapKind::*;
        let all = NeedSector::Intersectoral;
        assert_eq!(
            rows(&found),
            expect(&[
                (D1, sector(WSH), Uncovered, 1_000, 0, None),
                (D5, sector(FSC), Uncovered, 800, 0, None),
                (D2, sector(WSH), UnderCovered, 700, 300, None),
                (D5, all, Narrow, 800, 500, None),
                (D4, sector(WSH), Ending, 600, 600, Some(d("2024-07-01"))),
                (D3, sector(WSH), OverCovered, 0, 1_500, None),
            ])
        );
        // The priority formula, term by term.
        let expected = [
            2.0 * 1_001f64.log10(),
            801f64.log10(),
            701f64.log10(),
            801f64.log10() * 0.5,
            0.5 * 601f64.log10() * (1.0 - 0.5 * 30.0 / 60.0),
            0.25 * 501f64.log10(),
        ];
        for (g, p) in found.iter().zip(expected) {
            assert!(
                (g.priority - p).abs() < 1e-9,
                "{:?} {} {p}",
                g.kind,
                g.priority
            );
        }
        assert!(found.windows(2).all(|w| w[0].priority > w[1].priority));
        assert_eq!(
            found[3].unserved,
            vec![Dimension::Economic, Dimension::Food]
        );
        assert_eq!((found[3].people_in_need, found[3].severity), (800, sev(3)));
        assert_eq!(
            (found[0].people_in_need, found[0].severity),
            (1_000, sev(4))
        );
        assert_eq!(found[0].sector.key(), "10:11");
        assert_eq!(found[4].kind.code(), "ENDING");

        // Candidates: live in the sector in the parent or a sibling, by caseload, with
        // where they work; never those already live in the area.
        assert_eq!(
            actors(&found[0]),
            vec![
                (7, 2_000, vec![P]),
                (3, 900, vec![D3, D5]),
                (4, 700, vec![D3]),
                (5, 600, vec![D4]),
                (2, 300, vec![D2]),
            ]
        );
        assert_eq!(actors(&found[1]), vec![(10, 50, vec![D1])]);
        assert_eq!(
            actors(&found[2]),
            vec![
                (7, 2_000, vec![P]),
                (3, 900, vec![D3, D5]),
                (4, 700, vec![D3]),
                (5, 600, vec![D4]),
            ]
        );
        assert_eq!(
            actors(&found[3]),
            vec![(10, 50, vec![D1])],
            "for the food need"
        );
        assert_eq!(
            actors(&found[4]),
            vec![
                (7, 2_000, vec![P]),
                (3, 900, vec![D3, D5]),
                (4, 700, vec![D3]),
                (2, 300, vec![D2]),
            ]
        );
        assert!(
            found[5].candidates.is_empty(),
            "over-coverage needs no more actors"
        );

        let short = GapSettings {
            max_candidates: 2,
            ..settings.clone()
        };
        assert_eq!(gaps(&year(), &rs, &ns, &short)[0].candidates.len(), 2);
    }

    #[test]
    fn thresholds_are_settings() {
        let (rs, ns) = scenario();
        let settings = GapSettings {
            under_covered_below: 0.25,
            min_severity_uncovered: 5,
            ending_within_days: 20,
            ..GapSettings::new(d("2024-06-01"))
        };
        let found = gaps(&year(), &rs, &ns, &settings);
        use GapKind::*;
        assert_eq!(
            rows(&found),
            expect(&[
                (D1, sector(WSH), UnderCovered, 1_000, 0, None),
                (D5, sector(FSC), UnderCovered, 800, 0, None),
                (D5, NeedSector::Intersectoral, Narrow, 800, 500, None),
                (D3, sector(WSH), OverCovered, 0, 1_500, None),
            ])
        );
    }

    #[test]
    fn ending_needs_nothing_to_follow_and_the_need_to_run_on() {
        let (mut rs, ns) = scenario();
        let settings = GapSettings::new(d("2024-06-01"));
        let ending =
            |rs: &[CoverageIntervention], p: &Period| -> Vec<(String, Option<NaiveDate>)> {
                gaps(p, rs, &ns, &settings)
                    .into_iter()
                    .filter(|g| g.kind == GapKind::Ending)
                    .map(|g| (format!("{}{}", g.area, g.sector.key()), g.ends_on))
                    .collect()
            };
        let d4_wash = || (format!("{D4}10:11"), Some(d("2024-07-01")));
        let d4_health = |on: &str| (format!("{D4}10:7"), Some(d(on)));
        assert_eq!(
            ending(&rs, &year()),
            vec![d4_wash()],
            "health has a follow-up"
        );
        // Without the follow-up, health ends on 15 July too.
        let follow_up = rs.remove(5);
        assert_eq!(
            ending(&rs, &year()),
            vec![d4_wash(), d4_health("2024-07-15")]
        );
        // A follow-up that itself ends within the horizon moves the date, nothing more.
        let short = during(follow_up.clone(), "2024-07-16", Some("2024-07-20"));
        rs.push(short);
        assert_eq!(
            ending(&rs, &year()),
            vec![d4_wash(), d4_health("2024-07-20")]
        );
        rs.pop();
        // An open-ended follow-up never ends.
        rs.push(during(follow_up, "2024-07-16", None));
        assert_eq!(ending(&rs, &year()), vec![d4_wash()]);
        // Closed work has ended by today: coverage has lapsed while the need runs on.
        rs[0].status = ActivityStatus::Closed;
        let lapsed = ending(&rs, &year());
        assert_eq!(lapsed[0], (format!("{D2}10:11"), Some(d("2024-06-01"))));
        let g = gaps(&year(), &rs, &ns, &settings);
        let g = g
            .iter()
            .find(|g| g.kind == GapKind::Ending && g.area == path(D2));
        assert!(
            (g.unwrap().priority - 301f64.log10()).abs() < 1e-9,
            "time factor 1"
        );
        // Coverage to the end of the period is no gap: the need is stated until then. With an
        // open-ended period the need runs on, and the same coverage is ending.
        let november = GapSettings::new(d("2024-11-15"));
        let from_2024 = period("2024-01-01", None);
        let ends = |p: &Period| -> BTreeSet<String> {
            gaps(p, &rs, &ns, &november)
                .iter()
                .filter(|g| g.kind == GapKind::Ending)
                .map(|g| format!("{}{}", g.area, g.sector.key()))
                .collect()
        };
        assert!(!ends(&year()).contains(&format!("{D3}10:11")));
        assert!(ends(&from_2024).contains(&format!("{D3}10:11")));
        // A period already over has nothing ending.
        let past = GapSettings::new(d("2025-06-01"));
        assert!(
            gaps(&year(), &rs, &ns, &past)
                .iter()
                .all(|g| g.kind != GapKind::Ending)
        );
    }

    #[test]
    fn gaps_on_intersectoral_cells_and_unknown_severity() {
        let ns = [
            need(D1, None, 2_000, sev(4)),
            need(D1, Some(WSH), 1_500, None),
            need(D2, None, 100, None),
        ];
        let rs = [
            rec(1, 1, D1, Some(600)),
            in_sector(rec(2, 2, D1, Some(500)), HEA),
            in_sector(rec(3, 3, D2, Some(90)), HEA),
        ];
        let found = gaps(&year(), &rs, &ns, &GapSettings::new(d("2024-06-01")));
        use GapKind::*;
        assert_eq!(
            rows(&found),
            expect(&[
                (
                    D1,
                    NeedSector::Intersectoral,
                    UnderCovered,
                    1_400,
                    600,
                    None
                ),
                (D1, sector(WSH), UnderCovered, 900, 600, None),
            ])
        );
        assert!(
            (found[1].priority - 0.5 * 901f64.log10()).abs() < 1e-9,
            "unknown: 2"
        );
        assert_eq!(actors(&found[0]), vec![(3, 90, vec![D2])]);
        // No intervention at all, but no severity to say UNCOVERED: under-covered.
        let found = gaps(&year(), &[], &ns[1..2], &GapSettings::new(d("2024-06-01")));
        assert_eq!(
            rows(&found),
            expect(&[(D1, sector(WSH), UnderCovered, 1_500, 0, None)])
        );
    }

    #[test]
    fn candidates_are_live_next_door_and_a_country_has_none() {
        let ns = [
            need(D1, Some(WSH), 1_000, sev(4)),
            need("/ET/", Some(WSH), 5_000, sev(4)),
        ];
        let mut closed = rec(1, 1, D2, Some(300));
        closed.status = ActivityStatus::Closed;
        let not_yet = during(rec(2, 2, D2, Some(300)), "2024-09-01", Some("2024-12-31"));
        let cousin = rec(3, 3, "/ET/ET02/ET0201/", Some(300));
        let multi = {
            let mut r = rec(4, 4, D2, Some(1_000));
            r.locations = vec![(path(D2), Some(200)), (path(D3), Some(800))];
            r
        };
        let rs = [closed, not_yet, cousin, multi];
        let found = gaps(&year(), &rs, &ns, &GapSettings::new(d("2024-06-01")));
        let d1 = found.iter().find(|g| g.area == path(D1)).unwrap();
        assert_eq!(actors(d1), vec![(4, 1_000, vec![D2, D3]), (2, 0, vec![D2])]);
        let country = found.iter().find(|g| g.area == path("/ET/")).unwrap();
        assert!(country.candidates.is_empty());
    }

    #[test]
    fn a_stored_record_becomes_a_coverage_intervention() {
        use crate::intervention::{
            InterventionInput, LocationInput, NewIntervention, ParticipationInput, SectorShareInput,
        };
        use crate::population::PopulationInput;
        let input = InterventionInput {
            external_id: "XM-DAC-1-7".into(),
            title: "Water".into(),
            reporting_organisation: OrganisationId(1),
            participants: vec![ParticipationInput {
                organisation: OrganisationId(2),
                role: "4".into(),
                activity_id: Some("NGO-7".into()),
            }],
            sectors: vec![SectorShareInput {
                vocabulary: None,
                code: "WSH".into(),
                percentage: None,
            }],
            locations: vec![LocationInput {
                pcode: "ET0101".into(),
                target: Some(40),
                site: None,
            }],
            planned_start: Some(d("2024-01-01")),
            planned_end: Some(d("2024-12-31")),
            status: "2".into(),
            kind: "RESPONSE".into(),
            approach: "PROTECTION".into(),
            target: Some(PopulationInput {
                total: 100,
                ..Default::default()
            }),
            ..Default::default()
        };
        let record = NewIntervention::parse(&input).unwrap();
        let stored = Intervention {
            id: InterventionId(9),
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            record,
        };
        let paths = HashMap::from([(Pcode::parse("ET0101").unwrap(), path(D1))]);
        let c = coverage_intervention_of(&stored, &paths, Some(12)).unwrap();
        assert_eq!(c.sectors, vec![cluster("11")]);
        assert_eq!(c.locations, vec![(path(D1), Some(40))]);
        assert_eq!((c.target, c.reached), (Some(100), Some(12)));
        assert_eq!(
            (c.own_ids, c.linked_ids),
            (vec!["XM-DAC-1-7".to_owned()], vec!["NGO-7".to_owned()])
        );
        assert!(!c.implementing, "the funder names its implementer");
    }

    // -----------------------------------------------------------------------------------
    // The index against a direct reading of the rules
    // -----------------------------------------------------------------------------------

    fn areas_of_test_tree() -> Vec<AreaPath> {
        let mut out = vec![path("/ET/"), path("/SO/"), path("/SO/SO01/")];
        for p in 1..=3 {
            out.push(path(&format!("/ET/ET0{p}/")));
            for d in 1..=3 {
                out.push(path(&format!("/ET/ET0{p}/ET0{p}0{d}/")));
            }
        }
        out
    }

    fn random_case(seed: u64) -> (Vec<CoverageIntervention>, Vec<NeedFigure>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let areas = areas_of_test_tree();
        let codes = [
            cluster("11"),
            cluster("7"),
            cluster("10"),
            cluster("5404"),
            dac5("14030"),
            dac5("12220"),
            dac5("99999"),
            (SectorVocabulary::Dac3, "140".to_owned()),
        ];
        let periods = [
            year(),
            period("2024-01-01", Some("2024-06-30")),
            period("2023-01-01", Some("2023-12-31")),
            period("2024-03-01", None),
        ];
        let mut out: Vec<CoverageIntervention> = Vec::new();
        for id in 1..=150i64 {
            let mut r = rec(id, rng.random_range(1..=8), D1, None);
            r.status = ActivityStatus::ALL[rng.random_range(0..ActivityStatus::ALL.len())];
            r.period = periods[rng.random_range(0..periods.len())];
            r.sectors = (0..rng.random_range(0..=2))
                .map(|_| codes[rng.random_range(0..codes.len())].clone())
                .collect();
            r.locations = (0..rng.random_range(1..=3))
                .map(|_| {
                    let area = areas[rng.random_range(0..areas.len())].clone();
                    (area, rng.random_bool(0.3).then(|| rng.random_range(0..300)))
                })
                .collect();
            let located: u64 = r.locations.iter().filter_map(|l| l.1).sum();
            r.target = rng
                .random_bool(0.8)
                .then(|| located + rng.random_range(0..2_000));
            r.reached = rng.random_bool(0.6).then(|| rng.random_range(0..1_500));
            r.implementing = rng.random_bool(0.7);
            r.disjoint = rng.random_bool(0.15);
            if id > 1 && rng.random_bool(0.15) {
                let other = rng.random_range(1..id);
                r.linked_ids = vec![format!(
                    " xm-{}-{other} ",
                    out[other as usize - 1].organisation.0
                )];
            }
            out.push(r);
        }
        let mut needs = Vec::new();
        for area in &areas {
            for code in [None, Some("11"), Some("7"), Some("10"), Some("5404")] {
                if rng.random_bool(0.6) {
                    let mut n = need(area.as_str(), code, rng.random_range(0..3_000), None);
                    n.period = periods[rng.random_range(0..periods.len())];
                    needs.push(n);
                }
            }
        }
        (out, needs)
    }

    /// The rules read directly, record by record, with no index.
    fn naive(
        area: &AreaPath,
        cell: Option<&(SectorVocabulary, String)>,
        p: &Period,
        rs: &[CoverageIntervention],
        ns: &[NeedFigure],
        tree: &[AreaPath],
    ) -> (f64, f64, u32, BTreeSet<i64>) {
        let counted: Vec<&CoverageIntervention> = rs
            .iter()
            .filter(|r| r.status != ActivityStatus::Cancelled && r.period.intersects(p))
            .collect();
        let n = counted.len();
        let mut group: Vec<usize> = (0..n).collect();
        let linked = |a: &CoverageIntervention, b: &CoverageIntervention| {
            a.linked_ids.iter().any(|l| {
                b.own_ids
                    .iter()
                    .any(|o| l.trim().eq_ignore_ascii_case(o.trim()))
            })
        };
        for i in 0..n {
            for j in 0..n {
                if i != j && linked(counted[i], counted[j]) {
                    let (gi, gj) = (group[i], group[j]);
                    for g in &mut group {
                        if *g == gi {
                            *g = gj;
                        }
                    }
                }
            }
        }
        let in_chain = |i: usize| (0..n).any(|j| j != i && group[j] == group[i]);
        let kept: Vec<&CoverageIntervention> = (0..n)
            .filter(|&i| {
                if !in_chain(i) {
                    return true;
                }
                let members: Vec<usize> = (0..n).filter(|&j| group[j] == group[i]).collect();
                if members.iter().any(|&j| counted[j].implementing) {
                    return counted[i].implementing;
                }
                let best = members
                    .iter()
                    .min_by_key(|&&j| (counted[j].reached.is_none(), counted[j].id))
                    .unwrap();
                *best == i
            })
            .map(|i| counted[i])
            .collect();
        let pin = |a: &AreaPath, key: Option<&(SectorVocabulary, String)>| {
            ns.iter()
                .filter(|f| {
                    &f.area == a && f.period.intersects(p) && need_key(&f.sector).as_ref() == key
                })
                .map(|f| f.people_in_need)
                .max()
        };
        // Shares of (target, reach) per location, for the cells of `key`.
        let shares = |r: &CoverageIntervention, key: Option<&(SectorVocabulary, String)>| {
            let mut locs: Vec<(AreaPath, Option<u64>)> = Vec::new();
            for (a, t) in &r.locations {
                match locs.iter_mut().find(|(b, _)| b == a) {
                    Some((_, old)) => {
                        *old = if old.is_none() && t.is_none() {
                            None
                        } else {
                            Some(old.unwrap_or(0) + t.unwrap_or(0))
                        }
                    }
                    None => locs.push((a.clone(), *t)),
                }
            }
            let weights = |sel: &dyn Fn(Option<u64>) -> bool| -> Vec<f64> {
                let chosen: Vec<bool> = locs.iter().map(|(_, t)| sel(*t)).collect();
                let figures: Vec<Option<u64>> = locs
                    .iter()
                    .map(|(a, _)| {
                        if key.is_some_and(|k| k.1.is_empty()) {
                            None
                        } else {
                            pin(a, key)
                        }
                    })
                    .collect();
                let all_known = locs
                    .iter()
                    .zip(&chosen)
                    .zip(&figures)
                    .all(|((_, c), f)| !c || f.is_some());
                let total: f64 = chosen
                    .iter()
                    .zip(&figures)
                    .filter(|(c, _)| **c)
                    .map(|(_, f)| f.unwrap_or(0) as f64)
                    .sum();
                let count = chosen.iter().filter(|c| **c).count() as f64;
                chosen
                    .iter()
                    .zip(&figures)
                    .map(|(c, f)| match (c, all_known && total > 0.0) {
                        (false, _) => 0.0,
                        (true, true) => f.unwrap() as f64 / total,
                        (true, false) => 1.0 / count,
                    })
                    .collect()
            };
            let located: u64 = locs.iter().filter_map(|(_, t)| *t).sum();
            let rest = r.target.map_or(0, |t| t.saturating_sub(located)) as f64;
            let w = weights(&|t: Option<u64>| t.is_none());
            let targets: Vec<f64> = locs
                .iter()
                .zip(&w)
                .map(|((_, t), w)| t.map_or(rest * w, |t| t as f64))
                .collect();
            let total: f64 = targets.iter().sum();
            let reached = r.reached.unwrap_or(0) as f64;
            let reach: Vec<f64> = if total > 0.0 {
                targets.iter().map(|t| reached * t / total).collect()
            } else {
                weights(&|_| true).iter().map(|w| reached * w).collect()
            };
            locs.into_iter()
                .zip(targets.into_iter().zip(reach))
                .map(|((a, _), s)| (a, s))
                .collect::<Vec<_>>()
        };
        let within =
            |r: &CoverageIntervention, key: Option<&(SectorVocabulary, String)>, a: &AreaPath| {
                shares(r, key)
                    .into_iter()
                    .filter(|(l, _)| a.is_ancestor_or_self_of(l))
                    .fold((0.0, 0.0), |acc, (_, s)| (acc.0 + s.0, acc.1 + s.1))
            };
        let keys_of = |r: &CoverageIntervention| -> Vec<(SectorVocabulary, String)> {
            if r.sectors.is_empty() {
                return vec![(SectorVocabulary::Cluster, String::new())];
            }
            let mut keys: Vec<_> = r
                .sectors
                .iter()
                .flat_map(|(v, c)| counted_in(*v, c))
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        let here: Vec<&CoverageIntervention> = kept
            .iter()
            .copied()
            .filter(|r| {
                r.locations
                    .iter()
                    .any(|(l, _)| area.is_ancestor_or_self_of(l))
            })
            .filter(|r| cell.is_none_or(|k| keys_of(r).contains(k)))
            .collect();
        let orgs: BTreeSet<i64> = here.iter().map(|r| r.organisation.0).collect();
        let count = here.len() as u32;
        if let Some(key) = cell {
            let (t, re) = here
                .iter()
                .map(|r| within(r, Some(key), area))
                .fold((0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1));
            return (t, re, count, orgs);
        }
        // N(A) = max(highest sector, sum of children's N), then the disjoint records.
        fn n_of(
            a: &AreaPath,
            tree: &[AreaPath],
            sector_sum: &dyn Fn(&AreaPath) -> (f64, f64),
        ) -> (f64, f64) {
            let below = tree
                .iter()
                .filter(|c| a.is_ancestor_or_self_of(c) && c.depth() == a.depth() + 1)
                .map(|c| n_of(c, tree, sector_sum))
                .fold((0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1));
            let own = sector_sum(a);
            (own.0.max(below.0), own.1.max(below.1))
        }
        let all_keys: BTreeSet<(SectorVocabulary, String)> =
            kept.iter().flat_map(|r| keys_of(r)).collect();
        let highest = |a: &AreaPath| {
            all_keys
                .iter()
                .map(|k| {
                    kept.iter()
                        .filter(|r| !r.disjoint && keys_of(r).contains(k))
                        .map(|r| within(r, Some(k), a))
                        .fold((0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
                })
                .fold((0.0f64, 0.0f64), |x, y| (x.0.max(y.0), x.1.max(y.1)))
        };
        let (nt, nr) = n_of(area, tree, &highest);
        let (dt, dr) = here
            .iter()
            .filter(|r| r.disjoint)
            .map(|r| within(r, None, area))
            .fold((0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1));
        (nt + dt, nr + dr, count, orgs)
    }

    #[test]
    fn the_index_agrees_with_the_rules_read_directly() {
        let tree = areas_of_test_tree();
        let cells: [Option<(SectorVocabulary, String)>; 7] = [
            None,
            Some(cluster("11")),
            Some(cluster("7")),
            Some(cluster("10")),
            Some(cluster("5404")),
            Some((SectorVocabulary::Dac3, "140".to_owned())),
            Some(dac5("99999")),
        ];
        let mut nonzero = 0;
        for seed in 0..12 {
            let (rs, ns) = random_case(seed);
            let p = [year(), period("2024-05-01", Some("2024-05-31"))][seed as usize % 2];
            let mut by_cell: BTreeMap<(String, String), CoverageCell> = BTreeMap::new();
            for key in &cells {
                let s = key
                    .clone()
                    .map_or(NeedSector::Intersectoral, |(vocabulary, code)| {
                        NeedSector::Sector { vocabulary, code }
                    });
                let rows = coverage_by_child(&tree, &s, &p, &rs, &ns);
                for (area, row) in tree.iter().zip(rows) {
                    let (t, r, count, orgs) = naive(area, key.as_ref(), &p, &rs, &ns, &tree);
                    let what = format!("seed {seed} {area} {}", s.key());
                    assert!(
                        (row.targeted as f64 - t).abs() <= 1.0,
                        "{what}: {} {t}",
                        row.targeted
                    );
                    assert!(
                        (row.reached as f64 - r).abs() <= 1.0,
                        "{what}: {} {r}",
                        row.reached
                    );
                    assert_eq!(row.interventions, count, "{what}");
                    let ids: BTreeSet<i64> = row.organisations.iter().map(|o| o.0).collect();
                    assert_eq!(ids, orgs, "{what}");
                    nonzero += usize::from(row.targeted > 0);
                    assert_eq!(row, coverage(area, &s, &p, &rs, &ns), "{what}");
                    by_cell.insert((area.to_string(), s.key()), row);
                }
            }
            for cell in need_cells(&p, &rs, &ns) {
                assert_eq!(
                    by_cell.get(&(cell.area.to_string(), cell.sector.key())),
                    Some(&cell)
                );
            }
        }
        assert!(nonzero > 300, "{nonzero}");
    }

    // -----------------------------------------------------------------------------------
    // Timing at a million interventions
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

    /// The overlap benchmark's registry: 2,000 districts under 200 provinces in five
    /// countries (Zipf-skewed, hot spots scattered), 15% of records at province level, 15
    /// sectors (clusters and the DAC codes donors use for the same work), starts over
    /// 2023-2025, 1 to 12 months long (5% open), 500 organisations (Zipf), 10% closed or
    /// cancelled, 3% linked to another record, 10% with two locations; and needs for every
    /// district and province in 15 sectors (the 11 clusters and 4 AoRs) and intersectoral.
    fn million(n: usize) -> (Vec<CoverageIntervention>, Vec<NeedFigure>) {
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
        for i in (1..admin2.len()).rev() {
            admin2.swap(i, rng.random_range(0..=i));
        }
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
        let interventions = (0..n)
            .map(|i| {
                let (area, province) = &admin2[area_pick.pick(&mut rng)];
                let locations = if rng.random_bool(0.15) {
                    vec![(admin1[*province].clone(), None)]
                } else if rng.random_bool(0.1) {
                    let (other, _) = &admin2[area_pick.pick(&mut rng)];
                    vec![(area.clone(), None), (other.clone(), None)]
                } else {
                    vec![(area.clone(), None)]
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
                let linked = rng.random_bool(0.03) && i > 0;
                CoverageIntervention {
                    id: InterventionId(i as i64),
                    organisation: OrganisationId(org),
                    status,
                    period: Period::new("p", start, end).unwrap(),
                    sectors: vec![sectors[sector_pick.pick(&mut rng)].clone()],
                    locations,
                    target: Some(rng.random_range(100..20_000)),
                    reached: rng.random_bool(0.5).then(|| rng.random_range(0..10_000)),
                    own_ids: vec![format!("XM-{org}-{i}")],
                    linked_ids: if linked {
                        let j = rng.random_range(0..i);
                        vec![format!("XM-{}-{j}", orgs[j])]
                    } else {
                        Vec::new()
                    },
                    implementing: !linked || rng.random_bool(0.5),
                    disjoint: rng.random_bool(0.05),
                }
            })
            .collect();
        let need_sectors: Vec<Option<&str>> = [None]
            .into_iter()
            .chain(
                [
                    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "5403", "5404",
                    "5405", "5406",
                ]
                .map(Some),
            )
            .collect();
        let mut needs = Vec::new();
        let areas = admin2.iter().map(|(a, _)| a).chain(&admin1);
        for area in areas {
            for code in &need_sectors {
                let mut n = need(area.as_str(), *code, rng.random_range(0..200_000), None);
                n.severity = rng
                    .random_bool(0.9)
                    .then(|| sev(rng.random_range(1..=5)).unwrap());
                needs.push(n);
            }
        }
        (interventions, needs)
    }

    #[test]
    #[ignore = "timing: cargo test --release -p concord-domain --lib coverage -- --ignored --nocapture"]
    fn gaps_at_a_million_interventions() {
        let n = std::env::var("COVERAGE_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let started = Instant::now();
        let (interventions, needs) = million(n);
        println!(
            "generated {} interventions and {} needs in {:?}",
            interventions.len(),
            needs.len(),
            started.elapsed()
        );
        let settings = GapSettings::new(d("2024-06-15"));
        let mut runs = Vec::new();
        let mut found = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            found = gaps(&year(), &interventions, &needs, &settings);
            runs.push(started.elapsed());
        }
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for g in &found {
            *kinds.entry(g.kind.code()).or_default() += 1;
        }
        let candidates: usize = found.iter().map(|g| g.candidates.len()).sum();
        println!(
            "gaps over {} cells: {runs:?} (best {:?}); {} gaps {kinds:?}, {candidates} candidates",
            needs.len(),
            runs.iter().min().unwrap(),
            found.len(),
        );
        let started = Instant::now();
        let cells = need_cells(&year(), &interventions, &needs);
        println!(
            "need_cells: {} cells in {:?}",
            cells.len(),
            started.elapsed()
        );
        let started = Instant::now();
        let district = coverage(
            &admin_one(&found),
            &NeedSector::Intersectoral,
            &year(),
            &interventions,
            &needs,
        );
        println!(
            "coverage of one province: {:?} ({} interventions)",
            started.elapsed(),
            district.interventions
        );
        assert!(found.windows(2).all(|w| w[0].priority >= w[1].priority));
    }

    fn admin_one(found: &[Gap]) -> AreaPath {
        found
            .iter()
            .find(|g| g.area.depth() == 1)
            .map_or_else(|| path("/ET/ET00/"), |g| g.area.clone())
    }
}
