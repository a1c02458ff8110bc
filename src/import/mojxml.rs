//! The Ministry of Justice's cadastral map XML (法務省 登記所備付地図データ, 地図XML), read by a
//! streaming parser of our own.
//!
//! A file is one map sheet: a header (`座標系`, `市区町村コード`, …), then its geometry in
//! `空間属性` — points (`zmn:GM_Point`), curves (`zmn:GM_Curve`, each a polyline whose vertices
//! are given inline or as references to points) and surfaces (`zmn:GM_Surface`, whose rings
//! list curves by reference, in any orientation) — then its subjects in `主題属性`: each `筆`
//! (parcel) with its codes and names, `地番` and a reference to its surface.
//!
//! The parser reads the events once (`quick-xml`), keeping points and curves by id until the
//! surfaces need them, chains each ring's curves end to end into a closed ring, and swaps the
//! axes: the XML's `zmn:X` is the northing and `zmn:Y` the easting, while machizu's x is the
//! easting. `公共座標N系` maps to plane rectangular zone N; the XML does not say JGD2000 or
//! JGD2011, so the caller chooses ([`Datum`]). `任意座標系` maps are not georeferenced.

use std::collections::HashMap;
use std::io::BufRead;

use geo_types::{Coord, LineString, Polygon};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::crs::Epsg;

/// Errors while reading a map XML file. Each says where and what.
#[derive(Debug, thiserror::Error)]
pub enum MojError {
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("not a MOJ map XML file (the root element is {0:?}, expected 地図)")]
    NotMojXml(String),
    #[error("the file says it is in {0}; map XML is UTF-8 (convert it first, e.g. with iconv)")]
    Encoding(String),
    #[error("unknown coordinate system {0:?} (expected 公共座標1系…公共座標19系 or 任意座標系)")]
    UnknownCrs(String),
    #[error("{what} {id}: {message}")]
    Geometry { what: &'static str, id: String, message: String },
    #[error("筆 {id} (地番 {chiban}): {message}")]
    Parcel { id: String, chiban: String, message: String },
}

/// The geodetic datum of a plane rectangular map: the XML does not record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Datum {
    Jgd2000,
    #[default]
    Jgd2011,
}

/// A map's coordinate system, as `座標系` states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapCrs {
    /// `公共座標N系`: plane rectangular zone N (1–19).
    PlaneRectangular(u8),
    /// `任意座標系`: local survey coordinates, not georeferenced.
    Arbitrary,
}

impl MapCrs {
    fn parse(s: &str) -> Result<Self, MojError> {
        let s = s.trim();
        if s == "任意座標系" {
            return Ok(Self::Arbitrary);
        }
        let zone = s
            .strip_prefix("公共座標")
            .and_then(|r| r.strip_suffix('系'))
            .map(|n| n.chars().map(fullwidth_digit).collect::<String>())
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=19).contains(n));
        zone.map(Self::PlaneRectangular).ok_or_else(|| MojError::UnknownCrs(s.to_owned()))
    }

    /// The EPSG code of the map's CRS in `datum`; `None` for arbitrary coordinates.
    ///
    /// ```
    /// use machizu::import::mojxml::{Datum, MapCrs};
    /// use machizu::crs::Epsg;
    /// assert_eq!(MapCrs::PlaneRectangular(10).epsg(Datum::Jgd2011), Some(Epsg(6678)));
    /// assert_eq!(MapCrs::PlaneRectangular(10).epsg(Datum::Jgd2000), Some(Epsg(2452)));
    /// assert_eq!(MapCrs::Arbitrary.epsg(Datum::Jgd2011), None);
    /// ```
    pub fn epsg(self, datum: Datum) -> Option<Epsg> {
        match (self, datum) {
            (Self::PlaneRectangular(n), Datum::Jgd2011) => Some(Epsg(6668 + u32::from(n))),
            (Self::PlaneRectangular(n), Datum::Jgd2000) => Some(Epsg(2442 + u32::from(n))),
            (Self::Arbitrary, _) => None,
        }
    }
}

fn fullwidth_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c),
        _ => c,
    }
}

/// One map sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct MojMap {
    pub map_name: String,
    pub city_code: String,
    pub city_name: String,
    pub crs: MapCrs,
    /// `測地系判別` as written (e.g. `測量`, `変換`), empty when absent.
    pub datum_note: String,
    pub parcels: Vec<MojParcel>,
}

/// One `筆`, its polygon in the map's coordinates (x easting, y northing, metres).
#[derive(Debug, Clone, PartialEq)]
pub struct MojParcel {
    /// The `筆` element's id, unique in its file.
    pub id: String,
    /// `地番` as written, prefix included (`道-648`).
    pub chiban: String,
    /// The non-numbered prefix of `地番` (`道`, `水`, `地区外`, `別図`, `筆界未定地`,
    /// `長狭物不明`, `無地番` …), when it has one.
    pub prefix: Option<String>,
    pub oaza_code: String,
    pub chome_code: String,
    pub koaza_code: String,
    pub yobi_code: String,
    pub oaza_name: String,
    pub chome_name: String,
    pub koaza_name: String,
    pub yobi_name: String,
    /// `精度区分` (survey accuracy class), empty when absent.
    pub accuracy: String,
    /// `座標値種別` (how the coordinates were obtained), empty when absent.
    pub coordinate_kind: String,
    pub polygon: Polygon<f64>,
}

/// The non-numbered prefix of a 地番: the part before the first `-` when it does not start
/// with a digit.
///
/// ```
/// use machizu::import::mojxml::chiban_prefix;
/// assert_eq!(chiban_prefix("道-648"), Some("道"));
/// assert_eq!(chiban_prefix("筆界未定地-12"), Some("筆界未定地"));
/// assert_eq!(chiban_prefix("75-1"), None);
/// assert_eq!(chiban_prefix("１２３"), None);
/// ```
pub fn chiban_prefix(chiban: &str) -> Option<&str> {
    let (head, _) = chiban.split_once('-')?;
    let first = head.chars().next()?;
    (!first.is_ascii_digit() && !('０'..='９').contains(&first)).then_some(head)
}

/// A surface: its exterior ring and holes, each a list of curve ids.
#[derive(Default)]
struct Surface {
    exterior: Vec<String>,
    interiors: Vec<Vec<String>>,
}

/// Where the parser is in the document.
#[derive(Default)]
struct State {
    /// Local names of the open elements.
    path: Vec<String>,
    text: String,
    points: HashMap<String, Coord<f64>>,
    curves: HashMap<String, Vec<Coord<f64>>>,
    surfaces: HashMap<String, Surface>,
    // The element being read.
    id: String,
    x: Option<f64>,
    y: Option<f64>,
    vertices: Vec<Coord<f64>>,
    surface: Surface,
    ring: Vec<String>,
    fields: HashMap<&'static str, String>,
    shape: String,
    /// A point the current curve refers to that the file has not defined.
    missing_point: Option<String>,
    /// `座標系`, once read.
    crs: Option<MapCrs>,
}

/// The `筆` fields kept, by element name.
const PARCEL_FIELDS: [&str; 11] = [
    "大字コード",
    "丁目コード",
    "小字コード",
    "予備コード",
    "大字名",
    "丁目名",
    "小字名",
    "予備名",
    "地番",
    "精度区分",
    "座標値種別",
];

/// Reads a map XML document.
pub fn parse(input: impl BufRead) -> Result<MojMap, MojError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut s = State::default();
    let mut map = MojMap {
        map_name: String::new(),
        city_code: String::new(),
        city_name: String::new(),
        crs: MapCrs::Arbitrary,
        datum_note: String::new(),
        parcels: Vec::new(),
    };
    loop {
        let position = reader.buffer_position();
        let xml_err = |e: &dyn std::fmt::Display| MojError::Xml { position, message: e.to_string() };
        match reader.read_event_into(&mut buf).map_err(|e| xml_err(&e))? {
            Event::Start(e) => {
                let name = local_name(&e);
                if s.path.is_empty() && name != "地図" {
                    return Err(MojError::NotMojXml(name));
                }
                start(&mut s, &name, &e).map_err(|e| xml_err(&e))?;
                s.path.push(name);
                s.text.clear();
            }
            Event::Empty(e) => {
                let name = local_name(&e);
                if s.path.is_empty() {
                    return Err(MojError::NotMojXml(name));
                }
                start(&mut s, &name, &e).map_err(|e| xml_err(&e))?;
                s.path.push(name.clone());
                end(&mut s, &name, &mut map)?;
                s.path.pop();
            }
            Event::Text(t) => s.text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| xml_err(&e))? {
                    Some(c) => c,
                    None => match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(xml_err(&format!("unknown entity &{other};"))),
                    },
                };
                s.text.push(c);
            }
            Event::CData(t) => s.text.push_str(&t),
            Event::End(_) => {
                let name = s.path.last().cloned().unwrap_or_default();
                end(&mut s, &name, &mut map)?;
                s.path.pop();
                s.text.clear();
            }
            Event::Decl(d) => {
                if let Some(Ok(encoding)) = d.encoding() {
                    let e = encoding.trim().to_ascii_lowercase();
                    if e != "utf-8" && e != "utf8" {
                        return Err(MojError::Encoding(encoding.into_owned()));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !s.path.is_empty() {
        return Err(MojError::Xml {
            position: reader.buffer_position(),
            message: format!("the document ends inside <{}>", s.path.join("/")),
        });
    }
    if map.parcels.is_empty() && s.crs.is_none() && map.city_code.is_empty() {
        return Err(MojError::NotMojXml("(empty document)".into()));
    }
    map.crs = s.crs.ok_or_else(|| MojError::UnknownCrs(String::new()))?;
    Ok(map)
}

/// The element's name without its namespace prefix.
fn local_name(e: &BytesStart) -> String {
    e.local_name().as_ref().to_owned()
}

fn attribute(e: &BytesStart, name: &str) -> Result<Option<String>, quick_xml::Error> {
    match e.try_get_attribute(name)? {
        Some(a) => Ok(Some(a.normalized_value(XmlVersion::Implicit1_0)?.into_owned())),
        None => Ok(None),
    }
}

fn start(s: &mut State, name: &str, e: &BytesStart) -> Result<(), quick_xml::Error> {
    match name {
        "GM_Point" | "GM_Curve" | "GM_Surface" | "筆" => {
            s.id = attribute(e, "id")?.unwrap_or_default();
            s.x = None;
            s.y = None;
            s.vertices.clear();
            s.surface = Surface::default();
            s.fields.clear();
            s.shape.clear();
            s.missing_point = None;
        }
        "GM_Ring" => s.ring.clear(),
        "GM_CompositeCurve.generator" => s.ring.extend(attribute(e, "idref")?),
        "GM_PointRef.point" => {
            if let Some(id) = attribute(e, "idref")? {
                // Resolved now: points come before the curves that use them.
                let p = s.points.get(&id).copied();
                s.vertices.push(p.unwrap_or(Coord { x: f64::NAN, y: f64::NAN }));
                if p.is_none() {
                    s.missing_point.get_or_insert(id);
                }
            }
        }
        "形状" if s.path.last().is_some_and(|p| p == "筆") => s.shape = attribute(e, "idref")?.unwrap_or_default(),
        _ => {}
    }
    Ok(())
}

fn end(s: &mut State, name: &str, map: &mut MojMap) -> Result<(), MojError> {
    let parent = s.path.len().checked_sub(2).and_then(|i| s.path.get(i)).map(String::as_str);
    let text = s.text.trim();
    let number = |what: &'static str, id: &str| {
        text.parse::<f64>().map_err(|_| MojError::Geometry {
            what,
            id: id.to_owned(),
            message: format!("coordinate {text:?} is not a number"),
        })
    };
    match name {
        "地図名" if parent == Some("地図") => map.map_name = text.to_owned(),
        "市区町村コード" if parent == Some("地図") => map.city_code = text.to_owned(),
        "市区町村名" if parent == Some("地図") => map.city_name = text.to_owned(),
        "座標系" if parent == Some("地図") => s.crs = Some(MapCrs::parse(text)?),
        "測地系判別" if parent == Some("地図") => map.datum_note = text.to_owned(),
        // Northing and easting: swapped into x (easting) and y (northing).
        "X" => s.y = Some(number("point", &s.id)?),
        "Y" => s.x = Some(number("point", &s.id)?),
        "DirectPosition" | "GM_Position.direct" => {
            let (Some(x), Some(y)) = (s.x.take(), s.y.take()) else {
                return Err(MojError::Geometry { what: "position", id: s.id.clone(), message: "needs X and Y".into() });
            };
            s.vertices.push(Coord { x, y });
        }
        "GM_Point" => {
            let p = s.vertices.pop().ok_or_else(|| MojError::Geometry {
                what: "point",
                id: s.id.clone(),
                message: "has no position".into(),
            })?;
            s.points.insert(std::mem::take(&mut s.id), p);
        }
        "GM_Curve" => {
            if let Some(missing) = s.missing_point.take() {
                return Err(MojError::Geometry {
                    what: "curve",
                    id: s.id.clone(),
                    message: format!("refers to point {missing}, which the file does not define"),
                });
            }
            if s.vertices.len() < 2 {
                return Err(MojError::Geometry {
                    what: "curve",
                    id: s.id.clone(),
                    message: "has fewer than 2 vertices".into(),
                });
            }
            s.curves.insert(std::mem::take(&mut s.id), std::mem::take(&mut s.vertices));
        }
        "GM_Ring" => {
            let ring = std::mem::take(&mut s.ring);
            if parent == Some("GM_SurfaceBoundary.exterior") {
                s.surface.exterior = ring;
            } else {
                s.surface.interiors.push(ring);
            }
        }
        "GM_Surface" => {
            let surface = std::mem::take(&mut s.surface);
            s.surfaces.insert(std::mem::take(&mut s.id), surface);
        }
        n if parent == Some("筆") => {
            if let Some(field) = PARCEL_FIELDS.iter().find(|f| **f == n) {
                s.fields.insert(field, text.to_owned());
            }
        }
        "筆" => {
            let field = |k: &str| s.fields.get(k).cloned().unwrap_or_default();
            let chiban = field("地番");
            let polygon = build_polygon(&s.surfaces, &s.curves, &s.shape).map_err(|message| MojError::Parcel {
                id: s.id.clone(),
                chiban: chiban.clone(),
                message,
            })?;
            map.parcels.push(MojParcel {
                id: std::mem::take(&mut s.id),
                prefix: chiban_prefix(&chiban).map(str::to_owned),
                oaza_code: field("大字コード"),
                chome_code: field("丁目コード"),
                koaza_code: field("小字コード"),
                yobi_code: field("予備コード"),
                oaza_name: field("大字名"),
                chome_name: field("丁目名"),
                koaza_name: field("小字名"),
                yobi_name: field("予備名"),
                accuracy: field("精度区分"),
                coordinate_kind: field("座標値種別"),
                chiban,
                polygon,
            });
        }
        _ => {}
    }
    Ok(())
}

/// The polygon of surface `id`: every ring chained from its curves.
fn build_polygon(
    surfaces: &HashMap<String, Surface>,
    curves: &HashMap<String, Vec<Coord<f64>>>,
    id: &str,
) -> Result<Polygon<f64>, String> {
    if id.is_empty() {
        return Err("has no 形状 (surface reference)".into());
    }
    let surface = surfaces.get(id).ok_or_else(|| format!("refers to surface {id}, which the file does not define"))?;
    let exterior = chain_ring(curves, &surface.exterior).map_err(|m| format!("exterior of surface {id}: {m}"))?;
    let interiors = surface
        .interiors
        .iter()
        .map(|r| chain_ring(curves, r).map_err(|m| format!("hole of surface {id}: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

/// Joins the curves `ids` end to end into one closed ring. Each curve may run either way; the
/// next one is the curve (among those left) that starts or ends where the ring has got to.
fn chain_ring(curves: &HashMap<String, Vec<Coord<f64>>>, ids: &[String]) -> Result<LineString<f64>, String> {
    let mut left: Vec<&[Coord<f64>]> = Vec::with_capacity(ids.len());
    for id in ids {
        left.push(curves.get(id).ok_or_else(|| format!("refers to curve {id}, which the file does not define"))?);
    }
    if left.is_empty() {
        return Err("has no curves".into());
    }
    let mut ring: Vec<Coord<f64>> = left.remove(0).to_vec();
    while !left.is_empty() {
        let end = *ring.last().expect("a curve has vertices");
        let Some(i) = left.iter().position(|c| c[0] == end || c[c.len() - 1] == end) else {
            return Err(format!("its curves do not join: nothing continues from ({}, {})", end.y, end.x));
        };
        let next = left.remove(i);
        if next[0] == end {
            ring.extend_from_slice(&next[1..]);
        } else {
            ring.extend(next.iter().rev().skip(1));
        }
    }
    if ring.first() != ring.last() {
        return Err("its curves do not close".into());
    }
    if ring.len() < 4 {
        return Err("has fewer than 3 distinct vertices".into());
    }
    Ok(LineString(ring))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<地図 xmlns="http://www.moj.go.jp/MINJI/tizuxml" xmlns:zmn="http://www.moj.go.jp/MINJI/tizuzumen">
<地図名>test</地図名><市区町村コード>06212</市区町村コード><市区町村名>尾花沢市</市区町村名>
<座標系>公共座標10系</座標系>"#;

    fn point(id: &str, x: f64, y: f64) -> String {
        format!(
            r#"<zmn:GM_Point id="{id}"><zmn:GM_Point.position><zmn:DirectPosition><zmn:X>{x}</zmn:X><zmn:Y>{y}</zmn:Y></zmn:DirectPosition></zmn:GM_Point.position></zmn:GM_Point>"#
        )
    }

    /// A curve from point reference `a` to a direct position (x = northing, y = easting).
    fn curve(id: &str, a: &str, x: f64, y: f64) -> String {
        format!(
            r#"<zmn:GM_Curve id="{id}"><zmn:GM_Curve.segment><zmn:GM_LineString><zmn:GM_LineString.controlPoint>
<zmn:GM_PointArray.column><zmn:GM_Position.indirect><zmn:GM_PointRef.point idref="{a}"/></zmn:GM_Position.indirect></zmn:GM_PointArray.column>
<zmn:GM_PointArray.column><zmn:GM_Position.direct><zmn:X>{x}</zmn:X><zmn:Y>{y}</zmn:Y></zmn:GM_Position.direct></zmn:GM_PointArray.column>
</zmn:GM_LineString.controlPoint></zmn:GM_LineString></zmn:GM_Curve.segment></zmn:GM_Curve>"#
        )
    }

    /// A 10 m square parcel whose four sides are given in mixed directions and order.
    fn square_doc(chiban: &str) -> String {
        let mut d = String::from(HEAD);
        d.push_str("<空間属性>");
        d += &point("P1", 100.0, 200.0);
        d += &point("P2", 100.0, 210.0);
        d += &point("P3", 110.0, 210.0);
        d += &point("P4", 110.0, 200.0);
        d += &curve("C1", "P1", 100.0, 210.0); // P1 → P2
        d += &curve("C2", "P3", 100.0, 210.0); // P3 → P2 (reversed)
        d += &curve("C3", "P4", 100.0, 200.0); // P4 → P1 (out of order)
        d += &curve("C4", "P3", 110.0, 200.0); // P3 → P4
        d.push_str(
            r#"<zmn:GM_Surface id="F1"><zmn:GM_Surface.patch><zmn:GM_Polygon><zmn:GM_Polygon.boundary><zmn:GM_SurfaceBoundary><zmn:GM_SurfaceBoundary.exterior><zmn:GM_Ring>
<zmn:GM_CompositeCurve.generator idref="C1"/><zmn:GM_CompositeCurve.generator idref="C3"/><zmn:GM_CompositeCurve.generator idref="C2"/><zmn:GM_CompositeCurve.generator idref="C4"/>
</zmn:GM_Ring></zmn:GM_SurfaceBoundary.exterior></zmn:GM_SurfaceBoundary></zmn:GM_Polygon.boundary></zmn:GM_Polygon></zmn:GM_Surface.patch></zmn:GM_Surface>"#,
        );
        d.push_str("</空間属性><主題属性>");
        d += &format!(
            r#"<筆 id="H1"><大字コード>001</大字コード><丁目コード>000</丁目コード><小字コード>0000</小字コード><予備コード>00</予備コード><大字名>大字尾花沢</大字名><地番>{chiban}</地番><形状 idref="F1"/><精度区分>甲二</精度区分><座標値種別>測量成果</座標値種別></筆>"#
        );
        d.push_str("</主題属性></地図>");
        d
    }

    #[test]
    fn a_parcel_is_chained_swapped_and_attributed() {
        let map = parse(square_doc("道-12").as_bytes()).unwrap();
        assert_eq!(map.crs, MapCrs::PlaneRectangular(10));
        assert_eq!((map.city_code.as_str(), map.city_name.as_str()), ("06212", "尾花沢市"));
        let p = &map.parcels[0];
        assert_eq!((p.chiban.as_str(), p.prefix.as_deref()), ("道-12", Some("道")));
        assert_eq!(
            (p.oaza_name.as_str(), p.accuracy.as_str(), p.coordinate_kind.as_str()),
            ("大字尾花沢", "甲二", "測量成果")
        );
        let ring = &p.polygon.exterior().0;
        assert_eq!(ring.len(), 5);
        assert_eq!(ring.first(), ring.last());
        // X (northing) 100 → y, Y (easting) 200 → x.
        assert_eq!(ring[0], Coord { x: 200.0, y: 100.0 });
        let mut corners: Vec<(i64, i64)> = ring[..4].iter().map(|c| (c.x as i64, c.y as i64)).collect();
        corners.sort_unstable();
        assert_eq!(corners, vec![(200, 100), (200, 110), (210, 100), (210, 110)]);
        use geo::Area;
        assert_eq!(p.polygon.unsigned_area(), 100.0);
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let err = |doc: &str| parse(doc.as_bytes()).unwrap_err().to_string();
        assert!(err("<html></html>").contains("not a MOJ map XML"), "{}", err("<html></html>"));
        let doc = square_doc("1");
        let cut = doc.find("</主題属性>").unwrap();
        assert!(err(&doc[..cut]).contains("ends inside <地図/主題属性>"), "{}", err(&doc[..cut]));
        let mid_tag = doc.find("<zmn:GM_Surface").unwrap() + 5;
        assert!(err(&doc[..mid_tag]).contains("not well-formed XML at byte"), "{}", err(&doc[..mid_tag]));
        assert!(err(&doc.replace("公共座標10系", "公共座標20系")).contains("公共座標20系"));
        let gap = doc.replace(r#"<zmn:GM_CompositeCurve.generator idref="C3"/>"#, "");
        assert!(err(&gap).contains("do not"), "{}", err(&gap));
        let dangling = doc.replace(r#"idref="C4""#, r#"idref="C9""#);
        assert!(err(&dangling).contains("curve C9"), "{}", err(&dangling));
        let sjis = doc.replace(r#"encoding="UTF-8""#, r#"encoding="Shift_JIS""#);
        assert!(err(&sjis).contains("Shift_JIS; map XML is UTF-8"), "{}", err(&sjis));
        let nan = doc.replace("<zmn:X>110</zmn:X>", "<zmn:X>1l0</zmn:X>");
        assert!(err(&nan).contains("not a number"), "{}", err(&nan));
    }

    #[test]
    fn zones_map_to_plane_rectangular_codes() {
        assert_eq!(MapCrs::parse("公共座標９系").unwrap(), MapCrs::PlaneRectangular(9));
        assert_eq!(MapCrs::parse("任意座標系").unwrap(), MapCrs::Arbitrary);
        assert_eq!(MapCrs::PlaneRectangular(1).epsg(Datum::Jgd2011), Some(Epsg(6669)));
        assert_eq!(MapCrs::PlaneRectangular(19).epsg(Datum::Jgd2011), Some(Epsg(6687)));
        assert_eq!(MapCrs::PlaneRectangular(1).epsg(Datum::Jgd2000), Some(Epsg(2443)));
        assert_eq!(MapCrs::PlaneRectangular(19).epsg(Datum::Jgd2000), Some(Epsg(2461)));
    }
}
