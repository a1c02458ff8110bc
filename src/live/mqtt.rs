//! OwnTracks positions from an MQTT broker (`[live] mqtt_url`, e.g. Mosquitto).
//!
//! Subscribes to `owntracks/#` (configurable) with QoS 1 in a persistent session (client id
//! `machizu`, clean session off): the broker keeps messages while the server is down. Each
//! message is acknowledged only after its fix is stored (manual acks), so an accepted position
//! is never lost; one that can never be stored (an unknown device, an unreadable payload) is
//! acknowledged and logged, since the broker would only send it again.

use std::sync::Weak;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::fix::Fix;
use super::{Live, LiveError};

/// Starts following the broker; reconnects on its own after errors.
pub fn spawn(live: Weak<Live>, url: &str, topic: String) -> Result<(), String> {
    let (client, mut events) = AsyncClient::new(crate::mqtt::options(url, "machizu")?, 1024);
    let url = url.to_owned();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(broker = %url, %topic, "subscribed to OwnTracks positions");
                    if let Err(e) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::warn!(error = %e, "MQTT subscribe failed");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some(live) = live.upgrade() else { return };
                    let client = client.clone();
                    tokio::spawn(async move {
                        let result = match Fix::from_owntracks(&p.topic, &p.payload) {
                            Ok(Some(fix)) => live.ingest(vec![fix]).await.map(|_| ()),
                            Ok(None) => Ok(()), // not a position (a waypoint, a transition…)
                            Err(e) => Err(LiveError::Bad(e)),
                        };
                        match result {
                            Err(LiveError::Write(e)) => {
                                // Not acknowledged: the broker sends it again after a reconnect.
                                tracing::warn!(topic = %p.topic, error = %e, "MQTT position not stored");
                                return;
                            }
                            Err(e) => tracing::warn!(topic = %p.topic, error = %e, "MQTT message refused"),
                            Ok(()) => {}
                        }
                        if let Err(e) = client.ack(&p).await {
                            tracing::warn!(error = %e, "MQTT ack failed");
                        }
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    if live.strong_count() == 0 {
                        return;
                    }
                    tracing::warn!(broker = %url, error = %e, "MQTT connection lost; retrying in 2 s");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
    Ok(())
}
