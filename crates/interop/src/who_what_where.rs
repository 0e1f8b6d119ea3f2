//! Reader and writer of 3W/4W/5W tables ("who does what, where, when, for whom"), the
//! activity sheets clusters and OCHA offices collect, as HXL-tagged CSV.
//!
//! [`read_who_what_where`] turns a file into [`ActivityRow`]s (one per activity row) and
//! reports every row it cannot read with its line, column and reason; it never decides
//! whether a file with errors is imported. [`write_who_what_where`] writes rows back as a 5W
//! CSV (a header row and the hashtag row) that reads back to the same rows. Organisation
//! names are kept as written: linking them to known organisations is
//! `concord_domain::organisation_matching`'s job.
//!
//! # Decisions
//!
//! **Columns.** The hashtag row is found among the first [`HEADER_SEARCH_ROWS`] rows. Read:
//! `#org` (plain: the reporting organisation, which also implements unless `+impl` says
//! otherwise; `+impl`, `+funding`/`+donor`, `+prog`; `+acronym` and `+code` columns pair with
//! the name column of the same role in order), `#sector`/`#cluster` (`+code` first, else the
//! name), `#subsector`, `#country`/`#adm0` with `+code`, `#adm1`..`#adm3` with `+code`/`+pcode`
//! (and their names), `#loc`, `#activity` (`+id`, `+code`, `+description`, else the title),
//! `#date+start`/`+end`, `#status`, `#targeted`/`#reached` (total, and by `+f`/`+m` and
//! `+children`/`+adults`/`+elderly`/`+age0_4`/`+age60plus`), `#value+budget` (a currency
//! attribute such as `+usd` allowed) and `#currency`. Every other column that has a header
//! or a hashtag is kept, cell by cell, in [`ActivityRow::unmapped`] and listed in
//! [`WhoWhatWhereTable::unmapped_columns`]; a column repeating a single-valued field is kept
//! the same way rather than read twice.
//!
//! **Known headers.** The 345W platform of OCHA's Latin America office exports 49 columns and
//! tags only 9 (organisation, country, admin 1-2, sector, people reached): dates, status,
//! activity, donor and the sex and age breakdown are untagged. With
//! [`WhoWhatWhereOptions::tag_known_headers`] (on by default) an *untagged* column whose
//! header is one of that export's headers ([`KNOWN_HEADERS`]) is read as if it carried the
//! hashtag the HXL Proxy tagger would give it; a hashtag in the file always wins. The table
//! lists what was inferred ([`WhoWhatWhereTable::inferred_tags`]).
//!
//! **Encodings.** UTF-8 with or without a byte order mark; bytes that are not valid UTF-8
//! are read as Windows-1252 (a superset of Latin-1). See [`crate::hxl::decode_text`].
//!
//! **Dates** ([`parse_date`]): the real 345W files write `DD/MM/YYYY` (`22/12/2020`), day
//! first; ISO `2021-07-01` and spreadsheet `2021-07-01 00:00:00` are read too. `01/01/1970`
//! is the Unix epoch that 345W exports for a missing date (246 El Salvador activities start
//! on it), so it is read as no date, with a warning. An end before the start is an error.
//!
//! **Status** words (Spanish, English, French, accents and case ignored) map to IATI
//! ActivityStatus: planned/planeada/planificado/prévu 1, ongoing/en curso/en ejecución 2,
//! completed/finalizada/completado/terminé 3 (IATI named code 3 "Completion" until 2.03),
//! closed/cerrado 4, cancelled/cancelado 5, suspended/suspendido 6; the codes themselves are
//! accepted. Blank is 2 (implementation), the state of nearly every row of a 3W.
//!
//! **Sectors** resolve to a Concord sector (vocabulary and code): a code (`WSH`, `11`,
//! `72050`) through the reference lists, else a name through [`SECTOR_NAMES`] (Spanish and
//! French cluster names) and then the English labels the needs reader knows. 345W's
//! "Coordinación / Información" is DAC `72050` (relief co-ordination and support services).
//! Multi-purpose cash names no sector Concord knows and is an error, as in the needs reader.
//!
//! **Areas.** The activity is placed at the most precise P-code given (admin 3 over 2 over
//! 1). Each P-code must parse as a [`Pcode`], start with the row's country (from its
//! `#country+code` cell, else [`WhoWhatWhereOptions::country`]) when the country is known,
//! and a deeper one must extend a shallower one: junk such as the `31` that 345W writes in
//! `PCODE2` for 90 activities is a row error. An admin-1 P-code of zeros after the country
//! (`HN00`, named "Cobertura Nacional") is 345W's national coverage: the activity is placed
//! at the country (its alpha-2, Concord's level-0 P-code), with a warning. A row with area
//! names but no P-code is an error (names are not matched); a row with no area at all is a
//! country-level activity when the country is known.
//!
//! **Figures.** Counts use [`parse_count`] (`80 418`, `1,234`; `-` and blank are none).
//! Sex and age figures are kept as bands; when one exceeds the row's total, the bands are
//! dropped (the total kept) with a warning, since the domain refuses such a population.
//!
//! **External ids.** The file's id column (`#activity+id`, `#meta+id`, `#x_id`; 345W's `ID`)
//! gives the id; a repeated id is an error. Otherwise the id is derived from what identifies
//! the activity, not from where it sits in the file: `3w-` and the FNV-1a 64-bit hash (hex)
//! of the organisations (role, name, acronym, code), the sector, the P-code, the activity
//! title and code, and the dates. Figures, status and budget are left out so that a
//! re-import with updated figures updates the same activity. Rows identical in all of these
//! get `-2`, `-3`, ... in file order. Editing any hashed field makes a new id.
//!
//! **Errors and warnings.** [`WhoWhatWhereTable::errors`] are rows that were not read, each
//! problem of a row reported (a row may have several). [`WhoWhatWhereTable::warnings`] are
//! rows that were read with something left out or reinterpreted; a row with errors has no
//! warnings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{Read, Write};

use chrono::NaiveDate;
use concord_domain::area::Pcode;
use concord_domain::intervention::{LocationInput, SectorShareInput};
use concord_domain::organisation_matching::fold_latin;
use concord_domain::population::MAX_AGE;
use concord_domain::reference::{self, Country, Sector, SectorVocabulary};
use concord_domain::values::{ActivityStatus, OrganisationRole, Sex};
use serde::{Deserialize, Serialize};

use crate::hxl::{
    self, HEADER_SEARCH_ROWS, LabelSector, Record, Tag, TextEncoding, column_labels, country_of,
    decode_text, find_tag_row, header_key, is_tag_row, parse_amount, parse_count, parse_date,
    parse_tag, read_records, unterminated_quote,
};

/// What the caller knows that the file may not say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoWhatWhereOptions {
    /// ISO alpha-2 (alpha-3 accepted) of the country, for rows whose country the file does
    /// not give: P-codes are checked against it, and rows with no area are placed at it.
    pub country: Option<String>,
    /// Read untagged columns whose header is a known 345W header (see the module
    /// documentation). On by default.
    pub tag_known_headers: bool,
}

impl Default for WhoWhatWhereOptions {
    fn default() -> Self {
        Self {
            country: None,
            tag_known_headers: true,
        }
    }
}

/// The part an organisation plays in an activity, from its `#org` attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrgRole {
    /// Plain `#org`: who reported the activity, and its implementer unless an `+impl`
    /// organisation is named.
    Reporting,
    /// `#org+impl`.
    Implementing,
    /// `#org+prog`: the programme partner that answers for the activity.
    Programme,
    /// `#org+funding` (or `+donor`).
    Funding,
}

impl OrgRole {
    const ALL: [OrgRole; 4] = [
        Self::Reporting,
        Self::Implementing,
        Self::Programme,
        Self::Funding,
    ];

    /// The IATI role of a participant in this part: a reporting organisation implements
    /// (3W sheets are filled in by the implementers), a programme partner is accountable.
    pub fn iati_role(self) -> OrganisationRole {
        match self {
            Self::Reporting | Self::Implementing => OrganisationRole::Implementing,
            Self::Programme => OrganisationRole::Accountable,
            Self::Funding => OrganisationRole::Funding,
        }
    }

    fn attribute(self) -> Option<&'static str> {
        match self {
            Self::Reporting => None,
            Self::Implementing => Some("impl"),
            Self::Programme => Some("prog"),
            Self::Funding => Some("funding"),
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Self::Reporting => "Organisation",
            Self::Implementing => "Implementing organisation",
            Self::Programme => "Programme organisation",
            Self::Funding => "Funding organisation",
        }
    }
}

/// An organisation as the row names it: at least one of name, acronym and code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationRef {
    pub role: OrgRole,
    pub name: Option<String>,
    pub acronym: Option<String>,
    /// `#org+code`: usually an IATI organisation identifier.
    pub code: Option<String>,
}

/// The row's sector, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorRef {
    pub vocabulary: SectorVocabulary,
    /// The canonical code: DAC digits, or the numeric cluster id.
    pub code: String,
    /// The sector as the file names it (the name column when there is one, else the code).
    pub as_written: String,
}

impl SectorRef {
    pub fn input(&self) -> SectorShareInput {
        SectorShareInput {
            vocabulary: Some(self.vocabulary.iati_code().to_owned()),
            code: self.code.clone(),
            percentage: None,
        }
    }

    /// What the writer puts in `#sector+code`: the HPC code for a cluster, which field staff
    /// read, else the DAC code.
    fn written_code(&self) -> String {
        reference::sector(self.vocabulary, &self.code)
            .and_then(|s| s.hpc_code.clone())
            .unwrap_or_else(|| self.code.clone())
    }
}

/// Where the activity is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityLocation {
    /// The most precise P-code, or the country's alpha-2 for a country-level activity.
    pub pcode: String,
    /// 0 for the country, else the admin level `pcode` came from.
    pub admin_level: u8,
    /// Admin 1..3 P-codes as the row gives them (upper case).
    pub admin_pcodes: [Option<String>; 3],
    /// Admin 1..3 names as the row gives them.
    pub admin_names: [Option<String>; 3],
    /// `#loc`: the site, village or facility.
    pub place: Option<String>,
}

impl ActivityLocation {
    pub fn input(&self) -> LocationInput {
        LocationInput {
            pcode: self.pcode.clone(),
            target: None,
            site: self.place.clone(),
        }
    }
}

/// An age group as 3W sheets state it. Labels are kept as labels: their bounds differ from
/// one agency to the next, so turning them into numbers is the importer's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgeBand {
    Children,
    Adults,
    Elderly,
    /// `+age5_19` (bounds inclusive) or `+age60plus` (`max` absent).
    Years {
        min: u8,
        max: Option<u8>,
    },
}

impl AgeBand {
    fn attribute(self) -> String {
        match self {
            Self::Children => "children".into(),
            Self::Adults => "adults".into(),
            Self::Elderly => "elderly".into(),
            Self::Years {
                min,
                max: Some(max),
            } => format!("age{min}_{max}"),
            Self::Years { min, max: None } => format!("age{min}plus"),
        }
    }
}

/// So many people of a sex and/or age group (`None` is everyone on that dimension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleBand {
    pub sex: Option<Sex>,
    pub age: Option<AgeBand>,
    pub people: u64,
}

/// People targeted or reached: the total, and the bands the row states, ordered by sex
/// then age. Bands overlap (girls, and girls under 5): they are not a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct People {
    pub total: Option<u64>,
    pub bands: Vec<PeopleBand>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub amount: f64,
    /// ISO 4217, upper case; absent when the file does not say.
    pub currency: Option<String>,
}

/// A cell of a column the reader does not map, kept with the column's header and hashtag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmappedCell {
    pub header: Option<String>,
    /// Canonical (`#adm0+name`); absent for an untagged column.
    pub tag: Option<String>,
    /// Trimmed; empty when the row has nothing in the column.
    pub value: String,
}

/// One activity of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// The file's id, or one derived from the row's content (see the module documentation).
    pub external_id: String,
    /// In role order (reporting, implementing, programme, funding), then column order.
    pub organisations: Vec<OrganisationRef>,
    pub sector: SectorRef,
    pub subsector: Option<String>,
    /// ISO alpha-2 of the row's country: its `#country+code` cell, else the options'.
    pub country: Option<String>,
    pub location: ActivityLocation,
    pub title: Option<String>,
    pub activity_code: Option<String>,
    pub description: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub status: ActivityStatus,
    pub targeted: Option<People>,
    pub reached: Option<People>,
    pub budget: Option<Budget>,
    /// One cell per unmapped column, in column order.
    pub unmapped: Vec<UnmappedCell>,
}

impl ActivityRow {
    /// The organisations that do the work: the `+impl` ones, else the reporting ones.
    pub fn implementers(&self) -> impl Iterator<Item = &OrganisationRef> {
        let explicit = self
            .organisations
            .iter()
            .any(|o| o.role == OrgRole::Implementing);
        let role = if explicit {
            OrgRole::Implementing
        } else {
            OrgRole::Reporting
        };
        self.organisations.iter().filter(move |o| o.role == role)
    }
}

/// What went wrong with a row (in errors) or what was reinterpreted (in warnings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum IssueKind {
    /// Cells beyond the last column.
    Ragged,
    NoOrganisation,
    NoSector,
    UnknownSector,
    UnknownCountry,
    /// A P-code that does not parse.
    BadPcode,
    /// A P-code of another country than the row's.
    PcodeCountry,
    /// A deeper P-code that does not extend a shallower one.
    PcodeNesting,
    /// Area names without a P-code.
    AreaWithoutPcode,
    /// No area and no country.
    NoLocation,
    BadDate,
    EndBeforeStart,
    UnknownStatus,
    BadFigure,
    BadBudget,
    UnknownCurrency,
    DuplicateId,
    // Warnings.
    /// `01/01/1970` read as no date.
    EpochDate,
    /// `HN00` read as the country.
    NationalCoverage,
    /// An area name deeper than the deepest P-code.
    NameBelowPcode,
    /// Bands larger than the total, dropped.
    BandsOverTotal,
}

/// A problem with a row, or a warning about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    pub line: u64,
    /// The column as the file heads it: the hashtag as written (told apart by the header
    /// above when repeated), or the header for an untagged column read by its header.
    pub column: Option<String>,
    pub kind: IssueKind,
    pub reason: String,
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A column kept but not mapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnmappedColumn {
    /// 1-based.
    pub column: usize,
    pub header: Option<String>,
    pub tag: Option<String>,
}

/// An untagged column read by its header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InferredTag {
    /// 1-based.
    pub column: usize,
    pub header: String,
    pub tag: String,
}

/// What a file holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhoWhatWhereTable {
    pub encoding: TextEncoding,
    /// The line of the hashtag row.
    pub tag_line: u64,
    /// ISO alpha-2 of the file's country: the options', else the one country code every
    /// row gives, else the one P-code prefix every row shares, when it is a country.
    pub country: Option<String>,
    /// Non-blank rows below the hashtag row: each is in `rows` or has errors.
    pub data_rows: usize,
    /// In line order.
    pub rows: Vec<ActivityRow>,
    /// In line order.
    pub errors: Vec<RowIssue>,
    /// In line order; only about rows in `rows`.
    pub warnings: Vec<RowIssue>,
    pub unmapped_columns: Vec<UnmappedColumn>,
    pub inferred_tags: Vec<InferredTag>,
}

impl WhoWhatWhereTable {
    /// How many rows have at least one error.
    pub fn failed_rows(&self) -> usize {
        self.errors
            .iter()
            .map(|e| e.line)
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn errors_by_kind(&self) -> BTreeMap<IssueKind, usize> {
        count_kinds(&self.errors)
    }

    pub fn warnings_by_kind(&self) -> BTreeMap<IssueKind, usize> {
        count_kinds(&self.warnings)
    }
}

fn count_kinds(issues: &[RowIssue]) -> BTreeMap<IssueKind, usize> {
    let mut counts = BTreeMap::new();
    for issue in issues {
        *counts.entry(issue.kind).or_default() += 1;
    }
    counts
}

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WhoWhatWhereError {
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not read the file as CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the file is empty")]
    Empty,
    #[error(
        "a quoted cell opened on line {0} is never closed: the rest of the file would be read as that one cell"
    )]
    UnterminatedQuote(u64),
    #[error("no HXL hashtag row in the first {HEADER_SEARCH_ROWS} rows")]
    NoHashtagRow,
    #[error(
        "line {line} looks like the HXL hashtag row, but {} (a hashtag starts with #, e.g. #adm1+code)",
        not_hashtags(.cells)
    )]
    MalformedHashtagRow { line: u64, cells: Vec<String> },
    #[error("the HXL hashtag row on line {line} has no {} column", .missing.join(" and no "))]
    MissingColumns {
        line: u64,
        missing: Vec<&'static str>,
    },
    #[error("country {0:?} is not a known ISO 3166-1 country code")]
    UnknownCountry(String),
}

fn not_hashtags(cells: &[String]) -> String {
    let quoted: Vec<String> = cells.iter().map(|c| format!("{c:?}")).collect();
    match quoted.as_slice() {
        [one] => format!("{one} is not a hashtag"),
        _ => format!("{} are not hashtags", quoted.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------
// Reference tables
// ---------------------------------------------------------------------------------------

/// Headers of the 345W export (OCHA Latin America and the Caribbean) to the hashtag an
/// untagged column with that header is read as. Keys are [`header_key`]s of the folded
/// header (case, accents, spaces and punctuation ignored). The breakdown columns say
/// girls, boys, women and men, and then the same by age band.
pub const KNOWN_HEADERS: &[(&str, &str)] = &[
    ("id", "#activity+id"),
    ("organizaciondonante", "#org+funding"),
    ("organizacionimplementadora", "#org+name"),
    ("countrycode", "#country+code"),
    ("pcode1", "#adm1+pcode"),
    ("admin1", "#adm1+name"),
    ("pcode2", "#adm2+pcode"),
    ("admin2", "#adm2+name"),
    ("pcode3", "#adm3+pcode"),
    ("admin3", "#adm3+name"),
    ("nombredellugar", "#loc+name"),
    ("sectorcluster", "#sector+name"),
    ("areaderesponsabilidadogrupo", "#subsector"),
    ("actid", "#activity+code"),
    ("actividad", "#activity+name"),
    ("descripciondelaactividad", "#activity+description"),
    ("costoestimado", "#value+budget"),
    ("fechadeinicio", "#date+start"),
    ("fechadefinalizacion", "#date+end"),
    ("estado", "#status"),
    ("personasalcanzadas", "#reached+total"),
    ("ninas", "#reached+f+children"),
    ("ninos", "#reached+m+children"),
    ("mujeres", "#reached+f+adults"),
    ("hombres", "#reached+m+adults"),
    ("ninasmenorde5anos", "#reached+f+age0_4"),
    ("ninosmenorde5anos", "#reached+m+age0_4"),
    ("ninasde5a19anos", "#reached+f+age5_19"),
    ("ninosde5a19anos", "#reached+m+age5_19"),
    ("mujeresde20a59anos", "#reached+f+age20_59"),
    ("hombresde20a59anos", "#reached+m+age20_59"),
    ("mujeresmayoresde60anos", "#reached+f+age60plus"),
    ("hombresmayoresde60anos", "#reached+m+age60plus"),
];

/// Spanish and French cluster names (folded, words joined by spaces) to Concord sector
/// codes. Needed because Concord's reference lists name sectors in English only, while the
/// 3W sheets of Latin America and of francophone Africa name them in the field's language;
/// English names and codes go through the reference lists and the needs reader's labels.
pub const SECTOR_NAMES: &[(&str, &str)] = &[
    // Spanish (the 345W platform's list, and common variants).
    ("seguridad alimentaria", "FSC"),
    ("seguridad alimentaria y medios de vida", "FSC"),
    ("agua saneamiento e higiene", "WSH"),
    ("agua saneamiento y higiene", "WSH"),
    ("ash", "WSH"),
    ("salud", "HEA"),
    ("nutricion", "NUT"),
    ("educacion", "EDU"),
    ("proteccion", "PRO"),
    ("proteccion de la ninez", "PRO-CPN"),
    ("proteccion infantil", "PRO-CPN"),
    ("violencia basada en genero", "PRO-GBV"),
    ("vbg", "PRO-GBV"),
    ("logistica", "LOG"),
    ("recuperacion temprana", "ERY"),
    ("alojamiento de emergencia", "SHL"),
    ("alojamiento de emergencia shelter", "SHL"),
    ("albergue", "SHL"),
    ("alojamiento", "SHL"),
    ("manejo y gestion de campamentos", "CCM"),
    ("manejo y gestion de campamentos cccm", "CCM"),
    ("gestion de campamentos", "CCM"),
    ("telecomunicaciones", "TEL"),
    ("telecomunicaciones de emergencia", "TEL"),
    ("it y telecomunicacion", "TEL"),
    ("coordinacion", "72050"),
    ("coordinacion informacion", "72050"),
    // French.
    ("securite alimentaire", "FSC"),
    ("eau hygiene et assainissement", "WSH"),
    ("eau hygiene assainissement", "WSH"),
    ("eha", "WSH"),
    ("sante", "HEA"),
    ("abris", "SHL"),
    ("abris et ani", "SHL"),
    ("abris ame", "SHL"),
    ("abris et articles non alimentaires", "SHL"),
    ("protection de l enfant", "PRO-CPN"),
    ("protection de l enfance", "PRO-CPN"),
    ("violences basees sur le genre", "PRO-GBV"),
    ("logistique", "LOG"),
    ("relevement precoce", "ERY"),
    ("telecommunications d urgence", "TEL"),
    ("gestion des camps", "CCM"),
    ("coordination", "72050"),
];

/// Status words (folded, words joined by spaces) to IATI ActivityStatus.
const STATUS_WORDS: &[(&str, ActivityStatus)] = &[
    ("planeada", ActivityStatus::Pipeline),
    ("planeado", ActivityStatus::Pipeline),
    ("planificada", ActivityStatus::Pipeline),
    ("planificado", ActivityStatus::Pipeline),
    ("planned", ActivityStatus::Pipeline),
    ("pipeline", ActivityStatus::Pipeline),
    ("pipeline identification", ActivityStatus::Pipeline),
    ("prevu", ActivityStatus::Pipeline),
    ("prevue", ActivityStatus::Pipeline),
    ("planifie", ActivityStatus::Pipeline),
    ("planifiee", ActivityStatus::Pipeline),
    ("en ejecucion", ActivityStatus::Implementation),
    ("en curso", ActivityStatus::Implementation),
    ("en progreso", ActivityStatus::Implementation),
    ("en proceso", ActivityStatus::Implementation),
    ("ongoing", ActivityStatus::Implementation),
    ("on going", ActivityStatus::Implementation),
    ("in progress", ActivityStatus::Implementation),
    ("active", ActivityStatus::Implementation),
    ("implementation", ActivityStatus::Implementation),
    ("en cours", ActivityStatus::Implementation),
    ("finalizada", ActivityStatus::Finalisation),
    ("finalizado", ActivityStatus::Finalisation),
    ("completada", ActivityStatus::Finalisation),
    ("completado", ActivityStatus::Finalisation),
    ("terminada", ActivityStatus::Finalisation),
    ("terminado", ActivityStatus::Finalisation),
    ("completed", ActivityStatus::Finalisation),
    ("complete", ActivityStatus::Finalisation),
    ("finished", ActivityStatus::Finalisation),
    ("finalisation", ActivityStatus::Finalisation),
    ("finalization", ActivityStatus::Finalisation),
    ("termine", ActivityStatus::Finalisation),
    ("terminee", ActivityStatus::Finalisation),
    ("acheve", ActivityStatus::Finalisation),
    ("achevee", ActivityStatus::Finalisation),
    ("closed", ActivityStatus::Closed),
    ("cerrado", ActivityStatus::Closed),
    ("cerrada", ActivityStatus::Closed),
    ("cloture", ActivityStatus::Closed),
    ("cloturee", ActivityStatus::Closed),
    ("cancelled", ActivityStatus::Cancelled),
    ("canceled", ActivityStatus::Cancelled),
    ("cancelado", ActivityStatus::Cancelled),
    ("cancelada", ActivityStatus::Cancelled),
    ("annule", ActivityStatus::Cancelled),
    ("annulee", ActivityStatus::Cancelled),
    ("suspended", ActivityStatus::Suspended),
    ("suspendido", ActivityStatus::Suspended),
    ("suspendida", ActivityStatus::Suspended),
    ("suspendu", ActivityStatus::Suspended),
    ("suspendue", ActivityStatus::Suspended),
    ("on hold", ActivityStatus::Suspended),
];

/// Attributes that say a count is the total.
const TOTAL_ATTRIBUTES: &[&str] = &[
    "total",
    "all",
    "ind",
    "individuals",
    "people",
    "persons",
    "num",
];

/// The Unix epoch, which 345W exports for a date never entered.
const EPOCH: (i32, u32, u32) = (1970, 1, 1);

/// The words of a label, folded: the key of [`SECTOR_NAMES`] and [`STATUS_WORDS`].
fn folded_words(text: &str) -> String {
    hxl::words(&fold_latin(text)).join(" ")
}

/// The sector a cell names, or why not.
fn resolve_sector(text: &str, is_code: bool) -> Result<&'static Sector, String> {
    if let Some(sector) = reference::find_sector(text) {
        return Ok(sector);
    }
    if is_code {
        return Err(format!("{text:?} is not a sector code Concord knows"));
    }
    let key = folded_words(text);
    if let Some(sector) = SECTOR_NAMES
        .iter()
        .find(|(name, _)| *name == key)
        .and_then(|(_, code)| reference::find_sector(code))
    {
        return Ok(sector);
    }
    match hxl::sector_from_label(text) {
        LabelSector::Sector(Some(code)) => {
            reference::find_sector(code).ok_or_else(|| format!("{text:?} is not a sector"))
        }
        _ => Err(format!("{text:?} is not a sector Concord knows")),
    }
}

fn parse_status(text: &str) -> Result<ActivityStatus, String> {
    if text.is_empty() {
        return Ok(ActivityStatus::Implementation);
    }
    if let Some(status) = ActivityStatus::from_code(text) {
        return Ok(status);
    }
    let key = folded_words(text);
    STATUS_WORDS
        .iter()
        .find(|(word, _)| *word == key)
        .map(|(_, status)| *status)
        .ok_or_else(|| format!("{text:?} is not an activity status Concord knows"))
}

/// The status as the writer spells it: its IATI name, which [`parse_status`] reads back.
fn status_name(status: ActivityStatus) -> String {
    reference::activity_statuses()
        .iter()
        .find(|c| c.code == status.code())
        .map_or_else(|| status.code().to_owned(), |c| c.name.clone())
}

// ---------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum OrgPart {
    Name,
    Acronym,
    Code,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum FigureKind {
    Targeted,
    Reached,
}

impl FigureKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Targeted => "#targeted",
            Self::Reached => "#reached",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Self::Targeted => "People targeted",
            Self::Reached => "People reached",
        }
    }
}

type BandKey = (Option<Sex>, Option<AgeBand>);

/// What a column holds. Single-valued fields keep their first column only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Field {
    Id,
    Org(OrgRole, OrgPart),
    SectorCode,
    SectorName,
    Subsector,
    Country,
    AdminCode(u8),
    AdminName(u8),
    Place,
    Title,
    ActivityCode,
    Description,
    Start,
    End,
    Status,
    /// `None` is the total.
    Figure(FigureKind, Option<BandKey>),
    Budget(Option<String>),
    Currency,
}

impl Field {
    /// Fields that may have several columns.
    fn repeatable(&self) -> bool {
        matches!(self, Self::Org(..) | Self::SectorCode | Self::SectorName)
    }
}

fn is_language(attribute: &str) -> bool {
    attribute.len() == 2 && attribute.bytes().all(|b| b.is_ascii_lowercase())
}

/// The field a hashtag maps to, if any.
fn field_of(tag: &Tag) -> Option<Field> {
    let has = |a: &str| tag.has(a);
    let only = |allowed: &[&str]| {
        tag.attributes
            .iter()
            .all(|a| allowed.contains(&a.as_str()) || is_language(a))
    };
    let level = |name: &str| {
        name.strip_prefix("adm")
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|l| (1..=3).contains(l))
    };
    Some(match tag.name.as_str() {
        "meta" | "x_id" if has("id") || tag.name == "x_id" => Field::Id,
        "org" => {
            let roles: &[(&str, OrgRole)] = &[
                ("impl", OrgRole::Implementing),
                ("implementing", OrgRole::Implementing),
                ("funding", OrgRole::Funding),
                ("funder", OrgRole::Funding),
                ("donor", OrgRole::Funding),
                ("prog", OrgRole::Programme),
                ("programme", OrgRole::Programme),
                ("program", OrgRole::Programme),
            ];
            let parts: &[(&str, OrgPart)] = &[
                ("acronym", OrgPart::Acronym),
                ("abbrev", OrgPart::Acronym),
                ("code", OrgPart::Code),
                ("id", OrgPart::Code),
            ];
            let allowed: Vec<&str> = roles
                .iter()
                .map(|r| r.0)
                .chain(parts.iter().map(|p| p.0))
                .chain(["name"])
                .collect();
            if !only(&allowed) {
                return None;
            }
            let mut role = roles.iter().filter(|(a, _)| has(a)).map(|(_, r)| *r);
            let mut part = parts.iter().filter(|(a, _)| has(a)).map(|(_, p)| *p);
            let (first_role, first_part) = (role.next(), part.next());
            if role.any(|r| Some(r) != first_role) || part.any(|p| Some(p) != first_part) {
                return None;
            }
            Field::Org(
                first_role.unwrap_or(OrgRole::Reporting),
                first_part.unwrap_or(OrgPart::Name),
            )
        }
        "sector" | "cluster" if has("code") => Field::SectorCode,
        "sector" | "cluster" if only(&["name", "cluster", "sector", "global", "local"]) => {
            Field::SectorName
        }
        "subsector" => Field::Subsector,
        "country" | "adm0" if has("code") || has("iso2") || has("iso3") || has("pcode") => {
            Field::Country
        }
        name if level(name).is_some() => {
            let level = level(name)?;
            if has("code") || has("pcode") || has("id") {
                Field::AdminCode(level)
            } else if only(&["name"]) {
                Field::AdminName(level)
            } else {
                return None;
            }
        }
        "loc" if only(&["name"]) => Field::Place,
        "activity" if has("id") => Field::Id,
        "activity" if has("code") => Field::ActivityCode,
        "activity" if has("description") || has("desc") => Field::Description,
        "activity" if only(&["name", "title"]) => Field::Title,
        "date" if has("start") => Field::Start,
        "date" if has("end") => Field::End,
        "status" => Field::Status,
        "targeted" | "reached" => {
            let kind = if tag.name == "targeted" {
                FigureKind::Targeted
            } else {
                FigureKind::Reached
            };
            Field::Figure(kind, figure_band(&tag.attributes)?)
        }
        "value" if has("budget") => {
            let currency = tag
                .attributes
                .iter()
                .map(|a| a.to_ascii_uppercase())
                .find(|a| reference::is_currency(a));
            Field::Budget(currency)
        }
        "currency" => Field::Currency,
        _ => return None,
    })
}

/// The band of a figure column: `Some(None)` the total, `Some(Some(key))` a band, `None`
/// when the attributes say something else (households, groups), which is not read.
fn figure_band(attributes: &[String]) -> Option<Option<BandKey>> {
    let mut sex: Option<Sex> = None;
    let mut age: Option<AgeBand> = None;
    for attribute in attributes {
        let a = attribute.as_str();
        if TOTAL_ATTRIBUTES.contains(&a) {
            continue;
        }
        let (new_sex, new_age) = match a {
            "f" | "female" => (Some(Sex::Female), None),
            "m" | "male" => (Some(Sex::Male), None),
            "women" => (Some(Sex::Female), Some(AgeBand::Adults)),
            "men" => (Some(Sex::Male), Some(AgeBand::Adults)),
            "girls" => (Some(Sex::Female), Some(AgeBand::Children)),
            "boys" => (Some(Sex::Male), Some(AgeBand::Children)),
            "children" | "child" => (None, Some(AgeBand::Children)),
            "adults" | "adult" => (None, Some(AgeBand::Adults)),
            "elderly" | "older" => (None, Some(AgeBand::Elderly)),
            other => (None, Some(age_attribute(other)?)),
        };
        if let Some(new) = new_sex {
            if sex.is_some_and(|old| old != new) {
                return None;
            }
            sex = Some(new);
        }
        if let Some(new) = new_age {
            if age.is_some_and(|old| old != new) {
                return None;
            }
            age = Some(new);
        }
    }
    Some((sex.is_some() || age.is_some()).then_some((sex, age)))
}

/// `age5_19` or `age60plus` / `age60_plus`, bounds within the domain's ages.
fn age_attribute(attribute: &str) -> Option<AgeBand> {
    let rest = attribute.strip_prefix("age")?;
    let bound = |s: &str| {
        s.parse::<u8>()
            .ok()
            .filter(|n| i64::from(*n) <= MAX_AGE && !s.is_empty())
    };
    if let Some(min) = rest
        .strip_suffix("plus")
        .map(|m| m.strip_suffix('_').unwrap_or(m))
    {
        return Some(AgeBand::Years {
            min: bound(min)?,
            max: None,
        });
    }
    let (min, max) = rest.split_once('_')?;
    let (min, max) = (bound(min)?, bound(max)?);
    (min <= max).then_some(AgeBand::Years {
        min,
        max: Some(max),
    })
}

struct Column {
    /// How messages name the column.
    label: String,
    header: Option<String>,
    tag: Option<String>,
    field: Option<Field>,
}

struct Plan {
    columns: Vec<Column>,
    unmapped: Vec<usize>,
    inferred: Vec<InferredTag>,
}

impl Plan {
    fn first(&self, field: &Field) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.field.as_ref() == Some(field))
    }

    fn all(&self, field: &Field) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.field.as_ref() == Some(field))
            .map(|(i, _)| i)
            .collect()
    }

    fn figure_columns(&self, kind: FigureKind) -> Vec<(Option<BandKey>, usize)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.field {
                Some(Field::Figure(k, band)) if *k == kind => Some((*band, i)),
                _ => None,
            })
            .collect()
    }
}

fn plan(
    records: &[Record],
    tag_index: usize,
    options: &WhoWhatWhereOptions,
) -> Result<Plan, WhoWhatWhereError> {
    let tag_row = &records[tag_index];
    let headers = &records[..tag_index];
    let header_row = headers.iter().rev().find(|r| !r.is_blank());
    let width = tag_row
        .cells
        .len()
        .max(header_row.map_or(0, |r| r.cells.len()));
    let labels = column_labels(tag_row, headers, |l| !l.trim().is_empty());
    let mut columns = Vec::with_capacity(width);
    let mut inferred = Vec::new();
    let mut seen: HashSet<Field> = HashSet::new();
    for index in 0..width {
        let header = header_row
            .map(|r| r.get(index))
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        let mut tag = parse_tag(tag_row.get(index));
        let mut label = labels.get(index).cloned().unwrap_or_default();
        if tag.is_none()
            && options.tag_known_headers
            && let Some(header) = &header
        {
            let key = header_key(&fold_latin(header));
            if let Some((_, known)) = KNOWN_HEADERS.iter().find(|(k, _)| *k == key) {
                tag = parse_tag(known);
                label = format!("{known} ({header})");
                inferred.push(InferredTag {
                    column: index + 1,
                    header: header.clone(),
                    tag: (*known).to_owned(),
                });
            }
        }
        if tag.is_none()
            && let Some(header) = &header
        {
            label.clone_from(header);
        }
        // One budget column whatever its currency attribute, so a second is kept, not lost.
        let field = tag.as_ref().and_then(field_of).filter(|f| {
            let key = match f {
                Field::Budget(_) => Field::Budget(None),
                other => other.clone(),
            };
            f.repeatable() || seen.insert(key)
        });
        columns.push(Column {
            label,
            header,
            tag: tag.as_ref().map(Tag::canonical),
            field,
        });
    }
    let unmapped = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.field.is_none() && (c.header.is_some() || c.tag.is_some()))
        .map(|(i, _)| i)
        .collect();
    let plan = Plan {
        columns,
        unmapped,
        inferred,
    };
    let mut missing = Vec::new();
    let has_doer = plan.columns.iter().any(|c| {
        matches!(
            c.field,
            Some(Field::Org(OrgRole::Reporting | OrgRole::Implementing, _))
        )
    });
    if !has_doer {
        missing.push("#org (or #org+impl)");
    }
    if plan.first(&Field::SectorCode).is_none() && plan.first(&Field::SectorName).is_none() {
        missing.push("#sector");
    }
    if !missing.is_empty() {
        return Err(WhoWhatWhereError::MissingColumns {
            line: tag_row.line,
            missing,
        });
    }
    Ok(plan)
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// Reads a 3W/4W/5W table. `Err` only when the file is unusable; every row problem is in
/// [`WhoWhatWhereTable::errors`].
pub fn read_who_what_where<R: Read>(
    mut reader: R,
    options: &WhoWhatWhereOptions,
) -> Result<WhoWhatWhereTable, WhoWhatWhereError> {
    let country = match options.country.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(
            country_of(code).ok_or_else(|| WhoWhatWhereError::UnknownCountry(code.to_owned()))?,
        ),
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    let (text, encoding) = decode_text(bytes);
    if let Some(line) = unterminated_quote(&text) {
        return Err(WhoWhatWhereError::UnterminatedQuote(line));
    }
    let records = read_records(text.as_bytes())?;
    if records.iter().all(Record::is_blank) {
        return Err(WhoWhatWhereError::Empty);
    }
    let tag_index = find_tag_row(&records).ok_or_else(|| malformed_tag_row(&records))?;
    let plan = plan(&records, tag_index, options)?;

    let mut reader = RowReader {
        plan: &plan,
        country,
        ids: HashMap::new(),
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut data_rows = 0;
    for record in &records[tag_index + 1..] {
        if record.is_blank() || is_tag_row(record) {
            continue;
        }
        data_rows += 1;
        let mut issues = Issues::new(record.line);
        match reader.read(record, &mut issues) {
            Some(row) if issues.errors.is_empty() => {
                rows.push(row);
                warnings.extend(issues.warnings);
            }
            _ => errors.extend(issues.errors),
        }
    }
    assign_derived_ids(&mut rows);
    let table_country = table_country(country, &rows);
    Ok(WhoWhatWhereTable {
        encoding,
        tag_line: records[tag_index].line,
        country: table_country,
        data_rows,
        rows,
        errors,
        warnings,
        unmapped_columns: plan
            .unmapped
            .iter()
            .map(|&i| UnmappedColumn {
                column: i + 1,
                header: plan.columns[i].header.clone(),
                tag: plan.columns[i].tag.clone(),
            })
            .collect(),
        inferred_tags: plan.inferred,
    })
}

/// Why no hashtag row was found: a row where at least half the cells are hashtags (the
/// rule libhxl uses to accept one) is a hashtag row with typos, worth naming.
fn malformed_tag_row(records: &[Record]) -> WhoWhatWhereError {
    for record in records.iter().take(HEADER_SEARCH_ROWS) {
        let cells: Vec<&str> = record
            .cells
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        let tags = cells.iter().filter(|c| parse_tag(c).is_some()).count();
        if tags > 0 && tags * 2 >= cells.len() {
            return WhoWhatWhereError::MalformedHashtagRow {
                line: record.line,
                cells: cells
                    .into_iter()
                    .filter(|c| parse_tag(c).is_none())
                    .map(str::to_owned)
                    .collect(),
            };
        }
    }
    WhoWhatWhereError::NoHashtagRow
}

fn table_country(known: Option<&'static Country>, rows: &[ActivityRow]) -> Option<String> {
    if let Some(country) = known {
        return Some(country.alpha2.clone());
    }
    let one = |values: HashSet<String>| -> Option<String> {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        }
    };
    let given: HashSet<String> = rows.iter().filter_map(|r| r.country.clone()).collect();
    if !given.is_empty() {
        return one(given);
    }
    let prefixes: HashSet<String> = rows
        .iter()
        .map(|r| {
            r.location
                .pcode
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect()
        })
        .collect();
    one(prefixes)
        .and_then(|prefix| country_of(&prefix))
        .map(|c| c.alpha2.clone())
}

/// The problems of one row.
struct Issues {
    line: u64,
    errors: Vec<RowIssue>,
    warnings: Vec<RowIssue>,
}

impl Issues {
    fn new(line: u64) -> Self {
        Self {
            line,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn issue(&self, column: Option<&str>, kind: IssueKind, reason: String) -> RowIssue {
        RowIssue {
            line: self.line,
            column: column.map(str::to_owned),
            kind,
            reason,
        }
    }

    fn error(&mut self, column: Option<&str>, kind: IssueKind, reason: impl Into<String>) {
        let issue = self.issue(column, kind, reason.into());
        self.errors.push(issue);
    }

    fn warn(&mut self, column: Option<&str>, kind: IssueKind, reason: impl Into<String>) {
        let issue = self.issue(column, kind, reason.into());
        self.warnings.push(issue);
    }
}

struct RowReader<'p> {
    plan: &'p Plan,
    country: Option<&'static Country>,
    /// File ids to the line that first gave them.
    ids: HashMap<String, u64>,
}

impl RowReader<'_> {
    fn label(&self, index: usize) -> &str {
        &self.plan.columns[index].label
    }

    fn cell<'r>(&self, record: &'r Record, field: &Field) -> (&'r str, Option<usize>) {
        let index = self.plan.first(field);
        (record.get_opt(index), index)
    }

    fn text(&self, record: &Record, field: &Field) -> Option<String> {
        let value = self.cell(record, field).0;
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The row, when it could be built; the caller drops it if `issues` has errors.
    fn read(&mut self, record: &Record, issues: &mut Issues) -> Option<ActivityRow> {
        let width = self.plan.columns.len();
        let extra: Vec<&str> = record.cells[width.min(record.cells.len())..]
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        if !extra.is_empty() {
            issues.error(
                None,
                IssueKind::Ragged,
                format!(
                    "the row has {} cells but the table {width} columns: {:?} belong to no column",
                    record.cells.len(),
                    extra
                ),
            );
        }
        let external_id = self.external_id(record, issues);
        let organisations = self.organisations(record, issues);
        let sector = self.sector(record, issues);
        let country = self.country(record, issues);
        let location = self.location(record, country, issues);
        let (start, end) = self.dates(record, issues);
        let (raw_status, status_index) = self.cell(record, &Field::Status);
        let status = parse_status(raw_status)
            .map_err(|reason| {
                let column = status_index.map(|i| self.label(i));
                issues.error(column, IssueKind::UnknownStatus, reason);
            })
            .ok();
        let targeted = self.people(record, FigureKind::Targeted, issues);
        let reached = self.people(record, FigureKind::Reached, issues);
        let budget = self.budget(record, issues);
        let unmapped = self
            .plan
            .unmapped
            .iter()
            .map(|&i| UnmappedCell {
                header: self.plan.columns[i].header.clone(),
                tag: self.plan.columns[i].tag.clone(),
                value: record.get(i).to_owned(),
            })
            .collect();
        Some(ActivityRow {
            line: record.line,
            external_id: external_id.unwrap_or_default(),
            organisations,
            sector: sector?,
            subsector: self.text(record, &Field::Subsector),
            country: country.map(|c| c.alpha2.clone()),
            location: location?,
            title: self.text(record, &Field::Title),
            activity_code: self.text(record, &Field::ActivityCode),
            description: self.text(record, &Field::Description),
            start,
            end,
            status: status?,
            targeted,
            reached,
            budget,
            unmapped,
        })
    }

    fn external_id(&mut self, record: &Record, issues: &mut Issues) -> Option<String> {
        let (id, index) = self.cell(record, &Field::Id);
        if id.is_empty() {
            return None;
        }
        if let Some(first) = self.ids.get(id) {
            let column = index.map(|i| self.label(i));
            issues.error(
                column,
                IssueKind::DuplicateId,
                format!("id {id:?} was first given on line {first}"),
            );
        } else {
            self.ids.insert(id.to_owned(), record.line);
        }
        Some(id.to_owned())
    }

    fn organisations(&self, record: &Record, issues: &mut Issues) -> Vec<OrganisationRef> {
        let mut out = Vec::new();
        for role in OrgRole::ALL {
            let values = |part: OrgPart| -> Vec<&str> {
                self.plan
                    .all(&Field::Org(role, part))
                    .into_iter()
                    .map(|i| record.get(i))
                    .collect()
            };
            let (names, acronyms, codes) = (
                values(OrgPart::Name),
                values(OrgPart::Acronym),
                values(OrgPart::Code),
            );
            let count = names.len().max(acronyms.len()).max(codes.len());
            let at = |list: &[&str], k: usize| {
                list.get(k)
                    .filter(|s| !s.is_empty())
                    .map(|s| (*s).to_owned())
            };
            for k in 0..count {
                let mention = OrganisationRef {
                    role,
                    name: at(&names, k),
                    acronym: at(&acronyms, k),
                    code: at(&codes, k),
                };
                if mention.name.is_some() || mention.acronym.is_some() || mention.code.is_some() {
                    out.push(mention);
                }
            }
        }
        let has_doer = out
            .iter()
            .any(|o| matches!(o.role, OrgRole::Reporting | OrgRole::Implementing));
        if !has_doer {
            let column = self
                .plan
                .columns
                .iter()
                .find(|c| {
                    matches!(
                        c.field,
                        Some(Field::Org(OrgRole::Reporting | OrgRole::Implementing, _))
                    )
                })
                .map(|c| c.label.as_str());
            issues.error(
                column,
                IssueKind::NoOrganisation,
                "no organisation doing the activity (reporting or implementing)",
            );
        }
        out
    }

    fn sector(&self, record: &Record, issues: &mut Issues) -> Option<SectorRef> {
        let first_filled = |field: &Field| {
            self.plan
                .all(field)
                .into_iter()
                .map(|i| (i, record.get(i)))
                .find(|(_, v)| !v.is_empty())
        };
        let code = first_filled(&Field::SectorCode);
        let name = first_filled(&Field::SectorName);
        let Some((index, text)) = code.or(name) else {
            let column = self
                .plan
                .first(&Field::SectorName)
                .or(self.plan.first(&Field::SectorCode))
                .map(|i| self.label(i));
            issues.error(column, IssueKind::NoSector, "no sector");
            return None;
        };
        match resolve_sector(text, code.is_some()) {
            Ok(sector) => Some(SectorRef {
                vocabulary: sector.vocabulary,
                code: sector.code.clone(),
                as_written: name.map_or(text, |(_, n)| n).to_owned(),
            }),
            Err(reason) => {
                issues.error(Some(self.label(index)), IssueKind::UnknownSector, reason);
                None
            }
        }
    }

    fn country(&self, record: &Record, issues: &mut Issues) -> Option<&'static Country> {
        let (code, index) = self.cell(record, &Field::Country);
        if code.is_empty() {
            return self.country;
        }
        let found = country_of(code);
        if found.is_none() {
            issues.error(
                index.map(|i| self.label(i)),
                IssueKind::UnknownCountry,
                format!("{code:?} is not a known ISO 3166-1 country code"),
            );
        }
        found
    }

    fn location(
        &self,
        record: &Record,
        country: Option<&'static Country>,
        issues: &mut Issues,
    ) -> Option<ActivityLocation> {
        let mut admin_pcodes: [Option<String>; 3] = Default::default();
        let mut admin_names: [Option<String>; 3] = Default::default();
        let mut valid: Vec<(u8, Pcode, usize)> = Vec::new();
        let mut bad = false;
        for level in 1..=3u8 {
            let slot = usize::from(level - 1);
            admin_names[slot] = self.text(record, &Field::AdminName(level));
            let (raw, index) = self.cell(record, &Field::AdminCode(level));
            let Some(index) = index.filter(|_| !raw.is_empty()) else {
                continue;
            };
            let label = self.label(index);
            match Pcode::parse(raw) {
                Ok(pcode) => {
                    admin_pcodes[slot] = Some(pcode.as_str().to_owned());
                    if let Some(country) = country
                        && !pcode.as_str().starts_with(&country.alpha2)
                        && !pcode.as_str().starts_with(&country.alpha3)
                    {
                        issues.error(
                            Some(label),
                            IssueKind::PcodeCountry,
                            format!(
                                "{pcode} is not a P-code of {} ({})",
                                country.name, country.alpha2
                            ),
                        );
                        bad = true;
                    }
                    valid.push((level, pcode, index));
                }
                Err(e) => {
                    admin_pcodes[slot] = Some(raw.to_ascii_uppercase());
                    issues.error(Some(label), IssueKind::BadPcode, e.message);
                    bad = true;
                }
            }
        }
        for pair in valid.windows(2) {
            let [(upper_level, upper, _), (lower_level, lower, index)] = pair else {
                continue;
            };
            if !lower.is_nested_under(upper) {
                issues.error(
                    Some(self.label(*index)),
                    IssueKind::PcodeNesting,
                    format!(
                        "{lower} (admin {lower_level}) is not inside {upper} (admin {upper_level})"
                    ),
                );
                bad = true;
            }
        }
        if bad {
            return None;
        }
        let place = self.text(record, &Field::Place);
        let Some((level, pcode, index)) = valid.last() else {
            if let Some(level) = (1..=3u8)
                .rev()
                .find(|l| admin_names[usize::from(l - 1)].is_some())
            {
                let column = self
                    .plan
                    .first(&Field::AdminName(level))
                    .map(|i| self.label(i));
                let name = admin_names[usize::from(level - 1)].as_deref().unwrap_or("");
                issues.error(
                    column,
                    IssueKind::AreaWithoutPcode,
                    format!(
                        "{name:?} (admin {level}) has no P-code; areas are not matched by name"
                    ),
                );
                return None;
            }
            let Some(country) = country else {
                issues.error(
                    None,
                    IssueKind::NoLocation,
                    "no P-code and no country: give the country for a country-level activity",
                );
                return None;
            };
            return Some(ActivityLocation {
                pcode: country.alpha2.clone(),
                admin_level: 0,
                admin_pcodes,
                admin_names,
                place,
            });
        };
        if let Some(deeper) = (level + 1..=3).find(|l| admin_names[usize::from(l - 1)].is_some()) {
            let column = self
                .plan
                .first(&Field::AdminName(deeper))
                .map(|i| self.label(i));
            issues.warn(
                column,
                IssueKind::NameBelowPcode,
                format!(
                    "admin {deeper} is named but has no P-code: the activity is placed at {pcode}"
                ),
            );
        }
        if let Some(national) = national_coverage(*level, pcode, country) {
            issues.warn(
                Some(self.label(*index)),
                IssueKind::NationalCoverage,
                format!(
                    "{pcode} is the 345W code for national coverage: the activity is placed at the country, {national}"
                ),
            );
            return Some(ActivityLocation {
                pcode: national,
                admin_level: 0,
                admin_pcodes,
                admin_names,
                place,
            });
        }
        Some(ActivityLocation {
            pcode: pcode.as_str().to_owned(),
            admin_level: *level,
            admin_pcodes,
            admin_names,
            place,
        })
    }

    fn dates(
        &self,
        record: &Record,
        issues: &mut Issues,
    ) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let epoch = NaiveDate::from_ymd_opt(EPOCH.0, EPOCH.1, EPOCH.2);
        let mut read = |field: Field| {
            let (raw, index) = self.cell(record, &field);
            let column = index.map(|i| self.label(i));
            match parse_date(raw) {
                Ok(date) if date.is_some() && date == epoch => {
                    issues.warn(
                        column,
                        IssueKind::EpochDate,
                        format!("{raw:?} is the Unix epoch, which 345W exports for a missing date: read as no date"),
                    );
                    None
                }
                Ok(date) => date,
                Err(reason) => {
                    issues.error(column, IssueKind::BadDate, reason);
                    None
                }
            }
        };
        let start = read(Field::Start);
        let end = read(Field::End);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            let column = self.plan.first(&Field::End).map(|i| self.label(i));
            issues.error(
                column,
                IssueKind::EndBeforeStart,
                format!("the activity ends ({end}) before it starts ({start})"),
            );
        }
        (start, end)
    }

    fn people(&self, record: &Record, kind: FigureKind, issues: &mut Issues) -> Option<People> {
        let mut people = People::default();
        let mut any = false;
        for (band, index) in self.plan.figure_columns(kind) {
            let count = match parse_count(record.get(index)) {
                Ok(Some(count)) => count,
                Ok(None) => continue,
                Err(reason) => {
                    issues.error(Some(self.label(index)), IssueKind::BadFigure, reason);
                    continue;
                }
            };
            any = true;
            match band {
                None => people.total = Some(count),
                Some((sex, age)) => people.bands.push(PeopleBand {
                    sex,
                    age,
                    people: count,
                }),
            }
        }
        people.bands.sort_by_key(|b| (b.sex, b.age));
        if let Some(total) = people.total
            && let Some(over) = people.bands.iter().find(|b| b.people > total)
        {
            let column = self
                .plan
                .figure_columns(kind)
                .into_iter()
                .find(|(b, _)| *b == Some((over.sex, over.age)))
                .map(|(_, i)| self.label(i));
            issues.warn(
                column,
                IssueKind::BandsOverTotal,
                format!(
                    "{} is more than the total {total}: the breakdown by sex and age is not kept",
                    over.people
                ),
            );
            people.bands.clear();
        }
        any.then_some(people)
    }

    fn budget(&self, record: &Record, issues: &mut Issues) -> Option<Budget> {
        let index = self
            .plan
            .columns
            .iter()
            .position(|c| matches!(c.field, Some(Field::Budget(_))))?;
        let Some(Field::Budget(attribute_currency)) = &self.plan.columns[index].field else {
            return None;
        };
        let amount = match parse_amount(record.get(index)) {
            Ok(amount) => amount?,
            Err(reason) => {
                issues.error(Some(self.label(index)), IssueKind::BadBudget, reason);
                return None;
            }
        };
        let (raw, currency_index) = self.cell(record, &Field::Currency);
        let currency = if raw.is_empty() {
            attribute_currency.clone()
        } else {
            let code = raw.to_ascii_uppercase();
            if !reference::is_currency(&code) {
                issues.error(
                    currency_index.map(|i| self.label(i)),
                    IssueKind::UnknownCurrency,
                    format!("{raw:?} is not an ISO 4217 currency code"),
                );
                return None;
            }
            Some(code)
        };
        Some(Budget { amount, currency })
    }
}

/// The country's P-code when an admin-1 P-code is the country prefix and zeros (`HN00`).
fn national_coverage(
    level: u8,
    pcode: &Pcode,
    country: Option<&'static Country>,
) -> Option<String> {
    if level != 1 {
        return None;
    }
    let prefix: String = pcode
        .as_str()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let rest = &pcode.as_str()[prefix.len()..];
    if rest.is_empty() || !rest.bytes().all(|b| b == b'0') {
        return None;
    }
    let of_prefix = country_of(&prefix)?;
    match country {
        Some(country) if country.alpha2 != of_prefix.alpha2 => None,
        _ => Some(of_prefix.alpha2.clone()),
    }
}

// ---------------------------------------------------------------------------------------
// Derived ids
// ---------------------------------------------------------------------------------------

/// FNV-1a, 64 bit: tiny, and fixed by its specification, unlike std's hasher, whose output
/// may change between Rust releases and would then change every derived id.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn content_key(row: &ActivityRow) -> String {
    let mut parts: Vec<String> = Vec::new();
    for o in &row.organisations {
        parts.push(format!("{:?}", o.role));
        for value in [&o.name, &o.acronym, &o.code] {
            parts.push(value.clone().unwrap_or_default());
        }
    }
    parts.push(row.sector.vocabulary.iati_code().to_owned());
    parts.push(row.sector.code.clone());
    parts.push(row.location.pcode.clone());
    parts.push(row.title.clone().unwrap_or_default());
    parts.push(row.activity_code.clone().unwrap_or_default());
    parts.push(row.start.map(|d| d.to_string()).unwrap_or_default());
    parts.push(row.end.map(|d| d.to_string()).unwrap_or_default());
    // The unit separator cannot appear in a trimmed cell that came through CSV unnoticed
    // often enough to matter, and it keeps ("ab","c") apart from ("a","bc").
    parts.join("\u{1f}")
}

fn assign_derived_ids(rows: &mut [ActivityRow]) {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for row in rows.iter_mut().filter(|r| r.external_id.is_empty()) {
        let hash = fnv1a(content_key(row).as_bytes());
        let count = seen.entry(hash).or_default();
        *count += 1;
        row.external_id = match *count {
            1 => format!("3w-{hash:016x}"),
            n => format!("3w-{hash:016x}-{n}"),
        };
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("could not write the table: {0}")]
    Csv(#[from] csv::Error),
    #[error("could not write the table: {0}")]
    Io(#[from] std::io::Error),
}

/// One written column: its header, hashtag, and how a row fills it.
struct OutColumn<'a> {
    header: String,
    tag: String,
    value: Box<dyn Fn(&ActivityRow) -> String + 'a>,
}

fn column<'a>(
    header: impl Into<String>,
    tag: impl Into<String>,
    value: impl Fn(&ActivityRow) -> String + 'a,
) -> OutColumn<'a> {
    OutColumn {
        header: header.into(),
        tag: tag.into(),
        value: Box::new(value),
    }
}

fn or_empty(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Writes rows as a 5W CSV: a header row, the hashtag row, one row per activity. Columns
/// that no row fills are left out (organisation roles, figures, budget); the core columns
/// (id, organisation, sector, areas, activity, dates, status) are always written. The
/// unmapped columns of the rows follow, with their own headers and hashtags. Reading the
/// output gives the same rows, lines aside.
pub fn write_who_what_where<'r, W: Write>(
    writer: W,
    rows: &'r [ActivityRow],
) -> Result<(), WriteError> {
    let mut columns: Vec<OutColumn<'_>> = vec![column("Activity ID", "#activity+id", |r| {
        r.external_id.clone()
    })];
    for role in OrgRole::ALL {
        let of_role = |r: &'r ActivityRow| -> Vec<&'r OrganisationRef> {
            r.organisations.iter().filter(|o| o.role == role).collect()
        };
        let count = rows.iter().map(|r| of_role(r).len()).max().unwrap_or(0);
        let count = if role == OrgRole::Reporting {
            count.max(1)
        } else {
            count
        };
        let any = |part: fn(&OrganisationRef) -> &Option<String>| {
            rows.iter().flat_map(of_role).any(|o| part(o).is_some())
        };
        let (acronyms, codes) = (any(|o| &o.acronym), any(|o| &o.code));
        let base = match role.attribute() {
            Some(attribute) => format!("#org+{attribute}"),
            None => "#org".to_owned(),
        };
        for k in 0..count {
            let get = move |r: &ActivityRow, part: fn(&OrganisationRef) -> &Option<String>| {
                r.organisations
                    .iter()
                    .filter(|o| o.role == role)
                    .nth(k)
                    .map(|o| or_empty(part(o)))
                    .unwrap_or_default()
            };
            columns.push(column(role.heading(), base.clone(), move |r| {
                get(r, |o| &o.name)
            }));
            if acronyms {
                columns.push(column(
                    format!("{} acronym", role.heading()),
                    format!("{base}+acronym"),
                    move |r| get(r, |o| &o.acronym),
                ));
            }
            if codes {
                columns.push(column(
                    format!("{} code", role.heading()),
                    format!("{base}+code"),
                    move |r| get(r, |o| &o.code),
                ));
            }
        }
    }
    columns.push(column("Sector code", "#sector+code", |r| {
        r.sector.written_code()
    }));
    columns.push(column("Sector", "#sector+name", |r| {
        r.sector.as_written.clone()
    }));
    columns.push(column("Subsector", "#subsector", |r| {
        or_empty(&r.subsector)
    }));
    columns.push(column("Country code", "#country+code", |r| {
        or_empty(&r.country)
    }));
    for level in 1..=3usize {
        columns.push(column(
            format!("Admin {level} P-code"),
            format!("#adm{level}+code"),
            move |r| or_empty(&r.location.admin_pcodes[level - 1]),
        ));
        columns.push(column(
            format!("Admin {level}"),
            format!("#adm{level}+name"),
            move |r| or_empty(&r.location.admin_names[level - 1]),
        ));
    }
    columns.push(column("Location", "#loc+name", |r| {
        or_empty(&r.location.place)
    }));
    columns.push(column("Activity", "#activity+name", |r| or_empty(&r.title)));
    columns.push(column("Activity code", "#activity+code", |r| {
        or_empty(&r.activity_code)
    }));
    columns.push(column("Description", "#activity+description", |r| {
        or_empty(&r.description)
    }));
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    columns.push(column("Start date", "#date+start", move |r| date(r.start)));
    columns.push(column("End date", "#date+end", move |r| date(r.end)));
    columns.push(column("Status", "#status", |r| status_name(r.status)));
    for kind in [FigureKind::Targeted, FigureKind::Reached] {
        let figures = move |r: &ActivityRow| match kind {
            FigureKind::Targeted => r.targeted.clone(),
            FigureKind::Reached => r.reached.clone(),
        };
        if !rows.iter().any(|r| figures(r).is_some()) {
            continue;
        }
        columns.push(column(
            kind.heading(),
            format!("{}+total", kind.tag()),
            move |r| {
                figures(r)
                    .and_then(|p| p.total)
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            },
        ));
        let mut keys: Vec<BandKey> = rows
            .iter()
            .filter_map(figures)
            .flat_map(|p| p.bands.into_iter().map(|b| (b.sex, b.age)))
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let (sex, age) = key;
            let mut attributes = Vec::new();
            let mut words = Vec::new();
            match sex {
                Some(Sex::Female) => {
                    attributes.push("f".to_owned());
                    words.push("female".to_owned());
                }
                Some(Sex::Male) => {
                    attributes.push("m".to_owned());
                    words.push("male".to_owned());
                }
                // The reader never makes an "all sexes" band: no attribute says it.
                Some(Sex::All) | None => {}
            }
            if let Some(age) = age {
                attributes.push(age.attribute());
                words.push(age.attribute());
            }
            columns.push(column(
                format!("{} ({})", kind.heading(), words.join(", ")),
                format!("{}+{}", kind.tag(), attributes.join("+")),
                move |r| {
                    figures(r)
                        .and_then(|p| {
                            p.bands
                                .iter()
                                .find(|b| (b.sex, b.age) == key)
                                .map(|b| b.people.to_string())
                        })
                        .unwrap_or_default()
                },
            ));
        }
    }
    if rows.iter().any(|r| r.budget.is_some()) {
        columns.push(column("Budget", "#value+budget", |r| {
            r.budget
                .as_ref()
                .map(|b| b.amount.to_string())
                .unwrap_or_default()
        }));
        columns.push(column("Currency", "#currency", |r| {
            r.budget
                .as_ref()
                .and_then(|b| b.currency.clone())
                .unwrap_or_default()
        }));
    }
    // Unmapped columns, told apart by header, hashtag and rank among equals in a row.
    let mut unmapped: Vec<(Option<String>, Option<String>, usize)> = Vec::new();
    for row in rows {
        let mut rank: HashMap<(&Option<String>, &Option<String>), usize> = HashMap::new();
        for cell in &row.unmapped {
            let n = rank.entry((&cell.header, &cell.tag)).or_default();
            let key = (cell.header.clone(), cell.tag.clone(), *n);
            *n += 1;
            if !unmapped.contains(&key) {
                unmapped.push(key);
            }
        }
    }
    for (header, tag, n) in unmapped {
        let (h, t) = (header.clone(), tag.clone());
        columns.push(column(
            header.unwrap_or_default(),
            tag.unwrap_or_default(),
            move |r| {
                r.unmapped
                    .iter()
                    .filter(|c| c.header == h && c.tag == t)
                    .nth(n)
                    .map(|c| c.value.clone())
                    .unwrap_or_default()
            },
        ));
    }

    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(columns.iter().map(|c| c.header.as_str()))?;
    csv.write_record(columns.iter().map(|c| c.tag.as_str()))?;
    for row in rows {
        csv.write_record(columns.iter().map(|c| (c.value)(row)))?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> WhoWhatWhereTable {
        read_who_what_where(text.as_bytes(), &WhoWhatWhereOptions::default()).unwrap()
    }

    fn read_err(text: &str) -> WhoWhatWhereError {
        read_who_what_where(text.as_bytes(), &WhoWhatWhereOptions::default()).unwrap_err()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn kinds(issues: &[RowIssue]) -> Vec<(u64, IssueKind)> {
        issues.iter().map(|i| (i.line, i.kind)).collect()
    }

    const FIVE_W: &str = "\
Response plan 2021,,,,,,,,,,,,,,
Organización,Donante,Sector,País,Depto,Pcode1,Municipio,Pcode2,Actividad,Inicio,Fin,Estado,Alcanzadas,Mujeres,Presupuesto
#org+name,#org+funding,#sector+name,#country+code,#adm1+name,#adm1+pcode,#adm2+name,#adm2+pcode,#activity+name,#date+start,#date+end,#status,#reached+total,#reached+f,#value+budget+usd
WVI,USAID,Salud,HN,Yoro,HN18,El Progreso,HN1804,\"Kits,
de higiene\",01/07/2021,2021-12-31 00:00:00,En curso,80 418,\"1,234\",\"12,500.50\"
PMA,,Seguridad Alimentaria,HN,Cobertura Nacional,HN00,,,Raciones,01/01/1970,01/01/1970,,-,,
CRS,,WASH,HN,Cortes,HN05,,31,Agua,2021-07-01,2021-06-01,Completado,5,9,
,,Salud,HN,Yoro,HN18,,,Talleres,,,Planeada,,,
SC,,Coordinación / Información,HN,Yoro,HN18,Yoro,,Reuniones,1/7/2021,,ongoing,7,,
";

    #[test]
    fn reads_a_five_w_table() {
        let table = read(FIVE_W);
        assert_eq!(table.tag_line, 3);
        assert_eq!(table.data_rows, 5);
        assert_eq!(table.country.as_deref(), Some("HN"));
        assert_eq!(
            kinds(&table.errors),
            vec![
                (7, IssueKind::BadPcode),
                (7, IssueKind::EndBeforeStart),
                (8, IssueKind::NoOrganisation),
            ]
        );
        assert_eq!(table.failed_rows(), 2);
        let first = &table.rows[0];
        assert_eq!(first.line, 4);
        assert_eq!(first.title.as_deref(), Some("Kits,\nde higiene"));
        assert_eq!(
            first.organisations,
            vec![
                OrganisationRef {
                    role: OrgRole::Reporting,
                    name: Some("WVI".into()),
                    acronym: None,
                    code: None,
                },
                OrganisationRef {
                    role: OrgRole::Funding,
                    name: Some("USAID".into()),
                    acronym: None,
                    code: None,
                },
            ]
        );
        assert_eq!(first.implementers().count(), 1);
        assert_eq!(
            (first.sector.vocabulary, first.sector.code.as_str()),
            (SectorVocabulary::Cluster, "7")
        );
        assert_eq!(first.location.pcode, "HN1804");
        assert_eq!(first.location.admin_level, 2);
        assert_eq!(first.start, Some(date(2021, 7, 1)));
        assert_eq!(first.end, Some(date(2021, 12, 31)));
        assert_eq!(first.status, ActivityStatus::Implementation);
        let reached = first.reached.as_ref().unwrap();
        assert_eq!(reached.total, Some(80_418));
        assert_eq!(
            reached.bands,
            vec![PeopleBand {
                sex: Some(Sex::Female),
                age: None,
                people: 1_234
            }]
        );
        assert_eq!(
            first.budget,
            Some(Budget {
                amount: 12_500.5,
                currency: Some("USD".into())
            })
        );

        // National coverage, epoch dates, blank status.
        let national = &table.rows[1];
        assert_eq!(national.location.pcode, "HN");
        assert_eq!(national.location.admin_level, 0);
        assert_eq!(national.location.admin_pcodes[0].as_deref(), Some("HN00"));
        assert_eq!((national.start, national.end), (None, None));
        assert_eq!(national.status, ActivityStatus::Implementation);
        assert_eq!(national.reached, None);
        assert_eq!(national.budget, None);
        assert_eq!(
            (national.sector.vocabulary, national.sector.code.as_str()),
            (SectorVocabulary::Cluster, "6")
        );

        // Coordination is DAC 72050; a name below the P-code is a warning.
        let coordination = &table.rows[2];
        assert_eq!(coordination.line, 9);
        assert_eq!(
            (
                coordination.sector.vocabulary,
                coordination.sector.code.as_str()
            ),
            (SectorVocabulary::Dac5, "72050")
        );
        assert_eq!(coordination.start, Some(date(2021, 7, 1)));
        assert_eq!(
            kinds(&table.warnings),
            vec![
                (6, IssueKind::NationalCoverage),
                (6, IssueKind::EpochDate),
                (6, IssueKind::EpochDate),
                (9, IssueKind::NameBelowPcode),
            ]
        );
        assert_eq!(
            table.errors[0].column.as_deref(),
            Some("#adm2+pcode"),
            "{}",
            table.errors[0]
        );
        assert!(table.errors[0].reason.contains("\"31\""));
    }

    #[test]
    fn derived_ids_follow_the_content_not_the_line() {
        let body = "#org,#sector,#adm1+code,#activity\nWVI,WASH,HN18,Kits\nWVI,WASH,HN18,Kits\nPMA,WASH,HN18,Kits\n";
        let table = read(body);
        let ids: Vec<&str> = table.rows.iter().map(|r| r.external_id.as_str()).collect();
        assert!(ids[0].starts_with("3w-") && ids[0].len() == 19, "{ids:?}");
        assert_eq!(ids[1], format!("{}-2", ids[0]));
        assert_ne!(ids[2], ids[0]);
        // Two lines of junk above and the rows in another order: the same ids.
        let moved = read(
            "Title\n\n#org,#sector,#adm1+code,#activity\nPMA,WASH,HN18,Kits\nWVI,WASH,HN18,Kits\n",
        );
        assert_eq!(moved.rows[0].external_id, ids[2]);
        assert_eq!(moved.rows[1].external_id, ids[0]);
        // The figures are not part of the identity.
        let figures = read("#org,#sector,#adm1+code,#activity,#reached\nPMA,WASH,HN18,Kits,5\n");
        assert_eq!(figures.rows[0].external_id, ids[2]);
    }

    #[test]
    fn file_ids_are_used_and_must_be_unique() {
        let table = read(
            "#activity+id,#org,#sector,#adm1+code\nA1,WVI,WASH,HN18\nA1,PMA,WASH,HN18\n,PMA,WASH,HN18\n",
        );
        assert_eq!(table.rows[0].external_id, "A1");
        assert_eq!(kinds(&table.errors), vec![(3, IssueKind::DuplicateId)]);
        assert!(table.rows[1].external_id.starts_with("3w-"));
    }

    #[test]
    fn pcodes_must_belong_to_the_country_and_nest() {
        let table = read(
            "#org,#sector,#country+code,#adm1+code,#adm2+code\n\
             A,WASH,HN,GT01,\n\
             A,WASH,HN,HN01,HN0201\n\
             A,WASH,XX,HN01,\n\
             A,WASH,,#N/A,\n\
             A,WASH,,0,\n\
             A,WASH,,,\n",
        );
        assert_eq!(
            kinds(&table.errors),
            vec![
                (2, IssueKind::PcodeCountry),
                (3, IssueKind::PcodeNesting),
                (4, IssueKind::UnknownCountry),
                (5, IssueKind::BadPcode),
                (6, IssueKind::BadPcode),
                (7, IssueKind::NoLocation),
            ]
        );
        let options = WhoWhatWhereOptions {
            country: Some("HND".into()),
            ..WhoWhatWhereOptions::default()
        };
        let table = read_who_what_where(
            "#org,#sector,#adm1+code\nA,WASH,GT01\nA,WASH,\n".as_bytes(),
            &options,
        )
        .unwrap();
        assert_eq!(kinds(&table.errors), vec![(2, IssueKind::PcodeCountry)]);
        assert_eq!(table.rows[0].location.pcode, "HN");
        assert_eq!(table.rows[0].country.as_deref(), Some("HN"));
    }

    #[test]
    fn names_without_pcodes_are_errors() {
        let table = read("#org,#sector,#adm1\nA,Salud,Yoro\n");
        assert_eq!(kinds(&table.errors), vec![(2, IssueKind::AreaWithoutPcode)]);
        assert!(table.errors[0].reason.contains("\"Yoro\""));
    }

    #[test]
    fn sectors_in_spanish_french_english_and_codes() {
        for (text, vocabulary, code) in [
            ("Salud", SectorVocabulary::Cluster, "7"),
            ("SEGURIDAD ALIMENTARIA", SectorVocabulary::Cluster, "6"),
            (
                "Agua, Saneamiento e Higiene",
                SectorVocabulary::Cluster,
                "11",
            ),
            ("WASH", SectorVocabulary::Cluster, "11"),
            ("wsh", SectorVocabulary::Cluster, "11"),
            (
                "Manejo y gestión de Campamentos (CCCM)",
                SectorVocabulary::Cluster,
                "1",
            ),
            ("IT y Telecomunicación", SectorVocabulary::Cluster, "5"),
            (
                "Alojamiento de emergencia (Shelter)",
                SectorVocabulary::Cluster,
                "4",
            ),
            ("Sécurité alimentaire", SectorVocabulary::Cluster, "6"),
            (
                "Eau, hygiène et assainissement",
                SectorVocabulary::Cluster,
                "11",
            ),
            ("Protection de l'enfant", SectorVocabulary::Cluster, "5403"),
            ("Health", SectorVocabulary::Cluster, "7"),
            ("Shelter/NFI", SectorVocabulary::Cluster, "4"),
            (
                "Camp Coordination / Management",
                SectorVocabulary::Cluster,
                "1",
            ),
            ("14030", SectorVocabulary::Dac5, "14030"),
            (
                "Coordinación / Información",
                SectorVocabulary::Dac5,
                "72050",
            ),
        ] {
            let sector = resolve_sector(text, false).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (sector.vocabulary, sector.code.as_str()),
                (vocabulary, code),
                "{text}"
            );
        }
        for text in [
            "Transferencias Multipropósito",
            "Efectivo Multipropósito",
            "All",
            "Affected",
        ] {
            assert!(resolve_sector(text, false).is_err(), "{text}");
        }
        assert!(
            resolve_sector("Salud", true).is_err(),
            "a code column takes codes only"
        );
    }

    #[test]
    fn statuses() {
        for (text, status) in [
            ("", ActivityStatus::Implementation),
            ("En ejecución", ActivityStatus::Implementation),
            ("EN CURSO", ActivityStatus::Implementation),
            ("ongoing", ActivityStatus::Implementation),
            ("Finalizada", ActivityStatus::Finalisation),
            ("Completado", ActivityStatus::Finalisation),
            ("completed", ActivityStatus::Finalisation),
            ("Planeada", ActivityStatus::Pipeline),
            ("Planificado", ActivityStatus::Pipeline),
            ("Prévue", ActivityStatus::Pipeline),
            ("Closed", ActivityStatus::Closed),
            ("Cancelado", ActivityStatus::Cancelled),
            ("Suspended", ActivityStatus::Suspended),
            ("4", ActivityStatus::Closed),
            ("Pipeline/identification", ActivityStatus::Pipeline),
        ] {
            assert_eq!(parse_status(text), Ok(status), "{text}");
        }
        for status in ActivityStatus::ALL {
            assert_eq!(parse_status(&status_name(*status)), Ok(*status));
        }
        assert!(parse_status("maybe").is_err());
    }

    #[test]
    fn figure_attributes() {
        let band = |attrs: &[&str]| {
            figure_band(&attrs.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(band(&[]), Some(None));
        assert_eq!(band(&["total"]), Some(None));
        assert_eq!(band(&["f"]), Some(Some((Some(Sex::Female), None))));
        assert_eq!(
            band(&["m", "age0_4"]),
            Some(Some((
                Some(Sex::Male),
                Some(AgeBand::Years {
                    min: 0,
                    max: Some(4)
                })
            )))
        );
        assert_eq!(
            band(&["age60plus"]),
            Some(Some((None, Some(AgeBand::Years { min: 60, max: None }))))
        );
        assert_eq!(
            band(&["age18_plus"]),
            Some(Some((None, Some(AgeBand::Years { min: 18, max: None }))))
        );
        assert_eq!(
            band(&["girls"]),
            Some(Some((Some(Sex::Female), Some(AgeBand::Children))))
        );
        assert_eq!(band(&["hh"]), None);
        assert_eq!(band(&["f", "m"]), None);
        assert_eq!(band(&["age9_4"]), None);
        assert_eq!(band(&["age0_200"]), None);
    }

    #[test]
    fn bands_over_the_total_are_dropped_with_a_warning() {
        let table = read(
            "#org,#sector,#adm1+code,#reached,#reached+f,#reached+m\nA,WASH,HN01,10,6,11\nA,WASH,HN01,,6,11\n",
        );
        assert_eq!(kinds(&table.warnings), vec![(2, IssueKind::BandsOverTotal)]);
        assert_eq!(table.warnings[0].column.as_deref(), Some("#reached+m"));
        assert_eq!(
            table.rows[0].reached,
            Some(People {
                total: Some(10),
                bands: vec![]
            })
        );
        assert_eq!(table.rows[1].reached.as_ref().unwrap().bands.len(), 2);
    }

    #[test]
    fn bad_cells_are_row_errors_naming_the_column() {
        let table = read(
            "#org,#sector,#adm1+code,#date+start,#reached,#value+budget,#currency,#status\n\
             A,WASH,HN01,31/02/2021,12.5,\"1.234,56\",EUR,Done\n\
             B,WASH,HN01,,,100,EURO,\n",
        );
        let errors: Vec<(u64, &str, IssueKind)> = table
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_deref().unwrap_or(""), e.kind))
            .collect();
        assert_eq!(
            errors,
            vec![
                (2, "#date+start", IssueKind::BadDate),
                (2, "#status", IssueKind::UnknownStatus),
                (2, "#reached", IssueKind::BadFigure),
                (2, "#value+budget", IssueKind::BadBudget),
                (3, "#currency", IssueKind::UnknownCurrency),
            ]
        );
        assert_eq!(table.failed_rows(), 2);
        assert!(table.rows.is_empty());
    }

    #[test]
    fn known_headers_tag_untagged_columns_only() {
        let text = "ID,ORGANIZACIÓN DONANTE,Estado,FECHA DE INICIO,Familias,Org,Sector,Depto\n\
                    ,,,#date+end,,#org,#sector,#adm1+code\n\
                    7,USAID,Finalizada,01/02/2021,3,WVI,Salud,HN01\n";
        let table = read(text);
        let row = &table.rows[0];
        assert_eq!(row.external_id, "7");
        assert_eq!(row.status, ActivityStatus::Finalisation);
        assert_eq!(row.end, Some(date(2021, 2, 1)), "the file's hashtag wins");
        assert_eq!(row.start, None);
        assert_eq!(row.organisations.len(), 2);
        assert_eq!(
            table
                .inferred_tags
                .iter()
                .map(|t| t.tag.as_str())
                .collect::<Vec<_>>(),
            vec!["#activity+id", "#org+funding", "#status"]
        );
        assert_eq!(
            table.unmapped_columns,
            vec![UnmappedColumn {
                column: 5,
                header: Some("Familias".into()),
                tag: None
            }]
        );
        assert_eq!(row.unmapped[0].value, "3");
        let options = WhoWhatWhereOptions {
            tag_known_headers: false,
            ..WhoWhatWhereOptions::default()
        };
        let plain = read_who_what_where(text.as_bytes(), &options).unwrap();
        assert!(plain.inferred_tags.is_empty());
        assert_eq!(plain.rows[0].status, ActivityStatus::Implementation);
        assert_eq!(plain.unmapped_columns.len(), 4);
    }

    #[test]
    fn encodings() {
        let latin1 =
            b"#org,#sector,#adm1+code,#activity\nC\xe1ritas,Educaci\xf3n,HN01,\x93Kits\x94\n";
        let table = read_who_what_where(&latin1[..], &WhoWhatWhereOptions::default()).unwrap();
        assert_eq!(table.encoding, TextEncoding::Windows1252);
        assert_eq!(
            table.rows[0].organisations[0].name.as_deref(),
            Some("Cáritas")
        );
        assert_eq!(table.rows[0].title.as_deref(), Some("\u{201c}Kits\u{201d}"));
        assert_eq!(table.rows[0].sector.code, "3");
        let bom = read("\u{feff}#org,#sector,#adm1+code\nCáritas,Educación,HN01\n");
        assert_eq!(bom.encoding, TextEncoding::Utf8WithBom);
        assert_eq!(
            bom.rows[0].organisations[0].name.as_deref(),
            Some("Cáritas")
        );
        assert_eq!(bom.tag_line, 1);
    }

    #[test]
    fn unusable_files_are_typed_errors() {
        assert!(matches!(read_err(""), WhoWhatWhereError::Empty));
        assert!(matches!(read_err("\n\n,,\n"), WhoWhatWhereError::Empty));
        assert!(matches!(
            read_err("a,b\n1,2\n"),
            WhoWhatWhereError::NoHashtagRow
        ));
        let err = read_err("Org,Sector\n#org,sector+name\nA,B\n");
        assert!(
            matches!(&err, WhoWhatWhereError::MalformedHashtagRow { line: 2, cells } if cells == &["sector+name"])
        );
        assert_eq!(
            err.to_string(),
            "line 2 looks like the HXL hashtag row, but \"sector+name\" is not a hashtag (a hashtag starts with #, e.g. #adm1+code)"
        );
        let err = read_err("#org,#adm1+code\nA,HN01\n");
        assert_eq!(
            err.to_string(),
            "the HXL hashtag row on line 1 has no #sector column"
        );
        let err = read_err("#org+funding,#adm1+code\nA,HN01\n");
        assert_eq!(
            err.to_string(),
            "the HXL hashtag row on line 1 has no #org (or #org+impl) and no #sector column"
        );
        let err = read_err("#org,#sector,#adm1+code\nA,WASH,HN01\n\"B,WASH,HN02\nC,WASH,HN03\n");
        assert!(
            matches!(err, WhoWhatWhereError::UnterminatedQuote(3)),
            "{err}"
        );
        let options = WhoWhatWhereOptions {
            country: Some("Honduras".into()),
            ..WhoWhatWhereOptions::default()
        };
        assert!(matches!(
            read_who_what_where("#org,#sector\n".as_bytes(), &options),
            Err(WhoWhatWhereError::UnknownCountry(_))
        ));
    }

    #[test]
    fn ragged_rows() {
        let table = read("#org,#sector,#adm1+code\nA,WASH\nB,WASH,HN01,,\nC,WASH,HN01,extra\n");
        assert_eq!(
            kinds(&table.errors),
            vec![(2, IssueKind::NoLocation), (4, IssueKind::Ragged)]
        );
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].line, 3);
    }

    #[test]
    fn organisations_pair_by_role_and_rank() {
        let table = read(
            "#org+funding,#org+impl+acronym,#org,#org+impl,#org+impl,#org+acronym,#org+impl+acronym,#org+type,#sector,#adm1+code\n\
             ECHO,,Save the Children International,Cáritas,Plan,SCI,PI,INGO,WASH,HN01\n",
        );
        let row = &table.rows[0];
        let orgs: Vec<(OrgRole, Option<&str>, Option<&str>)> = row
            .organisations
            .iter()
            .map(|o| (o.role, o.name.as_deref(), o.acronym.as_deref()))
            .collect();
        assert_eq!(
            orgs,
            vec![
                (
                    OrgRole::Reporting,
                    Some("Save the Children International"),
                    Some("SCI")
                ),
                (OrgRole::Implementing, Some("Cáritas"), None),
                (OrgRole::Implementing, Some("Plan"), Some("PI")),
                (OrgRole::Funding, Some("ECHO"), None),
            ]
        );
        assert_eq!(row.implementers().count(), 2);
        assert_eq!(table.unmapped_columns[0].tag.as_deref(), Some("#org+type"));
        let budgets =
            read("#org,#sector,#adm1+code,#value+budget+usd,#value+budget+eur\nA,WASH,HN01,5,6\n");
        assert_eq!(budgets.rows[0].budget.as_ref().map(|b| b.amount), Some(5.0));
        assert_eq!(
            budgets.unmapped_columns[0].tag.as_deref(),
            Some("#value+budget+eur")
        );
        assert_eq!(
            OrgRole::Programme.iati_role(),
            OrganisationRole::Accountable
        );
    }

    #[test]
    fn written_tables_read_back_to_the_same_rows() {
        let table = read(
            "#activity+code,#org+funding,#org,#org+code,#sector+code,#sector,#adm1+code,#adm1+name,#adm2+code,#loc,#activity,#activity+description,#date+start,#date+end,#status,#targeted,#targeted+m+children,#reached+f,#value+budget,#currency,#meta+source,#meta+source\n\
             K1,ECHO,Plan International,XM-1,11,Agua,HN01,Atlántida,HN0101,\"Escuela \"\"Las Flores\"\"\",Kits,\"Two\nlines\",2021-07-01 00:00:00,31/12/2021,Completado,1 200,300,40,\"1,000.5\",usd,a,b\n\
             ,,PMA,,,Salud,HN00,,,,,,,,,,,,,,,\n",
        );
        assert!(table.errors.is_empty(), "{:?}", table.errors);
        let mut out = Vec::new();
        write_who_what_where(&mut out, &table.rows).unwrap();
        let again = read_who_what_where(out.as_slice(), &WhoWhatWhereOptions::default()).unwrap();
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        let strip = |rows: &[ActivityRow]| -> Vec<ActivityRow> {
            rows.iter()
                .map(|r| ActivityRow {
                    line: 0,
                    ..r.clone()
                })
                .collect()
        };
        assert_eq!(strip(&again.rows), strip(&table.rows));
        assert_eq!(again.rows[0].sector.as_written, "Agua");
        assert_eq!(
            again.rows[0].budget.as_ref().unwrap().currency.as_deref(),
            Some("USD")
        );
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Activity ID,Organisation,")
        );
        assert!(lines.next().unwrap().starts_with("#activity+id,#org,"));
    }

    #[test]
    fn dates_read_day_first_and_iso() {
        assert_eq!(parse_date("01/07/2021"), Ok(Some(date(2021, 7, 1))));
        assert_eq!(parse_date("1/7/2021"), Ok(Some(date(2021, 7, 1))));
        assert_eq!(parse_date("01-07-2021"), Ok(Some(date(2021, 7, 1))));
        assert_eq!(parse_date("2021-07-01"), Ok(Some(date(2021, 7, 1))));
        assert_eq!(
            parse_date("2021-07-01 00:00:00"),
            Ok(Some(date(2021, 7, 1)))
        );
        assert_eq!(
            parse_date("2021-07-01T10:30:00Z"),
            Ok(Some(date(2021, 7, 1)))
        );
        assert_eq!(parse_date(" - "), Ok(None));
        for bad in [
            "07/25/2021",
            "1/7/21",
            "2021/07/01",
            "44378",
            "1 March 2015",
            "2021-7-1",
            "31/02/2021",
            "2021-07-01 25:00",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1,234.50"), Ok(Some(1234.5)));
        assert_eq!(parse_amount("80 418"), Ok(Some(80418.0)));
        assert_eq!(parse_amount("-"), Ok(None));
        for bad in ["1.234,56", "1e3", "-5", "12.", "USD 5", "1,23"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unterminated_quotes_are_found_where_they_open() {
        assert_eq!(unterminated_quote("a,b\n\"c\nd,e"), Some(2));
        assert_eq!(unterminated_quote("a,\"b\"\"c\"\n\"x\ny\",z\n"), None);
        assert_eq!(
            unterminated_quote("a,b\"c\nd"),
            None,
            "a quote inside a cell is text"
        );
    }
}
