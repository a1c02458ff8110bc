//! The MOJ cadastral map XML parser on the Ministry's own files (`../shared/data/moj-xml`):
//! parcel counts as the data's README states them, closed and valid rings, 地番 kept, the
//! coordinate system of each file, and zipped files read as distributed.

mod support;

use std::io::{BufReader, Read};
use std::path::Path;

use geo::{Area, Validation};
use machizu::import::mojxml::{MapCrs, MojMap, parse};

fn read(path: &Path) -> MojMap {
    if path.extension().is_some_and(|e| e == "zip") {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut entry = archive.by_index(0).unwrap();
        let mut xml = Vec::new();
        entry.read_to_end(&mut xml).unwrap();
        parse(&xml[..]).unwrap()
    } else {
        parse(BufReader::new(std::fs::File::open(path).unwrap())).unwrap()
    }
}

#[test]
fn every_sample_file_parses_with_the_stated_counts() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    // (file, 筆 count from the data's README, coordinate system)
    let expected = [
        ("12103-0400-76_chiba-inage.zip", 1, MapCrs::PlaneRectangular(9)),
        ("46505-3411-1_yakushima.zip", 8, MapCrs::PlaneRectangular(2)),
        ("46505-3411-102_yakushima_kokyo2_survey.xml", 169, MapCrs::PlaneRectangular(2)),
        ("13113-0110-44_shibuya_kokyo9.xml", 328, MapCrs::PlaneRectangular(9)),
        ("01229-4500-1_furano_arbitrary.xml", 130, MapCrs::Arbitrary),
        ("13113-0110-1_shibuya_arbitrary.xml", 353, MapCrs::Arbitrary),
    ];
    for (file, count, crs) in expected {
        let map = read(&dir.join(file));
        assert_eq!(map.parcels.len(), count, "{file}");
        assert_eq!(map.crs, crs, "{file}");
        for p in &map.parcels {
            let ring = &p.polygon.exterior().0;
            assert_eq!(ring.first(), ring.last(), "{file} {}: ring closed", p.chiban);
            assert!(ring.len() >= 4, "{file} {}", p.chiban);
            assert!(p.polygon.unsigned_area() > 0.0, "{file} {}: has area", p.chiban);
            assert!(!p.chiban.is_empty(), "{file} {}: 地番 kept", p.id);
            // Chaining curves never makes a ring cross itself (the Ministry's own rings are
            // simple; a wrong join would fold them).
            assert!(p.polygon.is_valid(), "{file} {}: {:?}", p.chiban, p.polygon.validation_errors());
        }
    }
}

#[test]
fn shibuya_surveyed_sheet_in_detail() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let map = read(&dir.join("13113-0110-44_shibuya_kokyo9.xml"));
    assert_eq!((map.city_code.as_str(), map.city_name.as_str()), ("13113", "渋谷区"));
    assert_eq!(map.datum_note, "測量");
    let p = map.parcels.iter().find(|p| p.id == "H000000001").unwrap();
    assert_eq!((p.chiban.as_str(), p.oaza_name.as_str(), p.oaza_code.as_str()), ("75-1", "宇田川町", "049"));
    assert_eq!(p.coordinate_kind, "図上測量");
    assert_eq!(p.prefix, None);
    // Plane rectangular zone IX around Shibuya: easting about −12 km, northing about −37 km,
    // as x and y (the XML's X is the northing).
    let c = p.polygon.exterior().0[0];
    assert!((-13_000.0..-11_000.0).contains(&c.x) && (-38_500.0..-36_500.0).contains(&c.y), "{c:?}");
}

#[test]
fn prefixed_parcels_are_flagged() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let map = read(&dir.join("13113-0110-1_shibuya_arbitrary.xml"));
    let road = map.parcels.iter().find(|p| p.chiban == "道-648").expect("道-648");
    assert_eq!(road.prefix.as_deref(), Some("道"));
    let water = map.parcels.iter().find(|p| p.chiban == "水-255").expect("水-255");
    assert_eq!(water.prefix.as_deref(), Some("水"));
    assert!(map.parcels.iter().filter(|p| p.prefix.is_none()).count() > 300);
}
