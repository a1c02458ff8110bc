//! Every tile of the demo city, at every zoom from 0 to 16, with every public layer at once,
//! stays under 500 KB (generalisation drops and simplifies what cannot be seen).

mod support;

use machizu::catalog::Audience;
use machizu::tile::TileCoord;
use support::TestServer;

#[tokio::test]
async fn no_tile_over_500_kb_at_any_zoom() {
    let s = TestServer::demo().await;
    let engine = s.app.engine.clone();
    let layers: Vec<String> = s.app.config.catalog.layers().iter().map(|l| l.id.to_string()).collect();
    let [w, south, e, n] = s.app.config.city.bounds;
    let report = tokio::task::spawn_blocking(move || {
        let mut report = Vec::new();
        for z in 0..=16u8 {
            let a = TileCoord::containing(w, n, z);
            let b = TileCoord::containing(e, south, z);
            let (mut max, mut count, mut total) = (0usize, 0usize, 0usize);
            for x in a.x..=b.x {
                for y in a.y..=b.y {
                    let t = TileCoord::new(z.into(), x.into(), y.into()).unwrap();
                    let bytes = engine.render(&layers, t, Audience::Public).len();
                    assert!(bytes < 500 * 1024, "tile {t} is {bytes} bytes");
                    max = max.max(bytes);
                    total += bytes;
                    count += 1;
                }
            }
            report.push((z, count, max, total / count.max(1)));
        }
        report
    })
    .await
    .unwrap();
    for (z, count, max, mean) in &report {
        println!(
            "z{z:<2} tiles {count:>5}  max {:>7.1} KB  mean {:>7.1} KB",
            *max as f64 / 1024.0,
            *mean as f64 / 1024.0
        );
    }
    // The city is actually drawn: from z8 on, some tile carries data.
    assert!(report.iter().filter(|r| r.0 >= 8).all(|r| r.2 > 0));
}
