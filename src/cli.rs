//! The command line: `machizu serve …`, `machizu db push|pull …`, `machizu import …` and
//! `machizu export …`. Parses arguments, reads the config file, sets up logging and the runtime,
//! then runs the server until SIGTERM or Ctrl-C, copies the data between the embedded
//! GeoPackage and PostGIS, imports files into a layer, or exports a public layer as open data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Config, FileConfig, Overrides};
use crate::crs::Epsg;
use crate::store::Store;
use crate::store::gpkg::GpkgStore;
use crate::store::postgis::PostgisStore;

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
    /// Copy all layers between the embedded GeoPackage and PostGIS.
    #[command(subcommand)]
    Db(DbCommand),
    /// Import files into a layer, all or nothing: Shapefile, GeoPackage, GeoJSON, FlatGeobuf,
    /// GML/PLATEAU CityGML, CSV with 緯度/経度, GPX, MOJ cadastral map XML; also zipped.
    Import(ImportArgs),
    /// Write a public layer's public attributes as open data: GeoJSON, CSV (自治体標準オープンデータセット) or GeoPackage.
    Export(ExportArgs),
    /// API keys for staff tools and other systems (`Authorization: Bearer <key>`).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The vehicles whose trackers may report positions.
    #[command(subcommand)]
    Vehicles(VehiclesCommand),
    /// The devices (gauges, cameras) that post observations for a SensorThings station
    #[command(subcommand)]
    Sensors(SensorsCommand),
    /// Staff accounts of the web map (passwords hashed with argon2id).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Layers made from files (admins): add one without a restart, replace its data, change
    /// titles and who sees what, remove it. Built-in layers keep their config.
    #[command(subcommand)]
    Layers(LayersCommand),
    /// Write a consistent copy of the embedded GeoPackage store (and the camera images it names,
    /// to camera-images/ beside it) while the server runs and writes. For PostGIS use pg_dump
    /// (docs/operations.md).
    Backup {
        /// The backup file to write (it must not exist), e.g. /backup/machizu-20261204.gpkg.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put a backup in place as the embedded store of --data (stop the server first). The backup
    /// is checked before anything is replaced.
    Restore {
        /// The backup file (from `machizu backup`).
        #[arg(long)]
        from: PathBuf,
        /// Overwrite the store that is there.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LayersCommand {
    /// Make a new layer from a file: zipped Shapefile, GeoPackage, GeoJSON, CSV with 緯度/経度,
    /// FlatGeobuf. Every field becomes an attribute titled as the file names it; attributes are
    /// staff-only unless named with --public-field, and so is the layer without --public.
    Add(LayersAddArgs),
    /// The layers made from files, with their attributes and who sees them.
    List(StoreArgs),
    /// Replace every feature of a layer made from a file with a file's, in one transaction.
    Replace {
        id: String,
        file: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change the titles of a layer made from a file and who sees it and its attributes.
    Set(LayersSetArgs),
    /// Remove a layer made from a file, with its features.
    Remove {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// How to read a file for a layer.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Source CRS (EPSG:N), for files that do not say theirs; overrides what a file says.
    #[arg(long, value_parser = parse_epsg)]
    pub srs: Option<Epsg>,
    /// Text encoding of the attributes (cp932/shift_jis, utf-8), overriding .cpg files and detection.
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The layer of a multi-layer file (GeoPackage) to read.
    #[arg(long)]
    pub source_layer: Option<String>,
}

impl ReadArgs {
    fn ogr(&self) -> crate::import::ogr::OgrOptions {
        crate::import::ogr::OgrOptions {
            srs: self.srs,
            encoding: self.encoding,
            source_layer: self.source_layer.clone(),
            filter: None,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LayersAddArgs {
    /// The file.
    pub file: PathBuf,
    /// The new layer's id (lowercase letters, digits and '_', starting with a letter), e.g. aed.
    #[arg(long)]
    pub id: String,
    /// Its title in Japanese, e.g. "AED設置場所".
    #[arg(long)]
    pub title_ja: String,
    /// Its title in English [default: the Japanese title].
    #[arg(long)]
    pub title_en: Option<String>,
    /// Show the layer to the public (its public attributes only); without it, staff only.
    #[arg(long)]
    pub public: bool,
    /// A field (as the file names it, or its attribute id) the public may see; repeat for more.
    #[arg(long = "public-field")]
    pub public_fields: Vec<String>,
    /// Whose data it is, shown on the map, e.g. "出典：焼津市オープンデータカタログ".
    #[arg(long)]
    pub attribution: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct LayersSetArgs {
    pub id: String,
    #[arg(long)]
    pub title_ja: Option<String>,
    #[arg(long)]
    pub title_en: Option<String>,
    /// Who sees the layer: public or staff.
    #[arg(long, value_parser = parse_visibility)]
    pub visibility: Option<crate::catalog::Visibility>,
    /// Whose data it is, shown on the map ("" for none).
    #[arg(long)]
    pub attribution: Option<String>,
    /// A field (as the file names it, or its attribute id) to show the public; repeat for more.
    #[arg(long = "public-field")]
    pub public_fields: Vec<String>,
    /// A field to show staff only; repeat for more.
    #[arg(long = "staff-field")]
    pub staff_fields: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_visibility(s: &str) -> Result<crate::catalog::Visibility, String> {
    match s {
        "public" => Ok(crate::catalog::Visibility::Public),
        "staff" => Ok(crate::catalog::Visibility::Staff),
        _ => Err(format!("{s:?}: use public or staff")),
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add an account; the password is read from the terminal without echo, or as the first
    /// line of standard input.
    Add {
        /// What the person types to sign in (lowercase letters, digits, '.', '-', '_').
        name: String,
        /// The name shown in the map, e.g. "田中 花子（建設課）".
        #[arg(long)]
        display_name: String,
        /// staff (sees and edits everything) or admin (also manages).
        #[arg(long, value_parser = parse_role, default_value = "staff")]
        role: crate::auth::Role,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the accounts (never their passwords).
    List(StoreArgs),
    /// Disable an account: it can no longer sign in.
    Disable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password (read as for add); also lifts a lock-out.
    Passwd {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A password from the terminal (no echo) or the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password("password: ")?);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[derive(Debug, Subcommand)]
pub enum VehiclesCommand {
    /// Register a vehicle and print its device credential, once: only its hash is kept. Enter
    /// it as the tracker's device id (OsmAnd, Traccar Client) or OwnTracks device name.
    Add(VehicleAddArgs),
    /// List the vehicles (never their credentials).
    List(StoreArgs),
    /// Revoke a vehicle's device: its reports are refused from now on.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SensorsCommand {
    /// Register a device for a station (a SensorThings Thing) and print its credential, once:
    /// only its hash is kept. The device sends it as `Authorization: Bearer <credential>` and
    /// may post observations to that station's datastreams only.
    Add {
        /// The id staff know the device by (lowercase letters, digits, - and _), e.g. gauge-niu.
        #[arg(long)]
        id: String,
        /// The Thing's id (`@iot.id`) whose datastreams it writes.
        #[arg(long)]
        thing: i64,
        /// Its name for staff, e.g. "丹生川 水位計".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the devices (never their credentials).
    List(StoreArgs),
    /// Revoke a device: what it posts is refused from now on.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct VehicleAddArgs {
    /// The id staff know the vehicle by (lowercase letters, digits, - and _), e.g. plow-07.
    #[arg(long)]
    pub id: String,
    /// Its name for staff, e.g. "除雪ドーザ 7号".
    #[arg(long)]
    pub name: String,
    /// plow, blower (rotary), spreader or patrol; only plows and blowers mark roads plowed.
    #[arg(long, value_parser = parse_kind)]
    pub kind: crate::live::vehicle::VehicleKind,
    /// The operator or contractor (staff only).
    #[arg(long)]
    pub operator: Option<String>,
    /// What residents see [default: the name].
    #[arg(long)]
    pub label: Option<String>,
    /// Keep the vehicle off the public map.
    #[arg(long)]
    pub private: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_kind(s: &str) -> Result<crate::live::vehicle::VehicleKind, String> {
    crate::live::vehicle::VehicleKind::parse(s).ok_or_else(|| format!("{s:?} is not plow, blower, spreader or patrol"))
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it, once: only its hash is kept.
    Create(KeyCreateArgs),
    /// List the keys (never their secrets).
    List(StoreArgs),
    /// Revoke a key at once, by its id (the part after `mzk_`).
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct KeyCreateArgs {
    /// Who or what the key is for (shown in the audit log).
    #[arg(long)]
    pub name: String,
    /// public, staff (sees staff-only data, edits features) or admin (also reads the audit log).
    #[arg(long, value_parser = parse_role)]
    pub role: crate::auth::Role,
    /// Only these layers (comma-separated); elsewhere the key counts as no key [default: all].
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_role(s: &str) -> Result<crate::auth::Role, String> {
    crate::auth::Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: use public, staff or admin"))
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The layer to export (public layers only); for pmtiles, comma-separated layers [default:
    /// every public layer the server does not change itself: not live, not the roads' plowed
    /// times].
    #[arg(long)]
    pub layer: Option<String>,
    #[arg(long, value_enum)]
    pub format: crate::export::Format,
    /// Output file [default: standard output; a GeoPackage or PMTiles archive needs a file].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// pmtiles: the lowest zoom written [default: the layers' lowest].
    #[arg(long)]
    pub minzoom: Option<u8>,
    /// pmtiles: the highest zoom written [default: the layers' highest].
    #[arg(long)]
    pub maxzoom: Option<u8>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where the data is: the embedded GeoPackage or PostGIS, and the config.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Data directory holding the embedded GeoPackage store [default: ./var].
    #[arg(long, env = "MACHIZU_DATA")]
    pub data: Option<PathBuf>,
    /// PostGIS (postgres://…) instead of the embedded GeoPackage.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Config file (TOML), for the layer catalog and the city CRS.
    #[arg(long, env = "MACHIZU_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files to import (.shp, .gpkg, .geojson, .fgb, .gml, .csv, .gpx, MOJ .xml, or .zip of them).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The layer to import into (e.g. parcels).
    #[arg(long)]
    pub layer: String,
    /// Source CRS (EPSG:N), for files that do not say theirs; overrides what a file says.
    #[arg(long, value_parser = parse_epsg)]
    pub srs: Option<Epsg>,
    /// Text encoding of the attributes (cp932/shift_jis, utf-8), overriding .cpg files and detection.
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Mapping file (TOML): which source field fills which attribute (see docs/import.md).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// The layer of a multi-layer file (GeoPackage, GPX, GML) to read.
    #[arg(long)]
    pub source_layer: Option<String>,
    /// Keep MOJ maps in 任意座標系 (not georeferenced) in an unreferenced layer such as
    /// parcels_arbitrary: stored, staff-only, never tiled.
    #[arg(long)]
    pub allow_arbitrary: bool,
    /// Import only the features matching this OGR SQL condition (e.g. "highway IS NOT NULL").
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Datum of plane rectangular MOJ maps, which the files do not state.
    #[arg(long, value_enum, default_value = "jgd2011")]
    pub datum: DatumArg,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Read and check everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace the features an earlier import of the same files brought (without it, such
    /// features make the import fail, so that a re-run never duplicates).
    #[arg(long)]
    pub replace: bool,
}

fn parse_epsg(s: &str) -> Result<Epsg, String> {
    Epsg::parse(s).map_err(|e| e.to_string())
}

fn parse_encoding(s: &str) -> Result<&'static encoding_rs::Encoding, String> {
    crate::import::text::label(s).ok_or_else(|| format!("unknown encoding {s:?}: use cp932 (Shift_JIS) or utf-8"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DatumArg {
    Jgd2000,
    Jgd2011,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy the embedded GeoPackage (--data) into PostGIS (--database-url).
    Push(CopyArgs),
    /// Copy PostGIS (--database-url) into the embedded GeoPackage (--data).
    Pull(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Data directory holding the embedded GeoPackage store [default: ./var].
    #[arg(long, env = "MACHIZU_DATA")]
    pub data: Option<PathBuf>,
    /// The PostGIS database (postgres://…).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Config file (TOML), for the layer catalog and the city CRS.
    #[arg(long, env = "MACHIZU_CONFIG")]
    pub config: Option<PathBuf>,
    /// Overwrite a target that already holds features.
    #[arg(long)]
    pub replace: bool,
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
    /// No simulated plows on the demo city ([live] demo_plows = 0).
    #[arg(long)]
    pub no_demo_plows: bool,
    /// Tile cache size in MiB; 0 turns the cache off [default: 256].
    #[arg(long, env = "MACHIZU_TILE_CACHE_MB")]
    pub tile_cache_mb: Option<u64>,
    /// How many tiles may render at once; more requests wait their turn [default: 2 × cores].
    #[arg(long, env = "MACHIZU_RENDER_SLOTS")]
    pub render_slots: Option<usize>,
    /// Also accept the OsmAnd tracker protocol at `/` on this address (stock clients post to a
    /// server's root) [default: off].
    #[arg(long, env = "MACHIZU_OSMAND_LISTEN")]
    pub osmand_listen: Option<SocketAddr>,
    /// Take OwnTracks positions from this MQTT broker (mqtt://host:1883) [default: off].
    #[arg(long, env = "MACHIZU_MQTT_URL")]
    pub mqtt_url: Option<String>,
}

pub fn main() -> ExitCode {
    crate::engine::footprint::tune_allocator();
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
        Command::Db(DbCommand::Push(args)) => copy(args, Direction::Push),
        Command::Db(DbCommand::Pull(args)) => copy(args, Direction::Pull),
        Command::Import(args) => import(args),
        Command::Export(args) => export(args),
        Command::Keys(command) => keys(command),
        Command::Vehicles(command) => vehicles(command),
        Command::Sensors(command) => sensors(command),
        Command::Users(command) => users(command),
        Command::Layers(command) => layers(command),
        Command::Backup { output, store } => backup(&output, &store),
        Command::Restore { from, replace, store } => restore(&from, replace, &store),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("machizu: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_config(path: Option<&PathBuf>) -> anyhow::Result<FileConfig> {
    Ok(match path {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    })
}

/// The config the store arguments name.
fn store_config(store: &StoreArgs) -> anyhow::Result<Config> {
    let file = read_config(store.config.as_ref())?;
    let overrides = Overrides {
        data_dir: store.data.clone(),
        database_url: store.database_url.clone().map(crate::config::Secret),
        ..Overrides::default()
    };
    Ok(Config::resolve(file, overrides)?)
}

/// The layer `id`: of the config's catalog, or made from a file and kept in `store`.
async fn layer_in(config: &Config, store: &dyn Store, id: &str) -> anyhow::Result<crate::catalog::LayerDef> {
    match config.catalog.get(id) {
        Some(layer) => Ok(layer.clone()),
        None => store
            .layer_def(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no layer {id:?} in the catalog (see GET /layers)")),
    }
}

/// The configured store, prepared for the catalog.
/// Runs `f` on a single-threaded runtime with the configuration and store `args` name.
fn with_store<F>(args: &StoreArgs, f: impl FnOnce(Config, Box<dyn Store>) -> F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = store_config(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = open_store(&config).await?;
        f(config, store).await
    })
}

async fn open_store(config: &Config) -> anyhow::Result<Box<dyn Store>> {
    let store: Box<dyn Store> = match &config.database_url {
        Some(url) => Box::new(PostgisStore::connect(&url.0, config.city.crs).await?),
        None => Box::new(GpkgStore::open_in(&config.data_dir, config.city.crs).await?),
    };
    store.prepare(&config.catalog).await?;
    Ok(store)
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    if args.format == crate::export::Format::Pmtiles {
        return export_pmtiles(args);
    }
    let config = store_config(&args.store)?;
    let id = args.layer.clone().ok_or_else(|| anyhow::anyhow!("give the layer to export: --layer ID"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (layer, features) = runtime.block_on(async {
        let store = open_store(&config).await?;
        let layer = layer_in(&config, store.as_ref(), &id).await?;
        let features = store.load(&layer).await?;
        anyhow::Ok((layer, features))
    })?;
    let municipality =
        crate::export::Municipality { code: config.city.code.clone(), name: config.city.name_ja.clone() };
    let write = |out: &mut dyn std::io::Write, path| {
        crate::export::export(&layer, &features, config.city.crs, args.format, &municipality, path, out)
    };
    match (&args.output, args.format) {
        (Some(path), crate::export::Format::Gpkg) => write(&mut std::io::sink(), Some(path))?,
        (Some(path), _) => {
            let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
            write(&mut file, None)?;
            std::io::Write::flush(&mut file)?;
        }
        (None, _) => write(&mut std::io::stdout().lock(), None)?,
    }
    eprintln!("{}: exported {} features", layer.id, features.len());
    Ok(())
}

/// `machizu export --format pmtiles`: the layers loaded into an engine as the server would,
/// then every public tile over their bounds written to one archive, with progress.
fn export_pmtiles(args: ExportArgs) -> anyhow::Result<()> {
    use crate::catalog::Audience;
    let config = store_config(&args.store)?;
    let path = args.output.clone().ok_or(crate::export::ExportError::NeedsFile)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let engine = Arc::new(crate::engine::Engine::new(Arc::new(config.catalog.tiled()), config.city.crs, 0)?);
    let dataset = runtime.block_on(async {
        let store = open_store(&config).await?;
        // Layers made from files come into the catalog with their features; configured ones
        // are loaded below only if exported.
        crate::follow::sync_definitions(store.as_ref(), &engine).await?;
        let catalog = engine.catalog();
        let ids: Vec<String> = match &args.layer {
            Some(list) => list.split(',').map(|l| l.trim().to_owned()).collect(),
            None => catalog
                .layers()
                .iter()
                .filter(|l| l.visible_to(Audience::Public) && !l.changes_while_serving())
                .map(|l| l.id.to_string())
                .collect(),
        };
        for id in &ids {
            let layer = catalog.get(id).ok_or_else(|| anyhow::anyhow!("no layer {id:?} in the catalog"))?;
            anyhow::ensure!(layer.visible_to(Audience::Public), crate::export::ExportError::NotPublic(id.clone()));
            anyhow::ensure!(!layer.live, "layer {id} is live: the map takes it from the server, not an archive");
            if layer.changes_while_serving() {
                eprintln!("note: the server updates layer {id} while it runs; the archive's copy will lag behind it");
            }
            if layer.file.is_none() {
                crate::follow::reload(store.as_ref(), &engine, id).await?;
            }
        }
        anyhow::Ok((ids, store.meta(crate::demo::META_KEY).await?))
    });
    let (ids, dataset) = dataset?;
    let catalog = engine.catalog();
    let defs: Vec<_> = ids.iter().filter_map(|id| catalog.get(id)).collect();
    let minzoom = args.minzoom.unwrap_or_else(|| defs.iter().map(|d| d.minzoom).min().unwrap_or(0));
    let maxzoom = args.maxzoom.unwrap_or_else(|| defs.iter().map(|d| d.maxzoom).max().unwrap_or(0));
    anyhow::ensure!(
        minzoom <= maxzoom && maxzoom <= crate::catalog::MAX_ZOOM,
        "zooms {minzoom}–{maxzoom} are not a range of 0–{}",
        crate::catalog::MAX_ZOOM
    );
    let bounds = ids
        .iter()
        .filter_map(|id| engine.layer(id)?.bounds)
        .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
        .ok_or_else(|| anyhow::anyhow!("the layers {} hold no features", ids.join(",")))?;
    let metadata = crate::export::pmtiles::metadata(&config, &defs, dataset.as_deref());
    // Written beside the target and renamed over it when whole: an interrupted export leaves
    // no half archive where a web server would serve it.
    let part = path.with_extension("pmtiles.part");
    let file = std::io::BufWriter::new(std::fs::File::create(&part)?);
    let started = std::time::Instant::now();
    let written =
        crate::export::pmtiles::write(&engine, &ids, minzoom..=maxzoom, bounds, &metadata, file, |z, done, total| {
            eprint!("\rz{z}: {done}/{total} tiles");
            if done == total {
                eprintln!();
            }
        })?;
    std::fs::rename(&part, &path)?;
    eprintln!(
        "{}: {} tiles of {} at z{minzoom}–{maxzoom} in {:.1} s",
        path.display(),
        written,
        ids.join(","),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    use crate::auth::NewKey;
    let store_args = match &command {
        KeysCommand::Create(args) => args.store.clone(),
        KeysCommand::List(store) | KeysCommand::Revoke { store, .. } => store.clone(),
    };
    with_store(&store_args, async |config, store| {
        match command {
            KeysCommand::Create(args) => {
                for id in args.layers.iter().flatten() {
                    anyhow::ensure!(config.catalog.get(id).is_some(), "no layer {id:?} in the catalog");
                }
                let new = NewKey::generate(&args.name, args.role, args.layers);
                let key = store.create_key(&new).await?;
                eprintln!("created key {} ({}, {}); it is shown this once:", key.id, key.role.as_str(), key.name);
                println!("{}", new.token);
            }
            KeysCommand::List(_) => {
                println!("{:<14} {:<7} {:<26} {:<26} {:<20} name", "id", "role", "created", "revoked", "layers");
                for k in store.keys().await? {
                    let layers = k.layers.map_or("(all)".to_owned(), |l| l.join(","));
                    let revoked = k.revoked_at.unwrap_or_else(|| "-".to_owned());
                    println!(
                        "{:<14} {:<7} {:<26} {:<26} {:<20} {}",
                        k.id,
                        k.role.as_str(),
                        k.created_at,
                        revoked,
                        layers,
                        k.name
                    );
                }
            }
            KeysCommand::Revoke { id, .. } => {
                anyhow::ensure!(store.revoke_key(&id).await?, "no key {id:?} that is not already revoked");
                eprintln!("revoked key {id}");
            }
        }
        Ok(())
    })
}

fn vehicles(command: VehiclesCommand) -> anyhow::Result<()> {
    use crate::live::vehicle::NewVehicle;
    let store_args = match &command {
        VehiclesCommand::Add(args) => args.store.clone(),
        VehiclesCommand::List(store) | VehiclesCommand::Revoke { store, .. } => store.clone(),
    };
    with_store(&store_args, async |_, store| {
        match command {
            VehiclesCommand::Add(a) => {
                anyhow::ensure!(
                    !store.vehicles().await?.iter().any(|v| v.id == a.id),
                    "vehicle {:?} is already registered",
                    a.id
                );
                let new = NewVehicle::generate(&a.id, &a.name, a.kind, a.operator, a.label, !a.private)?;
                let v = store.add_vehicle(&new).await?;
                eprintln!(
                    "registered {} ({}, {}); its device credential is shown this once:",
                    v.id,
                    v.kind.as_str(),
                    v.name
                );
                println!("{}", new.credential);
            }
            VehiclesCommand::List(_) => {
                println!(
                    "{:<16} {:<9} {:<7} {:<26} {:<26} name / label / operator",
                    "id", "kind", "public", "created", "revoked"
                );
                for v in store.vehicles().await? {
                    println!(
                        "{:<16} {:<9} {:<7} {:<26} {:<26} {} / {} / {}",
                        v.id,
                        v.kind.as_str(),
                        if v.public { "yes" } else { "no" },
                        v.created_at,
                        v.revoked_at.as_deref().unwrap_or("-"),
                        v.name,
                        v.label,
                        v.operator.as_deref().unwrap_or("-")
                    );
                }
            }
            VehiclesCommand::Revoke { id, .. } => {
                anyhow::ensure!(store.revoke_vehicle(&id).await?, "no vehicle {id:?} that is not already revoked");
                eprintln!("revoked vehicle {id}; its reports are refused from now on");
            }
        }
        Ok(())
    })
}

fn sensors(command: SensorsCommand) -> anyhow::Result<()> {
    use crate::store::sensors::NewSensorDevice;
    let store_args = match &command {
        SensorsCommand::Add { store, .. } | SensorsCommand::Revoke { store, .. } => store.clone(),
        SensorsCommand::List(store) => store.clone(),
    };
    with_store(&store_args, async |_, store| {
        match command {
            SensorsCommand::Add { id, thing, name, .. } => {
                anyhow::ensure!(
                    store.sensor_entities().await?.iter().any(|e| e.kind == "Thing" && e.id == thing),
                    "there is no Things({thing}); create the station first (POST /sta/v1.1/Things)"
                );
                anyhow::ensure!(
                    !store.sensor_devices().await?.iter().any(|d| d.id == id),
                    "device {id:?} is already registered"
                );
                let new = NewSensorDevice::generate(&id, thing, &name).map_err(anyhow::Error::msg)?;
                let d = store.add_sensor_device(&new).await?;
                eprintln!(
                    "registered {} for Things({}) ({}); its credential is shown this once:",
                    d.id, d.thing, d.name
                );
                println!("{}", new.credential);
            }
            SensorsCommand::List(_) => {
                println!("{:<20} {:<8} {:<26} {:<26} name", "id", "thing", "created", "revoked");
                for d in store.sensor_devices().await? {
                    let revoked = d.revoked_at.as_deref().unwrap_or("-");
                    println!("{:<20} {:<8} {:<26} {:<26} {}", d.id, d.thing, d.created_at, revoked, d.name);
                }
            }
            SensorsCommand::Revoke { id, .. } => {
                anyhow::ensure!(store.revoke_sensor_device(&id).await?, "no device {id:?} that is not already revoked");
                eprintln!("revoked device {id}; what it posts is refused from now on");
            }
        }
        Ok(())
    })
}

fn users(command: UsersCommand) -> anyhow::Result<()> {
    use crate::users::{check_name, hash_password};
    let store_args = match &command {
        UsersCommand::Add { store, .. } | UsersCommand::Disable { store, .. } | UsersCommand::Passwd { store, .. } => {
            store.clone()
        }
        UsersCommand::List(store) => store.clone(),
    };
    with_store(&store_args, async |_, store| {
        match command {
            UsersCommand::Add { name, display_name, role, .. } => {
                check_name(&name)?;
                anyhow::ensure!(role != crate::auth::Role::Public, crate::users::UserError::PublicRole);
                anyhow::ensure!(store.user(&name).await?.is_none(), "user {name:?} exists already");
                let hash = hash_password(&read_password()?)?;
                store.add_user(&name, &display_name, role, &hash).await?;
                eprintln!("added {name} ({}, {display_name})", role.as_str());
            }
            UsersCommand::List(_) => {
                println!(
                    "{:<20} {:<6} {:<26} {:<26} {:<26} display name",
                    "name", "role", "created", "disabled", "locked until"
                );
                for u in store.users().await? {
                    println!(
                        "{:<20} {:<6} {:<26} {:<26} {:<26} {}",
                        u.name,
                        u.role.as_str(),
                        u.created_at,
                        u.disabled_at.as_deref().unwrap_or("-"),
                        u.locked_until.as_deref().unwrap_or("-"),
                        u.display_name
                    );
                }
            }
            UsersCommand::Disable { name, .. } => {
                anyhow::ensure!(store.disable_user(&name).await?, "no user {name:?} that is not already disabled");
                eprintln!("disabled {name}");
            }
            UsersCommand::Passwd { name, .. } => {
                let hash = hash_password(&read_password()?)?;
                anyhow::ensure!(store.set_password(&name, &hash).await?, "no user {name:?}");
                eprintln!("set a new password for {name}");
            }
        }
        Ok(())
    })
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    use crate::import::{ReadOptions, mapping::Mapping, mojxml::Datum, ogr::OgrOptions};
    let config = store_config(&args.store)?;
    let datum = match args.datum {
        DatumArg::Jgd2000 => Datum::Jgd2000,
        DatumArg::Jgd2011 => Datum::Jgd2011,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = open_store(&config).await?;
        let layer = layer_in(&config, store.as_ref(), &args.layer).await?;
        let mapping = args.mapping.as_deref().map(Mapping::read).transpose()?.unwrap_or_default();
        let ogr = OgrOptions {
            srs: args.srs,
            encoding: args.encoding,
            source_layer: args.source_layer.clone(),
            filter: args.filter.clone(),
        };
        let options = ReadOptions { datum, ogr, mapping, allow_arbitrary: args.allow_arbitrary };
        let progress = std::sync::Arc::new(TerminalProgress::default());
        let report = crate::import::import(
            store.as_ref(),
            &args.files,
            &layer,
            options,
            args.dry_run,
            args.replace,
            progress.clone(),
        )
        .await;
        progress.bar.finish_and_clear();
        print_report(layer.id.as_str(), &report?, args.dry_run);
        Ok(())
    })
}

fn backup(output: &std::path::Path, args: &StoreArgs) -> anyhow::Result<()> {
    let config = store_config(args)?;
    anyhow::ensure!(
        config.database_url.is_none(),
        "machizu backup copies the embedded GeoPackage; for PostGIS use pg_dump (docs/operations.md)"
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let store = GpkgStore::open_in(&config.data_dir, config.city.crs).await?;
        let copied = store.backup(output).await?;
        store.close().await;
        println!(
            "backed up {} ({} bytes, {} camera images) in {:.1} s",
            copied.path.display(),
            copied.bytes,
            copied.images,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}

fn restore(from: &std::path::Path, replace: bool, args: &StoreArgs) -> anyhow::Result<()> {
    let config = store_config(args)?;
    anyhow::ensure!(
        config.database_url.is_none(),
        "machizu restore fills the embedded GeoPackage; for PostGIS use pg_restore"
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let copied = GpkgStore::restore(from, &config.data_dir, config.city.crs, replace).await?;
        println!("restored {} ({} bytes, {} camera images)", copied.path.display(), copied.bytes, copied.images);
        Ok(())
    })
}

fn layers(command: LayersCommand) -> anyhow::Result<()> {
    use crate::catalog::{Title, Visibility};
    use crate::layers::{AttributeChange, LayerChange, NewLayer};
    let store_args = match &command {
        LayersCommand::Add(args) => &args.store,
        LayersCommand::Set(args) => &args.store,
        LayersCommand::List(store) | LayersCommand::Replace { store, .. } | LayersCommand::Remove { store, .. } => {
            store
        }
    };
    let config = store_config(store_args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = open_store(&config).await?;
        match command {
            LayersCommand::Add(args) => {
                let mut catalog = config.catalog.clone();
                for def in store.layer_defs().await? {
                    catalog.push(def)?;
                }
                let new = NewLayer {
                    id: args.id,
                    title: Title::new(&args.title_ja, args.title_en.as_deref().unwrap_or(&args.title_ja)),
                    visibility: if args.public { Visibility::Public } else { Visibility::Staff },
                    public_fields: args.public_fields,
                    attribution: args.attribution,
                };
                let made = crate::layers::add(store.as_ref(), &catalog, &args.file, new, args.read.ogr()).await?;
                print_report(made.layer.id.as_str(), &made.report, false);
                print_layer(&made.layer);
            }
            LayersCommand::List(_) => {
                for def in store.layer_defs().await? {
                    print_layer(&def);
                }
            }
            LayersCommand::Replace { id, file, read, .. } => {
                let made = crate::layers::replace(store.as_ref(), &id, &file, read.ogr()).await?;
                print_report(&id, &made.report, false);
            }
            LayersCommand::Set(args) => {
                let title = match (args.title_ja, args.title_en) {
                    (None, None) => None,
                    (ja, en) => {
                        let now = store.layer_def(&args.id).await?.map(|d| d.title);
                        let ja = ja.or_else(|| now.as_ref().map(|t| t.ja.clone())).unwrap_or_default();
                        let en = en.or_else(|| now.map(|t| t.en)).unwrap_or_default();
                        Some(Title { ja, en })
                    }
                };
                let field = |v: Visibility| move |f: String| (f, AttributeChange { title: None, visibility: Some(v) });
                let attributes = (args.public_fields.into_iter().map(field(Visibility::Public)))
                    .chain(args.staff_fields.into_iter().map(field(Visibility::Staff)))
                    .collect();
                let change =
                    LayerChange { title, visibility: args.visibility, attribution: args.attribution, attributes };
                print_layer(&crate::layers::update(store.as_ref(), &args.id, &change).await?);
            }
            LayersCommand::Remove { id, .. } => {
                crate::layers::remove(store.as_ref(), &id).await?;
                println!("removed layer {id} and its features");
            }
        }
        Ok(())
    })
}

/// A layer made from a file: id, titles, geometry, who sees it, and each attribute.
fn print_layer(def: &crate::catalog::LayerDef) {
    let who = |v: crate::catalog::Visibility| if v == crate::catalog::Visibility::Public { "public" } else { "staff" };
    println!("{} 「{}」 ({}) {} {}", def.id, def.title.ja, def.title.en, def.geometry.ogc_name(), who(def.visibility));
    if let Some(a) = def.file.as_ref().and_then(|f| f.attribution.as_ref()) {
        println!("  {a}");
    }
    for a in &def.attributes {
        println!(
            "  {:<20} {:<9} {:<7} {}",
            a.name,
            format!("{:?}", a.kind).to_lowercase(),
            who(a.visibility),
            a.title.ja
        );
    }
}

/// What an import read and wrote, with its skipped features and notes.
fn print_report(layer: &str, report: &crate::import::ImportReport, dry_run: bool) {
    println!(
        "{layer}: read {} features from {} document{}, imported {}{}{} in {:.2} s",
        report.read,
        report.documents,
        if report.documents == 1 { "" } else { "s" },
        report.imported,
        if report.replaced > 0 { format!(" replacing {}", report.replaced) } else { String::new() },
        if dry_run { " (dry run)" } else { "" },
        report.elapsed.as_secs_f64()
    );
    if report.elapsed.as_secs_f64() > 0.0 {
        println!("{:.0} features/s", report.read as f64 / report.elapsed.as_secs_f64());
    }
    println!("repaired {}, split into parts {}, skipped {}", report.repaired, report.split, report.skipped.len());
    print_list("skipped", &report.skipped);
    print_list("note", &report.notes);
}

/// Prints the first 50 lines of a report list, then how many more there are.
fn print_list(what: &str, lines: &[String]) {
    const SHOWN: usize = 50;
    for l in lines.iter().take(SHOWN) {
        println!("{what}: {l}");
    }
    if lines.len() > SHOWN {
        println!("{what}: … and {} more", lines.len() - SHOWN);
    }
}

/// The import's progress on a terminal (bytes read, rate, ETA; then the write); drawn on
/// stderr only when it is a terminal, so logs and CI stay quiet.
struct TerminalProgress {
    bar: indicatif::ProgressBar,
}

impl Default for TerminalProgress {
    fn default() -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("a valid template"),
        );
        Self { bar }
    }
}

impl TerminalProgress {
    fn reading_message(&self, features: usize) {
        let rate = features as f64 / self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("読み込み / reading: {features} features, {rate:.0}/s"));
    }
}

impl crate::import::Progress for TerminalProgress {
    fn reading(&self, bytes: u64) {
        self.bar.set_length(bytes);
        self.bar.set_message("読み込み / reading");
    }

    fn read(&self, bytes: u64, features: usize) {
        self.bar.inc(bytes);
        self.reading_message(features);
    }

    fn features(&self, features: usize) {
        self.reading_message(features);
    }

    fn writing(&self, features: usize) {
        self.bar.set_message(format!("書き込み / writing {features} features"));
        self.bar.enable_steady_tick(std::time::Duration::from_millis(200));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Push,
    Pull,
}

fn copy(args: CopyArgs, direction: Direction) -> anyhow::Result<()> {
    let file = read_config(args.config.as_ref())?;
    let overrides = Overrides { data_dir: args.data, ..Overrides::default() };
    let config = Config::resolve(file, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let gpkg = GpkgStore::open_in(&config.data_dir, config.city.crs).await?;
        let pg = PostgisStore::connect(&args.database_url, config.city.crs).await?;
        let (from, to): (&dyn Store, &dyn Store) = match direction {
            Direction::Push => (&gpkg, &pg),
            Direction::Pull => (&pg, &gpkg),
        };
        let started = std::time::Instant::now();
        let report = crate::store::copy::copy(from, to, &config.catalog, args.replace).await?;
        for (layer, n) in &report.layers {
            println!("{layer}: {n} features");
        }
        println!("copied {} into {} in {:.1} s", from.kind(), to.kind(), started.elapsed().as_secs_f64());
        gpkg.close().await;
        pg.close().await;
        Ok(())
    })
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = read_config(args.config.as_ref())?;
    let overrides = Overrides {
        database_url: args.database_url.map(crate::config::Secret),
        listen: args.listen,
        data_dir: args.data,
        tile_cache_mb: args.tile_cache_mb,
        render_slots: args.render_slots,
        no_demo: args.no_demo,
        no_demo_plows: args.no_demo_plows,
        osmand_listen: args.osmand_listen,
        mqtt_url: args.mqtt_url,
    };
    let config = Config::resolve(file, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let app = App::open(config).await?;
        // Simulated plows, only over the synthetic demo city.
        let plows = app.config.live.demo_plows;
        if app.dataset_notice.is_some() && plows > 0 {
            crate::live::demo::spawn(app.live.clone(), plows, app.config.city.center).await?;
            tracing::info!(plows, "simulated demo plows are driving (synthetic)");
        }
        if app.dataset_notice.is_some() && app.config.sensors.demo_stations {
            crate::sensors::demo::spawn(app.sensors.clone(), app.config.city.center).await?;
            tracing::info!("simulated demo gauges and a camera are reporting (synthetic)");
        }
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
