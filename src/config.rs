//! Configuration: built-in defaults, then a TOML file, then command-line flags and environment
//! variables (flags win).
//!
//! Every key, with its default, is documented in `docs/configuration.md`; unknown keys are an
//! error, not ignored. The `[layers.<id>]` tables override fields of built-in layers or add new
//! layers (a new layer must give `geometry` and both titles).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::catalog::{
    AttrType, AttributeDef, Catalog, CatalogError, GeometryKind, LayerDef, LayerId, Title, Visibility,
};
use crate::crs::Epsg;

/// Errors while reading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("while reading config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("in config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("in config file: {0}")]
    Catalog(#[from] CatalogError),
    #[error("in config file, layer {layer:?}: {message}")]
    Layer { layer: String, message: String },
    #[error("render_slots must be at least 1")]
    NoRenderSlots,
    #[error("[notices] {0}")]
    Notices(String),
    #[error("[web] {0}")]
    Web(String),
}

/// The city the server is set up for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City {
    /// Default `尾花沢市`.
    pub name_ja: String,
    /// Default `Obanazawa City`.
    pub name_en: String,
    /// National municipality code (全国地方公共団体コード); default `06212`.
    pub code: String,
    /// CRS the stores keep geometry in; default `EPSG:6678` (JGD2011 plane rectangular zone X).
    pub crs: Epsg,
    /// Extent of the city as `[west, south, east, north]` in degrees; default
    /// `[140.31, 38.44, 140.62, 38.72]`.
    pub bounds: [f64; 4],
    /// Map centre as `[lon, lat]`; default `[140.406, 38.600]` (the city hall area).
    pub center: [f64; 2],
    /// Initial map zoom; default 13.
    pub zoom: f64,
}

impl Default for City {
    fn default() -> Self {
        Self {
            name_ja: "尾花沢市".into(),
            name_en: "Obanazawa City".into(),
            code: "06212".into(),
            crs: Epsg::JGD2011_ZONE_X,
            bounds: [140.31, 38.44, 140.62, 38.72],
            center: [140.406, 38.600],
            zoom: 13.0,
        }
    }
}

/// The `[server]` table of the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Default `127.0.0.1:8080`.
    pub listen: Option<SocketAddr>,
    /// Default `./var`.
    pub data_dir: Option<PathBuf>,
    /// Default 256.
    pub tile_cache_mb: Option<u64>,
    /// Default twice the number of cores.
    pub render_slots: Option<usize>,
    /// Default `web`.
    pub web_dir: Option<PathBuf>,
    /// Default `styles`.
    pub styles_dir: Option<PathBuf>,
    /// Default `true`.
    pub demo: Option<bool>,
    /// Keep a snapshot of each layer as built under `data_dir/snapshots`, so that a restart
    /// serves at once (src/engine/snapshot.rs); default `true`.
    pub snapshots: Option<bool>,
    /// How often (seconds) snapshots are checked against the store and rebuilt, for layers
    /// that changed and then stayed unchanged for as long; default 600.
    pub snapshot_refresh_s: Option<u64>,
    /// PostgreSQL/PostGIS URL; default none (the embedded GeoPackage store).
    pub database_url: Option<String>,
}

/// The `[live]` table: vehicle tracking (src/live/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Hours of trail kept in memory and shown, and how long a silent vehicle stays on the
    /// live map; default 12.
    pub trail_hours: u32,
    /// Days raw fixes are kept whole before being thinned to one a minute; default 180.
    pub retention_days: u32,
    /// How far (metres) from a fix roads are looked for when matching it; default 50.
    pub match_radius_m: f64,
    /// The GPS error (standard deviation, metres) the matcher expects; default 10.
    pub gps_sigma_m: f64,
    /// The share of a road's length plows must cover within [`Self::plowed_window_min`] for
    /// the road to count as plowed; default 0.7.
    pub plowed_share: f64,
    /// Minutes within which passes over a road add up; default 180.
    pub plowed_window_min: u32,
    /// Simulated plows driving the synthetic demo city (never real data; `0`: none); default 3.
    pub demo_plows: u32,
    /// A second listener for the OsmAnd protocol at `/` (stock clients post to the server's
    /// root); default none.
    pub osmand_listen: Option<SocketAddr>,
    /// An MQTT broker to take OwnTracks positions from (`mqtt://host:1883`); default none.
    pub mqtt_url: Option<String>,
    /// The topic filter subscribed to; default `owntracks/#`.
    pub mqtt_topic: String,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            trail_hours: 12,
            retention_days: 180,
            match_radius_m: 50.0,
            gps_sigma_m: 10.0,
            plowed_share: 0.7,
            plowed_window_min: 180,
            demo_plows: 3,
            osmand_listen: None,
            mqtt_url: None,
            mqtt_topic: "owntracks/#".into(),
        }
    }
}

/// The `[sensors]` table: SensorThings storage (src/sensors/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsConfig {
    /// Raw observations older than this many days are deleted; their hourly aggregates
    /// (min/max/mean, kept for good) remain. Default 90.
    pub raw_retention_days: u32,
    /// Camera images: one an hour is kept for this many days (and each camera's latest for
    /// good). Default 14.
    pub image_days: u32,
    /// The largest camera image taken, in KiB; default 1024, at most 2048 (the body limit).
    pub max_image_kib: u32,
    /// Simulated, labelled gauges and a camera over the synthetic demo city; default true.
    pub demo_stations: bool,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        Self { raw_retention_days: 90, image_days: 14, max_image_kib: 1024, demo_stations: true }
    }
}

impl SensorsConfig {
    /// The largest camera image taken, in bytes.
    pub fn max_image_bytes(&self) -> usize {
        (self.max_image_kib as usize * 1024).min(2 * 1024 * 1024)
    }
}

/// The `[metrics]` table: who may read `GET /metrics` besides admins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address ranges whose clients may read the metrics without a key, e.g.
    /// `["127.0.0.1/32", "10.20.0.0/16"]` for the host and the monitoring network. Default none
    /// (admins only). Behind a reverse proxy this is the proxy's address.
    pub allow: Vec<ipnet::IpNet>,
}

/// The `[notices]` table: notices to residents (src/notices/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticesConfig {
    /// The CAP `sender`: who sends, unique among alert sources, without spaces or commas
    /// (for example `bousai@city.obanazawa.yamagata.jp`). Default `machizu-{city code}`.
    pub sender: Option<String>,
    /// The most notices in a feed; default 100.
    pub feed_limit: u32,
    pub push: PushConfig,
    pub auto: AutoConfig,
}

impl Default for NoticesConfig {
    fn default() -> Self {
        Self { sender: None, feed_limit: 100, push: PushConfig::default(), auto: AutoConfig::default() }
    }
}

/// The `[notices.auto]` table: notices from machizu's own events (src/notices/auto.rs), each
/// kind off by default, with its wording (`{placeholders}` filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoConfig {
    pub river: RiverAuto,
    pub road: RoadAuto,
    pub plowed: PlowedAuto,
    /// An automatic notice changes at most once in this many minutes, unless its level rises;
    /// default 30.
    pub min_interval_min: u32,
    /// At most this many new automatic notices in an hour; default 20.
    pub max_per_hour: u32,
}

impl Default for AutoConfig {
    fn default() -> Self {
        Self {
            river: RiverAuto::default(),
            road: RoadAuto::default(),
            plowed: PlowedAuto::default(),
            min_interval_min: 30,
            max_per_hour: 20,
        }
    }
}

/// `[notices.auto.river]`: a public gauge reaching a river level, and falling back below it.
/// Placeholders: `{station}`, `{level}`, `{level_en}`, `{value}` (with its unit), `{time}` (JST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiverAuto {
    pub enabled: bool,
    /// The lowest level that makes a notice (1-based; 2 is はん濫注意水位); default 2.
    pub min_level: usize,
    /// The notice's area: this far around the gauge; default 1000 m.
    pub buffer_m: f64,
    /// How long the notice lasts unless updated; default 12 hours.
    pub hours: u32,
    pub title: String,
    pub body: String,
    pub title_en: String,
    pub body_en: String,
    pub title_fallen: String,
    pub body_fallen: String,
    pub title_fallen_en: String,
    pub body_fallen_en: String,
}

impl Default for RiverAuto {
    fn default() -> Self {
        Self {
            enabled: false,
            min_level: 2,
            buffer_m: 1000.0,
            hours: 12,
            title: "{station}：{level}に到達".into(),
            body: "{station}の水位が{time}に{value}となり、{level}に達しました。川に近づかず、今後の情報に注意してください。".into(),
            title_en: "{station}: {level_en} reached".into(),
            body_en: "The water level at {station} was {value} at {time}, at the {level_en}. Keep away from the river and watch for further notices.".into(),
            title_fallen: "{station}：{level}を下回りました".into(),
            body_fallen: "{station}の水位は{time}に{value}となり、{level}を下回りました。".into(),
            title_fallen_en: "{station}: below the {level_en}".into(),
            body_fallen_en: "The water level at {station} was {value} at {time}, below the {level_en}.".into(),
        }
    }
}

/// `[notices.auto.plowed]`: the plows have cleared a district (地区, the `districts` layer): a
/// share of its roads' length plowed within the run window. Placeholders: `{district}`,
/// `{district_en}`, `{share}` (percent), `{time}` (JST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlowedAuto {
    pub enabled: bool,
    /// The share of a district's road length that must be plowed; default 0.8.
    pub share: f64,
    /// A run: roads plowed within this many hours count, and its notice lasts as long; default 12.
    pub window_h: u32,
    pub title: String,
    pub body: String,
    pub title_en: String,
    pub body_en: String,
}

impl Default for PlowedAuto {
    fn default() -> Self {
        Self {
            enabled: false,
            share: 0.8,
            window_h: 12,
            title: "{district}の除雪が完了しました".into(),
            body: "{district}の道路の{share}%を除雪しました（{time}現在）。".into(),
            title_en: "Snow cleared in {district_en}".into(),
            body_en: "{share}% of the roads in {district_en} have been plowed (as of {time}).".into(),
        }
    }
}

/// `[notices.auto.road]`: a road closure (`road_events` of kind 通行止め) published, and lifted.
/// Placeholders: `{reason}`, `{detour}`, `{from}`, `{until}`; `{title}` in the lifted titles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoadAuto {
    pub enabled: bool,
    /// The notice's area: this far around the closed road; default 150 m.
    pub buffer_m: f64,
    pub title: String,
    pub body: String,
    pub title_en: String,
    pub body_en: String,
    pub title_lifted: String,
    pub body_lifted: String,
    pub title_lifted_en: String,
    pub body_lifted_en: String,
}

impl Default for RoadAuto {
    fn default() -> Self {
        Self {
            enabled: false,
            buffer_m: 150.0,
            title: "通行止め：{reason}".into(),
            body: "{from}から{until}まで通行止めです。迂回路：{detour}".into(),
            title_en: "Road closed: {reason}".into(),
            body_en: "Closed from {from} until {until}. Detour: {detour}".into(),
            title_lifted: "【解除】{title}".into(),
            body_lifted: "通行止めは解除されました。".into(),
            title_lifted_en: "[Lifted] {title}".into(),
            body_lifted_en: "The road is open again.".into(),
        }
    }
}

/// The `[notices.push]` table: Web Push to residents (src/notices/push.rs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Who runs this server, for push services (the VAPID `sub`): a `mailto:` or `https:` URL.
    pub contact: String,
    /// Push services machizu sends to: `scheme://host`, `*.` for any subdomain. A subscription to
    /// any other endpoint is refused, so that machizu never posts to a place a caller chose.
    pub endpoint_origins: Vec<String>,
    /// Pushes in flight at once; default 64.
    pub concurrency: usize,
    /// Tries per delivery before it counts as failed; default 8.
    pub max_attempts: u32,
    /// The first retry's delay in milliseconds, doubled at every retry (at most an hour);
    /// default 10000. A push service's `Retry-After` wins.
    pub retry_ms: u64,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            contact: "mailto:webmaster@localhost".into(),
            endpoint_origins: [
                "https://fcm.googleapis.com",
                "https://updates.push.services.mozilla.com",
                "https://*.push.apple.com",
                "https://*.notify.windows.com",
            ]
            .map(String::from)
            .to_vec(),
            concurrency: 64,
            max_attempts: 8,
            retry_ms: 10_000,
        }
    }
}

/// The `[web]` table: the map clients (src/http/web.rs, web/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Sites that may show the public map and the embed in a frame (`frame-ancestors`), as
    /// origins (`https://www.city.example.lg.jp`); `["*"]` (the default) for any site, `[]`
    /// for this site only. The staff map is never framed.
    pub embed_origins: Vec<String>,
    /// The raster basemap under our layers: an XYZ URL template; empty for none (our own
    /// layers alone). Default: 地理院タイル (淡色地図).
    pub basemap_url: String,
    /// The basemap's attribution, always shown with it; default 「出典：国土地理院」 with a link.
    pub basemap_attribution: String,
    /// The basemap's highest zoom with tiles; default 18.
    pub basemap_maxzoom: u8,
    /// A PMTiles archive of the public layers (`machizu export --format pmtiles`) on the city's
    /// web server or CDN, as an absolute URL; empty (the default) for none. The public map and
    /// the embed then draw the layers it holds from it, and the rest (roads' plowed times,
    /// live layers) from this server. The archive's server must allow this site's origin
    /// (CORS) and range requests.
    pub tiles_archive: String,
    /// The font printed sheets set their text in (it must cover Japanese), and which face of a
    /// collection; default Noto Sans CJK JP from Debian's fonts-noto-cjk.
    pub print_font: PathBuf,
    pub print_font_index: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            embed_origins: vec!["*".into()],
            basemap_url: "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png".into(),
            basemap_attribution: "<a href=\"https://maps.gsi.go.jp/development/ichiran.html\" target=\"_blank\" rel=\"noopener\">出典：国土地理院</a>".into(),
            basemap_maxzoom: 18,
            tiles_archive: String::new(),
            print_font: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc".into(),
            print_font_index: 0,
        }
    }
}

/// Overrides of one attribute, or a new attribute.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeOverride {
    #[serde(rename = "type")]
    pub kind: Option<AttrType>,
    pub title_ja: Option<String>,
    pub title_en: Option<String>,
    pub visibility: Option<Visibility>,
    /// Whether a feature written through the API must have a value.
    pub required: Option<bool>,
}

/// Overrides of one layer, or a new layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOverride {
    pub title_ja: Option<String>,
    pub title_en: Option<String>,
    pub geometry: Option<GeometryKind>,
    pub minzoom: Option<u8>,
    pub maxzoom: Option<u8>,
    pub visibility: Option<Visibility>,
    pub live: Option<bool>,
    /// What the features are labelled with (`{ text = "name", text_en = "name_en", minzoom = 14 }`).
    pub label: Option<crate::catalog::LabelDef>,
    #[serde(default)]
    pub attributes: IndexMap<String, AttributeOverride>,
}

/// The config file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    pub city: Option<City>,
    #[serde(default)]
    pub layers: IndexMap<String, LayerOverride>,
    #[serde(default)]
    pub live: LiveConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub sensors: SensorsConfig,
    #[serde(default)]
    pub notices: NoticesConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

impl FileConfig {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })
    }
}

/// The effective configuration of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Tile cache size in bytes (0 disables the cache).
    pub tile_cache_bytes: u64,
    /// How many tiles may render at once; more requests wait their turn (at least 1).
    pub render_slots: usize,
    pub web_dir: PathBuf,
    pub styles_dir: PathBuf,
    /// Generate the demo city into an empty store.
    pub demo: bool,
    /// Keep layer snapshots under `data_dir/snapshots` ([`Config::snapshot_dir`]).
    pub snapshots: bool,
    /// How often snapshots are checked against the store ([`crate::follow::refresh_snapshots`]).
    pub snapshot_refresh: std::time::Duration,
    /// PostGIS store URL; `None` means the embedded GeoPackage in `data_dir`.
    pub database_url: Option<Secret>,
    pub city: City,
    pub catalog: Catalog,
    pub live: LiveConfig,
    pub web: WebConfig,
    pub sensors: SensorsConfig,
    pub notices: NoticesConfig,
    pub metrics: MetricsConfig,
}

/// A string that `Debug` does not print (database URLs carry passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Command-line and environment overrides (each `None` when not given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<Secret>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub tile_cache_mb: Option<u64>,
    pub render_slots: Option<usize>,
    pub no_demo: bool,
    pub no_demo_plows: bool,
    pub osmand_listen: Option<SocketAddr>,
    pub mqtt_url: Option<String>,
}

impl Config {
    /// Defaults → file → overrides.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let s = file.server;
        let mut catalog = Catalog::builtin();
        for (id, ov) in file.layers {
            apply_layer(&mut catalog, &id, ov)?;
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let render_slots = o.render_slots.or(s.render_slots).unwrap_or(2 * cores);
        if render_slots == 0 {
            return Err(ConfigError::NoRenderSlots);
        }
        let city = file.city.unwrap_or_default();
        if let Some(s) = &file.notices.sender
            && (s.is_empty() || s.contains([' ', ',', '<', '&']))
        {
            return Err(ConfigError::Notices(format!(
                "sender {s:?} must be non-empty, without spaces, commas, < or & (CAP 1.2)"
            )));
        }
        let archive = &file.web.tiles_archive;
        if !archive.is_empty() && reqwest::Url::parse(archive).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
        {
            return Err(ConfigError::Web(format!("tiles_archive {archive:?} must be an absolute http(s) URL")));
        }
        Ok(Self {
            listen: o.listen.or(s.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: o.data_dir.or(s.data_dir).unwrap_or_else(|| PathBuf::from("./var")),
            snapshots: s.snapshots.unwrap_or(true),
            snapshot_refresh: std::time::Duration::from_secs(s.snapshot_refresh_s.unwrap_or(600).max(1)),
            tile_cache_bytes: o.tile_cache_mb.or(s.tile_cache_mb).unwrap_or(256) * 1024 * 1024,
            render_slots,
            web_dir: s.web_dir.unwrap_or_else(|| PathBuf::from("web")),
            styles_dir: s.styles_dir.unwrap_or_else(|| PathBuf::from("styles")),
            demo: !o.no_demo && s.demo.unwrap_or(true),
            database_url: o.database_url.or(s.database_url.map(Secret)),
            catalog,
            live: LiveConfig {
                osmand_listen: o.osmand_listen.or(file.live.osmand_listen),
                mqtt_url: o.mqtt_url.or(file.live.mqtt_url),
                demo_plows: if o.no_demo_plows { 0 } else { file.live.demo_plows },
                ..file.live
            },
            web: file.web,
            sensors: file.sensors,
            metrics: file.metrics,
            notices: NoticesConfig {
                sender: Some(file.notices.sender.unwrap_or_else(|| format!("machizu-{}", city.code))),
                ..file.notices
            },
            city,
        })
    }

    /// Defaults only (what tests and the benchmark use).
    /// Where layer snapshots are kept, if they are.
    pub fn snapshot_dir(&self) -> Option<PathBuf> {
        self.snapshots.then(|| self.data_dir.join("snapshots"))
    }

    pub fn defaults() -> Self {
        Self::resolve(FileConfig::default(), Overrides::default()).expect("built-in defaults are valid")
    }
}

fn apply_layer(catalog: &mut Catalog, id: &str, ov: LayerOverride) -> Result<(), ConfigError> {
    let err = |message: &str| ConfigError::Layer { layer: id.to_owned(), message: message.to_owned() };
    let mut layer = match catalog.get(id) {
        Some(l) => l.clone(),
        None => LayerDef {
            id: LayerId::new(id)?,
            title: Title {
                ja: ov.title_ja.clone().ok_or_else(|| err("a new layer needs title_ja"))?,
                en: ov.title_en.clone().ok_or_else(|| err("a new layer needs title_en"))?,
            },
            geometry: ov.geometry.ok_or_else(|| err("a new layer needs geometry"))?,
            attributes: Vec::new(),
            minzoom: 0,
            maxzoom: crate::tile::MAX_ZOOM,
            visibility: Visibility::Public,
            live: false,
            referenced: true,
            label: None,
            file: None,
        },
    };
    if let Some(v) = ov.title_ja {
        layer.title.ja = v;
    }
    if let Some(v) = ov.title_en {
        layer.title.en = v;
    }
    if let Some(v) = ov.geometry {
        layer.geometry = v;
    }
    if let Some(v) = ov.minzoom {
        layer.minzoom = v;
    }
    if let Some(v) = ov.maxzoom {
        layer.maxzoom = v;
    }
    if let Some(v) = ov.label {
        layer.label = Some(v);
    }
    if let Some(v) = ov.visibility {
        layer.visibility = v;
    }
    if let Some(v) = ov.live {
        layer.live = v;
    }
    for (name, a) in ov.attributes {
        match layer.attributes.iter_mut().find(|x| x.name == name) {
            Some(def) => {
                if let Some(k) = a.kind {
                    def.kind = k;
                }
                if let Some(t) = a.title_ja {
                    def.title.ja = t;
                }
                if let Some(t) = a.title_en {
                    def.title.en = t;
                }
                if let Some(v) = a.visibility {
                    def.visibility = v;
                }
                if let Some(v) = a.required {
                    def.required = v;
                }
            }
            None => layer.attributes.push(AttributeDef {
                title: Title {
                    ja: a.title_ja.unwrap_or_else(|| name.clone()),
                    en: a.title_en.unwrap_or_else(|| name.clone()),
                },
                name,
                kind: a.kind.ok_or_else(|| err("a new attribute needs a type"))?,
                visibility: a.visibility.unwrap_or(Visibility::Staff),
                required: a.required.unwrap_or(false),
                values: Vec::new(),
            }),
        }
    }
    layer.validate()?;
    match catalog.get_mut(id) {
        Some(slot) => *slot = layer,
        None => catalog.push(layer)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Audience;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        let f: FileConfig =
            toml::from_str(s).map_err(|e| ConfigError::Parse { path: "-".into(), message: e.to_string() })?;
        Config::resolve(f, Overrides::default())
    }

    #[test]
    fn defaults() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./var"));
        assert_eq!(c.city.crs, Epsg(6678));
        assert!(c.demo);
    }

    #[test]
    fn a_layer_can_be_made_staff_only_and_a_layer_added() {
        let c = parse(
            r#"
            [layers.parcels]
            visibility = "staff"
            [layers.manholes]
            title_ja = "マンホール"
            title_en = "Manholes"
            geometry = "point"
            minzoom = 15
            [layers.manholes.attributes.depth_m]
            type = "real"
            visibility = "public"
            "#,
        )
        .unwrap();
        assert!(c.catalog.resolve("parcels", Audience::Public).is_err());
        let m = c.catalog.get("manholes").unwrap();
        assert_eq!((m.minzoom, m.attributes[0].kind), (15, AttrType::Real));
    }

    #[test]
    fn unknown_keys_and_incomplete_layers_are_errors() {
        assert!(matches!(parse("[server]\nlisten_port = 1"), Err(ConfigError::Parse { .. })));
        assert!(matches!(parse("[layers.x]\ngeometry = \"point\""), Err(ConfigError::Layer { .. })));
        assert!(matches!(parse("[web]\ntiles_archive = \"/city.pmtiles\""), Err(ConfigError::Web(_))));
        assert!(matches!(parse("[web]\ntiles_archive = \"file:///city.pmtiles\""), Err(ConfigError::Web(_))));
        assert!(parse("[web]\ntiles_archive = \"https://cdn.example.jp/city.pmtiles\"").is_ok());
        assert!(parse("[layers.roads]\nminzoom = 30").is_err());
    }

    #[test]
    fn database_url_is_never_printed() {
        let f: FileConfig = toml::from_str("[server]\ndatabase_url = \"postgres://u:pw@h/db\"").unwrap();
        let c = Config::resolve(f, Overrides::default()).unwrap();
        assert_eq!(c.database_url.as_ref().unwrap().0, "postgres://u:pw@h/db");
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let f: FileConfig = toml::from_str("[server]\nlisten = \"0.0.0.0:9000\"\ntile_cache_mb = 8").unwrap();
        let c = Config::resolve(f, Overrides { listen: Some("127.0.0.1:1".parse().unwrap()), ..Default::default() })
            .unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.tile_cache_bytes, 8 * 1024 * 1024);
    }

    #[test]
    fn render_slots_default_to_two_per_core_and_never_zero() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(Config::defaults().render_slots, 2 * cores);
        let f: FileConfig = toml::from_str("[server]\nrender_slots = 3").unwrap();
        assert_eq!(Config::resolve(f.clone(), Overrides::default()).unwrap().render_slots, 3);
        let o = Overrides { render_slots: Some(0), ..Default::default() };
        assert!(matches!(Config::resolve(f, o), Err(ConfigError::NoRenderSlots)));
    }
}
