//! Reader of needs tables: people in need per area, sector and period, as the field
//! publishes them. Three shapes are recognised from their header rows:
//!
//! - **HXL-tagged wide tables** ([`NeedsFormat::HxlDrought`]), such as the OCHA drought
//!   tables for Ethiopia, Somalia and Kenya: one row per area, one column per sector and
//!   figure, a hashtag row (`#adm2+code`, `#inneed+health`, ...) found anywhere in the first
//!   [`HEADER_SEARCH_ROWS`] rows, with free-text header rows above it.
//! - **HPC/HNO API exports** ([`NeedsFormat::HpcHno`]): `Admin 1 PCode, ..., Cluster,
//!   Category, Population, In Need, ...`, one row per area, cluster and category, sometimes
//!   with a leading `Country ISO3` column.
//! - **HDX HAPI humanitarian needs** ([`NeedsFormat::HapiNeeds`]): `location_code,
//!   admin1_code, admin2_code, sector_code, category, population_status, population,
//!   reference_period_start, ...`.
//!
//! The reader is pure (no database, no network): it turns a file into [`NeedInput`]s that
//! already pass [`NewNeed::parse`], with the area facts the importer needs to report unknown
//! areas by name, and reports every row it cannot read with its 1-based line. It never
//! decides whether a file with errors is imported: that is the caller's `--partial`.
//!
//! # Decisions
//!
//! **Figures.** Counts are read by [`parse_count`]: thousands separators (`80 418`,
//! `12,345`, `1'000`, non-breaking spaces) are accepted, a decimal part of zeros (`80418.0`,
//! as spreadsheets export) is accepted, `-` and empty cells mean "no figure" (no need is
//! created, nothing is reported), anything else (fractions, exponents, negatives, text) is a
//! row error naming the column.
//!
//! **Areas.** The need's area is the most specific P-code the row gives (admin 3 over admin 2
//! over admin 1, whatever the column order); the next shallower P-code in the row is its
//! parent, and an admin-1 area's parent is the country when the country is known. A row with
//! no admin P-code is a country-level figure: its P-code is the country's ISO alpha-2 code
//! (Concord's level-0 P-code), taken from the file (`Country ISO3`, HAPI `location_code`,
//! HXL `#country+code`) or else from [`NeedsOptions::country`]; without either, the row is an
//! error. A row that names an area but gives no P-code for it is an error: names are not
//! matched.
//!
//! **Sectors in HXL tables.** A figure column's sector comes from its hashtag attributes
//! (`#inneed+health`), or, when the hashtag has none (the drought tables repeat a bare
//! `#inneed` under ESNFI and under AGRICULTURE), from the free-text header rows above it,
//! read top-down, a blank cell under a merged group header taking the label to its left.
//! Attributes and labels are mapped to cluster HPC codes: health `HEA`, nutrition `NUT`,
//! food / food security (and livelihoods) `FSC`, ESNFI / shelter / NFI `SHL`, education
//! `EDU`, protection `PRO`, `+protection+child` / child protection `PRO-CPN`,
//! `+protection+gbv` / GBV `PRO-GBV`, HLP `PRO-HLP`, mine action `PRO-MIN`, WASH `WSH`, CCCM
//! `CCM`, logistics `LOG`, early recovery `ERY`, telecommunications `TEL`.
//!
//! *Agriculture* is part of the Food Security cluster, but it is mapped to the DAC 3-digit
//! code `311` (Agriculture), which Concord's crosswalk places under the Food Security cluster
//! (`6`, `FSC`). Mapping it to `FSC` itself would put two different figures (food assistance
//! and agricultural livelihoods) on the same area and sector: in the Ethiopia table 169
//! woredas give both, and they would collide as duplicates. With `311` a filter on `FSC`
//! still finds the agriculture need (the crosswalk), the overlap engine uses it for
//! agricultural interventions first, and neither figure is lost or summed.
//!
//! *The intersectoral need.* The drought tables give people in need per cluster
//! (`#inneed+...`) but only "affected" overall (`#affected+total`, "Total Affected"). Their
//! overall figure is the best statement of everyone concerned, so it becomes the
//! intersectoral need. In general, per sector (and for the intersectoral figure) `#inneed`
//! is read, and `#affected` only when the table has no `#inneed` for that sector. A bare
//! `#inneed` or `#affected` whose headers name no sector ("Total Affected", "OVERALL
//! FIGURES", or nothing) is intersectoral; one whose header names something that is not a
//! sector Concord knows is a column error (reported once, at the hashtag row), because
//! guessing would file figures under the wrong sector.
//!
//! `#severity` (optionally with sector attributes) is read as the need's severity (1..5).
//! `#priority` (an operational priority, 1..3 in the drought tables) is not a JIAF severity
//! and is never read as one by default. Only when the caller gives a map from priority
//! values to severities ([`NeedsOptions::priority_severity`], `concord import needs
//! --priority-severity 1=4,2=3,3=2`) does every need of a row without a `#severity` for its
//! sector take the severity mapped from the row's `#priority` cell (an explicit `#severity`
//! always wins). An empty or dashed priority cell gives no severity; a value the map does
//! not name is a row error (the row's needs are read without a severity); a map given for a
//! file with no `#priority` column is [`NeedsError::NoPriorityColumn`].
//! `#targeted` and `#reached` are not needs and are not read.
//!
//! **HPC and HAPI.** HPC `Cluster` is an HPC code, `ALL` being the intersectoral figure; HAPI
//! `sector_code` is an HPC code, `Intersectoral` being the intersectoral figure. An empty or
//! unknown code (`MS` multi-sector, HAPI `Multi`, the "Refugee Response" caseload with no
//! cluster) is reported as an error. Only HAPI rows with `population_status = INN` are read;
//! the other statuses are not needs and are passed over silently. HAPI periods come from
//! the file; HPC and HXL files carry none, so [`NeedsOptions`] gives them.
//!
//! HPC lists both "General Protection" and "Protection (overall)" under `PRO` for the same
//! area. "Overall" adds the areas of responsibility (child protection, GBV, HLP, mine
//! action), which Concord keeps as their own needs, so `PRO` is General Protection where
//! both exist, as HDX HAPI publishes it, and "Protection (overall)" is reported as skipped.
//! Where a plan only gives "Protection (overall)" (Sudan 2021), it is `PRO`.
//!
//! **Categories (disaggregations).** HPC and HAPI give a cell's total with an empty
//! category (country level) or `total`, and disaggregations of the same cell as further
//! rows. A category is folded into the need's bands only when it maps to a band without
//! guessing: `Female` / `Male` (a sex), `IDPs`, `Refugees`, `Host communities`, `Returnees`
//! ... (a population group). Each band is one HAPI-style cell (its own sex, age and group),
//! so a need may carry a sex band and a group band side by side: bands are not a partition
//! and must not be summed across dimensions. Every other category is left out and reported
//! as skipped with its reason: age labels ("Children", "Adult - Female", "Elderly") because
//! their bounds are not stated and Concord stores ages as numbers, never labels; households
//! because they are not people; disability because a need has no disability figure; plan
//! specific groups ("Iran (District of Return)", "Non-Displaced"). Disaggregation columns in
//! HXL tables (`#inneed+health+f`, `+idps`) are folded the same way, and the others
//! (`+children`, `+hh`) are skipped with a note, once per column.
//!
//! **Duplicates.** Two figures for the same area, sector and period in one file: the later
//! is reported as an error and the earlier kept.
//!
//! **Skipped vs errors.** [`NeedsTable::errors`] are figures the file states but that cannot
//! be read: the caller must not import the file without `--partial` when there are any.
//! [`NeedsTable::skipped`] are rows or columns left out on purpose (disaggregations that do
//! not map, a caseload without a people-in-need figure): they are reported, but they do not
//! make the import partial.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use concord_domain::area::Pcode;
use concord_domain::need::{NeedInput, NewNeed};
use concord_domain::population::PopulationBandInput;
use concord_domain::reference::{self, Country, SectorVocabulary};
use serde::Serialize;

pub use crate::hxl::{HEADER_SEARCH_ROWS, parse_count};
use crate::hxl::{
    LabelSector, Record, SectorCode, Tag, column_labels, country_of, find_tag_row, header_key,
    header_labels, is_tag_row, parse_tag, read_records, sector_from_label, words,
};

/// What the caller knows that the file may not say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeedsOptions {
    /// The period of the needs, used when the file states none (HXL and HPC tables).
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// ISO alpha-2 (alpha-3 is accepted) of the country, for country-level rows when the
    /// file does not say which country, and as the parent of admin-1 areas.
    pub country: Option<String>,
    /// Copied to every need's `source`. The command passes the file name by default.
    pub source: Option<String>,
    /// When set, HXL `#priority` values are read as severities through this map (for the
    /// needs of rows with no `#severity` of their own). `None`: `#priority` is not read.
    pub priority_severity: Option<PrioritySeverity>,
}

impl NeedsOptions {
    pub fn new(period_start: NaiveDate, period_end: NaiveDate) -> Self {
        Self {
            period_start,
            period_end,
            country: None,
            source: None,
            priority_severity: None,
        }
    }
}

/// A map from a table's operational priority values (`#priority`) to JIAF severities
/// (1..5), written `1=4,2=3,3=2`. Priority values are compared after trimming spaces,
/// ignoring ASCII case (`High=4` matches `high`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrioritySeverity(BTreeMap<String, u8>);

/// A priority-to-severity map that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPrioritySeverity(String);

impl PrioritySeverity {
    /// Builds the map from (priority, severity) pairs, refusing empty priorities, a
    /// severity outside 1..5, a priority given twice, and an empty map.
    pub fn new<K: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, u8)>,
    ) -> Result<Self, InvalidPrioritySeverity> {
        let mut map = BTreeMap::new();
        for (priority, severity) in pairs {
            let key = priority.as_ref().trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(InvalidPrioritySeverity(
                    "a priority-to-severity pair names no priority".into(),
                ));
            }
            if !(1..=5).contains(&severity) {
                return Err(InvalidPrioritySeverity(format!(
                    "priority {key:?} is mapped to severity {severity}; a JIAF severity is 1 to 5"
                )));
            }
            if map.insert(key.clone(), severity).is_some() {
                return Err(InvalidPrioritySeverity(format!(
                    "priority {key:?} is mapped twice"
                )));
            }
        }
        if map.is_empty() {
            return Err(InvalidPrioritySeverity(
                "the priority-to-severity map is empty".into(),
            ));
        }
        Ok(Self(map))
    }

    /// The severity a priority value maps to.
    pub fn get(&self, priority: &str) -> Option<u8> {
        self.0.get(&priority.trim().to_ascii_lowercase()).copied()
    }
}

impl FromStr for PrioritySeverity {
    type Err = InvalidPrioritySeverity;

    /// Reads `PRIORITY=SEVERITY` pairs separated by commas: `1=4,2=3,3=2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pairs = s
            .split(',')
            .map(|pair| {
                let malformed = || {
                    InvalidPrioritySeverity(format!(
                        "{:?} is not PRIORITY=SEVERITY (write the map as 1=4,2=3,3=2)",
                        pair.trim()
                    ))
                };
                let (priority, severity) = pair.split_once('=').ok_or_else(malformed)?;
                let severity = severity.trim().parse::<u8>().map_err(|_| malformed())?;
                Ok((priority.to_owned(), severity))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(pairs)
    }
}

impl fmt::Display for PrioritySeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (priority, severity)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{priority}={severity}")?;
        }
        Ok(())
    }
}

/// The shape the file was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum NeedsFormat {
    /// An HXL-tagged wide table: one column per sector (the drought tables).
    HxlDrought,
    /// An HPC/HNO API export (`Admin 1 PCode, ..., Cluster, Category, ..., In Need`).
    HpcHno,
    /// HDX HAPI humanitarian needs (`location_code, ..., population_status, population`).
    HapiNeeds,
}

impl fmt::Display for NeedsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HxlDrought => "HXL-tagged needs table",
            Self::HpcHno => "HPC/HNO needs export",
            Self::HapiNeeds => "HDX HAPI humanitarian needs",
        })
    }
}

/// One need read from the file, with the facts about its area the file gives, so the
/// importer can name areas it does not know.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeedRow {
    /// The 1-based line of the row that states the figure (the total row for HPC and HAPI).
    pub line: u64,
    pub need: NeedInput,
    pub area_name: Option<String>,
    pub parent_pcode: Option<String>,
    /// 0 for a country, else the admin level of the P-code column the area came from.
    pub admin_level: Option<u8>,
}

/// A row, cell or column the reader could not read (in [`NeedsTable::errors`]) or left out
/// on purpose (in [`NeedsTable::skipped`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NeedRowError {
    /// 1-based line in the file; a column problem is reported at the hashtag row.
    pub line: u64,
    /// The column as the file heads it (`#inneed+health`, `#inneed (ESNFI)`, `In Need`).
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for NeedRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What a file holds: the needs read, and everything that was not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeedsTable {
    pub format: NeedsFormat,
    /// In line order. Every `need` passes [`NewNeed::parse`].
    pub rows: Vec<NeedRow>,
    /// Figures the file states that could not be read, in line order.
    pub errors: Vec<NeedRowError>,
    /// Rows and columns left out on purpose, with the reason, in line order.
    pub skipped: Vec<NeedRowError>,
}

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum NeedsError {
    #[error("could not read the file: {0}")]
    Read(#[from] csv::Error),
    #[error("the file is empty")]
    Empty,
    #[error(
        "no recognisable header: expected an HXL hashtag row (with #inneed or #affected) in the first {HEADER_SEARCH_ROWS} rows, an HPC export header (Admin 1 PCode, Cluster, In Need) or an HDX HAPI header (location_code, sector_code, population_status, population)"
    )]
    UnrecognisedHeader,
    #[error("the HXL hashtag row on line {0} has no #inneed or #affected column")]
    NoFigures(u64),
    #[error("country {0:?} is not a known ISO 3166-1 country code")]
    UnknownCountry(String),
    #[error("the period ends ({end}) before it starts ({start})")]
    InvalidPeriod { start: NaiveDate, end: NaiveDate },
    #[error(
        "a priority-to-severity map was given, but the file has no #priority column (only HXL-tagged tables carry one)"
    )]
    NoPriorityColumn,
}

/// Reads a needs table in any of the three shapes. `Err` only when the file is unusable;
/// every row problem is in [`NeedsTable::errors`].
pub fn read_needs<R: Read>(reader: R, options: &NeedsOptions) -> Result<NeedsTable, NeedsError> {
    if options.period_end < options.period_start {
        return Err(NeedsError::InvalidPeriod {
            start: options.period_start,
            end: options.period_end,
        });
    }
    let country = match options.country.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => {
            Some(country_of(code).ok_or_else(|| NeedsError::UnknownCountry(code.to_owned()))?)
        }
    };
    let records = read_records(reader)?;
    let first_index = records
        .iter()
        .position(|r| !r.is_blank())
        .ok_or(NeedsError::Empty)?;
    let keys: Vec<String> = records[first_index]
        .cells
        .iter()
        .map(|c| header_key(c))
        .collect();
    let has = |key: &str| keys.iter().any(|k| k == key);

    let mut out = Out::new(options, country);
    let hapi = has("locationcode") && has("sectorcode") && has("populationstatus");
    let hpc = has("cluster") && has("inneed") && (has("admin1pcode") || has("countryiso3"));
    if (hapi || hpc) && options.priority_severity.is_some() {
        return Err(NeedsError::NoPriorityColumn);
    }
    let format = if hapi {
        read_hapi(&records, first_index, &keys, &mut out)?;
        NeedsFormat::HapiNeeds
    } else if hpc {
        read_hpc(&records, first_index, &keys, &mut out);
        NeedsFormat::HpcHno
    } else {
        let tag_row = find_tag_row(&records).ok_or(NeedsError::UnrecognisedHeader)?;
        read_hxl(&records, tag_row, &mut out)?;
        NeedsFormat::HxlDrought
    };
    Ok(out.finish(format))
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Where a need is.
#[derive(Clone, Debug)]
struct Area {
    pcode: String,
    name: Option<String>,
    parent: Option<String>,
    level: u8,
}

impl Area {
    fn country(country: &Country) -> Self {
        Self {
            pcode: country.alpha2.clone(),
            name: Some(country.name.clone()),
            parent: None,
            level: 0,
        }
    }
}

/// A located problem, before it is filed as an error or a skip.
struct Problem {
    column: Option<String>,
    reason: String,
}

impl Problem {
    fn new(column: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            column: column.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

type Period = (NaiveDate, NaiveDate);

struct Out<'a> {
    options: &'a NeedsOptions,
    country: Option<&'static Country>,
    rows: Vec<NeedRow>,
    errors: Vec<NeedRowError>,
    skipped: Vec<NeedRowError>,
    /// (P-code, sector key, period) to the line of the figure kept.
    cells: HashMap<(String, String, Period), u64>,
}

impl<'a> Out<'a> {
    fn new(options: &'a NeedsOptions, country: Option<&'static Country>) -> Self {
        Self {
            options,
            country,
            rows: Vec::new(),
            errors: Vec::new(),
            skipped: Vec::new(),
            cells: HashMap::new(),
        }
    }

    fn period(&self) -> Period {
        (self.options.period_start, self.options.period_end)
    }

    fn error(&mut self, line: u64, column: Option<&str>, reason: impl Into<String>) {
        self.errors.push(NeedRowError {
            line,
            column: column.map(str::to_owned),
            reason: reason.into(),
        });
    }

    fn skip(&mut self, line: u64, column: Option<&str>, reason: impl Into<String>) {
        self.skipped.push(NeedRowError {
            line,
            column: column.map(str::to_owned),
            reason: reason.into(),
        });
    }

    fn problem(&mut self, line: u64, problem: Problem) {
        self.errors.push(NeedRowError {
            line,
            column: problem.column,
            reason: problem.reason,
        });
    }

    /// Files one need, after the domain's own validation and the duplicate check.
    #[allow(clippy::too_many_arguments)]
    fn need(
        &mut self,
        line: u64,
        column: Option<&str>,
        area: &Area,
        sector: Option<&str>,
        people: u64,
        bands: Vec<PopulationBandInput>,
        severity: Option<i64>,
        period: Period,
    ) {
        let need = NeedInput {
            pcode: area.pcode.clone(),
            sector: sector.map(str::to_owned),
            period_start: period.0,
            period_end: period.1,
            people_in_need: i64::try_from(people).unwrap_or(i64::MAX),
            bands,
            severity,
            source: self.options.source.clone(),
        };
        let parsed = match NewNeed::parse(&need) {
            Ok(parsed) => parsed,
            Err(errors) => {
                self.error(line, column, errors.to_string());
                return;
            }
        };
        let key = (
            parsed.pcode.as_str().to_owned(),
            parsed.sector.key(),
            period,
        );
        if let Some(first) = self.cells.get(&key) {
            let sector = sector.unwrap_or("intersectoral");
            let reason = format!(
                "a second figure for {} / {sector}, first given on line {first}",
                area.pcode
            );
            self.error(line, column, reason);
            return;
        }
        self.cells.insert(key, line);
        self.rows.push(NeedRow {
            line,
            need,
            area_name: area.name.clone(),
            parent_pcode: area.parent.clone(),
            admin_level: Some(area.level),
        });
    }

    fn finish(mut self, format: NeedsFormat) -> NeedsTable {
        self.rows.sort_by_key(|r| r.line);
        self.errors.sort_by_key(|e| e.line);
        self.skipped.sort_by_key(|e| e.line);
        NeedsTable {
            format,
            rows: self.rows,
            errors: self.errors,
            skipped: self.skipped,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sectors, bands and categories
// ---------------------------------------------------------------------------------------

/// HXL attributes to sector codes (`+protection` is handled apart, because `+child` only
/// means child protection beside it).
const SECTOR_ATTRIBUTES: &[(&str, &str)] = &[
    ("health", "HEA"),
    ("hea", "HEA"),
    ("nutrition", "NUT"),
    ("nut", "NUT"),
    ("food", "FSC"),
    ("foodsecurity", "FSC"),
    ("fsl", "FSC"),
    ("fsc", "FSC"),
    ("fsac", "FSC"),
    ("livelihoods", "FSC"),
    ("agriculture", "311"),
    ("education", "EDU"),
    ("edu", "EDU"),
    ("wash", "WSH"),
    ("wsh", "WSH"),
    ("shelter", "SHL"),
    ("esnfi", "SHL"),
    ("snfi", "SHL"),
    ("nfi", "SHL"),
    ("shl", "SHL"),
    ("cccm", "CCM"),
    ("ccm", "CCM"),
    ("logistics", "LOG"),
    ("log", "LOG"),
    ("earlyrecovery", "ERY"),
    ("ery", "ERY"),
    ("telecom", "TEL"),
    ("telecoms", "TEL"),
    ("ete", "TEL"),
    ("tel", "TEL"),
    ("childprotection", "PRO-CPN"),
    ("cp", "PRO-CPN"),
    ("gbv", "PRO-GBV"),
    ("sgbv", "PRO-GBV"),
    ("hlp", "PRO-HLP"),
    ("mine", "PRO-MIN"),
    ("mineaction", "PRO-MIN"),
];

const PROTECTION_ATTRIBUTES: &[&str] = &["protection", "pro", "prot"];

/// Attributes that qualify a count without changing what it counts.
const NEUTRAL_ATTRIBUTES: &[&str] = &[
    "total",
    "all",
    "ind",
    "individuals",
    "num",
    "people",
    "persons",
    "value",
    "est",
    "estimated",
];

/// Disaggregations that have no band without guessing: age labels (bounds differ between
/// agencies), households (not people), disability (needs carry no disability figure).
const UNFOLDABLE_ATTRIBUTES: &[&str] = &[
    "children",
    "child",
    "adults",
    "adult",
    "elderly",
    "older",
    "infants",
    "adolescents",
    "youth",
    "women",
    "men",
    "girls",
    "boys",
    "hh",
    "households",
    "disabled",
    "disability",
    "pwd",
    "displaced",
];

/// The HPC code of a cluster given by HPC code or cluster id.
fn cluster_code(code: &str) -> Option<&'static str> {
    reference::sector(SectorVocabulary::Cluster, code).and_then(|s| s.hpc_code.as_deref())
}

/// One cell of a disaggregation, as the file states it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Band {
    sex: Option<&'static str>,
    group: Option<&'static str>,
    min_age: Option<i64>,
    max_age: Option<i64>,
}

impl Band {
    fn input(&self, people: u64) -> PopulationBandInput {
        PopulationBandInput {
            sex: self.sex.map(str::to_owned),
            min_age: self.min_age,
            max_age: self.max_age,
            group: self.group.map(str::to_owned),
            people: i64::try_from(people).unwrap_or(i64::MAX),
        }
    }
}

fn group_of_words(joined: &str) -> Option<&'static str> {
    Some(match joined {
        "idp"
        | "idps"
        | "idp total"
        | "idps total"
        | "internally displaced"
        | "internally displaced persons"
        | "internally displaced people" => "IDP",
        "refugee" | "refugees" | "refugees total" => "REF",
        "host"
        | "hosts"
        | "host community"
        | "host communities"
        | "hostcommunity"
        | "hostcommunities"
        | "host communities total" => "HST",
        "returnee" | "returnees" | "returnees total" => "RRI",
        "asylum seekers" | "asylum seekers total" => "ASY",
        "stateless" | "stateless people" | "stateless persons" => "STA",
        _ => return None,
    })
}

/// Why a disaggregation is left out, from its words.
fn unfoldable_reason(words: &[String]) -> &'static str {
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if has(&["household", "households", "hh", "headed"]) {
        "it counts households, not people"
    } else if has(&["disability", "disabilities", "disabled", "pwd"]) {
        "a need carries no disability figure"
    } else if has(&[
        "children",
        "child",
        "adult",
        "adults",
        "elderly",
        "older",
        "infants",
        "adolescents",
        "youth",
        "women",
        "men",
        "girls",
        "boys",
    ]) {
        "its age label has no stated bounds, and Concord keeps ages as numbers, never labels"
    } else {
        "it is not a sex or a population group Concord can map"
    }
}

/// A category label: `Ok(None)` for the cell's total, `Ok(Some(band))` when it maps to a
/// band without guessing, `Err(reason)` when it is left out.
fn category_band(label: &str) -> Result<Option<Band>, String> {
    let words = words(label);
    let joined = words.join(" ");
    let band = match joined.as_str() {
        "" | "total" | "all" => return Ok(None),
        "female" | "f" => Band {
            sex: Some("F"),
            ..Band::default()
        },
        "male" | "m" => Band {
            sex: Some("M"),
            ..Band::default()
        },
        other => match group_of_words(other) {
            Some(group) => Band {
                group: Some(group),
                ..Band::default()
            },
            None => {
                return Err(format!(
                    "category {:?} is not folded into bands: {}",
                    label.trim(),
                    unfoldable_reason(&words)
                ));
            }
        },
    };
    Ok(Some(band))
}

// ---------------------------------------------------------------------------------------
// Caseloads: HPC and HAPI rows grouped by area and sector
// ---------------------------------------------------------------------------------------

/// The rows of one cell (area, sector, period): its total and its disaggregations.
struct Caseload {
    area: Area,
    sector: Result<SectorCode, String>,
    /// "General Protection" is PRO where it exists; "Protection (overall)" only otherwise.
    overall_protection: bool,
    period: Period,
    /// (line, raw figure).
    totals: Vec<(u64, String)>,
    /// (line, category label, band, raw figure).
    parts: Vec<(u64, String, Result<Band, String>, String)>,
}

struct CaseloadColumns<'c> {
    figure: &'c str,
    sector: &'c str,
    category: &'c str,
}

/// Files every caseload as at most one need, in the order they first appear.
fn resolve_caseloads(caseloads: Vec<Caseload>, columns: &CaseloadColumns<'_>, out: &mut Out<'_>) {
    let general_protection: HashSet<(String, Period)> = caseloads
        .iter()
        .filter(|c| c.sector == Ok(Some("PRO")) && !c.overall_protection)
        .map(|c| (c.area.pcode.clone(), c.period))
        .collect();
    for caseload in caseloads {
        let total = caseload.totals.first().cloned();
        let first_line = total
            .as_ref()
            .map_or_else(|| caseload.parts[0].0, |(line, _)| *line);
        // A caseload that states no figure loses nothing, whatever its sector.
        if let Some((line, raw)) = &total
            && parse_count(raw) == Ok(None)
        {
            out.skip(*line, Some(columns.figure), "no people-in-need figure");
            continue;
        }
        let sector = match &caseload.sector {
            Ok(sector) => *sector,
            Err(reason) => {
                let reason = match caseload.parts.len() {
                    0 => reason.clone(),
                    1 => format!("{reason}; its disaggregation row is not read either"),
                    n => format!("{reason}; its {n} disaggregation rows are not read either"),
                };
                out.error(first_line, Some(columns.sector), reason);
                continue;
            }
        };
        let Some((line, raw)) = total else {
            let (line, label, ..) = &caseload.parts[0];
            let reason = format!(
                "disaggregation ({label:?}) without a total row for {} (a row with category empty or \"total\")",
                caseload.area.pcode
            );
            out.error(*line, Some(columns.category), reason);
            continue;
        };
        for (extra, _) in &caseload.totals[1..] {
            let reason = format!(
                "a second total row for {}, first on line {line}",
                caseload.area.pcode
            );
            out.error(*extra, Some(columns.category), reason);
        }
        let people = match parse_count(&raw) {
            Ok(Some(people)) => people,
            Ok(None) => continue,
            Err(reason) => {
                out.error(line, Some(columns.figure), reason);
                continue;
            }
        };
        if caseload.overall_protection
            && general_protection.contains(&(caseload.area.pcode.clone(), caseload.period))
        {
            out.skip(
                line,
                Some(columns.sector),
                "\"Protection (overall)\" adds the areas of responsibility to General Protection; PRO is General Protection, as HDX HAPI has it, and the AoRs are their own needs",
            );
            continue;
        }
        let mut bands: Vec<(Band, u64)> = Vec::new();
        let mut band_lines: HashMap<Band, u64> = HashMap::new();
        for (part_line, _, band, raw) in &caseload.parts {
            let band = match band {
                Ok(band) => band,
                Err(reason) => {
                    out.skip(*part_line, Some(columns.category), reason.clone());
                    continue;
                }
            };
            let count = match parse_count(raw) {
                Ok(Some(count)) => count,
                Ok(None) => continue,
                Err(reason) => {
                    out.error(*part_line, Some(columns.figure), reason);
                    continue;
                }
            };
            if count > people {
                let reason = format!("{count} is more than the total {people} on line {line}");
                out.error(*part_line, Some(columns.figure), reason);
                continue;
            }
            if let Some(first) = band_lines.get(band) {
                let reason = format!("the same band as line {first}");
                out.error(*part_line, Some(columns.category), reason);
                continue;
            }
            band_lines.insert(band.clone(), *part_line);
            bands.push((band.clone(), count));
        }
        let bands = bands.iter().map(|(band, n)| band.input(*n)).collect();
        out.need(
            line,
            Some(columns.figure),
            &caseload.area,
            sector,
            people,
            bands,
            None,
            caseload.period,
        );
    }
}

/// Groups rows into caseloads by key, keeping the order in which keys first appear.
struct Caseloads<K> {
    order: Vec<Caseload>,
    index: HashMap<K, usize>,
}

impl<K: std::hash::Hash + Eq> Caseloads<K> {
    fn new() -> Self {
        Self {
            order: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn entry(&mut self, key: K, make: impl FnOnce() -> Caseload) -> &mut Caseload {
        let index = *self.index.entry(key).or_insert_with(|| {
            self.order.push(make());
            self.order.len() - 1
        });
        &mut self.order[index]
    }
}

/// Adds a row to its caseload as its total or as a disaggregation.
fn add_part(
    caseload: &mut Caseload,
    line: u64,
    category: &str,
    band: Result<Option<Band>, String>,
    raw: &str,
) {
    match band {
        Ok(None) => caseload.totals.push((line, raw.to_owned())),
        Ok(Some(band)) => {
            caseload
                .parts
                .push((line, category.to_owned(), Ok(band), raw.to_owned()))
        }
        Err(reason) => {
            caseload
                .parts
                .push((line, category.to_owned(), Err(reason), raw.to_owned()))
        }
    }
}

/// Finds a column by its loose key, returning its index and its heading as written.
fn column<'r>(header: &'r Record, keys: &[String], key: &str) -> Option<(usize, &'r str)> {
    keys.iter()
        .position(|k| k == key)
        .map(|i| (i, header.get(i)))
}

/// The admin P-code columns of an HPC or HAPI header, deepest first:
/// (level, code column, code heading, name column, second name column).
type AdminColumns<'r> = Vec<(u8, usize, &'r str, Option<usize>, Option<usize>)>;

/// Locates a row from its admin P-code columns (deepest non-empty first), else the country.
fn locate(
    record: &Record,
    admins: &AdminColumns<'_>,
    country: Option<&'static Country>,
    no_country: &str,
) -> Result<Area, Problem> {
    for (position, &(level, code, heading, name, alt_name)) in admins.iter().enumerate() {
        let raw = record.get(code);
        if raw.is_empty() {
            continue;
        }
        let pcode = Pcode::parse(raw).map_err(|e| Problem::new(Some(heading), e.message))?;
        let parent = admins[position + 1..]
            .iter()
            .map(|&(_, c, ..)| record.get(c))
            .find(|s| !s.is_empty())
            .and_then(|s| Pcode::parse(s).ok())
            .map(String::from)
            .or_else(|| {
                (level == 1)
                    .then(|| country.map(|c| c.alpha2.clone()))
                    .flatten()
            });
        let name = [name, alt_name]
            .into_iter()
            .map(|i| record.get_opt(i))
            .find(|s| !s.is_empty())
            .map(str::to_owned);
        return Ok(Area {
            pcode: pcode.into(),
            name,
            parent,
            level,
        });
    }
    country
        .map(Area::country)
        .ok_or_else(|| Problem::new(None, no_country))
}

// ---------------------------------------------------------------------------------------
// HPC/HNO exports
// ---------------------------------------------------------------------------------------

fn admin_columns<'r>(
    header: &'r Record,
    keys: &[String],
    code: impl Fn(u8) -> String,
    names: impl Fn(u8) -> [String; 2],
) -> AdminColumns<'r> {
    let mut admins: AdminColumns<'r> = (1..=5u8)
        .filter_map(|level| {
            let (index, heading) = column(header, keys, &code(level))?;
            let [name, alt] = names(level);
            Some((
                level,
                index,
                heading,
                column(header, keys, &name).map(|c| c.0),
                column(header, keys, &alt).map(|c| c.0),
            ))
        })
        .collect();
    admins.reverse();
    admins
}

fn read_hpc(records: &[Record], header_index: usize, keys: &[String], out: &mut Out<'_>) {
    let header = &records[header_index];
    let iso3 = column(header, keys, "countryiso3");
    let admins = admin_columns(
        header,
        keys,
        |l| format!("admin{l}pcode"),
        |l| [format!("admin{l}name"), String::new()],
    );
    let description = column(header, keys, "description").map(|c| c.0);
    let (cluster, cluster_heading) = column(header, keys, "cluster").expect("detected");
    let category = column(header, keys, "category");
    let (in_need, in_need_heading) = column(header, keys, "inneed").expect("detected");
    let info = column(header, keys, "info").map(|c| c.0);
    let category_heading = category.map_or("Category", |c| c.1);
    let no_country = if iso3.is_some() {
        "a country-level row (no admin P-code) with no Country ISO3"
    } else {
        "a country-level row (no admin P-code), and the file has no Country ISO3 column: give the country"
    };

    let mut caseloads: Caseloads<(String, String, String)> = Caseloads::new();
    for record in &records[header_index + 1..] {
        if record.is_blank() || is_tag_row(record) {
            continue;
        }
        if !record.utf8 {
            out.error(record.line, None, "not valid UTF-8");
            continue;
        }
        let country = match iso3.map(|c| record.get(c.0)).filter(|s| !s.is_empty()) {
            Some(code) => match country_of(code) {
                Some(country) => Some(country),
                None => {
                    let reason = format!("{code:?} is not a known ISO 3166-1 country code");
                    out.error(record.line, iso3.map(|c| c.1), reason);
                    continue;
                }
            },
            None => out.country,
        };
        let area = match locate(record, &admins, country, no_country) {
            Ok(area) => area,
            Err(problem) => {
                out.problem(record.line, problem);
                continue;
            }
        };
        let cluster_raw = record.get(cluster);
        let description_raw = record.get_opt(description);
        let key = (
            area.pcode.clone(),
            cluster_raw.to_ascii_uppercase(),
            description_raw.to_owned(),
        );
        let period = out.period();
        let caseload = caseloads.entry(key, || Caseload {
            sector: hpc_sector(cluster_raw, description_raw, record.get_opt(info)),
            overall_protection: cluster_code(cluster_raw) == Some("PRO")
                && header_key(description_raw).contains("overall"),
            area,
            period,
            totals: Vec::new(),
            parts: Vec::new(),
        });
        let label = record.get_opt(category.map(|c| c.0));
        add_part(
            caseload,
            record.line,
            label,
            category_band(label),
            record.get(in_need),
        );
    }
    resolve_caseloads(
        caseloads.order,
        &CaseloadColumns {
            figure: in_need_heading,
            sector: cluster_heading,
            category: category_heading,
        },
        out,
    );
}

fn hpc_sector(cluster: &str, description: &str, info: &str) -> Result<SectorCode, String> {
    let what = if description.is_empty() {
        String::new()
    } else {
        format!(" ({description})")
    };
    if cluster.is_empty() {
        let info = if info.is_empty() {
            String::new()
        } else {
            format!(": {info}")
        };
        return Err(format!("no cluster{what}{info}"));
    }
    if cluster.eq_ignore_ascii_case("ALL") {
        return Ok(None);
    }
    cluster_code(cluster)
        .map(Some)
        .ok_or_else(|| format!("cluster {cluster:?}{what} is not a cluster Concord knows"))
}

// ---------------------------------------------------------------------------------------
// HDX HAPI humanitarian needs
// ---------------------------------------------------------------------------------------

fn read_hapi(
    records: &[Record],
    header_index: usize,
    keys: &[String],
    out: &mut Out<'_>,
) -> Result<(), NeedsError> {
    let header = &records[header_index];
    let need = |key: &str| column(header, keys, key).ok_or(NeedsError::UnrecognisedHeader);
    let location = need("locationcode")?;
    let (sector, sector_heading) = need("sectorcode")?;
    let (status, _) = need("populationstatus")?;
    let (population, population_heading) = need("population")?;
    let admins = admin_columns(
        header,
        keys,
        |l| format!("admin{l}code"),
        |l| [format!("admin{l}name"), format!("provideradmin{l}name")],
    );
    let sector_name = column(header, keys, "sectorname").map(|c| c.0);
    let category = column(header, keys, "category");
    let category_heading = category.map_or("category", |c| c.1);
    let start = column(header, keys, "referenceperiodstart");
    let end = column(header, keys, "referenceperiodend");
    let error = column(header, keys, "error").map(|c| c.0);
    let dims = HapiDimensions {
        gender: column(header, keys, "gender").map(|c| c.0),
        age_range: column(header, keys, "agerange").map(|c| c.0),
        min_age: column(header, keys, "minage").map(|c| c.0),
        max_age: column(header, keys, "maxage").map(|c| c.0),
        group: column(header, keys, "populationgroup").map(|c| c.0),
        disabled: column(header, keys, "disabledmarker").map(|c| c.0),
    };

    let mut caseloads: Caseloads<(String, String, Period)> = Caseloads::new();
    for record in &records[header_index + 1..] {
        if record.is_blank() || is_tag_row(record) {
            continue;
        }
        if !record.utf8 {
            out.error(record.line, None, "not valid UTF-8");
            continue;
        }
        if !matches!(
            header_key(record.get(status)).as_str(),
            "inn" | "inneed" | "pin"
        ) {
            continue;
        }
        let code = record.get(location.0);
        let country = if code.is_empty() {
            out.country
        } else {
            match country_of(code) {
                Some(country) => Some(country),
                None => {
                    let reason = format!("{code:?} is not a known ISO 3166-1 country code");
                    out.error(record.line, Some(location.1), reason);
                    continue;
                }
            }
        };
        let area = match locate(
            record,
            &admins,
            country,
            "no admin code and no location_code",
        ) {
            Ok(area) => area,
            Err(problem) => {
                out.problem(record.line, problem);
                continue;
            }
        };
        let mut period = out.period();
        let mut bad_date = false;
        for (slot, column) in [(&mut period.0, start), (&mut period.1, end)] {
            let raw = record.get_opt(column.map(|c| c.0));
            if raw.is_empty() {
                continue;
            }
            let date = raw.get(..10).unwrap_or(raw);
            match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                Ok(date) => *slot = date,
                Err(_) => {
                    let reason = format!("{raw:?} is not a date written YYYY-MM-DD");
                    out.error(record.line, column.map(|c| c.1), reason);
                    bad_date = true;
                }
            }
        }
        if bad_date {
            continue;
        }
        let code = record.get(sector);
        let key = (area.pcode.clone(), code.to_ascii_uppercase(), period);
        let sector_result = hapi_sector(code, record.get_opt(sector_name), record.get_opt(error));
        let caseload = caseloads.entry(key, || Caseload {
            sector: sector_result,
            overall_protection: false,
            area,
            period,
            totals: Vec::new(),
            parts: Vec::new(),
        });
        let label = record.get_opt(category.map(|c| c.0));
        add_part(
            caseload,
            record.line,
            label,
            dims.band(record, label),
            record.get(population),
        );
    }
    resolve_caseloads(
        caseloads.order,
        &CaseloadColumns {
            figure: population_heading,
            sector: sector_heading,
            category: category_heading,
        },
        out,
    );
    Ok(())
}

fn hapi_sector(code: &str, name: &str, error: &str) -> Result<SectorCode, String> {
    let what = if name.is_empty() || name == code {
        String::new()
    } else {
        format!(" ({name})")
    };
    if code.is_empty() {
        let error = if error.is_empty() {
            String::new()
        } else {
            format!(": {error}")
        };
        return Err(format!("no sector code{error}"));
    }
    if code.eq_ignore_ascii_case("intersectoral") {
        return Ok(None);
    }
    cluster_code(code)
        .map(Some)
        .ok_or_else(|| format!("sector code {code:?}{what} is not a cluster Concord knows"))
}

/// The disaggregation columns of older HAPI releases (`gender`, `age_range`, `min_age`,
/// `max_age`, `population_group`, `disabled_marker`), when present.
struct HapiDimensions {
    gender: Option<usize>,
    age_range: Option<usize>,
    min_age: Option<usize>,
    max_age: Option<usize>,
    group: Option<usize>,
    disabled: Option<usize>,
}

impl HapiDimensions {
    fn band(&self, record: &Record, category: &str) -> Result<Option<Band>, String> {
        let mut band = category_band(category)?.unwrap_or_default();
        let value = |i: Option<usize>| {
            let v = record.get_opt(i);
            (!v.is_empty() && !v.eq_ignore_ascii_case("all")).then_some(v)
        };
        if let Some(gender) = value(self.gender) {
            band.sex = Some(match gender.to_ascii_lowercase().as_str() {
                "f" | "female" => "F",
                "m" | "male" => "M",
                _ => return Err(format!("gender {gender:?} has no band in Concord")),
            });
        }
        if let Some(disabled) = value(self.disabled) {
            return Err(format!(
                "disabled_marker {disabled:?}: a need carries no disability figure"
            ));
        }
        if let Some(group) = value(self.group) {
            let code = group.to_ascii_uppercase();
            let known = [
                "REF", "ROC", "ASY", "OIP", "IDP", "IOC", "STA", "OOC", "HST", "RET", "RST", "NAT",
                "RDP", "RRI",
            ];
            band.group = Some(known.into_iter().find(|k| *k == code).ok_or_else(|| {
                format!("population_group {group:?} is not a group Concord knows")
            })?);
        }
        let age = |i: Option<usize>, name: &str| -> Result<Option<i64>, String> {
            value(i)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| format!("{name} {v:?} is not a whole number"))
                })
                .transpose()
        };
        band.min_age = age(self.min_age, "min_age")?;
        band.max_age = age(self.max_age, "max_age")?;
        if band.min_age.is_none()
            && band.max_age.is_none()
            && let Some(range) = value(self.age_range)
        {
            return Err(format!(
                "age_range {range:?} without min_age and max_age has no stated bounds"
            ));
        }
        Ok((band != Band::default()).then_some(band))
    }
}

// ---------------------------------------------------------------------------------------
// HXL-tagged wide tables
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Status {
    InNeed,
    Affected,
}

/// Where a figure column's sector comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ColumnSector {
    Fixed(SectorCode),
    /// The row's `#sector` cell.
    FromRow,
}

/// The figure columns of one sector (or of the row's sector).
struct FigureGroup {
    sector: ColumnSector,
    total: Option<usize>,
    bands: Vec<(Band, usize)>,
    severity: Option<usize>,
}

struct HxlPlan {
    /// (level, column), deepest first.
    codes: Vec<(u8, usize)>,
    names: HashMap<u8, usize>,
    country: Option<usize>,
    sector: Option<usize>,
    category: Option<usize>,
    /// The `#priority` column, looked for only when a priority-to-severity map is given.
    priority: Option<usize>,
    groups: Vec<FigureGroup>,
    /// The column headings used in messages.
    labels: Vec<String>,
}

/// What the attributes of a figure column say.
struct AttributeReading {
    sector: Option<SectorCode>,
    band: Band,
    unfoldable: Vec<String>,
}

fn read_attributes(attributes: &[String]) -> Result<AttributeReading, String> {
    let protection = attributes
        .iter()
        .any(|a| PROTECTION_ATTRIBUTES.contains(&a.as_str()));
    let mut sectors: Vec<&'static str> = Vec::new();
    let mut band = Band::default();
    let mut unfoldable = Vec::new();
    let mut unknown = Vec::new();
    for attribute in attributes {
        let a = attribute.as_str();
        if NEUTRAL_ATTRIBUTES.contains(&a) || a.starts_with("v_") || a.starts_with("i_") {
            continue;
        }
        if PROTECTION_ATTRIBUTES.contains(&a) {
            sectors.push("PRO");
        } else if protection && a == "child" {
            sectors.push("PRO-CPN");
        } else if let Some((_, code)) = SECTOR_ATTRIBUTES.iter().find(|(k, _)| *k == a) {
            sectors.push(code);
        } else if matches!(a, "f" | "female") {
            band.sex = Some("F");
        } else if matches!(a, "m" | "male") {
            band.sex = Some("M");
        } else if let Some(group) = group_of_words(a) {
            band.group = Some(group);
        } else if UNFOLDABLE_ATTRIBUTES.contains(&a) {
            unfoldable.push(format!("+{a}"));
        } else {
            unknown.push(format!("+{a}"));
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "{} is not a sector, sex or population group Concord knows",
            unknown.join(" ")
        ));
    }
    // An area of responsibility is more specific than the protection cluster it is under.
    if sectors.iter().any(|s| s.starts_with("PRO-")) {
        sectors.retain(|s| *s != "PRO");
    }
    sectors.sort_unstable();
    sectors.dedup();
    if sectors.len() > 1 {
        return Err(format!("names several sectors ({})", sectors.join(", ")));
    }
    Ok(AttributeReading {
        sector: sectors.first().map(|s| Some(*s)),
        band,
        unfoldable,
    })
}

/// The sector the headers above a column name: `Err(label)` when one names something that
/// is not a sector Concord knows and none names one it does.
fn sector_from_headers(labels: &[String]) -> Result<SectorCode, String> {
    let mut unknown = None;
    for label in labels {
        match sector_from_label(label) {
            LabelSector::Sector(sector) => return Ok(sector),
            LabelSector::Unknown if unknown.is_none() => unknown = Some(label.clone()),
            _ => {}
        }
    }
    unknown.map_or(Ok(None), Err)
}

fn plan_hxl(records: &[Record], tag_index: usize, out: &mut Out<'_>) -> HxlPlan {
    let tag_row = &records[tag_index];
    let headers = &records[..tag_index];
    let tags: Vec<Option<Tag>> = tag_row.cells.iter().map(|c| parse_tag(c)).collect();
    let line = tag_row.line;

    // Headings for messages: the hashtag, told apart by the header above when repeated.
    let labels = column_labels(tag_row, headers, |l| {
        sector_from_label(l) != LabelSector::Generic
    });

    let mut plan = HxlPlan {
        codes: Vec::new(),
        names: HashMap::new(),
        country: None,
        sector: None,
        category: None,
        priority: None,
        groups: Vec::new(),
        labels,
    };
    let has_sector_column = tags.iter().flatten().any(|t| {
        matches!(t.name.as_str(), "sector" | "cluster") && !t.attributes.iter().any(|a| a == "name")
    });

    // (status, sector, band) to the first column giving it.
    let mut figures: Vec<(Status, ColumnSector, Band, usize)> = Vec::new();
    let mut severities: Vec<(ColumnSector, usize)> = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let Some(tag) = tag else { continue };
        let label = plan.labels[index].clone();
        let has = |a: &str| tag.attributes.iter().any(|x| x == a);
        let admin_level = tag
            .name
            .strip_prefix("adm")
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|l| (1..=5).contains(l));
        let status = match tag.name.as_str() {
            "inneed" => Some(Status::InNeed),
            "affected" => Some(Status::Affected),
            _ => None,
        };
        if let Some(level) = admin_level {
            if has("code") || has("pcode") || has("id") {
                plan.codes.push((level, index));
            } else {
                plan.names.entry(level).or_insert(index);
            }
            continue;
        }
        match tag.name.as_str() {
            "country" if has("code") || has("iso3") || has("iso2") => {
                plan.country.get_or_insert(index);
                continue;
            }
            "sector" | "cluster" if has_sector_column && !has("name") => {
                plan.sector.get_or_insert(index);
                continue;
            }
            "category" => {
                plan.category.get_or_insert(index);
                continue;
            }
            "priority" if out.options.priority_severity.is_some() => {
                plan.priority.get_or_insert(index);
                continue;
            }
            "severity" => {}
            _ if status.is_some() => {}
            _ => continue,
        }
        let reading = match read_attributes(&tag.attributes) {
            Ok(reading) => reading,
            Err(reason) => {
                out.error(
                    line,
                    Some(&label),
                    format!("{reason}: the column is not read"),
                );
                continue;
            }
        };
        if !reading.unfoldable.is_empty() {
            let why = unfoldable_reason(
                &reading
                    .unfoldable
                    .iter()
                    .map(|a| a.trim_start_matches('+').to_owned())
                    .collect::<Vec<_>>(),
            );
            out.skip(
                line,
                Some(&label),
                format!(
                    "figures for {} are not imported: {why}",
                    reading.unfoldable.join(" ")
                ),
            );
            continue;
        }
        let sector = match reading.sector {
            Some(sector) => ColumnSector::Fixed(sector),
            None if has_sector_column => ColumnSector::FromRow,
            None => match sector_from_headers(&header_labels(headers, index)) {
                Ok(sector) => ColumnSector::Fixed(sector),
                Err(above) => {
                    let reason = format!(
                        "the header above says {above:?}, which is not a sector Concord knows; tag the column with a sector (e.g. #inneed+wash) to read it"
                    );
                    out.error(line, Some(&label), reason);
                    continue;
                }
            },
        };
        match status {
            None => {
                if reading.band != Band::default() {
                    out.skip(line, Some(&label), "a severity by sex or group is not read");
                } else if let Some((_, first)) = severities.iter().find(|(s, _)| *s == sector) {
                    let reason = format!(
                        "the same severity as column {}: the column is not read",
                        plan.labels[*first]
                    );
                    out.error(line, Some(&label), reason);
                } else {
                    severities.push((sector, index));
                }
            }
            Some(status) => {
                if let Some((.., first)) = figures
                    .iter()
                    .find(|(st, se, b, _)| *st == status && *se == sector && *b == reading.band)
                {
                    let reason = format!(
                        "the same figure as column {}: the column is not read",
                        plan.labels[*first]
                    );
                    out.error(line, Some(&label), reason);
                } else {
                    figures.push((status, sector, reading.band, index));
                }
            }
        }
    }
    plan.codes.sort_by_key(|c| std::cmp::Reverse(c.0));

    // Per sector: #inneed, and #affected only where the table has no #inneed.
    let mut order: Vec<ColumnSector> = Vec::new();
    for (_, sector, ..) in &figures {
        if !order.contains(sector) {
            order.push(*sector);
        }
    }
    for sector in order {
        let in_need = figures
            .iter()
            .any(|(st, se, ..)| *se == sector && *st == Status::InNeed);
        let status = if in_need {
            Status::InNeed
        } else {
            Status::Affected
        };
        let mut group = FigureGroup {
            sector,
            total: None,
            bands: Vec::new(),
            severity: severities
                .iter()
                .find(|(s, _)| *s == sector)
                .map(|(_, i)| *i),
        };
        for (st, se, band, index) in &figures {
            if *se != sector || *st != status {
                continue;
            }
            if *band == Band::default() {
                group.total = Some(*index);
            } else {
                group.bands.push((band.clone(), *index));
            }
        }
        plan.groups.push(group);
    }
    plan
}

fn read_hxl(records: &[Record], tag_index: usize, out: &mut Out<'_>) -> Result<(), NeedsError> {
    let plan = plan_hxl(records, tag_index, out);
    if plan.groups.is_empty() {
        // Column errors may have left nothing: the file is then unusable as a needs table.
        return Err(NeedsError::NoFigures(records[tag_index].line));
    }
    if out.options.priority_severity.is_some() && plan.priority.is_none() {
        return Err(NeedsError::NoPriorityColumn);
    }
    let period = out.period();
    for record in &records[tag_index + 1..] {
        if record.is_blank() {
            continue;
        }
        if !record.utf8 {
            out.error(record.line, None, "not valid UTF-8");
            continue;
        }
        read_hxl_row(record, &plan, period, out);
    }
    Ok(())
}

fn read_hxl_row(record: &Record, plan: &HxlPlan, period: Period, out: &mut Out<'_>) {
    let line = record.line;
    let label = |index: usize| plan.labels[index].as_str();
    // Only rows with a figure are read: a row of blanks and dashes states no need.
    let has_figure = plan.groups.iter().any(|g| {
        g.total
            .into_iter()
            .chain(g.bands.iter().map(|(_, i)| *i))
            .any(|i| parse_count(record.get(i)) != Ok(None))
    });
    if !has_figure {
        return;
    }
    if let Some(index) = plan.category {
        let category = record.get(index);
        let reason = match category_band(category) {
            Ok(None) => None,
            Ok(Some(_)) => Some(format!(
                "category {category:?}: disaggregation rows of HXL tables are not read"
            )),
            Err(reason) => Some(reason),
        };
        if let Some(reason) = reason {
            out.skip(line, Some(label(index)), reason);
            return;
        }
    }
    let area = match locate_hxl(record, plan, out.country) {
        Ok(area) => area,
        Err(problem) => {
            out.problem(line, problem);
            return;
        }
    };
    let row_sector = match plan.sector {
        None => None,
        Some(index) => match sector_from_label(record.get(index)) {
            LabelSector::Sector(sector) => Some(sector),
            LabelSector::Generic if record.get(index).is_empty() => {
                out.error(line, Some(label(index)), "no sector");
                return;
            }
            _ => {
                let reason = format!("{:?} is not a sector Concord knows", record.get(index));
                out.error(line, Some(label(index)), reason);
                return;
            }
        },
    };
    let priority_severity = priority_severity(record, plan, out);
    for group in &plan.groups {
        let sector = match (group.sector, row_sector) {
            (ColumnSector::Fixed(sector), _) => sector,
            (ColumnSector::FromRow, Some(sector)) => sector,
            (ColumnSector::FromRow, None) => continue,
        };
        let total = match group.total.map(|i| (i, parse_count(record.get(i)))) {
            None | Some((_, Ok(None))) => None,
            Some((_, Ok(Some(n)))) => Some(n),
            Some((index, Err(reason))) => {
                out.error(line, Some(label(index)), reason);
                continue;
            }
        };
        let mut bands = Vec::new();
        let mut first_band = None;
        for (band, index) in &group.bands {
            match parse_count(record.get(*index)) {
                Ok(None) => {}
                Ok(Some(n)) => {
                    first_band.get_or_insert(*index);
                    match total {
                        Some(total) if n > total => {
                            let reason = format!("{n} is more than the total {total}");
                            out.error(line, Some(label(*index)), reason);
                        }
                        _ => bands.push(band.input(n)),
                    }
                }
                Err(reason) => out.error(line, Some(label(*index)), reason),
            }
        }
        let Some(total) = total else {
            if let Some(index) = first_band {
                out.error(
                    line,
                    Some(label(index)),
                    "figures by sex or group, but no total for the sector",
                );
            }
            continue;
        };
        // An explicit #severity wins over the one mapped from the row's #priority.
        let severity = match group.severity.map(|i| (i, parse_count(record.get(i)))) {
            None | Some((_, Ok(None))) => priority_severity,
            Some((_, Ok(Some(n)))) if (1..=5).contains(&n) => i64::try_from(n).ok(),
            Some((index, Ok(Some(_)) | Err(_))) => {
                let reason = format!(
                    "{:?} is not a severity from 1 to 5: the need is read without it",
                    record.get(index)
                );
                out.error(line, Some(label(index)), reason);
                None
            }
        };
        out.need(
            line,
            group.total.map(label),
            &area,
            sector,
            total,
            bands,
            severity,
            period,
        );
    }
}

/// The severity the row's `#priority` maps to, when a map is given; a value the map does
/// not name is a row error (once per row), and the row's needs get no severity from it.
fn priority_severity(record: &Record, plan: &HxlPlan, out: &mut Out<'_>) -> Option<i64> {
    let options = out.options;
    let map = options.priority_severity.as_ref()?;
    let index = plan.priority?;
    let raw = record.get(index);
    if matches!(raw, "" | "-" | "\u{2013}" | "\u{2014}") {
        return None;
    }
    if let Some(severity) = map.get(raw) {
        return Some(i64::from(severity));
    }
    let reason = format!(
        "priority {raw:?} has no severity in the priority-to-severity map ({map}): the row's needs are read without a severity"
    );
    out.error(record.line, Some(&plan.labels[index]), reason);
    None
}

fn locate_hxl(
    record: &Record,
    plan: &HxlPlan,
    known: Option<&'static Country>,
) -> Result<Area, Problem> {
    let country = match plan.country.map(|i| (i, record.get(i))) {
        Some((index, code)) if !code.is_empty() => Some(country_of(code).ok_or_else(|| {
            Problem::new(
                Some(&plan.labels[index]),
                format!("{code:?} is not a known ISO 3166-1 country code"),
            )
        })?),
        _ => known,
    };
    for (position, &(level, index)) in plan.codes.iter().enumerate() {
        let raw = record.get(index);
        if raw.is_empty() {
            continue;
        }
        let pcode =
            Pcode::parse(raw).map_err(|e| Problem::new(Some(&plan.labels[index]), e.message))?;
        let parent = plan.codes[position + 1..]
            .iter()
            .map(|&(_, i)| record.get(i))
            .find(|s| !s.is_empty())
            .and_then(|s| Pcode::parse(s).ok())
            .map(String::from)
            .or_else(|| {
                (level == 1)
                    .then(|| country.map(|c| c.alpha2.clone()))
                    .flatten()
            });
        let name = plan
            .names
            .get(&level)
            .map(|&i| record.get(i))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        return Ok(Area {
            pcode: pcode.into(),
            name,
            parent,
            level,
        });
    }
    if let Some((&level, &index)) = plan
        .names
        .iter()
        .filter(|(_, i)| !record.get(**i).is_empty())
        .max_by_key(|(l, _)| **l)
    {
        return Err(Problem::new(
            Some(&plan.labels[index]),
            format!(
                "{:?} (admin {level}) has no P-code; areas are not matched by name",
                record.get(index)
            ),
        ));
    }
    country.map(Area::country).ok_or_else(|| {
        Problem::new(
            None,
            "no P-code, and no country for a country-level row: give the country",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> NeedsOptions {
        NeedsOptions::new(
            NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        )
    }

    fn read(text: &str) -> NeedsTable {
        read_with(text, &options())
    }

    fn read_with(text: &str, options: &NeedsOptions) -> NeedsTable {
        let table = read_needs(text.as_bytes(), options).unwrap();
        for row in &table.rows {
            NewNeed::parse(&row.need).unwrap_or_else(|e| panic!("line {}: {e}", row.line));
        }
        table
    }

    /// (P-code, sector, people) of every need, for short assertions.
    fn cells(table: &NeedsTable) -> Vec<(String, String, i64)> {
        table
            .rows
            .iter()
            .map(|r| {
                (
                    r.need.pcode.clone(),
                    r.need.sector.clone().unwrap_or_else(|| "*".into()),
                    r.need.people_in_need,
                )
            })
            .collect()
    }

    fn cell(pcode: &str, sector: &str, people: i64) -> (String, String, i64) {
        (pcode.into(), sector.into(), people)
    }

    #[test]
    fn counts_as_real_tables_write_them() {
        assert_eq!(parse_count("80 418"), Ok(Some(80_418)));
        assert_eq!(parse_count(" 1 234 567 "), Ok(Some(1_234_567)));
        assert_eq!(parse_count("80\u{a0}418"), Ok(Some(80_418)));
        assert_eq!(parse_count("80\u{202f}418"), Ok(Some(80_418)));
        assert_eq!(parse_count("12,345"), Ok(Some(12_345)));
        assert_eq!(parse_count("1'000"), Ok(Some(1_000)));
        assert_eq!(parse_count("80418.0"), Ok(Some(80_418)));
        assert_eq!(parse_count("0"), Ok(Some(0)));
        assert_eq!(parse_count("-"), Ok(None));
        assert_eq!(parse_count(""), Ok(None));
        assert_eq!(parse_count("   "), Ok(None));
    }

    #[test]
    fn refuses_what_is_not_a_count() {
        for bad in [
            "1.5e3",
            "1e3",
            "-5",
            "12.5",
            "12,34",
            "1234,567",
            "1 234,567",
            "abc",
            "12 people",
            "1.",
            "+5",
            "99999999999999999999999",
        ] {
            assert!(parse_count(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_count("-5").unwrap_err().contains("negative"));
        assert!(parse_count("12.5").unwrap_err().contains("whole"));
    }

    const GROUPED: &str = "\
Drought response 2022,,,,,
LOCATION,,OVERALL FIGURES,HEALTH,ESNFI,WASH
admin2Pcode,Zone,Total Affected,Affected,Affected,Affected
#adm2+code,#adm2+name,#affected+total,#inneed+health,#inneed,#inneed
ET0103,Eastern,80418,80 418,-,1 200
ET0104,North Western,,,,
ET0105,South Eastern,5000,,12,
";

    #[test]
    fn tells_repeated_hashtags_apart_by_the_header_above() {
        let table = read(GROUPED);
        assert_eq!(table.format, NeedsFormat::HxlDrought);
        assert_eq!(table.errors, Vec::new());
        assert_eq!(
            cells(&table),
            vec![
                cell("ET0103", "*", 80_418),
                cell("ET0103", "HEA", 80_418),
                cell("ET0103", "WSH", 1_200),
                cell("ET0105", "*", 5_000),
                cell("ET0105", "SHL", 12),
            ]
        );
        let first = &table.rows[0];
        assert_eq!(first.line, 5);
        assert_eq!(first.area_name.as_deref(), Some("Eastern"));
        assert_eq!(first.admin_level, Some(2));
    }

    #[test]
    fn finds_the_hashtag_row_on_line_2_3_or_4() {
        let body = "#adm1+code,#inneed+nutrition\nSO11,7\n";
        for above in ["", "Region,Nutrition\n", "Title\nRegion,Nutrition\n"] {
            let table = read(&format!("{above}{body}"));
            assert_eq!(cells(&table), vec![cell("SO11", "NUT", 7)]);
            let expected = above.lines().count() as u64 + 2;
            assert_eq!(table.rows[0].line, expected, "with {above:?} above");
        }
        let table = read(&format!("Title\n\nRegion,Nutrition\n{body}"));
        assert_eq!(cells(&table), vec![cell("SO11", "NUT", 7)]);
    }

    #[test]
    fn reports_a_bad_number_with_its_line_and_column_and_reads_the_rest() {
        let table = read(
            "LOCATION,HEALTH,ESNFI,WASH\n\
             #adm1+code,#inneed+health,#inneed,#inneed\n\
             SO11,12.5,3,4\n\
             SO12,5,lots,6\n",
        );
        assert_eq!(
            table.errors,
            vec![
                NeedRowError {
                    line: 3,
                    column: Some("#inneed+health".into()),
                    reason: "\"12.5\" is not a whole number of people".into(),
                },
                NeedRowError {
                    line: 4,
                    column: Some("#inneed (ESNFI)".into()),
                    reason: "\"lots\" is not a number".into(),
                },
            ]
        );
        assert_eq!(
            cells(&table),
            vec![
                cell("SO11", "SHL", 3),
                cell("SO11", "WSH", 4),
                cell("SO12", "HEA", 5),
                cell("SO12", "WSH", 6),
            ]
        );
    }

    #[test]
    fn reads_a_file_that_starts_with_a_bom() {
        let table = read("\u{feff}#adm1+code,#inneed+health\nET01,5\n");
        assert_eq!(cells(&table), vec![cell("ET01", "HEA", 5)]);
        let table = read("\u{feff}Admin 1 PCode,Cluster,Category,In Need\nAF01,FSC,,9\n");
        assert_eq!(table.format, NeedsFormat::HpcHno);
        assert_eq!(cells(&table), vec![cell("AF01", "FSC", 9)]);
    }

    #[test]
    fn empty_cells_and_dashes_are_no_figure_and_no_error() {
        let table = read("#adm1+code,#inneed+health,#inneed+wash\nKE01,,-\nKE02,\u{2013},\n");
        assert!(table.rows.is_empty());
        assert!(table.errors.is_empty());
    }

    #[test]
    fn the_most_specific_pcode_is_the_area_and_the_next_one_its_parent() {
        let table = read(
            "#adm3+code,#adm3+name,#adm2+code,#adm1+code,#inneed+food\n\
             ET010302,Erob,ET0103,ET01,9\n\
             ,,ET0104,ET01,8\n\
             ,,,ET02,7\n",
        );
        let areas: Vec<_> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.need.pcode.as_str(),
                    r.parent_pcode.as_deref(),
                    r.admin_level,
                )
            })
            .collect();
        assert_eq!(
            areas,
            vec![
                ("ET010302", Some("ET0103"), Some(3)),
                ("ET0104", Some("ET01"), Some(2)),
                ("ET02", None, Some(1)),
            ]
        );
        assert_eq!(table.rows[0].area_name.as_deref(), Some("Erob"));
    }

    #[test]
    fn protection_areas_of_responsibility_and_agriculture() {
        let table = read(
            "AGRICULTURE,CHILD PROTECTION,PROTECTION GBV,PROTECTION\n\
             #inneed,#inneed+protection+child,#inneed+protection+gbv,#inneed+protection\n\
             1,2,3,4\n",
        );
        let mut options = options();
        options.country = Some("KE".into());
        let with_country = read_with(
            "AGRICULTURE,CHILD PROTECTION\n#inneed,#inneed+protection+child\n1,2\n",
            &options,
        );
        // No location: the row is a country-level figure only when the country is given.
        assert_eq!(table.rows.len(), 0);
        assert_eq!(table.errors.len(), 1);
        assert_eq!(
            cells(&with_country),
            vec![cell("KE", "311", 1), cell("KE", "PRO-CPN", 2)]
        );
        let table = read(
            "#adm1+code,#inneed+protection+child,#inneed+protection+gbv,#inneed+protection\n\
             KE007,2,3,4\n",
        );
        assert_eq!(
            cells(&table),
            vec![
                cell("KE007", "PRO-CPN", 2),
                cell("KE007", "PRO-GBV", 3),
                cell("KE007", "PRO", 4),
            ]
        );
    }

    #[test]
    fn a_header_naming_an_unknown_sector_is_a_column_error() {
        let table = read("LOCATION,MPC,HEALTH\n#adm1+code,#inneed,#inneed\nSO11,5,6\nSO12,7,8\n");
        assert_eq!(
            table.errors,
            vec![NeedRowError {
                line: 2,
                column: Some("#inneed (MPC)".into()),
                reason: "the header above says \"MPC\", which is not a sector Concord knows; tag the column with a sector (e.g. #inneed+wash) to read it".into(),
            }]
        );
        assert_eq!(
            cells(&table),
            vec![cell("SO11", "HEA", 6), cell("SO12", "HEA", 8)]
        );
    }

    #[test]
    fn inneed_wins_over_affected_for_the_same_sector() {
        let table = read("#adm1+code,#affected,#inneed+total,#affected+health\nSO11,50,40,9\n");
        assert_eq!(
            cells(&table),
            vec![cell("SO11", "*", 40), cell("SO11", "HEA", 9)]
        );
    }

    #[test]
    fn sex_and_group_columns_fold_into_bands_and_age_columns_are_skipped() {
        let table = read(
            "#adm1+code,#inneed+health,#inneed+health+f,#inneed+health+idps,#inneed+health+children\n\
             SO11,100,60,30,50\n\
             SO12,10,20,,\n",
        );
        assert_eq!(table.skipped.len(), 1);
        assert_eq!(table.skipped[0].line, 1);
        assert_eq!(
            table.skipped[0].column.as_deref(),
            Some("#inneed+health+children")
        );
        let bands = &table.rows[0].need.bands;
        assert_eq!(bands.len(), 2);
        assert_eq!((bands[0].sex.as_deref(), bands[0].people), (Some("F"), 60));
        assert_eq!(
            (bands[1].group.as_deref(), bands[1].people),
            (Some("IDP"), 30)
        );
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 3);
        assert!(table.errors[0].reason.contains("more than the total"));
        assert_eq!(cells(&table)[1], cell("SO12", "HEA", 10));
    }

    #[test]
    fn a_later_figure_for_the_same_area_and_sector_is_an_error() {
        let table = read("#adm1+code,#inneed+wash\nSO11,5\nso11,6\n");
        assert_eq!(cells(&table), vec![cell("SO11", "WSH", 5)]);
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 3);
        assert!(table.errors[0].reason.contains("first given on line 2"));
    }

    #[test]
    fn names_without_pcodes_and_bad_pcodes_are_errors() {
        let table = read("#adm1+code,#adm1+name,#inneed\n,Awdal,5\nSO-11,Bari,6\n");
        assert!(table.rows.is_empty());
        let lines: Vec<_> = table
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        assert_eq!(
            lines,
            vec![(2, Some("#adm1+name")), (3, Some("#adm1+code"))]
        );
    }

    #[test]
    fn severity_source_and_period_are_carried() {
        let mut options = options();
        options.source = Some("drought.csv".into());
        let table = read_with(
            "#adm1+code,#inneed+wash,#severity+wash\nSO11,5,4\nSO12,6,9\n",
            &options,
        );
        assert_eq!(table.rows[0].need.severity, Some(4));
        assert_eq!(table.rows[0].need.source.as_deref(), Some("drought.csv"));
        assert_eq!(table.rows[0].need.period_end, options.period_end);
        assert_eq!(table.rows[1].need.severity, None);
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].column.as_deref(), Some("#severity+wash"));
    }

    const PRIORITIES: &str = "\
#adm1+code,#priority,#affected+total,#inneed+wash,#severity+wash
SO11,1,10,5,
SO12,2,20,6,5
SO13,3,30,7,
SO14,,40,8,
SO15,4,50,9,
";

    fn severities(table: &NeedsTable) -> Vec<(&str, &str, Option<i64>)> {
        table
            .rows
            .iter()
            .map(|r| {
                (
                    r.need.pcode.as_str(),
                    r.need.sector.as_deref().unwrap_or("*"),
                    r.need.severity,
                )
            })
            .collect()
    }

    #[test]
    fn priority_is_not_a_severity_unless_a_map_is_given() {
        let table = read(PRIORITIES);
        assert_eq!(table.errors, Vec::new());
        assert!(
            table
                .rows
                .iter()
                .all(|r| r.need.severity == Some(5) || r.need.severity.is_none())
        );
        assert_eq!(table.rows[3].need.severity, Some(5), "SO12's own #severity");
    }

    #[test]
    fn a_priority_map_gives_every_need_of_the_row_a_severity() {
        let mut options = options();
        options.priority_severity = Some("1=4, 2=3 ,3=2".parse().unwrap());
        let table = read_with(PRIORITIES, &options);
        assert_eq!(
            severities(&table),
            vec![
                ("SO11", "*", Some(4)),
                ("SO11", "WSH", Some(4)),
                ("SO12", "*", Some(3)),
                ("SO12", "WSH", Some(5)),
                ("SO13", "*", Some(2)),
                ("SO13", "WSH", Some(2)),
                ("SO14", "*", None),
                ("SO14", "WSH", None),
                ("SO15", "*", None),
                ("SO15", "WSH", None),
            ],
            "an explicit #severity wins; an empty priority gives none"
        );
        assert_eq!(
            table.errors,
            vec![NeedRowError {
                line: 6,
                column: Some("#priority".into()),
                reason: "priority \"4\" has no severity in the priority-to-severity map (1=4,2=3,3=2): the row's needs are read without a severity".into(),
            }]
        );
    }

    #[test]
    fn a_priority_map_needs_a_priority_column() {
        let mut options = options();
        options.priority_severity = Some("1=4".parse().unwrap());
        assert!(matches!(
            read_needs(GROUPED.as_bytes(), &options),
            Err(NeedsError::NoPriorityColumn)
        ));
        assert!(matches!(
            read_needs(HPC.as_bytes(), &options),
            Err(NeedsError::NoPriorityColumn)
        ));
    }

    #[test]
    fn priority_maps_are_read_strictly() {
        let map: PrioritySeverity = "1=4,2=3,3=2".parse().unwrap();
        assert_eq!(map.get("1"), Some(4));
        assert_eq!(map.get(" 3 "), Some(2));
        assert_eq!(map.get("4"), None);
        assert_eq!(map.to_string(), "1=4,2=3,3=2");
        let named: PrioritySeverity = "High=4,low=2".parse().unwrap();
        assert_eq!(named.get("HIGH"), Some(4));
        for (bad, why) in [
            ("", "not PRIORITY=SEVERITY"),
            ("1=4,", "not PRIORITY=SEVERITY"),
            ("1:4", "not PRIORITY=SEVERITY"),
            ("1=four", "not PRIORITY=SEVERITY"),
            ("1=-1", "not PRIORITY=SEVERITY"),
            ("1=0", "1 to 5"),
            ("1=6", "1 to 5"),
            ("=3", "names no priority"),
            ("1=4,1=3", "mapped twice"),
        ] {
            let error = bad.parse::<PrioritySeverity>().unwrap_err().to_string();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
        assert!(
            PrioritySeverity::new(Vec::<(&str, u8)>::new())
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    const HPC: &str = "\
Admin 1 PCode,Admin 1 Name,Admin 2 PCode,Admin 2 Name,Description,Cluster,Category,Population,In Need,Targeted,Affected,Reached,Info
,,,,Final HNRP Caseload,ALL,,44532600,23666389,17327995,,18400000,
,,,,Food Security,FSC,,,15823677,15823677,,,
,,,,General Protection,PRO,,,14809904,2973716,,,
,,,,Protection (overall),PRO,,,20806009,5962816,,,
,,,,Refugee Response,,,,963410,963410,,,No cluster for entity 7454
AF01,Kabul,,,Health,HEA,Female,,400,,,,
AF01,Kabul,,,Health,HEA,Male,,500,,,,
AF01,Kabul,,,Health,HEA,Children,,300,,,,
AF01,Kabul,,,Health,HEA,IDPs,,90,,,,
AF01,Kabul,,,Health,HEA,total,,1000,,,,
AF01,Kabul,,,Health,HEA,Refugees,,2000,,,,
,,AF0101,Kabul,Multi-Purpose Cash,MS,total,,10,,,,
";

    #[test]
    fn hpc_exports_need_the_country_for_country_level_rows() {
        let table = read(HPC);
        assert_eq!(table.format, NeedsFormat::HpcHno);
        assert_eq!(cells(&table), vec![cell("AF01", "HEA", 1000)]);
        let country_lines: Vec<u64> = table
            .errors
            .iter()
            .filter(|e| e.reason.contains("give the country"))
            .map(|e| e.line)
            .collect();
        assert_eq!(country_lines, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn hpc_exports_fold_sex_and_group_categories() {
        let mut options = options();
        options.country = Some("AF".into());
        let table = read_with(HPC, &options);
        assert_eq!(
            cells(&table),
            vec![
                cell("AF", "*", 23_666_389),
                cell("AF", "FSC", 15_823_677),
                cell("AF", "PRO", 14_809_904),
                cell("AF01", "HEA", 1000),
            ]
        );
        let kabul = &table.rows[3];
        assert_eq!(kabul.line, 11);
        assert_eq!(kabul.parent_pcode.as_deref(), Some("AF"));
        assert_eq!(kabul.area_name.as_deref(), Some("Kabul"));
        let bands: Vec<_> = kabul
            .need
            .bands
            .iter()
            .map(|b| (b.sex.as_deref(), b.group.as_deref(), b.people))
            .collect();
        assert_eq!(
            bands,
            vec![
                (Some("F"), None, 400),
                (Some("M"), None, 500),
                (None, Some("IDP"), 90),
            ]
        );
        let errors: Vec<_> = table
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            errors,
            vec![(6, "Cluster"), (12, "In Need"), (13, "Cluster")]
        );
        let skipped: Vec<_> = table.skipped.iter().map(|e| e.line).collect();
        assert_eq!(skipped, vec![5, 9]);
        assert!(table.skipped[0].reason.contains("Protection (overall)"));
        assert!(table.skipped[1].reason.contains("age label"));
    }

    #[test]
    fn hapi_keeps_people_in_need_with_the_file_periods() {
        let table = read(
            "location_code,has_hrp,admin1_code,admin1_name,admin2_code,admin2_name,admin_level,sector_code,sector_name,category,population_status,population,reference_period_start,reference_period_end\n\
             #country+code,#meta+has_hrp,#adm1+code,#adm1+name,#adm2+code,#adm2+name,#adm+level,#sector+code,#sector+name,#category,#status+code,#population,#date+start,#date+end\n\
             AFG,Y,,,,,0,Intersectoral,Intersectoral,,INN,23666389,2024-01-05,2024-12-24T23:59:59\n\
             AFG,Y,,,,,0,Intersectoral,Intersectoral,,TGT,17327995,2024-01-05,2024-12-24\n\
             AFG,Y,AF01,Kabul,AF0101,Kabul,2,FSC,Food Security,total,INN,1 000,2024-01-05,2024-12-24\n\
             AFG,Y,AF01,Kabul,AF0101,Kabul,2,FSC,Food Security,Female,INN,600,2024-01-05,2024-12-24\n\
             AFG,Y,,,,,0,Multi,Multi-sector (unspecified),,INN,415000,2024-01-05,2024-12-24\n",
        );
        assert_eq!(table.format, NeedsFormat::HapiNeeds);
        assert_eq!(
            cells(&table),
            vec![cell("AF", "*", 23_666_389), cell("AF0101", "FSC", 1000)]
        );
        let need = &table.rows[0].need;
        assert_eq!(
            (need.period_start, need.period_end),
            (
                NaiveDate::from_ymd_opt(2024, 1, 5).unwrap(),
                NaiveDate::from_ymd_opt(2024, 12, 24).unwrap()
            )
        );
        assert_eq!(table.rows[1].parent_pcode.as_deref(), Some("AF01"));
        assert_eq!(table.rows[1].need.bands.len(), 1);
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 7);
    }

    #[test]
    fn unusable_files_are_errors() {
        assert!(matches!(
            read_needs("".as_bytes(), &options()),
            Err(NeedsError::Empty)
        ));
        assert!(matches!(
            read_needs("a,b\n1,2\n".as_bytes(), &options()),
            Err(NeedsError::UnrecognisedHeader)
        ));
        assert!(matches!(
            read_needs("#adm1+code,#targeted\nSO11,5\n".as_bytes(), &options()),
            Err(NeedsError::NoFigures(1))
        ));
        let mut bad = options();
        bad.country = Some("XX".into());
        assert!(matches!(
            read_needs(GROUPED.as_bytes(), &bad),
            Err(NeedsError::UnknownCountry(_))
        ));
    }

    #[test]
    fn a_row_that_is_not_utf8_is_reported() {
        let mut bytes = b"#adm1+code,#inneed+health\nSO11,5\n".to_vec();
        bytes.extend_from_slice(b"SO\xff2,6\n");
        let table = read_needs(bytes.as_slice(), &options()).unwrap();
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.errors[0].line, 3);
    }
}
