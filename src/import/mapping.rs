//! Which source field fills which attribute of the layer.
//!
//! A mapping file (`--mapping FILE`, TOML) names, for attributes of the layer, the source
//! field that fills each, and constant values:
//!
//! ```toml
//! # Yaizu's emergency transport roads into `roads`
//! [attributes]
//! name = "item3"          # layer attribute = source field (as the file spells it, 日本語 too)
//! [constants]
//! road_class = "緊急輸送路"  # the same value on every feature
//! ```
//!
//! Attributes the file does not name are matched by the built-in mapping, in this order: a
//! field named like the attribute (`name`, case-insensitive), a field named like the
//! attribute's Japanese title (`路線名` fills `roads.name`), then the known fields of common
//! Japanese sources ([`BUILTIN`]: 国土数値情報 N03, PLATEAU CityGML, 自治体標準オープンデータセット,
//! OpenStreetMap). Source fields that fill nothing are listed in the import report.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalog::{AttrType, LayerDef};
use crate::feature::AttrValue;

/// A mapping file.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Layer attribute → source field.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Layer attribute → value given to every feature.
    #[serde(default)]
    pub constants: BTreeMap<String, toml::Value>,
}

/// Errors in a mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping {path}: {message}")]
    Read { path: String, message: String },
    #[error("mapping: layer {layer} has no attribute {attribute:?}")]
    NoAttribute { layer: String, attribute: String },
    #[error("mapping: source field {field:?} (for {attribute}) is not in {source_name}; it has: {fields}")]
    NoField { field: String, attribute: String, source_name: String, fields: String },
    #[error("mapping: constant {attribute} = {value}: {message}")]
    BadConstant { attribute: String, value: String, message: String },
}

impl Mapping {
    pub fn read(path: &Path) -> Result<Self, MappingError> {
        let err = |message: String| MappingError::Read { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        toml::from_str(&text).map_err(|e| err(e.to_string()))
    }
}

/// Source field → layer attribute pairs of common Japanese sources, used when no mapping file
/// names the attribute and no field is named like it.
pub const BUILTIN: &[(&str, &str)] = &[
    // 国土数値情報 N03 administrative boundaries.
    ("N03_004", "name"),
    ("N03_007", "city_code"),
    // PLATEAU CityGML: buildings (bldg) and underground utilities (unf).
    ("buildingID", "building_id"),
    ("usage", "usage"),
    ("measuredHeight", "height_m"),
    ("storeysAboveGround", "storeys"),
    ("yearOfConstruction", "year_built"),
    ("year", "install_year"),
    ("name", "pipe_kind"),
    ("innerDiameter", "diameter_mm"),
    ("outerDiameter", "diameter_mm"),
    // 自治体標準オープンデータセット (municipal standard open data) CSVs.
    ("名称", "name"),
    ("所在地_連結表記", "address"),
    ("住所", "address"),
    ("種別", "kind"),
    ("口径", "diameter_mm"),
    ("備考", "notes"),
    // OpenStreetMap exports.
    ("highway", "road_class"),
    ("type", "road_class"),
];

/// How one import fills the layer's attributes from one source's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// (source field index, attribute index).
    pub columns: Vec<(usize, usize)>,
    /// (attribute index, value).
    pub constants: Vec<(usize, AttrValue)>,
    /// Source fields that fill no attribute.
    pub unused: Vec<String>,
    /// (source field, key, attribute index): attributes read from an OpenStreetMap
    /// `other_tags` field (`"key"=>"value",…`), for attributes nothing else fills.
    pub tags: Vec<(usize, String, usize)>,
}

/// The field in which GDAL's OpenStreetMap driver puts the tags without a column of their own.
pub const OSM_OTHER_TAGS: &str = "other_tags";

/// The value of `key` in an OpenStreetMap `other_tags` string (`"oneway"=>"yes","lit"=>"no"`).
///
/// ```
/// use machizu::import::mapping::osm_tag;
/// assert_eq!(osm_tag(r#""lit"=>"yes","oneway"=>"-1""#, "oneway"), Some("-1".to_owned()));
/// assert_eq!(osm_tag(r#""name:en"=>"Say \"hi\"""#, "name:en"), Some(r#"Say "hi""#.to_owned()));
/// assert_eq!(osm_tag(r#""lit"=>"yes""#, "oneway"), None);
/// ```
pub fn osm_tag(tags: &str, key: &str) -> Option<String> {
    // Quoted strings with backslash escapes, in key => value pairs.
    let mut strings = Vec::new();
    let mut chars = tags.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => s.extend(chars.next()),
                '"' => break,
                c => s.push(c),
            }
        }
        strings.push(s);
    }
    strings.chunks(2).find(|kv| kv.len() == 2 && kv[0] == key).map(|kv| kv[1].clone())
}

impl Mapping {
    /// The plan for a source with `fields` (decoded names) into `layer`. `source_name` names the
    /// source in errors. `skip` lists attributes the importer fills itself (`source`).
    pub fn plan(
        &self,
        layer: &LayerDef,
        fields: &[String],
        source_name: &str,
        skip: &[&str],
    ) -> Result<Plan, MappingError> {
        let attribute = |name: &str| {
            layer
                .attribute_index(name)
                .filter(|_| !skip.contains(&name))
                .ok_or_else(|| MappingError::NoAttribute { layer: layer.id.to_string(), attribute: name.to_owned() })
        };
        let mut columns = Vec::new();
        let mut taken = vec![false; layer.attributes.len()];
        for (attr, field) in &self.attributes {
            let a = attribute(attr)?;
            let f = fields.iter().position(|f| f == field).ok_or_else(|| MappingError::NoField {
                field: field.clone(),
                attribute: attr.clone(),
                source_name: source_name.to_owned(),
                fields: fields.join(", "),
            })?;
            columns.push((f, a));
            taken[a] = true;
        }
        let mut constants = Vec::new();
        for (attr, value) in &self.constants {
            let a = attribute(attr)?;
            let v = constant(value, layer.attributes[a].kind).map_err(|message| MappingError::BadConstant {
                attribute: attr.clone(),
                value: value.to_string(),
                message,
            })?;
            constants.push((a, v));
            taken[a] = true;
        }
        for &s in skip {
            if let Some(a) = layer.attribute_index(s) {
                taken[a] = true;
            }
        }
        let mut used = vec![false; fields.len()];
        for &(f, _) in &columns {
            used[f] = true;
        }
        // Built-in rules, each over all attributes before the next.
        for rule in 0..3 {
            for (a, def) in layer.attributes.iter().enumerate() {
                if taken[a] {
                    continue;
                }
                let matches = |field: &str| match rule {
                    0 => field.eq_ignore_ascii_case(&def.name),
                    1 => field == def.title.ja,
                    _ => BUILTIN.iter().any(|&(f, attr)| f == field && attr == def.name),
                };
                if let Some(f) = (0..fields.len()).find(|&f| !used[f] && matches(&fields[f])) {
                    columns.push((f, a));
                    taken[a] = true;
                    used[f] = true;
                }
            }
        }
        let tags = match fields.iter().position(|f| f == OSM_OTHER_TAGS) {
            Some(f) => {
                used[f] = true;
                (0..layer.attributes.len())
                    .filter(|&a| !taken[a] && !skip.contains(&layer.attributes[a].name.as_str()))
                    .map(|a| (f, layer.attributes[a].name.clone(), a))
                    .collect()
            }
            None => Vec::new(),
        };
        let unused = fields.iter().zip(&used).filter(|(_, u)| !**u).map(|(f, _)| f.clone()).collect();
        Ok(Plan { columns, constants, unused, tags })
    }
}

fn constant(value: &toml::Value, kind: AttrType) -> Result<AttrValue, String> {
    let v = match value {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Real(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => return Err(format!("a {} cannot be a constant", other.type_str())),
    };
    v.to(kind)
}

/// A source value, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    /// `YYYY-MM-DD`.
    Date(String),
    /// RFC 3339.
    DateTime(String),
}

impl Value {
    /// The value as an attribute of type `kind`, or why it cannot be one.
    ///
    /// ```
    /// use machizu::catalog::AttrType;
    /// use machizu::feature::AttrValue;
    /// use machizu::import::mapping::Value;
    /// assert_eq!(Value::Text(" 150 ".into()).to(AttrType::Integer), Ok(AttrValue::Int(150)));
    /// assert_eq!(Value::Real(2007.0).to(AttrType::Integer), Ok(AttrValue::Int(2007)));
    /// assert_eq!(Value::Text("".into()).to(AttrType::Real), Ok(AttrValue::Null));
    /// assert!(Value::Text("不明".into()).to(AttrType::Integer).is_err());
    /// assert_eq!(Value::Text("20010911".into()).to(AttrType::Date), Ok(AttrValue::text("2001-09-11")));
    /// ```
    pub fn to(&self, kind: AttrType) -> Result<AttrValue, String> {
        use AttrType as K;
        let fail = |what: &str| Err(format!("{self} is not {what}"));
        Ok(match (self, kind) {
            (Value::Null, _) => AttrValue::Null,
            (Value::Text(s), _) if s.trim().is_empty() => AttrValue::Null,
            (Value::Text(s), K::Text) => AttrValue::Text(s.clone()),
            (v, K::Text) => AttrValue::Text(v.to_string()),
            (Value::Int(i), K::Integer) => AttrValue::Int(*i),
            (Value::Real(r), K::Integer) if r.fract() == 0.0 && r.abs() < 9e15 => AttrValue::Int(*r as i64),
            (Value::Text(s), K::Integer) => match s.trim().parse::<f64>() {
                Ok(r) if r.fract() == 0.0 && r.abs() < 9e15 => AttrValue::Int(r as i64),
                _ => return fail("an integer"),
            },
            (Value::Int(i), K::Real) => AttrValue::Real(*i as f64),
            (Value::Real(r), K::Real) => AttrValue::Real(*r),
            (Value::Text(s), K::Real) => match s.trim().parse::<f64>() {
                Ok(r) if r.is_finite() => AttrValue::Real(r),
                _ => return fail("a number"),
            },
            (Value::Bool(b), K::Boolean) => AttrValue::Bool(*b),
            (Value::Int(i), K::Boolean) if *i == 0 || *i == 1 => AttrValue::Bool(*i == 1),
            (Value::Text(s), K::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "1" | "はい" | "有" => AttrValue::Bool(true),
                "false" | "f" | "no" | "0" | "いいえ" | "無" => AttrValue::Bool(false),
                _ => return fail("true or false"),
            },
            (Value::Date(d), K::Date) => AttrValue::Text(d.clone()),
            (Value::DateTime(d), K::DateTime) => AttrValue::Text(d.clone()),
            (Value::DateTime(d), K::Date) => AttrValue::Text(d[..10.min(d.len())].to_owned()),
            (Value::Text(s), K::Date) => match date(s.trim()) {
                Some(d) => AttrValue::Text(d),
                None => return fail("a date (YYYY-MM-DD)"),
            },
            (Value::Text(s), K::DateTime) if chrono::DateTime::parse_from_rfc3339(s.trim()).is_ok() => {
                AttrValue::Text(s.trim().to_owned())
            }
            (_, K::Integer) => return fail("an integer"),
            (_, K::Real) => return fail("a number"),
            (_, K::Boolean) => return fail("true or false"),
            (_, K::Date) => return fail("a date"),
            (_, K::DateTime) => return fail("a date and time (RFC 3339)"),
        })
    }
}

/// `YYYY-MM-DD` from `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`.
fn date(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let ok = digits.len() == 8 && s.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '/');
    let d = chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").ok().filter(|_| ok)?;
    Some(d.format("%Y-%m-%d").to_string())
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(d) | Value::DateTime(d) => f.write_str(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn file_entries_then_names_then_titles_then_builtin() {
        let roads = Catalog::builtin().get("roads").unwrap().clone();
        let m: Mapping =
            toml::from_str("[attributes]\nroute_no = \"item1\"\n[constants]\nroad_class = \"市道\"").unwrap();
        let fields = names(&["item1", "路線名", "WIDTH_M", "extra"]);
        let plan = m.plan(&roads, &fields, "x.shp", &["source"]).unwrap();
        let by_attr = |a: &str| plan.columns.iter().find(|c| c.1 == roads.attribute_index(a).unwrap()).map(|c| c.0);
        assert_eq!(by_attr("route_no"), Some(0));
        assert_eq!(by_attr("name"), Some(1));
        assert_eq!(by_attr("width_m"), Some(2));
        assert_eq!(plan.constants, vec![(roads.attribute_index("road_class").unwrap(), AttrValue::text("市道"))]);
        assert_eq!(plan.unused, vec!["extra".to_string()]);
    }

    #[test]
    fn mistakes_in_a_mapping_are_named() {
        let roads = Catalog::builtin().get("roads").unwrap().clone();
        let m: Mapping = toml::from_str("[attributes]\nnmae = \"a\"").unwrap();
        assert!(matches!(m.plan(&roads, &names(&["a"]), "x", &[]), Err(MappingError::NoAttribute { .. })));
        let m: Mapping = toml::from_str("[attributes]\nname = \"b\"").unwrap();
        let e = m.plan(&roads, &names(&["a"]), "x.shp", &[]).unwrap_err().to_string();
        assert!(e.contains("\"b\"") && e.contains("it has: a"), "{e}");
        let m: Mapping = toml::from_str("[constants]\nwidth_m = \"wide\"").unwrap();
        assert!(matches!(m.plan(&roads, &[], "x", &[]), Err(MappingError::BadConstant { .. })));
        assert!(toml::from_str::<Mapping>("[colums]").is_err());
    }
}
