//! `switchboard flow`: check exits non-zero on errors; simulate prints a transcript.

use crate::{stderr, stdout, switchboard};

#[test]
fn check_passes_the_examples_and_fails_broken_flows() {
    let out = switchboard(&[
        "flow",
        "check",
        "examples/flows/tech-support.yaml",
        "examples/flows/returning-caller.yaml",
        "examples/flows/segment-routing.yaml",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("tech-support.yaml: 0 error(s), 0 warning(s)"));

    let out = switchboard(&[
        "flow",
        "check",
        "crates/flow/tests/broken/many-mistakes.yaml",
    ]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("many-mistakes.yaml:9:11: error: unknown node `main-menu`"),
        "{text}"
    );
    assert!(text.contains("hint: did you mean `main_menu`?"), "{text}");

    let out = switchboard(&["flow", "check", "no-such-flow.yaml"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("cannot read"));
}

#[test]
fn simulate_prints_what_the_caller_hears_and_the_outcome() {
    let dir = std::env::temp_dir().join(format!("switchboard-flow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let fixture = dir.join("susan.json");
    std::fs::write(
        &fixture,
        r#"{"customer": {"first_name": "Susan", "segment": "vip"}}"#,
    )
    .expect("write");
    let out = switchboard(&[
        "flow",
        "simulate",
        "examples/flows/tech-support.yaml",
        "--at",
        "2026-12-25T10:00:00+01:00",
        "--press",
        "2",
        "--data",
        fixture.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("hears    Hello Susan."), "{text}");
    assert!(
        text.ends_with(
            "outcome: queued to support with skills network>=2, priority 10, language en\n"
        ),
        "{text}"
    );
    let out = switchboard(&[
        "flow",
        "simulate",
        "examples/flows/tech-support.yaml",
        "--at",
        "Christmas",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulated_runs_feed_flow_stats() {
    let dir = std::env::temp_dir().join(format!("switchboard-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let events = dir.join("runs.jsonl");
    let events = events.to_str().unwrap_or_default();
    for (i, keys) in ["12345678#,3", "12345678#,3", "12345678#,1"]
        .iter()
        .enumerate()
    {
        let call = format!("c{i}");
        let out = switchboard(&[
            "flow",
            "simulate",
            "examples/flows/tech-support.yaml",
            "--press",
            keys,
            "--events",
            events,
            "--call",
            &call,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = switchboard(&["flow", "stats", "examples/flows/tech-support.yaml", events]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("3 calls:"), "{text}");
    assert!(text.contains("3 orders: 2"), "{text}");

    std::fs::write(dir.join("bad.jsonl"), "{\"call\": \"x\"}\n").expect("write");
    let bad = dir.join("bad.jsonl");
    let out = switchboard(&[
        "flow",
        "stats",
        "examples/flows/tech-support.yaml",
        bad.to_str().unwrap_or_default(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("bad.jsonl:1: not a flow event"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interactive_simulate_reads_keys_from_standard_input() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "flow",
            "simulate",
            "examples/flows/survey.yaml",
            "--interactive",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"1\n4\n").expect("write keys");
    }
    let out = child.wait_with_output().expect("finishes");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rated    resolved: 1 of 2"), "{text}");
    assert!(text.contains("rated    csat: 4 of 5"), "{text}");
    assert!(
        text.trim_end().ends_with("outcome: hung up (survey)"),
        "{text}"
    );
}

#[test]
fn schema_is_printed_as_json() {
    let out = switchboard(&["flow", "schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["title"], "Switchboard call flow");
}
