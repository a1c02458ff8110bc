//! Web Push to residents: a browser's subscription (RFC 8030) with the places, categories and
//! language the resident chose; every CAP message of a notice queued, durably, for each
//! subscription whose places meet the notice's area; each sent encrypted for the browser
//! (RFC 8291, `aes128gcm`, by `web-push-native`) and signed with machizu's VAPID key (RFC 8292,
//! an ES256 JWT by `jwt-simple`).
//!
//! One task ([`Push::start`]) does both steps, woken by every notice step and every two seconds:
//! 1. **fan-out** — a message not yet fanned out is matched against every subscription (in
//!    metres, [`super::area::Target`]) and its deliveries are queued in the transaction that marks
//!    it fanned out ([`crate::store::push`]);
//! 2. **send** — due deliveries are claimed with a lease and sent, `concurrency` at a time, with
//!    `TTL` (until the notice ends), `Urgency` (from its severity and urgency) and `Topic` (a
//!    newer message of a notice replaces an undelivered older one at the push service). 201 is
//!    sent; 404 and 410 delete the subscription; 429, 5xx and no answer retry with back-off
//!    (`Retry-After` wins); other refusals fail.
//!
//! A process killed mid-send leaves claimed deliveries to be sent again when their lease ends: a
//! push is sent at least once, and the service worker shows each message once (its tag is the
//! notice, and it skips a message id it has shown).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use futures_util::StreamExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use web_push_native::jwt_simple::prelude::{Claims, ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair};

use super::area::Target;
use super::model::{Category, Severity, Urgency};
use super::{NoticeError, Notices, Stored};
use crate::config::PushConfig;
use crate::store::push::{DeliveryJob, Finished, Outcome, SubscriptionRow};
use crate::store::{Store, StoreError};

/// Where the VAPID private key is kept (store metadata, shared by every process).
const KEY_META: &str = "vapid_private_key";
/// How long a claimed delivery is leased to its sender.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// Deliveries claimed at once.
const BATCH: u32 = 1000;
/// The most places and the widest radius a subscription takes.
pub const MAX_PLACES: usize = 10;
pub const MAX_RADIUS_M: f64 = 10_000.0;
/// The longest body text in a push message (characters); the map has the rest.
const MAX_PUSH_BODY: usize = 500;

/// A place a resident wants notices for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub lon: f64,
    pub lat: f64,
    /// Notices whose area comes within this many metres (0–10,000).
    pub radius_m: f64,
    /// The resident's name for it (自宅, 実家, 通学路…), kept for their own list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BrowserSubscription {
    pub endpoint: String,
    pub keys: BrowserKeys,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BrowserKeys {
    pub p256dh: String,
    pub auth: String,
}

/// The body of `POST /push/subscriptions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    pub subscription: BrowserSubscription,
    pub places: Vec<Place>,
    /// Default: every category.
    pub categories: Option<Vec<Category>>,
    /// `ja` (default) or `en`.
    pub lang: Option<String>,
}

/// What a push message carries (JSON, encrypted), for the service worker.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub notice: i64,
    pub message: i64,
    /// `Alert`, `Update`, `Cancel`.
    #[serde(rename = "type")]
    pub msg_type: String,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub severity: Severity,
    /// Where a tap leads: the map at the notice's area.
    pub url: String,
    /// The notification's tag: one per notice, so an update replaces it.
    pub tag: String,
}

fn decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok().or_else(|| URL_SAFE.decode(s).ok())
}

fn bad(m: impl Into<String>) -> NoticeError {
    NoticeError::BadRequest(m.into())
}

/// Whether `url`'s scheme and host are one of `origins` (`*.` for any subdomain).
fn allowed(url: &reqwest::Url, origins: &[String]) -> bool {
    let host = url.host_str().unwrap_or_default();
    origins.iter().any(|o| {
        let Some((scheme, pattern)) = o.split_once("://") else { return false };
        let pattern = pattern.trim_end_matches('/');
        scheme == url.scheme()
            && match pattern.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == pattern,
            }
    })
}

/// The Web Push service.
pub struct Push {
    store: Arc<dyn Store>,
    notices: Arc<Notices>,
    key: ES256KeyPair,
    public_key: String,
    config: PushConfig,
    client: reqwest::Client,
    wake: Notify,
    /// Signed VAPID JWTs by push-service origin, with when to sign anew: one signature serves
    /// every push to a service for an hour (each is valid for 12).
    tokens: std::sync::Mutex<HashMap<String, (String, std::time::Instant)>>,
}

impl Push {
    /// Opens the service with the store's VAPID key, made on first use.
    pub async fn open(store: Arc<dyn Store>, notices: Arc<Notices>, config: PushConfig) -> Result<Self, StoreError> {
        let key = match store.meta(KEY_META).await?.and_then(|k| decode(&k)) {
            Some(bytes) => ES256KeyPair::from_bytes(&bytes).map_err(|e| StoreError::Schema {
                layer: "machizu_meta".into(),
                message: format!("{KEY_META} is not a P-256 private key: {e}"),
            })?,
            None => {
                let key = ES256KeyPair::generate();
                store.set_meta(KEY_META, &URL_SAFE_NO_PAD.encode(key.to_bytes())).await?;
                key
            }
        };
        let public_key = URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.concurrency)
            .build()
            .map_err(|e| StoreError::Io { path: "push client".into(), source: std::io::Error::other(e) })?;
        Ok(Self { store, notices, key, public_key, config, client, wake: Notify::new(), tokens: Default::default() })
    }

    /// The VAPID public key (base64url, uncompressed point): `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Checks and stores a subscription (a new one, or new choices for its endpoint).
    pub async fn subscribe(&self, s: Subscribe) -> Result<i64, NoticeError> {
        let endpoint = reqwest::Url::parse(&s.subscription.endpoint)
            .map_err(|e| bad(format!("subscription.endpoint is not a URL: {e}")))?;
        if !allowed(&endpoint, &self.config.endpoint_origins) {
            return Err(bad(format!(
                "subscription.endpoint: {} is not a push service machizu sends to ({})",
                endpoint.origin().ascii_serialization(),
                self.config.endpoint_origins.join(", ")
            )));
        }
        let key = decode(&s.subscription.keys.p256dh)
            .filter(|k| web_push_native::p256::PublicKey::from_sec1_bytes(k).is_ok())
            .ok_or_else(|| bad("subscription.keys.p256dh must be a P-256 public key (base64url)"))?;
        let auth = decode(&s.subscription.keys.auth)
            .filter(|a| a.len() == 16)
            .ok_or_else(|| bad("subscription.keys.auth must be 16 bytes (base64url)"))?;
        if s.places.is_empty() || s.places.len() > MAX_PLACES {
            return Err(bad(format!("places: between 1 and {MAX_PLACES} places")));
        }
        for (i, p) in s.places.iter().enumerate() {
            if !(-180.0..=180.0).contains(&p.lon) || !(-90.0..=90.0).contains(&p.lat) {
                return Err(bad(format!("places[{i}]: lon and lat must be WGS 84 degrees")));
            }
            if !(0.0..=MAX_RADIUS_M).contains(&p.radius_m) {
                return Err(bad(format!("places[{i}].radius_m must be 0–{MAX_RADIUS_M} metres")));
            }
            if p.label.as_ref().is_some_and(|l| l.chars().count() > 40) {
                return Err(bad(format!("places[{i}].label: at most 40 characters")));
            }
        }
        let categories = s.categories.unwrap_or_else(|| Category::ALL.to_vec());
        if categories.is_empty() {
            return Err(bad("categories: choose at least one (or leave it out for all)"));
        }
        let lang = s.lang.unwrap_or_else(|| "ja".into());
        if !["ja", "en"].contains(&lang.as_str()) {
            return Err(bad("lang must be ja or en"));
        }
        let row = SubscriptionRow {
            id: 0,
            endpoint: endpoint.to_string(),
            p256dh: URL_SAFE_NO_PAD.encode(key),
            auth: URL_SAFE_NO_PAD.encode(auth),
            places: serde_json::to_value(&s.places).expect("places serialise"),
            categories: categories.iter().map(|c| c.as_str().to_owned()).collect(),
            lang,
        };
        Ok(self.store.put_subscription(&row).await?)
    }

    /// Deletes a subscription and everything kept for it.
    pub async fn unsubscribe(&self, endpoint: &str) -> Result<bool, NoticeError> {
        Ok(self.store.delete_subscription(endpoint).await?)
    }

    /// Starts the fan-out and send task, woken by every notice step and every two seconds.
    pub fn start(self: &Arc<Self>) {
        let push = self.clone();
        tokio::spawn(async move {
            loop {
                // Each wake-up runs until nothing is due; a burst of steps leaves one permit.
                push.wake.notified().await;
                if let Err(e) = push.run_once().await {
                    tracing::warn!(error = %e, "web push: will retry");
                }
            }
        });
        let push = self.clone();
        let mut steps = self.notices.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    r = steps.recv() => if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return },
                }
                push.wake.notify_one();
            }
        });
    }

    /// Fans out every message not yet fanned out, then sends until nothing is due.
    pub async fn run_once(&self) -> Result<(), NoticeError> {
        self.fan_out().await?;
        while self.send_due().await? > 0 {}
        Ok(())
    }

    async fn fan_out(&self) -> Result<(), NoticeError> {
        let messages = self.store.unfanned_messages().await?;
        if messages.is_empty() {
            return Ok(());
        }
        let mut subscriptions = Vec::new();
        loop {
            let after = subscriptions.last().map_or(0, |s: &SubscriptionRow| s.id);
            let page = self.store.subscriptions(after, 10_000).await?;
            if page.is_empty() {
                break;
            }
            subscriptions.extend(page);
        }
        // Each subscription's places are read once, however many messages go out.
        let audience: Arc<Vec<Audience>> = Arc::new(
            subscriptions
                .into_iter()
                .map(|sub| Audience {
                    id: sub.id,
                    places: serde_json::from_value(sub.places).unwrap_or_default(),
                    categories: sub.categories,
                })
                .collect(),
        );
        for (message, notice) in messages {
            let s = self.notices.get(notice).await?;
            let audience = audience.clone();
            let ids = tokio::task::spawn_blocking(move || targets(&s, &audience)).await.map_err(|e| {
                NoticeError::Store(StoreError::Io { path: "fan-out".into(), source: std::io::Error::other(e) })
            })??;
            self.store.fan_out(message, &ids, &crate::store::now()).await?;
            tracing::info!(notice, message, subscriptions = ids.len(), "web push: queued");
        }
        Ok(())
    }

    /// Claims and sends one batch of due deliveries; returns how many.
    async fn send_due(&self) -> Result<usize, NoticeError> {
        let now = chrono::Utc::now();
        let jobs = self.store.claim_deliveries(&crate::store::iso(now), &crate::store::iso(now + LEASE), BATCH).await?;
        let mut notices: HashMap<i64, Arc<Stored>> = HashMap::new();
        for j in &jobs {
            if let std::collections::hash_map::Entry::Vacant(e) = notices.entry(j.notice) {
                e.insert(Arc::new(self.notices.get(j.notice).await?));
            }
        }
        let n = jobs.len();
        // Encryption (two ECDH per push) is most of the work: spread over the cores first.
        let (jobs, bodies, notices) = tokio::task::spawn_blocking(move || {
            let bodies: Vec<_> = jobs.par_iter().map(|j| encrypt(j, &notices[&j.notice])).collect();
            (jobs, bodies, notices)
        })
        .await
        .map_err(|e| NoticeError::Store(StoreError::Io { path: "encrypt".into(), source: std::io::Error::other(e) }))?;
        // Outcomes are recorded as a group commit: whatever finished while the last commit ran
        // goes in the next. A sender keeps its slot until its outcome is committed, so at most
        // `concurrency` pushes are ever sent but not recorded (what a kill can send twice).
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<Recorded>();
        let send = futures_util::stream::iter(jobs.into_iter().zip(bodies))
            // The stream owns the last sender: when it is done, the recorder sees the end.
            .map(move |(job, body)| {
                let notice = notices[&job.notice].clone();
                self.deliver(job, notice, body, done.clone())
            })
            .buffer_unordered(self.config.concurrency)
            .for_each(|()| std::future::ready(()));
        let record = async {
            let mut batch: Vec<Recorded> = Vec::new();
            while finished.recv_many(&mut batch, 1000).await > 0 {
                let (outcomes, waiting): (Vec<Finished>, Vec<_>) = batch.drain(..).unzip();
                if let Err(e) = self.store.finish_deliveries(&outcomes).await {
                    // Their leases run out and they are claimed again.
                    tracing::warn!(deliveries = outcomes.len(), error = %e, "web push: could not record deliveries");
                }
                for committed in waiting {
                    let _ = committed.send(());
                }
            }
        };
        tokio::join!(send, record);
        Ok(n)
    }

    /// Sends one push, then hands what became of it to the recorder and waits until it is
    /// committed.
    async fn deliver(
        &self,
        job: DeliveryJob,
        notice: Arc<Stored>,
        body: Result<Vec<u8>, String>,
        record: tokio::sync::mpsc::UnboundedSender<Recorded>,
    ) {
        let (sent, status) = self.send(&job, &notice, body).await;
        let outcome = match sent {
            Sent::Done(o) => o,
            Sent::RetryIn(after) if (job.attempts + 1) < i64::from(self.config.max_attempts) => {
                let backoff = self.config.retry_ms.saturating_mul(1 << job.attempts.min(20)).min(3_600_000);
                let wait = after.unwrap_or(Duration::from_millis(backoff));
                Outcome::Retry(crate::store::iso(chrono::Utc::now() + wait))
            }
            Sent::RetryIn(_) => Outcome::Failed,
        };
        let (committed, wait) = tokio::sync::oneshot::channel();
        let finished = Finished { delivery: job.id, subscription: job.subscription.id, outcome, status };
        if record.send((finished, committed)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Signs and posts one encrypted push.
    async fn send(&self, job: &DeliveryJob, s: &Stored, body: Result<Vec<u8>, String>) -> (Sent, Option<u16>) {
        let sub = &job.subscription;
        let request = match body.and_then(|body| self.request(sub, s, body)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(subscription = sub.id, error = %e, "web push: cannot build the request");
                return (Sent::Done(Outcome::Failed), None);
            }
        };
        match request.send().await {
            Err(e) => {
                tracing::info!(subscription = sub.id, error = %e, "web push: no answer");
                (Sent::RetryIn(None), None)
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let sent = match status {
                    200..=299 => Sent::Done(Outcome::Sent),
                    404 | 410 => Sent::Done(Outcome::Gone),
                    429 | 500..=599 => Sent::RetryIn(after),
                    _ => Sent::Done(Outcome::Failed),
                };
                (sent, Some(status))
            }
        }
    }

    /// The VAPID JWT for a push service's origin (RFC 8292: the audience is the push resource's
    /// origin, its port included).
    fn token(&self, origin: &str) -> Result<String, String> {
        let now = std::time::Instant::now();
        let mut tokens = self.tokens.lock().expect("tokens lock");
        if let Some((jwt, _)) = tokens.get(origin).filter(|(_, renew)| *renew > now) {
            return Ok(jwt.clone());
        }
        let claims = Claims::create(web_push_native::jwt_simple::prelude::Duration::from_hours(12))
            .with_audience(origin)
            .with_subject(&self.config.contact);
        let jwt = self.key.sign(claims).map_err(|e| e.to_string())?;
        tokens.insert(origin.to_owned(), (jwt.clone(), now + Duration::from_secs(3600)));
        Ok(jwt)
    }

    /// The signed request that posts an encrypted `body` to the subscription's push resource.
    fn request(&self, sub: &SubscriptionRow, s: &Stored, body: Vec<u8>) -> Result<reqwest::RequestBuilder, String> {
        let endpoint = reqwest::Url::parse(&sub.endpoint).map_err(|e| e.to_string())?;
        let jwt = self.token(&endpoint.origin().ascii_serialization())?;
        let ttl = chrono::DateTime::parse_from_rfc3339(&s.notice.ends_at)
            .map_or(0, |end| (end.to_utc() - chrono::Utc::now()).num_seconds().clamp(0, 28 * 86_400));
        Ok(self
            .client
            .post(endpoint)
            .header("TTL", ttl.to_string())
            .header("Urgency", urgency(s))
            .header("Topic", format!("notice-{}", s.id))
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::AUTHORIZATION, format!("vapid t={jwt}, k={}", self.public_key))
            .body(body))
    }
}

/// A delivery's message in the subscriber's language, encrypted for their browser.
fn encrypt(job: &DeliveryJob, s: &Stored) -> Result<Vec<u8>, String> {
    let sub = &job.subscription;
    let ua_public = decode(&sub.p256dh)
        .and_then(|k| web_push_native::p256::PublicKey::from_sec1_bytes(&k).ok())
        .ok_or("a bad p256dh")?;
    let auth: [u8; 16] = decode(&sub.auth).and_then(|a| a.try_into().ok()).ok_or("a bad auth secret")?;
    let payload = serde_json::to_vec(&payload(s, job.message, &sub.lang)).expect("a payload serialises");
    web_push_native::encrypt(payload, &ua_public, &web_push_native::Auth::from(auth)).map_err(|e| e.to_string())
}

/// An outcome to record, and who waits for its commit.
type Recorded = (Finished, tokio::sync::oneshot::Sender<()>);

/// A push's result before attempts are counted.
enum Sent {
    Done(Outcome),
    /// Retry, after the push service's `Retry-After` if it gave one.
    RetryIn(Option<Duration>),
}

/// A subscription as fan-out sees it.
struct Audience {
    id: i64,
    places: Vec<Place>,
    categories: Vec<String>,
}

/// The ids of the subscriptions a notice reaches: its category chosen, a place meeting its area.
fn targets(s: &Stored, audience: &[Audience]) -> Result<Vec<i64>, NoticeError> {
    let target = Target::new(&s.notice.area).map_err(|e| bad(e.to_string()))?;
    let category = s.notice.category.as_str();
    Ok(audience
        .iter()
        .filter(|a| a.categories.iter().any(|c| c == category))
        .filter(|a| a.places.iter().any(|p| target.meets(p.lon, p.lat, p.radius_m)))
        .map(|a| a.id)
        .collect())
}

/// RFC 8030 `Urgency` from the notice's CAP severity and urgency.
fn urgency(s: &Stored) -> &'static str {
    let n = &s.notice;
    match (n.severity, n.urgency) {
        (Severity::Extreme | Severity::Severe, _) | (_, Urgency::Immediate) => "high",
        (Severity::Moderate, _) => "normal",
        _ => "low",
    }
}

/// A message's push payload in the subscriber's language.
pub fn payload(s: &Stored, message: i64, lang: &str) -> Payload {
    let n = &s.notice;
    let en = lang == "en" && n.title_en.is_some();
    let (title, body) = if en {
        (n.title_en.clone().unwrap_or_default(), n.body_en.clone().unwrap_or_else(|| n.body.clone()))
    } else {
        (n.title.clone(), n.body.clone())
    };
    let msg_type = s.messages.iter().find(|m| m.id == message).map_or("Alert", |m| m.msg_type.as_str());
    let prefix = match (msg_type, en) {
        ("Update", false) => "【更新】",
        ("Update", true) => "[Update] ",
        ("Cancel", false) => "【取消】",
        ("Cancel", true) => "[Cancelled] ",
        _ => "",
    };
    Payload {
        notice: s.id,
        message,
        msg_type: msg_type.to_owned(),
        title: format!("{prefix}{title}"),
        body: body.chars().take(MAX_PUSH_BODY).collect(),
        category: n.category,
        severity: n.severity,
        url: format!("/map#notice={}", s.id),
        tag: format!("notice-{}", s.id),
    }
}
