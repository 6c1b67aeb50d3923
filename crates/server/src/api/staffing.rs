//! Staffing: Erlang C and A figures for a range of agent counts (and the agents a
//! service-level target needs), and the quick single-queue simulation, as
//! `switchboard erlang` and `switchboard sim --arrivals …` answer them.

use std::time::Duration;

use axum::Json;
use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};
use switchboard_sim::erlang::Load;
use switchboard_sim::report::simulate;
use switchboard_sim::scenario::{
    Dist, ScenarioError, SingleQueue, SlConvention, SlPolicy, parse_duration, parse_rate,
};
use switchboard_sim::staffing::{
    ErlangQuery, ErlangRow, SingleQueueSummary, check_single_queue, erlang_table, parse_agents,
    parse_target,
};

use super::{ApiError, Body, need_supervisor};
use crate::auth::Caller;

/// Most agents a staffing question may be about.
pub const MAX_AGENTS: u32 = 5_000;
/// Most agent counts in one Erlang table (Erlang A near saturation with a long threshold
/// costs about a tenth of a second per count at thousands of agents).
pub const MAX_AGENT_COUNTS: u32 = 100;
/// Longest service-level threshold, seconds (Erlang A's cost grows with it).
pub const MAX_SL_SECS: f64 = 600.0;
/// Most simulated calls per request: calls per replication (with the warm-up) times
/// replications.
pub const MAX_SIMULATED_CALLS: u64 = 2_000_000;

/// One simulation at a time: each uses every core.
static SIMULATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

impl From<ScenarioError> for ApiError {
    fn from(e: ScenarioError) -> ApiError {
        ApiError::invalid(e.0)
    }
}

/// A blocking computation off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("staffing computation: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the computation failed",
        )
    })
}

/// An Erlang staffing question, in the units `switchboard erlang` takes.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ErlangParams {
    /// Arrival rate, e.g. `360/h`, `6/m`.
    pub arrivals: String,
    /// Average handle time, e.g. `240s`, `4m`.
    pub aht: String,
    /// Agent counts: `28` or `26..30` (inclusive; at most 100 counts, up to 5,000 agents).
    /// Default: around the agents needed, or the smallest stable count and the next four.
    pub agents: Option<String>,
    /// Mean caller patience, e.g. `60s`: Erlang A instead of Erlang C.
    pub patience: Option<String>,
    /// Service-level threshold (default `20s`, at most `10m`; a target's seconds take
    /// precedence).
    pub sl: Option<String>,
    /// Service-level target as `PERCENT/SECONDS`, e.g. `80/20`: answers the agents needed.
    pub target: Option<String>,
}

/// Erlang figures for a range of agent counts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErlangAnswer {
    /// `Erlang C`, or `Erlang A` with a patience.
    pub model: String,
    /// Offered load, Erlangs.
    pub erlangs: f64,
    /// Arrivals per hour.
    pub arrivals_per_hour: f64,
    /// Average handle time, seconds.
    pub aht_s: f64,
    /// Service-level threshold, seconds (answered within it ÷ offered).
    pub sl_threshold_s: f64,
    /// The target service level (a fraction), when one was given.
    pub target: Option<f64>,
    /// The fewest agents that meet the target (`null` without a target, or when 100,000
    /// agents do not).
    pub agents_needed: Option<u32>,
    /// One per agent count, as `switchboard erlang --json` prints them.
    pub rows: Vec<ErlangRow>,
}

/// Erlang C (or A, with a patience) figures for a range of agent counts, and the agents a
/// service-level target needs, as `switchboard erlang --json` computes them (supervisors).
/// At most 100 agent counts, 5,000 agents (and Erlangs) and a 10-minute threshold.
#[utoipa::path(get, path = "/api/v1/staffing/erlang", tag = "staffing", params(ErlangParams),
    responses((status = 200, body = ErlangAnswer), (status = 400, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)))]
pub async fn erlang(c: Caller, uri: Uri) -> Result<Json<ErlangAnswer>, ApiError> {
    need_supervisor(&c)?;
    let Query(p) = Query::<ErlangParams>::try_from_uri(&uri).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()).with_details(
            serde_json::json!({ "example": "?arrivals=360/h&aht=240s&agents=26..30&target=80/20" }),
        )
    })?;
    let load = Load {
        arrivals_per_s: parse_rate(&p.arrivals)?,
        aht_s: parse_duration(&p.aht)?.as_secs_f64(),
    };
    let patience_s = p
        .patience
        .as_deref()
        .map(|t| parse_duration(t).map(|d| d.as_secs_f64()))
        .transpose()?;
    let target = p.target.as_deref().map(parse_target).transpose()?;
    let sl_threshold_s = match (target, &p.sl) {
        (Some(t), _) => t.threshold_s,
        (None, Some(sl)) => parse_duration(sl)?.as_secs_f64(),
        (None, None) => 20.0,
    };
    if sl_threshold_s > MAX_SL_SECS {
        return Err(ApiError::invalid(format!(
            "the service-level threshold is at most {MAX_SL_SECS} seconds"
        )));
    }
    if load.erlangs() > f64::from(MAX_AGENTS) {
        return Err(ApiError::invalid(format!(
            "{:.0} Erlangs is more than {MAX_AGENTS} agents can take: ask about a smaller load",
            load.erlangs()
        )));
    }
    let agents = p.agents.as_deref().map(parse_agents).transpose()?;
    if let Some((lo, hi)) = agents {
        if hi > MAX_AGENTS {
            return Err(ApiError::invalid(format!(
                "agents: at most {MAX_AGENTS} agents"
            )));
        }
        if hi - lo >= MAX_AGENT_COUNTS {
            return Err(ApiError::invalid(format!(
                "agents: at most {MAX_AGENT_COUNTS} agent counts at a time"
            )));
        }
    }
    let query = ErlangQuery {
        load,
        patience_s,
        sl_threshold_s,
        target: target.map(|t| t.fraction),
        agents,
    };
    let table = blocking(move || erlang_table(&query)).await??;
    if table.metrics.last().is_some_and(|m| m.agents > MAX_AGENTS) {
        return Err(ApiError::invalid(format!(
            "{:.0} Erlangs need more than {MAX_AGENTS} agents: ask about a smaller load",
            table.erlangs
        )));
    }
    Ok(Json(ErlangAnswer {
        model: table.model.into(),
        erlangs: table.erlangs,
        arrivals_per_hour: load.arrivals_per_s * 3600.0,
        aht_s: load.aht_s,
        sl_threshold_s,
        target: query.target,
        agents_needed: table.needed,
        rows: table.rows(),
    }))
}

/// A single queue to simulate: Poisson arrivals, exponential handle times (and
/// patience), identical agents.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateQueue {
    /// Arrivals per hour.
    pub arrivals_per_hour: f64,
    /// Average handle time, seconds.
    pub aht_secs: f64,
    /// Agents (1 to 5,000).
    pub agents: u32,
    /// Mean caller patience, seconds; without it callers never abandon.
    pub patience_secs: Option<f64>,
    /// Service-level threshold, seconds (default 20).
    pub sl_secs: Option<f64>,
    /// Measured calls per replication (default 20,000).
    pub calls: Option<u64>,
    /// Replications (default 5; their spread gives the confidence intervals).
    pub replications: Option<u32>,
    /// Seed of the first replication (default 1).
    pub seed: Option<u64>,
    /// Warm-up per replication, seconds, discarded (default: ten relaxation times).
    pub warmup_secs: Option<f64>,
}

/// Seconds as a duration, or why not.
fn seconds(what: &str, secs: f64) -> Result<Duration, ApiError> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| d.as_secs() <= 10_000_000)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{what}: {secs} is not a number of seconds from 0 to 10,000,000"
            ))
        })
}

/// Simulates a single queue through the real routing engine, as `switchboard sim
/// --arrivals … --json` does: KPIs as means over the replications with 95% confidence
/// half-widths (supervisors). At most 5,000 agents and 2,000,000 simulated calls
/// (warm-up included); one simulation runs at a time, the others wait.
#[utoipa::path(post, path = "/api/v1/staffing/simulate", tag = "staffing", request_body = SimulateQueue,
    responses((status = 200, body = SingleQueueSummary), (status = 400, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)))]
pub async fn simulate_queue(
    c: Caller,
    Body(q): Body<SimulateQueue>,
) -> Result<Json<SingleQueueSummary>, ApiError> {
    need_supervisor(&c)?;
    if q.agents > MAX_AGENTS {
        return Err(ApiError::invalid(format!(
            "agents: at most {MAX_AGENTS}, not {}",
            q.agents
        )));
    }
    let calls = q.calls.unwrap_or(20_000);
    let replications = q.replications.unwrap_or(5);
    if calls.saturating_mul(u64::from(replications)) > MAX_SIMULATED_CALLS {
        return Err(ApiError::invalid(format!(
            "calls × replications = {} is over {MAX_SIMULATED_CALLS}: ask for fewer",
            calls.saturating_mul(u64::from(replications))
        )));
    }
    let queue = SingleQueue {
        arrivals_per_s: q.arrivals_per_hour / 3600.0,
        handle: Dist::Exponential(q.aht_secs),
        agents: q.agents,
        patience: q.patience_secs.map(Dist::Exponential),
        sl: SlPolicy {
            threshold: seconds("sl_secs", q.sl_secs.unwrap_or(20.0))?,
            convention: SlConvention::Offered,
            short_abandon: None,
        },
        calls,
        replications,
        seed: q.seed.unwrap_or(1),
        warmup: q
            .warmup_secs
            .map(|w| seconds("warmup_secs", w))
            .transpose()?,
    };
    check_single_queue(&queue)?;
    let model = queue.model();
    // The warm-up is simulated too: near saturation it can be longer than the run.
    let warmup_calls = model.warmup.as_secs_f64() * queue.arrivals_per_s;
    let total = (calls as f64 + warmup_calls) * f64::from(replications);
    if total > MAX_SIMULATED_CALLS as f64 {
        return Err(ApiError::invalid(format!(
            "with the warm-up ({warmup_calls:.0} calls per replication, ten relaxation times \
             of this queue) that is {total:.0} simulated calls, over {MAX_SIMULATED_CALLS}: \
             ask for fewer calls or replications, a shorter warmup_secs, or more agents"
        )));
    }
    let turn = SIMULATIONS.acquire().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "simulations are stopped",
        )
    })?;
    // The turn ends with the simulation, even when the client has gone meanwhile.
    let report = blocking(move || {
        let report = simulate(&model);
        drop(turn);
        report
    })
    .await?;
    Ok(Json(SingleQueueSummary::of(&report, calls)))
}
