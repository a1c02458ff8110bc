//! An MVT decoder for tests, independent of machizu's encoder: the vector_tile.proto messages
//! declared with prost's derive, and the geometry command decoding written from the
//! specification (section 4.3).

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Value {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Feature {
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    #[prost(uint32, repeated, tag = "2")]
    pub tags: Vec<u32>,
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(uint32, repeated, tag = "4")]
    pub geometry: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Layer {
    #[prost(uint32, required, tag = "15")]
    pub version: u32,
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<Value>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

pub fn decode(bytes: &[u8]) -> Tile {
    Tile::decode(bytes).expect("a valid vector tile")
}

/// One decoded path: the points of a MoveTo/LineTo run, and whether ClosePath ended it.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub points: Vec<[i64; 2]>,
    pub closed: bool,
}

/// Decodes a geometry command stream into paths (each MoveTo starts one; for points, each
/// MoveTo point is its own path). Panics on malformed streams.
pub fn paths(geometry: &[u32]) -> Vec<Path> {
    let unzig = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
    let (mut x, mut y) = (0i64, 0i64);
    let mut out: Vec<Path> = Vec::new();
    let mut i = 0;
    while i < geometry.len() {
        let (id, count) = (geometry[i] & 7, geometry[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                assert!(count > 0, "command with zero count");
                for _ in 0..count {
                    x += unzig(geometry[i]);
                    y += unzig(geometry[i + 1]);
                    i += 2;
                    if id == 1 {
                        out.push(Path { points: vec![[x, y]], closed: false });
                    } else {
                        out.last_mut().expect("LineTo after MoveTo").points.push([x, y]);
                    }
                }
            }
            7 => {
                assert_eq!(count, 1, "ClosePath count");
                out.last_mut().expect("ClosePath after MoveTo").closed = true;
            }
            other => panic!("unknown command {other}"),
        }
    }
    out
}

/// Twice the surveyor's-formula area of a ring in tile coordinates (positive = exterior).
pub fn area2(points: &[[i64; 2]]) -> i64 {
    let n = points.len();
    (0..n).map(|i| points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]).sum()
}

/// A value as a comparable string (for attribute checks).
pub fn value_string(v: &Value) -> String {
    if let Some(s) = &v.string_value {
        s.clone()
    } else if let Some(d) = v.double_value {
        format!("{d}")
    } else if let Some(u) = v.uint_value {
        u.to_string()
    } else if let Some(s) = v.sint_value {
        s.to_string()
    } else if let Some(i) = v.int_value {
        i.to_string()
    } else if let Some(b) = v.bool_value {
        b.to_string()
    } else if let Some(f) = v.float_value {
        format!("{f}")
    } else {
        panic!("empty value")
    }
}

impl Layer {
    /// A feature's attributes, each as [`value_string`].
    pub fn props(&self, f: &Feature) -> std::collections::HashMap<String, String> {
        f.tags
            .chunks(2)
            .map(|kv| (self.keys[kv[0] as usize].clone(), value_string(&self.values[kv[1] as usize])))
            .collect()
    }
}
