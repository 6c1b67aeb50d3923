//! Loading a flow: YAML to [`model`](crate::model), then validation into a checked
//! [`Flow`] with every problem reported as a [`Diagnostic`] at its line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use marked_yaml::{LoaderOptions, Marker, Spanned};

use crate::calendar::{Calendar, Spans, parse_date, parse_days, parse_spans};
use crate::expr::{Expression, Scope, Ty};
use crate::model::{CalendarFile, CalendarsFile, FlowFile, MenuFile, NodeFile, Text};

/// How serious a diagnostic is: errors stop a flow from loading, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The flow cannot be used.
    Error,
    /// The flow works but probably not as meant.
    Warning,
}

/// A problem found in a flow file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Line, 1-based (0 when unknown).
    pub line: usize,
    /// Column, 1-based (0 when unknown).
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    fn at(pos: Pos, severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line: pos.0,
            column: pos.1,
            severity,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:column: error: message` followed by the hint, as compilers print.
    pub fn render(&self, file: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{file}:{}:{}: {kind}: {}",
            self.line, self.column, self.message
        );
        if let Some(h) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(h);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<flow>"))
    }
}

/// (line, column), 1-based.
type Pos = (usize, usize);

fn pos<T>(s: &Spanned<T>) -> Pos {
    marker(s.span().start())
}

fn marker(m: Option<&Marker>) -> Pos {
    m.map_or((0, 0), |m| (m.line(), m.column()))
}

/// Index of a node in [`Flow::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// A prompt text with `{expression}` parts filled in at run time.
#[derive(Debug, Clone)]
pub struct Template {
    /// Literal text and expressions, in order.
    pub parts: Vec<Part>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone)]
pub enum Part {
    /// Said as written.
    Text(String),
    /// Evaluated and said.
    Expr(Expression),
}

/// One option of a menu.
#[derive(Debug, Clone)]
pub struct MenuOption {
    /// The key.
    pub key: char,
    /// Its label.
    pub label: String,
    /// Where it leads.
    pub next: NodeId,
    /// When it is offered (always if `None`).
    pub when: Option<Expression>,
}

/// A checked node action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Speak a text.
    Say {
        /// The text.
        text: Template,
        /// A key skips the prompt.
        barge_in: bool,
        /// What follows.
        next: NodeId,
    },
    /// Play an audio file.
    Play {
        /// The file (relative to the flow file).
        file: String,
        /// A key skips the prompt.
        barge_in: bool,
        /// What follows.
        next: NodeId,
    },
    /// DTMF menu.
    Menu {
        /// The prompt.
        prompt: Template,
        /// The options.
        options: Vec<MenuOption>,
        /// Wait for a key after the prompt.
        timeout: Duration,
        /// Repeats after invalid or no input.
        retries: u32,
        /// Said after an invalid key.
        invalid: Option<Template>,
        /// Said after no key.
        no_input: Option<Template>,
        /// Where to go when retries are exhausted (hang up if `None`).
        on_failure: Option<NodeId>,
    },
    /// Collect digits.
    Collect {
        /// The prompt.
        prompt: Template,
        /// Variable receiving the digits.
        into: String,
        /// Fewest digits.
        min: u32,
        /// Most digits.
        max: u32,
        /// Key ending the input.
        terminator: Option<char>,
        /// Wait for the input.
        timeout: Duration,
        /// Attempts after the first.
        retries: u32,
        /// Condition on `input`.
        valid: Option<Expression>,
        /// Said when rejected.
        invalid: Option<Template>,
        /// What follows a valid input.
        next: NodeId,
        /// Where to go when retries are exhausted (hang up if `None`).
        on_failure: Option<NodeId>,
    },
    /// Conditional jump.
    Branch {
        /// Conditions in order.
        arms: Vec<(Expression, NodeId)>,
        /// When none holds.
        otherwise: NodeId,
    },
    /// Time-of-day and holiday routing.
    Hours {
        /// Index in [`Flow::calendars`].
        calendar: usize,
        /// While open.
        open: NodeId,
        /// While closed.
        closed: NodeId,
        /// On a holiday.
        holiday: NodeId,
    },
    /// Routing by the caller's country.
    Geo {
        /// Country codes and where they lead, first match wins.
        routes: Vec<(Vec<String>, NodeId)>,
        /// Everyone else.
        otherwise: NodeId,
    },
    /// Fetch a record into a map variable.
    Lookup {
        /// `customers` or a flow source name.
        source: String,
        /// The source's URL template, for webhooks.
        url: Option<String>,
        /// Key expression.
        key: Expression,
        /// Variable receiving the record.
        into: String,
        /// Wait for the answer.
        timeout: Duration,
        /// Found.
        next: NodeId,
        /// Not found, timed out or failed (hang up if `None`).
        on_failure: Option<NodeId>,
    },
    /// Assign variables.
    Set {
        /// Variable and value, in order.
        assignments: Vec<(String, Expression)>,
        /// What follows.
        next: NodeId,
    },
    /// Queue for an agent (ends the flow).
    Enqueue {
        /// Queue name.
        queue: String,
        /// Required skills.
        skills: Vec<(String, u8)>,
        /// Priority expression.
        priority: Option<Expression>,
        /// Language expression.
        language: Option<Expression>,
        /// Preferred agent expression.
        preferred_agent: Option<Expression>,
        /// How long to wait for the preferred agent.
        preferred_for: Duration,
        /// What the caller hears and may do while waiting (boxed: it is the largest part).
        experience: Box<QueueExperience>,
    },
    /// Transfer (ends the flow).
    Transfer {
        /// Destination.
        to: Template,
    },
    /// Voicemail (ends the flow).
    Voicemail {
        /// Mailbox or queue.
        mailbox: String,
        /// Greeting.
        greeting: Option<Template>,
        /// Transcription requested.
        transcribe: bool,
    },
    /// Register a callback, then continue.
    Callback {
        /// Queue that calls back.
        queue: String,
        /// Number to call.
        number: Expression,
        /// Confirmation prompt.
        confirm: Option<Template>,
        /// What follows (hang up if `None`).
        next: Option<NodeId>,
    },
    /// Ask satisfaction questions, then continue (or hang up).
    Survey {
        /// The questions.
        questions: Vec<Question>,
        /// Said at the end.
        thanks: Option<Template>,
        /// What follows (hang up if `None`).
        next: Option<NodeId>,
    },
    /// Run another flow; come back to `next` when it returns.
    Subflow {
        /// The other flow's id.
        flow: String,
        /// Where to continue afterwards.
        next: NodeId,
    },
    /// Return to the calling flow (hang up when there is none).
    Return,
    /// End the call.
    Hangup {
        /// Said first.
        say: Option<Template>,
        /// Outcome label.
        reason: Option<String>,
    },
}

/// A survey question.
#[derive(Debug, Clone)]
pub struct Question {
    /// Identifier in reports.
    pub id: String,
    /// What the caller hears.
    pub prompt: Template,
    /// Lowest answer key.
    pub low: u8,
    /// Highest answer key.
    pub high: u8,
}

/// The caller's experience while queued.
#[derive(Debug, Clone)]
pub struct QueueExperience {
    /// Music on hold.
    pub music: Option<String>,
    /// Announce position and expected wait this often.
    pub announce_every: Option<Duration>,
    /// The announcement.
    pub announcement: Template,
    /// Callback offer.
    pub callback: Option<CallbackOffer>,
    /// Key that leaves the queue, and where it leads.
    pub leave: Option<(char, NodeId)>,
    /// Longest wait, and where the caller goes then.
    pub max_wait: Option<(Duration, NodeId)>,
}

/// A callback offer that keeps the caller's place.
#[derive(Debug, Clone)]
pub struct CallbackOffer {
    /// Key that accepts.
    pub key: char,
    /// Offer after this wait.
    pub after: Option<Duration>,
    /// Offer when the expected wait exceeds this.
    pub when_wait_over: Option<Duration>,
    /// The offer.
    pub prompt: Template,
    /// The confirmation.
    pub confirm: Template,
}

/// A checked node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name.
    pub name: String,
    /// What it does.
    pub action: Action,
    /// Where its name is written: (line, column).
    pub at: (usize, usize),
}

/// A flow that passed validation.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Identifier.
    pub id: String,
    /// Version.
    pub version: u32,
    /// The first node.
    pub start: NodeId,
    /// All nodes.
    pub nodes: Vec<Node>,
    /// Flow variables and their types.
    pub variables: BTreeMap<String, Ty>,
    /// Calendars used by `hours` nodes.
    pub calendars: Vec<Calendar>,
    /// The flow-wide agent escape: key and where it leads.
    pub agent_escape: Option<(char, NodeId)>,
}

impl Flow {
    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(NodeId)
    }
}

/// The result of checking a flow file: the flow if there was no error, and every
/// diagnostic (sorted by position).
#[derive(Debug)]
pub struct Checked {
    /// The flow, when no diagnostic is an error.
    pub flow: Option<Flow>,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks that every `subflow` names a flow of `library` (flows by id).
pub fn check_subflows(flow: &Flow, library: &crate::interp::Library) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for node in &flow.nodes {
        if let Action::Subflow { flow: id, .. } = &node.action
            && !library.contains_key(id)
        {
            let known: Vec<&str> = library.keys().map(String::as_str).collect();
            out.push(
                Diagnostic::at(
                    node.at,
                    Severity::Error,
                    format!("unknown flow `{id}` in `{}`", node.name),
                )
                .hint(format!(
                    "flows found next to this one: {}",
                    known.join(", ")
                )),
            );
        }
    }
    out
}

/// Checks that every queue the flow sends contacts to (`enqueue`, `callback`, a
/// `voicemail` mailbox) is one of `queues`: a flow that names a queue nobody serves would
/// publish and then fail its callers.
pub fn check_queues<'q>(
    flow: &Flow,
    queues: impl IntoIterator<Item = &'q str> + Clone,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for node in &flow.nodes {
        let (queue, what) = match &node.action {
            Action::Enqueue { queue, .. } => (queue, "queue"),
            Action::Callback { queue, .. } => (queue, "callback queue"),
            Action::Voicemail { mailbox, .. } => (mailbox, "mailbox"),
            _ => continue,
        };
        if !queues.clone().into_iter().any(|q| q == queue) {
            let known: Vec<&str> = queues.clone().into_iter().collect();
            out.push(
                Diagnostic::at(
                    node.at,
                    Severity::Error,
                    format!("unknown {what} `{queue}` in `{}`", node.name),
                )
                .hint(format!("queues: {}", known.join(", "))),
            );
        }
    }
    out
}

/// Menus with more options than this get a warning (callers remember about five).
pub const MENU_OPTIONS_ADVISED: usize = 5;
/// Menus with more options than this are refused.
pub const MENU_OPTIONS_MAX: usize = 12;

/// Checks a flow file's text. `dir` is where relative audio paths are looked up.
pub fn check(text: &str, dir: Option<&Path>) -> Checked {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let file: FlowFile = match marked_yaml::from_yaml_with_options(0, text, options) {
        Ok(f) => f,
        Err(e) => {
            return Checked {
                flow: None,
                diagnostics: vec![yaml_error(e, text)],
            };
        }
    };
    let mut c = Checker {
        diags: Vec::new(),
        names: BTreeMap::new(),
        scope: Scope::default(),
        used: BTreeSet::new(),
        dir,
        calendars: Vec::new(),
        calendar_names: BTreeMap::new(),
        sources: BTreeMap::new(),
        flow_id: file.id.as_str().to_string(),
    };
    let flow = c.run(&file);
    let mut diagnostics = c.diags;
    diagnostics.sort();
    diagnostics.dedup();
    let ok = !diagnostics.iter().any(|d| d.severity == Severity::Error);
    Checked {
        flow: if ok { flow } else { None },
        diagnostics,
    }
}

/// Checks a shared calendars file (the format `calendar_files` lists): answers the names
/// of its calendars and the diagnostics, with lines and columns in the file itself.
pub fn check_calendars(text: &str) -> (Vec<String>, Vec<Diagnostic>) {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let shared: CalendarsFile = match marked_yaml::from_yaml_with_options(0, text, options) {
        Ok(f) => f,
        Err(e) => return (Vec::new(), vec![yaml_error(e, text)]),
    };
    let mut c = Checker {
        diags: Vec::new(),
        names: BTreeMap::new(),
        scope: Scope::default(),
        used: BTreeSet::new(),
        dir: None,
        calendars: Vec::new(),
        calendar_names: BTreeMap::new(),
        sources: BTreeMap::new(),
        flow_id: String::new(),
    };
    let mut cals: Vec<(&Text, &Spanned<CalendarFile>)> = shared.calendars.iter().collect();
    cals.sort_by_key(|(k, _)| pos(k));
    for (name, cal) in cals {
        c.add_calendar(name, cal, None);
    }
    let mut diagnostics = c.diags;
    diagnostics.sort();
    diagnostics.dedup();
    (c.calendar_names.into_keys().collect(), diagnostics)
}

fn yaml_error(e: marked_yaml::FromYamlError, text: &str) -> Diagnostic {
    use marked_yaml::{FromYamlError, LoadError};
    let (at, message) = match e {
        FromYamlError::ParseYaml(load) => {
            let m = match &load {
                LoadError::TopLevelMustBeMapping(m)
                | LoadError::TopLevelMustBeSequence(m)
                | LoadError::UnexpectedAnchor(m)
                | LoadError::MappingKeyMustBeScalar(m)
                | LoadError::UnexpectedTag(m)
                | LoadError::ScanError(m, _) => Some(*m),
                LoadError::DuplicateKey(d) => d.key.span().start().copied(),
            };
            let at = marker(m.as_ref());
            let text = load.to_string();
            // The loader's message starts with its own "line:column: "; ours says it already.
            let prefix = format!("{}:{}: ", at.0, at.1);
            let text = text
                .strip_prefix(&prefix)
                .map(str::to_string)
                .unwrap_or(text);
            (at, text)
        }
        FromYamlError::FromNode(node) => {
            let inner = node.into_inner();
            let mut at = marker(inner.start_mark().as_ref());
            if let marked_yaml::Error::UnknownFieldError(field, _, _) = &inner
                && at == (0, 0)
            {
                at = find_key(text, field);
            }
            (at, inner.to_string())
        }
    };
    Diagnostic::at(at, Severity::Error, message).hint("see docs/flows.md for the file format")
}

/// Where `key:` is first written as a mapping key (for errors the YAML layer reports
/// without a position).
fn find_key(text: &str, key: &str) -> Pos {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with(':')
        {
            return (i + 1, line.len() - trimmed.len() + 1);
        }
    }
    (0, 0)
}

struct Checker<'a> {
    diags: Vec<Diagnostic>,
    names: BTreeMap<String, (NodeId, Pos)>,
    scope: Scope,
    used: BTreeSet<String>,
    dir: Option<&'a Path>,
    calendars: Vec<Calendar>,
    calendar_names: BTreeMap<String, usize>,
    sources: BTreeMap<String, String>,
    flow_id: String,
}

const ACTIONS: [&str; 17] = [
    "say",
    "play",
    "menu",
    "collect",
    "branch",
    "hours",
    "geo",
    "lookup",
    "set",
    "enqueue",
    "transfer",
    "voicemail",
    "callback",
    "survey",
    "subflow",
    "return",
    "hangup",
];

fn actions_of(n: &NodeFile) -> Vec<&'static str> {
    let present = [
        n.say.is_some(),
        n.play.is_some(),
        n.menu.is_some(),
        n.collect.is_some(),
        n.branch.is_some(),
        n.hours.is_some(),
        n.geo.is_some(),
        n.lookup.is_some(),
        n.set.is_some(),
        n.enqueue.is_some(),
        n.transfer.is_some(),
        n.voicemail.is_some(),
        n.callback.is_some(),
        n.survey.is_some(),
        n.subflow.is_some(),
        n.return_.is_some(),
        n.hangup.is_some(),
    ];
    ACTIONS
        .iter()
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|(a, _)| *a)
        .collect()
}

/// The keys a prompt tells the caller to press ("press 1", "press star", "press zero").
fn keys_said(prompt: &str) -> Vec<char> {
    const WORDS: [(&str, char); 14] = [
        ("zero", '0'),
        ("one", '1'),
        ("two", '2'),
        ("three", '3'),
        ("four", '4'),
        ("five", '5'),
        ("six", '6'),
        ("seven", '7'),
        ("eight", '8'),
        ("nine", '9'),
        ("star", '*'),
        ("hash", '#'),
        ("pound", '#'),
        ("0", '0'),
    ];
    let lower = prompt.to_lowercase();
    let mut keys = Vec::new();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("press ") {
        rest = &rest[at + 6..];
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '*' || *c == '#')
            .collect();
        let key = match word.chars().next() {
            Some(c)
                if word.chars().count() == 1 && (c.is_ascii_digit() || c == '*' || c == '#') =>
            {
                Some(c)
            }
            _ => WORDS.iter().find(|(w, _)| *w == word).map(|(_, k)| *k),
        };
        if let Some(k) = key
            && !keys.contains(&k)
        {
            keys.push(k);
        }
    }
    keys
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl Checker<'_> {
    fn error(&mut self, at: Pos, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::at(at, Severity::Error, msg));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn warn(&mut self, at: Pos, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::at(at, Severity::Warning, msg));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn node_ref(&mut self, name: &Text) -> NodeId {
        if let Some(&(id, _)) = self.names.get(name.as_str()) {
            return id;
        }
        let guess = self
            .names
            .keys()
            .min_by_key(|k| distance(k, name))
            .filter(|k| distance(k, name) <= 3)
            .cloned();
        let d = self.error(pos(name), format!("unknown node `{}`", name.as_str()));
        if let Some(g) = guess {
            d.hint = Some(format!("did you mean `{g}`?"));
        } else {
            d.hint = Some("define the node under `nodes:`".into());
        }
        NodeId(usize::MAX)
    }

    fn duration(&mut self, text: Option<&Text>, default: Duration) -> Duration {
        let Some(t) = text else {
            return default;
        };
        match humantime::parse_duration(t.as_str()) {
            Ok(d) => d,
            Err(e) => {
                self.error(pos(t), format!("`{}` is not a duration: {e}", t.as_str()))
                    .hint = Some("write e.g. `5s`, `1m 30s`".into());
                default
            }
        }
    }

    fn expr(&mut self, t: &Text, want: Option<Ty>) -> Option<Expression> {
        self.expr_in(t, want, &self.scope.clone())
    }

    fn expr_in(&mut self, t: &Text, want: Option<Ty>, scope: &Scope) -> Option<Expression> {
        let result = match want {
            Some(w) => Expression::compile_as(t.as_str(), scope, w),
            None => Expression::compile(t.as_str(), scope),
        };
        match result {
            Ok(e) => {
                self.mark_used(t.as_str());
                Some(e)
            }
            Err(msg) => {
                self.error(pos(t), msg);
                None
            }
        }
    }

    fn mark_used(&mut self, source: &str) {
        if let Ok(p) = cel::Program::compile(source) {
            for v in p.references().variables() {
                self.used.insert(v.to_string());
            }
        }
    }

    fn template(&mut self, t: &Text) -> Template {
        let mut parts = Vec::new();
        let text = t.as_str();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                self.error(pos(t), format!("unclosed `{{` in `{text}`"))
                    .hint = Some("close it with `}`".into());
                return Template { parts };
            };
            let src = &rest[open + 1..open + close];
            let scope = self.scope.clone();
            match Expression::compile(src, &scope) {
                Ok(e) => {
                    self.mark_used(src);
                    parts.push(Part::Expr(e));
                }
                Err(msg) => {
                    self.error(pos(t), format!("in `{{{src}}}`: {msg}"));
                }
            }
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Template { parts }
    }

    fn next(&mut self, node: &Spanned<NodeFile>, name: &str, what: &str) -> NodeId {
        match &node.next {
            Some(n) => self.node_ref(n),
            None => {
                self.error(
                    pos(node),
                    format!("dead end: `{name}` ({what}) has no `next`"),
                )
                .hint = Some("add `next: <node>`, or end with `hangup`".into());
                NodeId(usize::MAX)
            }
        }
    }

    fn run(&mut self, file: &FlowFile) -> Option<Flow> {
        let mut nodes: Vec<(&Text, &Spanned<NodeFile>)> = file.nodes.iter().collect();
        nodes.sort_by_key(|(k, _)| pos(k));
        for (i, (name, _)) in nodes.iter().enumerate() {
            self.names
                .insert(name.as_str().to_string(), (NodeId(i), pos(name)));
        }
        // Variables: declared ones, then those that collect and set introduce.
        let mut declared: Vec<(String, Pos)> = Vec::new();
        for (name, ty) in &file.variables {
            match Ty::parse(ty.as_str()) {
                Some(t) => {
                    self.scope.variables.insert(name.as_str().to_string(), t);
                    declared.push((name.as_str().to_string(), pos(name)));
                }
                None => {
                    self.error(pos(ty), format!("unknown type `{}`", ty.as_str()))
                        .hint = Some("use string, int, double, bool, list or map".into());
                }
            }
        }
        for (_, node) in &nodes {
            if let Some(c) = &node.collect {
                declared.push(self.declare(&c.into, Ty::String, "digits are collected into it"));
            }
            if let Some(l) = &node.lookup
                && l.into.as_str() != "customer"
            {
                declared.push(self.declare(&l.into, Ty::Map, "a lookup stores a record in it"));
            }
            if let Some(set) = &node.set {
                for var in set.keys() {
                    let v = var.as_str().to_string();
                    if !self.scope.variables.contains_key(&v) {
                        self.scope.variables.insert(v.clone(), Ty::Dyn);
                        declared.push((v, pos(var)));
                    }
                }
            }
        }
        self.load_calendars(file);
        let agent_escape = file.agent_escape.as_ref().and_then(|e| {
            let key = self.key(&e.key)?;
            Some((key, self.node_ref(&e.next)))
        });
        for (name, src) in &file.sources {
            let url = src.url.as_str();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.error(
                    pos(&src.url),
                    format!("source `{}`: `{url}` is not an http(s) URL", name.as_str()),
                );
            }
            self.sources
                .insert(name.as_str().to_string(), url.to_string());
        }
        let start = match self.names.get(file.start.as_str()) {
            Some(&(id, _)) => id,
            None => self.node_ref(&file.start),
        };
        let mut checked = Vec::new();
        for (name, node) in &nodes {
            let action = self.node(name.as_str(), node);
            checked.push(Node {
                name: name.as_str().to_string(),
                action: action.unwrap_or(Action::Hangup {
                    say: None,
                    reason: None,
                }),
                at: pos(name),
            });
        }
        // A flow used as a subflow hands its variables back to its caller: not unused.
        let returns = nodes.iter().any(|(_, n)| n.return_.is_some());
        for (v, at) in declared {
            if !returns && !self.used.contains(&v) {
                self.warn(at, format!("variable `{v}` is never used")).hint =
                    Some("use it in a condition or prompt, or remove it".into());
            }
        }
        let flow = Flow {
            id: file.id.as_str().to_string(),
            version: *file.version,
            start,
            nodes: checked,
            variables: self.scope.variables.clone(),
            calendars: self.calendars.clone(),
            agent_escape,
        };
        if self.diags.iter().all(|d| d.severity != Severity::Error) {
            self.graph_checks(&flow, &nodes);
        }
        Some(flow)
    }

    /// Declares a variable that a node writes with a value of type `ty` (refusing one
    /// declared with another type), and returns it with its position for usage checks.
    fn declare(&mut self, var: &Text, ty: Ty, why: &str) -> (String, Pos) {
        let v = var.as_str().to_string();
        if self
            .scope
            .variables
            .get(&v)
            .is_some_and(|t| *t != ty && *t != Ty::Dyn)
        {
            self.error(pos(var), format!("`{v}` is not a {ty}, but {why}"));
        }
        self.scope.variables.entry(v.clone()).or_insert(ty);
        (v, pos(var))
    }

    fn node(&mut self, name: &str, node: &Spanned<NodeFile>) -> Option<Action> {
        let actions = actions_of(node);
        match actions.len() {
            0 => {
                self.error(pos(node), format!("node `{name}` has no action"))
                    .hint = Some(format!("give it one of: {}", ACTIONS.join(", ")));
                return None;
            }
            1 => {}
            _ => {
                self.error(
                    pos(node),
                    format!("node `{name}` has several actions: {}", actions.join(", ")),
                )
                .hint = Some("split it into one node per action, linked by `next`".into());
                return None;
            }
        }
        let n: &NodeFile = node;
        let takes_next = matches!(
            actions[0],
            "say" | "play" | "collect" | "lookup" | "set" | "callback" | "survey" | "subflow"
        );
        if !takes_next && n.next.is_some() {
            let at = n.next.as_ref().map_or(pos(node), pos);
            self.warn(at, format!("`next` is ignored after `{}`", actions[0]));
        }
        let barge_in = n.barge_in.unwrap_or(true);
        Some(match actions[0] {
            "say" => {
                let text = n.say.as_ref().map(|t| self.template(t))?;
                Action::Say {
                    text,
                    barge_in,
                    next: self.next(node, name, "say"),
                }
            }
            "play" => {
                let file = n.play.as_ref()?;
                if let Some(dir) = self.dir
                    && !dir.join(file.as_str()).is_file()
                {
                    self.error(
                        pos(file),
                        format!("audio file `{}` not found", file.as_str()),
                    )
                    .hint = Some(format!("paths are relative to {}", dir.display()));
                }
                Action::Play {
                    file: file.as_str().to_string(),
                    barge_in,
                    next: self.next(node, name, "play"),
                }
            }
            "menu" => self.menu(n.menu.as_ref()?, node, name, n.on_failure.as_ref()),
            "collect" => {
                let c = n.collect.as_ref()?;
                let prompt = self.template(&c.prompt);
                let mut scope = self.scope.clone();
                scope.variables.insert("input".into(), Ty::String);
                let valid = c
                    .valid
                    .as_ref()
                    .and_then(|v| self.expr_in(v, Some(Ty::Bool), &scope));
                let (min, max) = (c.min.unwrap_or(1), c.max.unwrap_or(20));
                if min == 0 || max < min || max > 64 {
                    self.error(
                        pos(node),
                        format!("collect needs 1 ≤ min ≤ max ≤ 64, not min {min}, max {max}"),
                    );
                }
                let terminator = c.terminator.as_ref().and_then(|t| {
                    let mut chars = t.chars();
                    match (chars.next(), chars.next()) {
                        (Some(k @ ('#' | '*')), None) => Some(k),
                        _ => {
                            self.error(
                                pos(t),
                                format!("terminator `{}` must be `#` or `*`", t.as_str()),
                            );
                            None
                        }
                    }
                });
                Action::Collect {
                    prompt,
                    into: c.into.as_str().to_string(),
                    min,
                    max,
                    terminator,
                    timeout: self.duration(c.timeout.as_ref(), Duration::from_secs(8)),
                    retries: c.retries.unwrap_or(2),
                    valid,
                    invalid: c.invalid.as_ref().map(|t| self.template(t)),
                    next: self.next(node, name, "collect"),
                    on_failure: n.on_failure.as_ref().map(|f| self.node_ref(f)),
                }
            }
            "branch" => {
                let arms_file = n.branch.as_ref()?;
                let mut arms = Vec::new();
                let mut otherwise = None;
                for (i, arm) in arms_file.iter().enumerate() {
                    match (&arm.condition, &arm.next, &arm.otherwise) {
                        (Some(c), Some(nx), None) => {
                            let e = self.expr(c, Some(Ty::Bool));
                            let to = self.node_ref(nx);
                            if let Some(e) = e {
                                arms.push((e, to));
                            }
                        }
                        (None, None, Some(o)) if i + 1 == arms_file.len() => {
                            otherwise = Some(self.node_ref(o));
                        }
                        _ => {
                            self.error(pos(node), format!("branch arm {} of `{name}` must be `{{if: ..., next: ...}}`, or a last `{{else: ...}}`", i + 1));
                        }
                    }
                }
                let Some(otherwise) = otherwise else {
                    self.error(pos(node), format!("branch `{name}` has no final `else`"))
                        .hint = Some("add `- else: <node>` so every caller goes somewhere".into());
                    return None;
                };
                Action::Branch { arms, otherwise }
            }
            "hours" => {
                let h = n.hours.as_ref()?;
                let calendar = match self.calendar_names.get(h.calendar.as_str()) {
                    Some(&i) => i,
                    None => {
                        let known: Vec<String> = self.calendar_names.keys().cloned().collect();
                        self.error(
                            pos(&h.calendar),
                            format!("unknown calendar `{}`", h.calendar.as_str()),
                        )
                        .hint = Some(if known.is_empty() {
                            "define it under `calendars:` or in a file listed in `calendar_files:`"
                                .into()
                        } else {
                            format!("known calendars: {}", known.join(", "))
                        });
                        return None;
                    }
                };
                let closed = self.node_ref(&h.closed);
                Action::Hours {
                    calendar,
                    open: self.node_ref(&h.open),
                    closed,
                    holiday: h.holiday.as_ref().map_or(closed, |t| self.node_ref(t)),
                }
            }
            "geo" => {
                let g = n.geo.as_ref()?;
                let mut routes = Vec::new();
                for r in &g.routes {
                    let mut codes = Vec::new();
                    for c in &r.countries {
                        let code = c.as_str().to_ascii_uppercase();
                        if code.len() != 2 || !code.chars().all(|ch| ch.is_ascii_uppercase()) {
                            self.error(
                                pos(c),
                                format!("`{}` is not an ISO 3166 country code", c.as_str()),
                            )
                            .hint = Some("use two letters, e.g. FR, GB, US".into());
                        }
                        codes.push(code);
                    }
                    routes.push((codes, self.node_ref(&r.next)));
                }
                Action::Geo {
                    routes,
                    otherwise: self.node_ref(&g.otherwise),
                }
            }
            "lookup" => {
                let l = n.lookup.as_ref()?;
                let source = l.source.as_str().to_string();
                let url = match (source.as_str(), self.sources.get(&source)) {
                    ("customers", _) => None,
                    (_, Some(url)) => Some(url.clone()),
                    (_, None) => {
                        let known: Vec<String> = std::iter::once("customers".to_string())
                            .chain(self.sources.keys().cloned())
                            .collect();
                        self.error(pos(&l.source), format!("unknown data source `{source}`"))
                            .hint = Some(format!(
                            "known sources: {}; define webhooks under `sources:`",
                            known.join(", ")
                        ));
                        return None;
                    }
                };
                if l.into.as_str() == "customer" && source != "customers" {
                    self.error(
                        pos(&l.into),
                        "only the `customers` source can fill `customer`",
                    )
                    .hint = Some("look it up into a variable of your own".into());
                }
                let key = self.expr(&l.key, Some(Ty::String))?;
                Action::Lookup {
                    source,
                    url,
                    key,
                    into: l.into.as_str().to_string(),
                    timeout: self.duration(l.timeout.as_ref(), Duration::from_secs(3)),
                    next: self.next(node, name, "lookup"),
                    on_failure: n.on_failure.as_ref().map(|f| self.node_ref(f)),
                }
            }
            "set" => {
                let set = n.set.as_ref()?;
                let mut pairs: Vec<(&Text, &Text)> = set.iter().collect();
                pairs.sort_by_key(|(k, _)| pos(k));
                let mut assignments = Vec::new();
                for (var, value) in pairs {
                    let declared = self.scope.variables.get(var.as_str()).copied();
                    if let Some(e) = self.expr(value, declared.filter(|t| *t != Ty::Dyn)) {
                        if declared == Some(Ty::Dyn) && e.ty() != Ty::Dyn {
                            self.scope
                                .variables
                                .insert(var.as_str().to_string(), e.ty());
                        }
                        assignments.push((var.as_str().to_string(), e));
                    }
                }
                Action::Set {
                    assignments,
                    next: self.next(node, name, "set"),
                }
            }
            "enqueue" => {
                let q = n.enqueue.as_ref()?;
                let mut skills: Vec<(String, u8)> = q
                    .skills
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect();
                skills.sort();
                Action::Enqueue {
                    queue: q.queue.as_str().to_string(),
                    skills,
                    priority: q
                        .priority
                        .as_ref()
                        .and_then(|p| self.expr(p, Some(Ty::Int))),
                    language: q.language.as_ref().and_then(|l| self.string_or_expr(l)),
                    preferred_agent: q
                        .preferred_agent
                        .as_ref()
                        .and_then(|p| self.expr(p, Some(Ty::String))),
                    preferred_for: self.duration(q.preferred_for.as_ref(), Duration::from_secs(30)),
                    experience: Box::new(self.experience(q, node, name)?),
                }
            }
            "transfer" => Action::Transfer {
                to: self.template(&n.transfer.as_ref()?.to),
            },
            "voicemail" => {
                let v = n.voicemail.as_ref()?;
                Action::Voicemail {
                    mailbox: v.mailbox.as_str().to_string(),
                    greeting: v.greeting.as_ref().map(|t| self.template(t)),
                    transcribe: v.transcribe,
                }
            }
            "callback" => {
                let cb = n.callback.as_ref()?;
                let number = match &cb.number {
                    Some(t) => self.expr(t, Some(Ty::String))?,
                    None => Expression::compile("caller.number", &self.scope).ok()?,
                };
                Action::Callback {
                    queue: cb.queue.as_str().to_string(),
                    number,
                    confirm: cb.confirm.as_ref().map(|t| self.template(t)),
                    next: n.next.as_ref().map(|t| self.node_ref(t)),
                }
            }
            "subflow" => {
                let sub = n.subflow.as_ref()?;
                if sub.flow.as_str() == self.flow_id {
                    self.error(pos(&sub.flow), format!("`{name}` calls its own flow"))
                        .hint = Some("loop with a node of this flow instead".into());
                }
                Action::Subflow {
                    flow: sub.flow.as_str().to_string(),
                    next: self.next(node, name, "subflow"),
                }
            }
            "return" => Action::Return,
            "survey" => {
                let sv = n.survey.as_ref()?;
                if sv.questions.is_empty() {
                    self.error(pos(node), format!("survey `{name}` has no questions"));
                }
                let mut questions = Vec::new();
                for q in &sv.questions {
                    let (low, high) = match q.scale.as_ref().map(|t| (t, t.as_str())) {
                        None => (1, 5),
                        Some((t, text)) => {
                            let parsed = text
                                .split_once('-')
                                .and_then(|(a, b)| {
                                    Some((
                                        a.trim().parse::<u8>().ok()?,
                                        b.trim().parse::<u8>().ok()?,
                                    ))
                                })
                                .filter(|(a, b)| a < b && *b <= 9);
                            match parsed {
                                Some(p) => p,
                                None => {
                                    self.error(
                                        pos(t),
                                        format!(
                                            "scale `{text}` must be LOW-HIGH within 0-9, e.g. 1-5"
                                        ),
                                    );
                                    (1, 5)
                                }
                            }
                        }
                    };
                    questions.push(Question {
                        id: q.id.as_str().to_string(),
                        prompt: self.template(&q.prompt),
                        low,
                        high,
                    });
                }
                Action::Survey {
                    questions,
                    thanks: sv.thanks.as_ref().map(|t| self.template(t)),
                    next: n.next.as_ref().map(|t| self.node_ref(t)),
                }
            }
            _ => {
                let h = n.hangup.as_ref()?;
                Action::Hangup {
                    say: h.say.as_ref().map(|t| self.template(t)),
                    reason: h.reason.as_ref().map(|r| r.as_str().to_string()),
                }
            }
        })
    }

    fn key(&mut self, t: &Text) -> Option<char> {
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (Some(c @ ('0'..='9' | '*' | '#')), None) => Some(c),
            _ => {
                self.error(
                    pos(t),
                    format!("key `{}` must be one of 0-9, * or #", t.as_str()),
                );
                None
            }
        }
    }

    fn fixed(&mut self, text: &str) -> Template {
        let src = Text::new(marked_yaml::Span::new_blank(), text.to_string());
        self.template(&src)
    }

    fn experience(
        &mut self,
        q: &crate::model::EnqueueFile,
        node: &Spanned<NodeFile>,
        name: &str,
    ) -> Option<QueueExperience> {
        let announcement = match &q.announcement {
            Some(t) => self.template(t),
            None => self.fixed(
                "You are number {queue.position} in line. The expected wait is about {queue.wait_minutes} minutes.",
            ),
        };
        let callback = match &q.callback {
            None => None,
            Some(cb) => {
                if cb.after.is_none() && cb.when_wait_over.is_none() {
                    self.error(
                        pos(&cb.key),
                        format!("the callback offer of `{name}` needs `after` or `when_wait_over`"),
                    );
                }
                Some(CallbackOffer {
                    key: self.key(&cb.key)?,
                    after: cb
                        .after
                        .as_ref()
                        .map(|t| self.duration(Some(t), Duration::ZERO)),
                    when_wait_over: cb
                        .when_wait_over
                        .as_ref()
                        .map(|t| self.duration(Some(t), Duration::ZERO)),
                    prompt: match &cb.prompt {
                        Some(t) => self.template(t),
                        None => self.fixed(&format!(
                            "To be called back without losing your place in line, press {}.",
                            cb.key.as_str()
                        )),
                    },
                    confirm: match &cb.confirm {
                        Some(t) => self.template(t),
                        None => {
                            self.fixed("Thank you. We will call you back when it is your turn.")
                        }
                    },
                })
            }
        };
        let leave = match &q.leave {
            None => None,
            Some(l) => {
                let key = self.key(&l.key)?;
                if callback.as_ref().is_some_and(|c| c.key == key) {
                    self.error(
                        pos(&l.key),
                        format!("`{name}` uses key {key} both to leave and for the callback"),
                    );
                }
                Some((key, self.node_ref(&l.next)))
            }
        };
        let max_wait = match (&q.max_wait, &q.on_max_wait) {
            (None, None) => None,
            (Some(d), Some(to)) => {
                Some((self.duration(Some(d), Duration::ZERO), self.node_ref(to)))
            }
            _ => {
                self.error(
                    pos(node),
                    format!("`{name}` needs both `max_wait` and `on_max_wait`, or neither"),
                );
                None
            }
        };
        if let (Some(m), Some(dir)) = (&q.music, self.dir)
            && !dir.join(m.as_str()).is_file()
        {
            self.error(pos(m), format!("audio file `{}` not found", m.as_str()))
                .hint = Some(format!("paths are relative to {}", dir.display()));
        }
        Some(QueueExperience {
            music: q.music.as_ref().map(|m| m.as_str().to_string()),
            announce_every: q
                .announce_every
                .as_ref()
                .map(|t| self.duration(Some(t), Duration::from_secs(60)))
                .filter(|d| !d.is_zero()),
            announcement,
            callback,
            leave,
            max_wait,
        })
    }

    /// Calendars defined in the flow, then those of the listed files (first definition wins).
    fn load_calendars(&mut self, file: &FlowFile) {
        let mut inline: Vec<(&Text, &Spanned<CalendarFile>)> = file.calendars.iter().collect();
        inline.sort_by_key(|(k, _)| pos(k));
        for (name, cal) in inline {
            self.add_calendar(name, cal, None);
        }
        for f in &file.calendar_files {
            let path = self.dir.map_or_else(
                || Path::new(f.as_str()).to_path_buf(),
                |d| d.join(f.as_str()),
            );
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    self.error(
                        pos(f),
                        format!("cannot read calendar file `{}`: {e}", f.as_str()),
                    );
                    continue;
                }
            };
            let options = LoaderOptions::default().error_on_duplicate_keys(true);
            match marked_yaml::from_yaml_with_options::<CalendarsFile>(0, &text, options) {
                Ok(shared) => {
                    let mut cals: Vec<(&Text, &Spanned<CalendarFile>)> =
                        shared.calendars.iter().collect();
                    cals.sort_by_key(|(k, _)| pos(k));
                    for (name, cal) in cals {
                        self.add_calendar(name, cal, Some(f));
                    }
                }
                Err(e) => {
                    let d = yaml_error(e, &text);
                    self.error(
                        pos(f),
                        format!(
                            "in `{}` at {}:{}: {}",
                            f.as_str(),
                            d.line,
                            d.column,
                            d.message
                        ),
                    );
                }
            }
        }
    }

    /// Checks one calendar; errors in a shared file are reported at the line naming the
    /// file, with the file named in the message.
    fn add_calendar(&mut self, name: &Text, cal: &Spanned<CalendarFile>, from: Option<&Text>) {
        let here = |p: Pos| from.map_or(p, pos);
        let prefix = from
            .map(|f| format!("in `{}`: ", f.as_str()))
            .unwrap_or_default();
        if self.calendar_names.contains_key(name.as_str()) {
            return;
        }
        let tz = match cal.timezone.as_str().parse::<chrono_tz::Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                self.error(
                    here(pos(&cal.timezone)),
                    format!("{prefix}unknown time zone `{}`", cal.timezone.as_str()),
                )
                .hint = Some("use an IANA name such as Europe/London or America/New_York".into());
                return;
            }
        };
        let mut week: [Spans; 7] = Default::default();
        let mut rows: Vec<(&Text, &Text)> = cal.hours.iter().collect();
        rows.sort_by_key(|(k, _)| pos(k));
        for (days, hours) in rows {
            match (parse_days(days.as_str()), parse_spans(hours.as_str())) {
                (Ok(ds), Ok(sp)) => {
                    for d in ds {
                        week[d.num_days_from_monday() as usize].extend(sp.iter().copied());
                    }
                }
                (Err(e), _) => {
                    self.error(here(pos(days)), format!("{prefix}{e}"));
                }
                (_, Err(e)) => {
                    self.error(here(pos(hours)), format!("{prefix}{e}"));
                }
            }
        }
        let mut holidays = BTreeMap::new();
        for h in &cal.holidays {
            let date = match parse_date(h.date.as_str()) {
                Ok(d) => d,
                Err(e) => {
                    self.error(here(pos(&h.date)), format!("{prefix}{e}"));
                    continue;
                }
            };
            let spans = match h.hours.as_ref().map(|t| (t, parse_spans(t.as_str()))) {
                None => Vec::new(),
                Some((_, Ok(sp))) => sp,
                Some((t, Err(e))) => {
                    self.error(here(pos(t)), format!("{prefix}{e}"));
                    continue;
                }
            };
            let label = h
                .name
                .as_ref()
                .map_or_else(|| date.to_string(), |n| n.as_str().to_string());
            holidays.insert(date, (label, spans));
        }
        self.calendar_names
            .insert(name.as_str().to_string(), self.calendars.len());
        self.calendars.push(Calendar {
            name: name.as_str().to_string(),
            tz,
            week,
            holidays,
        });
    }

    /// A plain word (`en`) is a literal; anything else must be a string expression.
    fn string_or_expr(&mut self, t: &Text) -> Option<Expression> {
        let s = t.as_str();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Expression::compile(&format!("'{s}'"), &self.scope).ok();
        }
        self.expr(t, Some(Ty::String))
    }

    fn menu(
        &mut self,
        m: &MenuFile,
        node: &Spanned<NodeFile>,
        name: &str,
        on_failure: Option<&Text>,
    ) -> Action {
        let prompt = self.template(&m.prompt);
        let mut options = Vec::new();
        let mut keys: BTreeMap<char, Pos> = BTreeMap::new();
        if m.options.is_empty() {
            self.error(pos(node), format!("menu `{name}` has no options"));
        }
        if m.options.len() > MENU_OPTIONS_MAX {
            self.error(
                pos(node),
                format!(
                    "menu `{name}` has {} options; at most {MENU_OPTIONS_MAX} keys exist",
                    m.options.len()
                ),
            );
        } else if m.options.len() > MENU_OPTIONS_ADVISED {
            self.warn(
                pos(node),
                format!(
                    "menu `{name}` has {} options: callers remember about {MENU_OPTIONS_ADVISED}",
                    m.options.len()
                ),
            )
            .hint = Some("split it into two levels, or personalise it with `when`".into());
        }
        for opt in &m.options {
            let k = opt.key.as_str();
            let mut chars = k.chars();
            let key = match (chars.next(), chars.next()) {
                (Some(c @ ('0'..='9' | '*' | '#')), None) => c,
                _ => {
                    self.error(
                        pos(&opt.key),
                        format!("menu key `{k}` must be one of 0-9, * or #"),
                    );
                    continue;
                }
            };
            if let Some(first) = keys.insert(key, pos(&opt.key)) {
                self.error(
                    pos(&opt.key),
                    format!("key `{key}` is used twice in menu `{name}`"),
                )
                .hint = Some(format!("it was first used at line {}", first.0));
            }
            let when = opt.when.as_ref().and_then(|w| self.expr(w, Some(Ty::Bool)));
            options.push(MenuOption {
                key,
                label: opt.label.as_str().to_string(),
                next: self.node_ref(&opt.next),
                when,
            });
        }
        self.announced_keys(&m.prompt, name, &options);
        Action::Menu {
            prompt,
            options,
            timeout: self.duration(m.timeout.as_ref(), Duration::from_secs(5)),
            retries: m.retries.unwrap_or(2),
            invalid: m.invalid.as_ref().map(|t| self.template(t)),
            no_input: m.no_input.as_ref().map(|t| self.template(t)),
            on_failure: on_failure.map(|f| self.node_ref(f)),
        }
    }

    /// A prompt that says "press 4" needs an option 4 (error), and an option the prompt
    /// never announces while it announces others is probably forgotten (warning).
    fn announced_keys(&mut self, prompt: &Text, name: &str, options: &[MenuOption]) {
        let said = keys_said(prompt.as_str());
        if said.is_empty() {
            return;
        }
        for key in &said {
            if !options.iter().any(|o| o.key == *key) {
                self.error(
                    pos(prompt),
                    format!(
                        "the prompt of `{name}` says to press {key}, but no option has key {key}"
                    ),
                )
                .hint = Some(format!(
                    "add an option with key \"{key}\", or change the prompt"
                ));
            }
        }
        for o in options {
            if !said.contains(&o.key) {
                self.warn(
                    pos(prompt),
                    format!(
                        "option {} ({}) of `{name}` is never announced in its prompt",
                        o.key, o.label
                    ),
                )
                .hint = Some(format!("say \"press {}\" for it, or remove it", o.key));
            }
        }
    }

    /// Unreachable nodes, and loops that never wait for the caller.
    fn graph_checks(&mut self, flow: &Flow, files: &[(&Text, &Spanned<NodeFile>)]) {
        let succ = |a: &Action| -> Vec<NodeId> {
            match a {
                Action::Say { next, .. } | Action::Play { next, .. } | Action::Set { next, .. } => {
                    vec![*next]
                }
                Action::Menu {
                    options,
                    on_failure,
                    ..
                } => options.iter().map(|o| o.next).chain(*on_failure).collect(),
                Action::Collect {
                    next, on_failure, ..
                } => std::iter::once(*next).chain(*on_failure).collect(),
                Action::Branch { arms, otherwise } => {
                    arms.iter().map(|a| a.1).chain([*otherwise]).collect()
                }
                Action::Hours {
                    open,
                    closed,
                    holiday,
                    ..
                } => vec![*open, *closed, *holiday],
                Action::Lookup {
                    next, on_failure, ..
                } => std::iter::once(*next).chain(*on_failure).collect(),
                Action::Geo { routes, otherwise } => {
                    routes.iter().map(|r| r.1).chain([*otherwise]).collect()
                }
                Action::Callback { next, .. } | Action::Survey { next, .. } => {
                    next.iter().copied().collect()
                }
                Action::Subflow { next, .. } => vec![*next],
                Action::Enqueue { experience, .. } => experience
                    .leave
                    .iter()
                    .map(|l| l.1)
                    .chain(experience.max_wait.iter().map(|m| m.1))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut seen = vec![false; flow.nodes.len()];
        let mut stack = vec![flow.start];
        stack.extend(flow.agent_escape.map(|e| e.1));
        while let Some(n) = stack.pop() {
            if n.0 >= seen.len() || seen[n.0] {
                continue;
            }
            seen[n.0] = true;
            stack.extend(succ(&flow.nodes[n.0].action));
        }
        for (i, (name, _)) in files.iter().enumerate() {
            if !seen[i] {
                self.warn(
                    pos(name),
                    format!(
                        "node `{}` cannot be reached from `{}`",
                        name.as_str(),
                        flow.nodes[flow.start.0].name
                    ),
                )
                .hint = Some("link to it, or remove it".into());
            }
        }
        // A cycle through nodes that take no caller input would loop for ever.
        let waits = |a: &Action| {
            matches!(
                a,
                Action::Menu { .. }
                    | Action::Collect { .. }
                    | Action::Survey { .. }
                    | Action::Subflow { .. }
            )
        };
        let mut state = vec![0u8; flow.nodes.len()]; // 0 new, 1 on path, 2 done
        for root in 0..flow.nodes.len() {
            if state[root] != 0 || waits(&flow.nodes[root].action) {
                continue;
            }
            let mut path: Vec<(usize, Vec<NodeId>)> = vec![(root, succ(&flow.nodes[root].action))];
            state[root] = 1;
            while let Some((node, next)) = path.last_mut() {
                let node = *node;
                match next.pop() {
                    Some(NodeId(m)) if m < flow.nodes.len() && !waits(&flow.nodes[m].action) => {
                        if state[m] == 1 {
                            let start = path.iter().position(|p| p.0 == m).unwrap_or(0);
                            let names: Vec<&str> = path[start..]
                                .iter()
                                .map(|p| flow.nodes[p.0].name.as_str())
                                .chain([flow.nodes[m].name.as_str()])
                                .collect();
                            let at = pos(files[m].0);
                            self.error(
                                at,
                                format!("loop with no caller input: {}", names.join(" → ")),
                            )
                            .hint = Some("put a menu or collect in the loop, or break it".into());
                            return;
                        }
                        if state[m] == 0 {
                            state[m] = 1;
                            path.push((m, succ(&flow.nodes[m].action)));
                        }
                    }
                    Some(_) => {}
                    None => {
                        state[node] = 2;
                        path.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_said_in_prompts() {
        assert_eq!(
            keys_said(
                "For devices, press 1. For orders press 3, or press star to repeat. Press zero for an agent."
            ),
            ['1', '3', '*', '0']
        );
        assert_eq!(keys_said("Please hold."), Vec::<char>::new());
        assert_eq!(keys_said("press 12 for nothing"), Vec::<char>::new());
    }

    #[test]
    fn queues_a_flow_sends_to_must_exist() {
        let source = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/flows/after-hours.yaml"
        ))
        .unwrap();
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/flows"));
        let flow = check(&source, Some(dir)).flow.unwrap();
        assert!(check_queues(&flow, ["support", "billing"]).is_empty());
        let missing = check_queues(&flow, ["billing"]);
        assert!(!missing.is_empty());
        for d in &missing {
            assert_eq!(d.severity, Severity::Error);
            assert!(d.message.contains("`support`"), "{}", d.message);
            assert!(d.line > 0, "{d:?}");
            assert_eq!(d.hint.as_deref(), Some("queues: billing"));
        }
    }

    #[test]
    fn distance_for_hints() {
        assert_eq!(distance("main-menu", "main_menu"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
