//! The company's configuration: queues, agents, numbers, wrap-up codes and service-level
//! targets, as the API accepts them and as a TOML file (`examples/company/demo.toml`)
//! stores them; and their translation into the routing engine's specs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_routing::{Capacity, Strategy};

/// A whole company, as a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Queues by name.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueConfig>,
    /// Agents by login.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentConfig>,
    /// Addresses (dialed numbers, chat entry points) to flow ids.
    #[serde(default)]
    pub numbers: BTreeMap<String, String>,
    /// Wrap-up codes and their labels.
    #[serde(default)]
    pub wrapup_codes: BTreeMap<String, String>,
    /// Flow files to publish, relative to the company file.
    #[serde(default)]
    pub flows: Vec<String>,
    /// People who sign in.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Knowledge-base articles.
    #[serde(default)]
    pub articles: Vec<switchboard_store::NewArticle>,
    /// Customers.
    #[serde(default)]
    pub customers: Vec<switchboard_store::NewCustomer>,
}

/// A queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// How an agent is picked: `longest-idle`, `best-skill`, `ring-all`, …
    #[serde(default = "longest_idle")]
    #[schema(value_type = String)]
    pub strategy: Strategy,
    /// Seconds an offer rings before it goes to the next agent.
    #[serde(default = "default_ring")]
    pub ring_timeout_secs: u64,
    /// After-call work: seconds of timed wrap-up, or none for manual wrap-up (the agent
    /// ends it by wrapping up).
    #[serde(default)]
    pub wrap_up_secs: Option<u64>,
    /// Service-level target: this share of contacts …
    #[serde(default = "default_sl_percent")]
    pub sl_percent: f64,
    /// … answered within this many seconds.
    #[serde(default = "default_sl_secs")]
    pub sl_secs: u64,
    /// Weight when an agent's queues compete for them.
    #[serde(default = "one")]
    pub weight: u32,
    /// Expected handle time in seconds before there is history (for EWT).
    #[serde(default = "default_aht")]
    pub aht_secs: u64,
    /// Record calls answered from this queue (two-channel WAV, caller left, agent right).
    #[serde(default = "yes")]
    pub record: bool,
    /// Attempts at a callback whose customer does not answer (Switchboard dialing through
    /// the trunk) before it ends `no_answer`.
    #[serde(default = "default_callback_attempts")]
    pub callback_attempts: u32,
    /// Seconds between two attempts at a callback.
    #[serde(default = "default_callback_retry")]
    pub callback_retry_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_callback_attempts() -> u32 {
    3
}
fn default_callback_retry() -> u64 {
    600
}

fn longest_idle() -> Strategy {
    Strategy::LongestIdle
}
fn default_ring() -> u64 {
    20
}
fn default_sl_percent() -> f64 {
    80.0
}
fn default_sl_secs() -> u64 {
    20
}
fn one() -> u32 {
    1
}
fn default_aht() -> u64 {
    240
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            strategy: longest_idle(),
            ring_timeout_secs: default_ring(),
            wrap_up_secs: None,
            sl_percent: default_sl_percent(),
            sl_secs: default_sl_secs(),
            weight: 1,
            aht_secs: default_aht(),
            record: true,
            callback_attempts: default_callback_attempts(),
            callback_retry_secs: default_callback_retry(),
        }
    }
}

impl QueueConfig {
    /// Checks the values a routing engine cannot use.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.sl_percent) {
            return Err(format!(
                "sl_percent {} is not between 0 and 100",
                self.sl_percent
            ));
        }
        if self.ring_timeout_secs == 0 || self.ring_timeout_secs > 600 {
            return Err("ring_timeout_secs must be between 1 and 600".into());
        }
        if self.weight == 0 {
            return Err("weight must be at least 1".into());
        }
        if !(1..=20).contains(&self.callback_attempts) {
            return Err("callback_attempts must be between 1 and 20".into());
        }
        if !(1..=604_800).contains(&self.callback_retry_secs) {
            return Err("callback_retry_secs must be between 1 and 604800 (a week)".into());
        }
        Ok(())
    }

    /// The wrap-up the routing engine applies.
    pub fn wrap_up(&self) -> switchboard_routing::WrapUp {
        match self.wrap_up_secs {
            Some(s) => switchboard_routing::WrapUp::Timed(Duration::from_secs(s)),
            None => switchboard_routing::WrapUp::Manual,
        }
    }
}

/// An agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Display name.
    pub name: String,
    /// Skills and proficiency (1–5, or any byte scale).
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Languages spoken (e.g. `en`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Queues served, with their tier (1 = first).
    #[serde(default)]
    pub queues: BTreeMap<String, u8>,
    /// Concurrent contacts per channel.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub capacity: Option<Capacity>,
    /// Go away after this many missed offers in a row.
    #[serde(default)]
    pub auto_away_after_missed: Option<u32>,
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// Password (hashed with Argon2 before it is stored).
    pub password: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: switchboard_store::Role,
    /// The agent login this user works as.
    #[serde(default)]
    pub agent: Option<String>,
    /// The password of the user's SIP phone, which registers as the agent login (or the
    /// user name, for supervisors); stored only as a digest HA1.
    #[serde(default)]
    pub sip_password: Option<String>,
}
