//! The IATI reader and writer against real files: the d-portal extracts of hdx-scraper-iati-viz
//! (covid: 401 activities from 18 publishers; food security: 7) and the IATI schema
//! repository's own should-pass / should-fail test documents. The writer's output is checked
//! with `xmllint` against `iati-activities-schema.xsd`.
//!
//! A test whose data (or `xmllint`) is missing says so and passes, except under CI (the `CI`
//! variable set), where a missing input is a failure: CI must run them all.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{NaiveDate, TimeZone, Utc};
use concord_domain::reference::SectorVocabulary;
use concord_domain::values::{ActivityStatus, OrganisationRole};
use concord_interop::iati::{
    AcceptedActivity, ActivityVerdict, DocumentError, DocumentErrorKind, IatiReader,
    RejectedActivity, write_activities,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/");
const COVID: &str = "hdx-scraper-iati-viz/tests/fixtures/covid/input/dportal.xml";
const FOOD_SECURITY: &str = "hdx-scraper-iati-viz/tests/fixtures/foodsecurity/input/dportal.xml";
const SCHEMA: &str = "IATI-Schemas/iati-activities-schema.xsd";
const SCHEMA_TESTS: &str = "IATI-Schemas/tests";

/// A missing input skips the test, unless CI is set.
fn skip(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {what} is missing"
    );
    println!("skipped: {what} is missing");
}

fn data(path: &str) -> Option<PathBuf> {
    let path = Path::new(DATA).join(path);
    if path.exists() {
        Some(path)
    } else {
        skip(&path.display().to_string());
        None
    }
}

/// Whether `xmllint` can be run.
fn xmllint() -> bool {
    let found = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        skip("xmllint (package libxml2-utils)");
    }
    found
}

/// What one file gave: the verdicts in order, or the document error that stopped it.
#[derive(Default)]
struct Outcome {
    accepted: Vec<AcceptedActivity>,
    rejected: Vec<RejectedActivity>,
    error: Option<DocumentError>,
}

impl Outcome {
    fn read(input: impl std::io::BufRead) -> Self {
        let mut outcome = Self::default();
        let reader = match IatiReader::new(input) {
            Ok(reader) => reader,
            Err(error) => {
                outcome.error = Some(error);
                return outcome;
            }
        };
        for verdict in reader {
            match verdict {
                Ok(ActivityVerdict::Accepted(accepted)) => outcome.accepted.push(*accepted),
                Ok(ActivityVerdict::Rejected(rejected)) => outcome.rejected.push(rejected),
                Err(error) => outcome.error = Some(error),
            }
        }
        outcome
    }

    fn file(path: &Path) -> Self {
        Self::read(BufReader::new(File::open(path).expect("readable")))
    }

    /// A whole file read without a document error.
    fn clean(path: &Path) -> Self {
        let outcome = Self::file(path);
        if let Some(error) = &outcome.error {
            panic!("{}: {error}", path.display());
        }
        outcome
    }
}

fn count<'a>(keys: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn every_entry_says_why(outcome: &Outcome) {
    for rejected in &outcome.rejected {
        assert!(!rejected.problems.is_empty());
        for entry in rejected.problems.iter().chain(&rejected.warnings) {
            assert!(
                !entry.element.is_empty() && !entry.reason.is_empty(),
                "{entry:?}"
            );
            assert_eq!(entry.identifier, rejected.identifier);
        }
    }
    for accepted in &outcome.accepted {
        for entry in &accepted.warnings {
            assert!(
                !entry.element.is_empty() && !entry.reason.is_empty(),
                "{entry:?}"
            );
        }
    }
}

#[test]
fn covid_dportal_file() {
    let Some(path) = data(COVID) else { return };
    let outcome = Outcome::clean(&path);
    every_entry_says_why(&outcome);
    assert_eq!(outcome.accepted.len() + outcome.rejected.len(), 401);
    assert_eq!(outcome.accepted.len(), 293);
    assert_eq!(outcome.rejected.len(), 108);

    // Each rejection by its first problem.
    let first = count(
        outcome
            .rejected
            .iter()
            .filter_map(|r| r.reason())
            .map(|p| p.reason.as_str()),
    );
    let region = "no place: a recipient-region is not one (Concord needs a recipient-country or a location/administrative code)";
    assert_eq!(
        first,
        BTreeMap::from([
            (region, 75),
            (
                "no place: Concord needs a recipient-country or a location/administrative code",
                2
            ),
            (
                "no recipient-country Concord knows and no location/administrative code",
                1
            ),
            (
                "a transaction has no transaction-type code (the schema requires one)",
                21
            ),
            (
                "no sector in vocabulary 1, 2 or 10 with a code Concord knows",
                3
            ),
            ("a sector has no code (the schema requires one)", 1),
            (
                "an activity-date has no iso-date (the schema requires one)",
                2
            ),
            (
                "the planned end 2019-10-31 is before the planned start 2020-05-22",
                1
            ),
            (
                "the planned end 2020-03-31 is before the planned start 2020-05-25",
                1
            ),
            (
                "the planned end 2020-08-19 is before the planned start 2020-09-17",
                1
            ),
        ])
    );
    // Every problem, by element: the 21 broken transactions also lack any sector.
    let problems = count(
        outcome
            .rejected
            .iter()
            .flat_map(|r| &r.problems)
            .map(|p| p.element.as_str()),
    );
    assert_eq!(
        problems,
        BTreeMap::from([
            ("recipient-country", 79),
            ("transaction/transaction-type/@code", 21),
            ("transaction/value", 21),
            ("sector", 26),
            ("sector/@code", 1),
            ("activity-date/@iso-date", 2),
            ("activity-date", 3),
        ])
    );
    assert!(outcome.rejected.iter().all(|r| r.identifier.is_some()));

    // What accepted activities lost: sectors in SDG (8) and other vocabularies, and three
    // vocabulary-1 codes that are DAC categories, not purpose codes (`12000`).
    let warnings = count(
        outcome
            .accepted
            .iter()
            .flat_map(|a| &a.warnings)
            .map(|w| w.element.as_str()),
    );
    assert_eq!(
        warnings,
        BTreeMap::from([("sector/@vocabulary", 269), ("sector/@code", 3)])
    );

    let publishers: BTreeSet<&str> = outcome
        .accepted
        .iter()
        .map(|a| a.activity.reporting_org.r#ref.as_str())
        .chain(
            outcome
                .rejected
                .iter()
                .filter_map(|r| r.reporting_org.as_deref()),
        )
        .collect();
    assert_eq!(publishers.len(), 18);
    let accepted_publishers: BTreeSet<&str> = outcome
        .accepted
        .iter()
        .map(|a| a.activity.reporting_org.r#ref.as_str())
        .collect();
    assert_eq!(accepted_publishers.len(), 15);

    spot_check_terre_des_hommes(&outcome);
}

/// Terre des hommes' Iraq activity: a revised budget, two narratives per organisation, a
/// character reference, transactions with a provider activity.
fn spot_check_terre_des_hommes(outcome: &Outcome) {
    let accepted = outcome
        .accepted
        .iter()
        .find(|a| a.activity.iati_identifier == "CH-FDJP-CHE106823242-2019723a")
        .expect("accepted");
    assert_eq!(accepted.line, 22242);
    assert!(accepted.warnings.is_empty());
    let activity = &accepted.activity;
    assert_eq!(
        activity.last_updated_datetime,
        Some(
            Utc.with_ymd_and_hms(2020, 9, 29, 9, 59, 7)
                .unwrap()
                .fixed_offset()
        )
    );
    assert_eq!(activity.lang.as_deref(), Some("EN"));
    assert_eq!(activity.default_currency.as_deref(), Some("CHF"));
    assert_eq!(activity.humanitarian, Some(true));
    assert_eq!(
        activity.reporting_org.r#ref.as_str(),
        "CH-FDJP-CHE106823242"
    );
    assert_eq!(activity.reporting_org.r#type, "21");
    let french = &activity.reporting_org.narratives[0];
    assert_eq!(french.lang.as_deref(), Some("FR"));
    assert_eq!(
        french.text,
        "Terre des hommes - Aide à l'enfance dans le monde - Fondation"
    );
    assert_eq!(
        activity.title[0].text,
        "Improving Prospects for Refugees and Host Communities in Iraq"
    );
    let description_types: Vec<_> = activity
        .descriptions
        .iter()
        .map(|d| d.r#type.as_deref())
        .collect();
    assert_eq!(description_types, [Some("4"), Some("1"), Some("3")]);
    let funder = &activity.participating_orgs[0];
    assert_eq!(funder.role, OrganisationRole::Funding);
    assert_eq!(funder.r#ref.as_deref(), Some("XM-DAC-7"));
    assert_eq!(funder.r#type.as_deref(), Some("10"));
    assert_eq!(
        funder.activity_id.as_deref(),
        Some("XM-DAC-7-PPR-4000002709")
    );
    assert_eq!(activity.participating_orgs.len(), 3);
    assert_eq!(activity.activity_status, ActivityStatus::Closed);
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    assert_eq!(activity.activity_dates.actual_start, date(2019, 5, 1));
    assert_eq!(activity.activity_dates.actual_end, date(2020, 5, 31));
    assert_eq!(activity.activity_dates.planned_start, None);
    assert_eq!(activity.recipient_countries[0].code, "IQ");
    assert_eq!(activity.recipient_countries[0].percentage, Some(100.0));
    assert!(activity.location_administrative.is_empty());
    assert_eq!(activity.sectors.len(), 1);
    assert_eq!(activity.sectors[0].vocabulary, SectorVocabulary::Dac5);
    assert_eq!(activity.sectors[0].code, "72050");
    // The 1 941 176 original budget is replaced by its revision (686 009), plus 57 167 for
    // May 2020: 743 176, which is also what came in and what was spent.
    let budget = activity.budget.as_ref().expect("budget");
    assert_eq!(
        budget.value,
        BTreeMap::from([("USD".to_owned(), 743_176.0)])
    );
    assert_eq!(
        (Some(budget.period_start), Some(budget.period_end)),
        (date(2019, 5, 1), date(2020, 5, 31))
    );
    let transactions = &activity.transactions;
    assert_eq!(transactions.by_type[&1].count, 1);
    assert_eq!(transactions.by_type[&1].value["USD"], 743_176.0);
    assert_eq!(transactions.by_type[&4].count, 3);
    assert_eq!(transactions.by_type[&4].value["USD"], 743_176.0);
    assert_eq!(
        transactions.provider_activity_ids,
        BTreeSet::from(["XM-DAC-7-PPR-4000002709".to_owned()])
    );
    assert_eq!(activity.related_activities.len(), 1);
    assert_eq!(activity.related_activities[0].r#type, "3");
}

#[test]
fn food_security_dportal_file() {
    let Some(path) = data(FOOD_SECURITY) else {
        return;
    };
    let outcome = Outcome::clean(&path);
    every_entry_says_why(&outcome);
    assert_eq!(outcome.accepted.len(), 4);
    assert_eq!(outcome.rejected.len(), 3);
    let reasons = count(
        outcome
            .rejected
            .iter()
            .flat_map(|r| &r.problems)
            .map(|p| p.element.as_str()),
    );
    assert_eq!(reasons, BTreeMap::from([("recipient-country", 3)]));
    let warnings: Vec<&str> = outcome
        .accepted
        .iter()
        .flat_map(|a| &a.warnings)
        .map(|w| w.element.as_str())
        .collect();
    assert_eq!(warnings, ["sector/@code"]);
    let publishers: BTreeSet<&str> = outcome
        .accepted
        .iter()
        .map(|a| a.activity.reporting_org.r#ref.as_str())
        .chain(
            outcome
                .rejected
                .iter()
                .filter_map(|r| r.reporting_org.as_deref()),
        )
        .collect();
    assert_eq!(publishers.len(), 6);
}

/// Every `.xml` file under `dir`, sorted, so failures name files in a stable order.
fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The schema's test documents keep placeholders (`<iati-identifier></iati-identifier>`,
/// `ref="xx"`, `role="xx"`, `code="xx"`) and carry no sector and no place: Concord refuses
/// each for these reasons, whatever the schema says of it.
const PLACEHOLDER_PROBLEMS: [&str; 8] = [
    "iati-identifier",
    "reporting-org/@ref",
    "reporting-org/@type",
    "activity-status/@code",
    "participating-org",
    "activity-date",
    "sector",
    "recipient-country",
];

fn problem_elements(rejected: &RejectedActivity) -> Vec<&str> {
    rejected
        .problems
        .iter()
        .map(|p| p.element.as_str())
        .collect()
}

#[test]
fn schema_should_pass_documents() {
    let Some(dir) = data(&format!("{SCHEMA_TESTS}/should-pass/iati-activities")) else {
        return;
    };
    let files = xml_files(&dir);
    assert_eq!(files.len(), 157);
    let mut with_transaction_warning = 0;
    for file in &files {
        let outcome = Outcome::clean(file);
        assert!(outcome.accepted.is_empty(), "{}", file.display());
        assert_eq!(outcome.rejected.len(), 1, "{}", file.display());
        let rejected = &outcome.rejected[0];
        assert_eq!(
            problem_elements(rejected),
            PLACEHOLDER_PROBLEMS,
            "{}",
            file.display()
        );
        if rejected
            .warnings
            .iter()
            .any(|w| w.element == "transaction/value/@currency")
        {
            with_transaction_warning += 1;
        }
    }
    assert_eq!(with_transaction_warning, 3);
}

/// Once their placeholders are filled in and a sector and a country added, the should-pass
/// documents are accepted: nothing the schema allows trips the reader (namespaced elements
/// and attributes, comments, results and document links it does not read).
#[test]
fn schema_should_pass_documents_with_real_values() {
    let Some(dir) = data(&format!("{SCHEMA_TESTS}/should-pass/iati-activities")) else {
        return;
    };
    for file in xml_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("UTF-8");
        let filled = text
            .replace(
                "<iati-identifier></iati-identifier>",
                "<iati-identifier>XM-TEST-1</iati-identifier>",
            )
            .replace(r#"type="xx" ref="xx""#, r#"type="21" ref="XM-TEST""#)
            .replace(r#"role="xx""#, r#"role="4""#)
            .replace(
                r#"<activity-status code="xx"/>"#,
                r#"<activity-status code="2"/>"#,
            )
            .replacen(
                r#"<activity-date type="xx""#,
                r#"<activity-date type="1""#,
                1,
            )
            .replace(r#"<activity-date type="xx""#, r#"<activity-date type="3""#)
            .replace(
                "</iati-activity>",
                r#"<recipient-country code="KE"/><sector code="14030"/></iati-activity>"#,
            );
        let filled = Outcome::read(filled.as_bytes());
        assert!(filled.error.is_none(), "{}", file.display());
        assert!(
            filled.rejected.is_empty(),
            "{}: {:?}",
            file.display(),
            filled.rejected
        );
        assert_eq!(filled.accepted.len(), 1, "{}", file.display());
    }
}

/// The should-fail documents break the schema in results, document links and tags, which
/// Concord does not read; they are refused for the placeholders they share with the
/// should-pass documents, and each refusal says why.
#[test]
fn schema_should_fail_documents() {
    let Some(dir) = data(&format!("{SCHEMA_TESTS}/should-fail/iati-activities")) else {
        return;
    };
    let files = xml_files(&dir);
    assert_eq!(files.len(), 98);
    for file in &files {
        let outcome = Outcome::clean(file);
        assert!(outcome.accepted.is_empty(), "{}", file.display());
        assert_eq!(outcome.rejected.len(), 1, "{}", file.display());
        let rejected = &outcome.rejected[0];
        assert_eq!(
            problem_elements(rejected),
            PLACEHOLDER_PROBLEMS,
            "{}",
            file.display()
        );
        assert!(rejected.problems.iter().all(|p| !p.reason.is_empty()));
    }
}

/// Validates a document with `xmllint` against the 2.03 schema, the file given on stdin.
fn validate(document: &[u8], schema: &Path) {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(document)
        .expect("written to xmllint");
    let output = child.wait_with_output().expect("xmllint ends");
    let messages = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{messages}");
}

#[test]
fn covid_round_trip_validates_and_reads_back() {
    let (Some(path), Some(schema)) = (data(COVID), data(SCHEMA)) else {
        return;
    };
    if !xmllint() {
        return;
    }
    let first = Outcome::clean(&path);
    let activities: Vec<_> = first.accepted.iter().map(|a| &a.activity).collect();
    let generated = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
    let mut written = Vec::new();
    write_activities(&mut written, generated, activities.iter().copied()).expect("written");
    validate(&written, &schema);

    let again = Outcome::read(&written[..]);
    assert!(again.error.is_none(), "{:?}", again.error);
    assert!(again.rejected.is_empty());
    assert!(again.accepted.iter().all(|a| a.warnings.is_empty()));
    let reread: Vec<_> = again.accepted.iter().map(|a| &a.activity).collect();
    assert_eq!(reread.len(), 293);
    assert_eq!(reread, activities);
}

fn document_error(input: &[u8]) -> DocumentError {
    Outcome::read(input).error.expect("a document error")
}

#[test]
fn broken_files_give_a_document_error() {
    let Some(path) = data(COVID) else { return };
    let text = std::fs::read(&path).expect("readable");

    // Cut mid-file: the complete activities before the cut, then the error.
    let cut = &text[..1_000_000];
    let outcome = Outcome::read(cut);
    let complete = cut
        .windows(b"</iati-activity>".len())
        .filter(|w| w == b"</iati-activity>")
        .count();
    assert_eq!(outcome.accepted.len() + outcome.rejected.len(), complete);
    let error = outcome.error.expect("a document error");
    assert!(
        matches!(
            error.kind,
            DocumentErrorKind::Truncated(_) | DocumentErrorKind::Malformed(_)
        ),
        "{error}"
    );

    // A mismatched end tag in the 100th activity: 99 verdicts, then the error at its line.
    let text = String::from_utf8(text).expect("UTF-8");
    let activity = text
        .match_indices("<iati-activity ")
        .nth(99)
        .expect("100")
        .0;
    let title_end = activity + text[activity..].find("</title>").expect("a title");
    let broken = format!("{}</titel>{}", &text[..title_end], &text[title_end + 8..]);
    let outcome = Outcome::read(broken.as_bytes());
    assert_eq!(outcome.accepted.len() + outcome.rejected.len(), 99);
    let error = outcome.error.expect("a document error");
    let line = text[..title_end].matches('\n').count() as u64 + 1;
    assert_eq!((error.line, error.position), (line, title_end as u64));
    assert!(
        matches!(error.kind, DocumentErrorKind::Malformed(_)),
        "{error}"
    );

    // Not XML at all.
    for garbage in [
        &b"\xff\xfe\x00garbage"[..],
        b"hello, world",
        b"{\"json\": true}",
    ] {
        assert!(
            matches!(
                document_error(garbage).kind,
                DocumentErrorKind::Malformed(_)
            ),
            "{garbage:?}"
        );
    }
    assert_eq!(document_error(b"").kind, DocumentErrorKind::NoRoot);
}

#[test]
fn other_documents_are_refused_at_the_root() {
    let (Some(world_bank), Some(organisations)) = (
        data("IATI-Schemas/test-data/activities/worldbank.xml"),
        data(&format!(
            "{SCHEMA_TESTS}/should-pass/iati-organisations/iati-organisation/only-required-elements-exist.xml"
        )),
    ) else {
        return;
    };
    let error = Outcome::file(&world_bank).error.expect("refused");
    assert_eq!(
        error.kind,
        DocumentErrorKind::UnsupportedVersion("1.0".into())
    );
    assert_eq!(error.line, 2);
    let error = Outcome::file(&organisations).error.expect("refused");
    assert_eq!(
        error.kind,
        DocumentErrorKind::WrongRoot("iati-organisations".into())
    );
}
