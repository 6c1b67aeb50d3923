//! `switchboard serve` and `switchboard demo`: the contact-center server, and the server
//! with the demo company (Acme) in a local data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use switchboard_server::config::Config;

/// Addresses and data directory, shared by `serve` and `demo`.
#[derive(Args)]
pub struct Listen {
    /// HTTP address (API, event stream, web apps), e.g. `127.0.0.1:8080`.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// SIP address (voice edge), e.g. `127.0.0.1:5060`.
    #[arg(long)]
    sip: Option<SocketAddr>,
    /// Directory for the database and files.
    #[arg(long)]
    data: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:password@host/db`) instead of the SQLite
    /// file in the data directory; several servers can share it.
    #[arg(long)]
    database: Option<String>,
}

impl Listen {
    fn apply(&self, c: &mut Config) {
        if let Some(a) = self.http {
            c.http = a;
        }
        if let Some(a) = self.sip {
            c.sip = a;
        }
        if let Some(d) = &self.data {
            c.data.clone_from(d);
        }
        if let Some(url) = &self.database {
            c.database = Some(url.clone());
        }
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; unknown keys are errors). `SWITCHBOARD_HTTP`,
    /// `SWITCHBOARD_SIP`, `SWITCHBOARD_DATA`, `SWITCHBOARD_DATABASE` and
    /// `SWITCHBOARD_COMPANY` override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    listen: Listen,
}

#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    listen: Listen,
    /// Start over: delete the demo's data directory first.
    #[arg(long)]
    reset: bool,
    /// Simulated traffic: virtual customers chat in and virtual agents answer them
    /// through the API, so that KPIs and history fill up.
    #[arg(long)]
    simulate: bool,
    /// Mean seconds between virtual customers.
    #[arg(long, default_value_t = 8.0)]
    arrival_gap: f64,
    /// Multiplier on the virtual people's delays (1 is life-like, 0.1 ten times faster).
    #[arg(long, default_value_t = 1.0)]
    pace: f64,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Not by default: every SIP message in full (8 KB a call, credentials' digests
        // included; `RUST_LOG=info,rsipstack=info` shows them), and PostgreSQL's notices
        // ("relation … already exists, skipping").
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,rsipstack=warn,sqlx::postgres::notice=warn")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn serve(args: ServeArgs) -> Result<()> {
    logging();
    let mut config = Config::load(args.config.as_deref()).map_err(anyhow::Error::msg)?;
    args.listen.apply(&mut config);
    runtime()?.block_on(async {
        let server = switchboard_server::start(&config).await?;
        println!(
            "Switchboard listening on http://{}  sip:{} (UDP, TCP)  (data: {}, database: {}, node: {})",
            server.addr,
            server.sip,
            config.data.display(),
            server.database,
            server.node
        );
        server.run_until_signal().await
    })
}

/// The demo company and the example flows, shipped inside the binary.
const COMPANY: &str = include_str!("../../../examples/demo-company.toml");
const FILES: &[(&str, &[u8])] = &[
    (
        "flows/tech-support.yaml",
        include_bytes!("../../../examples/flows/tech-support.yaml"),
    ),
    (
        "flows/returning-caller.yaml",
        include_bytes!("../../../examples/flows/returning-caller.yaml"),
    ),
    (
        "flows/identify.yaml",
        include_bytes!("../../../examples/flows/identify.yaml"),
    ),
    (
        "flows/billing.yaml",
        include_bytes!("../../../examples/flows/billing.yaml"),
    ),
    (
        "flows/segment-routing.yaml",
        include_bytes!("../../../examples/flows/segment-routing.yaml"),
    ),
    (
        "flows/after-hours.yaml",
        include_bytes!("../../../examples/flows/after-hours.yaml"),
    ),
    (
        "flows/geo-routing.yaml",
        include_bytes!("../../../examples/flows/geo-routing.yaml"),
    ),
    (
        "flows/queue-experience.yaml",
        include_bytes!("../../../examples/flows/queue-experience.yaml"),
    ),
    (
        "flows/survey.yaml",
        include_bytes!("../../../examples/flows/survey.yaml"),
    ),
    (
        "flows/delivery.yaml",
        include_bytes!("../../../examples/flows/delivery.yaml"),
    ),
    (
        "flows/calendars/uk.yaml",
        include_bytes!("../../../examples/flows/calendars/uk.yaml"),
    ),
    (
        "flows/audio/hold-music.wav",
        include_bytes!("../../../examples/flows/audio/hold-music.wav"),
    ),
];

/// Writes the demo company into `dir` and returns the company file.
fn unpack(dir: &Path) -> Result<PathBuf> {
    for (name, bytes) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| path.display().to_string())?;
    }
    let company = dir.join("company.toml");
    std::fs::write(&company, COMPANY)?;
    Ok(company)
}

pub fn demo(args: DemoArgs) -> Result<()> {
    logging();
    let mut config = Config {
        data: PathBuf::from("switchboard-demo"),
        ..Config::default()
    };
    config
        .apply_env(|k| std::env::var(k).ok())
        .map_err(anyhow::Error::msg)?;
    args.listen.apply(&mut config);
    if args.reset && config.data.exists() {
        if !config.data.join("switchboard.db").exists() {
            bail!(
                "--reset: {} does not look like a Switchboard data directory; not deleting it",
                config.data.display()
            );
        }
        std::fs::remove_dir_all(&config.data)?;
    }
    config.company = Some(unpack(&config.data.join("company"))?);
    runtime()?.block_on(async {
        let server = switchboard_server::start(&config).await?;
        let base = format!("http://{}", server.addr);
        println!("Switchboard demo (Acme) on {base}   data: {}", config.data.display());
        println!("  Screens:    {base}/ (sign in) → agent desktop {base}/desktop, wallboard {base}/wallboard, admin {base}/admin");
        println!("  API:        {base}/api/v1/openapi.json   health: {base}/healthz   metrics: {base}/metrics");
        println!("  Logins:     admin/admin (admin), sam/demo (supervisor), alice, bob, carla, dev, emma / demo (agents)");
        println!("  Try a chat: curl -s -X POST {base}/api/v1/chat -H 'content-type: application/json' -d '{{\"to\":\"support\",\"from\":\"+441632960001\"}}'");
        println!("  Call:       sip:support@{sip} (tech support IVR); desk phones register as sip:alice@{sip} … with password `phone`", sip = server.sip);
        println!("  Ctrl-C stops; run again to continue where you left off, or with --reset to start over.");
        if args.simulate {
            println!("  Simulated traffic: a virtual customer every {} s on average; agents alice, bob, carla, dev, emma answer.", args.arrival_gap);
            switchboard_server::simulate::start(switchboard_server::simulate::Traffic {
                base: base.clone(),
                agents: ["alice", "bob", "carla", "dev", "emma"].iter().map(|a| (a.to_string(), "demo".to_string())).collect(),
                addresses: ["support", "billing", "sales", "returning", "delivery"].iter().map(|a| a.to_string()).collect(),
                customers: vec!["+441632960001".into(), "+14155550101".into(), "+33612345678".into()],
                mean_gap_secs: args.arrival_gap.max(0.01),
                pace: args.pace.max(0.0),
                seed: 1,
            });
        }
        server.run_until_signal().await
    })
}
