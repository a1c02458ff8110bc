"""Reads machizu's notices as an alert hub would, with independent tools: the Atom feed with
feedparser, each entry's CAP link and any CAP URL given on the command line with lxml, validated
against the official OASIS CAP 1.2 schema (CAP-v1.2.xsd, next to this file).

    check_feeds.py BASE_URL [CAP_URL ...]

Prints one JSON line: the feed's entries and every CAP message, parsed. Exits non-zero when the
feed does not parse or a CAP message is not valid.
"""

import json
import sys
import urllib.request
from pathlib import Path

import feedparser
from lxml import etree

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("CAP-v1.2.xsd"))))


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.headers.get("Content-Type"), r.read()


def cap_message(url):
    content_type, body = fetch(url)
    doc = etree.fromstring(body)
    if not SCHEMA.validate(doc):
        raise SystemExit(f"{url} is not valid CAP 1.2: {SCHEMA.error_log}")

    def texts(node, name):
        return [e.text for e in node.findall(CAP + name)]

    infos = []
    for info in doc.findall(CAP + "info"):
        areas = []
        for area in info.findall(CAP + "area"):
            areas.append({
                "areaDesc": area.findtext(CAP + "areaDesc"),
                "polygons": texts(area, "polygon"),
                "circles": texts(area, "circle"),
                "geocodes": [[g.findtext(CAP + "valueName"), g.findtext(CAP + "value")]
                             for g in area.findall(CAP + "geocode")],
            })
        infos.append({
            "language": info.findtext(CAP + "language"),
            "categories": texts(info, "category"),
            "event": info.findtext(CAP + "event"),
            "urgency": info.findtext(CAP + "urgency"),
            "severity": info.findtext(CAP + "severity"),
            "certainty": info.findtext(CAP + "certainty"),
            "effective": info.findtext(CAP + "effective"),
            "expires": info.findtext(CAP + "expires"),
            "headline": info.findtext(CAP + "headline"),
            "description": info.findtext(CAP + "description"),
            "web": info.findtext(CAP + "web"),
            "areas": areas,
        })
    return {
        "url": url,
        "content_type": content_type,
        "identifier": doc.findtext(CAP + "identifier"),
        "sender": doc.findtext(CAP + "sender"),
        "sent": doc.findtext(CAP + "sent"),
        "msgType": doc.findtext(CAP + "msgType"),
        "references": doc.findtext(CAP + "references"),
        "infos": infos,
    }


def main():
    base, extra = sys.argv[1], sys.argv[2:]
    content_type, body = fetch(base + "/notices.atom")
    feed = feedparser.parse(body)
    if feed.bozo:
        raise SystemExit(f"the Atom feed does not parse: {feed.bozo_exception}")
    entries, caps = [], []
    for e in feed.entries:
        cap_links = [l.href for l in e.links if l.get("type") == "application/cap+xml"]
        entries.append({
            "id": e.id,
            "title": e.title,
            "summary": e.summary,
            "updated": e.updated,
            "category": e.tags[0].term if e.get("tags") else None,
            "cap_links": cap_links,
            "cap_msgtype": e.get("cap_msgtype"),
            "cap_severity": e.get("cap_severity"),
            "cap_areadesc": e.get("cap_areadesc"),
        })
        caps.extend(cap_message(url) for url in cap_links)
    caps.extend(cap_message(url) for url in extra)
    print(json.dumps({
        "feed": {"version": feed.version, "title": feed.feed.get("title"), "content_type": content_type},
        "entries": entries,
        "caps": caps,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
