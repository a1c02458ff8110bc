//! Shared test fixtures: the demo city GeoPackage (generated once per source version and
//! copied per test), an in-process server, and an independent MVT decoder (`vector_tile`).
#![allow(dead_code)]

pub mod accuracy;
pub mod vector_tile;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use machizu::app::App;
use machizu::auth::{NewKey, Role};
use machizu::config::Config;
use machizu::crs::Epsg;
use machizu::store::gpkg::{FILE_NAME, GpkgStore};
use tower::ServiceExt;

/// Everything the demo GeoPackage depends on: a change to any of it makes a new fixture.
const FIXTURE_SOURCES: &[&str] = &[
    include_str!("../../src/demo/mod.rs"),
    include_str!("../../src/demo/names.rs"),
    include_str!("../../src/catalog.rs"),
    include_str!("../../src/store/gpkg/mod.rs"),
    include_str!("../../schema/gpkg/geopackage_core.sql"),
    include_str!("../../schema/gpkg/machizu.sql"),
];

/// `rel` under the real sample data (`MACHIZU_SAMPLE_DATA`, default `../shared/data`), or
/// `None` with a loud message when it is absent — a failure instead when
/// `MACHIZU_REQUIRE_SAMPLE_DATA` is set, as `.ci/run` does.
pub fn sample_data(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("MACHIZU_SAMPLE_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
    let path = root.join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("MACHIZU_REQUIRE_SAMPLE_DATA").is_some() {
        panic!("sample data {} is missing (MACHIZU_REQUIRE_SAMPLE_DATA is set)", path.display());
    }
    eprintln!("\n*** SKIPPED: sample data {} is missing; set MACHIZU_SAMPLE_DATA ***\n", path.display());
    None
}

/// The Python interpreter of the test venv with the independent clients the tests use
/// (`tests/requirements.txt`, installed by `scripts/setup --test`).
pub fn test_python() -> String {
    std::env::var("MACHIZU_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
        assert!(venv.exists(), "{} is missing: run scripts/setup --test", venv.display());
        venv.display().to_string()
    })
}

/// Path of a demo-city GeoPackage shared by every test process of this source version,
/// generated on first use under a file lock.
pub async fn demo_gpkg() -> PathBuf {
    let hash = xxhash_rust::xxh3::xxh3_64(FIXTURE_SOURCES.concat().as_bytes());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-city-{hash:016x}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(FILE_NAME);
    let lock = std::fs::File::create(dir.join("lock")).unwrap();
    lock.lock().unwrap();
    if !path.exists() {
        let tmp = dir.join("building");
        let _ = std::fs::remove_dir_all(&tmp);
        let config = Config { data_dir: tmp.clone(), snapshots: false, ..Config::defaults() };
        let app = App::open(config).await.unwrap();
        drop(app);
        let store = GpkgStore::open_in(&tmp, Epsg::JGD2011_ZONE_X).await.unwrap();
        store.close().await;
        std::fs::rename(tmp.join(FILE_NAME), &path).unwrap();
    }
    lock.unlock().unwrap();
    path
}

/// A test server over its own copy of the demo city.
pub struct TestServer {
    pub app: Arc<App>,
    pub router: Router,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn demo() -> Self {
        Self::demo_with(|_| {}).await
    }

    /// The demo city with a tweaked configuration.
    pub async fn demo_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(demo_gpkg().await, dir.path().join(FILE_NAME)).unwrap();
        let mut config =
            Config { data_dir: dir.path().to_owned(), demo: false, snapshots: false, ..Config::defaults() };
        tweak(&mut config);
        let app = Arc::new(App::open(config).await.unwrap());
        let router = machizu::http::router(app.clone());
        Self { app, router, dir }
    }

    pub async fn get(&self, uri: &str) -> Response<Body> {
        self.request(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn request(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.unwrap()
    }

    /// A new API key with `role` (for all layers); returns the token.
    pub async fn key(&self, role: Role) -> String {
        let new = NewKey::generate(&format!("test {role:?}"), role, None);
        self.app.store.create_key(&new).await.unwrap();
        new.token
    }

    /// `method uri` with an optional key, JSON body and extra headers.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        key: Option<&str>,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.request(req.body(body).unwrap()).await
    }

    /// `GET uri` with a key, as JSON (asserting 200).
    pub async fn get_json(&self, uri: &str, key: Option<&str>) -> serde_json::Value {
        let r = self.call("GET", uri, key, None, &[]).await;
        let status = r.status();
        let body = body_bytes(r).await;
        assert_eq!(status, 200, "GET {uri}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

pub async fn body_bytes(r: Response<Body>) -> Vec<u8> {
    r.into_body().collect().await.unwrap().to_bytes().to_vec()
}

pub async fn body_json(r: Response<Body>) -> serde_json::Value {
    serde_json::from_slice(&body_bytes(r).await).unwrap()
}

/// A `machizu serve` process on a free loopback port (`args` after `serve --listen …`), killed
/// when dropped. `addr` is `host:port`; its log is drained so it never blocks on a full pipe.
pub struct Serving {
    child: std::process::Child,
    pub addr: String,
    /// The data directory of [`Serving::postgis`], removed with it.
    _data: Option<tempfile::TempDir>,
}

impl Serving {
    pub fn start(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_machizu"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "machizu=info")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("machizu exited before serving").unwrap();
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr, _data: None }
    }

    /// A process on the PostGIS database `url`, without the demo, with a data directory of its own.
    pub fn postgis(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_owned();
        let mut serving = Self::start(&["--no-demo", "--database-url", url, "--data", &data]);
        serving._data = Some(dir);
        serving
    }

    /// `http://host:port`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The z14 tile at the city centre (38.600 N, 140.406 E).
pub const CENTRE_Z14: (u8, u32, u32) = (14, 14582, 6284);

/// A new, empty database in the test PostGIS cluster that `scripts/test` starts
/// (`MACHIZU_TEST_DATABASE_URL`). Fails, not skips, when there is none: PostGIS tests must run.
pub async fn fresh_database() -> String {
    use sqlx::Connection;
    let url = std::env::var("MACHIZU_TEST_DATABASE_URL").expect(
        "MACHIZU_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostGIS cluster",
    );
    let name = format!(
        "t_{:016x}",
        xxhash_rust::xxh3::xxh3_64(format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes())
    );
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("the test PostGIS cluster answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let base = url.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

/// PROJ's own `cs2cs` from `from` to `to` on (easting or longitude, northing or latitude)
/// pairs. Both CRSs must list northing (latitude) first, as EPSG's Japanese CRSs and 4326 do.
pub fn cs2cs(from: &str, to: &str, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    use std::io::Write;
    let mut child = std::process::Command::new("cs2cs")
        .args(["-f", "%.6f", from, to])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cs2cs (Debian package proj-bin, installed by scripts/setup --test)");
    let input: String = pts.iter().map(|(e, n)| format!("{n} {e}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            (v[1], v[0])
        })
        .collect()
}
