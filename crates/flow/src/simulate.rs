//! Dry runs: drive a flow with scripted caller input and write a readable transcript.

use chrono::{DateTime, FixedOffset};

use crate::check::Flow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::interp::{
    CallData, Exit, FieldValue, FlowEvent, FlowEventKind, Library, Output, Session, Step,
};

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
        out.push_str(&format!("outcome: {}\n", self.outcome_text()));
        out
    }

    /// How the run ended, in words: what [`Transcript::to_text`] prints after
    /// `outcome: ` (e.g. `queued to support with skills devices>=2, priority 0`).
    pub fn outcome_text(&self) -> String {
        describe_outcome(self.outcome.as_ref(), self.exit.as_ref())
    }
}

/// How a scripted queue behaves in a dry run.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueScript {
    /// When an agent answers, after entering the queue (`None`: nobody answers).
    pub answer_after: Option<Duration>,
    /// The position the routing engine reports.
    pub position: u32,
    /// The expected wait the routing engine reports.
    pub ewt: Option<Duration>,
}

impl Default for QueueScript {
    fn default() -> Self {
        QueueScript {
            answer_after: Some(Duration::ZERO),
            position: 1,
            ewt: None,
        }
    }
}

/// The caller and the world in a dry run.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The caller's answers to each prompt, in order: a menu key, digits for a collect,
    /// or an empty entry for silence; also keys pressed after announcements in a queue.
    pub presses: Vec<String>,
    /// Answers to lookups.
    pub lookups: Lookups,
    /// The queue.
    pub queue: QueueScript,
    /// Flows that `subflow` nodes may call, by id.
    pub library: Library,
}

/// Who answers the prompts of a dry run.
pub trait Caller {
    /// The caller's answer to the prompt just heard (`None` or empty: silence). The
    /// transcript so far is given so that an interactive caller can show it first.
    fn press(&mut self, transcript: &Transcript) -> Option<String>;
}

/// A caller who answers from a list, then stays silent.
struct Scripted<'s>(std::slice::Iter<'s, String>);

impl Caller for Scripted<'_> {
    fn press(&mut self, _: &Transcript) -> Option<String> {
        self.0.next().cloned()
    }
}

/// Most queue steps (announcements, offers) a dry run follows.
const MAX_QUEUE_STEPS: usize = 1_000;

/// Runs `flow` for a caller who follows `script`, then stays silent.
///
/// The dry run's clock moves as a call's would: prompts take the time a text-to-speech
/// voice needs to say them (about 15 characters a second), a key press two seconds,
/// silence the prompt's timeout, a lookup 200 ms.
pub fn simulate(
    flow: &Flow,
    data: CallData,
    at: DateTime<FixedOffset>,
    script: &Script,
) -> Transcript {
    simulate_with(flow, data, at, script, &mut Scripted(script.presses.iter()))
}

/// Like [`simulate`], with the answers coming from `caller` (e.g. a person typing).
pub fn simulate_with(
    flow: &Flow,
    data: CallData,
    at: DateTime<FixedOffset>,
    script: &Script,
    caller: &mut dyn Caller,
) -> Transcript {
    let mut run = Run {
        session: Session::new(Arc::new(flow.clone()), data, at)
            .with_library(Arc::new(script.library.clone())),
        t: Transcript {
            lines: Vec::new(),
            exit: None,
            outcome: None,
            events: Vec::new(),
        },
        clock: at,
        caller,
    };
    run.session.start(at);
    for _ in 0..MAX_GATHERS {
        let (gather, lookup) = run.drain();
        if let Some((source, key)) = lookup {
            let table = script.lookups.get(&source);
            let record = table.and_then(|t| t.get(&key).or_else(|| t.get("*")));
            let found = if record.is_some() {
                "found"
            } else {
                "nothing found"
            };
            run.t.lines.push(format!("  answer   {found}"));
            run.clock += chrono::Duration::milliseconds(200);
            run.session.lookup_result(run.clock, record);
            continue;
        }
        if run.session.is_queued() {
            run.queue(&script.queue);
            continue;
        }
        let Some(timeout) = gather else {
            break;
        };
        if run.session.is_done() {
            break;
        }
        match run.caller.press(&run.t).filter(|p| !p.is_empty()) {
            Some(p) => {
                run.t.lines.push(format!("  presses  {p}"));
                run.clock += chrono::Duration::seconds(2);
                run.session.input(run.clock, &p);
            }
            None => {
                run.t.lines.push("  (silence)".to_string());
                run.clock += chrono::Duration::from_std(timeout).unwrap_or_default();
                run.session.timeout(run.clock);
            }
        }
    }
    run.t
}

struct Run<'c> {
    session: Session,
    t: Transcript,
    clock: DateTime<FixedOffset>,
    caller: &'c mut dyn Caller,
}

impl Run<'_> {
    /// Records everything the session produced; returns a pending gather's timeout and a
    /// pending lookup.
    fn drain(&mut self) -> (Option<Duration>, Option<(String, String)>) {
        let (mut gather, mut lookup) = (None, None);
        while let Some(step) = self.session.poll() {
            match step {
                Step::Happened(e) => {
                    note_event(&mut self.t, &e);
                    self.t.events.push(e);
                }
                Step::Do(o) => {
                    match &o {
                        Output::Say { text, .. } => {
                            let ms = text.chars().count() as i64 * 1000 / 15;
                            self.clock += chrono::Duration::milliseconds(ms);
                        }
                        Output::Gather { timeout, .. } => gather = Some(*timeout),
                        Output::Lookup { source, key, .. } => {
                            lookup = Some((source.clone(), key.clone()))
                        }
                        _ => {}
                    }
                    note_output(&mut self.t, o);
                }
            }
        }
        (gather, lookup)
    }

    /// Follows the queue until an agent answers, the caller leaves it, or nothing more
    /// can happen.
    fn queue(&mut self, q: &QueueScript) {
        let since = self.session.queued_since().unwrap_or(self.clock);
        self.t.lines.push(format!(
            "  waits in queue: position {}{}",
            q.position,
            q.ewt
                .map(|e| format!(", expected wait {}s", e.as_secs()))
                .unwrap_or_default()
        ));
        self.session.queue_update(self.clock, q.position, q.ewt);
        let answer_at = q
            .answer_after
            .map(|d| since + chrono::Duration::from_std(d).unwrap_or_default());
        for _ in 0..MAX_QUEUE_STEPS {
            let said = self.drain_counting_prompts();
            if !self.session.is_queued() {
                return;
            }
            if said && let Some(p) = self.caller.press(&self.t).filter(|p| !p.is_empty()) {
                self.t.lines.push(format!("  presses  {p}"));
                self.clock += chrono::Duration::seconds(2);
                self.session.input(self.clock, &p);
                continue;
            }
            let next = self.session.poll_timeout();
            match (answer_at, next) {
                (Some(a), _) if next.is_none_or(|n| a <= n) => {
                    self.clock = self.clock.max(a);
                    self.t.lines.push(format!(
                        "  agent answers after {}s in queue",
                        (self.clock - since).num_seconds()
                    ));
                    self.session.connected(self.clock);
                    self.drain();
                    return;
                }
                (_, Some(next)) => {
                    self.clock = self.clock.max(next);
                    let waited = (self.clock - since).num_seconds();
                    self.t
                        .lines
                        .push(format!("  {}:{:02} in queue", waited / 60, waited % 60));
                    self.session.tick(self.clock);
                }
                (_, None) => {
                    self.t.lines.push("  (nobody answers)".to_string());
                    return;
                }
            }
        }
    }

    /// Drains, telling whether anything was said (an announcement or an offer the
    /// caller may answer with a key).
    fn drain_counting_prompts(&mut self) -> bool {
        let before = self.t.lines.len();
        self.drain();
        self.t.lines[before..]
            .iter()
            .any(|l| l.starts_with("  hears"))
    }
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
        Output::ConvertToCallback => t
            .lines
            .push("  becomes a callback, keeping its place".into()),
        Output::Dequeue => t.lines.push("  leaves the queue".into()),
        Output::Enqueue { .. } => t.outcome = Some(o),
        Output::Transfer { .. } | Output::Voicemail { .. } | Output::Hangup { .. } => {
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
        FlowEventKind::Rated {
            question,
            score,
            high,
            ..
        } => t
            .lines
            .push(format!("  rated    {question}: {score} of {high}")),
        FlowEventKind::Exited { exit, .. } => t.exit = Some(exit.clone()),
    }
}

fn describe_outcome(o: Option<&Output>, exit: Option<&Exit>) -> String {
    match (o, exit) {
        (_, Some(Exit::Failed(why))) => format!("flow error: {why}"),
        (_, Some(Exit::CallerLeft)) => "the caller hung up".into(),
        (_, Some(Exit::CallbackKeptPlace)) => {
            "became a callback that keeps its place in line".into()
        }
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
