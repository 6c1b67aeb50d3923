//! Running all replications of a model and summarising them with confidence intervals.

use std::fmt::Write as _;

use serde::Serialize;

use crate::run::{RepKpis, Replication};
use crate::scenario::{Model, SlConvention};
use crate::stats::Estimate;

/// One queue's KPIs over all replications.
#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    /// Queue name.
    pub name: String,
    /// Contacts offered per replication.
    pub offered: Estimate,
    /// Contacts answered per replication.
    pub answered: Estimate,
    /// Contacts abandoned per replication.
    pub abandoned: Estimate,
    /// Share of offered contacts that waited.
    pub p_wait: Estimate,
    /// Service level under the report's convention.
    pub service_level: Estimate,
    /// Mean wait of answered contacts, seconds.
    pub asa_s: Estimate,
    /// Mean wait of abandoned contacts, seconds.
    pub avg_abandon_s: Estimate,
    /// Abandoned ÷ offered.
    pub abandon_rate: Estimate,
    /// Average handle time (talk + after-call work), seconds.
    pub aht_s: Estimate,
    /// Longest wait, seconds.
    pub longest_wait_s: Estimate,
    /// Mean absolute error of the wait estimate announced at entry, seconds.
    pub ewt_mae_s: Estimate,
}

/// One agent's KPIs over all replications.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReport {
    /// Agent name.
    pub name: String,
    /// Group (as written in the scenario).
    pub group: String,
    /// Occupancy.
    pub occupancy: Estimate,
    /// Contacts handled per replication.
    pub handled: Estimate,
}

/// The result of simulating a model.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub name: String,
    /// Replications run.
    pub replications: u32,
    /// Seed of the first replication.
    pub seed: u64,
    /// Warm-up discarded per replication, seconds.
    pub warmup_s: f64,
    /// Measured time per replication, seconds.
    pub duration_s: f64,
    /// The service-level definition used.
    pub service_level_definition: String,
    /// Per queue.
    pub queues: Vec<QueueReport>,
    /// Per agent.
    pub agents: Vec<AgentReport>,
    /// Occupancy over all agents.
    pub occupancy: Estimate,
    /// Discrete events processed in all replications together.
    pub events: u64,
}

/// Describes a service-level policy in words, for every place the figure is shown.
pub fn sl_definition(model: &Model) -> String {
    let t = model.sl.threshold.as_secs_f64();
    let base = match model.sl.convention {
        SlConvention::Offered => format!("answered within {t}s / offered (abandons count against)"),
        SlConvention::Answered => format!("answered within {t}s / answered (abandons ignored)"),
        SlConvention::AbandonsWithinCountFor => {
            format!("(answered + abandoned within {t}s) / offered")
        }
    };
    match model.sl.short_abandon {
        Some(s) => format!("{base}; abandons within {}s excluded", s.as_secs_f64()),
        None => base,
    }
}

/// Runs every replication (on all cores; results do not depend on how many) and summarises.
pub fn simulate(model: &Model) -> Report {
    let n = model.replications;
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n as usize)
        .max(1);
    let mut reps: Vec<(u32, RepKpis)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (0..n)
                        .filter(|i| *i as usize % threads == t)
                        .map(|i| {
                            let mut rep = Replication::new(model, i);
                            rep.run();
                            (i, rep.kpis())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    reps.sort_by_key(|r| r.0);
    let reps: Vec<RepKpis> = reps.into_iter().map(|r| r.1).collect();
    summarise(model, &reps)
}

/// Summarises replications of a model.
pub fn summarise(model: &Model, reps: &[RepKpis]) -> Report {
    let est = |f: &dyn Fn(&RepKpis) -> f64| Estimate::of(&reps.iter().map(f).collect::<Vec<_>>());
    let queues = model
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let e = |f: fn(&crate::run::QueueKpis) -> f64| est(&|r: &RepKpis| f(&r.queues[i]));
            QueueReport {
                name: q.name.clone(),
                offered: e(|k| k.offered),
                answered: e(|k| k.answered),
                abandoned: e(|k| k.abandoned),
                p_wait: e(|k| k.p_wait),
                service_level: e(|k| k.service_level),
                asa_s: e(|k| k.asa_s),
                avg_abandon_s: e(|k| k.avg_abandon_s),
                abandon_rate: e(|k| k.abandon_rate),
                aht_s: e(|k| k.aht_s),
                longest_wait_s: e(|k| k.longest_wait_s),
                ewt_mae_s: e(|k| k.ewt_mae_s),
            }
        })
        .collect();
    let agents = model
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| AgentReport {
            name: a.name.clone(),
            group: a.group.clone(),
            occupancy: est(&|r: &RepKpis| r.agent_occupancy[i]),
            handled: est(&|r: &RepKpis| r.agent_handled[i]),
        })
        .collect();
    Report {
        name: model.name.clone(),
        replications: model.replications,
        seed: model.seed,
        warmup_s: model.warmup.as_secs_f64(),
        duration_s: model.duration.as_secs_f64(),
        service_level_definition: sl_definition(model),
        queues,
        agents,
        occupancy: est(&|r: &RepKpis| r.occupancy),
        events: reps.iter().map(|r| r.events).sum(),
    }
}

fn pct(e: &Estimate) -> String {
    format!("{:.2}% ±{:.2}", 100.0 * e.mean, 100.0 * e.ci95)
}

fn secs(e: &Estimate) -> String {
    format!("{:.1}s ±{:.1}", e.mean, e.ci95)
}

impl Report {
    /// A readable table of the results.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} replications of {:.0}s after {:.0}s warm-up (seed {}); ± is a 95% CI",
            self.name, self.replications, self.duration_s, self.warmup_s, self.seed
        );
        let _ = writeln!(out, "service level = {}", self.service_level_definition);
        for q in &self.queues {
            let _ = writeln!(
                out,
                "\nqueue {}\n  offered {:.1}  answered {:.1}  abandoned {:.1}\n  \
                 P(wait) {}  service level {}  abandon rate {}\n  \
                 ASA {}  avg abandon {}  AHT {}  longest wait {}  EWT error {}",
                q.name,
                q.offered.mean,
                q.answered.mean,
                q.abandoned.mean,
                pct(&q.p_wait),
                pct(&q.service_level),
                pct(&q.abandon_rate),
                secs(&q.asa_s),
                secs(&q.avg_abandon_s),
                secs(&q.aht_s),
                secs(&q.longest_wait_s),
                secs(&q.ewt_mae_s),
            );
        }
        let _ = writeln!(out, "\nagents (occupancy {})", pct(&self.occupancy));
        let mut groups: Vec<&str> = self.agents.iter().map(|a| a.group.as_str()).collect();
        groups.dedup();
        for g in groups {
            let members: Vec<&AgentReport> = self.agents.iter().filter(|a| a.group == g).collect();
            let n = members.len() as f64;
            let occ = members.iter().map(|a| a.occupancy.mean).sum::<f64>() / n;
            let handled = members.iter().map(|a| a.handled.mean).sum::<f64>() / n;
            let _ = writeln!(
                out,
                "  {g:<16} x{:<3} occupancy {:.2}%  handled {:.1} each",
                members.len(),
                100.0 * occ,
                handled
            );
        }
        out
    }
}
