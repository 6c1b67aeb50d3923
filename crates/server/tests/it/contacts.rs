//! A contact end to end: chat → flow → queue → offer with screen pop → accept → messages →
//! end → wrap-up → history and KPIs; and what a restart does to contacts in progress.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::Harness;

#[tokio::test]
async fn a_chat_reaches_an_agent_and_lands_in_history_and_kpis() {
    let h = Harness::start().await;
    let alice = h.login("alice", "demo").await;
    let sam = h.login("sam", "demo").await;
    let mut alice_events = h.events(&alice).await;
    let mut wall = h.events(&sam).await;

    let (status, _) = h
        .post(
            "/api/v1/agents/alice/state",
            &alice,
            json!({ "state": "available" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        alice_events.next_named("agent.state").await["data"]["state"],
        "available"
    );

    // Ada (a VIP customer in the demo data) chats to support and is greeted by name.
    let (id, chat, view) = h.chat("support", "+441632960001").await;
    let greeting: Vec<&str> = view["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(greeting.contains(&"Hello Ada."), "{greeting:?}");
    assert_eq!(view["options"][1], json!(["2", "network troubleshooting"]));

    let view = h.say(id, &chat, "2").await;
    // Alice was free: the contact is offered at once.
    assert_eq!(view["status"], "queued");
    let offer = alice_events.next_named("contact.offered").await;
    assert_eq!(offer["contact"], id);
    let pop = &offer["data"]["screen_pop"];
    assert_eq!(pop["customer"]["name"], "Ada Lovelace");
    assert_eq!(pop["customer"]["segment"], "vip");
    assert_eq!(
        pop["ivr_path"],
        json!(["main-menu:2 network troubleshooting"])
    );
    assert!(
        pop["articles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["title"] == "Resetting a router"),
        "articles suggested from the IVR choice: {pop}"
    );
    // While offered, the agent may read the contact; another agent may not.
    assert_eq!(
        h.get(&format!("/api/v1/contacts/{id}"), &alice).await.0,
        StatusCode::OK
    );
    let bob = h.login("bob", "demo").await;
    assert_eq!(
        h.get(&format!("/api/v1/contacts/{id}"), &bob).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, body) = h
        .post(
            &format!("/api/v1/agents/alice/offers/{id}/accept"),
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        alice_events.next_named("contact.connected").await["contact"],
        id
    );

    let (status, _) = h
        .post(
            &format!("/api/v1/contacts/{id}/messages"),
            &alice,
            json!({ "text": "Hello Ada, let us fix it." }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let view = h.say(id, &chat, "Thank you!").await;
    assert_eq!(view["status"], "connected");
    let heard = alice_events.next_named("contact.message").await;
    assert_eq!(heard["data"]["from"], "agent");
    let heard = alice_events.next_named("contact.message").await;
    assert_eq!(
        heard["data"],
        json!({ "from": "customer", "text": "Thank you!" })
    );

    // The wallboard saw it all, with KPIs pushed as they change.
    assert_eq!(wall.next_named("contact.connected").await["agent"], "alice");

    let (status, _) = h
        .post(&format!("/api/v1/contacts/{id}/end"), &alice, json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h
        .post(
            &format!("/api/v1/contacts/{id}/wrapup"),
            &alice,
            json!({ "code": "nonsense" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    let (status, _) = h
        .post(
            &format!("/api/v1/contacts/{id}/wrapup"),
            &alice,
            json!({ "code": "resolved", "notes": "router reset", "resolved": true }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The contact is closed, once: a second wrap-up is a conflict.
    let (status, _) = h
        .post(
            &format!("/api/v1/contacts/{id}/wrapup"),
            &alice,
            json!({ "code": "resolved" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, c) = h.get(&format!("/api/v1/contacts/{id}"), &sam).await;
    assert_eq!(c["status"], "closed");
    assert_eq!(c["agent"], "alice");
    assert_eq!(c["queue"], "support");
    assert_eq!(c["wrapup_code"], "resolved");
    assert_eq!(c["resolved"], true);
    assert_eq!(c["end_reason"], "handled");
    let texts: Vec<(&str, &str)> = c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["from"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert!(
        texts.contains(&("agent", "Hello Ada, let us fix it."))
            && texts.contains(&("customer", "Thank you!")),
        "{texts:?}"
    );
    for field in [
        "created_ms",
        "queued_ms",
        "answered_ms",
        "ended_ms",
        "wrapped_ms",
    ] {
        assert!(c[field].is_i64(), "{field} missing: {c}");
    }
    let (status, case) = h
        .post(
            "/api/v1/customers/1/cases",
            &alice,
            json!({ "subject": "Router keeps dropping" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let (_, history) = h.get("/api/v1/customers/1/history", &sam).await;
    assert_eq!(history["contacts"][0]["id"], id);
    assert_eq!(history["cases"][0]["status"], "open");
    let close = format!("/api/v1/cases/{}/close", case["id"]);
    assert_eq!(
        h.post(&close, &alice, json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.post(&close, &alice, json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, history) = h.get("/api/v1/customers/1/history", &sam).await;
    assert_eq!(history["cases"][0]["status"], "closed");
    let (_, mine) = h.get("/api/v1/contacts?limit=10", &alice).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let (_, kpis) = h.get("/api/v1/kpis/realtime", &sam).await;
    let support = kpis["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap()
        .clone();
    assert_eq!(
        (support["answered"].as_u64(), support["abandoned"].as_u64()),
        (Some(1), Some(0)),
        "{support}"
    );
    assert_eq!(
        support["service_level"], 100.0,
        "answered at once: {support}"
    );
    assert!(support["aht_secs"].as_f64().is_some(), "{support}");
    assert_eq!(support["waiting"], 0);
    let a = kpis["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(
        (a["handled"].as_u64(), a["state"].as_str()),
        (Some(1), Some("available")),
        "{a}"
    );
    // An agent's view of the KPIs holds only themselves.
    let (_, theirs) = h.get("/api/v1/kpis/realtime", &alice).await;
    assert_eq!(theirs["agents"].as_array().unwrap().len(), 1);

    let metrics = h.metrics().await;
    assert!(
        metrics.contains("switchboard_queue_answered_today{queue=\"support\"} 1"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_caller_who_leaves_the_queue_counts_as_abandoned_and_a_restart_closes_contacts_in_progress()
 {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    // Nobody is available: both chats wait in the queue.
    let (gone, gone_chat, _) = h.chat("support", "+441632960099").await;
    h.say(gone, &gone_chat, "0").await;
    let (waiting, waiting_chat, _) = h.chat("support", "+441632960098").await;
    let view = h.say(waiting, &waiting_chat, "0").await;
    assert_eq!(view["status"], "queued");
    let (_, kpis) = h.get("/api/v1/kpis/realtime", &sam).await;
    let support = kpis["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap()
        .clone();
    assert_eq!(support["waiting"], 2, "{support}");

    let (status, view) = h
        .call(
            Method::DELETE,
            &format!("/api/v1/chat/{gone}"),
            Some(&gone_chat),
            None,
        )
        .await;
    assert_eq!(
        (status, view["status"].as_str()),
        (StatusCode::OK, Some("ended"))
    );
    let (_, c) = h.get(&format!("/api/v1/contacts/{gone}"), &sam).await;
    assert_eq!(
        (c["status"].as_str(), c["end_reason"].as_str()),
        (Some("closed"), Some("abandoned"))
    );
    // Leaving in the menus is not a queue abandon.
    let (menus, menus_chat, _) = h.chat("support", "+441632960097").await;
    h.call(
        Method::DELETE,
        &format!("/api/v1/chat/{menus}"),
        Some(&menus_chat),
        None,
    )
    .await;
    let (_, c) = h.get(&format!("/api/v1/contacts/{menus}"), &sam).await;
    assert_eq!(c["end_reason"], "caller_left");
    // A chat that is over takes no more input.
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/chat/{menus}/messages"),
            Some(&menus_chat),
            Some(json!({ "text": "1" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, kpis) = h.get("/api/v1/kpis/realtime", &sam).await;
    let support = kpis["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap()
        .clone();
    let left =
        support["abandoned"].as_u64().unwrap() + support["short_abandoned"].as_u64().unwrap();
    assert_eq!(
        (support["waiting"].as_u64(), left),
        (Some(1), 1),
        "{support}"
    );

    // Stop with a contact still waiting; the next start closes it as interrupted and keeps
    // everything that was accepted.
    let dir = h.stop().await;
    let h = Harness::start_in(dir).await;
    let sam = h.login("sam", "demo").await;
    let (_, c) = h.get(&format!("/api/v1/contacts/{waiting}"), &sam).await;
    assert_eq!(
        (c["status"].as_str(), c["end_reason"].as_str()),
        (Some("closed"), Some("interrupted")),
        "{c}"
    );
    assert_eq!(c["ivr_path"], json!(["ask-account:0 agent escape"]));
    let (_, c) = h.get(&format!("/api/v1/contacts/{gone}"), &sam).await;
    assert_eq!(c["end_reason"], "abandoned");
    h.stop().await;
}

#[tokio::test]
async fn a_flow_identifies_the_caller_from_the_customer_store() {
    let h = Harness::start().await;
    let (id, _chat, view) = h.chat("returning", "+441632960001").await;
    let lines: Vec<&str> = view["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("Ada")),
        "the returning-caller flow greets a known customer: {lines:?}"
    );
    let sam = h.login("sam", "demo").await;
    let (_, events) = h.get(&format!("/api/v1/contacts/{id}/events"), &sam).await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["data"]["type"] == "looked_up" && e["data"]["found"] == true),
        "{events}"
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(
            Method::POST,
            "/api/v1/chat",
            None,
            Some(json!({ "to": "nowhere", "from": "x" })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = h
        .call(
            Method::POST,
            "/api/v1/chat",
            None,
            Some(json!({ "to": "support", "from": "x", "extra": 1 })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    let broken = h
        .http
        .post(format!("{}/api/v1/chat", h.base))
        .header("content-type", "application/json")
        .body("{\"to\":")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let (id, chat, _) = h.chat("support", "+441632960050").await;
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/chat/{id}/messages"),
            Some(&chat),
            Some(json!({ "text": "x".repeat(5000) })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/chat/{id}/messages"),
            Some("not-the-token"),
            Some(json!({ "text": "1" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sam = h.login("sam", "demo").await;
    let (status, body) = h
        .post(
            "/api/v1/customers",
            &sam,
            json!({ "name": "X", "phone": "0123" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The framework's own rejections come in the same JSON shape.
    for (method, path, expected) in [
        (
            Method::GET,
            "/api/v1/contacts?limit=many",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/contacts/not-a-number",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            "/api/v1/queues",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (status, body) = h.call(method.clone(), path, Some(&sam), None).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{path}: {body}"
        );
    }
    let (status, _) = h.get("/api/v1/contacts/999999", &sam).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h.get("/api/v1/no-such-thing", &sam).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The chat still works after all that.
    let view = h.say(id, &chat, "0").await;
    assert_eq!(view["status"], "queued");
    h.stop().await;
}

#[tokio::test]
async fn an_agent_transfers_a_chat_to_another_queue_and_it_stays_one_contact() {
    let h = Harness::start().await;
    let alice = h.login("alice", "demo").await;
    let dev = h.login("dev", "demo").await;
    let mut events = h.events(&h.login("sam", "demo").await).await;
    let available = json!({ "state": "available" });
    assert!(
        h.post("/api/v1/agents/alice/state", &alice, available.clone())
            .await
            .0
            .is_success()
    );
    let (id, chat, _) = h.chat("support", "+441632960001").await;
    h.say(id, &chat, "2").await;
    assert_eq!(events.next_named("contact.offered").await["agent"], "alice");
    let accept = format!("/api/v1/agents/alice/offers/{id}/accept");
    assert!(h.post(&accept, &alice, json!({})).await.0.is_success());

    // Unknown targets are refused and change nothing.
    assert!(
        h.post("/api/v1/agents/dev/state", &dev, available)
            .await
            .0
            .is_success()
    );
    let path = format!("/api/v1/contacts/{id}/transfer");
    let (status, body) = h.post(&path, &alice, json!({ "to": "nowhere" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Another agent may not transfer Alice's contact.
    assert_eq!(
        h.post(&path, &dev, json!({ "to": "orders" })).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = h.post(&path, &alice, json!({ "to": "orders" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let moved = events.next_named("contact.transferred").await;
    assert_eq!(
        (moved["contact"].as_i64(), moved["data"]["queue"].as_str()),
        (Some(id), Some("orders"))
    );
    // Dev serves orders ahead of Alice (who is free at once) and takes the same contact.
    assert_eq!(events.next_named("contact.offered").await["agent"], "dev");
    let accept = format!("/api/v1/agents/dev/offers/{id}/accept");
    assert!(h.post(&accept, &dev, json!({})).await.0.is_success());
    let view = h.say(id, &chat, "Still there?").await;
    assert_eq!(view["status"], "connected", "{view}");
    let (_, c) = h.get(&format!("/api/v1/contacts/{id}"), &dev).await;
    assert_eq!(
        (c["agent"].as_str(), c["transferred"].as_bool()),
        (Some("dev"), Some(true)),
        "{c}"
    );
    h.stop().await;
}
