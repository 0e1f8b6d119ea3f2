//! Administrative areas: OCHA COD P-codes, admin levels, the materialised path that makes
//! ancestor and descendant queries cheap, and the reader of the HDX global P-code table.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::error::{ValidationError, ValidationErrors};
use crate::reference::{self, Country};

/// The COD-AB limit (`adm{L}_pcode`, string, max 20).
const PCODE_MAX_LEN: usize = 20;
/// Generous for real place names, small enough to keep a hostile table from bloating storage.
const NAME_MAX_CHARS: usize = 200;
const DEEPEST_LEVEL: u8 = 5;

/// A validated P-code. Trimmed, ASCII upper-case, 2..=20 chars, `[A-Z]{2,3}` country prefix
/// then `[A-Z0-9]*`.
///
/// Kept as a string because leading zeros are significant (`AF0101` is not `AF101`), and
/// upper-cased on the way in because tables exported from spreadsheets are not consistent
/// about case while the COD releases are.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Pcode(String);

impl Pcode {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let code = s.trim().to_ascii_uppercase();
        let fail = |message: String| Err(ValidationError::new("pcode", message));
        if code.is_empty() {
            return fail("must not be empty".to_owned());
        }
        // Delimiters are forbidden by COD-AB, and '/' in particular would corrupt `AreaPath`.
        if let Some(c) = code.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return fail(format!(
                "{code:?} must contain only letters and digits, found {c:?}"
            ));
        }
        if code.len() > PCODE_MAX_LEN {
            return fail(format!(
                "{code:?} is longer than {PCODE_MAX_LEN} characters"
            ));
        }
        let country_prefix = code
            .as_bytes()
            .get(..2)
            .is_some_and(|p| p.iter().all(u8::is_ascii_alphabetic));
        if !country_prefix {
            return fail(format!(
                "{code:?} must start with an ISO 3166-1 country code"
            ));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A plain, strict prefix test. It does not relate a level-1 area to its country when the
    /// P-code uses the alpha-3 prefix: alpha-3 codes do not always extend the alpha-2 code
    /// (Chad is `TD` / `TCD`), so `NewArea::new` handles the country level itself.
    pub fn is_nested_under(&self, parent: &Pcode) -> bool {
        self.0.len() > parent.0.len() && self.0.starts_with(&parent.0)
    }
}

impl TryFrom<String> for Pcode {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Pcode> for String {
    fn from(pcode: Pcode) -> Self {
        pcode.0
    }
}

impl fmt::Display for Pcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Pcode {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Admin level 0 (country) ..= 5.
///
/// COD-AB datasets stop at level 5 at most; anything deeper is a data error, not a country.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdminLevel(u8);

impl AdminLevel {
    pub const COUNTRY: AdminLevel = AdminLevel(0);

    /// Takes an `i64` so that whatever integer the caller has (GraphQL `Int`, a database
    /// column, a CSV cell) is range-checked here rather than truncated by a cast there.
    pub fn new(level: i64) -> Result<Self, ValidationError> {
        match u8::try_from(level) {
            Ok(level) if level <= DEEPEST_LEVEL => Ok(Self(level)),
            _ => Err(ValidationError::new(
                "adminLevel",
                format!("{level} is not between 0 (country) and {DEEPEST_LEVEL}"),
            )),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for AdminLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Materialised path of an area: `/AF/AF01/AF0101/` (every ancestor's P-code then its own,
/// '/'-separated, leading and trailing '/').
///
/// Ancestors and descendants are range and prefix queries on it, which every database indexes,
/// so "everything in this province" needs no recursive query. The path is built from the
/// parent links, not derived from the P-code, because a level-1 P-code may carry the alpha-3
/// prefix and some tables skip a level.
///
/// Comparisons are byte-wise: the store must compare the column with a binary collation
/// (SQLite's default `BINARY`, `COLLATE "C"` on PostgreSQL), or `subtree_range` breaks.
///
/// Shared text: a path is cloned into every overlap finding met at that area (millions in a
/// recomputation), and a clone must not allocate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaPath(std::sync::Arc<str>);

impl AreaPath {
    pub fn root(country: &Pcode) -> Self {
        Self(format!("/{country}/").into())
    }

    pub fn child(&self, pcode: &Pcode) -> Self {
        Self(format!("{}{pcode}/", self.0).into())
    }

    /// Accepts only the canonical form `root` and `child` produce, so that a row that was
    /// edited by hand or truncated in storage is noticed instead of silently matching the
    /// wrong subtree. Nesting is not re-checked: that is `NewArea`'s job when the area is
    /// created, and the path's range queries rely only on the separators.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let fail = |message: String| Err(ValidationError::new("path", message));
        let Some(inner) = s.strip_prefix('/').and_then(|rest| rest.strip_suffix('/')) else {
            return fail(format!("{s:?} must start and end with '/'"));
        };
        if inner.is_empty() {
            return fail(format!("{s:?} holds no P-code"));
        }
        for segment in inner.split('/') {
            match Pcode::parse(segment) {
                Ok(pcode) if pcode.as_str() == segment => {}
                Ok(pcode) => {
                    return fail(format!(
                        "segment {segment:?} is not in canonical form {pcode:?}"
                    ));
                }
                Err(error) => return fail(format!("segment {segment:?}: {}", error.message)),
            }
        }
        Ok(Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.trim_matches('/').split('/')
    }

    /// From the root (the country) down to the area itself.
    pub fn pcodes(&self) -> Vec<Pcode> {
        // Every segment was validated when the path was built or parsed.
        self.segments().map(|s| Pcode(s.to_owned())).collect()
    }

    /// Excluding the area itself, root first.
    pub fn ancestors(&self) -> Vec<Pcode> {
        let mut pcodes = self.pcodes();
        pcodes.pop();
        pcodes
    }

    /// The number of ancestors (the country is 0). Not the admin level: tables may skip a
    /// level (Armenia's admin-3 communities hang directly under admin-1 provinces).
    pub fn depth(&self) -> usize {
        self.segments().count().saturating_sub(1)
    }

    /// Half-open range `[lower, upper)` of the paths of this area and all its descendants:
    /// lower = the path itself, upper = the path with its final '/' replaced by '0' (the next
    /// byte after '/'). Works as `path >= lower AND path < upper` on a B-tree index.
    ///
    /// Why it is exact: `lower` and `upper` share every byte but the last, so a string in the
    /// range starts with that shared prefix (`/AF/AF01`) and then either ends (it is then
    /// shorter than `lower`, so below it) or continues with a byte `b` with
    /// `'/' <= b < '0'`, i.e. `'/'` itself, since nothing sorts between them. So everything in
    /// the range starts with `/AF/AF01/`: the area or a descendant. Siblings whose P-code
    /// extends this one (`/AF/AF010/`, `/AF/AF01A/`) continue with a digit or letter, which
    /// is `>= '0'`, so they are at or above `upper` and excluded. P-codes never contain
    /// anything that sorts below '0' (they are `[A-Z0-9]`), and the separator is '/'.
    pub fn subtree_range(&self) -> (String, String) {
        let stem = self.0.strip_suffix('/').unwrap_or(&self.0);
        (self.0.to_string(), format!("{stem}0"))
    }

    /// The trailing '/' is part of the test, so `/AF/AF01/` is not an ancestor of
    /// `/AF/AF010/`.
    pub fn is_ancestor_or_self_of(&self, other: &AreaPath) -> bool {
        other.0.starts_with(&*self.0)
    }
}

impl fmt::Display for AreaPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An area as read from a COD table, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewArea {
    pub pcode: Pcode,
    pub name: String,
    pub admin_level: AdminLevel,
    pub parent: Option<Pcode>,
    /// ISO alpha-2.
    pub country: String,
    pub valid_from: Option<NaiveDate>,
    /// P-codes are only unique within a COD version, so the version travels with the area.
    pub cod_version: Option<String>,
    /// A point inside the area (COD `center_lat`/`center_lon`), for maps.
    pub centroid: Option<Centroid>,
}

/// A point on the map, in WGS 84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Centroid {
    lat: f64,
    lon: f64,
}

impl Centroid {
    pub fn parse(lat: f64, lon: f64) -> Result<Self, ValidationError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ValidationError::new(
                "centerLat",
                "must be a latitude between -90 and 90",
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(ValidationError::new(
                "centerLon",
                "must be a longitude between -180 and 180",
            ));
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn lon(&self) -> f64 {
        self.lon
    }
}

impl NewArea {
    /// The same area with a centroid.
    #[must_use]
    pub fn with_centroid(mut self, centroid: Option<Centroid>) -> Self {
        self.centroid = centroid;
        self
    }

    /// Checks everything that can be checked without storage, so the store only has to
    /// resolve the parent's path.
    ///
    /// Rules: the name is trimmed, non-empty and at most 200 characters; `country` is a known
    /// ISO alpha-2 code; a country (level 0) has the alpha-2 code as P-code and no parent;
    /// every other area has a parent at a shallower level (not necessarily exactly one up:
    /// the HDX global table hangs Armenia's admin-3 rows directly under admin-1), starts with
    /// the country's alpha-2 or alpha-3 code, and is nested under the parent's P-code, or,
    /// when the parent is the country, under either of its codes.
    pub fn new(
        pcode: Pcode,
        name: &str,
        admin_level: AdminLevel,
        parent: Option<(&Pcode, AdminLevel)>,
        country: &str,
        valid_from: Option<NaiveDate>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.take(validate_name(name));

        let country_code = country.trim().to_ascii_uppercase();
        let country = reference::country_by_alpha2(&country_code);
        match country {
            None => errors.push(ValidationError::new(
                "country",
                format!("{country_code:?} is not a known ISO 3166-1 alpha-2 country code"),
            )),
            Some(c) if admin_level == AdminLevel::COUNTRY => {
                if pcode.as_str() != c.alpha2 {
                    errors.push(ValidationError::new(
                        "pcode",
                        format!(
                            "a country's (admin level 0) P-code must be its ISO alpha-2 code {}, not {pcode}",
                            c.alpha2
                        ),
                    ));
                }
            }
            Some(c) => {
                let code = pcode.as_str();
                if code == c.alpha2 || code == c.alpha3 {
                    // Otherwise the country's code would appear twice in one path (`/AF/AF/`).
                    errors.push(ValidationError::new(
                        "pcode",
                        format!("{code} is the country's own code, which only level 0 may use"),
                    ));
                } else if !code.starts_with(c.alpha2.as_str())
                    && !code.starts_with(c.alpha3.as_str())
                {
                    errors.push(ValidationError::new(
                        "pcode",
                        format!(
                            "{code} must start with the country code {} (or {})",
                            c.alpha2, c.alpha3
                        ),
                    ));
                }
            }
        }

        match parent {
            Some(_) if admin_level == AdminLevel::COUNTRY => errors.push(ValidationError::new(
                "parent",
                "a country (admin level 0) has no parent",
            )),
            None if admin_level != AdminLevel::COUNTRY => errors.push(ValidationError::new(
                "parent",
                format!("is required for admin level {admin_level}"),
            )),
            None => {}
            Some((parent, parent_level)) => {
                if admin_level <= parent_level {
                    errors.push(ValidationError::new(
                        "adminLevel",
                        format!(
                            "level {admin_level} must be deeper than the level {parent_level} of parent {parent}"
                        ),
                    ));
                }
                let nested = if parent_level == AdminLevel::COUNTRY {
                    // The prefix check above already tied the P-code to the country's codes;
                    // what is left is that the parent really is that country.
                    country.is_none_or(|c| parent.as_str() == c.alpha2)
                } else {
                    pcode.is_nested_under(parent)
                };
                if !nested {
                    errors.push(ValidationError::new(
                        "parent",
                        format!("{pcode} is not nested under parent {parent}"),
                    ));
                }
            }
        }

        let country = country.map(|c| c.alpha2.clone());
        match (name, country) {
            (Some(name), Some(country)) if errors.is_empty() => Ok(Self {
                pcode,
                name,
                admin_level,
                parent: parent.map(|(p, _)| p.clone()),
                country,
                valid_from,
                cod_version: None,
                centroid: None,
            }),
            _ => Err(errors),
        }
    }
}

fn validate_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ValidationError::new("name", "must not be empty"));
    }
    let chars = name.chars().count();
    if chars > NAME_MAX_CHARS {
        return Err(ValidationError::new(
            "name",
            format!("is {chars} characters long, more than {NAME_MAX_CHARS}"),
        ));
    }
    Ok(name.to_owned())
}

/// One row of a P-code table that could not be read, with its 1-based line number in the file
/// (header is line 1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub pcode: Option<String>,
    pub reason: String,
}

/// The result of reading a P-code table.
///
/// Rows are judged one by one, so a single bad row does not cost the whole import; the
/// caller decides whether to store the good rows.
#[derive(Clone, Debug, Default)]
pub struct PcodeTable {
    pub areas: Vec<NewArea>,
    pub errors: Vec<RowError>,
}

/// The columns of the HDX global P-code table, by normalised header name.
struct Columns {
    location: usize,
    level: usize,
    pcode: usize,
    name: usize,
    parent: usize,
    valid_from: Option<usize>,
    /// COD tables may carry `center_lat`/`center_lon` (or Latitude/Longitude).
    lat: Option<usize>,
    lon: Option<usize>,
}

impl Columns {
    const REQUIRED: [(&'static str, &'static str); 5] = [
        ("location", "Location"),
        ("adminlevel", "Admin Level"),
        ("pcode", "P-Code"),
        ("name", "Name"),
        ("parentpcode", "Parent P-Code"),
    ];

    fn find(headers: &csv::ByteRecord) -> Result<Self, ValidationError> {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for (i, header) in headers.iter().enumerate() {
            let key = header_key(&String::from_utf8_lossy(header));
            if key.is_empty() {
                continue;
            }
            if by_key.insert(key, i).is_some() {
                return Err(ValidationError::new(
                    "header",
                    format!(
                        "column {:?} appears more than once",
                        String::from_utf8_lossy(header).trim()
                    ),
                ));
            }
        }
        let missing: Vec<&str> = Self::REQUIRED
            .iter()
            .filter(|(key, _)| !by_key.contains_key(*key))
            .map(|(_, label)| *label)
            .collect();
        let column = |key: &str| by_key.get(key).copied();
        match (
            column("location"),
            column("adminlevel"),
            column("pcode"),
            column("name"),
            column("parentpcode"),
        ) {
            (Some(location), Some(level), Some(pcode), Some(name), Some(parent)) => Ok(Self {
                location,
                level,
                pcode,
                name,
                parent,
                valid_from: column("validfromdate"),
                lat: column("centerlat").or(column("latitude")),
                lon: column("centerlon").or(column("longitude")),
            }),
            _ => Err(ValidationError::new(
                "header",
                format!("missing column(s): {}", missing.join(", ")),
            )),
        }
    }
}

/// Header names are matched loosely (case, spaces, '-' and '_' ignored, BOM dropped) because
/// these tables pass through spreadsheets that rewrite them.
fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A data row after the checks that need no other row.
struct Row {
    line: u64,
    pcode_raw: Option<String>,
    pcode: Option<Pcode>,
    level: Option<AdminLevel>,
    country: Option<&'static Country>,
    name: String,
    parent_raw: String,
    valid_from: Option<NaiveDate>,
    centroid: Option<Centroid>,
    problems: Vec<String>,
}

impl Row {
    fn read(line: u64, record: &csv::ByteRecord, columns: &Columns, width: usize) -> Self {
        let mut problems = Vec::new();
        let mut text = |index: usize, label: &str| -> String {
            let bytes = record.get(index).unwrap_or_default();
            match std::str::from_utf8(bytes) {
                Ok(s) => s.trim().to_owned(),
                Err(_) => {
                    problems.push(format!("{label}: not valid UTF-8"));
                    String::new()
                }
            }
        };
        let pcode_raw = text(columns.pcode, "P-Code");
        let location = text(columns.location, "Location");
        let level_raw = text(columns.level, "Admin Level");
        let name = text(columns.name, "Name");
        let parent_raw = text(columns.parent, "Parent P-Code");
        let date_raw = columns
            .valid_from
            .map(|i| text(i, "Valid from date"))
            .unwrap_or_default();
        let lat_raw = columns
            .lat
            .map(|i| text(i, "center_lat"))
            .unwrap_or_default();
        let lon_raw = columns
            .lon
            .map(|i| text(i, "center_lon"))
            .unwrap_or_default();
        let pcode_raw = (!pcode_raw.is_empty()).then_some(pcode_raw);

        if record.len() != width {
            // A stray comma shifts every later column, so any other finding would be noise.
            problems.push(format!("expected {width} fields, found {}", record.len()));
            return Self {
                line,
                pcode_raw,
                pcode: None,
                level: None,
                country: None,
                name,
                parent_raw,
                valid_from: None,
                centroid: None,
                problems,
            };
        }

        let country = country_by_code(&location);
        if country.is_none() {
            problems.push(format!(
                "Location: {location:?} is not a known ISO 3166-1 alpha-3 country code"
            ));
        }
        let level = match level_raw.parse::<i64>() {
            Ok(level) => match AdminLevel::new(level) {
                Ok(level) => Some(level),
                Err(error) => {
                    problems.push(format!("Admin Level: {}", error.message));
                    None
                }
            },
            Err(_) => {
                problems.push(format!("Admin Level: {level_raw:?} is not a whole number"));
                None
            }
        };
        let pcode = match Pcode::parse(pcode_raw.as_deref().unwrap_or_default()) {
            // A country row may carry the alpha-3 code; its P-code is the alpha-2 code.
            Ok(pcode) => match country {
                Some(c) if level == Some(AdminLevel::COUNTRY) && pcode.as_str() == c.alpha3 => {
                    Pcode::parse(&c.alpha2).ok()
                }
                _ => Some(pcode),
            },
            Err(error) => {
                problems.push(format!("P-Code: {}", error.message));
                None
            }
        };
        if let Err(error) = validate_name(&name) {
            problems.push(format!("Name: {}", error.message));
        }
        let valid_from = if date_raw.is_empty() {
            None
        } else {
            match NaiveDate::parse_from_str(&date_raw, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    problems.push(format!(
                        "Valid from date: {date_raw:?} is not a date in YYYY-MM-DD form"
                    ));
                    None
                }
            }
        };
        let centroid = if lat_raw.is_empty() && lon_raw.is_empty() {
            None
        } else {
            match (lat_raw.parse::<f64>(), lon_raw.parse::<f64>()) {
                (Ok(lat), Ok(lon)) => match Centroid::parse(lat, lon) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(format!("{}: {}", e.field, e.message));
                        None
                    }
                },
                _ => {
                    problems.push(format!(
                        "center_lat/center_lon: {lat_raw:?}, {lon_raw:?} is not a pair of numbers"
                    ));
                    None
                }
            }
        };
        Self {
            line,
            pcode_raw,
            pcode,
            level,
            country,
            name,
            parent_raw,
            valid_from,
            centroid,
            problems,
        }
    }
}

fn country_by_code(code: &str) -> Option<&'static Country> {
    let code = code.to_ascii_uppercase();
    match code.len() {
        3 => reference::country_by_alpha3(&code),
        2 => reference::country_by_alpha2(&code),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Accepted,
    Rejected,
}

/// Reads `Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date` (UTF-8, with or
/// without BOM; columns found by header name, case-insensitive, so column order may vary).
///
/// `known` holds the P-codes (and their admin levels) already stored, so a table of admin-2
/// rows can hang under admin-1 areas loaded earlier. When a parent is both in the file and
/// known, the file wins: it is the newer statement.
///
/// Returns areas ordered parents first (so they can be inserted in order), and per-row errors
/// sorted by line: empty name, unknown parent (not in the file and not known), bad P-code,
/// child not nested under parent, level not deeper than the parent's, bad level, bad date,
/// duplicate P-code in the file (the first occurrence is kept). A row whose parent was
/// rejected is rejected too (reason names the parent).
///
/// The `Location` column is an ISO alpha-3 country code ("AFG"). Level-1 rows name the country
/// itself as parent ("AFG"): the reader maps it to the country's level-0 area, whose P-code is
/// the alpha-2 code ("AF"), and synthesises that level-0 `NewArea` (name = the country's name
/// from the reference list, level 0, no parent) when it is neither in the file nor known, so
/// that every area has a root for its path. Unknown country codes are a row error.
///
/// Err only when the header is unusable (missing or repeated column); row problems go to
/// `errors`.
pub fn read_pcode_table<R: Read>(
    reader: R,
    known: &HashMap<Pcode, AdminLevel>,
) -> Result<PcodeTable, ValidationError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        // Field counts are checked per row, so one bad row is an error on that row only.
        .flexible(true)
        .from_reader(reader);
    let headers = csv
        .byte_headers()
        .map_err(|e| ValidationError::new("header", format!("cannot read the header: {e}")))?
        .clone();
    let columns = Columns::find(&headers)?;
    let width = headers.len();

    let mut rows: Vec<Row> = Vec::new();
    let mut errors: Vec<RowError> = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let previous_line = rows.last().map_or(1, |r| r.line);
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record
                    .position()
                    .map_or(previous_line + 1, csv::Position::line);
                rows.push(Row::read(line, &record, &columns, width));
            }
            Err(error) => {
                // Only I/O fails here with a flexible byte reader; the rest is unreadable.
                errors.push(RowError {
                    line: error
                        .position()
                        .map_or(previous_line + 1, csv::Position::line),
                    pcode: None,
                    reason: format!("cannot read the rest of the file: {error}"),
                });
                break;
            }
        }
    }

    let mut first_row_of: HashMap<Pcode, usize> = HashMap::new();
    for i in 0..rows.len() {
        let Some(pcode) = rows[i].pcode.clone() else {
            continue;
        };
        match first_row_of.get(&pcode) {
            Some(&first) => {
                let first_line = rows[first].line;
                rows[i].problems.push(format!(
                    "duplicate P-code {pcode}, first on line {first_line}"
                ));
            }
            None => {
                first_row_of.insert(pcode, i);
            }
        }
    }

    // Parents are strictly shallower than their children, so in (level, line) order every
    // in-file parent is decided before its children, and the accepted rows come out
    // parents first.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].level, rows[i].line));

    let mut status = vec![Status::Pending; rows.len()];
    let mut accepted: Vec<NewArea> = Vec::new();
    let mut synthesised: Vec<NewArea> = Vec::new();
    let mut synthesised_codes: HashSet<Pcode> = HashSet::new();
    for &i in &order {
        let row = &rows[i];
        let outcome = if row.problems.is_empty() {
            judge(row, &rows, &status, &first_row_of, known)
        } else {
            Err(row.problems.join("; "))
        };
        let outcome = outcome.map(|judged| {
            match judged.synthesise {
                // Several rows hang under the same unlisted country; it is created once.
                Some(country) if synthesised_codes.insert(country.pcode.clone()) => {
                    synthesised.push(country);
                }
                _ => {}
            }
            judged.area
        });
        match outcome {
            Ok(area) => {
                status[i] = Status::Accepted;
                accepted.push(area);
            }
            Err(reason) => {
                status[i] = Status::Rejected;
                errors.push(RowError {
                    line: row.line,
                    pcode: row.pcode_raw.clone(),
                    reason,
                });
            }
        }
    }

    errors.sort_by_key(|e| e.line);
    synthesised.extend(accepted);
    Ok(PcodeTable {
        areas: synthesised,
        errors,
    })
}

struct Judged {
    area: NewArea,
    /// The country's level-0 area, when the row hangs under a country nobody has listed.
    synthesise: Option<NewArea>,
}

/// The checks that need other rows: the parent's existence, status and level.
fn judge(
    row: &Row,
    rows: &[Row],
    status: &[Status],
    first_row_of: &HashMap<Pcode, usize>,
    known: &HashMap<Pcode, AdminLevel>,
) -> Result<Judged, String> {
    let (Some(pcode), Some(level), Some(country)) = (&row.pcode, row.level, row.country) else {
        // `Row::read` recorded a problem for each of these; kept as a guard, not a panic.
        return Err("incomplete row".to_owned());
    };
    let build = |parent: Option<(&Pcode, AdminLevel)>| {
        NewArea::new(
            pcode.clone(),
            &row.name,
            level,
            parent,
            &country.alpha2,
            row.valid_from,
        )
        .map(|area| area.with_centroid(row.centroid))
        .map_err(|errors| errors.to_string())
    };

    if level == AdminLevel::COUNTRY {
        if !row.parent_raw.is_empty() {
            return Err(format!(
                "Parent P-Code: a country (admin level 0) has no parent, found {:?}",
                row.parent_raw
            ));
        }
        return build(None).map(|area| Judged {
            area,
            synthesise: None,
        });
    }

    if row.parent_raw.is_empty() {
        return Err(format!("Parent P-Code: missing for admin level {level}"));
    }
    let parent_upper = row.parent_raw.to_ascii_uppercase();
    let names_country = parent_upper == country.alpha3 || parent_upper == country.alpha2;
    let parent_code = if names_country {
        country.alpha2.as_str()
    } else {
        row.parent_raw.as_str()
    };
    let parent =
        Pcode::parse(parent_code).map_err(|error| format!("Parent P-Code: {}", error.message))?;

    let (parent_level, synthesise) = if let Some(&j) = first_row_of.get(&parent) {
        let parent_row = &rows[j];
        match parent_row.level {
            Some(parent_level) if parent_level < level => {}
            Some(parent_level) => {
                return Err(format!(
                    "Admin Level: level {level} must be deeper than the level {parent_level} of parent {parent} (line {})",
                    parent_row.line
                ));
            }
            None => {
                return Err(format!(
                    "parent {parent} (line {}) was rejected",
                    parent_row.line
                ));
            }
        }
        match status[j] {
            Status::Accepted => (parent_row.level.unwrap_or(AdminLevel::COUNTRY), None),
            Status::Rejected => {
                return Err(format!(
                    "parent {parent} (line {}) was rejected",
                    parent_row.line
                ));
            }
            // Unreachable given the processing order; reported rather than trusted.
            Status::Pending => {
                return Err(format!(
                    "parent {parent} (line {}) was not judged before its child",
                    parent_row.line
                ));
            }
        }
    } else if let Some(&parent_level) = known.get(&parent) {
        (parent_level, None)
    } else if names_country {
        let root = NewArea::new(
            parent.clone(),
            &country.name,
            AdminLevel::COUNTRY,
            None,
            &country.alpha2,
            None,
        )
        .map_err(|errors| format!("cannot create country {parent}: {errors}"))?;
        (AdminLevel::COUNTRY, Some(root))
    } else {
        return Err(format!(
            "unknown parent P-code {parent}: neither in the file nor already stored"
        ));
    };

    build(Some((&parent, parent_level))).map(|area| Judged { area, synthesise })
}

/// Storage identity of an area.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct AreaId(pub i64);

/// A stored area, with its place in the hierarchy.
#[derive(Clone, Debug, PartialEq)]
pub struct Area {
    pub id: AreaId,
    pub pcode: Pcode,
    pub name: String,
    pub admin_level: AdminLevel,
    pub parent: Option<AreaId>,
    pub path: AreaPath,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub cod_version: Option<String>,
    pub valid_from: Option<chrono::NaiveDate>,
    pub centroid: Option<Centroid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(s: &str) -> Pcode {
        Pcode::parse(s).unwrap()
    }

    fn path(s: &str) -> AreaPath {
        AreaPath::parse(s).unwrap()
    }

    fn read(csv: &str) -> PcodeTable {
        read_pcode_table(csv.as_bytes(), &HashMap::new()).unwrap()
    }

    const HEADER: &str = "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n";

    #[test]
    fn pcode_is_trimmed_and_upper_cased() {
        assert_eq!(pc(" af0101 ").as_str(), "AF0101");
        assert_eq!(pc("AFG01").as_str(), "AFG01");
        assert_eq!(pc("AF").as_str(), "AF");
        assert_eq!("am01001".parse::<Pcode>().unwrap().to_string(), "AM01001");
    }

    #[test]
    fn pcode_rejects_bad_shapes() {
        for bad in [
            "",
            "   ",
            "A",
            "01AF",
            "A1",
            "AF-01",
            "AF 01",
            "AF/01",
            "AF01é",
            "AF012345678901234567890",
        ] {
            let error = Pcode::parse(bad).unwrap_err();
            assert_eq!(error.field, "pcode", "{bad:?}");
        }
        // 20 characters is the limit, inclusive.
        assert!(Pcode::parse("ID123456789012345678").is_ok());
        assert!(Pcode::parse("ID1234567890123456789").is_err());
    }

    #[test]
    fn pcode_keeps_leading_zeros_and_serialises_as_a_string() {
        let json = serde_json::to_string(&pc("AF0101")).unwrap();
        assert_eq!(json, "\"AF0101\"");
        let back: Pcode = serde_json::from_str("\"af0101\"").unwrap();
        assert_eq!(back, pc("AF0101"));
        assert!(serde_json::from_str::<Pcode>("\"AF-01\"").is_err());
        assert_eq!(String::from(pc("AF01")), "AF01");
        assert!(Pcode::try_from("x".to_owned()).is_err());
    }

    #[test]
    fn nesting_is_a_strict_prefix() {
        assert!(pc("AF0101").is_nested_under(&pc("AF01")));
        assert!(pc("AF01").is_nested_under(&pc("AF")));
        assert!(!pc("AF01").is_nested_under(&pc("AF01")));
        assert!(!pc("AF0201").is_nested_under(&pc("AF01")));
        assert!(!pc("AF01").is_nested_under(&pc("AF0101")));
    }

    #[test]
    fn admin_level_bounds() {
        assert_eq!(AdminLevel::new(0).unwrap(), AdminLevel::COUNTRY);
        assert_eq!(AdminLevel::new(5).unwrap().get(), 5);
        for bad in [-1, 6, 256, i64::MAX, i64::MIN] {
            assert_eq!(AdminLevel::new(bad).unwrap_err().field, "adminLevel");
        }
        assert!(AdminLevel::new(1).unwrap() < AdminLevel::new(2).unwrap());
    }

    #[test]
    fn path_is_built_from_the_root_down() {
        let p = AreaPath::root(&pc("AF"))
            .child(&pc("AF01"))
            .child(&pc("AF0101"));
        assert_eq!(p.as_str(), "/AF/AF01/AF0101/");
        assert_eq!(p.pcodes(), vec![pc("AF"), pc("AF01"), pc("AF0101")]);
        assert_eq!(p.ancestors(), vec![pc("AF"), pc("AF01")]);
        assert_eq!(p.depth(), 2);
        assert_eq!(AreaPath::root(&pc("AF")).depth(), 0);
        assert!(AreaPath::root(&pc("AF")).ancestors().is_empty());
        assert_eq!(AreaPath::parse(p.as_str()).unwrap(), p);
    }

    #[test]
    fn path_parse_accepts_only_the_canonical_form() {
        for bad in [
            "",
            "/",
            "//",
            "AF/AF01/",
            "/AF/AF01",
            "/AF//AF01/",
            "/af/",
            "/AF/AF 01/",
            "/AF/1/",
        ] {
            assert_eq!(AreaPath::parse(bad).unwrap_err().field, "path", "{bad:?}");
        }
    }

    #[test]
    fn subtree_range_contains_exactly_the_subtree() {
        let af01 = path("/AF/AF01/");
        let (lower, upper) = af01.subtree_range();
        assert_eq!(lower, "/AF/AF01/");
        assert_eq!(upper, "/AF/AF010");
        let in_range = |p: &str| p >= lower.as_str() && p < upper.as_str();

        assert!(in_range("/AF/AF01/"));
        assert!(in_range("/AF/AF01/AF0101/"));
        assert!(in_range("/AF/AF01/AF0101/AF010101/"));
        // AF010 is a sibling whose code merely extends AF01. "/AF/AF010/" shares the stem
        // "/AF/AF01" with both bounds, then has '0' where the lower bound has '/': since
        // '/' (0x2F) < '0' (0x30) it sorts above the lower bound, and it starts with the
        // whole upper bound "/AF/AF010" while being longer, so it sorts at or above the upper
        // bound and is excluded.
        assert!("/AF/AF010/" > lower.as_str());
        assert!("/AF/AF010/" >= upper.as_str());
        assert!(!in_range("/AF/AF010/"));
        assert!(!in_range("/AF/AF010/AF01001/"));
        assert!(!in_range("/AF/AF01A/"));
        assert!(!in_range("/AF/AF02/"));
        assert!(!in_range("/AF/AF0/"));
        assert!(!in_range("/AF/"));
        assert!(!in_range("/AFG/AFG01/"));

        // Same answer as the prefix test, on every pair of a set that includes the tricky
        // neighbours, and as a B-tree range scan would give.
        let all: Vec<AreaPath> = [
            "/AF/",
            "/AF/AF0/",
            "/AF/AF01/",
            "/AF/AF01/AF0101/",
            "/AF/AF01/AF0101/AF010101/",
            "/AF/AF01/AF0109/",
            "/AF/AF010/",
            "/AF/AF010/AF01001/",
            "/AF/AF01A/",
            "/AF/AF019/",
            "/AF/AF02/",
            "/AF/AFG01/",
            "/AFG/",
            "/AM/AM01/",
        ]
        .iter()
        .map(|s| path(s))
        .collect();
        let index: std::collections::BTreeSet<String> =
            all.iter().map(|p| p.as_str().to_owned()).collect();
        for a in &all {
            let (lower, upper) = a.subtree_range();
            let scanned: Vec<&String> = index.range(lower.clone()..upper.clone()).collect();
            let expected: Vec<&String> = index
                .iter()
                .filter(|s| a.is_ancestor_or_self_of(&path(s)))
                .collect();
            assert_eq!(scanned, expected, "subtree of {a}");
            for b in &all {
                let by_range = b.as_str() >= lower.as_str() && b.as_str() < upper.as_str();
                assert_eq!(by_range, a.is_ancestor_or_self_of(b), "{a} vs {b}");
            }
        }
        assert!(!path("/AF/AF01/").is_ancestor_or_self_of(&path("/AF/AF010/")));
    }

    fn date() -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2021, 11, 17)
    }

    #[test]
    fn new_area_accepts_a_well_formed_area() {
        let area = NewArea::new(
            pc("AF0101"),
            "  Kabul ",
            AdminLevel::new(2).unwrap(),
            Some((&pc("AF01"), AdminLevel::new(1).unwrap())),
            "af",
            date(),
        )
        .unwrap();
        assert_eq!(area.name, "Kabul");
        assert_eq!(area.country, "AF");
        assert_eq!(area.parent, Some(pc("AF01")));
        assert_eq!(area.cod_version, None);

        let country = NewArea::new(
            pc("AF"),
            "Afghanistan",
            AdminLevel::COUNTRY,
            None,
            "AF",
            None,
        )
        .unwrap();
        assert_eq!(country.parent, None);
    }

    #[test]
    fn new_area_accepts_alpha3_prefixes_under_the_country() {
        let level1 = AdminLevel::new(1).unwrap();
        let country = Some((&pc("AF"), AdminLevel::COUNTRY));
        assert!(NewArea::new(pc("AFG01"), "Kabul", level1, country, "AF", None).is_ok());
        // Chad: the alpha-3 code does not extend the alpha-2 code.
        let chad = Some((&pc("TD"), AdminLevel::COUNTRY));
        assert!(NewArea::new(pc("TCD01"), "Batha", level1, chad, "TD", None).is_ok());
        assert!(NewArea::new(pc("TD01"), "Batha", level1, chad, "TD", None).is_ok());
        // But the parent must be that country, and the prefix that country's.
        let other = Some((&pc("AM"), AdminLevel::COUNTRY));
        assert!(NewArea::new(pc("AF01"), "Kabul", level1, other, "AF", None).is_err());
        assert!(NewArea::new(pc("AM01"), "Yerevan", level1, country, "AF", None).is_err());
        // The country's own codes are taken by level 0.
        assert!(NewArea::new(pc("AF"), "Kabul", level1, country, "AF", None).is_err());
        assert!(NewArea::new(pc("AFG"), "Kabul", level1, country, "AF", None).is_err());
    }

    fn fields(result: Result<NewArea, ValidationErrors>) -> Vec<String> {
        result.unwrap_err().0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn new_area_reports_every_problem() {
        let l1 = AdminLevel::new(1).unwrap();
        let l2 = AdminLevel::new(2).unwrap();
        let af01 = pc("AF01");
        assert_eq!(
            fields(NewArea::new(
                pc("AF0101"),
                " ",
                l2,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["name"]
        );
        let long = "x".repeat(201);
        assert_eq!(
            fields(NewArea::new(
                pc("AF0101"),
                &long,
                l2,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["name"]
        );
        let accented = "é".repeat(200);
        let area = NewArea::new(pc("AF0101"), &accented, l2, Some((&af01, l1)), "AF", None);
        assert!(area.is_ok(), "200 characters, 400 bytes: {area:?}");
        assert_eq!(
            fields(NewArea::new(
                pc("AF0201"),
                "X",
                l2,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["parent"]
        );
        assert_eq!(
            fields(NewArea::new(
                pc("AF0101"),
                "X",
                l1,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["adminLevel"]
        );
        assert_eq!(
            fields(NewArea::new(pc("AF0101"), "X", l2, None, "AF", None)),
            ["parent"]
        );
        assert_eq!(
            fields(NewArea::new(
                pc("AF"),
                "X",
                AdminLevel::COUNTRY,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["parent"]
        );
        assert_eq!(
            fields(NewArea::new(
                pc("AFG"),
                "X",
                AdminLevel::COUNTRY,
                None,
                "AF",
                None
            )),
            ["pcode"]
        );
        assert_eq!(
            fields(NewArea::new(
                pc("AF0101"),
                "X",
                l2,
                Some((&af01, l1)),
                "QQ",
                None
            )),
            ["country"]
        );
        assert_eq!(
            fields(NewArea::new(
                pc("AM0101"),
                "",
                l2,
                Some((&af01, l1)),
                "AF",
                None
            )),
            ["name", "pcode", "parent"]
        );
    }

    #[test]
    fn reads_a_small_table_parents_first_with_the_country_synthesised() {
        // Children before their parents in the file.
        let table = read(&format!(
            "{HEADER}AFG,2,AF0101,Kabul,AF01,2021-11-17\nAFG,1,AF01,Kabul,AFG,2021-11-17\nAFG,1,AF02,Kapisa,AFG,\n"
        ));
        assert_eq!(table.errors, []);
        let codes: Vec<&str> = table.areas.iter().map(|a| a.pcode.as_str()).collect();
        assert_eq!(codes, ["AF", "AF01", "AF02", "AF0101"]);
        let country = &table.areas[0];
        assert_eq!(country.admin_level, AdminLevel::COUNTRY);
        assert_eq!(country.parent, None);
        assert_eq!(country.country, "AF");
        assert!(country.name.to_lowercase().contains("afghanistan"));
        assert_eq!(table.areas[1].parent, Some(pc("AF")));
        assert_eq!(table.areas[1].valid_from, date());
        assert_eq!(table.areas[2].valid_from, None);
        assert_eq!(table.areas[3].parent, Some(pc("AF01")));
    }

    #[test]
    fn empty_name_is_an_error_on_its_line() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,Kabul,AFG,2021-11-17\nAFG,1,AF02,  ,AFG,2021-11-17\n"
        ));
        assert_eq!(table.errors.len(), 1);
        let error = &table.errors[0];
        assert_eq!(error.line, 3);
        assert_eq!(error.pcode.as_deref(), Some("AF02"));
        assert!(error.reason.contains("Name"), "{}", error.reason);
        assert_eq!(table.areas.len(), 2);
    }

    #[test]
    fn line_numbers_count_the_lines_of_quoted_multi_line_fields() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,\"Kabul\nCity\",AFG,\nAFG,1,AF02,,AFG,\n"
        ));
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 4);
    }

    #[test]
    fn unknown_parent_is_an_error() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,Kabul,AFG,\nAFG,2,AF0201,Kapisa,AF02,\n"
        ));
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 3);
        let reason = &table.errors[0].reason;
        assert!(reason.contains("unknown parent P-code AF02"), "{reason}");
    }

    #[test]
    fn child_not_nested_under_parent_is_an_error() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,Kabul,AFG,\nAFG,1,AF02,Kapisa,AFG,\nAFG,2,AF0201,Kapisa,AF01,\n"
        ));
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 4);
        let reason = &table.errors[0].reason;
        assert!(reason.contains("not nested under parent AF01"), "{reason}");
    }

    #[test]
    fn level_must_be_deeper_than_the_parent_but_may_skip() {
        // Armenia's admin-3 communities hang directly under admin-1 in the HDX table.
        let table = read(&format!(
            "{HEADER}ARM,1,AM01,Yerevan,ARM,\nARM,3,AM01001,Achapnyak,AM01,\nARM,1,AM0101,X,AM01,\nARM,7,AM0102,X,AM01,\nARM,one,AM0103,X,AM01,\n"
        ));
        let lines: Vec<u64> = table.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6]);
        assert!(table.errors[0].reason.contains("deeper"));
        assert!(table.errors[1].reason.contains("Admin Level"));
        assert!(table.errors[2].reason.contains("whole number"));
        assert_eq!(table.areas.len(), 3);
    }

    #[test]
    fn a_row_under_a_rejected_parent_is_rejected() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,,AFG,\nAFG,2,AF0101,Kabul,AF01,\nAFG,3,AF010101,Kabul,AF0101,\n"
        ));
        let lines: Vec<u64> = table.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        let reason = &table.errors[1].reason;
        assert!(
            reason.contains("parent AF01 (line 2) was rejected"),
            "{reason}"
        );
        let reason = &table.errors[2].reason;
        assert!(
            reason.contains("parent AF0101 (line 3) was rejected"),
            "{reason}"
        );
        assert!(table.areas.is_empty(), "{:?}", table.areas);
    }

    #[test]
    fn duplicates_bad_codes_and_dates_are_row_errors() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,Kabul,AFG,\nAFG,1,AF01,Kabul again,AFG,\nAFG,1,AF-02,Kapisa,AFG,\nAFG,1,AF03,Parwan,AFG,17/11/2021\nXYZ,1,XY01,Nowhere,XYZ,\nAFG,1,AF04,Wardak,AFG\n"
        ));
        let lines: Vec<u64> = table.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7]);
        let reason = &table.errors[0].reason;
        assert!(
            reason.contains("duplicate P-code AF01, first on line 2"),
            "{reason}"
        );
        assert!(table.errors[1].reason.contains("P-Code"));
        assert_eq!(table.errors[1].pcode.as_deref(), Some("AF-02"));
        assert!(table.errors[2].reason.contains("Valid from date"));
        assert!(table.errors[3].reason.contains("Location"));
        let reason = &table.errors[4].reason;
        assert!(reason.contains("expected 6 fields, found 5"), "{reason}");
        let codes: Vec<&str> = table.areas.iter().map(|a| a.pcode.as_str()).collect();
        assert_eq!(codes, ["AF", "AF01"]);
    }

    #[test]
    fn invalid_utf8_is_a_row_error() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"AFG,1,AF01,Kab\xffl,AFG,\nAFG,1,AF02,Kapisa,AFG,\n");
        let table = read_pcode_table(bytes.as_slice(), &HashMap::new()).unwrap();
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 2);
        assert!(table.errors[0].reason.contains("UTF-8"));
        assert_eq!(table.areas.len(), 2);
    }

    #[test]
    fn bom_is_ignored() {
        let table = read(&format!(
            "\u{feff}{HEADER}AFG,1,AF01,Kabul,AFG,2021-11-17\n"
        ));
        assert_eq!(table.errors, []);
        assert_eq!(table.areas.len(), 2);
        assert_eq!(table.areas[1].valid_from, date());
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_case() {
        let table = read(
            "name,PARENT P-CODE,p-code,location,admin level\r\nKabul,AFG,AF01,AFG,1\r\nKabul,AF01,AF0101,AFG,2\r\n",
        );
        assert_eq!(table.errors, []);
        let codes: Vec<&str> = table.areas.iter().map(|a| a.pcode.as_str()).collect();
        assert_eq!(codes, ["AF", "AF01", "AF0101"]);
        assert_eq!(table.areas[2].valid_from, None);
    }

    #[test]
    fn an_unusable_header_is_the_only_hard_error() {
        let error = read_pcode_table("Location,Admin Level,Name\n".as_bytes(), &HashMap::new())
            .unwrap_err();
        assert_eq!(error.field, "header");
        assert!(error.message.contains("P-Code"));
        assert!(error.message.contains("Parent P-Code"));
        assert!(read_pcode_table("".as_bytes(), &HashMap::new()).is_err());
        let twice = "Location,Admin Level,P-Code,P-code,Name,Parent P-Code\n";
        assert!(read_pcode_table(twice.as_bytes(), &HashMap::new()).is_err());
    }

    #[test]
    fn known_areas_serve_as_parents() {
        let known = HashMap::from([
            (pc("AF"), AdminLevel::COUNTRY),
            (pc("AF01"), AdminLevel::new(1).unwrap()),
        ]);
        let csv = format!(
            "{HEADER}AFG,2,AF0101,Kabul,AF01,\nAFG,1,AF02,Kapisa,AFG,\nAFG,2,AF0301,Parwan,AF03,\n"
        );
        let table = read_pcode_table(csv.as_bytes(), &known).unwrap();
        // The country is known, so it is not synthesised again.
        let codes: Vec<&str> = table.areas.iter().map(|a| a.pcode.as_str()).collect();
        assert_eq!(codes, ["AF02", "AF0101"]);
        assert_eq!(table.errors.len(), 1);
        assert_eq!(table.errors[0].line, 4);
    }

    #[test]
    fn a_country_row_in_the_file_is_used_instead_of_a_synthesised_one() {
        let table = read(&format!(
            "{HEADER}AFG,1,AF01,Kabul,AFG,\nAFG,0,AFG,Islamic Republic of Afghanistan,,\n"
        ));
        assert_eq!(table.errors, []);
        assert_eq!(table.areas.len(), 2);
        assert_eq!(table.areas[0].pcode, pc("AF"));
        assert_eq!(table.areas[0].name, "Islamic Republic of Afghanistan");
    }

    #[test]
    fn reads_the_hdx_global_pcodes_fixture() {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/hdx-scraper-pcodes/tests/fixtures/global_pcodes.csv"
        );
        let Ok(bytes) = std::fs::read(file) else {
            println!("skipped: {file} not found");
            return;
        };
        let table = read_pcode_table(bytes.as_slice(), &HashMap::new()).unwrap();
        assert_eq!(table.errors, []);
        assert_eq!(table.areas.len(), 8914 + 3);
        let countries: Vec<&str> = table
            .areas
            .iter()
            .filter(|a| a.admin_level == AdminLevel::COUNTRY)
            .map(|a| a.pcode.as_str())
            .collect();
        assert_eq!(countries.len(), 3);
        for code in ["AF", "AM", "ID"] {
            assert!(countries.contains(&code), "{code} in {countries:?}");
        }
        let mut seen: HashSet<&Pcode> = HashSet::new();
        for area in &table.areas {
            if let Some(parent) = &area.parent {
                assert!(seen.contains(parent), "{} before its parent", area.pcode);
            }
            assert!(seen.insert(&area.pcode), "{} twice", area.pcode);
        }
    }
}
