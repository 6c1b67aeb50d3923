//! The HTTP edge: REST under `/api/v1` (OpenAPI 3.1 at `/api/v1/openapi.json`), the live
//! event stream, `/healthz` and `/metrics`.
//!
//! Architecture invariant: handlers never touch the center directly; they send jobs to the
//! runtime and read the store.

mod admin;
mod agents;
mod chat;
mod contacts;
mod ops;
mod reports;
mod staffing;
mod users;

pub(crate) use admin::reload;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_store::{Store, StoreError};
use utoipa::OpenApi;

use crate::auth::{Caller, Logins};
use crate::center::Refused;
use crate::runtime::{RunError, Runtime, StartError, now_ms};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The owner task.
    pub runtime: Runtime,
    /// Password logins.
    pub logins: Arc<Logins>,
    /// Chat tokens: contact id → SHA-256 of the customer's token and when it was issued.
    pub chats: Arc<std::sync::Mutex<std::collections::HashMap<i64, (String, i64)>>>,
    /// Metrics counters.
    pub metrics: Arc<ops::Metrics>,
    /// Where flows' relative paths (audio, calendars) are found.
    pub flow_dir: std::path::PathBuf,
    /// Where calls' recordings are (contacts name their files relative to it).
    pub recordings: std::path::PathBuf,
    /// Turns true when the server shuts down: open event streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The voice edge (its load, for the metrics).
    pub voice: switchboard_voice::VoiceHandle,
    /// The digest realm phones register in.
    pub realm: String,
}

/// An error as every endpoint returns it: `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
}

/// The body of an error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `unauthorized`, `forbidden`, `not_found`, `conflict`, `invalid`,
    /// `rate_limited`, `unavailable`, `internal`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Structured details (e.g. flow diagnostics with line and column).
    pub details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
    /// 422: understood but not acceptable.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 401.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in: Authorization: Bearer <token>",
        )
    }
    fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
            e => {
                tracing::error!("store: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the database failed",
                )
            }
        }
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> ApiError {
        match e {
            Refused::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            Refused::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
            Refused::Invalid(why) => ApiError::invalid(why),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> ApiError {
        match e {
            StartError::NoFlow(_) => ApiError::not_found(e.to_string()),
            StartError::Store(e) => e.into(),
            StartError::Run(e) => e.into(),
            StartError::Refused(e) => e.into(),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> ApiError {
        match e {
            RunError::Stopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            RunError::Store(why) => {
                tracing::error!("{why}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "storing failed; nothing was acknowledged",
                )
            }
        }
    }
}

/// JSON bodies whose errors are [`ApiError`]s.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.body_text(),
            )),
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

fn bearer(parts: &Parts) -> Option<String> {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    // For EventSource, which cannot set headers.
    Query::<TokenQuery>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.access_token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        crate::auth::caller(&state.store, &token, now_ms())
            .await
            .ok_or_else(ApiError::unauthorized)
    }
}

fn need_supervisor(c: &Caller) -> Result<(), ApiError> {
    if c.supervises() {
        Ok(())
    } else {
        Err(ApiError::forbidden("supervisors and admins only"))
    }
}

fn need_admin(c: &Caller) -> Result<(), ApiError> {
    if c.role == switchboard_store::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("admins only"))
    }
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Contact-center server: agents, contacts, customers, queues, flows, KPIs, chat, events."),
    paths(
        agents::login, agents::logout, agents::me, agents::list_agents, agents::put_agent,
        agents::set_state, agents::accept, agents::reject,
        contacts::list_contacts, contacts::get_contact, contacts::contact_events, contacts::call_legs, contacts::end_contact, contacts::transfer, contacts::hold, contacts::monitor, contacts::stop_monitor, contacts::recording,
        contacts::wrap_up, contacts::send_message, contacts::list_callbacks,
        admin::list_customers, admin::create_customer, admin::get_customer, admin::update_customer,
        admin::customer_history, admin::open_case, admin::close_case,
        admin::list_queues, admin::put_queue, admin::list_flows, admin::put_flow, admin::check_flow, admin::dry_run_flow,
        admin::flow_versions, admin::activate_flow, admin::list_calendars, admin::put_calendar, admin::list_numbers, admin::put_number,
        admin::list_wrapup_codes, admin::put_wrapup_code, admin::search_articles, admin::add_article,
        admin::put_phone, admin::delete_phone,
        admin::create_token, users::list_users, users::put_user,
        reports::interval_report, reports::summary_report, reports::flow_stats,
        staffing::erlang, staffing::simulate_queue,
        ops::realtime, ops::events, ops::healthz, ops::metrics,
        chat::start_chat, chat::chat_input, chat::get_chat, chat::leave_chat,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    use axum::routing::{get, post, put};
    let api = Router::new()
        .route("/auth/login", post(agents::login))
        .route("/auth/logout", post(agents::logout))
        .route("/me", get(agents::me))
        .route("/agents", get(agents::list_agents))
        .route("/agents/{login}", put(agents::put_agent))
        .route("/agents/{login}/state", post(agents::set_state))
        .route(
            "/agents/{login}/offers/{contact}/accept",
            post(agents::accept),
        )
        .route(
            "/agents/{login}/offers/{contact}/reject",
            post(agents::reject),
        )
        .route("/contacts", get(contacts::list_contacts))
        .route("/contacts/{id}", get(contacts::get_contact))
        .route("/contacts/{id}/events", get(contacts::contact_events))
        .route("/contacts/{id}/legs", get(contacts::call_legs))
        .route("/contacts/{id}/recording", get(contacts::recording))
        .route("/contacts/{id}/end", post(contacts::end_contact))
        .route("/contacts/{id}/transfer", post(contacts::transfer))
        .route("/contacts/{id}/hold", post(contacts::hold))
        .route(
            "/contacts/{id}/monitor",
            post(contacts::monitor).delete(contacts::stop_monitor),
        )
        .route("/contacts/{id}/wrapup", post(contacts::wrap_up))
        .route("/contacts/{id}/messages", post(contacts::send_message))
        .route("/callbacks", get(contacts::list_callbacks))
        .route(
            "/customers",
            get(admin::list_customers).post(admin::create_customer),
        )
        .route(
            "/customers/{id}",
            get(admin::get_customer).put(admin::update_customer),
        )
        .route("/customers/{id}/history", get(admin::customer_history))
        .route("/customers/{id}/cases", post(admin::open_case))
        .route("/cases/{id}/close", post(admin::close_case))
        .route("/queues", get(admin::list_queues))
        .route("/queues/{name}", put(admin::put_queue))
        .route("/flows", get(admin::list_flows))
        .route("/flows/check", post(admin::check_flow))
        .route("/flows/dry-run", post(admin::dry_run_flow))
        .route("/flows/{id}", put(admin::put_flow))
        .route("/flows/{id}/versions", get(admin::flow_versions))
        .route("/flows/{id}/activate", post(admin::activate_flow))
        .route("/calendars", get(admin::list_calendars))
        .route("/calendars/{name}", put(admin::put_calendar))
        .route("/numbers", get(admin::list_numbers))
        .route("/numbers/{address}", put(admin::put_number))
        .route("/wrapup-codes", get(admin::list_wrapup_codes))
        .route("/wrapup-codes/{code}", put(admin::put_wrapup_code))
        .route(
            "/phones/{user}",
            put(admin::put_phone).delete(admin::delete_phone),
        )
        .route(
            "/articles",
            get(admin::search_articles).post(admin::add_article),
        )
        .route("/tokens", post(admin::create_token))
        .route("/users", get(users::list_users))
        .route("/users/{name}", put(users::put_user))
        .route("/kpis/realtime", get(ops::realtime))
        .route("/reports/intervals", get(reports::interval_report))
        .route("/reports/summary", get(reports::summary_report))
        .route("/flows/{id}/stats", get(reports::flow_stats))
        .route("/staffing/erlang", get(staffing::erlang))
        .route("/staffing/simulate", post(staffing::simulate_queue))
        .route("/events", get(ops::events))
        .route("/chat", post(chat::start_chat))
        .route("/chat/{id}", get(chat::get_chat).delete(chat::leave_chat))
        .route("/chat/{id}/messages", post(chat::chat_input))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .fallback(|| async { ApiError::not_found("no such endpoint") });
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::count,
        ))
        .with_state(state)
}
