//! OwnTracks positions from an MQTT broker (`[live] mqtt_url`, e.g. Mosquitto).
//!
//! Subscribes to `owntracks/#` (configurable) with QoS 1 in a persistent session (client id
//! `machizu`, clean session off): the broker keeps messages while the server is down. Each
//! message is acknowledged only after its fix is stored (manual acks), so an accepted position
//! is never lost; one that can never be stored (an unknown device, an unreadable payload) is
//! acknowledged and logged, since the broker would only send it again.

use std::sync::Weak;

use rumqttc::AsyncClient;

use super::fix::Fix;
use super::{Live, LiveError};

/// Starts following the broker; reconnects on its own after errors.
pub fn spawn(live: Weak<Live>, url: &str, topic: String) -> Result<(), String> {
    let (client, events) = AsyncClient::new(crate::mqtt::options(url, "machizu")?, 1024);
    let alive = live.clone();
    crate::mqtt::follow(
        client,
        events,
        topic,
        move || alive.strong_count() > 0,
        move |p| {
            let live = live.upgrade()?;
            let (topic, payload) = (p.topic.clone(), p.payload.clone());
            Some(async move {
                let result = match Fix::from_owntracks(&topic, &payload) {
                    Ok(Some(fix)) => live.ingest(vec![fix]).await.map(|_| ()),
                    Ok(None) => Ok(()), // not a position (a waypoint, a transition…)
                    Err(e) => Err(LiveError::Bad(e)),
                };
                match result {
                    Err(LiveError::Write(e)) => {
                        // Not acknowledged: the broker sends it again after a reconnect.
                        tracing::warn!(%topic, error = %e, "MQTT position not stored");
                        return false;
                    }
                    Err(e) => tracing::warn!(%topic, error = %e, "MQTT message refused"),
                    Ok(()) => {}
                }
                true
            })
        },
    );
    Ok(())
}
