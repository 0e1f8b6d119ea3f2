//! Checks the code lists Concord ships against the official IATI XML code lists in
//! `shared/data` (beside the workspace): every shipped code must exist upstream, and every
//! active upstream code must be shipped. Skips, without failing, where that directory is
//! absent (e.g. a bare checkout in CI).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use concord_domain::reference::{
    self, Code, SectorVocabulary, activity_statuses, countries, currencies, organisation_roles,
    organisation_types, sector_vocabularies,
};
use quick_xml::Reader;
use quick_xml::events::Event;

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    dir.is_dir().then_some(dir)
}

/// One `<codelist-item>` of an IATI code list.
struct Item {
    code: String,
    withdrawn: bool,
}

/// Reads the items of an IATI code list. `status` sits on `<codelist-item>` itself; the
/// item's `<code>` is its direct child (`<category>` and `<name>` hold other text).
fn read_codelist(path: &Path) -> Vec<Item> {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut reader = Reader::from_str(&xml);
    let mut items = Vec::new();
    // Depth below the current <codelist-item>, or None outside one.
    let mut depth: Option<usize> = None;
    let mut in_code = false;
    let mut current: Option<Item> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if let Some(d) = depth.as_mut() {
                    *d += 1;
                    in_code = *d == 1 && e.name().as_ref() == "code";
                } else if e.name().as_ref() == "codelist-item" {
                    let status = e
                        .try_get_attribute("status")
                        .expect("valid attribute")
                        .map(|a| a.value.into_owned());
                    current = Some(Item {
                        code: String::new(),
                        withdrawn: status.as_deref() == Some("withdrawn"),
                    });
                    depth = Some(0);
                }
            }
            Ok(Event::Text(t)) if in_code => {
                if let Some(item) = current.as_mut() {
                    item.code.push_str(t.xml10_content().trim());
                }
            }
            Ok(Event::End(_)) => {
                in_code = false;
                match depth {
                    Some(0) => {
                        items.extend(current.take());
                        depth = None;
                    }
                    Some(d) => depth = Some(d - 1),
                    None => {}
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "{}: XML error at {}: {e}",
                path.display(),
                reader.buffer_position()
            ),
        }
    }
    assert!(
        !items.is_empty(),
        "{}: no codelist-item found",
        path.display()
    );
    assert!(
        items.iter().all(|i| !i.code.is_empty()),
        "{}: an item without <code>",
        path.display()
    );
    items
}

/// Compares shipped codes with the official list and returns a description of each
/// discrepancy, so one run reports every list that is off.
fn compare(list: &str, path: &Path, shipped: &[String]) -> Vec<String> {
    let official = read_codelist(path);
    let all: BTreeSet<&str> = official.iter().map(|i| i.code.as_str()).collect();
    let active: BTreeSet<&str> = official
        .iter()
        .filter(|i| !i.withdrawn)
        .map(|i| i.code.as_str())
        .collect();
    let ours: BTreeSet<&str> = shipped.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    if ours.len() != shipped.len() {
        problems.push(format!("{list}: duplicate codes shipped"));
    }
    let unknown: Vec<&str> = ours.difference(&all).copied().collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "{list}: shipped codes not in {}: {unknown:?}",
            path.display()
        ));
    }
    let missing: Vec<&str> = active.difference(&ours).copied().collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{list}: active official codes not shipped: {missing:?}"
        ));
    }
    problems
}

fn codes(list: &[Code]) -> Vec<String> {
    list.iter().map(|c| c.code.clone()).collect()
}

fn sector_codes(vocabulary: SectorVocabulary) -> Vec<String> {
    reference::sectors_of(vocabulary)
        .map(|s| s.code.clone())
        .collect()
}

#[test]
fn shipped_code_lists_match_official_iati_lists() {
    let Some(data) = shared_data() else {
        println!(
            "skipped: shared data is absent (expected the IATI code lists in ../shared/data \
             beside the workspace)"
        );
        return;
    };
    let embedded = data.join("IATI-Codelists/xml");
    let non_embedded = data.join("IATI-Codelists-NonEmbedded/xml");
    let checks: [(&str, PathBuf, Vec<String>); 8] = [
        (
            "activity_status",
            embedded.join("ActivityStatus.xml"),
            codes(activity_statuses()),
        ),
        (
            "organisation_role",
            embedded.join("OrganisationRole.xml"),
            codes(organisation_roles()),
        ),
        (
            "organisation_type",
            non_embedded.join("OrganisationType.xml"),
            codes(organisation_types()),
        ),
        (
            "sector_vocabulary",
            non_embedded.join("SectorVocabulary.xml"),
            codes(sector_vocabularies()),
        ),
        (
            "currency",
            non_embedded.join("Currency.xml"),
            codes(currencies()),
        ),
        (
            "country",
            non_embedded.join("Country.xml"),
            countries().iter().map(|c| c.alpha2.clone()).collect(),
        ),
        (
            "sector_dac5",
            non_embedded.join("Sector.xml"),
            sector_codes(SectorVocabulary::Dac5),
        ),
        (
            "sector_dac3",
            non_embedded.join("SectorCategory.xml"),
            sector_codes(SectorVocabulary::Dac3),
        ),
    ];
    let problems: Vec<String> = checks
        .iter()
        .flat_map(|(list, path, shipped)| compare(list, path, shipped))
        .collect();
    assert!(
        problems.is_empty(),
        "shipped code lists differ from IATI:\n{}",
        problems.join("\n")
    );
}

#[test]
fn dac5_categories_match_official_sector_list() {
    let Some(data) = shared_data() else {
        println!("skipped: shared data is absent");
        return;
    };
    // The official category of each DAC5 code, read from <category> in Sector.xml.
    let xml = std::fs::read_to_string(data.join("IATI-Codelists-NonEmbedded/xml/Sector.xml"))
        .expect("read Sector.xml");
    let mut reader = Reader::from_str(&xml);
    let mut official = Vec::new();
    let (mut code, mut element) = (String::new(), String::new());
    loop {
        match reader.read_event().expect("Sector.xml parses") {
            Event::Start(e) => element = e.name().as_ref().to_owned(),
            Event::Text(t) if element == "code" => code = t.xml10_content().trim().to_owned(),
            Event::Text(t) if element == "category" => {
                official.push((code.clone(), t.xml10_content().trim().to_owned()));
            }
            Event::End(_) => element.clear(),
            Event::Eof => break,
            _ => {}
        }
    }
    let wrong: Vec<String> = reference::sectors_of(SectorVocabulary::Dac5)
        .filter_map(|s| {
            let expected = official
                .iter()
                .find(|(c, _)| *c == s.code)
                .map(|(_, cat)| cat);
            (expected != s.category.as_ref()).then(|| {
                format!(
                    "{}: shipped {:?}, official {expected:?}",
                    s.code, s.category
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "DAC5 categories differ: {wrong:?}");
}
