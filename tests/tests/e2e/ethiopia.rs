//! The real Ethiopia drought table end to end: its own admin columns imported as areas, its
//! needs imported with `--priority-severity`, a few WASH interventions registered, and the
//! WASH `UNCOVERED` gaps compared with a set computed here, independently, from the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use concord_e2e::TestApp;
use serde_json::{Value, json};

use crate::support::{create_intervention, create_organisation, water_input};

const ETHIOPIA: &str = "hdx-python-scraper/tests/fixtures/input/ethiopia_drought_affected_targeted_reached_by_cluster.csv";

/// The map given to `--priority-severity`, as the test reads it.
const PRIORITY_SEVERITY: &str = "1=4,2=3,3=2";
const PRIORITIES: [(&str, u8); 3] = [("1", 4), ("2", 3), ("3", 2)];

/// `UNCOVERED` needs a severity of at least this (the documented default).
const MIN_SEVERITY_UNCOVERED: u8 = 3;

/// One row of the table: a woreda (admin 3), its zone and region, its operational priority
/// and its WASH people in need.
struct Woreda {
    pcode: String,
    name: String,
    zone: (String, String),
    region: (String, String),
    priority: String,
    wash: Option<u64>,
}

/// Reads the table with the `csv` crate, not Concord's reader: two free-text header rows,
/// then the hashtag row, then one row per woreda.
fn read_woredas(path: &Path) -> Vec<Woreda> {
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .collect::<Result<_, _>>()
        .unwrap();
    let tags = rows
        .iter()
        .position(|r| r.get(0).is_some_and(|c| c.starts_with('#')))
        .expect("a hashtag row");
    assert_eq!(tags, 2, "two free-text header rows above the hashtags");
    let column = |tag: &str| {
        rows[tags]
            .iter()
            .position(|c| c.trim() == tag)
            .unwrap_or_else(|| panic!("no {tag} column"))
    };
    let [code3, name3, code2, name2, code1, name1, priority, wash] = [
        "#adm3+code",
        "#adm3+name",
        "#adm2+code",
        "#adm2+name",
        "#adm1+code",
        "#adm1+name",
        "#priority",
        "#inneed+wash",
    ]
    .map(column);
    rows[tags + 1..]
        .iter()
        .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
        .map(|r| {
            let cell = |i: usize| r.get(i).unwrap_or("").trim().to_owned();
            // `80 418`: thousands separated by spaces; `-` or nothing: no figure.
            let figure = cell(wash).replace([' ', '\u{a0}', ','], "");
            Woreda {
                pcode: cell(code3),
                name: cell(name3),
                zone: (cell(code2), cell(name2)),
                region: (cell(code1), cell(name1)),
                priority: cell(priority),
                wash: match figure.as_str() {
                    "" | "-" => None,
                    n => Some(n.parse().unwrap_or_else(|_| panic!("WASH figure {n:?}"))),
                },
            }
        })
        .collect()
}

/// A P-code table (`concord import areas`) built from the file's own admin columns:
/// Ethiopia's regions, zones and woredas, each once; and its number of rows.
fn areas_csv(woredas: &[Woreda]) -> (Vec<u8>, usize) {
    let mut regions = BTreeMap::new();
    let mut zones = BTreeMap::new();
    for w in woredas {
        regions.insert(w.region.0.as_str(), w.region.1.as_str());
        zones.insert(w.zone.0.as_str(), (w.zone.1.as_str(), w.region.0.as_str()));
    }
    let mut rows = vec![[
        "Location",
        "Admin Level",
        "P-Code",
        "Name",
        "Parent P-Code",
        "Valid from date",
    ]];
    for (code, name) in &regions {
        rows.push(["ETH", "1", code, name, "ETH", "2021-01-01"]);
    }
    for (code, (name, region)) in &zones {
        rows.push(["ETH", "2", code, name, region, "2021-01-01"]);
    }
    for w in woredas {
        rows.push(["ETH", "3", &w.pcode, &w.name, &w.zone.0, "2021-01-01"]);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &rows {
        writer.write_record(row).unwrap();
    }
    (writer.into_inner().unwrap(), rows.len() - 1)
}

const GAPS: &str = "query($f: GapFilter, $after: String) { gaps(filter: $f, first: 500, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { kind pcode severity peopleInNeed sector { hpcCode } } } } }";

/// Every WASH gap of the given kinds in 2022, page by page: (P-code, severity, people).
async fn wash_gaps(app: &TestApp, kinds: &[&str]) -> Vec<(String, Option<i64>, i64)> {
    let mut gaps = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                GAPS,
                json!({
                    "f": { "sector": "WSH", "kinds": kinds, "from": "2022-01-01", "to": "2022-12-31" },
                    "after": after,
                }),
            )
            .await;
        let page = &data["gaps"];
        for edge in page["edges"].as_array().unwrap() {
            let node = &edge["node"];
            assert!(kinds.contains(&node["kind"].as_str().unwrap()), "{node}");
            assert_eq!(node["sector"]["hpcCode"], "WSH", "{node}");
            gaps.push((
                node["pcode"].as_str().unwrap().to_owned(),
                node["severity"].as_i64(),
                node["peopleInNeed"].as_i64().unwrap(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            assert_eq!(page["totalCount"].as_u64().unwrap() as usize, gaps.len());
            return gaps;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The acceptance test: the real Ethiopia needs file plus a set of interventions
/// gives exactly the expected UNCOVERED areas.
async fn ethiopia_needs_give_exactly_the_expected_uncovered_woredas(app: &TestApp) {
    let Some(path) = concord_e2e::shared_data(ETHIOPIA) else {
        eprintln!("skipped: shared data is not present ({ETHIOPIA})");
        return;
    };
    let woredas = read_woredas(&path);
    assert_eq!(woredas.len(), 391);
    let severity_of: BTreeMap<&str, u8> = PRIORITIES.into_iter().collect();
    let priority = |pcode: &str| {
        let w = woredas.iter().find(|w| w.pcode == pcode).unwrap();
        (w.priority.as_str(), w.wash)
    };

    // Areas from the file's own columns: 11 regions, 62 zones, 391 woredas, and the
    // country, created once under them.
    let dir = tempfile::tempdir().unwrap();
    let (table, rows) = areas_csv(&woredas);
    assert_eq!(rows, 11 + 62 + 391);
    let areas = dir.path().join("ethiopia_areas.csv");
    std::fs::write(&areas, table).unwrap();
    let (ok, stdout, stderr) = app.cli(&["import", "areas", areas.to_str().unwrap()]).await;
    assert!(ok, "import areas failed: {stderr}");
    assert!(
        stdout.contains(&format!("{} inserted", rows + 1)),
        "{stdout}"
    );

    let needs = path.to_str().unwrap();
    let import = |map: Option<&'static str>| {
        let mut args = vec![
            "import",
            "needs",
            needs,
            "--from",
            "2022-01-01",
            "--to",
            "2022-12-31",
        ];
        if let Some(map) = map {
            args.extend(["--priority-severity", map]);
        }
        args
    };
    let count = async || {
        app.data("{ all: needs { totalCount } graded: needs(filter: { minSeverity: 1 }) { totalCount } }", json!({}))
            .await
    };

    // A malformed map is refused by the command line, before anything is read.
    let (ok, _, stderr) = app.cli(&import(Some("1=4,2"))).await;
    assert!(!ok);
    assert!(stderr.contains("PRIORITY=SEVERITY"), "{stderr}");
    // A priority the map does not name is a row error: the file is refused whole.
    let (ok, _, stderr) = app.cli(&import(Some("1=4,2=3"))).await;
    assert!(!ok, "192 priority-3 rows have no severity");
    assert!(
        stderr.contains(":4: line 4, #priority: priority \"3\" has no severity"),
        "{stderr}"
    );
    assert!(stderr.contains("192 rows cannot be imported"), "{stderr}");
    assert_eq!(count().await["all"]["totalCount"], 0, "nothing imported");

    // Without the map, #priority is not a severity: every need's severity is unknown, and
    // no WASH need can be UNCOVERED (they are all UNDER_COVERED instead).
    let (ok, stdout, stderr) = app.cli(&import(None)).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2507 imported"), "{stdout}");
    let counted = app.settled(count, |c| c["all"]["totalCount"] == 2507).await;
    assert_eq!(counted["all"]["totalCount"], 2507);
    assert_eq!(counted["graded"]["totalCount"], 0);
    let both = ["UNCOVERED", "UNDER_COVERED"];
    let before = app
        .settled(async || wash_gaps(app, &both).await, |g| g.len() == 307)
        .await;
    assert_eq!(before.len(), 307, "every WASH need, none served");
    assert!(before.iter().all(|(_, severity, _)| severity.is_none()));
    assert!(wash_gaps(app, &["UNCOVERED"]).await.is_empty());

    // With the map, the same needs (replaced by area, sector and period) get severities.
    let (ok, stdout, stderr) = app.cli(&import(Some(PRIORITY_SEVERITY))).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2507 imported"), "{stdout}");
    // The earlier answer may be kept until the server hears of the import.
    let counted = app
        .settled(count, |c| c["graded"]["totalCount"] == 2507)
        .await;
    assert_eq!(counted["all"]["totalCount"], 2507);
    assert_eq!(counted["graded"]["totalCount"], 2507);

    // WASH work: four woredas of priority 1 or 2, one of priority 3, and one zone.
    let served = ["ET020301", "ET020404", "ET020101", "ET040901"];
    assert_eq!(priority("ET020301").0, "1");
    assert_eq!(priority("ET020404").0, "1");
    assert_eq!(priority("ET020101").0, "2");
    assert_eq!(priority("ET040901").0, "2");
    assert!(served.iter().all(|p| priority(p).1 > Some(0)));
    let low = "ET010410";
    assert_eq!(priority(low).0, "3");
    assert!(priority(low).1 > Some(0));
    let zone = "ET0202";
    let oxfam = create_organisation(app, "Oxfam GB", None).await;
    for (i, pcode) in served.iter().chain([&low, &zone]).enumerate() {
        let mut input = water_input(&oxfam, &format!("ET-WASH-{i}"));
        input["title"] = json!(format!("Water trucking in {pcode}"));
        input["locations"] = json!([{ "pcode": pcode }]);
        input["plannedStart"] = json!("2022-03-01");
        input["plannedEnd"] = json!("2022-10-31");
        input["target"] = json!({ "total": 1000 });
        create_intervention(app, input).await;
    }

    // Expected, from the file alone: woredas with WASH people in need > 0 whose priority
    // maps to severity >= 3, minus the woredas where an intervention is located. The
    // intervention at zone ET0202 serves none of the woredas below it: coverage counts an
    // intervention "in the area or in any of its descendants", so a zone-wide intervention
    // counts for the zone, not for each of its woredas (crates/domain/src/coverage.rs,
    // "Which interventions count"). ET0202's woredas stay UNCOVERED, and the zone itself has
    // no need in the file, so it has no gap either.
    let expected: BTreeSet<&str> = woredas
        .iter()
        .filter(|w| w.wash.is_some_and(|n| n > 0))
        .filter(|w| severity_of[w.priority.as_str()] >= MIN_SEVERITY_UNCOVERED)
        .map(|w| w.pcode.as_str())
        .filter(|p| !served.contains(p))
        .collect();
    // 35 priority-1 and 147 priority-2 woredas give WASH figures (182), less the 4 served.
    assert_eq!(expected.len(), 178);
    let under_zone: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|p| p.starts_with(zone))
        .collect();
    assert_eq!(under_zone.len(), 5, "{under_zone:?}");

    let gaps = app
        .settled(
            async || wash_gaps(app, &["UNCOVERED"]).await,
            |g| g.len() == expected.len(),
        )
        .await;
    let found: BTreeSet<&str> = gaps.iter().map(|(p, ..)| p.as_str()).collect();
    assert_eq!(found.len(), gaps.len(), "one UNCOVERED gap per woreda");
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
    assert_eq!(found.len(), 178);
    for (pcode, severity, people) in &gaps {
        let w = woredas.iter().find(|w| &w.pcode == pcode).unwrap();
        assert_eq!(*severity, Some(i64::from(severity_of[w.priority.as_str()])));
        assert_eq!(Some(*people as u64), w.wash, "{pcode}");
    }
}

crate::on_both_backends!(ethiopia_needs_give_exactly_the_expected_uncovered_woredas);
