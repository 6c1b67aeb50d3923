//! Real calls into the demo IVR from SIPp (Debian's `sip-tester`, installed by
//! `cargo xtask test`): the caller is identified by number, presses a key with an RFC 4733
//! telephone-event from SIPp's own recordings, lands in the queue the key chose, and hangs
//! up; refused calls get the right status; garbage on the SIP port harms no call.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::Harness;

/// A free UDP port on the loopback (for SIPp's own signalling and media).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs SIPp once with `scenario` against `target`; `keys` fill the scenario's own
/// `[name]`s (SIPp's keywords are left for SIPp). Answers SIPp's exit status and its
/// error log.
async fn sipp(
    scenario: &str,
    target: SocketAddr,
    service: &str,
    keys: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(scenario),
    )
    .unwrap();
    for (k, v) in keys {
        text = text.replace(&format!("[{k}]"), v);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(scenario);
    std::fs::write(&file, text).unwrap();
    let errors = dir.path().join("errors.log");
    let mut cmd = tokio::process::Command::new("sipp");
    cmd.arg(target.to_string())
        .args(["-sf", file.to_str().unwrap()])
        .args(["-s", service, "-m", "1", "-l", "1", "-nostdin"])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &free_port().to_string()])
        .args(["-mp", &free_port().to_string()])
        .args(["-timeout", "60s", "-timeout_error", "-trace_err"])
        .args(["-error_file", errors.to_str().unwrap()])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = cmd
        .output()
        .await
        .expect("sipp runs (Debian package sip-tester; `cargo xtask test` installs it)");
    let log = std::fs::read_to_string(&errors).unwrap_or_default();
    (
        out.status,
        format!("{log}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn sip_addr(h: &Harness) -> SocketAddr {
    h.server.as_ref().unwrap().sip
}

#[tokio::test]
async fn a_caller_is_identified_keys_reach_the_flow_and_hanging_up_in_queue_abandons() {
    let h = Harness::start().await;
    let token = h.login("admin", "admin").await;
    let mut events = h.events(&token).await;
    let target = sip_addr(&h);
    let caller = tokio::spawn(async move {
        sipp(
            "caller-menu.xml",
            target,
            "support",
            &[
                ("caller", "+441632960001"),
                ("key", "3"),
                ("hold_ms", "5000"),
            ],
        )
        .await
    });

    let started = events.next_named("contact.started").await;
    let contact = started["contact"].as_i64().unwrap();
    assert_eq!(started["data"]["channel"], "voice", "{started}");
    assert_eq!(started["data"]["dialed"], "support", "{started}");
    // Garbage on the SIP port during the call: dropped, the call goes on.
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in [
        &b"\x00\xff\x13garbage"[..],
        b"INVITE sip:support@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCSeq: banana\r\n\r\n",
        &[0x80; 1500][..],
    ] {
        junk.send_to(datagram, target).unwrap();
    }

    // Key 3 at the main menu is "orders".
    let queued = events.next_named("contact.queued").await;
    assert_eq!(queued["contact"], contact, "{queued}");
    assert_eq!(queued["data"]["queue"], "orders", "{queued}");
    let ended = events.next_named("contact.ended").await;
    assert_eq!(ended["contact"], contact, "{ended}");
    assert_eq!(ended["data"]["reason"], "abandoned", "{ended}");
    let (status, log) = caller.await.unwrap();
    assert!(status.success(), "SIPp: {status}\n{log}");

    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &token).await;
    assert_eq!(c["channel"], "voice", "{c}");
    assert_eq!(c["address"], "+441632960001", "{c}");
    assert_eq!(c["queue"], "orders", "{c}");
    assert_eq!(c["end_reason"], "abandoned", "{c}");
    assert!(
        c["customer_id"].is_i64(),
        "the caller is a known customer: {c}"
    );
    let path: Vec<&str> = c["ivr_path"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        path.iter().any(|p| p.starts_with("main-menu:3")),
        "the key reached the menu: {path:?}"
    );
    let said: Vec<&str> = c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert!(said.contains(&"Hello Ada."), "{said:?}");
    h.stop().await;
}

#[tokio::test]
async fn calls_that_cannot_be_taken_are_refused_with_the_right_status() {
    let h = Harness::start().await;
    let target = sip_addr(&h);
    // Nobody answers this number.
    let (status, log) = sipp(
        "refused.xml",
        target,
        "nobody",
        &[("status", "404"), ("codec", "0")],
    )
    .await;
    assert!(status.success(), "404 expected: {log}");
    // G.729 only: no codec in common.
    let (status, log) = sipp(
        "refused.xml",
        target,
        "support",
        &[("status", "488"), ("codec", "18")],
    )
    .await;
    assert!(status.success(), "488 expected: {log}");
    let (status, log) = sipp("options.xml", target, "support", &[]).await;
    assert!(status.success(), "OPTIONS: {log}");
    // Nothing was recorded for the refused calls.
    let token = h.login("admin", "admin").await;
    let (_, list) = h.get("/api/v1/contacts", &token).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    h.stop().await;
}
