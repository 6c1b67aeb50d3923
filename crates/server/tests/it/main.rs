//! The real server on a free port with a fresh database, driven over HTTP.
//!
//! The database is a SQLite file in the server's data directory, or, with
//! `SWITCHBOARD_TEST_DATABASE=postgres`, a PostgreSQL database of each server's own on the
//! server `SWITCHBOARD_TEST_POSTGRES` names (`cargo xtask test` runs the suite both ways).

mod auth;
mod callbacks;
mod cluster;
mod contacts;
mod flows;
mod openapi;
mod recordings;
mod reports;
mod staffing;
mod voice;
mod voice_legs;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_server::config::Config;

/// The demo company of the repository.
fn company() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-company.toml")
}

/// With `SWITCHBOARD_TEST_DATABASE=postgres`: the URL of the PostgreSQL database of the
/// server whose data directory is `dir`, created the first time (so that a restarted
/// server finds its database again).
async fn postgres_database(dir: &Path) -> Option<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    match std::env::var("SWITCHBOARD_TEST_DATABASE").as_deref() {
        Ok("postgres") => {}
        Ok("sqlite") | Err(_) => return None,
        Ok(other) => panic!("SWITCHBOARD_TEST_DATABASE={other}: sqlite or postgres"),
    }
    let remembered = dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return Some(url);
    }
    let server = std::env::var("SWITCHBOARD_TEST_POSTGRES").expect(
        "SWITCHBOARD_TEST_DATABASE=postgres needs SWITCHBOARD_TEST_POSTGRES=postgres://… \
         naming a server where the tests may create databases",
    );
    let name = format!(
        "it_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let url = switchboard_store::create_postgres_database(&server, &name)
        .await
        .unwrap();
    std::fs::write(&remembered, &url).unwrap();
    Some(url)
}

/// A server with the demo company in a temporary directory.
pub struct Harness {
    /// The server (taken by `stop`).
    pub server: Option<switchboard_server::Server>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
    /// The data directory.
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Starts on a fresh database.
    pub async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Harness::start_in(dir).await
    }

    /// Starts on the database in `dir`.
    pub async fn start_in(dir: tempfile::TempDir) -> Harness {
        Harness::start_with(dir, |_| {}).await
    }

    /// Starts on the database in `dir`, with the configuration changed by `tweak`.
    pub async fn start_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Harness {
        let mut config = Config {
            http: "127.0.0.1:0".parse().unwrap(),
            sip: "127.0.0.1:0".parse().unwrap(),
            data: dir.path().to_path_buf(),
            database: postgres_database(dir.path()).await,
            company: Some(company()),
            ..Config::default()
        };
        tweak(&mut config);
        let server = switchboard_server::start(&config).await.unwrap();
        let base = format!("http://{}", server.addr);
        Harness {
            server: Some(server),
            base,
            http: reqwest::Client::new(),
            dir,
        }
    }

    /// The server's database, opened beside it (as a second server would).
    pub async fn store(&self) -> switchboard_store::Store {
        match postgres_database(self.dir.path()).await {
            Some(url) => switchboard_store::Store::connect(&url).await,
            None => switchboard_store::Store::open(&self.dir.path().join("switchboard.db")).await,
        }
        .unwrap()
    }

    /// Stops gracefully; answers the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.server.take().unwrap().stop().await;
        self.dir
    }

    /// A request; answers the status and the JSON body (`null` when there is none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(format!("{}/metrics", self.base)).send();
        response.await.unwrap().text().await.unwrap()
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// PUT a YAML body (flows, calendars) with a token.
    pub async fn put_yaml(&self, path: &str, token: &str, yaml: &str) -> (StatusCode, Value) {
        self.send_yaml(Method::PUT, path, token, yaml).await
    }

    /// A YAML body (flows, calendars) with a token.
    pub async fn send_yaml(
        &self,
        method: Method,
        path: &str,
        token: &str,
        yaml: &str,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "text/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs in; panics on failure.
    pub async fn login(&self, name: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "name": name, "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Starts a chat: (contact id, chat token, view).
    pub async fn chat(&self, to: &str, from: &str) -> (i64, String, Value) {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/chat",
                None,
                Some(json!({ "to": to, "from": from })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["contact"].as_i64().unwrap(),
            body["token"].as_str().unwrap().to_string(),
            body,
        )
    }

    /// The customer types in their chat.
    pub async fn say(&self, contact: i64, chat_token: &str, text: &str) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/chat/{contact}/messages"),
                Some(chat_token),
                Some(json!({ "text": text })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The live event stream as seen by `token`.
    pub async fn events(&self, token: &str) -> Events {
        let response = self
            .http
            .get(format!("{}/api/v1/events", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Events {
            stream: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }
}

/// A Server-Sent Events stream.
pub struct Events {
    stream:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Events {
    /// The next event: (name, data).
    pub async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                return (
                    name,
                    serde_json::from_str(&data).unwrap_or(Value::String(data)),
                );
            }
            // A bound on a broken server, not a timing assumption: events arrive in ms.
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.stream.next())
                .await
                .expect("an event within 30 s")
                .expect("the stream is open")
                .unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event called `name` (others are skipped), as data. Fails after 30 s with
    /// the events seen meanwhile (a bound on a broken server, not a timing assumption).
    pub async fn next_named(&mut self, name: &str) -> Value {
        self.try_next_named(name)
            .await
            .unwrap_or_else(|seen| panic!("no `{name}` event; saw {seen:?}"))
    }

    /// Like [`Events::next_named`], answering the events seen instead of failing, so
    /// that the caller can add what it knows (a phone's log) to the failure.
    pub async fn try_next_named(&mut self, name: &str) -> Result<Value, Vec<String>> {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let (n, data) = self.next().await;
                if n == name {
                    return data;
                }
                if n != "kpis" {
                    seen.push(n);
                }
            }
        })
        .await;
        found.map_err(|_| seen)
    }
}
