//! `concord`: the registry's binary. Serves the GraphQL API, applies migrations, prints the
//! schema, loads demo data and imports reference tables. Configuration comes from flags or
//! `CONCORD_*` environment variables, once, at start-up.

mod bench;
mod bench_gaps;
mod bench_imports;
mod config;
mod demo;
mod gaps;
mod import;
mod interop_files;
mod limits_config;
mod ops_config;
mod overlaps;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use concord_store::Store;

// glibc's allocator keeps what a burst allocated in per-thread arenas, so a long-running
// server's resident memory steps up and stays there; mimalloc returns freed pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The coordination registry for human security.
#[derive(Parser, Debug)]
#[command(name = "concord", version, about)]
struct Cli {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "CONCORD_DATABASE_URL",
        default_value = "sqlite://concord.db"
    )]
    database_url: String,

    /// Database connections in the pool.
    #[arg(
        long,
        global = true,
        env = "CONCORD_DATABASE_POOL",
        default_value_t = 10
    )]
    database_pool: u32,

    /// The lowest score a pair of interventions needs to be stored as an overlap finding.
    #[arg(long, global = true, env = "CONCORD_OVERLAP_MIN_SCORE", default_value_t = concord_store::DEFAULT_OVERLAP_MIN_SCORE)]
    overlap_min_score: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve GraphQL (POST /graphql), GraphiQL (GET /graphql), /healthz and /readyz.
    /// Applies pending migrations first.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "CONCORD_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        #[command(flatten)]
        auth: Box<config::AuthArgs>,
        #[command(flatten)]
        ops: Box<ops_config::OpsArgs>,
        #[command(flatten)]
        limits: Box<limits_config::LimitArgs>,
    },
    /// Manage users without SQL: create the first administrator, add people.
    User {
        #[command(subcommand)]
        what: users::UserCommand,
    },
    /// Overlap findings: recompute them all, or report them.
    Overlaps {
        #[command(subcommand)]
        what: overlaps::OverlapCommand,
    },
    /// Gaps in the response: uncovered, under-covered, over-covered, ending and narrow
    /// coverage, highest priority first.
    Gaps {
        /// Only gaps in this area (P-code) or below it.
        #[arg(long)]
        area: Option<String>,
        /// Only this sector (cluster, HPC or DAC code, or `intersectoral`).
        #[arg(long)]
        sector: Option<String>,
        /// First day of the period (default: 1 January this year).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of the period (default: 31 December this year).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = gaps::Format::Table)]
        format: gaps::Format,
    },
    /// Register organisations from the command line.
    Org {
        #[command(subcommand)]
        what: users::OrgCommand,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    Schema,
    /// Load a deterministic, synthetic but realistic dataset: one country's admin areas,
    /// organisations of every level, interventions and needs.
    Demo {
        /// Number of interventions.
        #[arg(long, default_value_t = 5_000)]
        size: u64,
        /// Seed of the generator; the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Benchmarks on generated data (timings only, no assertions).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Import reference data, needs, and interventions from IATI and 3W files.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Export interventions as IATI 2.03 XML or an HXL 5W table.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ExportCommand {
    /// IATI 2.03 activity XML (valid against the 2.03 schema).
    Iati {
        /// Only the activities this organisation (id) reports.
        #[arg(long)]
        organisation: Option<i64>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// An HXL-tagged 5W CSV table.
    Hxl {
        /// Only the interventions this organisation (id) reports or takes part in.
        #[arg(long)]
        organisation: Option<i64>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Import administrative areas from an HDX/COD P-code table
    /// (`Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date`). Rows that cannot
    /// be read are reported with their line numbers; the others are imported.
    Areas {
        /// The CSV file.
        file: PathBuf,
    },
    /// Import people in need from an HXL-tagged table (HDX drought tables), an HPC/HNO
    /// export or an HDX HAPI needs file. Rows that cannot be read are reported with their
    /// line; then nothing is imported unless `--partial` is given.
    Needs {
        /// The CSV file.
        file: PathBuf,
        /// First day of the period, for files that state none.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of the period, for files that state none.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// ISO country code for country-level rows when the file does not say.
        #[arg(long)]
        country: Option<String>,
        /// Source recorded on every need (default: the file name).
        #[arg(long)]
        source: Option<String>,
        /// Read the HXL `#priority` column as the needs' JIAF severity (1..5) through this
        /// map, written `PRIORITY=SEVERITY,...` (e.g. `1=4,2=3,3=2`). An explicit `#severity`
        /// still wins; a priority the map does not name is a row error. Without it,
        /// `#priority` is not read.
        #[arg(long, value_name = "MAP")]
        priority_severity: Option<concord_interop::needs::PrioritySeverity>,
        /// Import the rows that can be read even when others cannot.
        #[arg(long)]
        partial: bool,
    },
    /// Import IATI 2.03 activity files: reporting organisations matched by their IATI
    /// identifier (created when missing), activities upserted by identifier (a newer
    /// `last-updated-datetime` updates). Activities that cannot be imported are reported;
    /// then nothing is imported unless `--partial` is given.
    Iati {
        /// The XML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        partial: bool,
    },
    /// Import an HXL-tagged 3W/4W/5W CSV table (UTF-8 or Latin-1): organisations matched by
    /// name and acronym, rows upserted by their id column (or a hash of their content).
    Hxl {
        /// The CSV file.
        file: PathBuf,
        #[arg(long)]
        partial: bool,
        /// The country (ISO alpha-2) when the table does not say.
        #[arg(long)]
        country: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ops_config::init_logging();

    match cli.command {
        Command::Schema => {
            print!("{}", concord_api::sdl());
            Ok(())
        }
        Command::Migrate => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            println!("migrations applied");
            drop(store);
            Ok(())
        }
        Command::Serve {
            bind,
            auth,
            ops,
            limits,
        } => {
            let limits = limits.api_limits()?;
            // Migrations may outlast the serving pool's statement timeout: they run first,
            // on a connection of their own.
            drop(open(&cli.database_url, 1, cli.overlap_min_score).await?);
            let store = ops
                .connect(&cli.database_url, cli.database_pool)
                .await?
                .with_overlap_min_score(cli.overlap_min_score);
            serve(store, &cli.database_url, bind, &auth, &ops, limits).await
        }
        Command::User { what } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            users::user(&store, what).await
        }
        Command::Overlaps { what } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            overlaps::run(&store, what).await
        }
        Command::Gaps {
            area,
            sector,
            from,
            to,
            format,
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            gaps::run(
                &store,
                gaps::GapArgs {
                    area,
                    sector,
                    from,
                    to,
                    format,
                },
            )
            .await
        }
        Command::Org { what } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            users::org(&store, what).await
        }
        Command::Demo { size, seed } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            demo::load(&store, size, seed).await
        }
        Command::Bench { what } => bench::run(what).await,
        Command::Import {
            what: ImportCommand::Areas { file },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            import::areas(&store, &file).await
        }
        Command::Import {
            what:
                ImportCommand::Needs {
                    file,
                    from,
                    to,
                    country,
                    source,
                    priority_severity,
                    partial,
                },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            import::needs(
                &store,
                &file,
                import::NeedsArgs {
                    from,
                    to,
                    country,
                    source,
                    priority_severity,
                    partial,
                },
            )
            .await
        }
        Command::Import {
            what: ImportCommand::Iati { files, partial },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            interop_files::import_iati(&store, &files, partial).await
        }
        Command::Import {
            what:
                ImportCommand::Hxl {
                    file,
                    partial,
                    country,
                },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            interop_files::import_hxl(&store, &file, partial, country).await
        }
        Command::Export {
            what: ExportCommand::Iati { organisation, out },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            interop_files::export_iati(&store, organisation, out.as_deref()).await
        }
        Command::Export {
            what: ExportCommand::Hxl { organisation, out },
        } => {
            let store = open(&cli.database_url, cli.database_pool, cli.overlap_min_score).await?;
            interop_files::export_hxl(&store, organisation, out.as_deref()).await
        }
    }
}

/// Connects and applies pending migrations.
async fn open(url: &str, pool: u32, min_score: f64) -> anyhow::Result<Store> {
    let store = Store::connect(url, pool)
        .await
        .with_context(|| format!("cannot open the database at {}", redact(url)))?
        .with_overlap_min_score(min_score);
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn serve(
    store: Store,
    url: &str,
    bind: SocketAddr,
    auth: &config::AuthArgs,
    ops: &ops_config::OpsArgs,
    limits: concord_api::ApiLimits,
) -> anyhow::Result<()> {
    let authenticator = auth.authenticator(store.clone())?;
    let cors = ops.cors_layer()?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = %redact(url), "serving");
    // Tests and scripts read this line to find a port chosen by the system.
    println!("concord listening on http://{address}");
    let events = concord_api::events::OverlapEvents::start(&store).await;
    // Responses go out at once: without TCP_NODELAY a response written in two segments
    // waits for the client's delayed acknowledgement (tens of milliseconds).
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let mut app = concord_api::router_with_limits(store, authenticator, events, limits);
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    let (signal, deadline) = ops_config::drain(shutdown_signal(), ops.shutdown_timeout);
    tokio::select! {
        // The client's address is what anonymous callers are rate limited by.
        served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future() => served?,
        () = deadline => tracing::warn!(
            timeout = ?ops.shutdown_timeout,
            "shutdown timeout passed: closing the connections still open"
        ),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the process exits.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://concord.db"), "sqlite://concord.db");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
