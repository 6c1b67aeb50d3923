//! The admin screen's tools over the API: a flow check's graph, dry runs of flows (with
//! subflows and customers), Erlang staffing figures and the single-queue simulation, for
//! supervisors only, with bad input refused with a reason.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/flows")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// `POST /flows/check` with a YAML body.
async fn check(h: &Harness, token: &str, yaml: &str) -> (StatusCode, Value) {
    h.send_yaml(Method::POST, "/api/v1/flows/check", token, yaml)
        .await
}

fn close(v: &Value, want: f64, tol: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() <= tol)
}

const BROKEN: &str =
    "id: hello\nversion: 1\nstart: hi\nnodes:\n  hi:\n    say: \"Hello\"\n    next: nowhere\n";

#[tokio::test]
async fn check_answers_the_graph_of_a_flow() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let (status, body) = check(&h, &sam, &example("tech-support.yaml")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["ok"].as_bool(), body["id"].as_str()),
        (Some(true), Some("tech-support"))
    );
    let g = &body["graph"];
    assert_eq!(g["start"], "welcome", "{g}");
    let nodes = g["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    for n in [
        "welcome",
        "known-caller",
        "ask-account",
        "main-menu",
        "devices",
        "agent",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let menu = nodes.iter().find(|n| n["name"] == "main-menu").unwrap();
    assert_eq!(menu["kind"], "menu");
    assert!(menu["line"].as_u64().is_some_and(|l| l > 1), "{menu}");
    let edges = g["edges"].as_array().unwrap();
    for e in edges {
        assert!(names.contains(&e["from"].as_str().unwrap()), "{e}");
        assert!(names.contains(&e["to"].as_str().unwrap()), "{e}");
    }
    let choice = edges
        .iter()
        .find(|e| e["from"] == "main-menu" && e["to"] == "devices")
        .unwrap();
    assert_eq!(
        (&choice["kind"], &choice["label"]),
        (&json!("choice"), &json!("1: device problems"))
    );
    assert_eq!(g["escape"], json!({ "key": "0", "to": "agent" }));

    // No graph for a flow that does not load.
    let (_, body) = check(&h, &sam, BROKEN).await;
    assert_eq!(
        (body["ok"].as_bool(), &body["graph"]),
        (Some(false), &Value::Null),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn dry_runs_follow_the_caller_to_a_queue() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let run = |source: String, extra: Value| {
        let mut body = json!({ "source": source });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    // An unknown caller types their account number, then chooses device problems.
    let (status, body) = h
        .post(
            "/api/v1/flows/dry-run",
            &sam,
            run(
                example("tech-support.yaml"),
                json!({ "presses": ["12345678#", "1"], "at": "2026-12-25T10:00:00+01:00" }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(
        body["outcome"], "queued to support with skills devices>=2, priority 0, language en",
        "{body}"
    );
    let lines: Vec<&str> = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines.first(), Some(&"[welcome]"), "{lines:?}");
    assert!(lines.contains(&"  presses  12345678#"), "{lines:?}");
    assert!(
        lines.contains(&"  chose    1 (device problems)"),
        "{lines:?}"
    );
    assert_eq!(
        body["path"],
        json!([
            "welcome",
            "known-caller",
            "ask-account",
            "main-menu",
            "devices"
        ])
    );

    // Ada calls from her number: she is identified as on a real call, and is a VIP.
    let (_, body) = h
        .post(
            "/api/v1/flows/dry-run",
            &sam,
            run(
                example("tech-support.yaml"),
                json!({ "caller": "+441632960001", "presses": ["2"], "answer_after_secs": null }),
            ),
        )
        .await;
    assert!(
        body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "  hears    Hello Ada."),
        "{body}"
    );
    assert_eq!(
        body["outcome"], "queued to support with skills network>=2, priority 10, language en",
        "{body}"
    );
    assert!(
        body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "  (nobody answers)"),
        "{body}"
    );

    // Subflows come from the active flows.
    let (_, body) = h
        .post(
            "/api/v1/flows/dry-run",
            &sam,
            run(example("billing.yaml"), json!({ "presses": ["12345678#"] })),
        )
        .await;
    assert_eq!(body["outcome"], "queued to billing, priority 1", "{body}");
    assert!(
        body["path"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "identify:ask"),
        "{body}"
    );

    // A broken flow: its diagnostics, and no run.
    let (status, body) = h
        .post("/api/v1/flows/dry-run", &sam, json!({ "source": BROKEN }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["lines"], json!([]));
    assert_eq!(body["outcome"], Value::Null);
    let d = &body["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["severity"].as_str()),
        (Some(7), Some("error")),
        "{body}"
    );
    assert!(d["message"].as_str().unwrap().contains("nowhere"), "{d}");

    // Bad input.
    for (extra, says) in [
        (json!({ "at": "Christmas" }), "RFC 3339"),
        (json!({ "presses": ["one"] }), "keys are 0-9"),
        (
            json!({ "answer_after_secs": 1_000_000 }),
            "answer_after_secs",
        ),
    ] {
        let (status, body) = h
            .post(
                "/api/v1/flows/dry-run",
                &sam,
                run(example("tech-support.yaml"), extra),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let (status, body) = h
        .post("/api/v1/flows/dry-run", &sam, json!({ "yaml": "id: x" }))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn erlang_figures_match_published_ones() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let (status, body) = h
        .get(
            "/api/v1/staffing/erlang?arrivals=360/h&aht=240s&agents=26..30",
            &sam,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["model"].as_str(), body["erlangs"].as_f64()),
        (Some("Erlang C"), Some(24.0))
    );
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let c28 = &rows[2];
    assert_eq!(c28["agents"], 28);
    assert!(close(&c28["p_wait"], 0.3331, 5e-4), "{c28}");
    assert!(close(&c28["service_level"], 0.7613, 5e-4), "{c28}");
    assert!(c28.get("p_abandon").is_none(), "{c28}");
    assert_eq!(body["agents_needed"], Value::Null);

    let (_, body) = h
        .get(
            "/api/v1/staffing/erlang?arrivals=360/h&aht=240s&target=80/20",
            &sam,
        )
        .await;
    assert_eq!(body["agents_needed"], 29, "{body}");
    let needed: Vec<&Value> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["needed"] == true)
        .map(|r| &r["agents"])
        .collect();
    assert_eq!(needed, vec![&json!(29)], "{body}");

    // Erlang A with a patience.
    let (_, body) = h
        .get(
            "/api/v1/staffing/erlang?arrivals=360/h&aht=240s&agents=26&patience=60s",
            &sam,
        )
        .await;
    assert_eq!(body["model"], "Erlang A");
    assert!(close(&body["rows"][0]["p_abandon"], 0.0691, 5e-4), "{body}");

    // Bad input: 422 with what is wrong, or 400 for a missing parameter.
    for (query, says) in [
        ("arrivals=360/h&aht=240s&agents=abc", "agents `abc`"),
        ("arrivals=lots&aht=240s", "not a rate"),
        ("arrivals=360/h&aht=240s&target=eighty", "PERCENT/SECONDS"),
        ("arrivals=360/h&aht=240s&agents=1..9000", "at most 5000"),
        (
            "arrivals=360/h&aht=240s&agents=1..500",
            "at most 100 agent counts",
        ),
        (
            "arrivals=360/h&aht=240s&target=80/1h",
            "at most 600 seconds",
        ),
        ("arrivals=360/h&aht=0s", "positive"),
    ] {
        let (status, body) = h
            .get(&format!("/api/v1/staffing/erlang?{query}"), &sam)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    let (status, body) = h.get("/api/v1/staffing/erlang?aht=240s", &sam).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("arrivals"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn simulation_agrees_with_erlang_c() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let (status, body) = h
        .post(
            "/api/v1/staffing/simulate",
            &admin,
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 28, "sl_secs": 20,
                    "calls": 20000, "replications": 4, "seed": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p_wait = body["p_wait"].as_f64().unwrap();
    let ci = body["ci95"]["p_wait"].as_f64().unwrap();
    assert!((p_wait - 0.3331).abs() < (4.0 * ci).max(0.03), "{body}");
    assert!(
        close(
            &body["service_level"],
            0.7613,
            (4.0 * body["ci95"]["service_level"].as_f64().unwrap()).max(0.03)
        ),
        "{body}"
    );
    assert!(close(&body["occupancy"], 24.0 / 28.0, 0.02), "{body}");
    assert_eq!(
        (
            body["replications"].as_u64(),
            body["calls_per_replication"].as_u64()
        ),
        (Some(4), Some(20000))
    );
    assert_eq!(body["abandon_rate"], 0.0, "{body}");

    for (request, says) in [
        (
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 28, "calls": 1_000_000, "replications": 3 }),
            "over 2000000",
        ),
        (
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 6000 }),
            "at most 5000",
        ),
        (
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 20 }),
            "steady state",
        ),
        (
            json!({ "arrivals_per_hour": 360, "aht_secs": -1, "agents": 28 }),
            "handle time",
        ),
        (
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 28, "sl_secs": -5 }),
            "sl_secs",
        ),
    ] {
        let (status, body) = h
            .post("/api/v1/staffing/simulate", &admin, request.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{request}: {body}"
        );
    }
    let (status, body) = h
        .post(
            "/api/v1/staffing/simulate",
            &admin,
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": "abc" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agents"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn staffing_and_dry_runs_are_for_supervisors() {
    let h = Harness::start().await;
    let alice = h.login("alice", "demo").await;
    let (status, body) = h
        .get(
            "/api/v1/staffing/erlang?arrivals=360/h&aht=240s&agents=28",
            &alice,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = h
        .post(
            "/api/v1/staffing/simulate",
            &alice,
            json!({ "arrivals_per_hour": 360, "aht_secs": 240, "agents": 28 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .post(
            "/api/v1/flows/dry-run",
            &alice,
            json!({ "source": example("tech-support.yaml") }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = check(&h, &alice, &example("tech-support.yaml")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .call(
            reqwest::Method::GET,
            "/api/v1/staffing/erlang?arrivals=360/h&aht=240s",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    h.stop().await;
}
