//! Backups (#20): `machizu backup` copies the embedded store while a server writes to it, and
//! every write acknowledged before the backup began is in the copy that `machizu restore` puts
//! back — which GDAL and machizu then open. A damaged backup is refused and replaces nothing.
//! For PostGIS, `pg_dump` and `pg_restore` carry everything, layers made from files included.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use machizu::app::App;
use machizu::config::Config;
use machizu::crs::Epsg;
use machizu::store::gpkg::GpkgStore;
use machizu::store::{LayerStore, Store};
use serde_json::json;

fn machizu(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_machizu")).args(args).env("RUST_LOG", "warn").output().unwrap();
    eprintln!("machizu {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn ids(store: &GpkgStore) -> Vec<i64> {
    let config = Config::defaults();
    let layer = config.catalog.get("hazardous_buildings").unwrap();
    store.load(layer).await.unwrap().iter().map(|f| f.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_writing_holds_every_acknowledged_write_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let (data, restored) = (dir.path().join("data"), dir.path().join("restored"));
    let out = machizu(&["keys", "create", "--name", "writer", "--role", "staff", "--data", path(&data)]);
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // A camera still: its file travels with the backup.
    let still = b"\xff\xd8 a camera still \xff\xd9".to_vec();
    let sha = "5ee0c0ffee0000000000000000000000000000000000000000000000000000ab";
    {
        use machizu::store::CameraStore;
        use machizu::store::cameras::ImageRow;
        let store = GpkgStore::open_in(&data, Epsg::JGD2011_ZONE_X).await.unwrap();
        let row = ImageRow {
            id: 0,
            thing: 1,
            taken_at: "2026-12-04T06:00:00.000Z".into(),
            received_at: "2026-12-04T06:00:01.000Z".into(),
            sha256: sha.into(),
            bytes: still.len() as i64,
            width: 1,
            height: 1,
        };
        store.add_camera_image(&row, &still).await.unwrap();
        store.close().await;
    }
    let server = support::Serving::start(&["--no-demo", "--no-demo-plows", "--data", path(&data)]);

    // Writers: hazardous buildings, one after another, each acknowledged id with its time.
    let acked: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (acked, stop, key, base) = (acked.clone(), stop.clone(), key.clone(), server.base());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let body = json!({"type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [140.40 + 0.0001 * f64::from(n), 38.60 + 0.001 * f64::from(w)]},
                    "properties": {"status": "特定空家等", "survey_date": "2026-12-04"}});
                let r = client
                    .post(format!("{base}/ogc/collections/hazardous_buildings/items"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
                let id: i64 = r.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
                acked.lock().unwrap().push((Instant::now(), id));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup = dir.path().join("backups/machizu-test.gpkg");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let began = Instant::now();
    let (b, d) = (backup.clone(), data.clone());
    let out = tokio::task::spawn_blocking(move || machizu(&["backup", "--output", path(&b), "--data", path(&d)]))
        .await
        .unwrap();
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    drop(server);
    let acked = acked.lock().unwrap().clone();
    let before: Vec<i64> = acked.iter().filter(|(t, _)| *t < began).map(|(_, id)| *id).collect();
    let after = acked.len() - before.len();
    eprintln!("{} writes acknowledged before the backup began, {after} after", before.len());
    assert!(before.len() > 10 && after > 0, "writes went on during the backup");

    // A second backup to the same file is refused; so is a restore over a store without --replace.
    assert!(!machizu(&["backup", "--output", path(&backup), "--data", path(&data)]).status.success());
    assert!(!machizu(&["restore", "--from", path(&backup), "--data", path(&data)]).status.success());

    // Restored: every write acknowledged before the backup began is there.
    assert!(machizu(&["restore", "--from", path(&backup), "--data", path(&restored)]).status.success());
    let store = GpkgStore::open_in(&restored, Epsg::JGD2011_ZONE_X).await.unwrap();
    let kept = ids(&store).await;
    store.close().await;
    assert_eq!(std::fs::read(restored.join(format!("camera-images/{sha}.jpg"))).unwrap(), still);
    assert_eq!(std::fs::read(backup.parent().unwrap().join(format!("camera-images/{sha}.jpg"))).unwrap(), still);
    let missing: Vec<&i64> = before.iter().filter(|id| !kept.contains(id)).collect();
    assert!(missing.is_empty(), "lost {missing:?}");
    // GDAL opens it, and so does machizu.
    let info = Command::new("ogrinfo")
        .args(["-so", path(&restored.join("machizu.gpkg")), "hazardous_buildings"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    let count: usize = info.lines().find_map(|l| l.strip_prefix("Feature Count: ")).unwrap().trim().parse().unwrap();
    assert_eq!(count, kept.len(), "{info}");
    let app = App::open(Config { data_dir: restored.clone(), demo: false, ..Config::defaults() }).await.unwrap();
    assert_eq!(app.engine.layer("hazardous_buildings").unwrap().len(), kept.len());
    drop(app);

    // A damaged backup is refused, and the store it would replace stays as it was.
    let damaged = dir.path().join("damaged.gpkg");
    let bytes = std::fs::read(&backup).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 3]).unwrap();
    let out = machizu(&["restore", "--from", path(&damaged), "--data", path(&restored), "--replace"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a sound machizu backup"));
    let store = GpkgStore::open_in(&restored, Epsg::JGD2011_ZONE_X).await.unwrap();
    assert_eq!(ids(&store).await, kept);
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_dump_and_pg_restore_carry_the_postgis_store() {
    let Some(csv) = support::sample_data("yaizu-city-opendata/消防水利施設一覧/222127_fire_hydrant.csv") else {
        return;
    };
    let (from, to) = (support::fresh_database().await, support::fresh_database().await);
    assert!(
        machizu(&["layers", "add", path(&csv), "--id", "hydrants", "--title-ja", "消防水利", "--database-url", &from])
            .status
            .success()
    );
    let dump = tempfile::tempdir().unwrap().keep().join("machizu.dump");
    let run = |cmd: &str, args: &[&str]| {
        let out = Command::new(cmd).args(args).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run("pg_dump", &["--format=custom", "--no-owner", "--file", path(&dump), &from]);
    run("pg_restore", &["--no-owner", "--exit-on-error", "--dbname", &to, path(&dump)]);
    let config = Config {
        database_url: Some(machizu::config::Secret(to.clone())),
        demo: false,
        snapshots: false,
        ..Config::defaults()
    };
    let app = App::open(config).await.unwrap();
    let source = machizu::store::postgis::PostgisStore::connect(&from, Epsg::JGD2011_ZONE_X).await.unwrap();
    let def = source.layer_def("hydrants").await.unwrap().unwrap();
    assert_eq!(app.store.layer_defs().await.unwrap(), std::slice::from_ref(&def));
    assert_eq!(app.store.export(&def).await.unwrap(), source.export(&def).await.unwrap());
    assert_eq!(app.engine.layer("hydrants").unwrap().len(), source.count(&def).await.unwrap() as usize);
}
