//! The contact center's live state, one per tenant: the routing engine, the flow sessions of
//! contacts in progress and the real-time KPIs, driven by commands that carry the time.
//!
//! Synchronous and free of IO: every command leaves [`Effect`]s (writes to make durable,
//! lookups to answer, notices to publish) that the runtime's owner task applies in order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_flow::check::Flow;
use switchboard_flow::interp::{
    CallData, Exit, FieldValue, FlowEventKind, Library, Output, Session, Step,
};
use switchboard_routing::{
    AgentId, AgentSpec, AgentState, Channel, Config, ContactId, ContactSpec, Engine, EventKind,
    Input, LanguageId, Membership, OfferId, Outcome, QueueId, QueueSpec, ReasonCode, SkillId,
    SkillRequirement, Timestamp,
};
use switchboard_store::Line;
use switchboard_voice::{CallCommand, MonitorMode};

use crate::kpi::{KpiConfig, Kpis};
use crate::setup::{AgentConfig, QueueConfig};

/// Something the runtime must do after a command, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The contact entered `queue`.
    Queued {
        /// Contact id.
        contact: i64,
        /// Queue name.
        queue: String,
    },
    /// The contact left its queue but stays in the flow.
    Dequeued {
        /// Contact id.
        contact: i64,
    },
    /// `agent` answered.
    Connected {
        /// Contact id.
        contact: i64,
        /// Agent login.
        agent: String,
    },
    /// The contact ended.
    Ended {
        /// Contact id.
        contact: i64,
        /// How (`handled`, `abandoned`, `flow:<reason>`, …).
        reason: String,
    },
    /// The IVR path or conversation changed.
    Progress {
        /// Contact id.
        contact: i64,
        /// IVR path so far.
        path: Vec<String>,
        /// Conversation so far.
        lines: Vec<Line>,
    },
    /// The flow took a callback request.
    Callback {
        /// Contact id.
        contact: i64,
        /// Queue that calls back.
        queue: String,
        /// Number to call.
        number: String,
        /// The contact itself waits on as the callback, keeping its place; otherwise the
        /// runtime routes a new callback contact ([`Center::enqueue_callback`]).
        kept_place: bool,
    },
    /// The flow needs a record: answer with [`Center::lookup_result`].
    Lookup {
        /// Contact id.
        contact: i64,
        /// `customers` or a named source.
        source: String,
        /// The key.
        key: String,
        /// For web sources: the URL to fetch.
        url: Option<String>,
    },
    /// The contact was transferred into `queue` (blind transfer): it waits there again.
    Transferred {
        /// Contact id.
        contact: i64,
        /// The queue it waits in now.
        queue: String,
    },
    /// Pending callback `id` is due again: route it with a new contact.
    RouteCallback {
        /// Callback id.
        id: i64,
    },
    /// The contact's call was transferred out to `number` through the trunk.
    Forwarded {
        /// Contact id.
        contact: i64,
        /// The number dialed.
        number: String,
    },
    /// Call the customer of a callback back, agent first (the commands that follow drive
    /// the call).
    Dial {
        /// Contact id.
        contact: i64,
        /// The number to call.
        number: String,
    },
    /// Something to do on the contact's phone call (voice contacts only), in order.
    Call {
        /// Contact id.
        contact: i64,
        /// What to do.
        command: CallCommand,
    },
    /// A leg of the contact's call closed: to keep with the contact.
    Leg(switchboard_store::CallLeg),
    /// Something to log and publish.
    Notice(Notice),
}

/// An event for the log and the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notice {
    /// Position in the event log (filled in when stored).
    pub seq: i64,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What: `contact.started`, `contact.queued`, `contact.offered`, `contact.connected`,
    /// `contact.message`, `contact.ended`, `contact.wrapped_up`, `agent.state`, `flow.step`, …
    pub kind: String,
    /// The contact concerned.
    pub contact: Option<i64>,
    /// The agent concerned.
    pub agent: Option<String>,
    /// The queue concerned.
    pub queue: Option<String>,
    /// Details.
    pub data: Value,
}

/// Whether an agent's direct line takes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Available: the call is routed to them.
    Open,
    /// Logged in but busy, ringing, in after-call work or away.
    Busy,
    /// Offline.
    Unavailable,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No such thing.
    #[error("{0} not found")]
    NotFound(String),
    /// Not allowed now.
    #[error("{0}")]
    Conflict(String),
    /// Bad request.
    #[error("{0}")]
    Invalid(String),
}

/// What the customer of a contact in progress sees.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerView {
    /// The conversation so far.
    pub lines: Vec<Line>,
    /// Choices offered now (key, label).
    pub options: Vec<(char, String)>,
    /// `ivr`, `queued`, `connected` or `ended`.
    pub status: &'static str,
}

/// A contact in progress.
struct Live {
    /// A phone call carries the contact: call commands go to it.
    call: bool,
    channel: Channel,
    address: String,
    session: Option<Session>,
    queue: Option<String>,
    agent: Option<String>,
    offers: Vec<(OfferId, String)>,
    path: Vec<String>,
    lines: Vec<Line>,
    /// Menu options of the pending input, for buttons in a chat.
    options: Vec<(char, String)>,
    connected_ms: Option<i64>,
    /// Ended while with an agent: when, for the handle time.
    ended_ms: Option<i64>,
    /// How many times the contact was transferred: its routing engine id is the contact
    /// id with this in the high bits ([`engine_id`]), a new one per transfer.
    generation: u64,
    /// A callback whose call Switchboard has started.
    dialed: bool,
    /// The call was transferred out to a number: it goes on when the contact ends.
    forwarded: bool,
}

/// Bits of a routing engine contact id that hold the contact id (the rest: generation).
const CONTACT_BITS: u32 = 40;

/// The routing engine's id of generation `generation` of contact `contact`.
fn engine_id(contact: i64, generation: u64) -> ContactId {
    ContactId(contact as u64 | generation << CONTACT_BITS)
}

/// The contact id and generation of a routing engine id.
fn contact_of(id: ContactId) -> (i64, u64) {
    (
        (id.0 & ((1 << CONTACT_BITS) - 1)) as i64,
        id.0 >> CONTACT_BITS,
    )
}

/// Strings to dense ids, both ways.
#[derive(Default)]
struct Names {
    ids: BTreeMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }
}

/// The live contact center.
pub struct Center {
    engine: Engine,
    queues: Names,
    agents: Names,
    skills: Names,
    languages: Names,
    queue_cfg: BTreeMap<String, QueueConfig>,
    agent_cfg: BTreeMap<String, AgentConfig>,
    flows: Arc<Library>,
    numbers: BTreeMap<String, String>,
    live: HashMap<i64, Live>,
    /// Flow ticks due: (when in ms, contact).
    ticks: BinaryHeap<Reverse<(i64, i64)>>,
    /// Callbacks to try again: (when in ms, callback id).
    retries: BinaryHeap<Reverse<(i64, i64)>>,
    kpis: Kpis,
    effects: Vec<Effect>,
    now_ms: i64,
    /// Callbacks are dialed by Switchboard (a trunk is configured).
    outbound: bool,
}

/// Milliseconds since the epoch as the routing engine's microsecond timestamp.
fn stamp(ms: i64) -> Timestamp {
    Timestamp(u64::try_from(ms).unwrap_or(0) * 1000)
}

/// Milliseconds since the epoch as a flow's clock.
fn clock(ms: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

/// A line of the conversation.
/// Whether `to` is a telephone number to dial through the trunk: digits, optionally after
/// a `+` (E.164 has at most 15; extensions are shorter).
fn dialable(to: &str) -> bool {
    let digits = to.strip_prefix('+').unwrap_or(to);
    (2..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn line(at_ms: i64, from: &str, text: &str) -> Line {
    Line {
        at_ms,
        from: from.into(),
        text: text.into(),
    }
}

fn state_name(s: &AgentState) -> String {
    match s {
        AgentState::Away(r) => format!("away:{r}"),
        s => s.name().to_string(),
    }
}

impl Center {
    /// An empty center.
    pub fn new(kpi: KpiConfig, seed: u64) -> Center {
        Center {
            engine: Engine::new(Config { seed }),
            queues: Names::default(),
            agents: Names::default(),
            skills: Names::default(),
            languages: Names::default(),
            queue_cfg: BTreeMap::new(),
            agent_cfg: BTreeMap::new(),
            flows: Arc::new(Library::new()),
            numbers: BTreeMap::new(),
            live: HashMap::new(),
            ticks: BinaryHeap::new(),
            retries: BinaryHeap::new(),
            kpis: Kpis::new(kpi),
            effects: Vec::new(),
            now_ms: 0,
            outbound: false,
        }
    }

    /// Whether callbacks are dialed by Switchboard (agent first, through a trunk).
    pub fn set_outbound(&mut self, on: bool) {
        self.outbound = on;
    }

    /// The effects of the commands so far, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn notice(&mut self, kind: &str, contact: Option<i64>, agent: Option<&str>, data: Value) {
        let queue = contact
            .and_then(|c| self.live.get(&c))
            .and_then(|l| l.queue.clone());
        self.effects.push(Effect::Notice(Notice {
            seq: 0,
            at_ms: self.now_ms,
            kind: kind.into(),
            contact,
            agent: agent.map(str::to_string),
            queue,
            data,
        }));
    }

    // ----- configuration -----

    /// Adds or changes a queue.
    pub fn configure_queue(
        &mut self,
        name: &str,
        q: &QueueConfig,
        now_ms: i64,
    ) -> Result<(), Refused> {
        q.validate().map_err(Refused::Invalid)?;
        self.now_ms = now_ms;
        let id = QueueId(self.queues.id(name));
        let spec = QueueSpec {
            strategy: q.strategy,
            ring_timeout: Duration::from_secs(q.ring_timeout_secs),
            wrap_up: q.wrap_up(),
            weight: q.weight,
            aht_hint: Duration::from_secs(q.aht_secs),
            ..QueueSpec::default()
        };
        self.engine
            .handle_input(stamp(now_ms), Input::ConfigureQueue { queue: id, spec })
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        self.kpis.queue(name, q.sl_secs, q.sl_percent);
        self.queue_cfg.insert(name.to_string(), q.clone());
        self.pump();
        Ok(())
    }

    /// Adds or changes an agent. Every queue named must exist.
    pub fn configure_agent(
        &mut self,
        login: &str,
        a: &AgentConfig,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let mut queues = Vec::new();
        for (i, (queue, &tier)) in a.queues.iter().enumerate() {
            let Some(q) = self
                .queues
                .get(queue)
                .filter(|_| self.queue_cfg.contains_key(queue))
            else {
                return Err(Refused::Invalid(format!(
                    "agent {login}: unknown queue `{queue}`"
                )));
            };
            queues.push(Membership {
                queue: QueueId(q),
                tier: tier.max(1),
                order: u32::try_from(i).unwrap_or(u32::MAX),
                weight: 1,
            });
        }
        let spec = AgentSpec {
            skills: a
                .skills
                .iter()
                .map(|(s, &l)| (SkillId(self.skills.id(s)), l))
                .collect(),
            languages: a
                .languages
                .iter()
                .map(|l| LanguageId(u16::try_from(self.languages.id(l)).unwrap_or(u16::MAX)))
                .collect(),
            capacity: a.capacity.unwrap_or_default(),
            queues,
            auto_away_after_missed: a.auto_away_after_missed,
        };
        let id = AgentId(self.agents.id(login));
        self.engine
            .handle_input(stamp(now_ms), Input::ConfigureAgent { agent: id, spec })
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        self.kpis
            .agent(login, a.queues.keys().cloned().collect(), now_ms);
        self.agent_cfg.insert(login.to_string(), a.clone());
        self.pump();
        Ok(())
    }

    /// Replaces the active flows.
    pub fn set_flows(&mut self, flows: Library) {
        self.flows = Arc::new(flows);
    }

    /// Maps an address (dialed number, chat entry point) to a flow.
    pub fn set_number(&mut self, address: &str, flow: &str) -> Result<(), Refused> {
        if !self.flows.contains_key(flow) {
            return Err(Refused::Invalid(format!("no published flow `{flow}`")));
        }
        self.numbers.insert(address.to_string(), flow.to_string());
        Ok(())
    }

    /// The flow that answers `address`, if any.
    pub fn flow_for(&self, address: &str) -> Option<&str> {
        self.numbers.get(address).map(String::as_str)
    }

    /// Queue configurations by name.
    pub fn queue_configs(&self) -> &BTreeMap<String, QueueConfig> {
        &self.queue_cfg
    }

    /// Agent configurations by login.
    pub fn agent_configs(&self) -> &BTreeMap<String, AgentConfig> {
        &self.agent_cfg
    }

    /// Addresses and their flows.
    pub fn numbers(&self) -> &BTreeMap<String, String> {
        &self.numbers
    }

    /// Real-time figures.
    pub fn kpis(&self) -> &Kpis {
        &self.kpis
    }

    // ----- contacts -----

    /// Starts a contact (already recorded with id `contact`) in the flow answering `dialed`.
    pub fn start(
        &mut self,
        contact: i64,
        channel: Channel,
        address: &str,
        dialed: &str,
        customer: Option<BTreeMap<String, FieldValue>>,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let flow_id = self
            .numbers
            .get(dialed)
            .ok_or_else(|| Refused::NotFound(format!("address `{dialed}`")))?;
        let flow: Arc<Flow> = Arc::clone(
            self.flows
                .get(flow_id)
                .ok_or_else(|| Refused::NotFound(format!("flow `{flow_id}`")))?,
        );
        let mut data = CallData::default();
        data.caller.insert("number".into(), address.into());
        data.contact.insert("id".into(), contact.to_string());
        data.contact
            .insert("channel".into(), channel_name(channel).into());
        data.contact.insert("dialed".into(), dialed.into());
        data.customer = customer;
        let mut session =
            Session::new(flow, data, clock(now_ms)).with_library(Arc::clone(&self.flows));
        session.start(clock(now_ms));
        self.live.insert(
            contact,
            Live {
                call: channel == Channel::Voice,
                channel,
                address: address.into(),
                session: Some(session),
                queue: None,
                agent: None,
                offers: Vec::new(),
                path: Vec::new(),
                lines: Vec::new(),
                options: Vec::new(),
                connected_ms: None,
                ended_ms: None,
                generation: 0,
                dialed: false,
                forwarded: false,
            },
        );
        self.notice(
            "contact.started",
            Some(contact),
            None,
            json!({ "channel": channel_name(channel), "address": address, "dialed": dialed }),
        );
        self.drain(contact);
        self.pump();
        Ok(())
    }

    /// Routes a callback request as contact `contact` (already recorded) of channel
    /// `callback`: an agent who takes it calls `number` back.
    pub fn enqueue_callback(
        &mut self,
        contact: i64,
        queue: &str,
        number: &str,
        now_ms: i64,
    ) -> Result<(), Refused> {
        let details = json!({ "queue": queue, "callback": number });
        self.enqueue_work(
            contact,
            Channel::Callback,
            queue,
            number,
            details,
            None,
            now_ms,
        )
    }

    /// Whether `login`'s direct line takes a call now: `None` when `login` is no agent.
    pub fn direct_line(&self, login: &str) -> Option<Reach> {
        self.agent_cfg.get(login)?;
        let id = AgentId(self.agents.get(login)?);
        Some(match self.engine.agent_state(id) {
            Some(AgentState::Available) => Reach::Open,
            None | Some(AgentState::Offline) => Reach::Unavailable,
            Some(_) => Reach::Busy,
        })
    }

    /// Routes call `contact` (already recorded) from `caller` to agent `login`'s direct
    /// line: through their lowest-tier queue, offered to them first for two minutes (then
    /// to their team), with music while it waits.
    pub fn start_direct(
        &mut self,
        contact: i64,
        caller: &str,
        login: &str,
        now_ms: i64,
    ) -> Result<(), Refused> {
        let queue = self
            .agent_cfg
            .get(login)
            .and_then(|a| a.queues.iter().min_by_key(|(_, tier)| **tier))
            .map(|(q, _)| q.clone())
            .ok_or_else(|| Refused::Conflict(format!("agent `{login}` serves no queue")))?;
        let agent = self.agent_id(login)?;
        let details = json!({ "queue": queue, "direct": login, "caller": caller });
        self.enqueue_work(
            contact,
            Channel::Voice,
            &queue,
            caller,
            details,
            Some(agent),
            now_ms,
        )?;
        self.call(contact, CallCommand::Music { file: None });
        Ok(())
    }

    /// Routes a voicemail left by `caller` (recorded in `file`) as contact `contact`
    /// (already recorded) to `queue`: asynchronous work, like an email, for an agent to
    /// listen to and call back.
    pub fn enqueue_voicemail(
        &mut self,
        contact: i64,
        queue: &str,
        caller: &str,
        file: &str,
        now_ms: i64,
    ) -> Result<(), Refused> {
        let details = json!({ "queue": queue, "voicemail": file, "caller": caller });
        self.enqueue_work(
            contact,
            Channel::Email,
            queue,
            caller,
            details,
            None,
            now_ms,
        )
    }

    /// Routes a contact that has no flow (a callback, a voicemail, a call to a direct
    /// line, offered to `preferred` first for two minutes).
    #[allow(clippy::too_many_arguments)]
    fn enqueue_work(
        &mut self,
        contact: i64,
        channel: Channel,
        queue: &str,
        address: &str,
        details: Value,
        preferred: Option<AgentId>,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let qid = self
            .queues
            .get(queue)
            .filter(|_| self.queue_cfg.contains_key(queue))
            .ok_or_else(|| Refused::NotFound(format!("queue `{queue}`")))?;
        self.live.insert(
            contact,
            Live {
                // A direct call carries its contact; other work has no call yet.
                call: channel == Channel::Voice,
                channel,
                address: address.into(),
                session: None,
                queue: Some(queue.into()),
                agent: None,
                offers: Vec::new(),
                path: Vec::new(),
                lines: Vec::new(),
                options: Vec::new(),
                connected_ms: None,
                ended_ms: None,
                generation: 0,
                dialed: false,
                forwarded: false,
            },
        );
        self.effects.push(Effect::Queued {
            contact,
            queue: queue.into(),
        });
        self.notice("contact.queued", Some(contact), None, details);
        let mut spec = ContactSpec::new(channel, QueueId(qid));
        if let Some(agent) = preferred {
            spec.preferred_agents = vec![agent];
            spec.preferred_for = Duration::from_secs(120);
        }
        self.route(Input::Enqueue {
            contact: self.engine_id(contact),
            spec,
        })
    }

    /// The customer's input: keys or a menu choice while in the flow, a message once with
    /// an agent.
    pub fn input(&mut self, contact: i64, text: &str, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        let talking = live.connected_ms.is_some() && live.ended_ms.is_none();
        let in_flow =
            live.session.as_ref().is_some_and(|s| !s.is_done()) && live.ended_ms.is_none();
        if !talking && !in_flow {
            return Err(Refused::Conflict(format!(
                "contact {contact} is not waiting for input"
            )));
        }
        live.lines.push(line(now_ms, "customer", text));
        match (talking, live.agent.clone(), live.session.as_mut()) {
            (true, Some(agent), _) => {
                self.notice(
                    "contact.message",
                    Some(contact),
                    Some(&agent),
                    json!({ "from": "customer", "text": text }),
                );
            }
            (_, _, Some(s)) => {
                live.options.clear();
                s.input(clock(now_ms), text.trim());
                self.drain(contact);
            }
            _ => {}
        }
        self.progress(contact);
        self.pump();
        Ok(())
    }

    /// The caller entered nothing at a prompt before its timeout (voice: the edge times
    /// the silence after the prompts have played).
    pub fn no_input(&mut self, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        let Some(session) = live.session.as_mut().filter(|s| !s.is_done()) else {
            return Err(Refused::Conflict(format!(
                "contact {contact} is not waiting for input"
            )));
        };
        live.options.clear();
        session.timeout(clock(now_ms));
        self.drain(contact);
        self.progress(contact);
        self.pump();
        Ok(())
    }

    /// A transcription of `contact`'s voicemail: a line of its conversation, if it is
    /// still in progress (answers whether it was).
    pub fn transcribed(&mut self, contact: i64, text: &str, now_ms: i64) -> bool {
        self.now_ms = now_ms;
        let Some(live) = self.live.get_mut(&contact).filter(|l| l.ended_ms.is_none()) else {
            return false;
        };
        live.lines.push(line(now_ms, "transcription", text));
        self.progress(contact);
        self.notice(
            "contact.transcribed",
            Some(contact),
            None,
            json!({ "text": text }),
        );
        true
    }

    /// Supervisor `phone` (their phone's user) starts monitoring the live call `contact`
    /// in `mode`, changes mode, or (`None`) stops.
    pub fn monitor(
        &mut self,
        contact: i64,
        phone: &str,
        mode: Option<MonitorMode>,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        if live.channel != Channel::Voice || live.connected_ms.is_none() || live.ended_ms.is_some()
        {
            return Err(Refused::Conflict(format!(
                "contact {contact} is not a call in conversation"
            )));
        }
        let command = match mode {
            Some(mode) => CallCommand::Monitor {
                user: phone.to_string(),
                mode,
            },
            None => CallCommand::StopMonitor {
                user: phone.to_string(),
            },
        };
        self.call(contact, command);
        Ok(())
    }

    /// The agent puts the caller of `contact` on hold from the desktop, or takes them off
    /// it; the call reports it back ([`Center::held`]).
    pub fn hold(&mut self, contact: i64, held: bool, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        if live.channel != Channel::Voice || live.connected_ms.is_none() || live.ended_ms.is_some()
        {
            return Err(Refused::Conflict(format!(
                "contact {contact} is not a call in conversation"
            )));
        }
        self.call(contact, CallCommand::Hold { held });
        Ok(())
    }

    /// A supervisor's monitoring of `contact` started, changed or stopped (`mode` none).
    pub fn monitoring(
        &mut self,
        contact: i64,
        phone: &str,
        mode: Option<MonitorMode>,
        now_ms: i64,
    ) {
        self.now_ms = now_ms;
        self.notice(
            "contact.monitor",
            Some(contact),
            None,
            json!({ "supervisor": phone, "mode": mode.map(MonitorMode::name) }),
        );
    }

    /// `agent` put the caller of `contact` on hold, or took them off it.
    pub fn held(&mut self, agent: &str, contact: i64, held: bool, now_ms: i64) {
        self.now_ms = now_ms;
        self.notice(
            "contact.hold",
            Some(contact),
            Some(agent),
            json!({ "held": held }),
        );
    }

    /// A leg of a call was closed out: stored with the contact (`Effect::Leg`), published
    /// for wallboards, and kept in the contact's events. An agent's or supervisor's leg
    /// names them.
    pub fn leg_closed(&mut self, leg: switchboard_store::CallLeg, now_ms: i64) {
        self.now_ms = now_ms;
        let agent = matches!(leg.kind.as_str(), "agent" | "supervisor").then(|| leg.party.clone());
        let mut data = serde_json::to_value(&leg).unwrap_or(Value::Null);
        if let Some(fields) = data.as_object_mut() {
            fields.remove("contact_id");
        }
        let contact = leg.contact_id;
        self.effects.push(Effect::Leg(leg));
        self.notice("contact.leg", Some(contact), agent.as_deref(), data);
    }

    /// `agent`'s registered phones changed (published for desktops and wallboards).
    pub fn phones(&mut self, agent: &str, contacts: Vec<String>, now_ms: i64) {
        self.now_ms = now_ms;
        self.notice(
            "agent.phone",
            None,
            Some(agent),
            json!({ "registered": !contacts.is_empty(), "contacts": contacts }),
        );
    }

    /// An agent's message to the customer of a contact they hold.
    pub fn agent_message(
        &mut self,
        agent: &str,
        contact: i64,
        text: &str,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.talking(agent, contact)?;
        live.lines.push(line(now_ms, "agent", text));
        self.notice(
            "contact.message",
            Some(contact),
            Some(agent),
            json!({ "from": "agent", "text": text }),
        );
        self.progress(contact);
        Ok(())
    }

    /// The customer left (hung up, closed the chat).
    pub fn hangup(&mut self, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        if live.channel == Channel::Callback && live.connected_ms.is_none() {
            // A callback waits for an agent whether or not the customer stays on the line.
            return Ok(());
        }
        if let Some(s) = live.session.as_mut() {
            s.hangup(clock(now_ms));
        }
        let in_engine = live.queue.is_some() || live.agent.is_some();
        // Leaving the queue unanswered is an abandon; leaving the menus is not.
        let reason = if live.connected_ms.is_some() {
            "handled"
        } else if live.queue.is_some() {
            "abandoned"
        } else {
            "caller_left"
        };
        self.drain(contact);
        if in_engine
            && self
                .live
                .get(&contact)
                .is_some_and(|l| l.ended_ms.is_none())
        {
            let _ = self.engine.handle_input(
                stamp(now_ms),
                Input::End {
                    contact: self.engine_id(contact),
                },
            );
            self.pump();
        }
        self.finish(contact, reason);
        Ok(())
    }

    /// The answer to an [`Effect::Lookup`].
    pub fn lookup_result(
        &mut self,
        contact: i64,
        record: Option<&BTreeMap<String, FieldValue>>,
        now_ms: i64,
    ) {
        self.now_ms = now_ms;
        if let Some(s) = self.live.get_mut(&contact).and_then(|l| l.session.as_mut()) {
            s.lookup_result(clock(now_ms), record);
            self.drain(contact);
            self.progress(contact);
            self.pump();
        }
    }

    /// What the customer sees of a contact: the conversation so far and the choices offered.
    pub fn view(&self, contact: i64) -> Option<CustomerView> {
        let l = self.live.get(&contact)?;
        let status = if l.ended_ms.is_some() {
            "ended"
        } else if l.connected_ms.is_some() {
            "connected"
        } else if l.queue.is_some() {
            "queued"
        } else {
            "ivr"
        };
        Some(CustomerView {
            lines: l.lines.clone(),
            options: l.options.clone(),
            status,
        })
    }

    /// The routing engine's id of `contact` now.
    fn engine_id(&self, contact: i64) -> ContactId {
        engine_id(contact, self.live.get(&contact).map_or(0, |l| l.generation))
    }

    /// Whether `generation` is the contact's current one (not a transferred-away past).
    fn current(&self, contact: i64, generation: u64) -> bool {
        self.live
            .get(&contact)
            .is_none_or(|l| l.generation == generation)
    }

    /// The contact `agent` is talking with now.
    fn talking(&mut self, agent: &str, contact: i64) -> Result<&mut Live, Refused> {
        let live = self.live_mut(contact)?;
        if live.agent.as_deref() != Some(agent)
            || live.connected_ms.is_none()
            || live.ended_ms.is_some()
        {
            return Err(Refused::Conflict(format!(
                "{agent} is not talking with contact {contact}"
            )));
        }
        Ok(live)
    }

    fn live_mut(&mut self, contact: i64) -> Result<&mut Live, Refused> {
        self.live
            .get_mut(&contact)
            .ok_or_else(|| Refused::NotFound(format!("contact {contact} in progress")))
    }

    /// Applies everything the contact's flow session produced.
    fn drain(&mut self, contact: i64) {
        loop {
            let Some(live) = self.live.get_mut(&contact) else {
                return;
            };
            let Some(step) = live.session.as_mut().and_then(Session::poll) else {
                break;
            };
            match step {
                Step::Do(out) => self.output(contact, out),
                Step::Happened(e) => {
                    let entry = match &e.kind {
                        FlowEventKind::Chosen { node, key, label } => {
                            Some(format!("{node}:{key} {label}"))
                        }
                        FlowEventKind::Routed { node, because } => {
                            Some(format!("{node}: {because}"))
                        }
                        FlowEventKind::Exited { node, exit } => {
                            Some(format!("{node}: {}", exit_name(exit)))
                        }
                        _ => None,
                    };
                    if let Some(entry) = entry {
                        live.path.push(entry);
                    }
                    // How the contact ended, when the flow ended it (queued, callback and
                    // caller-left runs go on in the engine or are ended by `hangup`).
                    let ended = match &e.kind {
                        FlowEventKind::Exited { exit, .. } => match exit {
                            Exit::Queued | Exit::CallbackKeptPlace | Exit::CallerLeft => None,
                            Exit::Transferred => Some("transferred".to_string()),
                            Exit::Voicemail => Some("voicemail".to_string()),
                            Exit::HungUp(r) => Some(format!("flow:{r}")),
                            Exit::Failed(why) => Some(format!("failed:{why}")),
                        },
                        _ => None,
                    };
                    let data = serde_json::to_value(&e).unwrap_or(Value::Null);
                    self.notice("flow.step", Some(contact), None, data);
                    if let Some(reason) = ended {
                        self.finish(contact, &reason);
                    }
                }
            }
        }
        if let Some(at) = self
            .live
            .get(&contact)
            .and_then(|l| l.session.as_ref())
            .and_then(Session::poll_timeout)
        {
            self.ticks.push(Reverse((at.timestamp_millis(), contact)));
        }
    }

    fn say(&mut self, contact: i64, text: String) {
        if let Some(l) = self.live.get_mut(&contact) {
            l.lines.push(line(self.now_ms, "system", &text));
        }
    }

    /// Tells the contact's phone call to do `command`, if a call carries the contact (a
    /// call in, or a callback being dialed).
    fn call(&mut self, contact: i64, command: CallCommand) {
        if self.live.get(&contact).is_some_and(|l| l.call) {
            self.effects.push(Effect::Call { contact, command });
        }
    }

    fn output(&mut self, contact: i64, out: Output) {
        let now = self.now_ms;
        match out {
            Output::Say { text, barge_in } => {
                self.call(
                    contact,
                    CallCommand::Say {
                        text: text.clone(),
                        barge_in,
                    },
                );
                self.say(contact, text);
            }
            Output::Play { file, barge_in } => {
                self.say(contact, format!("[audio: {file}]"));
                self.call(contact, CallCommand::Play { file, barge_in });
            }
            Output::Gather {
                options,
                max_digits,
                terminator,
                timeout,
            } => {
                self.call(
                    contact,
                    CallCommand::Gather {
                        max_digits,
                        terminator,
                        timeout,
                    },
                );
                if let Some(l) = self.live.get_mut(&contact) {
                    l.options = options;
                }
            }
            Output::Lookup {
                source, url, key, ..
            } => {
                self.effects.push(Effect::Lookup {
                    contact,
                    source,
                    key,
                    url,
                });
            }
            Output::Enqueue {
                queue,
                skills,
                priority,
                language,
                preferred_agent,
                preferred_for,
                music,
            } => {
                let Some(qid) = self
                    .queues
                    .get(&queue)
                    .filter(|_| self.queue_cfg.contains_key(&queue))
                else {
                    self.say(
                        contact,
                        "Sorry, we cannot take your contact right now.".into(),
                    );
                    if let Some(s) = self.live.get_mut(&contact).and_then(|l| l.session.as_mut()) {
                        s.hangup(clock(now));
                    }
                    return self.finish(contact, &format!("failed:unknown queue {queue}"));
                };
                let Some(live) = self.live.get_mut(&contact) else {
                    return;
                };
                let mut spec = ContactSpec::new(live.channel, QueueId(qid));
                spec.priority = i32::try_from(priority).unwrap_or(if priority < 0 {
                    i32::MIN
                } else {
                    i32::MAX
                });
                spec.skills = skills
                    .iter()
                    .map(|(s, min)| SkillRequirement {
                        skill: SkillId(self.skills.id(s)),
                        min: *min,
                    })
                    .collect();
                spec.language = language
                    .map(|l| LanguageId(u16::try_from(self.languages.id(&l)).unwrap_or(u16::MAX)));
                spec.preferred_agents = preferred_agent
                    .and_then(|a| self.agents.get(&a))
                    .map(AgentId)
                    .into_iter()
                    .collect();
                spec.preferred_for = preferred_for;
                live.queue = Some(queue.clone());
                self.call(contact, CallCommand::Music { file: music });
                self.kpis.queued(&queue, contact, now);
                self.effects.push(Effect::Queued {
                    contact,
                    queue: queue.clone(),
                });
                self.notice(
                    "contact.queued",
                    Some(contact),
                    None,
                    json!({ "queue": queue, "priority": priority }),
                );
                if let Err(e) = self.engine.handle_input(
                    stamp(now),
                    Input::Enqueue {
                        contact: self.engine_id(contact),
                        spec,
                    },
                ) {
                    self.say(
                        contact,
                        "Sorry, we cannot take your contact right now.".into(),
                    );
                    self.finish(contact, &format!("failed:{e}"));
                }
            }
            Output::ConvertToCallback => {
                let _ = self.engine.handle_input(
                    stamp(now),
                    Input::ConvertToCallback {
                        contact: self.engine_id(contact),
                    },
                );
                if let Some(l) = self.live.get_mut(&contact) {
                    l.channel = Channel::Callback;
                    let (queue, number) = (l.queue.clone().unwrap_or_default(), l.address.clone());
                    self.effects.push(Effect::Callback {
                        contact,
                        queue,
                        number,
                        kept_place: true,
                    });
                    self.notice("contact.callback", Some(contact), None, Value::Null);
                }
            }
            Output::Dequeue => {
                let _ = self.engine.handle_input(
                    stamp(now),
                    Input::Withdraw {
                        contact: self.engine_id(contact),
                    },
                );
                if let Some(q) = self.live.get_mut(&contact).and_then(|l| l.queue.take()) {
                    self.kpis.dequeued(&q, contact, None, now);
                }
                self.call(contact, CallCommand::StopMusic);
                self.effects.push(Effect::Dequeued { contact });
            }
            Output::Transfer { to } => {
                self.say(contact, format!("[transfer to {to}]"));
                // A number is dialed through the trunk; otherwise the flow only ends.
                if self.outbound
                    && dialable(&to)
                    && let Some(l) = self.live.get_mut(&contact)
                    && l.call
                {
                    l.forwarded = true;
                    self.effects.push(Effect::Forwarded {
                        contact,
                        number: to.clone(),
                    });
                    self.call(contact, CallCommand::Forward { number: to });
                }
            }
            Output::Voicemail {
                mailbox,
                transcribe,
            } => {
                self.say(contact, format!("[voicemail: {mailbox}]"));
                self.call(
                    contact,
                    CallCommand::Voicemail {
                        mailbox,
                        transcribe,
                    },
                );
            }
            Output::Callback { queue, number } => self.effects.push(Effect::Callback {
                contact,
                queue,
                number,
                kept_place: false,
            }),
            // The flow hangs up (also after a callback that keeps the caller's place, when
            // the contact itself goes on).
            Output::Hangup { .. } => self.call(contact, CallCommand::Hangup),
        }
    }

    /// The contact is over for the flow and the engine; `reason` is how it ended.
    fn finish(&mut self, contact: i64, reason: &str) {
        let Some(live) = self.live.get_mut(&contact) else {
            return;
        };
        if live.ended_ms.is_some() {
            return;
        }
        live.ended_ms = Some(self.now_ms);
        let agent = live.agent.clone();
        if let Some(q) = live.queue.clone()
            && live.connected_ms.is_none()
        {
            self.kpis.dequeued(
                &q,
                contact,
                Some(false).filter(|_| reason == "abandoned"),
                self.now_ms,
            );
        }
        let forwarded = live.forwarded;
        self.progress(contact);
        if !forwarded {
            self.call(contact, CallCommand::Hangup);
        }
        self.effects.push(Effect::Ended {
            contact,
            reason: reason.into(),
        });
        self.notice(
            "contact.ended",
            Some(contact),
            agent.as_deref(),
            json!({ "reason": reason }),
        );
        if agent.is_none()
            || self
                .live
                .get(&contact)
                .is_some_and(|l| l.connected_ms.is_none())
        {
            self.live.remove(&contact);
        }
    }

    fn progress(&mut self, contact: i64) {
        if let Some(l) = self.live.get(&contact) {
            self.effects.push(Effect::Progress {
                contact,
                path: l.path.clone(),
                lines: l.lines.clone(),
            });
        }
    }

    // ----- agents -----

    fn agent_id(&self, login: &str) -> Result<AgentId, Refused> {
        self.agents
            .get(login)
            .filter(|_| self.agent_cfg.contains_key(login))
            .map(AgentId)
            .ok_or_else(|| Refused::NotFound(format!("agent `{login}`")))
    }

    /// Sets an agent's state: `available`, `away` (with a reason code) or `offline`.
    pub fn set_state(
        &mut self,
        login: &str,
        state: &str,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let agent = self.agent_id(login)?;
        let current = self
            .engine
            .agent_state(agent)
            .cloned()
            .unwrap_or(AgentState::Offline);
        let input = match (state, &current) {
            ("available", AgentState::Offline) => Input::Login { agent },
            ("available", _) => Input::SetAvailable { agent },
            ("away", AgentState::Offline) => {
                self.engine
                    .handle_input(stamp(now_ms), Input::Login { agent })
                    .map_err(|e| Refused::Conflict(e.to_string()))?;
                Input::SetAway {
                    agent,
                    reason: ReasonCode::new(reason.unwrap_or("break")),
                }
            }
            ("away", _) => Input::SetAway {
                agent,
                reason: ReasonCode::new(reason.unwrap_or("break")),
            },
            ("offline", _) => Input::Logout { agent },
            (other, _) => {
                return Err(Refused::Invalid(format!(
                    "unknown state `{other}` (available, away, offline)"
                )));
            }
        };
        self.route(input)
    }

    /// Feeds the routing engine one input at the current time and applies its events.
    fn route(&mut self, input: Input) -> Result<(), Refused> {
        let result = self
            .engine
            .handle_input(stamp(self.now_ms), input)
            .map_err(|e| Refused::Conflict(e.to_string()));
        self.pump();
        result
    }

    /// The agent accepts the offer of `contact`.
    pub fn accept(&mut self, login: &str, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.answer_offer(login, contact, now_ms, true)
    }

    /// `login`'s phone answered the call of `contact`: it accepts the offer, or, when
    /// the agent accepted it already (on the desktop), it now carries their conversation.
    pub fn phone_answered(
        &mut self,
        login: &str,
        contact: i64,
        now_ms: i64,
    ) -> Result<(), Refused> {
        if self.talking(login, contact).is_ok() {
            return Ok(());
        }
        self.accept(login, contact, now_ms)
    }

    /// The agent declines the offer of `contact`.
    pub fn reject(&mut self, login: &str, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.answer_offer(login, contact, now_ms, false)
    }

    fn answer_offer(
        &mut self,
        login: &str,
        contact: i64,
        now_ms: i64,
        accept: bool,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let offer = self
            .live
            .get(&contact)
            .and_then(|l| l.offers.iter().find(|(_, a)| a == login))
            .map(|(o, _)| *o)
            .ok_or_else(|| {
                Refused::Conflict(format!("no offer of contact {contact} to {login}"))
            })?;
        let input = if accept {
            Input::Accept { offer }
        } else {
            Input::Reject { offer }
        };
        self.route(input)
    }

    /// The customer did not answer the agent-first callback of `contact`: it ends as
    /// `no_answer`, and its agent goes to after-call work.
    pub fn unreachable(&mut self, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        if live.ended_ms.is_some() {
            return Ok(());
        }
        let connected = live.connected_ms.is_some();
        // Ended first, so the engine's disconnection does not count it as handled.
        self.finish(contact, "no_answer");
        if connected {
            let _ = self.route(Input::End {
                contact: self.engine_id(contact),
            });
        }
        Ok(())
    }

    /// The agent ends a contact they are handling; after-call work follows.
    pub fn end(&mut self, login: &str, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.live_mut(contact)?;
        if live.agent.as_deref() != Some(login) || live.connected_ms.is_none() {
            return Err(Refused::Conflict(format!(
                "{login} is not handling contact {contact}"
            )));
        }
        if live.ended_ms.is_some() {
            return Ok(());
        }
        if let Some(s) = live.session.as_mut() {
            s.hangup(clock(now_ms));
        }
        let r = self.route(Input::End {
            contact: self.engine_id(contact),
        });
        self.finish(contact, "handled");
        r
    }

    /// `agent` transfers the contact they are talking with to `to` — a queue, or an agent
    /// (who gets it first, through one of their queues, for two minutes). A blind
    /// transfer: the agent is free at once (no after-call work), the contact keeps its
    /// record and history, and waits in the new queue with music.
    pub fn transfer(
        &mut self,
        agent: &str,
        contact: i64,
        to: &str,
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let live = self.talking(agent, contact)?;
        let channel = live.channel;
        let (queue, preferred) = if self.queue_cfg.contains_key(to) {
            (to.to_string(), None)
        } else if let Some(target) = self.agent_cfg.get(to) {
            let queue = target
                .queues
                .iter()
                .min_by_key(|(_, tier)| **tier)
                .map(|(q, _)| q.clone())
                .ok_or_else(|| Refused::Conflict(format!("agent `{to}` serves no queue")))?;
            (queue, self.agents.get(to).map(AgentId))
        } else if dialable(to) {
            return self.transfer_out(agent, contact, to);
        } else {
            return Err(Refused::NotFound(format!("queue, agent or number `{to}`")));
        };
        let qid = self
            .queues
            .get(&queue)
            .ok_or_else(|| Refused::NotFound(format!("queue `{queue}`")))?;
        let from = self.agent_id(agent)?;
        let old = self.engine_id(contact);
        let Some(live) = self.live.get_mut(&contact) else {
            return Ok(());
        };
        // A new generation first: the old one's disconnection ends nothing.
        live.generation += 1;
        live.agent = None;
        live.connected_ms = None;
        live.offers.clear();
        live.queue = Some(queue.clone());
        let mut spec = ContactSpec::new(channel, QueueId(qid));
        if let Some(a) = preferred {
            spec.preferred_agents = vec![a];
            spec.preferred_for = Duration::from_secs(120);
        }
        self.kpis.queued(&queue, contact, now_ms);
        self.effects.push(Effect::Transferred {
            contact,
            queue: queue.clone(),
        });
        self.call(
            contact,
            CallCommand::Release {
                agent: agent.to_string(),
            },
        );
        self.call(contact, CallCommand::Music { file: None });
        self.notice(
            "contact.transferred",
            Some(contact),
            Some(agent),
            json!({ "to": to, "queue": queue }),
        );
        // The agent's part ends; they are free at once.
        self.route(Input::End { contact: old })?;
        let _ = self.engine.handle_input(
            stamp(now_ms),
            Input::CompleteWrapUp {
                agent: from,
                contact: old,
            },
        );
        self.refresh_agent(from);
        let enqueue = Input::Enqueue {
            contact: self.engine_id(contact),
            spec,
        };
        self.route(enqueue)
    }

    /// `agent` transfers the call they are talking with out of the contact center, to
    /// `number` through the trunk. The contact ends `transferred` (to the number) and the
    /// agent is free at once; the call goes on between the caller and the number.
    fn transfer_out(&mut self, agent: &str, contact: i64, number: &str) -> Result<(), Refused> {
        if !self.outbound {
            return Err(Refused::Conflict(format!(
                "no trunk to dial `{number}` (set [voice] trunk)"
            )));
        }
        let from = self.agent_id(agent)?;
        let old = self.engine_id(contact);
        let live = self.live_mut(contact)?;
        if !live.call {
            return Err(Refused::Conflict(
                "only a phone call can be transferred to a number".into(),
            ));
        }
        // A new generation: the agent's disconnection below ends nothing.
        live.generation += 1;
        live.forwarded = true;
        self.effects.push(Effect::Forwarded {
            contact,
            number: number.to_string(),
        });
        self.call(
            contact,
            CallCommand::Release {
                agent: agent.to_string(),
            },
        );
        self.call(
            contact,
            CallCommand::Forward {
                number: number.to_string(),
            },
        );
        self.notice(
            "contact.transferred",
            Some(contact),
            Some(agent),
            json!({ "to": number, "queue": Value::Null }),
        );
        self.finish(contact, "transferred");
        self.live.remove(&contact);
        self.route(Input::End { contact: old })?;
        let _ = self.engine.handle_input(
            stamp(self.now_ms),
            Input::CompleteWrapUp {
                agent: from,
                contact: old,
            },
        );
        self.refresh_agent(from);
        self.pump();
        Ok(())
    }

    /// The agent's wrap-up of `contact` was recorded: their after-call work ends.
    pub fn wrapped_up(&mut self, login: &str, contact: i64, now_ms: i64) -> Result<(), Refused> {
        self.now_ms = now_ms;
        let agent = self.agent_id(login)?;
        if let Some(l) = self.live.remove(&contact) {
            if let (Some(q), Some(start)) = (l.queue.as_deref(), l.connected_ms) {
                let ms = u64::try_from(now_ms - start).unwrap_or(0);
                self.kpis
                    .handled(q, login, Duration::from_millis(ms), now_ms);
            }
            if self.engine.agent_state(agent) == Some(&AgentState::WrapUp) {
                let _ = self.engine.handle_input(
                    stamp(now_ms),
                    Input::CompleteWrapUp {
                        agent,
                        contact: self.engine_id(contact),
                    },
                );
            }
        }
        self.notice(
            "contact.wrapped_up",
            Some(contact),
            Some(login),
            Value::Null,
        );
        self.pump();
        Ok(())
    }

    // ----- time -----

    /// When [`Center::tick`] should next run.
    pub fn next_deadline(&self) -> Option<i64> {
        let engine = self
            .engine
            .poll_timeout()
            .map(|t| i64::try_from(t.0 / 1000).unwrap_or(i64::MAX));
        let flows = self.ticks.peek().map(|Reverse((at, _))| *at);
        let retries = self.retries.peek().map(|Reverse((at, _))| *at);
        engine.into_iter().chain(flows).chain(retries).min()
    }

    /// Pending callback `id` is tried again at `at_ms` (its customer did not answer).
    pub fn retry_callback(&mut self, id: i64, at_ms: i64) {
        self.retries.push(Reverse((at_ms, id)));
    }

    /// The settings of queue `name`, if it exists.
    pub fn queue_config(&self, name: &str) -> Option<&QueueConfig> {
        self.queue_cfg.get(name)
    }

    /// Time passed: ring timeouts, escalations, wrap-up ends, queue announcements.
    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        self.engine.handle_timeout(stamp(now_ms));
        while let Some(&Reverse((at, contact))) = self.ticks.peek() {
            if at > now_ms {
                break;
            }
            self.ticks.pop();
            if let Some(s) = self.live.get_mut(&contact).and_then(|l| l.session.as_mut()) {
                if s.poll_timeout()
                    .is_some_and(|t| t.timestamp_millis() <= now_ms)
                {
                    s.tick(clock(now_ms));
                    self.drain(contact);
                    self.progress(contact);
                }
            }
        }
        while let Some(&Reverse((at, id))) = self.retries.peek() {
            if at > now_ms {
                break;
            }
            self.retries.pop();
            self.effects.push(Effect::RouteCallback { id });
        }
        self.pump();
    }

    /// Applies the routing engine's events.
    fn pump(&mut self) {
        while let Some(ev) = self.engine.poll_event() {
            let now = self.now_ms;
            match ev.kind {
                EventKind::AgentState { agent, to, .. } => {
                    let login = self.agents.name(agent.0).to_string();
                    let state = state_name(&to);
                    self.kpis.agent_state(&login, &state, now);
                    self.notice("agent.state", None, Some(&login), json!({ "state": state }));
                }
                EventKind::Queued {
                    contact,
                    position,
                    ewt,
                    ..
                } => {
                    let (id, generation) = contact_of(contact);
                    // Events of a generation transferred away concern nobody now.
                    if !self.current(id, generation) {
                        continue;
                    }
                    if let Some(s) = self.live.get_mut(&id).and_then(|l| l.session.as_mut()) {
                        s.queue_update(clock(now), position, ewt);
                        self.drain(id);
                    }
                }
                EventKind::Offered {
                    offer,
                    contact,
                    agent,
                    expires_at,
                    ..
                } => {
                    let (id, generation) = contact_of(contact);
                    // Events of a generation transferred away concern nobody now.
                    if !self.current(id, generation) {
                        continue;
                    }
                    let login = self.agents.name(agent.0).to_string();
                    let outbound = self.outbound;
                    if let Some(l) = self.live.get_mut(&id) {
                        l.offers.push((offer, login.clone()));
                        // A callback's call starts with its first offer: the agent first.
                        if outbound && l.channel == Channel::Callback && !l.dialed {
                            l.dialed = true;
                            l.call = true;
                            let number = l.address.clone();
                            self.effects.push(Effect::Dial {
                                contact: id,
                                number,
                            });
                        }
                    }
                    let record = self
                        .queue_of(id)
                        .and_then(|q| self.queue_cfg.get(&q))
                        .is_none_or(|q| q.record);
                    self.call(
                        id,
                        CallCommand::Ring {
                            agent: login.clone(),
                            record,
                        },
                    );
                    self.notice(
                        "contact.offered",
                        Some(id),
                        Some(&login),
                        json!({ "expires_ms": expires_at.0 / 1000 }),
                    );
                }
                EventKind::OfferEnded {
                    offer,
                    contact,
                    agent,
                    reason,
                } => {
                    let (id, generation) = contact_of(contact);
                    // Events of a generation transferred away concern nobody now.
                    if !self.current(id, generation) {
                        continue;
                    }
                    if let Some(l) = self.live.get_mut(&id) {
                        l.offers.retain(|(o, _)| *o != offer);
                    }
                    let login = self.agents.name(agent.0).to_string();
                    self.call(
                        id,
                        CallCommand::Release {
                            agent: login.clone(),
                        },
                    );
                    self.notice(
                        "contact.offer_ended",
                        Some(id),
                        Some(&login),
                        json!({ "reason": reason }),
                    );
                }
                EventKind::Connected { contact, agent, .. } => {
                    let (id, generation) = contact_of(contact);
                    // Events of a generation transferred away concern nobody now.
                    if !self.current(id, generation) {
                        continue;
                    }
                    let login = self.agents.name(agent.0).to_string();
                    let Some(l) = self.live.get_mut(&id) else {
                        continue;
                    };
                    l.agent = Some(login.clone());
                    l.connected_ms = Some(now);
                    l.offers.clear();
                    if let Some(s) = l.session.as_mut() {
                        s.connected(clock(now));
                    }
                    if let Some(q) = l.queue.clone() {
                        self.kpis.dequeued(&q, id, Some(true), now);
                    }
                    self.drain(id);
                    self.effects.push(Effect::Connected {
                        contact: id,
                        agent: login.clone(),
                    });
                    self.notice("contact.connected", Some(id), Some(&login), Value::Null);
                    self.refresh_agent(agent);
                }
                EventKind::Disconnected { contact, agent } => {
                    let (id, generation) = contact_of(contact);
                    // The agent who transferred the contact away is free again.
                    if !self.current(id, generation) {
                        self.refresh_agent(agent);
                        continue;
                    }
                    self.finish(id, "handled");
                    // Timed wrap-up: the handle time is known now, and the engine ends the
                    // after-call work by itself; the agent's wrap-up code may still follow.
                    let timed = self
                        .queue_of(id)
                        .and_then(|q| Some((self.queue_cfg.get(&q)?.wrap_up_secs?, q)));
                    if let Some((secs, queue)) = timed
                        && let Some(l) = self.live.remove(&id)
                        && let (Some(start), Some(end)) = (l.connected_ms, l.ended_ms)
                    {
                        let ms = u64::try_from(end - start).unwrap_or(0) + secs * 1000;
                        let login = self.agents.name(agent.0).to_string();
                        self.kpis
                            .handled(&queue, &login, Duration::from_millis(ms), now);
                    }
                    self.refresh_agent(agent);
                }
                EventKind::ContactLeft {
                    contact, outcome, ..
                } => {
                    let (id, generation) = contact_of(contact);
                    // Events of a generation transferred away concern nobody now.
                    if !self.current(id, generation) {
                        continue;
                    }
                    if outcome == Outcome::Expired {
                        self.finish(id, "expired");
                    }
                }
                EventKind::Escalated { .. } | EventKind::BecameCallback { .. } => {}
            }
        }
    }

    /// The queue contact `contact` is (or was last) in, while it is in progress.
    pub fn queue_of(&self, contact: i64) -> Option<String> {
        self.live.get(&contact).and_then(|l| l.queue.clone())
    }

    fn refresh_agent(&mut self, agent: AgentId) {
        let login = self.agents.name(agent.0).to_string();
        let held: Vec<i64> = self
            .live
            .iter()
            .filter(|(_, l)| l.agent.as_deref() == Some(&login) && l.ended_ms.is_none())
            .map(|(id, _)| *id)
            .collect();
        self.kpis.agent_contacts(&login, held);
    }
}

/// The stored name of a channel.
pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Voice => "voice",
        Channel::Callback => "callback",
        Channel::Chat => "chat",
        Channel::Email => "email",
        Channel::Sms => "sms",
    }
}

fn exit_name(e: &Exit) -> String {
    match e {
        Exit::Queued => "queued".into(),
        Exit::CallbackKeptPlace => "callback".into(),
        Exit::Transferred => "transferred".into(),
        Exit::Voicemail => "voicemail".into(),
        Exit::HungUp(r) => format!("hung up ({r})"),
        Exit::CallerLeft => "caller left".into(),
        Exit::Failed(why) => format!("failed ({why})"),
    }
}
