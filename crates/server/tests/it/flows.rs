//! Flows over the API: a broken upload is refused with diagnostics at their line, a fixed
//! one is published as a new version and answers at once; roll back.

use reqwest::StatusCode;

use crate::Harness;

const GOOD: &str = "id: hello\nversion: 1\nstart: hi\nnodes:\n  hi:\n    say: \"Hello from version {v}.\"\n    next: bye\n  bye:\n    hangup: {}\n";

#[tokio::test]
async fn flows_are_validated_published_and_rolled_back() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let admin = h.login("admin", "admin").await;

    let broken =
        "id: hello\nversion: 1\nstart: hi\nnodes:\n  hi:\n    say: \"Hello\"\n    next: nowhere\n";
    let (status, body) = h.put_yaml("/api/v1/flows/hello", &sam, broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let d = &body["error"]["details"][0];
    assert_eq!(
        (d["line"].as_u64(), d["severity"].as_str()),
        (Some(7), Some("error")),
        "{body}"
    );
    assert!(d["message"].as_str().unwrap().contains("nowhere"), "{d}");

    let (status, v1) = h
        .put_yaml("/api/v1/flows/hello", &sam, &GOOD.replace("{v}", "1"))
        .await;
    assert_eq!(
        (status, v1["version"].as_i64()),
        (StatusCode::CREATED, Some(1)),
        "{v1}"
    );
    let (status, v2) = h
        .put_yaml("/api/v1/flows/hello", &sam, &GOOD.replace("{v}", "2"))
        .await;
    assert_eq!(
        (status, v2["version"].as_i64()),
        (StatusCode::CREATED, Some(2))
    );
    // The id in the path must be the file's.
    assert_eq!(
        h.put_yaml("/api/v1/flows/other", &sam, &GOOD.replace("{v}", "3"))
            .await
            .0,
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

const OFFICE: &str = "id: office\nversion: 1\nstart: check\ncalendar_files: [calendars/office-hours.yaml]\nnodes:\n  check:\n    hours:\n      calendar: office\n      open: open\n      closed: closed\n  open:\n    say: \"We are open.\"\n    next: bye\n  closed:\n    say: \"We are closed.\"\n    next: bye\n  bye:\n    hangup: {}\n";

#[tokio::test]
async fn calendars_are_validated_and_flows_follow_them_at_once() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let closed = "calendars:\n  office:\n    timezone: UTC\n    hours:\n      mon-sun: closed\n";
    let open =
        "calendars:\n  office:\n    timezone: UTC\n    hours:\n      mon-sun: \"00:00-24:00\"\n";

    let (status, body) = h.put_yaml(
        "/api/v1/calendars/office-hours",
        &admin,
        "calendars:\n  office:\n    timezone: Mars/Olympus\n    hours:\n      mon-sun: closed\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["line"], 3, "{body}");
    assert_eq!(
        h.put_yaml("/api/v1/calendars/..%2Fescape", &admin, closed)
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let sam = h.login("sam", "demo").await;
    assert_eq!(
        h.put_yaml("/api/v1/calendars/office-hours", &sam, closed)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        h.put_yaml("/api/v1/calendars/office-hours", &admin, closed)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.put_yaml("/api/v1/flows/office", &admin, OFFICE).await.0,
        StatusCode::CREATED
    );
    h.call(
        reqwest::Method::PUT,
        "/api/v1/numbers/office",
        Some(&admin),
        Some(serde_json::json!({ "flow": "office" })),
    )
    .await;
    let (_, _, view) = h.chat("office", "someone").await;
    assert_eq!(view["lines"][0]["text"], "We are closed.");

    // Opening hours changed through the API apply to the next contact.
    assert_eq!(
        h.put_yaml("/api/v1/calendars/office-hours", &admin, open)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, _, view) = h.chat("office", "someone").await;
    assert_eq!(view["lines"][0]["text"], "We are open.");
    let (_, files) = h.get("/api/v1/calendars", &sam).await;
    let office = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "office-hours")
        .unwrap()
        .clone();
    assert_eq!(
        (office["calendars"][0].as_str(), office["source"].as_str()),
        (Some("office"), Some(open))
    );
    h.stop().await;
}
