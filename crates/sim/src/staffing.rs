//! Staffing questions as the `switchboard erlang` and `switchboard sim` commands and the
//! server's `/staffing` endpoints ask them: Erlang figures over a range of agent counts
//! (and the agents a service-level target needs), and the quick single-queue simulation,
//! each with its JSON answer.
//!
//! ```
//! use switchboard_sim::erlang::Load;
//! use switchboard_sim::staffing::{ErlangQuery, erlang_table, parse_target};
//!
//! let target = parse_target("80/20").unwrap();
//! let table = erlang_table(&ErlangQuery {
//!     load: Load { arrivals_per_s: 0.1, aht_s: 240.0 },
//!     patience_s: None,
//!     sl_threshold_s: target.threshold_s,
//!     target: Some(target.fraction),
//!     agents: None,
//! })
//! .unwrap();
//! assert_eq!(table.needed, Some(29));
//! ```

use serde::Serialize;

use crate::erlang::{Load, Metrics, agents_for_service_level, erlang_a_metrics, erlang_c_metrics};
use crate::report::Report;
use crate::scenario::{MAX_AGENTS, MAX_REPLICATIONS, ScenarioError, SingleQueue, parse_duration};
use crate::stats::Estimate;

/// Most agent counts one Erlang table holds.
pub const MAX_AGENT_COUNTS: u32 = 10_000;
/// Most agents searched for a service-level target.
pub const MAX_AGENTS_SEARCHED: u32 = 100_000;

/// A service-level target, `80/20`: 80% answered within 20 seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The share to answer within the threshold (0..1).
    pub fraction: f64,
    /// The threshold, in seconds.
    pub threshold_s: f64,
}

/// Parses a target written `PERCENT/SECONDS` (`80/20`, `90/30s`).
pub fn parse_target(text: &str) -> Result<Target, ScenarioError> {
    let (pct, secs) = text.split_once('/').ok_or_else(|| {
        ScenarioError(format!(
            "target `{text}`: write it as PERCENT/SECONDS, e.g. 80/20"
        ))
    })?;
    let pct: f64 = pct
        .trim()
        .parse()
        .map_err(|_| ScenarioError(format!("target `{text}`: `{pct}` is not a percent")))?;
    if !(0.0..100.0).contains(&pct) {
        return Err(ScenarioError(format!(
            "target `{text}`: the percent must be at least 0 and below 100"
        )));
    }
    Ok(Target {
        fraction: pct / 100.0,
        threshold_s: parse_duration(secs)?.as_secs_f64(),
    })
}

/// Parses agent counts: one (`28`) or an inclusive range (`26..30`, `26..=30`).
pub fn parse_agents(text: &str) -> Result<(u32, u32), ScenarioError> {
    let bad = || {
        ScenarioError(format!(
            "agents `{text}`: write a count (`28`) or a range (`26..30`)"
        ))
    };
    let (lo, hi) = match text.split_once("..") {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim_start_matches('=')
                .trim()
                .parse()
                .map_err(|_| bad())?,
        ),
        None => {
            let n: u32 = text.trim().parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// What to compute an Erlang table for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangQuery {
    /// Arrivals and handle time.
    pub load: Load,
    /// Mean caller patience, seconds: Erlang A instead of Erlang C.
    pub patience_s: Option<f64>,
    /// Service-level threshold, seconds.
    pub sl_threshold_s: f64,
    /// Service-level target (a fraction): the table says which counts meet it and which
    /// is the smallest that does.
    pub target: Option<f64>,
    /// Agent counts, inclusive; `None`: around the agents needed, or the smallest stable
    /// count and the next four.
    pub agents: Option<(u32, u32)>,
}

/// Erlang figures for a range of agent counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ErlangTable {
    /// `Erlang C`, or `Erlang A` with a patience.
    pub model: &'static str,
    /// Offered load, Erlangs.
    pub erlangs: f64,
    /// The query.
    pub query: ErlangQuery,
    /// The fewest agents that meet the target (`None` without a target, or when
    /// [`MAX_AGENTS_SEARCHED`] agents do not).
    pub needed: Option<u32>,
    /// One per agent count, in increasing order.
    pub metrics: Vec<Metrics>,
}

/// Figures for one agent count, as `switchboard erlang --json` prints them. Undefined
/// figures (NaN, infinite) are `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErlangRow {
    /// Number of agents.
    pub agents: u32,
    /// Erlang B blocking probability.
    pub p_block: Option<f64>,
    /// Probability that a caller waits.
    pub p_wait: Option<f64>,
    /// Answered within the threshold ÷ offered.
    pub service_level: Option<f64>,
    /// Mean wait of answered callers, seconds.
    pub asa_s: Option<f64>,
    /// Carried load ÷ agents.
    pub occupancy: Option<f64>,
    /// Probability that a caller abandons (Erlang A only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_abandon: Option<f64>,
    /// Whether the service level meets the target (with a target only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meets_target: Option<bool>,
    /// Whether this is the fewest agents that meet the target (with a target only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<bool>,
}

/// `Some` for a finite number: JSON has no NaN or infinity.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Computes an Erlang table; refuses a non-positive handle time or more than
/// [`MAX_AGENT_COUNTS`] agent counts.
pub fn erlang_table(q: &ErlangQuery) -> Result<ErlangTable, ScenarioError> {
    let load = q.load;
    if !(load.aht_s > 0.0 && load.aht_s.is_finite()) {
        return Err(ScenarioError("the handle time must be positive".into()));
    }
    if !(load.arrivals_per_s >= 0.0 && load.arrivals_per_s.is_finite()) {
        return Err(ScenarioError(
            "the arrival rate must be a number, at least 0".into(),
        ));
    }
    let needed = q.target.and_then(|t| {
        agents_for_service_level(load, q.patience_s, q.sl_threshold_s, t, MAX_AGENTS_SEARCHED)
    });
    let erlangs = load.erlangs();
    let (lo, hi) = match (q.agents, needed) {
        (Some(range), _) => range,
        (None, Some(n)) => (n.saturating_sub(2).max(1), n.saturating_add(2)),
        (None, None) => {
            let first = (erlangs.floor().min(f64::from(u32::MAX - 5)) as u32 + 1).max(1);
            (first, first + 4)
        }
    };
    if hi - lo >= MAX_AGENT_COUNTS {
        return Err(ScenarioError(format!(
            "agents: at most {MAX_AGENT_COUNTS} agent counts at a time"
        )));
    }
    let metrics = (lo..=hi)
        .map(|c| match q.patience_s {
            Some(p) => erlang_a_metrics(load, c, p, q.sl_threshold_s),
            None => erlang_c_metrics(load, c, q.sl_threshold_s),
        })
        .collect();
    Ok(ErlangTable {
        model: if q.patience_s.is_some() {
            "Erlang A"
        } else {
            "Erlang C"
        },
        erlangs,
        query: *q,
        needed,
        metrics,
    })
}

impl ErlangTable {
    /// The rows as `switchboard erlang --json` prints them.
    pub fn rows(&self) -> Vec<ErlangRow> {
        self.metrics
            .iter()
            .map(|m| ErlangRow {
                agents: m.agents,
                p_block: finite(m.p_block),
                p_wait: finite(m.p_wait),
                service_level: finite(m.service_level),
                asa_s: finite(m.asa_s),
                occupancy: finite(m.occupancy),
                p_abandon: m.p_abandon.and_then(finite),
                meets_target: self.query.target.map(|t| m.service_level >= t),
                needed: self.query.target.map(|_| Some(m.agents) == self.needed),
            })
            .collect()
    }
}

/// Checks a single queue before it is simulated: a positive arrival rate and handle
/// time, 1 to [`MAX_AGENTS`] agents, at least one call, 1 to [`MAX_REPLICATIONS`]
/// replications, and a steady state (fewer Erlangs than agents, or callers who abandon).
pub fn check_single_queue(q: &SingleQueue) -> Result<(), ScenarioError> {
    let fail = |m: String| Err(ScenarioError(m));
    let aht = q.handle.mean();
    if !(aht > 0.0 && aht.is_finite()) {
        return fail("the handle time must be positive".into());
    }
    if q.agents == 0 || u64::from(q.agents) > MAX_AGENTS {
        return fail(format!("a single queue has 1 to {MAX_AGENTS} agents"));
    }
    if !(q.arrivals_per_s > 0.0 && q.arrivals_per_s.is_finite()) {
        return fail("the arrival rate must be positive".into());
    }
    if q.calls == 0 {
        return fail("simulate at least one call".into());
    }
    if !(1..=MAX_REPLICATIONS).contains(&q.replications) {
        return fail(format!(
            "replications must be between 1 and {MAX_REPLICATIONS}"
        ));
    }
    if let Some(p) = q.patience
        && !(p.mean() > 0.0 && p.mean().is_finite())
    {
        return fail("the patience must be positive".into());
    }
    let erlangs = q.arrivals_per_s * aht;
    if q.patience.is_none() && erlangs >= f64::from(q.agents) {
        return fail(format!(
            "{erlangs:.1} Erlangs on {} agents never reaches a steady state without \
             abandonment: add agents or a patience",
            q.agents
        ));
    }
    Ok(())
}

/// The figures of a single-queue simulation: one value per KPI (means, or the 95%
/// confidence half-widths). Undefined figures are `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueFigures {
    /// Share of offered callers who waited.
    pub p_wait: Option<f64>,
    /// Service level (answered within the threshold ÷ offered).
    pub service_level: Option<f64>,
    /// Mean wait of answered callers, seconds.
    pub asa_s: Option<f64>,
    /// Abandoned ÷ offered.
    pub abandon_rate: Option<f64>,
    /// Agents' occupancy.
    pub occupancy: Option<f64>,
    /// Mean wait of abandoned callers, seconds.
    pub avg_abandon_s: Option<f64>,
    /// Average handle time, seconds.
    pub aht_s: Option<f64>,
    /// Mean absolute error of the expected wait announced on entry, seconds.
    pub ewt_mae_s: Option<f64>,
}

/// The answer of a single-queue simulation, as `switchboard sim --arrivals … --json`
/// prints it: the means, their 95% confidence half-widths under `ci95`, and how it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SingleQueueSummary {
    /// Means over the replications.
    #[serde(flatten)]
    pub mean: QueueFigures,
    /// Half-widths of the 95% confidence intervals of the means.
    pub ci95: QueueFigures,
    /// Callers offered per replication (mean).
    pub offered: f64,
    /// Replications run.
    pub replications: u32,
    /// Measured calls per replication asked for.
    pub calls_per_replication: u64,
    /// Warm-up discarded per replication, seconds.
    pub warmup_s: f64,
    /// Seed of the first replication.
    pub seed: u64,
    /// How the service level is defined.
    pub service_level_definition: String,
}

impl SingleQueueSummary {
    /// Summarises the report of a [`SingleQueue`] model simulated with `calls` calls per
    /// replication.
    pub fn of(report: &Report, calls: u64) -> SingleQueueSummary {
        let nan = Estimate::of(&[]);
        let q = report.queues.first();
        let field = |f: fn(&crate::report::QueueReport) -> Estimate| q.map_or(nan, f);
        let figures = |pick: fn(&Estimate) -> f64| QueueFigures {
            p_wait: finite(pick(&field(|q| q.p_wait))),
            service_level: finite(pick(&field(|q| q.service_level))),
            asa_s: finite(pick(&field(|q| q.asa_s))),
            abandon_rate: finite(pick(&field(|q| q.abandon_rate))),
            occupancy: finite(pick(&report.occupancy)),
            avg_abandon_s: finite(pick(&field(|q| q.avg_abandon_s))),
            aht_s: finite(pick(&field(|q| q.aht_s))),
            ewt_mae_s: finite(pick(&field(|q| q.ewt_mae_s))),
        };
        SingleQueueSummary {
            mean: figures(|e| e.mean),
            ci95: figures(|e| e.ci95),
            offered: q.map_or(0.0, |q| q.offered.mean),
            replications: report.replications,
            calls_per_replication: calls,
            warmup_s: report.warmup_s,
            seed: report.seed,
            service_level_definition: report.service_level_definition.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::{Dist, SlConvention, SlPolicy};

    #[test]
    fn agent_ranges() {
        assert_eq!(parse_agents("28").ok(), Some((28, 28)));
        assert_eq!(parse_agents("26..30").ok(), Some((26, 30)));
        assert_eq!(parse_agents("26..=30").ok(), Some((26, 30)));
        assert!(parse_agents("30..26").is_err());
        assert!(parse_agents("0").is_err());
        assert!(parse_agents("many").is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("80/20"),
            Ok(Target {
                fraction: 0.8,
                threshold_s: 20.0
            })
        );
        assert_eq!(parse_target("90/1m").map(|t| t.threshold_s), Ok(60.0));
        assert!(parse_target("80").is_err());
        assert!(parse_target("100/20").is_err());
        assert!(parse_target("x/20").is_err());
    }

    fn query() -> ErlangQuery {
        ErlangQuery {
            load: Load {
                arrivals_per_s: 0.1,
                aht_s: 240.0,
            },
            patience_s: None,
            sl_threshold_s: 20.0,
            target: Some(0.8),
            agents: None,
        }
    }

    #[test]
    fn table_around_the_agents_needed() {
        let t = erlang_table(&query()).unwrap();
        assert_eq!((t.model, t.needed), ("Erlang C", Some(29)));
        let rows = t.rows();
        let counts: Vec<u32> = rows.iter().map(|r| r.agents).collect();
        assert_eq!(counts, vec![27, 28, 29, 30, 31]);
        let needed: Vec<u32> = rows
            .iter()
            .filter(|r| r.needed == Some(true))
            .map(|r| r.agents)
            .collect();
        assert_eq!(needed, vec![29]);
        let json = serde_json::to_value(&rows[1]).unwrap();
        assert!(
            (json["p_wait"].as_f64().unwrap() - 0.3331).abs() < 5e-4,
            "{json}"
        );
        assert!(json.get("p_abandon").is_none());
        assert!(
            erlang_table(&ErlangQuery {
                agents: Some((1, 20_000)),
                ..query()
            })
            .is_err()
        );
    }

    #[test]
    fn single_queues_are_checked() {
        let q = SingleQueue {
            arrivals_per_s: 0.1,
            handle: Dist::Exponential(240.0),
            agents: 24,
            patience: None,
            sl: SlPolicy {
                threshold: Duration::from_secs(20),
                convention: SlConvention::Offered,
                short_abandon: None,
            },
            calls: 100,
            replications: 2,
            seed: 1,
            warmup: None,
        };
        let e = check_single_queue(&q).unwrap_err();
        assert!(e.0.contains("steady state"), "{e}");
        assert!(
            check_single_queue(&SingleQueue {
                patience: Some(Dist::Exponential(60.0)),
                ..q
            })
            .is_ok()
        );
        assert!(check_single_queue(&SingleQueue { agents: 0, ..q }).is_err());
    }
}
