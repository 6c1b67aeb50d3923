//! `cargo xtask bench routing`: the routing engine at scale against a full-scan baseline
//! measured in the same run, and the simulator against a bare event loop. Prints JSON.

mod naive;

/// The allocator the `switchboard` binary runs the engine with, so that the figures are
/// the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::{Value, json};
use switchboard_routing::*;
use switchboard_sim::run::Replication;
use switchboard_sim::scenario::{Dist, SingleQueue, SlConvention, SlPolicy};

const AGENTS: u32 = 10_000;
const SKILLS: u32 = 200;
const QUEUES: u32 = 50;
const WAITING: u64 = 100_000;

/// The generated centre: queue q routes on skills 4q..4q+3; each agent serves 3 queues and
/// holds two of each queue's skills at proficiency 1–5.
pub struct Centre {
    /// Per agent: skills with proficiency, and queues served.
    pub agents: Vec<Profile>,
}

/// One generated agent: skills with proficiency, and queues served.
pub type Profile = (Vec<(SkillId, u8)>, Vec<QueueId>);

impl Centre {
    fn new(rng: &mut Pcg64Mcg) -> Centre {
        let agents = (0..AGENTS)
            .map(|_| {
                let mut queues: Vec<QueueId> = Vec::new();
                while queues.len() < 3 {
                    let q = QueueId(rng.random_range(0..QUEUES));
                    if !queues.contains(&q) {
                        queues.push(q);
                    }
                }
                let mut skills: Vec<(SkillId, u8)> = Vec::new();
                for q in &queues {
                    for k in [rng.random_range(0..2), rng.random_range(2..4)] {
                        let s = SkillId((q.0 * 4 + k) % SKILLS);
                        if !skills.iter().any(|x| x.0 == s) {
                            skills.push((s, rng.random_range(1..=5)));
                        }
                    }
                }
                (skills, queues)
            })
            .collect();
        Centre { agents }
    }

    /// A contact for a random queue needing one of its skills at level 1–2.
    fn contact(rng: &mut Pcg64Mcg) -> (QueueId, SkillRequirement, i32) {
        let q = rng.random_range(0..QUEUES);
        let skill = SkillId((q * 4 + rng.random_range(0..4)) % SKILLS);
        let min = rng.random_range(1..=2);
        let priority = i32::from(rng.random_range(0..10u8) == 0);
        (QueueId(q), SkillRequirement { skill, min }, priority)
    }
}

fn spec(q: QueueId, req: SkillRequirement, priority: i32) -> ContactSpec {
    ContactSpec {
        priority,
        skills: vec![req],
        ..ContactSpec::new(Channel::Voice, q)
    }
}

struct Driver {
    engine: Engine,
    now: Timestamp,
    next_contact: u64,
    /// (agent, contact) pairs in progress, oldest first.
    busy: VecDeque<(AgentId, ContactId)>,
    assignments: u64,
}

impl Driver {
    fn drain(&mut self) {
        while let Some(e) = self.engine.poll_event() {
            match e.kind {
                EventKind::Offered { offer, .. } => {
                    let _ = self.engine.handle_input(self.now, Input::Accept { offer });
                }
                EventKind::Connected { contact, agent, .. } => {
                    self.assignments += 1;
                    self.busy.push_back((agent, contact));
                }
                _ => {}
            }
        }
    }

    fn enqueue(&mut self, rng: &mut Pcg64Mcg) {
        let (q, req, p) = Centre::contact(rng);
        let contact = ContactId(self.next_contact);
        self.next_contact += 1;
        let _ = self.engine.handle_input(
            self.now,
            Input::Enqueue {
                contact,
                spec: spec(q, req, p),
            },
        );
    }

    fn tick(&mut self) {
        self.now = self.now.after(Duration::from_micros(50));
    }
}

/// An engine with the centre's queues and agents, every agent logged in.
fn build(centre: &Centre, strategy: Strategy) -> Driver {
    let mut engine = Engine::new(Config { seed: 1 });
    let t = Timestamp::ZERO;
    for q in 0..QUEUES {
        let spec = QueueSpec {
            strategy,
            ..QueueSpec::default()
        };
        let _ = engine.handle_input(
            t,
            Input::ConfigureQueue {
                queue: QueueId(q),
                spec,
            },
        );
    }
    for (i, (skills, queues)) in centre.agents.iter().enumerate() {
        let spec = AgentSpec {
            skills: skills.clone(),
            queues: queues
                .iter()
                .enumerate()
                .map(|(o, &queue)| Membership {
                    queue,
                    tier: 1,
                    order: o as u32,
                    weight: 1,
                })
                .collect(),
            ..AgentSpec::default()
        };
        let _ = engine.handle_input(
            t,
            Input::ConfigureAgent {
                agent: AgentId(i as u32),
                spec,
            },
        );
        let _ = engine.handle_input(
            t,
            Input::Login {
                agent: AgentId(i as u32),
            },
        );
    }
    Driver {
        engine,
        now: t,
        next_contact: 1,
        busy: VecDeque::new(),
        assignments: 0,
    }
}

fn percentiles(mut ns: Vec<u64>) -> (f64, f64) {
    if ns.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ns.sort_unstable();
    let at = |p: f64| ns[((ns.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

fn summary(ops: u64, elapsed: Duration, lat: Vec<u64>) -> Value {
    let decisions = lat.len();
    let (p50, p99) = percentiles(lat);
    json!({
        "assignments_per_s": (ops as f64 / elapsed.as_secs_f64()).round(),
        "p50_decision_us": p50,
        "p99_decision_us": p99,
        "decisions": decisions,
    })
}

/// Runs `decide` (a decision), timing it into `lat` when `TIMED`.
#[inline(always)]
fn decision<const TIMED: bool>(lat: &mut Vec<u64>, decide: impl FnOnce()) {
    if TIMED {
        let t0 = Instant::now();
        decide();
        lat.push(t0.elapsed().as_nanos() as u64);
    } else {
        decide();
    }
}

/// Runs `iterations` cycles untimed, for the rate of assignments, then as many again
/// timing each decision, for its latency: reading the clock twice a cycle costs about 5%
/// of a cycle on this machine, which is the benchmark's time, not the engine's.
fn measure(
    d: &mut Driver,
    rng: &mut Pcg64Mcg,
    iterations: u64,
    untimed: fn(&mut Driver, &mut Pcg64Mcg, &mut Vec<u64>),
    timed: fn(&mut Driver, &mut Pcg64Mcg, &mut Vec<u64>),
) -> Value {
    let mut lat = Vec::with_capacity(iterations as usize);
    let before = d.assignments;
    let start = Instant::now();
    for _ in 0..iterations {
        untimed(d, rng, &mut lat);
    }
    let elapsed = start.elapsed();
    let assignments = d.assignments - before;
    for _ in 0..iterations {
        timed(d, rng, &mut lat);
    }
    black_box(&d.engine);
    summary(assignments, elapsed, lat)
}

/// One agent-side cycle: the oldest call ends and its agent, free, takes the best waiting
/// contact across its queues (the decision); a new contact arrives and waits.
fn agent_cycle<const TIMED: bool>(d: &mut Driver, rng: &mut Pcg64Mcg, lat: &mut Vec<u64>) {
    d.tick();
    let Some((_, contact)) = d.busy.pop_front() else {
        return;
    };
    decision::<TIMED>(lat, || {
        let _ = d.engine.handle_input(d.now, Input::End { contact });
        d.drain();
    });
    d.enqueue(rng);
    d.drain();
}

/// Agent-side decisions with a deep backlog (see [`agent_cycle`]).
fn engine_agent_side(centre: &Centre, strategy: Strategy, iterations: u64) -> Value {
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let mut d = build(centre, strategy);
    while d.engine.table_sizes().contacts < (WAITING + u64::from(AGENTS)) as usize {
        d.enqueue(&mut rng);
        d.drain();
    }
    measure(
        &mut d,
        &mut rng,
        iterations,
        agent_cycle::<false>,
        agent_cycle::<true>,
    )
}

/// One contact-side cycle: a contact arrives and the engine picks the best free agent by
/// the queue's strategy (the decision); the oldest calls end once 1,000 are in progress.
fn contact_cycle<const TIMED: bool>(d: &mut Driver, rng: &mut Pcg64Mcg, lat: &mut Vec<u64>) {
    d.tick();
    decision::<TIMED>(lat, || {
        d.enqueue(rng);
        d.drain();
    });
    while d.busy.len() > 1000 {
        if let Some((_, contact)) = d.busy.pop_front() {
            let _ = d.engine.handle_input(d.now, Input::End { contact });
            d.drain();
        }
    }
}

/// Contact-side decisions with most agents idle (see [`contact_cycle`]).
fn engine_contact_side(centre: &Centre, strategy: Strategy, iterations: u64) -> Value {
    let mut rng = Pcg64Mcg::seed_from_u64(43);
    let mut d = build(centre, strategy);
    measure(
        &mut d,
        &mut rng,
        iterations,
        contact_cycle::<false>,
        contact_cycle::<true>,
    )
}

fn simulator(calls: u64) -> (Value, f64) {
    let model = SingleQueue {
        arrivals_per_s: 1200.0 / 3600.0,
        handle: Dist::Exponential(300.0),
        agents: 108,
        patience: Some(Dist::Exponential(120.0)),
        sl: SlPolicy {
            threshold: Duration::from_secs(20),
            convention: SlConvention::Offered,
            short_abandon: None,
        },
        calls,
        replications: 1,
        seed: 5,
        warmup: Some(Duration::ZERO),
    }
    .model();
    let start = Instant::now();
    let mut rep = Replication::new(&model, 0);
    rep.run();
    let elapsed = start.elapsed();
    let rate = rep.events as f64 / elapsed.as_secs_f64();
    let (base_events, base_elapsed) = naive::bare_mmc(1200.0 / 3600.0, 300.0, 108, 120.0, calls);
    let base_rate = base_events as f64 / base_elapsed.as_secs_f64();
    (
        json!({
            "model": "M/M/108+M, 1200/h, AHT 300 s, patience 120 s",
            "calls": calls,
            "events": rep.events,
            "events_per_s": rate.round(),
            "baseline_bare_event_loop_events_per_s": base_rate.round(),
            "ratio_to_baseline": rate / base_rate,
        }),
        rate,
    )
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({ "cpu": cpu, "cores": cores })
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "routing".into());
    if which != "routing" {
        eprintln!("unknown benchmark `{which}`; available: routing");
        std::process::exit(2);
    }
    let mut rng = Pcg64Mcg::seed_from_u64(7);
    let centre = Centre::new(&mut rng);
    // `routing engine-only`: just the four engine paths, one after the other (for
    // profiling and for comparing builds quickly); `routing <path>` runs one of them, and
    // `routing <path> <iterations>` runs it for that many cycles instead (0: set-up only,
    // so that a profile of the set-up alone can be subtracted from a full one).
    if let Some(only) = std::env::args().nth(2) {
        let iterations: Option<u64> = std::env::args().nth(3).and_then(|n| n.parse().ok());
        type Path = (&'static str, fn(&Centre, u64) -> Value, u64);
        let paths: [Path; 4] = [
            (
                "agent_side_longest_idle",
                |c, n| engine_agent_side(c, Strategy::LongestIdle, n),
                400_000,
            ),
            (
                "agent_side_best_skill",
                |c, n| engine_agent_side(c, Strategy::BestSkill, n),
                200_000,
            ),
            (
                "contact_side_longest_idle",
                |c, n| engine_contact_side(c, Strategy::LongestIdle, n),
                400_000,
            ),
            (
                "contact_side_best_skill",
                |c, n| engine_contact_side(c, Strategy::BestSkill, n),
                200_000,
            ),
        ];
        let mut out = serde_json::Map::new();
        for (name, run, default) in paths {
            if only == "engine-only" || only == name {
                out.insert(name.into(), run(&centre, iterations.unwrap_or(default)));
            }
        }
        if out.is_empty() {
            eprintln!("unknown path `{only}`");
            std::process::exit(2);
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return;
    }
    let agent_side = engine_agent_side(&centre, Strategy::LongestIdle, 400_000);
    let best_skill = engine_agent_side(&centre, Strategy::BestSkill, 200_000);
    let contact_side = engine_contact_side(&centre, Strategy::LongestIdle, 400_000);
    let contact_best = engine_contact_side(&centre, Strategy::BestSkill, 200_000);
    let naive_agent = naive::agent_side(&centre, 300);
    let naive_contact = naive::contact_side(&centre, 3_000);
    let rate = |v: &Value| v["assignments_per_s"].as_f64().unwrap_or(f64::NAN);
    let (sim, _) = simulator(1_000_000);
    let out = json!({
        "benchmark": "routing",
        "machine": machine(),
        "scale": { "agents": AGENTS, "skills": SKILLS, "queues": QUEUES, "waiting_contacts": WAITING,
                   "queues_per_agent": 3, "skills_per_contact": 1 },
        "engine": {
            "agent_side_longest_idle": agent_side,
            "agent_side_best_skill": best_skill,
            "contact_side_longest_idle": contact_side,
            "contact_side_best_skill": contact_best,
        },
        "naive_full_scan": {
            "agent_side": naive_agent,
            "contact_side": naive_contact,
        },
        "speedup_over_naive": {
            "agent_side": rate(&agent_side) / rate(&naive_agent),
            "contact_side": rate(&contact_side) / rate(&naive_contact),
        },
        "simulator": sim,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}
