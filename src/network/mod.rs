//! The road network: a routable graph derived from the `roads` layer, never written back.
//!
//! Nodes are where road lines share a vertex (an OSM way's junction node, or the common end of
//! two centre-line segments), and where a line's end touches another line within the snap
//! tolerance (a T-junction digitised a little short or long). Lines that cross without either
//! are not joined: bridges and underpasses stay apart. Each road line is cut at its nodes into
//! edges; an edge knows the road it belongs to and where along that road it lies, so a route
//! over edges becomes stretches of roads. A `oneway` attribute (`yes`, `true`, `1`, `-1`,
//! `reverse`) limits the directions an edge may be driven.
//!
//! Works in the store CRS (a plane rectangular zone, metres). [`matching`] matches a vehicle's
//! fixes to routes over it, [`coverage`] turns those routes into how much of each road was
//! covered, and [`drive`] simulates vehicles driving it (the live demo and the accuracy harness).

pub mod coverage;
pub mod drive;
pub mod matching;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use geo_types::{Coord, Geometry};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line as RLine};

use crate::feature::{AttrValue, Feature, FeatureId};

/// Ends of lines closer than this (metres) to another line or end are joined to it.
pub const SNAP_TOLERANCE_M: f64 = 1.0;

/// Which ways an edge may be driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneWay {
    Both,
    /// Only in the direction it is digitised.
    Forward,
    /// Only against it.
    Backward,
}

impl OneWay {
    /// Reads a `oneway` value as OpenStreetMap and most centre-line data write it.
    pub fn parse(v: &AttrValue) -> Self {
        match v {
            AttrValue::Bool(true) | AttrValue::Int(1) => Self::Forward,
            AttrValue::Int(-1) => Self::Backward,
            AttrValue::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" | "forward" | "一方通行" => Self::Forward,
                "-1" | "reverse" | "backward" => Self::Backward,
                _ => Self::Both,
            },
            _ => Self::Both,
        }
    }

    /// Whether the edge may be driven forward (`true`) or backward.
    pub fn allows(self, forward: bool) -> bool {
        match self {
            Self::Both => true,
            Self::Forward => forward,
            Self::Backward => !forward,
        }
    }
}

/// A piece of a road line between two nodes.
#[derive(Debug, Clone)]
pub struct Edge {
    pub road: FeatureId,
    pub from: u32,
    pub to: u32,
    pub coords: Vec<Coord<f64>>,
    /// Distance along the edge of each vertex.
    cum: Vec<f64>,
    /// Where along its road the edge starts (metres).
    pub road_from_m: f64,
    pub oneway: OneWay,
}

impl Edge {
    pub fn length(&self) -> f64 {
        *self.cum.last().expect("an edge has two vertices")
    }

    /// The point `at` metres along the edge.
    pub fn point_at(&self, at: f64) -> Coord<f64> {
        let at = at.clamp(0.0, self.length());
        let i = self.cum.partition_point(|&c| c <= at).clamp(1, self.coords.len() - 1);
        let (a, b) = (self.coords[i - 1], self.coords[i]);
        let seg = self.cum[i] - self.cum[i - 1];
        let k = if seg > 0.0 { (at - self.cum[i - 1]) / seg } else { 0.0 };
        Coord { x: a.x + (b.x - a.x) * k, y: a.y + (b.y - a.y) * k }
    }

    /// The direction (degrees from grid north) of the edge at `at` metres, driven forward.
    pub fn bearing_at(&self, at: f64) -> f64 {
        let i = self.cum.partition_point(|&c| c <= at).clamp(1, self.coords.len() - 1);
        let (a, b) = (self.coords[i - 1], self.coords[i]);
        (b.x - a.x).atan2(b.y - a.y).to_degrees().rem_euclid(360.0)
    }
}

/// A position on the network: an edge and a distance along it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub edge: u32,
    pub offset: f64,
}

/// A road line found near a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearby {
    pub at: Position,
    /// From the point to the line (metres).
    pub distance: f64,
}

/// A stretch of one edge driven, in the direction driven: `from` may be greater than `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    pub edge: u32,
    pub from: f64,
    pub to: f64,
}

impl Stretch {
    pub fn length(&self) -> f64 {
        (self.to - self.from).abs()
    }
}

/// A line segment of an edge (edge, segment) or of a part (part, segment) in an R-tree.
type Segment<T = u32> = GeomWithData<RLine<[f64; 2]>, (T, T)>;

/// What a road line contributes: its parts' vertices, its id and its direction rule.
struct Part {
    road: FeatureId,
    coords: Vec<Coord<f64>>,
    /// Where along the road the part starts (the lengths of the parts before it).
    road_from_m: f64,
    oneway: OneWay,
}

/// The road graph. See the module header.
pub struct RoadNetwork {
    nodes: Vec<Coord<f64>>,
    edges: Vec<Edge>,
    /// For each node, the edges that may be left from it: (edge, forward).
    out: Vec<Vec<(u32, bool)>>,
    index: RTree<Segment>,
    /// Each road's length and edges.
    roads: HashMap<FeatureId, (f64, Vec<u32>)>,
}

/// A vertex as a hash key: millimetres.
fn key(c: Coord<f64>) -> (i64, i64) {
    ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64)
}

fn dist(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// The point of segment `a`–`b` nearest `p`, as (fraction along, distance).
fn project(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> (f64, f64) {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (t, dist(p, Coord { x: a.x + dx * t, y: a.y + dy * t }))
}

impl RoadNetwork {
    /// Builds the network from road features (lines and multi-lines; other geometries are
    /// ignored), reading the direction rule from attribute `oneway` when given.
    pub fn build<F: std::borrow::Borrow<Feature>>(roads: impl IntoIterator<Item = F>, oneway: Option<usize>) -> Self {
        let mut parts = Vec::new();
        for f in roads {
            let f = f.borrow();
            let rule = oneway.map_or(OneWay::Both, |i| f.attributes.get(i).map_or(OneWay::Both, OneWay::parse));
            let lines: Vec<&geo_types::LineString<f64>> = match &f.geometry {
                Geometry::LineString(l) => vec![l],
                Geometry::MultiLineString(m) => m.0.iter().collect(),
                _ => continue,
            };
            let mut along = 0.0;
            for l in lines {
                let mut coords: Vec<Coord<f64>> = Vec::with_capacity(l.0.len());
                for &c in &l.0 {
                    if coords.last().is_none_or(|&p| dist(p, c) > 1e-6) {
                        coords.push(c);
                    }
                }
                if coords.len() < 2 {
                    continue;
                }
                let len: f64 = coords.windows(2).map(|w| dist(w[0], w[1])).sum();
                parts.push(Part { road: f.id, coords, road_from_m: along, oneway: rule });
                along += len;
            }
        }
        snap_ends(&mut parts);
        Self::from_parts(parts)
    }

    fn from_parts(parts: Vec<Part>) -> Self {
        // A vertex is a node when it ends a part or two parts (or one part twice) share it.
        let mut seen: HashMap<(i64, i64), u32> = HashMap::new();
        for p in &parts {
            for &c in &p.coords {
                *seen.entry(key(c)).or_default() += 1;
            }
        }
        let mut node_of: HashMap<(i64, i64), u32> = HashMap::new();
        let mut nodes = Vec::new();
        let mut node = |c: Coord<f64>, nodes: &mut Vec<Coord<f64>>| {
            *node_of.entry(key(c)).or_insert_with(|| {
                nodes.push(c);
                (nodes.len() - 1) as u32
            })
        };
        let mut edges = Vec::new();
        let mut roads: HashMap<FeatureId, (f64, Vec<u32>)> = HashMap::new();
        for p in parts {
            let last = p.coords.len() - 1;
            let mut start = 0;
            let mut along = p.road_from_m;
            for i in 1..=last {
                if i < last && seen[&key(p.coords[i])] < 2 {
                    continue;
                }
                let coords = p.coords[start..=i].to_vec();
                let mut cum = Vec::with_capacity(coords.len());
                let mut total = 0.0;
                cum.push(0.0);
                for w in coords.windows(2) {
                    total += dist(w[0], w[1]);
                    cum.push(total);
                }
                let (from, to) = (node(coords[0], &mut nodes), node(coords[coords.len() - 1], &mut nodes));
                let id = edges.len() as u32;
                let entry = roads.entry(p.road).or_default();
                entry.0 = entry.0.max(along + total);
                entry.1.push(id);
                edges.push(Edge { road: p.road, from, to, coords, cum, road_from_m: along, oneway: p.oneway });
                along += total;
                start = i;
            }
        }
        let mut out = vec![Vec::new(); nodes.len()];
        let mut segments = Vec::new();
        for (i, e) in edges.iter().enumerate() {
            let i = i as u32;
            if e.oneway.allows(true) {
                out[e.from as usize].push((i, true));
            }
            if e.oneway.allows(false) {
                out[e.to as usize].push((i, false));
            }
            for (s, w) in e.coords.windows(2).enumerate() {
                segments.push(GeomWithData::new(RLine::new([w[0].x, w[0].y], [w[1].x, w[1].y]), (i, s as u32)));
            }
        }
        Self { nodes, edges, out, index: RTree::bulk_load(segments), roads }
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn edge(&self, i: u32) -> &Edge {
        &self.edges[i as usize]
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, i: u32) -> Coord<f64> {
        self.nodes[i as usize]
    }

    /// The edges that may be left from a node: (edge, forward).
    pub fn leaving(&self, node: u32) -> &[(u32, bool)] {
        &self.out[node as usize]
    }

    /// A road's length (metres), if it is in the network.
    pub fn road_length(&self, road: FeatureId) -> Option<f64> {
        self.roads.get(&road).map(|r| r.0)
    }

    /// Every road in the network.
    pub fn roads(&self) -> impl Iterator<Item = FeatureId> + '_ {
        self.roads.keys().copied()
    }

    /// The edges nearest `p` within `radius`, nearest first, at most `max` (one position each).
    pub fn nearby(&self, p: Coord<f64>, radius: f64, max: usize) -> Vec<Nearby> {
        let mut best: HashMap<u32, Nearby> = HashMap::new();
        for seg in self.index.locate_within_distance([p.x, p.y], radius * radius) {
            let (e, s) = seg.data;
            let edge = &self.edges[e as usize];
            let (a, b) = (edge.coords[s as usize], edge.coords[s as usize + 1]);
            let (t, d) = project(p, a, b);
            let offset = edge.cum[s as usize] + t * (edge.cum[s as usize + 1] - edge.cum[s as usize]);
            let n = Nearby { at: Position { edge: e, offset }, distance: d };
            best.entry(e)
                .and_modify(|o| {
                    if d < o.distance {
                        *o = n
                    }
                })
                .or_insert(n);
        }
        let mut list: Vec<Nearby> = best.into_values().collect();
        list.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.at.edge.cmp(&b.at.edge)));
        list.truncate(max);
        list
    }

    /// Shortest distances (metres) from `source` to every node within `limit`, with the edge
    /// each was reached by (for [`Self::path_to`]).
    pub fn distances(&self, source: u32, limit: f64) -> Reach {
        let mut reach = Reach { dist: HashMap::new(), via: HashMap::new() };
        let mut heap = BinaryHeap::new();
        reach.dist.insert(source, 0.0);
        heap.push((Reverse(Ordered(0.0)), source));
        while let Some((Reverse(Ordered(d)), n)) = heap.pop() {
            if d > reach.dist[&n] {
                continue;
            }
            for &(e, forward) in &self.out[n as usize] {
                let edge = &self.edges[e as usize];
                let next = if forward { edge.to } else { edge.from };
                let nd = d + edge.length();
                if nd > limit || reach.dist.get(&next).is_some_and(|&o| o <= nd) {
                    continue;
                }
                reach.dist.insert(next, nd);
                reach.via.insert(next, (e, forward));
                heap.push((Reverse(Ordered(nd)), next));
            }
        }
        reach
    }

    /// The edges from the source of `reach` to `node`, in driving order: (edge, forward).
    pub fn path_to(&self, reach: &Reach, node: u32) -> Vec<(u32, bool)> {
        let mut path = Vec::new();
        let mut n = node;
        while let Some(&(e, forward)) = reach.via.get(&n) {
            path.push((e, forward));
            let edge = &self.edges[e as usize];
            n = if forward { edge.from } else { edge.to };
        }
        path.reverse();
        path
    }

    /// The node a vehicle at `p` driving `forward` reaches next.
    pub fn exit(&self, p: Position, forward: bool) -> u32 {
        let e = &self.edges[p.edge as usize];
        if forward { e.to } else { e.from }
    }

    /// The route from `a` (driving `a_forward`) on through its exit node to `b` (driving
    /// `b_forward`), over the shortest path in `reach` (computed from `a`'s exit node), with
    /// its length; `None` when `reach` does not get there.
    pub fn route_through(
        &self,
        a: Position,
        a_forward: bool,
        b: Position,
        b_forward: bool,
        reach: &Reach,
    ) -> Option<(f64, Vec<Stretch>)> {
        let (ea, eb) = (&self.edges[a.edge as usize], &self.edges[b.edge as usize]);
        let rest = if a_forward { ea.length() - a.offset } else { a.offset };
        let (entry, approach) = if b_forward { (eb.from, b.offset) } else { (eb.to, eb.length() - b.offset) };
        let mid = *reach.dist.get(&entry)?;
        let mut route = vec![Stretch { edge: a.edge, from: a.offset, to: if a_forward { ea.length() } else { 0.0 } }];
        for (e, forward) in self.path_to(reach, entry) {
            let len = self.edges[e as usize].length();
            route.push(if forward {
                Stretch { edge: e, from: 0.0, to: len }
            } else {
                Stretch { edge: e, from: len, to: 0.0 }
            });
        }
        route.push(Stretch { edge: b.edge, from: if b_forward { 0.0 } else { eb.length() }, to: b.offset });
        Some((rest + mid + approach, route))
    }

    /// Where along its road a position lies (metres).
    pub fn road_offset(&self, p: Position) -> f64 {
        self.edges[p.edge as usize].road_from_m + p.offset
    }

    /// A stretch of an edge as a stretch of its road: (road, from, to) with `from <= to`.
    pub fn on_road(&self, s: &Stretch) -> (FeatureId, f64, f64) {
        let e = &self.edges[s.edge as usize];
        let (a, b) = (e.road_from_m + s.from.min(s.to), e.road_from_m + s.from.max(s.to));
        (e.road, a, b)
    }
}

/// The result of [`RoadNetwork::distances`].
pub struct Reach {
    pub dist: HashMap<u32, f64>,
    via: HashMap<u32, (u32, bool)>,
}

/// An `f64` ordered for the heap (distances are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ordered(f64);
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Joins line ends to what they nearly touch: ends within the tolerance of each other become
/// one point, and an end within the tolerance of another line's interior becomes a vertex of
/// that line (so that the two meet there). Only ends are moved or added; crossings of two
/// interiors are left as they are.
fn snap_ends(parts: &mut [Part]) {
    let tol = SNAP_TOLERANCE_M;
    // Ends to ends: each end takes the position of the first end seen within the tolerance.
    let mut ends: RTree<GeomWithData<[f64; 2], ()>> = RTree::new();
    for p in parts.iter_mut() {
        let last = p.coords.len() - 1;
        for i in [0, last] {
            let c = p.coords[i];
            match ends.nearest_neighbor(&[c.x, c.y]) {
                Some(n) if dist(c, Coord { x: n.geom()[0], y: n.geom()[1] }) <= tol => {
                    p.coords[i] = Coord { x: n.geom()[0], y: n.geom()[1] };
                }
                _ => ends.insert(GeomWithData::new([c.x, c.y], ())),
            }
        }
    }
    // Ends to lines.
    let segments: RTree<Segment<usize>> = RTree::bulk_load(
        parts
            .iter()
            .enumerate()
            .flat_map(|(pi, p)| {
                p.coords
                    .windows(2)
                    .enumerate()
                    .map(move |(s, w)| GeomWithData::new(RLine::new([w[0].x, w[0].y], [w[1].x, w[1].y]), (pi, s)))
            })
            .collect(),
    );
    // An end near another line's vertex moves onto that vertex; an end near another line's
    // interior moves onto the line, where the line gets a new vertex.
    let mut inserts: Vec<(usize, usize, f64, Coord<f64>)> = Vec::new();
    let mut moved: HashMap<(i64, i64), Coord<f64>> = HashMap::new();
    for e in ends.iter() {
        let c = Coord { x: e.geom()[0], y: e.geom()[1] };
        let mut best: Option<(f64, usize, usize, f64)> = None;
        for seg in segments.locate_within_distance([c.x, c.y], tol * tol) {
            let (pi, s) = seg.data;
            if parts[pi].coords.iter().any(|&v| key(v) == key(c)) {
                continue;
            }
            let (t, d) = project(c, parts[pi].coords[s], parts[pi].coords[s + 1]);
            if best.is_none_or(|b| d < b.0) {
                best = Some((d, pi, s, t));
            }
        }
        let Some((_, pi, s, t)) = best else { continue };
        let (a, b) = (parts[pi].coords[s], parts[pi].coords[s + 1]);
        if dist(a, c) <= tol {
            moved.insert(key(c), a);
        } else if dist(b, c) <= tol {
            moved.insert(key(c), b);
        } else {
            let on = Coord { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
            moved.insert(key(c), on);
            inserts.push((pi, s, t, on));
        }
    }
    inserts.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.total_cmp(&a.2)));
    for (pi, s, _, c) in inserts {
        parts[pi].coords.insert(s + 1, c);
    }
    for p in parts.iter_mut() {
        let last = p.coords.len() - 1;
        for i in [0, last] {
            if let Some(&to) = moved.get(&key(p.coords[i])) {
                p.coords[i] = to;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::LineString;

    pub(crate) fn road(id: FeatureId, pts: &[(f64, f64)], oneway: &str) -> Feature {
        Feature {
            id,
            geometry: Geometry::LineString(LineString::from(pts.to_vec())),
            attributes: vec![AttrValue::text(oneway)],
        }
    }

    #[test]
    fn junctions_join_crossings_do_not() {
        let roads = [
            // A west–east street with a junction vertex at (0, 0) shared by road 2.
            road(1, &[(-100.0, 0.0), (0.0, 0.0), (100.0, 0.0)], "no"),
            road(2, &[(0.0, 0.0), (0.0, 100.0)], "no"),
            // A T-junction digitised 0.4 m short of road 1.
            road(3, &[(50.0, -100.0), (50.0, -0.4)], "no"),
            // A bridge over road 1 at x = -50: crosses it without a shared vertex.
            road(4, &[(-50.0, -100.0), (-50.0, 100.0)], "no"),
        ];
        let net = RoadNetwork::build(&roads, Some(0));
        // Road 1 is cut at (0,0) and at (50,0): three edges; roads 2, 3 and 4 one each.
        let of = |r: FeatureId| net.edges().iter().filter(|e| e.road == r).count();
        assert_eq!((of(1), of(2), of(3), of(4)), (3, 1, 1, 1));
        let total: f64 = net.edges().iter().filter(|e| e.road == 1).map(Edge::length).sum();
        assert!((total - 200.0).abs() < 1e-9);
        assert!((net.road_length(1).unwrap() - 200.0).abs() < 1e-9);
        // From the bridge's south end, road 1 is not reachable.
        let bridge = net.edges().iter().find(|e| e.road == 4).unwrap();
        let reach = net.distances(bridge.from, 10_000.0);
        assert_eq!(reach.dist.len(), 2, "only the bridge's own two ends");
        // From road 3's south end the T-junction leads on to road 1 and road 2.
        let t = net.edges().iter().find(|e| e.road == 3).unwrap();
        let reach = net.distances(t.from, 10_000.0);
        let far_end = net.edges().iter().find(|e| e.road == 2).unwrap().to;
        assert!((reach.dist[&far_end] - (100.0 + 50.0 + 100.0)).abs() < 0.5, "{:?}", reach.dist.get(&far_end));
    }

    #[test]
    fn one_way_streets_are_driven_one_way() {
        let roads = [road(1, &[(0.0, 0.0), (100.0, 0.0)], "yes"), road(2, &[(0.0, 10.0), (100.0, 10.0)], "-1")];
        let net = RoadNetwork::build(&roads, Some(0));
        let (a, b) = (&net.edges()[0], &net.edges()[1]);
        assert!(net.distances(a.from, 1e6).dist.contains_key(&a.to));
        assert!(!net.distances(a.to, 1e6).dist.contains_key(&a.from));
        assert!(net.distances(b.to, 1e6).dist.contains_key(&b.from));
        assert!(!net.distances(b.from, 1e6).dist.contains_key(&b.to));
    }

    #[test]
    fn nearby_finds_positions_along_edges() {
        let roads = [road(1, &[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)], "")];
        let net = RoadNetwork::build(&roads, Some(0));
        let near = net.nearby(Coord { x: 103.0, y: 40.0 }, 20.0, 8);
        assert_eq!(near.len(), 1);
        assert!((near[0].distance - 3.0).abs() < 1e-9);
        assert!((net.road_offset(near[0].at) - 140.0).abs() < 1e-9);
        assert!(net.nearby(Coord { x: 50.0, y: 50.0 }, 20.0, 8).is_empty());
    }
}
