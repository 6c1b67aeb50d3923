//! People who sign in: their role (admin, supervisor, agent), the agent they work as, and
//! their password (admins only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_store::{Role, User};

use super::{ApiError, AppState, Body, need_admin};
use crate::auth::{Caller, hash_password};

/// Shortest password accepted.
const MIN_PASSWORD: usize = 8;

/// Every user (admins), without password hashes.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<User>), (status = 403, body = super::ErrorBody)))]
pub async fn list_users(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<User>>, ApiError> {
    need_admin(&c)?;
    Ok(Json(s.store.users().await?))
}

/// A user as an admin sets it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// `admin`, `supervisor` or `agent`.
    pub role: String,
    /// The agent profile this user works as (needed for agents).
    #[serde(default)]
    pub agent: Option<String>,
    /// A new password (needed for a new user; at least 8 characters).
    #[serde(default)]
    pub password: Option<String>,
}

/// Adds a user or changes one's role, agent profile or password (admins). Admins cannot
/// take their own admin role away, so that someone can always administer.
#[utoipa::path(put, path = "/api/v1/users/{name}", tag = "users", request_body = UserRequest,
    params(("name" = String, Path, description = "Login name")),
    responses((status = 204), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn put_user(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
    Body(r): Body<UserRequest>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch));
    if !valid_name {
        return Err(ApiError::invalid(
            "a user name is 1–64 letters, digits, `.`, `_` or `-`",
        ));
    }
    let role = Role::parse(&r.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown role `{}`; roles: admin, supervisor, agent",
            r.role
        ))
    })?;
    if name == c.user && role != Role::Admin {
        return Err(ApiError::invalid(
            "you cannot take your own admin role away",
        ));
    }
    let agent = r.agent.filter(|a| !a.is_empty());
    if let Some(a) = &agent {
        let login = a.clone();
        let known = s
            .runtime
            .run(move |center, _| center.agent_configs().contains_key(&login))
            .await?;
        if !known {
            return Err(ApiError::invalid(format!(
                "no agent `{a}`; add the agent first"
            )));
        }
    } else if role == Role::Agent {
        return Err(ApiError::invalid("an agent user needs an agent profile"));
    }
    let password_hash = match (r.password, s.store.user(&name).await?) {
        (Some(p), _) if p.chars().count() < MIN_PASSWORD => {
            return Err(ApiError::invalid(format!(
                "a password has at least {MIN_PASSWORD} characters"
            )));
        }
        (Some(p), _) => hash_password(p).await.ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is shutting down",
            )
        })?,
        (None, Some(old)) => old.password_hash,
        (None, None) => return Err(ApiError::invalid("a new user needs a password")),
    };
    s.store
        .put_user(&User {
            name,
            role,
            agent,
            password_hash,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
