//! `switchboard day`: a simulated working day of the demo support desk, routed by the real
//! engine, shown as a live terminal wallboard.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use switchboard_routing::{AgentId, AgentState, QueueId};
use switchboard_sim::report::sl_definition;
use switchboard_sim::run::Replication;
use switchboard_sim::scenario::{Model, parse_scenario};
use switchboard_sim::stats::ratio;

/// The demo scenario, shipped inside the binary.
const DEMO: &str = include_str!("../../../examples/scenarios/demo.yaml");

#[derive(Args)]
pub struct DayArgs {
    /// Simulated seconds per real second (0: as fast as possible).
    #[arg(long, default_value_t = 3600.0)]
    speed: f64,
    /// Minutes of simulated time between wallboard updates.
    #[arg(long, default_value_t = 30)]
    every: u64,
    /// Seed for the day's random arrivals and handle times.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: DayArgs) -> Result<()> {
    let mut model: Model = parse_scenario("demo.yaml", DEMO)?;
    if let Some(seed) = args.seed {
        model.seed = seed;
    }
    println!(
        "{} — {} agents, {} queues; a 10-hour day from 08:00, routed by the real ACD engine.",
        model.name,
        model.agents.len(),
        model.queues.len()
    );
    println!("service level = {}\n", sl_definition(&model));
    let mut rep = Replication::new(&model, 0);
    let step = Duration::from_secs(60 * args.every.max(1));
    let end = rep.now().after(model.duration);
    let mut t = rep.now();
    while t < end {
        t = t.after(step).min(end);
        rep.run_until(t);
        wallboard(&model, &rep);
        if args.speed > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(step.as_secs_f64() / args.speed));
        }
    }
    rep.run();
    let kpis = rep.kpis();
    println!("End of day (every contact that arrived has an outcome):");
    println!(
        "{:<10} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>10}",
        "queue", "offered", "answered", "abandoned", "SL", "ASA", "AHT", "longest", "EWT error"
    );
    for (q, k) in model.queues.iter().zip(&kpis.queues) {
        println!(
            "{:<10} {:>8} {:>8} {:>9} {:>7.1}% {:>7.1}s {:>7.1}s {:>8.1}s {:>9.1}s",
            q.name,
            k.offered,
            k.answered,
            k.abandoned,
            100.0 * k.service_level,
            k.asa_s,
            k.aht_s,
            k.longest_wait_s,
            k.ewt_mae_s
        );
    }
    println!("agent occupancy {:.1}%", 100.0 * kpis.occupancy);
    println!(
        "\nFor confidence intervals over {} replicated days: switchboard sim examples/scenarios/demo.yaml",
        model.replications
    );
    Ok(())
}

fn wallboard(model: &Model, rep: &Replication<'_>) {
    let secs = rep.now().as_secs_f64() as u64;
    let clock = 8 * 3600 + secs;
    let mut states = [0usize; 6];
    for i in 0..model.agents.len() {
        let slot = match rep.engine().agent_state(AgentId(i as u32)) {
            Some(AgentState::Available) => 0,
            Some(AgentState::Reserved | AgentState::Busy) => 1,
            Some(AgentState::WrapUp) => 2,
            Some(AgentState::Away(_)) => 3,
            _ => 4,
        };
        states[slot] += 1;
    }
    println!(
        "{:02}:{:02}  agents: {} available, {} on contacts, {} wrap-up, {} away, {} offline",
        clock / 3600,
        clock / 60 % 60,
        states[0],
        states[1],
        states[2],
        states[3],
        states[4]
    );
    for (i, q) in model.queues.iter().enumerate() {
        let t = &rep.queues[i];
        println!(
            "  {:<8} waiting {:>3}  offered {:>5}  answered {:>5}  abandoned {:>4}  SL {:>6.1}%  ASA {:>6.1}s",
            q.name,
            rep.engine().waiting(QueueId(i as u32)),
            t.offered(),
            t.answered,
            t.abandoned,
            100.0 * ratio(t.answered_within as f64, t.offered() as f64),
            ratio(t.answered_wait_s, t.answered as f64),
        );
    }
}
