//! Configuration and reference data: customers and cases, queues, flows and their versions,
//! numbers, wrap-up codes, the knowledge base, integration tokens, phones' SIP passwords.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_flow::check::{
    Diagnostic, Severity, check, check_calendars, check_queues, check_subflows,
};
use switchboard_store::{
    Article, Case, Contact, ContactFilter, Customer, FlowVersion, NewArticle, NewCustomer, Token,
};

use super::{ApiError, AppState, Body, need_admin, need_supervisor};
use crate::auth::Caller;
use crate::kpi::QueueView;
use crate::runtime::now_ms;
use crate::setup::QueueConfig;

/// A text search.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to look for (everything when absent).
    pub q: Option<String>,
    /// Most rows (default 50).
    pub limit: Option<i64>,
}

/// Customers whose name, phone or email contains `q`.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(SearchQuery), responses((status = 200, body = Vec<Customer>)))]
pub async fn list_customers(
    State(s): State<AppState>,
    _c: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<Customer>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(
        s.store
            .search_customers(q.q.as_deref().unwrap_or(""), limit)
            .await?,
    ))
}

fn valid_customer(c: &NewCustomer) -> Result<(), ApiError> {
    if c.name.trim().is_empty() {
        return Err(ApiError::invalid("name must not be empty"));
    }
    if let Some(p) = &c.phone
        && !(p.starts_with('+') && p.len() > 4 && p[1..].chars().all(|d| d.is_ascii_digit()))
    {
        return Err(ApiError::invalid(format!(
            "phone `{p}` is not in E.164 form (+ and digits)"
        )));
    }
    if let Some(e) = &c.email
        && !e.contains('@')
    {
        return Err(ApiError::invalid(format!("email `{e}` has no @")));
    }
    Ok(())
}

/// Adds a customer.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 422, body = super::ErrorBody)))]
pub async fn create_customer(
    State(s): State<AppState>,
    _c: Caller,
    Body(n): Body<NewCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    valid_customer(&n)?;
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_customer(&n, now_ms()).await?),
    ))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, body = Customer), (status = 404, body = super::ErrorBody)))]
pub async fn get_customer(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(s.store.customer(id).await?))
}

/// Changes a customer.
#[utoipa::path(put, path = "/api/v1/customers/{id}", tag = "customers", request_body = NewCustomer,
    params(("id" = i64, Path, description = "Customer id")), responses((status = 200, body = Customer)))]
pub async fn update_customer(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
    Body(n): Body<NewCustomer>,
) -> Result<Json<Customer>, ApiError> {
    valid_customer(&n)?;
    Ok(Json(s.store.update_customer(id, &n).await?))
}

/// A customer's contacts and cases.
#[derive(Serialize, utoipa::ToSchema)]
pub struct History {
    /// Contacts, newest first (agents see the details of their own only).
    pub contacts: Vec<Contact>,
    /// Cases, newest first.
    pub cases: Vec<Case>,
}

/// A customer's history.
#[utoipa::path(get, path = "/api/v1/customers/{id}/history", tag = "customers", params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, body = History)))]
pub async fn customer_history(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<History>, ApiError> {
    s.store.customer(id).await?;
    let mut contacts = s
        .store
        .contacts(&ContactFilter {
            customer_id: Some(id),
            limit: 100,
            ..ContactFilter::default()
        })
        .await?;
    if !c.supervises() {
        for k in contacts.iter_mut().filter(|k| k.agent != c.agent) {
            k.transcript.clear();
            k.notes = None;
        }
    }
    Ok(Json(History {
        contacts,
        cases: s.store.cases_of(id).await?,
    }))
}

/// A case to open.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// What it is about.
    pub subject: String,
}

/// Opens a case for a customer.
#[utoipa::path(post, path = "/api/v1/customers/{id}/cases", tag = "customers", request_body = NewCase,
    params(("id" = i64, Path, description = "Customer id")), responses((status = 201, body = Case)))]
pub async fn open_case(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
    Body(n): Body<NewCase>,
) -> Result<(StatusCode, Json<Case>), ApiError> {
    if n.subject.trim().is_empty() {
        return Err(ApiError::invalid("subject must not be empty"));
    }
    Ok((
        StatusCode::CREATED,
        Json(s.store.open_case(id, &n.subject, now_ms()).await?),
    ))
}

/// Closes an open case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/close", tag = "customers", params(("id" = i64, Path, description = "Case id")),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn close_case(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    s.store.close_case(id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A queue: configuration and live figures.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Queue {
    /// Name.
    pub name: String,
    /// Configuration.
    pub config: QueueConfig,
    /// Live figures.
    pub live: Option<QueueView>,
}

/// Queues.
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues", responses((status = 200, body = Vec<Queue>)))]
pub async fn list_queues(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<Vec<Queue>>, ApiError> {
    Ok(Json(
        s.runtime
            .run(|center, now| {
                let views = center.kpis().queues(now);
                center
                    .queue_configs()
                    .iter()
                    .map(|(name, config)| Queue {
                        name: name.clone(),
                        config: config.clone(),
                        live: views.iter().find(|v| &v.queue == name).cloned(),
                    })
                    .collect()
            })
            .await?,
    ))
}

/// Adds or changes a queue (admins).
#[utoipa::path(put, path = "/api/v1/queues/{name}", tag = "queues", request_body = QueueConfig,
    params(("name" = String, Path, description = "Queue name")), responses((status = 204), (status = 422, body = super::ErrorBody)))]
pub async fn put_queue(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
    Body(q): Body<QueueConfig>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::invalid("a queue name has 1 to 64 characters"));
    }
    let stored = q.clone();
    let n = name.clone();
    s.runtime
        .run(move |center, now| center.configure_queue(&n, &q, now))
        .await??;
    s.store
        .put_config("queue", &name, &stored, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A diagnostic of a flow file.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowDiagnostic {
    /// Line, 1-based (0 when unknown).
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
    /// `error` or `warning`.
    pub severity: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

fn diagnostics(d: &[Diagnostic]) -> Vec<FlowDiagnostic> {
    d.iter()
        .map(|d| FlowDiagnostic {
            line: d.line,
            column: d.column,
            severity: match d.severity {
                Severity::Error => "error".into(),
                Severity::Warning => "warning".into(),
            },
            message: d.message.clone(),
            hint: d.hint.clone(),
        })
        .collect()
}

/// The result of checking a flow.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowCheck {
    /// The flow's id, when it loaded.
    pub id: Option<String>,
    /// Whether it can be published.
    pub ok: bool,
    /// Errors and warnings.
    pub diagnostics: Vec<FlowDiagnostic>,
    /// The flow as a diagram's nodes and links, when it loaded.
    pub graph: Option<FlowGraph>,
}

/// A flow's nodes and every link between them, for drawing it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowGraph {
    /// The name of the first node.
    pub start: String,
    /// Every node, in the order of the file.
    pub nodes: Vec<FlowGraphNode>,
    /// Every link: `next`, menu choices, branch arms, hours, queue exits… (one per link,
    /// so two nodes may be joined by several).
    pub edges: Vec<FlowGraphEdge>,
    /// The flow-wide agent escape (`agent_escape`): a key that leads to a node from any
    /// prompt.
    pub escape: Option<FlowEscape>,
}

/// A node of a [`FlowGraph`].
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowGraphNode {
    /// Its name.
    pub name: String,
    /// Its action as written in the file: `say`, `play`, `menu`, `collect`, `branch`,
    /// `hours`, `geo`, `lookup`, `set`, `enqueue`, `transfer`, `voicemail`, `callback`,
    /// `survey`, `subflow`, `return` or `hangup`.
    pub kind: String,
    /// The line of its name in the file, 1-based.
    pub line: Option<u32>,
}

/// A link of a [`FlowGraph`].
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowGraphEdge {
    /// The node it leaves.
    pub from: String,
    /// The node it leads to.
    pub to: String,
    /// `next`, `choice` (a menu key), `condition` (a branch arm), `otherwise`, `open`,
    /// `closed`, `holiday`, `country`, `failure` (retries used up, nothing found), `leave`
    /// (a key in the queue) or `max_wait`.
    pub kind: String,
    /// What to write on it, e.g. `1: device problems`, `customer.found`, `open`.
    pub label: String,
}

/// The flow-wide agent escape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowEscape {
    /// The key.
    pub key: String,
    /// The node it leads to.
    pub to: String,
}

impl From<switchboard_flow::graph::Graph> for FlowGraph {
    fn from(g: switchboard_flow::graph::Graph) -> FlowGraph {
        FlowGraph {
            start: g.start,
            nodes: g
                .nodes
                .into_iter()
                .map(|n| FlowGraphNode {
                    name: n.name,
                    kind: n.kind.into(),
                    line: n.line,
                })
                .collect(),
            edges: g
                .edges
                .into_iter()
                .map(|e| FlowGraphEdge {
                    from: e.from,
                    to: e.to,
                    kind: e.kind.into(),
                    label: e.label,
                })
                .collect(),
            escape: g.escape.map(|e| FlowEscape {
                key: e.key.to_string(),
                to: e.to,
            }),
        }
    }
}

/// A checked flow (when it has no error), its diagnostics, and the library of active
/// flows it was checked against, itself included.
struct CheckedSource {
    flow: Option<switchboard_flow::check::Flow>,
    diagnostics: Vec<Diagnostic>,
    library: switchboard_flow::interp::Library,
}

/// Checks a flow against the published ones (for subflows).
async fn check_with_library(s: &AppState, source: &str) -> Result<CheckedSource, ApiError> {
    let checked = check(source, Some(&s.flow_dir));
    let mut diags = checked.diagnostics;
    let mut library = switchboard_flow::interp::Library::new();
    if let Some(flow) = &checked.flow {
        library = self::library(s).await?.0;
        library.insert(flow.id.clone(), Arc::new(flow.clone()));
        diags.extend(check_subflows(flow, &library));
        let queues: Vec<String> = s
            .runtime
            .run(|center, _| center.queue_configs().keys().cloned().collect())
            .await?;
        diags.extend(check_queues(flow, queues.iter().map(String::as_str)));
    }
    let ok = !diags.iter().any(|d| d.severity == Severity::Error);
    Ok(CheckedSource {
        flow: checked.flow.filter(|_| ok),
        diagnostics: diags,
        library,
    })
}

/// Checks a flow against the published ones (for subflows).
async fn check_source(
    s: &AppState,
    source: &str,
) -> Result<(Option<switchboard_flow::check::Flow>, Vec<Diagnostic>), ApiError> {
    let c = check_with_library(s, source).await?;
    Ok((c.flow, c.diagnostics))
}

/// The active flows that load, by id, and the ids of those that do not.
pub(crate) async fn library(
    s: &AppState,
) -> Result<(switchboard_flow::interp::Library, Vec<String>), ApiError> {
    let mut out = switchboard_flow::interp::Library::new();
    let mut broken = Vec::new();
    for v in s.store.active_flows().await? {
        match check(&v.source, Some(&s.flow_dir)).flow {
            Some(f) => {
                out.insert(v.flow, Arc::new(f));
            }
            None => broken.push(v.flow),
        }
    }
    Ok((out, broken))
}

/// Loads the active flows and the numbers into the runtime.
pub(crate) async fn reload(s: &AppState) -> Result<(), ApiError> {
    let (flows, broken) = library(s).await?;
    for id in broken {
        tracing::error!("active version of flow {id} no longer loads; it is not answering");
    }
    let numbers: Vec<(String, String)> = s.store.configs("number").await?;
    s.runtime
        .run(move |center, _| {
            center.set_flows(flows);
            for (address, flow) in numbers {
                if let Err(e) = center.set_number(&address, &flow) {
                    tracing::warn!("number {address}: {e}");
                }
            }
        })
        .await?;
    Ok(())
}

/// Checks a flow without publishing it; when it loads, answers its graph for a diagram.
#[utoipa::path(post, path = "/api/v1/flows/check", tag = "flows", request_body(content = String, content_type = "text/yaml"),
    responses((status = 200, body = FlowCheck)))]
pub async fn check_flow(
    State(s): State<AppState>,
    c: Caller,
    source: String,
) -> Result<Json<FlowCheck>, ApiError> {
    need_supervisor(&c)?;
    let (flow, diags) = check_source(&s, &source).await?;
    Ok(Json(FlowCheck {
        id: flow.as_ref().map(|f| f.id.clone()),
        ok: flow.is_some(),
        diagnostics: diagnostics(&diags),
        graph: flow
            .as_ref()
            .map(|f| switchboard_flow::graph::graph(f).into()),
    }))
}

/// A dry run of a flow: a scripted caller at a given time.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    /// The flow's YAML.
    pub source: String,
    /// The caller's number (default `+442071234567`); a known customer's number makes
    /// them identified, as on a real call.
    pub caller: Option<String>,
    /// When the call happens, RFC 3339 (e.g. `2026-12-25T10:00:00+01:00`); default: now.
    pub at: Option<String>,
    /// The caller's answer to each prompt, in order: a menu key, digits for a collect, or
    /// an empty string for silence; silence after the last.
    #[serde(default)]
    pub presses: Vec<String>,
    /// In a queue, when an agent answers, in seconds after entering it: 0 when absent,
    /// `null` for nobody (to hear the whole queue experience).
    #[serde(default = "answer_at_once", deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub answer_after_secs: Option<Option<u64>>,
}

fn answer_at_once() -> Option<Option<u64>> {
    Some(Some(0))
}

/// A field that is present, `null` included (absent ones take their default).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// What a dry run heard and where it ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DryRunResult {
    /// Whether the flow loaded (it has no error).
    pub ok: bool,
    /// Errors and warnings, as `POST /flows/check` answers them.
    pub diagnostics: Vec<FlowDiagnostic>,
    /// The transcript, one line per thing heard, pressed or decided, as
    /// `switchboard flow simulate` prints it (empty when the flow has errors).
    pub lines: Vec<String>,
    /// The nodes entered, in order (a subflow's as `flow:node`).
    pub path: Vec<String>,
    /// How the run ended, as `switchboard flow simulate` prints it after `outcome: `
    /// (e.g. `queued to support with skills devices>=2, priority 0, language en`);
    /// `null` when the flow has errors.
    pub outcome: Option<String>,
}

/// Most presses a dry run takes.
const MAX_PRESSES: usize = 100;

/// Dry-runs a flow without publishing it: what a caller who presses the given keys hears,
/// and where the call ends (a queue, a transfer, voicemail, a hang-up). The active flows
/// answer its subflows; a caller whose number is a customer's is identified.
#[utoipa::path(post, path = "/api/v1/flows/dry-run", tag = "flows", request_body = DryRun,
    responses((status = 200, body = DryRunResult), (status = 422, body = super::ErrorBody)))]
pub async fn dry_run_flow(
    State(s): State<AppState>,
    c: Caller,
    Body(run): Body<DryRun>,
) -> Result<Json<DryRunResult>, ApiError> {
    use switchboard_flow::interp::{CallData, FlowEventKind};
    use switchboard_flow::simulate::{Lookups, QueueScript, Script, simulate};
    need_supervisor(&c)?;
    if run.presses.len() > MAX_PRESSES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_PRESSES} presses in a dry run"
        )));
    }
    if let Some(p) = run.presses.iter().find(|p| {
        p.len() > 64
            || !p
                .chars()
                .all(|k| k.is_ascii_digit() || k == '*' || k == '#')
    }) {
        return Err(ApiError::invalid(format!(
            "press `{p}`: keys are 0-9, * and #, at most 64 of them"
        )));
    }
    let caller = run.caller.unwrap_or_else(|| "+442071234567".into());
    if caller.trim().is_empty() || caller.len() > 64 {
        return Err(ApiError::invalid("caller: a number of 1 to 64 characters"));
    }
    let at = match &run.at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
            ApiError::invalid(format!(
                "at `{t}` is not RFC 3339 ({e}): write e.g. 2026-12-25T10:00:00+01:00"
            ))
        })?,
        None => chrono::Local::now().fixed_offset(),
    };
    let answer_after = run.answer_after_secs.unwrap_or(Some(0));
    if answer_after.is_some_and(|a| a > 86_400) {
        return Err(ApiError::invalid(
            "answer_after_secs: at most 86400 (a day), or null for nobody",
        ));
    }
    let checked = check_with_library(&s, &run.source).await?;
    let Some(flow) = checked.flow else {
        return Ok(Json(DryRunResult {
            ok: false,
            diagnostics: diagnostics(&checked.diagnostics),
            lines: Vec::new(),
            path: Vec::new(),
            outcome: None,
        }));
    };
    // Identified as a real call would be; lookups of the caller's number find them too.
    let mut data = CallData::default();
    data.caller.insert("number".into(), caller.clone());
    let mut lookups = Lookups::new();
    if let Some(customer) = s.store.customer_by_address(&caller).await? {
        let profile = crate::runtime::profile(&s.store, &customer).await?;
        lookups.entry("customers".into()).or_default().extend([
            (caller.clone(), profile.clone()),
            (customer.id.to_string(), profile.clone()),
        ]);
        data.customer = Some(profile);
    }
    let script = Script {
        presses: run.presses,
        lookups,
        queue: QueueScript {
            answer_after: answer_after.map(std::time::Duration::from_secs),
            ..QueueScript::default()
        },
        library: checked.library,
    };
    let t = simulate(&flow, data, at, &script);
    Ok(Json(DryRunResult {
        ok: true,
        diagnostics: diagnostics(&checked.diagnostics),
        path: t
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                FlowEventKind::Entered { node } => Some(node.clone()),
                _ => None,
            })
            .collect(),
        outcome: Some(t.outcome_text()),
        lines: t.lines,
    }))
}

/// Publishes a new version of a flow (the YAML as the body); refused with the
/// diagnostics when it has errors.
#[utoipa::path(put, path = "/api/v1/flows/{id}", tag = "flows", request_body(content = String, content_type = "text/yaml"),
    params(("id" = String, Path, description = "Flow id (must match the file's `id`)")),
    responses((status = 201, body = FlowVersion), (status = 422, body = super::ErrorBody)))]
pub async fn put_flow(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    source: String,
) -> Result<(StatusCode, Json<FlowVersion>), ApiError> {
    need_supervisor(&c)?;
    let (flow, diags) = check_source(&s, &source).await?;
    let Some(flow) = flow else {
        return Err(ApiError::invalid("the flow has errors")
            .with_details(serde_json::to_value(diagnostics(&diags)).unwrap_or_default()));
    };
    if flow.id != id {
        return Err(ApiError::invalid(format!(
            "the file's id is `{}`, not `{id}`",
            flow.id
        )));
    }
    let version = s.store.publish_flow(&id, &source, now_ms()).await?;
    reload(&s).await?;
    let v = s
        .store
        .flow_versions(&id)
        .await?
        .into_iter()
        .find(|v| v.version == version);
    v.map(|v| (StatusCode::CREATED, Json(v)))
        .ok_or_else(|| ApiError::not_found("flow version"))
}

/// Active flows.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows", responses((status = 200, body = Vec<FlowVersion>)))]
pub async fn list_flows(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<Vec<FlowVersion>>, ApiError> {
    Ok(Json(s.store.active_flows().await?))
}

/// Every version of a flow, newest first.
#[utoipa::path(get, path = "/api/v1/flows/{id}/versions", tag = "flows", params(("id" = String, Path, description = "Flow id")),
    responses((status = 200, body = Vec<FlowVersion>)))]
pub async fn flow_versions(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<FlowVersion>>, ApiError> {
    let v = s.store.flow_versions(&id).await?;
    if v.is_empty() {
        return Err(ApiError::not_found(format!("flow {id}")));
    }
    Ok(Json(v))
}

/// Which version to make active.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    /// Version number.
    pub version: i64,
}

/// Makes another version of a flow active (roll back or forward).
#[utoipa::path(post, path = "/api/v1/flows/{id}/activate", tag = "flows", request_body = Activate,
    params(("id" = String, Path, description = "Flow id")), responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn activate_flow(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(a): Body<Activate>,
) -> Result<StatusCode, ApiError> {
    need_supervisor(&c)?;
    s.store.activate_flow(&id, a.version).await?;
    reload(&s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A shared calendars file: business hours, holidays and special days that flows' `hours`
/// nodes use through `calendar_files: [calendars/NAME.yaml]`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CalendarFile {
    /// File name without `.yaml`.
    pub name: String,
    /// The calendars it defines.
    pub calendars: Vec<String>,
    /// The YAML.
    pub source: String,
}

fn calendar_dir(s: &AppState) -> std::path::PathBuf {
    s.flow_dir.join("calendars")
}

/// Shared calendar files.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "flows", responses((status = 200, body = Vec<CalendarFile>)))]
pub async fn list_calendars(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<Vec<CalendarFile>>, ApiError> {
    let dir = calendar_dir(&s);
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let path = e.path();
            let (Some(name), Some("yaml")) = (
                path.file_stem().and_then(|n| n.to_str()),
                path.extension().and_then(|x| x.to_str()),
            ) else {
                continue;
            };
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (calendars, _) = check_calendars(&source);
            out.push(CalendarFile {
                name: name.to_string(),
                calendars,
                source,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

/// Adds or replaces a shared calendar file (admins; the YAML as the body). Refused with
/// the diagnostics when it has errors; the flows that use it apply it at once.
#[utoipa::path(put, path = "/api/v1/calendars/{name}", tag = "flows", request_body(content = String, content_type = "text/yaml"),
    params(("name" = String, Path, description = "File name: lower-case letters, digits and dashes")),
    responses((status = 204), (status = 422, body = super::ErrorBody)))]
pub async fn put_calendar(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
    source: String,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !name.starts_with('-');
    if !valid_name {
        return Err(ApiError::invalid(
            "a calendar file name has 1 to 64 lower-case letters, digits and dashes",
        ));
    }
    let (calendars, diags) = check_calendars(&source);
    if diags.iter().any(|d| d.severity == Severity::Error) || calendars.is_empty() {
        let details = serde_json::to_value(diagnostics(&diags)).unwrap_or_default();
        return Err(
            ApiError::invalid("the calendar file has errors (or defines no calendar)")
                .with_details(details),
        );
    }
    let dir = calendar_dir(&s);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        // Written aside then renamed: a reader never sees half a file.
        let tmp = dir.join(format!(".{name}.yaml.tmp"));
        std::fs::write(&tmp, &source)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(format!("{name}.yaml")))
    };
    write().map_err(|e| {
        tracing::error!("calendar {name}: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the calendar file could not be written",
        )
    })?;
    reload(&s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Addresses and the flows answering them.
#[utoipa::path(get, path = "/api/v1/numbers", tag = "flows", responses((status = 200, body = BTreeMap<String, String>)))]
pub async fn list_numbers(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(
        s.runtime.run(|center, _| center.numbers().clone()).await?,
    ))
}

/// A number's flow.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberTarget {
    /// Flow id.
    pub flow: String,
}

/// Points an address (dialed number, chat entry point) at a flow (admins).
#[utoipa::path(put, path = "/api/v1/numbers/{address}", tag = "flows", request_body = NumberTarget,
    params(("address" = String, Path, description = "Address")), responses((status = 204), (status = 422, body = super::ErrorBody)))]
pub async fn put_number(
    State(s): State<AppState>,
    c: Caller,
    Path(address): Path<String>,
    Body(t): Body<NumberTarget>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    let (a, f) = (address.clone(), t.flow.clone());
    s.runtime
        .run(move |center, _| center.set_number(&a, &f))
        .await??;
    s.store
        .put_config("number", &address, &t.flow, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Wrap-up codes and their labels.
#[utoipa::path(get, path = "/api/v1/wrapup-codes", tag = "contacts", responses((status = 200, body = BTreeMap<String, String>)))]
pub async fn list_wrapup_codes(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(
        s.store
            .configs::<String>("wrapup")
            .await?
            .into_iter()
            .collect(),
    ))
}

/// A wrap-up code's label.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpCode {
    /// Label shown to agents.
    pub label: String,
}

/// Adds or renames a wrap-up code (admins).
#[utoipa::path(put, path = "/api/v1/wrapup-codes/{code}", tag = "contacts", request_body = WrapUpCode,
    params(("code" = String, Path, description = "Code")), responses((status = 204)))]
pub async fn put_wrapup_code(
    State(s): State<AppState>,
    c: Caller,
    Path(code): Path<String>,
    Body(w): Body<WrapUpCode>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    s.store
        .put_config("wrapup", &code, &w.label, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A desk phone's SIP password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhonePassword {
    /// At least 6 characters.
    pub password: String,
}

/// Checks a phone user name: an agent login or a user name, as phones register with.
fn phone_user(user: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{user}` is not a phone user name (letters, digits, `.`, `_`, `-`)"
        )))
    }
}

/// Sets the password a desk phone registers with as `user` (an agent login, or a
/// supervisor's user name); only its digest (HA1 in the configured realm) is stored.
/// Phones registered already stay so until their registration expires (admins).
#[utoipa::path(put, path = "/api/v1/phones/{user}", tag = "agents", request_body = PhonePassword,
    params(("user" = String, Path, description = "Agent login or user name")),
    responses((status = 204), (status = 422, body = super::ErrorBody)))]
pub async fn put_phone(
    State(s): State<AppState>,
    c: Caller,
    Path(user): Path<String>,
    Body(p): Body<PhonePassword>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    phone_user(&user)?;
    if p.password.chars().count() < 6 {
        return Err(ApiError::invalid(
            "a phone password has at least 6 characters",
        ));
    }
    let ha1 = switchboard_voice::registrar::ha1(&user, &s.realm, &p.password);
    s.store.put_sip_account(&user, &s.realm, &ha1).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `user`'s phone password: their phones can no longer register (admins).
#[utoipa::path(delete, path = "/api/v1/phones/{user}", tag = "agents",
    params(("user" = String, Path, description = "Agent login or user name")),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn delete_phone(
    State(s): State<AppState>,
    c: Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    need_admin(&c)?;
    if s.store.delete_sip_account(&user).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("phone account `{user}`")))
    }
}

/// Knowledge-base articles matching `q` (all when absent), best first.
#[utoipa::path(get, path = "/api/v1/articles", tag = "knowledge", params(SearchQuery), responses((status = 200, body = Vec<Article>)))]
pub async fn search_articles(
    State(s): State<AppState>,
    _c: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<Article>>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 200);
    Ok(Json(
        match q.q.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(text) => s.store.search_articles(text, limit).await?,
            None => s.store.articles().await?,
        },
    ))
}

/// Adds an article (supervisors).
#[utoipa::path(post, path = "/api/v1/articles", tag = "knowledge", request_body = NewArticle, responses((status = 201, body = Article)))]
pub async fn add_article(
    State(s): State<AppState>,
    c: Caller,
    Body(a): Body<NewArticle>,
) -> Result<(StatusCode, Json<Article>), ApiError> {
    need_supervisor(&c)?;
    if a.title.trim().is_empty() {
        return Err(ApiError::invalid("title must not be empty"));
    }
    Ok((StatusCode::CREATED, Json(s.store.add_article(&a).await?)))
}

/// An integration token to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The user the token signs in as.
    pub user: String,
}

/// A created token (shown once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The bearer token.
    pub token: String,
}

/// Creates a bearer token for an integration, without expiry (admins).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewToken, responses((status = 201, body = CreatedToken)))]
pub async fn create_token(
    State(s): State<AppState>,
    c: Caller,
    Body(n): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    need_admin(&c)?;
    if s.store.user(&n.user).await?.is_none() {
        return Err(ApiError::not_found(format!("user {}", n.user)));
    }
    let token = crate::auth::new_token();
    let t = Token {
        user: n.user,
        kind: "api".into(),
        expires_ms: None,
    };
    s.store
        .put_token(&crate::auth::token_hash(&token), &t, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token })))
}
