//! Webhooks reach a receiver the test runs, signed, and are retried when it fails, also
//! across a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use switchboard_server::webhooks::Webhook;
use tokio::sync::mpsc;

use crate::Harness;

/// Requests a receiver got: headers and body.
type Received = mpsc::UnboundedReceiver<(HeaderMap, String)>;

/// A webhook receiver the test runs: its URL, and every request it gets, each answered
/// with what `answer` says (`answer` is called once per request).
async fn receiver(answer: impl Fn() -> StatusCode + Send + Sync + 'static) -> (String, Received) {
    let (tx, rx) = mpsc::unbounded_channel();
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (tx, answer) = (tx.clone(), Arc::clone(&answer));
            async move {
                let status = answer();
                tx.send((headers, body)).unwrap();
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

#[tokio::test]
async fn notices_are_posted_signed_and_retried() {
    // The receiver refuses its first request, then accepts.
    let calls = AtomicU32::new(0);
    let (url, mut rx) = receiver(move || {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    })
    .await;

    let hook = Webhook {
        url,
        secret: "s3cret".into(),
        events: vec!["contact.started".into()],
        attempts: 3,
        retry_base_ms: 10,
    };
    let h = Harness::start_with(tempfile::tempdir().unwrap(), |c| c.webhooks = vec![hook]).await;
    let (id, _, _) = h.chat("support", "+441632960001").await;

    let (first, body1) = rx.recv().await.unwrap();
    let (second, body2) = rx.recv().await.unwrap();
    assert_eq!(body1, body2, "a retry sends the same notice");
    assert_eq!(
        first["x-switchboard-delivery"],
        second["x-switchboard-delivery"]
    );
    assert_eq!(second["x-switchboard-event"], "contact.started");
    let notice: Value = serde_json::from_str(&body2).unwrap();
    assert_eq!(
        (notice["kind"].as_str(), notice["contact"].as_i64()),
        (Some("contact.started"), Some(id))
    );

    // The signature is HMAC-SHA256 over "{timestamp}.{body}" with the shared secret.
    let timestamp = second["x-switchboard-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{timestamp}.{body2}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        second["x-switchboard-signature"],
        format!("sha256={expected}").as_str()
    );
    // Only the kinds asked for were sent (no flow steps, no queue events).
    assert!(rx.try_recv().is_err());
    h.stop().await;
}

#[tokio::test]
async fn a_delivery_that_failed_when_the_server_stopped_is_sent_after_the_restart() {
    // The receiver fails until it is told to accept.
    let accept = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = Arc::clone(&accept);
    let (url, mut rx) = receiver(move || {
        if gate.load(Ordering::SeqCst) {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    })
    .await;
    let hook = Webhook {
        url,
        secret: "s3cret".into(),
        events: vec!["contact.started".into()],
        attempts: 100,
        retry_base_ms: 20,
    };

    let first = hook.clone();
    let h = Harness::start_with(tempfile::tempdir().unwrap(), |c| c.webhooks = vec![first]).await;
    h.chat("support", "+441632960001").await;
    let (refused, _) = rx.recv().await.unwrap();
    let delivery = refused["x-switchboard-delivery"].clone();
    let dir = h.stop().await;

    // Back up, with the receiver accepting: the same notice is delivered first.
    accept.store(true, Ordering::SeqCst);
    // (The first server's worker stopped with it: nothing is sent meanwhile.)
    while let Ok((headers, _)) = rx.try_recv() {
        assert_eq!(headers["x-switchboard-delivery"], delivery);
    }
    // The restarted server signs with a new secret: the delivery is its own.
    let hook = Webhook {
        secret: "rotated".into(),
        ..hook
    };
    let h = Harness::start_with(dir, |c| c.webhooks = vec![hook]).await;
    let (headers, body) = rx.recv().await.unwrap();
    assert_eq!(headers["x-switchboard-delivery"], delivery, "{body}");
    let timestamp = headers["x-switchboard-timestamp"].to_str().unwrap();
    let signed =
        switchboard_server::webhooks::signature("rotated", timestamp.parse().unwrap(), &body);
    assert_eq!(headers["x-switchboard-signature"], signed.as_str());
    h.stop().await;
}
