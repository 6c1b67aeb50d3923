//! Integration tests of the simulator, one binary with modules by area.

mod scenarios;
mod theory;
