//! `concord import iati|hxl` and `concord export iati|hxl`: the API's import service on
//! files, as the operator (who may write for every organisation), with a progress bar.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use concord_api::error::ApiError;
use concord_api::imports::{self, ImportOptions, ImportReport};
use concord_domain::access::Principal;
use concord_domain::organisation::OrganisationId;
use concord_store::{Actor, Store};
use indicatif::{ProgressBar, ProgressStyle};

fn progress_bar(what: &str) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} importing {what}: {{pos}} written ({{per_sec}})"
        ))
        .context("progress bar template")?,
    );
    Ok(bar)
}

/// Prints what an import did; refusals go to stderr, one per line, as FILE:LINE.
fn print_report(file: &Path, report: &ImportReport) {
    for p in &report.rejected {
        eprintln!(
            "{}:{}: {}{}{}",
            file.display(),
            p.line,
            p.identifier
                .as_deref()
                .map(|i| format!("{i}: "))
                .unwrap_or_default(),
            p.element
                .as_deref()
                .map(|e| format!("{e}: "))
                .unwrap_or_default(),
            p.reason
        );
    }
    for s in &report.duplicate_organisations {
        eprintln!("{}: probably one organisation: {s}", file.display());
    }
    println!(
        "{}: {} read, {} created, {} updated, {} unchanged, {} refused, {} warnings, {} organisations created{}",
        file.display(),
        report.read,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len(),
        report.warnings,
        report.organisations_created.len(),
        if report.applied {
            ""
        } else {
            "; nothing imported (use --partial to import the rest)"
        }
    );
}

pub async fn import_iati(store: &Store, files: &[PathBuf], partial: bool) -> anyhow::Result<()> {
    let mut refused = false;
    for file in files {
        let bar = progress_bar("IATI activities")?;
        let (principal, actor) = (Principal::operator(), Actor::command("import iati"));
        let options = ImportOptions {
            partial,
            country: None,
        };
        let progress = |n| bar.set_position(n);
        let report = import_file(store, file, |reader| {
            imports::import_iati(store, &principal, &actor, reader, &options, &progress)
        })
        .await?;
        bar.finish_and_clear();
        print_report(file, &report);
        refused |= !report.applied;
    }
    if refused {
        bail!("some files were not imported");
    }
    Ok(())
}

pub async fn import_hxl(
    store: &Store,
    file: &Path,
    partial: bool,
    country: Option<String>,
) -> anyhow::Result<()> {
    let bar = progress_bar("3W rows")?;
    let (principal, actor) = (Principal::operator(), Actor::command("import hxl"));
    let options = ImportOptions { partial, country };
    let progress = |n| bar.set_position(n);
    let report = import_file(store, file, |reader| {
        imports::import_who_what_where(store, &principal, &actor, reader, &options, &progress)
    })
    .await?;
    bar.finish_and_clear();
    print_report(file, &report);
    if !report.applied {
        bail!("{} was not imported", file.display());
    }
    Ok(())
}

/// Runs an import of `file`. An import PostgreSQL rolls back to break a deadlock is run
/// again, on the file read again from the start.
async fn import_file<F, Fut>(store: &Store, file: &Path, import: F) -> anyhow::Result<ImportReport>
where
    F: Fn(BufReader<File>) -> Fut,
    Fut: std::future::Future<Output = Result<ImportReport, ApiError>>,
{
    let mut first =
        Some(File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
    store
        .retrying(|| {
            let attempt = first
                .take()
                .map_or_else(|| File::open(file), Ok)
                .map(|reader| import(BufReader::new(reader)))
                .map_err(|e| {
                    ApiError::invalid("file", &format!("cannot open {}: {e}", file.display()))
                });
            async move { attempt?.await }
        })
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", file.display()))
}

/// Where an export goes: a file, or standard output.
fn output(out: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    })
}

pub async fn export_iati(
    store: &Store,
    organisation: Option<i64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let written = imports::export_iati(
        store,
        &Principal::operator().read_scope(),
        organisation.map(OrganisationId),
        output(out)?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    eprintln!("{written} activities exported");
    Ok(())
}

pub async fn export_hxl(
    store: &Store,
    organisation: Option<i64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let written = imports::export_who_what_where(
        store,
        &Principal::operator().read_scope(),
        organisation.map(OrganisationId),
        output(out)?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    eprintln!("{written} rows exported");
    Ok(())
}
