//! A SensorThings request without HTTP: the resource path (`Things(1)/Datastreams`,
//! `Datastreams(2)/Observations`, `Things(1)/name/$value`, `…/$ref`) and the query options
//! (`$filter`, `$expand` with its own nested options, `$select`, `$orderby`, `$top`, `$skip`,
//! `$count`, `$resultFormat`).

use super::filter::{self, Expr};

/// The most entities one page holds, and how many without `$top`.
pub const MAX_TOP: u64 = 10_000;
pub const DEFAULT_TOP: u64 = 100;

/// Why a request was refused: what the client sent wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// One step of a resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An entity set or a property, with the id in `Name(id)` if any.
    Name(String, Option<i64>),
    /// `$value`: a property's raw value.
    Value,
    /// `$ref`: links only.
    Ref,
}

/// Splits a resource path (after `/sta/v1.1/`) into steps.
pub fn path(text: &str) -> Result<Vec<Step>, BadRequest> {
    text.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "$value" => Ok(Step::Value),
            "$ref" => Ok(Step::Ref),
            _ => match s.split_once('(') {
                None => Ok(Step::Name(s.to_owned(), None)),
                Some((name, rest)) => {
                    let id = rest
                        .strip_suffix(')')
                        .and_then(|id| id.trim_matches('\'').parse::<i64>().ok())
                        .ok_or_else(|| BadRequest(format!("{s:?} is not Name(id) with a whole-number id")))?;
                    Ok(Step::Name(name.to_owned(), Some(id)))
                }
            },
        })
        .collect()
}

/// The query options of a request, or of one `$expand`ed navigation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub filter: Option<Expr>,
    pub expand: Vec<Expand>,
    /// The properties asked for (`None`: all).
    pub select: Option<Vec<String>>,
    /// Sort keys, each descending or not.
    pub orderby: Vec<(Expr, bool)>,
    pub top: Option<u64>,
    pub skip: u64,
    pub count: bool,
    /// `$resultFormat=dataArray`.
    pub data_array: bool,
}

/// One `$expand`ed navigation property, with its own options.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    pub nav: String,
    pub options: Options,
}

impl Options {
    /// The page size asked for (at most [`MAX_TOP`]).
    pub fn top(&self) -> u64 {
        self.top.unwrap_or(DEFAULT_TOP)
    }

    /// Parses `(name, value)` pairs of a query string (percent-decoded). Options that are not
    /// SensorThings' (no `$`) are ignored; an unknown `$` option is refused.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Options, BadRequest> {
        let mut o = Options::default();
        for (name, value) in pairs {
            o.set(name, value)?;
        }
        Ok(o)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), BadRequest> {
        let value = value.trim();
        match name {
            "$filter" => self.filter = Some(filter::parse(value).map_err(|e| BadRequest(e.to_string()))?),
            "$expand" => {
                for item in split_top(value, ',') {
                    self.add_expand(item)?;
                }
            }
            "$select" => {
                self.select = Some(split_top(value, ',').into_iter().map(|s| s.trim().to_owned()).collect());
            }
            "$orderby" => {
                self.orderby = split_top(value, ',')
                    .into_iter()
                    .map(|term| {
                        let term = term.trim();
                        let (expr, desc) = match term.rsplit_once(' ').map(|(e, d)| (e, d.to_ascii_lowercase())) {
                            Some((e, d)) if d == "desc" => (e, true),
                            Some((e, d)) if d == "asc" => (e, false),
                            _ => (term, false),
                        };
                        let expr = filter::parse(expr).map_err(|e| BadRequest(format!("$orderby {term:?}: {e}")))?;
                        Ok((expr, desc))
                    })
                    .collect::<Result<_, BadRequest>>()?;
            }
            "$top" => {
                let top = number(name, value)?;
                if top > MAX_TOP {
                    return Err(BadRequest(format!("$top is at most {MAX_TOP}")));
                }
                self.top = Some(top);
            }
            "$skip" => self.skip = number(name, value)?,
            "$count" => {
                self.count = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(BadRequest(format!("$count is true or false, not {value:?}"))),
                }
            }
            "$resultFormat" => {
                self.data_array = match value {
                    "dataArray" => true,
                    "default" => false,
                    _ => return Err(BadRequest(format!("$resultFormat is dataArray or default, not {value:?}"))),
                }
            }
            _ if name.starts_with('$') => return Err(BadRequest(format!("unknown query option {name}"))),
            _ => {}
        }
        Ok(())
    }

    /// Adds `Nav/Nav2(options)`: `Nav` expanded, and `Nav2` within it.
    fn add_expand(&mut self, item: &str) -> Result<(), BadRequest> {
        let item = item.trim();
        let (path, nested) = match item.find('(') {
            Some(at) => {
                let inner = item[at + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| BadRequest(format!("$expand {item:?}: unbalanced parentheses")))?;
                (&item[..at], Some(inner))
            }
            None => (item, None),
        };
        let (first, rest) = match path.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path, None),
        };
        if first.is_empty() {
            return Err(BadRequest(format!("$expand {item:?}: a navigation property is missing")));
        }
        let at = match self.expand.iter().position(|e| e.nav == first) {
            Some(at) => at,
            None => {
                self.expand.push(Expand { nav: first.to_owned(), options: Options::default() });
                self.expand.len() - 1
            }
        };
        let options = &mut self.expand[at].options;
        match rest {
            Some(rest) => {
                let tail = nested.map_or(rest.to_owned(), |n| format!("{rest}({n})"));
                options.add_expand(&tail)
            }
            None => {
                for option in nested.map(|n| split_top(n, ';')).unwrap_or_default() {
                    let (name, value) = option
                        .split_once('=')
                        .ok_or_else(|| BadRequest(format!("$expand {item:?}: {option:?} is not $option=value")))?;
                    options.set(name.trim(), value)?;
                }
                Ok(())
            }
        }
    }
}

fn number(name: &str, value: &str) -> Result<u64, BadRequest> {
    value.parse().map_err(|_| BadRequest(format!("{name} is a whole number, not {value:?}")))
}

/// Splits at `sep` outside parentheses and quoted text.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path("Things(1)/Datastreams").unwrap(),
            vec![Step::Name("Things".into(), Some(1)), Step::Name("Datastreams".into(), None)]
        );
        assert_eq!(
            path("Things(3)/name/$value").unwrap(),
            vec![Step::Name("Things".into(), Some(3)), Step::Name("name".into(), None), Step::Value]
        );
        assert!(path("Things(x)").is_err());
    }

    #[test]
    fn nested_expand_with_its_own_options() {
        let o = Options::parse([
            (
                "$expand",
                "Datastreams($select=name;$expand=Observations($top=3;$orderby=phenomenonTime desc)),Locations",
            ),
            ("$top", "5"),
            ("$count", "true"),
            ("$orderby", "name DESC, id"),
        ])
        .unwrap();
        assert_eq!((o.top(), o.count, o.orderby.len(), o.orderby[0].1, o.orderby[1].1), (5, true, 2, true, false));
        assert_eq!(o.expand.len(), 2);
        let ds = &o.expand[0];
        assert_eq!((ds.nav.as_str(), ds.options.select.clone()), ("Datastreams", Some(vec!["name".to_owned()])));
        let obs = &ds.options.expand[0];
        assert_eq!((obs.nav.as_str(), obs.options.top, obs.options.orderby[0].1), ("Observations", Some(3), true));
        // The path form nests the same way.
        let o = Options::parse([("$expand", "Datastreams/Sensor($select=name)")]).unwrap();
        assert_eq!(o.expand[0].options.expand[0].options.select, Some(vec!["name".to_owned()]));
        assert!(Options::parse([("$top", "-1")]).is_err());
        assert!(Options::parse([("$tops", "1")]).is_err());
        assert!(Options::parse([("$expand", "Datastreams($top=1")]).is_err());
    }
}
