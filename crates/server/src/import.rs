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

pub struct NeedsArgs {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub country: Option<String>,
    pub source: Option<String>,
    /// `--priority-severity`: read `#priority` as the needs' severity through this map.
    pub priority_severity: Option<concord_interop::needs::PrioritySeverity>,
    pub partial: bool,
}

/// Reads a needs table, checks every row (figures and areas), and stores it in one
/// transaction: all rows, or with `--partial` all the rows that can be read.
pub async fn needs(store: &Store, file: &Path, args: NeedsArgs) -> anyhow::Result<()> {
    use concord_domain::need::NewNeed;
    use concord_interop::needs::{NeedsOptions, read_needs};

    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut options = NeedsOptions::new(args.from, args.to);
    options.country = args.country;
    options.priority_severity = args.priority_severity;
    options.source = Some(args.source.unwrap_or_else(|| {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }));
    let table = read_needs(std::io::BufReader::new(reader), &options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let known = store.known_pcodes().await?;
    let mut problems: Vec<(u64, String)> = table
        .errors
        .iter()
        .map(|e| (e.line, e.to_string()))
        .collect();
    let mut records = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        match NewNeed::parse(&row.need) {
            Ok(need) if known.contains_key(&need.pcode) => records.push(need),
            Ok(need) => problems.push((
                row.line,
                format!(
                    "{}: no area has this P-code; import the areas first",
                    need.pcode
                ),
            )),
            Err(e) => problems.push((row.line, e.to_string())),
        }
    }
    problems.sort();
    for (line, reason) in &problems {
        eprintln!("{}:{line}: {reason}", file.display());
    }
    if !problems.is_empty() && !args.partial {
        anyhow::bail!(
            "{} rows cannot be imported; nothing was imported (use --partial to import the {} others)",
            problems.len(),
            records.len()
        );
    }
    let written = store
        .upsert_needs(&records, &Actor::command("import needs"))
        .await?;
    println!(
        "needs ({}): {written} imported, {} rows refused, {} left out on purpose",
        table.format,
        problems.len(),
        table.skipped.len()
    );
    Ok(())
}
