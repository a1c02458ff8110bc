//! PostgreSQL goes away while machizu serves: tiles keep coming from memory, `/health` says
//! degraded, and when PostgreSQL is back machizu is healthy again and follows changes again,
//! without a restart. The test
//! runs its own throwaway cluster (scripts/pg-test-cluster) so that it can stop and start it.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use machizu::app::App;
use machizu::config::{Config, Secret};
use support::{CENTRE_Z14, body_json};
use tower::ServiceExt;

fn cluster(cmd: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-test-cluster");
    let out = Command::new(script).args([cmd, dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "pg-test-cluster {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Stops the cluster when the test ends, passed or not.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-test-cluster");
        let _ = Command::new(script).args(["stop", self.0.to_str().unwrap()]).status();
    }
}

fn pg_ctl(dir: &Path, args: &[&str]) {
    let data = dir.join("data");
    let status = Command::new("runuser")
        .args(["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", data.to_str().unwrap(), "-w"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl {args:?}");
}

#[tokio::test]
async fn tiles_survive_a_database_outage_and_health_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // The server runs as the postgres user, which must be able to reach its directory.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let pgdir = dir.path().join("pg");
    let url = cluster("start", &pgdir);
    let _stop = StopOnDrop(pgdir.clone());
    let config = Config { database_url: Some(Secret(url.clone())), snapshots: false, ..Config::defaults() };
    let app = Arc::new(App::open(config).await.unwrap());
    let router = machizu::http::router(app.clone());
    let get = |uri: String| {
        let router = router.clone();
        async move { router.oneshot(axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap()).await.unwrap() }
    };
    let (z, x, y) = CENTRE_Z14;
    let tile = |x: u32| format!("/tiles/roads,parcels/{z}/{x}/{y}.mvt");
    assert_eq!(body_json(get("/health".into()).await).await["status"], "ok");

    pg_ctl(&pgdir, &["-m", "immediate", "stop"]);
    // A tile never requested before is rendered from memory while the database is down.
    assert_eq!(get(tile(x)).await.status(), StatusCode::OK);
    assert_eq!(get(tile(x + 1)).await.status(), StatusCode::OK);
    let h = body_json(get("/health".into()).await).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["store"]["ok"], false);

    pg_ctl(&pgdir, &["-l", pgdir.join("server.log").to_str().unwrap(), "start"]);
    let mut healthy = false;
    for _ in 0..50 {
        if body_json(get("/health".into()).await).await["status"] == "ok" {
            healthy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(healthy, "machizu reconnects by itself");
    assert_eq!(get(tile(x + 2)).await.status(), StatusCode::OK);

    // The change feed is back too: a change made with psql after the outage reaches the engine.
    let roads = app.engine.layer("roads").unwrap().len();
    assert!(roads > 1000);
    let out = Command::new("psql").args([&url, "-qAtc", "DELETE FROM roads WHERE fid % 2 = 0"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut followed = false;
    // Deleting half the roads is one transaction the engine applies as a whole; under a busy
    // CI machine that takes seconds.
    for _ in 0..300 {
        if app.engine.layer("roads").unwrap().len() == roads - roads / 2 {
            followed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(followed, "changes after the outage are followed: {} roads", app.engine.layer("roads").unwrap().len());
}
