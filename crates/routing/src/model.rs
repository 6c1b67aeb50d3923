//! Identifiers, time, channels, capacity and the configuration types the engine is fed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An agent, numbered by whoever configures the engine (the store, the simulator).
    AgentId(u32)
);
id_type!(
    /// A queue: a view over the one pool of waiting contacts.
    QueueId(u32)
);
id_type!(
    /// A contact (call, callback, chat, email, SMS), numbered by the channel edge.
    ContactId(u64)
);
id_type!(
    /// A skill; names are mapped to numbers outside the engine.
    SkillId(u32)
);
id_type!(
    /// A language; names are mapped to numbers outside the engine.
    LanguageId(u16)
);
id_type!(
    /// One offer (reservation) of a contact to an agent; numbered by the engine.
    OfferId(u64)
);

/// A point in time, in microseconds since an epoch chosen by the driver.
///
/// The live server uses the Unix epoch; the simulator starts at zero. The engine never reads
/// a clock: every input carries one of these.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp from seconds since the epoch (fractions kept to the microsecond).
    pub fn from_secs_f64(secs: f64) -> Timestamp {
        Timestamp((secs.max(0.0) * 1e6).round() as u64)
    }

    /// Seconds since the epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// This time plus a duration (saturating).
    pub fn after(self, d: Duration) -> Timestamp {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }
}

/// A reason an agent gave for being away ("lunch", "training"), or that the engine gave.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReasonCode(pub Arc<str>);

impl ReasonCode {
    /// A reason code from any string.
    pub fn new(code: &str) -> ReasonCode {
        ReasonCode(Arc::from(code))
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The media a contact arrives on. Channels differ only in which capacity they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A live phone call.
    Voice,
    /// A call back to a customer who left the queue but kept their place; uses voice capacity.
    Callback,
    /// A web or messaging chat.
    Chat,
    /// An email.
    Email,
    /// A text message conversation.
    Sms,
}

impl Channel {
    /// Every channel, in slot order.
    pub const ALL: [Channel; 5] = [
        Channel::Voice,
        Channel::Callback,
        Channel::Chat,
        Channel::Email,
        Channel::Sms,
    ];

    /// Index of the capacity slot this channel uses (callbacks use voice capacity).
    pub(crate) fn slot(self) -> usize {
        match self {
            Channel::Voice | Channel::Callback => 0,
            Channel::Chat => 1,
            Channel::Email => 2,
            Channel::Sms => 3,
        }
    }
}

/// How many contacts an agent may hold at once, per channel and in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    /// Concurrent voice and callback contacts (usually 1).
    pub voice: u8,
    /// Concurrent chats.
    pub chat: u8,
    /// Concurrent emails.
    pub email: u8,
    /// Concurrent SMS conversations.
    pub sms: u8,
    /// Limit across all channels together.
    pub total: u8,
    /// A voice contact blocks every other channel, and any other contact blocks voice.
    pub voice_exclusive: bool,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            voice: 1,
            chat: 0,
            email: 0,
            sms: 0,
            total: 1,
            voice_exclusive: true,
        }
    }
}

impl Capacity {
    #[cfg(test)]
    fn limit(&self, slot: usize) -> u8 {
        [self.voice, self.chat, self.email, self.sms][slot]
    }

    /// Whether one more contact on `channel` fits next to what is `in_use` (per slot).
    #[cfg(test)]
    pub(crate) fn fits(&self, in_use: &[u8; 4], channel: Channel) -> bool {
        self.fits_slot(in_use, channel.slot())
    }

    /// Whether one more contact using capacity slot `slot` (see [`Channel::slot`]) fits:
    /// the rule [`Capacity::room`] applies to every slot at once, one slot at a time.
    #[cfg(test)]
    pub(crate) fn fits_slot(&self, in_use: &[u8; 4], slot: usize) -> bool {
        let total: u32 = in_use.iter().map(|&n| u32::from(n)).sum();
        if in_use[slot] >= self.limit(slot) || total >= u32::from(self.total) {
            return false;
        }
        match (self.voice_exclusive, slot) {
            (false, _) => true,
            (true, 0) => total == 0,
            (true, _) => in_use[0] == 0,
        }
    }

    /// Whether one more contact fits next to what is `in_use`, for every capacity slot
    /// (see [`Channel::slot`]) at once: bit `s` is set when one more contact using slot
    /// `s` fits, so 0 means no contact at all fits. A contact fits when neither its
    /// slot's limit nor the total is reached and, with `voice_exclusive`, it is voice
    /// into an agent holding nothing or another channel next to no voice.
    pub(crate) fn room(&self, in_use: &[u8; 4]) -> u8 {
        let total: u32 = in_use.iter().map(|&n| u32::from(n)).sum();
        if total >= u32::from(self.total) {
            return 0;
        }
        let mut room = u8::from(in_use[0] < self.voice)
            | u8::from(in_use[1] < self.chat) << 1
            | u8::from(in_use[2] < self.email) << 2
            | u8::from(in_use[3] < self.sms) << 3;
        if self.voice_exclusive {
            // Voice only into an empty agent; nothing else next to voice.
            if total > 0 {
                room &= !1;
            }
            if in_use[0] > 0 {
                room &= 1;
            }
        }
        room
    }

    /// Units in use as a share of total capacity, in thousandths (for least-occupied).
    pub(crate) fn utilisation_permille(&self, in_use: &[u8; 4]) -> u64 {
        let total: u64 = in_use.iter().map(|&n| u64::from(n)).sum();
        if self.total == 0 {
            return 1000;
        }
        total * 1000 / u64::from(self.total)
    }
}

/// How a queue picks an agent for a newly arrived contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Offer to every eligible agent at once; the first to accept wins, the rest are revoked.
    RingAll,
    /// Always in membership order (tier, then order): the first free agent from the top.
    Linear,
    /// Membership order, starting after the agent who got the previous contact.
    RoundRobin,
    /// The agent who has been idle longest.
    LongestIdle,
    /// The agent who has handled the fewest contacts since logging in.
    FewestContacts,
    /// The agent with the least talk time since logging in.
    LeastTalkTime,
    /// A uniformly random eligible agent.
    Random,
    /// A random eligible agent, chosen with probability proportional to membership weight.
    WeightedRandom,
    /// Highest proficiency in the contact's first required skill, then longest idle.
    BestSkill,
    /// Lowest share of capacity in use across channels, then longest idle.
    LeastOccupied,
}

/// What happens when a contact ends: the after-call work an agent gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapUp {
    /// No after-call work; the agent is free again at once.
    None,
    /// After-call work that ends by itself after this long (or earlier, by the agent).
    Timed(Duration),
    /// After-call work that only the agent ends.
    Manual,
}

/// One change applied to waiting contacts once they have waited long enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// Lower every required skill minimum by this much (to zero = no longer required).
    RelaxSkills(u8),
    /// Let members up to this tier take the contact.
    ExpandTier(u8),
    /// Let the members of another queue take the contact too.
    Overflow(QueueId),
    /// Raise the contact's priority by this much.
    RaisePriority(i32),
    /// Stop requiring the contact's language.
    DropLanguage,
}

/// A set of escalations that applies once a contact has waited `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    /// Wait time (since entering the queue) at which this step applies.
    pub after: Duration,
    /// What changes.
    pub actions: Vec<Escalation>,
}

/// A queue's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSpec {
    /// How an agent is picked for a new contact.
    pub strategy: Strategy,
    /// How long an offer rings before it goes to someone else.
    pub ring_timeout: Duration,
    /// How long an agent who declined or missed a contact is skipped for it.
    pub retry_declined_after: Duration,
    /// After-call work for contacts answered from this queue.
    pub wrap_up: WrapUp,
    /// Relative importance when a free agent chooses between queues: waits are multiplied by it.
    pub weight: u32,
    /// Members with a higher tier than this cannot take contacts until an escalation expands it.
    pub initial_tier: u8,
    /// Time-based escalation steps, in increasing `after` order.
    pub escalation: Vec<EscalationStep>,
    /// Contacts that have waited this long leave the queue (the flow's fallback takes over).
    pub max_wait: Option<Duration>,
    /// Average handle time (talk + hold + wrap-up) assumed for wait estimates before any
    /// contact of this queue has been handled.
    pub aht_hint: Duration,
}

impl Default for QueueSpec {
    fn default() -> Self {
        QueueSpec {
            strategy: Strategy::LongestIdle,
            ring_timeout: Duration::from_secs(20),
            retry_declined_after: Duration::from_secs(60),
            wrap_up: WrapUp::None,
            weight: 1,
            initial_tier: u8::MAX,
            escalation: Vec::new(),
            max_wait: None,
            aht_hint: Duration::from_secs(180),
        }
    }
}

/// An agent's place in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The queue.
    pub queue: QueueId,
    /// 1 is the first tier; higher tiers are preferred less, and may be held back by
    /// [`QueueSpec::initial_tier`] until an escalation expands it.
    pub tier: u8,
    /// Position in linear and round-robin order (lower first).
    pub order: u32,
    /// Weight for weighted-random selection.
    pub weight: u32,
}

/// An agent's profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentSpec {
    /// Skills with proficiency (any scale that fits a byte: 1–5, 0–100…; higher is better).
    pub skills: Vec<(SkillId, u8)>,
    /// Languages the agent speaks.
    pub languages: Vec<LanguageId>,
    /// What the agent can hold at once.
    pub capacity: Capacity,
    /// Queues served.
    pub queues: Vec<Membership>,
    /// Put the agent away after this many offers in a row went unanswered.
    pub auto_away_after_missed: Option<u32>,
}

/// A required skill and the minimum proficiency for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SkillRequirement {
    /// The skill.
    pub skill: SkillId,
    /// Lowest acceptable proficiency.
    pub min: u8,
}

/// A contact to be routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactSpec {
    /// The channel it arrived on.
    pub channel: Channel,
    /// The queue it waits in.
    pub queue: QueueId,
    /// Higher is served first.
    pub priority: i32,
    /// Skills an agent must have. The first is the primary skill (best-skill ranks on it).
    pub skills: Vec<SkillRequirement>,
    /// Language an agent must speak.
    pub language: Option<LanguageId>,
    /// Agents to wait for first (last agent, account owner).
    pub preferred_agents: Vec<AgentId>,
    /// How long to wait for a preferred agent before anyone eligible will do.
    pub preferred_for: Duration,
    /// Anything else the edge wants carried with the contact (segment, case number…).
    pub attributes: BTreeMap<String, String>,
}

impl ContactSpec {
    /// A contact on `channel` for `queue` with no requirements.
    pub fn new(channel: Channel, queue: QueueId) -> ContactSpec {
        ContactSpec {
            channel,
            queue,
            priority: 0,
            skills: Vec::new(),
            language: None,
            preferred_agents: Vec::new(),
            preferred_for: Duration::ZERO,
            attributes: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_is_exclusive_by_default() {
        let cap = Capacity {
            voice: 1,
            chat: 3,
            email: 2,
            sms: 0,
            total: 4,
            voice_exclusive: true,
        };
        assert!(cap.fits(&[0, 0, 0, 0], Channel::Voice));
        assert!(
            !cap.fits(&[0, 1, 0, 0], Channel::Voice),
            "a chat blocks voice"
        );
        assert!(!cap.fits(&[1, 0, 0, 0], Channel::Chat), "voice blocks chat");
        assert!(cap.fits(&[0, 2, 1, 0], Channel::Chat));
        assert!(!cap.fits(&[0, 3, 0, 0], Channel::Chat), "chat limit");
        assert!(!cap.fits(&[0, 2, 2, 0], Channel::Chat), "total limit");
        assert!(!cap.fits(&[0, 0, 0, 0], Channel::Sms), "no sms capacity");
        let shared = Capacity {
            voice_exclusive: false,
            ..cap
        };
        assert!(shared.fits(&[0, 1, 0, 0], Channel::Voice));
        assert!(shared.fits(&[1, 0, 0, 0], Channel::Email));
    }

    #[test]
    fn room_has_a_bit_for_each_slot_that_fits() {
        for limits in 0..3u32.pow(6) {
            let digit = |i: u32| (limits / 3u32.pow(i) % 3) as u8;
            let cap = Capacity {
                voice: digit(0),
                chat: digit(1),
                email: digit(2),
                sms: digit(3),
                total: digit(4) + 1,
                voice_exclusive: digit(5) > 0,
            };
            for used in 0..3u32.pow(4) {
                let in_use = [0, 1, 2, 3].map(|i| (used / 3u32.pow(i) % 3) as u8);
                let room = cap.room(&in_use);
                for slot in 0..4 {
                    assert_eq!(
                        room >> slot & 1 == 1,
                        cap.fits_slot(&in_use, slot),
                        "{cap:?} {in_use:?} slot {slot}"
                    );
                }
            }
        }
    }

    #[test]
    fn timestamps_saturate() {
        let t = Timestamp::from_secs_f64(1.5);
        assert_eq!(t.0, 1_500_000);
        assert_eq!(Timestamp::ZERO.since(t), Duration::ZERO);
        assert_eq!(t.after(Duration::from_millis(500)).as_secs_f64(), 2.0);
    }
}
