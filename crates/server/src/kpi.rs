//! Real-time KPIs, updated incrementally from the runtime's events (no rescans).
//!
//! Definitions (docs/kpis.md): service level with a configurable treatment of abandons
//! ([`SlConvention`]) and a short-abandon threshold below which abandons are left out of
//! every figure; ASA over answered contacts; AHT = (talk + after-call work) ÷ handled;
//! abandonment = abandoned ÷ (answered + abandoned); occupancy = time handling contacts ÷
//! (time handling + time available), per agent and over a queue's members. "Today" is the
//! UTC day; the sliding window covers the last [`KpiConfig::window`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use switchboard_sim::scenario::SlConvention;

/// How the figures are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiConfig {
    /// How abandons enter the service level.
    #[serde(default = "offered")]
    pub convention: SlConvention,
    /// Abandons faster than this (seconds) are left out of every figure.
    #[serde(default = "five")]
    pub short_abandon_secs: u64,
    /// The sliding window (seconds).
    #[serde(default = "half_hour")]
    pub window_secs: u64,
}

fn offered() -> SlConvention {
    SlConvention::Offered
}
fn five() -> u64 {
    5
}
fn half_hour() -> u64 {
    1800
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            convention: offered(),
            short_abandon_secs: five(),
            window_secs: half_hour(),
        }
    }
}

impl KpiConfig {
    fn window(&self) -> i64 {
        i64::try_from(self.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// Contacts counted so far in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tally {
    answered: u64,
    answered_in_sl: u64,
    abandoned: u64,
    abandoned_in_sl: u64,
    short_abandoned: u64,
    wait_answered_ms: u64,
    wait_abandoned_ms: u64,
    handled: u64,
    handle_ms: u64,
}

/// How a contact left the queue, for the window.
#[derive(Debug, Clone, Copy)]
enum Left {
    Answered { waited_ms: u64 },
    Abandoned { waited_ms: u64 },
}

#[derive(Debug, Clone, Default)]
struct QueueKpi {
    sl_ms: u64,
    sl_percent: f64,
    /// Waiting contacts and since when.
    waiting: BTreeMap<i64, i64>,
    today: Tally,
    window: VecDeque<(i64, Left)>,
}

#[derive(Debug, Clone, Default)]
struct AgentKpi {
    state: String,
    since_ms: i64,
    contacts: Vec<i64>,
    queues: Vec<String>,
    handled: u64,
    handle_ms: u64,
    /// Today: time holding contacts, time available.
    busy_ms: u64,
    idle_ms: u64,
}

/// A queue's live figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    /// Queue name.
    pub queue: String,
    /// Contacts waiting now.
    pub waiting: u64,
    /// Longest current wait, seconds.
    pub longest_wait_secs: f64,
    /// Agents of the queue by state (`available`, `busy`, `away`, …).
    pub agents: BTreeMap<String, u64>,
    /// Answered today.
    pub answered: u64,
    /// Abandoned today (short abandons excluded).
    pub abandoned: u64,
    /// Abandoned within the short-abandon threshold today.
    pub short_abandoned: u64,
    /// Service level today, percent (`None` before the first contact).
    pub service_level: Option<f64>,
    /// Service level over the sliding window.
    pub service_level_window: Option<f64>,
    /// Target: percent …
    pub sl_target_percent: f64,
    /// … within seconds.
    pub sl_target_secs: f64,
    /// The service-level convention in force.
    pub sl_convention: String,
    /// Average speed of answer today, seconds.
    pub asa_secs: Option<f64>,
    /// Average handle time (talk + after-call work) today, seconds.
    pub aht_secs: Option<f64>,
    /// Abandoned ÷ (answered + abandoned) today, percent.
    pub abandon_rate: Option<f64>,
    /// Average time to abandon today, seconds.
    pub avg_abandon_secs: Option<f64>,
    /// Occupancy of the queue's agents today, percent.
    pub occupancy: Option<f64>,
}

/// An agent's live figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    /// Login.
    pub agent: String,
    /// State (`offline`, `available`, `away:<reason>`, `reserved`, `busy`, `wrap_up`).
    pub state: String,
    /// Seconds in that state.
    pub in_state_secs: f64,
    /// Contacts held now.
    pub contacts: Vec<i64>,
    /// Handled today.
    pub handled: u64,
    /// Average handle time today, seconds.
    pub aht_secs: Option<f64>,
    /// Occupancy today, percent.
    pub occupancy: Option<f64>,
}

/// The live figures of every queue and agent.
#[derive(Debug, Clone, Default)]
pub struct Kpis {
    config: KpiConfig,
    day: i64,
    queues: BTreeMap<String, QueueKpi>,
    agents: BTreeMap<String, AgentKpi>,
}

const DAY_MS: i64 = 86_400_000;

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 * 100.0 / den as f64)
}

fn mean_secs(total_ms: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| total_ms as f64 / 1000.0 / n as f64)
}

fn busy(state: &str) -> bool {
    matches!(state, "reserved" | "busy" | "wrap_up")
}

impl Kpis {
    /// Empty figures.
    pub fn new(config: KpiConfig) -> Kpis {
        Kpis {
            config,
            ..Kpis::default()
        }
    }

    /// The conventions in force.
    pub fn config(&self) -> &KpiConfig {
        &self.config
    }

    /// Declares a queue and its service-level target.
    pub fn queue(&mut self, name: &str, sl_secs: u64, sl_percent: f64) {
        let q = self.queues.entry(name.to_string()).or_default();
        q.sl_ms = sl_secs * 1000;
        q.sl_percent = sl_percent;
    }

    /// Declares an agent and the queues they serve.
    pub fn agent(&mut self, login: &str, queues: Vec<String>, now_ms: i64) {
        let a = self
            .agents
            .entry(login.to_string())
            .or_insert_with(|| AgentKpi {
                state: "offline".into(),
                since_ms: now_ms,
                ..AgentKpi::default()
            });
        a.queues = queues;
    }

    /// Starts a new day's counters when the UTC day has changed.
    fn roll(&mut self, now_ms: i64) {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            for q in self.queues.values_mut() {
                q.today = Tally::default();
            }
            for a in self.agents.values_mut() {
                (a.handled, a.handle_ms, a.busy_ms, a.idle_ms) = (0, 0, 0, 0);
                a.since_ms = a.since_ms.max(day * DAY_MS);
            }
        }
    }

    /// A contact started waiting.
    pub fn queued(&mut self, queue: &str, contact: i64, now_ms: i64) {
        self.roll(now_ms);
        if let Some(q) = self.queues.get_mut(queue) {
            q.waiting.entry(contact).or_insert(now_ms);
        }
    }

    /// A contact left the queue: answered, abandoned, or neither (withdrawn by the flow,
    /// turned into a callback), which leaves every figure alone.
    pub fn dequeued(&mut self, queue: &str, contact: i64, answered: Option<bool>, now_ms: i64) {
        self.roll(now_ms);
        let short = self.config.short_abandon_secs * 1000;
        let window = self.config.window();
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        let Some(since) = q.waiting.remove(&contact) else {
            return;
        };
        let waited_ms = u64::try_from(now_ms - since).unwrap_or(0);
        let t = &mut q.today;
        let left = match answered {
            None => return,
            Some(true) => {
                t.answered += 1;
                t.answered_in_sl += u64::from(waited_ms <= q.sl_ms);
                t.wait_answered_ms += waited_ms;
                Left::Answered { waited_ms }
            }
            Some(false) if waited_ms < short => {
                t.short_abandoned += 1;
                return;
            }
            Some(false) => {
                t.abandoned += 1;
                t.abandoned_in_sl += u64::from(waited_ms <= q.sl_ms);
                t.wait_abandoned_ms += waited_ms;
                Left::Abandoned { waited_ms }
            }
        };
        q.window.push_back((now_ms, left));
        while q.window.front().is_some_and(|(at, _)| now_ms - at > window) {
            q.window.pop_front();
        }
    }

    /// A contact was handled: talk plus after-call work, counted when the wrap-up ends.
    pub fn handled(&mut self, queue: &str, agent: &str, handle: Duration, now_ms: i64) {
        self.roll(now_ms);
        let ms = u64::try_from(handle.as_millis()).unwrap_or(u64::MAX);
        if let Some(q) = self.queues.get_mut(queue) {
            q.today.handled += 1;
            q.today.handle_ms += ms;
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.handled += 1;
            a.handle_ms += ms;
        }
    }

    /// An agent changed state (`state` as in [`AgentView::state`]).
    pub fn agent_state(&mut self, agent: &str, state: &str, now_ms: i64) {
        self.roll(now_ms);
        if let Some(a) = self.agents.get_mut(agent) {
            let spent = u64::try_from(now_ms - a.since_ms).unwrap_or(0);
            if busy(&a.state) {
                a.busy_ms += spent;
            } else if a.state == "available" {
                a.idle_ms += spent;
            }
            a.state = state.to_string();
            a.since_ms = now_ms;
        }
    }

    /// The contacts an agent holds now.
    pub fn agent_contacts(&mut self, agent: &str, contacts: Vec<i64>) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.contacts = contacts;
        }
    }

    fn sl(&self, t: &Tally) -> Option<f64> {
        match self.config.convention {
            SlConvention::Offered => ratio(t.answered_in_sl, t.answered + t.abandoned),
            SlConvention::Answered => ratio(t.answered_in_sl, t.answered),
            SlConvention::AbandonsWithinCountFor => ratio(
                t.answered_in_sl + t.abandoned_in_sl,
                t.answered + t.abandoned,
            ),
        }
    }

    fn occupancy(a: &AgentKpi, now_ms: i64) -> (u64, u64) {
        let spent = u64::try_from(now_ms - a.since_ms).unwrap_or(0);
        let busy_ms = a.busy_ms + if busy(&a.state) { spent } else { 0 };
        let idle_ms = a.idle_ms + if a.state == "available" { spent } else { 0 };
        (busy_ms, idle_ms)
    }

    /// Every queue's figures now.
    pub fn queues(&self, now_ms: i64) -> Vec<QueueView> {
        let fresh = now_ms.div_euclid(DAY_MS) == self.day;
        let window = self.config.window();
        self.queues
            .iter()
            .map(|(name, q)| {
                let t = if fresh { q.today } else { Tally::default() };
                let mut w = Tally::default();
                for (at, left) in &q.window {
                    if now_ms - at > window {
                        continue;
                    }
                    match *left {
                        Left::Answered { waited_ms } => {
                            w.answered += 1;
                            w.answered_in_sl += u64::from(waited_ms <= q.sl_ms);
                        }
                        Left::Abandoned { waited_ms } => {
                            w.abandoned += 1;
                            w.abandoned_in_sl += u64::from(waited_ms <= q.sl_ms);
                        }
                    }
                }
                let mut agents = BTreeMap::new();
                let (mut busy_ms, mut idle_ms) = (0, 0);
                for a in self.agents.values().filter(|a| a.queues.contains(name)) {
                    let state = a.state.split(':').next().unwrap_or("offline");
                    *agents.entry(state.to_string()).or_insert(0) += 1;
                    let (b, i) = Kpis::occupancy(a, now_ms);
                    (busy_ms, idle_ms) = (busy_ms + b, idle_ms + i);
                }
                let longest = q
                    .waiting
                    .values()
                    .min()
                    .map_or(0.0, |since| (now_ms - since).max(0) as f64 / 1000.0);
                QueueView {
                    queue: name.clone(),
                    waiting: q.waiting.len() as u64,
                    longest_wait_secs: longest,
                    agents,
                    answered: t.answered,
                    abandoned: t.abandoned,
                    short_abandoned: t.short_abandoned,
                    service_level: self.sl(&t),
                    service_level_window: self.sl(&w),
                    sl_target_percent: q.sl_percent,
                    sl_target_secs: q.sl_ms as f64 / 1000.0,
                    sl_convention: serde_json::to_value(self.config.convention)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    asa_secs: mean_secs(t.wait_answered_ms, t.answered),
                    aht_secs: mean_secs(t.handle_ms, t.handled),
                    abandon_rate: ratio(t.abandoned, t.answered + t.abandoned),
                    avg_abandon_secs: mean_secs(t.wait_abandoned_ms, t.abandoned),
                    occupancy: ratio(busy_ms, busy_ms + idle_ms),
                }
            })
            .collect()
    }

    /// Every agent's figures now.
    pub fn agents(&self, now_ms: i64) -> Vec<AgentView> {
        self.agents
            .iter()
            .map(|(login, a)| {
                let (busy_ms, idle_ms) = Kpis::occupancy(a, now_ms);
                AgentView {
                    agent: login.clone(),
                    state: a.state.clone(),
                    in_state_secs: (now_ms - a.since_ms).max(0) as f64 / 1000.0,
                    contacts: a.contacts.clone(),
                    handled: a.handled,
                    aht_secs: mean_secs(a.handle_ms, a.handled),
                    occupancy: ratio(busy_ms, busy_ms + idle_ms),
                }
            })
            .collect()
    }
}
