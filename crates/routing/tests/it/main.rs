//! Integration tests of the routing engine, one binary with modules by area.

mod harness;
mod offers;
mod properties;
mod reconfigure;
mod states;
mod strategies;
