//! The discrete-event simulator: Poisson arrivals, handle times, patience and shifts drive
//! the real routing engine on a virtual clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;
use switchboard_routing::{
    AgentId, AgentState, Config, ContactId, ContactSpec, Engine, EventKind, Input, Outcome,
    QueueId, ReasonCode, Timestamp,
};

use crate::scenario::{Model, SlConvention};
use crate::stats::ratio;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival(u32),
    ServiceEnd(ContactId),
    WrapEnd(ContactId, AgentId),
    Abandon(ContactId),
    ShiftStart(u32),
    ShiftEnd(u32),
}

#[derive(Debug)]
struct Live {
    queue: u32,
    measured: bool,
    ewt: Option<Duration>,
    connected: Option<(Timestamp, AgentId)>,
}

/// Counters for one queue over the measured window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueTally {
    /// Contacts that arrived in the window (short abandons included).
    pub arrived: u64,
    /// Answered contacts.
    pub answered: u64,
    /// Answered within the service-level threshold.
    pub answered_within: u64,
    /// Abandoned contacts (short abandons excluded).
    pub abandoned: u64,
    /// Abandoned within the threshold (short abandons excluded).
    pub abandoned_within: u64,
    /// Abandoned before the short-abandon threshold.
    pub short_abandons: u64,
    /// Contacts (answered or abandoned, short abandons excluded) that waited at all.
    pub waited: u64,
    /// Sum of waits of answered contacts, seconds.
    pub answered_wait_s: f64,
    /// Sum of waits of abandoned contacts, seconds.
    pub abandon_wait_s: f64,
    /// Contacts handled to the end (after-call work done).
    pub handled: u64,
    /// Sum of their handle times (talk + after-call work), seconds.
    pub handle_s: f64,
    /// Longest wait of any contact, seconds.
    pub longest_wait_s: f64,
    /// Sum of |announced EWT − actual wait| over answered contacts given an estimate.
    pub ewt_abs_err_s: f64,
    /// Number of such contacts.
    pub ewt_samples: u64,
}

impl QueueTally {
    /// Contacts offered: arrivals less short abandons.
    pub fn offered(&self) -> u64 {
        self.arrived - self.short_abandons
    }
}

/// Time and work of one agent over the measured window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentTally {
    /// Seconds reserved, busy or in after-call work.
    pub work_s: f64,
    /// Seconds available and idle.
    pub idle_s: f64,
    /// Contacts handled (of those that arrived in the window).
    pub handled: u64,
    state: Option<AgentState>,
    since: Timestamp,
    leaving: bool,
}

impl AgentTally {
    /// Share of logged-in, non-away time spent working.
    pub fn occupancy(&self) -> f64 {
        ratio(self.work_s, self.work_s + self.idle_s)
    }
}

/// One replication: the engine, the clock, the pending events and the tallies.
pub struct Replication<'m> {
    model: &'m Model,
    engine: Engine,
    rng: Pcg64Mcg,
    now: Timestamp,
    heap: BinaryHeap<Reverse<(Timestamp, u64, Ev)>>,
    seq: u64,
    next_contact: u64,
    live: rustc_hash::FxHashMap<ContactId, Live>,
    measured_live: u64,
    window: (Timestamp, Timestamp),
    arrivals_open: bool,
    /// Per-queue tallies for contacts that arrived in the window.
    pub queues: Vec<QueueTally>,
    /// Per-agent tallies.
    pub agents: Vec<AgentTally>,
    /// Discrete events processed (simulator events plus engine timeouts).
    pub events: u64,
}

impl<'m> Replication<'m> {
    /// Sets up replication number `index` of the model (its seed is derived from the
    /// model's seed and the index). The window measured is warm-up .. warm-up + duration.
    pub fn new(model: &'m Model, index: u32) -> Replication<'m> {
        let seed = model
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(index));
        let mut engine = Engine::new(Config { seed });
        let start = Timestamp::ZERO;
        // Queues first without escalation (overflow targets must exist), then complete.
        for (i, q) in model.queues.iter().enumerate() {
            let mut bare = q.spec.clone();
            bare.escalation.clear();
            let queue = QueueId(i as u32);
            let _ = engine.handle_input(start, Input::ConfigureQueue { queue, spec: bare });
        }
        for (i, q) in model.queues.iter().enumerate() {
            let queue = QueueId(i as u32);
            let spec = q.spec.clone();
            let _ = engine.handle_input(start, Input::ConfigureQueue { queue, spec });
        }
        for (i, a) in model.agents.iter().enumerate() {
            let agent = AgentId(i as u32);
            let spec = a.spec.clone();
            let _ = engine.handle_input(start, Input::ConfigureAgent { agent, spec });
        }
        let warm = start.after(model.warmup);
        let mut rep = Replication {
            model,
            engine,
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0x5EED),
            now: start,
            heap: BinaryHeap::new(),
            seq: 0,
            next_contact: 1,
            live: rustc_hash::FxHashMap::default(),
            measured_live: 0,
            window: (warm, warm.after(model.duration)),
            arrivals_open: true,
            queues: vec![QueueTally::default(); model.queues.len()],
            agents: vec![AgentTally::default(); model.agents.len()],
            events: 0,
        };
        for (i, a) in model.agents.iter().enumerate() {
            if a.shifts.is_empty() {
                rep.push(start, Ev::ShiftStart(i as u32));
            }
            for &(from, to) in &a.shifts {
                rep.push(Timestamp::from_secs_f64(from), Ev::ShiftStart(i as u32));
                rep.push(Timestamp::from_secs_f64(to), Ev::ShiftEnd(i as u32));
            }
        }
        for q in 0..model.queues.len() {
            rep.schedule_arrival(q as u32);
        }
        rep
    }

    /// The engine, for snapshots (queue sizes, agent states).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The simulated time now.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Runs the whole replication: to the end of the window, then without new arrivals
    /// until every measured contact has an outcome.
    pub fn run(&mut self) {
        let end = self.window.1;
        self.run_until(end);
        self.close_window();
        self.arrivals_open = false;
        while self.measured_live > 0 && self.step(Timestamp(u64::MAX)) {}
    }

    /// Processes every event up to and including `until`; the clock ends at `until`.
    pub fn run_until(&mut self, until: Timestamp) {
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Processes the next event if it is due by `until`; false when there is none.
    fn step(&mut self, until: Timestamp) -> bool {
        let sim_next = self.heap.peek().map(|Reverse((t, _, _))| *t);
        let engine_next = self.engine.poll_timeout();
        let next = match (sim_next, engine_next) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return false,
        };
        if next > until {
            return false;
        }
        self.now = next;
        self.events += 1;
        if engine_next == Some(next) {
            self.engine.handle_timeout(next);
        } else if let Some(Reverse((_, _, ev))) = self.heap.pop() {
            self.handle(ev);
        }
        self.drain();
        true
    }

    fn push(&mut self, at: Timestamp, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    fn input(&mut self, input: Input) {
        // The simulator only sends inputs that are valid in the state it tracks; a refusal
        // would be a simulator bug, and is caught by the tests' accounting.
        let _ = self.engine.handle_input(self.now, input);
    }

    /// Next Poisson arrival for a queue whose rate changes by interval: exact, because the
    /// exponential is memoryless (redraw from each interval boundary).
    fn schedule_arrival(&mut self, queue: u32) {
        let arrivals = &self.model.queues[queue as usize].arrivals;
        let mut t = self.now.as_secs_f64();
        for _ in 0..100_000 {
            let rate = arrivals.rate_at(t);
            let end = arrivals.interval_end(t);
            if rate > 0.0 {
                let gap: f64 = Exp1.sample(&mut self.rng);
                let at = t + gap / rate;
                if at < end {
                    self.push(Timestamp::from_secs_f64(at), Ev::Arrival(queue));
                    return;
                }
            }
            if !end.is_finite() {
                return;
            }
            t = end;
        }
    }

    fn in_window(&self, t: Timestamp) -> bool {
        t >= self.window.0 && t < self.window.1
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrival(q) => {
                if !self.arrivals_open {
                    return;
                }
                self.schedule_arrival(q);
                let qm = &self.model.queues[q as usize];
                let id = ContactId(self.next_contact);
                self.next_contact += 1;
                let measured = self.in_window(self.now);
                let patience = qm.patience.map(|p| p.sample(&mut self.rng));
                let spec = ContactSpec {
                    skills: qm.skills.clone(),
                    language: qm.language,
                    priority: qm.priority,
                    ..ContactSpec::new(qm.channel, QueueId(q))
                };
                self.live.insert(
                    id,
                    Live {
                        queue: q,
                        measured,
                        ewt: None,
                        connected: None,
                    },
                );
                if measured {
                    self.queues[q as usize].arrived += 1;
                    self.measured_live += 1;
                }
                if let Some(p) = patience {
                    self.push(self.now.after(Duration::from_secs_f64(p)), Ev::Abandon(id));
                }
                self.input(Input::Enqueue { contact: id, spec });
            }
            Ev::ServiceEnd(contact) => self.input(Input::End { contact }),
            Ev::WrapEnd(contact, agent) => self.input(Input::CompleteWrapUp { agent, contact }),
            Ev::Abandon(contact) => {
                if self
                    .live
                    .get(&contact)
                    .is_some_and(|l| l.connected.is_none())
                {
                    self.input(Input::End { contact });
                }
            }
            Ev::ShiftStart(a) => {
                let agent = AgentId(a);
                let tally = &mut self.agents[a as usize];
                tally.leaving = false;
                match tally.state {
                    None | Some(AgentState::Offline) => self.input(Input::Login { agent }),
                    _ => self.input(Input::SetAvailable { agent }),
                }
            }
            Ev::ShiftEnd(a) => {
                let agent = AgentId(a);
                self.agents[a as usize].leaving = true;
                self.input(Input::SetAway {
                    agent,
                    reason: ReasonCode::new("end-of-shift"),
                });
            }
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event.kind {
                EventKind::Queued { contact, ewt, .. } => {
                    if let Some(l) = self.live.get_mut(&contact) {
                        l.ewt = ewt;
                    }
                }
                EventKind::Offered { offer, .. } => self.input(Input::Accept { offer }),
                EventKind::Connected {
                    contact,
                    agent,
                    waited,
                } => self.connected(contact, agent, waited),
                EventKind::Disconnected { contact, agent } => {
                    let acw = self
                        .live
                        .get(&contact)
                        .and_then(|l| self.model.queues[l.queue as usize].after_call_work);
                    if let Some(d) = acw {
                        let secs = d.sample(&mut self.rng);
                        self.push(
                            self.now.after(Duration::from_secs_f64(secs)),
                            Ev::WrapEnd(contact, agent),
                        );
                    }
                }
                EventKind::ContactLeft {
                    contact,
                    outcome,
                    waited,
                } => self.left(contact, outcome, waited),
                EventKind::AgentState { agent, to, .. } => self.agent_state(agent, to),
                EventKind::Escalated { .. }
                | EventKind::BecameCallback { .. }
                | EventKind::OfferEnded { .. } => {}
            }
        }
    }

    fn connected(&mut self, contact: ContactId, agent: AgentId, waited: Duration) {
        let Some(l) = self.live.get_mut(&contact) else {
            return;
        };
        l.connected = Some((self.now, agent));
        let q = l.queue as usize;
        let handle = self.model.queues[q].handle.sample(&mut self.rng);
        if l.measured {
            let w = waited.as_secs_f64();
            let t = &mut self.queues[q];
            t.answered += 1;
            t.answered_wait_s += w;
            t.longest_wait_s = t.longest_wait_s.max(w);
            if w > 0.0 {
                t.waited += 1;
            }
            if waited <= self.model.sl.threshold {
                t.answered_within += 1;
            }
            if let Some(e) = l.ewt {
                t.ewt_abs_err_s += (e.as_secs_f64() - w).abs();
                t.ewt_samples += 1;
            }
        }
        self.push(
            self.now.after(Duration::from_secs_f64(handle)),
            Ev::ServiceEnd(contact),
        );
    }

    fn left(&mut self, contact: ContactId, outcome: Outcome, waited: Duration) {
        let Some(l) = self.live.remove(&contact) else {
            return;
        };
        if !l.measured {
            return;
        }
        self.measured_live -= 1;
        let t = &mut self.queues[l.queue as usize];
        match outcome {
            Outcome::Handled => {
                t.handled += 1;
                if let Some((at, agent)) = l.connected {
                    t.handle_s += self.now.since(at).as_secs_f64();
                    if let Some(a) = self.agents.get_mut(agent.0 as usize) {
                        a.handled += 1;
                    }
                }
            }
            Outcome::Abandoned => {
                let w = waited.as_secs_f64();
                if self.model.sl.short_abandon.is_some_and(|s| waited < s) {
                    t.short_abandons += 1;
                } else {
                    t.abandoned += 1;
                    t.waited += 1;
                    t.abandon_wait_s += w;
                    t.longest_wait_s = t.longest_wait_s.max(w);
                    if waited <= self.model.sl.threshold {
                        t.abandoned_within += 1;
                    }
                }
            }
            Outcome::Withdrawn | Outcome::Expired => {}
        }
    }

    fn agent_state(&mut self, agent: AgentId, to: AgentState) {
        let now = self.now;
        let (from_t, to_t) = self.window;
        let Some(tally) = self.agents.get_mut(agent.0 as usize) else {
            return;
        };
        // Time in the previous state, clipped to the measured window.
        let a = tally.since.max(from_t);
        let b = now.min(to_t);
        if b > a {
            let secs = b.since(a).as_secs_f64();
            match tally.state {
                Some(AgentState::Available) => tally.idle_s += secs,
                Some(AgentState::Reserved | AgentState::Busy | AgentState::WrapUp) => {
                    tally.work_s += secs
                }
                _ => {}
            }
        }
        tally.since = now;
        let leaving = tally.leaving && matches!(to, AgentState::Away(_));
        tally.state = Some(to);
        if leaving {
            self.input(Input::Logout { agent });
        }
    }

    /// Accounts agent time up to the end of the window.
    fn close_window(&mut self) {
        for i in 0..self.agents.len() {
            if let Some(state) = self.agents[i].state.clone() {
                self.agent_state(AgentId(i as u32), state);
            }
        }
    }

    /// The KPIs of this replication's measured window.
    pub fn kpis(&self) -> RepKpis {
        let sl = self.model.sl;
        let queues = self
            .queues
            .iter()
            .map(|t| {
                let offered = t.offered() as f64;
                let within = match sl.convention {
                    SlConvention::Offered => ratio(t.answered_within as f64, offered),
                    SlConvention::Answered => ratio(t.answered_within as f64, t.answered as f64),
                    SlConvention::AbandonsWithinCountFor => {
                        ratio((t.answered_within + t.abandoned_within) as f64, offered)
                    }
                };
                QueueKpis {
                    offered,
                    answered: t.answered as f64,
                    abandoned: t.abandoned as f64,
                    p_wait: ratio(t.waited as f64, offered),
                    service_level: within,
                    asa_s: ratio(t.answered_wait_s, t.answered as f64),
                    avg_abandon_s: ratio(t.abandon_wait_s, t.abandoned as f64),
                    abandon_rate: ratio(t.abandoned as f64, offered),
                    aht_s: ratio(t.handle_s, t.handled as f64),
                    longest_wait_s: t.longest_wait_s,
                    ewt_mae_s: ratio(t.ewt_abs_err_s, t.ewt_samples as f64),
                }
            })
            .collect();
        let work: f64 = self.agents.iter().map(|a| a.work_s).sum();
        let idle: f64 = self.agents.iter().map(|a| a.idle_s).sum();
        RepKpis {
            queues,
            agent_occupancy: self.agents.iter().map(AgentTally::occupancy).collect(),
            agent_handled: self.agents.iter().map(|a| a.handled as f64).collect(),
            occupancy: ratio(work, work + idle),
            events: self.events,
        }
    }
}

/// The KPIs of one queue in one replication (ratios are fractions; NaN when undefined).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueKpis {
    /// Contacts offered (short abandons excluded).
    pub offered: f64,
    /// Contacts answered.
    pub answered: f64,
    /// Contacts abandoned (short abandons excluded).
    pub abandoned: f64,
    /// Share of offered contacts that waited at all.
    pub p_wait: f64,
    /// Service level under the scenario's convention.
    pub service_level: f64,
    /// Mean wait of answered contacts, seconds.
    pub asa_s: f64,
    /// Mean wait of abandoned contacts, seconds.
    pub avg_abandon_s: f64,
    /// Abandoned ÷ offered.
    pub abandon_rate: f64,
    /// Mean talk + after-call work of handled contacts, seconds.
    pub aht_s: f64,
    /// Longest wait, seconds.
    pub longest_wait_s: f64,
    /// Mean absolute error of the wait estimate announced at entry, seconds.
    pub ewt_mae_s: f64,
}

/// The KPIs of one replication.
#[derive(Debug, Clone, PartialEq)]
pub struct RepKpis {
    /// Per queue, in model order.
    pub queues: Vec<QueueKpis>,
    /// Per agent occupancy, in model order.
    pub agent_occupancy: Vec<f64>,
    /// Per agent handled count, in model order.
    pub agent_handled: Vec<f64>,
    /// Occupancy over all agents.
    pub occupancy: f64,
    /// Discrete events processed.
    pub events: u64,
}
