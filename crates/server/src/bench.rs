//! `concord bench overlaps`: how long overlap detection takes at 10,000 to 1,000,000
//! interventions, on the engine alone, end to end from SQLite and PostgreSQL, at write time,
//! and against the best self-join PostgreSQL can run on the same tables.
//!
//! A measurement, not a test: it asserts nothing about timings. Data come from the demo
//! generator's benchmark profile (`concord_domain::demo_bench`), streamed in batches so
//! memory stays bounded while loading. Each size gets a fresh SQLite file in a temporary
//! directory and, with `--postgres-url`, a fresh database `concord_bench_<size>` on that
//! server; both are removed at the end. Steps predicted (from the previous size) to take
//! longer than `--max-step-minutes` or more memory than the machine has are skipped and
//! reported as such, so a run at a million does not stall or exhaust the machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use concord_domain::access::ReadScope;
use concord_domain::demo_bench;
use concord_domain::intervention::{Intervention, InterventionId, NewIntervention};
use concord_domain::organisation::{NewOrganisation, OrganisationId};
use concord_domain::overlap::{self, FindingKind, NoNeeds};
use concord_domain::review::candidate_of;
use concord_store::{
    Actor, DEFAULT_OVERLAP_MIN_SCORE, FindingFilter, PageRequest, Recomputation, Store,
};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{Value, json};

/// Interventions written per transaction while loading, as `concord demo` does.
const BATCH: usize = 1_000;
/// Seed offset of the interventions written one by one after loading, so they are new.
const WRITE_SEED: u64 = 0x5EED_0001;
/// PostgreSQL settings for the self-join: memory for its hashes and sorts, so it is not
/// measured spilling to disk with the 4 MB default, and no JIT, which the materialised
/// sides' poor row estimates trigger at every size and which costs more than it saves.
const SQL_WORK_MEM: &str = "256MB";
const PERIOD_INDEX: &str = "bench_intervention_period";
/// A self-join slower than this is not timed again when the index leaves its plan as is.
const SAME_PLAN_RERUN_SECS: u64 = 120;
const SAME_PLAN: &str = "not re-run: the index leaves the plan unchanged";

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Overlap detection: the engine alone, recomputation from SQLite and PostgreSQL, the
    /// write-time check, and a PostgreSQL self-join for comparison.
    Overlaps(OverlapArgs),
    /// Coverage and gaps: every cell in the engine, single-area `gaps` through HTTP, and a
    /// PostgreSQL multirange query for comparison.
    Gaps(crate::bench_gaps::GapArgs),
    /// IATI and 3W import throughput into SQLite, and the peak memory of a large IATI file.
    Imports(crate::bench_imports::ImportArgs),
}

#[derive(Args, Debug)]
pub struct OverlapArgs {
    /// Numbers of interventions, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000, 1_000_000])]
    sizes: Vec<u64>,
    /// A PostgreSQL server to measure on as well (`postgres://USER@HOST:PORT/DB`); the
    /// benchmark creates and drops `concord_bench_<size>` there.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Write the results as JSON to this file (rewritten after every size).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write-time checks to time at the largest size, on each database.
    #[arg(long, default_value_t = 200)]
    writes: usize,
    /// Measure the engine only, without databases.
    #[arg(long)]
    engine_only: bool,
    /// Leave SQLite out (with `--postgres-url`, measure PostgreSQL only).
    #[arg(long)]
    no_sqlite: bool,
    /// Skip a database step predicted, from the previous size, to take longer than this.
    #[arg(long, default_value_t = 40)]
    max_step_minutes: u64,
    /// Cancel each SQL self-join after this many seconds.
    #[arg(long, default_value_t = 900)]
    sql_timeout_secs: u64,
    /// Keep the benchmark databases instead of dropping them (to inspect plans by hand).
    #[arg(long)]
    keep_databases: bool,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Overlaps(args) => overlaps(args).await,
        BenchCommand::Gaps(args) => crate::bench_gaps::gaps(args).await,
        BenchCommand::Imports(args) => crate::bench_imports::run(args).await,
    }
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct EngineRun {
    size: u64,
    candidates: u64,
    live: u64,
    build: Duration,
    sweep: Duration,
    findings: u64,
    duplicates: u64,
    /// Findings scoring at least the store's default minimum, i.e. those it would keep.
    kept: u64,
    candidates_bytes: Option<u64>,
    sweep_peak_bytes: Option<u64>,
    skipped: Option<String>,
}

#[derive(Clone, Debug)]
struct StoreRun {
    backend: &'static str,
    size: u64,
    load: Duration,
    recompute: Option<(Duration, Recomputation)>,
    /// The process's peak resident size during the recomputation.
    recompute_peak: Option<u64>,
    skipped: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Latencies {
    pub(crate) samples: Vec<Duration>,
}

impl Latencies {
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        // Nearest rank.
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn total(&self) -> Duration {
        self.samples.iter().sum()
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "count": self.samples.len(),
            "p50_ms": ms(self.percentile(50.0)),
            "p99_ms": ms(self.percentile(99.0)),
            "max_ms": ms(self.percentile(100.0)),
            "total_s": self.total().as_secs_f64(),
        })
    }
}

#[derive(Clone, Debug)]
struct WriteRun {
    backend: &'static str,
    size: u64,
    checked: Latencies,
    plain: Latencies,
    findings: u64,
}

#[derive(Clone, Debug)]
struct SqlAttempt {
    result: Result<(u64, Duration), String>,
    plan: String,
}

impl SqlAttempt {
    fn time(&self) -> Option<Duration> {
        self.result.as_ref().ok().map(|(_, d)| *d)
    }

    fn json(&self) -> Value {
        match &self.result {
            Ok((pairs, time)) => {
                json!({ "pairs": pairs, "seconds": time.as_secs_f64(), "plan": self.plan })
            }
            Err(e) => json!({ "error": e, "plan": self.plan }),
        }
    }
}

#[derive(Clone, Debug)]
struct SqlRun {
    size: u64,
    without_index: SqlAttempt,
    with_index: SqlAttempt,
    index_build: Duration,
    index_used: bool,
}

impl SqlRun {
    fn best(&self) -> Option<Duration> {
        match (self.without_index.time(), self.with_index.time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Default)]
struct Results {
    machine: Value,
    engine: Vec<EngineRun>,
    stores: Vec<StoreRun>,
    sql: Vec<SqlRun>,
    writes: Vec<WriteRun>,
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

async fn overlaps(args: OverlapArgs) -> anyhow::Result<()> {
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    sizes.retain(|&s| s > 0);
    let largest = *sizes.last().context("no size to measure")?;
    let mut results = Results {
        machine: machine(args.postgres_url.as_deref()).await,
        ..Default::default()
    };
    println!("{}", describe_machine(&results.machine));

    for &size in &sizes {
        println!("\n== {} interventions ==", fmt_size(size));
        let engine = match engine_guard(&results.engine, size, args.seed)? {
            Some(reason) => EngineRun {
                size,
                skipped: Some(reason),
                ..Default::default()
            },
            None => engine(size, args.seed)?,
        };
        println!("{}", engine_line(&engine));
        results.engine.push(engine.clone());

        if !args.engine_only {
            let mut backends: Vec<Backend> = Vec::new();
            if !args.no_sqlite {
                backends.push(Backend::Sqlite);
            }
            if let Some(url) = &args.postgres_url {
                backends.push(Backend::Postgres(url.clone()));
            }
            for backend in backends {
                let run = measure_store(&args, &backend, size, size == largest, &mut results)
                    .await
                    .with_context(|| format!("{} at {}", backend.name(), fmt_size(size)))?;
                println!("{}", store_line(&run));
                results.stores.push(run);
                if let Some(out) = &args.out {
                    write_json(out, &args, &results)?;
                }
            }
        }
        if let Some(out) = &args.out {
            write_json(out, &args, &results)?;
        }
    }

    println!("\n{}", tables(&results));
    if let Some(out) = &args.out {
        write_json(out, &args, &results)?;
        println!("results written to {}", out.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 1. The engine alone
// ---------------------------------------------------------------------------------------

/// Candidates straight from the generator (the paths derived from the country's areas, as
/// the store would materialise them), then one timed `overlap::sweep_each`.
fn engine(size: u64, seed: u64) -> anyhow::Result<EngineRun> {
    let paths = demo_bench::area_paths(&demo_bench::country());
    let before = rss();
    let started = Instant::now();
    let mut candidates = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for intervention in generated(size, seed) {
        candidates.extend(candidate_of(&intervention?, &paths));
    }
    let build = started.elapsed();
    let live = candidates.iter().filter(|c| c.status.is_live()).count() as u64;
    let after_build = rss();

    // Each finding is built in full and counted, not kept: at a million records they would
    // not fit in memory, and what the engine costs is finding them.
    let (mut findings, mut duplicates, mut kept) = (0u64, 0u64, 0u64);
    let watch = PeakWatch::start();
    let started = Instant::now();
    overlap::sweep_each(&candidates, &NoNeeds, &mut |f| {
        findings += 1;
        duplicates += u64::from(f.kind == FindingKind::ProbableDuplicateRecord);
        kept += u64::from(f.score >= DEFAULT_OVERLAP_MIN_SCORE);
    });
    let sweep = started.elapsed();
    let peak = watch.peak();
    let run = EngineRun {
        size,
        candidates: candidates.len() as u64,
        live,
        build,
        sweep,
        findings,
        duplicates,
        kept,
        candidates_bytes: match (before, after_build) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        },
        sweep_peak_bytes: match (after_build, peak) {
            (Some(a), Some(p)) => Some(p.saturating_sub(a)),
            _ => None,
        },
        skipped: None,
    };
    drop(candidates);
    Ok(run)
}

/// The benchmark profile's interventions as the store would hand them out, ids from 1,
/// without a database.
pub(crate) fn generated(
    size: u64,
    seed: u64,
) -> impl Iterator<Item = anyhow::Result<Intervention>> {
    let ids: Vec<OrganisationId> = (1..=demo_bench::ORGANISATIONS as i64)
        .map(OrganisationId)
        .collect();
    let epoch: DateTime<Utc> = DateTime::UNIX_EPOCH;
    demo_bench::interventions(size, seed, &ids)
        .enumerate()
        .map(move |(i, input)| {
            let record = NewIntervention::parse(&input)
                .map_err(|e| anyhow!("generated intervention {}: {e}", input.external_id))?;
            Ok(Intervention {
                id: InterventionId(i as i64 + 1),
                version: 1,
                created_at: epoch,
                updated_at: epoch,
                record,
            })
        })
}

/// Skips the engine when a smaller size predicts more memory than is available: the list
/// of pairs grows with the square of the size at a fixed geography. Without a smaller size
/// in this run, a pilot at a tenth of the size (at most 100,000) is measured first.
fn engine_guard(previous: &[EngineRun], size: u64, seed: u64) -> anyhow::Result<Option<String>> {
    const PILOT: u64 = 100_000;
    let pilot;
    let prev = match previous.iter().rev().find(|r| r.skipped.is_none()) {
        Some(prev) => prev,
        None if size > PILOT => {
            pilot = engine((size / 10).min(PILOT), seed)?;
            &pilot
        }
        None => return Ok(None),
    };
    let Some(available) = mem_available() else {
        return Ok(None);
    };
    let growth = size as f64 / prev.size as f64;
    let predicted = prev.candidates_bytes.unwrap_or(0) as f64 * growth
        + prev.sweep_peak_bytes.unwrap_or(0) as f64 * growth * growth;
    Ok((predicted > 0.8 * available as f64).then(|| {
        format!(
            "skipped: predicted {} of memory (about {} findings), {} available",
            fmt_bytes(predicted as u64),
            fmt_count((prev.findings as f64 * growth * growth) as u64),
            fmt_bytes(available)
        )
    }))
}

// ---------------------------------------------------------------------------------------
// 2-4. Databases
// ---------------------------------------------------------------------------------------

pub(crate) enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A fresh database for one size, removed when `finish` is called.
pub(crate) struct Scratch {
    pub(crate) url: String,
    sqlite_dir: Option<PathBuf>,
    postgres: Option<(DatabaseConnection, String)>,
}

impl Scratch {
    pub(crate) async fn create(backend: &Backend, size: u64) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("concord-bench-{}-{size}", std::process::id()));
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Scratch {
                    url: format!("sqlite://{}", dir.join("bench.db").display()),
                    sqlite_dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres(url) => {
                let name = format!("concord_bench_{size}");
                let admin = Store::connect(url, 1)
                    .await
                    .context("cannot connect to the PostgreSQL server")?
                    .connection()
                    .clone();
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .with_context(|| format!("cannot create the database {name}"))?;
                Ok(Scratch {
                    url: with_database(url, &name)?,
                    sqlite_dir: None,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    pub(crate) async fn finish(self, keep: bool) -> anyhow::Result<()> {
        if keep {
            println!("  kept {}", self.url);
            return Ok(());
        }
        if let Some(dir) = &self.sqlite_dir {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        if let Some((admin, name)) = &self.postgres {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close_by_ref().await?;
        }
        Ok(())
    }
}

/// Replaces the database name of a `postgres://` URL, keeping its query string.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").context("the URL has no scheme")? + 3;
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

async fn measure_store(
    args: &OverlapArgs,
    backend: &Backend,
    size: u64,
    largest: bool,
    results: &mut Results,
) -> anyhow::Result<StoreRun> {
    let name = backend.name();
    if let Some(reason) = load_guard(results, name, size, args.max_step_minutes) {
        return Ok(StoreRun {
            backend: name,
            size,
            load: Duration::ZERO,
            recompute: None,
            recompute_peak: None,
            skipped: Some(reason),
        });
    }
    let scratch = Scratch::create(backend, size).await?;
    let outcome = measure_in(args, backend, &scratch.url, size, largest, results).await;
    let cleanup = scratch.finish(args.keep_databases).await;
    let run = outcome?;
    cleanup?;
    Ok(run)
}

async fn measure_in(
    args: &OverlapArgs,
    backend: &Backend,
    url: &str,
    size: u64,
    largest: bool,
    results: &mut Results,
) -> anyhow::Result<StoreRun> {
    let name = backend.name();
    let store = Store::connect(url, 4).await?;
    store.migrate().await?;

    let (organisations, load) = load(&store, size, args.seed, name).await?;
    let postgres = matches!(backend, Backend::Postgres(_));
    if postgres {
        // Fresh statistics, as autovacuum would have gathered on a live server.
        store.connection().execute_unprepared("ANALYZE").await?;
    }
    println!("  {name}: loaded in {}", fmt_secs(load));

    let mut run = StoreRun {
        backend: name,
        size,
        load,
        recompute: None,
        recompute_peak: None,
        skipped: None,
    };
    match recompute_guard(results, name, size, args.max_step_minutes) {
        Some(reason) => run.skipped = Some(reason),
        None => {
            let watch = PeakWatch::start();
            let started = Instant::now();
            let summary = crate::overlaps::recompute(&store, &format!("{name}: ")).await?;
            run.recompute = Some((started.elapsed(), summary));
            run.recompute_peak = watch.peak();
        }
    }
    if run.recompute.is_some()
        && let Some(member_of) = organisations.first()
    {
        listing(&store, name, *member_of).await?;
    }
    if postgres {
        let sql = self_join(&store, size, args.sql_timeout_secs).await?;
        println!("{}", sql_line(&sql));
        results.sql.push(sql);
    }
    if largest && args.writes > 0 {
        let writes = write_time(&store, name, size, args.seed, &organisations, args.writes).await?;
        println!("{}", write_line(&writes));
        results.writes.push(writes);
    }
    store.connection().close_by_ref().await?;
    Ok(run)
}

/// The country, the organisations, then the interventions through the bulk path in
/// batches of 1,000, streamed from the generator.
pub(crate) async fn load(
    store: &Store,
    size: u64,
    seed: u64,
    backend: &str,
) -> anyhow::Result<(Vec<OrganisationId>, Duration)> {
    let actor = Actor::command("bench");
    let started = Instant::now();
    store
        .import_areas(&demo_bench::country(), &actor)
        .await
        .context("importing the benchmark country")?;
    let mut ids = Vec::with_capacity(demo_bench::ORGANISATIONS);
    for input in demo_bench::organisations() {
        let org = NewOrganisation::parse(&input)
            .map_err(|e| anyhow!("benchmark organisation {}: {e}", input.name))?;
        ids.push(store.create_organisation(&org, &actor).await?.id);
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} loading {backend} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)"
        ))
        .context("progress bar template")?,
    );
    let mut batch = Vec::with_capacity(BATCH);
    for input in demo_bench::interventions(size, seed, &ids) {
        batch.push(
            NewIntervention::parse(&input)
                .map_err(|e| anyhow!("generated intervention {}: {e}", input.external_id))?,
        );
        if batch.len() == BATCH {
            bar.inc(store.create_interventions(&batch, &actor).await?);
            batch.clear();
        }
    }
    bar.inc(store.create_interventions(&batch, &actor).await?);
    bar.finish_and_clear();
    Ok((ids, started.elapsed()))
}

/// What a coordinator's first look at the stored findings costs: the first page of ten and
/// the total, for an administrator and for a member of one organisation (who reads every
/// public record and the restricted ones of that organisation).
async fn listing(store: &Store, backend: &str, member_of: OrganisationId) -> anyhow::Result<()> {
    let member = ReadScope {
        partners: true,
        own_organisations: vec![member_of],
        ..ReadScope::default()
    };
    let administrator = ReadScope {
        everything: true,
        ..ReadScope::default()
    };
    for (who, scope) in [("administrator", administrator), ("member", member)] {
        let filter = FindingFilter {
            scope,
            ..FindingFilter::default()
        };
        let started = Instant::now();
        let page = store
            .findings(
                &filter,
                PageRequest {
                    after: None,
                    first: 10,
                },
            )
            .await?;
        let first = started.elapsed();
        let started = Instant::now();
        let total = store.count_findings(&filter).await?;
        println!(
            "  {backend}: findings as {who}: a page of {} in {}, the total ({total}) in {}",
            page.items.len(),
            fmt_secs(first),
            fmt_secs(started.elapsed())
        );
    }
    Ok(())
}

fn previous_store<'a>(results: &'a Results, backend: &str, size: u64) -> Option<&'a StoreRun> {
    results
        .stores
        .iter()
        .rev()
        .find(|r| r.backend == backend && r.size < size && r.skipped.is_none())
}

/// Loading is linear in the size.
fn load_guard(results: &Results, backend: &str, size: u64, max_minutes: u64) -> Option<String> {
    let prev = previous_store(results, backend, size)?;
    let predicted = prev.load.as_secs_f64() * size as f64 / prev.size as f64;
    (predicted > max_minutes as f64 * 60.0).then(|| {
        format!(
            "skipped: loading predicted to take {} (over {max_minutes} min)",
            fmt_secs(Duration::from_secs_f64(predicted))
        )
    })
}

/// What a recomputation at the engine run's size holds at once: the candidates and the
/// sweep's pair list. Its findings stream to the database a chunk at a time, as the
/// engine run's did to its counter.
fn recompute_memory(engine: &EngineRun) -> u64 {
    engine.candidates_bytes.unwrap_or(0) + engine.sweep_peak_bytes.unwrap_or(0)
}

/// Findings a recomputation stores per second at best on this kind of machine: 2.08
/// million in 47 s on SQLite and 58 s on PostgreSQL at 100,000 benchmark interventions.
const STORED_FINDINGS_PER_S: f64 = 45_000.0;

/// Recomputation is dominated by storing findings: linear in their number, which the
/// engine run at this size counted.
fn recompute_guard(
    results: &Results,
    backend: &str,
    size: u64,
    max_minutes: u64,
) -> Option<String> {
    let findings = |s: u64| {
        results
            .engine
            .iter()
            .find(|e| e.size == s && e.skipped.is_none())
            .map(|e| e.findings.max(1) as f64)
    };
    if let Some(skipped) = results
        .engine
        .iter()
        .find(|e| e.size == size)
        .and_then(|e| e.skipped.as_ref())
    {
        // The recomputation runs the same sweep: what stopped the engine stops it.
        return Some(format!("recomputation {skipped}"));
    }
    let engine_now = results
        .engine
        .iter()
        .find(|e| e.size == size && e.skipped.is_none());
    if let (Some(engine), Some(available)) = (engine_now, mem_available()) {
        let predicted = recompute_memory(engine);
        if predicted as f64 > 0.8 * available as f64 {
            return Some(format!(
                "recomputation skipped: predicted {} of memory, {} available",
                fmt_bytes(predicted),
                fmt_bytes(available)
            ));
        }
    }
    let predicted = match previous_store(results, backend, size)
        .and_then(|prev| Some((prev.size, prev.recompute.as_ref()?.0)))
    {
        Some((prev_size, prev_time)) => {
            let growth = match (findings(size), findings(prev_size)) {
                (Some(now), Some(then)) => now / then,
                _ => (size as f64 / prev_size as f64).powi(2),
            };
            prev_time.as_secs_f64() * growth
        }
        // A size measured alone: from the engine's count, at the best rate seen.
        None => findings(size)? / STORED_FINDINGS_PER_S,
    };
    (predicted > max_minutes as f64 * 60.0).then(|| {
        format!(
            "recomputation skipped: predicted to take {} (over {max_minutes} min)",
            fmt_secs(Duration::from_secs_f64(predicted))
        )
    })
}

/// `create_intervention` runs the insert and the write-time check in one transaction;
/// the same number of single-record bulk inserts (no check) give the insert's own cost.
async fn write_time(
    store: &Store,
    backend: &'static str,
    size: u64,
    seed: u64,
    organisations: &[OrganisationId],
    n: usize,
) -> anyhow::Result<WriteRun> {
    let actor = Actor::command("bench");
    let records = demo_bench::interventions(2 * n as u64, seed ^ WRITE_SEED, organisations)
        .map(|mut input| {
            input.external_id = format!("{}-W", input.external_id);
            NewIntervention::parse(&input)
                .map_err(|e| anyhow!("generated intervention {}: {e}", input.external_id))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (checked_records, plain_records) = records.split_at(n);
    let mut checked = Vec::with_capacity(n);
    let mut findings = 0;
    for record in checked_records {
        let started = Instant::now();
        let written = store.create_intervention(record, &actor).await?;
        checked.push(started.elapsed());
        findings += written.overlaps.len() as u64;
    }
    let mut plain = Vec::with_capacity(n);
    for record in plain_records {
        let started = Instant::now();
        store
            .create_interventions(std::slice::from_ref(record), &actor)
            .await?;
        plain.push(started.elapsed());
    }
    Ok(WriteRun {
        backend,
        size,
        checked: Latencies { samples: checked },
        plain: Latencies { samples: plain },
        findings,
    })
}

// ---------------------------------------------------------------------------------------
// 4. The PostgreSQL self-join
// ---------------------------------------------------------------------------------------

/// Every pair of live interventions of different reporting organisations that carry the
/// same sector code (vocabulary and code equal: no crosswalk, so fewer pairs than the
/// engine finds), meet in space (one's area is the other's or an ancestor of it, by the
/// materialised path) and in time (inclusive effective periods, an open end running
/// forever). Counted as distinct pairs.
///
/// The plan that works: `reach` lists, for every area, the areas at or above it (a range
/// test on `area.path`, over the 2,201 areas only); `own` is every (record, sector, area)
/// of a live record, `listed` the same at every area at or above its own. A pair then
/// meets where one side stands in its own area and the other is listed: an equality join
/// on (area, vocabulary, code), which PostgreSQL sorts or hashes. A nested pair is met
/// once, a pair in the same area twice (the DISTINCT folds them). The sides are
/// materialised because, left to itself, the planner misjudges the range join and joins
/// the two sides on the sector first, enumerating every pair that shares a code (16.7
/// million rows at 10,000 records, 40 times slower; hundreds of billions at a million).
const SELF_JOIN: &str = "\
WITH reach AS MATERIALIZED (
    SELECT d.id AS area_id, n.id AS node_id
    FROM area d
    JOIN area n ON d.path >= n.path AND d.path < left(n.path, -1) || '0'
),
own AS MATERIALIZED (
    SELECT i.id, i.reporting_organisation_id AS org,
           daterange(i.effective_start, i.effective_end, '[]') AS period,
           s.vocabulary, s.code, l.area_id AS node_id
    FROM intervention i
    JOIN intervention_sector s ON s.intervention_id = i.id
    JOIN intervention_location l ON l.intervention_id = i.id
    WHERE i.status NOT IN ('4', '5')
),
listed AS MATERIALIZED (
    SELECT o.id, o.org, o.period, o.vocabulary, o.code, r.node_id
    FROM own o
    JOIN reach r ON r.area_id = o.node_id
)
SELECT count(*) FROM (
    SELECT DISTINCT LEAST(a.id, b.id) AS x, GREATEST(a.id, b.id) AS y
    FROM own a
    JOIN listed b ON b.node_id = a.node_id AND b.vocabulary = a.vocabulary AND b.code = a.code
    WHERE a.id <> b.id AND a.org <> b.org AND a.period && b.period
) pairs";

async fn self_join(store: &Store, size: u64, timeout_secs: u64) -> anyhow::Result<SqlRun> {
    let db = store.connection();
    let without_index = timed_count(db, timeout_secs).await?;
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS btree_gist")
        .await?;
    let started = Instant::now();
    db.execute_unprepared(&format!(
        "CREATE INDEX {PERIOD_INDEX} ON intervention \
         USING gist (daterange(effective_start, effective_end, '[]'))"
    ))
    .await?;
    db.execute_unprepared("ANALYZE intervention").await?;
    let index_build = started.elapsed();
    // A long join whose plan the index does not change is not run a second time.
    let plan = explain(db).await?;
    let long = without_index
        .time()
        .is_none_or(|t| t > Duration::from_secs(SAME_PLAN_RERUN_SECS));
    let with_index = if long && plan_shape(&plan) == plan_shape(&without_index.plan) {
        SqlAttempt {
            result: Err(SAME_PLAN.to_owned()),
            plan,
        }
    } else {
        timed_count(db, timeout_secs).await?
    };
    let index_used = with_index.plan.contains(PERIOD_INDEX);
    Ok(SqlRun {
        size,
        without_index,
        with_index,
        index_build,
        index_used,
    })
}

/// The self-join's plan and its time, in a transaction that gives it memory and a deadline.
async fn timed_count(db: &DatabaseConnection, timeout_secs: u64) -> anyhow::Result<SqlAttempt> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&settings(timeout_secs)).await?;
    let plan = plan_of(&txn).await?;
    let started = Instant::now();
    let outcome = txn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            SELF_JOIN.to_owned(),
        ))
        .await;
    let elapsed = started.elapsed();
    let result = match outcome {
        Ok(Some(row)) => Ok((row.try_get_by_index::<i64>(0)? as u64, elapsed)),
        Ok(None) => Err("no row".to_owned()),
        Err(e) => Err(format!("after {}: {e}", fmt_secs(elapsed))),
    };
    // A cancelled statement aborts the transaction; rolling back is all that is left.
    txn.rollback().await?;
    Ok(SqlAttempt { result, plan })
}

fn settings(timeout_secs: u64) -> String {
    format!(
        "SET LOCAL work_mem = '{SQL_WORK_MEM}'; SET LOCAL jit = off; \
         SET LOCAL statement_timeout = '{timeout_secs}s'"
    )
}

async fn plan_of<C: ConnectionTrait>(db: &C) -> anyhow::Result<String> {
    let lines: Vec<String> = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("EXPLAIN {SELF_JOIN}"),
        ))
        .await?
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect();
    Ok(lines.join("\n"))
}

async fn explain(db: &DatabaseConnection) -> anyhow::Result<String> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&settings(60)).await?;
    let plan = plan_of(&txn).await?;
    txn.rollback().await?;
    Ok(plan)
}

/// A plan without its cost estimates, which fresh statistics change.
fn plan_shape(plan: &str) -> String {
    plan.lines()
        .map(|line| line.split("  (cost=").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------
// Machine and memory
// ---------------------------------------------------------------------------------------

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kib| kib * 1024)
}

fn rss() -> Option<u64> {
    status_kib("VmRSS:")
}

fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:")
}

/// Resets the kernel's peak resident set size (Linux 4.0+). Some kernels accept the write
/// and keep the old peak: the reset counts only if the peak then is the current size.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
        && matches!((peak_rss(), rss()), (Some(peak), Some(now)) if peak <= now + now / 20)
}

/// The peak resident set size over one phase: the kernel's high-water mark where it can be
/// reset, else the largest of samples taken every 10 ms (which can miss a shorter spike).
pub(crate) struct PeakWatch(Option<(Arc<AtomicBool>, std::thread::JoinHandle<u64>)>);

impl PeakWatch {
    pub(crate) fn start() -> Self {
        if reset_peak() {
            return PeakWatch(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopped.load(Ordering::Relaxed) {
                peak = peak.max(rss().unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak.max(rss().unwrap_or(0))
        });
        PeakWatch(Some((stop, sampler)))
    }

    /// The peak since `start`, in bytes; None where the size cannot be read.
    pub(crate) fn peak(self) -> Option<u64> {
        match self.0 {
            None => peak_rss(),
            Some((stop, sampler)) => {
                stop.store(true, Ordering::Relaxed);
                sampler.join().ok().filter(|peak| *peak > 0)
            }
        }
    }
}

fn meminfo(field: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kib| kib * 1024)
}

fn mem_available() -> Option<u64> {
    meminfo("MemAvailable:")
}

pub(crate) async fn machine(postgres_url: Option<&str>) -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        });
    let postgres = match postgres_url {
        Some(url) => match Store::connect(url, 1).await {
            Ok(store) => {
                let version = store
                    .connection()
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        "SHOW server_version".to_owned(),
                    ))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|row| row.try_get_by_index::<String>(0).ok());
                let _ = store.connection().close_by_ref().await;
                version
            }
            Err(_) => None,
        },
        None => None,
    };
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": cpu,
        "memory_bytes": meminfo("MemTotal:"),
        "os": std::env::consts::OS,
        "postgres": postgres,
        "sql_settings": format!("work_mem = {SQL_WORK_MEM}, jit = off"),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

fn describe_machine(m: &Value) -> String {
    format!(
        "machine: {} CPUs ({}), {} memory, {} build{}",
        m["cpus"],
        m["cpu"].as_str().unwrap_or("unknown CPU"),
        m["memory_bytes"]
            .as_u64()
            .map_or("unknown".to_owned(), fmt_bytes),
        m["build"].as_str().unwrap_or(""),
        m["postgres"]
            .as_str()
            .map(|v| format!(", PostgreSQL {v}"))
            .unwrap_or_default()
    )
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

pub(crate) fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

fn fmt_size(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n.is_multiple_of(1_000) => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

fn fmt_ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.3}x")
    } else if r < 10.0 {
        format!("{r:.1}x")
    } else {
        format!("{r:.0}x")
    }
}

fn opt_bytes(b: Option<u64>) -> String {
    b.map_or("n/a".to_owned(), fmt_bytes)
}

fn engine_line(e: &EngineRun) -> String {
    match &e.skipped {
        Some(reason) => format!("  engine: {reason}"),
        None => format!(
            "  engine: {} findings ({} probable duplicate records, {} scoring >= {}) in {} (candidates built in {}); RSS +{} candidates, +{} peak during the sweep",
            fmt_count(e.findings),
            fmt_count(e.duplicates),
            fmt_count(e.kept),
            DEFAULT_OVERLAP_MIN_SCORE,
            fmt_secs(e.sweep),
            fmt_secs(e.build),
            opt_bytes(e.candidates_bytes),
            opt_bytes(e.sweep_peak_bytes)
        ),
    }
}

fn store_line(r: &StoreRun) -> String {
    match (&r.recompute, &r.skipped) {
        (Some((time, summary)), _) => format!(
            "  {}: load {}, recomputation {} ({} candidates, {} findings, peak RSS {})",
            r.backend,
            fmt_secs(r.load),
            fmt_secs(*time),
            fmt_count(summary.candidates),
            fmt_count(summary.findings),
            opt_bytes(r.recompute_peak)
        ),
        (None, Some(reason)) if r.load.is_zero() => format!("  {}: {reason}", r.backend),
        (None, reason) => format!(
            "  {}: load {}, {}",
            r.backend,
            fmt_secs(r.load),
            reason.as_deref().unwrap_or("no recomputation")
        ),
    }
}

fn sql_line(s: &SqlRun) -> String {
    let attempt = |a: &SqlAttempt| match &a.result {
        Ok((pairs, time)) => format!("{} ({} pairs)", fmt_secs(*time), fmt_count(*pairs)),
        Err(e) => format!("failed {e}"),
    };
    format!(
        "  PostgreSQL self-join: {} without the GiST index, {} with it (built in {}, {})",
        attempt(&s.without_index),
        attempt(&s.with_index),
        fmt_secs(s.index_build),
        if s.index_used {
            "used by the plan"
        } else {
            "not used by the plan"
        }
    )
}

fn write_line(w: &WriteRun) -> String {
    format!(
        "  {} write-time check at {}: p50 {}, p99 {}, {} for {} calls ({} findings); insert alone p50 {}, p99 {}, {} in total",
        w.backend,
        fmt_size(w.size),
        fmt_secs(w.checked.percentile(50.0)),
        fmt_secs(w.checked.percentile(99.0)),
        fmt_secs(w.checked.total()),
        w.checked.samples.len(),
        fmt_count(w.findings),
        fmt_secs(w.plain.percentile(50.0)),
        fmt_secs(w.plain.percentile(99.0)),
        fmt_secs(w.plain.total())
    )
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:>w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(header.iter().map(|h| (*h).to_owned()).collect())];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

fn tables(results: &Results) -> String {
    let mut out = Vec::new();
    out.push(describe_machine(&results.machine));
    let engine: Vec<Vec<String>> = results
        .engine
        .iter()
        .map(|e| match &e.skipped {
            Some(_) => {
                let mut row = vec![fmt_size(e.size), "skipped (see below)".to_owned()];
                row.resize(8, "-".to_owned());
                row
            }
            None => vec![
                fmt_size(e.size),
                format!("{} ({} live)", fmt_count(e.candidates), fmt_count(e.live)),
                fmt_count(e.findings),
                fmt_count(e.duplicates),
                fmt_count(e.kept),
                fmt_secs(e.sweep),
                opt_bytes(e.sweep_peak_bytes),
                opt_bytes(e.candidates_bytes),
            ],
        })
        .collect();
    out.push(format!(
        "\n1. Engine alone (overlap::sweep_each, no database)\n{}",
        table(
            &[
                "size",
                "candidates",
                "findings",
                "of which duplicates",
                &format!("score >= {DEFAULT_OVERLAP_MIN_SCORE}"),
                "sweep",
                "sweep peak RSS",
                "candidates RSS growth",
            ],
            &engine,
        )
    ));
    for e in results.engine.iter().filter(|e| e.skipped.is_some()) {
        out.push(format!(
            "{}: {}",
            fmt_size(e.size),
            e.skipped.as_deref().unwrap_or_default()
        ));
    }

    if !results.stores.is_empty() {
        let rows: Vec<Vec<String>> = results
            .stores
            .iter()
            .map(|r| {
                let engine = results
                    .engine
                    .iter()
                    .find(|e| e.size == r.size && e.skipped.is_none());
                let (recompute, findings, vs_engine, peak) = match &r.recompute {
                    Some((time, summary)) => (
                        fmt_secs(*time),
                        fmt_count(summary.findings),
                        engine.map_or(String::new(), |e| {
                            fmt_ratio(time.as_secs_f64() / e.sweep.as_secs_f64())
                        }),
                        opt_bytes(r.recompute_peak),
                    ),
                    None => (
                        r.skipped.clone().unwrap_or_default(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                };
                vec![
                    fmt_size(r.size),
                    r.backend.to_owned(),
                    if r.load.is_zero() {
                        "-".to_owned()
                    } else {
                        fmt_secs(r.load)
                    },
                    recompute,
                    findings,
                    vs_engine,
                    peak,
                ]
            })
            .collect();
        out.push(format!(
            "\n2. End to end: bulk load (batches of {BATCH}), then store.recompute_overlaps\n{}",
            table(
                &[
                    "size",
                    "backend",
                    "load",
                    "recompute",
                    "findings stored",
                    "recompute / engine",
                    "peak RSS",
                ],
                &rows,
            )
        ));
    }

    if !results.writes.is_empty() {
        let rows: Vec<Vec<String>> = results
            .writes
            .iter()
            .map(|w| {
                vec![
                    fmt_size(w.size),
                    w.backend.to_owned(),
                    w.checked.samples.len().to_string(),
                    fmt_secs(w.checked.percentile(50.0)),
                    fmt_secs(w.checked.percentile(99.0)),
                    fmt_secs(w.checked.percentile(100.0)),
                    fmt_secs(w.checked.total()),
                    fmt_count(w.findings),
                    fmt_secs(w.plain.percentile(50.0)),
                    fmt_secs(w.plain.percentile(99.0)),
                    fmt_secs(w.plain.total()),
                ]
            })
            .collect();
        out.push(format!(
            "\n3. Write-time check: store.create_intervention (insert + check, one transaction) vs the insert alone\n{}",
            table(
                &[
                    "size",
                    "backend",
                    "calls",
                    "p50",
                    "p99",
                    "max",
                    "total",
                    "findings",
                    "insert p50",
                    "insert p99",
                    "insert total",
                ],
                &rows,
            )
        ));
    }

    if !results.sql.is_empty() {
        let rows: Vec<Vec<String>> = results
            .sql
            .iter()
            .map(|s| {
                let attempt = |a: &SqlAttempt| match &a.result {
                    Ok((_, time)) => fmt_secs(*time),
                    Err(e) if e == SAME_PLAN => "same plan".to_owned(),
                    Err(e) if e.contains("statement timeout") => "timed out".to_owned(),
                    Err(_) => "failed".to_owned(),
                };
                let pairs = s
                    .without_index
                    .result
                    .as_ref()
                    .or(s.with_index.result.as_ref())
                    .map_or("-".to_owned(), |(p, _)| fmt_count(*p));
                let recompute = pg_recompute(results, s.size);
                let engine = engine_sweep(results, s.size);
                let ratio = |other: Option<Duration>| match (s.best(), other) {
                    (Some(sql), Some(o)) => fmt_ratio(sql.as_secs_f64() / o.as_secs_f64()),
                    _ => "-".to_owned(),
                };
                vec![
                    fmt_size(s.size),
                    pairs,
                    attempt(&s.without_index),
                    attempt(&s.with_index),
                    if s.index_used { "yes" } else { "no" }.to_owned(),
                    ratio(recompute),
                    ratio(engine),
                ]
            })
            .collect();
        out.push(format!(
            "\n4. PostgreSQL self-join (same code, nested area, overlapping daterange, other organisation, live)\n{}",
            table(
                &[
                    "size",
                    "distinct pairs",
                    "no index",
                    "GiST daterange",
                    "index used",
                    "SQL / PG recompute",
                    "SQL / engine",
                ],
                &rows,
            )
        ));
    }
    out.join("\n")
}

fn pg_recompute(results: &Results, size: u64) -> Option<Duration> {
    results
        .stores
        .iter()
        .find(|r| r.size == size && r.backend == "PostgreSQL")
        .and_then(|r| r.recompute.as_ref())
        .map(|(t, _)| *t)
}

fn engine_sweep(results: &Results, size: u64) -> Option<Duration> {
    results
        .engine
        .iter()
        .find(|e| e.size == size && e.skipped.is_none())
        .map(|e| e.sweep)
}

fn write_json(path: &Path, args: &OverlapArgs, results: &Results) -> anyhow::Result<()> {
    let engine: Vec<Value> = results
        .engine
        .iter()
        .map(|e| {
            json!({
                "size": e.size,
                "skipped": e.skipped,
                "candidates": e.candidates,
                "live": e.live,
                "findings": e.findings,
                "probable_duplicate_records": e.duplicates,
                "scoring_at_least_store_minimum": e.kept,
                "store_minimum_score": DEFAULT_OVERLAP_MIN_SCORE,
                "build_s": e.build.as_secs_f64(),
                "sweep_s": e.sweep.as_secs_f64(),
                "candidates_rss_bytes": e.candidates_bytes,
                "sweep_peak_rss_growth_bytes": e.sweep_peak_bytes,
            })
        })
        .collect();
    let stores: Vec<Value> = results
        .stores
        .iter()
        .map(|r| {
            json!({
                "size": r.size,
                "backend": r.backend,
                "load_s": r.load.as_secs_f64(),
                "recompute_s": r.recompute.as_ref().map(|(t, _)| t.as_secs_f64()),
                "candidates": r.recompute.as_ref().map(|(_, s)| s.candidates),
                "findings": r.recompute.as_ref().map(|(_, s)| s.findings),
                "new": r.recompute.as_ref().map(|(_, s)| s.new),
                "recompute_peak_rss_bytes": r.recompute_peak,
                "skipped": r.skipped,
            })
        })
        .collect();
    let writes: Vec<Value> = results
        .writes
        .iter()
        .map(|w| {
            json!({
                "size": w.size,
                "backend": w.backend,
                "create_intervention": w.checked.json(),
                "insert_only": w.plain.json(),
                "findings_returned": w.findings,
            })
        })
        .collect();
    let sql: Vec<Value> = results
        .sql
        .iter()
        .map(|s| {
            json!({
                "size": s.size,
                "without_index": s.without_index.json(),
                "with_gist_index": s.with_index.json(),
                "index_build_s": s.index_build.as_secs_f64(),
                "index_used": s.index_used,
                "best_s": s.best().map(|d| d.as_secs_f64()),
                "best_over_postgres_recompute": s.best().zip(pg_recompute(results, s.size))
                    .map(|(sql, r)| sql.as_secs_f64() / r.as_secs_f64()),
                "best_over_engine_sweep": s.best().zip(engine_sweep(results, s.size))
                    .map(|(sql, e)| sql.as_secs_f64() / e.as_secs_f64()),
            })
        })
        .collect();
    let doc = json!({
        "machine": results.machine,
        "profile": {
            "generator": "concord_domain::demo_bench",
            "seed": args.seed,
            "admin1": demo_bench::ADMIN1,
            "admin2": demo_bench::ADMIN2,
            "organisations": demo_bench::ORGANISATIONS,
            "admin1_share": demo_bench::ADMIN1_SHARE,
            "sectors": 15,
        },
        "self_join_sql": SELF_JOIN,
        "engine": engine,
        "end_to_end": stores,
        "write_time": writes,
        "postgres_self_join": sql,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "b").unwrap(),
            "postgres://h/b"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latencies {
            samples: (1..=200).rev().map(Duration::from_millis).collect(),
        };
        assert_eq!(l.percentile(50.0), Duration::from_millis(100));
        assert_eq!(l.percentile(99.0), Duration::from_millis(198));
        assert_eq!(l.percentile(100.0), Duration::from_millis(200));
    }

    #[test]
    fn a_recomputation_is_predicted_to_hold_its_candidates_and_pairs() {
        // The engine at a million benchmark interventions: 230 million findings streamed,
        // so the peak is the pair list, as the recomputation's is.
        let engine = EngineRun {
            size: 1_000_000,
            findings: 230_206_078,
            candidates_bytes: Some(307 << 20),
            sweep_peak_bytes: Some(4 << 30),
            ..Default::default()
        };
        assert_eq!(recompute_memory(&engine), (307 << 20) + (4 << 30));
    }

    #[test]
    fn a_size_measured_alone_is_predicted_from_its_findings() {
        let engine = |size, findings| EngineRun {
            size,
            findings,
            ..Default::default()
        };
        let results = Results {
            engine: vec![engine(1_000_000, 230_206_078), engine(10_000, 40_000)],
            ..Default::default()
        };
        let skipped = recompute_guard(&results, "SQLite", 1_000_000, 40).unwrap_or_default();
        assert!(skipped.contains("predicted to take"), "{skipped}");
        assert_eq!(recompute_guard(&results, "SQLite", 10_000, 40), None);
    }

    #[test]
    fn units() {
        assert_eq!(fmt_size(1_000_000), "1M");
        assert_eq!(fmt_size(10_000), "10k");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_secs(Duration::from_millis(1_500)), "1.50 s");
        assert_eq!(fmt_secs(Duration::from_secs(125)), "2m 05s");
    }
}
