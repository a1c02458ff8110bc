//! The feeds of current notices: Atom with CAP elements in each entry (CAP-over-Atom, as alert
//! hubs read it: each entry links its CAP message as `application/cap+xml`), and JSON Feed 1.1
//! for the city website and the maps, each item carrying the notice's fields and area under
//! `_machizu`.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::{Value, json};

use super::Stored;
use super::cap::{self, Sender};

/// A notice's fields as the API shows them (the JSON feed's `_machizu`, `GET /notices/{id}`).
pub fn notice_json(s: &Stored, base: &str) -> Value {
    let n = &s.notice;
    let (category_ja, category_en) = n.category.names();
    json!({
        "id": s.id,
        "version": s.version,
        "status": s.status,
        "source": n.source,
        "title": n.title,
        "body": n.body,
        "title_en": n.title_en,
        "body_en": n.body_en,
        "category": n.category,
        "category_name": category_ja,
        "category_name_en": category_en,
        "severity": n.severity,
        "urgency": n.urgency,
        "certainty": n.certainty,
        "starts_at": n.starts_at,
        "ends_at": n.ends_at,
        "area": n.area.geometry,
        "area_desc": n.area.desc,
        "area_desc_en": n.area.desc_en,
        "area_spec": n.area.spec,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "published_at": s.messages.first().map(|m| &m.sent),
        "cap": (!s.messages.is_empty()).then(|| format!("{base}/notices/{}.cap", s.id)),
    })
}

/// JSON Feed 1.1 of `notices`.
pub fn json_feed(notices: &[Stored], sender: &Sender<'_>, extra: impl Fn(&Stored) -> Option<Value>) -> Value {
    let base = sender.base;
    let items: Vec<Value> = notices
        .iter()
        .map(|s| {
            let mut machizu = notice_json(s, base);
            if let Some(Value::Object(more)) = extra(s) {
                machizu.as_object_mut().expect("an object").extend(more);
            }
            json!({
                "id": format!("{base}/notices/{}", s.id),
                "url": format!("{base}/map#notice={}", s.id),
                "title": s.notice.title,
                "content_text": s.notice.body,
                "date_published": s.messages.first().map_or(&s.created_at, |m| &m.sent),
                "date_modified": s.updated_at,
                "language": "ja",
                "tags": [s.notice.category.names().0],
                "_machizu": machizu,
            })
        })
        .collect();
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": format!("{}からのお知らせ", sender.name_ja),
        "home_page_url": format!("{base}/map"),
        "feed_url": format!("{base}/notices"),
        "language": "ja",
        "authors": [{"name": sender.name_ja}],
        "items": items,
    })
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value)).map(|_| ())
}

fn link(w: &mut W, rel: &str, kind: &str, href: &str) -> std::io::Result<()> {
    w.create_element("link").with_attributes([("rel", rel), ("type", kind), ("href", href)]).write_empty().map(|_| ())
}

/// The Atom feed of `notices` (current ones), updated at `updated` (UTC).
pub fn atom(notices: &[Stored], sender: &Sender<'_>, city_code: &str, updated: &str) -> String {
    let base = sender.base;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let write = |w: &mut W| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let feed = w.create_element("feed").with_attributes([
            ("xmlns", "http://www.w3.org/2005/Atom"),
            ("xmlns:cap", cap::NAMESPACE),
            ("xml:lang", "ja"),
        ]);
        feed.write_inner_content(|w| {
            text(w, "id", &format!("{base}/notices.atom"))?;
            text(w, "title", &format!("{}からのお知らせ", sender.name_ja))?;
            text(w, "updated", updated)?;
            w.create_element("author").write_inner_content(|w| text(w, "name", sender.name_ja))?;
            link(w, "self", "application/atom+xml", &format!("{base}/notices.atom"))?;
            link(w, "alternate", "text/html", &format!("{base}/map"))?;
            for s in notices {
                let n = &s.notice;
                let Some(last) = s.messages.last() else { continue };
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &format!("{base}/notices/{}", s.id))?;
                    text(w, "title", &n.title)?;
                    text(w, "published", s.messages.first().map_or(&last.sent, |m| &m.sent))?;
                    text(w, "updated", &s.updated_at)?;
                    w.create_element("author").write_inner_content(|w| text(w, "name", sender.name_ja))?;
                    text(w, "summary", &n.body)?;
                    w.create_element("category")
                        .with_attributes([("term", n.category.as_str()), ("label", n.category.names().0)])
                        .write_empty()?;
                    link(w, "alternate", cap::MEDIA_TYPE, &format!("{base}/notices/{}.cap", s.id))?;
                    link(w, "related", "text/html", &format!("{base}/map#notice={}", s.id))?;
                    text(w, "cap:identifier", &cap::identifier(city_code, s.id, last))?;
                    text(w, "cap:sender", sender.sender)?;
                    text(w, "cap:sent", &cap::cap_time(&last.sent))?;
                    text(w, "cap:status", "Actual")?;
                    text(w, "cap:msgType", &last.msg_type)?;
                    text(w, "cap:event", n.category.names().0)?;
                    text(w, "cap:urgency", &format!("{:?}", n.urgency))?;
                    text(w, "cap:severity", &format!("{:?}", n.severity))?;
                    text(w, "cap:certainty", &format!("{:?}", n.certainty))?;
                    text(w, "cap:effective", &cap::cap_time(&n.starts_at))?;
                    text(w, "cap:expires", &cap::cap_time(&n.ends_at))?;
                    text(w, "cap:areaDesc", &n.area.desc)
                })?;
            }
            Ok(())
        })?;
        Ok(())
    };
    write(&mut w).expect("writing to memory does not fail");
    String::from_utf8(w.into_inner()).expect("the writer writes UTF-8")
}
