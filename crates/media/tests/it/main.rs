//! Integration tests of the media library, one binary with modules by area.

mod audio;
mod dtmf;
mod g711;
mod goertzel;
mod jitter;
mod player;
mod rtcp;
mod rtp;
mod signals;
