//! Switchboard's ACD: a deterministic, sans-IO routing engine that decides which waiting
//! contact goes to which agent, and when.
//!
//! The engine contains no networking, no clock, no threads and no database. It is driven
//! by inputs that carry the current time ([`Engine::handle_input`],
//! [`Engine::handle_timeout`]) and reports everything it decides as [`Event`]s, polled
//! with [`Engine::poll_event`]. Randomness (for the random strategies) comes from a seed in
//! [`Config`], so replaying the same inputs gives the same events. The live server, the
//! discrete-event simulator and the tests all drive this one engine.
//!
//! Key ideas:
//! - **Route to agents, not queues.** Queues are views over one pool of waiting contacts.
//!   When a contact arrives, the engine picks the best ready agent by the queue's
//!   [`Strategy`]; when an agent frees up, it picks the best waiting contact across every
//!   queue the agent serves (priority, then wait multiplied by the queue's weight).
//! - **Indexed decisions.** Ready agents sit in per-queue ordered sets keyed by the
//!   strategy; waiting contacts sit in per-queue *requirement classes* (same effective
//!   skills, language, channel and tier limit), so a free agent looks only at the head of
//!   each class it may qualify for, found through its own skills.
//! - **Explicit agent states** ([`AgentState`]): every change is an event; inputs that make
//!   no sense in the current state are refused with [`RoutingError::IllegalTransition`].
//! - **Escalation** ([`EscalationStep`]): after waiting long enough, a contact's skill
//!   minimums relax, further tiers or overflow queues join, or its priority rises.
//!
//! See [`Engine`] for the driving contract and a runnable example.

mod engine;
mod error;
mod event;
mod index;
mod model;
mod small;
mod table;

pub use engine::{AgentLoad, Config, Engine, QueuePosition, TableSizes};
pub use error::RoutingError;
pub use event::{AgentState, Event, EventKind, Input, OfferEnd, Outcome};
pub use model::{
    AgentId, AgentSpec, Capacity, Channel, ContactId, ContactSpec, Escalation, EscalationStep,
    LanguageId, Membership, OfferId, QueueId, QueueSpec, ReasonCode, SkillId, SkillRequirement,
    Strategy, Timestamp, WrapUp,
};
