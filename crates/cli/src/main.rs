//! The `switchboard` command: the server (`serve`, `demo`), the simulator, the Erlang
//! staffing calculator and the flow tools.

mod day;
mod flow;
mod serve;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use switchboard_sim::erlang::Load;
use switchboard_sim::report::simulate;
use switchboard_sim::scenario::{
    Dist, MAX_REPLICATIONS, SingleQueue, SlConvention, SlPolicy, parse_duration, parse_rate,
    parse_scenario,
};
use switchboard_sim::staffing::{
    ErlangQuery, SingleQueueSummary, check_single_queue, erlang_table, parse_agents, parse_target,
};

/// Switchboard: an open-source contact center.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the contact-center server.
    Serve(serve::ServeArgs),
    /// Run the server with the demo company (Acme) in a local data directory.
    Demo(serve::DemoArgs),
    /// A simulated day of calls through the real routing engine, with a live wallboard in
    /// the terminal.
    Day(day::DayArgs),
    /// Simulate a scenario file, or a single queue given on the command line.
    Sim(SimArgs),
    /// Erlang B, C and A staffing figures for a range of agent counts.
    Erlang(ErlangArgs),
    /// Call flows (IVR): check and dry-run flow files.
    Flow(flow::FlowArgs),
}

#[derive(Args)]
struct SimArgs {
    /// Scenario YAML file (omit it to describe a single queue with the flags below).
    scenario: Option<PathBuf>,
    /// Seed of the first replication (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of replications (overrides the scenario's; default 10 for a single queue).
    #[arg(long)]
    replications: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Single queue: arrival rate, e.g. `360/h`.
    #[arg(long)]
    arrivals: Option<String>,
    /// Single queue: average handle time (exponential), e.g. `240s`.
    #[arg(long)]
    aht: Option<String>,
    /// Single queue: handle-time distribution instead of exponential, e.g. `lognormal(240s, 120s)`.
    #[arg(long)]
    handle_time: Option<String>,
    /// Single queue: number of agents.
    #[arg(long)]
    agents: Option<u32>,
    /// Single queue: mean caller patience (exponential); without it callers never abandon.
    #[arg(long)]
    patience: Option<String>,
    /// Service-level threshold.
    #[arg(long, default_value = "20s")]
    sl: String,
    /// Single queue: measured calls per replication.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// Single queue: warm-up (default: ten relaxation times).
    #[arg(long)]
    warmup: Option<String>,
}

#[derive(Args)]
struct ErlangArgs {
    /// Arrival rate, e.g. `360/h`.
    #[arg(long)]
    arrivals: String,
    /// Average handle time, e.g. `240s`.
    #[arg(long)]
    aht: String,
    /// Agent counts: `28` or `26..30` (inclusive). Default: around the target, or the
    /// smallest stable count and the next four.
    #[arg(long)]
    agents: Option<String>,
    /// Mean caller patience: switches from Erlang C to Erlang A.
    #[arg(long)]
    patience: Option<String>,
    /// Service-level threshold.
    #[arg(long, default_value = "20s")]
    sl: String,
    /// Service-level target as `PERCENT/SECONDS`, e.g. `80/20`: answers the agents needed.
    #[arg(long)]
    target: Option<String>,
    /// Print JSON (an array, one object per agent count).
    #[arg(long)]
    json: bool,
}

/// mimalloc rather than glibc's allocator: glibc gives each thread that allocates an arena
/// of its own and keeps their memory, which doubled the idle server's resident memory
/// once the runtime's owner got a thread of its own (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve::serve(args),
        Command::Demo(args) => serve::demo(args),
        Command::Day(args) => day::run(args),
        Command::Sim(args) => sim(args),
        Command::Erlang(args) => erlang(args),
        Command::Flow(args) => flow::run(args),
    }
}

fn sl_policy(threshold: &str) -> Result<SlPolicy> {
    Ok(SlPolicy {
        threshold: parse_duration(threshold)?,
        convention: SlConvention::Offered,
        short_abandon: None,
    })
}

fn sim(args: SimArgs) -> Result<()> {
    let mut model = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            parse_scenario(&path.display().to_string(), &text)?
        }
        None => {
            let (Some(arrivals), Some(agents)) = (&args.arrivals, args.agents) else {
                bail!("give a scenario file, or --arrivals, --aht and --agents for a single queue");
            };
            let handle = match (&args.handle_time, &args.aht) {
                (Some(d), _) => Dist::parse(d)?,
                (None, Some(aht)) => Dist::Exponential(parse_duration(aht)?.as_secs_f64()),
                (None, None) => bail!("--aht (or --handle-time) is required for a single queue"),
            };
            let patience = args
                .patience
                .as_deref()
                .map(|p| parse_duration(p).map(|d| Dist::Exponential(d.as_secs_f64())))
                .transpose()?;
            let queue = SingleQueue {
                arrivals_per_s: parse_rate(arrivals)?,
                handle,
                agents,
                patience,
                sl: sl_policy(&args.sl)?,
                calls: args.calls,
                replications: args.replications.unwrap_or(10),
                seed: args.seed.unwrap_or(1),
                warmup: args.warmup.as_deref().map(parse_duration).transpose()?,
            };
            check_single_queue(&queue)?;
            queue.model()
        }
    };
    if let Some(seed) = args.seed {
        model.seed = seed;
    }
    if let Some(r) = args.replications {
        if !(1..=MAX_REPLICATIONS).contains(&r) {
            bail!("--replications must be between 1 and {MAX_REPLICATIONS}");
        }
        model.replications = r;
    }
    let report = simulate(&model);
    if !args.json {
        print!("{}", report.to_text());
        return Ok(());
    }
    let out = if args.scenario.is_some() {
        serde_json::to_value(&report)?
    } else {
        serde_json::to_value(SingleQueueSummary::of(&report, args.calls))?
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn erlang(args: ErlangArgs) -> Result<()> {
    let load = Load {
        arrivals_per_s: parse_rate(&args.arrivals)?,
        aht_s: parse_duration(&args.aht)?.as_secs_f64(),
    };
    let patience = args
        .patience
        .as_deref()
        .map(|p| parse_duration(p).map(|d| d.as_secs_f64()))
        .transpose()?;
    let target = args.target.as_deref().map(parse_target).transpose()?;
    let threshold = match target {
        Some(t) => t.threshold_s,
        None => parse_duration(&args.sl)?.as_secs_f64(),
    };
    let table = erlang_table(&ErlangQuery {
        load,
        patience_s: patience,
        sl_threshold_s: threshold,
        target: target.map(|t| t.fraction),
        agents: args.agents.as_deref().map(parse_agents).transpose()?,
    })?;
    let (model, erlangs, needed) = (table.model, table.erlangs, table.needed);
    let target = target.map(|t| t.fraction);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&table.rows())?);
        return Ok(());
    }
    println!(
        "{model}: {:.2} Erlangs ({} /h, AHT {}s); service level = answered within {threshold}s / offered",
        erlangs,
        load.arrivals_per_s * 3600.0,
        load.aht_s
    );
    print!("agents  P(block)  P(wait)  service level      ASA  occupancy");
    println!(
        "{}",
        if patience.is_some() {
            "  P(abandon)"
        } else {
            ""
        }
    );
    for m in &table.metrics {
        print!(
            "{:>6}  {:>8.4}  {:>7.4}  {:>12.2}%  {:>6.1}s  {:>8.2}%",
            m.agents,
            m.p_block,
            m.p_wait,
            100.0 * m.service_level,
            m.asa_s,
            100.0 * m.occupancy
        );
        match m.p_abandon {
            Some(p) => println!("  {:>9.2}%", 100.0 * p),
            None => println!(),
        }
    }
    match (target, needed) {
        (Some(t), Some(n)) => println!(
            "{n} agents are needed for {:.0}% answered within {threshold}s",
            100.0 * t
        ),
        (Some(t), None) => println!(
            "no agent count up to 100,000 reaches {:.0}% within {threshold}s",
            100.0 * t
        ),
        _ => {}
    }
    Ok(())
}
