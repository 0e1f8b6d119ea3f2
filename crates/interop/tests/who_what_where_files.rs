//! The 3W reader and writer against real files: the 345W activity tables of Honduras, El
//! Salvador and Guatemala (OCHA Latin America, kept as fixtures by hdx-scraper-covid-viz),
//! and libhxl-python's input edge cases. Each test that needs `../shared/data` is skipped,
//! with a line saying so, when it is not checked out, and fails instead when `CI` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use chrono::NaiveDate;
use concord_domain::intervention::{InterventionInput, NewIntervention};
use concord_domain::organisation::OrganisationId;
use concord_domain::organisation_matching::{
    KnownOrganisation, MatchMethod, OrganisationMatch, OrganisationMatcher, OrganisationMention,
    suggest_duplicates,
};
use concord_domain::values::ActivityStatus;
use concord_interop::hxl::TextEncoding;
use concord_interop::who_what_where::{
    ActivityRow, IssueKind, WhoWhatWhereError, WhoWhatWhereOptions, WhoWhatWhereTable,
    read_who_what_where, write_who_what_where,
};

fn data(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(path);
    if path.exists() {
        Some(path)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} is absent, and CI is set", path.display());
    } else {
        println!("skipped: {} is absent", path.display());
        None
    }
}

fn bytes(path: &str) -> Option<Vec<u8>> {
    data(path).map(|p| fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn read_bytes(bytes: &[u8]) -> Result<WhoWhatWhereTable, WhoWhatWhereError> {
    read_who_what_where(bytes, &WhoWhatWhereOptions::default())
}

fn load(path: &str) -> Option<WhoWhatWhereTable> {
    let bytes = bytes(path)?;
    Some(read_bytes(&bytes).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn kinds(pairs: &[(IssueKind, usize)]) -> BTreeMap<IssueKind, usize> {
    pairs.iter().copied().collect()
}

/// What the exact-count assertions look at.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    data_rows: usize,
    ok: usize,
    failed: usize,
    errors: BTreeMap<IssueKind, usize>,
    warnings: BTreeMap<IssueKind, usize>,
    organisations: usize,
    sectors: usize,
    pcodes: usize,
}

fn counts(table: &WhoWhatWhereTable) -> Counts {
    let organisations: BTreeSet<&str> = table
        .rows
        .iter()
        .flat_map(|r| r.organisations.iter())
        .filter_map(|o| o.name.as_deref())
        .collect();
    let sectors: BTreeSet<(String, &str)> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.sector.vocabulary.iati_code().to_owned(),
                r.sector.code.as_str(),
            )
        })
        .collect();
    let pcodes: BTreeSet<&str> = table
        .rows
        .iter()
        .map(|r| r.location.pcode.as_str())
        .collect();
    Counts {
        data_rows: table.data_rows,
        ok: table.rows.len(),
        failed: table.failed_rows(),
        errors: table.errors_by_kind(),
        warnings: table.warnings_by_kind(),
        organisations: organisations.len(),
        sectors: sectors.len(),
        pcodes: pcodes.len(),
    }
}

/// The promises every real file must keep, whatever its counts.
fn check_invariants(name: &str, table: &WhoWhatWhereTable) {
    assert_eq!(table.encoding, TextEncoding::Utf8, "{name}");
    assert_eq!(table.tag_line, 2, "{name}");
    // Every data row is read or reported; none is lost.
    assert_eq!(
        table.rows.len() + table.failed_rows(),
        table.data_rows,
        "{name}"
    );
    // 345W tags 9 of its 49 columns; the reader takes 25 more by their headers (13 about the
    // activity, 12 breaking down people reached by sex and age), and keeps 16 it does not
    // read: the other 15 untagged ones and `#adm0 +name`.
    assert_eq!(table.inferred_tags.len(), 25, "{name}");
    assert_eq!(table.unmapped_columns.len(), 16, "{name}");
    let ids: BTreeSet<&str> = table.rows.iter().map(|r| r.external_id.as_str()).collect();
    assert_eq!(ids.len(), table.rows.len(), "{name}: ids are unique");
    let warned: BTreeSet<u64> = table.warnings.iter().map(|w| w.line).collect();
    let read: BTreeSet<u64> = table.rows.iter().map(|r| r.line).collect();
    assert!(
        warned.is_subset(&read),
        "{name}: warnings only about rows read"
    );
    for row in &table.rows {
        // Each row makes a valid intervention once its organisation is resolved.
        let input = InterventionInput {
            external_id: row.external_id.clone(),
            title: row.title.clone().unwrap_or_else(|| "activity".into()),
            reporting_organisation: OrganisationId(1),
            sectors: vec![row.sector.input()],
            locations: vec![row.location.input()],
            planned_start: Some(row.start.unwrap_or(NaiveDate::MIN)),
            planned_end: row.end,
            status: row.status.code().into(),
            kind: "RESPONSE".into(),
            approach: "PROTECTION".into(),
            ..InterventionInput::default()
        };
        if let Err(e) = NewIntervention::parse(&input) {
            panic!("{name}: line {}: {e}", row.line);
        }
    }
}

fn without_lines(rows: &[ActivityRow]) -> Vec<ActivityRow> {
    rows.iter()
        .map(|r| ActivityRow {
            line: 0,
            ..r.clone()
        })
        .collect()
}

/// Write, read back, compare: the same rows, lines aside.
fn check_round_trip(name: &str, table: &WhoWhatWhereTable) {
    let mut out = Vec::new();
    write_who_what_where(&mut out, &table.rows).unwrap();
    let again = read_bytes(&out).unwrap_or_else(|e| panic!("{name} written: {e}"));
    assert_eq!(again.errors, Vec::new(), "{name} written");
    assert_eq!(again.data_rows, table.rows.len(), "{name} written");
    assert_eq!(again.tag_line, 2);
    assert_eq!(
        without_lines(&again.rows),
        without_lines(&table.rows),
        "{name} written"
    );
    // The id column is now the file's own, so a second round gives byte-identical output.
    let mut twice = Vec::new();
    write_who_what_where(&mut twice, &again.rows).unwrap();
    assert_eq!(twice, out, "{name}: writing is deterministic");
}

const COVID_VIZ: &str = "hdx-scraper-covid-viz/tests/fixtures/input/";
const TEST_IO: &str = "libhxl-python/tests/files/test_io/";

// The issue counts 2,730 (Honduras), 2,758 (El Salvador) and 1,197 (Guatemala) activities:
// those are the data rows (every record below the header and hashtag rows; the files hold
// 3,068, 2,816 and 1,237 text lines because 313, 53 and 9 cells span several lines). Rows
// read plus rows with errors add up to them exactly; errors can outnumber failed rows since
// a row reports each of its problems (one Guatemala row has no sector and a junk P-code).

#[test]
fn honduras() {
    let name = "Honduras";
    let Some(table) = load(&format!("{COVID_VIZ}whowhatwhere_345_honduras.csv")) else {
        return;
    };
    check_invariants(name, &table);
    assert_eq!(
        counts(&table),
        Counts {
            data_rows: 2730,
            ok: 2700,
            failed: 30,
            errors: kinds(&[
                // "Transferencias Multipropósito": multi-purpose cash is no one sector.
                (IssueKind::UnknownSector, 8),
                // "31" in PCODE2.
                (IssueKind::BadPcode, 18),
                (IssueKind::EndBeforeStart, 4),
            ]),
            warnings: kinds(&[
                // 3 rows start and end on 01/01/1970, 12 more end on it.
                (IssueKind::EpochDate, 18),
                // HN00 "Cobertura Nacional".
                (IssueKind::NationalCoverage, 150),
                // Girls, boys, women or men above PERSONAS ALCANZADAS.
                (IssueKind::BandsOverTotal, 431),
            ]),
            organisations: 56,
            // The 11 clusters and coordination (DAC 72050).
            sectors: 12,
            pcodes: 224,
        }
    );
    assert_eq!(table.country.as_deref(), Some("HN"));

    // The first activity, as the file states it.
    let first = &table.rows[0];
    assert_eq!(first.line, 3);
    assert_eq!(first.external_id, "745275");
    assert_eq!(first.sector.as_written, "Educación");
    assert_eq!(first.sector.code, "3");
    assert_eq!(first.location.pcode, "HN1601");
    assert_eq!(
        first.location.admin_names[1].as_deref(),
        Some("Santa Bárbara")
    );
    assert_eq!(first.start, NaiveDate::from_ymd_opt(2021, 7, 1));
    assert_eq!(first.end, NaiveDate::from_ymd_opt(2021, 12, 31));
    assert_eq!(first.status, ActivityStatus::Pipeline);
    assert_eq!(
        first
            .organisations
            .iter()
            .map(|o| (format!("{:?}", o.role), o.name.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            ("Reporting".to_owned(), Some("SC")),
            ("Funding".to_owned(), Some("UNICEF")),
        ]
    );
    let reached = first.reached.as_ref().unwrap();
    assert_eq!(reached.total, Some(663));
    assert_eq!(reached.bands.len(), 12);

    // Junk P-codes are reported with their line and column, the rest of the file is read.
    let junk = table
        .errors
        .iter()
        .find(|e| e.kind == IssueKind::BadPcode)
        .unwrap();
    assert_eq!(junk.column.as_deref(), Some("#adm2 +pcode"));
    assert_eq!(
        junk.reason,
        "\"31\" must start with an ISO 3166-1 country code"
    );
    let statuses: BTreeMap<ActivityStatus, usize> =
        table.rows.iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.status).or_default() += 1;
            m
        });
    assert_eq!(
        statuses,
        [
            // "Planeada".
            (ActivityStatus::Pipeline, 120),
            // 598 "En ejecución" and 10 blank (9 more "En ejecución" rows have errors).
            (ActivityStatus::Implementation, 598 + 10),
            // "Finalizada" (21 more have errors).
            (ActivityStatus::Finalisation, 1972),
        ]
        .into_iter()
        .collect()
    );
    check_round_trip(name, &table);
}

#[test]
fn el_salvador() {
    let name = "El Salvador";
    let Some(table) = load(&format!("{COVID_VIZ}whowhatwhere_345w_el_salvador.csv")) else {
        return;
    };
    check_invariants(name, &table);
    assert_eq!(
        counts(&table),
        Counts {
            data_rows: 2758,
            ok: 2614,
            failed: 144,
            errors: kinds(&[
                // Blank ORGANIZACIÓN IMPLEMENTADORA.
                (IssueKind::NoOrganisation, 56),
                (IssueKind::UnknownSector, 5),
                (IssueKind::BadPcode, 61),
                (IssueKind::EndBeforeStart, 22),
            ]),
            warnings: kinds(&[
                (IssueKind::EpochDate, 483),
                (IssueKind::NationalCoverage, 347),
                (IssueKind::BandsOverTotal, 80),
            ]),
            organisations: 54,
            sectors: 11,
            pcodes: 243,
        }
    );
    assert_eq!(table.country.as_deref(), Some("SV"));
    let national = table
        .rows
        .iter()
        .filter(|r| r.location.admin_level == 0)
        .count();
    assert_eq!(national, 347);
    check_round_trip(name, &table);
}

#[test]
fn guatemala() {
    let name = "Guatemala";
    let Some(table) = load(&format!("{COVID_VIZ}whowhatwhere_345w_guatemala.csv")) else {
        return;
    };
    check_invariants(name, &table);
    assert_eq!(
        counts(&table),
        Counts {
            data_rows: 1197,
            ok: 1181,
            failed: 16,
            errors: kinds(&[
                (IssueKind::NoSector, 1),
                (IssueKind::UnknownSector, 5),
                (IssueKind::BadPcode, 11),
            ]),
            warnings: kinds(&[
                (IssueKind::EpochDate, 2),
                (IssueKind::NationalCoverage, 24),
                (IssueKind::BandsOverTotal, 12),
            ]),
            organisations: 48,
            sectors: 11,
            pcodes: 168,
        }
    );
    // The row with two problems: no sector, and "31" for its admin 2 P-code.
    let no_sector = table
        .errors
        .iter()
        .find(|e| e.kind == IssueKind::NoSector)
        .unwrap();
    let same_row: Vec<IssueKind> = table
        .errors
        .iter()
        .filter(|e| e.line == no_sector.line)
        .map(|e| e.kind)
        .collect();
    assert_eq!(same_row, vec![IssueKind::NoSector, IssueKind::BadPcode]);
    assert_eq!(table.errors.len(), 17);
    check_round_trip(name, &table);
}

#[test]
fn libhxl_edge_cases() {
    let Some(valid) = bytes(&format!("{TEST_IO}input-valid.csv")) else {
        return;
    };
    // Valid HXL, but its areas are names ("Los Santos") under a bare #adm1, with no P-code:
    // the 4 rows are read and each is reported, rather than placed by guessing.
    let table = read_bytes(&valid).unwrap();
    assert_eq!(table.tag_line, 3);
    assert_eq!(table.data_rows, 4);
    assert!(table.rows.is_empty());
    let errors: Vec<(u64, IssueKind)> = table.errors.iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        errors,
        (4..=7)
            .map(|line| (line, IssueKind::AreaWithoutPcode))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        table.errors[2].reason,
        "\"Chocó\" (admin 1) has no P-code; areas are not matched by name"
    );
    // "Registro" (untagged), the country names and the report date are kept, not read.
    let unmapped: Vec<(Option<&str>, Option<&str>)> = table
        .unmapped_columns
        .iter()
        .map(|c| (c.header.as_deref(), c.tag.as_deref()))
        .collect();
    assert_eq!(
        unmapped,
        vec![
            (Some("Registro"), None),
            (Some("País"), Some("#country")),
            (None, Some("#date+reported")),
        ]
    );

    // The same file in Latin-1 reads to the same result.
    let latin1 = bytes(&format!("{TEST_IO}input-valid-latin1.csv")).unwrap();
    let decoded = read_bytes(&latin1).unwrap();
    assert_eq!(decoded.encoding, TextEncoding::Windows1252);
    assert_eq!(decoded.errors, table.errors);
    assert_eq!(decoded.unmapped_columns, table.unmapped_columns);

    // A junk row and a header above the hashtag row, but no sector: nothing can be read.
    let multiple = bytes(&format!("{TEST_IO}input-multiple-headers.csv")).unwrap();
    let err = read_bytes(&multiple).unwrap_err();
    assert!(
        matches!(&err, WhoWhatWhereError::MissingColumns { line: 3, missing } if missing == &["#sector"]),
        "{err}"
    );

    // No hashtag row at all; tags written without `#` are no hashtags either.
    for file in ["input-untagged.csv", "input-invalid.csv"] {
        let bytes = bytes(&format!("{TEST_IO}{file}")).unwrap();
        let err = read_bytes(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no HXL hashtag row in the first 10 rows",
            "{file}"
        );
    }

    // libhxl accepts a row where half the cells are hashtags; "country" and "adm1" would
    // then silently be untagged, so the row is refused with what is wrong with it.
    let fuzzy = bytes(&format!("{TEST_IO}input-fuzzy.csv")).unwrap();
    let err = read_bytes(&fuzzy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3 looks like the HXL hashtag row, but \"country\", \"adm1\" are not hashtags (a hashtag starts with #, e.g. #adm1+code)"
    );

    // Tab-separated: the reader reads CSV only, so no hashtag row is found.
    let tsv = bytes(&format!("{TEST_IO}input-valid.tsv")).unwrap();
    assert!(matches!(
        read_bytes(&tsv),
        Err(WhoWhatWhereError::NoHashtagRow)
    ));
}

#[test]
fn malformed_csv_is_a_typed_error_or_row_errors() {
    // An unterminated quote would swallow the rest of the file into one cell.
    let text =
        "Org,Sector,P-code\n#org,#sector,#adm1+code\nA,WASH,HN01\n\"B,WASH,HN02\nC,WASH,HN03\n";
    assert!(matches!(
        read_bytes(text.as_bytes()),
        Err(WhoWhatWhereError::UnterminatedQuote(4))
    ));
    // No hashtag row within the first ten rows.
    let late = format!(
        "{}#org,#sector,#adm1+code\nA,WASH,HN01\n",
        "junk,junk,junk\n".repeat(10)
    );
    assert!(matches!(
        read_bytes(late.as_bytes()),
        Err(WhoWhatWhereError::NoHashtagRow)
    ));
    // Ragged rows: short rows are read with empty cells, long ones reported.
    let ragged = "#org,#sector,#adm1+code,#activity\nA,WASH,HN01\nB,WASH,HN01,Kits,,,\nC,WASH,HN01,Kits,oops\nD\n";
    let table = read_bytes(ragged.as_bytes()).unwrap();
    assert_eq!(table.data_rows, 4);
    assert_eq!(
        table
            .rows
            .iter()
            .map(|r| (r.line, r.title.as_deref()))
            .collect::<Vec<_>>(),
        vec![(2, None), (3, Some("Kits"))]
    );
    let errors: Vec<(u64, IssueKind)> = table.errors.iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        errors,
        vec![
            (4, IssueKind::Ragged),
            (5, IssueKind::NoSector),
            (5, IssueKind::NoLocation)
        ]
    );
}

#[test]
fn damaged_real_files_never_panic() {
    let Some(honduras) = bytes(&format!("{COVID_VIZ}whowhatwhere_345_honduras.csv")) else {
        return;
    };
    // Cut anywhere (inside a quoted cell, inside a UTF-8 character, inside the hashtag
    // row), or with a stray quote or byte added: a result or a typed error, never a panic.
    let n = honduras.len();
    for k in 0..12 {
        let at = n * k / 12 + k * 7;
        let cut = &honduras[..at.min(n)];
        let _ = read_bytes(cut);
        for stray in [b'"', 0xff, b'\n'] {
            let mut damaged = honduras.clone();
            damaged.insert(at.min(n), stray);
            let _ = read_bytes(&damaged);
        }
    }
}

#[test]
fn honduras_organisation_names() {
    let Some(table) = load(&format!("{COVID_VIZ}whowhatwhere_345_honduras.csv")) else {
        return;
    };
    let names: BTreeSet<&str> = table
        .rows
        .iter()
        .flat_map(|r| r.organisations.iter())
        .filter_map(|o| o.name.as_deref())
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    assert_eq!(names.len(), 56);

    // Mostly bare acronyms (WVI, PMA, CRH): one probable duplicate, by spelling only.
    let suggestions = suggest_duplicates(&names);
    for suggestion in &suggestions {
        println!("{:?}: {:?}", suggestion.names, suggestion.reasons);
    }
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0].names, vec!["CARITAS", "Cáritas"]);

    // Against a few known organisations: acronyms match by acronym, spellings by name, and
    // "SC" stays unmatched, since initials only ever suggest.
    let known = |id, name: &str, acronym: Option<&str>| KnownOrganisation {
        id: OrganisationId(id),
        name: name.into(),
        acronym: acronym.map(Into::into),
        iati_identifier: None,
    };
    let known = [
        known(1, "Save the Children International", Some("SCI")),
        known(2, "World Vision International", Some("WVI")),
        known(3, "Programa Mundial de Alimentos", Some("PMA")),
        known(4, "Plan International", Some("PLAN")),
        known(5, "Cáritas", None),
        known(
            6,
            "Fondo de las Naciones Unidas para la Infancia",
            Some("UNICEF"),
        ),
    ];
    let matcher = OrganisationMatcher::new(&known);
    let matched: BTreeMap<&str, (i64, MatchMethod)> = names
        .iter()
        .filter_map(
            |name| match matcher.find(&OrganisationMention::name(name)) {
                OrganisationMatch::Matched(id, how) => Some((*name, (id.0, how))),
                _ => None,
            },
        )
        .collect();
    assert_eq!(
        matched,
        [
            ("CARITAS", (5, MatchMethod::Name)),
            ("Cáritas", (5, MatchMethod::Name)),
            ("PLAN", (4, MatchMethod::Acronym)),
            ("PMA", (3, MatchMethod::Acronym)),
            ("UNICEF", (6, MatchMethod::Acronym)),
            ("WVI", (2, MatchMethod::Acronym)),
        ]
        .into_iter()
        .collect()
    );
}
