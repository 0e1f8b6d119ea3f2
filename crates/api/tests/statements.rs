//! A page of interventions with their organisation, sectors and locations costs a small,
//! fixed number of SQL statements, whatever the page size: relations go through loaders and
//! batched queries, never one query per row.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use concord_api::Authenticator;
use concord_api::access::Caller;
use concord_api::auth::tokens::{SigningKeys, TokenConfig, TokenService, generate_secret};
use concord_domain::area::{AdminLevel, NewArea, Pcode};
use concord_domain::intervention::{
    InterventionInput, LocationInput, NewIntervention, ParticipationInput, SectorShareInput,
};
use concord_domain::organisation::{NewOrganisation, OrganisationInput};
use concord_store::{Actor, Store};

async fn seeded_store(url: &str) -> Store {
    let store = Store::connect(url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let country = Pcode::parse("ET").unwrap();
    let mut areas = vec![
        NewArea::new(
            country.clone(),
            "Ethiopia",
            AdminLevel::COUNTRY,
            None,
            "ET",
            None,
        )
        .unwrap(),
    ];
    for n in 1..=9 {
        let pcode = Pcode::parse(&format!("ET0{n}")).unwrap();
        areas.push(
            NewArea::new(
                pcode,
                &format!("Region {n}"),
                AdminLevel::new(1).unwrap(),
                Some((&country, AdminLevel::COUNTRY)),
                "ET",
                None,
            )
            .unwrap(),
        );
    }
    store
        .import_areas(&areas, &Actor::command("test"))
        .await
        .unwrap();
    let mut orgs = Vec::new();
    for n in 0..10 {
        let org = NewOrganisation::parse(&OrganisationInput {
            name: format!("Organisation {n}"),
            organisation_type: "22".into(),
            level: "NATIONAL".into(),
            ..Default::default()
        })
        .unwrap();
        orgs.push(
            store
                .create_organisation(&org, &Actor::command("test"))
                .await
                .unwrap()
                .id,
        );
    }
    let records: Vec<NewIntervention> = (0..150)
        .map(|n| {
            NewIntervention::parse(&InterventionInput {
                external_id: format!("X-{n}"),
                title: format!("Intervention {n}"),
                reporting_organisation: orgs[n % 10],
                participants: vec![ParticipationInput {
                    organisation: orgs[(n + 1) % 10],
                    role: "4".into(),
                    activity_id: None,
                }],
                sectors: vec![
                    SectorShareInput {
                        vocabulary: None,
                        code: "14030".into(),
                        percentage: None,
                    },
                    SectorShareInput {
                        vocabulary: None,
                        code: "WSH".into(),
                        percentage: None,
                    },
                ],
                locations: vec![
                    LocationInput {
                        pcode: format!("ET0{}", n % 9 + 1),
                        target: None,
                        site: None,
                    },
                    LocationInput {
                        pcode: format!("ET0{}", (n + 4) % 9 + 1),
                        target: None,
                        site: None,
                    },
                ],
                planned_start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1),
                status: "2".into(),
                kind: "RESPONSE".into(),
                approach: "BOTH".into(),
                visibility: Some("PUBLIC".into()),
                ..Default::default()
            })
            .unwrap()
        })
        .collect();
    store
        .create_interventions(&records, &Actor::command("test"))
        .await
        .unwrap();
    store
}

async fn statements_for_a_page(url: &str, first: usize) -> usize {
    let store = seeded_store(url).await;
    let counter = Arc::new(AtomicUsize::new(0));
    let mut connection = store.connection().clone();
    let seen = counter.clone();
    connection.set_metric_callback(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let store = Store::from_connection(connection);
    let tokens = TokenService::new(TokenConfig {
        issuer: "concord".into(),
        audience: "concord-api".into(),
        access_ttl: std::time::Duration::from_secs(60),
        keys: SigningKeys::Hs256 {
            secret: generate_secret(),
        },
        oidc: None,
    })
    .unwrap();
    let authenticator = Authenticator::new(Arc::new(tokens), store.clone(), true);
    let events = concord_api::events::OverlapEvents::start(&store).await;
    let schema = concord_api::schema(store.clone(), authenticator, events);
    let query = format!(
        "{{ interventions(first: {first}) {{ edges {{ node {{ title
            reportingOrganisation {{ name }}
            participants {{ organisation {{ name }} }}
            sectors {{ code sector {{ name }} }}
            locations {{ pcode area {{ name }} }} }} }} }} }}"
    );
    let response = concord_api::execute(
        &schema,
        &store,
        async_graphql::Request::new(query),
        Caller::anonymous(true),
    )
    .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let json = response.data.into_json().unwrap();
    assert_eq!(
        json["interventions"]["edges"].as_array().unwrap().len(),
        first
    );
    counter.load(Ordering::SeqCst)
}

async fn page_cost_is_bounded(url: &str) {
    let small = statements_for_a_page(url, 5).await;
    let large = statements_for_a_page(&fresh(url).await, 100).await;
    assert!(large <= 10, "a page of 100 took {large} statements");
    assert_eq!(small, large, "the cost does not grow with the page");
}

async fn fresh(url: &str) -> String {
    if url.starts_with("sqlite") {
        let dir = tempfile::tempdir().unwrap().keep();
        format!("sqlite://{}", dir.join("concord.db").display())
    } else {
        postgres_database().await.unwrap()
    }
}

async fn postgres_database() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let server = std::env::var("CONCORD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "concord_api_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let admin = sea_orm::Database::connect(&server).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    Some(format!("{base}/{name}"))
}

#[tokio::test]
async fn a_page_of_interventions_costs_a_bounded_number_of_statements_on_sqlite() {
    page_cost_is_bounded(&fresh("sqlite").await).await;
}

#[tokio::test]
async fn a_page_of_interventions_costs_a_bounded_number_of_statements_on_postgres() {
    let Some(url) = postgres_database().await else {
        eprintln!("skipped: CONCORD_TEST_POSTGRES_URL is not set");
        return;
    };
    page_cost_is_bounded(&url).await;
    drop_test_databases().await;
}

/// Drops the databases this process created; FORCE closes pools that are still open.
async fn drop_test_databases() {
    use sea_orm::ConnectionTrait;
    let server = std::env::var("CONCORD_TEST_POSTGRES_URL").unwrap();
    let admin = sea_orm::Database::connect(&server).await.unwrap();
    let prefix = format!("concord_api_{}_", std::process::id());
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'concord_api_%'".to_owned(),
        ))
        .await
        .unwrap();
    for row in rows {
        let name: String = row.try_get("", "datname").unwrap();
        if name.starts_with(&prefix) {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}
