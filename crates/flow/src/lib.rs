//! Switchboard's call-flow language (IVR): flows are YAML files of named nodes, each with
//! one action (say, menu, collect, branch, enqueue…) naming the nodes that follow;
//! conditions and computed values are CEL expressions, type-checked when the flow loads.

pub mod calendar;
pub mod check;
pub mod expr;
pub mod graph;
pub mod interp;
pub mod model;
pub mod simulate;
pub mod stats;

/// JSON Schema (draft 2020-12) of the flow file format, for editors and linters.
pub const SCHEMA: &str = include_str!("../schema/flow.schema.json");
