//! Callbacks: one that keeps the caller's place, one registered by a flow, both routed to
//! an agent and closed by the wrap-up; a pending callback survives a restart.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Harness;

const HOLD: &str = r#"id: hold
version: 1
start: wait
nodes:
  wait:
    enqueue:
      queue: support
      callback:
        key: "1"
        when_wait_over: 1s
        prompt: "To be called back without losing your place, press 1."
        confirm: "We will call you back."
"#;

const LATER: &str = r#"id: later
version: 1
start: offer
nodes:
  offer:
    callback:
      queue: support
      confirm: "We will call you back at this number."
"#;

async fn publish(h: &Harness, admin: &str, id: &str, yaml: &str) {
    let (status, body) = h
        .put_yaml(&format!("/api/v1/flows/{id}"), admin, yaml)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = h
        .call(
            Method::PUT,
            &format!("/api/v1/numbers/{id}"),
            Some(admin),
            Some(json!({ "flow": id })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn handle(h: &Harness, alice: &str, contact: i64) {
    let (status, body) = h
        .post(
            &format!("/api/v1/agents/alice/offers/{contact}/accept"),
            alice,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        h.post(&format!("/api/v1/contacts/{contact}/end"), alice, json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = h
        .post(
            &format!("/api/v1/contacts/{contact}/wrapup"),
            alice,
            json!({ "code": "resolved", "resolved": true }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn a_callback_keeps_its_place_and_is_done_when_handled() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;
    publish(&h, &admin, "hold", HOLD).await;
    // One contact at a time, so that the second one waits.
    let one = json!({ "name": "Alice", "queues": { "support": 1 }, "capacity": { "voice": 1, "chat": 1, "total": 1 } });
    assert_eq!(
        h.call(Method::PUT, "/api/v1/agents/alice", Some(&admin), Some(one))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    h.post(
        "/api/v1/agents/alice/state",
        &alice,
        json!({ "state": "available" }),
    )
    .await;
    let mut events = h.events(&alice).await;

    // Alice takes the first chat; the second waits behind her and is offered a callback
    // at once, since the expected wait (a whole handle time) is over a second.
    let (first, _, _) = h.chat("hold", "+441632960011").await;
    assert_eq!(events.next_named("contact.offered").await["contact"], first);
    h.post(
        &format!("/api/v1/agents/alice/offers/{first}/accept"),
        &alice,
        json!({}),
    )
    .await;
    let (second, chat, view) = h.chat("hold", "+441632960012").await;
    let said: Vec<&str> = view["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(said.iter().any(|l| l.contains("press 1")), "{said:?}");
    let view = h.say(second, &chat, "1").await;
    assert_eq!(view["status"], "queued");
    assert!(
        view["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "We will call you back.")
    );
    // The customer goes away; the callback stays in line.
    h.call(
        Method::DELETE,
        &format!("/api/v1/chat/{second}"),
        Some(&chat),
        None,
    )
    .await;
    let (_, pending) = h.get("/api/v1/callbacks?status=pending", &sam).await;
    assert_eq!(pending[0]["attempt_contact"], second, "{pending}");

    // When Alice is free, the callback is offered to her.
    h.post(&format!("/api/v1/contacts/{first}/end"), &alice, json!({}))
        .await;
    h.post(
        &format!("/api/v1/contacts/{first}/wrapup"),
        &alice,
        json!({ "code": "resolved" }),
    )
    .await;
    assert_eq!(
        events.next_named("contact.offered").await["contact"],
        second
    );
    handle(&h, &alice, second).await;
    let (_, done) = h.get("/api/v1/callbacks?status=done", &sam).await;
    assert_eq!(done.as_array().unwrap().len(), 1, "{done}");
    h.stop().await;
}

#[tokio::test]
async fn a_pending_callback_is_routed_again_after_a_restart() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    publish(&h, &admin, "later", LATER).await;
    let (origin, _, view) = h.chat("later", "+441632960001").await;
    assert_eq!(
        view["lines"][0]["text"],
        "We will call you back at this number."
    );
    let sam = h.login("sam", "demo").await;
    let (_, pending) = h.get("/api/v1/callbacks?status=pending", &sam).await;
    assert_eq!(
        (
            pending[0]["contact_id"].as_i64(),
            pending[0]["number"].as_str()
        ),
        (Some(origin), Some("+441632960001"))
    );
    let before = pending[0]["attempt_contact"].as_i64().unwrap();
    let (_, c) = h.get(&format!("/api/v1/contacts/{before}"), &sam).await;
    assert_eq!(
        (
            c["channel"].as_str(),
            c["status"].as_str(),
            c["customer_id"].as_i64()
        ),
        (Some("callback"), Some("queued"), Some(1)),
        "{c}"
    );

    let dir = h.stop().await;
    let h = Harness::start_in(dir).await;
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;
    let (_, pending) = h.get("/api/v1/callbacks?status=pending", &sam).await;
    let after = pending[0]["attempt_contact"].as_i64().unwrap();
    assert_ne!(after, before, "a new contact routes it");
    assert_eq!(
        h.get(&format!("/api/v1/contacts/{before}"), &sam).await.1["end_reason"],
        "interrupted"
    );
    let mut events = h.events(&alice).await;
    h.post(
        "/api/v1/agents/alice/state",
        &alice,
        json!({ "state": "available" }),
    )
    .await;
    let offer = events.next_named("contact.offered").await;
    assert_eq!(offer["contact"], after);
    assert_eq!(
        offer["data"]["screen_pop"]["customer"]["name"],
        "Ada Lovelace"
    );
    handle(&h, &alice, after).await;
    assert!(
        h.get("/api/v1/callbacks?status=pending", &sam)
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_follow_up_promised_at_wrap_up_is_routed_when_due() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;
    crate::voice::available(&h, "alice").await;
    let mut events = h.events(&alice).await;
    let (contact, chat, _) = h.chat("support", "+441632960001").await;
    h.say(contact, &chat, "0").await;
    assert_eq!(
        events.next_named("contact.offered").await["contact"],
        contact
    );
    h.post(
        &format!("/api/v1/agents/alice/offers/{contact}/accept"),
        &alice,
        json!({}),
    )
    .await;
    h.post(
        &format!("/api/v1/contacts/{contact}/end"),
        &alice,
        json!({}),
    )
    .await;
    let wrap_up = format!("/api/v1/contacts/{contact}/wrapup");
    // Refused, and nothing is wrapped up or promised.
    for (follow_up, why) in [
        (json!({ "queue": "nope" }), "no queue `nope`"),
        (json!({ "at_ms": 1_000 }), "in the past"),
        (json!({ "number": " " }), "number"),
        (json!({ "when": "later" }), "unknown field"),
    ] {
        let body = json!({ "code": "follow-up", "follow_up": follow_up });
        let (status, answer) = h.post(&wrap_up, &alice, body).await;
        assert!(status.is_client_error(), "{why}: {status} {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(why),
            "{answer}"
        );
    }
    let (_, stored) = h.get(&format!("/api/v1/contacts/{contact}"), &alice).await;
    assert_eq!(stored["wrapup_code"], serde_json::Value::Null, "{stored}");
    let (_, pending) = h.get("/api/v1/callbacks?status=pending", &sam).await;
    assert_eq!(pending, json!([]));

    // Due now: the promise is stored, then routed as a callback contact to the queue.
    let body = json!({ "code": "follow-up", "follow_up": {} });
    let (status, answer) = h.post(&wrap_up, &alice, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let offered = events.next_named("contact.offered").await;
    let callback = offered["contact"].as_i64().unwrap();
    assert_ne!(callback, contact);
    assert_eq!(
        offered["data"]["screen_pop"]["contact"]["channel"], "callback",
        "{offered}"
    );
    assert_eq!(
        offered["data"]["screen_pop"]["contact"]["address"],
        "+441632960001"
    );
    let (_, pending) = h.get("/api/v1/callbacks?status=pending", &sam).await;
    assert_eq!(pending[0]["contact_id"], contact, "{pending}");
    assert_eq!(pending[0]["attempt_contact"], callback, "{pending}");
    assert_eq!(pending[0]["queue"], "support", "{pending}");
    h.stop().await;
}
