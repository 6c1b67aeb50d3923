//! Switchboard's media library: RTP packets, G.711, DTMF (RFC 4733 events and in-band
//! Goertzel detection), a reorder buffer, prompt loading and playback, and call recording.
//!
//! Everything here is sans-IO: no sockets, no clock, no threads, no async runtime. Inputs
//! are byte slices and sample slices, outputs are values; where time matters it is counted
//! in samples or RTP timestamps and passed in by the caller. The `voice` crate owns the
//! sockets and the 20 ms media tick and drives these pieces:
//!
//! - [`rtp`]: [`rtp::parse`] a datagram, [`rtp::RtpSender`] to write a stream.
//! - [`g711`]: μ-law and A-law ([`g711::Codec`]), transcoding between them.
//! - [`dtmf`]: RFC 4733 telephone events: [`dtmf::EventReceiver`] reports each key press
//!   once, [`dtmf::EventSender`] paces the packets of a key press.
//! - [`goertzel`]: [`goertzel::DtmfDetector`] finds key presses in the audio itself.
//! - [`jitter`]: [`jitter::JitterBuffer`] puts received packets back in order.
//! - [`audio`]: [`audio::load_wav`] reads any common WAV as 8 kHz mono; test tones and
//!   level measurements; [`audio::StereoRecorder`] writes the caller/agent recording.
//! - [`player`]: [`player::Player`] plays queued prompts and music on hold in 20 ms frames.
//! - [`rtcp`]: [`rtcp::RtcpSession`] keeps reception statistics, writes the periodic
//!   reports and reads the peer's.
//!
//! One tick of an outbound stream, as the `voice` crate runs it every 20 ms:
//!
//! ```
//! use std::sync::Arc;
//! use switchboard_media::{audio, g711::Codec, player::Player, rtp};
//!
//! let codec = Codec::Pcmu;
//! let mut sender = rtp::RtpSender::new(0x1234_5678, codec.payload_type(), 1000, 0)?;
//! let mut player = Player::new();
//! player.push(Arc::from(audio::beep()));
//!
//! let mut payload = Vec::new();
//! if let Some(frame) = player.next_frame() {
//!     codec.encode(&frame, &mut payload);
//!     let datagram = sender.packet(&payload, frame.len() as u32, true);
//!     // ...send `datagram` on the socket; the receiving side parses it:
//!     let packet = rtp::parse(&datagram)?;
//!     assert_eq!((packet.sequence, packet.timestamp, packet.marker), (1000, 0, true));
//!     assert_eq!(Codec::from_payload_type(packet.payload_type), Some(codec));
//! }
//! assert_eq!(sender.timestamp(), 160);
//! # Ok::<(), switchboard_media::MediaError>(())
//! ```

pub mod audio;
pub mod dtmf;
mod error;
pub mod g711;
pub mod goertzel;
pub mod jitter;
pub mod player;
pub mod rtcp;
pub mod rtp;

pub use error::MediaError;
