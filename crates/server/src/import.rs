//! `concord import`: reference tables from files.

use std::path::Path;

use anyhow::Context;
use concord_domain::area::read_pcode_table;
use concord_store::{Actor, Store};

pub async fn areas(store: &Store, file: &Path) -> anyhow::Result<()> {
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let known = store.known_pcodes().await?;
    let table = read_pcode_table(std::io::BufReader::new(reader), &known)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let report = store
        .import_areas(&table.areas, &Actor::command("import areas"))
        .await?;
    for error in &table.errors {
        eprintln!(
            "{}:{}: {}{}",
            file.display(),
            error.line,
            error
                .pcode
                .as_deref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            error.reason
        );
    }
    for (pcode, reason) in &report.refused {
        eprintln!("{}: {pcode}: {reason}", file.display());
    }
    println!(
        "areas: {} inserted, {} updated, {} rows refused",
        report.inserted,
        report.updated,
        table.errors.len() + report.refused.len()
    );
    Ok(())
}
