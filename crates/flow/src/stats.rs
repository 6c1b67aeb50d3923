//! Path analytics: from the events of many flow runs, where callers go, where they give
//! up, where they struggle, how long they spend, and plain-language suggestions.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::check::{Action, Flow};
use crate::interp::{Exit, FlowEvent, FlowEventKind};

/// One event of one call, as stored one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// The call (or contact) it belongs to.
    pub call: String,
    /// The event.
    #[serde(flatten)]
    pub event: FlowEvent,
}

/// What happened at one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeStats {
    /// Times it was entered.
    pub visits: u64,
    /// Calls whose caller hung up while here.
    pub drop_offs: u64,
    /// Invalid inputs here.
    pub invalid: u64,
    /// Timeouts without input here.
    pub no_input: u64,
    /// Menu: choices by key and label.
    pub choices: BTreeMap<String, u64>,
    /// Hours and geo: routes taken, by reason.
    pub routes: BTreeMap<String, u64>,
}

/// The answers to one survey question.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SurveyStats {
    /// Answers given.
    pub responses: u64,
    /// Count per score.
    pub scores: BTreeMap<u8, u64>,
    /// Mean score.
    pub mean: f64,
    /// CSAT as top-two-box: the share of answers in the two highest scores, for scales of
    /// four points or more.
    pub top_two_box: Option<f64>,
    /// Lowest possible score.
    pub low: u8,
    /// Highest possible score.
    pub high: u8,
}

/// The analytics of a set of runs of one flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlowStats {
    /// Calls seen.
    pub calls: u64,
    /// Calls that finished in the flow without an agent, transfer or voicemail
    /// (self-service completed).
    pub contained: u64,
    /// Calls queued for an agent.
    pub queued: u64,
    /// Calls transferred out.
    pub transferred: u64,
    /// Calls sent to voicemail.
    pub voicemail: u64,
    /// Calls that left the queue as a callback keeping their place.
    pub callbacks: u64,
    /// Calls whose caller hung up in the flow.
    pub abandoned: u64,
    /// Calls ended by a flow error.
    pub failed: u64,
    /// Mean seconds from the first to the last event of a finished call.
    pub mean_seconds_in_ivr: f64,
    /// Per node, in flow order.
    pub nodes: Vec<(String, NodeStats)>,
    /// Survey answers per question.
    pub surveys: BTreeMap<String, SurveyStats>,
    /// Suggestions, most important first.
    pub suggestions: Vec<String>,
}

/// A share above which an option, a failure rate or a drop-off is worth a suggestion.
const NOTABLE: f64 = 0.4;
const STRUGGLE: f64 = 0.15;
const DROP: f64 = 0.1;
/// Fewer visits than this are too few to suggest anything about a node.
const MIN_VISITS: u64 = 20;

/// Labels that mean "none of the above".
fn is_catch_all(label: &str) -> bool {
    let l = label.to_ascii_lowercase();
    ["other", "else", "anything", "none", "something"]
        .iter()
        .any(|w| l.contains(w))
}

/// Computes the analytics of `events` (any order; grouped by call) for `flow`.
pub fn analyse(flow: &Flow, events: &[CallEvent]) -> FlowStats {
    let mut per_call: BTreeMap<&str, Vec<&FlowEvent>> = BTreeMap::new();
    for e in events {
        per_call.entry(&e.call).or_default().push(&e.event);
    }
    let mut nodes: BTreeMap<&str, NodeStats> = BTreeMap::new();
    let mut s = FlowStats::default();
    let (mut time_total, mut time_n) = (0.0, 0u64);
    for evs in per_call.values_mut() {
        evs.sort_by_key(|e| e.at);
        s.calls += 1;
        for e in evs.iter() {
            match &e.kind {
                FlowEventKind::Entered { node } => nodes.entry(node).or_default().visits += 1,
                FlowEventKind::Chosen { node, key, label } => {
                    *nodes
                        .entry(node)
                        .or_default()
                        .choices
                        .entry(format!("{key} {label}"))
                        .or_default() += 1;
                }
                FlowEventKind::Invalid { node, .. } => nodes.entry(node).or_default().invalid += 1,
                FlowEventKind::NoInput { node } => nodes.entry(node).or_default().no_input += 1,
                FlowEventKind::Routed { node, because } => {
                    *nodes
                        .entry(node)
                        .or_default()
                        .routes
                        .entry(because.clone())
                        .or_default() += 1;
                }
                FlowEventKind::Exited { node, exit } => {
                    match exit {
                        Exit::Queued => s.queued += 1,
                        Exit::Transferred => s.transferred += 1,
                        Exit::Voicemail => s.voicemail += 1,
                        Exit::CallbackKeptPlace => s.callbacks += 1,
                        Exit::HungUp(_) => s.contained += 1,
                        Exit::CallerLeft => {
                            s.abandoned += 1;
                            nodes.entry(node).or_default().drop_offs += 1;
                        }
                        Exit::Failed(_) => s.failed += 1,
                    }
                    if let (Some(first), Some(last)) = (evs.first(), evs.last()) {
                        time_total += (last.at - first.at).num_milliseconds() as f64 / 1000.0;
                        time_n += 1;
                    }
                }
                FlowEventKind::Rated {
                    question,
                    score,
                    low,
                    high,
                    ..
                } => {
                    let q = s.surveys.entry(question.clone()).or_default();
                    q.responses += 1;
                    *q.scores.entry(*score).or_default() += 1;
                    (q.low, q.high) = (*low, *high);
                }
                FlowEventKind::LookedUp { .. } | FlowEventKind::Collected { .. } => {}
            }
        }
    }
    s.mean_seconds_in_ivr = if time_n > 0 {
        time_total / time_n as f64
    } else {
        0.0
    };
    for q in s.surveys.values_mut() {
        let n = q.responses as f64;
        q.mean = q
            .scores
            .iter()
            .map(|(k, c)| f64::from(*k) * *c as f64)
            .sum::<f64>()
            / n;
        q.top_two_box = (q.high - q.low >= 3).then(|| {
            let top: u64 = q.scores.range(q.high - 1..).map(|(_, c)| c).sum();
            top as f64 / n
        });
    }
    for node in &flow.nodes {
        let stats = nodes.remove(node.name.as_str()).unwrap_or_default();
        suggest(&mut s.suggestions, node, &stats);
        s.nodes.push((node.name.clone(), stats));
    }
    // Events naming nodes the flow no longer has (an older version) are kept at the end.
    for (name, stats) in nodes {
        s.nodes
            .push((format!("{name} (not in this version)"), stats));
    }
    s
}

fn suggest(out: &mut Vec<String>, node: &crate::check::Node, st: &NodeStats) {
    if st.visits < MIN_VISITS {
        return;
    }
    let visits = st.visits as f64;
    let name = &node.name;
    if let Action::Menu { options, .. } = &node.action {
        let total: u64 = st.choices.values().sum();
        let count = |key: char, label: &str| {
            st.choices
                .get(&format!("{key} {label}"))
                .copied()
                .unwrap_or(0)
        };
        if let Some((pos, top)) = options
            .iter()
            .enumerate()
            .max_by_key(|(i, o)| (count(o.key, &o.label), std::cmp::Reverse(*i)))
            && total > 0
        {
            let n = count(top.key, &top.label);
            let share = n as f64 / total as f64;
            if pos > 0 && n > count(options[0].key, &options[0].label) {
                out.push(format!(
                    "{name}: option {} ({}) is chosen most ({:.0}% of choices): move it earlier",
                    top.key,
                    top.label,
                    100.0 * share
                ));
            }
            if is_catch_all(&top.label) && share >= NOTABLE {
                out.push(format!(
                    "{name}: {:.0}% of callers choose '{}': the options do not match why people call; rethink the menu",
                    100.0 * share,
                    top.label
                ));
            }
        }
    }
    let struggle = (st.invalid + st.no_input) as f64 / visits;
    if struggle >= STRUGGLE {
        out.push(format!(
            "{name}: {:.0}% of visits end in invalid or no input: simplify the prompt or the choices",
            100.0 * struggle
        ));
    }
    let drop = st.drop_offs as f64 / visits;
    if drop >= DROP {
        out.push(format!(
            "{name}: {:.0}% of callers hang up here: shorten what comes before, or offer an agent",
            100.0 * drop
        ));
    }
}

impl FlowStats {
    /// A readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let pct = |n: u64| {
            if self.calls == 0 {
                0.0
            } else {
                100.0 * n as f64 / self.calls as f64
            }
        };
        let _ = writeln!(
            out,
            "{} calls: {:.1}% contained (self-service), {:.1}% answered by an agent, {:.1}% callbacks, {:.1}% transferred, {:.1}% voicemail, {:.1}% hung up in the IVR, {:.1}% flow errors",
            self.calls,
            pct(self.contained),
            pct(self.queued),
            pct(self.callbacks),
            pct(self.transferred),
            pct(self.voicemail),
            pct(self.abandoned),
            pct(self.failed)
        );
        let _ = writeln!(
            out,
            "mean time in the IVR: {:.1}s\n",
            self.mean_seconds_in_ivr
        );
        let _ = writeln!(
            out,
            "{:<24} {:>7} {:>9} {:>8} {:>9}  choices / routes",
            "node", "visits", "drop-offs", "invalid", "no input"
        );
        for (name, st) in &self.nodes {
            let mut detail: Vec<String> = st
                .choices
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            detail.extend(st.routes.iter().map(|(k, n)| format!("{k}: {n}")));
            let _ = writeln!(
                out,
                "{:<24} {:>7} {:>9} {:>8} {:>9}  {}",
                name,
                st.visits,
                st.drop_offs,
                st.invalid,
                st.no_input,
                detail.join(", ")
            );
        }
        for (question, q) in &self.surveys {
            let csat = q
                .top_two_box
                .map(|t| format!(", CSAT (top-two-box) {:.1}%", 100.0 * t))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "survey {question}: {} answers, mean {:.2} of {}{csat}",
                q.responses, q.mean, q.high
            );
        }
        if !self.suggestions.is_empty() {
            let _ = writeln!(out, "\nsuggestions:");
            for s in &self.suggestions {
                let _ = writeln!(out, "- {s}");
            }
        }
        out
    }
}
