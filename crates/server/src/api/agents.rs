//! Sign-in, agents' configuration and state, and answering offers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_store::Role;

use super::{ApiError, AppState, Body, need_admin};
use crate::auth::{Caller, LoginError};
use crate::kpi::AgentView;
use crate::runtime::now_ms;
use crate::setup::AgentConfig;

/// A password login.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// A signed-in session.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Bearer token for every other request.
    pub token: String,
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The agent the user works as.
    pub agent: Option<String>,
}

/// Who is signed in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The agent the user works as.
    pub agent: Option<String>,
}

/// Signs in with a password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    Body(r): Body<LoginRequest>,
) -> Result<Json<Session>, ApiError> {
    match s
        .logins
        .login(&s.store, &r.name, &r.password, now_ms())
        .await
    {
        Ok((token, user)) => Ok(Json(Session {
            token,
            name: user.name,
            role: user.role,
            agent: user.agent,
        })),
        Err(LoginError::Invalid) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong name or password",
        )),
        Err(LoginError::Locked(secs)) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed logins; try again in {secs} s"),
        )),
    }
}

/// Signs out (revokes the token used).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(s): State<AppState>,
    _c: Caller,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(t) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        s.store
            .delete_token(&crate::auth::token_hash(t.trim()))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = super::ErrorBody)))]
pub async fn me(c: Caller) -> Json<Me> {
    Json(Me {
        name: c.user,
        role: c.role,
        agent: c.agent,
    })
}

/// An agent: configuration and live figures.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Agent {
    /// Login.
    pub login: String,
    /// Configuration.
    pub config: AgentConfig,
    /// Live state and figures.
    pub live: Option<AgentView>,
}

/// Agents (an agent sees only themselves).
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", responses((status = 200, body = Vec<Agent>)))]
pub async fn list_agents(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<Agent>>, ApiError> {
    let agents = s
        .runtime
        .run(|center, now| {
            let views = center.kpis().agents(now);
            center
                .agent_configs()
                .iter()
                .map(|(login, config)| Agent {
                    login: login.clone(),
                    config: config.clone(),
                    live: views.iter().find(|v| &v.agent == login).cloned(),
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(
        agents
            .into_iter()
            .filter(|a| c.may_act_as(&a.login))
            .collect(),
    ))
}

/// Adds or changes an agent (admins).
#[utoipa::path(put, path = "/api/v1/agents/{login}", tag = "agents", request_body = AgentConfig,
    params(("login" = String, Path, description = "Agent login")),
    responses((status = 204), (status = 422, body = super::ErrorBody)))]
pub async fn put_agent(
    State(s): State<AppState>,
    c: Caller,
    Path(login): Path<String>,
    Body(cfg): Body<AgentConfig>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    let stored = cfg.clone();
    let name = login.clone();
    s.runtime
        .run(move |center, now| center.configure_agent(&name, &cfg, now))
        .await??;
    s.store
        .put_config("agent", &login, &stored, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A state change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// `available`, `away` or `offline`.
    pub state: String,
    /// Reason code for `away` (e.g. `lunch`, `training`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Sets an agent's state (the agent, or a supervisor).
#[utoipa::path(post, path = "/api/v1/agents/{login}/state", tag = "agents", request_body = StateRequest,
    params(("login" = String, Path, description = "Agent login")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn set_state(
    State(s): State<AppState>,
    c: Caller,
    Path(login): Path<String>,
    Body(r): Body<StateRequest>,
) -> Result<StatusCode, ApiError> {
    if !c.may_act_as(&login) {
        return Err(ApiError::forbidden("agents set only their own state"));
    }
    s.runtime
        .run(move |center, now| center.set_state(&login, &r.state, r.reason.as_deref(), now))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an offered contact.
#[utoipa::path(post, path = "/api/v1/agents/{login}/offers/{contact}/accept", tag = "agents",
    params(("login" = String, Path, description = "Agent login"), ("contact" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn accept(
    State(s): State<AppState>,
    c: Caller,
    Path((login, contact)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    answer(&s, &c, login, contact, true).await
}

/// Declines an offered contact.
#[utoipa::path(post, path = "/api/v1/agents/{login}/offers/{contact}/reject", tag = "agents",
    params(("login" = String, Path, description = "Agent login"), ("contact" = i64, Path, description = "Contact id")),
    responses((status = 204), (status = 409, body = super::ErrorBody)))]
pub async fn reject(
    State(s): State<AppState>,
    c: Caller,
    Path((login, contact)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    answer(&s, &c, login, contact, false).await
}

async fn answer(
    s: &AppState,
    c: &Caller,
    login: String,
    contact: i64,
    accept: bool,
) -> Result<StatusCode, ApiError> {
    if !c.may_act_as(&login) {
        return Err(ApiError::forbidden("agents answer only their own offers"));
    }
    s.runtime
        .run(move |center, now| {
            if accept {
                center.accept(&login, contact, now)
            } else {
                center.reject(&login, contact, now)
            }
        })
        .await??;
    Ok(StatusCode::NO_CONTENT)
}
