//! The sans-IO flow interpreter: one [`Session`] per call (or chat), driven by inputs that
//! carry the time, reporting prompts and decisions ([`Output`]) and every step
//! ([`FlowEvent`]) as one ordered stream polled with [`Session::poll`].
//!
//! Channel-neutral: a voice edge speaks `Say` and plays `Play`, then collects DTMF for a
//! `Gather`; a chat edge sends the text and shows a `Gather`'s options as buttons.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use cel::{Context, Value};
use chrono::{DateTime, FixedOffset};

use crate::calendar::Status;
use crate::check::{Action, Flow, NodeId, Part, QueueExperience, Template};
use crate::expr::{CALLER_FIELDS, CONTACT_FIELDS, CUSTOMER_FIELDS, Expression, Ty};

/// Most node transitions per input: a bad flow can never spin.
pub const MAX_STEPS_PER_INPUT: usize = 1_000;

/// Deepest nesting of subflows (a flow calling itself through others stops here).
pub const MAX_SUBFLOW_DEPTH: usize = 8;

/// Flows by id, for `subflow` nodes.
pub type Library = BTreeMap<String, Arc<Flow>>;

/// What is known about the call when it starts.
#[derive(Debug, Clone, Default)]
pub struct CallData {
    /// `caller.*`: number, name, country, region.
    pub caller: Fields,
    /// `customer.*`, when the caller was identified (`customer.found` is then true).
    pub customer: Option<BTreeMap<String, FieldValue>>,
    /// `contact.*`: id, channel, dialed.
    pub contact: Fields,
}

/// Text fields by name, such as `caller.*`: a handful, kept in a short vector. A live
/// call keeps two of these for its whole life, and a `BTreeMap`'s first node alone takes
/// 544 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets field `name` to `value`, returning the value it replaces.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((name, value));
                None
            }
        }
    }
}

/// A customer field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text.
    Text(String),
    /// Number.
    Int(i64),
    /// Flag.
    Bool(bool),
    /// A list of texts (e.g. product categories).
    List(Vec<String>),
}

impl From<&FieldValue> for Value {
    fn from(v: &FieldValue) -> Value {
        match v {
            FieldValue::Text(s) => Value::from(s.as_str()),
            FieldValue::Int(i) => Value::Int(*i),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::List(items) => Value::from(
                items
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

/// What the edge must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Speak (voice) or send (chat) a text.
    Say {
        /// The text, variables filled in.
        text: String,
        /// A key may interrupt it.
        barge_in: bool,
    },
    /// Play an audio file (chat: skip or send a link).
    Play {
        /// The file.
        file: String,
        /// A key may interrupt it.
        barge_in: bool,
    },
    /// Wait for input after the prompts: answer with [`Session::input`] or
    /// [`Session::timeout`].
    Gather {
        /// Most keys to collect (1 for a menu).
        max_digits: u32,
        /// Key that ends the input early.
        terminator: Option<char>,
        /// How long to wait once the prompts have finished.
        timeout: Duration,
        /// Menu options offered (key, label): buttons in a chat.
        options: Vec<(char, String)>,
    },
    /// Fetch a record and answer with [`Session::lookup_result`] (or
    /// [`Session::timeout`] after `timeout`).
    Lookup {
        /// `customers` or the flow's source name.
        source: String,
        /// For webhooks: the URL with the key filled in.
        url: Option<String>,
        /// The key.
        key: String,
        /// How long to wait.
        timeout: Duration,
    },
    /// The flow is done: hand the contact to the routing engine.
    Enqueue {
        /// Queue name.
        queue: String,
        /// Required skills with minimum proficiency.
        skills: Vec<(String, u8)>,
        /// Priority.
        priority: i64,
        /// Required language.
        language: Option<String>,
        /// Preferred agent.
        preferred_agent: Option<String>,
        /// How long to wait for the preferred agent.
        preferred_for: Duration,
        /// Music on hold while waiting (the edge's default when `None`).
        music: Option<String>,
    },
    /// Turn the waiting call into a callback that keeps its place (routing engine
    /// `ConvertToCallback`); the flow then hangs up.
    ConvertToCallback,
    /// Take the contact out of the routing engine's queue (`Withdraw`); the flow goes on.
    Dequeue,
    /// The flow is done: transfer the call.
    Transfer {
        /// Destination.
        to: String,
    },
    /// The flow is done: take a voicemail.
    Voicemail {
        /// Mailbox or queue.
        mailbox: String,
        /// Transcription requested.
        transcribe: bool,
    },
    /// Register a callback request (the flow continues).
    Callback {
        /// Queue that calls back.
        queue: String,
        /// Number to call.
        number: String,
    },
    /// The flow is done: hang up.
    Hangup {
        /// Outcome label.
        reason: String,
    },
}

/// The queue experience of an `enqueue` node.
fn experience(flow: &Flow, node: NodeId) -> Option<&QueueExperience> {
    match &flow.nodes.get(node.0)?.action {
        Action::Enqueue { experience, .. } => Some(experience),
        _ => None,
    }
}

/// How a flow run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Answered by an agent after queueing.
    Queued,
    /// Left the queue as a callback that keeps its place.
    CallbackKeptPlace,
    /// Transferred.
    Transferred,
    /// Sent to voicemail.
    Voicemail,
    /// Hung up by the flow, with its reason.
    HungUp(String),
    /// The caller hung up.
    CallerLeft,
    /// The flow failed (expression error, step limit); the call is hung up.
    Failed(String),
}

/// A step of a flow run, for analytics and history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlowEvent {
    /// When.
    pub at: DateTime<FixedOffset>,
    /// What.
    #[serde(flatten)]
    pub kind: FlowEventKind,
}

/// The kinds of flow events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowEventKind {
    /// A node was entered.
    Entered {
        /// Node name.
        node: String,
    },
    /// A menu option was chosen.
    Chosen {
        /// Menu node.
        node: String,
        /// Key.
        key: char,
        /// Option label.
        label: String,
    },
    /// Input was rejected.
    Invalid {
        /// Node.
        node: String,
        /// What was entered.
        input: String,
    },
    /// No input before the timeout.
    NoInput {
        /// Node.
        node: String,
    },
    /// A routing node chose a path (hours: open, closed or holiday; geo: the country).
    Routed {
        /// Node.
        node: String,
        /// Why, in words.
        because: String,
    },
    /// A lookup was answered.
    LookedUp {
        /// Node.
        node: String,
        /// Whether a record came back.
        found: bool,
    },
    /// A survey question was answered.
    Rated {
        /// Survey node.
        node: String,
        /// Question id.
        question: String,
        /// The answer.
        score: u8,
        /// Lowest possible answer.
        low: u8,
        /// Highest possible answer.
        high: u8,
    },
    /// Digits were collected.
    Collected {
        /// Node.
        node: String,
        /// Variable.
        into: String,
    },
    /// The run ended.
    Exited {
        /// Node it ended at.
        node: String,
        /// How.
        exit: Exit,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Waiting {
        node: NodeId,
        attempt: u32,
        /// For surveys: the question being asked.
        question: usize,
    },
    /// In the routing engine's queue, hearing the queue experience of an enqueue node.
    Queued(Hold),
    Done,
}

/// Where a queued caller is in the queue experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    node: NodeId,
    since: DateTime<FixedOffset>,
    next_announcement: Option<DateTime<FixedOffset>>,
    callback_offered: bool,
}

/// One run of a flow for one contact.
pub struct Session {
    flow: Arc<Flow>,
    library: Option<Arc<Library>>,
    /// Calling flows and where each continues when the subflow returns.
    stack: Vec<(Arc<Flow>, NodeId)>,
    data: CallData,
    vars: BTreeMap<String, Value>,
    state: State,
    now: DateTime<FixedOffset>,
    steps: VecDeque<Step>,
    /// While queued: position and expected wait, as `queue.position` / `queue.wait_minutes`.
    queue: (u32, Option<Duration>),
}

/// What a session produced, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Something for the edge to do.
    Do(Output),
    /// Something that happened, for analytics.
    Happened(FlowEvent),
}

impl Session {
    /// A run of `flow` for a contact with `data`, not started yet.
    ///
    /// `caller.country` and `caller.region` are taken from the number (libphonenumber's
    /// region code: the country or territory, e.g. `GB`, or `JE` for a Jersey number) when
    /// the edge did not supply them.
    pub fn new(flow: Arc<Flow>, mut data: CallData, now: DateTime<FixedOffset>) -> Session {
        if let Some(code) = data.caller.get("number").and_then(|n| country_of(n)) {
            for field in ["country", "region"] {
                if data.caller.get(field).is_none_or(String::is_empty) {
                    data.caller.insert(field.into(), code.clone());
                }
            }
        }
        let vars = flow
            .variables
            .iter()
            .map(|(k, t)| (k.clone(), zero(*t)))
            .collect();
        Session {
            flow,
            library: None,
            stack: Vec::new(),
            data,
            vars,
            state: State::NotStarted,
            now,
            steps: VecDeque::new(),
            queue: (0, None),
        }
    }

    /// Gives the session the flows its `subflow` nodes may call.
    pub fn with_library(mut self, library: Arc<Library>) -> Session {
        self.library = Some(library);
        self
    }

    /// Starts the run at the flow's start node.
    pub fn start(&mut self, now: DateTime<FixedOffset>) {
        if self.state != State::NotStarted {
            return;
        }
        self.now = now;
        self.walk(self.flow.start);
    }

    /// The caller's input for the pending `Gather` (digits, or a chat button's key).
    pub fn input(&mut self, now: DateTime<FixedOffset>, digits: &str) {
        self.now = now;
        if self.is_queued() {
            for key in digits.chars() {
                self.queued_key(key);
                if !self.is_queued() {
                    break;
                }
            }
            return;
        }
        let State::Waiting {
            node,
            attempt,
            question,
        } = self.state
        else {
            return;
        };
        if self.escape(node, digits) {
            return;
        }
        match &self.flow.nodes[node.0].action {
            Action::Survey { questions, .. } => {
                let q = &questions[question.min(questions.len() - 1)];
                let score = digits
                    .chars()
                    .next()
                    .and_then(|c| c.to_digit(10))
                    .and_then(|d| u8::try_from(d).ok())
                    .filter(|d| (q.low..=q.high).contains(d) && digits.chars().count() == 1);
                match score {
                    Some(score) => {
                        self.event(FlowEventKind::Rated {
                            node: self.name(node),
                            question: q.id.clone(),
                            score,
                            low: q.low,
                            high: q.high,
                        });
                        self.ask(node, question + 1);
                    }
                    None => {
                        self.event(FlowEventKind::Invalid {
                            node: self.name(node),
                            input: digits.to_string(),
                        });
                        self.survey_retry(node, attempt, question);
                    }
                }
            }
            Action::Menu { options, .. } => {
                let chosen = digits.chars().next().and_then(|k| {
                    options
                        .iter()
                        .find(|o| o.key == k && self.shown(o.when.as_ref()))
                        .map(|o| (o.key, o.label.clone(), o.next))
                });
                match chosen {
                    Some((key, label, next)) => {
                        self.event(FlowEventKind::Chosen {
                            node: self.name(node),
                            key,
                            label,
                        });
                        self.walk(next);
                    }
                    None => {
                        self.event(FlowEventKind::Invalid {
                            node: self.name(node),
                            input: digits.to_string(),
                        });
                        self.retry(node, attempt, true);
                    }
                }
            }
            Action::Collect {
                into,
                min,
                max,
                terminator,
                valid,
                next,
                ..
            } => {
                let input: String = digits
                    .chars()
                    .take_while(|c| Some(*c) != *terminator)
                    .take(*max as usize)
                    .collect();
                let len = input.chars().count() as u32;
                let digits_only = input.chars().all(|c| c.is_ascii_digit() || c == '*');
                let ok = len >= *min
                    && len <= *max
                    && digits_only
                    && valid.as_ref().is_none_or(|v| {
                        let mut extra = BTreeMap::new();
                        extra.insert("input".to_string(), Value::from(input.as_str()));
                        matches!(self.eval(v, &extra), Ok(Value::Bool(true)))
                    });
                if ok {
                    let (into, next) = (into.clone(), *next);
                    self.vars.insert(into.clone(), Value::from(input.as_str()));
                    self.event(FlowEventKind::Collected {
                        node: self.name(node),
                        into,
                    });
                    self.walk(next);
                } else {
                    self.event(FlowEventKind::Invalid {
                        node: self.name(node),
                        input,
                    });
                    self.retry(node, attempt, true);
                }
            }
            _ => {}
        }
    }

    /// The answer to a pending `Lookup`: the record, or `None` when nothing was found or
    /// the source failed.
    pub fn lookup_result(
        &mut self,
        now: DateTime<FixedOffset>,
        record: Option<&BTreeMap<String, FieldValue>>,
    ) {
        self.now = now;
        let State::Waiting { node, .. } = self.state else {
            return;
        };
        let Action::Lookup {
            into,
            next,
            on_failure,
            ..
        } = &self.flow.nodes[node.0].action
        else {
            return;
        };
        let (into, next, on_failure) = (into.clone(), *next, *on_failure);
        self.event(FlowEventKind::LookedUp {
            node: self.name(node),
            found: record.is_some(),
        });
        match record {
            // `into: customer` fills the caller's profile (`customer.*`, found).
            Some(fields) if into == "customer" => {
                self.data.customer = Some(fields.clone());
                self.walk(next);
            }
            Some(fields) => {
                let map: HashMap<String, Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect();
                self.vars.insert(into, Value::from(map));
                self.walk(next);
            }
            None => match on_failure {
                Some(f) => self.walk(f),
                None => {
                    self.push(Output::Hangup {
                        reason: "lookup-failed".into(),
                    });
                    self.finish(self.name(node), Exit::HungUp("lookup-failed".into()));
                }
            },
        }
    }

    /// No input (or no lookup answer) came before the timeout.
    pub fn timeout(&mut self, now: DateTime<FixedOffset>) {
        self.now = now;
        if let State::Waiting { node, .. } = self.state
            && matches!(self.flow.nodes[node.0].action, Action::Lookup { .. })
        {
            return self.lookup_result(now, None);
        }
        if let State::Waiting {
            node,
            attempt,
            question,
        } = self.state
        {
            self.event(FlowEventKind::NoInput {
                node: self.name(node),
            });
            if matches!(self.flow.nodes[node.0].action, Action::Survey { .. }) {
                self.survey_retry(node, attempt, question);
            } else {
                self.retry(node, attempt, false);
            }
        }
    }

    /// While queued: the routing engine's latest position and expected wait.
    pub fn queue_update(
        &mut self,
        now: DateTime<FixedOffset>,
        position: u32,
        ewt: Option<Duration>,
    ) {
        self.now = now;
        self.queue = (position, ewt);
        self.check_queue();
    }

    /// While queued: an agent answered. The flow's part of the call is over.
    pub fn connected(&mut self, now: DateTime<FixedOffset>) {
        self.now = now;
        if let State::Queued(Hold { node, .. }) = self.state {
            self.finish(self.name(node), Exit::Queued);
        }
    }

    /// When the session next wants [`Session::tick`] (announcements, callback offers,
    /// maximum wait), if it is waiting in a queue.
    pub fn poll_timeout(&self) -> Option<DateTime<FixedOffset>> {
        let (hold, flow) = self.hold()?;
        let experience = experience(&flow, hold.node)?;
        let offer = experience
            .callback
            .as_ref()
            .filter(|_| !hold.callback_offered)
            .and_then(|c| c.after)
            .map(|d| hold.since + d);
        let max = experience.max_wait.map(|(d, _)| hold.since + d);
        [hold.next_announcement, offer, max]
            .into_iter()
            .flatten()
            .min()
    }

    /// The hold in progress and the queue experience of its node.
    fn hold(&self) -> Option<(Hold, Arc<Flow>)> {
        let State::Queued(hold) = self.state else {
            return None;
        };
        let flow = Arc::clone(&self.flow);
        experience(&flow, hold.node)?;
        Some((hold, flow))
    }

    /// Time passed: announcements, callback offers and the maximum wait fall due.
    pub fn tick(&mut self, now: DateTime<FixedOffset>) {
        self.now = now;
        self.check_queue();
    }

    /// Applies whatever the queue experience calls for at the current time.
    fn check_queue(&mut self) {
        let Some((hold, flow)) = self.hold() else {
            return;
        };
        let Some(experience) = experience(&flow, hold.node) else {
            return;
        };
        let Hold {
            node,
            since,
            next_announcement,
            callback_offered,
        } = hold;
        let now = self.now;
        if let Some((limit, to)) = experience.max_wait
            && now >= since + limit
        {
            self.push(Output::Dequeue);
            self.event(FlowEventKind::Routed {
                node: self.name(node),
                because: "maximum wait".into(),
            });
            return self.walk(to);
        }
        let mut next = next_announcement;
        if let Some(at) = next_announcement
            && now >= at
        {
            if let Err(e) = self.say(&experience.announcement, true) {
                return self.fail(node, e);
            }
            next = experience.announce_every.map(|d| now + d);
        }
        let mut offered = callback_offered;
        if let Some(cb) = &experience.callback
            && !offered
        {
            let waited_enough = cb.after.is_some_and(|d| now >= since + d);
            let long_wait = cb
                .when_wait_over
                .is_some_and(|limit| self.queue.1.is_some_and(|ewt| ewt > limit));
            if waited_enough || long_wait {
                if let Err(e) = self.say(&cb.prompt, true) {
                    return self.fail(node, e);
                }
                offered = true;
            }
        }
        self.state = State::Queued(Hold {
            next_announcement: next,
            callback_offered: offered,
            ..hold
        });
    }

    /// While queued: a key pressed during the hold.
    fn queued_key(&mut self, key: char) {
        let Some((hold, flow)) = self.hold() else {
            return;
        };
        let Some(experience) = experience(&flow, hold.node) else {
            return;
        };
        let (node, callback_offered) = (hold.node, hold.callback_offered);
        if let Some(cb) = &experience.callback
            && callback_offered
            && cb.key == key
        {
            self.push(Output::ConvertToCallback);
            self.event(FlowEventKind::Chosen {
                node: self.name(node),
                key,
                label: "callback".into(),
            });
            if let Err(e) = self.say(&cb.confirm, false) {
                return self.fail(node, e);
            }
            self.push(Output::Hangup {
                reason: "callback-kept-place".into(),
            });
            return self.finish(self.name(node), Exit::CallbackKeptPlace);
        }
        if let Some((leave, to)) = experience.leave
            && leave == key
        {
            self.push(Output::Dequeue);
            self.event(FlowEventKind::Chosen {
                node: self.name(node),
                key,
                label: "leave queue".into(),
            });
            return self.walk(to);
        }
        self.event(FlowEventKind::Invalid {
            node: self.name(node),
            input: key.to_string(),
        });
    }

    /// The caller hung up.
    pub fn hangup(&mut self, now: DateTime<FixedOffset>) {
        self.now = now;
        let node = match self.state {
            State::Waiting { node, .. } | State::Queued(Hold { node, .. }) => self.name(node),
            State::NotStarted => self.name(self.flow.start),
            State::Done => return,
        };
        self.finish(node, Exit::CallerLeft);
    }

    /// The next output or event, in the order they happened. Drain after every input.
    pub fn poll(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// Whether the caller is waiting in a queue (see [`Session::queue_update`],
    /// [`Session::tick`] and [`Session::connected`]).
    pub fn is_queued(&self) -> bool {
        matches!(self.state, State::Queued(_))
    }

    /// When the caller entered the queue they are waiting in.
    pub fn queued_since(&self) -> Option<DateTime<FixedOffset>> {
        match self.state {
            State::Queued(Hold { since, .. }) => Some(since),
            _ => None,
        }
    }

    /// Whether the run has ended.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The current value of a flow variable, shown as text.
    pub fn variable(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(show)
    }

    fn push(&mut self, o: Output) {
        self.steps.push_back(Step::Do(o));
    }

    /// A node's name in events: `flow:node` inside a subflow.
    fn name(&self, n: NodeId) -> String {
        let name = &self.flow.nodes[n.0].name;
        if self.stack.is_empty() {
            name.clone()
        } else {
            format!("{}:{name}", self.flow.id)
        }
    }

    fn event(&mut self, kind: FlowEventKind) {
        self.steps
            .push_back(Step::Happened(FlowEvent { at: self.now, kind }));
    }

    fn finish(&mut self, node: String, exit: Exit) {
        self.state = State::Done;
        self.event(FlowEventKind::Exited { node, exit });
    }

    fn fail(&mut self, node: NodeId, why: String) {
        self.push(Output::Hangup {
            reason: "flow-error".into(),
        });
        self.finish(self.name(node), Exit::Failed(why));
    }

    fn context(&self, extra: &BTreeMap<String, Value>) -> Context<'static, 'static> {
        let mut ctx = Context::default();
        let caller: HashMap<String, Value> = CALLER_FIELDS
            .iter()
            .map(|(f, _)| {
                let v = self.data.caller.get(f).map_or("", String::as_str);
                (f.to_string(), Value::from(v))
            })
            .collect();
        let customer: HashMap<String, Value> = CUSTOMER_FIELDS
            .iter()
            .map(|(f, t)| {
                let v = match (&self.data.customer, *f) {
                    (Some(_), "found") => Value::Bool(true),
                    (None, "found") => Value::Bool(false),
                    (Some(c), _) => c.get(*f).map_or_else(|| zero(*t), Value::from),
                    (None, _) => zero(*t),
                };
                (f.to_string(), v)
            })
            .collect();
        let contact: HashMap<String, Value> = CONTACT_FIELDS
            .iter()
            .map(|(f, t)| {
                let v = self
                    .data
                    .contact
                    .get(f)
                    .map_or_else(|| zero(*t), |s| Value::from(s.as_str()));
                (f.to_string(), v)
            })
            .collect();
        ctx.add_variable_from_value("caller", caller);
        ctx.add_variable_from_value("customer", customer);
        ctx.add_variable_from_value("contact", contact);
        let mut queue: HashMap<String, Value> = HashMap::new();
        queue.insert("position".into(), Value::Int(i64::from(self.queue.0)));
        let minutes = self.queue.1.map_or(0, |d| d.as_secs().div_ceil(60));
        queue.insert(
            "wait_minutes".into(),
            Value::Int(i64::try_from(minutes).unwrap_or(i64::MAX)),
        );
        ctx.add_variable_from_value("queue", queue);
        ctx.add_variable_from_value("now", Value::Timestamp(self.now));
        for (k, v) in self.vars.iter().chain(extra) {
            ctx.add_variable_from_value(k.clone(), v.clone());
        }
        ctx
    }

    fn eval(&self, e: &Expression, extra: &BTreeMap<String, Value>) -> Result<Value, String> {
        e.eval(&self.context(extra))
    }

    fn shown(&self, when: Option<&Expression>) -> bool {
        when.is_none_or(|w| matches!(self.eval(w, &BTreeMap::new()), Ok(Value::Bool(true))))
    }

    fn render(&self, t: &Template) -> Result<String, String> {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&show(&self.eval(e, &BTreeMap::new())?)),
            }
        }
        Ok(out)
    }

    fn say(&mut self, t: &Template, barge_in: bool) -> Result<(), String> {
        let text = self.render(t)?;
        self.push(Output::Say { text, barge_in });
        Ok(())
    }

    /// The flow's agent escape, when `digits` is exactly its key and the node does not use
    /// that key itself.
    fn escape(&mut self, node: NodeId, digits: &str) -> bool {
        let Some((key, to)) = self.flow.agent_escape else {
            return false;
        };
        let own = match &self.flow.nodes[node.0].action {
            Action::Menu { options, .. } => options.iter().any(|o| o.key == key),
            Action::Survey { .. } => true,
            _ => false,
        };
        if own || digits != key.to_string() {
            return false;
        }
        self.event(FlowEventKind::Chosen {
            node: self.name(node),
            key,
            label: "agent escape".into(),
        });
        self.walk(to);
        true
    }

    /// Asks survey question `question`, or ends the survey after the last one.
    fn ask(&mut self, node: NodeId, question: usize) {
        let flow = Arc::clone(&self.flow);
        let Action::Survey {
            questions,
            thanks,
            next,
        } = &flow.nodes[node.0].action
        else {
            return;
        };
        if question < questions.len() {
            self.state = State::Waiting {
                node,
                attempt: 0,
                question,
            };
            return self.prompt(node);
        }
        if let Some(t) = thanks
            && let Err(e) = self.say(t, false)
        {
            return self.fail(node, e);
        }
        match next {
            Some(n) => self.walk(*n),
            None => {
                self.push(Output::Hangup {
                    reason: "survey".into(),
                });
                self.finish(self.name(node), Exit::HungUp("survey".into()));
            }
        }
    }

    /// A survey question gets one more try, then is skipped unanswered.
    fn survey_retry(&mut self, node: NodeId, attempt: u32, question: usize) {
        if attempt == 0 {
            self.state = State::Waiting {
                node,
                attempt: 1,
                question,
            };
            self.prompt(node);
        } else {
            self.ask(node, question + 1);
        }
    }

    fn retry(&mut self, node: NodeId, attempt: u32, invalid: bool) {
        let flow = Arc::clone(&self.flow);
        let (retries, message, on_failure) = match &flow.nodes[node.0].action {
            Action::Menu {
                retries,
                invalid: inv,
                no_input,
                on_failure,
                ..
            } => (*retries, if invalid { inv } else { no_input }, *on_failure),
            Action::Collect {
                retries,
                invalid: inv,
                on_failure,
                ..
            } => (*retries, inv, *on_failure),
            _ => return,
        };
        if let Some(m) = message
            && let Err(e) = self.say(m, true)
        {
            return self.fail(node, e);
        }
        if attempt < retries {
            self.state = State::Waiting {
                node,
                attempt: attempt + 1,
                question: 0,
            };
            self.prompt(node);
            return;
        }
        match on_failure {
            Some(next) => self.walk(next),
            None => {
                self.push(Output::Hangup {
                    reason: "no-valid-input".into(),
                });
                self.finish(self.name(node), Exit::HungUp("no-valid-input".into()));
            }
        }
    }

    /// Repeats the prompt of a waiting node and asks for input again.
    fn prompt(&mut self, node: NodeId) {
        let flow = Arc::clone(&self.flow);
        let result = match &flow.nodes[node.0].action {
            Action::Menu {
                prompt,
                options,
                timeout,
                ..
            } => self.say(prompt, true).map(|()| {
                let shown = options
                    .iter()
                    .filter(|o| self.shown(o.when.as_ref()))
                    .map(|o| (o.key, o.label.clone()))
                    .collect();
                Output::Gather {
                    max_digits: 1,
                    terminator: None,
                    timeout: *timeout,
                    options: shown,
                }
            }),
            Action::Survey { questions, .. } => {
                let index = match self.state {
                    State::Waiting { question, .. } => question,
                    _ => 0,
                };
                let Some(q) = questions.get(index) else {
                    return;
                };
                self.say(&q.prompt, true).map(|()| Output::Gather {
                    max_digits: 1,
                    terminator: None,
                    timeout: Duration::from_secs(5),
                    options: (q.low..=q.high)
                        .map(|d| (char::from(b'0' + d), d.to_string()))
                        .collect(),
                })
            }
            Action::Collect {
                prompt,
                max,
                terminator,
                timeout,
                ..
            } => self.say(prompt, true).map(|()| Output::Gather {
                max_digits: *max,
                terminator: *terminator,
                timeout: *timeout,
                options: Vec::new(),
            }),
            _ => return,
        };
        match result {
            Ok(gather) => self.push(gather),
            Err(e) => self.fail(node, e),
        }
    }

    /// Runs from `node` until the flow waits for input or ends.
    fn walk(&mut self, mut node: NodeId) {
        for _ in 0..MAX_STEPS_PER_INPUT {
            let flow = Arc::clone(&self.flow);
            let Some(n) = flow.nodes.get(node.0) else {
                return self.fail(node, "jump to a missing node".into());
            };
            self.event(FlowEventKind::Entered {
                node: self.name(node),
            });
            let step: Result<Option<NodeId>, String> = match &n.action {
                Action::Subflow { flow: id, next } => {
                    let sub = self.library.as_ref().and_then(|l| l.get(id)).cloned();
                    match sub {
                        None => Err(format!("subflow `{id}` is not loaded")),
                        Some(_) if self.stack.len() >= MAX_SUBFLOW_DEPTH => {
                            Err(format!("subflows nested deeper than {MAX_SUBFLOW_DEPTH}"))
                        }
                        Some(sub) => {
                            self.stack.push((Arc::clone(&flow), *next));
                            for (k, t) in &sub.variables {
                                self.vars.entry(k.clone()).or_insert_with(|| zero(*t));
                            }
                            node = sub.start;
                            self.flow = sub;
                            continue;
                        }
                    }
                }
                Action::Return => match self.stack.pop() {
                    Some((caller, next)) => {
                        self.flow = caller;
                        node = next;
                        continue;
                    }
                    None => {
                        self.push(Output::Hangup {
                            reason: "returned".into(),
                        });
                        return self.finish(self.name(node), Exit::HungUp("returned".into()));
                    }
                },
                Action::Say {
                    text,
                    barge_in,
                    next,
                } => self.say(text, *barge_in).map(|()| Some(*next)),
                Action::Play {
                    file,
                    barge_in,
                    next,
                } => {
                    self.push(Output::Play {
                        file: file.clone(),
                        barge_in: *barge_in,
                    });
                    Ok(Some(*next))
                }
                Action::Survey { .. } => {
                    self.ask(node, 0);
                    return;
                }
                Action::Menu { .. } | Action::Collect { .. } => {
                    self.state = State::Waiting {
                        node,
                        attempt: 0,
                        question: 0,
                    };
                    self.prompt(node);
                    return;
                }
                Action::Branch { arms, otherwise } => {
                    let mut to = Ok(Some(*otherwise));
                    for (cond, next) in arms {
                        match self.eval(cond, &BTreeMap::new()) {
                            Ok(Value::Bool(true)) => {
                                to = Ok(Some(*next));
                                break;
                            }
                            Ok(_) => {}
                            Err(e) => {
                                to = Err(e);
                                break;
                            }
                        }
                    }
                    to
                }
                Action::Hours {
                    calendar,
                    open,
                    closed,
                    holiday,
                } => {
                    let status = flow.calendars.get(*calendar).map(|c| c.status(self.now));
                    let (to, why) = match status {
                        Some(Status::Open) => (*open, "open".to_string()),
                        Some(Status::Holiday(name)) => (*holiday, format!("holiday: {name}")),
                        _ => (*closed, "closed".to_string()),
                    };
                    self.event(FlowEventKind::Routed {
                        node: n.name.clone(),
                        because: why,
                    });
                    Ok(Some(to))
                }
                Action::Geo { routes, otherwise } => {
                    let country = self.data.caller.get("country").cloned().unwrap_or_default();
                    let to = routes
                        .iter()
                        .find(|(codes, _)| codes.contains(&country))
                        .map_or(*otherwise, |r| r.1);
                    let because = if country.is_empty() {
                        "country unknown".to_string()
                    } else {
                        format!("country {country}")
                    };
                    self.event(FlowEventKind::Routed {
                        node: n.name.clone(),
                        because,
                    });
                    Ok(Some(to))
                }
                Action::Lookup {
                    source,
                    url,
                    key,
                    timeout,
                    ..
                } => match self.eval(key, &BTreeMap::new()) {
                    Ok(k) => {
                        let key = show(&k);
                        self.push(Output::Lookup {
                            source: source.clone(),
                            url: url.as_ref().map(|u| u.replace("{key}", &key)),
                            key,
                            timeout: *timeout,
                        });
                        self.state = State::Waiting {
                            node,
                            attempt: 0,
                            question: 0,
                        };
                        return;
                    }
                    Err(e) => Err(e),
                },
                Action::Set { assignments, next } => {
                    let mut result = Ok(Some(*next));
                    for (var, e) in assignments {
                        match self.eval(e, &BTreeMap::new()) {
                            Ok(v) => {
                                self.vars.insert(var.clone(), v);
                            }
                            Err(err) => {
                                result = Err(err);
                                break;
                            }
                        }
                    }
                    result
                }
                Action::Enqueue {
                    queue,
                    skills,
                    priority,
                    language,
                    preferred_agent,
                    preferred_for,
                    experience,
                } => {
                    let out = (|| -> Result<Output, String> {
                        let priority = match priority {
                            Some(p) => match self.eval(p, &BTreeMap::new())? {
                                Value::Int(i) => i,
                                Value::UInt(u) => i64::try_from(u).unwrap_or(i64::MAX),
                                other => return Err(format!("priority is {other:?}, not an int")),
                            },
                            None => 0,
                        };
                        let text = |e: &Option<Expression>| -> Result<Option<String>, String> {
                            e.as_ref()
                                .map(|e| self.eval(e, &BTreeMap::new()).map(|v| show(&v)))
                                .transpose()
                                .map(|s| s.filter(|s| !s.is_empty()))
                        };
                        Ok(Output::Enqueue {
                            queue: queue.clone(),
                            skills: skills.clone(),
                            priority,
                            language: text(language)?,
                            preferred_agent: text(preferred_agent)?,
                            preferred_for: *preferred_for,
                            music: experience.music.clone(),
                        })
                    })();
                    match out {
                        Ok(o) => {
                            self.push(o);
                            let next_announcement = experience.announce_every.map(|d| self.now + d);
                            self.state = State::Queued(Hold {
                                node,
                                since: self.now,
                                next_announcement,
                                callback_offered: false,
                            });
                            self.check_queue();
                            return;
                        }
                        Err(e) => Err(e),
                    }
                }
                Action::Transfer { to } => match self.render(to) {
                    Ok(to) => {
                        self.push(Output::Transfer { to });
                        return self.finish(self.name(node), Exit::Transferred);
                    }
                    Err(e) => Err(e),
                },
                Action::Voicemail {
                    mailbox,
                    greeting,
                    transcribe,
                } => {
                    if let Some(g) = greeting
                        && let Err(e) = self.say(g, false)
                    {
                        return self.fail(node, e);
                    }
                    self.push(Output::Voicemail {
                        mailbox: mailbox.clone(),
                        transcribe: *transcribe,
                    });
                    return self.finish(self.name(node), Exit::Voicemail);
                }
                Action::Callback {
                    queue,
                    number,
                    confirm,
                    next,
                } => match self.eval(number, &BTreeMap::new()) {
                    Ok(v) => {
                        self.push(Output::Callback {
                            queue: queue.clone(),
                            number: show(&v),
                        });
                        match confirm.as_ref().map(|c| self.say(c, false)) {
                            Some(Err(e)) => Err(e),
                            _ => match next {
                                Some(n) => Ok(Some(*n)),
                                None => {
                                    self.push(Output::Hangup {
                                        reason: "callback".into(),
                                    });
                                    return self
                                        .finish(n.name.clone(), Exit::HungUp("callback".into()));
                                }
                            },
                        }
                    }
                    Err(e) => Err(e),
                },
                Action::Hangup { say, reason } => {
                    if let Some(s) = say
                        && let Err(e) = self.say(s, false)
                    {
                        return self.fail(node, e);
                    }
                    let reason = reason.clone().unwrap_or_else(|| "flow-end".into());
                    self.push(Output::Hangup {
                        reason: reason.clone(),
                    });
                    return self.finish(self.name(node), Exit::HungUp(reason));
                }
            };
            match step {
                Ok(Some(next)) => node = next,
                Ok(None) => return,
                Err(e) => return self.fail(node, e),
            }
        }
        self.fail(
            node,
            format!("more than {MAX_STEPS_PER_INPUT} steps without caller input"),
        );
    }
}

/// The ISO 3166 country of a number in international format, if it can be told.
pub fn country_of(number: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, number).ok()?;
    parsed.country().id().map(|id| id.as_ref().to_string())
}

/// The value a variable of a type starts with.
fn zero(t: Ty) -> Value {
    match t {
        Ty::Bool => Value::Bool(false),
        Ty::Int => Value::Int(0),
        Ty::Double => Value::Float(0.0),
        Ty::String => Value::from(""),
        Ty::List => Value::from(Vec::<Value>::new()),
        _ => Value::Null,
    }
}

/// A value as a caller would hear it.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn fields_keep_one_value_per_name() {
        let mut f = Fields::default();
        assert_eq!(f.insert("number".into(), "+4420".into()), None);
        assert_eq!(f.insert("country".into(), "GB".into()), None);
        assert_eq!(
            f.insert("number".into(), "+4421".into()),
            Some("+4420".into())
        );
        assert_eq!(f.get("number").map(String::as_str), Some("+4421"));
        assert_eq!(f.get("country").map(String::as_str), Some("GB"));
        assert_eq!(f.get("region"), None);
    }
}
