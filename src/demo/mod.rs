//! The synthetic demo city: a deterministic, clearly labelled fake Obanazawa.
//!
//! Everything is generated from a seed, in metres around the real town centre (38.600 N,
//! 140.406 E) on JGD2011 zone X, then converted to the store CRS:
//!
//! 1. a city outline, an irregular blob of about 370 km² inside the real city's extent;
//! 2. a land-use grid of 500 m cells: the town centre (100 m street grid), about 45 villages
//!    (125 m grids), paddy land around them (fields of 50 m × 21 m between farm roads every
//!    250 m) and forest elsewhere (a jittered lattice of 100 m lots);
//! 3. roads on every block line, rural roads linking villages, national routes 13 and 347;
//! 4. water mains offset along town, village and rural roads; sewer lines in the town centre;
//! 5. parcels tiling the blocks, fields and forest with 地番, 大字, 字, 地目 and a fictitious
//!    owner; a few dozen hazardous buildings on house lots;
//! 6. five districts (地区): the town centre and four quarters of the outline around it.
//!
//! The result is of the real city's order of size (about 5,000 road segments and 100,000
//! parcels). Every owner name is marked （架空） (fictitious), and the store is tagged with
//! [`SYNTHETIC_NOTICE`] so the map can say so.

mod names;

use geo::{Area, Centroid, Contains};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::Catalog;
use crate::crs::{CrsError, Epsg, Transformer};
use crate::feature::{AttrValue, NewFeature};

/// The metadata key under which a store records that it holds the demo city.
pub const META_KEY: &str = "dataset";

/// What the map and the API say about the demo data.
pub const SYNTHETIC_NOTICE: &str = "デモデータ（架空の合成データ）/ Synthetic demo data — not real city records";

/// The default seed.
pub const DEFAULT_SEED: u64 = 6212;

const CELL: f64 = 500.0;
const TOWN_HALF: (f64, f64) = (1250.0, 1000.0);
/// Half the road reserve: parcels stay this far from road centrelines.
const ROAD_SETBACK: f64 = 4.0;
const PIPE_OFFSET: f64 = 2.5;

/// The generated demo city: features per layer id, in the store CRS.
pub struct DemoCity {
    pub layers: Vec<(String, Vec<NewFeature>)>,
}

impl DemoCity {
    pub fn layer(&self, id: &str) -> Option<&[NewFeature]> {
        self.layers.iter().find(|(l, _)| l == id).map(|(_, f)| f.as_slice())
    }
}

/// Generates the demo city for `catalog` (only layers it has are filled; attributes are
/// matched by name), in `crs`.
pub fn generate(catalog: &Catalog, crs: Epsg, seed: u64) -> Result<DemoCity, CrsError> {
    let mut g = Generator::new(seed);
    g.boundary();
    g.villages();
    g.land_use();
    g.highways();
    g.rural_roads();
    g.hazardous_buildings();
    g.road_events();

    let to_zone_x = Transformer::new(Epsg::WGS84, Epsg::JGD2011_ZONE_X)?;
    let (cx, cy) = to_zone_x.point(140.406, 38.600)?;
    let to_store = Transformer::new(Epsg::JGD2011_ZONE_X, crs)?;
    let mut layers = Vec::new();
    for (id, raw) in g.into_layers() {
        let Some(def) = catalog.get(id) else { continue };
        let mut out = Vec::with_capacity(raw.len());
        for (mut geometry, attrs) in raw {
            let shift = &mut |run: &mut [Coord<f64>]| {
                run.iter_mut().for_each(|p| *p = Coord { x: p.x + cx, y: p.y + cy });
                Ok::<_, CrsError>(())
            };
            crate::crs::try_for_each_coord_run(&mut geometry, shift)?;
            to_store.geometry(&mut geometry)?;
            out.push(NewFeature { geometry, attributes: def.values_by_name(attrs) });
        }
        layers.push((id.to_owned(), out));
    }
    Ok(DemoCity { layers })
}

type Attrs = Vec<(&'static str, AttrValue)>;
type RawFeature = (Geometry<f64>, Attrs);

#[derive(Clone, Copy, PartialEq)]
enum LandUse {
    Town,
    Village(usize),
    Paddy(usize),
    Forest(usize),
}

struct Generator {
    rng: ChaCha8Rng,
    seed: u64,
    outline: Polygon<f64>,
    villages: Vec<Coord<f64>>,
    roads: Vec<RawFeature>,
    water: Vec<RawFeature>,
    sewer: Vec<RawFeature>,
    parcels: Vec<RawFeature>,
    hazards: Vec<RawFeature>,
    road_events: Vec<RawFeature>,
    /// House lots (centroid, 大字 index), candidates for hazardous buildings.
    house_lots: Vec<(Coord<f64>, usize, String)>,
    /// Next 地番 per 大字.
    next_chiban: Vec<u32>,
    road_counter: u32,
}

fn c(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Polygon::new(LineString(vec![c(x0, y0), c(x1, y0), c(x1, y1), c(x0, y1), c(x0, y0)]), vec![])
}

impl Generator {
    fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            outline: rect(0.0, 0.0, 1.0, 1.0),
            villages: Vec::new(),
            roads: Vec::new(),
            water: Vec::new(),
            sewer: Vec::new(),
            parcels: Vec::new(),
            hazards: Vec::new(),
            road_events: Vec::new(),
            house_lots: Vec::new(),
            next_chiban: vec![1; names::OAZA.len()],
            road_counter: 0,
        }
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.random_range(0..list.len())]
    }

    /// A deterministic jitter for a lattice vertex, independent of generation order.
    fn lattice_jitter(&self, i: i64, j: i64, amplitude: f64) -> Coord<f64> {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&[i.to_le_bytes(), j.to_le_bytes()].concat(), self.seed);
        let a = (h & 0xffff) as f64 / 65535.0 - 0.5;
        let b = ((h >> 16) & 0xffff) as f64 / 65535.0 - 0.5;
        c(a * 2.0 * amplitude, b * 2.0 * amplitude)
    }

    /// The city outline: an irregular blob inside the real city's extent (local metres:
    /// x -8.3..18.6 km, y -17.8..13.3 km around the town centre).
    fn boundary(&mut self) {
        let centre = c(5_000.0, -2_200.0);
        let phases: Vec<f64> = (0..6).map(|_| self.rng.random_range(0.0..std::f64::consts::TAU)).collect();
        let n = 720;
        let mut ring = Vec::with_capacity(n + 1);
        for k in 0..n {
            let t = k as f64 / n as f64 * std::f64::consts::TAU;
            let wobble = 1.0
                + 0.10 * (2.0 * t + phases[0]).sin()
                + 0.07 * (3.0 * t + phases[1]).sin()
                + 0.05 * (5.0 * t + phases[2]).sin()
                + 0.03 * (9.0 * t + phases[3]).sin()
                + 0.015 * (17.0 * t + phases[4]).sin()
                + 0.008 * (31.0 * t + phases[5]).sin();
            let x = (centre.x + 11_600.0 * wobble * t.cos()).clamp(-8_200.0, 18_400.0);
            let y = (centre.y + 13_600.0 * wobble * t.sin()).clamp(-17_600.0, 13_100.0);
            ring.push(c(x, y));
        }
        ring.push(ring[0]);
        self.outline = Polygon::new(LineString(ring), vec![]);
    }

    fn inside(&self, p: Coord<f64>) -> bool {
        self.outline.contains(&Point(p))
    }

    fn in_town(p: Coord<f64>) -> bool {
        p.x.abs() < TOWN_HALF.0 && p.y.abs() < TOWN_HALF.1
    }

    /// About 45 villages, at least 1.2 km apart and off the town.
    fn villages(&mut self) {
        let mut tries = 0;
        while self.villages.len() < 45 && tries < 20_000 {
            tries += 1;
            let p = c(self.rng.random_range(-8_000.0..14_000.0), self.rng.random_range(-17_000.0..13_000.0));
            let snapped = c((p.x / CELL).floor() * CELL + CELL / 2.0, (p.y / CELL).floor() * CELL + CELL / 2.0);
            let far_from_town = snapped.x.abs() > TOWN_HALF.0 + 900.0 || snapped.y.abs() > TOWN_HALF.1 + 900.0;
            let spaced = self.villages.iter().all(|v| (v.x - snapped.x).hypot(v.y - snapped.y) > 1_200.0);
            if far_from_town && spaced && self.inside(snapped) {
                self.villages.push(snapped);
            }
        }
    }

    /// The nearest settlement (0 = town, i + 1 = village i) and its distance.
    fn nearest_settlement(&self, p: Coord<f64>) -> (usize, f64) {
        let mut best = (0, p.x.hypot(p.y));
        for (i, v) in self.villages.iter().enumerate() {
            let d = (v.x - p.x).hypot(v.y - p.y);
            if d < best.1 {
                best = (i + 1, d);
            }
        }
        best
    }

    fn oaza_of(settlement: usize) -> usize {
        settlement % names::OAZA.len()
    }

    fn land_use_at(&self, centre: Coord<f64>) -> LandUse {
        if Self::in_town(centre) {
            return LandUse::Town;
        }
        let (s, d) = self.nearest_settlement(centre);
        if s > 0 && d < CELL / 2.0 {
            return LandUse::Village(s);
        }
        // Lowland (paddy) reaches further from settlements in the west than in the eastern hills.
        let reach = 1_000.0 - 0.04 * centre.x.max(0.0);
        if d < reach { LandUse::Paddy(s) } else { LandUse::Forest(s) }
    }

    fn land_use(&mut self) {
        let (x0, y0) = (-8_500.0, -18_000.0);
        let (nx, ny) = (54, 63);
        for j in 0..ny {
            for i in 0..nx {
                let (cx0, cy0) = (x0 + f64::from(i) * CELL, y0 + f64::from(j) * CELL);
                let centre = c(cx0 + CELL / 2.0, cy0 + CELL / 2.0);
                if !self.inside(centre) {
                    continue;
                }
                match self.land_use_at(centre) {
                    LandUse::Town => self.town_cell(cx0, cy0),
                    LandUse::Village(s) => self.village_cell(cx0, cy0, s),
                    LandUse::Paddy(s) => self.paddy_cell(cx0, cy0, s),
                    LandUse::Forest(s) => self.forest_cell(cx0, cy0, s),
                }
            }
        }
    }

    fn next_chiban(&mut self, oaza: usize) -> u32 {
        let n = self.next_chiban[oaza];
        self.next_chiban[oaza] += 1;
        n
    }

    fn owner(&mut self) -> (String, String, String) {
        let name = format!("（架空）{} {}", self.pick(names::SURNAMES), self.pick(names::GIVEN_NAMES));
        let addr =
            format!("山形県尾花沢市大字{}{}番地（架空）", self.pick(names::OAZA), self.rng.random_range(1..3000));
        let phone = format!("0237-00-{:04}（架空）", self.rng.random_range(0..10_000));
        (name, addr, phone)
    }

    fn add_parcel(&mut self, poly: Polygon<f64>, oaza: usize, aza: &str, chimoku: &str, chiban: String) {
        let Some(centroid) = poly.centroid() else {
            return;
        };
        if !self.inside(centroid.0) {
            return;
        }
        let area = (poly.unsigned_area() * 100.0).round() / 100.0;
        let (owner, address, _) = self.owner();
        if chimoku == "宅地" {
            self.house_lots.push((centroid.0, oaza, chiban.clone()));
        }
        self.parcels.push((
            Geometry::Polygon(poly),
            vec![
                ("chiban", chiban.into()),
                ("oaza", names::OAZA[oaza].into()),
                ("aza", aza.into()),
                ("chimoku", chimoku.into()),
                ("area_m2", area.into()),
                ("owner_name", owner.into()),
                ("owner_address", address.into()),
            ],
        ));
    }

    /// Lots in a block: `rows` × `cols` rectangles inside the block's setback.
    fn lots(&mut self, b: (f64, f64, f64, f64), rows: usize, cols: usize, oaza: usize, aza: &str, chimoku: &str) {
        let (x0, y0, x1, y1) = (b.0 + ROAD_SETBACK, b.1 + ROAD_SETBACK, b.2 - ROAD_SETBACK, b.3 - ROAD_SETBACK);
        let base = self.next_chiban(oaza);
        let mut branch = 1;
        // Uneven frontages, as real lots are.
        let mut cuts: Vec<f64> =
            (1..cols).map(|k| k as f64 / cols as f64 + self.rng.random_range(-0.25..0.25) / cols as f64).collect();
        cuts.insert(0, 0.0);
        cuts.push(1.0);
        for r in 0..rows {
            let ya = y0 + (y1 - y0) * r as f64 / rows as f64;
            let yb = y0 + (y1 - y0) * (r + 1) as f64 / rows as f64;
            for k in 0..cols {
                let xa = x0 + (x1 - x0) * cuts[k];
                let xb = x0 + (x1 - x0) * cuts[k + 1];
                let chiban = format!("{base}-{branch}");
                branch += 1;
                let use_ = if self.rng.random_bool(0.9) { chimoku } else { "雑種地" };
                self.add_parcel(rect(xa, ya, xb, yb), oaza, aza, use_, chiban);
            }
        }
    }

    /// Street-grid roads and pipes on the block lines of a cell.
    fn grid_roads(&mut self, origin: Coord<f64>, step: f64, n: usize, class: RoadClass, sewer: bool, oaza: usize) {
        for k in 0..n {
            for m in 0..n {
                let (x, y) = (origin.x + k as f64 * step, origin.y + m as f64 * step);
                // The cell's west and south lines belong to it; the east and north to its neighbours.
                let v = LineString(vec![c(x, y), c(x, y + step)]);
                let h = LineString(vec![c(x, y), c(x + step, y)]);
                for line in [v, h] {
                    self.road(line, class, oaza, true, sewer);
                }
            }
        }
    }

    fn town_cell(&mut self, x0: f64, y0: f64) {
        let n = 5;
        let step = CELL / n as f64;
        self.grid_roads(c(x0, y0), step, n, RoadClass::TownStreet, true, 0);
        for k in 0..n {
            for m in 0..n {
                let (bx, by) = (x0 + k as f64 * step, y0 + m as f64 * step);
                let aza = names::TOWN_AZA[((bx + 1_250.0) / 250.0) as usize % names::TOWN_AZA.len()];
                self.lots((bx, by, bx + step, by + step), 2, 5, 0, aza, "宅地");
            }
        }
    }

    fn village_cell(&mut self, x0: f64, y0: f64, settlement: usize) {
        let oaza = Self::oaza_of(settlement);
        let n = 4;
        let step = CELL / n as f64;
        self.grid_roads(c(x0, y0), step, n, RoadClass::VillageStreet, false, oaza);
        for k in 0..n {
            for m in 0..n {
                let (bx, by) = (x0 + k as f64 * step, y0 + m as f64 * step);
                let aza = self.pick(names::AZA);
                self.lots((bx, by, bx + step, by + step), 2, 3, oaza, aza, "宅地");
            }
        }
    }

    fn paddy_cell(&mut self, x0: f64, y0: f64, settlement: usize) {
        let oaza = Self::oaza_of(settlement);
        let section = CELL / 2.0;
        for k in 0..2 {
            for m in 0..2 {
                let (sx, sy) = (x0 + k as f64 * section, y0 + m as f64 * section);
                self.road(LineString(vec![c(sx, sy), c(sx, sy + section)]), RoadClass::FarmRoad, oaza, false, false);
                self.road(LineString(vec![c(sx, sy), c(sx + section, sy)]), RoadClass::FarmRoad, oaza, false, false);
                let aza = self.pick(names::AZA);
                let (cols, rows) = (5, 12);
                let (w, h) =
                    ((section - 2.0 * ROAD_SETBACK) / cols as f64, (section - 2.0 * ROAD_SETBACK) / rows as f64);
                for r in 0..rows {
                    for q in 0..cols {
                        let xa = sx + ROAD_SETBACK + q as f64 * w;
                        let ya = sy + ROAD_SETBACK + r as f64 * h;
                        let chiban = self.next_chiban(oaza).to_string();
                        let use_ = if self.rng.random_bool(0.85) { "田" } else { "畑" };
                        self.add_parcel(rect(xa, ya, xa + w, ya + h), oaza, aza, use_, chiban);
                    }
                }
            }
        }
    }

    fn forest_cell(&mut self, x0: f64, y0: f64, settlement: usize) {
        let oaza = Self::oaza_of(settlement);
        let n = 5;
        let step = CELL / n as f64;
        let aza = self.pick(names::AZA);
        let vertex = |g: &Self, k: usize, m: usize| {
            let (x, y) = (x0 + k as f64 * step, y0 + m as f64 * step);
            if k == 0 || m == 0 || k == n || m == n {
                return c(x, y); // cell edges stay straight so neighbouring cells tile
            }
            let j = g.lattice_jitter((x / step).round() as i64, (y / step).round() as i64, step * 0.3);
            c(x + j.x, y + j.y)
        };
        for k in 0..n {
            for m in 0..n {
                let ring = vec![
                    vertex(self, k, m),
                    vertex(self, k + 1, m),
                    vertex(self, k + 1, m + 1),
                    vertex(self, k, m + 1),
                    vertex(self, k, m),
                ];
                let chiban = self.next_chiban(oaza).to_string();
                let use_ = if self.rng.random_bool(0.9) { "山林" } else { "原野" };
                self.add_parcel(Polygon::new(LineString(ring), vec![]), oaza, aza, use_, chiban);
            }
        }
    }

    /// Adds a road segment (if inside the city) with its water main and sewer line.
    fn road(&mut self, line: LineString<f64>, class: RoadClass, oaza: usize, water: bool, sewer: bool) {
        let mid = line.0[line.0.len() / 2];
        if !self.inside(mid) {
            return;
        }
        self.road_counter += 1;
        let n = self.road_counter;
        let (name, route_no) = match class {
            RoadClass::National(no) => (format!("国道{no}号"), Some(no.to_string())),
            RoadClass::Prefectural(no) => (format!("県道{no}号尾花沢{}線", names::OAZA[oaza]), Some(no.to_string())),
            RoadClass::TownStreet => {
                (format!("市道{}{}号線", names::TOWN_AZA[(n as usize) % names::TOWN_AZA.len()], n % 97 + 1), None)
            }
            RoadClass::VillageStreet | RoadClass::RuralRoad => {
                (format!("市道{}{}号線", names::OAZA[oaza], n % 53 + 1), None)
            }
            RoadClass::FarmRoad => (format!("農道{}{}号", names::OAZA[oaza], n % 211 + 1), None),
        };
        let note = self.rng.random_bool(0.02).then_some("舗装補修予定（内部）");
        self.roads.push((
            Geometry::LineString(line.clone()),
            vec![
                ("name", name.into()),
                ("road_class", class.label().into()),
                ("route_no", route_no.into()),
                ("width_m", class.width().into()),
                ("snow_priority", class.snow_priority().into()),
                ("internal_note", note.into()),
            ],
        ));
        if water {
            let diameter: i64 = match class {
                RoadClass::National(_) | RoadClass::Prefectural(_) => 300,
                RoadClass::RuralRoad => 150,
                _ => [75, 100, 100, 150][self.rng.random_range(0..4)],
            };
            let material =
                ["ダクタイル鋳鉄管", "硬質塩化ビニル管", "配水用ポリエチレン管"][self.rng.random_range(0..3)];
            let kind = if diameter >= 300 { "送水管" } else { "配水管" };
            let year: i64 = self.rng.random_range(1965..2024);
            self.water.push(self.pipe(&line, PIPE_OFFSET, kind, diameter, material, year));
        }
        if sewer {
            let diameter = [200, 200, 250, 300][self.rng.random_range(0..4)];
            let material = if self.rng.random_bool(0.7) { "硬質塩化ビニル管" } else { "ヒューム管" };
            let kind = if self.rng.random_bool(0.8) { "汚水" } else { "雨水" };
            let year: i64 = self.rng.random_range(1985..2020);
            self.sewer.push(self.pipe(&line, -PIPE_OFFSET, kind, diameter, material, year));
        }
    }

    fn pipe(
        &self,
        line: &LineString<f64>,
        offset: f64,
        kind: &str,
        diameter: i64,
        material: &str,
        year: i64,
    ) -> RawFeature {
        (
            Geometry::LineString(offset_line(line, offset)),
            vec![
                ("pipe_kind", kind.into()),
                ("diameter_mm", diameter.into()),
                ("material", material.into()),
                ("install_year", year.into()),
            ],
        )
    }

    /// A winding road from `a` to `b`, cut into segments of about 300 m.
    fn winding_road(&mut self, a: Coord<f64>, b: Coord<f64>, class: RoadClass, oaza: usize, water: bool) {
        let len = (b.x - a.x).hypot(b.y - a.y);
        let steps = (len / 50.0).ceil().max(2.0) as usize;
        let (nx, ny) = (-(b.y - a.y) / len, (b.x - a.x) / len);
        let amp = self.rng.random_range(40.0..180.0);
        let waves = self.rng.random_range(1.0..3.5);
        let phase = self.rng.random_range(0.0..std::f64::consts::TAU);
        let pts: Vec<Coord<f64>> = (0..=steps)
            .map(|s| {
                let t = s as f64 / steps as f64;
                let bend = amp * (t * std::f64::consts::PI).sin() * (waves * t * std::f64::consts::TAU + phase).sin();
                c(a.x + (b.x - a.x) * t + nx * bend, a.y + (b.y - a.y) * t + ny * bend)
            })
            .collect();
        for chunk in pts.windows(7).step_by(6) {
            self.road(LineString(chunk.to_vec()), class, oaza, water, false);
        }
        let tail = (pts.len() - 1) / 6 * 6;
        if tail < pts.len() - 1 {
            self.road(LineString(pts[tail..].to_vec()), class, oaza, water, false);
        }
    }

    fn highways(&mut self) {
        // 国道13号 runs north–south past the west of the town; 国道347号 east–west through it.
        self.winding_road(c(-2_600.0, -17_500.0), c(-1_300.0, -1_000.0), RoadClass::National(13), 0, true);
        self.winding_road(c(-1_300.0, -1_000.0), c(-1_800.0, 13_000.0), RoadClass::National(13), 0, true);
        self.winding_road(c(-8_200.0, 300.0), c(-1_250.0, 0.0), RoadClass::National(347), 0, true);
        self.winding_road(c(1_250.0, 0.0), c(18_000.0, -2_500.0), RoadClass::National(347), 0, true);
    }

    fn rural_roads(&mut self) {
        let mut pairs = Vec::new();
        for (i, v) in self.villages.iter().enumerate() {
            let mut d: Vec<(f64, usize)> = self
                .villages
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, w)| ((w.x - v.x).hypot(w.y - v.y), j))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            for &(_, j) in d.iter().take(2) {
                let p = (i.min(j), i.max(j));
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
        for (n, (i, j)) in pairs.into_iter().enumerate() {
            let class = if n % 4 == 0 { RoadClass::Prefectural(120 + n as u32) } else { RoadClass::RuralRoad };
            let (a, b) = (self.villages[i], self.villages[j]);
            self.winding_road(a, b, class, Self::oaza_of(i + 1), true);
        }
        // Each village also has a road towards the town edge.
        for i in 0..self.villages.len() {
            let v = self.villages[i];
            let target = c(v.x.clamp(-TOWN_HALF.0, TOWN_HALF.0), v.y.clamp(-TOWN_HALF.1, TOWN_HALF.1));
            if (v.x - target.x).hypot(v.y - target.y) < 6_000.0 {
                self.winding_road(v, target, RoadClass::RuralRoad, Self::oaza_of(i + 1), true);
            }
        }
    }

    fn hazardous_buildings(&mut self) {
        let count = 48.min(self.house_lots.len());
        let mut chosen = Vec::new();
        while chosen.len() < count {
            let i = self.rng.random_range(0..self.house_lots.len());
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        for i in chosen {
            let (p, oaza, chiban) = self.house_lots[i].clone();
            let (owner, _, phone) = self.owner();
            let status = self.pick(names::HAZARD_STATUS);
            let structure = self.pick(names::HAZARD_STRUCTURE);
            let notes = self.pick(names::HAZARD_NOTES);
            let date = format!(
                "20{:02}-{:02}-{:02}",
                self.rng.random_range(23..27),
                self.rng.random_range(1..13),
                self.rng.random_range(1..29)
            );
            self.hazards.push((
                Geometry::Point(Point(p)),
                vec![
                    ("status", status.into()),
                    ("structure", structure.into()),
                    ("survey_date", date.into()),
                    ("address", format!("尾花沢市大字{}字{}番地（架空）", names::OAZA[oaza], chiban).into()),
                    ("owner_name", owner.into()),
                    ("owner_contact", phone.into()),
                    ("notes", notes.into()),
                ],
            ));
        }
    }

    /// A few closures and works on streets of the town, in the coming winter (times in UTC, as
    /// PostGIS gives them back).
    fn road_events(&mut self) {
        let in_town =
            |l: &LineString<f64>| l.0.first().is_some_and(|p| p.x.abs() < TOWN_HALF.0 && p.y.abs() < TOWN_HALF.1);
        let mut streets: Vec<LineString<f64>> = self
            .roads
            .iter()
            .filter_map(|(g, _)| match g {
                Geometry::LineString(l) if l.0.len() >= 2 && in_town(l) => Some(l.clone()),
                _ => None,
            })
            .collect();
        // Near the middle of the town, where the map opens.
        let from_centre = |l: &LineString<f64>| l.0[0].x.hypot(l.0[0].y);
        streets.sort_by(|a, b| from_centre(a).total_cmp(&from_centre(b)));
        streets.truncate(12);
        let events = [
            (
                "通行止め",
                "雪崩・落雪の危険（架空）",
                "2026-12-09T23:00:00+00:00",
                Some("2026-12-20T08:00:00+00:00"),
                Some("北側の市道へ迂回してください"),
            ),
            (
                "片側交互通行",
                "消雪管路の補修工事（架空）",
                "2026-12-01T00:00:00+00:00",
                Some("2026-12-25T07:00:00+00:00"),
                None,
            ),
            (
                "工事",
                "上水道の布設替え（架空）",
                "2026-11-15T23:30:00+00:00",
                Some("2027-01-29T08:00:00+00:00"),
                Some("歩行者は東側歩道へ"),
            ),
        ];
        for (n, (kind, reason, starts, ends, detour)) in events.into_iter().enumerate() {
            let Some(street) = streets.get(n * 4) else { break };
            let piece = LineString(street.0.iter().take(4).copied().collect());
            self.road_events.push((
                Geometry::LineString(piece),
                vec![
                    ("kind", kind.into()),
                    ("reason", reason.into()),
                    ("starts_at", starts.into()),
                    ("ends_at", ends.into()),
                    ("detour", detour.into()),
                    ("contact", "建設課 道路維持係 0237-00-0000（架空）".into()),
                ],
            ));
        }
    }

    fn into_layers(self) -> Vec<(&'static str, Vec<RawFeature>)> {
        let outline = self.outline.clone();
        let boundary = (
            Geometry::MultiPolygon(MultiPolygon(vec![self.outline])),
            vec![("name", "尾花沢市（デモ・架空の市域）".into()), ("city_code", "06212".into())],
        );
        vec![
            ("boundary", vec![boundary]),
            ("parcels", self.parcels),
            ("water_mains", self.water),
            ("sewer_lines", self.sewer),
            ("roads", self.roads),
            ("hazardous_buildings", self.hazards),
            ("road_events", self.road_events),
            ("districts", districts(&outline)),
        ]
    }
}

/// The city's districts (地区, the old villages merged in 1954, by their real names): the town
/// centre within 3.5 km, and the rest of the outline in four quarters around it.
fn districts(outline: &Polygon<f64>) -> Vec<RawFeature> {
    use geo::BooleanOps;
    let n = 72;
    let disc: Vec<Coord<f64>> = (0..=n)
        .map(|k| {
            let t = k as f64 / n as f64 * std::f64::consts::TAU;
            c(3_500.0 * t.cos(), 3_500.0 * t.sin())
        })
        .collect();
    let disc = Polygon::new(LineString(disc), vec![]);
    let rest = outline.difference(&disc);
    let wedge = |from: f64| {
        let at = |deg: f64| c(60_000.0 * deg.to_radians().cos(), 60_000.0 * deg.to_radians().sin());
        Polygon::new(LineString(vec![c(0.0, 0.0), at(from), at(from + 45.0), at(from + 90.0), c(0.0, 0.0)]), vec![])
    };
    let mut out = vec![("尾花沢地区", "Obanazawa", "01", outline.intersection(&disc))];
    for (name, en, code, from) in [
        ("宮沢地区", "Miyazawa", "02", 45.0),
        ("常盤地区", "Tokiwa", "03", 135.0),
        ("福原地区", "Fukuhara", "04", 225.0),
        ("玉野地区", "Tamano", "05", 315.0),
    ] {
        out.push((name, en, code, rest.intersection(&wedge(from))));
    }
    out.into_iter()
        .map(|(name, en, code, area)| {
            let attrs = vec![("name", name.into()), ("name_en", en.into()), ("code", code.into())];
            (Geometry::MultiPolygon(area), attrs)
        })
        .collect()
}

#[derive(Clone, Copy)]
enum RoadClass {
    National(u32),
    Prefectural(u32),
    TownStreet,
    VillageStreet,
    RuralRoad,
    FarmRoad,
}

impl RoadClass {
    fn label(self) -> &'static str {
        match self {
            Self::National(_) => "国道",
            Self::Prefectural(_) => "県道",
            Self::TownStreet | Self::VillageStreet | Self::RuralRoad => "市道",
            Self::FarmRoad => "農道",
        }
    }

    fn width(self) -> f64 {
        match self {
            Self::National(_) => 12.0,
            Self::Prefectural(_) => 8.0,
            Self::TownStreet => 6.0,
            Self::VillageStreet | Self::RuralRoad => 5.0,
            Self::FarmRoad => 3.5,
        }
    }

    fn snow_priority(self) -> i64 {
        match self {
            Self::National(_) | Self::Prefectural(_) => 1,
            Self::TownStreet | Self::RuralRoad => 2,
            Self::VillageStreet | Self::FarmRoad => 3,
        }
    }
}

/// The line shifted sideways by `d` metres (left of travel for positive `d`).
fn offset_line(line: &LineString<f64>, d: f64) -> LineString<f64> {
    let p = &line.0;
    let n = p.len();
    let normal = |a: Coord<f64>, b: Coord<f64>| {
        let len = (b.x - a.x).hypot(b.y - a.y).max(1e-9);
        c(-(b.y - a.y) / len, (b.x - a.x) / len)
    };
    LineString(
        (0..n)
            .map(|i| {
                let na = if i > 0 { normal(p[i - 1], p[i]) } else { normal(p[0], p[1]) };
                let nb = if i + 1 < n { normal(p[i], p[i + 1]) } else { na };
                let (mx, my) = ((na.x + nb.x) / 2.0, (na.y + nb.y) / 2.0);
                let m = mx.hypot(my).max(1e-9);
                c(p[i].x + mx / m * d, p[i].y + my / m * d)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_of_a_straight_line_is_parallel() {
        let l = LineString(vec![c(0.0, 0.0), c(10.0, 0.0), c(20.0, 0.0)]);
        let o = offset_line(&l, 2.5);
        assert!(o.0.iter().all(|p| (p.y - 2.5).abs() < 1e-9));
    }
}
