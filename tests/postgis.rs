//! The PostGIS store against a real PostgreSQL + PostGIS server (started by `scripts/test`):
//! the demo city goes in, comes back out unchanged, and serves the very same tiles as the
//! embedded GeoPackage store.

mod support;

use std::sync::Arc;

use machizu::app::App;
use machizu::catalog::{Audience, Catalog};
use machizu::config::{Config, Secret};
use machizu::crs::Epsg;
use machizu::store::Store;
use machizu::store::gpkg::GpkgStore;
use machizu::store::postgis::PostgisStore;
use machizu::tile::TileCoord;
use support::{CENTRE_Z14, TestServer};

#[tokio::test]
async fn demo_city_round_trips_and_serves_the_same_tiles_as_the_geopackage() {
    let url = support::fresh_database().await;
    let config = Config { database_url: Some(Secret(url.clone())), snapshots: false, ..Config::defaults() };
    let pg = App::open(config).await.unwrap();
    assert_eq!(pg.store.kind(), "postgis");
    assert!(pg.dataset_notice.as_deref().unwrap().contains("Synthetic"));
    let health = pg.store.health().await;
    assert!(health.ok, "{health:?}");
    assert_eq!(health.location, url, "a URL without a password is shown as it is");

    // The GeoPackage fixture holds the same seed's city: every layer matches feature by feature.
    let gpkg = GpkgStore::open(&support::demo_gpkg().await, Epsg::JGD2011_ZONE_X).await.unwrap();
    let catalog = Catalog::builtin();
    for layer in catalog.layers() {
        let a = gpkg.load(layer).await.unwrap();
        let b = pg.store.load(layer).await.unwrap();
        assert_eq!(a.len(), b.len(), "{} count", layer.id);
        assert!(a == b, "{}: features differ between GeoPackage and PostGIS", layer.id);
    }
    gpkg.close().await;

    // And so the tiles are byte-identical.
    let s = TestServer::demo().await;
    let ids: Vec<String> = catalog.layers().iter().map(|l| l.id.to_string()).collect();
    let (z, x, y) = CENTRE_Z14;
    for t in
        [TileCoord { z, x, y }, TileCoord { z: 12, x: x >> 2, y: y >> 2 }, TileCoord { z: 16, x: x << 2, y: y << 2 }]
    {
        let from_pg = pg.engine.render(&ids, t, Audience::Public);
        assert!(!from_pg.is_empty());
        assert_eq!(from_pg, s.app.engine.render(&ids, t, Audience::Public), "tile {t}");
    }
}

#[tokio::test]
async fn an_insert_lands_whole_or_not_at_all() {
    let url = support::fresh_database().await;
    let catalog = Catalog::builtin();
    let store = Arc::new(PostgisStore::connect(&url, Epsg::JGD2011_ZONE_X).await.unwrap());
    store.prepare(&catalog).await.unwrap();
    let roads = catalog.get("roads").unwrap();
    let city = machizu::demo::generate(&catalog, Epsg::JGD2011_ZONE_X, 1).unwrap();
    let mut features = city.layer("roads").unwrap()[..5_000].to_vec();
    // One bad value deep in the third batch: nothing of the 5,000 may land.
    features[4_321].attributes[roads.attribute_index("width_m").unwrap()] = "wide".into();
    let err = store.insert(roads, &features).await.unwrap_err();
    assert!(err.to_string().contains("width_m"), "{err}");
    assert_eq!(store.count(roads).await.unwrap(), 0);
    features[4_321].attributes[roads.attribute_index("width_m").unwrap()] = 5.0.into();
    let ids = store.insert(roads, &features).await.unwrap();
    assert_eq!(ids.len(), 5_000);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids follow input order");
    let back = store.load(roads).await.unwrap();
    assert_eq!(back[4_321].attributes, features[4_321].attributes);
    assert_eq!(back[4_321].geometry, features[4_321].geometry);
    store.close().await;
}
