//! The PostGIS change feed: `LISTEN machizu_changes` on a dedicated connection.
//!
//! Triggers on every layer table (`schema/postgis/0002_change_feed.sql`,
//! `sql/layer_triggers.sql`) send one notification per statement at commit, with the payload
//! `<table>:<fid>,<fid>,…` or `<table>:*`, and `@layers:<id>` for a definition of a layer made from a file
//! (`schema/postgis/0010_layer_defs.sql`). PostgreSQL delivers notifications in commit order and
//! only for committed transactions. If the connection drops, notifications sent meanwhile are
//! lost: the feed then fails, and the caller starts a new one and reads everything again.

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgNotification, PgPool};

use crate::store::{Change, ChangeFeed, StoreError};

/// The channel the triggers notify.
pub const CHANNEL: &str = "machizu_changes";

/// A listening connection.
pub struct PgChangeFeed {
    listener: PgListener,
}

impl PgChangeFeed {
    /// Opens a connection and starts listening; changes committed from now on are reported.
    pub async fn listen(pool: &PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await.map_err(StoreError::db("opening the change feed"))?;
        listener.listen(CHANNEL).await.map_err(StoreError::db("listening for changes"))?;
        Ok(Self { listener })
    }
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> Result<Vec<Change>, StoreError> {
        let first = self.listener.try_recv().await.map_err(StoreError::db("waiting for changes"))?;
        let Some(first) = first else {
            return Err(StoreError::Database {
                what: "following changes".into(),
                source: sqlx::Error::Protocol("the change feed connection was lost".into()),
            });
        };
        let mut changes = Vec::new();
        let mut add = |n: PgNotification| match parse(n.payload()) {
            Some(c) => changes.push(c),
            None => tracing::warn!(payload = n.payload(), "ignoring a malformed change notification"),
        };
        add(first);
        while let Some(n) = self.listener.next_buffered() {
            add(n);
        }
        Ok(changes)
    }
}

/// Parses `<table>:<fid>,<fid>,…`, `<table>:*` or `@layers:<id>`.
fn parse(payload: &str) -> Option<Change> {
    if let Some(layer) = payload.strip_prefix("@layers:") {
        return Some(Change::Definition { layer: layer.to_owned() });
    }
    let (layer, ids) = payload.rsplit_once(':')?;
    let layer = layer.to_owned();
    if ids == "*" {
        return Some(Change::Layer { layer });
    }
    let ids = ids.split(',').map(str::parse).collect::<Result<_, _>>().ok()?;
    Some(Change::Features { layer, ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(parse("roads:3,17"), Some(Change::Features { layer: "roads".into(), ids: vec![3, 17] }));
        assert_eq!(parse("parcels:*"), Some(Change::Layer { layer: "parcels".into() }));
        assert_eq!(parse("roads:x"), None);
        assert_eq!(parse("roads"), None);
        assert_eq!(parse("@layers:aed"), Some(Change::Definition { layer: "aed".into() }));
    }
}
