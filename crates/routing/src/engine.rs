//! The routing engine: the state machine that matches waiting contacts and free agents.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::num::NonZeroU64;
use std::ops::Bound;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rustc_hash::FxHashMap;

use crate::error::RoutingError;
use crate::event::{AgentState, Event, EventKind, Input, OfferEnd, Outcome};
use crate::index::{
    ALL, ClassKey, Classes, Filing, Line, Need, Rank, ReadyEntry, ReadyKey, ReadyList, ReadySet,
    Tickets, WaitKey, Waiter, simple_key,
};
use crate::model::{
    AgentId, AgentSpec, Capacity, Channel, ContactId, ContactSpec, Escalation, LanguageId,
    Membership, OfferId, QueueId, QueueSpec, ReasonCode, SkillId, SkillRequirement, Strategy,
    Timestamp, WrapUp,
};
use crate::small::{Blank, Small};
use crate::table::Table;

/// The best waiting contact found so far by a free agent's search, with its score: a
/// free agent ranks waiting contacts by priority, then weighted wait, then lower id.
struct Best {
    prio: i32,
    /// Time waited multiplied by the queue's weight.
    wait: u128,
    waiter: Waiter,
}

impl Best {
    /// Whether a contact with this priority, weighted wait and id ranks above this one.
    fn beaten_by(&self, prio: i32, wait: u128, contact: ContactId) -> bool {
        prio > self.prio
            || (prio == self.prio
                && (wait > self.wait || (wait == self.wait && contact < self.waiter.key.2)))
    }
}

/// The best waiting contact found so far by a free agent's search when every candidate
/// class has the same weight (see [`Engine::consider_uniform`]): the least wait key, kept
/// as one number for its priority and entry time (see [`Leader::rank`]) and the id.
struct Leader {
    rank: u128,
    id: ContactId,
    waiter: Option<Waiter>,
}

impl Leader {
    /// Nobody yet: a rank above every contact's.
    const NONE: Leader = Leader {
        rank: 1 << 100,
        id: ContactId(0),
        waiter: None,
    };

    /// A wait key's priority and entry time as one number below 2^96, in the same order:
    /// the priority's bits (flipped so that a higher one is less) above the time's.
    #[inline(always)]
    fn rank(key: &WaitKey) -> u128 {
        let priority = !((key.0.0 as u32) ^ 0x8000_0000);
        u128::from(priority) << 64 | u128::from(key.1.0)
    }

    /// Whether `key` is less than the leader's: a lesser rank, or the same rank and a
    /// lower id. Written as one comparison, `rank(key) < rank + (key's id < id)`, which
    /// is exact because ranks are whole numbers below 2^96 (so the sum cannot overflow).
    #[inline(always)]
    fn beaten_by(&self, key: &WaitKey) -> bool {
        Leader::rank(key) < self.rank + u128::from(key.2 < self.id)
    }

    #[inline(always)]
    fn set(&mut self, waiter: Waiter) {
        self.rank = Leader::rank(&waiter.key);
        self.id = waiter.key.2;
        self.waiter = Some(waiter);
    }
}

/// The live classes a free agent may take contacts from: those of its queues whose tier
/// limit, skills and language it meets, each with its queue's weight.
///
/// Worked out by walking each queue's buckets alongside the agent's skills and checking
/// each class's requirements, and kept for as long as no class is created or dropped
/// ([`Classes::epoch`]) and neither the agent's nor its queues' configuration changes:
/// a free agent's search then reads only the briefs of these classes, with no chain of
/// lookups (queue, buckets, bucket) before each. They are kept in the order the search
/// used to read the classes in (queue by queue; all of a queue's classes when it has
/// few, else bucket by bucket): in a queue of weight 0 every wait scores 0, and which of
/// two contacts the search keeps can then depend on the order it meets them in.
#[derive(Debug, Default)]
#[repr(C)]
struct Candidates {
    /// The [`Classes::epoch`] they were worked out in; `None`: not yet, or stale.
    epoch: Option<NonZeroU64>,
    /// Inline, so that they come with the agent's record (an agent serving a few
    /// queues qualifies for a dozen classes or so). Its length comes right after the
    /// epoch, so that a free agent with none to look at reads no further (see
    /// [`Agent`]).
    list: Small<Candidate, 12>,
    /// Whether every one has the same weight, above 0: the search then ranks the heads
    /// by their wait keys alone (see [`Engine::best_contact_for`]).
    uniform: bool,
}

/// One of an agent's [`Candidates`]: a class, and the weight of its queue.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    class: u32,
    weight: u32,
}

impl Blank for Candidate {
    const BLANK: Self = Candidate {
        class: 0,
        weight: 0,
    };
}

/// Engine-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Seed for the random and weighted-random strategies.
    pub seed: u64,
}

/// A waiting contact's place in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePosition {
    /// Contacts ahead of it in its queue (0 = next).
    pub ahead: u32,
    /// Estimated wait from now, `None` when no agent of the queue is staffed.
    pub ewt: Option<Duration>,
}

/// An agent's occupancy and counters, for wallboards and audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoad {
    /// Current state.
    pub state: AgentState,
    /// Capacity units in use per channel (offers, connected and wrap-up together);
    /// voice and callback share one slot, so both show the same count.
    pub per_channel: [(Channel, u8); 5],
    /// Offers ringing.
    pub offers: usize,
    /// Contacts connected.
    pub connected: usize,
    /// Contacts in after-call work.
    pub wrapping_up: usize,
    /// Contacts handled since logging in.
    pub handled: u64,
    /// Talk time since logging in.
    pub talk_time: Duration,
    /// When the agent last finished a contact or became available.
    pub idle_since: Timestamp,
}

/// Sizes of the engine's tables, for leak checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSizes {
    /// Contacts held (waiting, ringing, connected or in after-call work).
    pub contacts: usize,
    /// Open offers.
    pub offers: usize,
    /// Pending timers, including ones that will turn out stale (ring timers of answered
    /// offers are swept out now and then, so this may drop without a timeout).
    pub timers: usize,
    /// Live requirement classes.
    pub classes: usize,
    /// Contacts waiting for a preferred agent.
    pub preferred: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Presence {
    Offline,
    Available,
    Away(ReasonCode),
}

/// An agent's [`AgentSpec`] as the engine keeps it: its lists inline (see [`Small`]), so
/// that a decision about an agent not touched for a while reads its record and little else.
#[derive(Debug)]
struct Profile {
    skills: Small<(SkillId, u8), 8>,
    languages: Small<LanguageId, 2>,
    queues: Small<Membership, 4>,
    auto_away_after_missed: Option<u32>,
}

impl From<AgentSpec> for Profile {
    fn from(spec: AgentSpec) -> Profile {
        Profile {
            skills: spec.skills.into(),
            languages: spec.languages.into(),
            queues: spec.queues.into(),
            auto_away_after_missed: spec.auto_away_after_missed,
        }
    }
}

/// An agent's record.
///
/// Records of agents not touched for a while are out of the cache, and a routing cycle
/// reads two of them (the agent a search picks, and one that frees up). So what a cycle
/// needs is kept inside the record, where it comes in with one trip to memory, not
/// behind pointers that each cost another (see `entries`); and the fields are laid out
/// in this order (`repr(C)`), those a cycle reads or writes first, the lists read only
/// when the agent's configuration or the classes change last, so that a cycle touches
/// few of the record's lines.
#[derive(Debug)]
#[repr(C)]
struct Agent {
    presence: Presence,
    state: AgentState,
    offers: Small<OfferId, 2>,
    active: Small<ContactId, 2>,
    wrapping: Small<ContactId, 2>,
    idle_since: Timestamp,
    handled: u64,
    talk_us: u64,
    /// The idle time the keys of `entries` end with, where they end with one (see
    /// [`ReadyEntry`]): its `idle_since` when it was filed.
    filed_idle: u64,
    /// The [`Engine::layout`] `entries` were worked out in by the reindexing of a freed
    /// agent whose queues all key ready agents by idle time last (longest-idle and
    /// best-skill, see [`fifo_keys`]); `None` otherwise. Entries kept with the
    /// engine's current layout are filed under again when the agent frees up.
    entries_layout: Option<NonZeroU64>,
    /// Capacity units in use per capacity slot (see [`Channel::slot`]); changed only by
    /// [`Agent::take_unit`] and [`Agent::return_unit`], which keep `room` with it.
    in_use: [u8; 4],
    missed_in_row: u32,
    /// The configured capacity (kept here, not in `spec`, to sit with `in_use`).
    capacity: Capacity,
    /// One bit per capacity slot: whether one more contact using it fits next to
    /// `in_use` ([`Capacity::room`]), worked out whenever `in_use` or the capacity
    /// changes, so that the many checks of a search cost one bit test each.
    room: u8,
    /// Whether any of `entries` is in a tree list (taken out one by one; FIFO entries
    /// die with the agent's ticket, see [`Tickets`]).
    in_tree: bool,
    /// Whether the agent is filed under `entries` now (else they are kept from its
    /// last filing, see `entries_layout`). Exactly when it holds a live ticket (see
    /// [`Tickets`]); kept here too so that reindexing tells from the record alone.
    filed: bool,
    /// Where the agent is filed in the ready sets while `filed`; otherwise where it
    /// was last filed, kept to be filed under again (with its new idle time) when it
    /// frees up in the same layout (see [`Engine::reindex`]). Inline, so that reading
    /// them when the agent frees up is not a second trip to memory after its record.
    entries: Small<ReadyEntry, 10>,
    /// Its epoch and the list's length are read each time it frees up; the rest only
    /// while contacts wait.
    candidates: Candidates,
    staffed: bool,
    spec: Profile,
}

impl Agent {
    /// Logged in, available, and some contact fits (one of the capacity slots has room).
    fn ready(&self) -> bool {
        self.presence == Presence::Available && self.room != 0
    }

    /// Whether one more contact on `channel` fits ([`Capacity::fits`]).
    #[inline(always)]
    fn fits(&self, channel: Channel) -> bool {
        self.room >> channel.slot() & 1 != 0
    }

    /// One more unit of capacity slot `slot` in use.
    fn take_unit(&mut self, slot: usize) {
        self.in_use[slot] += 1;
        self.room = self.capacity.room(&self.in_use);
    }

    /// One unit of capacity slot `slot` returned.
    fn return_unit(&mut self, slot: usize) {
        self.in_use[slot] = self.in_use[slot].saturating_sub(1);
        self.room = self.capacity.room(&self.in_use);
    }

    /// The state its presence, contacts and offers make, when it is not away (`None`:
    /// away, a state with a reason code).
    #[inline(always)]
    fn derived_plain(&self) -> Option<Plain> {
        match &self.presence {
            Presence::Offline => Some(Plain::Offline),
            _ if !self.active.is_empty() => Some(Plain::Busy),
            _ if !self.offers.is_empty() => Some(Plain::Reserved),
            _ if !self.wrapping.is_empty() => Some(Plain::WrapUp),
            Presence::Available => Some(Plain::Available),
            Presence::Away(_) => None,
        }
    }

    fn proficiency(&self, skill: SkillId) -> Option<u8> {
        self.spec.skills.iter().find(|s| s.0 == skill).map(|s| s.1)
    }

    fn tier_in(&self, queue: QueueId) -> Option<u8> {
        self.spec
            .queues
            .iter()
            .find(|m| m.queue == queue)
            .map(|m| m.tier)
    }

    /// Whether the agent meets `key`'s skills, language and capacity (not presence).
    fn qualifies(&self, key: &Need) -> bool {
        self.fits(key.channel) && self.meets(key)
    }

    /// Whether the agent meets `key`'s skills and language (not capacity or presence).
    fn meets(&self, key: &Need) -> bool {
        key.language
            .is_none_or(|l| self.spec.languages.contains(&l))
            && key
                .skills
                .iter()
                .all(|r| self.proficiency(r.skill).is_some_and(|p| p >= r.min))
    }
}

/// An [`AgentState`] other than away: one with no reason code, so that telling whether
/// it changed and reporting it costs no comparison or copy of a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plain {
    Offline,
    Available,
    Reserved,
    Busy,
    WrapUp,
}

impl Plain {
    #[inline(always)]
    fn state(self) -> AgentState {
        match self {
            Plain::Offline => AgentState::Offline,
            Plain::Available => AgentState::Available,
            Plain::Reserved => AgentState::Reserved,
            Plain::Busy => AgentState::Busy,
            Plain::WrapUp => AgentState::WrapUp,
        }
    }

    /// Whether `state` is this one.
    #[inline(always)]
    fn is(self, state: &AgentState) -> bool {
        matches!(
            (self, state),
            (Plain::Offline, AgentState::Offline)
                | (Plain::Available, AgentState::Available)
                | (Plain::Reserved, AgentState::Reserved)
                | (Plain::Busy, AgentState::Busy)
                | (Plain::WrapUp, AgentState::WrapUp)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Waiting,
    Offered(Vec<OfferId>),
    Connected {
        agent: AgentId,
        since: Timestamp,
    },
    WrapUp {
        agent: AgentId,
        connected: Timestamp,
        /// When a timed wrap-up ends by itself.
        until: Option<Timestamp>,
    },
}

/// What the engine keeps of a [`ContactSpec`]: the attributes are the edge's own and never
/// read here, and the time to wait for a preferred agent becomes a deadline at entry
/// (kept on the contact), so the record of a contact is four cache lines, not five.
#[derive(Debug)]
struct Needs {
    skills: Vec<SkillRequirement>,
    preferred_agents: Vec<AgentId>,
    priority: i32,
    queue: QueueId,
    language: Option<LanguageId>,
    channel: Channel,
}

impl From<ContactSpec> for Needs {
    fn from(spec: ContactSpec) -> Needs {
        let ContactSpec {
            channel,
            queue,
            priority,
            skills,
            language,
            preferred_agents,
            preferred_for: _,
            attributes,
        } = spec;
        // Dropping even an empty map walks it (some 50 instructions a contact); an empty
        // one owns no memory, so there is nothing to free.
        if attributes.is_empty() {
            std::mem::forget(attributes);
        }
        Needs {
            skills,
            preferred_agents,
            priority,
            queue,
            language,
            channel,
        }
    }
}

#[derive(Debug)]
struct Contact {
    spec: Needs,
    enqueued_at: Timestamp,
    stage: usize,
    status: Status,
    /// Time from entering the queue to being connected, in microseconds.
    waited_us: u64,
    /// Agents who declined or missed it recently, and until when they are skipped.
    declined: Vec<(AgentId, Timestamp)>,
    /// Classes it is listed in while waiting for any eligible agent.
    placed: Small<usize, 2>,
    /// Set while it waits for one of its preferred agents only.
    preferred_until: Option<Timestamp>,
    /// Its class keys at the current stage, valid unless `keys_stale` (stale keys are kept
    /// only so that recomputing them reuses their buffers).
    keys: Vec<ClassKey>,
    keys_stale: bool,
    /// Whether a search for it reads the list of every ready member of its keys' queues
    /// (worked out with `keys`, see [`Engine::views`]): those whose ready sets build that
    /// list on first use are made to keep it before the search.
    reads_all: bool,
    /// The priority of the key it is listed under while waiting (kept, since the key's
    /// priority boost depends on queue configuration that may change while it waits); the
    /// rest of the key is its entry time and id (see [`Contact::listed_key`]).
    listed: Option<i32>,
    /// Its slot in its home queue's [`Line`] while listed.
    line_slot: u32,
}

impl Contact {
    /// The key it is listed under while waiting, if it is listed.
    fn listed_key(&self, id: ContactId) -> Option<WaitKey> {
        self.listed
            .map(|priority| (Reverse(priority), self.enqueued_at, id))
    }

    /// Whether `agent` declined or missed this contact and is still skipped for it at `now`.
    fn skips(&self, agent: AgentId, now: Timestamp) -> bool {
        self.declined.iter().any(|d| d.0 == agent && d.1 > now)
    }
}

/// Who a contact goes to: one agent (with the round-robin cursor to remember), every
/// eligible agent (ring-all), or nobody yet.
enum Pick {
    One(AgentId, Option<(QueueId, (ReadyKey, AgentId))>),
    All(Vec<AgentId>),
    Nobody,
}

/// What [`Engine::join_known_class`] did with a contact to list.
enum Joined {
    /// It joined its class.
    Yes,
    /// Nothing: it waits under one key (this one), whose class is not live.
    NoClass(Simple),
    /// Nothing: the general path decides.
    No,
}

/// The one class key of a contact whose keys are not worked out, when that key requires
/// exactly one skill (see [`Engine::simple_needs`]): the parts of the key, without its
/// skill list.
#[derive(Debug, Clone, Copy)]
struct Simple {
    queue: QueueId,
    skill: SkillRequirement,
    language: Option<LanguageId>,
    channel: Channel,
    max_tier: u8,
}

/// One escalation step, accumulated: what applies once a contact has waited `after`.
#[derive(Debug, Clone, Default)]
struct Stage {
    after: Duration,
    relax: u8,
    max_tier: u8,
    boost: i32,
    overflow: Vec<QueueId>,
    drop_language: bool,
}

#[derive(Debug)]
struct Queue {
    spec: QueueSpec,
    stages: Vec<Stage>,
    ready: ReadySet,
    /// The agents configured as its members (in no particular order), for building the
    /// ready sets' lists that are built on first use.
    members: Vec<AgentId>,
    rr_cursor: Option<(ReadyKey, AgentId)>,
    /// Every waiting contact whose home is this queue, in service order.
    order: Line,
    /// Staffed members, each counted as 1/(number of queues it serves), in thousandths.
    staffed_milli: i64,
    aht_s: f64,
    handled: u64,
}

impl Queue {
    fn new(spec: QueueSpec) -> Queue {
        let stages = stages_of(&spec);
        let strategy = spec.strategy;
        Queue {
            aht_s: spec.aht_hint.as_secs_f64(),
            spec,
            stages,
            ready: ready_set(strategy),
            members: Vec::new(),
            rr_cursor: None,
            order: Line::default(),
            staffed_milli: 0,
            handled: 0,
        }
    }

    fn stage_at(&self, waited: Duration) -> usize {
        self.stages
            .iter()
            .rposition(|s| s.after <= waited)
            .unwrap_or(0)
    }
}

fn stages_of(spec: &QueueSpec) -> Vec<Stage> {
    let mut stages = vec![Stage {
        max_tier: spec.initial_tier,
        ..Stage::default()
    }];
    for step in &spec.escalation {
        let mut next = stages[stages.len() - 1].clone();
        next.after = step.after;
        for action in &step.actions {
            match *action {
                Escalation::RelaxSkills(by) => next.relax = next.relax.saturating_add(by),
                Escalation::ExpandTier(t) => next.max_tier = next.max_tier.max(t),
                Escalation::Overflow(q) => {
                    if !next.overflow.contains(&q) {
                        next.overflow.push(q);
                    }
                }
                Escalation::RaisePriority(p) => next.boost = next.boost.saturating_add(p),
                Escalation::DropLanguage => next.drop_language = true,
            }
        }
        stages.push(next);
    }
    stages
}

#[derive(Debug, Clone, Copy)]
struct Offer {
    contact: ContactId,
    agent: AgentId,
    /// The contact's slot in the contact table, to reach it without hashing its id.
    slot: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Ring(OfferId),
    WrapUp(AgentId, ContactId),
    Escalate(ContactId),
    PreferredExpiry(ContactId),
    MaxWait(ContactId),
    Retry(ContactId),
}

/// Ring timers in the order they come due: (due, sequence, offer).
///
/// A vector read from `head` on: taking the front only moves `head`, and the vector is
/// emptied whenever it is all taken, so a line that stays short stays in the same few
/// (warm) cache lines.
#[derive(Debug, Default)]
struct RingTimers {
    line: Vec<(Timestamp, u64, OfferId)>,
    head: usize,
}

impl RingTimers {
    fn len(&self) -> usize {
        self.line.len() - self.head
    }

    fn front(&self) -> Option<&(Timestamp, u64, OfferId)> {
        self.line.get(self.head)
    }

    fn back(&self) -> Option<&(Timestamp, u64, OfferId)> {
        self.line[self.head..].last()
    }

    fn pop_front(&mut self) -> Option<(Timestamp, u64, OfferId)> {
        let first = self.line.get(self.head).copied();
        if first.is_some() {
            self.head += 1;
        }
        first
    }

    fn push_back(&mut self, ring: (Timestamp, u64, OfferId)) {
        if self.head == self.line.len() {
            self.line.clear();
            self.head = 0;
        } else if self.head >= 64 && 2 * self.head >= self.line.len() {
            self.line.drain(..self.head);
            self.head = 0;
        }
        self.line.push(ring);
    }

    fn retain(&mut self, mut keep: impl FnMut(&(Timestamp, u64, OfferId)) -> bool) {
        self.line.drain(..self.head);
        self.head = 0;
        self.line.retain(|r| keep(r));
    }
}

/// The ACD: agents, queues, waiting contacts and offers, driven by inputs and time.
///
/// # Driving contract
/// - Feed every input with [`Engine::handle_input`], passing the current time (monotonic;
///   an earlier time than the last one is treated as the last one).
/// - After every input or timeout, drain [`Engine::poll_event`] until it returns `None`,
///   then ask [`Engine::poll_timeout`] when to call [`Engine::handle_timeout`] next.
/// - The engine never reads a clock and never blocks; a spurious timeout does nothing.
///
/// ```
/// use std::time::Duration;
/// use switchboard_routing::*;
///
/// let mut engine = Engine::new(Config { seed: 1 });
/// let now = Timestamp::ZERO;
/// let (q, a) = (QueueId(1), AgentId(7));
/// engine.handle_input(now, Input::ConfigureQueue { queue: q, spec: QueueSpec::default() }).unwrap();
/// let spec = AgentSpec {
///     queues: vec![Membership { queue: q, tier: 1, order: 0, weight: 1 }],
///     ..AgentSpec::default()
/// };
/// engine.handle_input(now, Input::ConfigureAgent { agent: a, spec }).unwrap();
/// engine.handle_input(now, Input::Login { agent: a }).unwrap();
/// engine.handle_input(now, Input::Enqueue {
///     contact: ContactId(1),
///     spec: ContactSpec::new(Channel::Voice, q),
/// }).unwrap();
/// let offer = std::iter::from_fn(|| engine.poll_event())
///     .find_map(|e| match e.kind {
///         EventKind::Offered { offer, agent, .. } if agent == a => Some(offer),
///         _ => None,
///     })
///     .expect("the only agent is offered the contact");
/// engine.handle_input(now.after(Duration::from_secs(2)), Input::Accept { offer }).unwrap();
/// ```
#[derive(Debug)]
pub struct Engine {
    now: Timestamp,
    /// Only the random strategies draw from it, inside otherwise read-only searches.
    rng: RefCell<Pcg64Mcg>,
    agents: Table<AgentId, Agent>,
    queues: Table<QueueId, Queue>,
    contacts: Table<ContactId, Contact>,
    offers: FxHashMap<OfferId, Offer>,
    classes: Classes,
    /// Contacts waiting for a particular agent, per agent.
    preferred: FxHashMap<AgentId, BTreeSet<WaitKey>>,
    timers: BinaryHeap<Reverse<(Timestamp, u64, Timer)>>,
    timer_seq: u64,
    /// Ring timers due no earlier than those before them, in order (time, then sequence);
    /// the others are in `timers`. See [`Engine::schedule_ring`].
    rings: RingTimers,
    next_offer: u64,
    events: VecDeque<Event>,
    /// The current filing of each agent in the ready sets (see [`Tickets`]).
    tickets: Tickets,
    /// Reused by [`Engine::reindex`] so that re-filing an agent allocates nothing.
    scratch_entries: Vec<ReadyEntry>,
    /// Changes whenever what the entries of a ready agent are worked out from may have
    /// changed for some agent: a queue configured, an agent configured, a best-skill
    /// queue's new list for a skill. Entries kept from before a change are not filed
    /// under again (see [`Agent::entries`]).
    layout: NonZeroU64,
    /// Reused by [`Engine::list_contact`]: the live class of each of a contact's keys.
    scratch_found: Vec<Option<usize>>,
    /// Buffers of contacts gone, reused by new ones (see [`Spare`]).
    spare: Spare,
}

/// Emptied buffers kept for reuse: every contact needs a few small vectors (its open
/// offers, its class keys and their skill lists), and at hundreds of thousands of contacts a second
/// their allocations and frees are a visible share of routing time.
#[derive(Debug, Default)]
struct Spare {
    /// One offers list (a contact is offered at most once at a time but to many agents).
    offers: Vec<OfferId>,
    /// Class keys of contacts gone, kept whole: their skill lists are reused too.
    keys: Vec<Vec<ClassKey>>,
}

impl Spare {
    /// At most this many of each kind are kept, enough for bursts of contacts leaving.
    const KEEP: usize = 64;

    fn offers_with(&mut self, offer: OfferId) -> Vec<OfferId> {
        let mut list = std::mem::take(&mut self.offers);
        list.clear();
        list.push(offer);
        list
    }

    /// Keeps the buffers of a contact that is gone (its record is dropped next).
    fn recycle(&mut self, c: &mut Contact) {
        if let Status::Offered(list) = &mut c.status {
            self.offers = std::mem::take(list);
        }
        if self.keys.len() < Self::KEEP {
            self.keys.push(std::mem::take(&mut c.keys));
        }
    }
}

impl Engine {
    /// An empty engine.
    pub fn new(config: Config) -> Engine {
        Engine {
            now: Timestamp::ZERO,
            rng: RefCell::new(Pcg64Mcg::seed_from_u64(config.seed)),
            agents: Table::default(),
            queues: Table::default(),
            contacts: Table::default(),
            offers: FxHashMap::default(),
            classes: Classes::default(),
            preferred: FxHashMap::default(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            rings: RingTimers::default(),
            next_offer: 1,
            events: VecDeque::new(),
            tickets: Tickets::default(),
            scratch_entries: Vec::new(),
            layout: NonZeroU64::MIN,
            scratch_found: Vec::new(),
            spare: Spare::default(),
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let heap = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let ring = self.rings.front().map(|r| r.0);
        match (heap, ring) {
            (Some(h), Some(r)) => Some(h.min(r)),
            (h, r) => h.or(r),
        }
    }

    /// The current state of an agent.
    pub fn agent_state(&self, agent: AgentId) -> Option<&AgentState> {
        self.agents.get(&agent).map(|a| &a.state)
    }

    /// What an agent holds right now: contacts and offers per channel, and its counters.
    pub fn agent_load(&self, agent: AgentId) -> Option<AgentLoad> {
        let a = self.agents.get(&agent)?;
        let per_channel = Channel::ALL.map(|c| (c, a.in_use[c.slot()]));
        Some(AgentLoad {
            state: a.state.clone(),
            per_channel,
            offers: a.offers.len(),
            connected: a.active.len(),
            wrapping_up: a.wrapping.len(),
            handled: a.handled,
            talk_time: Duration::from_micros(a.talk_us),
            idle_since: a.idle_since,
        })
    }

    /// Number of contacts waiting in a queue (home queue only).
    pub fn waiting(&self, queue: QueueId) -> usize {
        self.queues.get(&queue).map_or(0, |q| q.order.len())
    }

    /// Sizes of the internal tables.
    pub fn table_sizes(&self) -> TableSizes {
        TableSizes {
            contacts: self.contacts.len(),
            offers: self.offers.len(),
            timers: self.timers.len() + self.rings.len(),
            classes: self.classes.len(),
            preferred: self.preferred.values().map(BTreeSet::len).sum(),
        }
    }

    /// Where a waiting contact stands in its queue, and its estimated wait from now.
    ///
    /// Costs one step per contact ahead; meant for announcements, not for every event.
    pub fn position(&self, contact: ContactId) -> Option<QueuePosition> {
        let c = self.contacts.get(&contact)?;
        if c.status != Status::Waiting {
            return None;
        }
        let q = self.queues.get(&c.spec.queue)?;
        let ahead = q.order.ahead_of(&c.listed_key(contact)?);
        Some(QueuePosition {
            ahead,
            ewt: estimate_wait(q, ahead),
        })
    }

    /// Applies one input at time `now`. A refused input changes nothing.
    pub fn handle_input(&mut self, now: Timestamp, input: Input) -> Result<(), RoutingError> {
        self.rewind_events();
        let before = self.now;
        self.now = self.now.max(now);
        let result = self.apply(input);
        if result.is_err() {
            self.now = before;
        }
        result
    }

    /// Moves an empty event queue back to the start of its buffer. A queue that once held
    /// many events (a burst of logins) would otherwise write each new event into the next
    /// slot of its whole ring buffer, one cold cache line after another.
    fn rewind_events(&mut self) {
        if self.events.is_empty() {
            self.events.clear();
        }
    }

    fn apply(&mut self, input: Input) -> Result<(), RoutingError> {
        match input {
            Input::ConfigureQueue { queue, spec } => self.configure_queue(queue, spec),
            Input::ConfigureAgent { agent, spec } => self.configure_agent(agent, spec),
            Input::RemoveAgent { agent } => self.remove_agent(agent),
            Input::Login { agent } => self.login(agent),
            Input::Logout { agent } => self.logout(agent),
            Input::SetAvailable { agent } => self.set_available(agent),
            Input::SetAway { agent, reason } => self.set_away(agent, reason),
            Input::Enqueue { contact, spec } => self.enqueue(contact, spec),
            Input::Accept { offer } => self.accept(offer),
            Input::Reject { offer } => {
                if !self.offers.contains_key(&offer) {
                    return Err(RoutingError::UnknownOffer(offer));
                }
                self.end_offer(offer, OfferEnd::Rejected);
                Ok(())
            }
            Input::End { contact } => self.end(contact),
            Input::Withdraw { contact } => self.withdraw(contact),
            Input::ConvertToCallback { contact } => self.convert_to_callback(contact),
            Input::CompleteWrapUp { agent, contact } => {
                let a = self.agent(agent)?;
                if !a.wrapping.contains(&contact) {
                    return Err(RoutingError::IllegalTransition {
                        agent,
                        from: a.state.clone(),
                        action: "complete wrap-up of a contact it is not wrapping up",
                    });
                }
                self.finish_wrap_up(agent, contact);
                Ok(())
            }
        }
    }

    /// Fires every timer due at or before `now`.
    ///
    /// Timers scheduled while handling this call wait for the next one, so a call always
    /// ends, whatever the configuration.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.rewind_events();
        self.now = self.now.max(now);
        let last = self.timer_seq;
        loop {
            // The earlier of the heap's first timer and the first ring timer in line.
            let heap = self.timers.peek().map(|Reverse((at, seq, _))| (*at, *seq));
            let ring = self.rings.front().map(|&(at, seq, _)| (at, seq));
            let from_line = ring.is_some_and(|r| heap.is_none_or(|h| r < h));
            let Some((at, seq)) = (if from_line { ring } else { heap }) else {
                break;
            };
            if at > self.now || seq > last {
                break;
            }
            let timer = if from_line {
                self.rings.pop_front().map(|r| Timer::Ring(r.2))
            } else {
                self.timers.pop().map(|Reverse(t)| t.2)
            };
            let Some(timer) = timer else {
                break;
            };
            self.fire(timer, at);
        }
    }

    // ----- configuration -----

    fn configure_queue(&mut self, id: QueueId, spec: QueueSpec) -> Result<(), RoutingError> {
        self.layout = self.layout.saturating_add(1);
        if spec.ring_timeout.is_zero() {
            return Err(RoutingError::InvalidSpec(format!(
                "queue {id}: the ring timeout must be positive"
            )));
        }
        if spec.escalation.windows(2).any(|w| w[0].after > w[1].after) {
            return Err(RoutingError::InvalidSpec(format!(
                "queue {id}: escalation steps must be in increasing time order"
            )));
        }
        for step in &spec.escalation {
            for action in &step.actions {
                if let Escalation::Overflow(q) = action
                    && *q != id
                    && !self.queues.contains_key(q)
                {
                    return Err(RoutingError::UnknownQueue(*q));
                }
            }
        }
        match self.queues.get_mut(&id) {
            Some(q) => {
                q.stages = stages_of(&spec);
                // The strategy may change the kind of list its ready agents need, so the
                // set is rebuilt from scratch: entries of this queue are forgotten here and
                // filed again by the reindexing below.
                q.ready = ready_set(spec.strategy);
                q.spec = spec;
                q.rr_cursor = None;
                let members: Vec<AgentId> = self
                    .agents
                    .iter()
                    .filter(|(_, a)| a.spec.queues.iter().any(|m| m.queue == id))
                    .map(|(&aid, _)| aid)
                    .collect();
                for aid in members {
                    if let Some(a) = self.agents.get_mut(&aid) {
                        if a.filed {
                            a.entries.retain(|e| e.queue != id);
                        }
                        // The queue's weight may have changed.
                        a.candidates.epoch = None;
                    }
                    self.reindex(aid);
                }
                self.reroute_queue(id);
            }
            None => {
                self.queues.insert(id, Queue::new(spec));
            }
        }
        Ok(())
    }

    /// Re-lists every contact waiting in a queue whose configuration changed: its stage,
    /// priority boost, class and timers follow the new configuration, in line order.
    fn reroute_queue(&mut self, id: QueueId) {
        let Some(q) = self.queues.get(&id) else {
            return;
        };
        let waiting = q.order.contacts();
        let max_wait = q.spec.max_wait;
        let now = self.now;
        for contact in waiting {
            self.unlist(contact);
            let Some(c) = self.contacts.get_mut(&contact) else {
                continue;
            };
            let Some(q) = self.queues.get(&id) else {
                return;
            };
            c.stage = q.stage_at(now.since(c.enqueued_at));
            c.keys_stale = true;
            let enqueued_at = c.enqueued_at;
            if let Some(max) = max_wait {
                self.schedule(enqueued_at.after(max), Timer::MaxWait(contact));
            }
            self.route_contact(contact);
        }
    }

    // Configuration is rare: kept out of `apply`, where inlined it made the routing inputs
    // dearer (it is `apply` that inlines the handlers of the frequent ones).
    #[inline(never)]
    fn configure_agent(&mut self, id: AgentId, mut spec: AgentSpec) -> Result<(), RoutingError> {
        if let Some(m) = spec
            .queues
            .iter()
            .find(|m| !self.queues.contains_key(&m.queue))
        {
            return Err(RoutingError::UnknownQueue(m.queue));
        }
        if spec.queues.iter().any(|m| m.tier == 0) {
            return Err(RoutingError::InvalidSpec(format!(
                "agent {id}: tiers start at 1"
            )));
        }
        spec.skills.sort_unstable();
        spec.skills.dedup_by_key(|s| s.0);
        spec.queues.sort_by_key(|m| m.queue);
        spec.queues.dedup_by_key(|m| m.queue);
        self.layout = self.layout.saturating_add(1);
        match self.agents.get(&id) {
            Some(a) => {
                let old: Vec<QueueId> = a.spec.queues.iter().map(|m| m.queue).collect();
                for &q in &old {
                    if !spec.queues.iter().any(|m| m.queue == q)
                        && let Some(q) = self.queues.get_mut(&q)
                    {
                        q.members.retain(|&m| m != id);
                    }
                }
                for m in &spec.queues {
                    if !old.contains(&m.queue)
                        && let Some(q) = self.queues.get_mut(&m.queue)
                    {
                        q.members.push(id);
                    }
                }
                self.set_staffed(id, false);
                if let Some(a) = self.agents.get_mut(&id) {
                    a.capacity = spec.capacity;
                    a.spec = spec.into();
                    a.room = a.capacity.room(&a.in_use);
                    a.candidates.epoch = None;
                }
                let staffed = self
                    .agents
                    .get(&id)
                    .is_some_and(|a| a.presence == Presence::Available);
                self.set_staffed(id, staffed);
                self.agent_changed(id);
                self.route_agent(id);
            }
            None => {
                for m in &spec.queues {
                    if let Some(q) = self.queues.get_mut(&m.queue) {
                        q.members.push(id);
                    }
                }
                let empty_room = spec.capacity.room(&[0; 4]);
                self.agents.insert(
                    id,
                    Agent {
                        capacity: spec.capacity,
                        spec: spec.into(),
                        presence: Presence::Offline,
                        state: AgentState::Offline,
                        in_use: [0; 4],
                        room: empty_room,
                        offers: Small::default(),
                        active: Small::default(),
                        wrapping: Small::default(),
                        idle_since: self.now,
                        handled: 0,
                        talk_us: 0,
                        missed_in_row: 0,
                        filed_idle: 0,
                        entries_layout: None,
                        entries: Small::default(),
                        filed: false,
                        in_tree: false,
                        staffed: false,
                        candidates: Candidates::default(),
                    },
                );
            }
        }
        Ok(())
    }

    // Rare, as `configure_agent` is.
    #[inline(never)]
    fn remove_agent(&mut self, id: AgentId) -> Result<(), RoutingError> {
        let a = self.agent(id)?;
        if a.presence != Presence::Offline {
            return Err(RoutingError::IllegalTransition {
                agent: id,
                from: a.state.clone(),
                action: "be removed",
            });
        }
        if let Some(a) = self.agents.get(&id) {
            for m in &a.spec.queues {
                if let Some(q) = self.queues.get_mut(&m.queue) {
                    q.members.retain(|&m| m != id);
                }
            }
        }
        if let Some(slot) = self.agents.slot(&id) {
            self.tickets.retire(slot);
        }
        self.agents.remove(&id);
        Ok(())
    }

    // ----- agent presence -----

    fn agent(&self, id: AgentId) -> Result<&Agent, RoutingError> {
        self.agents.get(&id).ok_or(RoutingError::UnknownAgent(id))
    }

    fn login(&mut self, id: AgentId) -> Result<(), RoutingError> {
        let a = self.agent(id)?;
        if a.presence != Presence::Offline {
            return Err(RoutingError::IllegalTransition {
                agent: id,
                from: a.state.clone(),
                action: "log in",
            });
        }
        let now = self.now;
        if let Some(a) = self.agents.get_mut(&id) {
            a.presence = Presence::Available;
            a.idle_since = now;
            a.handled = 0;
            a.talk_us = 0;
            a.missed_in_row = 0;
        }
        self.set_staffed(id, true);
        self.agent_changed(id);
        self.route_agent(id);
        Ok(())
    }

    fn logout(&mut self, id: AgentId) -> Result<(), RoutingError> {
        let a = self.agent(id)?;
        if a.presence == Presence::Offline
            || !a.offers.is_empty()
            || !a.active.is_empty()
            || !a.wrapping.is_empty()
        {
            return Err(RoutingError::IllegalTransition {
                agent: id,
                from: a.state.clone(),
                action: "log out",
            });
        }
        self.set_staffed(id, false);
        if let Some(a) = self.agents.get_mut(&id) {
            a.presence = Presence::Offline;
        }
        self.agent_changed(id);
        self.release_preferences_of(id);
        Ok(())
    }

    fn set_available(&mut self, id: AgentId) -> Result<(), RoutingError> {
        let a = self.agent(id)?;
        match a.presence {
            Presence::Offline => Err(RoutingError::IllegalTransition {
                agent: id,
                from: a.state.clone(),
                action: "become available without logging in",
            }),
            Presence::Available => Ok(()),
            Presence::Away(_) => {
                let now = self.now;
                if let Some(a) = self.agents.get_mut(&id) {
                    a.presence = Presence::Available;
                    a.idle_since = now;
                    a.missed_in_row = 0;
                }
                self.set_staffed(id, true);
                self.agent_changed(id);
                self.route_agent(id);
                Ok(())
            }
        }
    }

    fn set_away(&mut self, id: AgentId, reason: ReasonCode) -> Result<(), RoutingError> {
        let a = self.agent(id)?;
        if a.presence == Presence::Offline {
            return Err(RoutingError::IllegalTransition {
                agent: id,
                from: a.state.clone(),
                action: "go away without logging in",
            });
        }
        self.go_away(id, reason);
        Ok(())
    }

    fn go_away(&mut self, id: AgentId, reason: ReasonCode) {
        self.set_staffed(id, false);
        let offers = match self.agents.get_mut(&id) {
            Some(a) => {
                a.presence = Presence::Away(reason);
                a.offers.to_vec()
            }
            None => return,
        };
        self.agent_changed(id);
        for offer in offers {
            self.end_offer(offer, OfferEnd::AgentUnavailable);
        }
    }

    fn set_staffed(&mut self, id: AgentId, on: bool) {
        let Some(a) = self.agents.get_mut(&id) else {
            return;
        };
        if a.staffed == on {
            return;
        }
        a.staffed = on;
        let n = a.spec.queues.len().max(1) as i64;
        let sign = if on { 1 } else { -1 };
        for m in &a.spec.queues {
            if let Some(q) = self.queues.get_mut(&m.queue) {
                q.staffed_milli += sign * 1000 / n;
            }
        }
    }

    /// Emits a state event if the agent's derived state changed, and re-files it in the
    /// ready sets.
    fn agent_changed(&mut self, id: AgentId) {
        self.announce(id);
        self.reindex(id);
    }

    /// Emits a state event if the agent's derived state changed (the ready sets are left
    /// to a later [`Engine::reindex`]).
    fn announce(&mut self, id: AgentId) {
        let Some(a) = self.agents.get_mut(&id) else {
            return;
        };
        let (kept, to) = match a.derived_plain() {
            Some(plain) if plain.is(&a.state) => return,
            Some(plain) => (plain.state(), plain.state()),
            None => match (&a.presence, &a.state) {
                (Presence::Away(r), AgentState::Away(now)) if r == now => return,
                (Presence::Away(r), _) => {
                    (AgentState::Away(r.clone()), AgentState::Away(r.clone()))
                }
                // Not reached: there is no plain state only while away.
                _ => return,
            },
        };
        let from = std::mem::replace(&mut a.state, kept);
        self.events.push_back(Event {
            at: self.now,
            kind: EventKind::AgentState {
                agent: id,
                from,
                to,
            },
        });
    }

    /// Re-files an agent in the ready sets of its queues, touching them only when its
    /// entries changed (most state changes of a busy agent change none).
    fn reindex(&mut self, id: AgentId) {
        let Some(slot) = self.agents.slot(&id) else {
            return;
        };
        let Some(a) = self.agents.at_mut(slot, &id) else {
            return;
        };
        let ready = a.ready();
        if !ready && !a.filed {
            return;
        }
        if ready && !a.filed && !a.entries.is_empty() && a.entries_layout == Some(self.layout) {
            // Freed again with nothing changed since it was last filed, in queues that
            // key ready agents by idle time last: the same entries with the new idle
            // time, in the same order, filed as the general case below files them.
            let filing = self.tickets.issue(slot);
            let tickets = &self.tickets;
            let idle = a.idle_since.0;
            let mut in_tree = false;
            let mut queue: Option<(QueueId, &mut Queue)> = None;
            for entry in a.entries.iter_mut() {
                if queue.as_ref().is_none_or(|q| q.0 != entry.queue) {
                    queue = self.queues.get_mut(&entry.queue).map(|q| (entry.queue, q));
                }
                if let Some((_, q)) = &mut queue
                    // Not even a call when the list is not kept (see `ReadySet::new`).
                    && (entry.list != ALL || q.ready.keeps_all())
                {
                    in_tree |= q.ready.insert(id, entry, idle, filing, tickets);
                }
            }
            a.in_tree = in_tree;
            a.filed_idle = idle;
            a.filed = true;
            return;
        }
        if ready && !a.filed {
            // Filed nowhere yet (nearly every agent who frees up): each entry is filed as
            // it is worked out, in the order of the general case below, looking each
            // queue up once.
            let filing = self.tickets.issue(slot);
            let tickets = &self.tickets;
            a.entries.clear();
            let mut in_tree = false;
            let mut idle_keyed = true;
            let util = a.capacity.utilisation_permille(&a.in_use);
            let idle = a.idle_since.0;
            for m in &a.spec.queues {
                let Some(q) = self.queues.get_mut(&m.queue) else {
                    idle_keyed = false;
                    continue;
                };
                let strategy = q.spec.strategy;
                idle_keyed &= fifo_keys(strategy);
                let rank = ready_rank(strategy, m, a.handled, a.talk_us, util);
                let mut entry = ReadyEntry::new(m.queue, ALL, rank);
                // Not even a call when the list is not kept (see `ReadySet::new`).
                if q.ready.keeps_all() {
                    in_tree |= q.ready.insert(id, &mut entry, idle, filing, tickets);
                }
                a.entries.push(entry);
                if strategy == Strategy::BestSkill {
                    let mut r = 0;
                    for &(skill, prof) in &a.spec.skills {
                        let ranked = q.ready.ranked();
                        while r < ranked.len() && ranked[r].0 < skill {
                            r += 1;
                        }
                        if r == ranked.len() {
                            break;
                        }
                        if ranked[r].0 == skill {
                            let rank = skill_rank(m.tier, prof);
                            let mut entry = ReadyEntry::new(m.queue, ranked[r].1, rank);
                            in_tree |= q.ready.insert(id, &mut entry, idle, filing, tickets);
                            a.entries.push(entry);
                        }
                    }
                }
            }
            a.in_tree = in_tree;
            a.filed_idle = idle;
            a.entries_layout = idle_keyed.then_some(self.layout);
            a.filed = true;
            return;
        }
        // Filed, and no longer ready or perhaps filed elsewhere now.
        let mut want = std::mem::take(&mut self.scratch_entries);
        want.clear();
        let idle = a.idle_since.0;
        if ready {
            let util = a.capacity.utilisation_permille(&a.in_use);
            for m in &a.spec.queues {
                let Some(q) = self.queues.get(&m.queue) else {
                    continue;
                };
                let strategy = q.spec.strategy;
                let rank = ready_rank(strategy, m, a.handled, a.talk_us, util);
                want.push(ReadyEntry::new(m.queue, ALL, rank));
                if strategy == Strategy::BestSkill {
                    // Best-skill queues index agents by the skills contacts have been
                    // ranked on (built on first use, so agents are not indexed by skills
                    // the queue never routes on): both lists are sorted, so one walk
                    // matches them.
                    let ranked = q.ready.ranked();
                    let mut r = 0;
                    for &(skill, prof) in &a.spec.skills {
                        while r < ranked.len() && ranked[r].0 < skill {
                            r += 1;
                        }
                        if r == ranked.len() {
                            break;
                        }
                        if ranked[r].0 == skill {
                            want.push(ReadyEntry::new(
                                m.queue,
                                ranked[r].1,
                                skill_rank(m.tier, prof),
                            ));
                        }
                    }
                }
            }
        }
        if want.len() == a.entries.len()
            && want
                .iter()
                .zip(a.entries.iter())
                .all(|(w, i)| w.same_place(idle, i, a.filed_idle))
        {
            self.scratch_entries = want;
            return;
        }
        // Out of every list: FIFO entries die with the ticket (nothing to read), tree
        // entries are taken out one by one. Entries come grouped by queue: each queue is
        // looked up once per group.
        self.tickets.retire(slot);
        if a.in_tree {
            let mut queue: Option<(QueueId, &mut Queue)> = None;
            for &entry in a.entries.iter() {
                if queue.as_ref().is_none_or(|q| q.0 != entry.queue) {
                    queue = self.queues.get_mut(&entry.queue).map(|q| (entry.queue, q));
                }
                if let Some((_, q)) = &mut queue {
                    q.ready.remove(id, entry, a.filed_idle);
                }
            }
        }
        let mut in_tree = false;
        if !want.is_empty() {
            let filing = self.tickets.issue(slot);
            let tickets = &self.tickets;
            let mut queue: Option<(QueueId, &mut Queue)> = None;
            for entry in &mut want {
                if queue.as_ref().is_none_or(|q| q.0 != entry.queue) {
                    queue = self.queues.get_mut(&entry.queue).map(|q| (entry.queue, q));
                }
                if let Some((_, q)) = &mut queue {
                    in_tree |= q.ready.insert(id, entry, idle, filing, tickets);
                }
            }
        }
        a.in_tree = in_tree;
        a.filed_idle = idle;
        a.filed = !want.is_empty();
        if want.is_empty() && !a.entries.is_empty() && a.entries_layout.is_some() {
            // No longer ready: its entries are kept to be filed under again.
            self.scratch_entries = want;
            return;
        }
        a.entries_layout = None;
        a.entries.clear();
        for &entry in &want {
            a.entries.push(entry);
        }
        self.scratch_entries = want;
    }

    // ----- contacts -----

    fn enqueue(&mut self, id: ContactId, mut spec: ContactSpec) -> Result<(), RoutingError> {
        if self.contacts.contains_key(&id) {
            return Err(RoutingError::DuplicateContact(id));
        }
        let Some(q) = self.queues.get(&spec.queue) else {
            return Err(RoutingError::UnknownQueue(spec.queue));
        };
        let now = self.now;
        let qid = spec.queue;
        let priority = spec.priority;
        let preferred_until = (!spec.preferred_agents.is_empty() && !spec.preferred_for.is_zero())
            .then(|| now.after(spec.preferred_for));
        spec.preferred_agents.dedup();
        // Position at entry: everyone of equal or higher priority is ahead.
        let ahead = q.order.ahead_of_newcomer(priority);
        let max_wait = q.spec.max_wait;
        if let Some(max) = max_wait {
            self.schedule(now.after(max), Timer::MaxWait(id));
        }
        self.contacts.insert(
            id,
            Contact {
                spec: spec.into(),
                enqueued_at: now,
                stage: 0,
                status: Status::Waiting,
                waited_us: 0,
                declined: Vec::new(),
                placed: Small::default(),
                preferred_until,
                keys: self.spare.keys.pop().unwrap_or_default(),
                keys_stale: true,
                reads_all: false,
                listed: None,
                line_slot: 0,
            },
        );
        // The event's position and estimated wait are filled in once routing tells whether
        // the contact waits: a contact offered at once has no wait to estimate (routing
        // changes neither the queue's staffing nor its handle time, so the estimate made
        // afterwards is the one the queue gave at entry).
        let slot = self.events.len();
        self.events.push_back(Event {
            at: now,
            kind: EventKind::Queued {
                contact: id,
                queue: qid,
                position: 0,
                ewt: Some(Duration::ZERO),
            },
        });
        self.route_contact(id);
        if self
            .contacts
            .get(&id)
            .is_none_or(|c| c.status == Status::Waiting)
            && let Some(q) = self.queues.get(&qid)
            && let Some(Event {
                kind: EventKind::Queued { position, ewt, .. },
                ..
            }) = self.events.get_mut(slot)
        {
            *position = ahead;
            *ewt = estimate_wait(q, ahead);
        }
        Ok(())
    }

    fn wait_key(&self, id: ContactId, c: &Contact) -> WaitKey {
        let boost = self
            .queues
            .get(&c.spec.queue)
            .and_then(|q| q.stages.get(c.stage))
            .map_or(0, |s| s.boost);
        (
            Reverse(c.spec.priority.saturating_add(boost)),
            c.enqueued_at,
            id,
        )
    }

    /// The class keys under which a contact at its current stage waits: its home queue,
    /// then any overflow queues. They are written over the keys already in `views` (whose
    /// skill lists are reused), so that computing them allocates nothing in the long run.
    ///
    /// Returns whether a search for the contact reads the list of every ready member of
    /// its keys' queues (see [`Contact::reads_all`]).
    fn views(&self, c: &Contact, views: &mut Vec<ClassKey>) -> bool {
        let Some(q) = self.queues.get(&c.spec.queue) else {
            views.clear();
            return false;
        };
        let stage = &q.stages[c.stage.min(q.stages.len() - 1)];
        let language: Option<LanguageId> = if stage.drop_language {
            None
        } else {
            c.spec.language
        };
        let mut n = 0;
        let mut next = |views: &mut Vec<ClassKey>, queue: QueueId, max_tier: u8| {
            if n == views.len() {
                views.push(ClassKey {
                    queue,
                    skills: Vec::new(),
                    language,
                    channel: c.spec.channel,
                    max_tier,
                });
            } else {
                let key = &mut views[n];
                key.queue = queue;
                key.language = language;
                key.channel = c.spec.channel;
                key.max_tier = max_tier;
            }
            n += 1;
            n - 1
        };
        let home = next(views, c.spec.queue, stage.max_tier);
        let skills = &mut views[home].skills;
        skills.clear();
        skills.extend(c.spec.skills.iter().filter_map(|r| {
            if stage.relax > 0 && r.min <= stage.relax {
                None
            } else {
                Some(SkillRequirement {
                    skill: r.skill,
                    min: r.min - stage.relax,
                })
            }
        }));
        skills.sort_unstable();
        // Every key requires the same skills.
        for &o in &stage.overflow {
            if o != c.spec.queue && self.queues.contains_key(&o) {
                let i = next(views, o, u8::MAX);
                let (head, tail) = views.split_at_mut(i);
                tail[0].skills.clone_from(&head[home].skills);
            }
        }
        views.truncate(n);
        // Ring-all reads it in every queue; the others when the keys do not require the
        // contact's first skill (see `find_agent`).
        q.spec.strategy == Strategy::RingAll
            || c.spec
                .skills
                .first()
                .is_none_or(|r| stage.relax > 0 && r.min <= stage.relax)
    }

    /// Finds agents for a waiting contact that is listed nowhere yet; lists it if none.
    fn route_contact(&mut self, id: ContactId) {
        self.list_contact(id, true);
    }

    /// Lists a waiting contact that is listed nowhere yet, first offering it to an agent
    /// (by its queue's strategy) when `search` is set.
    fn list_contact(&mut self, id: ContactId, search: bool) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let now = self.now;
        c.declined.retain(|d| d.1 > now);
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let wait = self.wait_key(id, c);
        let home = c.spec.queue;
        let next_step = self
            .queues
            .get(&home)
            .and_then(|q| q.stages.get(c.stage + 1))
            .map(|s| c.enqueued_at.after(s.after));
        if let Some(at) = next_step {
            self.schedule(at, Timer::Escalate(id));
        }
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        if let Some(until) = c.preferred_until {
            if until > now {
                let channel = c.spec.channel;
                let free = c.spec.preferred_agents.iter().copied().find(|aid| {
                    !c.skips(*aid, now)
                        && self
                            .agents
                            .get(aid)
                            .is_some_and(|a| a.presence == Presence::Available && a.fits(channel))
                });
                if let Some(aid) = free {
                    self.offer(id, aid);
                    return;
                }
                let logged_in: Vec<AgentId> = c
                    .spec
                    .preferred_agents
                    .iter()
                    .copied()
                    .filter(|aid| {
                        self.agents
                            .get(aid)
                            .is_some_and(|a| a.presence != Presence::Offline)
                    })
                    .collect();
                if !logged_in.is_empty() {
                    for aid in logged_in {
                        self.preferred.entry(aid).or_default().insert(wait);
                    }
                    self.schedule(until, Timer::PreferredExpiry(id));
                    if let Some(slot) = self.contacts.slot(&id) {
                        self.line_up(slot, id, wait);
                    }
                    return;
                }
            }
            if let Some(c) = self.contacts.get_mut(&id) {
                c.preferred_until = None;
            }
        }
        let Some(slot) = self.contacts.slot(&id) else {
            return;
        };
        // With no live class at all (agents mostly idle) there is none to join.
        let none_live = self.classes.len() == 0;
        let mut simple = None;
        let no_class = if none_live {
            simple = self.simple_needs(slot, id);
            true
        } else {
            match self.join_known_class(slot, id, wait, search) {
                Joined::Yes => return,
                Joined::NoClass(needs) => {
                    simple = Some(needs);
                    true
                }
                Joined::No => false,
            }
        };
        // A contact whose one key requires one skill and has no live class is searched
        // for without building the key; if nobody takes it, it is listed below without a
        // second search.
        let mut search = search;
        if search && let Some(needs) = simple {
            if self.search_simple(slot, id, needs) {
                return;
            }
            search = false;
        }
        // The class keys are cached on the contact until its stage, channel or queue
        // configuration changes; they are lent out here and put back below, with the
        // contact's list of classes.
        let Some(c) = self.contacts.at_mut(slot, &id) else {
            return;
        };
        let mut views = std::mem::take(&mut c.keys);
        let mut placed = std::mem::take(&mut c.placed);
        let stale = c.keys_stale;
        let mut reads_all = c.reads_all;
        let Some(c) = self.contacts.at(slot, &id) else {
            return;
        };
        if stale {
            reads_all = self.views(c, &mut views);
        }
        let primary = c.spec.skills.first().map(|r| r.skill);
        if let Some(skill) = primary {
            for key in &views {
                self.rank_on(key.queue, skill);
            }
        }
        // Queues whose list of every ready member the search reads keep it from now on.
        if search && reads_all {
            for key in &views {
                self.keep_all(key.queue);
            }
        }
        // The live class of each key, looked up once for the search and the listing.
        let mut found = std::mem::take(&mut self.scratch_found);
        found.clear();
        if none_live || (no_class && views.len() == 1) {
            found.extend(views.iter().map(|_| None));
        } else {
            found.extend(views.iter().map(|k| self.classes.find(k)));
        }
        let pick = if search {
            self.pick_agents(slot, id, &views, &found)
        } else {
            Pick::Nobody
        };
        placed.clear();
        if let Pick::Nobody = pick {
            self.line_up(slot, id, wait);
            let declines = self
                .contacts
                .at(slot, &id)
                .is_some_and(|c| !c.declined.is_empty());
            let waiter = Waiter {
                key: wait,
                declines,
                slot: slot as u32,
            };
            for (k, &f) in views.iter().zip(&found) {
                placed.push(self.classes.insert(f, k, waiter));
            }
        }
        self.scratch_found = found;
        if let Some(c) = self.contacts.at_mut(slot, &id) {
            c.keys_stale = views.is_empty();
            c.reads_all = reads_all;
            c.keys = views;
            c.placed = placed;
        }
        match pick {
            Pick::Nobody => {}
            Pick::One(aid, cursor) => {
                if let Some((queue, cursor)) = cursor
                    && let Some(q) = self.queues.get_mut(&queue)
                {
                    q.rr_cursor = Some(cursor);
                }
                self.offer(id, aid);
            }
            Pick::All(agents) => {
                for aid in agents {
                    self.offer(id, aid);
                }
            }
        }
    }

    /// [`Engine::list_contact`] for a contact whose keys are not worked out (a new one,
    /// nearly always) when it waits under one key requiring at most one skill, and that
    /// key's class is live with a head that skips no agent: no ready agent qualifies then
    /// (see [`Engine::pick_agents`]), so it joins the class without a search, found by
    /// its packed key ([`simple_key`]) without building the key itself (which stays to be
    /// worked out when needed). If it did not, nothing changed.
    ///
    /// Not for a contact whose search reads the list of every ready member (see
    /// [`Contact::reads_all`]), nor one with overflow queues: those take the general path.
    fn join_known_class(
        &mut self,
        slot: usize,
        id: ContactId,
        wait: WaitKey,
        search: bool,
    ) -> Joined {
        let Some(needs) = self.simple_needs(slot, id) else {
            return Joined::No;
        };
        let Some(c) = self.contacts.at(slot, &id) else {
            return Joined::No;
        };
        let home = needs.queue;
        let key = simple_key(
            home,
            Some(needs.skill),
            needs.language,
            needs.channel,
            needs.max_tier,
        );
        let Some(class) = self.classes.find_simple(key) else {
            return Joined::NoClass(needs);
        };
        if search && self.classes.head_of(class).is_none_or(|head| head.declines) {
            return Joined::No;
        }
        let declines = !c.declined.is_empty();
        let primary = needs.skill.skill;
        // As on the general path (a best-skill queue starts ranking on the skill).
        self.rank_on(home, primary);
        self.line_up(slot, id, wait);
        self.classes.join(
            class,
            Waiter {
                key: wait,
                declines,
                slot: slot as u32,
            },
        );
        if let Some(c) = self.contacts.at_mut(slot, &id) {
            c.placed.clear();
            c.placed.push(class);
        }
        Joined::Yes
    }

    /// The one class key of the contact in table slot `slot`, when its keys are not worked
    /// out (a new contact, nearly always) and it waits under one key requiring exactly one
    /// skill: no overflow queue at its stage, home queue not ring-all, its only skill not
    /// relaxed away. Such a contact's search does not read the list of every ready member
    /// (see [`Contact::reads_all`]).
    #[inline(always)]
    fn simple_needs(&self, slot: usize, id: ContactId) -> Option<Simple> {
        let c = self.contacts.at(slot, &id)?;
        if !c.keys_stale || c.spec.skills.len() != 1 {
            return None;
        }
        let home = c.spec.queue;
        let q = self.queues.get(&home)?;
        let stage = &q.stages[c.stage.min(q.stages.len() - 1)];
        let first = c.spec.skills[0];
        if !stage.overflow.is_empty()
            || q.spec.strategy == Strategy::RingAll
            || (stage.relax > 0 && first.min <= stage.relax)
        {
            return None;
        }
        Some(Simple {
            queue: home,
            skill: SkillRequirement {
                skill: first.skill,
                min: first.min - stage.relax,
            },
            language: if stage.drop_language {
                None
            } else {
                c.spec.language
            },
            channel: c.spec.channel,
            max_tier: stage.max_tier,
        })
    }

    /// The search of [`Engine::list_contact`] for a contact whose one key is `needs` (see
    /// [`Engine::simple_needs`]) and has no live class, made without building the key
    /// (which stays to be worked out when needed): the same agent is found, by the same
    /// steps, as [`Engine::pick_agents`] would find. Offers the contact to it and returns
    /// true, or returns false (nobody: the contact is still to be listed).
    fn search_simple(&mut self, slot: usize, id: ContactId, needs: Simple) -> bool {
        // As on the general path (a best-skill queue starts ranking on the skill).
        self.rank_on(needs.queue, needs.skill.skill);
        let Some(c) = self.contacts.at(slot, &id) else {
            return false;
        };
        let skills = [needs.skill];
        let key = Need {
            queue: needs.queue,
            skills: &skills,
            language: needs.language,
            channel: needs.channel,
            max_tier: needs.max_tier,
        };
        let Some((aid, cursor)) = self.find_agent(&key, Some(needs.skill.skill), c) else {
            return false;
        };
        if let Some(c) = self.contacts.at_mut(slot, &id) {
            c.placed.clear();
        }
        if let Some(q) = self.queues.get_mut(&needs.queue)
            && q.spec.strategy == Strategy::RoundRobin
        {
            q.rr_cursor = Some(cursor);
        }
        self.offer_at(slot, id, aid);
        true
    }

    /// Puts the waiting contact in table slot `slot` in its home queue's line under
    /// `wait`: only one that stays waiting (a contact offered at once never is, and so is
    /// never taken out again).
    fn line_up(&mut self, slot: usize, id: ContactId, wait: WaitKey) {
        let Some(c) = self.contacts.at_mut(slot, &id) else {
            return;
        };
        c.listed = Some(wait.0.0);
        if let Some(q) = self.queues.get_mut(&c.spec.queue) {
            c.line_slot = q.order.add(wait);
        }
    }

    /// The agents a waiting contact (in table slot `slot`) should be offered to now, by its
    /// home queue's strategy; `found` holds the live class of each of its keys.
    fn pick_agents(
        &self,
        slot: usize,
        id: ContactId,
        views: &[ClassKey],
        found: &[Option<usize>],
    ) -> Pick {
        let Some(c) = self.contacts.at(slot, &id) else {
            return Pick::Nobody;
        };
        if self.ring_all(c.spec.queue) {
            let mut agents: Vec<AgentId> = Vec::new();
            for key in views {
                self.eligible_agents(key, c, &mut agents);
            }
            agents.sort_unstable();
            agents.dedup();
            return if agents.is_empty() {
                Pick::Nobody
            } else {
                Pick::All(agents)
            };
        }
        let primary = c.spec.skills.first().map(|r| r.skill);
        for (key, &class) in views.iter().zip(found) {
            // Contacts already waiting with the same needs mean no ready agent qualifies
            // (unless it declined the head): join them without a search.
            if class
                .and_then(|class| self.classes.head_of(class))
                .is_some_and(|head| !head.declines)
            {
                continue;
            }
            if let Some((aid, cursor)) = self.find_agent(&key.need(), primary, c) {
                let round_robin = self
                    .queues
                    .get(&key.queue)
                    .is_some_and(|q| q.spec.strategy == Strategy::RoundRobin);
                return Pick::One(aid, round_robin.then_some((key.queue, cursor)));
            }
        }
        Pick::Nobody
    }

    /// The entries of a queue's ready members in its list of every ready member, worked
    /// out from their own records (whether or not the queue keeps that list): each agent
    /// filed now, with its current filing and its entry there.
    fn ready_members<'a>(
        &'a self,
        q: &'a Queue,
        queue: QueueId,
    ) -> impl Iterator<Item = (AgentId, Filing, &'a Agent, ReadyEntry)> + 'a {
        q.members.iter().filter_map(move |&aid| {
            let slot = self.agents.slot(&aid)?;
            let filing = self.tickets.current(slot)?;
            let a = self.agents.at(slot, &aid).filter(|a| a.filed)?;
            let entry = a
                .entries
                .iter()
                .find(|e| e.queue == queue && e.list == ALL)?;
            Some((aid, filing, a, *entry))
        })
    }

    /// Whether `queue` offers contacts to every eligible agent at once.
    fn ring_all(&self, queue: QueueId) -> bool {
        self.queues
            .get(&queue)
            .is_some_and(|q| q.spec.strategy == Strategy::RingAll)
    }

    /// Makes a queue whose ready set builds its list of every ready member on first use
    /// keep it, filing its ready members there now.
    fn keep_all(&mut self, queue: QueueId) {
        if self
            .queues
            .get(&queue)
            .is_some_and(|q| !q.ready.keeps_all())
        {
            self.build_all(queue);
        }
    }

    /// [`Engine::keep_all`] for a queue that does not keep the list yet.
    #[cold]
    #[inline(never)]
    fn build_all(&mut self, queue: QueueId) {
        let Some(q) = self.queues.get(&queue) else {
            return;
        };
        let mut filed: Vec<(AgentId, Filing, ReadyEntry, u64)> = self
            .ready_members(q, queue)
            .map(|(aid, filing, a, entry)| (aid, filing, entry, a.filed_idle))
            .collect();
        // In key order, so that each is filed at the end of its group.
        filed.sort_unstable_by_key(|(aid, _, entry, idle)| (entry.key(*idle), *aid));
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        q.ready.keep_all();
        for (aid, filing, mut entry, idle) in filed {
            let in_tree = q.ready.insert(aid, &mut entry, idle, filing, &self.tickets);
            if let Some(a) = self.agents.at_mut(filing.slot as usize, &aid) {
                a.in_tree |= in_tree;
            }
        }
    }

    /// Makes a best-skill queue keep a ready-agent index for `skill`, building it from the
    /// queue's ready members the first time a contact is ranked on that skill.
    #[inline]
    fn rank_on(&mut self, queue: QueueId, skill: SkillId) {
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        if q.spec.strategy != Strategy::BestSkill {
            return;
        }
        if let Some(list) = q.ready.rank(skill) {
            self.layout = self.layout.saturating_add(1);
            self.build_ranked(queue, skill, list);
        }
    }

    /// Files a best-skill queue's ready members with `skill` in its new list `list`.
    #[cold]
    #[inline(never)]
    fn build_ranked(&mut self, queue: QueueId, skill: SkillId, list: u32) {
        let Some(q) = self.queues.get(&queue) else {
            return;
        };
        let filed: Vec<(AgentId, Filing, Rank, u64)> = self
            .ready_members(q, queue)
            .filter_map(|(aid, filing, a, entry)| {
                let prof = a.proficiency(skill)?;
                Some((aid, filing, skill_rank(entry.tier(), prof), a.filed_idle))
            })
            .collect();
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        for (aid, filing, rank, idle) in filed {
            let mut entry = ReadyEntry::new(queue, list, rank);
            let in_tree = q.ready.insert(aid, &mut entry, idle, filing, &self.tickets);
            if let Some(a) = self.agents.at_mut(filing.slot as usize, &aid) {
                a.in_tree |= in_tree;
                a.entries.push(entry);
            }
        }
    }

    /// The best ready agent of `key.queue` for a contact, by the queue's strategy.
    fn find_agent(
        &self,
        key: &Need,
        primary: Option<SkillId>,
        c: &Contact,
    ) -> Option<(AgentId, (ReadyKey, AgentId))> {
        let q = self.queues.get(&key.queue)?;
        // In a skill's list of a best-skill queue, a key's middle part is the agent's
        // proficiency in that skill (see `skill_rank`): a contact that needs that skill
        // alone, in no particular language, is met by whoever's key says it is, so the
        // search need not read the agent's skills.
        let (set, by_rank) = match (q.spec.strategy, primary) {
            (Strategy::BestSkill, Some(s)) if key.has_skill(s) => {
                let by_rank = match key.skills {
                    [only] if key.language.is_none() => Some(only.min),
                    _ => None,
                };
                (q.ready.with_skill(s)?, by_rank)
            }
            _ => (q.ready.all(), None),
        };
        let fits = |&(rk, aid): &(ReadyKey, AgentId)| {
            let Some(a) = self.agents.get(&aid) else {
                return false;
            };
            let tier = if q.spec.strategy == Strategy::RoundRobin {
                a.tier_in(key.queue).unwrap_or(u8::MAX)
            } else {
                rk.0
            };
            tier <= key.max_tier
                && !c.skips(aid, self.now)
                && match by_rank {
                    Some(min) => a.fits(key.channel) && proficiency_of(rk) >= min,
                    None => a.qualifies(key),
                }
        };
        let found = match (q.spec.strategy, q.rr_cursor, set) {
            (Strategy::RoundRobin, Some(cursor), ReadyList::Tree(set)) => set
                .range((Bound::Excluded(cursor), Bound::Unbounded))
                .chain(set.range(..=cursor))
                .copied()
                .find(fits),
            (Strategy::Random | Strategy::WeightedRandom, _, _) => {
                return self.draw_agent(set, fits, q.spec.strategy, key.queue);
            }
            _ => set.iter(&self.tickets).find(fits),
        };
        found.map(|entry| (entry.1, entry))
    }

    /// Random and weighted-random choice among the eligible ready agents of the best tier
    /// that has any, by weighted reservoir sampling (Efraimidis–Spirakis: the largest
    /// `u^(1/w)` wins, which picks each agent with probability `w / Σw`). This costs one
    /// step per ready agent of the queue, as ring-all does.
    fn draw_agent(
        &self,
        set: &ReadyList,
        fits: impl Fn(&(ReadyKey, AgentId)) -> bool,
        strategy: Strategy,
        queue: QueueId,
    ) -> Option<(AgentId, (ReadyKey, AgentId))> {
        let mut rng = self.rng.borrow_mut();
        let mut best: Option<(f64, (ReadyKey, AgentId))> = None;
        for entry in set.iter(&self.tickets) {
            if best.is_some_and(|b| entry.0.0 > b.1.0.0) {
                break;
            }
            if !fits(&entry) {
                continue;
            }
            let weight = match strategy {
                Strategy::WeightedRandom => self
                    .agents
                    .get(&entry.1)
                    .and_then(|a| a.spec.queues.iter().find(|m| m.queue == queue))
                    .map_or(0, |m| m.weight),
                _ => 1,
            };
            if weight == 0 {
                continue;
            }
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            let score = u.powf(1.0 / f64::from(weight));
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, entry));
            }
        }
        best.map(|b| (b.1.1, b.1))
    }

    fn eligible_agents(&self, key: &ClassKey, c: &Contact, out: &mut Vec<AgentId>) {
        let Some(q) = self.queues.get(&key.queue) else {
            return;
        };
        for (rk, aid) in q.ready.all().iter(&self.tickets) {
            if rk.0 <= key.max_tier
                && !c.skips(aid, self.now)
                && self
                    .agents
                    .get(&aid)
                    .is_some_and(|a| a.qualifies(&key.need()))
            {
                out.push(aid);
            }
        }
    }

    /// Takes a waiting contact out of every list it waits in.
    fn unlist(&mut self, id: ContactId) {
        if let Some(slot) = self.contacts.slot(&id) {
            self.unlist_at(slot, id);
        }
    }

    /// [`Engine::unlist`] for the contact in table slot `slot`.
    fn unlist_at(&mut self, slot: usize, id: ContactId) {
        let Some(c) = self.contacts.at_mut(slot, &id) else {
            return;
        };
        let Some(wait) = c.listed_key(id) else {
            return;
        };
        c.listed = None;
        let home = c.spec.queue;
        let line_slot = c.line_slot;
        for &class in &c.placed {
            self.classes.remove(class, &wait);
        }
        c.placed.clear();
        if c.preferred_until.is_some() {
            for aid in &c.spec.preferred_agents {
                if let Some(set) = self.preferred.get_mut(aid) {
                    set.remove(&wait);
                    if set.is_empty() {
                        self.preferred.remove(aid);
                    }
                }
            }
        }
        if let Some(q) = self.queues.get_mut(&home) {
            q.order.take(line_slot, &wait);
        }
    }

    fn offer(&mut self, contact: ContactId, agent: AgentId) {
        let Some(slot) = self.contacts.slot(&contact) else {
            self.next_offer += 1;
            return;
        };
        self.offer_at(slot, contact, agent);
    }

    /// [`Engine::offer`] for the contact in table slot `slot`.
    fn offer_at(&mut self, slot: usize, contact: ContactId, agent: AgentId) {
        let offer = OfferId(self.next_offer);
        self.next_offer += 1;
        let Some(c) = self.contacts.at(slot, &contact) else {
            return;
        };
        if !matches!(c.status, Status::Waiting | Status::Offered(_)) {
            return;
        }
        let channel = c.spec.channel;
        let ring = self
            .queues
            .get(&c.spec.queue)
            .map_or(Duration::from_secs(20), |q| q.spec.ring_timeout);
        if c.status == Status::Waiting {
            self.unlist_at(slot, contact);
        }
        let Some(c) = self.contacts.at_mut(slot, &contact) else {
            return;
        };
        match &mut c.status {
            Status::Offered(offers) => offers.push(offer),
            status => *status = Status::Offered(self.spare.offers_with(offer)),
        }
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        a.take_unit(channel.slot());
        a.offers.push(offer);
        self.offers.insert(
            offer,
            Offer {
                contact,
                agent,
                slot,
            },
        );
        let expires_at = self.now.after(ring);
        self.schedule_ring(expires_at, offer);
        self.events.push_back(Event {
            at: self.now,
            kind: EventKind::Offered {
                offer,
                contact,
                agent,
                channel,
                expires_at,
            },
        });
        self.agent_changed(agent);
    }

    fn accept(&mut self, offer: OfferId) -> Result<(), RoutingError> {
        let Some(o) = self.offers.remove(&offer) else {
            return Err(RoutingError::UnknownOffer(offer));
        };
        let now = self.now;
        let (others, waited) = match self.contacts.get_mut_hinted(o.slot, &o.contact) {
            Some(c) => {
                let mut others = match &mut c.status {
                    Status::Offered(list) => std::mem::take(list),
                    _ => Vec::new(),
                };
                others.retain(|&x| x != offer);
                let waited = now.since(c.enqueued_at);
                c.waited_us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
                c.status = Status::Connected {
                    agent: o.agent,
                    since: now,
                };
                (others, waited)
            }
            None => (Vec::new(), Duration::ZERO),
        };
        if let Some(a) = self.agents.get_mut(&o.agent) {
            a.offers.retain(|&x| x != offer);
            a.active.push(o.contact);
            a.missed_in_row = 0;
        }
        self.events.push_back(Event {
            at: now,
            kind: EventKind::Connected {
                contact: o.contact,
                agent: o.agent,
                waited,
            },
        });
        self.agent_changed(o.agent);
        for &other in &others {
            self.end_offer(other, OfferEnd::TakenByOther);
        }
        self.spare.offers = others;
        Ok(())
    }

    /// Closes an open offer that was not answered, returns its capacity, and routes again.
    fn end_offer(&mut self, offer: OfferId, reason: OfferEnd) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        let now = self.now;
        let mut channel = Channel::Voice;
        let mut requeue = false;
        let mut skip = Duration::from_secs(60);
        if let Some(c) = self.contacts.get_mut_hinted(o.slot, &o.contact) {
            channel = c.spec.channel;
            if let Some(q) = self.queues.get(&c.spec.queue) {
                skip = q.spec.retry_declined_after;
            }
            if let Status::Offered(list) = &mut c.status {
                list.retain(|&x| x != offer);
                if list.is_empty() && reason != OfferEnd::ContactGone {
                    if let Status::Offered(list) = std::mem::replace(&mut c.status, Status::Waiting)
                    {
                        self.spare.offers = list;
                    }
                    requeue = true;
                }
            }
            if matches!(reason, OfferEnd::Rejected | OfferEnd::TimedOut) {
                c.declined.push((o.agent, now.after(skip)));
            }
        }
        let missed = matches!(reason, OfferEnd::Rejected | OfferEnd::TimedOut);
        let mut auto_away = false;
        if let Some(a) = self.agents.get_mut(&o.agent) {
            a.offers.retain(|&x| x != offer);
            a.return_unit(channel.slot());
            if missed {
                a.missed_in_row = a.missed_in_row.saturating_add(1);
                auto_away = a
                    .spec
                    .auto_away_after_missed
                    .is_some_and(|n| a.missed_in_row >= n)
                    && a.presence == Presence::Available;
            }
        }
        self.events.push_back(Event {
            at: now,
            kind: EventKind::OfferEnded {
                offer,
                contact: o.contact,
                agent: o.agent,
                reason,
            },
        });
        self.agent_changed(o.agent);
        // The contact goes back in line before anything the agent's state change releases.
        if requeue {
            self.requeue(o.contact);
        }
        if auto_away {
            self.go_away(o.agent, ReasonCode::new("missed-offers"));
        }
        if missed {
            self.schedule(now.after(skip), Timer::Retry(o.contact));
        }
        self.route_agent(o.agent);
    }

    /// Puts a contact whose offers all ended back in line, with its original entry time.
    fn requeue(&mut self, id: ContactId) {
        let now = self.now;
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let Some(q) = self.queues.get(&c.spec.queue) else {
            return;
        };
        let waited = now.since(c.enqueued_at);
        if q.spec.max_wait.is_some_and(|m| waited >= m) {
            self.leave(id, Outcome::Expired);
            return;
        }
        let stage = q.stage_at(waited);
        if stage > c.stage {
            self.events.push_back(Event {
                at: now,
                kind: EventKind::Escalated {
                    contact: id,
                    step: stage as u32,
                },
            });
        }
        if let Some(c) = self.contacts.get_mut(&id) {
            c.stage = stage;
            c.keys_stale = true;
        }
        self.route_contact(id);
    }

    fn end(&mut self, id: ContactId) -> Result<(), RoutingError> {
        let Some(c) = self.contacts.get(&id) else {
            return Err(RoutingError::UnknownContact(id));
        };
        match c.status.clone() {
            Status::Waiting | Status::Offered(_) => self.leave(id, Outcome::Abandoned),
            Status::Connected { agent, since } => self.disconnect(id, agent, since),
            Status::WrapUp { .. } => {
                return Err(RoutingError::ContactState {
                    contact: id,
                    action: "end again (it is in after-call work)",
                });
            }
        }
        Ok(())
    }

    fn withdraw(&mut self, id: ContactId) -> Result<(), RoutingError> {
        let Some(c) = self.contacts.get(&id) else {
            return Err(RoutingError::UnknownContact(id));
        };
        match c.status {
            Status::Waiting | Status::Offered(_) => {
                self.leave(id, Outcome::Withdrawn);
                Ok(())
            }
            _ => Err(RoutingError::ContactState {
                contact: id,
                action: "be withdrawn once connected",
            }),
        }
    }

    /// Removes a contact that never reached an agent (or whose offers still ring).
    fn leave(&mut self, id: ContactId, outcome: Outcome) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let offers = match &c.status {
            Status::Offered(list) => list.clone(),
            _ => Vec::new(),
        };
        let waited = self.now.since(c.enqueued_at);
        if c.status == Status::Waiting {
            self.unlist(id);
        }
        self.events.push_back(Event {
            at: self.now,
            kind: EventKind::ContactLeft {
                contact: id,
                outcome,
                waited,
            },
        });
        // Ringing agents are released after the contact is reported gone; the contact stays
        // in the table until then so their capacity is returned on the right channel.
        for offer in offers {
            self.end_offer(offer, OfferEnd::ContactGone);
        }
        let spare = &mut self.spare;
        self.contacts.remove_with(&id, |c| spare.recycle(c));
    }

    fn disconnect(&mut self, id: ContactId, agent: AgentId, since: Timestamp) {
        let now = self.now;
        let wrap = self
            .contacts
            .get(&id)
            .and_then(|c| self.queues.get(&c.spec.queue))
            .map_or(WrapUp::None, |q| q.spec.wrap_up);
        if let Some(a) = self.agents.get_mut(&agent) {
            a.active.retain(|&x| x != id);
            let talk = u64::try_from(now.since(since).as_micros()).unwrap_or(u64::MAX);
            a.talk_us = a.talk_us.saturating_add(talk);
            a.handled = a.handled.saturating_add(1);
            a.wrapping.push(id);
        }
        let until = match wrap {
            WrapUp::Timed(d) => Some(now.after(d)),
            WrapUp::None | WrapUp::Manual => None,
        };
        if let Some(c) = self.contacts.get_mut(&id) {
            c.status = Status::WrapUp {
                agent,
                connected: since,
                until,
            };
        }
        self.events.push_back(Event {
            at: now,
            kind: EventKind::Disconnected { contact: id, agent },
        });
        match wrap {
            WrapUp::None => self.finish_wrap_up(agent, id),
            WrapUp::Timed(_) => {
                if let Some(at) = until {
                    self.schedule(at, Timer::WrapUp(agent, id));
                }
                self.agent_changed(agent);
            }
            WrapUp::Manual => self.agent_changed(agent),
        }
    }

    fn finish_wrap_up(&mut self, agent: AgentId, id: ContactId) {
        let now = self.now;
        let spare = &mut self.spare;
        let Some((channel, queue, connected, waited_us)) = self.contacts.remove_with(&id, |c| {
            let connected = match c.status {
                Status::WrapUp { connected, .. } => Some(connected),
                _ => None,
            };
            spare.recycle(c);
            (c.spec.channel, c.spec.queue, connected, c.waited_us)
        }) else {
            return;
        };
        if let Some(connected) = connected
            && let Some(q) = self.queues.get_mut(&queue)
        {
            // Running mean for the first 200 contacts, then an exponential moving average.
            q.handled += 1;
            let alpha = 1.0 / (q.handled.min(200) as f64);
            q.aht_s += alpha * (now.since(connected).as_secs_f64() - q.aht_s);
        }
        if let Some(a) = self.agents.get_mut(&agent) {
            a.wrapping.retain(|&x| x != id);
            a.return_unit(channel.slot());
            a.idle_since = now;
        }
        self.events.push_back(Event {
            at: now,
            kind: EventKind::ContactLeft {
                contact: id,
                outcome: Outcome::Handled,
                waited: Duration::from_micros(waited_us),
            },
        });
        // Filed in the ready sets only after it has been offered what waits for it: an
        // agent who takes a contact at once is never filed at all.
        self.announce(agent);
        self.route_agent(agent);
        self.reindex(agent);
    }

    fn convert_to_callback(&mut self, id: ContactId) -> Result<(), RoutingError> {
        let Some(c) = self.contacts.get(&id) else {
            return Err(RoutingError::UnknownContact(id));
        };
        if c.status != Status::Waiting || c.spec.channel != Channel::Voice {
            return Err(RoutingError::ContactState {
                contact: id,
                action: "become a callback (only a waiting voice contact can)",
            });
        }
        self.unlist(id);
        if let Some(c) = self.contacts.get_mut(&id) {
            c.spec.channel = Channel::Callback;
            c.keys_stale = true;
        }
        self.events.push_back(Event {
            at: self.now,
            kind: EventKind::BecameCallback { contact: id },
        });
        self.route_contact(id);
        Ok(())
    }

    /// Offers the best waiting contacts to a free agent until it is full or none fits.
    fn route_agent(&mut self, id: AgentId) {
        while let Some(agent_slot) = self.refresh_candidates(id) {
            let Some((contact, slot)) = self.best_contact_for(agent_slot, id) else {
                return;
            };
            match slot {
                Some(slot) => self.offer_at(slot, contact, id),
                None => self.offer(contact, id),
            }
        }
    }

    /// Works out a ready agent's [`Candidates`] again unless they are current; returns
    /// the agent's table slot if it is ready (`None`: there is nothing to offer it).
    fn refresh_candidates(&mut self, id: AgentId) -> Option<usize> {
        let epoch = self.classes.epoch();
        let slot = self.agents.slot(&id)?;
        let a = self.agents.at_mut(slot, &id)?;
        if !a.ready() {
            return None;
        }
        if a.candidates.epoch == Some(epoch) {
            return Some(slot);
        }
        let mut list = std::mem::take(&mut a.candidates.list);
        list.clear();
        let classes = &self.classes;
        let skills: &[(SkillId, u8)] = &a.spec.skills;
        for m in &a.spec.queues {
            let (Some(live), Some(q)) = (classes.of_queue(m.queue), self.queues.get(&m.queue))
            else {
                continue;
            };
            let mut take = |class: usize, prof: Option<u8>| {
                let Some(brief) = classes.brief(class) else {
                    return;
                };
                let meets = match (brief.simple_min, prof) {
                    (Some(min), Some(prof)) => prof >= min,
                    _ => classes.get(class).is_some_and(|c| a.meets(&c.key.need())),
                };
                if m.tier <= brief.max_tier && meets {
                    list.push(Candidate {
                        class: class as u32,
                        weight: q.spec.weight,
                    });
                }
            };
            // Few live classes: all of them (`meets` checks the skills anyway); otherwise
            // only the buckets of the skills the agent holds, found by walking its sorted
            // skills alongside the queue's sorted buckets.
            if live.all.len() <= skills.len() + 1 {
                for &class in &live.all {
                    take(class, None);
                }
                continue;
            }
            let mut i = 0;
            for (bucket, ids) in &live.buckets {
                let prof = match bucket {
                    None => 0,
                    Some(skill) => {
                        while i < skills.len() && skills[i].0 < *skill {
                            i += 1;
                        }
                        if i == skills.len() {
                            break;
                        }
                        if skills[i].0 != *skill {
                            continue;
                        }
                        skills[i].1
                    }
                };
                for &class in ids {
                    take(class, Some(prof));
                }
            }
        }
        let uniform = list
            .first()
            .is_none_or(|f| f.weight > 0 && list.iter().all(|c| c.weight == f.weight));
        a.candidates = Candidates {
            epoch: Some(epoch),
            list,
            uniform,
        };
        Some(slot)
    }

    /// The best waiting contact for a ready agent (in table slot `slot`), with its table
    /// slot when known; the agent's [`Candidates`] are current.
    fn best_contact_for(&self, slot: usize, id: AgentId) -> Option<(ContactId, Option<usize>)> {
        let a = self.agents.at(slot, &id)?;
        // A contact waiting for this agent in particular comes first.
        if !self.preferred.is_empty()
            && let Some(set) = self.preferred.get(&id)
        {
            let found = set.iter().find(|w| {
                self.contacts
                    .get(&w.2)
                    .is_some_and(|c| !c.skips(id, self.now) && a.fits(c.spec.channel))
            });
            if let Some(w) = found {
                return Some((w.2, None));
            }
        }
        if a.candidates.list.is_empty() {
            return None;
        }
        // Whether one more contact fits, per capacity slot.
        let fits = a.room;
        if a.candidates.uniform {
            let mut best = Leader::NONE;
            for c in &a.candidates.list {
                self.consider_uniform(id, fits, c.class as usize, &mut best);
            }
            return best.waiter.map(|b| (b.key.2, Some(b.slot as usize)));
        }
        let mut best: Option<Best> = None;
        for c in &a.candidates.list {
            let weight = u128::from(c.weight);
            self.consider(id, fits, c.class as usize, weight, &mut best);
        }
        best.map(|b| (b.waiter.key.2, Some(b.waiter.slot as usize)))
    }

    /// [`Engine::consider`] when every candidate class has the same weight, above 0:
    /// a head's weighted wait is then larger exactly when it entered earlier (no contact
    /// entered after `now`), so the score order (priority, then weighted wait, then lower
    /// id) is the order of wait keys, and the best head is the one with the least key.
    #[inline(always)]
    fn consider_uniform(&self, id: AgentId, fits: u8, class: usize, best: &mut Leader) {
        let Some(brief) = self.classes.brief(class) else {
            return;
        };
        let Some(first) = brief.head else {
            return;
        };
        // No member of a class ranks above its head.
        if !best.beaten_by(&first.key) || fits >> brief.slot & 1 == 0 {
            return;
        }
        if !first.declines {
            best.set(first);
            return;
        }
        // The head skips some agents: look further down for one that does not skip
        // this one.
        if let Some(head) = self.first_taker(class, id)
            && best.beaten_by(&head.key)
        {
            best.set(head);
        }
    }

    /// The first member of class `class` that does not skip agent `id`.
    fn first_taker(&self, class: usize, id: AgentId) -> Option<Waiter> {
        self.classes.get(class).and_then(|class| {
            class.members.waiters().find(|w| {
                !w.declines
                    || self
                        .contacts
                        .at(w.slot as usize, &w.key.2)
                        .is_some_and(|c| c.status == Status::Waiting && !c.skips(id, self.now))
            })
        })
    }

    /// Offers the head of one of a free agent's candidate classes to its search (see
    /// [`Engine::best_contact_for`]), keeping the best in `best`. `fits` has one bit
    /// per capacity slot, set when one more contact fits (see [`Agent::room`]); `weight`
    /// is the class's queue's.
    #[inline(always)]
    fn consider(&self, id: AgentId, fits: u8, class: usize, weight: u128, best: &mut Option<Best>) {
        let now = self.now.0;
        let Some(brief) = self.classes.brief(class) else {
            return;
        };
        let Some(first) = brief.head else {
            return;
        };
        // No member of a class scores above its head (same queue, so the same weight,
        // and members are in wait order): a class whose head cannot beat the best so far
        // is skipped.
        let wait = u128::from(now.saturating_sub(first.key.1.0)) * weight;
        if best
            .as_ref()
            .is_some_and(|b| !b.beaten_by(first.key.0.0, wait, first.key.2))
        {
            return;
        }
        if fits >> brief.slot & 1 == 0 {
            return;
        }
        if !first.declines {
            *best = Some(Best {
                prio: first.key.0.0,
                wait,
                waiter: first,
            });
            return;
        }
        // The head skips some agents: look further down for one that does not skip
        // this one.
        let Some(head) = self.first_taker(class, id) else {
            return;
        };
        let wait = u128::from(now.saturating_sub(head.key.1.0)) * weight;
        if best
            .as_ref()
            .is_none_or(|b| b.beaten_by(head.key.0.0, wait, head.key.2))
        {
            *best = Some(Best {
                prio: head.key.0.0,
                wait,
                waiter: head,
            });
        }
    }

    /// Contacts waiting for an agent who logged out stop waiting for them.
    fn release_preferences_of(&mut self, agent: AgentId) {
        let Some(set) = self.preferred.remove(&agent) else {
            return;
        };
        for w in set {
            let id = w.2;
            let others_in = self.contacts.get(&id).is_some_and(|c| {
                c.spec.preferred_agents.iter().any(|p| {
                    *p != agent
                        && self
                            .agents
                            .get(p)
                            .is_some_and(|a| a.presence != Presence::Offline)
                })
            });
            if !others_in {
                self.unlist(id);
                if let Some(c) = self.contacts.get_mut(&id) {
                    c.preferred_until = None;
                }
                self.route_contact(id);
            }
        }
    }

    // ----- timers -----

    /// Ring timers in line, at least half of them for answered offers, before the line
    /// is swept of those.
    const STALE_RINGS: usize = 1024;

    fn schedule(&mut self, at: Timestamp, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    /// Sets the ring timer of `offer`, just opened (in `offers` already).
    ///
    /// Ring timers mostly come due in the order they are set (one ring timeout for all
    /// queues, or few), so they wait in a line rather than in the heap: no sifting, and
    /// the timer of an answered offer, which can only fire to no effect, is dropped when it
    /// reaches the front instead of growing the heap by one cold entry per offer until it
    /// comes due. Behind an offer still ringing they are swept out once they are at least
    /// [`Engine::STALE_RINGS`] and half the line. A timer due before the last one in line
    /// goes to the heap. Either way timers fire in the same order (time, then sequence).
    fn schedule_ring(&mut self, at: Timestamp, offer: OfferId) {
        if self.rings.back().is_some_and(|r| r.0 > at) {
            // Due before the last one in line (a queue with a shorter ring timeout).
            self.schedule(at, Timer::Ring(offer));
            return;
        }
        // Answered offers at the front of the line go now.
        while self
            .rings
            .front()
            .is_some_and(|r| !self.offers.contains_key(&r.2))
        {
            self.rings.pop_front();
        }
        // Behind an offer still ringing, answered ones are swept out now and then.
        if self.rings.len() >= Self::STALE_RINGS && self.rings.len() >= 2 * self.offers.len() {
            let offers = &self.offers;
            self.rings.retain(|r| offers.contains_key(&r.2));
        }
        self.timer_seq += 1;
        self.rings.push_back((at, self.timer_seq, offer));
    }

    fn fire(&mut self, timer: Timer, due: Timestamp) {
        let now = self.now;
        match timer {
            Timer::Ring(offer) => self.end_offer(offer, OfferEnd::TimedOut),
            Timer::WrapUp(agent, contact) => {
                // Only the wrap-up this timer was set for (ids may be reused later).
                let current = self.contacts.get(&contact).is_some_and(|c| {
                    matches!(c.status, Status::WrapUp { agent: a, until: Some(u), .. } if a == agent && u == due)
                });
                if current {
                    self.finish_wrap_up(agent, contact);
                }
            }
            Timer::Escalate(id) => {
                let Some(c) = self.contacts.get(&id) else {
                    return;
                };
                let Some(q) = self.queues.get(&c.spec.queue) else {
                    return;
                };
                let stage = q.stage_at(now.since(c.enqueued_at));
                if c.status != Status::Waiting || stage <= c.stage {
                    return;
                }
                self.unlist(id);
                if let Some(c) = self.contacts.get_mut(&id) {
                    c.stage = stage;
                    c.keys_stale = true;
                    c.declined.clear();
                }
                self.events.push_back(Event {
                    at: now,
                    kind: EventKind::Escalated {
                        contact: id,
                        step: stage as u32,
                    },
                });
                self.route_contact(id);
            }
            Timer::PreferredExpiry(id) => {
                if self.contacts.get(&id).is_some_and(|c| {
                    c.status == Status::Waiting && c.preferred_until.is_some_and(|u| u <= now)
                }) {
                    self.unlist(id);
                    if let Some(c) = self.contacts.get_mut(&id) {
                        c.preferred_until = None;
                    }
                    self.route_contact(id);
                }
            }
            Timer::MaxWait(id) => {
                // Judged on the contact's own wait and the queue's current limit, so a
                // stale timer (reused id, changed limit) does nothing.
                let expired = self.contacts.get(&id).is_some_and(|c| {
                    c.status == Status::Waiting
                        && self.queues.get(&c.spec.queue).is_some_and(|q| {
                            q.spec
                                .max_wait
                                .is_some_and(|m| now.since(c.enqueued_at) >= m)
                        })
                });
                if expired {
                    self.leave(id, Outcome::Expired);
                }
            }
            Timer::Retry(id) => {
                // The agents whose decline has run out may take the contact again; they,
                // not the contact, choose, so an older waiting contact still goes first.
                let freed: Vec<AgentId> = match self.contacts.get(&id) {
                    Some(c) if c.status == Status::Waiting => c
                        .declined
                        .iter()
                        .filter(|d| d.1 <= now)
                        .map(|d| d.0)
                        .collect(),
                    _ => Vec::new(),
                };
                if !freed.is_empty() {
                    self.unlist(id);
                    self.list_contact(id, false);
                    for agent in freed {
                        self.route_agent(agent);
                    }
                }
            }
        }
    }
}

/// Whether a strategy's ready keys are `(tier, group, idle_since)` with few groups, and so
/// suit FIFO groups (see `ReadyList`).
fn fifo_keys(strategy: Strategy) -> bool {
    matches!(strategy, Strategy::LongestIdle | Strategy::BestSkill)
}

/// An empty ready set for a queue of `strategy`: a best-skill queue's list of every ready
/// member is built only once a contact needs it (see [`Engine::keep_all`]).
fn ready_set(strategy: Strategy) -> ReadySet {
    ReadySet::new(fifo_keys(strategy), strategy == Strategy::BestSkill)
}

/// A best-skill queue's ordering of a ready member in its list for a skill the member has
/// at `proficiency`: higher proficiency first, then longest idle.
fn skill_rank(tier: u8, proficiency: u8) -> Rank {
    (tier, u32::from(u8::MAX - proficiency), true)
}

/// The proficiency a key of a skill's list files an agent under (see [`skill_rank`]).
fn proficiency_of(key: ReadyKey) -> u8 {
    u8::MAX.saturating_sub(u8::try_from(key.1).unwrap_or(u8::MAX))
}

/// The strategy's ordering of a ready member (lower is offered first), less its idle
/// time (see [`Rank`]). Counts and times saturate at `u32::MAX` (talk time counts in
/// milliseconds, 49 days), so that entries stay small (see [`ReadyEntry`]).
fn ready_rank(strategy: Strategy, m: &Membership, handled: u64, talk_us: u64, util: u64) -> Rank {
    let tier = m.tier;
    let at_most = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    match strategy {
        Strategy::RingAll | Strategy::Linear => (tier, m.order, false),
        Strategy::RoundRobin => (0, m.order, false),
        // Idle time last, so that agents of a tier form one FIFO group (see `ReadyList`).
        Strategy::LongestIdle | Strategy::BestSkill => (tier, 0, true),
        Strategy::FewestContacts => (tier, at_most(handled), true),
        Strategy::LeastTalkTime => (tier, at_most(talk_us / 1000), true),
        Strategy::LeastOccupied => (tier, at_most(util), true),
        // Drawn among all eligible agents at decision time (see `draw_agent`).
        Strategy::Random | Strategy::WeightedRandom => (tier, m.order, false),
    }
}

/// Expected wait with `ahead` contacts in front: each of the queue's staffed agents (counted
/// in shares when serving several queues) frees up once per average handle time, so the
/// next `ahead + 1` completions take `(ahead + 1) · AHT / staffed` on average.
fn estimate_wait(q: &Queue, ahead: u32) -> Option<Duration> {
    if q.staffed_milli <= 0 {
        return None;
    }
    let staffed = q.staffed_milli as f64 / 1000.0;
    let secs = f64::from(ahead + 1) * q.aht_s / staffed;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_ranks_count_talk_time_in_milliseconds_and_saturate() {
        let m = Membership {
            queue: QueueId(1),
            tier: 2,
            order: 7,
            weight: 1,
        };
        let talk = |us| ready_rank(Strategy::LeastTalkTime, &m, 0, us, 0);
        assert_eq!(talk(1_999), (2, 1, true));
        assert!(talk(5_000) < talk(6_000));
        assert_eq!(talk(u64::MAX), (2, u32::MAX, true));
        let handled = ready_rank(Strategy::FewestContacts, &m, 1 << 40, 0, 0);
        assert_eq!(handled, (2, u32::MAX, true));
        assert_eq!(ready_rank(Strategy::Linear, &m, 0, 0, 0), (2, 7, false));
        assert_eq!(skill_rank(2, 5), (2, 250, true));
        let entry = ReadyEntry::new(QueueId(1), ALL, talk(3_000));
        assert_eq!(entry.key(42), (2, 3, 42));
        let linear = ReadyEntry::new(QueueId(1), ALL, (2, 7, false));
        assert_eq!(linear.key(42), (2, 7, 0));
    }
}
