//! Operations: real-time KPIs, the live event stream (SSE), `/healthz` and Prometheus
//! `/metrics`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::kpi::{AgentView, QueueView};

/// Request counters by status class.
#[derive(Debug, Default)]
pub struct Metrics {
    by_class: [AtomicU64; 6],
}

/// Counts every request by status class, and gives the framework's own rejections (a
/// malformed path or query, a wrong method) the JSON error shape every endpoint uses.
pub async fn count(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let class = usize::from(status.as_u16() / 100).min(5);
    s.metrics.by_class[class].fetch_add(1, Ordering::Relaxed);
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        _ => "bad_request",
    };
    let message = String::from_utf8_lossy(&body).trim().to_string();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        message
    };
    ApiError::new(status, code, message).into_response()
}

/// Live figures of every queue and agent.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Realtime {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Queues.
    pub queues: Vec<QueueView>,
    /// Agents (an agent sees only themselves).
    pub agents: Vec<AgentView>,
}

async fn realtime_for(s: &AppState, c: &Caller) -> Result<Realtime, ApiError> {
    let (queues, agents, at_ms) = s
        .runtime
        .run(|center, now| (center.kpis().queues(now), center.kpis().agents(now), now))
        .await?;
    let agents = agents
        .into_iter()
        .filter(|a| c.may_act_as(&a.agent))
        .collect();
    Ok(Realtime {
        at_ms,
        queues,
        agents,
    })
}

/// Real-time KPIs (docs/kpis.md has the definitions).
#[utoipa::path(get, path = "/api/v1/kpis/realtime", tag = "kpis", responses((status = 200, body = Realtime)))]
pub async fn realtime(State(s): State<AppState>, c: Caller) -> Result<Json<Realtime>, ApiError> {
    Ok(Json(realtime_for(&s, &c).await?))
}

/// The live event stream (Server-Sent Events): every notice as an event named by its kind
/// (`contact.offered` carries the screen pop), and a `kpis` event each second. Agents
/// receive only their own contacts' and state's events. Browsers pass the token as
/// `?access_token=`.
#[utoipa::path(get, path = "/api/v1/events", tag = "kpis",
    responses((status = 200, description = "text/event-stream of notices", content_type = "text/event-stream")))]
pub async fn events(
    State(s): State<AppState>,
    c: Caller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = s.runtime.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stream = futures_util::stream::unfold(
        (rx, tick, s, c),
        |(mut rx, mut tick, mut s, c)| async move {
            loop {
                tokio::select! {
                    () = async { let _ = s.stopping.wait_for(|stop| *stop).await; } => return None,
                    n = rx.recv() => match n {
                        Ok(n) => {
                            if !c.supervises() && n.agent.as_deref().is_none_or(|a| Some(a) != c.agent.as_deref()) {
                                continue;
                            }
                            let ev = SseEvent::default().event(n.kind.clone()).id(n.seq.to_string()).json_data(&*n).ok()?;
                            return Some((Ok(ev), (rx, tick, s, c)));
                        }
                        Err(RecvError::Lagged(missed)) => {
                            let ev = SseEvent::default().event("lagged").data(missed.to_string());
                            return Some((Ok(ev), (rx, tick, s, c)));
                        }
                        Err(RecvError::Closed) => return None,
                    },
                    _ = tick.tick() => {
                        let r = realtime_for(&s, &c).await.ok()?;
                        let ev = SseEvent::default().event("kpis").json_data(&r).ok()?;
                        return Some((Ok(ev), (rx, tick, s, c)));
                    }
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Liveness and readiness: the database answers and the runtime runs.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(()),
    responses((status = 200, description = "ok"), (status = 503, description = "not ready")))]
pub async fn healthz(State(s): State<AppState>) -> Response {
    let db = s.store.ping().await.is_ok();
    let runtime = s.runtime.run(|_, _| ()).await.is_ok();
    let status = if db && runtime {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "database": db, "runtime": runtime })),
    )
        .into_response()
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A queue gauge: name, help, value.
type Gauge = (&'static str, &'static str, fn(&QueueView) -> f64);

/// Prometheus text exposition: HTTP requests, queue and agent figures.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let (queues, agents) = s
        .runtime
        .run(|center, now| (center.kpis().queues(now), center.kpis().agents(now)))
        .await?;
    let mut out = String::new();
    out.push_str("# HELP switchboard_http_requests_total HTTP requests answered, by status class.\n# TYPE switchboard_http_requests_total counter\n");
    for (class, n) in s.metrics.by_class.iter().enumerate().skip(1) {
        let _ = writeln!(
            out,
            "switchboard_http_requests_total{{class=\"{class}xx\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    let gauges: [Gauge; 5] = [
        ("switchboard_queue_waiting", "Contacts waiting now.", |q| {
            q.waiting as f64
        }),
        (
            "switchboard_queue_longest_wait_seconds",
            "Longest current wait.",
            |q| q.longest_wait_secs,
        ),
        (
            "switchboard_queue_answered_today",
            "Contacts answered today.",
            |q| q.answered as f64,
        ),
        (
            "switchboard_queue_abandoned_today",
            "Contacts abandoned today (short abandons excluded).",
            |q| q.abandoned as f64,
        ),
        (
            "switchboard_queue_service_level_percent",
            "Service level today (convention in docs/kpis.md).",
            |q| q.service_level.unwrap_or(f64::NAN),
        ),
    ];
    for (name, help, f) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for q in &queues {
            let _ = writeln!(out, "{name}{{queue=\"{}\"}} {}", label(&q.queue), f(q));
        }
    }
    out.push_str("# HELP switchboard_agent_handled_today Contacts handled today.\n# TYPE switchboard_agent_handled_today gauge\n");
    for a in &agents {
        let _ = writeln!(
            out,
            "switchboard_agent_handled_today{{agent=\"{}\",state=\"{}\"}} {}",
            label(&a.agent),
            label(&a.state),
            a.handled
        );
    }
    let (dialogs, answering) = s.voice.dialogs();
    let (in_kernel, by_threads) = s.voice.media();
    let _ = writeln!(
        out,
        "# HELP switchboard_sip_calls Calls in progress (being set up or answered).\n\
         # TYPE switchboard_sip_calls gauge\nswitchboard_sip_calls {}\n\
         # HELP switchboard_sip_legs Answered call legs (callers' and phones').\n\
         # TYPE switchboard_sip_legs gauge\nswitchboard_sip_legs {}\n\
         # HELP switchboard_sip_dialogs SIP dialogs kept.\n\
         # TYPE switchboard_sip_dialogs gauge\nswitchboard_sip_dialogs {}\n\
         # HELP switchboard_sip_invites_answering Callers' INVITE transactions still answering.\n\
         # TYPE switchboard_sip_invites_answering gauge\nswitchboard_sip_invites_answering {}\n\
         # HELP switchboard_media_kernel_path 1 if the kernel media path carries conversations between parties on this host.\n\
         # TYPE switchboard_media_kernel_path gauge\nswitchboard_media_kernel_path {}\n\
         # HELP switchboard_media_packets_relayed_by_threads_total Audio packets the relay threads passed on themselves.\n\
         # TYPE switchboard_media_packets_relayed_by_threads_total counter\nswitchboard_media_packets_relayed_by_threads_total {}",
        s.voice.calls(),
        s.voice.legs(),
        dialogs,
        answering,
        u8::from(in_kernel),
        by_threads,
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
