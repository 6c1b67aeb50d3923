//! Baselines measured in the same run: full-scan routing and a bare M/M/c+M event loop.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;
use serde_json::Value;
use switchboard_routing::{QueueId, SkillRequirement};

use crate::{AGENTS, Centre, WAITING, summary};

struct Waiting {
    queue: QueueId,
    req: SkillRequirement,
    priority: i32,
    seq: u64,
}

fn qualifies(centre: &Centre, agent: usize, w: &Waiting) -> bool {
    let (skills, queues) = &centre.agents[agent];
    queues.contains(&w.queue)
        && skills
            .iter()
            .any(|&(s, p)| s == w.req.skill && p >= w.req.min)
}

/// A free agent scans every waiting contact for the best it qualifies for.
pub fn agent_side(centre: &Centre, iterations: u64) -> Value {
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let mut seq = 0;
    let mut fresh = |rng: &mut Pcg64Mcg| {
        let (queue, req, priority) = Centre::contact(rng);
        seq += 1;
        Waiting {
            queue,
            req,
            priority,
            seq,
        }
    };
    let mut waiting: Vec<Waiting> = (0..WAITING).map(|_| fresh(&mut rng)).collect();
    let mut lat = Vec::new();
    let mut done = 0;
    let start = Instant::now();
    for i in 0..iterations {
        let agent = (i % u64::from(AGENTS)) as usize;
        let t0 = Instant::now();
        let best = waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| qualifies(centre, agent, w))
            .min_by_key(|(_, w)| (Reverse(w.priority), w.seq))
            .map(|(i, _)| i);
        if let Some(i) = best {
            black_box(waiting.swap_remove(i));
            done += 1;
        }
        lat.push(t0.elapsed().as_nanos() as u64);
        waiting.push(fresh(&mut rng));
    }
    summary(done, start.elapsed(), lat)
}

/// An arriving contact scans every agent for the eligible one idle longest.
pub fn contact_side(centre: &Centre, iterations: u64) -> Value {
    let mut rng = Pcg64Mcg::seed_from_u64(43);
    let mut idle_since: Vec<u64> = vec![0; AGENTS as usize];
    let mut lat = Vec::new();
    let mut done = 0;
    let start = Instant::now();
    for i in 0..iterations {
        let (queue, req, priority) = Centre::contact(&mut rng);
        let w = Waiting {
            queue,
            req,
            priority,
            seq: i,
        };
        let t0 = Instant::now();
        let best = (0..AGENTS as usize)
            .filter(|&a| qualifies(centre, a, &w))
            .min_by_key(|&a| (idle_since[a], a));
        if let Some(a) = best {
            idle_since[a] = i + 1;
            done += 1;
        }
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    summary(done, start.elapsed(), lat)
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival,
    Departure,
    Abandon(u64),
}

/// The same M/M/c+M model as a bare event loop with a FIFO line and no routing engine:
/// the floor any simulator's event rate is compared with. Returns (events, elapsed).
pub fn bare_mmc(lambda: f64, aht: f64, agents: u32, patience: f64, calls: u64) -> (u64, Duration) {
    let start = Instant::now();
    let mut rng = Pcg64Mcg::seed_from_u64(5);
    let exp = |mean: f64, rng: &mut Pcg64Mcg| -> f64 {
        let x: f64 = Exp1.sample(rng);
        x * mean
    };
    let mut heap: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let micros = |s: f64| (s * 1e6) as u64;
    let mut seq = 0;
    let mut push = |heap: &mut BinaryHeap<Reverse<(u64, u64, Ev)>>, t: u64, ev: Ev| {
        seq += 1;
        heap.push(Reverse((t, seq, ev)));
    };
    let mut free = agents;
    let mut line: VecDeque<u64> = VecDeque::new();
    let mut waiting = std::collections::HashSet::new();
    let (mut arrivals, mut events, mut next_id) = (0u64, 0u64, 0u64);
    push(&mut heap, micros(exp(1.0 / lambda, &mut rng)), Ev::Arrival);
    while let Some(Reverse((now, _, ev))) = heap.pop() {
        events += 1;
        match ev {
            Ev::Arrival => {
                arrivals += 1;
                if arrivals < calls {
                    push(
                        &mut heap,
                        now + micros(exp(1.0 / lambda, &mut rng)),
                        Ev::Arrival,
                    );
                }
                next_id += 1;
                if free > 0 {
                    free -= 1;
                    push(&mut heap, now + micros(exp(aht, &mut rng)), Ev::Departure);
                } else {
                    line.push_back(next_id);
                    waiting.insert(next_id);
                    push(
                        &mut heap,
                        now + micros(exp(patience, &mut rng)),
                        Ev::Abandon(next_id),
                    );
                }
            }
            Ev::Departure => {
                let mut served = false;
                while let Some(id) = line.pop_front() {
                    if waiting.remove(&id) {
                        served = true;
                        push(&mut heap, now + micros(exp(aht, &mut rng)), Ev::Departure);
                        break;
                    }
                }
                if !served {
                    free += 1;
                }
            }
            Ev::Abandon(id) => {
                waiting.remove(&id);
            }
        }
    }
    (events, start.elapsed())
}
