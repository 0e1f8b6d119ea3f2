//! `concord demo`: loads the domain's deterministic demo dataset into a database.

use std::time::Instant;

use anyhow::Context;
use concord_domain::access::ReadScope;
use concord_domain::demo::{self, DemoConfig};
use concord_domain::intervention::NewIntervention;
use concord_domain::need::NewNeed;
use concord_domain::organisation::NewOrganisation;
use concord_store::{Actor, InterventionFilter, Store};
use indicatif::{ProgressBar, ProgressStyle};

/// Interventions written per transaction: large enough to amortise round trips, small
/// enough to keep each statement under every database's parameter limit.
const BATCH: usize = 1_000;

/// Up to this many interventions, the demo ends with an overlap recomputation.
const DEMO_OVERLAP_LIMIT: u64 = 20_000;

pub async fn load(store: &Store, size: u64, seed: u64) -> anyhow::Result<()> {
    let actor = Actor::command("demo");
    let everything = InterventionFilter {
        scope: ReadScope {
            everything: true,
            ..Default::default()
        },
        ..Default::default()
    };
    if store.count_interventions(&everything).await? > 0 {
        println!("the database already holds interventions: demo data not loaded");
        return Ok(());
    }
    let started = Instant::now();

    let country = demo::country();
    let areas = store.import_areas(&country.areas, &actor).await?;

    let mut organisation_ids = Vec::new();
    for input in demo::organisations() {
        let org = NewOrganisation::parse(&input)
            .map_err(|e| anyhow::anyhow!("demo organisation {}: {e}", input.name))?;
        let stored = match org.iati_identifier.as_ref() {
            Some(id) => store.organisation_by_iati_identifier(id.as_str()).await?,
            None => None,
        };
        let stored = match stored {
            Some(s) => s,
            None => store.create_organisation(&org, &actor).await?,
        };
        organisation_ids.push(stored.id);
    }

    let needs = demo::needs(seed);
    for input in &needs {
        let need = NewNeed::parse(input).map_err(|e| anyhow::anyhow!("demo need: {e}"))?;
        store.upsert_need(&need, &actor).await?;
    }

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} interventions {bar:40} {pos}/{len} ({per_sec}, {eta} left)",
        )
        .context("progress bar template")?,
    );
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0;
    for input in demo::interventions(&DemoConfig { size, seed }, &organisation_ids) {
        let record = NewIntervention::parse(&input)
            .map_err(|e| anyhow::anyhow!("demo intervention {}: {e}", input.external_id))?;
        batch.push(record);
        if batch.len() == BATCH {
            written += store.create_interventions(&batch, &actor).await?;
            bar.set_position(written);
            batch.clear();
        }
    }
    written += store.create_interventions(&batch, &actor).await?;
    bar.finish_and_clear();
    // The demo packs its interventions into one country's 97 zones, far denser than a real
    // response: above this size the pairs run into the millions, and the benchmark command
    // measures the engine on its own profile.
    let findings = if size <= DEMO_OVERLAP_LIMIT {
        crate::overlaps::recompute(store, "")
            .await?
            .findings
            .to_string()
    } else {
        format!(
            "no (above {DEMO_OVERLAP_LIMIT} interventions; run `concord overlaps recompute` to compute)"
        )
    };

    println!(
        "demo data loaded in {:.1}s: {} areas, {} organisations, {} needs, {} interventions; overlap findings: {}",
        started.elapsed().as_secs_f64(),
        areas.inserted,
        organisation_ids.len(),
        needs.len(),
        written,
        findings
    );
    Ok(())
}
