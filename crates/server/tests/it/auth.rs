//! Who may do what: every role against the endpoints that check it, tokens, and the limit
//! on failed logins.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

#[tokio::test]
async fn each_role_gets_what_it_may_and_nothing_else() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;

    // No token, a wrong token: 401 everywhere but the public endpoints.
    assert_eq!(
        h.call(Method::GET, "/api/v1/queues", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/api/v1/queues", "forged").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call(Method::GET, "/healthz", None, None).await.0,
        StatusCode::OK
    );

    let queue = json!({ "strategy": "round-robin", "sl_secs": 15 });
    let agent = json!({ "name": "Zoe", "queues": { "support": 1 } });
    for (token, may_configure) in [(&alice, false), (&sam, false), (&admin, true)] {
        let expect = if may_configure {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(
            h.call(
                Method::PUT,
                "/api/v1/queues/support",
                Some(token),
                Some(queue.clone())
            )
            .await
            .0,
            expect
        );
        assert_eq!(
            h.call(
                Method::PUT,
                "/api/v1/agents/zoe",
                Some(token),
                Some(agent.clone())
            )
            .await
            .0,
            expect
        );
        assert_eq!(
            h.call(
                Method::PUT,
                "/api/v1/numbers/help",
                Some(token),
                Some(json!({ "flow": "tech-support" }))
            )
            .await
            .0,
            expect
        );
        assert_eq!(
            h.call(
                Method::PUT,
                "/api/v1/wrapup-codes/spam",
                Some(token),
                Some(json!({ "label": "Spam" }))
            )
            .await
            .0,
            expect
        );
        assert_eq!(
            h.post("/api/v1/tokens", token, json!({ "user": "sam" }))
                .await
                .0,
            if may_configure {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            }
        );
    }
    let (_, queues) = h.get("/api/v1/queues", &alice).await;
    let support = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "support")
        .unwrap()
        .clone();
    assert_eq!(
        (
            support["config"]["strategy"].as_str(),
            support["config"]["sl_secs"].as_u64()
        ),
        (Some("round-robin"), Some(15))
    );

    // Supervisors (and admins) watch and manage; agents only themselves.
    for (token, supervises) in [(&alice, false), (&sam, true), (&admin, true)] {
        let expect = if supervises {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(h.get("/api/v1/callbacks", token).await.0, expect);
        assert_eq!(h.get("/api/v1/contacts?agent=bob", token).await.0, expect);
        assert_eq!(
            h.call(Method::POST, "/api/v1/flows/check", Some(token), None)
                .await
                .0,
            expect
        );
        let other = h
            .post(
                "/api/v1/agents/bob/state",
                token,
                json!({ "state": "away", "reason": "lunch" }),
            )
            .await
            .0;
        assert_eq!(
            other,
            if supervises {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::FORBIDDEN
            }
        );
        let (_, agents) = h.get("/api/v1/agents", token).await;
        assert_eq!(agents.as_array().unwrap().len() > 1, supervises);
    }
    assert_eq!(
        h.post(
            "/api/v1/agents/alice/state",
            &alice,
            json!({ "state": "away", "reason": "training" })
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, me) = h.get("/api/v1/agents", &alice).await;
    assert_eq!(me[0]["live"]["state"], "away:training");
    let (status, body) = h
        .post(
            "/api/v1/agents/alice/state",
            &alice,
            json!({ "state": "dancing" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // An integration token signs in as its user; logging out revokes a session token.
    let (_, created) = h
        .post("/api/v1/tokens", &admin, json!({ "user": "sam" }))
        .await;
    let api = created["token"].as_str().unwrap();
    assert_eq!(h.get("/api/v1/me", api).await.1["role"], "supervisor");
    assert_eq!(
        h.post("/api/v1/auth/logout", &alice, json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.get("/api/v1/me", &alice).await.0,
        StatusCode::UNAUTHORIZED
    );
    h.stop().await;
}

#[tokio::test]
async fn failed_logins_are_limited_per_name() {
    let h = Harness::start().await;
    for _ in 0..5 {
        let (status, body) = h
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "name": "bob", "password": "guess" })),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
    }
    // Locked now, even with the right password; other names are not affected.
    let (status, body) = h
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "name": "bob", "password": "demo" })),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    h.login("carla", "demo").await;
    h.stop().await;
}

#[tokio::test]
async fn admins_add_users_and_set_roles_and_passwords() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let put = |name: &str, body: Value| {
        let path = format!("/api/v1/users/{name}");
        let token = admin.clone();
        let h = &h;
        async move { h.call(Method::PUT, &path, Some(&token), Some(body)).await }
    };
    // A new supervisor signs in with the password the admin set.
    let (status, body) = put(
        "zoe",
        json!({"role": "supervisor", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let zoe = h.login("zoe", "correct horse").await;
    let (_, me) = h.get("/api/v1/me", &zoe).await;
    assert_eq!(me["role"], "supervisor", "{me}");
    // Changing the role keeps the password.
    let (status, body) = put("zoe", json!({"role": "agent", "agent": "emma"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let zoe = h.login("zoe", "correct horse").await;
    let (_, me) = h.get("/api/v1/me", &zoe).await;
    assert_eq!(
        (me["role"].as_str(), me["agent"].as_str()),
        (Some("agent"), Some("emma")),
        "{me}"
    );
    // The list shows roles, never password hashes.
    let (status, users) = h.get("/api/v1/users", &admin).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let zoe_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "zoe")
        .unwrap();
    assert_eq!(zoe_row["agent"], "emma");
    assert!(!users.to_string().contains("argon2"), "{users}");
    // Refused, each with its reason.
    for (name, body, why) in [
        ("new", json!({"role": "supervisor"}), "password"),
        (
            "new",
            json!({"role": "supervisor", "password": "short"}),
            "at least 8",
        ),
        (
            "new",
            json!({"role": "agent", "password": "long enough"}),
            "agent profile",
        ),
        (
            "new",
            json!({"role": "agent", "agent": "nobody", "password": "long enough"}),
            "no agent",
        ),
        (
            "new",
            json!({"role": "owner", "password": "long enough"}),
            "unknown role",
        ),
        (
            "bad name!",
            json!({"role": "agent", "password": "long enough"}),
            "user name",
        ),
        ("admin", json!({"role": "supervisor"}), "own admin role"),
    ] {
        let (status, body) = put(name, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{name}: {message}");
    }
    // Only admins.
    let sam = h.login("sam", "demo").await;
    let (status, _) = h.get("/api/v1/users", &sam).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .call(
            Method::PUT,
            "/api/v1/users/sam",
            Some(&sam),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    h.stop().await;
}
