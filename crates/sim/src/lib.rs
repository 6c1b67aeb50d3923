//! Switchboard's contact-center simulator and staffing formulas.
//!
//! - [`run::Replication`] is a discrete-event simulation that drives the real routing engine
//!   (`switchboard-routing`) on a virtual clock: Poisson arrivals with rates per interval,
//!   handle times and after-call work from exponential, log-normal or fixed distributions,
//!   exponential caller patience, agent shifts. Agents answer offers at once.
//! - [`report::simulate`] runs independent replications (each after a warm-up that is
//!   discarded) and reports every KPI as a mean with a Student-t 95% confidence interval.
//! - [`scenario`] reads scenario YAML files into a checked [`scenario::Model`].
//! - [`erlang`] computes Erlang B, C and A for staffing; [`staffing`] answers staffing
//!   questions with them (and with a quick single-queue simulation) as JSON.
//!
//! ```
//! use switchboard_sim::scenario::{Dist, SingleQueue, SlConvention, SlPolicy};
//! use std::time::Duration;
//!
//! let model = SingleQueue {
//!     arrivals_per_s: 100.0 / 3600.0,
//!     handle: Dist::Exponential(180.0),
//!     agents: 7,
//!     patience: None,
//!     sl: SlPolicy { threshold: Duration::from_secs(20), convention: SlConvention::Offered, short_abandon: None },
//!     calls: 2_000,
//!     replications: 2,
//!     seed: 1,
//!     warmup: None,
//! }
//! .model();
//! let report = switchboard_sim::report::simulate(&model);
//! assert!(report.queues[0].p_wait.mean > 0.1);
//! ```

pub mod erlang;
pub mod report;
pub mod run;
pub mod scenario;
pub mod staffing;
pub mod stats;
