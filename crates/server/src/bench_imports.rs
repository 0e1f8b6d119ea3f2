//! `concord bench imports`: IATI and 3W import throughput into a fresh SQLite database,
//! and the peak memory of importing a large IATI file.
//!
//! Data: real files repeated with new identifiers (the d-portal IATI file's accepted
//! activities, the Honduras 345W table's rows) up to the size asked for. Each copy's dates
//! move forward by a whole period so copies do not overlap each other in time: the
//! overlap check still runs on every record written, as it does for any import, but on a
//! realistic number of candidates rather than on dozens of identical twins.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use chrono::{Days, Utc};
use clap::Args;
use concord_api::imports::{self, ImportOptions};
use concord_domain::access::Principal;
use concord_domain::area::{AdminLevel, NewArea, Pcode};
use concord_interop::iati::{self, ActivityVerdict, IatiActivity, IatiReader};
use concord_interop::who_what_where::{self as www, ActivityRow, WhoWhatWhereOptions};
use concord_store::{Actor, Store};
use serde_json::json;

use crate::bench::{PeakWatch, fmt_secs};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// An IATI activity file to repeat (the d-portal file of the shared data).
    #[arg(long)]
    iati: PathBuf,
    /// A 3W table to repeat (the Honduras 345W table of the shared data).
    #[arg(long)]
    hxl: PathBuf,
    /// Size of the generated IATI file, in MB.
    #[arg(long, default_value_t = 100)]
    iati_mb: u64,
    /// Rows of the generated 3W table.
    #[arg(long, default_value_t = 20_000)]
    hxl_rows: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the generated files and the databases imported into, to inspect them.
    #[arg(long)]
    keep_databases: bool,
    /// Only write the IATI file here and exit: the benchmark generates its file in a child
    /// process, so the generator's memory is not counted as the import's.
    #[arg(long, hide = true)]
    generate_only: Option<PathBuf>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.generate_only {
        generate_iati(&args.iati, out, args.iati_mb)?;
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("concord-bench-imports-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = measure(&args, &dir).await;
    if args.keep_databases {
        println!("kept: {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).ok();
    }
    let results = outcome?;
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&results)?)?;
    }
    Ok(())
}

async fn measure(args: &ImportArgs, dir: &Path) -> anyhow::Result<serde_json::Value> {
    let iati_file = dir.join("activities.xml");
    let generated = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "imports", "--hxl"])
        .arg(&args.hxl)
        .arg("--iati")
        .arg(&args.iati)
        .arg("--iati-mb")
        .arg(args.iati_mb.to_string())
        .arg("--generate-only")
        .arg(&iati_file)
        .status()?;
    if !generated.success() {
        anyhow::bail!("generating the IATI file failed ({generated})");
    }
    let activities = IatiReader::new(BufReader::new(File::open(&iati_file)?))
        .map_err(|e| anyhow!("{e}"))?
        .count() as u64;
    let bytes = std::fs::metadata(&iati_file)?.len();
    println!(
        "IATI: {activities} activities, {:.1} MB generated",
        bytes as f64 / 1e6
    );
    let store = fresh(dir, "iati").await?;
    let watch = PeakWatch::start();
    let started = Instant::now();
    let report = imports::import_iati(
        &store,
        &Principal::operator(),
        &Actor::command("bench"),
        BufReader::new(File::open(&iati_file)?),
        &ImportOptions {
            partial: true,
            country: None,
        },
        &|_| {},
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    let iati_time = started.elapsed();
    let iati_peak = watch.peak();
    let iati_rate = report.created as f64 / iati_time.as_secs_f64();
    println!(
        "IATI: {} created in {} ({iati_rate:.0} activities/s), peak RSS {} MiB",
        report.created,
        fmt_secs(iati_time),
        iati_peak.map_or("?".into(), |b| (b / (1 << 20)).to_string())
    );

    let hxl_file = dir.join("3w.csv");
    let rows = generate_hxl(&args.hxl, &hxl_file, args.hxl_rows)?;
    let store = fresh(dir, "hxl").await?;
    store
        .import_areas(&areas_of(&rows)?, &Actor::command("bench"))
        .await?;
    let started = Instant::now();
    let report_hxl = imports::import_who_what_where(
        &store,
        &Principal::operator(),
        &Actor::command("bench"),
        BufReader::new(File::open(&hxl_file)?),
        &ImportOptions {
            partial: true,
            country: None,
        },
        &|_| {},
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    let hxl_time = started.elapsed();
    let hxl_rate = report_hxl.read as f64 / hxl_time.as_secs_f64();
    println!(
        "3W: {} rows read, {} created in {} ({hxl_rate:.0} rows/s)",
        report_hxl.read,
        report_hxl.created,
        fmt_secs(hxl_time)
    );
    Ok(json!({
        "iati": {
            "file_mb": bytes as f64 / 1e6,
            "activities": activities,
            "created": report.created,
            "seconds": iati_time.as_secs_f64(),
            "activities_per_s": iati_rate,
            "peak_rss_mib": iati_peak.map(|b| b / (1 << 20)),
        },
        "hxl": {
            "rows": report_hxl.read,
            "created": report_hxl.created,
            "seconds": hxl_time.as_secs_f64(),
            "rows_per_s": hxl_rate,
        },
    }))
}

async fn fresh(dir: &Path, name: &str) -> anyhow::Result<Store> {
    let path = dir.join(format!("{name}.db"));
    let store = Store::connect(&format!("sqlite://{}", path.display()), 4).await?;
    store.migrate().await?;
    Ok(store)
}

fn shift(date: Option<chrono::NaiveDate>, days: u64) -> Option<chrono::NaiveDate> {
    date.and_then(|d| d.checked_add_days(Days::new(days)))
}

/// Repeats the source's accepted activities with new identifiers until the file reaches
/// `mb` megabytes; returns how many activities it holds.
fn generate_iati(source: &Path, out: &Path, mb: u64) -> anyhow::Result<u64> {
    let reader = IatiReader::new(BufReader::new(
        File::open(source).with_context(|| format!("cannot open {}", source.display()))?,
    ))
    .map_err(|e| anyhow!("{e}"))?;
    let mut originals: Vec<IatiActivity> = Vec::new();
    for verdict in reader {
        if let ActivityVerdict::Accepted(a) = verdict.map_err(|e| anyhow!("{e}"))? {
            originals.push(a.activity);
        }
    }
    // The size of one copy as written, so the file reaches the size asked for.
    let mut one = Vec::new();
    iati::write_activities(&mut one, Utc::now(), &originals).map_err(|e| anyhow!("{e}"))?;
    let copies = ((mb as f64 * 1e6) / one.len().max(1) as f64)
        .ceil()
        .max(1.0) as u64;
    let mut all = Vec::with_capacity(originals.len() * copies as usize);
    for copy in 0..copies {
        // Ten years per copy: no copy runs at the same time as another.
        let days = copy * 3_660;
        for original in &originals {
            let mut a = original.clone();
            a.iati_identifier = format!("{}-COPY{copy}", a.iati_identifier);
            let d = &mut a.activity_dates;
            d.planned_start = shift(d.planned_start, days);
            d.planned_end = shift(d.planned_end, days);
            d.actual_start = shift(d.actual_start, days);
            d.actual_end = shift(d.actual_end, days);
            if let Some(b) = &mut a.budget {
                b.period_start = shift(Some(b.period_start), days).unwrap_or(b.period_start);
                b.period_end = shift(Some(b.period_end), days).unwrap_or(b.period_end);
            }
            a.related_activities.clear();
            all.push(a);
        }
    }
    iati::write_activities(BufWriter::new(File::create(out)?), Utc::now(), &all)
        .map_err(|e| anyhow!("{e}"))?;
    Ok(all.len() as u64)
}

/// Repeats the source's rows with new ids (and a year later per copy) up to `rows`.
fn generate_hxl(source: &Path, out: &Path, rows: usize) -> anyhow::Result<Vec<ActivityRow>> {
    let table = www::read_who_what_where(
        File::open(source).with_context(|| format!("cannot open {}", source.display()))?,
        &WhoWhatWhereOptions::default(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut all = Vec::with_capacity(rows);
    let mut copy = 0u64;
    while all.len() < rows && !table.rows.is_empty() {
        for original in &table.rows {
            if all.len() == rows {
                break;
            }
            let mut r = original.clone();
            r.external_id = format!("{}-copy{copy}", r.external_id);
            r.start = shift(r.start, copy * 366);
            r.end = shift(r.end, copy * 366);
            all.push(r);
        }
        copy += 1;
    }
    www::write_who_what_where(BufWriter::new(File::create(out)?), &all)
        .map_err(|e| anyhow!("{e}"))?;
    Ok(all)
}

/// The areas the rows name, from their own admin columns, parents first.
fn areas_of(rows: &[ActivityRow]) -> anyhow::Result<Vec<NewArea>> {
    let mut out: Vec<NewArea> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in rows {
        let Some(country) = row.country.clone().or_else(|| {
            row.location
                .admin_pcodes
                .iter()
                .flatten()
                .next()
                .map(|p| p[..2].to_owned())
        }) else {
            continue;
        };
        let country_pcode = Pcode::parse(&country).map_err(|e| anyhow!("{e}"))?;
        if seen.insert(country.clone()) {
            out.push(
                NewArea::new(
                    country_pcode.clone(),
                    &country,
                    AdminLevel::COUNTRY,
                    None,
                    &country,
                    None,
                )
                .map_err(|e| anyhow!("{e}"))?,
            );
        }
        let mut parent = (country_pcode, AdminLevel::COUNTRY);
        for (i, code) in row.location.admin_pcodes.iter().enumerate() {
            let Some(code) = code else { break };
            let Ok(pcode) = Pcode::parse(code) else { break };
            let level = AdminLevel::new(i as i64 + 1).map_err(|e| anyhow!("{e}"))?;
            if seen.insert(code.clone()) {
                let name = row.location.admin_names[i]
                    .clone()
                    .unwrap_or_else(|| code.clone());
                match NewArea::new(
                    pcode.clone(),
                    &name,
                    level,
                    Some((&parent.0, parent.1)),
                    &country,
                    None,
                ) {
                    Ok(area) => out.push(area),
                    Err(_) => break,
                }
            }
            parent = (pcode, level);
        }
    }
    Ok(out)
}
