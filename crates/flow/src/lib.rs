//! Switchboard's call-flow language (IVR): flows are YAML files of named nodes, each with
//! one action (say, menu, collect, branch, enqueue…) naming the nodes that follow;
//! conditions and computed values are CEL expressions, type-checked when the flow loads.

pub mod calendar;
pub mod check;
pub mod expr;
pub mod interp;
pub mod model;
pub mod simulate;
pub mod stats;
