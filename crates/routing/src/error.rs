//! The engine's one error type: every rejected input says what was wrong with it.

use crate::event::AgentState;
use crate::model::{AgentId, ContactId, OfferId, QueueId};

/// An input the engine refused. The engine's state is unchanged when an input is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    /// The agent is not configured.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The queue is not configured.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// The contact is not (or no longer) in the engine.
    #[error("unknown contact {0}")]
    UnknownContact(ContactId),
    /// The offer is not (or no longer) open: answered elsewhere, timed out or revoked.
    #[error("offer {0} is not open")]
    UnknownOffer(OfferId),
    /// A contact with this identifier is already in the engine.
    #[error("contact {0} already exists")]
    DuplicateContact(ContactId),
    /// The agent cannot do this in its current state.
    #[error("agent {agent} cannot {action} while {from:?}")]
    IllegalTransition {
        /// The agent.
        agent: AgentId,
        /// Its state.
        from: AgentState,
        /// What was asked.
        action: &'static str,
    },
    /// The contact is not in the state this input needs.
    #[error("contact {contact} cannot {action} now")]
    ContactState {
        /// The contact.
        contact: ContactId,
        /// What was asked.
        action: &'static str,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidSpec(String),
}
