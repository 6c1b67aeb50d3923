//! The `switchboard` command: the server (`serve`, `demo`), the simulator, the Erlang
//! staffing calculator and the flow tools.

mod day;
mod flow;
mod serve;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use switchboard_sim::erlang::{
    Load, Metrics, agents_for_service_level, erlang_a_metrics, erlang_c_metrics,
};
use switchboard_sim::report::simulate;
use switchboard_sim::scenario::{
    Dist, MAX_AGENTS, MAX_REPLICATIONS, SingleQueue, SlConvention, SlPolicy, parse_duration,
    parse_rate, parse_scenario,
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
            if handle.mean() <= 0.0 || agents == 0 || u64::from(agents) > MAX_AGENTS {
                bail!("a single queue needs a positive handle time and 1 to {MAX_AGENTS} agents");
            }
            let patience = args
                .patience
                .as_deref()
                .map(|p| parse_duration(p).map(|d| Dist::Exponential(d.as_secs_f64())))
                .transpose()?;
            let rate = parse_rate(arrivals)?;
            if rate <= 0.0 || args.calls == 0 {
                bail!("a single queue needs a positive arrival rate and at least one call");
            }
            if patience.is_none() && rate * handle.mean() >= f64::from(agents) {
                bail!(
                    "{:.1} Erlangs on {agents} agents never reaches a steady state without \
                     abandonment: add agents or --patience",
                    rate * handle.mean()
                );
            }
            SingleQueue {
                arrivals_per_s: rate,
                handle,
                agents,
                patience,
                sl: sl_policy(&args.sl)?,
                calls: args.calls,
                replications: args.replications.unwrap_or(10),
                seed: args.seed.unwrap_or(1),
                warmup: args.warmup.as_deref().map(parse_duration).transpose()?,
            }
            .model()
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
        let q = &report.queues[0];
        let pair = |e: &switchboard_sim::stats::Estimate| (finite(e.mean), finite(e.ci95));
        let fields = [
            ("p_wait", pair(&q.p_wait)),
            ("service_level", pair(&q.service_level)),
            ("asa_s", pair(&q.asa_s)),
            ("abandon_rate", pair(&q.abandon_rate)),
            ("occupancy", pair(&report.occupancy)),
            ("avg_abandon_s", pair(&q.avg_abandon_s)),
            ("aht_s", pair(&q.aht_s)),
            ("ewt_mae_s", pair(&q.ewt_mae_s)),
        ];
        let mut obj = serde_json::Map::new();
        let mut ci = serde_json::Map::new();
        for (name, (mean, half)) in fields {
            obj.insert(name.into(), mean);
            ci.insert(name.into(), half);
        }
        obj.insert("ci95".into(), Value::Object(ci));
        obj.insert("offered".into(), json!(q.offered.mean));
        obj.insert("replications".into(), json!(report.replications));
        obj.insert("calls_per_replication".into(), json!(args.calls));
        obj.insert("warmup_s".into(), json!(report.warmup_s));
        obj.insert("seed".into(), json!(report.seed));
        obj.insert(
            "service_level_definition".into(),
            json!(report.service_level_definition),
        );
        Value::Object(obj)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// JSON has no NaN or infinity: undefined figures become null.
fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn erlang(args: ErlangArgs) -> Result<()> {
    let load = Load {
        arrivals_per_s: parse_rate(&args.arrivals)?,
        aht_s: parse_duration(&args.aht)?.as_secs_f64(),
    };
    if load.aht_s <= 0.0 {
        bail!("--aht must be positive");
    }
    let patience = args
        .patience
        .as_deref()
        .map(|p| parse_duration(p).map(|d| d.as_secs_f64()))
        .transpose()?;
    let mut threshold = parse_duration(&args.sl)?.as_secs_f64();
    let target = match &args.target {
        None => None,
        Some(t) => {
            let (pct, secs) = t.split_once('/').with_context(|| {
                format!("--target `{t}`: write it as PERCENT/SECONDS, e.g. 80/20")
            })?;
            let pct: f64 = pct
                .trim()
                .parse()
                .with_context(|| format!("--target `{t}`: bad percent"))?;
            if !(0.0..100.0).contains(&pct) {
                bail!("--target `{t}`: the percent must be below 100");
            }
            threshold = parse_duration(secs)?.as_secs_f64();
            Some(pct / 100.0)
        }
    };
    let needed =
        target.and_then(|t| agents_for_service_level(load, patience, threshold, t, 100_000));
    let erlangs = load.erlangs();
    let (lo, hi) = match (&args.agents, needed) {
        (Some(range), _) => parse_range(range)?,
        (None, Some(n)) => (n.saturating_sub(2).max(1), n + 2),
        (None, None) => {
            let first = (erlangs.floor() as u32 + 1).max(1);
            (first, first + 4)
        }
    };
    if hi - lo > 10_000 {
        bail!("--agents: at most 10,000 agent counts at a time");
    }
    let rows: Vec<Metrics> = (lo..=hi)
        .map(|c| match patience {
            Some(p) => erlang_a_metrics(load, c, p, threshold),
            None => erlang_c_metrics(load, c, threshold),
        })
        .collect();
    let model = if patience.is_some() {
        "Erlang A"
    } else {
        "Erlang C"
    };
    if args.json {
        let out: Vec<Value> = rows
            .iter()
            .map(|m| {
                let mut v = json!({
                    "agents": m.agents,
                    "p_block": finite(m.p_block),
                    "p_wait": finite(m.p_wait),
                    "service_level": finite(m.service_level),
                    "asa_s": finite(m.asa_s),
                    "occupancy": finite(m.occupancy),
                });
                if let Some(p) = m.p_abandon {
                    v["p_abandon"] = finite(p);
                }
                if let Some(t) = target {
                    v["meets_target"] = json!(m.service_level >= t);
                    v["needed"] = json!(Some(m.agents) == needed);
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
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
    for m in &rows {
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

fn parse_range(text: &str) -> Result<(u32, u32)> {
    let bad = || format!("--agents `{text}`: write a count (`28`) or a range (`26..30`)");
    let (lo, hi) = match text.split_once("..") {
        Some((a, b)) => (
            a.trim().parse().with_context(bad)?,
            b.trim_start_matches('=').trim().parse().with_context(bad)?,
        ),
        None => {
            let n: u32 = text.trim().parse().with_context(bad)?;
            (n, n)
        }
    };
    if lo == 0 || hi < lo {
        bail!("{}", bad());
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ranges() {
        assert_eq!(parse_range("28").ok(), Some((28, 28)));
        assert_eq!(parse_range("26..30").ok(), Some((26, 30)));
        assert_eq!(parse_range("26..=30").ok(), Some((26, 30)));
        assert!(parse_range("30..26").is_err());
        assert!(parse_range("0").is_err());
        assert!(parse_range("many").is_err());
    }
}
