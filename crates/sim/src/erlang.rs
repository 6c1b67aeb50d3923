//! Erlang B, C and A queueing formulas for staffing. All three models assume Poisson
//! arrivals (rate λ), exponentially distributed handling times (mean AHT = 1/μ) and `c`
//! identical agents, with offered load A = λ·AHT Erlangs. Erlang B (M/M/c/c) has no
//! queue: a contact that finds every agent busy is lost; it is computed with the
//! overflow-free recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)). Erlang C (M/M/c)
//! queues contacts first-come-first-served with infinite patience, so it is only stable
//! when A < c; it is derived from Erlang B as C = c·B / (c − A·(1 − B)) and its waiting
//! time is exponential given a wait. Erlang A (Palm's M/M/c+M model, see Garnett,
//! Mandelbaum & Reiman, "Designing a call center with impatient customers", M&SOM 4(3),
//! 2002) adds exponentially distributed patience (mean 1/θ) after which a waiting contact
//! abandons; it is stable for every load. Its stationary distribution is obtained from
//! the birth–death balance equations, built outward from the mode (so nothing overflows)
//! and truncated once a term falls below 1e-16 of the running sum; the probability of
//! being answered within the threshold comes from the transient solution of the
//! absorbing chain seen by a waiting caller, computed by uniformization (Jensen, 1953,
//! "Markoff chains as an aid in the study of Markoff processes") with Poisson weights
//! generated outward from their mode and truncated when the remaining tail mass is
//! below 1e-12 (in the spirit of Fox & Glynn, "Computing Poisson probabilities",
//! CACM 31(4), 1988). No function panics and every loop has a documented bound; inputs
//! that are NaN or negative are treated as zero and callers are expected to validate.

use std::f64::consts::SQRT_2;

/// Erlang A stationary terms below this fraction of the running sum are dropped.
const PI_TRUNCATION: f64 = 1e-16;
/// Largest number of queue positions (states n ≥ c) kept in the Erlang A chain. Only
/// reached by a near-unstable or overloaded system with almost infinite patience; the
/// model then behaves as if the waiting room had this many places.
const MAX_QUEUE_STATES: u64 = 1_000_000;
/// Poisson mass allowed in each of the two truncated tails of the uniformization sum.
const POISSON_TAIL: f64 = 1e-12;
/// Budget, in stage updates, for the uniformization. Beyond it (e.g. thresholds of many
/// hours at thousands of agents) a normal approximation of the waiting time is used.
const MAX_UNIFORMIZATION_WORK: f64 = 2.0e8;

/// Offered load description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Mean arrival rate λ, contacts per second.
    pub arrivals_per_s: f64,
    /// Average handling time (1/μ), seconds.
    pub aht_s: f64,
}

impl Load {
    /// Offered load A = λ·AHT, in Erlangs.
    pub fn erlangs(&self) -> f64 {
        self.arrivals_per_s * self.aht_s
    }
}

/// Queue performance for one agent count, as returned by [`erlang_c_metrics`] and
/// [`erlang_a_metrics`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Number of agents the figures were computed for.
    pub agents: u32,
    /// Erlang B blocking probability with `agents` servers and the same offered load.
    pub p_block: f64,
    /// Probability that an arrival has to wait (finds every agent busy).
    pub p_wait: f64,
    /// Contacts answered within the threshold divided by contacts offered (0..=1).
    pub service_level: f64,
    /// Mean wait of answered contacts, in seconds (for Erlang C every contact is
    /// answered, so this is the mean over all contacts).
    pub asa_s: f64,
    /// Carried load divided by the number of agents (0..=1).
    pub occupancy: f64,
    /// Probability that an arrival abandons; `Some` only for Erlang A.
    pub p_abandon: Option<f64>,
}

/// Erlang B blocking probability of an M/M/c/c system with `servers` servers and
/// `erlangs` offered load, by the recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)).
///
/// Every intermediate value lies in [0, 1], so thousands of servers neither overflow nor
/// lose precision. At most `servers` iterations (fewer once B underflows to zero).
/// Returns 1 for zero servers or infinite load and 0 for zero load; a NaN or negative
/// load is treated as zero.
pub fn erlang_b(servers: u32, erlangs: f64) -> f64 {
    let a = non_negative(erlangs);
    if servers == 0 || a.is_infinite() {
        return 1.0;
    }
    if a == 0.0 {
        return 0.0;
    }
    let mut b = 1.0;
    for k in 1..=servers {
        b = erlang_b_step(k, a, b);
        if b == 0.0 {
            break; // B(k) is decreasing in k: once it underflows it stays zero.
        }
    }
    b
}

/// Erlang C probability that an arrival waits in an M/M/c queue, C = c·B / (c − A·(1 − B))
/// with B = [`erlang_b`]. Returns 1 when `erlangs >= servers` (the queue is unstable).
/// A NaN or negative load is treated as zero.
pub fn erlang_c(servers: u32, erlangs: f64) -> f64 {
    let a = non_negative(erlangs);
    let c = f64::from(servers);
    if a >= c {
        return 1.0;
    }
    c_from_b(c, a, erlang_b(servers, a))
}

/// Erlang C (M/M/c, FCFS, no abandonment) metrics for `agents` agents and a service-level
/// threshold of `sl_threshold_s` seconds: P(wait) = C, SL = 1 − C·e^{−(c−A)·t/AHT},
/// ASA = C·AHT/(c − A), occupancy = A/c.
///
/// If the load is at least the number of agents (including zero agents) the queue is
/// unstable and the result is p_wait 1, service_level 0, asa_s `f64::INFINITY`,
/// occupancy 1. NaN or negative inputs are treated as zero.
pub fn erlang_c_metrics(load: Load, agents: u32, sl_threshold_s: f64) -> Metrics {
    let (aht, a) = offered(load);
    erlang_c_from_b(
        agents,
        aht,
        a,
        non_negative(sl_threshold_s),
        erlang_b(agents, a),
    )
}

/// Erlang A (M/M/c+M: exponential patience with mean `mean_patience_s`) metrics for
/// `agents` agents and a service-level threshold of `sl_threshold_s` seconds.
///
/// Stable for every load because waiting contacts abandon. `p_wait` is the probability of
/// finding every agent busy, `service_level` counts contacts answered within the
/// threshold over all offered contacts (abandoned ones count as failures), `asa_s` is the
/// mean wait of answered contacts, `p_abandon` = θ·E[queue length]/λ and occupancy is
/// λ·(1 − P(abandon))·AHT / c.
///
/// Limits: an infinite patience gives the Erlang C figures (with `p_abandon` 0), a zero
/// (or NaN or negative) patience gives the Erlang B loss system (every contact that
/// would wait abandons at once), and zero agents give p_wait 1, service_level 0, asa_s
/// `f64::INFINITY`, occupancy 1 (as in [`erlang_c_metrics`]) and p_abandon 1 (0 if the
/// patience is infinite). If more than 10⁶ queue places would matter (load at or above
/// the agent count with a patience of years) the chain is cut there and behaves as a
/// finite waiting room, understating abandonment. Cost: the stationary
/// distribution has O(√A + queue length) terms (at most about `agents` + 1 000 000), and
/// the uniformization is capped at 2·10⁸ stage updates, after which a normal
/// approximation of the wait is used.
pub fn erlang_a_metrics(
    load: Load,
    agents: u32,
    mean_patience_s: f64,
    sl_threshold_s: f64,
) -> Metrics {
    let (aht, a) = offered(load);
    let patience = non_negative(mean_patience_s);
    let t = non_negative(sl_threshold_s);
    let abandon_if_stuck = if patience.is_infinite() { 0.0 } else { 1.0 };
    if agents == 0 || a.is_infinite() {
        return saturated(agents, Some(abandon_if_stuck));
    }
    if a == 0.0 {
        return idle(agents, Some(0.0));
    }
    // From here AHT and A are finite and positive. Work in units of AHT (μ = 1), where
    // the abandonment rate per waiting contact is γ = θ/μ = AHT / patience.
    let gamma = aht / patience;
    if gamma == 0.0 {
        return Metrics {
            p_abandon: Some(0.0),
            ..erlang_c_metrics(load, agents, t)
        };
    }
    let c = f64::from(agents);
    if gamma.is_infinite() {
        let b = erlang_b(agents, a);
        return Metrics {
            agents,
            p_block: b,
            p_wait: b,
            service_level: 1.0 - b,
            asa_s: 0.0,
            occupancy: (a * (1.0 - b) / c).clamp(0.0, 1.0),
            p_abandon: Some(b),
        };
    }

    let dist = stationary(agents, a, gamma);
    let mut p_wait = 0.0;
    let mut mean_queue = 0.0;
    let mut served = 0.0;
    let mut served_wait = 0.0;
    let mut mean_stage_time = 0.0;
    let mut served_weights = Vec::with_capacity(dist.queue.len());
    for (k, &p) in dist.queue.iter().enumerate() {
        // A caller with k ahead passes stages j = k, …, 0, leaving stage j at rate
        // r_j = c + (j + 1)·γ; it survives all of them with probability c / r_k.
        let r = stage_rate(c, gamma, k);
        mean_stage_time += 1.0 / r;
        let w = p * c / r;
        p_wait += p;
        mean_queue += k as f64 * p;
        served += w;
        served_wait += w * mean_stage_time;
        served_weights.push(w);
    }
    let p_abandon = (gamma * mean_queue / a).clamp(0.0, 1.0);
    let p_answered = dist.p_no_wait + served;
    let asa_s = if p_answered > 0.0 {
        served_wait / p_answered * aht
    } else {
        f64::INFINITY
    };
    let within = answered_within(&served_weights, c, gamma, t / aht, MAX_UNIFORMIZATION_WORK);
    Metrics {
        agents,
        p_block: erlang_b(agents, a),
        p_wait: p_wait.clamp(0.0, 1.0),
        service_level: (dist.p_no_wait + within).clamp(0.0, 1.0),
        asa_s,
        occupancy: (a * (1.0 - p_abandon) / c).clamp(0.0, 1.0),
        p_abandon: Some(p_abandon),
    }
}

/// Smallest agent count, from 0 to `max_agents` inclusive, whose service level within
/// `sl_threshold_s` seconds reaches `target` (a fraction): Erlang C when `patience_s` is
/// `None`, Erlang A with that mean patience otherwise. `None` if `max_agents` agents do
/// not reach it (or `target` is NaN).
///
/// Erlang C: a linear scan reusing the Erlang B recursion, O(1) per agent count and at
/// most `max_agents + 1` steps (it stops early once nobody waits, since adding agents
/// cannot help further). Erlang A: a bisection over [0, `max_agents`] relying on the
/// service level being non-decreasing in the number of agents, so at most
/// ⌈log₂(max_agents + 1)⌉ + 1 evaluations of [`erlang_a_metrics`].
pub fn agents_for_service_level(
    load: Load,
    patience_s: Option<f64>,
    sl_threshold_s: f64,
    target: f64,
    max_agents: u32,
) -> Option<u32> {
    if target.is_nan() {
        return None;
    }
    let t = non_negative(sl_threshold_s);
    match patience_s {
        None => {
            let (aht, a) = offered(load);
            if a.is_infinite() {
                // Every agent count is unstable: service level 0.
                return (target <= 0.0).then_some(0);
            }
            let mut b = 1.0;
            for agents in 0..=max_agents {
                if agents > 0 && a > 0.0 && b > 0.0 {
                    b = erlang_b_step(agents, a, b);
                } else if agents > 0 {
                    b = 0.0;
                }
                let m = erlang_c_from_b(agents, aht, a, t, b);
                if m.service_level >= target {
                    return Some(agents);
                }
                if m.p_wait == 0.0 {
                    return None; // Service level is already 1 and cannot improve.
                }
            }
            None
        }
        Some(patience) => {
            let level = |agents: u32| erlang_a_metrics(load, agents, patience, t).service_level;
            if level(max_agents) < target {
                return None;
            }
            // Invariant: level(hi) >= target, and every count below lo misses it.
            let (mut lo, mut hi) = (0_u32, max_agents);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if level(mid) >= target {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            Some(hi)
        }
    }
}

/// NaN and negative values become 0; +∞ is kept.
fn non_negative(x: f64) -> f64 {
    if x >= 0.0 { x } else { 0.0 }
}

/// Sanitised (AHT, offered Erlangs). The load is 0 whenever either factor is 0, so that
/// 0·∞ never produces NaN.
fn offered(load: Load) -> (f64, f64) {
    let lambda = non_negative(load.arrivals_per_s);
    let aht = non_negative(load.aht_s);
    let a = if lambda == 0.0 || aht == 0.0 {
        0.0
    } else {
        lambda * aht
    };
    (aht, a)
}

/// One step of the Erlang B recursion: B(k) from B(k − 1).
fn erlang_b_step(k: u32, a: f64, prev: f64) -> f64 {
    let ab = a * prev;
    ab / (f64::from(k) + ab)
}

/// Erlang C from Erlang B for a stable load (a < c).
fn c_from_b(c: f64, a: f64, b: f64) -> f64 {
    (c * b / (c - a * (1.0 - b))).clamp(0.0, 1.0)
}

/// Erlang C metrics given the Erlang B value `b` for `agents` servers; `t` is the
/// sanitised threshold in seconds.
fn erlang_c_from_b(agents: u32, aht: f64, a: f64, t: f64, b: f64) -> Metrics {
    let c = f64::from(agents);
    if a >= c {
        return Metrics {
            p_block: b,
            p_abandon: None,
            ..saturated(agents, None)
        };
    }
    if a == 0.0 {
        return idle(agents, None);
    }
    // Here 0 < a < c, so AHT is finite and positive.
    let p_wait = c_from_b(c, a, b);
    let service_level = (1.0 - p_wait * (-(c - a) * (t / aht)).exp()).clamp(0.0, 1.0);
    Metrics {
        agents,
        p_block: b,
        p_wait,
        service_level,
        asa_s: p_wait * aht / (c - a),
        occupancy: a / c,
        p_abandon: None,
    }
}

/// Metrics of a system that cannot serve its load (no agents, or infinite load).
fn saturated(agents: u32, p_abandon: Option<f64>) -> Metrics {
    Metrics {
        agents,
        p_block: 1.0,
        p_wait: 1.0,
        service_level: 0.0,
        asa_s: f64::INFINITY,
        occupancy: 1.0,
        p_abandon,
    }
}

/// Metrics of a system with at least one agent and no offered load.
fn idle(agents: u32, p_abandon: Option<f64>) -> Metrics {
    Metrics {
        agents,
        p_block: 0.0,
        p_wait: 0.0,
        service_level: 1.0,
        asa_s: 0.0,
        occupancy: 0.0,
        p_abandon,
    }
}

/// Rate (in units of μ) at which a waiting caller with `ahead` callers in front of it
/// leaves its current position: c service completions plus (ahead + 1) abandonment
/// clocks (those in front and its own).
fn stage_rate(c: f64, gamma: f64, ahead: usize) -> f64 {
    c + (ahead as f64 + 1.0) * gamma
}

/// Stationary distribution of the Erlang A birth–death chain, seen by an arrival (PASTA).
struct Stationary {
    /// P(n < c): an agent is free on arrival.
    p_no_wait: f64,
    /// π_{c+k}: the arrival finds every agent busy and k callers already waiting.
    queue: Vec<f64>,
}

/// Erlang A stationary distribution with `c` agents (c ≥ 1), load `a` (finite, > 0) and
/// abandonment rate `gamma` per waiting caller (finite, > 0), time in units of AHT.
///
/// Birth rate a, death rate d_n = min(n, c) + max(n − c, 0)·γ, π_n ∝ Π a/d_k. d_n is
/// non-decreasing, so the terms rise to a mode and then fall. They are generated outward
/// from the mode with the mode set to 1 (so none exceeds 1 and nothing overflows) and
/// each direction stops as soon as a term is below `PI_TRUNCATION` of the running sum.
/// Bounds: the downward walk takes at most `mode` steps, the upward walk stops at
/// c + `MAX_QUEUE_STATES` − 1; in practice both stop after O(√a + queue length) terms.
fn stationary(c: u32, a: f64, gamma: f64) -> Stationary {
    let c64 = u64::from(c);
    let cf = f64::from(c);
    let death = |n: u64| -> f64 {
        if n <= c64 {
            n as f64
        } else {
            cf + (n - c64) as f64 * gamma
        }
    };
    let top = c64 + MAX_QUEUE_STATES - 1;
    let mode = if a < cf {
        a.floor() as u64
    } else {
        let extra = ((a - cf) / gamma)
            .floor()
            .min((MAX_QUEUE_STATES - 1) as f64);
        c64 + extra as u64
    };

    let mut sum = 1.0;
    let mut below = 0.0;
    // Queue terms from the mode downwards (only states n ≥ c are stored).
    let mut queue_down = Vec::new();
    if mode >= c64 {
        queue_down.push(1.0);
    } else {
        below += 1.0;
    }
    let mut term = 1.0;
    let mut n = mode;
    while n > 0 {
        term *= death(n) / a;
        if term < PI_TRUNCATION * sum {
            break;
        }
        n -= 1;
        sum += term;
        if n >= c64 {
            queue_down.push(term);
        } else {
            below += term;
        }
    }

    // Queue terms above the mode. States are visited consecutively, so the first stored
    // one is max(mode + 1, c).
    let mut queue_up = Vec::new();
    let mut term = 1.0;
    let mut n = mode;
    while n < top {
        n += 1;
        term *= a / death(n);
        if term < PI_TRUNCATION * sum {
            break;
        }
        sum += term;
        if n >= c64 {
            queue_up.push(term);
        } else {
            below += term;
        }
    }

    let mut queue = Vec::new();
    if mode >= c64 {
        // States c .. (lowest kept) were truncated: their mass is negligible.
        let positions = (mode - c64 + 1) as usize;
        queue.resize(positions - queue_down.len(), 0.0);
        queue.extend(queue_down.iter().rev());
    }
    queue.extend(queue_up);
    let scale = 1.0 / sum;
    for p in &mut queue {
        *p *= scale;
    }
    Stationary {
        p_no_wait: below * scale,
        queue,
    }
}

/// Σ_k w_k · P(T_k ≤ t), where T_k is the time a waiting caller starting with k callers
/// ahead needs to pass stages k, k−1, …, 0 of rates r_j = c + (j + 1)·γ (units of μ).
///
/// With w_k = π_{c+k}·P(served | k) this is the probability of waiting and being answered
/// within t: the holding time in each stage is Exp(r_j) whichever event ends it, so the
/// time to be answered is independent of the route and
/// P(answered by t | k) = P(served | k) · P(T_k ≤ t).
///
/// The pure-death chain is uniformized at rate Λ = r_K (K the last stage with weight):
/// one vector of stage masses, started at w, is pushed through the discrete chain and the
/// mass absorbed after n steps is weighted by the Poisson(Λt) probability of n. The
/// Poisson window [L, N] drops at most `POISSON_TAIL` on each side. Mass in stage j can
/// only be absorbed after j + 1 more steps, so step n only updates stages
/// j ≤ min(K, N − n − 1); the total work is Σ_{m=1..N} min(K + 1, m) stage updates. If
/// that exceeds `work_limit` (or Λt is not finite) the normal approximation
/// [`answered_within_normal`] is used instead.
fn answered_within(weights: &[f64], c: f64, gamma: f64, t: f64, work_limit: f64) -> f64 {
    let len = weights.iter().rposition(|&w| w > 0.0).map_or(0, |i| i + 1);
    let w = &weights[..len];
    if w.is_empty() || t <= 0.0 {
        return 0.0;
    }
    let last = len - 1;
    let lambda = stage_rate(c, gamma, last);
    let x = lambda * t;
    if !x.is_finite() || x > work_limit {
        return answered_within_normal(w, c, gamma, t);
    }
    let (first, probs) = poisson_window(x, POISSON_TAIL);
    let n_max = first + probs.len() - 1;
    let stages = len as f64;
    let steps = n_max as f64;
    let work = if steps <= stages {
        steps * (steps + 1.0) / 2.0
    } else {
        stages * (steps - stages) + stages * (stages + 1.0) / 2.0
    };
    if work > work_limit {
        return answered_within_normal(w, c, gamma, t);
    }

    let advance: Vec<f64> = (0..len)
        .map(|j| (stage_rate(c, gamma, j) / lambda).min(1.0))
        .collect();
    let stay: Vec<f64> = advance.iter().map(|p| 1.0 - p).collect();
    let mut mass = w.to_vec();
    let mut absorbed = 0.0;
    let mut total = 0.0;
    for n in 0..=n_max {
        if n >= first {
            total += probs[n - first] * absorbed;
        }
        if n == n_max {
            break;
        }
        let limit = last.min(n_max - n - 1);
        absorbed += advance[0] * mass[0];
        for j in 0..=limit {
            let inflow = if j < last {
                advance[j + 1] * mass[j + 1]
            } else {
                0.0
            };
            mass[j] = stay[j] * mass[j] + inflow;
        }
    }
    total
}

/// Normal approximation of [`answered_within`]: T_k has mean Σ 1/r_j and variance
/// Σ 1/r_j². Only used when the exact uniformization would exceed its work budget, which
/// happens when many stages can be passed within t (then P(T_k ≤ t) is close to 0 or 1
/// for nearly every k). K iterations.
fn answered_within_normal(w: &[f64], c: f64, gamma: f64, t: f64) -> f64 {
    let mut mean = 0.0;
    let mut var = 0.0;
    let mut total = 0.0;
    for (j, &wj) in w.iter().enumerate() {
        let r = stage_rate(c, gamma, j);
        mean += 1.0 / r;
        var += 1.0 / (r * r);
        let p = if var > 0.0 && var.is_finite() {
            std_normal_cdf((t - mean) / var.sqrt())
        } else if t >= mean {
            1.0
        } else {
            0.0
        };
        total += wj * p;
    }
    total
}

/// Standard normal CDF from the erfc approximation of Abramowitz & Stegun 7.1.26
/// (absolute error below 1.5e-7).
fn std_normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return 0.5;
    }
    let x = z.abs() / SQRT_2;
    let tau = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = tau
        * (0.254_829_592
            + tau
                * (-0.284_496_736
                    + tau * (1.421_413_741 + tau * (-1.453_152_027 + tau * 1.061_405_429))));
    let upper = 0.5 * poly * (-x * x).exp();
    if z >= 0.0 { 1.0 - upper } else { upper }
}

/// Poisson(x) probabilities on a window [L, N] that leaves out at most `tail` of the
/// mass on each side: returns (L, [p_L, …, p_N]).
///
/// Terms are generated from the mode (set to 1) outward and normalised at the end, so
/// e^{−x} never underflows. Below the mode p_{n−1}/p_n = n/x = q < 1, so the lower tail
/// is at most p_n·q/(1 − q); above it p_{n+1}/p_n = x/(n + 1) = q, likewise. Both tests
/// use the running (partial) sum, which is smaller than the full one, so they are
/// conservative. Bounds: at most `mode` steps down and 64·√x + 1000 steps up (the upper
/// tail is below 1e-12 after about 7.5·√x + 30).
fn poisson_window(x: f64, tail: f64) -> (usize, Vec<f64>) {
    let mode = x.floor() as usize;
    let mut sum = 1.0;
    let mut lower = Vec::new();
    let mut p = 1.0;
    let mut n = mode;
    while n > 0 {
        let q = n as f64 / x;
        if q < 1.0 && p * q / (1.0 - q) < tail * sum {
            break;
        }
        p *= q;
        n -= 1;
        sum += p;
        lower.push(p);
    }
    let first = n;
    let mut upper = Vec::new();
    let mut p = 1.0;
    let max_up = (64.0 * x.sqrt()) as usize + 1000;
    // `n` is the highest index kept so far, whose (unnormalised) probability is `p`.
    for n in mode..mode + max_up {
        let q = x / (n as f64 + 1.0);
        if q < 1.0 && p * q / (1.0 - q) < tail * sum {
            break;
        }
        p *= q;
        sum += p;
        upper.push(p);
    }
    let mut probs: Vec<f64> = lower.into_iter().rev().collect();
    probs.push(1.0);
    probs.extend(upper);
    let scale = 1.0 / sum;
    for p in &mut probs {
        *p *= scale;
    }
    (first, probs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads no caller should send, which must still give finite, sane answers.
    const ODD_LOADS: [Load; 6] = [
        Load {
            arrivals_per_s: f64::NAN,
            aht_s: 240.0,
        },
        Load {
            arrivals_per_s: -1.0,
            aht_s: 240.0,
        },
        Load {
            arrivals_per_s: 0.1,
            aht_s: f64::NAN,
        },
        Load {
            arrivals_per_s: f64::INFINITY,
            aht_s: 0.0,
        },
        Load {
            arrivals_per_s: f64::INFINITY,
            aht_s: 240.0,
        },
        Load {
            arrivals_per_s: 0.1,
            aht_s: f64::INFINITY,
        },
    ];

    fn per_hour(calls_per_hour: f64, aht_s: f64) -> Load {
        Load {
            arrivals_per_s: calls_per_hour / 3600.0,
            aht_s,
        }
    }

    fn close(actual: f64, expected: f64, tol: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= tol,
            "{what}: got {actual}, expected {expected} ± {tol}"
        );
    }

    fn assert_sane(m: &Metrics) {
        for (name, v) in [
            ("p_block", m.p_block),
            ("p_wait", m.p_wait),
            ("service_level", m.service_level),
            ("occupancy", m.occupancy),
        ] {
            assert!((0.0..=1.0).contains(&v), "{name} = {v} in {m:?}");
        }
        assert!(m.asa_s >= 0.0, "asa {m:?}");
        if let Some(p) = m.p_abandon {
            assert!((0.0..=1.0).contains(&p), "p_abandon {m:?}");
        }
    }

    #[test]
    fn load_erlangs_is_rate_times_aht() {
        close(per_hour(360.0, 240.0).erlangs(), 24.0, 1e-12, "A");
    }

    #[test]
    fn erlang_b_matches_table_value() {
        // Published Erlang B tables: B(10 servers, 5 Erlangs) = 0.018385.
        close(erlang_b(10, 5.0), 0.018385, 5e-7, "B(10, 5)");
        // Direct formula (A^c/c!) / Σ A^k/k! for a small case.
        let (c, a) = (4_u32, 3.0_f64);
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..=c {
            term *= a / f64::from(k);
            sum += term;
        }
        close(erlang_b(c, a), term / sum, 1e-15, "B(4, 3)");
    }

    #[test]
    fn erlang_b_handles_thousands_of_servers() {
        let b = erlang_b(2000, 1900.0);
        assert!(b.is_finite() && b > 0.0 && b < 1.0, "B = {b}");
        let c = erlang_c(2000, 1900.0);
        assert!(c.is_finite() && c > b && c < 1.0, "C = {c}");
        // Much more load than servers: B tends to 1 − c/A.
        close(erlang_b(2000, 1e7), 1.0 - 2000.0 / 1e7, 1e-6, "B heavy");
    }

    #[test]
    fn erlang_b_and_c_edge_cases() {
        assert_eq!(erlang_b(0, 3.0), 1.0);
        assert_eq!(erlang_b(5, 0.0), 0.0);
        assert_eq!(erlang_b(5, f64::INFINITY), 1.0);
        assert_eq!(erlang_b(5, f64::NAN), 0.0);
        assert_eq!(erlang_b(5, -1.0), 0.0);
        assert_eq!(erlang_c(0, 0.0), 1.0);
        assert_eq!(erlang_c(5, 5.0), 1.0);
        assert_eq!(erlang_c(5, 7.5), 1.0);
        assert_eq!(erlang_c(5, 0.0), 0.0);
        assert_eq!(erlang_c(5, f64::NAN), 0.0);
    }

    #[test]
    fn erlang_c_call_centre_helper_example() {
        // 200 calls/h, AHT 180 s, 14 agents, 20 s threshold.
        let m = erlang_c_metrics(per_hour(200.0, 180.0), 14, 20.0);
        close(m.p_wait, 0.17413, 5e-4, "P(wait)");
        close(m.service_level, 0.88835, 5e-4, "SL");
        close(m.occupancy, 0.7143, 5e-4, "occupancy");
        assert_eq!(m.p_abandon, None);
        assert_eq!(m.p_block, erlang_b(14, 10.0));
    }

    #[test]
    fn erlang_c_reference_values() {
        // (calls/h, AHT, agents, P(wait), SL within 20 s, ASA s)
        let cases = [
            (100.0, 180.0, 7, 0.3241, 0.7404, 29.17),
            (360.0, 240.0, 28, 0.3331, 0.7613, 19.99),
            (1200.0, 300.0, 108, 0.3283, 0.8074, 12.31),
        ];
        for (calls, aht, agents, p_wait, sl, asa) in cases {
            let m = erlang_c_metrics(per_hour(calls, aht), agents, 20.0);
            close(m.p_wait, p_wait, 5e-4, "P(wait)");
            close(m.service_level, sl, 5e-4, "SL");
            close(m.asa_s, asa, 0.01, "ASA");
            close(m.p_wait, erlang_c(agents, calls * aht / 3600.0), 1e-15, "C");
        }
    }

    #[test]
    fn erlang_c_unstable_and_degenerate_inputs() {
        let load = per_hour(360.0, 240.0); // 24 Erlangs
        for agents in [0, 10, 24] {
            let m = erlang_c_metrics(load, agents, 20.0);
            assert_eq!(m.p_wait, 1.0);
            assert_eq!(m.service_level, 0.0);
            assert_eq!(m.asa_s, f64::INFINITY);
            assert_eq!(m.occupancy, 1.0);
            assert_eq!(m.p_block, erlang_b(agents, 24.0));
        }
        let idle = erlang_c_metrics(per_hour(0.0, 240.0), 3, 20.0);
        assert_eq!(
            (idle.p_wait, idle.service_level, idle.asa_s),
            (0.0, 1.0, 0.0)
        );
        let weird = ODD_LOADS;
        for load in weird {
            for t in [f64::NAN, -5.0, 0.0, 20.0, f64::INFINITY] {
                assert_sane(&erlang_c_metrics(load, 30, t));
            }
        }
        // Threshold 0 gives 1 − C; infinite threshold gives 1.
        let m0 = erlang_c_metrics(load, 28, 0.0);
        close(m0.service_level, 1.0 - m0.p_wait, 1e-15, "SL(0)");
        assert_eq!(erlang_c_metrics(load, 28, f64::INFINITY).service_level, 1.0);
    }

    #[test]
    fn erlang_c_is_a_probability_and_decreasing_in_agents() {
        for a in [0.5, 3.0, 24.0, 99.5, 950.0] {
            let mut prev = 1.0;
            for c in 0..(a as u32 + 200) {
                let p = erlang_c(c, a);
                assert!((0.0..=1.0).contains(&p), "C({c}, {a}) = {p}");
                assert!(p <= prev, "C not decreasing at c={c}, A={a}");
                prev = p;
            }
        }
    }

    #[test]
    fn erlang_a_reference_values() {
        // 360 calls/h, AHT 240 s, 26 agents, mean patience 60 s, 20 s threshold.
        let m = erlang_a_metrics(per_hour(360.0, 240.0), 26, 60.0, 20.0);
        assert_sane(&m);
        close(m.p_abandon.unwrap(), 0.0691, 5e-4, "P(abandon)");
        close(m.service_level, 0.8693, 5e-4, "SL");
        close(m.asa_s, 3.42, 0.01, "ASA");
        // The same case evaluated independently at 120 significant digits (birth–death
        // terms summed directly, P(T_k ≤ t) from the closed-form hypoexponential CDF).
        close(
            m.p_abandon.unwrap(),
            0.069_143_320_05,
            1e-10,
            "P(abandon), exact",
        );
        close(m.service_level, 0.869_294_282_2, 1e-9, "SL, exact");
        close(m.asa_s, 3.424_486_609, 1e-8, "ASA, exact");
        close(m.p_wait, 0.262_041_840_1, 1e-9, "P(wait), exact");
        close(m.p_block, erlang_b(26, 24.0), 1e-15, "p_block");
        close(
            m.occupancy,
            24.0 * (1.0 - m.p_abandon.unwrap()) / 26.0,
            1e-12,
            "occ",
        );
    }

    #[test]
    fn erlang_a_abandonment_formulas_agree() {
        for (a, c, gamma) in [
            (24.0, 26, 4.0),
            (24.0, 20, 0.5),
            (300.0, 280, 0.1),
            (5.0, 9, 2.0),
        ] {
            let dist = stationary(c, a, gamma);
            let cf = f64::from(c);
            let total = dist.p_no_wait + dist.queue.iter().sum::<f64>();
            close(total, 1.0, 1e-12, "normalisation");
            let mut mean_queue = 0.0;
            let mut from_stages = 0.0;
            for (k, &p) in dist.queue.iter().enumerate() {
                mean_queue += k as f64 * p;
                from_stages += p * (1.0 - cf / stage_rate(cf, gamma, k));
            }
            let from_queue = gamma * mean_queue / a;
            close(from_stages, from_queue, 1e-12, "P(abandon) two ways");
            // Carried load: E[busy agents] = A·(1 − P(abandon)).
            let mut busy = dist.queue.iter().sum::<f64>() * cf;
            let mut term = 1.0;
            let mut norm = 1.0;
            let mut weighted = 0.0;
            for n in 1..c {
                term *= a / f64::from(n);
                norm += term;
                weighted += f64::from(n) * term;
            }
            busy += dist.p_no_wait * weighted / norm;
            close(busy, a * (1.0 - from_queue), 1e-9, "carried load");
        }
    }

    #[test]
    fn erlang_a_with_huge_patience_matches_erlang_c() {
        for (calls, aht, agents) in [(360.0, 240.0, 28), (200.0, 180.0, 14), (1200.0, 300.0, 108)] {
            let load = per_hour(calls, aht);
            let c = erlang_c_metrics(load, agents, 20.0);
            let a = erlang_a_metrics(load, agents, 1e9, 20.0);
            for (name, x, y) in [
                ("p_wait", a.p_wait, c.p_wait),
                ("service_level", a.service_level, c.service_level),
                ("occupancy", a.occupancy, c.occupancy),
                ("p_block", a.p_block, c.p_block),
            ] {
                assert!((x - y).abs() <= 1e-6 * y.abs(), "{name}: A {x} vs C {y}");
            }
            // The ASA is the most patience-sensitive figure: the true model difference is
            // linear in θ with d ln(ASA)/dθ ≈ −1060 s at 24 Erlangs on 28 agents, i.e. a
            // relative gap of 1.06e-6 at 1e9 s (it scales exactly as 1/patience, so it is
            // not numerical error). Allow 2e-6 at 1e9 s and require 1e-6 at 1e10 s.
            assert!(
                (a.asa_s - c.asa_s).abs() <= 2e-6 * c.asa_s,
                "asa {a:?} vs {c:?}"
            );
            let a10 = erlang_a_metrics(load, agents, 1e10, 20.0);
            assert!(
                (a10.asa_s - c.asa_s).abs() <= 1e-6 * c.asa_s,
                "asa {a10:?} vs {c:?}"
            );
            assert!(a.p_abandon.unwrap() < 1e-6);
        }
        // Infinite patience is exactly Erlang C.
        let load = per_hour(360.0, 240.0);
        let inf = erlang_a_metrics(load, 28, f64::INFINITY, 20.0);
        assert_eq!(
            inf,
            Metrics {
                p_abandon: Some(0.0),
                ..erlang_c_metrics(load, 28, 20.0)
            }
        );
    }

    #[test]
    fn erlang_a_is_stable_in_overload() {
        let load = per_hour(360.0, 240.0); // 24 Erlangs
        for agents in [1, 10, 20, 24] {
            let m = erlang_a_metrics(load, agents, 60.0, 20.0);
            assert_sane(&m);
            assert!(m.asa_s.is_finite());
            // Everything that is not carried abandons.
            let carried = m.occupancy * f64::from(agents);
            close(
                carried,
                24.0 * (1.0 - m.p_abandon.unwrap()),
                1e-9,
                "carried",
            );
            assert!(m.p_abandon.unwrap() > 0.0);
        }
        // Heavy overload with long patience: large queue, still finite.
        let m = erlang_a_metrics(per_hour(3600.0 * 2.0, 300.0), 400, 1800.0, 20.0);
        assert_sane(&m);
        close(m.occupancy, 1.0, 1e-6, "saturated occupancy");
        close(
            m.p_abandon.unwrap(),
            1.0 - 400.0 / 600.0,
            1e-3,
            "fluid abandonment",
        );
    }

    #[test]
    fn erlang_a_service_level_increases_with_agents() {
        for (load, patience) in [
            (per_hour(360.0, 240.0), 60.0),
            (per_hour(100.0, 180.0), 300.0),
            (per_hour(1200.0, 300.0), 30.0),
        ] {
            let mut prev = -1.0;
            for agents in 0..130 {
                let m = erlang_a_metrics(load, agents, patience, 20.0);
                assert_sane(&m);
                assert!(
                    m.service_level >= prev - 1e-12,
                    "SL fell at {agents}: {} < {prev}",
                    m.service_level
                );
                prev = m.service_level;
            }
        }
    }

    #[test]
    fn erlang_a_large_centre() {
        // 1000 agents, 40% overload, patience long enough for hundreds to queue.
        let load = per_hour(1.4 * 1000.0 * 3600.0 / 300.0, 300.0);
        let m = erlang_a_metrics(load, 1000, 600.0, 20.0);
        assert_sane(&m);
        assert!(m.p_wait > 0.99 && m.service_level < 0.05, "{m:?}");
        // Slightly under-loaded: a realistic operating point.
        let load = per_hour(0.97 * 1000.0 * 3600.0 / 300.0, 300.0);
        let m = erlang_a_metrics(load, 1000, 180.0, 20.0);
        assert_sane(&m);
        let c = erlang_c_metrics(load, 1000, 20.0);
        assert!(
            m.service_level > c.service_level && m.asa_s < c.asa_s,
            "{m:?} vs {c:?}"
        );
    }

    #[test]
    fn erlang_a_limits_and_degenerate_inputs() {
        let load = per_hour(360.0, 240.0);
        // Zero patience: the Erlang B loss system.
        let b = erlang_b(26, 24.0);
        let m = erlang_a_metrics(load, 26, 0.0, 20.0);
        close(m.p_abandon.unwrap(), b, 1e-15, "loss abandon");
        close(m.service_level, 1.0 - b, 1e-15, "loss SL");
        // A tiny patience approaches it.
        let m = erlang_a_metrics(load, 26, 1e-3, 20.0);
        close(m.p_abandon.unwrap(), b, 1e-3, "tiny patience");
        let none = erlang_a_metrics(load, 0, 60.0, 20.0);
        assert_eq!(none.p_abandon, Some(1.0));
        assert_eq!(none.service_level, 0.0);
        let idle = erlang_a_metrics(per_hour(0.0, 240.0), 3, 60.0, 20.0);
        assert_eq!(idle.service_level, 1.0);
        let weird_loads = ODD_LOADS.into_iter().chain([
            Load {
                arrivals_per_s: 1e300,
                aht_s: 1e-300,
            },
            load,
        ]);
        for load in weird_loads {
            for patience in [f64::NAN, -1.0, 0.0, 1e-300, 60.0, 1e300, f64::INFINITY] {
                for t in [f64::NAN, -5.0, 0.0, 20.0, 1e6, f64::INFINITY] {
                    for agents in [0, 1, 26] {
                        let m = erlang_a_metrics(load, agents, patience, t);
                        assert_sane(&m);
                        assert!(!m.asa_s.is_nan(), "{load:?} {patience} {t} {m:?}");
                    }
                }
            }
        }
        // Threshold 0: only those answered at once; infinite threshold: all answered.
        let m = erlang_a_metrics(load, 26, 60.0, 0.0);
        close(m.service_level, 1.0 - m.p_wait, 1e-12, "SL(0)");
        let m = erlang_a_metrics(load, 26, 60.0, f64::INFINITY);
        close(m.service_level, 1.0 - m.p_abandon.unwrap(), 1e-9, "SL(inf)");
    }

    #[test]
    fn uniformization_matches_closed_forms() {
        let (c, gamma) = (2.0, 0.5);
        let (r0, r1) = (stage_rate(c, gamma, 0), stage_rate(c, gamma, 1));
        for t in [0.0, 0.01, 0.3, 1.0, 4.0] {
            let one = 1.0 - (-r0 * t).exp();
            close(
                answered_within(&[1.0], c, gamma, t, 1e9),
                one,
                1e-11,
                "one stage",
            );
            let two = 1.0 - (r1 * (-r0 * t).exp() - r0 * (-r1 * t).exp()) / (r1 - r0);
            close(
                answered_within(&[0.0, 1.0], c, gamma, t, 1e9),
                two,
                1e-11,
                "two stages",
            );
            close(
                answered_within(&[0.25, 0.75], c, gamma, t, 1e9),
                0.25 * one + 0.75 * two,
                1e-11,
                "mixture",
            );
        }
        // Equal rates (γ = 0) reduce to Erlang(k + 1, c) distributions.
        let (c, t) = (3.0, 0.7);
        let mut weights = vec![0.0; 6];
        weights[5] = 1.0;
        let mut term = 1.0;
        let mut sum = 1.0;
        for i in 1..6 {
            term *= c * t / f64::from(i);
            sum += term;
        }
        let erlang6 = 1.0 - (-c * t).exp() * sum;
        close(
            answered_within(&weights, c, 0.0, t, 1e9),
            erlang6,
            1e-11,
            "Erlang-6",
        );
    }

    #[test]
    fn normal_fallback_is_close_when_many_stages_pass() {
        let dist = stationary(1000, 1300.0, 0.5);
        let w: Vec<f64> = dist
            .queue
            .iter()
            .enumerate()
            .map(|(k, p)| p * 1000.0 / stage_rate(1000.0, 0.5, k))
            .collect();
        for t in [0.05, 0.3, 1.0] {
            let exact = answered_within(&w, 1000.0, 0.5, t, 1e12);
            let approx = answered_within(&w, 1000.0, 0.5, t, 0.0);
            close(approx, exact, 2e-3, "normal vs uniformization");
        }
        assert!((std_normal_cdf(0.0) - 0.5).abs() < 1e-9);
        close(std_normal_cdf(1.959_963_985), 0.975, 2e-7, "Φ(1.96)");
        assert_eq!(std_normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(std_normal_cdf(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn poisson_window_is_a_distribution() {
        for x in [1e-9, 0.5, 3.0, 40.0, 2500.0, 1e6] {
            let (first, probs) = poisson_window(x, POISSON_TAIL);
            close(probs.iter().sum::<f64>(), 1.0, 1e-12, "sum");
            let mean: f64 = probs
                .iter()
                .enumerate()
                .map(|(i, p)| (first + i) as f64 * p)
                .sum();
            close(mean, x, 1e-9 * x.max(1.0), "mean");
        }
        // Exact small case.
        let (first, probs) = poisson_window(2.0, POISSON_TAIL);
        assert_eq!(first, 0);
        // Renormalising over the window inflates each term by the dropped mass (≤ 1e-12).
        close(probs[0], (-2.0_f64).exp(), 1e-12, "p0");
        close(probs[3], (-2.0_f64).exp() * 8.0 / 6.0, 1e-12, "p3");
    }

    #[test]
    fn staffing_for_80_in_20_erlang_c() {
        let load = per_hour(360.0, 240.0);
        let agents = agents_for_service_level(load, None, 20.0, 0.8, 200).unwrap();
        assert!(erlang_c_metrics(load, agents, 20.0).service_level >= 0.8);
        assert!(erlang_c_metrics(load, agents - 1, 20.0).service_level < 0.8);
        assert_eq!(agents, 29);
        // Not reachable within the limit.
        assert_eq!(agents_for_service_level(load, None, 20.0, 0.8, 28), None);
        assert_eq!(
            agents_for_service_level(load, None, 20.0, 1.5, 100_000),
            None
        );
        assert_eq!(
            agents_for_service_level(load, None, 20.0, f64::NAN, 100),
            None
        );
        assert_eq!(
            agents_for_service_level(load, None, 20.0, 0.0, 100),
            Some(0)
        );
    }

    #[test]
    fn staffing_erlang_a_is_smallest() {
        let load = per_hour(360.0, 240.0);
        let agents = agents_for_service_level(load, Some(60.0), 20.0, 0.8, 200).unwrap();
        assert!(erlang_a_metrics(load, agents, 60.0, 20.0).service_level >= 0.8);
        assert!(erlang_a_metrics(load, agents - 1, 60.0, 20.0).service_level < 0.8);
        // A linear scan agrees with the bisection.
        let scan = (0..=200)
            .find(|&c| erlang_a_metrics(load, c, 60.0, 20.0).service_level >= 0.8)
            .unwrap();
        assert_eq!(agents, scan);
        assert_eq!(
            agents_for_service_level(load, Some(60.0), 20.0, 0.8, agents - 1),
            None
        );
        // Infinite patience is Erlang C.
        assert_eq!(
            agents_for_service_level(load, Some(f64::INFINITY), 20.0, 0.8, 200),
            Some(29)
        );
    }
}
