//! Reader and writer of IATI activity files (`<iati-activities>`, standard versions 2.01 to
//! 2.03), streaming: the reader holds one activity at a time, so a 1 GB d-portal or registry
//! dump is read in the memory of its largest activity (plus the set of identifiers already
//! seen, for the duplicate rule). The writer produces IATI 2.03 that validates against
//! `iati-activities-schema.xsd`.
//!
//! # What is kept
//!
//! Only what Concord uses, as [`IatiActivity`]: identifier, `last-updated-datetime`,
//! `xml:lang`, `default-currency`, the `humanitarian` flag, reporting-org,
//! participating-orgs, title and descriptions (narratives with their language), activity
//! status, the four activity dates, recipient countries, `location/administrative` codes,
//! sectors in vocabularies 1, 2 and 10, humanitarian scopes, related activities, and two
//! summaries: budgets (total per currency, with the span of their periods) and transactions
//! (count and total per currency for each transaction type, and the set of
//! `provider-org/@provider-activity-id`s). Everything else (results, document links,
//! policy markers, contacts, ...) is passed over unread. Narrative text and attribute values
//! are trimmed; codes Concord looks up are stored in their canonical form (`af` becomes
//! `AF`, the cluster `WSH` under vocabulary 10 becomes `11`).
//!
//! # Document errors
//!
//! A [`DocumentError`] (with its line and byte position) ends the reading: the input is not
//! well-formed XML (garbage, a truncated file, a mismatched tag, an undefined entity, bytes
//! that are not UTF-8), the root is not `<iati-activities>`, or its `version` is missing or
//! names another version of the standard (`1.05`, `2.1`). A `version` that is no version
//! number at all (the IATI schema's own test documents say `xx`) is read: the schema types
//! the attribute as a free string, and [`IatiReader::version`] tells the caller what it
//! said. Activities read before a document error have already been yielded: a file broken in
//! its middle gives its first activities and then the error.
//!
//! # Rejections and warnings
//!
//! Each activity is either accepted, with warnings for what was left out on the way, or
//! rejected with the problems that made it unusable, every one a [`ReportEntry`] naming the
//! element and saying why. The rules follow from one principle: **what Concord keeps must be
//! valid IATI 2.03, and must be something Concord can store; what Concord does not keep is
//! not checked.** Checking the unread parts would make this reader a schema validator, and
//! refusing an activity for a bad document link would lose a valid "who does what where".
//!
//! The activity is rejected when:
//!
//! - an element the schema requires and Concord keeps is missing or repeated:
//!   `iati-identifier` (also when empty), `reporting-org`, `title`, `description`,
//!   `participating-org`, `activity-status`, `activity-date`;
//! - a kept element lacks an attribute the schema requires or has a value of the wrong type:
//!   `reporting-org/@ref` and `@type` (and at least one narrative), `participating-org/@role`,
//!   `activity-date/@type` and `@iso-date` (an `xs:date`), `sector/@code`,
//!   `recipient-country/@code`, `location/administrative/@vocabulary` and `@code` (and
//!   `@level`, a non-negative integer), `humanitarian-scope/@type`, `@vocabulary` and
//!   `@code`, `related-activity/@ref` and `@type`, a budget's `period-start`, `period-end`
//!   and `value`, a transaction's `transaction-type/@code` and `value`, percentages and
//!   values (`xs:decimal`), `last-updated-datetime` (`xs:dateTime`) and `humanitarian`
//!   (`xs:boolean`), a title or description without a narrative;
//! - Concord cannot store it: the reporting-org's `ref` is not an IATI organisation
//!   identifier or its `type` not an IATI OrganisationType, the activity status is not an
//!   IATI ActivityStatus, there is no start date (planned or actual) or an end date is before
//!   its start, no participating-org has an IATI OrganisationRole, there is no sector in
//!   vocabulary 1, 2 or 10 with a code Concord knows, or there is no place (a recipient
//!   country Concord knows, or an administrative code);
//! - its identifier was already used earlier in the file (the first one stands).
//!
//! Accepted with a warning (the item is left out, the activity kept): a sector in another
//! vocabulary or with an unknown code, a sector percentage outside 0 to 100 (the percentage
//! is dropped), an unknown country code, a participating-org whose role is not 1 to 4, an
//! unknown participating-org type (the type is dropped), an activity-date type other than 1
//! to 4 or a second date of the same type, an unknown `default-currency`, a budget or
//! transaction value with no currency Concord knows (the budget is dropped; the transaction
//! is counted but not totalled), a transaction type that is not an IATI TransactionType.
//!
//! In the covid d-portal sample (401 activities, 18 publishers) `xmllint` finds 119
//! schema-invalid activities: 87 only for `budget-item/@vocabulary` and 8 only for an
//! `other-identifier` without `ref` (neither is read, so neither is checked here), 2 for an
//! `activity-date` without `iso-date`, 1 for a `sector` without `code`, and 21 for
//! transactions written `<transaction-type>1</transaction-type>` with the value in
//! `transaction-date/@iso-date`. The last three groups break what Concord keeps and are
//! rejected. In all, 293 activities are accepted (51 of them schema-invalid only in parts
//! not read) and 108 rejected: those 24, 78 with no place (75 give only a
//! `recipient-region`), 3 with no usable sector and 3 whose planned end precedes their
//! planned start.
//!
//! **Budgets.** A revised budget (`type="2"`) replaces the original budget of the same period,
//! as the IATI guidance intends; summing both would count the money twice.
//!
//! # Writing
//!
//! [`write_activities`] follows the element order of the 2.03 schema. A budget summary is
//! written as one `<budget>` per currency spanning all the periods read. A transaction
//! summary is not a transaction, so it is not disguised as one: it travels in a
//! `<concord:transactions>` element in [`CONCORD_NAMESPACE`], where the schema allows
//! elements of other namespaces, and other IATI tools pass it over. Reading the written file
//! gives back the same [`IatiActivity`] values.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, BufRead, Write};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use concord_domain::organisation::IatiOrgIdentifier;
use concord_domain::reference::{self, SectorVocabulary};
use concord_domain::values::{ActivityStatus, OrganisationRole};
use quick_xml::events::{BytesDecl, BytesEnd, BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Writer, XmlVersion};
use serde::{Deserialize, Serialize};

/// The namespace of Concord's own elements in written files (the transaction summaries).
/// A URN, because it names the format and is not meant to be fetched.
pub const CONCORD_NAMESPACE: &str = "urn:x-concord:iati:1";

/// The prefix the writer binds to [`CONCORD_NAMESPACE`]. The reader goes by the namespace,
/// whatever the prefix.
const CONCORD_PREFIX: &str = "concord";

/// The version the writer declares.
const WRITTEN_VERSION: &str = "2.03";

/// IATI TransactionType runs from 1 (incoming funds) to 13 (incoming pledge).
const TRANSACTION_TYPES: std::ops::RangeInclusive<u8> = 1..=13;

/// The children of `<iati-activity>` the reader reads; every other one is skipped unread.
const KEPT: [&str; 14] = [
    "iati-identifier",
    "reporting-org",
    "title",
    "description",
    "participating-org",
    "activity-status",
    "activity-date",
    "recipient-country",
    "location",
    "sector",
    "humanitarian-scope",
    "budget",
    "transaction",
    "related-activity",
];

// ---------------------------------------------------------------------------------------
// What an activity holds
// ---------------------------------------------------------------------------------------

/// A `<narrative>`: the same text may be given in several languages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Narrative {
    /// `xml:lang`; `None` means the activity's default language.
    pub lang: Option<String>,
    pub text: String,
}

/// `<reporting-org>`: the publisher, who answers for the activity's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportingOrg {
    pub r#ref: IatiOrgIdentifier,
    /// IATI OrganisationType code.
    pub r#type: String,
    pub narratives: Vec<Narrative>,
}

/// `<participating-org>`: a funder, extending, accountable or implementing organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParticipatingOrg {
    /// Kept as published: participating orgs are often named by a CRS code or not at all,
    /// and Concord matches them by name when there is no identifier.
    pub r#ref: Option<String>,
    pub role: OrganisationRole,
    /// IATI OrganisationType code, when it is one.
    pub r#type: Option<String>,
    /// The organisation's own identifier of the same activity, which links funding chains.
    pub activity_id: Option<String>,
    pub narratives: Vec<Narrative>,
}

/// `<description>` with its IATI DescriptionType (`1` general, `2` objectives, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Description {
    pub r#type: Option<String>,
    pub narratives: Vec<Narrative>,
}

/// The four `<activity-date>` types.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityDates {
    /// Type 1.
    pub planned_start: Option<NaiveDate>,
    /// Type 2.
    pub actual_start: Option<NaiveDate>,
    /// Type 3.
    pub planned_end: Option<NaiveDate>,
    /// Type 4.
    pub actual_end: Option<NaiveDate>,
}

/// `<recipient-country>`: ISO 3166-1 alpha-2, as Concord stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipientCountry {
    pub code: String,
    pub percentage: Option<f64>,
}

/// `<location><administrative>`: an administrative area in a geographic vocabulary (`G1`
/// GAUL, `A4` ISO country, ...). Concord maps these to its P-codes; this reader does not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Administrative {
    pub vocabulary: String,
    pub level: Option<u32>,
    pub code: String,
    /// The name of the `<location>` it sits in (its first non-empty narrative): the site
    /// within the area, such as a town or a health centre.
    #[serde(default)]
    pub place: Option<String>,
}

/// `<sector>` in one of the three vocabularies Concord keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sector {
    pub vocabulary: SectorVocabulary,
    /// The canonical code (DAC digits, or the numeric cluster id).
    pub code: String,
    pub percentage: Option<f64>,
}

/// `<humanitarian-scope>`: the emergency or appeal the activity answers (a GLIDE number, an
/// HRP code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HumanitarianScope {
    pub r#type: String,
    pub vocabulary: String,
    pub code: String,
    pub narratives: Vec<Narrative>,
}

/// `<related-activity>`: a parent, child, sibling, co-funded or third-party activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelatedActivity {
    pub r#ref: String,
    pub r#type: String,
}

/// The activity's budgets, summed per currency (never converted), over the span of their
/// periods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetSummary {
    /// Currency (ISO 4217) to total.
    pub value: BTreeMap<String, f64>,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

/// The transactions of one IATI TransactionType.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionTotals {
    /// How many transactions were published, including those without a usable currency.
    pub count: u64,
    /// Currency (ISO 4217) to total.
    pub value: BTreeMap<String, f64>,
}

/// The activity's transactions, summarised: Concord shows money flows per activity, not
/// the ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// IATI TransactionType code (1 to 13) to its totals.
    pub by_type: BTreeMap<u8, TransactionTotals>,
    /// Every `provider-org/@provider-activity-id`: the activities the money came from.
    pub provider_activity_ids: BTreeSet<String>,
}

impl TransactionSummary {
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty() && self.provider_activity_ids.is_empty()
    }
}

/// One `<iati-activity>`, as much of it as Concord keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IatiActivity {
    pub iati_identifier: String,
    pub last_updated_datetime: Option<DateTime<FixedOffset>>,
    /// `xml:lang`: the default language of the narratives.
    pub lang: Option<String>,
    pub default_currency: Option<String>,
    pub humanitarian: Option<bool>,
    pub reporting_org: ReportingOrg,
    pub title: Vec<Narrative>,
    pub descriptions: Vec<Description>,
    pub participating_orgs: Vec<ParticipatingOrg>,
    pub activity_status: ActivityStatus,
    pub activity_dates: ActivityDates,
    pub recipient_countries: Vec<RecipientCountry>,
    pub location_administrative: Vec<Administrative>,
    pub sectors: Vec<Sector>,
    pub humanitarian_scopes: Vec<HumanitarianScope>,
    pub budget: Option<BudgetSummary>,
    pub transactions: TransactionSummary,
    pub related_activities: Vec<RelatedActivity>,
}

// ---------------------------------------------------------------------------------------
// What the reader says about an activity
// ---------------------------------------------------------------------------------------

/// One line of a validation report: why an activity was rejected, or what was left out of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportEntry {
    /// The activity's `iati-identifier`, when it has a usable one.
    pub identifier: Option<String>,
    /// 1-based line of the element concerned, or of `<iati-activity>` when something is
    /// missing.
    pub line: u64,
    /// Where, in the file's words: `iati-identifier`, `reporting-org/@ref`, `sector`.
    pub element: String,
    /// A sentence for the publisher.
    pub reason: String,
}

impl std::fmt::Display for ReportEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let identifier = self.identifier.as_deref().unwrap_or("(no identifier)");
        write!(
            f,
            "line {}, {identifier}, {}: {}",
            self.line, self.element, self.reason
        )
    }
}

/// An activity Concord can import.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AcceptedActivity {
    pub activity: IatiActivity,
    /// 1-based line of `<iati-activity>`.
    pub line: u64,
    /// What was left out, each with its reason.
    pub warnings: Vec<ReportEntry>,
}

/// An activity Concord cannot import.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectedActivity {
    pub identifier: Option<String>,
    /// `reporting-org/@ref` as published, even when unusable: whom to tell.
    pub reporting_org: Option<String>,
    /// 1-based line of `<iati-activity>`.
    pub line: u64,
    /// Never empty, in document order, the rules on the whole activity last: all of them, so
    /// a publisher can fix everything at once.
    pub problems: Vec<ReportEntry>,
    pub warnings: Vec<ReportEntry>,
}

impl RejectedActivity {
    /// The first problem: the rejection as one report line.
    pub fn reason(&self) -> Option<&ReportEntry> {
        self.problems.first()
    }
}

/// The reader's verdict on one `<iati-activity>`. The accepted activity is boxed: it is
/// several times the size of a rejection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ActivityVerdict {
    Accepted(Box<AcceptedActivity>),
    Rejected(RejectedActivity),
}

// ---------------------------------------------------------------------------------------
// Document errors
// ---------------------------------------------------------------------------------------

/// Why a document cannot be read further.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocumentErrorKind {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("the input holds no XML element")]
    NoRoot,
    #[error("the root element is <{0}>, not <iati-activities>")]
    WrongRoot(String),
    #[error("<iati-activities> has no version attribute")]
    MissingVersion,
    #[error("IATI version {0} is not read: Concord reads versions 2.01 to 2.03")]
    UnsupportedVersion(String),
    #[error("the document ends inside <{0}>")]
    Truncated(String),
    #[error("cannot read the input: {0}")]
    Io(String),
}

/// A problem with the whole document, where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, byte {position}: {kind}")]
pub struct DocumentError {
    /// 1-based line where the faulty markup starts.
    pub line: u64,
    /// 0-based byte offset in the input.
    pub position: u64,
    pub kind: DocumentErrorKind,
}

// ---------------------------------------------------------------------------------------
// Reading XML events
// ---------------------------------------------------------------------------------------

/// Which vocabulary an element belongs to. IATI elements are in no namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Space {
    Iati,
    Concord,
    Other,
}

/// A start tag, owned, so that reading on does not fight over the event buffer.
#[derive(Debug)]
struct Tag {
    name: String,
    space: Space,
    empty: bool,
    line: u64,
    position: u64,
    /// Unprefixed attributes and `xml:lang`, values normalised and trimmed; empty unless
    /// asked for.
    attributes: Vec<(String, String)>,
}

/// One XML event, reduced to what the reader acts on.
enum Step {
    Start(Tag),
    End,
    Text(String),
    Eof,
    Other,
}

/// A kept element with its kept descendants: small (a transaction, a sector), built and
/// dropped one at a time.
#[derive(Debug)]
struct Node {
    name: String,
    line: u64,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn new(tag: Tag) -> Self {
        Self {
            name: tag.name,
            line: tag.line,
            attributes: tag.attributes,
            text: String::new(),
            children: Vec::new(),
        }
    }

    /// An attribute's value; an empty value counts as absent, since every attribute read
    /// here is a code, a date or a number.
    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|child| child.name == name)
    }

    fn narratives(&self) -> Vec<Narrative> {
        self.children
            .iter()
            .filter(|child| child.name == "narrative")
            .map(|child| Narrative {
                lang: child.attr("xml:lang").map(str::to_owned),
                text: child.text.trim().to_owned(),
            })
            .collect()
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn malformed(error: impl std::fmt::Display) -> DocumentErrorKind {
    DocumentErrorKind::Malformed(error.to_string())
}

fn xml_error_kind(error: quick_xml::Error) -> DocumentErrorKind {
    match error {
        quick_xml::Error::Io(error) => DocumentErrorKind::Io(error.to_string()),
        other => malformed(other),
    }
}

fn space_of(resolved: &ResolveResult) -> Space {
    match resolved {
        ResolveResult::Unbound => Space::Iati,
        ResolveResult::Bound(namespace) if namespace.into_inner() == CONCORD_NAMESPACE => {
            Space::Concord
        }
        _ => Space::Other,
    }
}

fn read_attributes(start: &BytesStart) -> Result<Vec<(String, String)>, DocumentErrorKind> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(malformed)?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        // Attributes of other namespaces (d-portal's `dstore:dataset`) are not IATI's.
        if key.prefix().is_some_and(|prefix| !prefix.is_xml()) {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(malformed)?;
        attributes.push((key.into_inner().to_owned(), value.trim().to_owned()));
    }
    Ok(attributes)
}

/// `&amp;` and friends, and character references. A document without a DTD defines no other
/// entity, so any other is a well-formedness error.
fn resolve_reference(reference: &BytesRef) -> Result<String, DocumentErrorKind> {
    if let Some(character) = reference.resolve_char_ref().map_err(malformed)? {
        return Ok(character.to_string());
    }
    let text = match &**reference {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        other => {
            return Err(DocumentErrorKind::Malformed(format!(
                "undefined entity &{other};"
            )));
        }
    };
    Ok(text.to_owned())
}

fn step_of(
    resolved: &ResolveResult,
    event: Event,
    detail: bool,
    line: u64,
    position: u64,
) -> Result<Step, DocumentErrorKind> {
    let tag = |start: &BytesStart, empty: bool| -> Result<Tag, DocumentErrorKind> {
        let space = space_of(resolved);
        let attributes = if detail && space != Space::Other {
            read_attributes(start)?
        } else {
            Vec::new()
        };
        Ok(Tag {
            name: start.local_name().into_inner().to_owned(),
            space,
            empty,
            line,
            position,
            attributes,
        })
    };
    Ok(match event {
        Event::Start(start) => Step::Start(tag(&start, false)?),
        Event::Empty(start) => Step::Start(tag(&start, true)?),
        Event::End(_) => Step::End,
        Event::Text(text) if detail => Step::Text(text.xml10_content().into_owned()),
        Event::CData(text) if detail => Step::Text(text.xml10_content().into_owned()),
        Event::GeneralRef(reference) => {
            let text = resolve_reference(&reference)?;
            if detail {
                Step::Text(text)
            } else {
                Step::Other
            }
        }
        Event::Eof => Step::Eof,
        _ => Step::Other,
    })
}

// ---------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------

/// Reads an `<iati-activities>` document one activity at a time.
///
/// ```no_run
/// # use std::{fs::File, io::BufReader};
/// # use concord_interop::iati::{ActivityVerdict, IatiReader};
/// let file = BufReader::new(File::open("activities.xml")?);
/// for verdict in IatiReader::new(file)? {
///     match verdict? {
///         ActivityVerdict::Accepted(accepted) => println!("{}", accepted.activity.iati_identifier),
///         ActivityVerdict::Rejected(rejected) => println!("{:?}", rejected.reason()),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IatiReader<R: BufRead> {
    xml: NsReader<R>,
    buf: Vec<u8>,
    /// 1-based line of the next byte to read.
    line: u64,
    version: String,
    /// Every identifier met so far: the one thing that grows with the file, at a few dozen
    /// bytes per activity.
    identifiers: HashSet<String>,
    finished: bool,
}

impl<R: BufRead> IatiReader<R> {
    /// Reads up to the root element and checks it, so that a file which is not IATI fails
    /// here, before any activity.
    pub fn new(input: R) -> Result<Self, DocumentError> {
        let mut reader = Self {
            xml: NsReader::from_reader(input),
            buf: Vec::new(),
            line: 1,
            version: String::new(),
            identifiers: HashSet::new(),
            finished: false,
        };
        loop {
            match reader.next_step(true)? {
                Step::Start(tag) => {
                    reader.open_root(tag)?;
                    return Ok(reader);
                }
                Step::Text(text) if !text.trim().is_empty() => {
                    return Err(reader.error(malformed("text before the root element")));
                }
                Step::Eof => return Err(reader.error(DocumentErrorKind::NoRoot)),
                Step::End | Step::Text(_) | Step::Other => {}
            }
        }
    }

    /// The `version` attribute of `<iati-activities>`, as the file gives it.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn open_root(&mut self, tag: Tag) -> Result<(), DocumentError> {
        let at = |kind| DocumentError {
            line: tag.line,
            position: tag.position,
            kind,
        };
        if tag.space != Space::Iati || tag.name != "iati-activities" {
            return Err(at(DocumentErrorKind::WrongRoot(tag.name.clone())));
        }
        let version = tag
            .attributes
            .iter()
            .find(|(key, _)| key == "version")
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| at(DocumentErrorKind::MissingVersion))?;
        if is_version_number(&version) && !is_read_version(&version) {
            return Err(at(DocumentErrorKind::UnsupportedVersion(version)));
        }
        self.version = version;
        self.finished = tag.empty;
        Ok(())
    }

    fn error(&self, kind: DocumentErrorKind) -> DocumentError {
        DocumentError {
            line: self.line,
            position: self.xml.buffer_position(),
            kind,
        }
    }

    /// Reads one event. `detail` asks for attributes and text; skipping goes without.
    fn next_step(&mut self, detail: bool) -> Result<Step, DocumentError> {
        let line = self.line;
        let position = self.xml.buffer_position();
        self.buf.clear();
        let step = match self.xml.read_resolved_event_into(&mut self.buf) {
            Ok((resolved, event)) => step_of(&resolved, event, detail, line, position),
            Err(error) => {
                return Err(DocumentError {
                    line,
                    position: self.xml.error_position(),
                    kind: xml_error_kind(error),
                });
            }
        };
        // Every byte read, bar the markup delimiters, lands in the buffer, so counting its
        // newlines keeps the line number without a second pass over the input.
        self.line += newlines(&self.buf);
        step.map_err(|kind| DocumentError {
            line,
            position,
            kind,
        })
    }

    /// Passes over an element and everything in it.
    fn skip(&mut self, tag: &Tag) -> Result<(), DocumentError> {
        if tag.empty {
            return Ok(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            match self.next_step(false)? {
                Step::Start(inner) if !inner.empty => depth += 1,
                Step::End => depth -= 1,
                Step::Eof => return Err(self.error(DocumentErrorKind::Truncated(tag.name.clone()))),
                Step::Start(_) | Step::Text(_) | Step::Other => {}
            }
        }
        Ok(())
    }

    /// Reads an element into a [`Node`], keeping the descendants of its own namespace.
    /// Iterative, so that a hostile nesting depth costs memory, not the stack.
    fn read_node(&mut self, tag: Tag) -> Result<Node, DocumentError> {
        if tag.empty {
            return Ok(Node::new(tag));
        }
        let space = tag.space;
        let root_name = tag.name.clone();
        let mut stack = vec![Node::new(tag)];
        loop {
            match self.next_step(true)? {
                Step::Start(inner) if inner.space == space => {
                    if inner.empty {
                        if let Some(parent) = stack.last_mut() {
                            parent.children.push(Node::new(inner));
                        }
                    } else {
                        stack.push(Node::new(inner));
                    }
                }
                Step::Start(inner) => self.skip(&inner)?,
                Step::Text(text) => {
                    if let Some(node) = stack.last_mut() {
                        node.text.push_str(&text);
                    }
                }
                Step::End => {
                    let Some(done) = stack.pop() else {
                        return Err(self.error(malformed("unbalanced end tag")));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Step::Eof => return Err(self.error(DocumentErrorKind::Truncated(root_name))),
                Step::Other => {}
            }
        }
    }

    fn read_activity(&mut self, tag: Tag) -> Result<ActivityVerdict, DocumentError> {
        let mut builder = ActivityBuilder::new(&tag);
        if !tag.empty {
            loop {
                match self.next_step(true)? {
                    Step::Start(child)
                        if child.space == Space::Iati && KEPT.contains(&child.name.as_str()) =>
                    {
                        let node = self.read_node(child)?;
                        builder.take(&node);
                    }
                    Step::Start(child)
                        if child.space == Space::Concord && child.name == "transactions" =>
                    {
                        let node = self.read_node(child)?;
                        builder.take_concord_transactions(&node);
                    }
                    Step::Start(child) => {
                        builder.note_skipped(&child);
                        self.skip(&child)?;
                    }
                    Step::End => break,
                    Step::Eof => {
                        return Err(self.error(DocumentErrorKind::Truncated(tag.name.clone())));
                    }
                    Step::Text(_) | Step::Other => {}
                }
            }
        }
        Ok(builder.finish(&mut self.identifiers))
    }

    fn next_activity(&mut self) -> Result<Option<ActivityVerdict>, DocumentError> {
        loop {
            match self.next_step(true)? {
                Step::Start(tag) if tag.space == Space::Iati && tag.name == "iati-activity" => {
                    return self.read_activity(tag).map(Some);
                }
                Step::Start(tag) => self.skip(&tag)?,
                Step::End => {
                    self.expect_end()?;
                    return Ok(None);
                }
                Step::Eof => {
                    return Err(self.error(DocumentErrorKind::Truncated("iati-activities".into())));
                }
                Step::Text(_) | Step::Other => {}
            }
        }
    }

    /// After the root: comments and whitespace only.
    fn expect_end(&mut self) -> Result<(), DocumentError> {
        loop {
            match self.next_step(true)? {
                Step::Eof => return Ok(()),
                Step::Start(tag) => {
                    return Err(DocumentError {
                        line: tag.line,
                        position: tag.position,
                        kind: malformed(format!("<{}> after the root element", tag.name)),
                    });
                }
                Step::Text(text) if !text.trim().is_empty() => {
                    return Err(self.error(malformed("text after the root element")));
                }
                Step::End | Step::Text(_) | Step::Other => {}
            }
        }
    }
}

impl<R: BufRead> Iterator for IatiReader<R> {
    type Item = Result<ActivityVerdict, DocumentError>;

    /// After a document error, the iterator ends: nothing after it can be trusted.
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_activity() {
            Ok(Some(verdict)) => Some(Ok(verdict)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
        }
    }
}

/// `2.03`, `1.05`, `2.1`: digits, one dot, digits.
fn is_version_number(version: &str) -> bool {
    version.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

/// 2.01 to 2.03: the activity elements Concord reads are the same in all three.
fn is_read_version(version: &str) -> bool {
    matches!(version, "2.01" | "2.02" | "2.03")
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// `xs:decimal`: an optional sign, digits, an optional fraction; no exponent, no grouping.
fn parse_decimal(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// `xs:date`: `YYYY-MM-DD`, optionally with a time zone, which says nothing about the day.
fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let day = text.get(..10)?;
    let zone = text.get(10..)?;
    let shaped = day.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    if !shaped || !(zone.is_empty() || zone == "Z" || is_offset(zone)) {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// `+hh:mm` or `-hh:mm`.
fn is_offset(zone: &str) -> bool {
    zone.len() == 6
        && zone.bytes().enumerate().all(|(i, b)| match i {
            0 => b == b'+' || b == b'-',
            3 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// `xs:dateTime`. Publishers often leave out the time zone (d-portal does); such a time is
/// read as UTC, the only reading that does not invent an offset.
fn parse_datetime(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|naive| naive.and_utc().fixed_offset())
    })
}

/// `xs:boolean`.
fn parse_boolean(text: &str) -> Option<bool> {
    match text {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn is_organisation_type(code: &str) -> bool {
    reference::organisation_types()
        .iter()
        .any(|known| known.code == code)
}

// ---------------------------------------------------------------------------------------
// Building one activity
// ---------------------------------------------------------------------------------------

/// A problem or warning before the identifier is known (it may come late in the activity).
struct Note {
    line: u64,
    element: String,
    reason: String,
}

/// A budget or transaction `<value>`, as far as Concord can use it.
enum Amount {
    InCurrency(String, f64),
    /// Readable, but in no currency Concord knows: it cannot be added to anything.
    NoCurrency,
    /// Missing or not a number: the schema is broken where Concord reads.
    Unreadable,
}

/// One budget as published, until the activity ends and revisions can replace originals.
struct BudgetLine {
    start: NaiveDate,
    end: NaiveDate,
    revised: bool,
    currency: String,
    value: f64,
}

/// How often the schema's counted elements appeared, and facts that explain a rejection.
#[derive(Default)]
struct Seen {
    iati_identifier: u32,
    reporting_org: u32,
    title: u32,
    description: u32,
    participating_org: u32,
    activity_status: u32,
    activity_date: u32,
    sector: u32,
    recipient_country: u32,
    recipient_region: bool,
    location: bool,
    transaction_sector: bool,
}

struct ActivityBuilder {
    line: u64,
    identifier: Option<String>,
    /// As published, for the report on a rejected activity.
    reporting_org_ref: Option<String>,
    last_updated_datetime: Option<DateTime<FixedOffset>>,
    lang: Option<String>,
    default_currency: Option<String>,
    humanitarian: Option<bool>,
    reporting_org: Option<ReportingOrg>,
    title: Option<Vec<Narrative>>,
    descriptions: Vec<Description>,
    participating_orgs: Vec<ParticipatingOrg>,
    activity_status: Option<ActivityStatus>,
    activity_dates: ActivityDates,
    recipient_countries: Vec<RecipientCountry>,
    location_administrative: Vec<Administrative>,
    sectors: Vec<Sector>,
    humanitarian_scopes: Vec<HumanitarianScope>,
    budgets: Vec<BudgetLine>,
    transactions: TransactionSummary,
    related_activities: Vec<RelatedActivity>,
    seen: Seen,
    problems: Vec<Note>,
    warnings: Vec<Note>,
}

impl ActivityBuilder {
    fn new(tag: &Tag) -> Self {
        let mut builder = Self {
            line: tag.line,
            identifier: None,
            reporting_org_ref: None,
            last_updated_datetime: None,
            lang: None,
            default_currency: None,
            humanitarian: None,
            reporting_org: None,
            title: None,
            descriptions: Vec::new(),
            participating_orgs: Vec::new(),
            activity_status: None,
            activity_dates: ActivityDates::default(),
            recipient_countries: Vec::new(),
            location_administrative: Vec::new(),
            sectors: Vec::new(),
            humanitarian_scopes: Vec::new(),
            budgets: Vec::new(),
            transactions: TransactionSummary::default(),
            related_activities: Vec::new(),
            seen: Seen::default(),
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        builder.take_attributes(tag);
        builder
    }

    fn problem(&mut self, line: u64, element: &str, reason: impl Into<String>) {
        self.problems.push(Note {
            line,
            element: element.to_owned(),
            reason: reason.into(),
        });
    }

    fn warning(&mut self, line: u64, element: &str, reason: impl Into<String>) {
        self.warnings.push(Note {
            line,
            element: element.to_owned(),
            reason: reason.into(),
        });
    }

    fn take_attributes(&mut self, tag: &Tag) {
        let attr = |name: &str| {
            tag.attributes
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };
        if let Some(text) = attr("last-updated-datetime") {
            match parse_datetime(&text) {
                Some(datetime) => self.last_updated_datetime = Some(datetime),
                None => self.problem(
                    tag.line,
                    "iati-activity/@last-updated-datetime",
                    format!("`{text}` is not a date and time (xs:dateTime)"),
                ),
            }
        }
        if let Some(text) = attr("humanitarian") {
            match parse_boolean(&text) {
                Some(flag) => self.humanitarian = Some(flag),
                None => self.problem(
                    tag.line,
                    "iati-activity/@humanitarian",
                    format!("`{text}` is not a boolean (1, 0, true or false)"),
                ),
            }
        }
        if let Some(code) = attr("default-currency") {
            let code = code.to_ascii_uppercase();
            if reference::is_currency(&code) {
                self.default_currency = Some(code);
            } else {
                self.warning(
                    tag.line,
                    "iati-activity/@default-currency",
                    format!("`{code}` is not an ISO 4217 currency; values without their own currency are not totalled"),
                );
            }
        }
        self.lang = attr("xml:lang");
    }

    /// Facts about skipped elements that explain a rejection later.
    fn note_skipped(&mut self, tag: &Tag) {
        if tag.space == Space::Iati && tag.name == "recipient-region" {
            self.seen.recipient_region = true;
        }
    }

    fn take(&mut self, node: &Node) {
        match node.name.as_str() {
            "iati-identifier" => self.take_identifier(node),
            "reporting-org" => self.take_reporting_org(node),
            "title" => self.take_title(node),
            "description" => self.take_description(node),
            "participating-org" => self.take_participating_org(node),
            "activity-status" => self.take_activity_status(node),
            "activity-date" => self.take_activity_date(node),
            "recipient-country" => self.take_recipient_country(node),
            "location" => self.take_location(node),
            "sector" => self.take_sector(node),
            "humanitarian-scope" => self.take_humanitarian_scope(node),
            "budget" => self.take_budget(node),
            "transaction" => self.take_transaction(node),
            "related-activity" => self.take_related_activity(node),
            _ => {}
        }
    }

    /// The schema allows these once; a second one makes the activity ambiguous.
    fn once(&mut self, count: u32, node: &Node) -> bool {
        if count > 1 {
            self.problem(
                node.line,
                &node.name,
                format!("more than one <{}>: the schema allows one", node.name),
            );
            return false;
        }
        true
    }

    fn take_identifier(&mut self, node: &Node) {
        self.seen.iati_identifier += 1;
        if !self.once(self.seen.iati_identifier, node) {
            return;
        }
        let identifier = node.text.trim();
        if identifier.is_empty() {
            self.problem(node.line, "iati-identifier", "the iati-identifier is empty");
        } else {
            self.identifier = Some(identifier.to_owned());
        }
    }

    fn take_reporting_org(&mut self, node: &Node) {
        self.seen.reporting_org += 1;
        if !self.once(self.seen.reporting_org, node) {
            return;
        }
        self.reporting_org_ref = node.attr("ref").map(str::to_owned);
        let org_ref = match node.attr("ref") {
            None => {
                self.problem(
                    node.line,
                    "reporting-org/@ref",
                    "the reporting-org has no ref (the schema requires one)",
                );
                None
            }
            Some(value) => match IatiOrgIdentifier::parse("ref", value) {
                Ok(org_ref) => Some(org_ref),
                Err(error) => {
                    self.problem(
                        node.line,
                        "reporting-org/@ref",
                        format!("`{value}` {}", error.message),
                    );
                    None
                }
            },
        };
        let org_type = match node.attr("type") {
            None => {
                self.problem(
                    node.line,
                    "reporting-org/@type",
                    "the reporting-org has no type (the schema requires one)",
                );
                None
            }
            Some(code) if !is_organisation_type(code) => {
                self.problem(
                    node.line,
                    "reporting-org/@type",
                    format!("`{code}` is not an IATI OrganisationType code"),
                );
                None
            }
            Some(code) => Some(code),
        };
        let narratives = node.narratives();
        if narratives.is_empty() {
            self.problem(
                node.line,
                "reporting-org/narrative",
                "the reporting-org has no narrative (the schema requires its name)",
            );
            return;
        }
        if let (Some(org_ref), Some(org_type)) = (org_ref, org_type) {
            self.reporting_org = Some(ReportingOrg {
                r#ref: org_ref,
                r#type: org_type.to_owned(),
                narratives,
            });
        }
    }

    fn take_title(&mut self, node: &Node) {
        self.seen.title += 1;
        if !self.once(self.seen.title, node) {
            return;
        }
        let narratives = node.narratives();
        if narratives.iter().all(|narrative| narrative.text.is_empty()) {
            self.problem(node.line, "title", "the title has no narrative with text");
        } else {
            self.title = Some(narratives);
        }
    }

    fn take_description(&mut self, node: &Node) {
        self.seen.description += 1;
        let narratives = node.narratives();
        if narratives.is_empty() {
            self.problem(
                node.line,
                "description",
                "a description has no narrative (the schema requires one)",
            );
            return;
        }
        self.descriptions.push(Description {
            r#type: node.attr("type").map(str::to_owned),
            narratives,
        });
    }

    fn take_participating_org(&mut self, node: &Node) {
        self.seen.participating_org += 1;
        let Some(code) = node.attr("role") else {
            self.problem(
                node.line,
                "participating-org/@role",
                "a participating-org has no role (the schema requires one)",
            );
            return;
        };
        let Some(role) = OrganisationRole::from_code(code) else {
            self.warning(
                node.line,
                "participating-org/@role",
                format!("role `{code}` is not an IATI OrganisationRole (1 to 4); the participating-org is left out"),
            );
            return;
        };
        let org_type = match node.attr("type") {
            Some(code) if is_organisation_type(code) => Some(code.to_owned()),
            Some(code) => {
                self.warning(
                    node.line,
                    "participating-org/@type",
                    format!("`{code}` is not an IATI OrganisationType code; the type is left out"),
                );
                None
            }
            None => None,
        };
        self.participating_orgs.push(ParticipatingOrg {
            r#ref: node.attr("ref").map(str::to_owned),
            role,
            r#type: org_type,
            activity_id: node.attr("activity-id").map(str::to_owned),
            narratives: node.narratives(),
        });
    }

    fn take_activity_status(&mut self, node: &Node) {
        self.seen.activity_status += 1;
        if !self.once(self.seen.activity_status, node) {
            return;
        }
        match node.attr("code") {
            None => self.problem(
                node.line,
                "activity-status/@code",
                "the activity-status has no code (the schema requires one)",
            ),
            Some(code) => match ActivityStatus::from_code(code) {
                Some(status) => self.activity_status = Some(status),
                None => self.problem(
                    node.line,
                    "activity-status/@code",
                    format!("`{code}` is not an IATI ActivityStatus (1 to 6)"),
                ),
            },
        }
    }

    fn take_activity_date(&mut self, node: &Node) {
        self.seen.activity_date += 1;
        let date = match node.attr("iso-date") {
            None => {
                self.problem(
                    node.line,
                    "activity-date/@iso-date",
                    "an activity-date has no iso-date (the schema requires one)",
                );
                None
            }
            Some(text) => {
                let date = parse_iso_date(text);
                if date.is_none() {
                    self.problem(
                        node.line,
                        "activity-date/@iso-date",
                        format!("`{text}` is not a date (xs:date)"),
                    );
                }
                date
            }
        };
        let Some(code) = node.attr("type") else {
            self.problem(
                node.line,
                "activity-date/@type",
                "an activity-date has no type (the schema requires one)",
            );
            return;
        };
        let dates = &mut self.activity_dates;
        let slot = match code {
            "1" => &mut dates.planned_start,
            "2" => &mut dates.actual_start,
            "3" => &mut dates.planned_end,
            "4" => &mut dates.actual_end,
            _ => {
                self.warning(
                    node.line,
                    "activity-date/@type",
                    format!("type `{code}` is not an IATI ActivityDateType (1 to 4); the date is left out"),
                );
                return;
            }
        };
        match (slot.is_some(), date) {
            (true, Some(_)) => self.warning(
                node.line,
                "activity-date",
                format!("a second activity-date of type {code}; the first is kept"),
            ),
            (false, Some(date)) => *slot = Some(date),
            (_, None) => {}
        }
    }

    fn take_recipient_country(&mut self, node: &Node) {
        self.seen.recipient_country += 1;
        let percentage = self.percentage(node, "recipient-country/@percentage");
        let Some(code) = node.attr("code") else {
            self.problem(
                node.line,
                "recipient-country/@code",
                "a recipient-country has no code (the schema requires one)",
            );
            return;
        };
        let Some(country) = reference::country_by_alpha2(code) else {
            self.warning(
                node.line,
                "recipient-country/@code",
                format!(
                    "`{code}` is not an ISO 3166-1 alpha-2 country code; the country is left out"
                ),
            );
            return;
        };
        if let Some(percentage) = percentage {
            self.recipient_countries.push(RecipientCountry {
                code: country.alpha2.clone(),
                percentage,
            });
        }
    }

    /// `Some(None)` when absent, `None` when malformed (a problem is recorded).
    fn percentage(&mut self, node: &Node, element: &str) -> Option<Option<f64>> {
        match node.attr("percentage") {
            None => Some(None),
            Some(text) => match parse_decimal(text) {
                Some(value) => Some(Some(value)),
                None => {
                    self.problem(
                        node.line,
                        element,
                        format!("`{text}` is not a decimal number"),
                    );
                    None
                }
            },
        }
    }

    fn take_location(&mut self, node: &Node) {
        self.seen.location = true;
        let place = node
            .children
            .iter()
            .filter(|child| child.name == "name")
            .flat_map(Node::narratives)
            .map(|narrative| narrative.text)
            .find(|text| !text.is_empty());
        for area in node
            .children
            .iter()
            .filter(|child| child.name == "administrative")
        {
            let level = match area.attr("level") {
                None => Some(None),
                Some(text) => match text.parse::<u32>() {
                    Ok(level) if text.bytes().all(|b| b.is_ascii_digit()) => Some(Some(level)),
                    _ => {
                        self.problem(
                            area.line,
                            "location/administrative/@level",
                            format!("`{text}` is not a non-negative integer"),
                        );
                        None
                    }
                },
            };
            let (vocabulary, code) = (area.attr("vocabulary"), area.attr("code"));
            if vocabulary.is_none() {
                self.problem(
                    area.line,
                    "location/administrative/@vocabulary",
                    "an administrative area has no vocabulary (the schema requires one)",
                );
            }
            if code.is_none() {
                self.problem(
                    area.line,
                    "location/administrative/@code",
                    "an administrative area has no code (the schema requires one)",
                );
            }
            if let (Some(vocabulary), Some(code), Some(level)) = (vocabulary, code, level) {
                self.location_administrative.push(Administrative {
                    vocabulary: vocabulary.to_owned(),
                    level,
                    code: code.to_owned(),
                    place: place.clone(),
                });
            }
        }
    }

    fn take_sector(&mut self, node: &Node) {
        self.seen.sector += 1;
        let percentage = self.percentage(node, "sector/@percentage");
        let Some(code) = node.attr("code") else {
            self.problem(
                node.line,
                "sector/@code",
                "a sector has no code (the schema requires one)",
            );
            return;
        };
        let vocabulary_code = node.attr("vocabulary").unwrap_or("1");
        let Some(vocabulary) = SectorVocabulary::from_iati_code(vocabulary_code) else {
            let name = reference::sector_vocabularies()
                .iter()
                .find(|known| known.code == vocabulary_code)
                .map_or_else(|| "unknown".to_owned(), |known| known.name.clone());
            self.warning(
                node.line,
                "sector/@vocabulary",
                format!("sector {code} is in vocabulary {vocabulary_code} ({name}); Concord keeps vocabularies 1, 2 and 10"),
            );
            return;
        };
        let Some(known) = reference::sector(vocabulary, code) else {
            self.warning(
                node.line,
                "sector/@code",
                format!("`{code}` is not a sector Concord knows in vocabulary {vocabulary_code}; the sector is left out"),
            );
            return;
        };
        let Some(mut percentage) = percentage else {
            return;
        };
        if percentage.is_some_and(|value| !(0.0..=100.0).contains(&value)) {
            self.warning(
                node.line,
                "sector/@percentage",
                "a percentage outside 0 to 100; the percentage is left out",
            );
            percentage = None;
        }
        self.sectors.push(Sector {
            vocabulary,
            code: known.code.clone(),
            percentage,
        });
    }

    fn take_humanitarian_scope(&mut self, node: &Node) {
        let mut required = |name: &str| {
            let value = node.attr(name).map(str::to_owned);
            if value.is_none() {
                self.problem(
                    node.line,
                    &format!("humanitarian-scope/@{name}"),
                    format!("a humanitarian-scope has no {name} (the schema requires one)"),
                );
            }
            value
        };
        let (scope_type, vocabulary, code) =
            (required("type"), required("vocabulary"), required("code"));
        if let (Some(scope_type), Some(vocabulary), Some(code)) = (scope_type, vocabulary, code) {
            self.humanitarian_scopes.push(HumanitarianScope {
                r#type: scope_type,
                vocabulary,
                code,
                narratives: node.narratives(),
            });
        }
    }

    fn take_related_activity(&mut self, node: &Node) {
        let (activity_ref, activity_type) = (node.attr("ref"), node.attr("type"));
        if activity_ref.is_none() {
            self.problem(
                node.line,
                "related-activity/@ref",
                "a related-activity has no ref (the schema requires one)",
            );
        }
        if activity_type.is_none() {
            self.problem(
                node.line,
                "related-activity/@type",
                "a related-activity has no type (the schema requires one)",
            );
        }
        if let (Some(activity_ref), Some(activity_type)) = (activity_ref, activity_type) {
            self.related_activities.push(RelatedActivity {
                r#ref: activity_ref.to_owned(),
                r#type: activity_type.to_owned(),
            });
        }
    }

    /// Reads the `<value>` of a budget or transaction, recording a problem when it is
    /// unreadable and a warning when it has no usable currency.
    fn amount(&mut self, parent: &Node, element: &str) -> Amount {
        let Some(value) = parent.child("value") else {
            self.problem(
                parent.line,
                element,
                format!("a {} has no value (the schema requires one)", parent.name),
            );
            return Amount::Unreadable;
        };
        let text = value.text.trim();
        let Some(amount) = parse_decimal(text) else {
            self.problem(
                value.line,
                element,
                format!("`{text}` is not a decimal number"),
            );
            return Amount::Unreadable;
        };
        let currency = value
            .attr("currency")
            .map(str::to_ascii_uppercase)
            .or_else(|| self.default_currency.clone());
        match currency {
            Some(currency) if reference::is_currency(&currency) => {
                Amount::InCurrency(currency, amount)
            }
            other => {
                let said = other.map_or_else(
                    || "no currency and the activity no default-currency".to_owned(),
                    |code| format!("currency `{code}`, which is not ISO 4217"),
                );
                self.warning(
                    value.line,
                    &format!("{element}/@currency"),
                    format!("a {} value has {said}", parent.name),
                );
                Amount::NoCurrency
            }
        }
    }

    fn take_budget(&mut self, node: &Node) {
        let mut bound = |name: &str| {
            let text = node.child(name).and_then(|child| child.attr("iso-date"));
            let date = text.and_then(parse_iso_date);
            if date.is_none() {
                let reason = match text {
                    None => format!("a budget has no {name} date (the schema requires one)"),
                    Some(text) => format!("`{text}` is not a date (xs:date)"),
                };
                self.problem(node.line, &format!("budget/{name}/@iso-date"), reason);
            }
            date
        };
        let (start, end) = (bound("period-start"), bound("period-end"));
        let amount = self.amount(node, "budget/value");
        let (Some(start), Some(end)) = (start, end) else {
            return;
        };
        match amount {
            Amount::InCurrency(currency, value) => self.budgets.push(BudgetLine {
                start,
                end,
                revised: node.attr("type") == Some("2"),
                currency,
                value,
            }),
            Amount::NoCurrency => self.warning(node.line, "budget", "the budget is left out"),
            Amount::Unreadable => {}
        }
    }

    fn take_transaction(&mut self, node: &Node) {
        if node.child("sector").is_some() {
            self.seen.transaction_sector = true;
        }
        let code = node
            .child("transaction-type")
            .and_then(|child| child.attr("code"));
        let Some(code) = code else {
            self.problem(
                node.line,
                "transaction/transaction-type/@code",
                "a transaction has no transaction-type code (the schema requires one)",
            );
            // The value is still read, so that every problem of the transaction is reported.
            self.amount(node, "transaction/value");
            return;
        };
        let amount = self.amount(node, "transaction/value");
        if matches!(amount, Amount::Unreadable) {
            return;
        }
        let Some(code) = code
            .parse::<u8>()
            .ok()
            .filter(|code| TRANSACTION_TYPES.contains(code))
        else {
            self.warning(
                node.line,
                "transaction/transaction-type/@code",
                format!(
                    "`{code}` is not an IATI TransactionType (1 to 13); the transaction is left out"
                ),
            );
            return;
        };
        let totals = self.transactions.by_type.entry(code).or_default();
        totals.count += 1;
        if let Amount::InCurrency(currency, value) = amount {
            *totals.value.entry(currency).or_default() += value;
        }
        if let Some(id) = node
            .child("provider-org")
            .and_then(|org| org.attr("provider-activity-id"))
        {
            self.transactions
                .provider_activity_ids
                .insert(id.to_owned());
        }
    }

    /// Reads back what [`write_activities`] wrote. Nobody else writes this namespace, so a
    /// malformed summary is a damaged file and rejects the activity.
    fn take_concord_transactions(&mut self, node: &Node) {
        for child in &node.children {
            let read = match child.name.as_str() {
                "transaction-type" => self.take_concord_type(child),
                "provider-activity-id" => child.attr("ref").map(|id| {
                    self.transactions
                        .provider_activity_ids
                        .insert(id.to_owned());
                }),
                _ => Some(()),
            };
            if read.is_none() {
                self.problem(
                    child.line,
                    "concord:transactions",
                    format!(
                        "a malformed <{}> in Concord's transaction summary",
                        child.name
                    ),
                );
            }
        }
    }

    fn take_concord_type(&mut self, node: &Node) -> Option<()> {
        let code = node
            .attr("code")?
            .parse::<u8>()
            .ok()
            .filter(|code| TRANSACTION_TYPES.contains(code))?;
        let count = node.attr("count")?.parse::<u64>().ok()?;
        let mut values = Vec::new();
        for value in node.children.iter().filter(|child| child.name == "value") {
            values.push((
                value.attr("currency")?.to_owned(),
                parse_decimal(value.text.trim())?,
            ));
        }
        let totals = self.transactions.by_type.entry(code).or_default();
        totals.count += count;
        for (currency, value) in values {
            *totals.value.entry(currency).or_default() += value;
        }
        Some(())
    }

    /// The rules on the whole activity, once every element has been read.
    fn check_activity(&mut self) {
        let line = self.line;
        let missing = [
            (self.seen.iati_identifier, "iati-identifier"),
            (self.seen.reporting_org, "reporting-org"),
            (self.seen.title, "title"),
            (self.seen.description, "description"),
            (self.seen.participating_org, "participating-org"),
            (self.seen.activity_status, "activity-status"),
            (self.seen.activity_date, "activity-date"),
        ];
        for (count, element) in missing {
            if count == 0 {
                self.problem(
                    line,
                    element,
                    format!("the activity has no {element} (the schema requires one)"),
                );
            }
        }
        if self.seen.participating_org > 0 && self.participating_orgs.is_empty() {
            self.problem(
                line,
                "participating-org",
                "no participating-org has a role Concord knows (1 to 4)",
            );
        }
        self.check_dates();
        self.check_sectors();
        self.check_places();
        if let Some(problem) = self.check_totals() {
            self.problem(
                line,
                problem,
                "the values add up beyond what Concord can hold",
            );
        }
    }

    fn check_dates(&mut self) {
        let ActivityDates {
            planned_start,
            actual_start,
            planned_end,
            actual_end,
        } = self.activity_dates.clone();
        if self.seen.activity_date > 0 && planned_start.is_none() && actual_start.is_none() {
            self.problem(
                self.line,
                "activity-date",
                "no start date (planned or actual): Concord needs one",
            );
        }
        for (kind, start, end) in [
            ("planned", planned_start, planned_end),
            ("actual", actual_start, actual_end),
        ] {
            if let (Some(start), Some(end)) = (start, end)
                && end < start
            {
                self.problem(
                    self.line,
                    "activity-date",
                    format!("the {kind} end {end} is before the {kind} start {start}"),
                );
            }
        }
    }

    fn check_sectors(&mut self) {
        if !self.sectors.is_empty() {
            return;
        }
        let reason = match (self.seen.sector, self.seen.transaction_sector) {
            (0, true) => {
                "no sector at activity level (Concord does not read sectors given per transaction)"
            }
            (0, false) => "no sector: Concord needs one in vocabulary 1, 2 or 10",
            _ => "no sector in vocabulary 1, 2 or 10 with a code Concord knows",
        };
        self.problem(self.line, "sector", reason);
    }

    fn check_places(&mut self) {
        if !self.recipient_countries.is_empty() || !self.location_administrative.is_empty() {
            return;
        }
        let reason = if self.seen.recipient_country > 0 {
            "no recipient-country Concord knows and no location/administrative code"
        } else if self.seen.recipient_region {
            "no place: a recipient-region is not one (Concord needs a recipient-country or a location/administrative code)"
        } else {
            "no place: Concord needs a recipient-country or a location/administrative code"
        };
        self.problem(self.line, "recipient-country", reason);
    }

    /// Sums of finite values can still overflow; such a total cannot be written back.
    fn check_totals(&self) -> Option<&'static str> {
        let budgets = self
            .budgets
            .iter()
            .fold(BTreeMap::<&str, f64>::new(), |mut totals, line| {
                *totals.entry(&line.currency).or_default() += line.value;
                totals
            });
        if budgets.values().any(|total| !total.is_finite()) {
            return Some("budget");
        }
        let mut transactions = self
            .transactions
            .by_type
            .values()
            .flat_map(|totals| totals.value.values());
        transactions
            .any(|total| !total.is_finite())
            .then_some("transaction")
    }

    /// Revised budgets replace the original of the same period.
    fn budget_summary(&self) -> Option<BudgetSummary> {
        let revised: HashSet<(NaiveDate, NaiveDate)> = self
            .budgets
            .iter()
            .filter(|line| line.revised)
            .map(|line| (line.start, line.end))
            .collect();
        let kept: Vec<&BudgetLine> = self
            .budgets
            .iter()
            .filter(|line| line.revised || !revised.contains(&(line.start, line.end)))
            .collect();
        let period_start = kept.iter().map(|line| line.start).min()?;
        let period_end = kept.iter().map(|line| line.end).max()?;
        let mut value = BTreeMap::new();
        for line in kept {
            *value.entry(line.currency.clone()).or_default() += line.value;
        }
        Some(BudgetSummary {
            value,
            period_start,
            period_end,
        })
    }

    fn finish(mut self, identifiers: &mut HashSet<String>) -> ActivityVerdict {
        self.check_activity();
        if let Some(identifier) = &self.identifier
            && !identifiers.insert(identifier.clone())
        {
            let reason =
                format!("the identifier {identifier} was already used earlier in the file");
            self.problem(self.line, "iati-identifier", reason);
        }
        let identifier = self.identifier.clone();
        let entries = |notes: Vec<Note>| -> Vec<ReportEntry> {
            notes
                .into_iter()
                .map(|note| ReportEntry {
                    identifier: identifier.clone(),
                    line: note.line,
                    element: note.element,
                    reason: note.reason,
                })
                .collect()
        };
        let budget = self.budget_summary();
        let parts = (
            self.identifier,
            self.reporting_org,
            self.title,
            self.activity_status,
        );
        if self.problems.is_empty()
            && let (Some(iati_identifier), Some(reporting_org), Some(title), Some(activity_status)) =
                parts
        {
            return ActivityVerdict::Accepted(Box::new(AcceptedActivity {
                activity: IatiActivity {
                    iati_identifier,
                    last_updated_datetime: self.last_updated_datetime,
                    lang: self.lang,
                    default_currency: self.default_currency,
                    humanitarian: self.humanitarian,
                    reporting_org,
                    title,
                    descriptions: self.descriptions,
                    participating_orgs: self.participating_orgs,
                    activity_status,
                    activity_dates: self.activity_dates,
                    recipient_countries: self.recipient_countries,
                    location_administrative: self.location_administrative,
                    sectors: self.sectors,
                    humanitarian_scopes: self.humanitarian_scopes,
                    budget,
                    transactions: self.transactions,
                    related_activities: self.related_activities,
                },
                line: self.line,
                warnings: entries(self.warnings),
            }));
        }
        let mut problems = self.problems;
        if problems.is_empty() {
            // Every missing part records a problem; this only guards that promise.
            problems.push(Note {
                line: self.line,
                element: "iati-activity".into(),
                reason: "the activity is incomplete".into(),
            });
        }
        ActivityVerdict::Rejected(RejectedActivity {
            identifier: identifier.clone(),
            reporting_org: self.reporting_org_ref,
            line: self.line,
            problems: entries(problems),
            warnings: entries(self.warnings),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------------------

/// Why activities could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
    /// The activity lacks something the 2.03 schema requires, so writing it would give an
    /// invalid file. Activities the reader accepted always have it.
    #[error("activity {identifier:?}: cannot be written without {element}")]
    Incomplete {
        identifier: String,
        element: &'static str,
    },
}

/// Writes an IATI 2.03 `<iati-activities>` document. Pass a buffered writer for files: the
/// XML writer makes many small writes. On an error the output holds the activities written
/// before it.
pub fn write_activities<'a, W: Write>(
    output: W,
    generated: DateTime<Utc>,
    activities: impl IntoIterator<Item = &'a IatiActivity>,
) -> Result<(), WriteError> {
    let mut xml = Writer::new_with_indent(output, b' ', 1);
    xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let generated = generated.to_rfc3339_opts(SecondsFormat::Secs, true);
    let namespace = format!("xmlns:{CONCORD_PREFIX}");
    let root = BytesStart::new("iati-activities").with_attributes([
        ("version", WRITTEN_VERSION),
        ("generated-datetime", generated.as_str()),
        (namespace.as_str(), CONCORD_NAMESPACE),
    ]);
    xml.write_event(Event::Start(root))?;
    for activity in activities {
        check_writable(activity)?;
        write_activity(&mut xml, activity)?;
    }
    xml.write_event(Event::End(BytesEnd::new("iati-activities")))?;
    xml.get_mut().flush()?;
    Ok(())
}

fn check_writable(activity: &IatiActivity) -> Result<(), WriteError> {
    let missing = if activity.iati_identifier.trim().is_empty() {
        Some("iati-identifier")
    } else if activity.reporting_org.narratives.is_empty() {
        Some("reporting-org/narrative")
    } else if activity.title.is_empty() {
        Some("title/narrative")
    } else if activity.descriptions.is_empty()
        || activity
            .descriptions
            .iter()
            .any(|d| d.narratives.is_empty())
    {
        Some("description/narrative")
    } else if activity.participating_orgs.is_empty() {
        Some("participating-org")
    } else if activity.activity_dates == ActivityDates::default() {
        Some("activity-date")
    } else {
        None
    };
    match missing {
        Some(element) => Err(WriteError::Incomplete {
            identifier: activity.iati_identifier.clone(),
            element,
        }),
        None => Ok(()),
    }
}

/// A start tag with its optional attributes; `None` values are not written.
fn start<'a>(name: &'a str, attributes: &[(&str, Option<&str>)]) -> BytesStart<'a> {
    let mut start = BytesStart::new(name);
    for (key, value) in attributes {
        if let Some(value) = value {
            start.push_attribute((*key, *value));
        }
    }
    start
}

fn write_empty<W: Write>(
    xml: &mut Writer<W>,
    name: &str,
    attributes: &[(&str, Option<&str>)],
) -> io::Result<()> {
    xml.write_event(Event::Empty(start(name, attributes)))
}

fn write_text<W: Write>(
    xml: &mut Writer<W>,
    name: &str,
    attributes: &[(&str, Option<&str>)],
    text: &str,
) -> io::Result<()> {
    if text.is_empty() {
        return write_empty(xml, name, attributes);
    }
    xml.write_event(Event::Start(start(name, attributes)))?;
    xml.write_event(Event::Text(BytesText::new(text)))?;
    xml.write_event(Event::End(BytesEnd::new(name)))
}

/// An element whose content is narratives only (most IATI elements).
fn write_narratives<W: Write>(
    xml: &mut Writer<W>,
    name: &str,
    attributes: &[(&str, Option<&str>)],
    narratives: &[Narrative],
) -> io::Result<()> {
    if narratives.is_empty() {
        return write_empty(xml, name, attributes);
    }
    xml.write_event(Event::Start(start(name, attributes)))?;
    for narrative in narratives {
        write_text(
            xml,
            "narrative",
            &[("xml:lang", narrative.lang.as_deref())],
            &narrative.text,
        )?;
    }
    xml.write_event(Event::End(BytesEnd::new(name)))
}

fn decimal(value: f64) -> String {
    // Rust prints the shortest text that reads back as the same number, never with an
    // exponent, which is exactly what xs:decimal needs.
    value.to_string()
}

fn iso_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Follows the `iati-activity` sequence of the 2.03 schema: the order is part of validity.
fn write_activity<W: Write>(xml: &mut Writer<W>, activity: &IatiActivity) -> io::Result<()> {
    let last_updated = activity
        .last_updated_datetime
        .map(|datetime| datetime.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    let humanitarian = activity
        .humanitarian
        .map(|flag| if flag { "1" } else { "0" });
    xml.write_event(Event::Start(start(
        "iati-activity",
        &[
            ("last-updated-datetime", last_updated.as_deref()),
            ("xml:lang", activity.lang.as_deref()),
            ("default-currency", activity.default_currency.as_deref()),
            ("humanitarian", humanitarian),
        ],
    )))?;
    write_text(xml, "iati-identifier", &[], &activity.iati_identifier)?;
    let org = &activity.reporting_org;
    write_narratives(
        xml,
        "reporting-org",
        &[
            ("ref", Some(org.r#ref.as_str())),
            ("type", Some(&org.r#type)),
        ],
        &org.narratives,
    )?;
    write_narratives(xml, "title", &[], &activity.title)?;
    for description in &activity.descriptions {
        write_narratives(
            xml,
            "description",
            &[("type", description.r#type.as_deref())],
            &description.narratives,
        )?;
    }
    for org in &activity.participating_orgs {
        let attributes = [
            ("ref", org.r#ref.as_deref()),
            ("type", org.r#type.as_deref()),
            ("role", Some(org.role.code())),
            ("activity-id", org.activity_id.as_deref()),
        ];
        write_narratives(xml, "participating-org", &attributes, &org.narratives)?;
    }
    write_empty(
        xml,
        "activity-status",
        &[("code", Some(activity.activity_status.code()))],
    )?;
    write_dates(xml, &activity.activity_dates)?;
    write_places(xml, activity)?;
    for sector in &activity.sectors {
        let percentage = sector.percentage.map(decimal);
        let attributes = [
            ("vocabulary", Some(sector.vocabulary.iati_code())),
            ("code", Some(sector.code.as_str())),
            ("percentage", percentage.as_deref()),
        ];
        write_empty(xml, "sector", &attributes)?;
    }
    for scope in &activity.humanitarian_scopes {
        let attributes = [
            ("type", Some(scope.r#type.as_str())),
            ("vocabulary", Some(scope.vocabulary.as_str())),
            ("code", Some(scope.code.as_str())),
        ];
        write_narratives(xml, "humanitarian-scope", &attributes, &scope.narratives)?;
    }
    if let Some(budget) = &activity.budget {
        write_budget(xml, budget)?;
    }
    for related in &activity.related_activities {
        write_empty(
            xml,
            "related-activity",
            &[
                ("ref", Some(&related.r#ref)),
                ("type", Some(&related.r#type)),
            ],
        )?;
    }
    if !activity.transactions.is_empty() {
        write_transactions(xml, &activity.transactions)?;
    }
    xml.write_event(Event::End(BytesEnd::new("iati-activity")))
}

fn write_dates<W: Write>(xml: &mut Writer<W>, dates: &ActivityDates) -> io::Result<()> {
    let typed = [
        ("1", dates.planned_start),
        ("2", dates.actual_start),
        ("3", dates.planned_end),
        ("4", dates.actual_end),
    ];
    for (code, date) in typed {
        if let Some(date) = date {
            write_empty(
                xml,
                "activity-date",
                &[("type", Some(code)), ("iso-date", Some(&iso_date(date)))],
            )?;
        }
    }
    Ok(())
}

fn write_places<W: Write>(xml: &mut Writer<W>, activity: &IatiActivity) -> io::Result<()> {
    for country in &activity.recipient_countries {
        let percentage = country.percentage.map(decimal);
        write_empty(
            xml,
            "recipient-country",
            &[
                ("code", Some(&country.code)),
                ("percentage", percentage.as_deref()),
            ],
        )?;
    }
    for area in &activity.location_administrative {
        let level = area.level.map(|level| level.to_string());
        xml.write_event(Event::Start(BytesStart::new("location")))?;
        if let Some(place) = &area.place {
            write_narratives(
                xml,
                "name",
                &[],
                &[Narrative {
                    lang: None,
                    text: place.clone(),
                }],
            )?;
        }
        write_empty(
            xml,
            "administrative",
            &[
                ("vocabulary", Some(&area.vocabulary)),
                ("code", Some(&area.code)),
                ("level", level.as_deref()),
            ],
        )?;
        xml.write_event(Event::End(BytesEnd::new("location")))?;
    }
    Ok(())
}

/// One budget per currency over the whole span: the summary is all Concord has, and it
/// is a true statement of the money planned for that span.
fn write_budget<W: Write>(xml: &mut Writer<W>, budget: &BudgetSummary) -> io::Result<()> {
    let (start, end) = (iso_date(budget.period_start), iso_date(budget.period_end));
    for (currency, value) in &budget.value {
        xml.write_event(Event::Start(BytesStart::new("budget")))?;
        write_empty(xml, "period-start", &[("iso-date", Some(&start))])?;
        write_empty(xml, "period-end", &[("iso-date", Some(&end))])?;
        write_text(
            xml,
            "value",
            &[("currency", Some(currency)), ("value-date", Some(&start))],
            &decimal(*value),
        )?;
        xml.write_event(Event::End(BytesEnd::new("budget")))?;
    }
    Ok(())
}

fn write_transactions<W: Write>(
    xml: &mut Writer<W>,
    summary: &TransactionSummary,
) -> io::Result<()> {
    let name = |local: &str| format!("{CONCORD_PREFIX}:{local}");
    let (transactions, transaction_type, value) = (
        name("transactions"),
        name("transaction-type"),
        name("value"),
    );
    xml.write_event(Event::Start(BytesStart::new(transactions.as_str())))?;
    for (code, totals) in &summary.by_type {
        let (code, count) = (code.to_string(), totals.count.to_string());
        let attributes = [
            ("code", Some(code.as_str())),
            ("count", Some(count.as_str())),
        ];
        if totals.value.is_empty() {
            write_empty(xml, &transaction_type, &attributes)?;
            continue;
        }
        xml.write_event(Event::Start(start(&transaction_type, &attributes)))?;
        for (currency, total) in &totals.value {
            write_text(
                xml,
                &value,
                &[("currency", Some(currency))],
                &decimal(*total),
            )?;
        }
        xml.write_event(Event::End(BytesEnd::new(transaction_type.as_str())))?;
    }
    for id in &summary.provider_activity_ids {
        write_empty(xml, &name("provider-activity-id"), &[("ref", Some(id))])?;
    }
    xml.write_event(Event::End(BytesEnd::new(transactions.as_str())))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::{BufReader, Read};
    use std::rc::Rc;

    use super::*;

    /// A complete activity Concord accepts, with `extra` elements appended (the reader does
    /// not check element order, so appending is enough).
    fn activity(identifier: &str, extra: &str) -> String {
        format!(
            r#"<iati-activity default-currency="USD">
  <iati-identifier>{identifier}</iati-identifier>
  <reporting-org ref="XM-TEST" type="21"><narrative>Test NGO</narrative></reporting-org>
  <title><narrative>Water for Kismayo</narrative></title>
  <description><narrative>Wells and latrines.</narrative></description>
  <participating-org role="4" ref="XM-TEST"/>
  <activity-status code="2"/>
  <activity-date type="1" iso-date="2024-01-01"/>
  <recipient-country code="so"/>
  <sector vocabulary="10" code="WSH"/>
  {extra}
</iati-activity>
"#
        )
    }

    fn document(activities: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<iati-activities version=\"2.03\">\n{activities}</iati-activities>\n"
        )
    }

    fn read(xml: &str) -> Vec<ActivityVerdict> {
        IatiReader::new(xml.as_bytes())
            .expect("a document")
            .map(|verdict| verdict.expect("no document error"))
            .collect()
    }

    fn accepted(verdict: &ActivityVerdict) -> &AcceptedActivity {
        match verdict {
            ActivityVerdict::Accepted(accepted) => accepted,
            ActivityVerdict::Rejected(rejected) => panic!("rejected: {:?}", rejected.problems),
        }
    }

    fn problems(verdict: &ActivityVerdict) -> Vec<(&str, &str)> {
        match verdict {
            ActivityVerdict::Rejected(rejected) => rejected
                .problems
                .iter()
                .map(|p| (p.element.as_str(), p.reason.as_str()))
                .collect(),
            ActivityVerdict::Accepted(accepted) => {
                panic!("accepted: {}", accepted.activity.iati_identifier)
            }
        }
    }

    fn error(xml: &str) -> DocumentError {
        match IatiReader::new(xml.as_bytes()) {
            Err(error) => error,
            Ok(reader) => reader
                .filter_map(Result::err)
                .next()
                .expect("a document error"),
        }
    }

    /// Produces a document of `count` activities on demand, counting the bytes handed out.
    struct Generated {
        count: usize,
        next: usize,
        chunk: Vec<u8>,
        at: usize,
        produced: Rc<Cell<u64>>,
        done: bool,
    }

    impl Generated {
        fn refill(&mut self) {
            let text = if self.next == 0 && !self.done && self.produced.get() == 0 {
                "<iati-activities version=\"2.03\">\n".to_owned()
            } else if self.next < self.count {
                self.next += 1;
                activity(&format!("XM-TEST-{}", self.next), "")
            } else if !self.done {
                self.done = true;
                "</iati-activities>\n".to_owned()
            } else {
                String::new()
            };
            self.chunk = text.into_bytes();
            self.at = 0;
        }
    }

    impl Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.chunk.len() {
                self.refill();
            }
            let n = out.len().min(self.chunk.len() - self.at);
            out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
            self.at += n;
            self.produced.set(self.produced.get() + n as u64);
            Ok(n)
        }
    }

    #[test]
    fn reads_as_it_goes_without_holding_the_file() {
        let count = 2_000;
        let produced = Rc::new(Cell::new(0));
        let input = Generated {
            count,
            next: 0,
            chunk: Vec::new(),
            at: 0,
            produced: Rc::clone(&produced),
            done: false,
        };
        let mut reader = IatiReader::new(BufReader::new(input)).expect("a document");
        let first = reader.next().expect("one activity").expect("no error");
        assert_eq!(accepted(&first).activity.iati_identifier, "XM-TEST-1");
        // The first verdict came after one buffer of input, not the ~1 MB document.
        assert!(produced.get() < 16 * 1024, "read {} bytes", produced.get());
        let mut read = 1;
        for verdict in reader {
            accepted(&verdict.expect("no error"));
            read += 1;
        }
        assert_eq!(read, count);
        // ... and the whole document was read in the end.
        let total: usize = (1..=count)
            .map(|n| activity(&format!("XM-TEST-{n}"), "").len())
            .sum();
        assert_eq!(produced.get(), (total + 33 + 19) as u64);
    }

    #[test]
    fn keeps_what_concord_uses() {
        let extra = r#"
  <activity-date type="3" iso-date="2024-12-31Z"/>
  <sector code="14030" percentage="60"/>
  <sector vocabulary="98" code="X"/>
  <location><name><narrative>Kismayo</narrative></name>
    <administrative vocabulary="G1" level="2" code="12345"/></location>
  <humanitarian-scope type="1" vocabulary="1-2" code="FL-2024-000001-SOM"/>
  <budget type="1"><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/>
    <value value-date="2024-01-01">1000</value></budget>
  <budget type="2"><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/>
    <value value-date="2024-06-01">800.5</value></budget>
  <budget><period-start iso-date="2025-01-01"/><period-end iso-date="2025-06-30"/>
    <value currency="EUR" value-date="2024-06-01">10</value></budget>
  <transaction><transaction-type code="1"/><transaction-date iso-date="2024-02-01"/>
    <value value-date="2024-02-01">500</value>
    <provider-org provider-activity-id="XM-DONOR-1"/></transaction>
  <transaction><transaction-type code="1"/><transaction-date iso-date="2024-03-01"/>
    <value currency="XXX" value-date="2024-03-01">7</value></transaction>
  <related-activity ref="XM-TEST-0" type="1"/>"#;
        let verdicts = read(&document(&activity("XM-TEST-1", extra)));
        let accepted = accepted(&verdicts[0]);
        let activity = &accepted.activity;
        assert_eq!(activity.recipient_countries[0].code, "SO");
        assert_eq!(
            activity.sectors,
            [
                Sector {
                    vocabulary: SectorVocabulary::Cluster,
                    code: "11".into(),
                    percentage: None
                },
                Sector {
                    vocabulary: SectorVocabulary::Dac5,
                    code: "14030".into(),
                    percentage: Some(60.0)
                },
            ]
        );
        assert_eq!(
            activity.activity_dates.planned_end,
            NaiveDate::from_ymd_opt(2024, 12, 31)
        );
        assert_eq!(activity.location_administrative[0].level, Some(2));
        assert_eq!(
            activity.location_administrative[0].place.as_deref(),
            Some("Kismayo")
        );
        let budget = activity.budget.as_ref().expect("a budget");
        // The revision replaces the original of the same period.
        assert_eq!(budget.value["USD"], 800.5);
        assert_eq!(budget.value["EUR"], 10.0);
        assert_eq!(
            budget.period_end,
            NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
        );
        let incoming = &activity.transactions.by_type[&1];
        assert_eq!(incoming.count, 2);
        assert_eq!(incoming.value["USD"], 500.0);
        assert!(
            activity
                .transactions
                .provider_activity_ids
                .contains("XM-DONOR-1")
        );
        let warned: Vec<&str> = accepted
            .warnings
            .iter()
            .map(|w| w.element.as_str())
            .collect();
        assert_eq!(
            warned,
            ["sector/@vocabulary", "transaction/value/@currency"]
        );
        assert_eq!(accepted.warnings[0].line, 16);
    }

    #[test]
    fn rejects_with_every_reason() {
        let xml = document(
            r#"<iati-activity>
  <iati-identifier> </iati-identifier>
  <reporting-org ref="Test NGO" type="21"><narrative>Test NGO</narrative></reporting-org>
  <title><narrative/></title>
  <activity-date type="1" iso-date="2024-02-30"/>
  <sector vocabulary="1" code="99999"/>
  <recipient-region code="998"/>
</iati-activity>
"#,
        );
        let verdicts = read(&xml);
        let elements: Vec<&str> = problems(&verdicts[0]).iter().map(|p| p.0).collect();
        assert_eq!(
            elements,
            [
                "iati-identifier",
                "reporting-org/@ref",
                "title",
                "activity-date/@iso-date",
                "description",
                "participating-org",
                "activity-status",
                "activity-date",
                "sector",
                "recipient-country",
            ]
        );
        let ActivityVerdict::Rejected(rejected) = &verdicts[0] else {
            unreachable!()
        };
        assert_eq!(rejected.reporting_org.as_deref(), Some("Test NGO"));
        assert_eq!(rejected.identifier, None);
        assert_eq!(rejected.problems[1].line, 5);
    }

    #[test]
    fn the_second_of_two_identifiers_is_rejected() {
        let xml = document(&(activity("XM-TEST-1", "") + &activity("XM-TEST-1", "")));
        let verdicts = read(&xml);
        accepted(&verdicts[0]);
        assert_eq!(
            problems(&verdicts[1]),
            [(
                "iati-identifier",
                "the identifier XM-TEST-1 was already used earlier in the file"
            )]
        );
    }

    #[test]
    fn text_survives_escaping_both_ways() {
        let extra = r#"<description type="2"><narrative xml:lang="fr">Eau &amp; assainissement &lt;WASH&gt; &#224; Kismayo
 <![CDATA[a < b]]> "quoted" &#13;end</narrative></description>"#;
        let verdicts = read(&document(&activity("XM-TEST-1", extra)));
        let first = accepted(&verdicts[0]).activity.clone();
        assert_eq!(
            first.descriptions[1].narratives[0].text,
            "Eau & assainissement <WASH> à Kismayo\n a < b \"quoted\" \rend"
        );
        let mut written = Vec::new();
        write_activities(&mut written, Utc::now(), [&first]).expect("written");
        let text = String::from_utf8(written.clone()).expect("UTF-8");
        assert!(text.contains("&amp; assainissement &lt;WASH&gt;"), "{text}");
        let again = read(std::str::from_utf8(&written).expect("UTF-8"));
        assert_eq!(accepted(&again[0]).activity, first);
    }

    #[test]
    fn an_activity_the_schema_would_refuse_is_not_written() {
        let verdicts = read(&document(&activity("XM-TEST-1", "")));
        let mut incomplete = accepted(&verdicts[0]).activity.clone();
        incomplete.descriptions.clear();
        let error = write_activities(Vec::new(), Utc::now(), [&incomplete]).unwrap_err();
        assert!(
            matches!(
                error,
                WriteError::Incomplete {
                    element: "description/narrative",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn other_namespaces_are_passed_over_and_concord_s_is_read() {
        let extra = r#"<ext:note xmlns:ext="http://example.org/ns"><title>not IATI</title></ext:note>
  <c:transactions xmlns:c="urn:x-concord:iati:1">
    <c:transaction-type code="3" count="4"><c:value currency="USD">12.5</c:value></c:transaction-type>
    <c:provider-activity-id ref="XM-DONOR-1"/>
  </c:transactions>"#;
        let verdicts = read(&document(&activity("XM-TEST-1", extra)));
        let activity = &accepted(&verdicts[0]).activity;
        assert_eq!(activity.title[0].text, "Water for Kismayo");
        let disbursements = &activity.transactions.by_type[&3];
        assert_eq!((disbursements.count, disbursements.value["USD"]), (4, 12.5));
        assert_eq!(activity.transactions.provider_activity_ids.len(), 1);
    }

    #[test]
    fn document_errors_say_where() {
        let broken = document(&activity("XM-TEST-1", "").replace("</title>", "</titel>"));
        let error = error(&broken);
        assert_eq!(error.line, 6);
        assert!(
            matches!(error.kind, DocumentErrorKind::Malformed(_)),
            "{error}"
        );
        let truncated = document(&activity("XM-TEST-1", ""));
        let error = self::error(&truncated[..truncated.len() - "</iati-activities>\n".len()]);
        assert_eq!(
            error.kind,
            DocumentErrorKind::Truncated("iati-activities".into())
        );
        // Cut inside the reporting-org's narrative: the error names the element being read.
        let cut = self::error(&truncated[..200]);
        assert_eq!(
            cut.kind,
            DocumentErrorKind::Truncated("reporting-org".into())
        );
        assert_eq!(self::error("").kind, DocumentErrorKind::NoRoot);
        assert_eq!(
            self::error("<iati-activities/>").kind,
            DocumentErrorKind::MissingVersion
        );
        assert_eq!(
            self::error("<iati-activities version=\"1.05\"/>").kind,
            DocumentErrorKind::UnsupportedVersion("1.05".into())
        );
        assert_eq!(
            self::error("<html><body/></html>").kind,
            DocumentErrorKind::WrongRoot("html".into())
        );
        let entity = document(&activity("XM-TEST-1", "").replace("Wells", "&nbsp;Wells"));
        assert_eq!(
            self::error(&entity).kind,
            DocumentErrorKind::Malformed("undefined entity &nbsp;".into())
        );
    }

    #[test]
    fn values_follow_the_schema_types() {
        assert_eq!(parse_decimal("-12.50"), Some(-12.5));
        assert_eq!(parse_decimal(".5"), Some(0.5));
        for bad in ["", ".", "1e3", "1,000", "NaN", "inf", "12 000"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        let day = NaiveDate::from_ymd_opt(2020, 5, 1);
        for good in ["2020-05-01", "2020-05-01Z", "2020-05-01+02:00"] {
            assert_eq!(parse_iso_date(good), day, "{good}");
        }
        for bad in ["2020-5-1", "01/05/2020", "2020-05-01T00:00:00", "5000000"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        let utc = parse_datetime("2021-05-24T14:50:54").expect("no zone");
        assert_eq!(utc.offset().local_minus_utc(), 0);
        assert!(parse_datetime("2021-05-24T14:50:54.007Z").is_some());
        assert!(parse_datetime("2021-05-24").is_none());
        assert!(is_version_number("1.05") && !is_version_number("xx"));
    }
}
