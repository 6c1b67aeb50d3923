//! The engine's inputs, the events it emits, and the agent and contact states they describe.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{
    AgentId, AgentSpec, Channel, ContactId, ContactSpec, OfferId, QueueId, QueueSpec, ReasonCode,
    Timestamp,
};

/// Everything that can happen to the engine from outside, apart from time passing.
///
/// A log of `(Timestamp, Input)` pairs replayed into a fresh engine with the same seed gives
/// the same events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// Create (or replace) a queue.
    ConfigureQueue {
        /// The queue.
        queue: QueueId,
        /// Its configuration.
        spec: QueueSpec,
    },
    /// Create an agent, or change the profile of an existing one (takes effect for the next
    /// decision; contacts in progress are not disturbed).
    ConfigureAgent {
        /// The agent.
        agent: AgentId,
        /// Its profile.
        spec: AgentSpec,
    },
    /// Delete an agent who is logged out.
    RemoveAgent {
        /// The agent.
        agent: AgentId,
    },
    /// An agent logs in and becomes available.
    Login {
        /// The agent.
        agent: AgentId,
    },
    /// An agent logs out (only when holding no contact or offer).
    Logout {
        /// The agent.
        agent: AgentId,
    },
    /// An away agent is ready for contacts again.
    SetAvailable {
        /// The agent.
        agent: AgentId,
    },
    /// An agent takes no new contacts (work in progress continues; ringing offers are
    /// returned to the queue).
    SetAway {
        /// The agent.
        agent: AgentId,
        /// Why (lunch, training, meeting…).
        reason: ReasonCode,
    },
    /// A new contact wants an agent.
    Enqueue {
        /// Its identifier, chosen by the channel edge; must be new.
        contact: ContactId,
        /// What it needs.
        spec: ContactSpec,
    },
    /// The agent answered the offer.
    Accept {
        /// The offer.
        offer: OfferId,
    },
    /// The agent declined the offer.
    Reject {
        /// The offer.
        offer: OfferId,
    },
    /// The contact ended (caller hung up, chat closed). While waiting this is an abandon;
    /// while connected it starts after-call work.
    End {
        /// The contact.
        contact: ContactId,
    },
    /// The contact leaves the queue for somewhere else (voicemail, transfer out, the flow's
    /// fallback): not an abandon.
    Withdraw {
        /// The contact.
        contact: ContactId,
    },
    /// A waiting voice contact becomes a callback that keeps its place in line.
    ConvertToCallback {
        /// The contact.
        contact: ContactId,
    },
    /// The agent finished after-call work for a contact.
    CompleteWrapUp {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: ContactId,
    },
}

/// An agent's state, as shown on a wallboard.
///
/// `Offline`, `Available` and `Away` are chosen by the agent; `Reserved`, `Busy` and `WrapUp`
/// follow from the contacts and offers the agent holds (busy wins over reserved over wrap-up).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not logged in.
    Offline,
    /// Logged in, taking contacts, holding none.
    Available,
    /// Logged in, taking no new contacts.
    Away(ReasonCode),
    /// An offer is ringing and the agent holds no connected contact.
    Reserved,
    /// Connected to at least one contact.
    Busy,
    /// Doing after-call work and holding no connected contact or offer.
    WrapUp,
}

impl AgentState {
    /// A short name for logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::Available => "available",
            AgentState::Away(_) => "away",
            AgentState::Reserved => "reserved",
            AgentState::Busy => "busy",
            AgentState::WrapUp => "wrap_up",
        }
    }
}

/// How a contact left the engine. Every contact ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Connected to an agent and finished (after-call work included).
    Handled,
    /// The customer gave up before reaching an agent.
    Abandoned,
    /// Taken out of the queue by the edge (voicemail, transfer, flow fallback).
    Withdrawn,
    /// Waited the queue's maximum wait.
    Expired,
}

/// Why an offer ended without the agent answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferEnd {
    /// The agent declined it.
    Rejected,
    /// The ring timeout passed.
    TimedOut,
    /// Another agent answered first (ring-all).
    TakenByOther,
    /// The contact ended or was withdrawn while ringing.
    ContactGone,
    /// The agent went away (or was put away after missed offers) while it rang.
    AgentUnavailable,
}

/// Something that happened, with the time it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: EventKind,
}

/// The kinds of events; the channel edges act on `Offered`, `OfferEnded` and `ContactLeft`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum EventKind {
    /// An agent's state changed.
    AgentState {
        /// The agent.
        agent: AgentId,
        /// Previous state.
        from: AgentState,
        /// New state.
        to: AgentState,
    },
    /// A contact entered its queue.
    Queued {
        /// The contact.
        contact: ContactId,
        /// Its queue.
        queue: QueueId,
        /// Contacts ahead of it (0 = next).
        position: u32,
        /// Estimated wait at entry (`None` when no agent of the queue is staffed).
        ewt: Option<Duration>,
    },
    /// A waiting contact reached an escalation step.
    Escalated {
        /// The contact.
        contact: ContactId,
        /// Step number (1 = first step).
        step: u32,
    },
    /// A waiting contact became a callback that keeps its place.
    BecameCallback {
        /// The contact.
        contact: ContactId,
    },
    /// The contact is offered to an agent: ring the agent's phone, pop the screen.
    Offered {
        /// The offer, to accept or reject.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// The contact's channel (a callback offer means: call the customer once accepted).
        channel: Channel,
        /// When it times out.
        expires_at: Timestamp,
    },
    /// An offer ended without being answered: stop ringing.
    OfferEnded {
        /// The offer.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: OfferEnd,
    },
    /// The agent answered: the contact is connected.
    Connected {
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Time from entering the queue to this moment.
        waited: Duration,
    },
    /// The connected part of a contact ended; the agent starts after-call work (if any).
    Disconnected {
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
    },
    /// The contact left the engine for good.
    ContactLeft {
        /// The contact.
        contact: ContactId,
        /// How.
        outcome: Outcome,
        /// Time spent waiting in queue (until connected or until it left).
        waited: Duration,
    },
}
