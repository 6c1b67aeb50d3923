//! The text channel: a customer starts a chat at an address, answers the flow's prompts,
//! waits in queue and talks with the agent — the same flow and routing as a call.
//!
//! The customer is anonymous; starting a chat returns a token that the other chat
//! endpoints require (`Authorization: Bearer <token>`). In a chat, a prompt's no-input
//! timeout does not apply: people type at their own pace.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use switchboard_routing::Channel;
use switchboard_store::Line;

use super::{ApiError, AppState, Body};
use crate::auth::{new_token, token_hash};
use crate::runtime::{now_ms, start_contact};

/// A chat to start.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChat {
    /// The address chatted to (e.g. `support`): selects the flow.
    pub to: String,
    /// Who is chatting: phone number, email or handle (identifies the customer).
    pub from: String,
}

/// What the customer sees.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatView {
    /// The contact id.
    pub contact: i64,
    /// `ivr`, `queued`, `connected` or `ended`.
    pub status: String,
    /// The conversation so far.
    pub lines: Vec<Line>,
    /// Choices offered now (key, label), for buttons.
    pub options: Vec<(String, String)>,
}

/// A started chat: the view and the customer's token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StartedChat {
    /// Token for the other chat endpoints.
    pub token: String,
    /// What the customer sees.
    #[serde(flatten)]
    pub view: ChatView,
}

/// The customer's message or choice.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatInput {
    /// Text, or a menu option's key.
    pub text: String,
}

/// How long a chat token is kept (at least).
pub const CHAT_TOKEN_MS: i64 = 24 * 3600 * 1000;

/// Most characters in one chat message.
pub const MAX_MESSAGE: usize = 4000;

async fn view(s: &AppState, contact: i64) -> Result<ChatView, ApiError> {
    let live = s.runtime.run(move |center, _| center.view(contact)).await?;
    Ok(match live {
        Some(v) => ChatView {
            contact,
            status: v.status.into(),
            lines: v.lines,
            options: v
                .options
                .into_iter()
                .map(|(k, l)| (k.to_string(), l))
                .collect(),
        },
        None => {
            let c = s.store.contact(contact).await?;
            ChatView {
                contact,
                status: "ended".into(),
                lines: c.transcript,
                options: Vec::new(),
            }
        }
    })
}

fn authorised(s: &AppState, headers: &HeaderMap, contact: i64) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let chats = s.chats.lock().expect("not poisoned");
    match chats.get(&contact) {
        Some((hash, _)) if *hash == token_hash(token.trim()) => Ok(()),
        Some(_) => Err(ApiError::forbidden("not this chat's token")),
        None => Err(ApiError::not_found(format!("chat {contact}"))),
    }
}

/// Starts a chat (no sign-in: the answer carries the chat's token).
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", security(()), request_body = StartChat,
    responses((status = 201, body = StartedChat), (status = 404, body = super::ErrorBody)))]
pub async fn start_chat(
    State(s): State<AppState>,
    Body(r): Body<StartChat>,
) -> Result<(StatusCode, Json<StartedChat>), ApiError> {
    if r.from.trim().is_empty() || r.from.len() > 256 {
        return Err(ApiError::invalid("from must have 1 to 256 characters"));
    }
    let token = new_token();
    let hash = token_hash(&token);
    let chats = s.chats.clone();
    let id = start_contact(
        &s.runtime,
        &s.store,
        Channel::Chat,
        &r.from,
        &r.to,
        move |id| {
            let mut chats = chats.lock().expect("not poisoned");
            // Chats older than a day are over; their tokens go (bounded memory).
            if chats.len() >= 10_000 {
                let now = now_ms();
                chats.retain(|_, (_, issued)| now - *issued < CHAT_TOKEN_MS);
            }
            chats.insert(id, (hash, now_ms()));
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StartedChat {
            token,
            view: view(&s, id).await?,
        }),
    ))
}

/// Sends the customer's message or choice.
#[utoipa::path(post, path = "/api/v1/chat/{id}/messages", tag = "chat", security(()), request_body = ChatInput,
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ChatView), (status = 409, body = super::ErrorBody)))]
pub async fn chat_input(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Body(i): Body<ChatInput>,
) -> Result<Json<ChatView>, ApiError> {
    authorised(&s, &headers, id)?;
    if i.text.trim().is_empty() || i.text.chars().count() > MAX_MESSAGE {
        return Err(ApiError::invalid(format!(
            "a message has 1 to {MAX_MESSAGE} characters"
        )));
    }
    s.runtime
        .run(move |center, now| center.input(id, &i.text, now))
        .await??;
    Ok(Json(view(&s, id).await?))
}

/// The conversation so far.
#[utoipa::path(get, path = "/api/v1/chat/{id}", tag = "chat", security(()), params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ChatView)))]
pub async fn get_chat(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<ChatView>, ApiError> {
    authorised(&s, &headers, id)?;
    Ok(Json(view(&s, id).await?))
}

/// The customer leaves the chat.
#[utoipa::path(delete, path = "/api/v1/chat/{id}", tag = "chat", security(()), params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ChatView)))]
pub async fn leave_chat(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<ChatView>, ApiError> {
    authorised(&s, &headers, id)?;
    let left = s
        .runtime
        .run(move |center, now| center.hangup(id, now))
        .await?;
    if let Err(e) = left {
        tracing::debug!("chat {id} left after it ended: {e}");
    }
    Ok(Json(view(&s, id).await?))
}
