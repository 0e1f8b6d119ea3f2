//! `concord bench gaps`: how long the coverage and gap engine takes for every area x sector
//! cell (at a million interventions by default), how fast a single-area `gaps` query
//! answers through the real HTTP API at 100,000, and, on PostgreSQL, how long a SQL query
//! takes to compute only the uncovered days of every cell (multirange difference) on the
//! same tables.
//!
//! A measurement, not a test. Data: the demo generator's benchmark profile
//! (`concord_domain::demo_bench`) with its needs for every locality and cluster in
//! `NEEDS_YEAR`; the period asked about is that year.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::NaiveDate;
use clap::Args;
use concord_api::Authenticator;
use concord_api::auth::tokens::{SigningKeys, TokenConfig, TokenService, generate_secret};
use concord_api::coverage_cache::CoverageCache;
use concord_domain::access::Role;
use concord_domain::area::AdminLevel;
use concord_domain::coverage::{self, GapSettings, NeedFigure, coverage_intervention_of};
use concord_domain::demo_bench;
use concord_domain::need::{NeedSector, NewNeed};
use concord_domain::reference::SectorVocabulary;
use concord_domain::values::Period;
use concord_store::{Actor, NewUser, Store};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{Value, json};

use crate::bench::{Backend, Latencies, PeakWatch, Scratch, fmt_secs, generated, load, machine};

#[derive(Args, Debug)]
pub struct GapArgs {
    /// Interventions for the engine's every-cell computation.
    #[arg(long, default_value_t = 1_000_000)]
    engine_size: u64,
    /// Interventions loaded in each database for the API and SQL measurements.
    #[arg(long, default_value_t = 100_000)]
    api_size: u64,
    /// A PostgreSQL server to measure on as well; the benchmark creates and drops
    /// `concord_bench_<size>` there.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Leave SQLite out.
    #[arg(long)]
    no_sqlite: bool,
    /// Single-area `gaps` queries timed per database.
    #[arg(long, default_value_t = 500)]
    queries: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn year() -> anyhow::Result<Period> {
    let y = demo_bench::NEEDS_YEAR;
    let day = |m, d| NaiveDate::from_ymd_opt(y, m, d).context("the needs year");
    Period::new("period", day(1, 1)?, Some(day(12, 31)?)).map_err(|e| anyhow!("{e}"))
}

/// The reference day of the run: mid-year, so ENDING has something to find.
fn today() -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(demo_bench::NEEDS_YEAR, 7, 1).context("mid-year")
}

pub async fn gaps(args: GapArgs) -> anyhow::Result<()> {
    let machine = machine(args.postgres_url.as_deref()).await;
    let mut results = json!({ "machine": machine, "engine": [], "api": [], "sql": [] });
    let mut engine_at_api_size = None;
    let mut sizes = vec![args.api_size, args.engine_size];
    sizes.sort_unstable();
    sizes.dedup();
    for size in sizes {
        let run = engine(size, args.seed)?;
        println!(
            "engine, {size} interventions: {} cells, {} gaps in {} (inputs built in {}, peak RSS {} MiB)",
            run["cells"],
            run["gaps"],
            fmt_secs(Duration::from_secs_f64(
                run["gaps_s"].as_f64().unwrap_or(0.0)
            )),
            fmt_secs(Duration::from_secs_f64(
                run["build_s"].as_f64().unwrap_or(0.0)
            )),
            run["peak_rss_mib"],
        );
        if size == args.api_size {
            engine_at_api_size = run["gaps_s"].as_f64();
        }
        push(&mut results["engine"], run);
    }

    let mut backends = Vec::new();
    if !args.no_sqlite {
        backends.push(Backend::Sqlite);
    }
    if let Some(url) = &args.postgres_url {
        backends.push(Backend::Postgres(url.clone()));
    }
    for backend in backends {
        let scratch = Scratch::create(&backend, args.api_size).await?;
        let outcome = measure(&args, &backend, &scratch.url, engine_at_api_size).await;
        scratch.finish(false).await?;
        let (api, sql) = outcome.with_context(|| format!("on {}", backend.name()))?;
        push(&mut results["api"], api);
        if let Some(sql) = sql {
            push(&mut results["sql"], sql);
        }
    }
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("results written to {}", out.display());
    }
    Ok(())
}

fn push(list: &mut Value, item: Value) {
    if let Some(list) = list.as_array_mut() {
        list.push(item);
    }
}

/// The inputs straight from the generator, as the store would assemble them, then one
/// timed `coverage::gaps` over every cell with a stated need.
fn engine(size: u64, seed: u64) -> anyhow::Result<Value> {
    let started = Instant::now();
    let (interventions, needs) = engine_inputs(size, seed)?;
    let build = started.elapsed();
    let period = year()?;
    let settings = GapSettings::new(today()?);
    let watch = PeakWatch::start();
    let started = Instant::now();
    let found = coverage::gaps(&period, &interventions, &needs, &settings);
    let elapsed = started.elapsed();
    let peak = watch.peak();
    let kinds: BTreeSet<String> = found.iter().map(|g| format!("{:?}", g.kind)).collect();
    let by_kind: HashMap<String, usize> = kinds
        .into_iter()
        .map(|k| {
            let n = found
                .iter()
                .filter(|g| format!("{:?}", g.kind) == k)
                .count();
            (k, n)
        })
        .collect();
    Ok(json!({
        "size": size,
        "cells": needs.len(),
        "gaps": found.len(),
        "by_kind": by_kind,
        "build_s": build.as_secs_f64(),
        "gaps_s": elapsed.as_secs_f64(),
        "peak_rss_mib": peak.map(|b| b / (1024 * 1024)),
    }))
}

fn engine_inputs(
    size: u64,
    seed: u64,
) -> anyhow::Result<(Vec<coverage::CoverageIntervention>, Vec<NeedFigure>)> {
    let paths = demo_bench::area_paths(&demo_bench::country());
    let mut interventions = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for intervention in generated(size, seed) {
        interventions.extend(coverage_intervention_of(&intervention?, &paths, None));
    }
    let mut needs = Vec::new();
    for input in demo_bench::needs(seed) {
        let need = NewNeed::parse(&input).map_err(|e| anyhow!("generated need: {e}"))?;
        let area = paths
            .get(&need.pcode)
            .with_context(|| format!("no area {}", need.pcode))?;
        needs.push(NeedFigure {
            area: area.clone(),
            sector: need.sector,
            period: need.period,
            people_in_need: need.people_in_need.total.get(),
            severity: need.severity,
        });
    }
    Ok((interventions, needs))
}

/// Loads the profile and its needs, serves the API on a loopback port, and times
/// single-area `gaps` queries through HTTP; on PostgreSQL, also the multirange query.
async fn measure(
    args: &GapArgs,
    backend: &Backend,
    url: &str,
    engine_secs: Option<f64>,
) -> anyhow::Result<(Value, Option<Value>)> {
    let name = backend.name();
    let store = Store::connect(url, 8).await?;
    store.migrate().await?;
    let (organisations, loaded) = load(&store, args.api_size, args.seed, name).await?;
    let actor = Actor::command("bench");
    let needs: Vec<NewNeed> = demo_bench::needs(args.seed)
        .iter()
        .map(|n| NewNeed::parse(n).map_err(|e| anyhow!("generated need: {e}")))
        .collect::<anyhow::Result<_>>()?;
    store.upsert_needs(&needs, &actor).await?;
    if store.is_postgres() {
        store.connection().execute_unprepared("ANALYZE").await?;
    }
    println!(
        "{name}: loaded {} interventions and {} needs in {}",
        args.api_size,
        needs.len(),
        fmt_secs(loaded)
    );

    // A viewer of one organisation: the privacy rule runs on every answer.
    let viewer = store
        .create_user(
            &NewUser {
                email: "bench-viewer@example.org".into(),
                password_hash: None,
                role: Role::Viewer,
                organisations: organisations.iter().take(1).copied().collect(),
            },
            &actor,
        )
        .await?;
    let tokens = TokenService::new(TokenConfig {
        issuer: "concord-bench".into(),
        audience: "concord-bench".into(),
        access_ttl: Duration::from_secs(900),
        keys: SigningKeys::Hs256 {
            secret: generate_secret(),
        },
        oidc: None,
    })
    .map_err(|e| anyhow!("{e}"))?;
    let authenticator = Authenticator::new(Arc::new(tokens), store.clone(), false);
    let session = authenticator
        .start_session(viewer.id)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let events = concord_api::events::OverlapEvents::start(&store).await;
    let cache = CoverageCache::new(store.clone());
    let started = Instant::now();
    let app = concord_api::router_with(store.clone(), authenticator, events, cache.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    // As `concord serve` does.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    while !cache.is_ready().await {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let index_built = started.elapsed();
    println!("{name}: coverage index built in {}", fmt_secs(index_built));

    let localities: Vec<String> = demo_bench::country()
        .into_iter()
        .filter(|a| a.admin_level == AdminLevel::new(2).unwrap_or(AdminLevel::COUNTRY))
        .map(|a| a.pcode.as_str().to_owned())
        .collect();
    if localities.is_empty() {
        bail!("the benchmark country has no localities");
    }
    let client = reqwest::Client::new();
    let endpoint = format!("http://{address}/graphql");
    let query = "query($area: String!) { gaps(filter: {area: $area, from: \"2024-01-01\", to: \"2024-12-31\"}, first: 20) { totalCount edges { node { kind pcode priority peopleUncovered candidates { caseload organisation { name } } } } } }";
    let mut latencies = Latencies::default();
    let mut gaps_seen = 0u64;
    // The first 20 warm connections and caches up and are not timed.
    for i in 0..args.queries + 20 {
        // A fixed stride over the localities: every one asked about, hot and cold alike.
        let area = &localities[(i * 7919) % localities.len()];
        let started = Instant::now();
        let response: Value = client
            .post(&endpoint)
            .bearer_auth(&session.access_token)
            .json(&json!({ "query": query, "variables": { "area": area } }))
            .send()
            .await?
            .json()
            .await?;
        let elapsed = started.elapsed();
        if let Some(errors) = response.get("errors") {
            bail!("gaps for {area} failed: {errors}");
        }
        if i >= 20 {
            latencies.samples.push(elapsed);
            gaps_seen += response["data"]["gaps"]["totalCount"].as_u64().unwrap_or(0);
        }
    }
    server.abort();
    println!(
        "{name}: single-area gaps through HTTP at {}: p50 {}, p99 {}, max {} ({} queries, {} gaps in all)",
        args.api_size,
        fmt_secs(latencies.percentile(50.0)),
        fmt_secs(latencies.percentile(99.0)),
        fmt_secs(latencies.percentile(100.0)),
        latencies.samples.len(),
        gaps_seen,
    );
    let api = json!({
        "backend": name,
        "size": args.api_size,
        "load_s": loaded.as_secs_f64(),
        "index_build_s": index_built.as_secs_f64(),
        "gaps_query": latencies.json(),
    });
    let sql = if store.is_postgres() {
        Some(multirange(&store, engine_secs).await?)
    } else {
        None
    };
    store.connection().close_by_ref().await?;
    Ok((api, sql))
}

/// Uncovered days of every need cell, in SQL: for each cell, the need's period minus the
/// union of the periods of live work located in the cell's area or below it in a sector
/// that counts in the cell. Which sectors count in which cell is the domain's crosswalk
/// (`coverage::counted_in`), written to a temporary table so both sides use the same rule.
async fn multirange(store: &Store, engine_secs: Option<f64>) -> anyhow::Result<Value> {
    let db = store.connection();
    let txn_sql = |sql: &str| Statement::from_string(DatabaseBackend::Postgres, sql.to_owned());
    db.execute_unprepared(
        "DROP TABLE IF EXISTS bench_sector_cell; CREATE TABLE bench_sector_cell (vocabulary text, code text, cell_key text)",
    )
    .await?;
    let codes = db
        .query_all_raw(txn_sql(
            "SELECT DISTINCT vocabulary, code FROM intervention_sector",
        ))
        .await?;
    let mut rows = Vec::new();
    for row in codes {
        let vocabulary: String = row.try_get("", "vocabulary")?;
        let code: String = row.try_get("", "code")?;
        let Some(v) = SectorVocabulary::from_iati_code(&vocabulary) else {
            continue;
        };
        let mut keys = vec![NeedSector::Intersectoral.key()];
        keys.extend(
            coverage::counted_in(v, &code)
                .into_iter()
                .map(|(vocabulary, code)| NeedSector::Sector { vocabulary, code }.key()),
        );
        for key in keys {
            rows.push(format!(
                "('{}', '{}', '{}')",
                vocabulary.replace('\'', "''"),
                code.replace('\'', "''"),
                key.replace('\'', "''")
            ));
        }
    }
    db.execute_unprepared(&format!(
        "INSERT INTO bench_sector_cell VALUES {}; CREATE INDEX ON bench_sector_cell (vocabulary, code); ANALYZE bench_sector_cell",
        rows.join(",")
    ))
    .await?;
    let sql = "
        WITH work AS (
            SELECT DISTINCT i.id, la.path, m.cell_key,
                   daterange(i.effective_start, i.effective_end, '[]') AS running
            FROM intervention i
            JOIN intervention_location l ON l.intervention_id = i.id
            JOIN area la ON la.id = l.area_id
            JOIN intervention_sector s ON s.intervention_id = i.id
            JOIN bench_sector_cell m ON m.vocabulary = s.vocabulary AND m.code = s.code
            WHERE i.status <> '5'
        ),
        cells AS (
            SELECT n.id, a.path, n.sector_key,
                   daterange(n.period_start, n.period_end, '[]') AS period
            FROM need n JOIN area a ON a.id = n.area_id
        ),
        uncovered AS (
            SELECT c.id,
                   datemultirange(c.period)
                     - coalesce(range_agg(w.running), '{}'::datemultirange) AS gaps
            FROM cells c
            LEFT JOIN work w
              ON w.cell_key = c.sector_key
             AND w.path >= c.path AND w.path < c.path || '~'
             AND w.running && c.period
            GROUP BY c.id, c.period
        )
        SELECT count(*) AS cells,
               count(*) FILTER (WHERE u.gaps <> '{}'::datemultirange) AS with_gaps,
               coalesce(sum((SELECT sum(upper(r) - lower(r)) FROM unnest(u.gaps) AS r)), 0)::bigint
                 AS uncovered_days
        FROM uncovered u";
    db.execute_unprepared("SET work_mem = '256MB'; SET jit = off")
        .await?;
    let mut best: Option<Duration> = None;
    let mut answer = Value::Null;
    // Best of three: the first run also warms the buffer cache.
    for _ in 0..3 {
        let started = Instant::now();
        let row = db
            .query_one_raw(txn_sql(sql))
            .await?
            .context("the multirange query returned no row")?;
        let elapsed = started.elapsed();
        best = Some(best.map_or(elapsed, |b| b.min(elapsed)));
        answer = json!({
            "cells": row.try_get::<i64>("", "cells")?,
            "cells_with_uncovered_days": row.try_get::<i64>("", "with_gaps")?,
            "uncovered_days": row.try_get::<i64>("", "uncovered_days")?,
        });
    }
    db.execute_unprepared("DROP TABLE IF EXISTS bench_sector_cell")
        .await?;
    let best = best.unwrap_or_default();
    let ratio = engine_secs.map(|e| best.as_secs_f64() / e.max(1e-9));
    println!(
        "PostgreSQL multirange uncovered days per cell: {} (best of 3; {answer}); {}",
        fmt_secs(best),
        match ratio {
            Some(r) => format!("{r:.1}x the engine's every-cell gap computation at the same size"),
            None => "no engine run at this size to compare with".to_owned(),
        }
    );
    Ok(json!({ "best_s": best.as_secs_f64(), "answer": answer, "ratio_to_engine": ratio }))
}
