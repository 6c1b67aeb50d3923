//! Webhooks: notices POSTed as JSON to the integrations configured in `switchboard.toml`,
//! signed with HMAC-SHA256 and retried with exponential backoff.
//!
//! Each request carries `X-Switchboard-Event` (the notice kind), `X-Switchboard-Delivery`
//! (the event-log sequence: receivers deduplicate on it), `X-Switchboard-Timestamp` (ms)
//! and `X-Switchboard-Signature: sha256=<hex>` over `"{timestamp}.{body}"` with the
//! hook's secret. A 2xx answer is a delivery; anything else is retried up to
//! [`Webhook::attempts`] times (then the notice is given up, and logged).
//!
//! Deliveries come from the event log, in order, one hook at a time: each hook's cursor
//! (the last event it is done with) is stored after every event, so a restart resumes
//! where it stopped (a notice being retried when the server stopped is sent again). A new
//! hook starts with the events after it was added.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::{broadcast, watch};

use switchboard_store::{Event, Store};

use crate::center::Notice;
use crate::runtime::Runtime;

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

/// Delivers the event log to every hook, each woken by the runtime's notices, until
/// `stopping` turns true (a delivery being retried then is sent again after a restart).
pub fn start(
    hooks: Vec<Webhook>,
    store: Store,
    runtime: &Runtime,
    stopping: watch::Receiver<bool>,
) {
    let http = reqwest::Client::new();
    for hook in hooks {
        let worker = run(hook, store.clone(), http.clone(), runtime.subscribe());
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = worker => {}
                _ = stopping.wait_for(|stop| *stop) => {}
            }
        });
    }
}

/// Events read from the log at a time.
const BATCH: i64 = 200;

/// One hook's worker: from its cursor on, each event it wants is delivered (or given up)
/// in order, and the cursor stored after it; then it waits for the next notice.
async fn run(
    hook: Webhook,
    store: Store,
    http: reqwest::Client,
    mut wake: broadcast::Receiver<Arc<Notice>>,
) {
    let start = async {
        if let Some(seq) = store.webhook_cursor(&hook.url).await? {
            return Ok(seq);
        }
        // A new hook starts with what happens from now on (stored, so that a restart
        // does not skip what happened meanwhile).
        let seq = store.last_event_seq().await?;
        store.set_webhook_cursor(&hook.url, seq).await?;
        Ok::<_, switchboard_store::StoreError>(seq)
    };
    let mut cursor = match start.await {
        Ok(seq) => seq,
        Err(e) => return tracing::error!("webhook {}: {e}", hook.url),
    };
    loop {
        let events = match store.events(cursor, None, BATCH).await {
            Ok(events) => events,
            Err(e) => {
                tracing::error!("webhook {}: reading the event log: {e}", hook.url);
                Vec::new()
            }
        };
        if events.is_empty() {
            match wake.recv().await {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
        for event in events {
            if hook.wants(&event.kind) {
                deliver(&http, &hook, &notice(event.clone())).await;
            }
            cursor = event.seq;
            if let Err(e) = store.set_webhook_cursor(&hook.url, cursor).await {
                tracing::error!("webhook {}: cursor not stored: {e}", hook.url);
            }
        }
    }
}

/// A stored event as the notice it was.
fn notice(e: Event) -> Notice {
    Notice {
        seq: e.seq,
        at_ms: e.at_ms,
        kind: e.kind,
        contact: e.contact_id,
        agent: e.agent,
        queue: e.queue,
        data: e.data,
    }
}

/// Posts `notice` to `hook` until it answers 2xx or the attempts run out.
async fn deliver(http: &reqwest::Client, hook: &Webhook, notice: &Notice) {
    let Ok(body) = serde_json::to_string(notice) else {
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
