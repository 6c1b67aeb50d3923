//! `switchboard flow check|simulate`: validate flow files and dry-run them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use switchboard_flow::check::{Flow, Severity, check, check_subflows};
use switchboard_flow::interp::FlowEvent;
use switchboard_flow::interp::{CallData, FieldValue, Library};
use switchboard_flow::simulate::{
    Caller, Lookups, QueueScript, Script, Transcript, simulate, simulate_with,
};
use switchboard_flow::stats::{CallEvent, analyse};

#[derive(Args)]
pub struct FlowArgs {
    #[command(subcommand)]
    command: FlowCommand,
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Validate flow files: errors and warnings with file:line:column and a hint.
    Check {
        /// Flow YAML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Dry-run a flow for a caller and print what they would hear and where they end up.
    Simulate {
        /// Flow YAML file.
        file: PathBuf,
        /// The caller's number.
        #[arg(long, default_value = "+442071234567")]
        caller: String,
        /// When the call happens (RFC 3339, e.g. 2026-12-25T10:00:00+01:00); default: now.
        #[arg(long)]
        at: Option<String>,
        /// The caller's inputs, in order: menu keys or digit strings, comma-separated
        /// (an empty entry is silence).
        #[arg(long, value_delimiter = ',')]
        press: Vec<String>,
        /// JSON fixture with `caller`, `customer` and `lookups` objects.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Append the run's events to this JSON-lines file (for `flow stats`).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Call identifier written with the events.
        #[arg(long, default_value = "simulated")]
        call: String,
        /// In a queue: when an agent answers (`never` to hear the whole queue experience).
        #[arg(long)]
        answer_after: Option<String>,
        /// In a queue: the position the routing engine reports.
        #[arg(long, default_value_t = 1)]
        position: u32,
        /// In a queue: the expected wait the routing engine reports.
        #[arg(long)]
        ewt: Option<String>,
        /// Ask for each key press on standard input instead of `--press` (an empty line
        /// is silence; the end of input hangs up nothing, it just stays silent).
        #[arg(long, short)]
        interactive: bool,
    },
    /// Print the JSON Schema of flow files (for editors: YAML language servers, linters).
    Schema,
    /// Path analytics from recorded flow events: visits, choices, drop-offs, invalid
    /// input and timeouts per node, containment, time in the IVR, and suggestions.
    Stats {
        /// Flow YAML file.
        file: PathBuf,
        /// JSON-lines file of flow events (one object per line, with a `call` field).
        events: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: FlowArgs) -> Result<()> {
    match args.command {
        FlowCommand::Check { files } => check_files(&files),
        FlowCommand::Simulate {
            file,
            caller,
            at,
            press,
            data,
            events,
            call,
            answer_after,
            position,
            ewt,
            interactive,
        } => {
            let flow = load(&file)?;
            let at = match at {
                Some(t) => chrono::DateTime::parse_from_rfc3339(&t).with_context(|| {
                    format!("--at `{t}`: write RFC 3339, e.g. 2026-12-25T10:00:00+01:00")
                })?,
                None => chrono::Local::now().fixed_offset(),
            };
            let mut call_data = match &data {
                Some(path) => fixture(path)?,
                None => CallData::default(),
            };
            call_data.caller.insert("number".into(), caller);
            let lookups = match &data {
                Some(path) => fixture_lookups(path)?,
                None => Lookups::new(),
            };
            let script = Script {
                library: library_near(&file),
                presses: press,
                lookups,
                queue: QueueScript {
                    answer_after: match answer_after.as_deref() {
                        None => Some(std::time::Duration::ZERO),
                        Some("never") => None,
                        Some(d) => Some(humantime::parse_duration(d).with_context(|| {
                            format!(
                                "--answer-after `{d}`: write a duration such as 90s, or `never`"
                            )
                        })?),
                    },
                    position,
                    ewt: ewt
                        .as_deref()
                        .map(|d| {
                            humantime::parse_duration(d).with_context(|| {
                                format!("--ewt `{d}`: write a duration such as 4m")
                            })
                        })
                        .transpose()?,
                },
            };
            let t = if interactive {
                let mut person = Person { shown: 0 };
                let t = simulate_with(&flow, call_data, at, &script, &mut person);
                for line in &t.lines[person.shown.min(t.lines.len())..] {
                    println!("{line}");
                }
                println!("{}", t.to_text().lines().last().unwrap_or_default());
                t
            } else {
                let t = simulate(&flow, call_data, at, &script);
                print!("{}", t.to_text());
                t
            };
            if let Some(path) = events {
                append_events(&path, &call, &t.events)?;
            }
            Ok(())
        }
        FlowCommand::Schema => {
            print!("{}", switchboard_flow::SCHEMA);
            Ok(())
        }
        FlowCommand::Stats { file, events, json } => {
            let flow = load(&file)?;
            let recorded = read_events(&events)?;
            let stats = analyse(&flow, &recorded);
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.to_text());
            }
            Ok(())
        }
    }
}

fn check_files(files: &[PathBuf]) -> Result<()> {
    let mut errors = 0;
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                println!("{name}: error: cannot read: {e}");
                errors += 1;
                continue;
            }
        };
        let mut checked = check(&text, path.parent());
        if let Some(flow) = &checked.flow {
            checked
                .diagnostics
                .extend(check_subflows(flow, &library_near(path)));
        }
        for d in &checked.diagnostics {
            println!("{}", d.render(&name));
        }
        let n = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        errors += n;
        let warnings = checked.diagnostics.len() - n;
        println!("{name}: {n} error(s), {warnings} warning(s)");
    }
    if errors > 0 {
        bail!("{errors} error(s)");
    }
    Ok(())
}

fn load(path: &Path) -> Result<Flow> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let checked = check(&text, path.parent());
    match checked.flow {
        Some(flow) => Ok(flow),
        None => {
            let shown: Vec<String> = checked
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.render(&name))
                .collect();
            bail!("{name} has errors:\n{}", shown.join("\n"))
        }
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// A flat JSON object as a record of field values.
fn record(
    what: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, FieldValue>> {
    let mut fields = BTreeMap::new();
    for (k, v) in obj {
        let value = match v {
            serde_json::Value::String(s) => FieldValue::Text(s.clone()),
            serde_json::Value::Bool(b) => FieldValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Int(i),
                None => bail!("{what}.{k}: only whole numbers are supported"),
            },
            serde_json::Value::Array(items) => FieldValue::List(
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .with_context(|| format!("{what}.{k}: a list must hold strings"))?,
            ),
            _ => bail!("{what}.{k}: use a string, number, bool or list of strings"),
        };
        fields.insert(k.clone(), value);
    }
    Ok(fields)
}

/// The `lookups` of a fixture: `{"source": {"key or *": {record}}}`.
fn fixture_lookups(path: &Path) -> Result<Lookups> {
    let json = read_json(path)?;
    let mut out = Lookups::new();
    if let Some(sources) = json.get("lookups").and_then(|l| l.as_object()) {
        for (source, keys) in sources {
            let keys = keys
                .as_object()
                .with_context(|| format!("lookups.{source}: map keys to records"))?;
            let mut table = BTreeMap::new();
            for (key, rec) in keys {
                let what = format!("lookups.{source}.{key}");
                let rec = rec
                    .as_object()
                    .with_context(|| format!("{what}: a record is a JSON object"))?;
                table.insert(key.clone(), record(&what, rec)?);
            }
            out.insert(source.clone(), table);
        }
    }
    Ok(out)
}

/// The `caller` and `customer` of a fixture.
fn fixture(path: &Path) -> Result<CallData> {
    let json = read_json(path)?;
    let mut data = CallData::default();
    if let Some(caller) = json.get("caller").and_then(|c| c.as_object()) {
        for (k, v) in caller {
            if let Some(s) = v.as_str() {
                data.caller.insert(k.clone(), s.to_string());
            }
        }
    }
    if let Some(customer) = json.get("customer").and_then(|c| c.as_object()) {
        data.customer = Some(record("customer", customer)?);
    }
    Ok(data)
}

fn append_events(path: &Path, call: &str, events: &[FlowEvent]) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    for event in events {
        let record = CallEvent {
            call: call.to_string(),
            event: event.clone(),
        };
        writeln!(file, "{}", serde_json::to_string(&record)?)?;
    }
    Ok(())
}

fn read_events(path: &Path) -> Result<Vec<CallEvent>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: CallEvent = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a flow event", path.display(), i + 1))?;
        out.push(event);
    }
    Ok(out)
}

/// A person at the terminal answering the prompts of an interactive dry run.
struct Person {
    shown: usize,
}

impl Caller for Person {
    fn press(&mut self, t: &Transcript) -> Option<String> {
        use std::io::{BufRead as _, Write as _};
        for line in &t.lines[self.shown.min(t.lines.len())..] {
            println!("{line}");
        }
        self.shown = t.lines.len();
        print!("keys (enter for silence)> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!();
                None
            }
            Ok(_) => Some(line.trim().to_string()),
        }
    }
}

/// The flows in the same directory as `path` that load cleanly, by id: what its
/// `subflow` nodes may call.
fn library_near(path: &Path) -> Library {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut library = Library::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return library;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && let Ok(text) = std::fs::read_to_string(&p)
            && let Some(flow) = check(&text, Some(dir)).flow
        {
            library.insert(flow.id.clone(), std::sync::Arc::new(flow));
        }
    }
    library
}
