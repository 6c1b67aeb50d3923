//! `cargo xtask bench sip`: a SIPp load test of the release `switchboard` binary. Callers
//! (SIPp, `xtask/sipp/caller.xml`) dial an IVR flow that queues them; the routing engine
//! offers each call to an agent whose phone (one SIPp for every agent, `agent.xml`,
//! registered by `register.xml`) rings, answers and echoes the audio. RTP flows on both
//! legs for the whole call. The concurrency doubles step by step (each step sends twice
//! as many calls as it keeps up at once, at a rate of concurrency / call length) until a
//! step has a failed call or the time budget is spent; the result is the highest step
//! with none, with the CPU and memory of the switchboard process. A SIPp-to-SIPp run at
//! that concurrency (the callers straight to the agents' SIPp) is the baseline of what the
//! machine does without Switchboard in between; a last step repeats it with recording on.
//!
//! A step fails when a call fails for the callers' SIPp or the agents' SIPp, when a call
//! never reached an agent (its contact was not answered and ended `handled`), when a call
//! waited more than two seconds for its agent (one is always free, so a wait means
//! Switchboard fell behind), or when the agents are not all available again afterwards.
//!
//! Everything runs on 127.0.0.1, in a directory under `TMPDIR` (Switchboard's database
//! too, so the disk under it matters); every process started here is killed at the end,
//! also on errors. With `--elsewhere` (as root, with `ip`), the SIPps run in a network
//! namespace of their own, joined to the host by a veth pair (198.18.0.2 there, 198.18.0.1
//! here, from the range RFC 2544 sets aside for benchmarks), so that every packet crosses
//! an Ethernet interface as it would from phones on other machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

/// What the command line can change.
struct Options {
    /// Agents (registered phones); the highest concurrency tried.
    agents: u32,
    /// How long each caller stays on the line after the IVR answers.
    hold: Duration,
    /// The first concurrency tried; each next step doubles it.
    start: u32,
    /// The highest concurrency tried (at most `agents`: no caller waits for an agent).
    max: u32,
    /// Time for the whole run after the build (set-up, steps, baseline, recorded step).
    budget: Duration,
    /// Keep the working directory (logs, SIPp statistics, the database).
    keep: bool,
    /// A `switchboard` binary to measure instead of this checkout's release build (to
    /// compare two builds run in turn on the same machine).
    binary: Option<PathBuf>,
    /// The server's `relay_threads` (its default, one per core, if not given).
    relay_threads: Option<u32>,
    /// The SIPps in a network namespace of their own (see the module's docs).
    elsewhere: bool,
}

const USAGE: &str = "usage: cargo xtask bench sip [--agents N (800)] [--hold SECS (10)] \
                     [--start N (200)] [--max N (agents)] [--budget SECS (300)] [--keep] \
                     [--binary PATH] [--relay-threads N] [--elsewhere]";

impl Options {
    fn parse(args: &[&str]) -> Result<Options> {
        let mut o = Options {
            agents: 800,
            hold: Duration::from_secs(10),
            start: 200,
            max: 0,
            budget: Duration::from_secs(300),
            keep: false,
            binary: None,
            relay_threads: None,
            elsewhere: false,
        };
        let mut it = args.iter();
        while let Some(&flag) = it.next() {
            if flag == "--keep" {
                o.keep = true;
                continue;
            }
            if flag == "--elsewhere" {
                o.elsewhere = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))?;
            if flag == "--binary" {
                o.binary = Some(PathBuf::from(value));
                continue;
            }
            let n: u32 = value
                .parse()
                .map_err(|_| anyhow!("{flag} {value}: not a whole number\n{USAGE}"))?;
            match flag {
                "--agents" => o.agents = n,
                "--hold" => o.hold = Duration::from_secs(u64::from(n)),
                "--start" => o.start = n,
                "--max" => o.max = n,
                "--budget" => o.budget = Duration::from_secs(u64::from(n)),
                "--relay-threads" => o.relay_threads = Some(n),
                _ => bail!("unknown option {flag}\n{USAGE}"),
            }
        }
        if o.max == 0 || o.max > o.agents {
            o.max = o.agents;
        }
        o.start = o.start.min(o.max);
        if o.agents == 0 || o.start == 0 || o.hold.as_secs() < 2 {
            bail!("need agents ≥ 1, start ≥ 1, hold ≥ 2 s\n{USAGE}");
        }
        Ok(o)
    }
}

/// The SIPp scenarios, written into the working directory.
const SCENARIOS: &[(&str, &str)] = &[
    ("register.xml", include_str!("../sipp/register.xml")),
    ("agent.xml", include_str!("../sipp/agent.xml")),
    ("caller.xml", include_str!("../sipp/caller.xml")),
];

/// A call whose agent answers later than this after it was queued counts as failed:
/// there is always a free agent (never more calls at once than agents), so the wait is
/// Switchboard falling behind (a normal answer takes a few milliseconds).
const LATE_ANSWER_MS: u64 = 2000;

/// Passwords of the bench company's users.
const ADMIN_PASSWORD: &str = "bench-admin";
const AGENT_PASSWORD: &str = "bench-agent";
const PHONE_PASSWORD: &str = "bench-phone";

/// Runs the benchmark; prints a JSON summary on stdout (progress on stderr).
pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let opts = Options::parse(args)?;
    for (program, package) in [("sipp", "sip-tester"), ("espeak-ng", "espeak-ng")] {
        if !super::on_path(program) {
            bail!(
                "`{program}` is not installed: apt-get install {package} (`cargo xtask test` \
                 installs it as root)"
            );
        }
    }
    let binary = match &opts.binary {
        // The server runs in a directory of its own: a relative path is made absolute.
        Some(binary) => std::path::absolute(binary)?,
        None => {
            super::run(root, "cargo", &["build", "--release", "-p", "switchboard"])?;
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .map(|t| if t.is_absolute() { t } else { root.join(t) })
                .unwrap_or_else(|| root.join("target"));
            target.join("release").join("switchboard")
        }
    };
    if !binary.is_file() {
        bail!("no switchboard binary at {}", binary.display());
    }
    let work = std::env::temp_dir().join(format!(
        "switchboard-bench-sip-{}-{}",
        std::process::id(),
        unix_ms()
    ));
    std::fs::create_dir_all(&work).with_context(|| format!("{}", work.display()))?;
    eprintln!("bench sip: working directory {}", work.display());
    let net = if opts.elsewhere {
        Net::elsewhere()?
    } else {
        Net::loopback()
    };
    let mut procs = Processes::default();
    let outcome = Bench::prepare(&opts, &net, root, &binary, &work, &mut procs)
        .and_then(|mut bench| bench.search(&mut procs));
    procs.stop_all();
    drop(net);
    match outcome {
        Ok(summary) => {
            println!("{}", summary.json.pretty());
            if summary.passed == 0 {
                eprintln!("bench sip: logs kept in {}", work.display());
                bail!("even the lowest step failed");
            }
            if opts.keep {
                eprintln!("bench sip: working directory kept: {}", work.display());
            } else {
                let _ = std::fs::remove_dir_all(&work);
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("bench sip: logs kept in {}", work.display());
            Err(e)
        }
    }
}

/// Where the SIPps run, and the addresses they and Switchboard use.
struct Net {
    /// The SIPps' network namespace (`--elsewhere`); deleted, with its veth pair, when
    /// this is dropped.
    namespace: Option<String>,
    /// The SIPps' address.
    parties: Ipv4Addr,
    /// Switchboard's address, for SIP and media.
    server: Ipv4Addr,
}

/// The namespaces `--elsewhere` makes are named this and the benchmark's process id.
const NAMESPACE_PREFIX: &str = "sbbench-";

impl Net {
    fn loopback() -> Net {
        Net {
            namespace: None,
            parties: Ipv4Addr::LOCALHOST,
            server: Ipv4Addr::LOCALHOST,
        }
    }

    /// A namespace for the SIPps, joined to this host by a veth pair. Leftovers of runs
    /// that were killed (their process gone) are deleted first.
    fn elsewhere() -> Result<Net> {
        let ip = |args: &[&str]| -> Result<String> {
            let out = Command::new("ip")
                .args(args)
                .output()
                .context("cannot run `ip` (apt-get install iproute2)")?;
            if !out.status.success() {
                bail!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        for line in ip(&["netns", "list"])?.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let gone = name
                .strip_prefix(NAMESPACE_PREFIX)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                ip(&["netns", "del", name])?;
            }
        }
        let pid = std::process::id();
        let namespace = format!("{NAMESPACE_PREFIX}{pid}");
        let (host_if, their_if) = (
            format!("sbbh{}", pid % 100_000),
            format!("sbbn{}", pid % 100_000),
        );
        ip(&["netns", "add", &namespace])?;
        let net = Net {
            namespace: Some(namespace.clone()),
            parties: Ipv4Addr::new(198, 18, 0, 2),
            server: Ipv4Addr::new(198, 18, 0, 1),
        };
        let ns = namespace.as_str();
        for args in [
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &their_if, "netns", ns,
            ][..],
            &["addr", "add", "198.18.0.1/24", "dev", &host_if],
            &["link", "set", &host_if, "up"],
            &["-n", ns, "addr", "add", "198.18.0.2/24", "dev", &their_if],
            &["-n", ns, "link", "set", &their_if, "up"],
            &["-n", ns, "link", "set", "lo", "up"],
        ] {
            ip(args)?;
        }
        eprintln!("bench sip: the SIPps run in network namespace {namespace}");
        Ok(net)
    }

    /// `program`, run where the SIPps run.
    fn command(&self, program: &str) -> Command {
        match &self.namespace {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(ns) = &self.namespace {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Child processes, killed (by their own handles) when the benchmark ends, however it ends.
#[derive(Default)]
struct Processes {
    children: Vec<(String, Child)>,
}

impl Processes {
    fn add(&mut self, name: &str, child: Child) -> u32 {
        let pid = child.id();
        self.children.push((name.to_string(), child));
        pid
    }

    /// Whether the child `name` still runs.
    fn running(&mut self, name: &str) -> bool {
        self.children
            .iter_mut()
            .find(|(n, _)| n == name)
            .is_some_and(|(_, c)| matches!(c.try_wait(), Ok(None)))
    }

    fn stop_all(&mut self) {
        for (_, mut child) in self.children.drain(..) {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Where the pieces run.
struct Bench<'a> {
    opts: &'a Options,
    net: &'a Net,
    work: PathBuf,
    http: SocketAddr,
    sip: SocketAddr,
    /// The agents' SIPp (every agent's phone).
    phones: SocketAddr,
    server_pid: u32,
    phones_pid: u32,
    token: String,
    ticks_per_sec: f64,
    started: Instant,
    steps: Vec<Step>,
    /// Steps run so far (the warm-up call included), for file names.
    runs: usize,
    /// Measurements before the steps.
    facts: Vec<(String, Json)>,
    /// The server's resident memory idle, agents registered (KiB).
    idle_rss_kib: u64,
}

/// What became of a step's contacts: see `Bench::contacts_since`.
struct StepContacts {
    handled: usize,
    waits: Vec<u64>,
    others: Vec<String>,
    recorded_per_s: Option<f64>,
}

/// What one step measured.
struct Step {
    kind: StepKind,
    concurrency: u32,
    json: Json,
    passed: bool,
    /// Switchboard's CPU at full concurrency, % of one core.
    cpu_steady: Option<f64>,
    /// Switchboard's CPU time per call, ms.
    cpu_ms_per_call: Option<f64>,
    /// Switchboard's resident memory at its highest over its idle memory, per call up
    /// at once, KiB.
    kib_per_call: Option<f64>,
    /// What each call up at once above the last step's added to Switchboard's highest
    /// resident memory, KiB.
    kib_per_added_call: Option<f64>,
    /// Switchboard's highest resident memory in the step, KiB (none for a baseline).
    rss_max_kib: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum StepKind {
    /// Callers → Switchboard → agents, not recorded.
    Search,
    /// The same with the queue's recording on.
    Recorded,
    /// Callers → agents' SIPp directly.
    Baseline,
}

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            StepKind::Search => "switchboard",
            StepKind::Recorded => "switchboard, recorded",
            StepKind::Baseline => "SIPp to SIPp",
        }
    }
}

struct Summary {
    json: Json,
    passed: usize,
}

impl<'a> Bench<'a> {
    /// Starts Switchboard with the bench company, the agents' phones, registers them and
    /// makes every agent available; one call checks the whole path.
    fn prepare(
        opts: &'a Options,
        net: &'a Net,
        root: &Path,
        binary: &Path,
        work: &Path,
        procs: &mut Processes,
    ) -> Result<Bench<'a>> {
        let started = Instant::now();
        // Before anything else runs: the kernel's own cost of relaying a packet here.
        let floor_ns = kernel_floor_ns()?;
        for (name, text) in SCENARIOS {
            std::fs::write(work.join(name), text)?;
        }
        std::fs::write(work.join("caller.wav"), caller_audio(20))?;
        write_company(work, opts.agents)?;
        let sip_port = free_port(Proto::UdpAndTcp)?;
        let sip = SocketAddr::from((net.server, sip_port));
        std::fs::write(
            work.join("switchboard.toml"),
            format!(
                "# Written by `cargo xtask bench sip`.\n\
                 http = \"127.0.0.1:0\"\nsip = \"{sip}\"\ndata = \"data\"\n\
                 company = \"company.toml\"\n\n[voice]\nmax_calls = {}\nmedia_ip = \"{}\"\n{}",
                (opts.max * 2).max(500),
                net.server,
                opts.relay_threads
                    .map_or_else(String::new, |n| format!("relay_threads = {n}\n")),
            ),
        )?;

        // Switchboard: its stdout says where HTTP listens.
        let log = std::fs::File::create(work.join("server.log"))?;
        let mut server = Command::new(binary)
            .args(["serve", "--config"])
            .arg(work.join("switchboard.toml"))
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = server.stdout.take().context("server stdout")?;
        let server_pid = procs.add("switchboard", server);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        eprintln!(
            "bench sip: starting switchboard (pid {server_pid}, importing {} users)",
            opts.agents + 1
        );
        let http = wait_for_address(&rx, procs, work)?;
        let boot_secs = started.elapsed().as_secs_f64();

        // Every agent's phone: one SIPp that answers whatever rings it and echoes RTP.
        let phones_port = free_port(Proto::Udp)?;
        let phones = SocketAddr::from((net.parties, phones_port));
        let phones_child = sipp_command(work, net, "agent.xml", "agents")
            .args(["-p", &phones_port.to_string()])
            .args(["-mp", &free_media_port()?.to_string(), "-rtp_echo"])
            .args(["-rtp_buffsize", RTP_BUFFER])
            .spawn()
            .context("cannot start sipp")?;
        let phones_pid = procs.add("agents' SIPp", phones_child);

        let mut csv = String::from("SEQUENTIAL\n");
        for i in 1..=opts.agents {
            let _ = writeln!(csv, "agent-{i};{PHONE_PASSWORD};{phones}");
        }
        std::fs::write(work.join("phones.csv"), csv)?;
        std::thread::sleep(Duration::from_millis(300));
        if !procs.running("agents' SIPp") {
            bail!(
                "the agents' SIPp stopped at once:\n{}",
                tail(&work.join("agents.stderr"), 20)
            );
        }
        let t = Instant::now();
        let register = sipp_command(work, net, "register.xml", "register")
            .arg(sip.to_string())
            .args(["-inf", "phones.csv", "-m", &opts.agents.to_string()])
            .args(["-l", "50", "-r", "200"])
            .args(["-p", &free_port(Proto::Udp)?.to_string()])
            .args(["-timeout", "120s", "-timeout_error"])
            .status()
            .context("cannot run sipp")?;
        let registered = SippStats::read(&work.join("register.csv"));
        if !register.success() || registered.count("SuccessfulCall(C)") != u64::from(opts.agents) {
            bail!(
                "registering {} phones: SIPp {register}, {:?} registered\n{}",
                opts.agents,
                registered.count("SuccessfulCall(C)"),
                tail(&work.join("register-errors.log"), 30)
            );
        }
        let register_secs = t.elapsed().as_secs_f64();
        eprintln!(
            "bench sip: {} phones registered in {register_secs:.1} s",
            opts.agents
        );

        let (status, body) = http_request(
            http,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&format!(
                r#"{{"name":"admin","password":"{ADMIN_PASSWORD}"}}"#
            )),
        )?;
        let token = Json::parse(&body)
            .ok()
            .and_then(|j| j.get("token").and_then(Json::as_str).map(str::to_string))
            .ok_or_else(|| anyhow!("admin login answered {status}: {body}"))?;
        for i in 1..=opts.agents {
            let (status, body) = http_request(
                http,
                "POST",
                &format!("/api/v1/agents/agent-{i}/state"),
                Some(&token),
                Some(r#"{"state":"available"}"#),
            )?;
            if status != 204 {
                bail!("agent-{i} available: HTTP {status}: {body}");
            }
        }
        let mut bench = Bench {
            opts,
            net,
            work: work.to_path_buf(),
            http,
            sip,
            phones,
            server_pid,
            phones_pid,
            token,
            ticks_per_sec: clock_ticks(),
            started,
            steps: Vec::new(),
            runs: 0,
            facts: Vec::new(),
            idle_rss_kib: 0,
        };
        let available = bench.available_agents()?;
        if available != opts.agents {
            bail!("{available} of {} agents available", opts.agents);
        }

        // One call through the whole path: speaks (and caches) the prompt, and shows that
        // a call reaches an agent before any load is put on.
        let warm = bench.step(StepKind::Search, 1, 1, Duration::from_secs(2), procs)?;
        if !warm.passed {
            bail!(
                "a single call failed, so no load was tried: {}\nserver log: {}",
                warm.json.pretty(),
                work.join("server.log").display()
            );
        }

        // The idle server, agents registered and available.
        let idle = Duration::from_secs(3);
        let before = cpu_ticks(server_pid).unwrap_or(0);
        std::thread::sleep(idle);
        let after = cpu_ticks(server_pid).unwrap_or(0);
        let idle_cpu = percent(after - before, bench.ticks_per_sec, idle.as_secs_f64());
        let rss = status_kib(server_pid, "VmRSS:").unwrap_or(0);
        bench.idle_rss_kib = rss;
        bench.facts = vec![
            ("start_to_http_s".into(), Json::num(boot_secs)),
            (
                "registration".into(),
                Json::obj([
                    ("phones", Json::from(opts.agents)),
                    ("seconds", Json::num(register_secs)),
                ]),
            ),
            (
                "idle_with_agents".into(),
                Json::obj([
                    ("cpu_percent_of_one_core", Json::num(idle_cpu)),
                    ("rss_mib", Json::num(rss as f64 / 1024.0)),
                ]),
            ),
            (
                "kernel_floor".into(),
                Json::obj([
                    ("ns_per_relayed_packet", Json::num(floor_ns)),
                    (
                        "cpu_ms_per_call_second",
                        Json::num(floor_ns * RELAYED_PER_CALL_SECOND / 1e6),
                    ),
                    (
                        "calls_per_core_at_most",
                        Json::num(1e9 / (floor_ns * RELAYED_PER_CALL_SECOND)),
                    ),
                ]),
            ),
            (
                "relay_threads".into(),
                opts.relay_threads
                    .map_or_else(|| Json::Str("one per core".into()), Json::from),
            ),
            (
                "commit".into(),
                Json::Str(match &opts.binary {
                    Some(b) => format!("the binary {} (--binary)", b.display()),
                    None => commit(root),
                }),
            ),
        ];
        Ok(bench)
    }

    fn sample(&self, t0: Instant) -> Sample {
        Sample {
            at: t0.elapsed().as_secs_f64(),
            server: cpu_ticks(self.server_pid).unwrap_or(0),
            phones: cpu_ticks(self.phones_pid).unwrap_or(0),
            udp_in: self.udp_counters().get("InDatagrams").copied().unwrap_or(0),
        }
    }

    /// The UDP counters of the host, and of the SIPps' namespace if they have one.
    fn udp_counters(&self) -> BTreeMap<String, u64> {
        if self.net.namespace.is_some() {
            udp_counters(&[self.server_pid, self.phones_pid])
        } else {
            udp_counters(&[self.server_pid])
        }
    }

    /// Agents in state `available`.
    fn available_agents(&self) -> Result<u32> {
        let (status, body) =
            http_request(self.http, "GET", "/api/v1/agents", Some(&self.token), None)?;
        if status != 200 {
            bail!("GET /api/v1/agents: HTTP {status}: {body}");
        }
        let agents = Json::parse(&body)?;
        Ok(agents
            .as_array()
            .iter()
            .filter(|a| {
                a.get("live")
                    .and_then(|l| l.get("state"))
                    .and_then(Json::as_str)
                    == Some("available")
            })
            .count() as u32)
    }

    /// Doubles the concurrency until a step fails, the budget is spent or every agent is
    /// busy; then the baseline and a recorded step at the best concurrency.
    fn search(&mut self, procs: &mut Processes) -> Result<Summary> {
        let opts = self.opts;
        let budget_start = self.started;
        let step_estimate = |c: u32| opts.hold * 3 + Duration::from_secs(u64::from(c) / 20 + 6);
        let fits = |used: Duration, c: u32| used + step_estimate(c) <= opts.budget;
        let mut best: Option<u32> = None;
        let mut failed: Option<u32> = None;
        let mut stopped_by = "the highest concurrency (every agent busy)";
        let mut c = opts.start;
        loop {
            // Keep room for the baseline after the search.
            if !fits(budget_start.elapsed() + step_estimate(c), c) && best.is_some() {
                stopped_by = "the time budget";
                break;
            }
            let s = self.step(StepKind::Search, c, c * 2, opts.hold, procs)?;
            let passed = s.passed;
            self.steps.push(s);
            if !passed {
                failed = Some(c);
                stopped_by = "a step with failed calls";
                break;
            }
            best = Some(c);
            if c >= opts.max {
                break;
            }
            c = (c * 2).min(opts.max);
        }
        // One step between the best and the failed concurrency, if there is room. A step
        // that failed may have left Switchboard behind: the next waits until every agent
        // is available again (it has caught up).
        if let (Some(lo), Some(hi)) = (best, failed) {
            let mid = (lo + hi) / 2;
            if mid > lo
                && hi - lo >= 4
                && self.caught_up()?
                && fits(budget_start.elapsed() + step_estimate(mid), mid)
            {
                let s = self.step(StepKind::Search, mid, mid * 2, opts.hold, procs)?;
                if s.passed {
                    best = Some(mid);
                }
                self.steps.push(s);
            }
        }
        if let Some(b) = best {
            // What the machine does with the same calls and no Switchboard in between.
            self.caught_up()?;
            let s = self.step(StepKind::Baseline, b, b * 2, opts.hold, procs)?;
            self.steps.push(s);
            if fits(budget_start.elapsed(), b) && self.caught_up()? {
                self.set_recording(true)?;
                let s = self.step(StepKind::Recorded, b, b * 2, opts.hold, procs)?;
                self.steps.push(s);
            }
        }
        Ok(self.summary(best, failed, stopped_by))
    }

    /// Waits (at most 60 s) until every agent is available: Switchboard has caught up
    /// with the calls of the last step.
    fn caught_up(&self) -> Result<bool> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if self.available_agents()? == self.opts.agents {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(false)
    }

    fn set_recording(&self, record: bool) -> Result<()> {
        let body = format!(r#"{{"strategy":"longest-idle","wrap_up_secs":0,"record":{record}}}"#);
        let (status, text) = http_request(
            self.http,
            "PUT",
            "/api/v1/queues/bench",
            Some(&self.token),
            Some(&body),
        )?;
        if status != 204 {
            bail!("PUT /api/v1/queues/bench: HTTP {status}: {text}");
        }
        Ok(())
    }

    /// Runs `calls` calls, at most `concurrency` at once, at `concurrency` calls per
    /// `hold` (so that `concurrency` calls are up once the first have been sent), each
    /// held `hold` after the answer; then checks every call.
    fn step(
        &mut self,
        kind: StepKind,
        concurrency: u32,
        calls: u32,
        hold: Duration,
        procs: &mut Processes,
    ) -> Result<Step> {
        self.runs += 1;
        let label = format!("step{}", self.runs);
        let target = match kind {
            StepKind::Baseline => self.phones,
            _ => self.sip,
        };
        let hold_ms = hold.as_millis() as u64;
        let rate = f64::from(concurrency) * 1000.0 / hold_ms as f64;
        eprintln!(
            "bench sip: {label} ({}): {calls} calls, {concurrency} at once, {rate:.1} calls/s, \
             {} s each",
            kind.name(),
            hold.as_secs()
        );
        // Long enough for every call (sent over calls/rate seconds, each lasting `hold`),
        // with room for slow answers; a step that overruns it fails.
        let sending = Duration::from_secs_f64(f64::from(calls) / rate);
        let limit = sending + hold + Duration::from_secs(30);
        let phones_before = SippStats::read(&self.work.join("agents.csv"));
        let udp_before = self.udp_counters();
        let recordings_before = count_files(&self.work.join("data/recordings"));
        let log_before = file_len(&self.work.join("server.log"));
        let children_before = children_ticks();
        let machine_before = Idle::now();
        let own_before = own_ticks();
        let start_ms = unix_ms();
        let t0 = Instant::now();
        let mut caller = sipp_command(&self.work, self.net, "caller.xml", &label)
            .arg(target.to_string())
            .args(["-s", "bench", "-m", &calls.to_string()])
            .args(["-l", &concurrency.to_string()])
            .args(["-r", &concurrency.to_string(), "-rp", &hold_ms.to_string()])
            .args(["-d", &hold_ms.to_string()])
            .args(["-p", &free_port(Proto::Udp)?.to_string()])
            .args(["-mp", &free_media_port()?.to_string()])
            .args(["-rtp_buffsize", RTP_BUFFER])
            .args([
                "-timeout",
                &format!("{}s", limit.as_secs()),
                "-timeout_error",
            ])
            .spawn()
            .context("cannot start sipp")?;
        let mut samples: Vec<Sample> = Vec::new();
        let mut drops = [
            SocketDrops::new(self.server_pid),
            SocketDrops::new(self.phones_pid),
        ];
        let (mut rss_max, mut threads_max) = (0u64, 0u64);
        let status: ExitStatus = loop {
            if let Some(status) = caller.try_wait()? {
                break status;
            }
            if t0.elapsed() > limit + Duration::from_secs(15) {
                let _ = caller.kill();
                break caller.wait()?;
            }
            samples.push(self.sample(t0));
            // Once a second: a socket lives as long as its call, and a read of every
            // socket's line is the costliest thing the benchmark does.
            if samples.len() % 4 == 1 {
                for d in &mut drops {
                    d.update();
                }
            }
            if kind != StepKind::Baseline {
                rss_max = rss_max.max(status_kib(self.server_pid, "VmRSS:").unwrap_or(0));
                threads_max = threads_max.max(status_kib(self.server_pid, "Threads:").unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let wall = t0.elapsed().as_secs_f64();
        let kib_per_call = (kind != StepKind::Baseline && concurrency > 0)
            .then(|| rss_max.saturating_sub(self.idle_rss_kib) as f64 / f64::from(concurrency));
        // The idle server's memory varies from run to run by more than a thousand calls
        // take; the slope between two steps of one run does not include it.
        let kib_per_added_call = self
            .steps
            .iter()
            .rev()
            .find(|s| s.kind == kind && s.concurrency < concurrency)
            .and_then(|s| Some((s.concurrency, s.rss_max_kib?)))
            .map(|(c, rss)| (rss_max as f64 - rss as f64) / f64::from(concurrency - c));
        let caller_ticks = children_ticks().saturating_sub(children_before);
        // The machine's time, less this benchmark's own (reading `/proc/net/udp` with
        // thousands of sockets open costs a good part of a core).
        let harness_ticks = own_ticks().saturating_sub(own_before);
        let machine_ticks = machine_before
            .busy_since(self.ticks_per_sec)
            .saturating_sub(harness_ticks);
        samples.push(self.sample(t0));
        let udp_after = self.udp_counters();
        for d in &mut drops {
            d.update();
        }
        let callers = SippStats::read(&self.work.join(format!("{label}.csv")));

        // The agents' SIPp ends its calls when Switchboard's BYEs arrive, and writes its
        // counts each second.
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(500));
            let phones = SippStats::read(&self.work.join("agents.csv"));
            let done = delta(&phones, &phones_before, "SuccessfulCall(C)")
                + delta(&phones, &phones_before, "FailedCall(C)");
            if done >= u64::from(calls) || (kind == StepKind::Baseline && !status.success()) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1100));
        let phones = SippStats::read(&self.work.join("agents.csv"));
        let phones_ok = delta(&phones, &phones_before, "SuccessfulCall(C)");
        let phones_failed = delta(&phones, &phones_before, "FailedCall(C)");
        let callers_ok = callers.count("SuccessfulCall(C)");
        let callers_failed = callers.count("FailedCall(C)");

        for process in ["switchboard", "agents' SIPp"] {
            if !procs.running(process) {
                bail!(
                    "{process} exited during {label}; see {}",
                    self.work
                        .join(if process == "switchboard" {
                            "server.log"
                        } else {
                            "agents.stderr"
                        })
                        .display()
                );
            }
        }
        let mut problems: Vec<String> = Vec::new();
        if !status.success() || callers_failed > 0 || callers_ok != u64::from(calls) {
            problems.push(format!(
                "callers' SIPp {status}: {callers_ok} of {calls} calls completed, \
                 {callers_failed} failed ({})",
                first_error(&self.work.join(format!("{label}-errors.log")))
            ));
        }
        if phones_ok != u64::from(calls) || phones_failed > 0 {
            problems.push(format!(
                "agents' SIPp: {phones_ok} of {calls} calls answered and ended normally, \
                 {phones_failed} failed ({})",
                first_error(&self.work.join("agents-errors.log"))
            ));
        }

        let mut fields: Vec<(String, Json)> = vec![
            ("kind".into(), Json::Str(kind.name().into())),
            ("concurrency".into(), Json::from(concurrency)),
            ("calls".into(), Json::from(calls)),
            ("calls_per_s".into(), Json::num(rate)),
            ("hold_s".into(), Json::from(hold.as_secs() as u32)),
            ("wall_s".into(), Json::num(wall)),
        ];
        let steady = steady_window(&samples, hold, sending);
        let udp_rate = steady.map(|(a, b)| (b.udp_in - a.udp_in) as f64 / (b.at - a.at));
        let mut cpu_steady = None;
        let mut cpu_ms_per_call = None;
        let phones_ticks =
            samples.last().map_or(0, |s| s.phones) - samples.first().map_or(0, |s| s.phones);
        fields.push((
            "sipp_cpu".into(),
            Json::obj([
                (
                    "callers_percent_of_one_core",
                    Json::num(percent(caller_ticks, self.ticks_per_sec, wall)),
                ),
                (
                    "agents_percent_of_one_core",
                    Json::num(percent(phones_ticks, self.ticks_per_sec, wall)),
                ),
                (
                    "ms_per_call_both",
                    Json::num(
                        (caller_ticks + phones_ticks) as f64 * 1000.0
                            / self.ticks_per_sec
                            / f64::from(calls),
                    ),
                ),
            ]),
        ));
        if kind != StepKind::Baseline {
            // Every call reached an agent: its contact was answered and ended handled.
            let StepContacts {
                handled,
                waits,
                others: unhandled,
                recorded_per_s,
            } = self.contacts_since(start_ms)?;
            // The nominal rate holds only while calls end as fast as they start: SIPp keeps
            // at most `concurrency` calls up, and a call lasts its answer time plus `hold`.
            fields.push((
                "calls_per_s_recorded".into(),
                recorded_per_s.map_or(Json::Null, Json::num),
            ));
            if handled != calls as usize {
                problems.push(format!(
                    "{handled} of {calls} contacts answered by an agent and handled; others: {}",
                    if unhandled.is_empty() {
                        "none recorded".into()
                    } else {
                        unhandled.join(", ")
                    }
                ));
            }
            let late = waits.iter().filter(|w| **w > LATE_ANSWER_MS).count();
            if late > 0 {
                problems.push(format!(
                    "{late} calls waited more than {LATE_ANSWER_MS} ms in the queue with agents free \
                     (longest {} ms)",
                    waits.last().copied().unwrap_or(0)
                ));
            }
            let settle = Instant::now();
            let mut available = self.available_agents()?;
            while available != self.opts.agents && settle.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(500));
                available = self.available_agents()?;
            }
            if available != self.opts.agents {
                problems.push(format!(
                    "{available} of {} agents available again after the step",
                    self.opts.agents
                ));
            }
            // What stays once the calls are over: memory that grows with the calls made,
            // not with the calls up at once, shows here.
            let rest_rss_kib = status_kib(self.server_pid, "VmRSS:");
            let first = samples.first().map_or(0, |s| s.server);
            let last = samples.last().map_or(0, |s| s.server);
            let ticks = last.saturating_sub(first);
            cpu_steady =
                steady.map(|(a, b)| percent(b.server - a.server, self.ticks_per_sec, b.at - a.at));
            cpu_ms_per_call = Some(ticks as f64 * 1000.0 / self.ticks_per_sec / f64::from(calls));
            fields.push((
                "switchboard".into(),
                Json::obj([
                    (
                        "cpu_percent_of_one_core_whole_step",
                        Json::num(percent(ticks, self.ticks_per_sec, wall)),
                    ),
                    (
                        "cpu_percent_of_one_core_at_full_concurrency",
                        cpu_steady.map_or(Json::Null, Json::num),
                    ),
                    (
                        "cpu_ms_per_call",
                        cpu_ms_per_call.map_or(Json::Null, Json::num),
                    ),
                    ("rss_max_mib", Json::num(rss_max as f64 / 1024.0)),
                    (
                        "rss_after_the_calls_mib",
                        rest_rss_kib.map_or(Json::Null, |k| Json::num(k as f64 / 1024.0)),
                    ),
                    (
                        "rss_kib_per_call_over_idle",
                        kib_per_call.map_or(Json::Null, Json::num),
                    ),
                    (
                        "rss_kib_per_call_over_the_last_step",
                        kib_per_added_call.map_or(Json::Null, Json::num),
                    ),
                    (
                        "rss_peak_since_start_mib",
                        Json::num(
                            status_kib(self.server_pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0,
                        ),
                    ),
                    ("threads_max", Json::from(threads_max as u32)),
                    (
                        "log_bytes_per_call",
                        Json::num(
                            (file_len(&self.work.join("server.log")) - log_before) as f64
                                / f64::from(calls),
                        ),
                    ),
                ]),
            ));
            fields.push((
                "agent_answered_after_queued_ms".into(),
                Json::obj([
                    (
                        "p50",
                        percentile(&waits, 0.5).map_or(Json::Null, Json::from),
                    ),
                    (
                        "p95",
                        percentile(&waits, 0.95).map_or(Json::Null, Json::from),
                    ),
                    (
                        "max",
                        waits.iter().max().map_or(Json::Null, |m| Json::from(*m)),
                    ),
                ]),
            ));
            if kind == StepKind::Recorded {
                let made = count_files(&self.work.join("data/recordings")) - recordings_before;
                fields.push(("recordings".into(), Json::from(made as u32)));
                if made != calls as usize {
                    problems.push(format!("{made} recordings for {calls} calls"));
                }
            }
        }
        let d = |k: &str| {
            udp_after.get(k).copied().unwrap_or(0) - udp_before.get(k).copied().unwrap_or(0)
        };
        // How busy the whole machine was: Switchboard and the two SIPps, and whatever else
        // ran (other processes, and kernel work no process is charged for).
        let ours = caller_ticks + samples.last().map_or(0, |s| s.phones + s.server)
            - samples.first().map_or(0, |s| s.phones + s.server);
        fields.push((
            "machine".into(),
            Json::obj([
                (
                    "busy_percent_of_one_core",
                    Json::num(percent(machine_ticks, self.ticks_per_sec, wall)),
                ),
                // With the kernel media path, relaying runs in the kernel on the senders'
                // time, charged to no process of Switchboard's: the machine's time per
                // call, against the SIPp-to-SIPp step's, is the whole cost of a call.
                (
                    "busy_ms_per_call",
                    Json::num(
                        machine_ticks as f64 * 1000.0 / self.ticks_per_sec / f64::from(calls),
                    ),
                ),
                (
                    "benchmark_sampling_ms_per_call_left_out",
                    Json::num(
                        harness_ticks as f64 * 1000.0 / self.ticks_per_sec / f64::from(calls),
                    ),
                ),
                (
                    "busy_outside_the_benchmark_percent_of_one_core",
                    Json::num(percent(
                        machine_ticks.saturating_sub(ours),
                        self.ticks_per_sec,
                        wall,
                    )),
                ),
            ]),
        ));
        fields.push((
            "udp".into(),
            Json::obj([
                (
                    "datagrams_per_s_at_full_concurrency",
                    udp_rate.map_or(Json::Null, Json::num),
                ),
                (
                    "per_call_per_s",
                    udp_rate.map_or(Json::Null, |r| Json::num(r / f64::from(concurrency))),
                ),
                (
                    "dropped_by_switchboard_sockets",
                    if kind == StepKind::Baseline {
                        Json::Null
                    } else {
                        Json::from(drops[0].total())
                    },
                ),
                (
                    "dropped_by_agents_sipp_sockets",
                    Json::from(drops[1].total()),
                ),
                (
                    "machine_receive_buffer_errors",
                    Json::from(d("RcvbufErrors")),
                ),
                ("machine_no_port", Json::from(d("NoPorts"))),
            ]),
        ));
        fields.push((
            "callers_retransmissions".into(),
            Json::from(callers.count("Retransmissions(C)")),
        ));
        fields.push((
            "callers_mean_ms_from_invite_to_answer".into(),
            callers
                .millis("ResponseTime1(C)")
                .map_or(Json::Null, Json::num),
        ));
        let passed = problems.is_empty();
        fields.push(("passed".into(), Json::Bool(passed)));
        if !passed {
            fields.push((
                "problems".into(),
                Json::Arr(problems.iter().map(|p| Json::Str(p.clone())).collect()),
            ));
        }
        eprintln!(
            "bench sip: {label} {}{}",
            if passed { "passed" } else { "FAILED: " },
            problems.join("; ")
        );
        Ok(Step {
            kind,
            concurrency,
            json: Json::Obj(fields),
            passed,
            cpu_steady,
            cpu_ms_per_call,
            kib_per_call,
            kib_per_added_call,
            rss_max_kib: (kind != StepKind::Baseline).then_some(rss_max),
        })
    }

    /// Contacts started since `since_ms`: how many an agent answered and that ended
    /// `handled`, the milliseconds from queued to answered of each, what became of the
    /// others, and the rate at which they were recorded (from the first to the last).
    fn contacts_since(&self, since_ms: u64) -> Result<StepContacts> {
        // Newest first, at most 1000 a page: page back through `until_ms` (the oldest
        // start seen, plus one so that contacts started in that same millisecond are not
        // skipped; ids seen twice are dropped).
        let mut seen = std::collections::BTreeSet::new();
        let mut contacts: Vec<Json> = Vec::new();
        let mut until: Option<u64> = None;
        for _ in 0..100 {
            let mut path = format!("/api/v1/contacts?since_ms={since_ms}&limit=1000");
            if let Some(u) = until {
                let _ = write!(path, "&until_ms={u}");
            }
            let (status, body) = http_request(self.http, "GET", &path, Some(&self.token), None)?;
            if status != 200 {
                bail!("GET {path}: HTTP {status}: {body}");
            }
            let page = Json::parse(&body)?;
            let mut new = 0;
            let mut oldest = u64::MAX;
            for c in page.as_array() {
                let id = c.get("id").and_then(Json::as_f64).unwrap_or(-1.0) as i64;
                let created = c.get("created_ms").and_then(Json::as_f64).unwrap_or(0.0) as u64;
                oldest = oldest.min(created);
                if seen.insert(id) {
                    new += 1;
                    contacts.push(c.clone());
                }
            }
            if page.as_array().len() < 1000 || new == 0 {
                break;
            }
            until = Some(oldest + 1);
        }
        let mut handled = 0;
        let mut waits = Vec::new();
        let mut others: BTreeMap<String, u32> = BTreeMap::new();
        let (mut first, mut last) = (f64::MAX, f64::MIN);
        for c in &contacts {
            let num = |k: &str| c.get(k).and_then(Json::as_f64);
            if let Some(created) = num("created_ms") {
                first = first.min(created);
                last = last.max(created);
            }
            let reason = c.get("end_reason").and_then(Json::as_str).unwrap_or("none");
            match (num("queued_ms"), num("answered_ms")) {
                (Some(q), Some(a))
                    if reason == "handled" && c.get("agent").and_then(Json::as_str).is_some() =>
                {
                    handled += 1;
                    waits.push((a - q).max(0.0) as u64);
                }
                (_, answered) => {
                    let what = format!(
                        "{} ({})",
                        reason,
                        if answered.is_some() {
                            "answered"
                        } else {
                            "never answered"
                        }
                    );
                    *others.entry(what).or_default() += 1;
                }
            }
        }
        waits.sort_unstable();
        let others = others
            .into_iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect();
        let recorded_per_s = (contacts.len() > 1 && last > first)
            .then(|| (contacts.len() - 1) as f64 * 1000.0 / (last - first));
        Ok(StepContacts {
            handled,
            waits,
            others,
            recorded_per_s,
        })
    }

    fn summary(&self, best: Option<u32>, failed: Option<u32>, stopped_by: &str) -> Summary {
        let best_step = |kind: StepKind| {
            self.steps
                .iter()
                .find(|s| s.kind == kind && Some(s.concurrency) == best && s.passed)
        };
        let mut result: Vec<(String, Json)> = vec![
            (
                "highest_concurrency_without_failures".into(),
                best.map_or(Json::Null, Json::from),
            ),
            (
                "calls_per_s_at_it".into(),
                best.map_or(Json::Null, |b| {
                    Json::num(f64::from(b) / self.opts.hold.as_secs_f64())
                }),
            ),
            (
                "first_failed_concurrency".into(),
                failed.map_or(Json::Null, Json::from),
            ),
            ("stopped_by".into(), Json::Str(stopped_by.into())),
        ];
        if let Some(s) = best_step(StepKind::Search) {
            result.push((
                "calls_per_s_recorded_at_it".into(),
                s.json
                    .get("calls_per_s_recorded")
                    .cloned()
                    .unwrap_or(Json::Null),
            ));
            result.push((
                "switchboard_cpu_percent_of_one_core_at_full_concurrency".into(),
                s.cpu_steady.map_or(Json::Null, Json::num),
            ));
            result.push((
                "switchboard_cpu_ms_per_call".into(),
                s.cpu_ms_per_call.map_or(Json::Null, Json::num),
            ));
            result.push((
                "switchboard_rss_kib_per_call_over_idle".into(),
                s.kib_per_call.map_or(Json::Null, Json::num),
            ));
            result.push((
                "switchboard_rss_kib_per_call_over_the_last_step".into(),
                s.kib_per_added_call.map_or(Json::Null, Json::num),
            ));
            if let Some(r) = best_step(StepKind::Recorded) {
                result.push((
                    "recording_cpu_ratio".into(),
                    match (r.cpu_ms_per_call, s.cpu_ms_per_call) {
                        (Some(a), Some(b)) if b > 0.0 => Json::num(a / b),
                        _ => Json::Null,
                    },
                ));
            }
            if let Some(b) = best_step(StepKind::Baseline) {
                let sipp_ms = |step: &Step| {
                    step.json
                        .get("sipp_cpu")
                        .and_then(|c| c.get("ms_per_call_both"))
                        .and_then(Json::as_f64)
                };
                let baseline = sipp_ms(b);
                result.push((
                    "switchboard_cpu_per_call_over_sipp_to_sipp_cpu_per_call".into(),
                    match (s.cpu_ms_per_call, baseline) {
                        (Some(a), Some(b)) if b > 0.0 => Json::num(a / b),
                        _ => Json::Null,
                    },
                ));
                // What a call costs with everything it makes the kernel do: Switchboard's
                // CPU and the SIPps' beyond what they use calling each other directly (the
                // kernel relays a packet in the context of the process that sent it).
                // Processes' CPU times are exact; the machine's busy time also holds other
                // work (kernel threads, interrupts).
                for (name, step) in [("", Some(s)), ("_recorded", best_step(StepKind::Recorded))] {
                    let Some(step) = step else { continue };
                    let over = match (step.cpu_ms_per_call, sipp_ms(step), baseline) {
                        (Some(a), Some(b), Some(c)) => Some(a + b - c),
                        _ => None,
                    };
                    result.push((
                        format!("cpu_ms_per_call_over_sipp_to_sipp{name}"),
                        over.map_or(Json::Null, Json::num),
                    ));
                    result.push((
                        format!("cpu_percent_of_one_core_per_call_over_sipp_to_sipp{name}"),
                        over.map_or(Json::Null, |ms| {
                            Json::num(ms / (self.opts.hold.as_secs_f64() * 10.0))
                        }),
                    ));
                }
            }
        }
        let machine = Json::obj([
            ("cpu", Json::Str(cpu_model())),
            (
                "cores",
                Json::from(std::thread::available_parallelism().map_or(0, |n| n.get() as u32)),
            ),
            ("sipp", Json::Str(sipp_version())),
            ("date_utc", Json::Str(date_utc())),
            ("load_average_at_end", Json::Str(load_average())),
        ]);
        let mut out: Vec<(String, Json)> = vec![
            ("benchmark".into(), Json::Str("sip".into())),
            ("machine".into(), machine),
            (
                "setup".into(),
                Json::obj([
                    ("agents", Json::from(self.opts.agents)),
                    ("hold_s", Json::from(self.opts.hold.as_secs() as u32)),
                    (
                        "flow",
                        Json::Str("say \"Thank you for calling.\", then enqueue (longest-idle, wrap-up 0 s)".into()),
                    ),
                    ("codec", Json::Str("PCMU both legs; agents echo the caller's audio".into())),
                ]),
            ),
        ];
        out.extend(self.facts.iter().cloned());
        out.push((
            "notes".into(),
            Json::Arr(
                [
                    "cpu percentages are of one core; at_full_concurrency is measured while \
                     `concurrency` calls are up, ms_per_call over the whole step",
                    "rss_kib_per_call_over_idle: the server's highest resident memory in the \
                     step less its memory idle with the agents registered, per call up at \
                     once (the allocator keeps some freed memory, so this is an upper bound)",
                    "rss_kib_per_call_over_the_last_step: the growth of the server's highest \
                     resident memory from the last step of the same kind to this one, per call \
                     added at once; the idle memory, which varies from run to run, is not in it",
                    "kernel_floor: one thread relays datagrams of a call's size between two \
                     loopback UDP sockets (a recv and a send each, as Switchboard does for \
                     every packet of a conversation: 100 a call-second); the CPU that costs \
                     per call-second, and the calls one core could carry if Switchboard's \
                     own work cost nothing",
                    "udp.per_call_per_s counts datagrams received on the machine: through \
                     Switchboard a call is four 50 packet/s streams (caller, to the agent, \
                     the agent's echo, back to the caller), SIPp-to-SIPp two; the callers' \
                     SIPp never reads the audio sent back to it, so about 50 per call-second \
                     are dropped there in every kind of step (machine_receive_buffer_errors)",
                    "cpu_ms_per_call_over_sipp_to_sipp: Switchboard's CPU per call plus the \
                     two SIPps' per call in the step, less the SIPps' per call when they call \
                     each other directly (the kernel relays a packet in the context of the \
                     process that sent it, so its work is in the SIPps' time); processes' \
                     CPU times are exact",
                    "machine.busy_ms_per_call: the time that passed on every core less the \
                     kernel's idle, I/O-wait and steal time (which it measures exactly; its \
                     user and system counts are sampled at each tick and miss much of a \
                     bursty load), less the benchmark's own CPU (reading every socket's \
                     drops once a second), per call; it holds kernel threads' and other \
                     processes' work too",
                    "calls_per_s is the step's nominal rate (concurrency / hold); SIPp keeps at \
                     most `concurrency` calls up and a call lasts its answer time plus the \
                     hold, so the rate sustained is lower when answers are slow: \
                     calls_per_s_recorded is the rate Switchboard recorded the step's new \
                     contacts at, from the first to the last",
                ]
                .iter()
                .map(|n| Json::Str((*n).into()))
                .collect(),
            ),
        ));
        out.push(("result".into(), Json::Obj(result)));
        out.push((
            "steps".into(),
            Json::Arr(self.steps.iter().map(|s| s.json.clone()).collect()),
        ));
        out.push((
            "total_s".into(),
            Json::num(self.started.elapsed().as_secs_f64()),
        ));
        let passed = self
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Search && s.passed)
            .count();
        Summary {
            json: Json::Obj(out),
            passed,
        }
    }
}

/// The window in which `concurrency` calls were up: from the end of the first call
/// (`hold` after the start) to the last call sent (`sending`), as the samples nearest it.
fn steady_window(
    samples: &[Sample],
    hold: Duration,
    sending: Duration,
) -> Option<(&Sample, &Sample)> {
    let from = hold.as_secs_f64() + 0.5;
    let to = sending.as_secs_f64();
    if to - from < 1.0 {
        return None;
    }
    let a = samples.iter().find(|s| s.at >= from)?;
    let b = samples.iter().rev().find(|s| s.at <= to)?;
    (b.at - a.at >= 1.0).then_some((a, b))
}

/// Counters read during a step.
struct Sample {
    /// Seconds since the step started.
    at: f64,
    /// Switchboard's CPU ticks.
    server: u64,
    /// The agents' SIPp's CPU ticks.
    phones: u64,
    /// UDP datagrams the machine received.
    udp_in: u64,
}

/// Writes the company file (a queue, `agents` agents with their users and phones, an
/// admin) and the flow.
fn write_company(work: &Path, agents: u32) -> Result<()> {
    std::fs::create_dir_all(work.join("flows"))?;
    std::fs::write(
        work.join("flows/bench.yaml"),
        "# Written by `cargo xtask bench sip`: a short prompt, then the queue.\n\
         id: bench\nversion: 1\nstart: welcome\nnodes:\n  welcome:\n    \
         say: \"Thank you for calling.\"\n    next: queue\n  queue:\n    enqueue:\n      \
         queue: bench\n",
    )?;
    let mut c = String::from(
        "# Written by `cargo xtask bench sip`.\nflows = [\"flows/bench.yaml\"]\n\n\
         [numbers]\nbench = \"bench\"\n\n\
         [queues.bench]\nstrategy = \"longest-idle\"\nwrap_up_secs = 0\nrecord = false\n\n",
    );
    for i in 1..=agents {
        let _ = writeln!(
            c,
            "[agents.agent-{i}]\nname = \"Agent {i}\"\nqueues = {{ bench = 1 }}\n"
        );
    }
    let _ = writeln!(
        c,
        "[[users]]\nname = \"admin\"\npassword = \"{ADMIN_PASSWORD}\"\nrole = \"admin\"\n"
    );
    for i in 1..=agents {
        let _ = writeln!(
            c,
            "[[users]]\nname = \"agent-{i}\"\npassword = \"{AGENT_PASSWORD}\"\nrole = \"agent\"\n\
             agent = \"agent-{i}\"\nsip_password = \"{PHONE_PASSWORD}\"\n"
        );
    }
    std::fs::write(work.join("company.toml"), c)?;
    Ok(())
}

/// Waits (at most two minutes) for the server's "listening on http://…" line.
fn wait_for_address(
    lines: &mpsc::Receiver<String>,
    procs: &mut Processes,
    work: &Path,
) -> Result<SocketAddr> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                if let Some(rest) = line.split("http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    return addr
                        .parse()
                        .map_err(|e| anyhow!("server printed `{line}`: {e}"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !procs.running("switchboard") {
            break;
        }
    }
    bail!(
        "switchboard did not start listening:\n{}",
        tail(&work.join("server.log"), 30)
    )
}

/// A SIPp command in `work` with the common options: the parties' address only,
/// statistics each second in `{name}.csv`, errors in `{name}-errors.log`, stderr in
/// `{name}.stderr`.
fn sipp_command(work: &Path, net: &Net, scenario: &str, name: &str) -> Command {
    let mut c = net.command("sipp");
    let parties = net.parties.to_string();
    c.args(["-sf", scenario, "-i", &parties, "-mi", &parties, "-nostdin"])
        .args(["-trace_stat", "-stf", &format!("{name}.csv"), "-fd", "1"])
        .args(["-trace_err", "-error_file", &format!("{name}-errors.log")])
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    match std::fs::File::create(work.join(format!("{name}.stderr"))) {
        Ok(f) => c.stderr(f),
        Err(_) => c.stderr(Stdio::null()),
    };
    c
}

/// The last row of a SIPp statistics file, by column name.
struct SippStats(BTreeMap<String, String>);

impl SippStats {
    fn read(path: &Path) -> SippStats {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let (Some(header), Some(last)) = (lines.next(), lines.next_back()) else {
            return SippStats(BTreeMap::new());
        };
        SippStats(
            header
                .split(';')
                .zip(last.split(';'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    /// A counter (0 when missing).
    fn count(&self, key: &str) -> u64 {
        self.0.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// A duration (`HH:MM:SS:µµµµµµ`) in milliseconds.
    fn millis(&self, key: &str) -> Option<f64> {
        let parts: Vec<f64> = self
            .0
            .get(key)?
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        match parts.as_slice() {
            [h, m, s, us] => Some(((h * 60.0 + m) * 60.0 + s) * 1000.0 + us / 1000.0),
            _ => None,
        }
    }
}

/// How much the counter `key` grew from `before` to `now`.
fn delta(now: &SippStats, before: &SippStats, key: &str) -> u64 {
    now.count(key).saturating_sub(before.count(key))
}

/// The first error SIPp logged, shortened.
fn first_error(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no error logged");
    let short: String = line.chars().take(300).collect();
    format!("{short}; see {}", path.display())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.filter_map(Result::ok).count())
}

#[derive(Clone, Copy)]
enum Proto {
    Udp,
    UdpAndTcp,
}

/// A port on 127.0.0.1 free now (the kernel's choice).
fn free_port(proto: Proto) -> Result<u16> {
    for _ in 0..50 {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        if matches!(proto, Proto::Udp) || TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1")
}

/// A free even port whose next three are free too (SIPp's RTP echo also takes port + 2).
fn free_media_port() -> Result<u16> {
    for _ in 0..100 {
        let base = free_port(Proto::Udp)? & !1;
        if !(1024..=65_000).contains(&base) {
            continue;
        }
        let taken: Vec<_> = (0..4)
            .map_while(|i| UdpSocket::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if taken.len() == 4 {
            return Ok(base);
        }
    }
    bail!("no four free ports in a row on 127.0.0.1")
}

/// Twenty seconds of caller audio for SIPp's `rtp_stream` (looped): a WAV of G.711
/// μ-law, 8 kHz mono, a tone that changes pitch each second.
fn caller_audio(secs: u32) -> Vec<u8> {
    let n = (secs * 8000) as usize;
    let mut data = Vec::with_capacity(n);
    let mut phase = 0.0f64;
    for i in 0..n {
        let hz = 300.0 + 100.0 * ((i / 8000) % 5) as f64;
        phase += 2.0 * std::f64::consts::PI * hz / 8000.0;
        data.push(ulaw((phase.sin() * 8000.0) as i16));
    }
    let mut wav = Vec::with_capacity(n + 44);
    wav.extend(b"RIFF");
    wav.extend(((36 + data.len()) as u32).to_le_bytes());
    wav.extend(b"WAVEfmt ");
    wav.extend(16u32.to_le_bytes());
    wav.extend(7u16.to_le_bytes()); // μ-law
    wav.extend(1u16.to_le_bytes());
    wav.extend(8000u32.to_le_bytes());
    wav.extend(8000u32.to_le_bytes());
    wav.extend(1u16.to_le_bytes());
    wav.extend(8u16.to_le_bytes());
    wav.extend(b"data");
    wav.extend((data.len() as u32).to_le_bytes());
    wav.extend(data);
    wav
}

/// G.711 μ-law encoding of one sample.
fn ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(32_635) + 0x84;
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as i32 | mantissa) as u8
}

/// A minimal HTTP/1.1 request on 127.0.0.1 (JSON body, bearer token); answers the status
/// and the body.
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        let _ = write!(req, "Authorization: Bearer {t}\r\n");
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        let _ = write!(
            req,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("{method} {path}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("{method} {path}: no HTTP header in the answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut content = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{method} {path}: bad status line {head}"))?;
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        content = dechunk(&content);
    }
    Ok((status, String::from_utf8_lossy(&content).to_string()))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of this process's children that have been waited for (cutime + cstime).
fn children_ticks() -> u64 {
    own_stat_sum(13, 14)
}

/// CPU ticks of this process, every thread (utime + stime): the benchmark's own sampling,
/// which is not part of the machine's time per call.
fn own_ticks() -> u64 {
    own_stat_sum(11, 12)
}

/// The sum of two numeric fields of `/proc/self/stat` (counted after the command name).
fn own_stat_sum(a: usize, b: usize) -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let n = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    n(a) + n(b)
}

/// A `/proc/PID/status` figure (`VmRSS:`, `VmHWM:` in KiB, `Threads:`).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Datagrams dropped by one process's UDP sockets (full receive buffers), from the
/// `drops` column of `/proc/net/udp`: sockets are sampled while they live, so a socket's
/// drops after its last sample are missed.
struct SocketDrops {
    pid: u32,
    /// Per socket inode: drops when the step started (0 for sockets opened since), and
    /// the most seen.
    sockets: BTreeMap<u64, (u64, u64)>,
    /// Sockets seen from now on were opened during the step.
    opened_since: bool,
}

impl SocketDrops {
    fn new(pid: u32) -> SocketDrops {
        let mut d = SocketDrops {
            pid,
            sockets: BTreeMap::new(),
            opened_since: false,
        };
        d.update();
        d.opened_since = true;
        d
    }

    fn update(&mut self) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.pid)) else {
            return;
        };
        let mine: std::collections::BTreeSet<u64> = fds
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter_map(|l| {
                l.to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect();
        // The tables of the process's own network namespace.
        for table in ["udp", "udp6"] {
            let path = format!("/proc/{}/net/{table}", self.pid);
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (Some(inode), Some(drops)) = (
                    f.get(9).and_then(|v| v.parse::<u64>().ok()),
                    f.get(12).and_then(|v| v.parse::<u64>().ok()),
                ) else {
                    continue;
                };
                if mine.contains(&inode) {
                    let first = if self.opened_since { 0 } else { drops };
                    let e = self.sockets.entry(inode).or_insert((first, drops));
                    e.1 = e.1.max(drops);
                }
            }
        }
    }

    fn total(&self) -> u64 {
        self.sockets
            .values()
            .map(|(first, most)| most - first)
            .sum()
    }
}

/// The machine's idle time so far (all cores, `/proc/stat`), to measure how busy it was
/// since: the kernel measures idle time exactly, while its user and system counts are
/// sampled at each tick and miss much of a load that runs in short bursts between idle
/// spells, as packet handling does (in a ping-pong of datagrams they came to 15% less
/// than the processes' own exact CPU times, and the fields summed to 1.5% less than the
/// time that passed).
struct Idle {
    at: Instant,
    /// Idle, I/O wait and steal ticks (steal: the hypervisor ran something else).
    ticks: u64,
}

impl Idle {
    fn now() -> Idle {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = text
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal
        let field = |i: usize| v.get(i).copied().unwrap_or(0);
        Idle {
            at: Instant::now(),
            ticks: field(3) + field(4) + field(7),
        }
    }

    /// Clock ticks the machine was busy (all cores) since this reading.
    fn busy_since(&self, ticks_per_sec: f64) -> u64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let elapsed = self.at.elapsed().as_secs_f64() * ticks_per_sec * cores;
        (elapsed as u64).saturating_sub(Idle::now().ticks - self.ticks)
    }
}

/// The machine's UDP counters (`/proc/PID/net/snmp`), summed over the network
/// namespaces of the processes `pids` (one each).
fn udp_counters(pids: &[u32]) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/snmp")).unwrap_or_default();
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
        if let [names, values, ..] = rows.as_slice() {
            for (k, v) in names
                .split_whitespace()
                .zip(values.split_whitespace())
                .skip(1)
            {
                *sum.entry(k.to_string()).or_insert(0) += v.parse::<u64>().unwrap_or(0);
            }
        }
    }
    sum
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn percent(ticks: u64, per_sec: f64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ticks as f64 / per_sec / secs * 100.0
}

fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_string())
}

fn sipp_version() -> String {
    let out = Command::new("sipp").arg("-v").output();
    let text = out.map_or(String::new(), |o| {
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    });
    text.split_whitespace()
        .find(|w| w.starts_with('v') && w.chars().nth(1).is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_string()
}

/// The commit measured, `+dirty` when the working tree has changes.
fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty = git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "crates",
    ])
    .is_some_and(|s| !s.is_empty());
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

/// `/proc/loadavg`'s 1, 5 and 15 minute figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn date_utc() -> String {
    let days = (unix_ms() / 86_400_000) as i64;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The SIPps' RTP socket buffers, in bytes (the kernel caps them at `net.core.rmem_max`):
/// the agents' SIPp takes every call's audio on one socket, and 1,000 calls' packets can
/// arrive within a millisecond, far more than the default buffer holds.
const RTP_BUFFER: &str = "4194304";

/// Packets Switchboard relays per second of a conversation: 50 each way.
const RELAYED_PER_CALL_SECOND: f64 = 100.0;

/// The median over five rounds of the time one thread takes to relay a 172-byte datagram
/// (RTP, 20 ms of G.711) between two loopback UDP sockets: a `send_to` and a `recv_from`,
/// in nanoseconds. On loopback the send also runs the receiving socket's side of the
/// stack, as it does when Switchboard sends to a SIPp on the same machine.
fn kernel_floor_ns() -> Result<f64> {
    use std::net::UdpSocket;
    const ROUND: u32 = 50_000;
    let a = UdpSocket::bind("127.0.0.1:0")?;
    let b = UdpSocket::bind("127.0.0.1:0")?;
    let (to_a, to_b) = (a.local_addr()?, b.local_addr()?);
    let packet = [0u8; 172];
    let mut buf = [0u8; 2048];
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..ROUND {
            a.send_to(&packet, to_b)?;
            b.recv_from(&mut buf)?;
            b.send_to(&packet, to_a)?;
            a.recv_from(&mut buf)?;
        }
        rounds.push(t.elapsed().as_nanos() as f64 / f64::from(2 * ROUND));
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds[2])
}

/// Just enough JSON: parsing the API's answers, printing the summary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl From<u32> for Json {
    fn from(n: u32) -> Json {
        Json::Num(f64::from(n))
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Num(n as f64)
    }
}

impl Json {
    /// A number rounded to what is worth printing.
    fn num(x: f64) -> Json {
        let r = if x.abs() >= 100.0 {
            (x * 10.0).round() / 10.0
        } else {
            (x * 1000.0).round() / 1000.0
        };
        Json::Num(r)
    }

    fn obj<const N: usize>(fields: [(&str, Json); N]) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            bail!("JSON: trailing text at byte {}", p.i);
        }
        Ok(v)
    }

    fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) if n.is_finite() => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    let _ = write!(out, "{}", *n as i64);
                } else {
                    let _ = write!(out, "{n}");
                }
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    Json::Str(k.clone()).write(out, indent + 1);
                    out.push_str(": ");
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, word: &str) -> Result<()> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            bail!("JSON: expected `{word}` at byte {}", self.i)
        }
    }

    fn value(&mut self) -> Result<Json> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => bail!("JSON: expected , or }} at byte {}", self.i),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => bail!("JSON: expected , or ] at byte {}", self.i),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.eat("true").map(|()| Json::Bool(true)),
            Some(b'f') => self.eat("false").map(|()| Json::Bool(false)),
            Some(b'n') => self.eat("null").map(|()| Json::Null),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])?
                    .parse()
                    .map(Json::Num)
                    .map_err(|_| anyhow!("JSON: bad value at byte {start}"))
            }
            None => bail!("JSON: unexpected end"),
        }
    }

    fn string(&mut self) -> Result<String> {
        self.eat("\"")?;
        let mut out = Vec::new();
        loop {
            let c = *self
                .s
                .get(self.i)
                .ok_or_else(|| anyhow!("JSON: unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).to_string()),
                b'\\' => {
                    let e = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| anyhow!("JSON: unterminated string"))?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| anyhow!("JSON: bad \\u escape"))?;
                            self.i += 4;
                            // Surrogate pairs are not needed here: a lone one becomes U+FFFD.
                            let ch = char::from_u32(hex).unwrap_or('\u{fffd}');
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let text = r#"{"a": [1, 2.5, "x\"y\u00e9"], "b": {"c": null, "d": true}, "e": []}"#;
        let j = Json::parse(text).unwrap();
        assert_eq!(j.get("a").unwrap().as_array()[2].as_str(), Some("x\"yé"));
        assert_eq!(Json::parse(&j.pretty()).unwrap(), j);
    }

    #[test]
    fn ulaw_matches_g711() {
        // ITU-T G.711 μ-law: silence is 0xff, full scale 0x80 / 0x00.
        assert_eq!(ulaw(0), 0xff);
        assert_eq!(ulaw(32_767), 0x80);
        assert_eq!(ulaw(-32_768), 0x00);
        assert_eq!(ulaw(1000), 0xce);
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(date_utc().len(), 10);
    }
}
