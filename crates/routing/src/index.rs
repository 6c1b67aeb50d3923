//! Ordered indices: ready agents per queue (by strategy key) and waiting contacts by
//! requirement class, so that no decision scans every agent or every contact.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU64;

use rustc_hash::FxHashMap;

use crate::model::{
    AgentId, Channel, ContactId, LanguageId, QueueId, SkillId, SkillRequirement, Timestamp,
};
use crate::small::Blank;

/// Orders waiting contacts: higher priority first, then earlier entry, then lower id.
pub(crate) type WaitKey = (Reverse<i32>, Timestamp, ContactId);

/// Orders ready agents within a queue: `(tier, strategy key, tie-break)`; lower is better.
pub(crate) type ReadyKey = (u8, u32, u64);

/// What an agent must offer to take a contact at its current escalation step, as seen from
/// one queue. Contacts with equal keys are interchangeable for eligibility, so a free agent
/// only needs to look at the head of each class it qualifies for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClassKey {
    /// The queue whose members may take these contacts.
    pub queue: QueueId,
    /// Effective requirements, sorted by skill.
    pub skills: Vec<SkillRequirement>,
    /// Required language, if still required.
    pub language: Option<LanguageId>,
    /// The channel (decides which capacity is needed).
    pub channel: Channel,
    /// Highest member tier allowed.
    pub max_tier: u8,
}

/// What a [`ClassKey`] asks of an agent, borrowed: a search reads a key through this, so
/// that a contact whose key is not built yet can be searched for with its needs put
/// together where they are (see `Engine::search_simple`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Need<'a> {
    /// The queue whose members may take the contact.
    pub queue: QueueId,
    /// Effective requirements, sorted by skill.
    pub skills: &'a [SkillRequirement],
    /// Required language, if still required.
    pub language: Option<LanguageId>,
    /// The channel (decides which capacity is needed).
    pub channel: Channel,
    /// Highest member tier allowed.
    pub max_tier: u8,
}

impl Need<'_> {
    /// Whether the contact requires `skill` (at any level).
    pub fn has_skill(&self, skill: SkillId) -> bool {
        self.skills.iter().any(|r| r.skill == skill)
    }
}

impl ClassKey {
    /// The key as a [`Need`].
    pub fn need(&self) -> Need<'_> {
        Need {
            queue: self.queue,
            skills: &self.skills,
            language: self.language,
            channel: self.channel,
            max_tier: self.max_tier,
        }
    }

    /// The key packed into one number, when it requires at most one skill (see
    /// [`simple_key`]).
    pub fn simple(&self) -> Option<u128> {
        match self.skills.as_slice() {
            [] => Some(simple_key(
                self.queue,
                None,
                self.language,
                self.channel,
                self.max_tier,
            )),
            [only] => Some(simple_key(
                self.queue,
                Some(*only),
                self.language,
                self.channel,
                self.max_tier,
            )),
            _ => None,
        }
    }
}

/// A [`ClassKey`] that requires at most one skill, packed into one number: two such keys
/// are equal exactly when their numbers are. Nearly every key is one of these, and hashing
/// and comparing a number is cheaper than hashing and comparing a key with its skill list
/// behind a pointer; it also lets the engine find a class without building the key.
pub(crate) fn simple_key(
    queue: QueueId,
    skill: Option<SkillRequirement>,
    language: Option<LanguageId>,
    channel: Channel,
    max_tier: u8,
) -> u128 {
    // Bits 0–31 queue, 32–63 skill, 64–71 its minimum, 72 whether there is a skill,
    // 73–104 language, 105 whether there is one, 106–108 channel, 109–116 tier limit.
    let skill = skill.map_or(0, |r| {
        u128::from(r.skill.0) << 32 | u128::from(r.min) << 64 | 1 << 72
    });
    let language = language.map_or(0, |l| u128::from(l.0) << 73 | 1 << 105);
    u128::from(queue.0) | skill | language | (channel as u128) << 106 | u128::from(max_tier) << 109
}

/// The members of a class in wait order, each with its decline flag.
///
/// Contacts of one priority join a class in the order they arrive, so nearly every insert
/// is an append and nearly every removal (an offer) takes the front: both O(1), where an
/// ordered tree pays a descent for each. A contact put back after a declined offer, or one
/// of a higher priority, is placed by binary search. A contact leaving from the middle
/// (abandon, withdraw) is only marked dead, and dead entries are dropped when they reach
/// either end or outnumber the live ones, so that no removal shifts a long line.
#[derive(Debug, Default)]
pub(crate) struct Members {
    /// Sorted by key; the first and last entries are always live.
    items: VecDeque<Member>,
    live: usize,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    key: WaitKey,
    /// The contact's slot in the engine's contact table (see [`Waiter::slot`]).
    slot: u32,
    declines: bool,
    live: bool,
}

/// A waiting contact as a class lists it: its wait key, whether it skips some agents, and
/// its slot in the engine's contact table, so that the engine reaches the record of the
/// contact it picks without hashing its id (the record is cold: it has waited long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiter {
    pub key: WaitKey,
    pub declines: bool,
    pub slot: u32,
}

impl Member {
    fn waiter(&self) -> Waiter {
        Waiter {
            key: self.key,
            declines: self.declines,
            slot: self.slot,
        }
    }
}

/// The slot recorded for a member added without one (unit tests).
#[cfg(test)]
const NO_SLOT: u32 = u32::MAX;

impl Members {
    pub fn len(&self) -> usize {
        self.live
    }

    /// The first live member and its decline flag.
    #[cfg(test)]
    pub fn first(&self) -> Option<(WaitKey, bool)> {
        self.items.front().map(|m| (m.key, m.declines))
    }

    /// The first live member.
    pub fn front(&self) -> Option<Waiter> {
        self.items.front().map(Member::waiter)
    }

    /// Live members in order, with their decline flags.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (WaitKey, bool)> {
        self.waiters().map(|w| (w.key, w.declines))
    }

    /// Live members in order.
    pub fn waiters(&self) -> impl Iterator<Item = Waiter> {
        self.items.iter().filter(|m| m.live).map(Member::waiter)
    }

    /// Adds a member (or updates the flag of one already there).
    #[cfg(test)]
    pub fn insert(&mut self, key: WaitKey, declines: bool) {
        self.add(Waiter {
            key,
            declines,
            slot: NO_SLOT,
        });
    }

    /// Where `key` is, or would go, searched for from the front. A member that does not
    /// go last (a higher priority, or one put back after a declined offer) nearly always
    /// goes near the front, where offers take contacts from and the cache holds the line:
    /// probing 1, 2, 4… places in brackets it there, where a binary search over the whole
    /// line would read a cold entry at every step.
    fn find_from_front(&self, key: &WaitKey) -> Result<usize, usize> {
        let n = self.items.len();
        let mut end = 1;
        while end < n && self.items[end - 1].key < *key {
            end *= 2;
        }
        // Every entry before `end / 2` is before `key`; the one at `end - 1`, if any, is not.
        let (mut lo, mut hi) = (end / 2, end.min(n));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.items[mid].key.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Equal => return Ok(mid),
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Err(lo)
    }

    /// Adds a member (or updates the flag and slot of one already there).
    pub fn add(&mut self, w: Waiter) {
        let Waiter {
            key,
            declines,
            slot,
        } = w;
        let member = Member {
            key,
            slot,
            declines,
            live: true,
        };
        if self.items.back().is_none_or(|b| b.key < key) {
            self.items.push_back(member);
            self.live += 1;
            return;
        }
        match self.find_from_front(&key) {
            Ok(i) => {
                if !self.items[i].live {
                    self.live += 1;
                }
                self.items[i] = member;
            }
            Err(i) => {
                self.items.insert(i, member);
                self.live += 1;
            }
        }
    }

    pub fn remove(&mut self, key: &WaitKey) {
        let i = if self.items.front().is_some_and(|m| m.key == *key) {
            0
        } else {
            match self.items.binary_search_by(|m| m.key.cmp(key)) {
                Ok(i) if self.items[i].live => i,
                _ => return,
            }
        };
        self.items[i].live = false;
        self.live -= 1;
        while self.items.front().is_some_and(|m| !m.live) {
            self.items.pop_front();
        }
        while self.items.back().is_some_and(|m| !m.live) {
            self.items.pop_back();
        }
        let dead = self.items.len() - self.live;
        if dead > 16 && dead > self.live {
            self.items.retain(|m| m.live);
        }
    }
}

/// Waiting contacts sharing one [`ClassKey`] in one queue.
///
/// Each member carries whether it skips some agents (it was declined or missed recently).
/// A contact's declines only change while it is out of every class, so the flag stays true
/// for as long as it is listed, and a free agent can take the head without looking up the
/// contact unless the head carries the flag.
#[derive(Debug)]
pub(crate) struct Class {
    pub key: ClassKey,
    pub members: Members,
}

/// What a free agent reads of a class while it looks for the best waiting contact, kept
/// apart from the class in one dense vector (see [`Classes::brief`]): an agent-side
/// decision reads a dozen classes, and reading these 40 bytes of each, instead of the
/// class with its key's skills behind a pointer, keeps the scan within a few cache lines.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Brief {
    /// The first member (`None` while the class is not live).
    pub head: Option<Waiter>,
    /// Highest member tier allowed ([`ClassKey::max_tier`]).
    pub max_tier: u8,
    /// The capacity slot of the class's channel.
    pub slot: u8,
    /// `Some(min)` when the class needs nothing but its bucket's skill at `min` or better
    /// (0 for the bucket of classes that need no skill), and no language: an agent found
    /// in the bucket qualifies by its proficiency alone. `None`: check the whole key.
    pub simple_min: Option<u8>,
}

impl Brief {
    fn of(key: &ClassKey) -> Brief {
        let simple_min = match (key.language, key.skills.as_slice()) {
            (Some(_), _) => None,
            (None, []) => Some(0),
            (None, [only]) => Some(only.min),
            (None, _) => None,
        };
        Brief {
            head: None,
            max_tier: key.max_tier,
            slot: key.channel.slot() as u8,
            simple_min,
        }
    }
}

/// All classes of all queues, with a per-queue lookup by key and by the skill an agent must
/// hold (the first requirement), so that an agent looks only at classes it may qualify for.
#[derive(Debug, Default)]
pub(crate) struct Classes {
    slots: Vec<Option<Class>>,
    /// The brief of each slot's class, at the same index.
    briefs: Vec<Brief>,
    free: Vec<usize>,
    /// The live classes whose keys require more than one skill, by key.
    by_key: FxHashMap<ClassKey, usize>,
    /// The others, by [`ClassKey::simple`].
    by_simple: FxHashMap<u128, usize>,
    /// The live classes of each queue that has had any (one lookup per queue an agent
    /// serves; a queue's entry is kept when it empties).
    by_queue: FxHashMap<QueueId, QueueClasses>,
    /// Counts the classes created and dropped (see [`Classes::epoch`]).
    epoch: u64,
}

/// The live classes of one queue.
#[derive(Debug, Default)]
pub(crate) struct QueueClasses {
    /// Every one: when a queue has few classes, an agent reads them all.
    pub all: Vec<usize>,
    /// By bucket: the first required skill (`None` for classes requiring none), sorted
    /// (`None` first), so that an agent finds the buckets of the skills it holds by walking
    /// its own sorted skills alongside. Empty buckets are dropped.
    pub buckets: Vec<(Option<SkillId>, Vec<usize>)>,
}

impl Classes {
    /// The class for `key`, if it is live.
    pub fn find(&self, key: &ClassKey) -> Option<usize> {
        match key.simple() {
            Some(simple) => self.find_simple(simple),
            None => self.by_key.get(key).copied(),
        }
    }

    /// The class whose key packs into `simple` ([`ClassKey::simple`]), if it is live.
    #[inline]
    pub fn find_simple(&self, simple: u128) -> Option<usize> {
        self.by_simple.get(&simple).copied()
    }

    /// Adds a waiting contact to the class `found` (from [`Classes::find`] for the same
    /// key) or, when there is none, to a new class for `key`.
    pub fn insert(&mut self, found: Option<usize>, key: &ClassKey, wait: Waiter) -> usize {
        let id = match found {
            Some(id) => id,
            None => {
                let queue = key.queue;
                let bucket = key.skills.first().map(|r| r.skill);
                let class = Class {
                    key: key.clone(),
                    members: Members::default(),
                };
                let brief = Brief::of(key);
                let id = match self.free.pop() {
                    Some(id) => {
                        self.slots[id] = Some(class);
                        self.briefs[id] = brief;
                        id
                    }
                    None => {
                        self.slots.push(Some(class));
                        self.briefs.push(brief);
                        self.slots.len() - 1
                    }
                };
                match key.simple() {
                    Some(simple) => {
                        self.by_simple.insert(simple, id);
                    }
                    None => {
                        self.by_key.insert(key.clone(), id);
                    }
                }
                self.epoch += 1;
                let of_queue = self.by_queue.entry(queue).or_default();
                of_queue.all.push(id);
                let buckets = &mut of_queue.buckets;
                match buckets.binary_search_by(|b| b.0.cmp(&bucket)) {
                    Ok(i) => buckets[i].1.push(id),
                    Err(i) => buckets.insert(i, (bucket, vec![id])),
                }
                id
            }
        };
        self.join(id, wait);
        id
    }

    /// Adds a waiting contact to the live class `id`.
    #[inline]
    pub fn join(&mut self, id: usize, wait: Waiter) {
        if let Some(class) = self.slots.get_mut(id).and_then(Option::as_mut) {
            class.members.add(wait);
            let head = &mut self.briefs[id].head;
            if head.is_none_or(|h| wait.key < h.key) {
                *head = Some(wait);
            }
        }
    }

    /// Removes a waiting contact from a class, dropping the class when it empties.
    pub fn remove(&mut self, id: usize, wait: &WaitKey) {
        let Some(class) = self.slots.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        class.members.remove(wait);
        if class.members.len() > 0 {
            let head = &mut self.briefs[id].head;
            if head.is_some_and(|h| h.key == *wait) {
                *head = class.members.front();
            }
            return;
        }
        let Some(class) = self.slots[id].take() else {
            return;
        };
        self.briefs[id].head = None;
        let bucket = class.key.skills.first().map(|r| r.skill);
        let queue = class.key.queue;
        if let Some(of_queue) = self.by_queue.get_mut(&queue) {
            of_queue.all.retain(|&c| c != id);
            let buckets = &mut of_queue.buckets;
            if let Ok(i) = buckets.binary_search_by(|b| b.0.cmp(&bucket)) {
                buckets[i].1.retain(|&c| c != id);
                if buckets[i].1.is_empty() {
                    buckets.remove(i);
                }
            }
        }
        match class.key.simple() {
            Some(simple) => self.by_simple.remove(&simple),
            None => self.by_key.remove(&class.key),
        };
        self.free.push(id);
        self.epoch += 1;
    }

    /// The live classes of `queue`, if it has ever had any.
    pub fn of_queue(&self, queue: QueueId) -> Option<&QueueClasses> {
        self.by_queue.get(&queue)
    }

    /// The live class `id`.
    pub fn get(&self, id: usize) -> Option<&Class> {
        self.slots.get(id).and_then(Option::as_ref)
    }

    /// The first waiting contact of the live class `id`.
    pub fn head_of(&self, id: usize) -> Option<Waiter> {
        self.briefs.get(id)?.head
    }

    /// The brief of class `id` (its head is `None` unless the class is live).
    pub fn brief(&self, id: usize) -> Option<&Brief> {
        self.briefs.get(id)
    }

    /// Changes whenever a class is created or dropped, so that what was worked out from
    /// the set of live classes (and their ids, which are reused) can tell it is stale.
    pub fn epoch(&self) -> NonZeroU64 {
        NonZeroU64::MIN.saturating_add(self.epoch)
    }

    /// Number of live (non-empty) classes.
    pub fn len(&self) -> usize {
        self.by_key.len() + self.by_simple.len()
    }
}

/// Ready agents of one queue, ordered by the queue's strategy key.
#[derive(Debug)]
pub(crate) struct ReadySet {
    /// Every ready member, while [`ReadySet::keeps_all`] (see [`ReadySet::new`]).
    all: ReadyList,
    /// Whether agents are filed in `all`.
    keeps_all: bool,
    /// Best-skill queues only: the skills contacts have been ranked on so far, sorted,
    /// each with the index in `lists` of its ready members by descending proficiency.
    /// Lists are kept when they empty (so that a skill whose last agent comes and goes
    /// does not reallocate its list each time), so an index stays valid for the life of
    /// the set and an entry remembers its own. Sorted, they are matched against an
    /// agent's sorted skills by walking both, without hashing.
    ranked: Vec<(SkillId, u32)>,
    lists: Vec<ReadyList>,
}

/// The list index of an entry in [`ReadySet::all`].
pub(crate) const ALL: u32 = u32::MAX;

/// Where an agent sits in the ready sets, so it can be taken out again: 16 bytes, so that
/// the entries an agent is filed under (often nine or more) take few cache lines. They
/// are read back each time it frees up again, long after they were written (see
/// `Agent::entries` in the engine).
///
/// The key's last part is not kept here: it is 0, or the idle time the agent was filed
/// with, which is the same for all of an agent's entries and kept once in its record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadyEntry {
    /// The key's second part (see [`Rank`]).
    mid: u32,
    pub queue: QueueId,
    /// [`ALL`], or the index of a skill's list in [`ReadySet`] (which identifies the skill
    /// for the life of the set).
    pub list: u32,
    /// Where the entry's FIFO group was in its list when it was last filed there: a
    /// hint, checked against the group's key before use (groups only move when one is
    /// created before them), so that filing it again costs no scan for the group.
    group: u16,
    /// The key's first part, the tier.
    tier: u8,
    /// Whether the key ends with the idle time (else with 0).
    by_idle: bool,
}

/// A ready member's place in a list, less the idle time: `(tier, middle part, whether
/// the key ends with the idle time)`. The [`ReadyKey`] is `(tier, middle, idle or 0)`.
pub(crate) type Rank = (u8, u32, bool);

impl Blank for ReadyEntry {
    const BLANK: Self = ReadyEntry {
        mid: 0,
        queue: QueueId(0),
        list: 0,
        group: 0,
        tier: 0,
        by_idle: false,
    };
}

impl ReadyEntry {
    pub fn new(queue: QueueId, list: u32, (tier, mid, by_idle): Rank) -> ReadyEntry {
        ReadyEntry {
            mid,
            queue,
            list,
            group: 0,
            tier,
            by_idle,
        }
    }

    /// The key, for an agent filed with idle time `idle`.
    #[inline(always)]
    pub fn key(&self, idle: u64) -> ReadyKey {
        (self.tier, self.mid, if self.by_idle { idle } else { 0 })
    }

    /// The key's first part.
    pub fn tier(&self) -> u8 {
        self.tier
    }

    /// Whether both entries file the agent under the same key (wherever it was stored),
    /// the first filed with idle time `idle`, the second with `other_idle`.
    pub fn same_place(&self, idle: u64, other: &ReadyEntry, other_idle: u64) -> bool {
        (self.queue, self.list, self.key(idle)) == (other.queue, other.list, other.key(other_idle))
    }
}

/// One filing of an agent in the ready sets: the agent's slot in the engine's agent table
/// and the ticket it was filed under (see [`Tickets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filing {
    pub slot: u32,
    pub ticket: u64,
}

/// Which filing of each agent is current, by the agent's table slot.
///
/// FIFO lists (see [`ReadyList`]) do not take an agent out when it stops being ready:
/// its entries stay where they are, and are dead from the moment its ticket is retired
/// here. Tickets come from one counter that never repeats, so an entry once dead stays
/// dead, whoever takes its slot later; a search skips dead entries (by reading this
/// dense vector, not the agent's record) and lists drop them in bulk now and then.
#[derive(Debug, Default)]
pub(crate) struct Tickets {
    /// The current ticket of each agent slot (0: not filed).
    current: Vec<u64>,
    /// The last ticket issued.
    issued: u64,
}

impl Tickets {
    /// A new ticket for the agent in `slot`, retiring its previous one.
    pub fn issue(&mut self, slot: usize) -> Filing {
        self.issued += 1;
        if self.current.len() <= slot {
            self.current.resize(slot + 1, 0);
        }
        self.current[slot] = self.issued;
        Filing {
            slot: slot as u32,
            ticket: self.issued,
        }
    }

    /// Retires the current ticket of the agent in `slot`: its FIFO entries are dead.
    pub fn retire(&mut self, slot: usize) {
        if let Some(t) = self.current.get_mut(slot) {
            *t = 0;
        }
    }

    /// The agent's current filing, if it has one.
    pub fn current(&self, slot: usize) -> Option<Filing> {
        match self.current.get(slot) {
            Some(&ticket) if ticket > 0 => Some(Filing {
                slot: slot as u32,
                ticket,
            }),
            _ => None,
        }
    }

    #[inline(always)]
    fn live(&self, slot: u32, ticket: u64) -> bool {
        self.current.get(slot as usize) == Some(&ticket)
    }
}

impl ReadySet {
    /// An empty set; `fifo` for strategies whose keys are `(tier, group, idle_since)` (see
    /// [`ReadyList`]).
    ///
    /// With `lazy_all` (best-skill queues, where nearly every contact is matched through
    /// the list of its first skill), agents are not filed in the list of every ready
    /// member until [`ReadySet::keep_all`] is called: the engine's entries for it are
    /// worked out and kept all the same, so that the list can be built from them when a
    /// contact first needs it.
    pub fn new(fifo: bool, lazy_all: bool) -> ReadySet {
        ReadySet {
            all: if fifo {
                ReadyList::fifo()
            } else {
                ReadyList::default()
            },
            keeps_all: !lazy_all,
            ranked: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// Every ready member; only while [`ReadySet::keeps_all`].
    pub fn all(&self) -> &ReadyList {
        debug_assert!(self.keeps_all, "the list of every ready member is not kept");
        &self.all
    }

    /// Whether agents are filed in the list of every ready member.
    #[inline]
    pub fn keeps_all(&self) -> bool {
        self.keeps_all
    }

    /// Starts filing agents in the list of every ready member; the caller files the
    /// ready ones (from now on the list is kept as the others are).
    pub fn keep_all(&mut self) {
        self.keeps_all = true;
    }

    /// The ready members with `skill`, if contacts have been ranked on it.
    pub fn with_skill(&self, skill: SkillId) -> Option<&ReadyList> {
        let i = self.ranked.binary_search_by(|r| r.0.cmp(&skill)).ok()?;
        self.lists.get(self.ranked[i].1 as usize)
    }

    /// The skills contacts have been ranked on, sorted, with their list indices.
    pub fn ranked(&self) -> &[(SkillId, u32)] {
        &self.ranked
    }

    /// Starts a list for `skill`; returns its index, or `None` if there is one already.
    pub fn rank(&mut self, skill: SkillId) -> Option<u32> {
        let i = self.ranked.binary_search_by(|r| r.0.cmp(&skill)).err()?;
        let list = self.lists.len() as u32;
        self.ranked.insert(i, (skill, list));
        self.lists.push(ReadyList::fifo());
        Some(list)
    }

    /// The list `list` ([`ALL`] or a skill's).
    fn list_mut(&mut self, list: u32) -> Option<&mut ReadyList> {
        match list {
            ALL => Some(&mut self.all),
            i => self.lists.get_mut(i as usize),
        }
    }

    /// Files an agent, idle since `idle`, in the list `entry` names, under `filing` (its
    /// current one); returns whether the list is a tree (whose entries must be removed
    /// one by one). Nothing is filed in the list of every ready member unless it is kept. The entry
    /// remembers where its FIFO group is, to be filed there again without a scan.
    #[inline]
    pub fn insert(
        &mut self,
        agent: AgentId,
        entry: &mut ReadyEntry,
        idle: u64,
        filing: Filing,
        tickets: &Tickets,
    ) -> bool {
        if entry.list == ALL && !self.keeps_all {
            return false;
        }
        let key = entry.key(idle);
        match self.list_mut(entry.list) {
            Some(list) => list.insert((key, agent), filing, tickets, &mut entry.group),
            None => false,
        }
    }

    /// Takes an agent, filed with idle time `idle`, out of a tree list; FIFO lists drop
    /// the entries of retired tickets by themselves (see [`Tickets`]).
    pub fn remove(&mut self, agent: AgentId, entry: ReadyEntry, idle: u64) {
        let key = entry.key(idle);
        if let Some(list) = self.list_mut(entry.list) {
            list.remove((key, agent));
        }
    }
}

/// Ready agents in key order, as a B-tree or as FIFO groups.
///
/// Every offer takes an agent out of the lists of each queue it serves (mostly from the
/// middle) and files it back later, so these updates dominate routing. For longest-idle
/// and best-skill keys, `(tier, group, idle_since)`, an agent is nearly always filed back
/// behind every other agent of its group (its idle time starts now), and groups (tiers ×
/// proficiency levels) are few. Each group is then a vector in `(idle_since, agent)`
/// order: filing at the end is a push onto a line the cache mostly holds already, and
/// taking an agent out costs nothing here: its ticket is retired (see [`Tickets`]), and
/// its dead entries are skipped by searches (reading on along the vector, not chasing
/// cold neighbours) and dropped when they reach the front or, in bulk, when a group has
/// doubled since it was last swept. An entry that belongs elsewhere is placed by binary
/// search. Keys that move freely (counters, round-robin ranges) stay in the tree.
#[derive(Debug)]
pub(crate) enum ReadyList {
    Tree(BTreeSet<(ReadyKey, AgentId)>),
    Fifo(Fifo),
}

impl Default for ReadyList {
    fn default() -> Self {
        ReadyList::Tree(BTreeSet::new())
    }
}

/// FIFO groups, sorted by group key `(key.0, key.1)`; empty groups are kept (they are
/// few).
#[derive(Debug, Default)]
pub(crate) struct Fifo {
    groups: Vec<Group>,
}

/// The entries, live and dead, of the ready agents sharing `(key.0, key.1)`, in
/// `(key.2, agent)` order. A group takes one cache line: filing an agent reads all of it.
#[derive(Debug)]
#[repr(align(64))]
struct Group {
    key: (u8, u32),
    entries: Vec<Filed>,
    /// Entries before this one are dead; searches move it past dead entries they find at
    /// the front (a search only reads the engine, hence the cell).
    head: Cell<usize>,
    /// The number of entries after the last sweep: the next one comes once the group
    /// has doubled, so that sweeping costs O(1) per entry filed.
    swept: usize,
    /// The rank of the last entry, when there is one: filing an agent compares against
    /// it without reading the entries' end, which is rarely in the cache.
    last: (u64, AgentId),
}

/// A FIFO entry: the key's last part, the agent, and the filing it belongs to.
#[derive(Debug, Clone, Copy)]
struct Filed {
    idle: u64,
    ticket: u64,
    agent: AgentId,
    slot: u32,
}

impl Filed {
    /// The entry's order within its group.
    fn rank(&self) -> (u64, AgentId) {
        (self.idle, self.agent)
    }
}

/// Entries a group may hold beyond twice its size after the last sweep.
const SWEEP_SLACK: usize = 32;

impl Group {
    /// Drops every dead entry, keeping the order of the others.
    fn sweep(&mut self, tickets: &Tickets) {
        let head = self.head.get();
        let mut i = 0;
        self.entries.retain(|e| {
            i += 1;
            i > head && tickets.live(e.slot, e.ticket)
        });
        self.head.set(0);
        self.swept = self.entries.len();
        if let Some(e) = self.entries.last() {
            self.last = e.rank();
        }
    }

    /// Whether `rank` belongs after every entry from the head on.
    #[inline(always)]
    fn goes_last(&self, rank: (u64, AgentId)) -> bool {
        self.head.get() == self.entries.len() || self.last < rank
    }

    /// Files an entry at the end.
    #[inline(always)]
    fn push(&mut self, filed: Filed) {
        self.last = filed.rank();
        self.entries.push(filed);
    }
}

impl Fifo {
    /// The index of group `key`, or where it would go: groups are few (tiers ×
    /// proficiency levels), so a scan from the front beats a binary search.
    fn group(&self, key: (u8, u32)) -> Result<usize, usize> {
        for (i, g) in self.groups.iter().enumerate() {
            if g.key >= key {
                return if g.key == key { Ok(i) } else { Err(i) };
            }
        }
        Err(self.groups.len())
    }

    /// Files an entry: nearly always at the end of a group that exists and needs no
    /// sweep, which is done here (inlined into the caller); anything else is left to
    /// [`Fifo::insert_elsewhere`]. `hint` is where the group was last time (see
    /// [`ReadyEntry`]); it is set to where the group is now.
    #[inline]
    fn insert(
        &mut self,
        item: (ReadyKey, AgentId),
        filing: Filing,
        tickets: &Tickets,
        hint: &mut u16,
    ) {
        let gk = (item.0.0, item.0.1);
        let found = match self.groups.get(usize::from(*hint)) {
            Some(g) if g.key == gk => Ok(usize::from(*hint)),
            _ => self.group(gk),
        };
        if let Ok(gi) = found {
            *hint = gi as u16;
            let group = &mut self.groups[gi];
            let filed = Filed {
                idle: item.0.2,
                ticket: filing.ticket,
                agent: item.1,
                slot: filing.slot,
            };
            if group.entries.len() < 2 * group.swept + SWEEP_SLACK && group.goes_last(filed.rank())
            {
                group.push(filed);
                return;
            }
        }
        *hint = self.insert_elsewhere(item, filing, tickets);
    }

    /// [`Fifo::insert`] for an entry that needs a new group, a sweep first, or a place
    /// before the end of its group; returns the index of the group (as a hint, see
    /// [`ReadyEntry`]).
    #[cold]
    #[inline(never)]
    fn insert_elsewhere(
        &mut self,
        item: (ReadyKey, AgentId),
        filing: Filing,
        tickets: &Tickets,
    ) -> u16 {
        let gk = (item.0.0, item.0.1);
        let gi = match self.group(gk) {
            Ok(i) => i,
            Err(i) => {
                let group = Group {
                    key: gk,
                    entries: Vec::new(),
                    head: Cell::new(0),
                    swept: 0,
                    last: (0, AgentId(0)),
                };
                self.groups.insert(i, group);
                i
            }
        };
        let group = &mut self.groups[gi];
        if group.entries.len() >= 2 * group.swept + SWEEP_SLACK {
            group.sweep(tickets);
        }
        let filed = Filed {
            idle: item.0.2,
            ticket: filing.ticket,
            agent: item.1,
            slot: filing.slot,
        };
        let r = filed.rank();
        let head = group.head.get();
        // Nearly every agent goes last; one that belongs elsewhere is placed by binary
        // search among the entries from the head on (sorted, dead ones included).
        // A hint that does not fit is only a scan more the next time.
        let hint = gi as u16;
        if group.goes_last(r) {
            group.push(filed);
            return hint;
        }
        let at = head + group.entries[head..].partition_point(|e| e.rank() < r);
        // The same agent under the same key and filing is there already: nothing to do.
        if group.entries[at..]
            .iter()
            .take_while(|e| e.rank() == r)
            .any(|e| e.slot == filed.slot && e.ticket == filed.ticket)
        {
            return hint;
        }
        group.entries.insert(at, filed);
        hint
    }
}

impl ReadyList {
    /// An empty list of FIFO groups.
    pub fn fifo() -> ReadyList {
        ReadyList::Fifo(Fifo::default())
    }

    /// Adds an entry under `filing` (its agent's current one); returns whether the list
    /// is a tree. `hint` is where the entry's FIFO group was last time (see
    /// [`ReadyEntry`]), and is set to where it is now.
    #[inline]
    pub fn insert(
        &mut self,
        item: (ReadyKey, AgentId),
        filing: Filing,
        tickets: &Tickets,
        hint: &mut u16,
    ) -> bool {
        match self {
            ReadyList::Tree(set) => {
                set.insert(item);
                true
            }
            ReadyList::Fifo(fifo) => {
                fifo.insert(item, filing, tickets, hint);
                false
            }
        }
    }

    /// Removes an entry from a tree (FIFO entries die with their ticket).
    pub fn remove(&mut self, item: (ReadyKey, AgentId)) {
        if let ReadyList::Tree(set) = self {
            set.remove(&item);
        }
    }

    /// Live entries in key order (`tickets` tells the live from the dead).
    pub fn iter<'a>(&'a self, tickets: &'a Tickets) -> ReadyIter<'a> {
        match self {
            ReadyList::Tree(set) => ReadyIter::Tree(set.iter()),
            ReadyList::Fifo(fifo) => ReadyIter::Fifo {
                fifo,
                tickets,
                group: 0,
                at: fifo.groups.first().map_or(0, |g| g.head.get()),
            },
        }
    }
}

/// Iterator over a [`ReadyList`], in key order.
pub(crate) enum ReadyIter<'a> {
    Tree(std::collections::btree_set::Iter<'a, (ReadyKey, AgentId)>),
    Fifo {
        fifo: &'a Fifo,
        tickets: &'a Tickets,
        group: usize,
        /// The next entry of the group to read.
        at: usize,
    },
}

impl Iterator for ReadyIter<'_> {
    type Item = (ReadyKey, AgentId);

    #[inline]
    fn next(&mut self) -> Option<(ReadyKey, AgentId)> {
        match self {
            ReadyIter::Tree(it) => it.next().copied(),
            ReadyIter::Fifo {
                fifo,
                tickets,
                group,
                at,
            } => loop {
                let g = fifo.groups.get(*group)?;
                // The rest of the group in one pass (searches skip runs of dead entries).
                let from = *at;
                for (i, e) in g.entries.get(from..).unwrap_or_default().iter().enumerate() {
                    if tickets.live(e.slot, e.ticket) {
                        *at = from + i + 1;
                        return Some(((g.key.0, g.key.1, e.idle), e.agent));
                    }
                    // A dead entry at the front is dropped for every later search.
                    if g.head.get() == from + i {
                        g.head.set(from + i + 1);
                    }
                }
                *group += 1;
                *at = fifo.groups.get(*group).map_or(0, |g| g.head.get());
            },
        }
    }
}

/// The waiting contacts of one home queue, with counts per priority so that a newcomer's
/// position costs one step per priority level, not per contact. A listed contact's
/// position is counted on demand (announcements), one step per waiting contact.
///
/// The keys sit in a slab: each listed contact keeps its slot (see [`Line::add`]), so
/// that listing reuses the slot freed last (warm in the cache) and unlisting touches one
/// entry, where a hash map from contact to key costs a cold probe for each.
#[derive(Debug, Default)]
pub(crate) struct Line {
    slots: Vec<Option<WaitKey>>,
    /// Freed slots, the most recently freed last (reused first).
    free: Vec<u32>,
    len: usize,
    /// (priority, count), highest priority first; queues use few distinct priorities.
    per_priority: Vec<(i32, u32)>,
}

impl Line {
    /// Adds a key that is not listed yet; returns its slot, needed to take it out.
    pub fn add(&mut self, key: WaitKey) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(key);
                slot
            }
            None => {
                self.slots.push(Some(key));
                (self.slots.len() - 1) as u32
            }
        };
        self.len += 1;
        let p = key.0.0;
        match self.per_priority.binary_search_by(|e| p.cmp(&e.0)) {
            Ok(i) => self.per_priority[i].1 += 1,
            Err(i) => self.per_priority.insert(i, (p, 1)),
        }
        slot
    }

    /// Takes out the key listed in `slot` by [`Line::add`] (nothing if another is there).
    pub fn take(&mut self, slot: u32, key: &WaitKey) {
        match self.slots.get_mut(slot as usize) {
            Some(entry) if entry.as_ref() == Some(key) => *entry = None,
            _ => return,
        }
        self.free.push(slot);
        self.len -= 1;
        let p = key.0.0;
        if let Ok(i) = self.per_priority.binary_search_by(|e| p.cmp(&e.0)) {
            self.per_priority[i].1 -= 1;
            if self.per_priority[i].1 == 0 {
                self.per_priority.remove(i);
            }
        }
    }

    /// Adds a key unless it is listed already (finding it costs a scan: tests only).
    #[cfg(test)]
    pub fn insert(&mut self, key: WaitKey) {
        if !self.keys().any(|k| k.2 == key.2) {
            self.add(key);
        }
    }

    /// Takes out a key wherever it is (finding it costs a scan: tests only).
    #[cfg(test)]
    pub fn remove(&mut self, key: &WaitKey) {
        if let Some(slot) = self.slots.iter().position(|k| k.as_ref() == Some(key)) {
            self.take(slot as u32, key);
        }
    }

    fn keys(&self) -> impl Iterator<Item = &WaitKey> {
        self.slots.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The waiting contacts, in service order.
    pub fn contacts(&self) -> Vec<ContactId> {
        let mut keys: Vec<&WaitKey> = self.keys().collect();
        keys.sort_unstable();
        keys.into_iter().map(|w| w.2).collect()
    }

    /// Contacts a newcomer of `priority` finds ahead: all of equal or higher priority.
    pub fn ahead_of_newcomer(&self, priority: i32) -> u32 {
        self.per_priority
            .iter()
            .take_while(|e| e.0 >= priority)
            .map(|e| e.1)
            .sum()
    }

    /// Contacts ahead of a listed one.
    pub fn ahead_of(&self, key: &WaitKey) -> u32 {
        self.keys().filter(|k| *k < key).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_by_priority() {
        let mut line = Line::default();
        let key = |p, t, id| (Reverse(p), Timestamp(t), ContactId(id));
        for (p, t, id) in [(0, 1, 1), (5, 2, 2), (0, 3, 3), (1, 4, 4)] {
            line.insert(key(p, t, id));
        }
        line.insert(key(0, 1, 1));
        assert_eq!(line.len(), 4, "inserting twice changes nothing");
        assert_eq!(line.ahead_of_newcomer(0), 4);
        assert_eq!(line.ahead_of_newcomer(1), 2);
        assert_eq!(line.ahead_of_newcomer(9), 0);
        assert_eq!(line.ahead_of(&key(0, 3, 3)), 3);
        line.remove(&key(5, 2, 2));
        line.remove(&key(5, 2, 2));
        assert_eq!(line.ahead_of_newcomer(1), 1);
        assert_eq!(line.ahead_of(&key(0, 3, 3)), 2);
    }

    #[test]
    fn simple_keys_differ_when_keys_do() {
        // Keys that differ in any one part, with no skill or one, pack into different
        // numbers; the same key packs into the same number; two skills do not pack.
        let base = ClassKey {
            queue: QueueId(7),
            skills: vec![SkillRequirement {
                skill: SkillId(3),
                min: 2,
            }],
            language: None,
            channel: Channel::Voice,
            max_tier: 1,
        };
        let mut keys = vec![base.clone()];
        let mut vary = |f: &dyn Fn(&mut ClassKey)| {
            let mut k = base.clone();
            f(&mut k);
            keys.push(k);
        };
        vary(&|k| k.queue = QueueId(u32::MAX));
        vary(&|k| k.skills[0].skill = SkillId(u32::MAX));
        vary(&|k| k.skills[0].min = u8::MAX);
        vary(&|k| k.skills.clear());
        vary(&|k| k.language = Some(LanguageId(0)));
        vary(&|k| k.language = Some(LanguageId(u16::MAX)));
        vary(&|k| k.channel = Channel::Callback);
        vary(&|k| k.channel = Channel::Sms);
        vary(&|k| k.max_tier = u8::MAX);
        vary(&|k| {
            k.skills.clear();
            k.queue = QueueId(0);
            k.max_tier = 0;
        });
        let codes: Vec<u128> = keys.iter().filter_map(ClassKey::simple).collect();
        assert_eq!(codes.len(), keys.len());
        for (i, a) in codes.iter().enumerate() {
            assert_eq!(codes.iter().filter(|b| *b == a).count(), 1, "key {i}");
        }
        assert_eq!(base.clone().simple(), base.simple());
        let mut two = base.clone();
        two.skills.push(SkillRequirement {
            skill: SkillId(4),
            min: 1,
        });
        assert_eq!(two.simple(), None);
    }

    #[test]
    fn members_keep_wait_order() {
        let key = |p, t, id| (Reverse(p), Timestamp(t), ContactId(id));
        let mut m = Members::default();
        for (p, t, id) in [(0, 1, 1), (0, 2, 2), (1, 3, 3), (0, 0, 9), (0, 2, 2)] {
            m.insert(key(p, t, id), id == 9);
        }
        assert_eq!(m.len(), 4, "inserting twice changes nothing");
        let order: Vec<u64> = m.iter().map(|(w, _)| w.2.0).collect();
        assert_eq!(order, [3, 9, 1, 2]);
        m.remove(&key(0, 1, 1));
        m.remove(&key(0, 1, 1));
        assert_eq!(m.len(), 3);
        m.remove(&key(1, 3, 3));
        assert_eq!(m.first(), Some((key(0, 0, 9), true)));
        m.insert(key(0, 1, 1), false);
        let order: Vec<u64> = m.iter().map(|(w, _)| w.2.0).collect();
        assert_eq!(order, [9, 1, 2]);
        for (w, _) in m.iter().collect::<Vec<_>>() {
            m.remove(&w);
        }
        assert_eq!((m.len(), m.first()), (0, None));
    }

    #[test]
    fn members_match_a_sorted_list() {
        // Contacts of four priorities, arriving out of order now and then, added, added
        // again and removed at random: the live members always read back in key order,
        // as a sorted list of them does, whether each went last, first or in between.
        let mut m = Members::default();
        let mut reference: Vec<WaitKey> = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = (x % 4 == 0) as i32 + (x % 16 == 0) as i32 + (x % 64 == 0) as i32;
            let t = if x % 8 == 0 {
                step - (x >> 8) % step.max(1)
            } else {
                step
            };
            let key = (Reverse(p), Timestamp(t), ContactId((x >> 20) % 500));
            if (x >> 40) % 3 == 0 {
                if let Some(&old) = reference.get((x >> 12) as usize % reference.len().max(1)) {
                    m.remove(&old);
                    reference.retain(|k| *k != old);
                }
            } else {
                m.insert(key, false);
                if let Err(i) = reference.binary_search(&key) {
                    reference.insert(i, key);
                }
            }
            let live: Vec<WaitKey> = m.iter().map(|(k, _)| k).collect();
            assert_eq!(live, reference, "step {step}");
            assert_eq!(m.len(), reference.len());
        }
    }

    #[test]
    fn fifo_groups_match_a_tree() {
        // Agents filed (each under a new ticket), re-filed and unfiled at random in two
        // FIFO lists at once, with a few groups, idle times out of order and repeated
        // keys (so dead entries with the same key as a live one), must always read back
        // as trees of the live entries do; partial searches move group heads, and enough
        // churn makes groups sweep themselves.
        const AGENTS: usize = 12;
        const LISTS: usize = 3;
        let mut tickets = Tickets::default();
        // The third list is searched only now and then, so its dead entries are dropped by
        // sweeps rather than as they reach the front.
        let mut fifos = [ReadyList::fifo(), ReadyList::fifo(), ReadyList::fifo()];
        let mut trees = [
            ReadyList::default(),
            ReadyList::default(),
            ReadyList::default(),
        ];
        // The current item of each agent in each list, if filed there.
        let mut filed: [[Option<(ReadyKey, AgentId)>; LISTS]; AGENTS] = [[None; LISTS]; AGENTS];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut sweeps = 0;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x >> 16) as usize % AGENTS;
            let agent = AgentId(slot as u32 * 7 % 5 + slot as u32);
            for (list, tree) in trees.iter_mut().enumerate() {
                if let Some(item) = filed[slot][list].take() {
                    tree.remove(item);
                }
            }
            tickets.retire(slot);
            if x % 4 != 0 {
                let filing = tickets.issue(slot);
                for list in 0..LISTS {
                    if (x >> (40 + list)) & 1 == 0 {
                        continue;
                    }
                    let item = (
                        ((x >> 4) % 2) as u8,
                        ((x >> 6) % 3) as u32,
                        // Mostly rising idle times, some from the past.
                        if (x >> 20) % 4 == 0 {
                            (x >> 24) % 50
                        } else {
                            step
                        },
                    );
                    let item = (item, agent);
                    // Any hint will do, right or wrong: it is checked before use.
                    let mut hint = ((x >> 30) % 4) as u16;
                    fifos[list].insert(item, filing, &tickets, &mut hint);
                    if x % 7 == 0 {
                        // Filing the same item twice under one ticket keeps one.
                        fifos[list].insert(item, filing, &tickets, &mut hint);
                    }
                    trees[list].insert(item, filing, &tickets, &mut hint);
                    filed[slot][list] = Some(item);
                }
            }
            for list in 0..LISTS {
                if list == 2 && step % 1000 != 0 {
                    continue;
                }
                // A search that stops early (the head moves past dead entries only).
                let take = (x >> 50) as usize % 3;
                assert!(
                    fifos[list]
                        .iter(&tickets)
                        .take(take)
                        .eq(trees[list].iter(&tickets).take(take))
                );
                assert!(fifos[list].iter(&tickets).eq(trees[list].iter(&tickets)));
            }
            for fifo in &fifos {
                if let ReadyList::Fifo(fifo) = fifo {
                    for g in &fifo.groups {
                        assert!(g.entries.len() < 2 * AGENTS + SWEEP_SLACK + 1);
                        sweeps += usize::from(g.swept > 0);
                    }
                }
            }
        }
        assert!(sweeps > 0, "groups swept themselves");
    }
}
