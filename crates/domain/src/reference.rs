//! Reference code lists Concord ships with: IATI activity statuses, organisation roles and
//! types, sector vocabularies, currencies (ISO 4217), countries (ISO 3166-1), and the three
//! sector vocabularies the registry accepts (DAC 5-digit, DAC 3-digit, IASC global clusters
//! and areas of responsibility), together with our crosswalk from each sector to the
//! clusters it falls under, its human-security dimensions and freedoms, and whether its data
//! is sensitive by default.
//!
//! The lists live as compact CSV files in `crates/domain/data/`, authored from the official
//! IATI code lists (withdrawn codes left out) and checked against them by
//! `tests/codelists.rs`. They are compiled into the binary with `include_str!` and parsed once,
//! on first use, so the crate stays free of runtime IO and every deployment agrees on the
//! same codes.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const ACTIVITY_STATUS_CSV: &str = include_str!("../data/activity_status.csv");
const ORGANISATION_ROLE_CSV: &str = include_str!("../data/organisation_role.csv");
const ORGANISATION_TYPE_CSV: &str = include_str!("../data/organisation_type.csv");
const SECTOR_VOCABULARY_CSV: &str = include_str!("../data/sector_vocabulary.csv");
const CURRENCY_CSV: &str = include_str!("../data/currency.csv");
const COUNTRY_CSV: &str = include_str!("../data/country.csv");
const SECTOR_DAC5_CSV: &str = include_str!("../data/sector_dac5.csv");
const SECTOR_DAC3_CSV: &str = include_str!("../data/sector_dac3.csv");
const CLUSTER_CSV: &str = include_str!("../data/cluster.csv");

/// The sector vocabularies Concord accepts. Only these three because they are what
/// humanitarian and development actors actually report against (IATI vocabularies 1, 2 and
/// 10), and each is crosswalked to the others so overlaps show across vocabularies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SectorVocabulary {
    /// OECD DAC CRS purpose codes, 5 digit (IATI vocabulary 1).
    Dac5,
    /// OECD DAC CRS purpose codes, 3 digit (IATI vocabulary 2).
    Dac3,
    /// IASC humanitarian global clusters and areas of responsibility (IATI vocabulary 10).
    Cluster,
}

impl SectorVocabulary {
    pub const ALL: [SectorVocabulary; 3] = [Self::Dac5, Self::Dac3, Self::Cluster];

    /// The IATI `SectorVocabulary` code, so imports and exports speak IATI without a table.
    pub fn iati_code(self) -> &'static str {
        match self {
            Self::Dac5 => "1",
            Self::Dac3 => "2",
            Self::Cluster => "10",
        }
    }

    /// `None` for IATI vocabularies Concord does not support, so an importer can report
    /// them instead of guessing.
    pub fn from_iati_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|vocabulary| vocabulary.iati_code() == code.trim())
    }

    fn index(self) -> usize {
        match self {
            Self::Dac5 => 0,
            Self::Dac3 => 1,
            Self::Cluster => 2,
        }
    }
}

/// The seven dimensions of human security (UNDP Human Development Report 1994). No
/// humanitarian standard carries them, so Concord derives them from the sector codes that
/// actors already use, to show coverage and gaps in human-security terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dimension {
    Economic,
    Food,
    Health,
    Environmental,
    Personal,
    Community,
    Political,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Self::Economic,
        Self::Food,
        Self::Health,
        Self::Environmental,
        Self::Personal,
        Self::Community,
        Self::Political,
    ];

    /// Short stable code used in the data files and the API, so labels can be translated
    /// without breaking stored values.
    pub fn code(self) -> &'static str {
        match self {
            Self::Economic => "ECON",
            Self::Food => "FOOD",
            Self::Health => "HEALTH",
            Self::Environmental => "ENV",
            Self::Personal => "PERS",
            Self::Community => "COMM",
            Self::Political => "POL",
        }
    }

    /// Exact (upper-case) codes only: these are machine codes, not user input.
    pub fn from_code(c: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|dimension| dimension.code() == c)
    }
}

/// The three freedoms of UN General Assembly resolution 66/290, kept beside the dimensions
/// because they separate protection (fear) from provision (want) and rights (dignity), which
/// drives both gap analysis and data sensitivity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Freedom {
    FromFear,
    FromWant,
    ToLiveInDignity,
}

impl Freedom {
    pub const ALL: [Freedom; 3] = [Self::FromFear, Self::FromWant, Self::ToLiveInDignity];

    /// Short stable code used in the data files and the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::FromFear => "FEAR",
            Self::FromWant => "WANT",
            Self::ToLiveInDignity => "DIGNITY",
        }
    }

    /// Exact (upper-case) codes only: these are machine codes, not user input.
    pub fn from_code(c: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|freedom| freedom.code() == c)
    }
}

/// One sector code with its place in the crosswalk. A single shape for all three
/// vocabularies so that filters, gap analysis and the API treat a DAC code and a cluster
/// alike; the fields that only make sense in one vocabulary are optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sector {
    pub vocabulary: SectorVocabulary,
    /// The code as IATI publishes it: `"14030"`, `"140"`, or the cluster id `"11"`.
    pub code: String,
    pub name: String,
    /// Clusters only: the HPC code (`"WSH"`), which is what field staff type and read.
    pub hpc_code: Option<String>,
    /// DAC 5-digit only: its DAC 3-digit category.
    pub category: Option<String>,
    /// Areas of responsibility only: the cluster that leads them (`"10"`, Protection).
    pub parent_cluster: Option<String>,
    /// DAC codes only: the cluster ids the code falls under (our crosswalk), so a filter on
    /// a cluster also finds work reported with DAC codes. Empty for clusters.
    pub clusters: Vec<String>,
    /// Never empty: every sector contributes to at least one dimension.
    pub dimensions: Vec<Dimension>,
    /// Never empty: every sector serves at least one freedom.
    pub freedoms: Vec<Freedom>,
    /// Data about people reached in this sector (protection, child protection, GBV) can put
    /// them at risk, so records default to restricted visibility.
    pub sensitive: bool,
}

/// A code with its English name, for the flat IATI lists that need nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub name: String,
}

/// A country with both ISO 3166-1 codes: IATI uses alpha-2, while HDX, HPC and P-codes
/// often use alpha-3, and Concord must accept both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Country {
    pub alpha2: String,
    /// Kosovo (`XK`) has no ISO code; we use `XKX`, as the UN, EU and World Bank do.
    pub alpha3: String,
    /// The IATI name (which follows the ISO short name, e.g. "Sudan (the)").
    pub name: String,
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// Parses one embedded file. A malformed file is a bug in the shipped data, caught by the
/// tests, so it panics with the file name and the row rather than returning an error every
/// caller would have to handle.
fn parse<T: DeserializeOwned>(file: &str, data: &str) -> Vec<T> {
    csv::Reader::from_reader(data.as_bytes())
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.unwrap_or_else(|e| panic!("{file}: data row {}: {e}", i + 1)))
        .collect()
}

fn parse_list<T>(file: &str, what: &str, text: &str, from: fn(&str) -> Option<T>) -> Vec<T> {
    text.split_whitespace()
        .map(|c| from(c).unwrap_or_else(|| panic!("{file}: unknown {what} code {c:?}")))
        .collect()
}

#[derive(Deserialize)]
struct CodeRow {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct CountryRow {
    alpha2: String,
    alpha3: String,
    name: String,
}

#[derive(Deserialize)]
struct DacRow {
    code: String,
    name: String,
    /// Only in `sector_dac5.csv`.
    #[serde(default)]
    category: Option<String>,
    clusters: String,
    dimensions: String,
    freedoms: String,
    sensitive: bool,
}

#[derive(Deserialize)]
struct ClusterRow {
    id: String,
    hpc_code: String,
    name: String,
    parent: Option<String>,
    dimensions: String,
    freedoms: String,
    sensitive: bool,
}

fn load_codes(file: &str, data: &str) -> Vec<Code> {
    parse::<CodeRow>(file, data)
        .into_iter()
        .map(|row| Code {
            code: row.code,
            name: row.name,
        })
        .collect()
}

struct SectorTable {
    /// Ordered by vocabulary, then numerically by code.
    all: Vec<Sector>,
    /// Per vocabulary (see `SectorVocabulary::index`): code to position in `all`.
    by_code: [HashMap<String, usize>; 3],
    /// Upper-case HPC code to position in `all`.
    by_hpc: HashMap<String, usize>,
}

fn load_dac(file: &str, data: &str, vocabulary: SectorVocabulary) -> impl Iterator<Item = Sector> {
    parse::<DacRow>(file, data)
        .into_iter()
        .map(move |row| Sector {
            vocabulary,
            dimensions: parse_list(file, "dimension", &row.dimensions, Dimension::from_code),
            freedoms: parse_list(file, "freedom", &row.freedoms, Freedom::from_code),
            clusters: row.clusters.split_whitespace().map(str::to_owned).collect(),
            code: row.code,
            name: row.name,
            hpc_code: None,
            category: row.category,
            parent_cluster: None,
            sensitive: row.sensitive,
        })
}

fn load_sectors() -> SectorTable {
    let clusters = parse::<ClusterRow>("cluster.csv", CLUSTER_CSV)
        .into_iter()
        .map(|row| Sector {
            vocabulary: SectorVocabulary::Cluster,
            dimensions: parse_list(
                "cluster.csv",
                "dimension",
                &row.dimensions,
                Dimension::from_code,
            ),
            freedoms: parse_list("cluster.csv", "freedom", &row.freedoms, Freedom::from_code),
            code: row.id,
            name: row.name,
            hpc_code: Some(row.hpc_code),
            category: None,
            parent_cluster: row.parent,
            clusters: Vec::new(),
            sensitive: row.sensitive,
        });
    let mut all: Vec<Sector> = load_dac("sector_dac5.csv", SECTOR_DAC5_CSV, SectorVocabulary::Dac5)
        .chain(load_dac(
            "sector_dac3.csv",
            SECTOR_DAC3_CSV,
            SectorVocabulary::Dac3,
        ))
        .chain(clusters)
        .collect();
    // Codes are digit strings of fixed width within DAC, but cluster ids are 1 to 4 digits:
    // ordering by length first gives numeric order (1, 2, ..., 11, 5403) everywhere.
    all.sort_by(|a, b| {
        (a.vocabulary, a.code.len(), &a.code).cmp(&(b.vocabulary, b.code.len(), &b.code))
    });
    let mut by_code: [HashMap<String, usize>; 3] = Default::default();
    let mut by_hpc = HashMap::new();
    for (i, sector) in all.iter().enumerate() {
        by_code[sector.vocabulary.index()].insert(sector.code.clone(), i);
        if let Some(hpc) = &sector.hpc_code {
            by_hpc.insert(hpc.to_ascii_uppercase(), i);
        }
    }
    SectorTable {
        all,
        by_code,
        by_hpc,
    }
}

struct CountryTable {
    all: Vec<Country>,
    by_alpha2: HashMap<String, usize>,
    by_alpha3: HashMap<String, usize>,
}

fn load_countries() -> CountryTable {
    let all: Vec<Country> = parse::<CountryRow>("country.csv", COUNTRY_CSV)
        .into_iter()
        .map(|row| Country {
            alpha2: row.alpha2,
            alpha3: row.alpha3,
            name: row.name,
        })
        .collect();
    let by_alpha2 = all
        .iter()
        .enumerate()
        .map(|(i, c)| (c.alpha2.clone(), i))
        .collect();
    let by_alpha3 = all
        .iter()
        .enumerate()
        .map(|(i, c)| (c.alpha3.clone(), i))
        .collect();
    CountryTable {
        all,
        by_alpha2,
        by_alpha3,
    }
}

static SECTORS: LazyLock<SectorTable> = LazyLock::new(load_sectors);
static COUNTRIES: LazyLock<CountryTable> = LazyLock::new(load_countries);
static ACTIVITY_STATUSES: LazyLock<Vec<Code>> =
    LazyLock::new(|| load_codes("activity_status.csv", ACTIVITY_STATUS_CSV));
static ORGANISATION_ROLES: LazyLock<Vec<Code>> =
    LazyLock::new(|| load_codes("organisation_role.csv", ORGANISATION_ROLE_CSV));
static ORGANISATION_TYPES: LazyLock<Vec<Code>> =
    LazyLock::new(|| load_codes("organisation_type.csv", ORGANISATION_TYPE_CSV));
static SECTOR_VOCABULARIES: LazyLock<Vec<Code>> =
    LazyLock::new(|| load_codes("sector_vocabulary.csv", SECTOR_VOCABULARY_CSV));
static CURRENCIES: LazyLock<Vec<Code>> = LazyLock::new(|| load_codes("currency.csv", CURRENCY_CSV));

// ---------------------------------------------------------------------------------------
// Sectors
// ---------------------------------------------------------------------------------------

/// Every sector of the three vocabularies, in a stable order (vocabulary, then numeric
/// code) so listings and exports do not reshuffle between runs.
pub fn sectors() -> &'static [Sector] {
    &SECTORS.all
}

/// The sectors of one vocabulary, for pickers and exports that show one list at a time.
pub fn sectors_of(vocabulary: SectorVocabulary) -> impl Iterator<Item = &'static Sector> {
    let all = sectors();
    let start = all.partition_point(|s| s.vocabulary < vocabulary);
    let end = all.partition_point(|s| s.vocabulary <= vocabulary);
    all[start..end].iter()
}

/// Looks up a sector; for Cluster accepts the numeric id or the HPC code (case-insensitive),
/// because IATI data carries the id while field staff know clusters by their HPC code.
pub fn sector(vocabulary: SectorVocabulary, code: &str) -> Option<&'static Sector> {
    let table = &*SECTORS;
    let code = code.trim();
    let found = table.by_code[vocabulary.index()].get(code).or_else(|| {
        (vocabulary == SectorVocabulary::Cluster)
            .then(|| table.by_hpc.get(&code.to_ascii_uppercase()))
            .flatten()
    });
    found.map(|&i| &table.all[i])
}

/// Finds a sector by a bare code as users type it: a 5-digit DAC code, a 3-digit DAC code, a
/// cluster id or HPC code. The vocabularies' code shapes never overlap (5 digits, 3 digits,
/// 1-2 or 4 digits, letters), so the code alone is unambiguous and users need not name the
/// vocabulary.
pub fn find_sector(code: &str) -> Option<&'static Sector> {
    SectorVocabulary::ALL
        .into_iter()
        .find_map(|vocabulary| sector(vocabulary, code))
}

/// The sector codes an intervention may carry to match a filter on `code`: the sector itself,
/// plus for a cluster every DAC code (3 and 5 digit) mapped to it (and, for PRO, its AoRs and
/// the DAC codes mapped to them), plus for a DAC3 its DAC5 codes. None when the code is
/// unknown.
///
/// Why: actors report the same work in different vocabularies (a WASH NGO says `WSH`, a
/// donor says `14030`), and a "who does what where" filter that only matched the literal
/// code would hide exactly the overlaps and gaps the registry exists to show.
pub fn expand_sector_filter(code: &str) -> Option<Vec<(SectorVocabulary, String)>> {
    let target = find_sector(code)?;
    let mut codes = vec![(target.vocabulary, target.code.clone())];
    match target.vocabulary {
        SectorVocabulary::Dac5 => {}
        SectorVocabulary::Dac3 => codes.extend(
            sectors_of(SectorVocabulary::Dac5)
                .filter(|s| s.category.as_deref() == Some(target.code.as_str()))
                .map(|s| (s.vocabulary, s.code.clone())),
        ),
        SectorVocabulary::Cluster => {
            let mut cluster_ids = vec![target.code.as_str()];
            for aor in sectors_of(SectorVocabulary::Cluster)
                .filter(|s| s.parent_cluster.as_deref() == Some(target.code.as_str()))
            {
                cluster_ids.push(aor.code.as_str());
                codes.push((aor.vocabulary, aor.code.clone()));
            }
            codes.extend(
                sectors()
                    .iter()
                    .filter(|s| s.vocabulary != SectorVocabulary::Cluster)
                    .filter(|s| s.clusters.iter().any(|c| cluster_ids.contains(&c.as_str())))
                    .map(|s| (s.vocabulary, s.code.clone())),
            );
        }
    }
    Some(codes)
}

// ---------------------------------------------------------------------------------------
// Flat IATI lists, currencies and countries
// ---------------------------------------------------------------------------------------

/// IATI ActivityStatus, in IATI order (which is the lifecycle order).
pub fn activity_statuses() -> &'static [Code] {
    &ACTIVITY_STATUSES
}

/// IATI OrganisationRole: the roles an organisation can play in an intervention.
pub fn organisation_roles() -> &'static [Code] {
    &ORGANISATION_ROLES
}

/// IATI OrganisationType, so organisations can be grouped (e.g. local NGOs, for
/// localisation reporting) the way IATI publishers already do.
pub fn organisation_types() -> &'static [Code] {
    &ORGANISATION_TYPES
}

/// The full IATI SectorVocabulary list, so imports can name a vocabulary Concord rejects
/// instead of showing a bare number.
pub fn sector_vocabularies() -> &'static [Code] {
    &SECTOR_VOCABULARIES
}

/// ISO 4217 currencies as IATI lists them (active codes only, so no BYR or VEF).
pub fn currencies() -> &'static [Code] {
    &CURRENCIES
}

/// ISO 3166-1 countries as IATI lists them, in IATI's (name) order for pickers.
pub fn countries() -> &'static [Country] {
    &COUNTRIES.all
}

/// Case-insensitive, since users and files write `af` as often as `AF`; the returned
/// country carries the canonical code to store.
pub fn country_by_alpha2(code: &str) -> Option<&'static Country> {
    let table = &*COUNTRIES;
    table
        .by_alpha2
        .get(&code.trim().to_ascii_uppercase())
        .map(|&i| &table.all[i])
}

/// Case-insensitive, like [`country_by_alpha2`]; for HDX, HPC and P-code data that use
/// alpha-3.
pub fn country_by_alpha3(code: &str) -> Option<&'static Country> {
    let table = &*COUNTRIES;
    table
        .by_alpha3
        .get(&code.trim().to_ascii_uppercase())
        .map(|&i| &table.all[i])
}

/// Exact match only (`"USD"`, not `"usd"`): this only answers yes or no, so a caller that
/// accepted a lower-case code here would store it un-normalised. Normalise first.
pub fn is_currency(code: &str) -> bool {
    currencies().iter().any(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn codes_of(expanded: &[(SectorVocabulary, String)]) -> HashSet<&str> {
        expanded.iter().map(|(_, c)| c.as_str()).collect()
    }

    #[test]
    fn vocabulary_codes_round_trip() {
        for vocabulary in SectorVocabulary::ALL {
            assert_eq!(
                SectorVocabulary::from_iati_code(vocabulary.iati_code()),
                Some(vocabulary)
            );
        }
        assert_eq!(SectorVocabulary::from_iati_code("3"), None);
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::from_code(dimension.code()), Some(dimension));
        }
        for freedom in Freedom::ALL {
            assert_eq!(Freedom::from_code(freedom.code()), Some(freedom));
        }
        assert_eq!(Dimension::from_code("econ"), None);
    }

    #[test]
    fn looks_up_each_vocabulary() {
        let wash = sector(SectorVocabulary::Dac5, "14030").expect("14030");
        assert_eq!(wash.category.as_deref(), Some("140"));
        assert!(wash.clusters.contains(&"11".to_owned()));
        assert_eq!(
            sector(SectorVocabulary::Dac3, "140").map(|s| s.name.as_str()),
            Some("Water Supply & Sanitation")
        );
        assert!(sector(SectorVocabulary::Dac3, "14030").is_none());
        assert!(sector(SectorVocabulary::Dac5, "99999").is_none());
        assert_eq!(
            find_sector(" 72040 ").map(|s| s.vocabulary),
            Some(SectorVocabulary::Dac5)
        );
        assert_eq!(
            find_sector("720").map(|s| s.vocabulary),
            Some(SectorVocabulary::Dac3)
        );
        assert_eq!(
            find_sector("10").map(|s| s.name.as_str()),
            Some("Protection")
        );
        assert!(find_sector("").is_none());
        assert!(find_sector("XYZ").is_none());
    }

    #[test]
    fn cluster_lookup_accepts_id_and_hpc_code() {
        let by_id = sector(SectorVocabulary::Cluster, "11").expect("cluster 11");
        assert_eq!(by_id.hpc_code.as_deref(), Some("WSH"));
        assert_eq!(sector(SectorVocabulary::Cluster, "wsh"), Some(by_id));
        assert_eq!(find_sector("WSH"), Some(by_id));
        let gbv = find_sector("pro-gbv").expect("PRO-GBV");
        assert_eq!(gbv.code, "5404");
        assert_eq!(gbv.parent_cluster.as_deref(), Some("10"));
        // HPC codes are a cluster thing only.
        assert!(sector(SectorVocabulary::Dac5, "WSH").is_none());
    }

    #[test]
    fn wash_filter_includes_dac_codes() {
        let expanded = expand_sector_filter("WSH").expect("WSH");
        assert_eq!(expanded[0], (SectorVocabulary::Cluster, "11".to_owned()));
        assert!(expanded.contains(&(SectorVocabulary::Dac5, "14030".to_owned())));
        assert!(expanded.contains(&(SectorVocabulary::Dac3, "140".to_owned())));
        assert!(expanded.contains(&(SectorVocabulary::Dac5, "72010".to_owned())));
        assert!(!codes_of(&expanded).contains("12240"));
    }

    #[test]
    fn protection_filter_includes_aors_and_their_dac_codes() {
        let expanded = expand_sector_filter("PRO").expect("PRO");
        let codes = codes_of(&expanded);
        for code in [
            "10", "5403", "5404", "5405", "5406", "15160", "15180", "15250", "15261",
        ] {
            assert!(codes.contains(code), "PRO filter lacks {code}");
        }
        let expanded = expand_sector_filter("5404").expect("5404");
        let gbv = codes_of(&expanded);
        assert_eq!(gbv, HashSet::from(["5404", "15180"]));
    }

    #[test]
    fn dac_filters() {
        let dac3 = expand_sector_filter("140").expect("140");
        assert_eq!(dac3[0], (SectorVocabulary::Dac3, "140".to_owned()));
        assert!(dac3.contains(&(SectorVocabulary::Dac5, "14032".to_owned())));
        assert!(dac3.iter().skip(1).all(|(_, c)| c.starts_with("140")));
        assert_eq!(
            expand_sector_filter("14030"),
            Some(vec![(SectorVocabulary::Dac5, "14030".to_owned())])
        );
        assert_eq!(expand_sector_filter("nope"), None);
    }

    #[test]
    fn every_sector_has_a_dimension_and_a_freedom() {
        for s in sectors() {
            assert!(!s.dimensions.is_empty(), "{} has no dimension", s.code);
            assert!(!s.freedoms.is_empty(), "{} has no freedom", s.code);
        }
    }

    #[test]
    fn protection_data_is_sensitive() {
        for code in ["PRO", "PRO-CPN", "PRO-GBV", "15180", "15160", "15261"] {
            assert!(
                find_sector(code).expect(code).sensitive,
                "{code} not sensitive"
            );
        }
        for code in ["WSH", "PRO-MIN", "14030", "140"] {
            assert!(
                !find_sector(code).expect(code).sensitive,
                "{code} sensitive"
            );
        }
    }

    #[test]
    fn crosswalk_references_exist() {
        for s in sectors_of(SectorVocabulary::Dac5) {
            let category = s.category.as_deref().expect("DAC5 has a category");
            assert!(
                sector(SectorVocabulary::Dac3, category).is_some(),
                "{}: category {category} is not a DAC3 code",
                s.code
            );
            assert!(
                s.code.starts_with(category),
                "{}: category {category}",
                s.code
            );
        }
        for s in sectors() {
            for cluster in &s.clusters {
                assert!(
                    SECTORS.by_code[SectorVocabulary::Cluster.index()].contains_key(cluster),
                    "{}: unknown cluster id {cluster}",
                    s.code
                );
            }
            if let Some(parent) = &s.parent_cluster {
                assert!(sector(SectorVocabulary::Cluster, parent).is_some());
            }
        }
    }

    #[test]
    fn sectors_are_ordered_and_complete() {
        let all = sectors();
        assert_eq!(sectors_of(SectorVocabulary::Dac5).count(), 295);
        assert_eq!(sectors_of(SectorVocabulary::Dac3).count(), 42);
        let clusters: Vec<&str> = sectors_of(SectorVocabulary::Cluster)
            .map(|s| s.code.as_str())
            .collect();
        assert_eq!(
            clusters,
            [
                "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "5403", "5404", "5405",
                "5406"
            ]
        );
        assert_eq!(all.len(), 295 + 42 + 15);
        assert!(all.windows(2).all(|w| w[0].vocabulary <= w[1].vocabulary));
    }

    #[test]
    fn flat_lists() {
        assert_eq!(activity_statuses().len(), 6);
        assert_eq!(activity_statuses()[1].name, "Implementation");
        assert_eq!(organisation_roles().len(), 4);
        assert!(organisation_types().iter().any(|t| t.code == "24"));
        assert!(sector_vocabularies().iter().any(|v| v.code == "10"));
        assert!(is_currency("USD"));
        assert!(is_currency("XOF"));
        assert!(!is_currency("usd"));
        assert!(!is_currency("VEF"));
    }

    #[test]
    fn countries_by_either_code() {
        let sudan = country_by_alpha2("sd").expect("SD");
        assert_eq!(sudan.alpha3, "SDN");
        assert_eq!(country_by_alpha3("sdn"), Some(sudan));
        assert_eq!(
            country_by_alpha2("XK").map(|c| c.alpha3.as_str()),
            Some("XKX")
        );
        assert!(country_by_alpha2("AN").is_none());
        assert_eq!(countries().len(), 250);
        let alpha3: HashSet<&str> = countries().iter().map(|c| c.alpha3.as_str()).collect();
        assert_eq!(alpha3.len(), countries().len());
        assert!(
            countries()
                .iter()
                .all(|c| c.alpha2.len() == 2 && c.alpha3.len() == 3)
        );
    }
}
