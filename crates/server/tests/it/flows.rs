//! Flows over the API: a broken upload is refused with diagnostics at their line, a fixed
//! one is published as a new version and answers at once; roll back.

use reqwest::StatusCode;
use serde_json::Value;

use crate::Harness;

const GOOD: &str = "id: hello\nversion: 1\nstart: hi\nnodes:\n  hi:\n    say: \"Hello from version {v}.\"\n    next: bye\n  bye:\n    hangup: {}\n";

async fn put(h: &Harness, token: &str, id: &str, yaml: &str) -> (StatusCode, Value) {
    let r = h
        .http
        .put(format!("{}/api/v1/flows/{id}", h.base))
        .bearer_auth(token)
        .header("content-type", "text/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn flows_are_validated_published_and_rolled_back() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let admin = h.login("admin", "admin").await;

    let broken =
        "id: hello\nversion: 1\nstart: hi\nnodes:\n  hi:\n    say: \"Hello\"\n    next: nowhere\n";
    let (status, body) = put(&h, &sam, "hello", broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let d = &body["error"]["details"][0];
    assert_eq!(
        (d["line"].as_u64(), d["severity"].as_str()),
        (Some(7), Some("error")),
        "{body}"
    );
    assert!(d["message"].as_str().unwrap().contains("nowhere"), "{d}");

    let (status, v1) = put(&h, &sam, "hello", &GOOD.replace("{v}", "1")).await;
    assert_eq!(
        (status, v1["version"].as_i64()),
        (StatusCode::CREATED, Some(1)),
        "{v1}"
    );
    let (status, v2) = put(&h, &sam, "hello", &GOOD.replace("{v}", "2")).await;
    assert_eq!(
        (status, v2["version"].as_i64()),
        (StatusCode::CREATED, Some(2))
    );
    // The id in the path must be the file's.
    assert_eq!(
        put(&h, &sam, "other", &GOOD.replace("{v}", "3")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    assert_eq!(
        h.call(
            reqwest::Method::PUT,
            "/api/v1/numbers/hello",
            Some(&admin),
            Some(serde_json::json!({ "flow": "hello" }))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, _, view) = h.chat("hello", "someone").await;
    assert_eq!(view["lines"][0]["text"], "Hello from version 2.");
    assert_eq!(view["status"], "ended");

    let (status, _) = h
        .post(
            "/api/v1/flows/hello/activate",
            &sam,
            serde_json::json!({ "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, view) = h.chat("hello", "someone").await;
    assert_eq!(view["lines"][0]["text"], "Hello from version 1.");
    let (_, versions) = h.get("/api/v1/flows/hello/versions", &sam).await;
    let active: Vec<(i64, bool)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(active, vec![(2, false), (1, true)]);
    assert_eq!(
        h.post(
            "/api/v1/flows/hello/activate",
            &sam,
            serde_json::json!({ "version": 9 })
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // A number cannot point at a flow that does not exist.
    let (status, _) = h
        .call(
            reqwest::Method::PUT,
            "/api/v1/numbers/x",
            Some(&admin),
            Some(serde_json::json!({ "flow": "missing" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    h.stop().await;
}
