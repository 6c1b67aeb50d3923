//! `switchboard serve` as a process: killed with SIGKILL in the middle of a contact, then
//! restarted on the same data: everything accepted is still there, and the contact that
//! was in progress is closed as interrupted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// Starts `switchboard ARGS…` (`serve` or `demo`) and answers the process and the HTTP
/// address it prints first.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("switchboard starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

fn serve(config: &std::path::Path) -> (Child, String) {
    start(&["serve", "--config", config.to_str().unwrap()])
}

/// One HTTP/1.1 request with `Connection: close`; answers the status and the JSON body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let payload = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

fn login(addr: &str, name: &str, password: &str) -> String {
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({ "name": name, "password": password })),
    );
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[test]
fn a_killed_server_loses_nothing_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let company = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo-company.toml"
    );
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!("http = \"127.0.0.1:0\"\nsip = \"127.0.0.1:0\"\ndata = \"data\"\ncompany = \"{company}\"\n"),
    )
    .unwrap();

    let (mut server, addr) = serve(&config);
    let sam = login(&addr, "sam", "demo");
    let (status, customer) = http(
        &addr,
        "POST",
        "/api/v1/customers",
        Some(&sam),
        Some(json!({ "name": "Katherine Johnson", "phone": "+14155550199" })),
    );
    assert_eq!(status, 201, "{customer}");
    let (status, chat) = http(
        &addr,
        "POST",
        "/api/v1/chat",
        None,
        Some(json!({ "to": "support", "from": "+14155550199" })),
    );
    assert_eq!(status, 201, "{chat}");
    let contact = chat["contact"].as_i64().unwrap();
    let token = chat["token"].as_str().unwrap();
    let (status, view) = http(
        &addr,
        "POST",
        &format!("/api/v1/chat/{contact}/messages"),
        Some(token),
        Some(json!({ "text": "0" })),
    );
    assert_eq!(
        (status, view["status"].as_str()),
        (200, Some("queued")),
        "{view}"
    );

    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, addr) = serve(&config);
    assert_eq!(http(&addr, "GET", "/healthz", None, None).0, 200);
    let sam = login(&addr, "sam", "demo");
    let (_, c) = http(
        &addr,
        "GET",
        &format!("/api/v1/contacts/{contact}"),
        Some(&sam),
        None,
    );
    assert_eq!(
        (c["status"].as_str(), c["end_reason"].as_str()),
        (Some("closed"), Some("interrupted")),
        "{c}"
    );
    assert_eq!(c["customer_id"], customer["id"]);
    assert_eq!(c["queue"], "support");
    assert!(
        c["ivr_path"].as_array().is_some_and(|p| !p.is_empty()),
        "{c}"
    );
    let (_, k) = http(
        &addr,
        "GET",
        &format!("/api/v1/customers/{}", customer["id"]),
        Some(&sam),
        None,
    );
    assert_eq!(k["name"], "Katherine Johnson");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn unknown_configuration_keys_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, "http = \"127.0.0.1:0\"\nlisten_on = \"x\"\n").unwrap();
    let out = crate::switchboard(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = crate::stderr(&out);
    assert!(err.contains("unknown field `listen_on`"), "{err}");
}

#[test]
fn the_demo_with_simulated_traffic_fills_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data_arg = data.to_str().unwrap();
    let (mut demo, addr) = start(&[
        "demo",
        "--simulate",
        "--pace",
        "0.02",
        "--arrival-gap",
        "2",
        "--http",
        "127.0.0.1:0",
        "--sip",
        "127.0.0.1:0",
        "--data",
        data_arg,
    ]);
    let sam = login(&addr, "sam", "demo");

    // Follow the live stream until a virtual agent has wrapped a contact up.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    write!(
        s,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {sam}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let mut next = String::new();
    let wrapped = loop {
        next.clear();
        assert!(reader.read_line(&mut next).unwrap() > 0, "the stream ended");
        if next.trim() == "event: contact.wrapped_up" {
            next.clear();
            reader.read_line(&mut next).unwrap(); // id
            next.clear();
            reader.read_line(&mut next).unwrap();
            let data: Value =
                serde_json::from_str(next.trim().strip_prefix("data: ").unwrap()).unwrap();
            break data["contact"].as_i64().unwrap();
        }
    };
    let (_, c) = http(
        &addr,
        "GET",
        &format!("/api/v1/contacts/{wrapped}"),
        Some(&sam),
        None,
    );
    assert_eq!(c["status"], "closed", "{c}");
    assert!(
        ["resolved", "information", "follow-up"].contains(&c["wrapup_code"].as_str().unwrap()),
        "{c}"
    );
    assert!(
        c["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["from"] == "agent"),
        "{c}"
    );
    demo.kill().unwrap();
    demo.wait().unwrap();

    // Safe to start twice: the same data, nothing duplicated, history kept.
    let (mut again, addr) = start(&[
        "demo",
        "--http",
        "127.0.0.1:0",
        "--sip",
        "127.0.0.1:0",
        "--data",
        data_arg,
    ]);
    let sam = login(&addr, "sam", "demo");
    let (_, articles) = http(&addr, "GET", "/api/v1/articles", Some(&sam), None);
    assert_eq!(articles.as_array().unwrap().len(), 5);
    let (_, versions) = http(
        &addr,
        "GET",
        "/api/v1/flows/tech-support/versions",
        Some(&sam),
        None,
    );
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let (_, c) = http(
        &addr,
        "GET",
        &format!("/api/v1/contacts/{wrapped}"),
        Some(&sam),
        None,
    );
    assert_eq!(c["status"], "closed");
    again.kill().unwrap();
    again.wait().unwrap();
}
