//! Contact history, the agent's side of a contact (end, wrap-up, messages), callbacks.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::Serialize;
use switchboard_store::{CallLeg, Callback, Contact, ContactFilter, Event, WrapUp};
use switchboard_voice::MonitorMode;

use super::{ApiError, AppState, Body, need_supervisor};
use crate::auth::Caller;
use crate::runtime::now_ms;

/// Filters for the contact list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    /// Handled by this agent.
    pub agent: Option<String>,
    /// Of this customer.
    pub customer: Option<i64>,
    /// Waited in this queue.
    pub queue: Option<String>,
    /// Started at or after (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Started before (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Most rows (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Contacts, newest first. Agents see only their own.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = Vec<Contact>)))]
pub async fn list_contacts(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<ContactQuery>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    let agent = if c.supervises() {
        q.agent
    } else {
        match (&q.agent, &c.agent) {
            (Some(a), Some(me)) if a != me => {
                return Err(ApiError::forbidden("agents see only their own contacts"));
            }
            (_, None) => return Err(ApiError::forbidden("not an agent")),
            (_, Some(me)) => Some(me.clone()),
        }
    };
    let f = ContactFilter {
        agent,
        customer_id: q.customer,
        queue: q.queue,
        since_ms: q.since_ms,
        until_ms: q.until_ms,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(s.store.contacts(&f).await?))
}

/// The contact, if the caller may see it (agents: their own or one offered to them).
async fn visible(s: &AppState, c: &Caller, id: i64) -> Result<Contact, ApiError> {
    let contact = s.store.contact(id).await?;
    if c.supervises() || (contact.agent.is_some() && contact.agent == c.agent) {
        return Ok(contact);
    }
    let offered = s
        .store
        .events(0, Some(id), 1000)
        .await?
        .iter()
        .any(|e| e.kind == "contact.offered" && e.agent.is_some() && e.agent == c.agent);
    if offered {
        Ok(contact)
    } else {
        Err(ApiError::forbidden("agents see only their own contacts"))
    }
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = Contact), (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn get_contact(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Contact>, ApiError> {
    Ok(Json(visible(&s, &c, id).await?))
}

/// A contact's events, oldest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/events", tag = "contacts", params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = Vec<Event>)))]
pub async fn contact_events(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Event>>, ApiError> {
    visible(&s, &c, id).await?;
    Ok(Json(s.store.events(0, Some(id), 10_000).await?))
}

/// The legs of a contact's call (customer, agents, supervisors, numbers dialed), in the
/// order they started, each with its times, why it ended and how its audio went.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/legs", tag = "contacts", params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = Vec<CallLeg>)))]
pub async fn call_legs(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<CallLeg>>, ApiError> {
    visible(&s, &c, id).await?;
    Ok(Json(s.store.call_legs(id).await?))
}

/// The agent ends a contact; after-call work follows.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/end", tag = "contacts", params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn end_contact(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let agent = handler(&s, &c, id).await?;
    s.runtime
        .run(move |center, now| center.end(&agent, id, now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a contact goes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// A queue, an agent (who gets it first, through one of their queues), or, for a
    /// call, a telephone number dialed through the trunk.
    pub to: String,
}

/// The agent hands the contact they are talking with to a queue, another agent, or a
/// number outside (a blind transfer: they are free at once; the contact keeps its record
/// and history).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/transfer", tag = "contacts", request_body = Transfer,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn transfer(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Body(t): Body<Transfer>,
) -> Result<StatusCode, ApiError> {
    let agent = handler(&s, &c, id).await?;
    s.runtime
        .run(move |center, now| center.transfer(&agent, id, &t.to, now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// How a supervisor joins a call.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// `listen` (nobody hears the supervisor), `whisper` (only the agent does) or
    /// `barge` (both do).
    pub mode: String,
}

/// A supervisor monitors a live call from their registered phone, or changes the mode
/// of their monitoring (supervisors; the phone rings, and `contact.monitor` follows).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/monitor", tag = "contacts", request_body = Monitor,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 202), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn monitor(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Body(m): Body<Monitor>,
) -> Result<StatusCode, ApiError> {
    need_supervisor(&c)?;
    let mode = MonitorMode::parse(&m.mode)
        .ok_or_else(|| ApiError::invalid("mode is listen, whisper or barge"))?;
    let phone = c.agent.unwrap_or(c.user);
    s.runtime
        .run(move |center, now| center.monitor(id, &phone, Some(mode), now))
        .await??;
    Ok(StatusCode::ACCEPTED)
}

/// The supervisor stops monitoring a call (supervisors).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/monitor", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn stop_monitor(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    need_supervisor(&c)?;
    let phone = c.agent.unwrap_or(c.user);
    s.runtime
        .run(move |center, now| center.monitor(id, &phone, None, now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Hold or resume.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// On hold (true) or back in conversation (false).
    pub held: bool,
}

/// Puts the caller of a call in conversation on hold (music; neither side hears the other)
/// or takes them off it, as the agent's phone would (the contact's agent or a supervisor).
/// The call confirms with a `contact.hold` event.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/hold", tag = "contacts", request_body = Hold,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 202), (status = 403, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn hold(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Body(h): Body<Hold>,
) -> Result<StatusCode, ApiError> {
    handler(&s, &c, id).await?;
    s.runtime
        .run(move |center, now| center.hold(id, h.held, now))
        .await??;
    Ok(StatusCode::ACCEPTED)
}

/// Which of a contact's recordings.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecordingQuery {
    /// Index into the contact's `recordings` (0 is the first conversation of a
    /// transferred call); the latest (`recording`) when absent.
    pub n: Option<usize>,
}

/// A call's recording, streamed as stored: a two-channel WAV (the caller on the left,
/// the agent on the right). For the contact's agent, supervisors and admins.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/recording", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id"), RecordingQuery),
    responses((status = 200, description = "The recording", content_type = "audio/wav"),
        (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn recording(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Query(q): Query<RecordingQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    use tokio::io::AsyncReadExt;

    let contact = s.store.contact(id).await?;
    if !c.supervises() && (contact.agent.is_none() || contact.agent != c.agent) {
        return Err(ApiError::forbidden(
            "only the contact's agent or a supervisor",
        ));
    }
    let name = match q.n {
        None => contact.recording,
        Some(n) => contact.recordings.get(n).cloned(),
    }
    .ok_or_else(|| match q.n {
        None => ApiError::not_found(format!("contact {id} has no recording")),
        Some(n) => ApiError::not_found(format!("contact {id} has no recording {n}")),
    })?;
    let path = recording_path(&s.recordings, &name).map_err(|e| {
        tracing::warn!(contact = id, "recording `{name}`: {e}");
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                ApiError::forbidden("the recording is outside the recordings directory")
            }
            _ => ApiError::not_found(format!("the recording of contact {id} is missing")),
        }
    })?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::warn!(contact = id, "recording {}: {e}", path.display());
        ApiError::not_found(format!("the recording of contact {id} is missing"))
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    // Read in chunks as the client takes them: an hour's call is over 100 MB.
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = axum::body::Body::from_stream(chunks).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    // The file name is the server's own (contact, agent, time): printable, no quotes.
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// The file `name` of the recordings directory `dir`. Refused (`PermissionDenied`)
/// unless it is a plain file name that resolves, symbolic links followed, inside `dir`.
fn recording_path(dir: &std::path::Path, name: &str) -> std::io::Result<std::path::PathBuf> {
    use std::path::Component;
    let outside = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let mut parts = std::path::Path::new(name).components();
    if !matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return Err(outside());
    }
    let dir = dir.canonicalize()?;
    let path = dir.join(name).canonicalize()?;
    if path.starts_with(&dir) {
        Ok(path)
    } else {
        Err(outside())
    }
}

/// The agent who handles contact `id`, when the caller may act for them.
async fn handler(s: &AppState, c: &Caller, id: i64) -> Result<String, ApiError> {
    let contact = s.store.contact(id).await?;
    let agent = contact.agent.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("contact {id} has no agent"),
        )
    })?;
    if !c.may_act_as(&agent) {
        return Err(ApiError::forbidden(
            "only the contact's agent or a supervisor",
        ));
    }
    Ok(agent)
}

/// An agent's wrap-up of a contact, with an optional follow-up callback.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpRequest {
    /// Wrap-up code (one of the configured codes).
    pub code: String,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Whether the customer's issue was resolved.
    #[serde(default)]
    pub resolved: bool,
    /// A callback the agent promised the customer.
    #[serde(default)]
    pub follow_up: Option<FollowUp>,
}

/// A follow-up callback: routed like any callback request when it comes due.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// When to call (epoch ms); now when absent.
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// The number to call; the contact's address when absent.
    #[serde(default)]
    pub number: Option<String>,
    /// The queue that routes it; the contact's queue when absent.
    #[serde(default)]
    pub queue: Option<String>,
}

/// Wraps up an ended contact: code, notes, resolved, and optionally a follow-up callback.
/// Stored before the answer.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/wrapup", tag = "contacts", request_body = WrapUpRequest,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn wrap_up(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Body(r): Body<WrapUpRequest>,
) -> Result<StatusCode, ApiError> {
    let agent = handler(&s, &c, id).await?;
    let follow_up = match r.follow_up {
        Some(f) => Some(follow_up(&s, id, f).await?),
        None => None,
    };
    let w = WrapUp {
        code: r.code,
        notes: r.notes,
        resolved: r.resolved,
    };
    let codes: Vec<(String, String)> = s.store.configs("wrapup").await?;
    if !codes.iter().any(|(code, _)| *code == w.code) {
        let known: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
        return Err(ApiError::invalid(format!(
            "unknown wrap-up code `{}`; known: {}",
            w.code,
            known.join(", ")
        )));
    }
    s.store.wrap_up(id, &w, now_ms()).await?;
    // A callback contact handled is a callback request done.
    s.store.callback_done_by(id).await?;
    if let Some((queue, number, due_ms)) = follow_up {
        let cb = s
            .store
            .schedule_callback(id, &queue, &number, due_ms, now_ms())
            .await?;
        s.runtime
            .run(move |center, _| center.retry_callback(cb.id, due_ms))
            .await?;
    }
    s.runtime
        .run(move |center, now| center.wrapped_up(&agent, id, now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a follow-up of contact `id`: its queue, number and due time.
async fn follow_up(s: &AppState, id: i64, f: FollowUp) -> Result<(String, String, i64), ApiError> {
    let contact = s.store.contact(id).await?;
    let number = f.number.unwrap_or(contact.address).trim().to_string();
    let number = Some(number)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("follow_up: give the number to call"))?;
    let queue = f
        .queue
        .or(contact.queue)
        .ok_or_else(|| ApiError::invalid("follow_up: give the queue that routes the callback"))?;
    let known = queue.clone();
    if !s
        .runtime
        .run(move |center, _| center.queue_config(&known).is_some())
        .await?
    {
        return Err(ApiError::invalid(format!("follow_up: no queue `{queue}`")));
    }
    let now = now_ms();
    let at = f.at_ms.unwrap_or(now);
    if at < now - 60_000 {
        return Err(ApiError::invalid("follow_up: at_ms is in the past"));
    }
    Ok((queue, number, at.max(now)))
}

/// A message.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// The text.
    pub text: String,
}

/// The agent sends a message to the customer (text channels).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/messages", tag = "contacts", request_body = Message,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn send_message(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Body(m): Body<Message>,
) -> Result<StatusCode, ApiError> {
    let agent = handler(&s, &c, id).await?;
    s.runtime
        .run(move |center, now| center.agent_message(&agent, id, &m.text, now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Callback requests.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallbackQuery {
    /// `pending`, `done` or `cancelled` (all when absent).
    pub status: Option<String>,
}

/// Callback requests, oldest first (supervisors).
#[utoipa::path(get, path = "/api/v1/callbacks", tag = "contacts", params(CallbackQuery),
    responses((status = 200, body = Vec<Callback>)))]
pub async fn list_callbacks(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<CallbackQuery>,
) -> Result<Json<Vec<Callback>>, ApiError> {
    need_supervisor(&c)?;
    Ok(Json(s.store.callbacks(q.status.as_deref()).await?))
}
