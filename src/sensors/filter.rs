//! The SensorThings `$filter` language (OGC 18-088, 9.3.3.5): OData's logical, comparison and
//! arithmetic operators, its string, date, math and geospatial functions, `geography'…'`
//! literals (WKT, WGS 84) and paths through related entities (`Datastream/Thing/name`,
//! `properties/owner`), parsed into an [`Expr`] that the stores turn into SQL.
//!
//! The grammar is a `peg` parser with OData's precedence, lowest first: `or`, `and`, `not`,
//! the comparisons, `add`/`sub`, `mul`/`div`/`mod`, unary minus. Operators and function names
//! are lower case, as in the standard. A refusal says where and what was expected.

use chrono::{DateTime, FixedOffset};
use geozero::ToGeo;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// A property, or a path through related entities to one (`Datastream/Thing/name`).
    Path(Vec<String>),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Time(DateTime<FixedOffset>),
    /// A `geography'…'` literal, in WGS 84 longitude/latitude.
    Geography(geo_types::Geometry<f64>),
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

macro_rules! functions {
    ($($variant:ident = $name:literal ($min:literal, $max:literal)),* $(,)?) => {
        /// The built-in functions of the standard's table 25, with how many arguments each takes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Function { $($variant),* }

        impl Function {
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(Self::$variant),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            /// The fewest and most arguments it takes.
            pub fn arity(self) -> (usize, usize) {
                match self { $(Self::$variant => ($min, $max)),* }
            }
        }
    };
}

functions! {
    SubstringOf = "substringof" (2, 2),
    EndsWith = "endswith" (2, 2),
    StartsWith = "startswith" (2, 2),
    Length = "length" (1, 1),
    IndexOf = "indexof" (2, 2),
    Substring = "substring" (2, 3),
    ToLower = "tolower" (1, 1),
    ToUpper = "toupper" (1, 1),
    Trim = "trim" (1, 1),
    Concat = "concat" (2, 2),
    Year = "year" (1, 1),
    Month = "month" (1, 1),
    Day = "day" (1, 1),
    Hour = "hour" (1, 1),
    Minute = "minute" (1, 1),
    Second = "second" (1, 1),
    FractionalSeconds = "fractionalseconds" (1, 1),
    Date = "date" (1, 1),
    Time = "time" (1, 1),
    TotalOffsetMinutes = "totaloffsetminutes" (1, 1),
    Now = "now" (0, 0),
    MinDateTime = "mindatetime" (0, 0),
    MaxDateTime = "maxdatetime" (0, 0),
    Round = "round" (1, 1),
    Floor = "floor" (1, 1),
    Ceiling = "ceiling" (1, 1),
    GeoDistance = "geo.distance" (2, 2),
    GeoLength = "geo.length" (1, 1),
    GeoIntersects = "geo.intersects" (2, 2),
    StEquals = "st_equals" (2, 2),
    StDisjoint = "st_disjoint" (2, 2),
    StTouches = "st_touches" (2, 2),
    StWithin = "st_within" (2, 2),
    StOverlaps = "st_overlaps" (2, 2),
    StCrosses = "st_crosses" (2, 2),
    StIntersects = "st_intersects" (2, 2),
    StContains = "st_contains" (2, 2),
    StRelate = "st_relate" (3, 3),
}

/// Why a `$filter` was refused: where (0-based character offset) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("$filter at character {at}: {message}")]
pub struct FilterError {
    pub at: usize,
    pub message: String,
}

/// Parses a `$filter` value (already percent-decoded).
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    grammar::filter(text).map_err(|e| {
        let at = text.get(..e.location.offset).map_or(e.location.offset, |s| s.chars().count());
        // A message from an action (a bad literal, an unknown function) is the only thing
        // expected there; otherwise say what the grammar wanted.
        let custom: Vec<&str> = e.expected.tokens().filter(|t| !t.starts_with(['"', '[', '\''])).collect();
        let message = match custom.as_slice() {
            [only] => (*only).to_owned(),
            _ => format!("expected {}", e.expected),
        };
        FilterError { at, message }
    })
}

fn binary(op: Op, a: Expr, b: Expr) -> Expr {
    Expr::Binary(op, Box::new(a), Box::new(b))
}

fn call(name: &str, args: Vec<Expr>) -> Result<Expr, &'static str> {
    let f = Function::parse(name).ok_or("an OData function (substringof, year, geo.intersects, st_within, …)")?;
    let (min, max) = f.arity();
    if args.len() < min || args.len() > max {
        return Err(match (min, max) {
            (0, 0) => "no arguments",
            (1, 1) => "one argument",
            (2, 2) => "two arguments",
            (2, 3) => "two or three arguments",
            _ => "three arguments",
        });
    }
    Ok(Expr::Call(f, args))
}

fn geography(wkt: &str) -> Result<Expr, &'static str> {
    geozero::wkt::Wkt(wkt)
        .to_geo()
        .map(|g| Expr::Literal(Literal::Geography(g)))
        .map_err(|_| "a geography literal in WKT, such as geography'POINT(140.4 38.6)'")
}

peg::parser! {
    grammar grammar() for str {
        rule _() = quiet!{[' ' | '\t' | '\n' | '\r']*}
        rule __() = quiet!{[' ' | '\t' | '\n' | '\r']+}
        rule word(w: &'static str) = s:quiet!{$(['a'..='z' | 'A'..='Z' | '0'..='9' | '_']+)} !"." {?
            if s == w { Ok(()) } else { Err(w) }
        }

        pub rule filter() -> Expr = _ e:expr() _ { e }

        rule expr() -> Expr = precedence! {
            a:(@) __ word("or") __ b:@ { binary(Op::Or, a, b) }
            --
            a:(@) __ word("and") __ b:@ { binary(Op::And, a, b) }
            --
            word("not") _ e:@ { Expr::Not(Box::new(e)) }
            --
            a:(@) __ op:comparison() __ b:@ { binary(op, a, b) }
            --
            a:(@) __ word("add") __ b:@ { binary(Op::Add, a, b) }
            a:(@) __ word("sub") __ b:@ { binary(Op::Sub, a, b) }
            --
            a:(@) __ word("mul") __ b:@ { binary(Op::Mul, a, b) }
            a:(@) __ word("div") __ b:@ { binary(Op::Div, a, b) }
            a:(@) __ word("mod") __ b:@ { binary(Op::Mod, a, b) }
            --
            "-" _ e:@ { Expr::Negate(Box::new(e)) }
            --
            "(" _ e:expr() _ ")" { e }
            e:primary() { e }
        }

        rule comparison() -> Op
            = word("eq") { Op::Eq } / word("ne") { Op::Ne } / word("gt") { Op::Gt }
            / word("ge") { Op::Ge } / word("lt") { Op::Lt } / word("le") { Op::Le }

        rule primary() -> Expr
            = time() / number() / text() / geography_literal()
            / word("null") { Expr::Literal(Literal::Null) }
            / word("true") { Expr::Literal(Literal::Bool(true)) }
            / word("false") { Expr::Literal(Literal::Bool(false)) }
            / function() / path()

        rule function() -> Expr
            = name:$(identifier() ("." identifier())?) _ "(" _ args:(expr() ** (_ "," _)) _ ")" {?
                call(name, args)
            }

        rule identifier() -> &'input str
            = quiet!{$(['a'..='z' | 'A'..='Z' | '_'] ['a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '@']*)}
            / expected!("a property name")

        rule path() -> Expr = p:(identifier() ++ "/") { Expr::Path(p.into_iter().map(str::to_owned).collect()) }

        rule text() -> Expr
            = "'" s:$(("''" / [^'\''])*) "'" { Expr::Literal(Literal::Text(s.replace("''", "'"))) }

        rule geography_literal() -> Expr = "geography'" wkt:$([^'\'']*) "'" {? geography(wkt) }

        rule number() -> Expr
            = n:$("-"? ['0'..='9']+ ("." ['0'..='9']+)? (['e' | 'E'] ['+' | '-']? ['0'..='9']+)?)
              !['0'..='9' | '-' | ':' | 'T' | 'a'..='z' | 'A'..='Z'] {?
                n.parse().map(|v| Expr::Literal(Literal::Number(v))).map_err(|_| "a number")
            }

        rule time() -> Expr
            = t:$(['0'..='9']*<4> "-" ['0'..='9']*<2> "-" ['0'..='9']*<2> "T" ['0'..='9' | ':' | '.']+
                  ("Z" / ['+' | '-'] ['0'..='9']*<2> ":" ['0'..='9']*<2>)) {?
                DateTime::parse_from_rfc3339(t)
                    .map(|t| Expr::Literal(Literal::Time(t)))
                    .map_err(|_| "a time in ISO 8601 with its offset, such as 2026-12-04T05:40:00+09:00")
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Expr {
        Expr::Path(p.split('/').map(str::to_owned).collect())
    }
    fn num(v: f64) -> Expr {
        Expr::Literal(Literal::Number(v))
    }

    /// The filters the standard gives as examples (OGC 18-088, 9.3.3.5.2 and 9.3.3.5.3), and
    /// the ones FROST clients send.
    #[test]
    fn the_standards_examples_parse() {
        for f in [
            "result lt 10.00",
            "Thing/name eq 'ThingName'",
            "Datastreams/Observations/result lt 10",
            "unitOfMeasurement/name eq 'degree Celsius'",
            "geo.distance(location, geography'POINT(-122 43)') lt 5",
            "geo.intersects(location, geography'POLYGON((10 10, 20 10, 20 20, 10 20, 10 10))')",
            "st_within(location, geography'POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))')",
            "st_relate(location, geography'POINT(1 1)', 'T********')",
            "phenomenonTime ge 2016-11-24T00:00:00Z and phenomenonTime lt 2016-11-25T00:00:00+09:00",
            "substringof('room', name)",
            "year(resultTime) eq 2026 and month(resultTime) ge 11",
            "result add 5 gt 10 or (result mul 2) sub 1 le -3",
            "not (result lt 3 or result gt 9)",
            "properties/owner eq 'Obanazawa City'",
            "resultTime eq null and name ne 'it''s'",
            "round(result) eq 4 and length(description) gt 0",
            "phenomenonTime lt now()",
        ] {
            assert!(parse(f).is_ok(), "{f}: {:?}", parse(f));
        }
    }

    #[test]
    fn precedence_is_odatas() {
        // and binds tighter than or; mul tighter than add; comparisons between.
        let e = parse("a eq 1 or b eq 2 and c add 2 mul 3 gt 4").unwrap();
        let expected = binary(
            Op::Or,
            binary(Op::Eq, path("a"), num(1.0)),
            binary(
                Op::And,
                binary(Op::Eq, path("b"), num(2.0)),
                binary(Op::Gt, binary(Op::Add, path("c"), binary(Op::Mul, num(2.0), num(3.0))), num(4.0)),
            ),
        );
        assert_eq!(e, expected);
        // Left-associative: 10 sub 2 sub 3 is (10 sub 2) sub 3.
        assert_eq!(parse("10 sub 2 sub 3").unwrap(), binary(Op::Sub, binary(Op::Sub, num(10.0), num(2.0)), num(3.0)));
    }

    #[test]
    fn literals_are_typed() {
        assert_eq!(
            parse("name eq 'it''s'").unwrap(),
            binary(Op::Eq, path("name"), Expr::Literal(Literal::Text("it's".into())))
        );
        let Expr::Binary(_, _, t) = parse("resultTime gt 2026-12-04T05:40:00.5+09:00").unwrap() else { panic!() };
        let Expr::Literal(Literal::Time(t)) = *t else { panic!("{t:?}") };
        assert_eq!(t.timestamp_millis(), 1_796_330_400_500);
        let Expr::Call(Function::GeoIntersects, args) =
            parse("geo.intersects(location, geography'POINT(140.41 38.60)')").unwrap()
        else {
            panic!()
        };
        assert_eq!(args[1], Expr::Literal(Literal::Geography(geo_types::Point::new(140.41, 38.60).into())));
        // Names that begin with an operator's letters are names.
        assert_eq!(parse("order eq notes").unwrap(), binary(Op::Eq, path("order"), path("notes")));
    }

    #[test]
    fn refusals_say_where_and_what() {
        let e = parse("result lt").unwrap_err();
        assert_eq!(e.at, 9, "{e}");
        // After a word that is no operator, the operators are what was expected.
        let e = parse("result lt 5 nand x").unwrap_err();
        assert!(e.at >= 12 && e.message.contains("and, div, eq"), "{e}");
        let e = parse("frobnicate(name) eq 1").unwrap_err();
        assert!(e.message.contains("OData function"), "{e}");
        let e = parse("year(a, b) eq 1").unwrap_err();
        assert_eq!(e.message, "one argument", "{e}");
        let e = parse("geo.intersects(location, geography'POINT(1)')").unwrap_err();
        assert!(e.message.contains("WKT"), "{e}");
        let e = parse("phenomenonTime gt 2026-13-40T00:00:00Z").unwrap_err();
        assert!(e.message.contains("ISO 8601"), "{e}");
        assert!(parse("name eq 'open").is_err());
        assert!(parse("").is_err());
    }
}
