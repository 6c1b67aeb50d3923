//! Simulated traffic for the demo: virtual customers who chat in, answer the menus and
//! sometimes give up, and virtual agents who take offers, talk and wrap up — all through
//! the public HTTP API, so that the real runtime, store, KPIs and history fill up.
//!
//! Delays are scaled by `pace` (1.0 is life-like; smaller is faster). The randomness is
//! seeded.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::{Value, json};

/// Who the virtual people are and how busy the day is.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// Agent logins and passwords.
    pub agents: Vec<(String, String)>,
    /// Addresses customers chat to.
    pub addresses: Vec<String>,
    /// Customers' addresses (known customers among them).
    pub customers: Vec<String>,
    /// Mean seconds between new customers.
    pub mean_gap_secs: f64,
    /// Delay multiplier.
    pub pace: f64,
    /// Seed.
    pub seed: u64,
}

fn wait(pace: f64, secs: f64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64((secs * pace).max(0.0)))
}

/// Starts the virtual people; they run until the server stops answering.
pub fn start(t: Traffic) {
    let http = reqwest::Client::new();
    for (i, (login, password)) in t.agents.iter().enumerate() {
        let seed = t.seed.wrapping_add(1000 + i as u64);
        tokio::spawn(agent(
            http.clone(),
            t.base.clone(),
            login.clone(),
            password.clone(),
            t.pace,
            seed,
        ));
    }
    tokio::spawn(customers(http, t));
}

async fn customers(http: reqwest::Client, t: Traffic) {
    let mut rng = Pcg64Mcg::seed_from_u64(t.seed);
    for n in 0u64.. {
        let gap = -t.mean_gap_secs * (1.0 - rng.random::<f64>()).ln();
        wait(t.pace, gap).await;
        let to = t.addresses[rng.random_range(0..t.addresses.len())].clone();
        let from = if rng.random_bool(0.4) && !t.customers.is_empty() {
            t.customers[rng.random_range(0..t.customers.len())].clone()
        } else {
            format!("+4477009{:05}", n % 100_000)
        };
        let patience = -90.0 * (1.0 - rng.random::<f64>()).ln();
        let seed = rng.random();
        let (http, base, pace) = (http.clone(), t.base.clone(), t.pace);
        tokio::spawn(async move {
            if let Err(e) = customer(&http, &base, &to, &from, patience, pace, seed).await {
                tracing::debug!("virtual customer: {e}");
            }
        });
    }
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> Result<Value, reqwest::Error> {
    let r = http.post(url).bearer_auth(token).json(&body).send().await?;
    Ok(r.json().await.unwrap_or(Value::Null))
}

/// A customer answers each menu with a random option (or types something), waits up to
/// their patience in the queue, chats with the agent, and leaves.
async fn customer(
    http: &reqwest::Client,
    base: &str,
    to: &str,
    from: &str,
    patience: f64,
    pace: f64,
    seed: u64,
) -> Result<(), reqwest::Error> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let started: Value = http
        .post(format!("{base}/api/v1/chat"))
        .json(&json!({ "to": to, "from": from }))
        .send()
        .await?
        .json()
        .await?;
    let (Some(id), Some(token)) = (started["contact"].as_i64(), started["token"].as_str()) else {
        return Ok(());
    };
    let token = token.to_string();
    let mut view = started;
    for _ in 0..6 {
        if view["status"] != "ivr" {
            break;
        }
        wait(pace, rng.random_range(2.0..6.0)).await;
        let options = view["options"].as_array().cloned().unwrap_or_default();
        let text = if options.is_empty() {
            format!("{:08}", rng.random_range(0..100_000_000u32))
        } else {
            options[rng.random_range(0..options.len())][0]
                .as_str()
                .unwrap_or("0")
                .to_string()
        };
        view = post(
            http,
            format!("{base}/api/v1/chat/{id}/messages"),
            &token,
            json!({ "text": text }),
        )
        .await?;
    }
    let waited_since = tokio::time::Instant::now();
    while view["status"] == "queued" {
        if waited_since.elapsed().as_secs_f64() > patience * pace {
            http.delete(format!("{base}/api/v1/chat/{id}"))
                .bearer_auth(&token)
                .send()
                .await?;
            return Ok(());
        }
        wait(pace, 2.0).await;
        view = http
            .get(format!("{base}/api/v1/chat/{id}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
    }
    if view["status"] == "connected" {
        wait(pace, rng.random_range(5.0..20.0)).await;
        post(
            http,
            format!("{base}/api/v1/chat/{id}/messages"),
            &token,
            json!({ "text": "Thanks, that helps." }),
        )
        .await?;
    }
    Ok(())
}

/// An agent signs in, becomes available, and answers offers from the event stream.
async fn agent(
    http: reqwest::Client,
    base: String,
    login: String,
    password: String,
    pace: f64,
    seed: u64,
) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let Ok(r) = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "name": login, "password": password }))
        .send()
        .await
    else {
        return;
    };
    let Some(token) = r
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string))
    else {
        tracing::warn!("virtual agent {login} cannot sign in");
        return;
    };
    let Ok(events) = http
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
    else {
        return;
    };
    let _ = post(
        &http,
        format!("{base}/api/v1/agents/{login}/state"),
        &token,
        json!({ "state": "available" }),
    )
    .await;
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();
    use futures_util::StreamExt;
    while let Some(Ok(chunk)) = stream.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.contains("event: contact.offered") {
                continue;
            }
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Some(contact) = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| v["contact"].as_i64())
            else {
                continue;
            };
            let (http, base, login, token) =
                (http.clone(), base.clone(), login.clone(), token.clone());
            let (ring, talk, wrap, code) = (
                rng.random_range(1.0..4.0),
                rng.random_range(20.0..90.0),
                rng.random_range(3.0..12.0),
                rng.random_range(0..3),
            );
            tokio::spawn(async move {
                wait(pace, ring).await;
                let url = |p: &str| format!("{base}/api/v1/{p}");
                let accepted = http
                    .post(url(&format!("agents/{login}/offers/{contact}/accept")))
                    .bearer_auth(&token)
                    .send()
                    .await;
                if !accepted.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                let _ = post(
                    &http,
                    url(&format!("contacts/{contact}/messages")),
                    &token,
                    json!({ "text": "Hello, how can I help?" }),
                )
                .await;
                wait(pace, talk).await;
                let _ = post(
                    &http,
                    url(&format!("contacts/{contact}/end")),
                    &token,
                    json!({}),
                )
                .await;
                wait(pace, wrap).await;
                let code = ["resolved", "information", "follow-up"][code];
                let _ = post(
                    &http,
                    url(&format!("contacts/{contact}/wrapup")),
                    &token,
                    json!({ "code": code, "resolved": code != "follow-up" }),
                )
                .await;
            });
        }
    }
}
