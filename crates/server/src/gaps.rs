//! `concord gaps`: the gap analysis from the command line, for operators (who see every
//! record: they hold the database).

use anyhow::Context;
use clap::ValueEnum;
use concord_domain::area::Pcode;
use concord_domain::coverage::{self, GapSettings};
use concord_domain::need::NeedSector;
use concord_domain::reference;
use concord_domain::values::Period;
use concord_store::Store;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub struct GapArgs {
    pub area: Option<String>,
    pub sector: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub format: Format,
}

pub async fn run(store: &Store, args: GapArgs) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let year = chrono::Datelike::year(&today);
    let from = args
        .from
        .or(chrono::NaiveDate::from_ymd_opt(year, 1, 1))
        .context("a start date")?;
    let to = args
        .to
        .or(chrono::NaiveDate::from_ymd_opt(year, 12, 31))
        .context("an end date")?;
    let period = Period::new("to", from, Some(to)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let area = match &args.area {
        Some(p) => {
            let pcode = Pcode::parse(p).map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(
                store
                    .area(&pcode)
                    .await?
                    .with_context(|| format!("no area has the P-code {pcode}"))?
                    .path,
            )
        }
        None => None,
    };
    let sector = match args.sector.as_deref() {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("intersectoral") => Some(NeedSector::Intersectoral),
        Some(s) => {
            let found = reference::find_sector(s)
                .with_context(|| format!("`{s}` is not a known sector code"))?;
            Some(NeedSector::Sector {
                vocabulary: found.vocabulary,
                code: found.code.clone(),
            })
        }
    };
    let inputs = store.coverage_inputs(&period, None).await?;
    let gaps: Vec<coverage::Gap> = coverage::gaps(
        &period,
        &inputs.interventions,
        &inputs.needs,
        &GapSettings::new(today),
    )
    .into_iter()
    .filter(|g| {
        area.as_ref()
            .is_none_or(|a| a.is_ancestor_or_self_of(&g.area))
    })
    .filter(|g| sector.as_ref().is_none_or(|s| &g.sector == s))
    .collect();
    let rows: Vec<[String; 8]> = gaps
        .iter()
        .map(|g| {
            [
                g.kind.code().to_owned(),
                g.area
                    .pcodes()
                    .last()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                match &g.sector {
                    NeedSector::Intersectoral => "intersectoral".to_owned(),
                    NeedSector::Sector { vocabulary, code } => reference::sector(*vocabulary, code)
                        .and_then(|s| s.hpc_code.clone())
                        .unwrap_or_else(|| code.clone()),
                },
                g.severity.map(|s| s.get().to_string()).unwrap_or_default(),
                g.people_in_need.to_string(),
                g.people_uncovered.to_string(),
                format!("{:.3}", g.priority),
                g.candidates.len().to_string(),
            ]
        })
        .collect();
    let header = [
        "kind",
        "pcode",
        "sector",
        "severity",
        "people_in_need",
        "people_uncovered",
        "priority",
        "candidates",
    ];
    match args.format {
        Format::Csv => {
            let mut out = csv::Writer::from_writer(std::io::stdout());
            out.write_record(header)?;
            for row in &rows {
                out.write_record(row)?;
            }
            out.flush()?;
        }
        Format::Json => {
            let json: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        header
                            .iter()
                            .zip(r)
                            .map(|(k, v)| (k.to_string(), serde_json::Value::from(v.as_str())))
                            .collect(),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Table => {
            println!(
                "{:<14} {:<12} {:<14} {:>8} {:>15} {:>16} {:>9} {:>10}",
                header[0],
                header[1],
                header[2],
                header[3],
                header[4],
                header[5],
                header[6],
                header[7]
            );
            for r in &rows {
                println!(
                    "{:<14} {:<12} {:<14} {:>8} {:>15} {:>16} {:>9} {:>10}",
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
                );
            }
            println!("{} gaps", rows.len());
        }
    }
    Ok(())
}
