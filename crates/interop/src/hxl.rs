//! What every HXL-tagged table needs, whatever it holds: reading the bytes (UTF-8 with or
//! without a byte order mark, or Windows-1252 / Latin-1), reading ragged CSV records with
//! their lines, finding the hashtag row among the first rows, parsing hashtags and their
//! attributes, naming a column in messages (a repeated hashtag told apart by the header
//! above it), and reading the cells tables share: counts of people (`80 418`, `-`), amounts,
//! dates, and English sector labels. The needs and 3W readers both use these, so each thing
//! is done one way.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use chrono::{NaiveDate, NaiveTime};
use concord_domain::reference::{self, Country, SectorVocabulary};
use serde::Serialize;

/// How many rows from the top are searched for the HXL hashtag row. Real tables put a title,
/// group headers and column headers above it.
pub const HEADER_SEARCH_ROWS: usize = 10;

/// Reads a count of people as written in real tables: `80 418`, `12,345`, `1'000`,
/// `80418.0` give a number; `-` and blank give `None` (no figure); fractions, exponents,
/// negatives and text are refused with the reason.
pub fn parse_count(s: &str) -> Result<Option<u64>, String> {
    let text = s.trim();
    if is_no_figure(text) {
        return Ok(None);
    }
    if text.starts_with(['-', '\u{2212}']) {
        return Err(format!(
            "{text:?} is negative, which no count of people can be"
        ));
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if let Some(fraction) = fraction
        && (fraction.is_empty() || !fraction.bytes().all(|b| b == b'0'))
    {
        return Err(format!("{text:?} is not a whole number of people"));
    }
    grouped_digits(text, whole)?
        .parse::<u64>()
        .map(Some)
        .map_err(|_| format!("{text:?} is too large"))
}

/// Reads an amount of money the way [`parse_count`] reads people (same thousands
/// separators, `-` and blank for none), with a decimal point allowed. A decimal comma
/// (`1.234,56`) is refused rather than guessed, since `1,234` is a thousand.
pub fn parse_amount(s: &str) -> Result<Option<f64>, String> {
    let text = s.trim();
    if is_no_figure(text) {
        return Ok(None);
    }
    if text.starts_with(['-', '\u{2212}']) {
        return Err(format!("{text:?} is negative, which no amount can be"));
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || (fraction.is_empty() && text.ends_with('.'))
    {
        return Err(format!("{text:?} is not a number"));
    }
    let digits = grouped_digits(text, whole)?;
    let amount: f64 = format!("{digits}.{fraction}0")
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if amount.is_finite() {
        Ok(Some(amount))
    } else {
        Err(format!("{text:?} is too large"))
    }
}

fn is_no_figure(text: &str) -> bool {
    text.is_empty() || matches!(text, "-" | "\u{2013}" | "\u{2014}")
}

/// The digits of a whole part written with thousands separators (`80 418`, `12,345`,
/// `1'000`); `text` is the whole cell, for the messages.
fn grouped_digits(text: &str, whole: &str) -> Result<String, String> {
    let separator_kind = |c: char| match c {
        ',' => Some(0),
        '\'' | '\u{2019}' => Some(1),
        ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' => Some(2),
        _ => None,
    };
    let not_a_number = || format!("{text:?} is not a number");
    let kinds: HashSet<u8> = whole.chars().filter_map(separator_kind).collect();
    if kinds.len() > 1 {
        return Err(format!("{text:?} mixes thousands separators"));
    }
    let groups: Vec<&str> = whole.split(|c| separator_kind(c).is_some()).collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(not_a_number());
    }
    if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return Err(format!(
            "{text:?} is not a number: thousands separators must set off groups of three digits"
        ));
    }
    Ok(groups.concat())
}

// ---------------------------------------------------------------------------------------
// Records and hashtags
// ---------------------------------------------------------------------------------------

/// One CSV record, cells as written (untrimmed), with its 1-based starting line.
pub(crate) struct Record {
    pub(crate) line: u64,
    pub(crate) cells: Vec<String>,
    /// False when a cell was not valid UTF-8 (it is then read lossily).
    pub(crate) utf8: bool,
}

impl Record {
    pub(crate) fn get(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", |c| c.trim())
    }

    pub(crate) fn get_opt(&self, index: Option<usize>) -> &str {
        index.map_or("", |i| self.get(i))
    }

    pub(crate) fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.trim().is_empty())
    }
}

/// Reads every record, of any length (tables are ragged), stripping a UTF-8 byte order mark.
pub(crate) fn read_records<R: Read>(reader: R) -> Result<Vec<Record>, csv::Error> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut records: Vec<Record> = Vec::new();
    let mut record = csv::ByteRecord::new();
    while csv.read_byte_record(&mut record)? {
        let line = record.position().map_or_else(
            || records.last().map_or(1, |r| r.line + 1),
            csv::Position::line,
        );
        let first = records.is_empty();
        let mut utf8 = true;
        let cells = record
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let field = if first && i == 0 {
                    field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
                } else {
                    field
                };
                match std::str::from_utf8(field) {
                    Ok(s) => s.to_owned(),
                    Err(_) => {
                        utf8 = false;
                        String::from_utf8_lossy(field).into_owned()
                    }
                }
            })
            .collect();
        records.push(Record { line, cells, utf8 });
    }
    Ok(records)
}

/// Header names are matched loosely (case, spaces and punctuation ignored), because these
/// tables pass through spreadsheets that rewrite them.
pub(crate) fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A country by ISO 3166-1 alpha-2 or alpha-3 code.
pub(crate) fn country_of(code: &str) -> Option<&'static Country> {
    let code = code.trim();
    match code.len() {
        2 => reference::country_by_alpha2(code),
        3 => reference::country_by_alpha3(code),
        _ => None,
    }
}

/// A parsed hashtag: lower-case name and attributes.
pub(crate) struct Tag {
    pub(crate) name: String,
    pub(crate) attributes: Vec<String>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn parse_tag(cell: &str) -> Option<Tag> {
    let rest = cell.trim().strip_prefix('#')?;
    let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    let mut parts = compact.split('+');
    let name = parts
        .next()
        .filter(|n| is_identifier(n))?
        .to_ascii_lowercase();
    let attributes = parts
        .map(|a| is_identifier(a).then(|| a.to_ascii_lowercase()))
        .collect::<Option<Vec<_>>>()?;
    Some(Tag { name, attributes })
}

/// A row is the hashtag row when it has a hashtag and every non-empty cell is one.
pub(crate) fn is_tag_row(record: &Record) -> bool {
    let mut any = false;
    for cell in &record.cells {
        if cell.trim().is_empty() {
            continue;
        }
        if parse_tag(cell).is_none() {
            return false;
        }
        any = true;
    }
    any
}

/// The free-text labels above a column, top-down; a blank cell in a row of several labels
/// takes the nearest label to its left (a merged group header).
pub(crate) fn header_labels(headers: &[Record], index: usize) -> Vec<String> {
    headers
        .iter()
        .filter_map(|row| {
            let own = row.get(index);
            if !own.is_empty() {
                return Some(own.to_owned());
            }
            if row.cells.iter().filter(|c| !c.trim().is_empty()).count() < 2 {
                return None;
            }
            (0..index)
                .rev()
                .map(|i| row.get(i))
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect()
}

/// The row index (in `records`) of the hashtag row, searched among the first
/// [`HEADER_SEARCH_ROWS`] rows.
pub(crate) fn find_tag_row(records: &[Record]) -> Option<usize> {
    records.iter().take(HEADER_SEARCH_ROWS).position(is_tag_row)
}

impl Tag {
    pub(crate) fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a == attribute)
    }

    /// The hashtag as HXL writes it canonically: `#name+attribute+attribute`.
    pub(crate) fn canonical(&self) -> String {
        let mut out = format!("#{}", self.name);
        for attribute in &self.attributes {
            out.push('+');
            out.push_str(attribute);
        }
        out
    }
}

/// How each column is named in messages: its hashtag as written, and when the same hashtag
/// heads several columns, the first `meaningful` free-text label above it in brackets
/// (`#inneed (ESNFI)`), else its position (`#inneed (column 5)`).
pub(crate) fn column_labels(
    tag_row: &Record,
    headers: &[Record],
    meaningful: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for cell in &tag_row.cells {
        *counts.entry(header_key(cell)).or_default() += 1;
    }
    tag_row
        .cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let cell = cell.trim();
            if counts.get(&header_key(cell)).copied().unwrap_or(0) < 2 {
                return cell.to_owned();
            }
            let above = header_labels(headers, i)
                .into_iter()
                .find(|l| meaningful(l));
            match above {
                Some(above) => format!("{cell} ({above})"),
                None => format!("{cell} (column {})", i + 1),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

/// How the bytes of a file were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 after a byte order mark, as Excel saves "CSV UTF-8".
    Utf8WithBom,
    /// Not valid UTF-8, so read as Windows-1252, the superset of Latin-1 that Excel on
    /// Windows writes for "CSV" in Western European locales.
    Windows1252,
}

/// Decodes a whole file. Valid UTF-8 is UTF-8 (a byte order mark is dropped); anything else
/// is Windows-1252, which maps every byte to a character, so decoding never fails. A
/// Latin-1 file is all but always valid Windows-1252 and never valid UTF-8 once it holds an
/// accented letter, so the test is safe for the Spanish, French and Portuguese tables this
/// reads; a file in another legacy code page would come out with wrong letters, not lost
/// rows.
pub fn decode_text(bytes: Vec<u8>) -> (String, TextEncoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF")
        && let Ok(text) = std::str::from_utf8(rest)
    {
        return (text.to_owned(), TextEncoding::Utf8WithBom);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, TextEncoding::Utf8),
        Err(error) => {
            let text = error.as_bytes().iter().map(|&b| windows_1252(b)).collect();
            (text, TextEncoding::Windows1252)
        }
    }
}

/// The WHATWG index of Windows-1252: Latin-1 except 0x80..=0x9F, where Windows put
/// typographic characters (the five bytes it leaves undefined map to the C1 controls).
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// The line on which a quoted cell opens and never closes, if one does. The CSV reader
/// would take the rest of the file as that one cell without complaint, silently swallowing
/// every row after it, so the whole file is refused instead. Follows the reader's own rules:
/// a quote opens a quoted cell only at the start of a cell, and `""` inside one is a quote.
pub(crate) fn unterminated_quote(text: &str) -> Option<u64> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        CellStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::CellStart;
    let mut line: u64 = 1;
    let mut opened: u64 = 1;
    for b in text.bytes() {
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::CellStart, b'"') => {
                opened = line;
                State::Quoted
            }
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b',' | b'\n' | b'\r') => State::CellStart,
            _ => State::Unquoted,
        };
        if b == b'\n' {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

// ---------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------

/// Reads a date as the field writes it: ISO `2021-07-01`, with a time as spreadsheets export
/// it (`2021-07-01 00:00:00`, `2021-07-01T00:00:00Z`), or day first with a four-digit year
/// (`01/07/2021`, `1/7/2021`, `01-07-2021`, `01.07.2021`), as the Latin American, African and
/// European tables do. Month-first dates are not guessed: `07/25/2021` is refused. Blank and
/// `-` give `None`.
pub fn parse_date(s: &str) -> Result<Option<NaiveDate>, String> {
    let text = s.trim();
    if is_no_figure(text) {
        return Ok(None);
    }
    let refuse = || format!("{text:?} is not a date written DD/MM/YYYY (day first) or YYYY-MM-DD");
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    if let Some(time) = time {
        let time = time.strip_suffix('Z').unwrap_or(time);
        let valid = ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
            .iter()
            .any(|f| NaiveTime::parse_from_str(time, f).is_ok());
        if !valid {
            return Err(refuse());
        }
    }
    let parts: Vec<&str> = date.split(['/', '-', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(refuse());
    };
    let number = |s: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let iso = date.contains('-') && a.len() == 4;
    let (year, month, day) = if iso {
        (number(a, 4..=4), number(b, 2..=2), number(c, 2..=2))
    } else {
        (number(c, 4..=4), number(b, 1..=2), number(a, 1..=2))
    };
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(refuse());
    };
    let year = i32::try_from(year).map_err(|_| refuse())?;
    NaiveDate::from_ymd_opt(year, month, day)
        .map(Some)
        .ok_or_else(|| format!("{text:?} is not a date that exists"))
}

// ---------------------------------------------------------------------------------------
// Sectors from English labels
// ---------------------------------------------------------------------------------------

/// The sector of a figure: `None` is intersectoral, else a code `NewNeed::parse` accepts.
pub(crate) type SectorCode = Option<&'static str>;

/// Words that say what is counted, not for which sector.
pub(crate) const GENERIC_WORDS: &[&str] = &[
    "affected",
    "people",
    "in",
    "need",
    "needs",
    "pin",
    "population",
    "persons",
    "individuals",
    "figure",
    "figures",
    "number",
    "of",
    "and",
    "the",
    "for",
    "target",
    "targeted",
    "reached",
    "caseload",
];

/// Header labels (lower case, generic words left out) to sector codes. Agriculture is DAC
/// `311`, crosswalked to the Food Security cluster (the needs module says why).
pub(crate) const SECTOR_LABELS: &[(&str, &str)] = &[
    ("health", "HEA"),
    ("nutrition", "NUT"),
    ("food", "FSC"),
    ("food security", "FSC"),
    ("food security livelihoods", "FSC"),
    ("food security livelihood", "FSC"),
    ("food security agriculture", "FSC"),
    ("fsl", "FSC"),
    ("fsac", "FSC"),
    ("livelihoods", "FSC"),
    ("agriculture", "311"),
    ("esnfi", "SHL"),
    ("es nfi", "SHL"),
    ("shelter", "SHL"),
    ("shelter nfi", "SHL"),
    ("snfi", "SHL"),
    ("s nfi", "SHL"),
    ("nfi", "SHL"),
    ("emergency shelter", "SHL"),
    ("emergency shelter nfi", "SHL"),
    ("shelter non food items", "SHL"),
    ("emergency shelter non food items", "SHL"),
    ("education", "EDU"),
    ("protection", "PRO"),
    ("general protection", "PRO"),
    ("child protection", "PRO-CPN"),
    ("protection child", "PRO-CPN"),
    ("protection cp", "PRO-CPN"),
    ("cp", "PRO-CPN"),
    ("gbv", "PRO-GBV"),
    ("sgbv", "PRO-GBV"),
    ("protection gbv", "PRO-GBV"),
    ("gender based violence", "PRO-GBV"),
    ("hlp", "PRO-HLP"),
    ("protection hlp", "PRO-HLP"),
    ("housing land property", "PRO-HLP"),
    ("mine action", "PRO-MIN"),
    ("protection mine action", "PRO-MIN"),
    ("wash", "WSH"),
    ("water sanitation hygiene", "WSH"),
    ("cccm", "CCM"),
    ("camp coordination camp management", "CCM"),
    ("logistics", "LOG"),
    ("early recovery", "ERY"),
    ("emergency telecommunications", "TEL"),
];

pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// What a free-text label says about the sector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelSector {
    /// Says nothing about it ("Affected", blank).
    Generic,
    Sector(SectorCode),
    /// Names something that is not a sector Concord knows.
    Unknown,
}

/// What an English label (a header, or a 3W sector cell) says about the sector.
pub(crate) fn sector_from_label(label: &str) -> LabelSector {
    let trimmed = label.trim();
    if trimmed.eq_ignore_ascii_case("all") {
        return LabelSector::Sector(None);
    }
    // An HPC code as such ("WSH", "PRO-GBV"); cluster ids are digits, which headers are not.
    if !trimmed.is_empty()
        && !trimmed.contains(char::is_whitespace)
        && !trimmed.bytes().all(|b| b.is_ascii_digit())
        && let Some(sector) = reference::sector(SectorVocabulary::Cluster, trimmed)
    {
        return LabelSector::Sector(sector.hpc_code.as_deref());
    }
    let meaningful: Vec<String> = words(trimmed)
        .into_iter()
        .filter(|w| !GENERIC_WORDS.contains(&w.as_str()))
        .collect();
    let Some(first) = meaningful.first() else {
        return LabelSector::Generic;
    };
    let joined = meaningful.join(" ");
    if matches!(
        first.as_str(),
        "overall" | "total" | "intersectoral" | "intersector"
    ) || joined == "inter sectoral"
        || joined == "all sectors"
    {
        return LabelSector::Sector(None);
    }
    if let Some((_, code)) = SECTOR_LABELS.iter().find(|(l, _)| *l == joined) {
        return LabelSector::Sector(Some(code));
    }
    // The clusters' own names ("Camp Coordination / Management", "Water Sanitation Hygiene").
    for sector in reference::sectors_of(SectorVocabulary::Cluster) {
        let name: Vec<String> = words(&sector.name)
            .into_iter()
            .filter(|w| !GENERIC_WORDS.contains(&w.as_str()))
            .collect();
        if name == meaningful {
            return LabelSector::Sector(sector.hpc_code.as_deref());
        }
    }
    LabelSector::Unknown
}
