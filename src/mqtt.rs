//! The MQTT broker connection both live tracking ([`crate::live`], OwnTracks) and SensorThings
//! ([`crate::sensors`]) use: options from a `mqtt://[user[:password]@]host[:port]` URL.
//!
//! Every client keeps a persistent session (clean session off) with manual acks: the broker
//! keeps messages while the server is down, and a message is acknowledged only once handled.

use std::time::Duration;

use rumqttc::MqttOptions;

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
