//! A Mapbox Vector Tile 2.1 encoder that writes protobuf bytes directly.
//!
//! This is the product's hot path, so it avoids an intermediate message tree: a
//! [`LayerBuilder`] appends each feature's encoded bytes to one buffer and keeps the layer's key
//! and value tables as ready-encoded entries; [`TileBuilder`] concatenates layers. The caller
//! interns keys and values (the engine keeps layer-wide tables and remaps them per tile); the
//! builder only guarantees that what it is given is encoded correctly.
//!
//! Geometry is given in tile space (integers, y down). [`LayerBuilder::ring`] fixes winding
//! itself: exterior rings get a positive surveyor's-formula area in tile space (clockwise on
//! screen), interior rings a negative one, as the specification (4.3.4.4) requires. Repeated
//! points are dropped, and rings or lines that collapse are reported so the caller can skip
//! the feature.
//!
//! What it does not do: clipping and simplification (see [`super::clip`] and the engine).

/// Geometry type of an MVT feature (the `GeomType` enum of the specification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomType {
    Point = 1,
    LineString = 2,
    Polygon = 3,
}

const CMD_MOVE_TO: u32 = 1;
const CMD_LINE_TO: u32 = 2;
const CMD_CLOSE_PATH: u32 = 7;

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;

#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[inline]
fn put_key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, u64::from((field << 3) | u32::from(wire)));
}

#[inline]
fn put_bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, WIRE_LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

#[inline]
fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Writes `v` as a varint at `buf[i..]`; returns the index after it.
#[inline]
fn write_varint32(buf: &mut [std::mem::MaybeUninit<u8>], mut i: usize, mut v: u32) -> usize {
    while v >= 0x80 {
        buf[i].write((v as u8) | 0x80);
        v >>= 7;
        i += 1;
    }
    buf[i].write(v as u8);
    i + 1
}

/// A varint at the start of `buf` and its length in bytes. `buf` must hold a complete varint.
#[inline]
fn read_varint(buf: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return (v, i + 1);
        }
    }
    panic!("truncated varint");
}

#[inline]
fn command(id: u32, count: u32) -> u32 {
    (count << 3) | id
}

/// An attribute value, encoded once as the body of an MVT `Value` message.
///
/// ```
/// use machizu::tile::mvt::encode_value;
/// use machizu::feature::AttrValue;
/// // field 1 (string_value), length 2, "ok"
/// assert_eq!(encode_value(&AttrValue::Text("ok".into())), Some(vec![0x0a, 2, b'o', b'k']));
/// assert_eq!(encode_value(&AttrValue::Null), None);
/// ```
pub fn encode_value(value: &crate::feature::AttrValue) -> Option<Vec<u8>> {
    use crate::feature::AttrValue;
    let mut buf = Vec::new();
    match value {
        AttrValue::Null => return None,
        AttrValue::Text(s) => put_bytes_field(&mut buf, 1, s.as_bytes()),
        AttrValue::Real(f) => {
            put_key(&mut buf, 3, WIRE_FIXED64);
            buf.extend_from_slice(&f.to_le_bytes());
        }
        AttrValue::Int(i) if *i >= 0 => {
            put_key(&mut buf, 5, WIRE_VARINT);
            put_varint(&mut buf, *i as u64);
        }
        AttrValue::Int(i) => {
            put_key(&mut buf, 6, WIRE_VARINT);
            put_varint(&mut buf, ((*i << 1) ^ (*i >> 63)) as u64);
        }
        AttrValue::Bool(b) => {
            put_key(&mut buf, 7, WIRE_VARINT);
            put_varint(&mut buf, u64::from(*b));
        }
    }
    Some(buf)
}

/// The attribute value an [`encode_value`] body holds (the engine keeps each distinct value
/// once, encoded, and reads it back for queries). `body` must be one `encode_value` made.
///
/// ```
/// use machizu::tile::mvt::{decode_value, encode_value};
/// use machizu::feature::AttrValue;
/// for v in [AttrValue::text("大字尾花沢"), AttrValue::Int(-3), AttrValue::Int(7), AttrValue::Real(0.5), AttrValue::Bool(true)] {
///     assert_eq!(decode_value(&encode_value(&v).unwrap()), v);
/// }
/// ```
pub fn decode_value(body: &[u8]) -> crate::feature::AttrValue {
    use crate::feature::AttrValue;
    let (key, n) = read_varint(body);
    let rest = &body[n..];
    match key >> 3 {
        1 => {
            let (len, n) = read_varint(rest);
            AttrValue::Text(String::from_utf8_lossy(&rest[n..n + len as usize]).into_owned())
        }
        3 => AttrValue::Real(f64::from_le_bytes(rest[..8].try_into().expect("8 bytes of a double"))),
        5 => AttrValue::Int(read_varint(rest).0 as i64),
        6 => {
            let v = read_varint(rest).0;
            AttrValue::Int(((v >> 1) as i64) ^ -((v & 1) as i64))
        }
        7 => AttrValue::Bool(read_varint(rest).0 != 0),
        field => panic!("not a value encode_value writes (field {field})"),
    }
}

/// The text an [`encode_value`] body holds, when it is a string, read in place.
///
/// ```
/// use machizu::tile::mvt::{encode_value, value_text};
/// use machizu::feature::AttrValue;
/// assert_eq!(value_text(&encode_value(&AttrValue::text("大字尾花沢")).unwrap()), Some("大字尾花沢"));
/// assert_eq!(value_text(&encode_value(&AttrValue::Int(7)).unwrap()), None);
/// ```
pub fn value_text(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(&[(1 << 3) | WIRE_LEN])?;
    let n = read_varint(rest).1;
    std::str::from_utf8(&rest[n..]).ok()
}

/// Builds one MVT layer. Reuse it across tiles with [`LayerBuilder::reset`] to keep its buffers.
///
/// Geometry commands and tags are varint-encoded as they are added, so finishing a feature is
/// a length computation and two copies.
#[derive(Debug, Default)]
pub struct LayerBuilder {
    features: Vec<u8>,
    keys: Vec<u8>,
    values: Vec<u8>,
    key_count: u32,
    value_count: u32,
    feature_count: u32,
    // The feature being built: encoded geometry commands and tags.
    geom: Vec<u8>,
    tags: Vec<u8>,
    cursor: (i32, i32),
    origin: [i32; 2],
    ring_buf: Vec<[i32; 2]>,
}

impl LayerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the builder, keeping its allocations.
    pub fn reset(&mut self) {
        self.features.clear();
        self.keys.clear();
        self.values.clear();
        self.key_count = 0;
        self.value_count = 0;
        self.feature_count = 0;
        self.origin = [0, 0];
        self.clear_feature();
    }

    /// Sets the point that becomes tile coordinate (0, 0): callers may then pass coordinates in
    /// any integer space whose units are tile units (the engine passes world extent space).
    /// Reset by [`LayerBuilder::reset`].
    pub fn set_origin(&mut self, origin: [i32; 2]) {
        self.origin = origin;
    }

    /// Number of features added so far.
    pub fn feature_count(&self) -> u32 {
        self.feature_count
    }

    /// Appends a key to the layer's key table and returns its index. The caller deduplicates.
    pub fn push_key(&mut self, key: &str) -> u32 {
        put_bytes_field(&mut self.keys, 3, key.as_bytes());
        self.key_count += 1;
        self.key_count - 1
    }

    /// Appends a value (as returned by [`encode_value`]) to the value table; returns its index.
    pub fn push_value(&mut self, encoded: &[u8]) -> u32 {
        put_bytes_field(&mut self.values, 4, encoded);
        self.value_count += 1;
        self.value_count - 1
    }

    /// Discards the geometry and tags of the feature being built.
    pub fn clear_feature(&mut self) {
        self.geom.clear();
        self.tags.clear();
        self.cursor = (0, 0);
    }

    /// Adds a key/value pair (indices from `push_key`/`push_value`) to the current feature.
    #[inline]
    pub fn tag(&mut self, key: u32, value: u32) {
        put_varint(&mut self.tags, u64::from(key));
        put_varint(&mut self.tags, u64::from(value));
    }

    #[inline]
    fn command(&mut self, id: u32, count: u32) {
        put_varint(&mut self.geom, u64::from(command(id, count)));
    }

    /// Appends the parameters that move the cursor through `pts`, one after the other.
    #[inline]
    fn deltas(&mut self, pts: impl ExactSizeIterator<Item = [i32; 2]>) {
        // Two varints of at most 5 bytes a point: room is made once, and each byte is then
        // written without a capacity check (this is most of the time spent encoding).
        let room = pts.len() * 10;
        self.geom.reserve(room);
        let len = self.geom.len();
        let spare = &mut self.geom.spare_capacity_mut()[..room];
        let mut n = 0;
        let (mut cx, mut cy) = self.cursor;
        for p in pts {
            let (x, y) = (p[0] - self.origin[0], p[1] - self.origin[1]);
            n = write_varint32(spare, n, zigzag(x.wrapping_sub(cx)));
            n = write_varint32(spare, n, zigzag(y.wrapping_sub(cy)));
            (cx, cy) = (x, y);
        }
        self.cursor = (cx, cy);
        // SAFETY: `write_varint32` initialised the first `n` bytes of the spare capacity.
        unsafe { self.geom.set_len(len + n) };
    }

    /// `pts` without consecutive repeats: `pts` itself when it has none (the common case, as
    /// the engine removes repeats at load), else a copy in the ring buffer.
    fn without_repeats<'a>(pts: &'a [[i32; 2]], buf: &'a mut Vec<[i32; 2]>) -> &'a [[i32; 2]] {
        if !pts.windows(2).any(|w| w[0] == w[1]) {
            return pts;
        }
        buf.clear();
        for &p in pts {
            if buf.last() != Some(&p) {
                buf.push(p);
            }
        }
        buf
    }

    /// Adds points (one `MoveTo` with a count) to the current feature.
    pub fn points(&mut self, pts: &[[i32; 2]]) {
        if pts.is_empty() {
            return;
        }
        self.command(CMD_MOVE_TO, pts.len() as u32);
        self.deltas(pts.iter().copied());
    }

    /// Adds a polyline; repeated points are dropped. Returns `false` (and adds nothing) when
    /// fewer than two distinct points remain.
    pub fn line(&mut self, pts: &[[i32; 2]]) -> bool {
        let mut buf = std::mem::take(&mut self.ring_buf);
        let line = Self::without_repeats(pts, &mut buf);
        let ok = line.len() >= 2;
        if ok {
            self.command(CMD_MOVE_TO, 1);
            self.deltas(std::iter::once(line[0]));
            self.command(CMD_LINE_TO, (line.len() - 1) as u32);
            self.deltas(line[1..].iter().copied());
        }
        self.ring_buf = buf;
        ok
    }

    /// Adds a polygon ring, closing it with `ClosePath`. The ring may or may not repeat its
    /// first point at the end. Winding is set from `exterior`. Returns `false` (and adds
    /// nothing) when the ring has no area left in tile space.
    pub fn ring(&mut self, pts: &[[i32; 2]], exterior: bool) -> bool {
        let mut buf = std::mem::take(&mut self.ring_buf);
        let mut ring = Self::without_repeats(pts, &mut buf);
        while ring.len() > 1 && ring.first() == ring.last() {
            ring = &ring[..ring.len() - 1];
        }
        let area2 = signed_area2(ring);
        let ok = ring.len() >= 3 && area2 != 0;
        if ok {
            self.command(CMD_MOVE_TO, 1);
            self.deltas(std::iter::once(ring[0]));
            self.command(CMD_LINE_TO, (ring.len() - 1) as u32);
            // Exterior: positive area in tile space (y down), as the specification defines.
            if (area2 > 0) == exterior {
                self.deltas(ring[1..].iter().copied());
            } else {
                self.deltas(ring[1..].iter().rev().copied());
            }
            self.command(CMD_CLOSE_PATH, 1);
        }
        self.ring_buf = buf;
        ok
    }

    /// The current feature's geometry commands so far.
    pub fn geometry(&self) -> &[u8] {
        &self.geom
    }

    /// Writes the current feature (its tags so far) with geometry `encoded` into the layer:
    /// commands a builder wrote (see [`LayerBuilder::geometry`]) for the same geometry with
    /// origin `anchor`. Only the first point is not relative to the one before; it is moved from
    /// `anchor` to this builder's origin, and the rest is copied as is. (Anchored near the
    /// feature, the first point takes a few bytes instead of the ten of world coordinates.)
    pub fn finish_shifted(&mut self, id: Option<u64>, kind: GeomType, encoded: &[u8], anchor: [i32; 2]) -> bool {
        let (command, a) = read_varint(encoded);
        let (x, b) = read_varint(&encoded[a..]);
        let (y, c) = read_varint(&encoded[a + b..]);
        self.geom.clear();
        put_varint(&mut self.geom, command);
        self.cursor = (0, 0);
        self.deltas(std::iter::once([unzigzag(x as u32) + anchor[0], unzigzag(y as u32) + anchor[1]]));
        self.write_feature(id, kind, &encoded[a + b + c..])
    }

    /// Whether the current feature has any geometry.
    pub fn has_geometry(&self) -> bool {
        !self.geom.is_empty()
    }

    /// Writes the current feature into the layer and starts a new one. A feature without
    /// geometry is dropped (the specification requires geometry); returns whether it was written.
    pub fn finish_feature(&mut self, id: Option<u64>, kind: GeomType) -> bool {
        self.write_feature(id, kind, &[])
    }

    /// Writes the current feature with geometry: the commands so far, then `more`.
    fn write_feature(&mut self, id: Option<u64>, kind: GeomType, more: &[u8]) -> bool {
        if self.geom.is_empty() {
            self.clear_feature();
            return false;
        }
        let geom_len = self.geom.len() + more.len();
        let mut body = 2 + 1 + varint_len(geom_len as u64) + geom_len;
        if let Some(id) = id {
            body += 1 + varint_len(id);
        }
        if !self.tags.is_empty() {
            body += 1 + varint_len(self.tags.len() as u64) + self.tags.len();
        }
        let out = &mut self.features;
        out.reserve(body + 6);
        put_key(out, 2, WIRE_LEN);
        put_varint(out, body as u64);
        if let Some(id) = id {
            put_key(out, 1, WIRE_VARINT);
            put_varint(out, id);
        }
        if !self.tags.is_empty() {
            put_bytes_field(out, 2, &self.tags);
        }
        put_key(out, 3, WIRE_VARINT);
        out.push(kind as u8);
        put_key(out, 4, WIRE_LEN);
        put_varint(out, geom_len as u64);
        out.extend_from_slice(&self.geom);
        out.extend_from_slice(more);
        self.feature_count += 1;
        self.clear_feature();
        true
    }
}

/// Twice the signed area of a ring by the surveyor's formula (no closing point needed).
/// Computed relative to the first point, so large coordinates cannot overflow.
pub fn signed_area2(ring: &[[i32; 2]]) -> i64 {
    let n = ring.len();
    if n < 3 {
        return 0;
    }
    let o = ring[0];
    let rel = |p: [i32; 2]| (i64::from(p[0]) - i64::from(o[0]), i64::from(p[1]) - i64::from(o[1]));
    let mut sum = 0i64;
    let mut prev = rel(ring[1]);
    for &p in &ring[2..] {
        let q = rel(p);
        sum += prev.0 * q.1 - q.0 * prev.1;
        prev = q;
    }
    sum
}

/// Concatenates layers into a tile. Reuse it across tiles with [`TileBuilder::reset`].
#[derive(Debug, Default)]
pub struct TileBuilder {
    out: Vec<u8>,
}

impl TileBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the builder, keeping its allocation.
    pub fn reset(&mut self) {
        self.out.clear();
    }

    /// Appends a layer (skipped when it has no features) with the given name and extent.
    pub fn add_layer(&mut self, name: &str, extent: u32, layer: &LayerBuilder) {
        if layer.feature_count == 0 {
            return;
        }
        let body = 2 // version
            + 1 + varint_len(name.len() as u64) + name.len()
            + layer.features.len()
            + layer.keys.len()
            + layer.values.len()
            + 1 + varint_len(u64::from(extent));
        let out = &mut self.out;
        out.reserve(body + 6);
        put_key(out, 3, WIRE_LEN);
        put_varint(out, body as u64);
        put_key(out, 15, WIRE_VARINT);
        out.push(2);
        put_bytes_field(out, 1, name.as_bytes());
        out.extend_from_slice(&layer.features);
        out.extend_from_slice(&layer.keys);
        out.extend_from_slice(&layer.values);
        put_key(out, 5, WIRE_VARINT);
        put_varint(out, u64::from(extent));
    }

    /// The encoded tile so far (empty when no layer had features).
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// The encoded tile, leaving the builder empty with as much room for the next tile
    /// (handing over the buffer instead of copying it).
    pub fn take(&mut self) -> Vec<u8> {
        let next = Vec::with_capacity(self.out.capacity());
        let mut out = std::mem::replace(&mut self.out, next);
        out.shrink_to_fit(); // in place; the tile may be cached
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_matches_the_spec() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-2), 3);
        assert_eq!(zigzag(2147483647), 4294967294);
        for v in [0, 1, -1, 4096, -70_000, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn an_anchored_encoding_moved_to_a_tile_equals_encoding_at_the_tiles_origin() {
        // Two rings and a line far from the origin (world space at z14), in one feature.
        let ring: Vec<[i32; 2]> = vec![[60_000_100, 30_000_100], [60_000_400, 30_000_100], [60_000_250, 30_000_390]];
        let hole: Vec<[i32; 2]> = vec![[60_000_200, 30_000_150], [60_000_300, 30_000_150], [60_000_250, 30_000_250]];
        let line: Vec<[i32; 2]> = vec![[60_001_000, 30_000_000], [59_999_000, 30_004_000]];
        let write = |l: &mut LayerBuilder| {
            l.ring(&ring, true);
            l.ring(&hole, false);
            l.line(&line);
        };
        let mut at_zero = LayerBuilder::new();
        write(&mut at_zero);
        // Encoded from the feature's minimum corner, as the levels keep it.
        let anchor = [59_999_000, 30_000_000];
        let mut anchored = LayerBuilder::new();
        anchored.set_origin(anchor);
        write(&mut anchored);
        let encoded = anchored.geometry().to_vec();
        assert_eq!(encoded.len() + 4, at_zero.geometry().len(), "the first point in 4 bytes, not 8");

        let origin = [60_000_000 - 64, 29_999_900];
        let (mut direct, mut shifted) = (LayerBuilder::new(), LayerBuilder::new());
        for l in [&mut direct, &mut shifted] {
            l.set_origin(origin);
            l.tag(0, 0);
        }
        write(&mut direct);
        assert!(direct.finish_feature(Some(7), GeomType::Polygon));
        assert!(shifted.finish_shifted(Some(7), GeomType::Polygon, &encoded, anchor));
        assert_eq!(shifted.features, direct.features);
    }

    /// The current feature's geometry as command integers (test helper).
    fn commands(l: &LayerBuilder) -> Vec<u32> {
        let (mut out, mut v, mut shift) = (Vec::new(), 0u32, 0);
        for &b in &l.geom {
            v |= u32::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                out.push(v);
                (v, shift) = (0, 0);
            }
        }
        out
    }

    #[test]
    fn spec_example_point_and_line() {
        // Examples from the MVT 2.1 specification, section 4.3.5.
        let mut l = LayerBuilder::new();
        l.points(&[[25, 17]]);
        assert_eq!(commands(&l), vec![9, 50, 34]);
        l.clear_feature();
        assert!(l.line(&[[2, 2], [2, 10], [2, 10], [10, 10]]));
        assert_eq!(commands(&l), vec![9, 4, 4, 18, 0, 16, 16, 0]);
    }

    #[test]
    fn spec_example_polygon_winding_is_fixed() {
        // 4.3.5.3: exterior ring 3,6 8,12 20,34 encodes as 9 6 12 18 10 12 24 44 15.
        let mut l = LayerBuilder::new();
        assert!(l.ring(&[[3, 6], [8, 12], [20, 34], [3, 6]], true));
        assert_eq!(commands(&l), vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
        // The same ring given the other way round is reversed to the same winding.
        for exterior in [true, false] {
            l.clear_feature();
            assert!(l.ring(&[[3, 6], [20, 34], [8, 12]], exterior));
            assert_eq!(signed_area2(&decode_ring(&commands(&l))) > 0, exterior);
        }
    }

    /// Decodes a single-ring command stream back to points (test helper).
    fn decode_ring(geom: &[u32]) -> Vec<[i32; 2]> {
        let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
        let (mut x, mut y, mut pts, mut i) = (0, 0, Vec::new(), 0);
        while i < geom.len() {
            let (id, count) = (geom[i] & 7, geom[i] >> 3);
            i += 1;
            if id == CMD_CLOSE_PATH {
                continue;
            }
            for _ in 0..count {
                x += unzig(geom[i]);
                y += unzig(geom[i + 1]);
                pts.push([x, y]);
                i += 2;
            }
        }
        pts
    }

    #[test]
    fn collapsed_geometry_is_refused() {
        let mut l = LayerBuilder::new();
        assert!(!l.line(&[[1, 1], [1, 1]]));
        assert!(!l.ring(&[[0, 0], [5, 5], [10, 10]], true));
        assert!(!l.finish_feature(None, GeomType::LineString));
        assert_eq!(l.feature_count(), 0);
    }
}
