//! Shapefile import, end to end, against `ogr2ogr` on the same file into the same kind of
//! store: a synthetic Shapefile of road polylines (JGD2000 zone VIII, CP932 attributes, as
//! Japanese city ledgers are) is imported by `machizu import` into the embedded GeoPackage
//! store (zone X) and by `ogr2ogr -t_srs EPSG:6678 -gt unlimited` into a GeoPackage, each in
//! one transaction; features/s of each, median of three runs.
//!
//! Run: `cargo bench --bench shapefile_import [-- FEATURES]` (default 200,000 features; target:
//! machizu not slower than ogr2ogr). With `BENCH_DATABASE_URL=postgres://user@host:port/db` (a
//! PostGIS database it may write `roads` in) it also compares the two into PostGIS. With
//! `KEEP=1` the files are kept, for profiling.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gdal::vector::{Feature, Geometry, LayerAccess, LayerOptions};

/// Writes a synthetic Shapefile of `n` polylines of 4–19 vertices around Yaizu (zone VIII).
fn synthetic_shapefile(path: &Path, n: usize) {
    let driver = gdal::DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(2450).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "synthetic_roads",
            srs: Some(&srs),
            ty: gdal_sys::OGRwkbGeometryType::wkbLineString,
            options: Some(&["ENCODING=CP932"]),
        })
        .unwrap();
    use gdal_sys::OGRFieldType::*;
    layer
        .create_defn_fields(&[("路線名", OFTString), ("種別", OFTString), ("幅員", OFTReal), ("年度", OFTInteger)])
        .unwrap();
    let mut state = 42u64;
    let mut rnd = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let names = ["市道昭和線", "県道焼津森線", "市道大村坂本線", "農道第8号線"];
    let classes = ["市道", "県道", "農道"];
    for i in 0..n {
        let mut g = Geometry::empty(gdal_sys::OGRwkbGeometryType::wkbLineString).unwrap();
        let (mut x, mut y) = (-10_000.0 + rnd() * 20_000.0, -120_000.0 + rnd() * 20_000.0);
        for _ in 0..4 + (rnd() * 16.0) as usize {
            g.add_point_2d((y, x));
            x += rnd() * 40.0 - 20.0;
            y += rnd() * 40.0 - 20.0;
        }
        let mut f = Feature::new(layer.defn()).unwrap();
        f.set_field_string(0, &format!("{}{}", names[i % names.len()], i)).unwrap();
        f.set_field_string(1, classes[i % classes.len()]).unwrap();
        f.set_field_double(2, 3.0 + rnd() * 12.0).unwrap();
        f.set_field_integer(3, 1960 + (i % 60) as i32).unwrap();
        f.set_geometry(g).unwrap();
        f.create(&layer).unwrap();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut run: impl FnMut()) -> Duration {
    median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = dir.keep();
    let shp = dir.join("synthetic_roads.shp");
    synthetic_shapefile(&shp, n);
    let mapping = dir.join("mapping.toml");
    std::fs::write(&mapping, "[attributes]\nname = \"路線名\"\nroad_class = \"種別\"\nwidth_m = \"幅員\"\n").unwrap();
    let size: u64 = ["shp", "dbf"].iter().map(|e| std::fs::metadata(shp.with_extension(e)).unwrap().len()).sum();
    println!("synthetic Shapefile: {n} polylines, {:.1} MB (.shp + .dbf)", size as f64 / 1e6);

    let machizu = time(|| {
        let data = dir.join("machizu-data");
        let _ = std::fs::remove_dir_all(&data);
        let out = Command::new(env!("CARGO_BIN_EXE_machizu"))
            .args(["import", "--layer", "roads", "--mapping"])
            .arg(&mapping)
            .arg("--data")
            .arg(&data)
            .arg(&shp)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    });
    let ogr2ogr = time(|| {
        let out_path = dir.join("ogr2ogr.gpkg");
        let _ = std::fs::remove_file(&out_path);
        let out = Command::new("ogr2ogr")
            .args(["-f", "GPKG", "-t_srs", "EPSG:6678", "-nln", "roads", "-gt", "unlimited"])
            .arg(&out_path)
            .arg(&shp)
            .output()
            .expect("ogr2ogr (Debian package gdal-bin, installed by scripts/setup --test)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    });
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("GeoPackage");
    println!("  machizu import: {:>8.3} s  {:>9.0} features/s", machizu.as_secs_f64(), rate(machizu));
    println!("  ogr2ogr:        {:>8.3} s  {:>9.0} features/s", ogr2ogr.as_secs_f64(), rate(ogr2ogr));
    println!("  machizu / ogr2ogr: {:.2}× (target ≥ 1)", rate(machizu) / rate(ogr2ogr));

    // PostGIS, when a database is given: machizu into its live `roads` table (GiST index and
    // change-feed triggers maintained), ogr2ogr into a new table (its index built afterwards).
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        let psql = |sql: &str| {
            let out = Command::new("psql").args([url.as_str(), "-qc", sql]).output().expect("psql");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        let machizu = time(|| {
            psql("DROP TABLE IF EXISTS roads CASCADE");
            let out = Command::new(env!("CARGO_BIN_EXE_machizu"))
                .args(["import", "--layer", "roads", "--mapping"])
                .arg(&mapping)
                .args(["--database-url", &url])
                .arg(&shp)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        });
        let pg = url.replacen("postgres://", "", 1);
        let (user_host, db) = pg.rsplit_once('/').expect("postgres://user@host:port/db");
        let (user, host_port) = user_host.split_once('@').expect("a user in the URL");
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
        let ogr2ogr_pg = |mode: &str| {
            let pg = format!("PG:host={host} port={port} user={user} dbname={db}");
            let out = Command::new("ogr2ogr")
                .args([mode, "-f", "PostgreSQL", &pg])
                .arg(&shp)
                .args(["-t_srs", "EPSG:6678", "-nln", "ogr2ogr_roads", "-gt", "unlimited"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        let ogr2ogr = time(|| ogr2ogr_pg("-overwrite"));
        // Into an existing table with its index, as a city's live layer table is.
        let append = time(|| {
            psql("TRUNCATE ogr2ogr_roads");
            ogr2ogr_pg("-append");
        });
        psql("DROP TABLE IF EXISTS ogr2ogr_roads");
        println!("PostGIS");
        println!("  machizu import:            {:>8.3} s  {:>9.0} features/s", machizu.as_secs_f64(), rate(machizu));
        println!("  ogr2ogr, new table:        {:>8.3} s  {:>9.0} features/s", ogr2ogr.as_secs_f64(), rate(ogr2ogr));
        println!("  ogr2ogr -append, indexed:  {:>8.3} s  {:>9.0} features/s", append.as_secs_f64(), rate(append));
        println!(
            "  machizu / ogr2ogr: {:.2}× (new table), {:.2}× (-append)",
            rate(machizu) / rate(ogr2ogr),
            rate(machizu) / rate(append)
        );
    }
    if std::env::var_os("KEEP").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    } else {
        println!("kept {}", dir.display());
    }
}
