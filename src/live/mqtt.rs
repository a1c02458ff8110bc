//! OwnTracks positions from an MQTT broker (`[live] mqtt_url`, e.g. Mosquitto).
//!
//! Subscribes to `owntracks/#` (configurable) with QoS 1 in a persistent session (client id
//! `machizu`, clean session off): the broker keeps messages while the server is down. Each
//! message is acknowledged only after its fix is stored (manual acks), so an accepted position
//! is never lost; one that can never be stored (an unknown device, an unreadable payload) is
//! acknowledged and logged, since the broker would only send it again.

use std::sync::Weak;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use super::fix::Fix;
use super::{Live, LiveError};

/// The broker's host, port and credentials from `mqtt://[user[:password]@]host[:port]`.
fn options(url: &str) -> Result<MqttOptions, String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("{url:?}: an MQTT URL starts with mqtt:// (TLS is not supported yet)"))?;
    let rest = rest.trim_end_matches('/');
    let (user, host) = match rest.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, rest),
    };
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("{url:?}: bad port {p:?}"))?),
        None => (host, 1883),
    };
    let mut o = MqttOptions::new("machizu", host, port);
    o.set_clean_session(false).set_manual_acks(true).set_keep_alive(Duration::from_secs(30));
    if let Some(user) = user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        o.set_credentials(name, password);
    }
    Ok(o)
}

/// Starts following the broker; reconnects on its own after errors.
pub fn spawn(live: Weak<Live>, url: &str, topic: String) -> Result<(), String> {
    let (client, mut events) = AsyncClient::new(options(url)?, 1024);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let o = options("mqtt://city:secret@broker.local:8883").unwrap();
        assert_eq!(o.broker_address(), ("broker.local".to_owned(), 8883));
        let login = o.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("city", "secret"));
        assert_eq!(options("mqtt://127.0.0.1").unwrap().broker_address().1, 1883);
        assert!(options("mqtts://x").is_err());
        assert!(options("mqtt://x:port").is_err());
    }
}
