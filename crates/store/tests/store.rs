//! The store against real databases: SQLite always, PostgreSQL when
//! `CONCORD_TEST_POSTGRES_URL` names a server (CI sets it).

use concord_domain::access::ReadScope;
use concord_domain::area::{AdminLevel, NewArea, Pcode};
use concord_domain::intervention::{
    InterventionId, InterventionInput, LocationInput, NewIntervention, SectorShareInput,
};
use concord_domain::organisation::{NewOrganisation, OrganisationId, OrganisationInput};
use concord_domain::review::ReviewStatus;
use concord_e2e::{Backend, TestDatabase};
use concord_store::{
    Actor, FindingFilter, ImportOutcome, ImportRecord, PageRequest, RecomputeProgress, Store,
};
use sea_orm::ConnectionTrait;

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
    record_seen_by(external_id, organisation, sector, "PUBLIC")
}

fn record_seen_by(
    external_id: &str,
    organisation: OrganisationId,
    sector: &str,
    visibility: &str,
) -> ImportRecord {
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
            visibility: Some(visibility.into()),
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

/// The batches of one import meet each other: a later batch is checked against what the
/// earlier ones wrote, as those records are now, the import's own updates included.
async fn batches_of_one_import_meet_each_other(url: &str) {
    let (store, [alpha, beta, gamma]) = seeded(url).await;
    let mut import = store.begin_import().await.unwrap();
    let [x] = ids(&import
        .write(&[record("X", alpha, "14030")], &actor())
        .await
        .unwrap());
    let [y] = ids(&import
        .write(&[record("Y", beta, "14030")], &actor())
        .await
        .unwrap());
    // The import moves X to health: it no longer overlaps water work.
    let outcomes = import
        .write(&[record("X", alpha, "12220")], &actor())
        .await
        .unwrap();
    assert_eq!(outcomes, vec![ImportOutcome::Updated(x)]);
    let [z, w] = ids(&import
        .write(
            &[record("Z", gamma, "14030"), record("W", gamma, "12220")],
            &actor(),
        )
        .await
        .unwrap());
    import.commit().await.unwrap();
    assert_eq!(
        open_pairs(&store).await,
        vec![pair(x, w), pair(y, z)],
        "X (health, Alpha) meets W (health, Gamma); Y (water, Beta) meets Z (water, Gamma)"
    );
}

/// An import that fails part-way leaves nothing behind: not its earlier batches, their
/// findings, nor the organisations and countries it created. Until it commits, nobody
/// else sees what it wrote.
async fn an_import_that_fails_leaves_nothing(url: &str) {
    let (store, [alpha, beta, _]) = seeded(url).await;
    let organisations_before = organisation_count(&store).await;
    let mut import = store.begin_import().await.unwrap();
    import
        .write(
            &[record("X", alpha, "14030"), record("Y", beta, "14030")],
            &actor(),
        )
        .await
        .unwrap();
    let org = NewOrganisation::parse(&OrganisationInput {
        name: "Delta Shelter".into(),
        organisation_type: "22".into(),
        level: "NATIONAL".into(),
        ..Default::default()
    })
    .unwrap();
    import.create_organisation(&org, &actor()).await.unwrap();
    let unknown = import
        .ensure_countries(&["KE".into(), "XX".into()], &actor())
        .await
        .unwrap();
    assert_eq!(unknown, vec!["XX".to_owned()]);
    let kenya = Pcode::parse("KE").unwrap();
    assert!(
        import
            .area_ids(std::slice::from_ref(&kenya))
            .await
            .unwrap()
            .contains_key(&kenya),
        "the import sees the country it created"
    );
    assert_eq!(
        store
            .count_interventions(&Default::default())
            .await
            .unwrap(),
        0,
        "nobody else sees an import before it commits"
    );

    let mut elsewhere = record("Z", alpha, "14030");
    elsewhere.record.locations[0].pcode = Pcode::parse("ET99").unwrap();
    let refused = import.write(&[elsewhere], &actor()).await;
    assert!(
        matches!(refused, Err(concord_store::StoreError::Invalid(_))),
        "{refused:?}"
    );
    drop(import);

    assert_eq!(
        store
            .count_interventions(&Default::default())
            .await
            .unwrap(),
        0
    );
    assert_eq!(open_pairs(&store).await, Vec::new());
    assert_eq!(organisation_count(&store).await, organisations_before);
    assert!(store.area(&kenya).await.unwrap().is_none());

    // The store is free for the next writer.
    let [x, y] = ids(&store
        .import_interventions(
            &[record("X", alpha, "14030"), record("Y", beta, "14030")],
            &actor(),
        )
        .await
        .unwrap());
    assert_eq!(open_pairs(&store).await, vec![pair(x, y)]);
}

async fn organisation_count(store: &Store) -> usize {
    store
        .organisations(concord_store::PageRequest {
            after: None,
            first: concord_store::MAX_PAGE_SIZE,
        })
        .await
        .unwrap()
        .items
        .len()
}

/// A finding count agrees with the listing it counts, whatever the caller may read: the
/// count subtracts the findings with a hidden side, the listing checks both sides of each.
async fn finding_counts_agree_with_listings(url: &str) {
    let (store, [alpha, beta, gamma]) = seeded(url).await;
    // All five meet: one place, sector and year. Records of one organisation are
    // probable duplicates of each other (same dates and place).
    store
        .import_interventions(
            &[
                record("A1", alpha, "14030"),
                record_seen_by("A2", alpha, "14030", "RESTRICTED"),
                record_seen_by("B1", beta, "14030", "PARTNERS"),
                record_seen_by("B2", beta, "14030", "RESTRICTED"),
                record("G1", gamma, "14030"),
            ],
            &actor(),
        )
        .await
        .unwrap();
    let signed_in = |own: Vec<OrganisationId>| ReadScope {
        partners: true,
        own_organisations: own,
        ..ReadScope::default()
    };
    let scopes = [
        (
            "administrator",
            ReadScope {
                everything: true,
                ..ReadScope::default()
            },
            10,
        ),
        ("anonymous: A1 and G1", ReadScope::public(), 1),
        ("signed in: A1, B1 and G1", signed_in(Vec::new()), 3),
        ("Alpha: all but B2", signed_in(vec![alpha]), 6),
        ("Beta: all but A2", signed_in(vec![beta]), 6),
    ];
    for (who, scope, expected) in scopes {
        let filters = [
            FindingFilter {
                scope: scope.clone(),
                ..FindingFilter::default()
            },
            FindingFilter {
                scope: scope.clone(),
                statuses: Some(vec![ReviewStatus::Open]),
                ..FindingFilter::default()
            },
            FindingFilter {
                scope: scope.clone(),
                organisation: Some(gamma),
                ..FindingFilter::default()
            },
            FindingFilter {
                scope: scope.clone(),
                min_score: Some(1.1),
                ..FindingFilter::default()
            },
        ];
        for (n, filter) in filters.iter().enumerate() {
            let listed = store
                .findings(
                    filter,
                    PageRequest {
                        after: None,
                        first: 100,
                    },
                )
                .await
                .unwrap()
                .items
                .len() as u64;
            assert_eq!(
                store.count_findings(filter).await.unwrap(),
                listed,
                "{who}, filter {n}"
            );
            if n < 2 {
                assert_eq!(listed, expected, "{who}, filter {n}");
            }
        }
    }
}

/// A recomputation merges the sweep's findings with the stored pairs, both read in order a
/// page at a time: over several pages it keeps reviews, stores again the pairs that went
/// missing, reopens what the system had closed, and closes what no longer overlaps.
async fn a_recomputation_merges_with_what_is_stored(url: &str) {
    let (store, orgs) = seeded(url).await;
    // 120 water records in one place and year: every two of them meet, as an overlap
    // between organisations or a probable duplicate within one: 7,140 pairs, several pages.
    let records: Vec<ImportRecord> = orgs
        .iter()
        .flat_map(|&org| (0..40).map(move |n| record(&format!("R{}-{n}", org.0), org, "14030")))
        .collect();
    let ids: Vec<InterventionId> = store
        .import_interventions(&records, &actor())
        .await
        .unwrap()
        .iter()
        .map(ImportOutcome::id)
        .collect();
    let mut every_pair: Vec<_> = ids
        .iter()
        .enumerate()
        .flat_map(|(n, &x)| ids[n + 1..].iter().map(move |&y| pair(x, y)))
        .collect();
    every_pair.sort();
    assert_eq!(open_pairs(&store).await, every_pair);
    let health = store
        .import_interventions(&[record("H", orgs[0], "12220")], &actor())
        .await
        .unwrap()[0]
        .id();

    let mut stored = store.all_findings().await.unwrap();
    stored.sort_by_key(|f| (f.finding.a, f.finding.b));
    let reviewed = stored[3_000].id;
    store
        .review_finding(
            reviewed,
            ReviewStatus::Complementary,
            Some("one trucks water, the other repairs wells".into()),
            &concord_domain::access::Principal::operator(),
            &actor(),
        )
        .await
        .unwrap();
    let closed_by_system = stored[5_000].id;
    let missing: Vec<i64> = stored[..10].iter().map(|f| f.id).collect();
    let db = store.connection();
    db.execute_unprepared(&format!(
        "UPDATE overlap_finding SET status = 'RESOLVED', review_note = 'closed: the pair no \
         longer overlaps' WHERE id = {closed_by_system}"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "DELETE FROM overlap_finding WHERE id IN ({})",
        missing
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    ))
    .await
    .unwrap();
    // A stale pair of a health and a water record, and one someone resolved.
    let template = stored[7_000].id;
    for (other, status) in [(ids[0], "OPEN"), (ids[119], "RESOLVED")] {
        db.execute_unprepared(&format!(
            "INSERT INTO overlap_finding (intervention_a, intervention_b, kind, score, reasons, \
             status, detected_at, updated_at) SELECT {}, {}, kind, score, reasons, '{status}', \
             detected_at, updated_at FROM overlap_finding WHERE id = {template}",
            other.0.min(health.0),
            other.0.max(health.0),
        ))
        .await
        .unwrap();
    }

    let told = std::sync::Mutex::new(Vec::new());
    let summary = store
        .recompute_overlaps(&|step| told.lock().unwrap().push(step))
        .await
        .unwrap();
    assert_eq!(
        (summary.candidates, summary.findings, summary.new),
        (121, 7_140, 10)
    );
    let told = told.into_inner().unwrap();
    assert!(told.contains(&RecomputeProgress::Loading {
        loaded: 121,
        total: 121
    }));
    // The last pair is the last two water records': its smaller id is the 119th of 121.
    assert_eq!(
        told.last(),
        Some(&RecomputeProgress::Storing {
            passed: 119,
            total: 121,
            findings: 7_140
        })
    );
    assert_eq!((summary.updated, summary.closed), (7_130, 1));
    let after = store.all_findings().await.unwrap();
    let status_of = |id: i64| after.iter().find(|f| f.id == id).map(|f| f.status);
    assert_eq!(status_of(reviewed), Some(ReviewStatus::Complementary));
    assert_eq!(status_of(closed_by_system), Some(ReviewStatus::Open));
    let mut live: Vec<_> = after
        .iter()
        .filter(|f| f.status != ReviewStatus::Resolved)
        .map(|f| (f.finding.a, f.finding.b))
        .collect();
    live.sort();
    assert_eq!(
        live, every_pair,
        "the stale pair is closed, the missing ones back"
    );
    assert_eq!(after.len(), 7_142);

    // Through one connection, to see it come back with SQLite's usual page cache.
    let single = Store::connect(url, 1).await.unwrap();
    let again = single.recompute_overlaps(&|_| {}).await.unwrap();
    assert_eq!(
        (again.findings, again.new, again.updated, again.closed),
        (7_140, 0, 7_140, 0)
    );
    if url.starts_with("sqlite") {
        assert_eq!(sqlite_pragma(&single, "cache_size").await, -2_000);
    }
}

/// A SQLite setting as one of the store's connections has it.
async fn sqlite_pragma(store: &Store, name: &str) -> i64 {
    store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .expect("a pragma answers one row")
        .try_get_by_index(0)
        .unwrap()
}

fn ids<const N: usize>(outcomes: &[ImportOutcome]) -> [InterventionId; N] {
    let ids: Vec<InterventionId> = outcomes.iter().map(ImportOutcome::id).collect();
    ids.try_into().expect("one outcome per record")
}

/// A fresh database, or None where PostgreSQL is not configured (never in CI).
async fn database(backend: Backend) -> Option<TestDatabase> {
    let database = TestDatabase::new(backend).await;
    if database.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set CONCORD_TEST_POSTGRES_URL"
        );
        eprintln!("skipped: CONCORD_TEST_POSTGRES_URL is not set");
    }
    database
}

async fn on(backend: Backend) {
    let Some(mut database) = self::database(backend).await else {
        return;
    };
    batches_of_one_import_meet_each_other(&database.url).await;
    database.drop_database().await;
    let Some(mut database) = self::database(backend).await else {
        return;
    };
    an_import_that_fails_leaves_nothing(&database.url).await;
    database.drop_database().await;
    let Some(mut database) = self::database(backend).await else {
        return;
    };
    finding_counts_agree_with_listings(&database.url).await;
    database.drop_database().await;
    let Some(mut database) = self::database(backend).await else {
        return;
    };
    a_recomputation_merges_with_what_is_stored(&database.url).await;
    database.drop_database().await;
}

#[tokio::test]
async fn imports_on_sqlite() {
    on(Backend::Sqlite).await;
}

#[tokio::test]
async fn imports_on_postgres() {
    on(Backend::Postgres).await;
}

/// Whether the file's bytes differ from `before` within 5 seconds.
async fn changes_within_5_s(file: &std::path::Path, before: &[u8]) -> bool {
    for _ in 0..100 {
        if std::fs::read(file).unwrap() != before {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// On SQLite a committed write reaches the database file soon after its commit, copied
/// from the write-ahead log in the background. Left to SQLite, a few small writes would
/// stay in the log until it passes 1,000 pages, and that commit would copy it all before
/// returning.
#[tokio::test]
async fn commits_are_checkpointed_in_the_background_on_sqlite() {
    let Some(database) = TestDatabase::new(Backend::Sqlite).await else {
        unreachable!("SQLite is always available");
    };
    let (store, [alpha, beta, _]) = seeded(&database.url).await;
    // Everything so far in the database file, the log emptied.
    store
        .connection()
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    let file = std::path::PathBuf::from(database.url.trim_start_matches("sqlite://"));
    let before = std::fs::read(&file).unwrap();
    store
        .import_interventions(
            &[record("X", alpha, "14030"), record("Y", beta, "14030")],
            &actor(),
        )
        .await
        .unwrap();
    assert!(
        changes_within_5_s(&file, &before).await,
        "the write never reached the database file"
    );
    assert_eq!(open_pairs(&store).await.len(), 1);

    // A write outside a registry change (a sign-in recorded) is copied the same way.
    let before = std::fs::read(&file).unwrap();
    store
        .record_event(&actor(), concord_store::AuditAction::Login, "user", None)
        .await
        .unwrap();
    assert!(
        changes_within_5_s(&file, &before).await,
        "the recorded event never reached the database file"
    );

    // SQLite copies the log itself, in a commit, only past the backstop.
    assert_eq!(sqlite_pragma(&store, "wal_autocheckpoint").await, 65_536);
}

/// A registration that PostgreSQL rolls back to break a deadlock is tried again, and lands
/// once.
#[tokio::test]
async fn a_write_rolled_back_by_a_deadlock_is_tried_again_on_postgres() {
    use sea_orm::{DbBackend, Statement};

    let Some(mut database) = self::database(Backend::Postgres).await else {
        return;
    };
    let (store, [alpha, _, _]) = seeded(&database.url).await;
    let record = record("DEADLOCK", alpha, "14030").record;
    let written = concord_e2e::through_a_deadlock(
        &database.url,
        store.create_intervention(&record, &actor()),
    )
    .await
    .expect("the registration is tried again after the deadlock");
    let stored: Vec<_> = store
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM intervention WHERE external_id = 'DEADLOCK'",
        ))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the registration landed exactly once");
    assert_eq!(
        stored[0].try_get::<i64>("", "id").unwrap(),
        written.intervention.id.0
    );
    database.drop_database().await;
}
