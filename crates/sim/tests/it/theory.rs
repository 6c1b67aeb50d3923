//! The simulator, driving the real routing engine, reproduces queueing theory.
//!
//! Each check runs independent replications after a warm-up of ten relaxation times and
//! compares the replication mean with the exact formula. The tolerance is five standard
//! errors of the mean as measured from the replications themselves (a false alarm has
//! probability below 0.1% even with t(9) tails), and the test also requires the standard
//! error to be small, so that it has the power to catch a real discrepancy.

use std::time::Duration;

use switchboard_sim::erlang::{Load, erlang_a_metrics, erlang_c_metrics};
use switchboard_sim::report::simulate;
use switchboard_sim::scenario::{Dist, SingleQueue, SlConvention, SlPolicy};
use switchboard_sim::stats::Estimate;

fn single(
    per_hour: f64,
    aht: f64,
    agents: u32,
    patience: Option<f64>,
    calls: u64,
    seed: u64,
) -> SingleQueue {
    SingleQueue {
        arrivals_per_s: per_hour / 3600.0,
        handle: Dist::Exponential(aht),
        agents,
        patience: patience.map(Dist::Exponential),
        sl: SlPolicy {
            threshold: Duration::from_secs(20),
            convention: SlConvention::Offered,
            short_abandon: None,
        },
        calls,
        replications: 10,
        seed,
        warmup: None,
    }
}

fn close(what: &str, e: &Estimate, theory: f64, max_se: f64, seed: u64) {
    eprintln!(
        "{what}: simulated {:.5} ± {:.5}, theory {theory:.5}",
        e.mean, e.ci95
    );
    assert!(
        e.std_error <= max_se,
        "{what}: standard error {} too large to test (seed {seed})",
        e.std_error
    );
    assert!(
        (e.mean - theory).abs() <= 5.0 * e.std_error,
        "{what}: simulated {:.5} ± {:.5} (95% CI), theory {theory:.5} (seed {seed})",
        e.mean,
        e.ci95
    );
}

fn check_erlang_c(per_hour: f64, aht: f64, agents: u32, calls: u64, expected: (f64, f64, f64)) {
    let seed = 20_261_122;
    let theory = erlang_c_metrics(
        Load {
            arrivals_per_s: per_hour / 3600.0,
            aht_s: aht,
        },
        agents,
        20.0,
    );
    // The formulas agree with the published figures quoted in the issue.
    assert!((theory.p_wait - expected.0).abs() < 5e-4);
    assert!((theory.service_level - expected.1).abs() < 5e-4);
    assert!((theory.asa_s - expected.2).abs() < 0.01);
    let report = simulate(&single(per_hour, aht, agents, None, calls, seed).model());
    let q = &report.queues[0];
    close("P(wait)", &q.p_wait, theory.p_wait, 0.004, seed);
    close("SL20", &q.service_level, theory.service_level, 0.004, seed);
    close("ASA", &q.asa_s, theory.asa_s, 0.03 * theory.asa_s, seed);
    close(
        "occupancy",
        &report.occupancy,
        theory.occupancy,
        0.003,
        seed,
    );
    assert!(q.abandoned.mean == 0.0);
}

#[test]
fn mmc_small_centre() {
    check_erlang_c(100.0, 180.0, 7, 100_000, (0.3241, 0.7404, 29.17));
}

#[test]
fn mmc_medium_centre() {
    check_erlang_c(360.0, 240.0, 28, 200_000, (0.3331, 0.7613, 19.99));
}

#[test]
fn mmc_large_centre() {
    // A large centre relaxes slowly (τ ≈ 1,950 s), so it needs longer replications.
    check_erlang_c(1200.0, 300.0, 108, 600_000, (0.3283, 0.8074, 12.31));
}

#[test]
fn erlang_a_with_impatient_callers() {
    let seed = 7_001;
    let load = Load {
        arrivals_per_s: 0.1,
        aht_s: 240.0,
    };
    let theory = erlang_a_metrics(load, 26, 60.0, 20.0);
    let p_abandon = theory.p_abandon.expect("Erlang A gives abandonment");
    assert!((p_abandon - 0.0691).abs() < 5e-4);
    assert!((theory.service_level - 0.8693).abs() < 5e-4);
    assert!((theory.asa_s - 3.42).abs() < 0.01);
    let report = simulate(&single(360.0, 240.0, 26, Some(60.0), 100_000, seed).model());
    let q = &report.queues[0];
    close("P(abandon)", &q.abandon_rate, p_abandon, 0.003, seed);
    close(
        "answered within 20 s / offered",
        &q.service_level,
        theory.service_level,
        0.004,
        seed,
    );
    close("ASA of answered", &q.asa_s, theory.asa_s, 0.05, seed);
    close("P(wait)", &q.p_wait, theory.p_wait, 0.004, seed);
}

#[test]
fn ewt_announced_at_entry_is_accurate_for_mmc() {
    // For M/M/c the estimate (k + 1)·AHT / c is the exact conditional mean wait, so its
    // error is the spread of the wait itself: the mean absolute error of an exponential
    // with mean AHT / c is about that mean, and must stay well below the mean wait of
    // those who wait (a naive "ASA for everyone" estimate does worse).
    let report = simulate(&single(360.0, 240.0, 28, None, 50_000, 3).model());
    let q = &report.queues[0];
    let mean_wait_if_waiting = q.asa_s.mean / q.p_wait.mean;
    assert!(q.ewt_mae_s.mean > 0.0);
    assert!(
        q.ewt_mae_s.mean < mean_wait_if_waiting,
        "EWT error {} vs mean wait of waiters {}",
        q.ewt_mae_s.mean,
        mean_wait_if_waiting
    );
}
