//! Dry runs: drive a flow with scripted caller input and write a readable transcript.

use chrono::{DateTime, FixedOffset};

use crate::check::Flow;
use std::collections::BTreeMap;

use crate::interp::{CallData, Exit, FieldValue, FlowEvent, FlowEventKind, Output, Session, Step};

/// Answers for lookups in a dry run: source → key (or `*` for any key) → record.
pub type Lookups = BTreeMap<String, BTreeMap<String, BTreeMap<String, FieldValue>>>;

/// Most input prompts a dry run answers before giving up (retries are bounded, so a
/// real flow never gets near it).
const MAX_GATHERS: usize = 100;

/// The result of a dry run.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// One line per thing heard, pressed or decided.
    pub lines: Vec<String>,
    /// How the run ended.
    pub exit: Option<Exit>,
    /// What the flow finally asked the edge to do (enqueue, transfer, voicemail, hangup).
    pub outcome: Option<Output>,
    /// The analytics events of the run.
    pub events: Vec<FlowEvent>,
}

impl Transcript {
    /// The transcript as text, ending with the outcome.
    pub fn to_text(&self) -> String {
        let mut out = self.lines.join("\n");
        out.push('\n');
        out.push_str(&format!(
            "outcome: {}\n",
            describe_outcome(self.outcome.as_ref(), self.exit.as_ref())
        ));
        out
    }
}

/// Runs `flow` for a caller who answers each input prompt with the next entry of
/// `presses` (a menu key, or digits for a collect; an empty entry means silence), then
/// stays silent. Lookups are answered from `lookups`.
pub fn simulate(
    flow: &Flow,
    data: CallData,
    at: DateTime<FixedOffset>,
    presses: &[String],
    lookups: &Lookups,
) -> Transcript {
    let mut session = Session::new(flow, data, at);
    let mut t = Transcript {
        lines: Vec::new(),
        exit: None,
        outcome: None,
        events: Vec::new(),
    };
    let mut presses = presses.iter();
    // The dry run's clock: prompts take the time a text-to-speech voice needs to say them
    // (about 15 characters a second), a key press takes two seconds, silence the timeout.
    let mut clock = at;
    let mut gather_timeout = std::time::Duration::ZERO;
    session.start(at);
    for _ in 0..MAX_GATHERS {
        let mut gather = None;
        let mut lookup = None;
        while let Some(step) = session.poll() {
            match step {
                Step::Happened(e) => {
                    note_event(&mut t, &e);
                    t.events.push(e);
                }
                Step::Do(o) => {
                    match &o {
                        Output::Say { text, .. } => {
                            clock += chrono::Duration::milliseconds(
                                text.chars().count() as i64 * 1000 / 15,
                            );
                        }
                        Output::Gather { timeout, .. } => {
                            gather = Some(());
                            gather_timeout = *timeout;
                        }
                        Output::Lookup { source, key, .. } => {
                            lookup = Some((source.clone(), key.clone()))
                        }
                        _ => {}
                    }
                    note_output(&mut t, o);
                }
            }
        }
        if let Some((source, key)) = lookup {
            let table = lookups.get(&source);
            let record = table.and_then(|t| t.get(&key).or_else(|| t.get("*")));
            t.lines.push(format!(
                "  answer   {}",
                if record.is_some() {
                    "found"
                } else {
                    "nothing found"
                }
            ));
            clock += chrono::Duration::milliseconds(200);
            session.lookup_result(clock, record);
            continue;
        }
        if session.is_done() || gather.is_none() {
            break;
        }
        match presses.next().filter(|p| !p.is_empty()) {
            Some(p) => {
                t.lines.push(format!("  presses  {p}"));
                clock += chrono::Duration::seconds(2);
                session.input(clock, p);
            }
            None => {
                t.lines.push("  (silence)".to_string());
                clock += chrono::Duration::from_std(gather_timeout).unwrap_or_default();
                session.timeout(clock);
            }
        }
    }
    t
}

fn note_output(t: &mut Transcript, o: Output) {
    match &o {
        Output::Say { text, .. } => t.lines.push(format!("  hears    {text}")),
        Output::Play { file, .. } => t.lines.push(format!("  hears    <audio {file}>")),
        Output::Gather {
            max_digits,
            timeout,
            options,
            terminator,
        } => {
            let what = if options.is_empty() {
                let end = terminator
                    .map(|k| format!(", ends with {k}"))
                    .unwrap_or_default();
                format!("up to {max_digits} digits{end}")
            } else {
                options
                    .iter()
                    .map(|(k, l)| format!("{k}={l}"))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            t.lines
                .push(format!("  waits    {}s for {what}", timeout.as_secs()));
        }
        Output::Callback { queue, number } => t.lines.push(format!(
            "  callback requested to {number} from queue {queue}"
        )),
        Output::Lookup { source, key, .. } => {
            t.lines.push(format!("  lookup   {source} for {key}"))
        }
        Output::Enqueue { .. }
        | Output::Transfer { .. }
        | Output::Voicemail { .. }
        | Output::Hangup { .. } => {
            t.outcome = Some(o);
        }
    }
}

fn note_event(t: &mut Transcript, e: &FlowEvent) {
    match &e.kind {
        FlowEventKind::Entered { node } => t.lines.push(format!("[{node}]")),
        FlowEventKind::Chosen { key, label, .. } => {
            t.lines.push(format!("  chose    {key} ({label})"))
        }
        FlowEventKind::Invalid { input, .. } => t.lines.push(format!("  invalid  input {input:?}")),
        FlowEventKind::NoInput { .. } => t.lines.push("  no input".to_string()),
        FlowEventKind::Collected { into, .. } => t.lines.push(format!("  stored   {into}")),
        FlowEventKind::Routed { because, .. } => t.lines.push(format!("  routed   ({because})")),
        FlowEventKind::LookedUp { .. } => {}
        FlowEventKind::Exited { exit, .. } => t.exit = Some(exit.clone()),
    }
}

fn describe_outcome(o: Option<&Output>, exit: Option<&Exit>) -> String {
    match (o, exit) {
        (_, Some(Exit::Failed(why))) => format!("flow error: {why}"),
        (_, Some(Exit::CallerLeft)) => "the caller hung up".into(),
        (
            Some(Output::Enqueue {
                queue,
                skills,
                priority,
                language,
                preferred_agent,
                ..
            }),
            _,
        ) => {
            let mut s = format!("queued to {queue}");
            if !skills.is_empty() {
                let skills: Vec<String> = skills.iter().map(|(k, v)| format!("{k}>={v}")).collect();
                s.push_str(&format!(" with skills {}", skills.join(", ")));
            }
            s.push_str(&format!(", priority {priority}"));
            if let Some(l) = language {
                s.push_str(&format!(", language {l}"));
            }
            if let Some(a) = preferred_agent {
                s.push_str(&format!(", preferred agent {a}"));
            }
            s
        }
        (Some(Output::Transfer { to }), _) => format!("transferred to {to}"),
        (
            Some(Output::Voicemail {
                mailbox,
                transcribe,
            }),
            _,
        ) => format!(
            "voicemail for {mailbox}{}",
            if *transcribe { " (transcribed)" } else { "" }
        ),
        (Some(Output::Hangup { reason }), _) => format!("hung up ({reason})"),
        _ => "still in the flow".into(),
    }
}
