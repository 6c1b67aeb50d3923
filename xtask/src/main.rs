//! Project automation: `cargo xtask test` (provision, lint, check invariants, run every
//! test) and `cargo xtask bench NAME` (benchmarks that print a JSON summary).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench_sip;
mod postgres;

/// System packages the test suite needs: (program looked for on PATH, or a file's absolute
/// path, and the Debian package that provides it).
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    // SIPp: the real caller of the voice tests.
    ("sipp", "sip-tester"),
    // Speaks the flows' `say` prompts on calls.
    ("espeak-ng", "espeak-ng"),
    // baresip: a real registered agent phone in the voice tests.
    ("baresip", "baresip"),
    // The browser the web screens are tested in (through npm's playwright-core), with a
    // font to render them, and Node.js to run those tests.
    ("chromium", "chromium"),
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
    ("node", "nodejs"),
    ("npm", "npm"),
    // Builds the kernel media path (crates/voice/bpf), which the voice tests use.
    ("clang", "clang"),
    // `ip`: the kernel media path's tests put parties on other machines (network
    // namespaces joined by veth pairs).
    ("ip", "iproute2"),
];
// PostgreSQL's server (Debian's `postgresql`) is needed too: the store's and the server's
// tests run on it as well as on SQLite. Its programs are not on PATH; see
// `postgres::bin_dir`.

/// Architecture invariants on dependencies: (crate, crates it must never pull in, why).
const LAYERS: &[(&str, &[&str], &str)] = &[
    ("switchboard-routing", SANS_IO, "must stay sans-IO"),
    ("switchboard-flow", SANS_IO, "must stay sans-IO"),
    ("switchboard-sim", SANS_IO, "must stay sans-IO"),
    ("switchboard-media", SANS_IO, "must stay sans-IO"),
    (
        "switchboard-store",
        NOT_HTTP_OR_SIP,
        "must not know HTTP or SIP",
    ),
];
const SANS_IO: &[&str] = &[
    "tokio",
    "sqlx",
    "axum",
    "hyper",
    "reqwest",
    "rsipstack",
    "ezk-sip",
    "rsip",
    "mio",
];
const NOT_HTTP_OR_SIP: &[&str] = &["axum", "hyper", "reqwest", "rsipstack", "ezk-sip", "rsip"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["test"] => test(&root),
        ["test", "browser"] => {
            let (passed, failed) = browser_tests(&root)?;
            println!("browser tests: {passed} passed, {failed} failed");
            if failed > 0 {
                bail!("{failed} browser test(s) failed");
            }
            Ok(())
        }
        ["check-deps"] => check_dependencies(&root),
        ["bench", "routing"] => bench(&root, "routing"),
        ["bench", "sip", rest @ ..] => bench_sip::run(&root, rest),
        ["bench", other, ..] => bail!("unknown benchmark `{other}`; available: routing, sip"),
        _ => {
            eprintln!(
                "usage:\n  cargo xtask test          install missing system packages (as root), lint, run every test\n  \
                 cargo xtask test browser  only the web screens' tests, in Chromium\n  \
                 cargo xtask check-deps    check that engine crates stay free of IO crates\n  \
                 cargo xtask bench routing routing engine and simulator benchmarks (JSON summary)\n  \
                 cargo xtask bench sip     SIPp load test of the release binary (JSON summary)"
            );
            bail!("no such command: {}", args.join(" "))
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(root: &Path, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    install_system_packages(root)?;
    run(root, "cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    check_dependencies(root)?;
    let (mut passed, mut failed) = run_tests(root)?;
    let (p, f) = browser_tests(root)?;
    passed += p;
    failed += f;
    println!("cargo xtask test: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test(s) failed");
    }
    Ok(())
}

/// Runs every test with a private PostgreSQL server beside them, then the server's
/// integration tests again with every server on PostgreSQL instead of SQLite; adds up
/// cargo's `test result:` lines.
fn run_tests(root: &Path) -> Result<(u64, u64)> {
    let cluster = postgres::Cluster::start()?;
    let pg = ("SWITCHBOARD_TEST_POSTGRES", cluster.url.as_str());
    let mut cargo = Command::new("cargo");
    cargo.args(["test", "--workspace"]);
    let (p1, f1) = count_tests(root, cargo, &[pg])?;
    // The same binary, not `cargo test -p`: selecting one package can change the features
    // of shared dependencies, and so rebuild them.
    let server = root.join("crates/server");
    let mut again = Command::new(test_binary(root, &server, "it")?);
    again.current_dir(&server);
    let (p2, f2) = count_tests(
        root,
        again,
        &[pg, ("SWITCHBOARD_TEST_DATABASE", "postgres")],
    )?;
    Ok((p1 + p2, f1 + f2))
}

/// The test binary `target` of the package in `dir`, as `cargo test --workspace` built it.
fn test_binary(root: &Path, dir: &Path, target: &str) -> Result<PathBuf> {
    let manifest = std::fs::canonicalize(dir.join("Cargo.toml"))?;
    let out = Command::new("cargo")
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| bench_sip::Json::parse(line).ok())
        .find(|m| {
            let field = |key: &str| m.get(key).and_then(bench_sip::Json::as_str);
            let target_field = |key: &str| m.get("target").and_then(|t| t.get(key));
            field("reason") == Some("compiler-artifact")
                && target_field("name").and_then(bench_sip::Json::as_str) == Some(target)
                && target_field("kind").is_some_and(|k| {
                    k.as_array().first().and_then(bench_sip::Json::as_str) == Some("test")
                })
                && field("manifest_path").map(Path::new) == Some(manifest.as_path())
        })
        .and_then(|m| {
            m.get("executable")
                .and_then(bench_sip::Json::as_str)
                .map(PathBuf::from)
        })
        .with_context(|| format!("no test binary {target} in {}", dir.display()))
}

/// Runs a test command (`cargo test …` or a test binary) with `env`, echoing its
/// output; counts libtest's `test result:` lines.
fn count_tests(root: &Path, mut cmd: Command, env: &[(&str, &str)]) -> Result<(u64, u64)> {
    let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "$ {}{} {}",
        vars.concat(),
        cmd.get_program().to_string_lossy(),
        args.join(" ")
    );
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root);
    }
    let out = cmd
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the tests")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let count = |line: &str, word: &str| -> u64 {
        line.split(';')
            .find_map(|part| part.trim().strip_suffix(word).map(str::trim))
            .and_then(|n| n.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        passed += count(line, "passed");
        failed += count(line, "failed");
    }
    if !out.status.success() && failed == 0 {
        bail!("the tests failed ({})", out.status);
    }
    Ok((passed, failed))
}

/// Runs the web screens' tests (tests/browser, Node's test runner) in Chromium against the
/// debug build of the binary, and adds up the runner's `# pass` and `# fail` lines.
fn browser_tests(root: &Path) -> Result<(u64, u64)> {
    run(
        root,
        "cargo",
        &["build", "-p", "switchboard", "--bin", "switchboard"],
    )?;
    let dir = root.join("tests/browser");
    run(
        &dir,
        "npm",
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_relative() {
        root.join(target)
    } else {
        target
    };
    eprintln!("$ node --test (tests/browser)");
    let out = Command::new("node")
        // A test still running after three minutes has hung: it fails, the run goes on.
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-reporter=tap",
            "--test-timeout=180000",
        ])
        .current_dir(&dir)
        .env("SWITCHBOARD_BIN", target.join("debug/switchboard"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run node")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let count = |word: &str| -> u64 {
        text.lines()
            .filter_map(|l| l.strip_prefix(word))
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum()
    };
    let (passed, failed) = (count("# pass "), count("# fail "));
    if passed == 0 && failed == 0 {
        bail!("the browser tests ran no test ({})", out.status);
    }
    if !out.status.success() && failed == 0 {
        bail!("the browser tests failed ({})", out.status);
    }
    Ok((passed, failed))
}

/// Whether `what` is there: an absolute path as a file, else a program on PATH.
fn present(what: &str) -> bool {
    if what.starts_with('/') {
        return Path::new(what).is_file();
    }
    on_path(what)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn install_system_packages(root: &Path) -> Result<()> {
    let mut missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(what, _)| !present(what))
        .map(|&(_, package)| package)
        .collect();
    if postgres::bin_dir().is_none() {
        missing.push("postgresql");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing system packages: {}; install them (apt-get install {}) or run as root",
            missing.join(", "),
            missing.join(" ")
        );
    }
    run(root, "apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    run(root, "apt-get", &args)
}

/// Whether we run as root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Architecture invariants: the engines never depend on an async runtime, SQL, HTTP or SIP;
/// the store never on HTTP or SIP.
fn check_dependencies(root: &Path) -> Result<()> {
    for &(krate, forbidden, why) in LAYERS {
        let out = Command::new("cargo")
            .args([
                "tree", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
            ])
            .current_dir(root)
            .output()
            .context("cannot run cargo tree")?;
        if !out.status.success() {
            bail!(
                "cargo tree -p {krate} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let offending: Vec<&str> = tree
            .lines()
            .filter(|line| {
                let name = line.split_whitespace().next().unwrap_or("");
                forbidden
                    .iter()
                    .any(|f| name == *f || name.starts_with(&format!("{f}-")))
            })
            .collect();
        if !offending.is_empty() {
            bail!("{krate} {why} but depends on: {}", offending.join(", "));
        }
        eprintln!(
            "{krate}: {} dependencies, none of {}",
            tree.lines().count().saturating_sub(1),
            forbidden.join("/")
        );
    }
    Ok(())
}

fn bench(root: &Path, name: &str) -> Result<()> {
    run(
        root,
        "cargo",
        &[
            "run",
            "--release",
            "--quiet",
            "-p",
            "switchboard-bench",
            "--",
            name,
        ],
    )
}
