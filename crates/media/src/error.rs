//! The crate's one error type, grouped by who is at fault: the peer, the caller or a file.

/// Why a media operation was refused. Nothing in this crate panics on bad input; it
/// returns one of these instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Peer: the bytes are not an RTP version 2 packet (too short, wrong version, or a
    /// header, extension or padding length that runs past the end).
    #[error("malformed RTP packet: {0}")]
    MalformedRtp(String),
    /// Peer: the bytes are not a compound RTCP packet (RFC 3550 section 6.1).
    #[error("malformed RTCP packet: {0}")]
    MalformedRtcp(String),
    /// Peer: a telephone-event payload (RFC 4733 section 2.3) is not 4 bytes long.
    #[error("malformed telephone-event payload: {len} bytes, expected at least 4")]
    MalformedEvent {
        /// Length of the payload received.
        len: usize,
    },
    /// Caller: an RTP payload type must fit in 7 bits.
    #[error("invalid RTP payload type {0}: must be 0..=127")]
    InvalidPayloadType(u8),
    /// Caller: the character is not one of the 16 DTMF keys `0-9 * # A-D`.
    #[error("{0:?} is not a DTMF key (expected 0-9, *, #, A-D)")]
    NotDtmfKey(char),
    /// Caller: an argument is out of its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// File: the bytes are not a readable WAV file (garbage, truncated, or a header that
    /// contradicts itself).
    #[error("unreadable WAV file: {0}")]
    InvalidWav(String),
    /// File: a well-formed WAV file in a format this crate does not read.
    #[error("unsupported WAV format: {0}")]
    UnsupportedWav(String),
    /// The resampler refused the input (reported with its message).
    #[error("resampling failed: {0}")]
    Resample(String),
    /// IO: writing a WAV file failed (the writer's error, as text).
    #[error("cannot write WAV: {0}")]
    WriteWav(String),
}
