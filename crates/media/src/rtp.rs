//! RTP packets (RFC 3550): parsing what a peer sent and writing what we send, through the
//! `rtp-types` crate.

use rtp_types::{RtpPacket, RtpPacketBuilder};

use crate::MediaError;

/// The fields of a received RTP packet that media handling needs, borrowing the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtp<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp, in units of the payload's clock rate (8 kHz for G.711).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Marker bit (start of a talk spurt, or the first packet of an RFC 4733 event).
    pub marker: bool,
    /// Payload, without CSRCs, header extension or padding.
    pub payload: &'a [u8],
}

/// Parses an RTP version 2 packet. Garbage, short packets, other versions and lengths
/// that run past the end of the datagram are errors, never panics.
pub fn parse(datagram: &[u8]) -> Result<Rtp<'_>, MediaError> {
    let packet = RtpPacket::parse(datagram).map_err(|e| MediaError::MalformedRtp(e.to_string()))?;
    // `RtpPacket::payload` borrows the packet, not the datagram: take the same range from
    // the datagram (parsing checked that it lies inside).
    let start = packet.payload_offset();
    let payload = datagram
        .get(start..start + packet.payload_len())
        .ok_or_else(|| MediaError::MalformedRtp("payload runs past the end".to_string()))?;
    Ok(Rtp {
        payload_type: packet.payload_type(),
        sequence: packet.sequence_number(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
        marker: packet.marker_bit(),
        payload,
    })
}

/// The sending side of one RTP stream: owns the SSRC, the next sequence number and the
/// media clock, and writes packets.
///
/// Each [`packet`](Self::packet) takes the next sequence number and advances the clock by
/// the samples it carries. RFC 4733 events use [`packet_at`](Self::packet_at) instead,
/// which takes the next sequence number but carries the event's start timestamp and leaves
/// the clock alone; the caller (see [`crate::dtmf::EventSender`]) advances the clock with
/// [`advance`](Self::advance) for the time the event occupies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    /// Packets and payload octets written so far (RFC 3550 section 6.4.1, for RTCP).
    packets: u32,
    octets: u32,
}

impl RtpSender {
    /// A stream with this SSRC and payload type, whose first packet carries `initial_seq`
    /// and `initial_ts` (RFC 3550 recommends random initial values: pick them from the
    /// caller's seeded RNG).
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        initial_seq: u16,
        initial_ts: u32,
    ) -> Result<Self, MediaError> {
        check_payload_type(payload_type)?;
        Ok(RtpSender {
            ssrc,
            seq: initial_seq,
            timestamp: initial_ts,
            payload_type,
            packets: 0,
            octets: 0,
        })
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The payload type of [`packet`](Self::packet).
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.seq
    }

    /// The media clock: the timestamp the next [`packet`](Self::packet) will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Packets written so far (wrapping at 2^32, as RTCP counts them).
    pub fn packets_sent(&self) -> u32 {
        self.packets
    }

    /// Payload octets written so far (wrapping at 2^32, as RTCP counts them).
    pub fn octets_sent(&self) -> u32 {
        self.octets
    }

    /// Writes a media packet carrying `samples` samples of audio, then advances the
    /// sequence number by 1 and the clock by `samples` (both wrapping).
    pub fn packet(&mut self, payload: &[u8], samples: u32, marker: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.packet_into(payload, samples, marker, &mut bytes);
        bytes
    }

    /// As [`RtpSender::packet`], written over `out`, whose room is reused: a relay that
    /// sends thousands of packets a second allocates nothing per packet.
    pub fn packet_into(&mut self, payload: &[u8], samples: u32, marker: bool, out: &mut Vec<u8>) {
        out.clear();
        self.builder(self.payload_type, self.timestamp, payload, marker)
            .write_into_vec_unchecked(out);
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Writes a packet with its own payload type and timestamp (every packet of one RFC
    /// 4733 event carries the event's start timestamp). Advances the sequence number only.
    pub fn packet_at(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        payload: &[u8],
        marker: bool,
    ) -> Result<Vec<u8>, MediaError> {
        check_payload_type(payload_type)?;
        Ok(self.write_raw(payload_type, timestamp, payload, marker))
    }

    /// Takes in `packets` packets with `octets` of payload that were written in this
    /// stream elsewhere (by the kernel's media path, from this stream's SSRC and offsets):
    /// the next packet carries `next_seq` and, unless it is earlier than the clock,
    /// `next_timestamp`.
    pub fn forwarded(&mut self, packets: u32, octets: u32, next_seq: u16, next_timestamp: u32) {
        self.packets = self.packets.wrapping_add(packets);
        self.octets = self.octets.wrapping_add(octets);
        self.seq = next_seq;
        if (next_timestamp.wrapping_sub(self.timestamp) as i32) > 0 {
            self.timestamp = next_timestamp;
        }
    }

    /// Advances the clock by `samples` without sending (silence suppression, or time spent
    /// sending an event).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Writes a packet and takes the next sequence number; `payload_type` must already be
    /// checked to fit in 7 bits.
    pub(crate) fn write_raw(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        payload: &[u8],
        marker: bool,
    ) -> Vec<u8> {
        // The builder's only checks are a 7-bit payload type (checked by every caller
        // of `write_raw`), at most 15 CSRCs, padded extensions and non-zero padding; this
        // packet has no CSRCs, extension or padding.
        self.builder(payload_type, timestamp, payload, marker)
            .write_vec_unchecked()
    }

    /// The next packet's builder (unchecked: see `write_raw`); takes its sequence number
    /// and counts it sent.
    fn builder<'a>(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        payload: &'a [u8],
        marker: bool,
    ) -> RtpPacketBuilder<&'a [u8], &'a [u8]> {
        let builder = RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(payload_type)
            .sequence_number(self.seq)
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .marker_bit(marker)
            .payload(payload);
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
        builder
    }
}

fn check_payload_type(payload_type: u8) -> Result<(), MediaError> {
    if payload_type > 0x7F {
        return Err(MediaError::InvalidPayloadType(payload_type));
    }
    Ok(())
}
