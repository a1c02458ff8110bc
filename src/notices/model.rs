//! A notice as staff write it and as machizu keeps it: texts in Japanese (English optional), a
//! category, CAP's severity, urgency and certainty, a time window and an area. [`Draft`] is the
//! request body of `POST /notices` (and, with every field optional, [`Patch`] that of `PATCH`);
//! [`Notice`] is the stored document, with the area resolved to a WGS 84 multipolygon.

use serde::{Deserialize, Serialize};

use super::area::Area;

/// What a notice is about. Each maps to CAP 1.2 categories ([`Category::cap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Snow and plowing (除雪・雪).
    Snow,
    /// Road closures (通行止め・道路).
    Road,
    /// Water levels and rivers (河川・水位).
    River,
    /// Water supply and sewer (上下水道).
    Lifeline,
    /// Disasters (防災).
    Disaster,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] =
        [Category::Snow, Category::Road, Category::River, Category::Lifeline, Category::Disaster, Category::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Snow => "snow",
            Category::Road => "road",
            Category::River => "river",
            Category::Lifeline => "lifeline",
            Category::Disaster => "disaster",
            Category::Other => "other",
        }
    }

    /// `(ja, en)` names, as the maps and feeds show them.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Category::Snow => ("除雪・雪", "Snow and plowing"),
            Category::Road => ("道路・通行止め", "Road closure"),
            Category::River => ("河川・水位", "Water and rivers"),
            Category::Lifeline => ("上下水道", "Water supply and sewer"),
            Category::Disaster => ("防災", "Disaster"),
            Category::Other => ("その他", "Other"),
        }
    }

    /// The CAP 1.2 `category` values.
    pub fn cap(self) -> &'static [&'static str] {
        match self {
            Category::Snow => &["Met", "Transport"],
            Category::Road => &["Transport"],
            Category::River => &["Met", "Safety"],
            Category::Lifeline => &["Infra"],
            Category::Disaster => &["Safety"],
            Category::Other => &["Other"],
        }
    }
}

/// CAP 1.2 `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Severity {
    Extreme,
    Severe,
    Moderate,
    Minor,
    Unknown,
}

/// CAP 1.2 `urgency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Urgency {
    Immediate,
    Expected,
    Future,
    Past,
    Unknown,
}

/// CAP 1.2 `certainty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Certainty {
    Observed,
    Likely,
    Possible,
    Unlikely,
    Unknown,
}

/// Where a notice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written, seen by staff only; nothing sent.
    Draft,
    /// Out: in the feeds and pushed.
    Published,
    /// Withdrawn: a CAP Cancel went out; no longer in the feeds.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Status::Draft, Status::Published, Status::Cancelled].into_iter().find(|v| v.as_str() == s)
    }
}

/// Who wrote a notice: staff, or one of machizu's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Staff,
    /// A gauge's state crossed a river level (SensorThings thresholds).
    Sensor,
    /// A road closure published or lifted.
    Road,
    /// The plows cleared a district.
    Plowed,
}

/// The body of `POST /notices`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub title: String,
    pub body: String,
    pub title_en: Option<String>,
    pub body_en: Option<String>,
    pub category: Category,
    pub severity: Severity,
    pub urgency: Urgency,
    pub certainty: Certainty,
    /// RFC 3339; now when left out.
    pub starts_at: Option<String>,
    /// RFC 3339, after `starts_at`.
    pub ends_at: String,
    /// A GeoJSON Polygon or MultiPolygon in WGS 84, `{"district": name}` or
    /// `{"buffer_m": metres, "layer": id, "fid": id}`.
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    /// `published` (the default) sends it at once; `draft` keeps it for staff.
    pub status: Option<Status>,
}

/// The body of `PATCH /notices/{id}`: any field of [`Draft`]; `status: published` publishes a
/// draft. A change to a published notice goes out as a CAP Update.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub title_en: Option<String>,
    pub body_en: Option<String>,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    pub urgency: Option<Urgency>,
    pub certainty: Option<Certainty>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub area: Option<serde_json::Value>,
    pub status: Option<Status>,
}

/// A notice as kept: the stored document (`doc` of `machizu_notices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub title: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_en: Option<String>,
    pub category: Category,
    pub severity: Severity,
    pub urgency: Urgency,
    pub certainty: Certainty,
    /// UTC, RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub area: Area,
    pub source: Source,
    /// An automatic notice's key and state ([`super::auto`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<super::auto::Auto>,
}

/// The longest title and body taken (characters).
pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 4000;

/// Checks the texts: a title and a body in Japanese, within their lengths, English optional.
pub fn check_texts(n: &Notice) -> Result<(), String> {
    let text = |name: &str, value: &str, max: usize, required: bool| {
        if required && value.trim().is_empty() {
            Err(format!("{name} must not be empty"))
        } else if value.chars().count() > max {
            Err(format!("{name} is longer than {max} characters"))
        } else {
            Ok(())
        }
    };
    text("title", &n.title, MAX_TITLE, true)?;
    text("body", &n.body, MAX_BODY, true)?;
    text("title_en", n.title_en.as_deref().unwrap_or(""), MAX_TITLE, false)?;
    text("body_en", n.body_en.as_deref().unwrap_or(""), MAX_BODY, false)
}

/// Parses an RFC 3339 time to UTC.
pub fn parse_time(name: &str, t: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{name} must be an RFC 3339 time such as 2026-12-04T18:00:00+09:00 ({e}), got {t:?}"))
}
