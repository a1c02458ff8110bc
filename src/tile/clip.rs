//! Clipping of geometry to a tile rectangle, in integer tile space.
//!
//! Polygon rings are clipped with Sutherland–Hodgman against the four (axis-aligned) sides,
//! which keeps every ring a single closed ring: where a polygon leaves the tile and comes back,
//! the ring runs along the buffered edge, outside the visible tile. Polylines are clipped
//! segment by segment (Liang–Barsky) and split into parts where they leave the rectangle.
//! Intersections are computed in `f64` and rounded to the nearest unit.
//!
//! Callers test a feature's bounding box first and skip clipping when it lies inside the
//! rectangle, which is the common case at high zoom.

/// An axis-aligned rectangle in tile space, edges included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub min: [i32; 2],
    pub max: [i32; 2],
}

impl Rect {
    /// The tile `[0, extent]²` grown by `buffer` units on every side.
    pub fn buffered(extent: i32, buffer: i32) -> Self {
        Self { min: [-buffer, -buffer], max: [extent + buffer, extent + buffer] }
    }

    #[inline]
    pub fn contains_bbox(&self, min: [i32; 2], max: [i32; 2]) -> bool {
        min[0] >= self.min[0] && min[1] >= self.min[1] && max[0] <= self.max[0] && max[1] <= self.max[1]
    }

    #[inline]
    pub fn contains(&self, p: [i32; 2]) -> bool {
        self.contains_bbox(p, p)
    }

    /// This rectangle `shift` zooms finer: a point lies in the result exactly when the point
    /// halved `shift` times and rounded to nearest (`(c + 2^(shift-1)) >> shift`) lies in this.
    pub fn finer(self, shift: u8) -> Self {
        if shift == 0 {
            return self;
        }
        let half = 1 << (shift - 1);
        Self { min: self.min.map(|c| (c << shift) - half), max: self.max.map(|c| (c << shift) + half - 1) }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
    Top,
    Bottom,
}

impl Side {
    #[inline]
    fn inside(self, p: [i32; 2], r: &Rect) -> bool {
        match self {
            Side::Left => p[0] >= r.min[0],
            Side::Right => p[0] <= r.max[0],
            Side::Top => p[1] >= r.min[1],
            Side::Bottom => p[1] <= r.max[1],
        }
    }

    #[inline]
    fn intersect(self, a: [i32; 2], b: [i32; 2], r: &Rect) -> [i32; 2] {
        let (ax, ay, bx, by) = (f64::from(a[0]), f64::from(a[1]), f64::from(b[0]), f64::from(b[1]));
        match self {
            Side::Left | Side::Right => {
                let x = if matches!(self, Side::Left) { r.min[0] } else { r.max[0] };
                let t = (f64::from(x) - ax) / (bx - ax);
                [x, (ay + t * (by - ay)).round() as i32]
            }
            Side::Top | Side::Bottom => {
                let y = if matches!(self, Side::Top) { r.min[1] } else { r.max[1] };
                let t = (f64::from(y) - ay) / (by - ay);
                [(ax + t * (bx - ax)).round() as i32, y]
            }
        }
    }
}

/// Clips a polygon ring (closing point optional) to `rect`, writing the result to `out`
/// (cleared first). `tmp` is scratch space. An empty `out` means the ring lies outside.
///
/// ```
/// use machizu::tile::clip::{clip_ring, Rect};
/// let r = Rect { min: [0, 0], max: [10, 10] };
/// let (mut out, mut tmp) = (Vec::new(), Vec::new());
/// clip_ring(&[[-5, -5], [5, -5], [5, 5], [-5, 5]], r, &mut out, &mut tmp);
/// assert_eq!(out, vec![[0, 0], [5, 0], [5, 5], [0, 5]]);
/// ```
pub fn clip_ring(ring: &[[i32; 2]], rect: Rect, out: &mut Vec<[i32; 2]>, tmp: &mut Vec<[i32; 2]>) {
    out.clear();
    out.extend_from_slice(ring);
    if out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    for side in [Side::Left, Side::Right, Side::Top, Side::Bottom] {
        if out.is_empty() {
            return;
        }
        std::mem::swap(out, tmp);
        out.clear();
        let mut prev = *tmp.last().expect("non-empty");
        let mut prev_in = side.inside(prev, &rect);
        for &p in tmp.iter() {
            let p_in = side.inside(p, &rect);
            if p_in {
                if !prev_in {
                    out.push(side.intersect(prev, p, &rect));
                }
                out.push(p);
            } else if prev_in {
                out.push(side.intersect(prev, p, &rect));
            }
            prev = p;
            prev_in = p_in;
        }
    }
}

/// Clips a polyline to `rect`. Appends the points of each part that lies inside to `out` and
/// the end offset (into `out`) of each part to `parts`; neither is cleared.
///
/// ```
/// use machizu::tile::clip::{clip_line, Rect};
/// let r = Rect { min: [0, 0], max: [10, 10] };
/// let (mut out, mut parts) = (Vec::new(), Vec::new());
/// clip_line(&[[-5, 5], [15, 5], [15, 8], [5, 8]], r, &mut out, &mut parts);
/// assert_eq!(out, vec![[0, 5], [10, 5], [10, 8], [5, 8]]);
/// assert_eq!(parts, vec![2, 4]);
/// ```
pub fn clip_line(line: &[[i32; 2]], rect: Rect, out: &mut Vec<[i32; 2]>, parts: &mut Vec<usize>) {
    let mut part_start = out.len();
    let close_part = |out: &mut Vec<[i32; 2]>, parts: &mut Vec<usize>, start: &mut usize| {
        if out.len() - *start >= 2 {
            parts.push(out.len());
        } else {
            out.truncate(*start);
        }
        *start = out.len();
    };
    let Some(&first) = line.first() else { return };
    let mut prev_code = outcode(first, &rect);
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        let code = outcode(b, &rect);
        // Both ends beyond one side: the segment misses (most segments of a line that
        // crosses the tile); both inside: kept as is; only the rest need arithmetic.
        let clipped = match (prev_code & code, prev_code | code) {
            (0, 0) => Some((a, b)),
            (0, _) => clip_segment(a, b, &rect),
            _ => None,
        };
        prev_code = code;
        match clipped {
            Some((p, q)) => {
                if out.len() == part_start || out.last() != Some(&p) {
                    if out.len() > part_start {
                        close_part(out, parts, &mut part_start);
                    }
                    out.push(p);
                }
                out.push(q);
                if q != b {
                    close_part(out, parts, &mut part_start);
                }
            }
            None => {
                if out.len() > part_start {
                    close_part(out, parts, &mut part_start);
                }
            }
        }
    }
    if out.len() > part_start {
        close_part(out, parts, &mut part_start);
    }
}

/// Which sides of `r` a point lies beyond, one bit each (Cohen–Sutherland outcode); 0 inside.
#[inline]
fn outcode(p: [i32; 2], r: &Rect) -> u8 {
    u8::from(p[0] < r.min[0])
        | u8::from(p[0] > r.max[0]) << 1
        | u8::from(p[1] < r.min[1]) << 2
        | u8::from(p[1] > r.max[1]) << 3
}

/// Liang–Barsky clipping of one segment; `None` when it misses the rectangle.
fn clip_segment(a: [i32; 2], b: [i32; 2], r: &Rect) -> Option<([i32; 2], [i32; 2])> {
    if r.contains(a) && r.contains(b) {
        return Some((a, b));
    }
    let (x0, y0) = (f64::from(a[0]), f64::from(a[1]));
    let (dx, dy) = (f64::from(b[0]) - x0, f64::from(b[1]) - y0);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let checks = [
        (-dx, x0 - f64::from(r.min[0])),
        (dx, f64::from(r.max[0]) - x0),
        (-dy, y0 - f64::from(r.min[1])),
        (dy, f64::from(r.max[1]) - y0),
    ];
    for (p, q) in checks {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                if t > t1 {
                    return None;
                }
                t0 = t0.max(t);
            } else {
                if t < t0 {
                    return None;
                }
                t1 = t1.min(t);
            }
        }
    }
    let at = |t: f64| -> [i32; 2] {
        let x = (x0 + t * dx).round() as i32;
        let y = (y0 + t * dy).round() as i32;
        [x.clamp(r.min[0], r.max[0]), y.clamp(r.min[1], r.max[1])]
    };
    let p = if t0 == 0.0 { a } else { at(t0) };
    let q = if t1 == 1.0 { b } else { at(t1) };
    Some((p, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rect = Rect { min: [0, 0], max: [100, 100] };

    #[test]
    fn a_finer_rectangle_holds_exactly_the_points_that_halve_into_this_one() {
        let rect = Rect { min: [-64, 100], max: [4160, 4196] };
        for shift in 0..4u8 {
            let finer = rect.finer(shift);
            let half = if shift == 0 { 0 } else { 1 << (shift - 1) };
            for c in (-70 << shift)..(4200 << shift) {
                let p = [c, c + (30 << shift)];
                let halved = p.map(|v| (v + half) >> shift);
                assert_eq!(finer.contains(p), rect.contains(halved), "{p:?} at shift {shift}");
            }
        }
    }

    #[test]
    fn ring_inside_is_unchanged() {
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        let ring = [[10, 10], [20, 10], [20, 20], [10, 20], [10, 10]];
        clip_ring(&ring, R, &mut out, &mut tmp);
        assert_eq!(out, ring[..4].to_vec());
    }

    #[test]
    fn ring_outside_vanishes() {
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        clip_ring(&[[200, 200], [300, 200], [300, 300]], R, &mut out, &mut tmp);
        assert!(out.is_empty());
    }

    #[test]
    fn ring_around_the_tile_becomes_the_tile() {
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        clip_ring(&[[-50, -50], [150, -50], [150, 150], [-50, 150]], R, &mut out, &mut tmp);
        let mut sorted = out.clone();
        sorted.sort();
        assert_eq!(sorted, vec![[0, 0], [0, 100], [100, 0], [100, 100]]);
    }

    #[test]
    fn line_passing_through_and_leaving_twice() {
        let (mut out, mut parts) = (Vec::new(), Vec::new());
        clip_line(&[[-10, 50], [50, 50], [50, 150], [60, 150], [60, 50], [70, 50]], R, &mut out, &mut parts);
        assert_eq!(parts, vec![3, 6]);
        assert_eq!(&out[..3], &[[0, 50], [50, 50], [50, 100]]);
        assert_eq!(&out[3..], &[[60, 100], [60, 50], [70, 50]]);
    }

    #[test]
    fn line_missing_the_rect() {
        let (mut out, mut parts) = (Vec::new(), Vec::new());
        clip_line(&[[-10, -10], [-5, 200]], R, &mut out, &mut parts);
        assert!(out.is_empty() && parts.is_empty());
    }
}
