//! `concord overlaps`: the full recomputation and reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use concord_store::{Recomputation, RecomputeProgress, Store};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub enum OverlapCommand {
    /// Recompute every finding with the sort-and-sweep: reviews of pairs that still overlap
    /// are kept, new pairs are opened, pairs that no longer overlap are closed.
    Recompute,
    /// Print every finding.
    Report {
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

pub async fn run(store: &Store, command: OverlapCommand) -> anyhow::Result<()> {
    match command {
        OverlapCommand::Recompute => {
            let started = Instant::now();
            let summary = recompute(store, "").await?;
            println!(
                "overlaps recomputed in {:.1}s: {} interventions, {} findings ({} new, {} kept), {} closed",
                started.elapsed().as_secs_f64(),
                summary.candidates,
                summary.findings,
                summary.new,
                summary.updated,
                summary.closed
            );
            Ok(())
        }
        OverlapCommand::Report { format } => report(store, format).await,
    }
}

/// Recomputes with a progress bar on standard error, its lines starting with `label`:
/// interventions loaded, then interventions swept with the findings stored so far.
pub async fn recompute(store: &Store, label: &str) -> anyhow::Result<Recomputation> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {label}{{msg}} {{bar:40}} {{pos}}/{{len}} ({{eta}} left)"
        ))
        .context("progress bar template")?,
    );
    bar.set_message("loading interventions");
    bar.enable_steady_tick(Duration::from_millis(200));
    let storing = AtomicBool::new(false);
    let progress = |step: RecomputeProgress| match step {
        RecomputeProgress::Loading { loaded, total } => {
            bar.set_length(total);
            bar.set_position(loaded);
        }
        RecomputeProgress::Storing {
            passed,
            total,
            findings,
        } => {
            if !storing.swap(true, Ordering::Relaxed) {
                bar.reset();
                bar.set_length(total);
            }
            bar.set_message(format!(
                "sweeping: {findings} findings stored, interventions"
            ));
            bar.set_position(passed);
        }
    };
    let summary = store.recompute_overlaps(&progress).await?;
    bar.finish_and_clear();
    Ok(summary)
}

async fn report(store: &Store, format: Format) -> anyhow::Result<()> {
    let findings = store.all_findings().await?;
    match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "id": f.id,
                        "intervention_a": f.finding.a.0,
                        "intervention_b": f.finding.b.0,
                        "kind": f.finding.kind.code(),
                        "score": f.finding.score,
                        "status": f.status.code(),
                        "reasons": f.finding.reasons,
                        "review_note": f.review_note,
                        "detected_at": f.detected_at,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Csv => {
            let mut out = csv::Writer::from_writer(std::io::stdout());
            out.write_record([
                "id",
                "intervention_a",
                "intervention_b",
                "kind",
                "score",
                "status",
                "sector",
                "shared_area",
                "time_share",
                "targets_over_need",
            ])?;
            for f in &findings {
                let r = &f.finding.reasons;
                out.write_record([
                    f.id.to_string(),
                    f.finding.a.0.to_string(),
                    f.finding.b.0.to_string(),
                    f.finding.kind.code().to_owned(),
                    format!("{:.3}", f.finding.score),
                    f.status.code().to_owned(),
                    format!("{}:{}", r.sector_code.0.iati_code(), r.sector_code.1),
                    r.shared_area
                        .pcodes()
                        .last()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                    format!("{:.3}", r.time_share),
                    r.targets_over_need
                        .map(|t| format!("{t:.3}"))
                        .unwrap_or_default(),
                ])?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
