//! Webhooks: notices POSTed as JSON to the integrations configured in `switchboard.toml`,
//! signed with HMAC-SHA256 and retried with exponential backoff.
//!
//! Each request carries `X-Switchboard-Event` (the notice kind), `X-Switchboard-Delivery`
//! (the event-log sequence: receivers deduplicate on it), `X-Switchboard-Timestamp` (ms)
//! and `X-Switchboard-Signature: sha256=<hex>` over `"{timestamp}.{body}"` with the
//! hook's secret. A 2xx answer is a delivery; anything else is retried up to
//! [`Webhook::attempts`] times. Deliveries in flight are not persisted: a restart drops
//! them (the event log keeps every notice for a receiver to catch up from).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::broadcast;

use crate::center::Notice;

/// One integration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// The shared secret for the signature.
    pub secret: String,
    /// Notice kinds to send: exact (`contact.ended`) or a prefix ending in `*`
    /// (`contact.*`); all when empty.
    #[serde(default)]
    pub events: Vec<String>,
    /// Most attempts per notice.
    #[serde(default = "five")]
    pub attempts: u32,
    /// The first retry's delay (ms); each retry doubles it.
    #[serde(default = "second")]
    pub retry_base_ms: u64,
}

fn five() -> u32 {
    5
}
fn second() -> u64 {
    1000
}

impl Webhook {
    fn wants(&self, kind: &str) -> bool {
        self.events.is_empty()
            || self.events.iter().any(|e| match e.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => e == kind,
            })
    }
}

/// The signature header's value for `body` sent at `timestamp_ms`.
pub fn signature(secret: &str, timestamp_ms: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp_ms}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Delivers every matching notice from `notices` until the stream closes.
pub fn start(hooks: Vec<Webhook>, mut notices: broadcast::Receiver<Arc<Notice>>) {
    if hooks.is_empty() {
        return;
    }
    let http = reqwest::Client::new();
    let hooks: Arc<Vec<Webhook>> = Arc::new(hooks);
    tokio::spawn(async move {
        loop {
            let notice = match notices.recv().await {
                Ok(n) => n,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("webhooks fell behind: {n} notices not sent");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            for hook in hooks.iter().filter(|h| h.wants(&notice.kind)) {
                tokio::spawn(deliver(http.clone(), hook.clone(), Arc::clone(&notice)));
            }
        }
    });
}

async fn deliver(http: reqwest::Client, hook: Webhook, notice: Arc<Notice>) {
    let Ok(body) = serde_json::to_string(&*notice) else {
        return;
    };
    let mut delay = Duration::from_millis(hook.retry_base_ms);
    for attempt in 1..=hook.attempts.max(1) {
        let timestamp = crate::runtime::now_ms();
        let sent = http
            .post(&hook.url)
            .timeout(Duration::from_secs(10))
            .header("content-type", "application/json")
            .header("x-switchboard-event", &notice.kind)
            .header("x-switchboard-delivery", notice.seq.to_string())
            .header("x-switchboard-timestamp", timestamp.to_string())
            .header(
                "x-switchboard-signature",
                signature(&hook.secret, timestamp, &body),
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(
                "webhook {} answered {} (attempt {attempt})",
                hook.url,
                r.status()
            ),
            Err(e) => tracing::warn!("webhook {}: {e} (attempt {attempt})", hook.url),
        }
        if attempt < hook.attempts {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    tracing::error!(
        "webhook {}: gave up on notice {} after {} attempts",
        hook.url,
        notice.seq,
        hook.attempts
    );
}
