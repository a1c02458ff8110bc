//! Notices to residents ([`crate::notices`]): each notice's current version as a JSON document,
//! every CAP message that went out for it (Alert, Update, Cancel: what later messages
//! reference), and an audit log of every step. A write is one transaction: the notice, its
//! message and its audit entry land together or not at all. The two backends share the Rust
//! ([`impl_notice_store`]) over their own SQL in `sql/`.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// A notice as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeRow {
    pub id: i64,
    /// 1 when written, one more at every change: the ETag.
    pub version: i64,
    /// `draft`, `published` or `cancelled`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    /// The notice ([`crate::notices::model::Notice`]).
    pub doc: serde_json::Value,
    /// Its CAP messages, oldest first.
    pub messages: Vec<MessageRow>,
}

/// One CAP message of a notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRow {
    pub id: i64,
    /// The notice's version it carried.
    pub version: i64,
    /// `Alert`, `Update` or `Cancel`.
    pub msg_type: String,
    /// UTC.
    pub sent: String,
}

/// One step in a notice's life, as audited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeAuditRow {
    pub at: String,
    pub actor: String,
    /// `create`, `publish`, `update`, `cancel`.
    pub action: String,
    pub version: i64,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A notice to write: a new one (`id` none) or the next version of one.
#[derive(Debug, Clone)]
pub struct NoticeWrite {
    pub id: Option<i64>,
    /// The version the change was made from (0 for a new notice); a notice at another
    /// version is left alone ([`StoreError::Stale`]).
    pub from_version: i64,
    pub status: String,
    /// UTC; the feeds drop a notice after it.
    pub ends_at: String,
    pub doc: String,
    /// The CAP message this step sends, if any: `Alert`, `Update`, `Cancel`.
    pub message: Option<&'static str>,
    pub actor: String,
    pub action: &'static str,
    /// The audit entry's before and after (JSON).
    pub before: Option<String>,
    pub after: String,
}

/// Which notices to read.
#[derive(Debug, Clone, Copy)]
pub enum NoticeFilter<'a> {
    /// Published and not ended at this time (UTC): the feeds.
    Current(&'a str),
    /// Every notice, drafts and ended ones too: the staff list.
    All,
    One(i64),
}

/// A row of `select_notices.sql`.
pub(crate) type NoticeDbRow = (i64, i64, String, String, String, String, String);
/// A row of `select_notice_messages.sql`.
pub(crate) type MessageDbRow = (i64, i64, i64, String, String);

pub(crate) fn rows(notices: Vec<NoticeDbRow>, messages: Vec<MessageDbRow>) -> Result<Vec<NoticeRow>, StoreError> {
    let mut out = notices
        .into_iter()
        .map(|(id, version, status, created_at, updated_at, created_by, doc)| {
            let doc = serde_json::from_str(&doc).map_err(|e| StoreError::Schema {
                layer: "machizu_notices".into(),
                message: format!("notice {id}: {e}"),
            })?;
            Ok(NoticeRow {
                id,
                version,
                status,
                created_at: super::normal_time(created_at),
                updated_at: super::normal_time(updated_at),
                created_by,
                doc,
                messages: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for (notice, id, version, msg_type, sent) in messages {
        if let Some(n) = out.iter_mut().find(|n| n.id == notice) {
            n.messages.push(MessageRow { id, version, msg_type, sent: super::normal_time(sent) });
        }
    }
    Ok(out)
}

pub(crate) fn audit_row(
    (at, actor, action, version, before, after): (String, String, String, i64, Option<String>, Option<String>),
) -> NoticeAuditRow {
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    NoticeAuditRow { at: super::normal_time(at), actor, action, version, before: json(before), after: json(after) }
}

/// The binds of `select_notices.sql` and `select_notice_messages.sql`: one notice's id, whether
/// all notices, and the time for current ones.
pub(crate) fn filter_binds(f: NoticeFilter<'_>) -> (Option<i64>, bool, String) {
    match f {
        NoticeFilter::Current(now) => (None, false, now.to_owned()),
        NoticeFilter::All => (None, true, String::new()),
        NoticeFilter::One(id) => (Some(id), true, String::new()),
    }
}

/// Where notices are kept.
#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// Writes a notice, its CAP message (if any) and its audit entry in one transaction, and
    /// returns it as stored.
    async fn write_notice(&self, write: &NoticeWrite) -> Result<NoticeRow, StoreError>;

    /// Notices, most recently changed first, at most `limit`.
    async fn notices(&self, filter: NoticeFilter<'_>, limit: u32) -> Result<Vec<NoticeRow>, StoreError>;

    /// A notice's audit log, oldest first.
    async fn notice_audit(&self, id: i64) -> Result<Vec<NoticeAuditRow>, StoreError>;
}

/// Implements [`NoticeStore`] for a backend whose `sql` module names the statements.
macro_rules! impl_notice_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::notices::NoticeStore for $store {
            async fn write_notice(
                &self,
                w: &$crate::store::notices::NoticeWrite,
            ) -> Result<$crate::store::notices::NoticeRow, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let what = || StoreError::db("writing a notice");
                let now = $crate::store::now();
                let mut tx = self.pool.begin_with(sql::BEGIN_WRITE).await.map_err(what())?;
                let (id, version) = match w.id {
                    None => {
                        let (id,): (i64,) = sqlx::query_as(sql::INSERT_NOTICE)
                            .bind(&w.status)
                            .bind(&w.ends_at)
                            .bind(&now)
                            .bind(&w.actor)
                            .bind(&w.doc)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(what())?;
                        (id, 1)
                    }
                    Some(id) => {
                        let version: Option<(i64,)> = sqlx::query_as(sql::UPDATE_NOTICE)
                            .bind(id)
                            .bind(&w.status)
                            .bind(&w.ends_at)
                            .bind(&now)
                            .bind(&w.doc)
                            .bind(w.from_version)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(what())?;
                        let Some((version,)) = version else {
                            return Err(StoreError::Stale {
                                layer: "notices".into(),
                                id,
                                current: format!("not version {}", w.from_version),
                            });
                        };
                        (id, version)
                    }
                };
                if let Some(msg_type) = w.message {
                    sqlx::query(sql::INSERT_NOTICE_MESSAGE)
                        .bind(id)
                        .bind(version)
                        .bind(msg_type)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await
                        .map_err(what())?;
                }
                sqlx::query(sql::INSERT_NOTICE_AUDIT)
                    .bind(&now)
                    .bind(&w.actor)
                    .bind(w.action)
                    .bind(id)
                    .bind(version)
                    .bind(&w.before)
                    .bind(&w.after)
                    .execute(&mut *tx)
                    .await
                    .map_err(what())?;
                tx.commit().await.map_err(what())?;
                let mut rows = self.notices($crate::store::notices::NoticeFilter::One(id), 1).await?;
                rows.pop().ok_or_else(|| StoreError::Schema {
                    layer: "machizu_notices".into(),
                    message: format!("notice {id} is gone after writing it"),
                })
            }

            async fn notices(
                &self,
                filter: $crate::store::notices::NoticeFilter<'_>,
                limit: u32,
            ) -> Result<Vec<$crate::store::notices::NoticeRow>, $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db("reading notices");
                let (one, all, now) = $crate::store::notices::filter_binds(filter);
                let mut tx = self.pool.begin().await.map_err(what())?;
                let notices: Vec<$crate::store::notices::NoticeDbRow> = sqlx::query_as(sql::SELECT_NOTICES)
                    .bind(one)
                    .bind(all)
                    .bind(&now)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(what())?;
                let messages: Vec<$crate::store::notices::MessageDbRow> = sqlx::query_as(sql::SELECT_NOTICE_MESSAGES)
                    .bind(one)
                    .bind(all)
                    .bind(&now)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(what())?;
                tx.commit().await.map_err(what())?;
                $crate::store::notices::rows(notices, messages)
            }

            async fn notice_audit(
                &self,
                id: i64,
            ) -> Result<Vec<$crate::store::notices::NoticeAuditRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, String, i64, Option<String>, Option<String>)> =
                    sqlx::query_as(sql::SELECT_NOTICE_AUDIT)
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::store::StoreError::db("reading a notice's audit log"))?;
                Ok(rows.into_iter().map($crate::store::notices::audit_row).collect())
            }
        }
    };
}

pub(crate) use impl_notice_store;
