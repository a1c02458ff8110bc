//! Notices to residents (issue #18): staff write a notice for an area; machizu publishes it as
//! OASIS CAP 1.2, in an Atom and a JSON feed, and (see the push issue points) to phones.
//!
//! - [`model`]: a notice's fields — texts, category, CAP severity/urgency/certainty, times;
//! - [`area`]: its area — drawn, a district, or a buffer around a feature — resolved to WGS 84,
//!   and [`area::Target`], which tests places against it;
//! - [`cap`]: a notice's latest message as a CAP 1.2 alert;
//! - [`feed`]: the Atom (CAP-over-Atom) and JSON feeds;
//! - [`push`]: Web Push to residents' phones for the places they chose;
//! - [`auto`]: notices from machizu's own events (river levels, road closures).
//!
//! [`Notices`] is the service the routes call. A notice's life: written (a draft, or published
//! at once), updated, cancelled. Each step is one store transaction with its audit entry; each
//! step that reaches the public (publish, update of a published notice, cancel) is a CAP
//! message that references the ones before it. Steps are announced on [`Notices::subscribe`].

pub mod area;
pub mod auto;
pub mod cap;
pub mod feed;
pub mod model;
pub mod push;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::broadcast;

use crate::config::{City, NoticesConfig};
use crate::engine::Engine;
use crate::store::notices::{MessageRow, NoticeFilter, NoticeRow, NoticeWrite};
use crate::store::{Store, StoreError};
use model::{Draft, Notice, Patch, Source, Status};

/// Why a notice request failed.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The notice cannot take this step (it was cancelled).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A notice as read back: its stored row with the document parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: i64,
    pub version: i64,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub notice: Notice,
    pub messages: Vec<MessageRow>,
}

impl TryFrom<NoticeRow> for Stored {
    type Error = StoreError;

    fn try_from(r: NoticeRow) -> Result<Self, StoreError> {
        let bad = |message: String| StoreError::Schema { layer: "machizu_notices".into(), message };
        let status = Status::parse(&r.status).ok_or_else(|| bad(format!("notice {}: status {:?}", r.id, r.status)))?;
        let notice = serde_json::from_value(r.doc).map_err(|e| bad(format!("notice {}: {e}", r.id)))?;
        Ok(Stored {
            id: r.id,
            version: r.version,
            status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            created_by: r.created_by,
            notice,
            messages: r.messages,
        })
    }
}

/// The notice service.
pub struct Notices {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    city: City,
    config: NoticesConfig,
    changed: broadcast::Sender<Arc<Stored>>,
}

fn bad(message: impl Into<String>) -> NoticeError {
    NoticeError::BadRequest(message.into())
}

/// A notice's document and status as the audit log keeps them.
fn audit_json(status: Status, n: &Notice) -> String {
    serde_json::json!({"status": status, "notice": n}).to_string()
}

impl Notices {
    pub fn new(store: Arc<dyn Store>, engine: Arc<Engine>, city: City, config: NoticesConfig) -> Self {
        Self { store, engine, city, config, changed: broadcast::channel(256).0 }
    }

    /// Every step of every notice, as it is stored.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Stored>> {
        self.changed.subscribe()
    }

    /// The CAP sender and the names the feeds show, with links starting at `base`.
    pub fn sender<'a>(&'a self, base: &'a str) -> cap::Sender<'a> {
        cap::Sender {
            sender: self.config.sender.as_deref().unwrap_or("machizu"),
            name_ja: &self.city.name_ja,
            name_en: &self.city.name_en,
            base,
        }
    }

    pub fn city_code(&self) -> &str {
        &self.city.code
    }

    fn area(&self, spec: &serde_json::Value) -> Result<area::Area, NoticeError> {
        let ctx = area::Context { engine: &self.engine, store_crs: self.store.crs(), bounds: self.city.bounds };
        area::resolve(spec, &ctx).map_err(NoticeError::BadRequest)
    }

    /// Checks a notice's texts and times, and makes its times UTC.
    fn check(n: &mut Notice, publishing: bool) -> Result<(), NoticeError> {
        model::check_texts(n).map_err(bad)?;
        let starts = model::parse_time("starts_at", &n.starts_at).map_err(bad)?;
        let ends = model::parse_time("ends_at", &n.ends_at).map_err(bad)?;
        if ends <= starts {
            return Err(bad(format!("ends_at ({}) must be after starts_at ({})", n.ends_at, n.starts_at)));
        }
        if publishing && ends <= Utc::now() {
            return Err(bad(format!("ends_at ({}) has passed: a notice must end in the future", n.ends_at)));
        }
        (n.starts_at, n.ends_at) = (crate::store::iso(starts), crate::store::iso(ends));
        Ok(())
    }

    async fn write(&self, w: NoticeWrite) -> Result<Arc<Stored>, NoticeError> {
        let stored = Arc::new(Stored::try_from(self.store.write_notice(&w).await?)?);
        tracing::info!(notice = stored.id, action = w.action, actor = %w.actor, "notice");
        let _ = self.changed.send(stored.clone());
        Ok(stored)
    }

    /// Writes a new notice: published at once (a CAP Alert) unless `draft.status` says draft.
    pub async fn create(&self, draft: Draft, source: Source, actor: &str) -> Result<Arc<Stored>, NoticeError> {
        self.create_with(draft, source, None, actor).await
    }

    async fn create_with(
        &self,
        draft: Draft,
        source: Source,
        auto: Option<auto::Auto>,
        actor: &str,
    ) -> Result<Arc<Stored>, NoticeError> {
        let status = draft.status.unwrap_or(Status::Published);
        if status == Status::Cancelled {
            return Err(bad("a new notice is published or a draft, not cancelled"));
        }
        let mut notice = Notice {
            title: draft.title,
            body: draft.body,
            title_en: draft.title_en.filter(|t| !t.trim().is_empty()),
            body_en: draft.body_en.filter(|t| !t.trim().is_empty()),
            category: draft.category,
            severity: draft.severity,
            urgency: draft.urgency,
            certainty: draft.certainty,
            starts_at: draft.starts_at.unwrap_or_else(crate::store::now),
            ends_at: draft.ends_at,
            area: self.area(&draft.area)?,
            source,
            auto,
        };
        let publishing = status == Status::Published;
        Self::check(&mut notice, publishing)?;
        self.write(NoticeWrite {
            id: None,
            from_version: 0,
            status: status.as_str().to_owned(),
            ends_at: notice.ends_at.clone(),
            doc: serde_json::to_string(&notice).expect("a notice serialises"),
            message: publishing.then_some("Alert"),
            actor: actor.to_owned(),
            action: if publishing { "publish" } else { "create" },
            before: None,
            after: audit_json(status, &notice),
        })
        .await
    }

    /// A notice by id (any status).
    pub async fn get(&self, id: i64) -> Result<Stored, NoticeError> {
        let row = self.store.notices(NoticeFilter::One(id), 1).await?.pop();
        let row = row.ok_or_else(|| NoticeError::NotFound(format!("no notice {id}")))?;
        Ok(Stored::try_from(row)?)
    }

    /// Changes a notice (at `version`, when given): a draft stays a draft unless the patch
    /// publishes it (a CAP Alert); a published notice goes out again as a CAP Update.
    pub async fn update(
        &self,
        id: i64,
        patch: Patch,
        version: Option<i64>,
        actor: &str,
    ) -> Result<Arc<Stored>, NoticeError> {
        self.update_with(self.get(id).await?, patch, version, None, actor).await
    }

    async fn update_with(
        &self,
        current: Stored,
        patch: Patch,
        version: Option<i64>,
        auto: Option<auto::Auto>,
        actor: &str,
    ) -> Result<Arc<Stored>, NoticeError> {
        let id = current.id;
        if patch.status == Some(Status::Cancelled) {
            return self.cancel(id, version, actor).await;
        }
        let from_version = self.expect_version(&current, version)?;
        let status = match (current.status, patch.status) {
            (Status::Cancelled, _) => return Err(NoticeError::Conflict(format!("notice {id} was cancelled"))),
            (Status::Published, Some(Status::Draft)) => {
                return Err(bad("a published notice cannot go back to a draft: update or cancel it"));
            }
            (_, Some(s)) => s,
            (s, None) => s,
        };
        let mut n = current.notice.clone();
        let or = |new: Option<String>, old: &mut String| {
            if let Some(v) = new {
                *old = v;
            }
        };
        or(patch.title, &mut n.title);
        or(patch.body, &mut n.body);
        or(patch.starts_at, &mut n.starts_at);
        or(patch.ends_at, &mut n.ends_at);
        if let Some(t) = patch.title_en {
            n.title_en = Some(t).filter(|t| !t.trim().is_empty());
        }
        if let Some(t) = patch.body_en {
            n.body_en = Some(t).filter(|t| !t.trim().is_empty());
        }
        n.category = patch.category.unwrap_or(n.category);
        n.severity = patch.severity.unwrap_or(n.severity);
        n.urgency = patch.urgency.unwrap_or(n.urgency);
        n.certainty = patch.certainty.unwrap_or(n.certainty);
        if let Some(spec) = &patch.area {
            n.area = self.area(spec)?;
        }
        if auto.is_some() {
            n.auto = auto;
        }
        Self::check(&mut n, status == Status::Published)?;
        let (message, action) = match (current.status, status) {
            (Status::Draft, Status::Published) => (Some("Alert"), "publish"),
            (Status::Published, _) => (Some("Update"), "update"),
            _ => (None, "update"),
        };
        self.write(NoticeWrite {
            id: Some(id),
            from_version,
            status: status.as_str().to_owned(),
            ends_at: n.ends_at.clone(),
            doc: serde_json::to_string(&n).expect("a notice serialises"),
            message,
            actor: actor.to_owned(),
            action,
            before: Some(audit_json(current.status, &current.notice)),
            after: audit_json(status, &n),
        })
        .await
    }

    fn expect_version(&self, current: &Stored, version: Option<i64>) -> Result<i64, NoticeError> {
        match version {
            Some(v) if v != current.version => Err(NoticeError::Store(StoreError::Stale {
                layer: "notices".into(),
                id: current.id,
                current: format!("\"{}\"", current.version),
            })),
            _ => Ok(current.version),
        }
    }

    /// Cancels a notice: a published one goes out as a CAP Cancel; a draft is dropped. A notice
    /// cancelled already is answered as it is.
    pub async fn cancel(&self, id: i64, version: Option<i64>, actor: &str) -> Result<Arc<Stored>, NoticeError> {
        let current = self.get(id).await?;
        if current.status == Status::Cancelled {
            return Ok(Arc::new(current));
        }
        let from_version = self.expect_version(&current, version)?;
        self.write(NoticeWrite {
            id: Some(id),
            from_version,
            status: Status::Cancelled.as_str().to_owned(),
            ends_at: current.notice.ends_at.clone(),
            doc: serde_json::to_string(&current.notice).expect("a notice serialises"),
            message: (current.status == Status::Published).then_some("Cancel"),
            actor: actor.to_owned(),
            action: "cancel",
            before: Some(audit_json(current.status, &current.notice)),
            after: audit_json(Status::Cancelled, &current.notice),
        })
        .await
    }

    /// The notices in the feeds now: published and not ended, newest change first.
    pub async fn current(&self) -> Result<Vec<Stored>, NoticeError> {
        self.list(NoticeFilter::Current(&crate::store::now())).await
    }

    /// Every notice, drafts, cancelled and ended ones too (staff).
    pub async fn all(&self) -> Result<Vec<Stored>, NoticeError> {
        self.list(NoticeFilter::All).await
    }

    async fn list(&self, filter: NoticeFilter<'_>) -> Result<Vec<Stored>, NoticeError> {
        let rows = self.store.notices(filter, self.config.feed_limit).await?;
        Ok(rows.into_iter().map(Stored::try_from).collect::<Result<_, _>>()?)
    }

    /// Takes an automatic notice's step (see [`auto`]): updates the current notice with its key,
    /// or writes one; `None` when the step changes nothing, is held back by the rate limits, or
    /// clears a notice that is not there.
    pub async fn automatic(&self, step: auto::Step) -> Result<Option<Arc<Stored>>, NoticeError> {
        let limits = &self.config.auto;
        let current = self.current().await?;
        let same_key = current.iter().find(|s| s.notice.auto.as_ref().is_some_and(|a| a.key == step.auto.key));
        let now = Utc::now();
        let since = |t: &str| model::parse_time("", t).map_or(chrono::TimeDelta::MAX, |t| now - t);
        match same_key {
            Some(s) => {
                let was = s.notice.auto.as_ref().expect("found by its key");
                if was.state == step.auto.state {
                    return Ok(None);
                }
                let up = step.escalates && auto::rank(&step.auto.state) > auto::rank(&was.state);
                if !up && since(&s.updated_at) < chrono::TimeDelta::minutes(i64::from(limits.min_interval_min)) {
                    tracing::debug!(key = %step.auto.key, "automatic notice held back by min_interval_min");
                    return Ok(None);
                }
                let d = step.draft;
                let patch = Patch {
                    title: Some(d.title),
                    body: Some(d.body),
                    title_en: d.title_en,
                    body_en: d.body_en,
                    severity: Some(d.severity),
                    urgency: Some(d.urgency),
                    certainty: Some(d.certainty),
                    ends_at: Some(d.ends_at),
                    ..Patch::default()
                };
                self.update_with(s.clone(), patch, None, Some(step.auto), auto::ACTOR).await.map(Some)
            }
            None if step.clears => Ok(None),
            None => {
                let hour = chrono::TimeDelta::hours(1);
                let recent = current.iter().filter(|s| s.notice.auto.is_some() && since(&s.created_at) < hour).count();
                if recent >= limits.max_per_hour as usize {
                    tracing::warn!(key = %step.auto.key, "automatic notice held back by max_per_hour");
                    return Ok(None);
                }
                self.create_with(step.draft, step.source, Some(step.auto), auto::ACTOR).await.map(Some)
            }
        }
    }

    /// A notice's audit log.
    pub async fn audit(&self, id: i64) -> Result<Vec<crate::store::notices::NoticeAuditRow>, NoticeError> {
        Ok(self.store.notice_audit(id).await?)
    }
}
