//! Historical reports: intervals per queue or agent (JSON or CSV), a period summary (FCR,
//! transfer rate, top customers, wait by segment) and IVR path analytics per flow.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_flow::interp::FlowEvent;
use switchboard_flow::stats::{CallEvent, analyse};
use switchboard_store::{Contact, ContactFilter};

use super::{ApiError, AppState, need_supervisor};
use crate::auth::Caller;
use crate::reports::{By, IntervalRow, Summary, intervals, intervals_csv, summary};
use crate::runtime::now_ms;

/// Most contacts one report reads.
pub const MAX_ROWS: i64 = 200_000;
const DAY_MS: i64 = 86_400_000;

/// A period and how to cut it.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IntervalQuery {
    /// Start (ms since the epoch; default: 24 hours ago).
    pub from_ms: Option<i64>,
    /// End (default: now).
    pub to_ms: Option<i64>,
    /// Interval length: 15, 30, 60 or 1440 (a day). Default 30.
    pub interval_minutes: Option<i64>,
    /// `queue` (default) or `agent`.
    pub by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

fn period(from: Option<i64>, to: Option<i64>) -> Result<(i64, i64), ApiError> {
    let to = to.unwrap_or_else(now_ms);
    let from = from.unwrap_or(to - DAY_MS);
    if from >= to || to - from > 92 * DAY_MS {
        return Err(ApiError::invalid(
            "the period must be non-empty and at most 92 days",
        ));
    }
    Ok((from, to))
}

async fn contacts_in(s: &AppState, from: i64, to: i64) -> Result<Vec<Contact>, ApiError> {
    let rows = s
        .store
        .contacts(&ContactFilter {
            since_ms: Some(from),
            until_ms: Some(to),
            limit: MAX_ROWS,
            ..ContactFilter::default()
        })
        .await?;
    if rows.len() as i64 >= MAX_ROWS {
        return Err(ApiError::invalid(format!(
            "more than {MAX_ROWS} contacts in the period; ask for a shorter one"
        )));
    }
    Ok(rows)
}

/// Interval report per queue or agent (supervisors).
#[utoipa::path(get, path = "/api/v1/reports/intervals", tag = "reports", params(IntervalQuery),
    responses((status = 200, body = Vec<IntervalRow>), (status = 200, description = "CSV when format=csv", content_type = "text/csv")))]
pub async fn interval_report(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<IntervalQuery>,
) -> Result<Response, ApiError> {
    need_supervisor(&c)?;
    let (from, to) = period(q.from_ms, q.to_ms)?;
    let minutes = q.interval_minutes.unwrap_or(30);
    if ![15, 30, 60, 1440].contains(&minutes) {
        return Err(ApiError::invalid("interval_minutes is 15, 30, 60 or 1440"));
    }
    let by = match q.by.as_deref().unwrap_or("queue") {
        "queue" => By::Queue,
        "agent" => By::Agent,
        other => {
            return Err(ApiError::invalid(format!(
                "by is queue or agent, not `{other}`"
            )));
        }
    };
    let contacts = contacts_in(&s, from, to).await?;
    let thresholds: HashMap<String, u64> = s
        .runtime
        .run(|center, _| {
            center
                .queue_configs()
                .iter()
                .map(|(n, q)| (n.clone(), q.sl_secs))
                .collect()
        })
        .await?;
    let short = s
        .runtime
        .run(|center, _| center.kpis().config().short_abandon_secs)
        .await?;
    let sl = |q: &str| thresholds.get(q).copied().unwrap_or(20);
    let rows = intervals(
        &contacts,
        from,
        to,
        minutes * 60_000,
        by,
        &sl,
        i64::try_from(short * 1000).unwrap_or(0),
    );
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => Json(rows).into_response(),
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            intervals_csv(&rows),
        )
            .into_response(),
        other => {
            return Err(ApiError::invalid(format!(
                "format is json or csv, not `{other}`"
            )));
        }
    })
}

/// A period and the FCR window.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Start (ms since the epoch; default: 24 hours ago).
    pub from_ms: Option<i64>,
    /// End (default: now).
    pub to_ms: Option<i64>,
    /// A handled contact is resolved at first contact when the same customer (matched by
    /// customer id, else by address) makes no contact within this many days. Default 7.
    pub fcr_window_days: Option<u64>,
}

/// Summary of a period: FCR, transfer rate, top customers, wait by segment (supervisors).
#[utoipa::path(get, path = "/api/v1/reports/summary", tag = "reports", params(SummaryQuery), responses((status = 200, body = Summary)))]
pub async fn summary_report(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    need_supervisor(&c)?;
    let (from, to) = period(q.from_ms, q.to_ms)?;
    let days = q.fcr_window_days.unwrap_or(7).min(90);
    let window_end = to + i64::try_from(days).unwrap_or(0) * DAY_MS;
    let contacts = contacts_in(&s, from, window_end).await?;
    let mut segments = HashMap::new();
    for id in contacts.iter().filter_map(|c| c.customer_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = segments.entry(id) {
            e.insert(s.store.customer(id).await.ok().and_then(|k| k.segment));
        }
    }
    Ok(Json(summary(&contacts, from, to, days, &|id| {
        segments.get(&id).cloned().flatten()
    })))
}

/// A period.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Start (ms since the epoch; default: 24 hours ago).
    pub from_ms: Option<i64>,
    /// End (default: now).
    pub to_ms: Option<i64>,
}

/// IVR path analytics of a flow's active version: visits, choices, drop-offs per node,
/// outcomes, survey scores (CSAT top-two-box) and suggestions (supervisors).
#[utoipa::path(get, path = "/api/v1/flows/{id}/stats", tag = "reports", params(("id" = String, Path, description = "Flow id"), PeriodQuery),
    responses((status = 200, description = "Flow analytics, as `switchboard flow stats --json` prints them")))]
pub async fn flow_stats(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    need_supervisor(&c)?;
    let (from, to) = period(q.from_ms, q.to_ms)?;
    let (library, _) = super::admin::library(&s).await?;
    let flow: Arc<_> = library
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("flow {id}")))?;
    let events: Vec<CallEvent> = s
        .store
        .flow_events(&id, from, to)
        .await?
        .into_iter()
        .filter_map(|e| {
            let event: FlowEvent = serde_json::from_value(e.data).ok()?;
            Some(CallEvent {
                call: e.contact_id?.to_string(),
                event,
            })
        })
        .collect();
    Ok(Json(
        serde_json::to_value(analyse(&flow, &events)).unwrap_or_default(),
    ))
}
