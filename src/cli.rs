//! The command line: `machizu serve …`. Parses arguments, reads the config file, sets up
//! logging and the runtime, then runs the server until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Config, FileConfig, Overrides};

#[derive(Debug, Parser)]
#[command(name = "machizu", version, about = "町図 — integrated GIS tile and geodata server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve tiles, the layer catalog and the map page.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "MACHIZU_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory holding the embedded GeoPackage store [default: ./var].
    #[arg(long, env = "MACHIZU_DATA")]
    pub data: Option<PathBuf>,
    /// Config file (TOML); see docs/configuration.md.
    #[arg(long, env = "MACHIZU_CONFIG")]
    pub config: Option<PathBuf>,
    /// PostGIS store (postgres://…) instead of the embedded GeoPackage.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Start with an empty store instead of generating the synthetic demo city.
    #[arg(long)]
    pub no_demo: bool,
    /// Tile cache size in MiB; 0 turns the cache off [default: 256].
    #[arg(long, env = "MACHIZU_TILE_CACHE_MB")]
    pub tile_cache_mb: Option<u64>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "machizu=info,tower_http=warn".into()),
        )
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("machizu: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        database_url: args.database_url.map(crate::config::Secret),
        listen: args.listen,
        data_dir: args.data,
        tile_cache_mb: args.tile_cache_mb,
        no_demo: args.no_demo,
    };
    let config = Config::resolve(file, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let app = App::open(config).await?;
        tracing::info!(address = %listener.local_addr()?, "machizu is serving");
        crate::http::serve(listener, app, shutdown_signal()).await?;
        tracing::info!("machizu stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
