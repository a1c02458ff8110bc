//! The MQTT broker connection both live tracking ([`crate::live`], OwnTracks) and SensorThings
//! ([`crate::sensors`]) use: options from a `mqtt://[user[:password]@]host[:port]` URL.
//!
//! Every client keeps a persistent session (clean session off) with manual acks: the broker
//! keeps messages while the server is down, and a message is acknowledged only once handled.

use std::future::Future;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};

/// The options of a client `client_id` of the broker at `url`.
pub fn options(url: &str, client_id: &str) -> Result<MqttOptions, String> {
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
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_clean_session(false).set_manual_acks(true).set_keep_alive(Duration::from_secs(30));
    if let Some(user) = user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        o.set_credentials(name, password);
    }
    Ok(o)
}

/// Follows `topic` at the broker of `client`/`events` (subscribing with QoS 1 on every connect)
/// and hands each message to `handle`, each in a task of its own. A message is acknowledged once
/// its future says it is done with it (true); false leaves it for the broker to deliver again.
/// `handle` answers `None` once its owner is gone, and so does `alive`: then following ends.
/// After a connection error it tries again every 2 s.
pub fn follow<H, F>(
    client: AsyncClient,
    mut events: EventLoop,
    topic: String,
    alive: impl Fn() -> bool + Send + 'static,
    handle: H,
) where
    H: Fn(&Publish) -> Option<F> + Send + 'static,
    F: Future<Output = bool> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(%topic, "MQTT subscribed");
                    if let Err(e) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::warn!(%topic, error = %e, "MQTT subscribe failed");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some(done) = handle(&p) else { return };
                    let client = client.clone();
                    tokio::spawn(async move {
                        if done.await
                            && let Err(e) = client.ack(&p).await
                        {
                            tracing::warn!(error = %e, "MQTT ack failed");
                        }
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    if !alive() {
                        return;
                    }
                    tracing::warn!(%topic, error = %e, "MQTT connection lost; retrying in 2 s");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let o = options("mqtt://city:secret@broker.local:8883", "machizu").unwrap();
        assert_eq!(o.broker_address(), ("broker.local".to_owned(), 8883));
        let login = o.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("city", "secret"));
        assert_eq!(options("mqtt://127.0.0.1", "machizu").unwrap().broker_address().1, 1883);
        assert!(options("mqtts://x", "machizu").is_err());
        assert!(options("mqtt://x:port", "machizu").is_err());
    }
}
