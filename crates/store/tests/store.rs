//! The store against real databases: SQLite always, PostgreSQL when
//! `CONCORD_TEST_POSTGRES_URL` names a server (CI sets it).

use concord_domain::area::{AdminLevel, NewArea, Pcode};
use concord_domain::intervention::{
    InterventionId, InterventionInput, LocationInput, NewIntervention, SectorShareInput,
};
use concord_domain::organisation::{NewOrganisation, OrganisationId, OrganisationInput};
use concord_domain::review::ReviewStatus;
use concord_e2e::{Backend, TestDatabase};
use concord_store::{Actor, CandidateCache, ImportOutcome, ImportRecord, Store};

fn actor() -> Actor {
    Actor::command("test")
}

async fn seeded(url: &str) -> (Store, [OrganisationId; 3]) {
    let store = Store::connect(url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let country = Pcode::parse("ET").unwrap();
    let areas = vec![
        NewArea::new(
            country.clone(),
            "Ethiopia",
            AdminLevel::COUNTRY,
            None,
            "ET",
            None,
        )
        .unwrap(),
        NewArea::new(
            Pcode::parse("ET01").unwrap(),
            "Tigray",
            AdminLevel::new(1).unwrap(),
            Some((&country, AdminLevel::COUNTRY)),
            "ET",
            None,
        )
        .unwrap(),
    ];
    store.import_areas(&areas, &actor()).await.unwrap();
    let mut orgs = Vec::new();
    for name in ["Alpha Relief", "Beta Aid", "Gamma Water"] {
        let org = NewOrganisation::parse(&OrganisationInput {
            name: name.into(),
            organisation_type: "22".into(),
            level: "NATIONAL".into(),
            ..Default::default()
        })
        .unwrap();
        orgs.push(store.create_organisation(&org, &actor()).await.unwrap().id);
    }
    (store, [orgs[0], orgs[1], orgs[2]])
}

/// Water trucking in Tigray in 2025, or the same in another sector.
fn record(external_id: &str, organisation: OrganisationId, sector: &str) -> ImportRecord {
    ImportRecord {
        record: NewIntervention::parse(&InterventionInput {
            external_id: external_id.into(),
            title: format!("Activity {external_id}"),
            reporting_organisation: organisation,
            sectors: vec![SectorShareInput {
                vocabulary: None,
                code: sector.into(),
                percentage: None,
            }],
            locations: vec![LocationInput {
                pcode: "ET01".into(),
                target: None,
                site: None,
            }],
            planned_start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1),
            planned_end: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
            status: "2".into(),
            kind: "RESPONSE".into(),
            approach: "BOTH".into(),
            visibility: Some("PUBLIC".into()),
            ..Default::default()
        })
        .unwrap(),
        source: None,
    }
}

/// The open pairs, as sorted `(a, b)` ids.
async fn open_pairs(store: &Store) -> Vec<(InterventionId, InterventionId)> {
    let mut pairs: Vec<_> = store
        .all_findings()
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.status == ReviewStatus::Open)
        .map(|f| (f.finding.a, f.finding.b))
        .collect();
    pairs.sort();
    pairs
}

fn pair(x: InterventionId, y: InterventionId) -> (InterventionId, InterventionId) {
    (x.min(y), x.max(y))
}

/// An import keeps the candidates it read between its batches; a record changed by another
/// writer in between is read again, not matched as it was.
async fn an_import_rereads_candidates_changed_between_its_batches(url: &str) {
    let (store, [alpha, beta, gamma]) = seeded(url).await;
    let [x] = ids(&store
        .import_interventions(
            &[record("X", alpha, "14030")],
            &actor(),
            &mut CandidateCache::default(),
        )
        .await
        .unwrap());

    let mut cache = CandidateCache::default();
    let [y] = ids(&store
        .import_interventions(&[record("Y", beta, "14030")], &actor(), &mut cache)
        .await
        .unwrap());
    assert_eq!(open_pairs(&store).await, vec![pair(x, y)]);

    // Another writer moves X to health: it no longer overlaps water work.
    let outcomes = store
        .import_interventions(
            &[record("X", alpha, "12220")],
            &actor(),
            &mut CandidateCache::default(),
        )
        .await
        .unwrap();
    assert_eq!(outcomes, vec![ImportOutcome::Updated(x)]);
    assert_eq!(open_pairs(&store).await, Vec::new());

    // The next batch of the first import meets Y, which it wrote, and X as it is now.
    let [z] = ids(&store
        .import_interventions(&[record("Z", gamma, "14030")], &actor(), &mut cache)
        .await
        .unwrap());
    assert_eq!(open_pairs(&store).await, vec![pair(y, z)]);

    // X is read again at its new version when a batch meets it.
    let [w] = ids(&store
        .import_interventions(&[record("W", gamma, "12220")], &actor(), &mut cache)
        .await
        .unwrap());
    assert_eq!(
        open_pairs(&store).await,
        vec![pair(x, w), pair(y, z)],
        "X (health, Alpha) meets W (health, Gamma)"
    );
}

fn ids<const N: usize>(outcomes: &[ImportOutcome]) -> [InterventionId; N] {
    let ids: Vec<InterventionId> = outcomes.iter().map(ImportOutcome::id).collect();
    ids.try_into().expect("one outcome per record")
}

async fn on(backend: Backend) {
    let Some(mut database) = TestDatabase::new(backend).await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set CONCORD_TEST_POSTGRES_URL"
        );
        eprintln!("skipped: CONCORD_TEST_POSTGRES_URL is not set");
        return;
    };
    an_import_rereads_candidates_changed_between_its_batches(&database.url).await;
    database.drop_database().await;
}

#[tokio::test]
async fn an_import_rereads_candidates_changed_between_its_batches_on_sqlite() {
    on(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_import_rereads_candidates_changed_between_its_batches_on_postgres() {
    on(Backend::Postgres).await;
}
