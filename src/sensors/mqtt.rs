//! The SensorThings MQTT extension through machizu's broker (`[live] mqtt_url`).
//!
//! - **In:** a message published on `v1.1/Datastreams(n)/Observations` whose payload is an
//!   Observation creates it, as a `POST` would. It is acknowledged only once stored (manual
//!   acks, persistent session as `machizu-sta`): the broker delivers it again after a failure.
//!   Who may publish there is the broker's access control list's decision.
//! - **Out:** every new observation of a public datastream, however it came (HTTP, a device,
//!   MQTT), is published on the same topic as the standard's JSON. Observations of staff-only
//!   datastreams never go to the broker. A payload carrying `@iot.id` is such an announcement,
//!   never a request, so machizu's own messages coming back are not stored twice.

use rumqttc::{AsyncClient, QoS};
use serde_json::Value;
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::error::RecvError;

use super::Sensors;
use super::model::Kind;
use super::read::{Ctx, observation_json};
use crate::catalog::Audience;

/// The topic filter of observation creates.
pub const TOPIC_FILTER: &str = "v1.1/+/Observations";

/// The topic of a datastream's observations.
pub fn topic(datastream: i64) -> String {
    format!("v1.1/Datastreams({datastream})/Observations")
}

/// The datastream a topic names, if it is `v1.1/Datastreams(n)/Observations`.
fn datastream_of(topic: &str) -> Option<i64> {
    topic.strip_prefix("v1.1/Datastreams(")?.strip_suffix(")/Observations")?.parse().ok()
}

/// Starts the bridge; it reconnects on its own after errors and ends with the service.
pub fn spawn(sensors: &Arc<Sensors>, url: &str) -> Result<(), String> {
    let (client, events) = AsyncClient::new(crate::mqtt::options(url, "machizu-sta")?, 1024);
    let weak: Weak<Sensors> = Arc::downgrade(sensors);
    let (alive, inbound) = (weak.clone(), weak.clone());
    crate::mqtt::follow(
        client.clone(),
        events,
        TOPIC_FILTER.into(),
        move || alive.strong_count() > 0,
        move |p| {
            let sensors = inbound.upgrade()?;
            let (topic, payload) = (p.topic.clone(), p.payload.clone());
            // Not acknowledged when false: delivered again.
            Some(async move { create(&sensors, &topic, &payload).await })
        },
    );
    let mut observed = sensors.subscribe();
    tokio::spawn(async move {
        let ctx = Ctx { base: "/sta/v1.1".into(), audience: Audience::Public };
        loop {
            let row = match observed.recv().await {
                Ok(row) => row,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "SensorThings MQTT publisher fell behind");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(sensors) = weak.upgrade() else { return };
            let reg = sensors.registry();
            let public = reg
                .get(Kind::Datastream, row.datastream)
                .is_some_and(|d| reg.visible(Kind::Datastream, d, Audience::Public));
            if !public {
                continue;
            }
            let payload = observation_json(&reg, &row, &ctx).to_string();
            if let Err(e) = client.publish(topic(row.datastream), QoS::AtLeastOnce, false, payload).await {
                tracing::warn!(error = %e, "SensorThings MQTT publish failed");
            }
        }
    });
    Ok(())
}

/// Handles one inbound message; false when it should be delivered again (the store failed).
async fn create(sensors: &Sensors, topic: &str, payload: &[u8]) -> bool {
    let Some(datastream) = datastream_of(topic) else { return true };
    let body: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(%topic, error = %e, "SensorThings MQTT payload is not JSON");
            return true;
        }
    };
    if body.get("@iot.id").is_some() {
        return true; // an announcement of a stored observation (ours, coming back)
    }
    match sensors.add_observations(datastream, std::slice::from_ref(&body)).await {
        Ok(_) => true,
        Err(super::SensorError::Store(e)) => {
            tracing::warn!(%topic, error = %e, "SensorThings MQTT observation not stored; the broker will resend it");
            false
        }
        Err(e) => {
            tracing::warn!(%topic, error = %e, "SensorThings MQTT observation refused");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(datastream_of(&topic(42)), Some(42));
        assert_eq!(datastream_of("v1.1/FeaturesOfInterest(1)/Observations"), None);
        assert_eq!(datastream_of("v1.1/Datastreams(x)/Observations"), None);
    }
}
