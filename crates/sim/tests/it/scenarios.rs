//! Scenario files: every contact is accounted for, runs are reproducible, and routing
//! features (escalation, overflow, shifts, after-call work) show up in the results.

use switchboard_sim::run::Replication;
use switchboard_sim::scenario::{Model, parse_scenario};

fn load(path: &str) -> Model {
    let full = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).expect("example scenario exists");
    parse_scenario(path, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_contact_has_one_outcome_and_every_answer_an_agent() {
    for path in [
        "examples/scenarios/demo.yaml",
        "examples/scenarios/multi-skill.yaml",
        "examples/scenarios/mmc.yaml",
    ] {
        let model = load(path);
        let mut rep = Replication::new(&model, 0);
        rep.run();
        let mut answered = 0;
        for (q, t) in model.queues.iter().zip(&rep.queues) {
            assert!(t.arrived > 0, "{path}: {} got no contacts", q.name);
            assert_eq!(
                t.arrived,
                t.answered + t.abandoned + t.short_abandons,
                "{path}: {} loses contacts",
                q.name
            );
            assert_eq!(t.handled, t.answered, "{path}: {} unfinished", q.name);
            answered += t.answered;
        }
        let handled: u64 = rep.agents.iter().map(|a| a.handled).sum();
        assert_eq!(handled, answered, "{path}: agents' counts add up");
        assert_eq!(
            rep.engine().table_sizes().contacts,
            0,
            "{path}: nothing left behind"
        );
    }
}

#[test]
fn replications_are_reproducible_and_independent() {
    let model = load("examples/scenarios/multi-skill.yaml");
    let run = |i| {
        let mut rep = Replication::new(&model, i);
        rep.run();
        rep.kpis()
    };
    assert_eq!(run(0), run(0), "same seed, same result");
    assert_ne!(run(0), run(1), "replications differ");
}

#[test]
fn overflow_and_language_escalation_reach_other_agents() {
    // French callers wait for the four francophones, then (after 90 s) anyone in general.
    let mut model = load("examples/scenarios/demo.yaml");
    let french = model
        .queues
        .iter()
        .position(|q| q.name == "french")
        .expect("french queue");
    for a in &mut model.agents {
        if a.group == "francophone" {
            a.shifts = vec![(0.0, 1.0)];
        }
    }
    let mut rep = Replication::new(&model, 0);
    rep.run();
    let t = &rep.queues[french];
    assert!(t.answered > 0, "answered only thanks to the escalation");
    assert!(
        t.answered_wait_s / t.answered as f64 >= 90.0,
        "answered only after the 90 s step"
    );
}

#[test]
fn after_call_work_counts_in_handle_time_and_occupancy() {
    let model = load("examples/scenarios/multi-skill.yaml");
    let mut rep = Replication::new(&model, 0);
    rep.run();
    let k = rep.kpis();
    let billing = &k.queues[0];
    // Billing: log-normal talk with mean 300 s plus fixed 20 s of after-call work.
    assert!(
        (billing.aht_s - 320.0).abs() < 15.0,
        "AHT {}",
        billing.aht_s
    );
    assert!(
        k.occupancy > 0.3 && k.occupancy < 1.0,
        "occupancy {}",
        k.occupancy
    );
}

mod untrusted_input {
    use proptest::prelude::*;
    use switchboard_sim::scenario::{Dist, parse_duration, parse_rate, parse_scenario};

    const EXAMPLE: &str = include_str!("../../../../examples/scenarios/multi-skill.yaml");

    proptest! {
        /// Any text, and any single-byte-range mutation of a valid file, gives a model or an
        /// error message: never a panic.
        #[test]
        fn scenario_parsing_never_panics(text in "\\PC{0,400}", cut in 0usize..2000, insert in "\\PC{0,12}") {
            let _ = parse_scenario("fuzz.yaml", &text);
            let at = EXAMPLE.char_indices().map(|(i, _)| i).nth(cut % EXAMPLE.chars().count()).unwrap_or(0);
            let mutated = format!("{}{}{}", &EXAMPLE[..at], insert, &EXAMPLE[at..]);
            if let Err(e) = parse_scenario("fuzz.yaml", &mutated) {
                prop_assert!(e.0.starts_with("fuzz.yaml"), "{}", e.0);
            }
        }

        #[test]
        fn unit_parsing_never_panics(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
            let _ = parse_rate(&text);
            if let Ok(d) = Dist::parse(&text) {
                prop_assert!(d.mean().is_finite());
            }
        }
    }
}
