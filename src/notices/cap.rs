//! A notice as an OASIS CAP 1.2 alert (`urn:oasis:names:tc:emergency:cap:1.2`), valid against
//! the standard's schema (tests check it with `xmllint` against `tests/notices/CAP-v1.2.xsd`).
//!
//! Each message a notice sent is one CAP message: the first an `Alert`, later ones an `Update`
//! or `Cancel` whose `references` name every earlier message (`sender,identifier,sent`). Times
//! are in Japan Standard Time with a numeric offset (CAP forbids `Z`). Each language is one
//! `<info>`: Japanese, and English when the notice has it. The area is the resolved polygon(s),
//! a circle for a buffer around a point, and a geocode for a district.

use geo_types::MultiPolygon;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::Stored;
use super::model::Notice;
use crate::store::notices::MessageRow;

pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
pub const MEDIA_TYPE: &str = "application/cap+xml";
/// The geocode name of a district (the `districts` layer's code or name).
pub const DISTRICT_GEOCODE: &str = "machizu:district";
/// The eventCode name of a notice's machizu category.
pub const CATEGORY_CODE: &str = "machizu:category";

/// Who sends: CAP `sender` and `senderName`, and where links start.
pub struct Sender<'a> {
    pub sender: &'a str,
    pub name_ja: &'a str,
    pub name_en: &'a str,
    /// `scheme://host` of machizu, for the `web` link.
    pub base: &'a str,
}

/// A UTC time (RFC 3339) in Japan Standard Time, as CAP writes times: `2026-12-04T18:00:00+09:00`.
pub fn cap_time(utc: &str) -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(&jst).format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_else(|_| utc.to_owned())
}

/// A message's CAP identifier: unique for the sender, with no spaces, commas, `<` or `&`.
pub fn identifier(city_code: &str, notice: i64, message: &MessageRow) -> String {
    format!("machizu-{city_code}-notice-{notice}-{}", message.id)
}

/// CAP `polygon` text of each outer ring: `lat,lon` pairs, first equal to last.
fn polygons(area: &MultiPolygon<f64>) -> Vec<String> {
    area.0
        .iter()
        .map(|p| {
            let pairs: Vec<String> = p.exterior().0.iter().map(|c| format!("{:.6},{:.6}", c.y, c.x)).collect();
            pairs.join(" ")
        })
        .collect()
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value)).map(|_| ())
}

fn pair(w: &mut W, name: &str, value_name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_inner_content(|w| {
            text(w, "valueName", value_name)?;
            text(w, "value", value)
        })
        .map(|_| ())
}

/// One `<info>` block in a language.
fn info(w: &mut W, n: &Notice, en: bool, web: &str, sender: &Sender<'_>) -> std::io::Result<()> {
    let (category_ja, category_en) = n.category.names();
    w.create_element("info")
        .write_inner_content(|w| {
            text(w, "language", if en { "en-US" } else { "ja-JP" })?;
            for c in n.category.cap() {
                text(w, "category", c)?;
            }
            text(w, "event", if en { category_en } else { category_ja })?;
            text(w, "urgency", &format!("{:?}", n.urgency))?;
            text(w, "severity", &format!("{:?}", n.severity))?;
            text(w, "certainty", &format!("{:?}", n.certainty))?;
            pair(w, "eventCode", CATEGORY_CODE, n.category.as_str())?;
            text(w, "effective", &cap_time(&n.starts_at))?;
            text(w, "expires", &cap_time(&n.ends_at))?;
            text(w, "senderName", if en { sender.name_en } else { sender.name_ja })?;
            let (title, body) = match (en, &n.title_en, &n.body_en) {
                (true, Some(t), b) => (t.as_str(), b.as_deref().unwrap_or(&n.body)),
                _ => (n.title.as_str(), n.body.as_str()),
            };
            text(w, "headline", title)?;
            text(w, "description", body)?;
            text(w, "web", web)?;
            w.create_element("area").write_inner_content(|w| {
                text(w, "areaDesc", if en { &n.area.desc_en } else { &n.area.desc })?;
                for p in polygons(&n.area.polygons()) {
                    text(w, "polygon", &p)?;
                }
                if let Some([lon, lat, r]) = n.area.circle {
                    text(w, "circle", &format!("{lat:.6},{lon:.6} {:.3}", r / 1000.0))?;
                }
                if let Some(d) = &n.area.district {
                    pair(w, "geocode", DISTRICT_GEOCODE, d)?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .map(|_| ())
}

/// The CAP 1.2 document of a notice's latest message (`None` for a notice never sent: a draft).
pub fn alert(s: &Stored, sender: &Sender<'_>, city_code: &str) -> Option<String> {
    let (last, earlier) = s.messages.split_last()?;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let web = format!("{}/map#notice={}", sender.base, s.id);
    let write = |w: &mut W| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("alert").with_attribute(("xmlns", NAMESPACE)).write_inner_content(|w| {
            text(w, "identifier", &identifier(city_code, s.id, last))?;
            text(w, "sender", sender.sender)?;
            text(w, "sent", &cap_time(&last.sent))?;
            text(w, "status", "Actual")?;
            text(w, "msgType", &last.msg_type)?;
            text(w, "scope", "Public")?;
            if !earlier.is_empty() {
                let refs: Vec<String> = earlier
                    .iter()
                    .map(|m| format!("{},{},{}", sender.sender, identifier(city_code, s.id, m), cap_time(&m.sent)))
                    .collect();
                text(w, "references", &refs.join(" "))?;
            }
            info(w, &s.notice, false, &web, sender)?;
            if s.notice.title_en.is_some() {
                info(w, &s.notice, true, &web, sender)?;
            }
            Ok(())
        })?;
        Ok(())
    };
    write(&mut w).expect("writing to memory does not fail");
    Some(String::from_utf8(w.into_inner()).expect("the writer writes UTF-8"))
}
