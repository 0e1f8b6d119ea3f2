//! The needs reader against the real files the issue names (OCHA drought tables for
//! Ethiopia, Somalia and Kenya; HPC/HNO exports and HDX HAPI needs from hdx-scraper-hno).
//! Each test is skipped, with a line saying so, when `../shared/data` is not checked out.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::PathBuf;

use chrono::NaiveDate;
use concord_domain::need::NewNeed;
use concord_interop::needs::{
    NeedRow, NeedsFormat, NeedsOptions, NeedsTable, PrioritySeverity, read_needs,
};

fn data(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(path);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} is absent", path.display());
        None
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn options(country: Option<&str>) -> NeedsOptions {
    NeedsOptions {
        period_start: date(2022, 1, 1),
        period_end: date(2022, 12, 31),
        country: country.map(str::to_owned),
        source: Some("test file".into()),
        priority_severity: None,
    }
}

/// Reads the file and checks the promise every caller relies on: each need parses.
fn load(path: &str, country: Option<&str>) -> Option<NeedsTable> {
    let path = data(path)?;
    let table = read_needs(File::open(&path).unwrap(), &options(country)).unwrap();
    for row in &table.rows {
        if let Err(e) = NewNeed::parse(&row.need) {
            panic!("{}: line {}: {e}", path.display(), row.line);
        }
        assert_eq!(row.need.source.as_deref(), Some("test file"));
    }
    Some(table)
}

fn find<'t>(table: &'t NeedsTable, pcode: &str, sector: Option<&str>) -> &'t NeedRow {
    table
        .rows
        .iter()
        .find(|r| r.need.pcode == pcode && r.need.sector.as_deref() == sector)
        .unwrap_or_else(|| panic!("no need for {pcode} {sector:?}"))
}

fn by_sector(table: &NeedsTable) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in &table.rows {
        let key = row.need.sector.clone().unwrap_or_else(|| "*".into());
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const DROUGHT: &str = "hdx-python-scraper/tests/fixtures/input/";
const HNO: &str = "hdx-scraper-hno/tests/fixtures/";

#[test]
fn ethiopia_drought_table() {
    let Some(table) = load(
        &format!("{DROUGHT}ethiopia_drought_affected_targeted_reached_by_cluster.csv"),
        None,
    ) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HxlDrought);
    assert_eq!(table.rows.len(), 2507);
    assert_eq!(table.errors, Vec::new());
    assert_eq!(table.skipped, Vec::new());
    assert_eq!(
        by_sector(&table),
        counts(&[
            ("*", 391),
            ("311", 178),
            ("EDU", 206),
            ("FSC", 308),
            ("HEA", 386),
            ("NUT", 391),
            ("PRO", 254),
            ("SHL", 86),
            ("WSH", 307),
        ])
    );
    // `80 418` under HEALTH, on line 4 (the hashtag row is line 3).
    let erob = find(&table, "ET010302", Some("HEA"));
    assert_eq!(erob.need.people_in_need, 80_418);
    assert_eq!(erob.line, 4);
    assert_eq!(erob.area_name.as_deref(), Some("Erob"));
    assert_eq!(erob.parent_pcode.as_deref(), Some("ET0103"));
    assert_eq!(erob.admin_level, Some(3));
    assert_eq!(
        (erob.need.period_start, erob.need.period_end),
        (date(2022, 1, 1), date(2022, 12, 31))
    );
    // "Total Affected" is the intersectoral need; `13 403` is under PROTECTION.
    assert_eq!(find(&table, "ET010302", None).need.people_in_need, 80_418);
    assert_eq!(
        find(&table, "ET010302", Some("PRO")).need.people_in_need,
        13_403
    );
    // The two bare `#inneed` columns, told apart by ESNFI and AGRICULTURE above them.
    let agriculture = find(&table, "ET020101", Some("311"));
    assert_eq!(agriculture.need.people_in_need, 191);
    assert_eq!(
        find(&table, "ET020101", Some("FSC")).need.people_in_need,
        47_458
    );
    assert!(
        table
            .rows
            .iter()
            .any(|r| r.need.sector.as_deref() == Some("SHL"))
    );
}

/// Reads a file with a `#priority`-to-severity map.
fn load_with_priorities(path: &str, map: &str) -> Option<NeedsTable> {
    let path = data(path)?;
    let mut options = options(None);
    options.priority_severity = Some(map.parse::<PrioritySeverity>().unwrap());
    let table = read_needs(File::open(&path).unwrap(), &options).unwrap();
    for row in &table.rows {
        if let Err(e) = NewNeed::parse(&row.need) {
            panic!("{}: line {}: {e}", path.display(), row.line);
        }
    }
    Some(table)
}

/// (severity, sector or `*`) to the number of needs.
fn by_severity(table: &NeedsTable, sector: Option<&str>) -> BTreeMap<Option<i64>, usize> {
    let mut counts = BTreeMap::new();
    for row in &table.rows {
        if sector.is_none() || row.need.sector.as_deref() == sector {
            *counts.entry(row.need.severity).or_default() += 1;
        }
    }
    counts
}

const ETHIOPIA: &str = "ethiopia_drought_affected_targeted_reached_by_cluster.csv";

#[test]
fn ethiopia_priorities_are_not_severities_by_default() {
    let Some(table) = load(&format!("{DROUGHT}{ETHIOPIA}"), None) else {
        return;
    };
    assert!(table.rows.iter().all(|r| r.need.severity.is_none()));
}

#[test]
fn ethiopia_drought_table_with_priorities_mapped_to_severities() {
    let Some(table) = load_with_priorities(&format!("{DROUGHT}{ETHIOPIA}"), "1=4,2=3,3=2") else {
        return;
    };
    // The same needs as without the map: only their severity changes.
    assert_eq!(table.rows.len(), 2507);
    assert_eq!(table.errors, Vec::new());
    assert_eq!(table.skipped, Vec::new());
    // 35 woredas of priority 1, 164 of priority 2 and 192 of priority 3; every need of a
    // woreda takes its priority's severity.
    assert_eq!(
        by_severity(&table, None),
        BTreeMap::from([(Some(2), 1030), (Some(3), 1190), (Some(4), 287)])
    );
    assert_eq!(
        by_severity(&table, Some("WSH")),
        BTreeMap::from([(Some(2), 125), (Some(3), 147), (Some(4), 35)])
    );
    // Erob (Eastern Tigray) is priority 3; Gabi (Afar zone 3) is priority 1.
    assert_eq!(find(&table, "ET010302", Some("HEA")).need.severity, Some(2));
    assert_eq!(find(&table, "ET010302", None).need.severity, Some(2));
    assert_eq!(find(&table, "ET020301", Some("WSH")).need.severity, Some(4));
    assert_eq!(find(&table, "ET020101", Some("WSH")).need.severity, Some(3));
}

#[test]
fn ethiopia_priority_without_a_severity_is_a_row_error() {
    let Some(table) = load_with_priorities(&format!("{DROUGHT}{ETHIOPIA}"), "1=4,2=3") else {
        return;
    };
    // Every priority-3 woreda is refused its severity, once per row, at the #priority column.
    assert_eq!(table.errors.len(), 192);
    assert!(table.errors.iter().all(|e| {
        e.column.as_deref() == Some("#priority")
            && e.reason.starts_with("priority \"3\" has no severity")
    }));
    assert_eq!(
        table.errors[0].line, 4,
        "Erob, the first row, is priority 3"
    );
    // The needs are still read, without a severity.
    assert_eq!(table.rows.len(), 2507);
    assert_eq!(
        by_severity(&table, None),
        BTreeMap::from([(None, 1030), (Some(3), 1190), (Some(4), 287)])
    );
}

#[test]
fn kenya_drought_table() {
    let Some(table) = load(
        &format!("{DROUGHT}kenya_drought_affected_targeted_reached_by_cluster.csv"),
        Some("KE"),
    ) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HxlDrought);
    assert_eq!(table.rows.len(), 139);
    assert_eq!(table.errors, Vec::new());
    assert_eq!(
        by_sector(&table),
        counts(&[
            ("*", 21),
            ("EDU", 8),
            ("FSC", 13),
            ("HEA", 12),
            ("NUT", 15),
            ("PRO", 20),
            ("PRO-CPN", 15),
            ("PRO-GBV", 18),
            ("WSH", 17),
        ])
    );
    let garissa = find(&table, "KE007", Some("FSC"));
    assert_eq!(garissa.need.people_in_need, 252_406);
    assert_eq!(garissa.area_name.as_deref(), Some("Garissa"));
    assert_eq!(garissa.admin_level, Some(1));
    assert_eq!(garissa.parent_pcode.as_deref(), Some("KE"));
    assert_eq!(find(&table, "KE007", None).need.people_in_need, 371_951);
    assert_eq!(
        find(&table, "KE007", Some("PRO-CPN")).need.people_in_need,
        34_611
    );
    assert_eq!(
        find(&table, "KE007", Some("PRO-GBV")).need.people_in_need,
        139_328
    );
    // Narok and Embu are listed with no figure at all: nothing to read, nothing to report.
    assert!(!table.rows.iter().any(|r| r.need.pcode == "KE033"));
}

#[test]
fn somalia_drought_table() {
    let Some(table) = load(
        &format!("{DROUGHT}somalia_drought_affected_targeted_reached_by_cluster.csv"),
        None,
    ) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HxlDrought);
    assert_eq!(table.rows.len(), 74);
    assert_eq!(table.errors, Vec::new());
    // The cluster columns are all empty: only "Total Affected" is given.
    assert_eq!(by_sector(&table), counts(&[("*", 74)]));
    let zeylac = find(&table, "SO1104", None);
    assert_eq!(zeylac.need.people_in_need, 23_353);
    assert_eq!(zeylac.parent_pcode.as_deref(), Some("SO11"));
    assert_eq!(zeylac.admin_level, Some(2));
    assert_eq!(find(&table, "SO2201", None).need.people_in_need, 1_073_325);
}

#[test]
fn afghanistan_hpc_export() {
    let Some(table) = load(&format!("{HNO}afg_hpc_needs_api_2024.csv"), Some("AF")) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HpcHno);
    // 12 sectors (intersectoral included) for Afghanistan, Kabul province and Kabul district.
    assert_eq!(table.rows.len(), 36);
    let errors: Vec<_> = table
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![(
            6,
            "cluster \"MS\" (Border Consortium Appeal) is not a cluster Concord knows"
        )]
    );
    assert_eq!(table.skipped.len(), 778);
    let overall = table
        .skipped
        .iter()
        .filter(|s| s.reason.contains("Protection (overall)"))
        .count();
    assert_eq!(overall, 3);
    let afghanistan = find(&table, "AF", Some("FSC"));
    assert_eq!(afghanistan.need.people_in_need, 15_823_677);
    assert_eq!(afghanistan.admin_level, Some(0));
    assert_eq!(find(&table, "AF", None).need.people_in_need, 23_666_389);
    assert_eq!(
        find(&table, "AF", Some("PRO")).need.people_in_need,
        14_809_904
    );
    let kabul = find(&table, "AF01", Some("HEA"));
    assert_eq!(kabul.parent_pcode.as_deref(), Some("AF"));
    assert_eq!(kabul.area_name.as_deref(), Some("Kabul"));
    assert_eq!(find(&table, "AF0101", None).admin_level, Some(2));
}

#[test]
fn afghanistan_hpc_export_without_the_country() {
    let Some(table) = load(&format!("{HNO}afg_hpc_needs_api_2024.csv"), None) else {
        return;
    };
    // The 15 country-level rows cannot be placed without the country.
    assert_eq!(table.rows.len(), 24);
    assert_eq!(table.errors.len(), 15);
    assert!(table.errors.iter().all(|e| e.line <= 16));
    assert!(table.errors[0].reason.contains("give the country"));
}

#[test]
fn sudan_hpc_export() {
    let Some(table) = load(&format!("{HNO}sdn_hpc_needs_api_2021.csv"), Some("SD")) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HpcHno);
    assert_eq!(table.rows.len(), 23);
    let errors: Vec<_> = table.errors.iter().map(|e| e.line).collect();
    assert_eq!(errors, vec![2, 8, 23, 64]);
    assert_eq!(table.skipped.len(), 49);
    // Only "Protection (overall)" is given: it is PRO.
    assert_eq!(
        find(&table, "SD", Some("PRO")).need.people_in_need,
        7_740_348
    );
    // Female / Male / IDPs / Host communities / Refugees fold into bands.
    let jebel_awlia = find(&table, "SD01001", None);
    assert_eq!(jebel_awlia.need.people_in_need, 621_782);
    let bands: HashSet<_> = jebel_awlia
        .need
        .bands
        .iter()
        .map(|b| (b.sex.clone(), b.group.clone(), b.people))
        .collect();
    let expected: HashSet<_> = [
        (Some("F".to_owned()), None, 304_673),
        (Some("M".to_owned()), None, 317_109),
        (None, Some("IDP".to_owned()), 7_380),
        (None, Some("HST".to_owned()), 22_064),
        (None, Some("REF".to_owned()), 14_684),
    ]
    .into_iter()
    .collect();
    assert_eq!(bands, expected);
}

#[test]
fn combined_hpc_export_with_country_codes() {
    let Some(table) = load(&format!("{HNO}hpc_hno_2024.csv"), None) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HpcHno);
    assert_eq!(table.rows.len(), 59);
    assert_eq!(table.errors.len(), 5);
    assert_eq!(table.skipped.len(), 827);
    assert_eq!(
        find(&table, "AF", Some("FSC")).need.people_in_need,
        15_823_677
    );
    assert_eq!(
        find(&table, "SD", Some("WSH")).need.people_in_need,
        18_982_714
    );
}

#[test]
fn hapi_global_needs() {
    let Some(table) = load(
        &format!("{HNO}hdx_hapi_humanitarian_needs_global_2024.csv"),
        None,
    ) else {
        return;
    };
    assert_eq!(table.format, NeedsFormat::HapiNeeds);
    assert_eq!(table.rows.len(), 59);
    let errors: Vec<_> = table.errors.iter().map(|e| e.line).collect();
    assert_eq!(errors, vec![12, 1677, 1693, 1799, 1942]);
    assert_eq!(table.skipped.len(), 823);
    let fsc = find(&table, "AF", Some("FSC"));
    assert_eq!(fsc.need.people_in_need, 15_823_677);
    assert_eq!(
        (fsc.need.period_start, fsc.need.period_end),
        (date(2024, 1, 5), date(2024, 12, 24))
    );
    assert_eq!(
        find(&table, "AF", Some("PRO")).need.people_in_need,
        14_809_904
    );
    let district = find(&table, "AF0101", Some("HEA"));
    assert_eq!(district.parent_pcode.as_deref(), Some("AF01"));
    assert_eq!(district.admin_level, Some(2));
}

/// The HAPI file is HDX's rendering of the same HPC data: both readers must agree.
#[test]
fn hapi_and_hpc_agree() {
    let (Some(hpc), Some(hapi)) = (
        load(&format!("{HNO}hpc_hno_2024.csv"), None),
        load(
            &format!("{HNO}hdx_hapi_humanitarian_needs_global_2024.csv"),
            None,
        ),
    ) else {
        return;
    };
    let cells = |t: &NeedsTable| -> HashSet<_> {
        t.rows
            .iter()
            .map(|r| {
                (
                    r.need.pcode.clone(),
                    r.need.sector.clone(),
                    r.need.people_in_need,
                    r.need.bands.len(),
                )
            })
            .collect()
    };
    assert_eq!(cells(&hpc), cells(&hapi));
}
