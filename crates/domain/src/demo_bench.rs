//! The benchmark profile of the demo generator: one large synthetic country, many
//! organisations and Zipf-skewed activity, to measure the overlap engine and the store at
//! 10,000 to 1,000,000 interventions.
//!
//! The shape follows the benchmark the overlap issue asks for: 15 sectors, 200 admin-1 and
//! 2,000 admin-2 areas (about 15% of interventions located at an admin-1 only), 500
//! organisations, areas, sectors and organisations drawn Zipf-skewed (a few hot districts,
//! sectors and big reporters take most of the work, as in every real response), and dates
//! over three years. Like [`crate::demo`], it is pure and deterministic: everything comes
//! from ChaCha8 seeded by the caller, and interventions come out of an iterator one at a
//! time, so a million of them never need to be held in memory.
//!
//! The country is Sudan's code space (`SD`), with synthetic states (`SD001`..`SD200`) and
//! localities (`SD00101`..), because a real COD has neither 200 admin-1 areas nor the
//! round numbers a benchmark wants. Statuses are drawn independently of dates, as in
//! registries where records are not closed on time, so live work is spread over the three
//! years rather than piled onto one day.

use std::collections::HashMap;

use chrono::{Days, Months, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::area::{AdminLevel, AreaPath, NewArea, Pcode};
use crate::demo;
use crate::intervention::{
    BudgetInput, InterventionInput, LocationInput, ParticipationInput, SectorShareInput,
};
use crate::need::NeedInput;
use crate::organisation::{OrganisationId, OrganisationInput};
use crate::population::PopulationInput;
use crate::values::{ActivityStatus, Approach, InterventionKind};

/// ISO alpha-2 of the synthetic country.
pub const COUNTRY: &str = "SD";
const COUNTRY_NAME: &str = "Sudan";
/// Number of admin-1 areas (states).
pub const ADMIN1: usize = 200;
/// Number of admin-2 areas (localities), 7 to 13 per state.
pub const ADMIN2: usize = 2_000;
/// Number of organisations.
pub const ORGANISATIONS: usize = 500;
/// Share of interventions located at admin-1 level only.
pub const ADMIN1_SHARE: f64 = 0.15;

/// Zipf exponents: weight of the item of rank `r` (from 1) is `1 / r^s`. Localities are
/// skewed less than sectors and reporters: with 2,000 of them, `s = 1` would put an eighth
/// of a country's work in a single locality.
const AREA_EXPONENT: f64 = 0.7;
const SECTOR_EXPONENT: f64 = 1.0;
const ORGANISATION_EXPONENT: f64 = 0.9;

/// The first and last planned start: three years of a response.
const FIRST_START: NaiveDate = date(2023, 1, 1);
const LAST_START: NaiveDate = date(2025, 12, 31);

/// Seeds of the fixed shuffles that decide which areas and funders are the hot ones: part
/// of the profile, not of the caller's seed, so every seed describes the same country.
const AREA_SHUFFLE: u64 = 0x5D_2023;
const FUNDER_SHUFFLE: u64 = 0x5D_F00D;

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

// ---------------------------------------------------------------------------------------
// Geography
// ---------------------------------------------------------------------------------------

fn admin1_pcode(state: usize) -> String {
    format!("{COUNTRY}{:03}", state + 1)
}

fn admin2_pcode(state: usize, locality: usize) -> String {
    format!("{}{:02}", admin1_pcode(state), locality + 1)
}

/// Localities per state: 10 on average, 7 to 13, in mirrored pairs so the total is exact.
fn localities(state: usize) -> usize {
    let pair = state.min(ADMIN1 - 1 - state);
    let offset = (pair % 7) as i64 - 3;
    let n = if state < ADMIN1 / 2 {
        10 + offset
    } else {
        10 - offset
    };
    n as usize
}

/// The country, its 200 states and 2,000 localities, parents first.
pub fn country() -> Vec<NewArea> {
    let country = Pcode::parse(COUNTRY).expect("SD is a well-formed P-code");
    let admin1 = AdminLevel::new(1).expect("1 is an admin level");
    let admin2 = AdminLevel::new(2).expect("2 is an admin level");
    let mut areas = Vec::with_capacity(1 + ADMIN1 + ADMIN2);
    areas.push(
        NewArea::new(
            country.clone(),
            COUNTRY_NAME,
            AdminLevel::COUNTRY,
            None,
            COUNTRY,
            None,
        )
        .expect("Sudan is a valid level-0 area"),
    );
    let states: Vec<Pcode> = (0..ADMIN1)
        .map(|s| Pcode::parse(&admin1_pcode(s)).expect("state P-codes are well-formed"))
        .collect();
    for (s, pcode) in states.iter().enumerate() {
        areas.push(
            NewArea::new(
                pcode.clone(),
                &format!("State {:03}", s + 1),
                admin1,
                Some((&country, AdminLevel::COUNTRY)),
                COUNTRY,
                None,
            )
            .expect("states nest under the country"),
        );
    }
    for (s, parent) in states.iter().enumerate() {
        for l in 0..localities(s) {
            let pcode =
                Pcode::parse(&admin2_pcode(s, l)).expect("locality P-codes are well-formed");
            areas.push(
                NewArea::new(
                    pcode,
                    &format!("Locality {:03}-{:02}", s + 1, l + 1),
                    admin2,
                    Some((parent, admin1)),
                    COUNTRY,
                    None,
                )
                .expect("localities nest under their state"),
            );
        }
    }
    areas
}

/// The materialised path of every area of a parents-first list, as the store computes it
/// on import: what the engine needs when candidates are built without a database.
pub fn area_paths(areas: &[NewArea]) -> HashMap<Pcode, AreaPath> {
    let mut paths: HashMap<Pcode, AreaPath> = HashMap::with_capacity(areas.len());
    for area in areas {
        let path = match area.parent.as_ref().and_then(|p| paths.get(p)) {
            Some(parent) => parent.child(&area.pcode),
            None => AreaPath::root(&area.pcode),
        };
        paths.insert(area.pcode.clone(), path);
    }
    paths
}

// ---------------------------------------------------------------------------------------
// Organisations
// ---------------------------------------------------------------------------------------

/// (IATI OrganisationType, level, share of the synthetic organisations, IATI registration
/// agency or "" when this kind seldom has an identifier, based in the country).
#[rustfmt::skip]
const SYNTHETIC_CLASSES: &[(&str, &str, u32, &str, bool)] = &[
    ("21", "INTERNATIONAL", 14, "XI-IATI", false),
    ("22", "NATIONAL", 38, "SD-HAC", true),
    ("23", "REGIONAL", 5, "XI-IATI", false),
    ("24", "LOCAL", 25, "", true),
    ("10", "NATIONAL", 3, "", true),
    ("11", "LOCAL", 5, "", true),
    ("90", "NATIONAL", 2, "", true),
    ("80", "NATIONAL", 4, "", true),
    ("72", "NATIONAL", 4, "", true),
];

const NAME_STEMS: [&str; 24] = [
    "Al-Amal",
    "Nile",
    "Blue Nile",
    "White Nile",
    "Darfur",
    "Kordofan",
    "Sahel",
    "Red Sea",
    "Butana",
    "Jebel Marra",
    "Sennar",
    "Gezira",
    "Kassala",
    "Al-Salam",
    "Al-Nour",
    "Tawila",
    "Nuba Mountains",
    "Atbara",
    "Dongola",
    "Al-Fashir",
    "Nyala",
    "Kosti",
    "Gedaref",
    "Abyei",
];

const NAME_KINDS: [&str; 20] = [
    "Relief Organization",
    "Development Association",
    "Women's Union",
    "Youth Network",
    "Health Initiative",
    "Water Committee",
    "Peace Forum",
    "Farmers' Cooperative",
    "Community Foundation",
    "Aid Society",
    "Pastoralist Union",
    "Education Trust",
    "Humanitarian Network",
    "Rural Development Agency",
    "Child Welfare Society",
    "Recovery Partnership",
    "Livelihoods Alliance",
    "Protection Collective",
    "Care Association",
    "Emergency Response Team",
];

/// 500 organisations: the demo's real-named international and Ethiopian actors first (the
/// biggest reporters, as UN agencies and INGOs are), then synthetic ones of every type and
/// level, about half with IATI identifiers, all names and identifiers unique.
pub fn organisations() -> Vec<OrganisationInput> {
    let mut out: Vec<OrganisationInput> = demo::organisations();
    out.truncate(ORGANISATIONS);
    let total_share: u32 = SYNTHETIC_CLASSES.iter().map(|c| c.2).sum();
    let mut n = 0usize;
    while out.len() < ORGANISATIONS {
        // Deal the classes in proportion, interleaved, so any prefix of the list is mixed.
        let slot = (n as u32 * 37) % total_share;
        let mut acc = 0;
        let class = SYNTHETIC_CLASSES
            .iter()
            .find(|c| {
                acc += c.2;
                slot < acc
            })
            .unwrap_or(&SYNTHETIC_CLASSES[0]);
        let (kind_type, level, _, agency, local) = *class;
        let stem = NAME_STEMS[n % NAME_STEMS.len()];
        let kind = NAME_KINDS[(n / NAME_STEMS.len()) % NAME_KINDS.len()];
        let round = n / (NAME_STEMS.len() * NAME_KINDS.len());
        let name = if round == 0 {
            format!("{stem} {kind}")
        } else {
            format!("{stem} {kind} {}", round + 1)
        };
        let iati_identifier =
            (!agency.is_empty() && n % 5 != 4).then(|| format!("{agency}-B{:04}", n + 1));
        out.push(OrganisationInput {
            acronym: None,
            iati_identifier,
            organisation_type: kind_type.to_owned(),
            level: level.to_owned(),
            country: Some(if local { COUNTRY } else { "KE" }.to_owned()),
            name,
        });
        n += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Sectors
// ---------------------------------------------------------------------------------------

struct SectorSpec {
    /// IATI sector vocabulary: "10" clusters, "1" DAC 5-digit.
    vocabulary: &'static str,
    code: &'static str,
    /// The sector a record sometimes reports beside this one (a cluster and a DAC code
    /// under it, or an area of responsibility and its cluster), by index in `SECTORS`.
    companion: usize,
    activities: [&'static str; 3],
}

/// Fifteen sectors, in Zipf rank order: seven clusters and eight DAC codes that map to
/// them in the crosswalk, so the engine has both same-code and same-cluster matches.
#[rustfmt::skip]
const SECTORS: [SectorSpec; 15] = [
    SectorSpec { vocabulary: "10", code: "6", companion: 1, activities: ["Food security programme", "Livelihood support", "Seeds and tools distribution"] },
    SectorSpec { vocabulary: "1", code: "72040", companion: 0, activities: ["Emergency food distribution", "Cash for food", "Ready-to-eat rations"] },
    SectorSpec { vocabulary: "10", code: "11", companion: 3, activities: ["Water trucking", "Hygiene promotion", "Latrine construction"] },
    SectorSpec { vocabulary: "1", code: "14031", companion: 2, activities: ["Borehole rehabilitation", "Water point repair", "Water network extension"] },
    SectorSpec { vocabulary: "10", code: "7", companion: 5, activities: ["Mobile health clinics", "Outbreak response", "Primary health care support"] },
    SectorSpec { vocabulary: "1", code: "12220", companion: 4, activities: ["Health facility support", "Essential medicines supply", "Community health workers"] },
    SectorSpec { vocabulary: "10", code: "9", companion: 7, activities: ["Malnutrition screening", "Supplementary feeding", "Infant feeding counselling"] },
    SectorSpec { vocabulary: "1", code: "12240", companion: 6, activities: ["Treatment of acute malnutrition", "Micronutrient supplementation", "Nutrition surveillance"] },
    SectorSpec { vocabulary: "10", code: "4", companion: 9, activities: ["Emergency shelter kits", "Shelter repair", "Transitional shelter"] },
    SectorSpec { vocabulary: "1", code: "72010", companion: 8, activities: ["Non-food item distribution", "Relief item kits", "Winterisation kits"] },
    SectorSpec { vocabulary: "10", code: "3", companion: 11, activities: ["Temporary learning spaces", "Teacher incentives", "Learning materials"] },
    SectorSpec { vocabulary: "1", code: "72012", companion: 10, activities: ["Education in emergencies", "Accelerated learning", "School feeding"] },
    SectorSpec { vocabulary: "10", code: "10", companion: 13, activities: ["Protection monitoring", "Legal aid", "Community-based protection"] },
    SectorSpec { vocabulary: "1", code: "15160", companion: 12, activities: ["Civil documentation", "Human rights monitoring", "Protection desks"] },
    SectorSpec { vocabulary: "10", code: "5404", companion: 12, activities: ["GBV case management", "Women and girls safe spaces", "Dignity kits"] },
];

/// The year the benchmark's needs are stated for: the middle of the three years of work.
pub const NEEDS_YEAR: i32 = 2024;

/// Needs for every locality in `NEEDS_YEAR`: the intersectoral figure and one per cluster
/// of the profile, with people in need and a JIAF severity drawn from `seed`. About a fifth
/// of the cells are graded severe (3 or more), as in a crisis-wide HNO.
pub fn needs(seed: u64) -> Vec<NeedInput> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4EED);
    let clusters: Vec<&str> = SECTORS
        .iter()
        .filter(|s| s.vocabulary == "10")
        .map(|s| s.code)
        .collect();
    let (start, end) = (date(NEEDS_YEAR, 1, 1), date(NEEDS_YEAR, 12, 31));
    let mut out = Vec::new();
    for s in 0..ADMIN1 {
        for l in 0..localities(s) {
            let pcode = admin2_pcode(s, l);
            let population: i64 = rng.random_range(20_000..400_000);
            let intersectoral = population * rng.random_range(10..60) / 100;
            let sectors = std::iter::once(None).chain(clusters.iter().map(|c| Some(*c)));
            for sector in sectors {
                let people_in_need = match sector {
                    None => intersectoral,
                    Some(_) => intersectoral * rng.random_range(20..100) / 100,
                };
                let severity = if rng.random_bool(0.2) {
                    rng.random_range(3..=5)
                } else {
                    rng.random_range(1..=2)
                };
                out.push(NeedInput {
                    pcode: pcode.clone(),
                    sector: sector.map(str::to_owned),
                    period_start: start,
                    period_end: end,
                    people_in_need,
                    bands: Vec::new(),
                    severity: Some(severity),
                    source: Some("benchmark profile".to_owned()),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Random helpers
// ---------------------------------------------------------------------------------------

/// A cumulative weight table: one draw and a binary search per pick.
struct Weights(Vec<f64>);

impl Weights {
    fn zipf(n: usize, exponent: f64) -> Self {
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
        let total = self.0.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.0.partition_point(|&c| c <= x).min(self.0.len() - 1)
    }
}

fn pick_from<T: Copy>(rng: &mut ChaCha8Rng, table: &[(T, f64)]) -> T {
    let total: f64 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(value, weight) in table {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    table[table.len() - 1].0
}

fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days)).unwrap_or(date)
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

// ---------------------------------------------------------------------------------------
// Interventions
// ---------------------------------------------------------------------------------------

/// Live statuses take four fifths, as in a registry that is kept up to date.
#[rustfmt::skip]
const STATUSES: [(ActivityStatus, f64); 6] = [
    (ActivityStatus::Pipeline, 12.0),
    (ActivityStatus::Implementation, 58.0),
    (ActivityStatus::Finalisation, 6.0),
    (ActivityStatus::Suspended, 4.0),
    (ActivityStatus::Closed, 16.0),
    (ActivityStatus::Cancelled, 4.0),
];

/// Durations in months: grant cycles cluster at six and twelve months.
const DURATIONS: [(u32, f64); 7] = [
    (3, 10.0),
    (4, 5.0),
    (6, 25.0),
    (9, 8.0),
    (12, 30.0),
    (18, 12.0),
    (24, 10.0),
];

/// Share of live work without a planned end (ongoing services).
const OPEN_ENDED: f64 = 0.12;

const GROUPS: [(&str, f64); 4] = [("IDP", 5.0), ("HST", 3.0), ("REF", 2.0), ("RET", 1.0)];

struct State {
    pcode: String,
    name: String,
    localities: Vec<usize>,
}

struct Locality {
    pcode: String,
    name: String,
    state: usize,
}

/// Everything a draw reads, computed once.
struct Plan {
    states: Vec<State>,
    localities: Vec<Locality>,
    /// Zipf ranks to areas, through a fixed shuffle so hot localities are spread over states.
    locality_by_rank: Vec<usize>,
    locality_weights: Weights,
    state_by_rank: Vec<usize>,
    state_weights: Weights,
    sector_weights: Weights,
    organisations: Vec<OrganisationId>,
    reporter_weights: Weights,
    /// Funders and partners are ranked differently from reporters (donors fund, they
    /// seldom report), through a fixed shuffle of the organisations.
    funder_by_rank: Vec<usize>,
    funder_weights: Weights,
}

impl Plan {
    fn new(organisation_ids: &[OrganisationId]) -> Self {
        let mut states = Vec::with_capacity(ADMIN1);
        let mut localities = Vec::with_capacity(ADMIN2);
        for s in 0..ADMIN1 {
            let mut own = Vec::new();
            for l in 0..self::localities(s) {
                own.push(localities.len());
                localities.push(Locality {
                    pcode: admin2_pcode(s, l),
                    name: format!("Locality {:03}-{:02}", s + 1, l + 1),
                    state: s,
                });
            }
            states.push(State {
                pcode: admin1_pcode(s),
                name: format!("State {:03}", s + 1),
                localities: own,
            });
        }
        let organisations: Vec<OrganisationId> = organisation_ids
            .iter()
            .copied()
            .take(ORGANISATIONS)
            .collect();
        Self {
            locality_by_rank: shuffled(localities.len(), AREA_SHUFFLE),
            locality_weights: Weights::zipf(localities.len(), AREA_EXPONENT),
            state_by_rank: shuffled(states.len(), AREA_SHUFFLE + 1),
            state_weights: Weights::zipf(states.len(), AREA_EXPONENT),
            sector_weights: Weights::zipf(SECTORS.len(), SECTOR_EXPONENT),
            reporter_weights: Weights::zipf(organisations.len(), ORGANISATION_EXPONENT),
            funder_by_rank: shuffled(organisations.len(), FUNDER_SHUFFLE),
            funder_weights: Weights::zipf(organisations.len(), ORGANISATION_EXPONENT),
            organisations,
            states,
            localities,
        }
    }

    fn funder(&self, rng: &mut ChaCha8Rng, exclude: &[usize]) -> Option<usize> {
        (0..4)
            .map(|_| self.funder_by_rank[self.funder_weights.pick(rng)])
            .find(|o| !exclude.contains(o))
    }
}

/// The benchmark interventions, generated one at a time.
struct BenchInterventions {
    rng: ChaCha8Rng,
    plan: Plan,
    next: u64,
    size: u64,
}

/// `size` interventions reported by the organisations whose stored ids are given, in the
/// order of [`organisations`]; external ids (`SD-BENCH-00000001`, ...) are unique. With no
/// organisation the iterator is empty.
pub fn interventions(
    size: u64,
    seed: u64,
    organisation_ids: &[OrganisationId],
) -> impl Iterator<Item = InterventionInput> + use<> {
    let plan = Plan::new(organisation_ids);
    let size = if plan.organisations.is_empty() {
        0
    } else {
        size
    };
    BenchInterventions {
        rng: ChaCha8Rng::seed_from_u64(seed),
        plan,
        next: 0,
        size,
    }
}

impl Iterator for BenchInterventions {
    type Item = InterventionInput;

    fn next(&mut self) -> Option<InterventionInput> {
        if self.next >= self.size {
            return None;
        }
        self.next += 1;
        Some(self.generate(self.next))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.size - self.next).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl BenchInterventions {
    fn generate(&mut self, number: u64) -> InterventionInput {
        let Self { rng, plan, .. } = self;
        let plan = &*plan;

        let sector = plan.sector_weights.pick(rng);
        let spec = &SECTORS[sector];
        let reporter = plan.reporter_weights.pick(rng);
        let status = pick_from(rng, &STATUSES);

        // Dates: a planned start anywhere in the three years, a grant-cycle duration.
        let span = LAST_START.signed_duration_since(FIRST_START).num_days() as u64;
        let planned_start = add_days(FIRST_START, rng.random_range(0..=span));
        let months = pick_from(rng, &DURATIONS);
        let planned_end = planned_start
            .checked_add_months(Months::new(months))
            .and_then(|d| d.pred_opt())
            .unwrap_or(planned_start);
        let open = status.is_live() && rng.random_bool(OPEN_ENDED);
        let planned_end = (!open).then_some(planned_end);
        let started = matches!(
            status,
            ActivityStatus::Implementation
                | ActivityStatus::Finalisation
                | ActivityStatus::Suspended
                | ActivityStatus::Closed
        );
        let actual_start = started.then(|| add_days(planned_start, rng.random_range(0..30)));
        let actual_end = match (status, actual_start, planned_end) {
            (ActivityStatus::Closed, Some(start), Some(end)) => {
                Some(add_days(end, rng.random_range(0..30)).max(start))
            }
            _ => None,
        };

        // Places: a state for about 15%, otherwise one to three localities of one state.
        let (locations, place) = if rng.random_bool(ADMIN1_SHARE) {
            let state = &plan.states[plan.state_by_rank[plan.state_weights.pick(rng)]];
            (
                vec![LocationInput {
                    pcode: state.pcode.clone(),
                    target: None,
                    site: None,
                }],
                state.name.clone(),
            )
        } else {
            let first = plan.locality_by_rank[plan.locality_weights.pick(rng)];
            let siblings = &plan.states[plan.localities[first].state].localities;
            let count = pick_from(rng, &[(1usize, 70.0), (2, 20.0), (3, 10.0)]);
            let mut chosen = vec![first];
            for _ in 0..count * 2 {
                if chosen.len() >= count {
                    break;
                }
                let other = siblings[rng.random_range(0..siblings.len())];
                if !chosen.contains(&other) {
                    chosen.push(other);
                }
            }
            let place = match chosen.len() {
                1 => plan.localities[first].name.clone(),
                n => format!("{} and {} more", plan.localities[first].name, n - 1),
            };
            (
                chosen
                    .iter()
                    .map(|&l| LocationInput {
                        pcode: plan.localities[l].pcode.clone(),
                        target: None,
                        site: None,
                    })
                    .collect(),
                place,
            )
        };

        let mut sectors = vec![SectorShareInput {
            vocabulary: Some(spec.vocabulary.to_owned()),
            code: spec.code.to_owned(),
            percentage: None,
        }];
        if rng.random_bool(0.25) {
            let companion = &SECTORS[spec.companion];
            sectors.push(SectorShareInput {
                vocabulary: Some(companion.vocabulary.to_owned()),
                code: companion.code.to_owned(),
                percentage: None,
            });
        }

        let mut participants = Vec::new();
        let mut taken = vec![reporter];
        if rng.random_bool(0.5)
            && let Some(funder) = plan.funder(rng, &taken)
        {
            taken.push(funder);
            participants.push(ParticipationInput {
                organisation: plan.organisations[funder],
                role: "1".to_owned(),
                activity_id: None,
            });
        }
        if rng.random_bool(0.3)
            && let Some(partner) = plan.funder(rng, &taken)
        {
            participants.push(ParticipationInput {
                organisation: plan.organisations[partner],
                role: "4".to_owned(),
                activity_id: rng.random_bool(0.2).then(|| format!("SD-IMP-{number:08}")),
            });
        }

        let groups: Vec<String> = if rng.random_bool(0.35) {
            vec![pick_from(rng, &GROUPS).to_owned()]
        } else {
            Vec::new()
        };
        let target = rng.random_bool(0.9).then(|| {
            // Log-uniform between 200 and 100,000 people.
            let total = (rng.random_range(200f64.ln()..100_000f64.ln()))
                .exp()
                .round() as i64;
            PopulationInput {
                total,
                with_disability: None,
                groups: groups.clone(),
                bands: Vec::new(),
            }
        });
        let budget = rng.random_bool(0.6).then(|| BudgetInput {
            amount: (rng.random_range(10_000f64.ln()..5_000_000f64.ln()))
                .exp()
                .round(),
            currency: "USD".to_owned(),
        });

        let activity = spec.activities[rng.random_range(0..spec.activities.len())];
        let title = match groups.first().map(String::as_str) {
            Some("IDP") => format!("{activity} for displaced people in {place}"),
            Some("REF") => format!("{activity} for refugees in {place}"),
            Some("RET") => format!("{activity} for returnees in {place}"),
            Some(_) => format!("{activity} for host communities in {place}"),
            None => format!("{activity} in {place}"),
        };
        let kind = pick_from(
            rng,
            &[
                (InterventionKind::Response, 75.0),
                (InterventionKind::Prevention, 10.0),
                (InterventionKind::Recovery, 15.0),
            ],
        );
        let approach = pick_from(
            rng,
            &[
                (Approach::Protection, 50.0),
                (Approach::Both, 30.0),
                (Approach::Empowerment, 20.0),
            ],
        );

        InterventionInput {
            external_id: format!("{COUNTRY}-BENCH-{number:08}"),
            title,
            description: None,
            reporting_organisation: plan.organisations[reporter],
            participants,
            sectors,
            locations,
            planned_start: Some(planned_start),
            planned_end,
            actual_start,
            actual_end,
            status: status.code().to_owned(),
            kind: kind.code().to_owned(),
            approach: approach.code().to_owned(),
            target,
            budget,
            visibility: None,
            linked_activities: Vec::new(),
            humanitarian: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Datelike;

    use super::*;
    use crate::intervention::NewIntervention;
    use crate::organisation::NewOrganisation;
    use crate::reference::{self, SectorVocabulary};
    use crate::values::ActorLevel;

    #[test]
    fn needs_cover_every_locality_and_cluster_and_parse() {
        let needs = needs(1);
        let clusters = SECTORS.iter().filter(|s| s.vocabulary == "10").count();
        assert_eq!(needs.len(), ADMIN2 * (1 + clusters));
        let localities: HashSet<&str> = needs.iter().map(|n| n.pcode.as_str()).collect();
        assert_eq!(localities.len(), ADMIN2);
        for n in &needs {
            crate::need::NewNeed::parse(n).expect("a generated need parses");
        }
        let severe = needs.iter().filter(|n| n.severity >= Some(3)).count();
        assert!(
            (needs.len() / 6..needs.len() / 4).contains(&severe),
            "{severe}"
        );
        assert_eq!(needs, super::needs(1));
    }

    fn ids() -> Vec<OrganisationId> {
        (1..=ORGANISATIONS as i64).map(OrganisationId).collect()
    }

    #[test]
    fn the_country_has_the_specified_areas_nested_parents_first() {
        let areas = country();
        let level = |l: u8| areas.iter().filter(|a| a.admin_level.get() == l).count();
        assert_eq!((level(0), level(1), level(2)), (1, ADMIN1, ADMIN2));
        let mut seen = HashSet::new();
        for area in &areas {
            if let Some(parent) = &area.parent {
                assert!(seen.contains(parent), "{} before its parent", area.pcode);
            }
            assert!(seen.insert(area.pcode.clone()), "{} twice", area.pcode);
        }
        let paths = area_paths(&areas);
        assert_eq!(paths.len(), areas.len());
        let leaf = Pcode::parse("SD20013").expect("a P-code");
        assert_eq!(paths[&leaf].as_str(), "/SD/SD200/SD20013/");
        for s in 0..ADMIN1 {
            assert!((7..=13).contains(&localities(s)), "state {s}");
        }
    }

    #[test]
    fn organisations_are_valid_unique_and_mixed() {
        let orgs = organisations();
        assert_eq!(orgs.len(), ORGANISATIONS);
        let mut names = HashSet::new();
        let mut identifiers = HashSet::new();
        let mut levels = HashSet::new();
        let mut types = HashSet::new();
        for input in &orgs {
            let org =
                NewOrganisation::parse(input).unwrap_or_else(|e| panic!("{}: {e:?}", input.name));
            assert!(names.insert(org.name.clone()), "duplicate {}", org.name);
            if let Some(id) = &org.iati_identifier {
                assert!(identifiers.insert(id.clone()), "duplicate {}", id.as_str());
            }
            levels.insert(org.level);
            types.insert(org.organisation_type);
        }
        assert_eq!(levels.len(), 4);
        assert!(levels.contains(&ActorLevel::Local));
        assert!(types.len() >= 10, "{types:?}");
        assert!(
            (150..400).contains(&identifiers.len()),
            "{} IATI identifiers",
            identifiers.len()
        );
    }

    #[test]
    fn the_sectors_exist_and_companions_share_a_cluster() {
        for (i, spec) in SECTORS.iter().enumerate() {
            let vocabulary = SectorVocabulary::from_iati_code(spec.vocabulary).expect("known");
            let sector = reference::sector(vocabulary, spec.code)
                .unwrap_or_else(|| panic!("{} does not exist", spec.code));
            let companion = &SECTORS[spec.companion];
            assert_ne!(spec.code, companion.code, "sector {i}");
            let clusters = |s: &reference::Sector| -> Vec<String> {
                match s.vocabulary {
                    SectorVocabulary::Cluster => {
                        vec![s.parent_cluster.clone().unwrap_or(s.code.clone())]
                    }
                    _ => s.clusters.clone(),
                }
            };
            let other = reference::sector(
                SectorVocabulary::from_iati_code(companion.vocabulary).expect("known"),
                companion.code,
            )
            .expect("companion exists");
            let (a, b) = (clusters(sector), clusters(other));
            assert!(a.iter().any(|c| b.contains(c)), "{a:?} {b:?}");
        }
    }

    #[test]
    fn every_intervention_parses_and_the_shape_is_as_specified() {
        let items: Vec<InterventionInput> = interventions(20_000, 3, &ids()).collect();
        assert_eq!(items.len(), 20_000);
        let mut external = HashSet::new();
        let mut at_admin1 = 0;
        let mut live = 0;
        let mut open = 0;
        let mut sectors = HashSet::new();
        let mut localities: HashMap<&str, usize> = HashMap::new();
        let mut reporters: HashMap<OrganisationId, usize> = HashMap::new();
        let (mut first, mut last) = (NaiveDate::MAX, NaiveDate::MIN);
        for input in &items {
            let record = NewIntervention::parse(input)
                .unwrap_or_else(|e| panic!("{}: {e:?}\n{input:#?}", input.external_id));
            assert!(external.insert(input.external_id.clone()));
            if input.locations[0].pcode.len() == 5 {
                at_admin1 += 1;
            } else {
                *localities.entry(&input.locations[0].pcode).or_default() += 1;
            }
            if record.status.is_live() {
                live += 1;
            }
            let period = record.effective_period().expect("a start date");
            if period.end().is_none() {
                open += 1;
            }
            first = first.min(period.start());
            last = last.max(period.start());
            sectors.insert(input.sectors[0].code.clone());
            *reporters.entry(input.reporting_organisation).or_default() += 1;
        }
        let share = |n: usize| n as f64 / items.len() as f64;
        assert!(
            (0.13..0.17).contains(&share(at_admin1)),
            "{}",
            share(at_admin1)
        );
        assert!((0.75..0.85).contains(&share(live)), "{}", share(live));
        assert!((0.07..0.13).contains(&share(open)), "{}", share(open));
        assert_eq!(sectors.len(), SECTORS.len());
        assert_eq!((first.year(), last.year()), (2023, 2026));
        // Zipf: the busiest locality and reporter stand far above the average.
        let top_locality = localities.values().max().copied().unwrap_or(0);
        let mean_locality = (items.len() - at_admin1) / ADMIN2;
        assert!(top_locality > 10 * mean_locality, "{top_locality}");
        let top_reporter = reporters.values().max().copied().unwrap_or(0);
        assert!(top_reporter > 20 * items.len() / ORGANISATIONS);
    }

    #[test]
    fn deterministic_and_streamed() {
        let a: Vec<InterventionInput> = interventions(300, 11, &ids()).collect();
        assert_eq!(a, interventions(300, 11, &ids()).collect::<Vec<_>>());
        assert_ne!(a, interventions(300, 12, &ids()).collect::<Vec<_>>());
        // A longer run starts with the shorter one.
        assert_eq!(
            interventions(100, 11, &ids()).collect::<Vec<_>>()[..],
            a[..100]
        );
        let it = interventions(42, 1, &ids());
        assert_eq!(it.size_hint(), (42, Some(42)));
        assert_eq!(interventions(42, 1, &[]).count(), 0);
        assert_eq!(country(), country());
        assert_eq!(organisations(), organisations());
    }
}
