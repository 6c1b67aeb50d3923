//! DTMF over RTP as telephone events (RFC 4733): the payload, a receiver that reports
//! each key press once, and a sender that paces the packets of a key press.
//!
//! An event is identified by its SSRC and its RTP timestamp: every packet of one event
//! carries the event's start timestamp, its duration grows with each packet, and the last
//! one (E bit set) is sent three times. The receiver reports a press on the first packet it
//! sees of a new `(ssrc, timestamp)` pair, whichever that packet is, so the press is reported
//! with the lowest latency and survives the loss of any packets but one.

use std::collections::VecDeque;

use crate::MediaError;
use crate::rtp::RtpSender;

/// Samples per packet at the 8 kHz event clock with 20 ms packets.
const SAMPLES_PER_PACKET: u32 = 160;
/// Times the final (E bit) packet of an event is sent (RFC 4733 section 2.5.1.4).
const END_REPEATS: u32 = 3;
/// `(ssrc, timestamp)` pairs the receiver remembers to drop late duplicates.
const REMEMBERED_EVENTS: usize = 32;
/// A segment whose predecessor reached this duration may continue it (section 2.5.2.3):
/// only events of several seconds are split into segments, so shorter ones never merge.
const LONG_EVENT: u16 = 0x8000;

/// The payload of one telephone-event packet (RFC 4733 section 2.3):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     event     |E|R| volume    |          duration             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code: 0-9, 10 `*`, 11 `#`, 12-15 `A`-`D` for DTMF (section 3.2).
    pub event: u8,
    /// E bit: this packet ends the event.
    pub end: bool,
    /// Power level of the tone in -dBm0 (0..=63; louder is smaller).
    pub volume: u8,
    /// Duration so far, in units of the RTP clock, counted from the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a telephone-event payload. The reserved bit is ignored,
    /// as the RFC asks of receivers; bytes after the first 4 are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, MediaError> {
        let [event, flags, hi, lo, ..] = *payload else {
            return Err(MediaError::MalformedEvent { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// Writes the 4-byte payload. The reserved bit is zero; a volume above 63 is written
    /// as 63 (the field has 6 bits).
    pub fn write(&self) -> [u8; 4] {
        let flags = if self.end { 0x80 } else { 0 } | self.volume.min(0x3F);
        let [hi, lo] = self.duration.to_be_bytes();
        [self.event, flags, hi, lo]
    }
}

/// The DTMF key of an event code (`0-9 * # A-D` for codes 0-15), or `None` for the
/// other events (flash, modem tones…).
pub fn digit_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The event code of a DTMF key (`0-9 * # A-D`, lower-case letters accepted).
pub fn event_of(key: char) -> Option<u8> {
    match key {
        '0'..='9' => Some(key as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(key as u8 - b'A' + 12),
        'a'..='d' => Some(key as u8 - b'a' + 12),
        _ => None,
    }
}

/// One key press reported by [`EventReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPress {
    /// Source that sent it.
    pub ssrc: u32,
    /// RTP timestamp of the event's start.
    pub timestamp: u32,
    /// Event code.
    pub event: u8,
}

impl KeyPress {
    /// The DTMF key, or `None` for a non-DTMF event.
    pub fn digit(&self) -> Option<char> {
        digit_of(self.event)
    }
}

/// The event currently in progress, to recognise continuation segments.
#[derive(Debug, Clone, Copy)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    duration: u16,
    ended: bool,
}

/// Turns received telephone-event packets into key presses, each reported exactly once.
///
/// Feed it every packet whose payload type is the negotiated telephone-event type, with
/// the packet's SSRC and timestamp. Rules:
/// - a press is reported on the first packet of a new `(ssrc, timestamp)` pair, whether it
///   is the first, a later or an end packet (lowest latency, tolerant of loss);
/// - later packets of the same pair, including the three redundant end packets and late
///   reordered ones, are dropped (the last 32 pairs are remembered);
/// - a new SSRC is a new source: the same timestamp from it is a new event;
/// - a long event split into segments (section 2.5.2.3: same key, next segment starting
///   where the previous, unfinished one of at least 0x8000 units reached) stays one press.
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    recent: VecDeque<(u32, u32)>,
    current: Option<Current>,
}

impl EventReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one telephone-event packet; returns the press it starts, if it starts one.
    pub fn handle(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Option<KeyPress>, MediaError> {
        let event = TelephoneEvent::parse(payload)?;
        if self.recent.contains(&(ssrc, timestamp)) {
            if let Some(current) = self
                .current
                .as_mut()
                .filter(|c| c.ssrc == ssrc && c.timestamp == timestamp)
            {
                current.duration = current.duration.max(event.duration);
                current.ended |= event.end;
            }
            return Ok(None);
        }
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back((ssrc, timestamp));
        let continues = self.current.is_some_and(|c| {
            let gap = timestamp.wrapping_sub(c.timestamp);
            c.ssrc == ssrc
                && c.event == event.event
                && !c.ended
                && c.duration >= LONG_EVENT
                && gap >= u32::from(c.duration)
                && gap <= u32::from(c.duration) + END_REPEATS * SAMPLES_PER_PACKET
        });
        self.current = Some(Current {
            ssrc,
            timestamp,
            event: event.event,
            duration: event.duration,
            ended: event.end,
        });
        if continues {
            return Ok(None);
        }
        Ok(Some(KeyPress {
            ssrc,
            timestamp,
            event: event.event,
        }))
    }
}

/// What the sender is doing on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// Nothing queued.
    Idle,
    /// Sending `event` that started at `timestamp`; `tick` packets already sent.
    Event {
        event: u8,
        timestamp: u32,
        tick: u32,
    },
    /// Pause after a key; `ticks` (at least 1) ticks of audio left.
    Gap { ticks: u32 },
}

/// Sends DTMF keys as telephone events, one packet per 20 ms tick.
///
/// Driving contract: on every 20 ms media tick, call [`poll`](Self::poll) first. When it
/// returns a packet, send that packet instead of the audio frame of this tick (the sender
/// has already advanced the stream's clock by 160 samples); when it returns `None`, send
/// audio as usual. For a key of `tone_ms`, it sends `tone_ms / 20` packets with growing
/// duration (marker bit on the first), then the end packet three times, all with the
/// timestamp the stream's clock had at the first packet; then `gap_ms` of audio (`None`)
/// before the next queued key, or before it is idle. The event clock is the stream's 8 kHz
/// clock.
#[derive(Debug, Clone)]
pub struct EventSender {
    payload_type: u8,
    tone_packets: u32,
    gap_ticks: u32,
    queue: VecDeque<u8>,
    state: Sending,
}

impl EventSender {
    /// Default length of a key press: 160 ms (8 packets).
    pub const DEFAULT_TONE_MS: u32 = 160;
    /// Default pause between two keys: 80 ms.
    pub const DEFAULT_GAP_MS: u32 = 80;
    /// Volume written in every event: 10 (-10 dBm0).
    pub const DEFAULT_VOLUME: u8 = 10;

    /// A sender for the negotiated telephone-event payload type, with the default timing.
    pub fn new(payload_type: u8) -> Result<Self, MediaError> {
        Self::with_timing(payload_type, Self::DEFAULT_TONE_MS, Self::DEFAULT_GAP_MS)
    }

    /// A sender whose keys last `tone_ms` (40..=5000, rounded up to 20 ms) with `gap_ms`
    /// (0..=5000, rounded up to 20 ms) between keys.
    pub fn with_timing(payload_type: u8, tone_ms: u32, gap_ms: u32) -> Result<Self, MediaError> {
        if payload_type > 0x7F {
            return Err(MediaError::InvalidPayloadType(payload_type));
        }
        if !(40..=5000).contains(&tone_ms) {
            return Err(MediaError::InvalidArgument(format!(
                "DTMF tone length {tone_ms} ms is outside 40..=5000 ms"
            )));
        }
        if gap_ms > 5000 {
            return Err(MediaError::InvalidArgument(format!(
                "DTMF gap {gap_ms} ms is over 5000 ms"
            )));
        }
        Ok(EventSender {
            payload_type,
            tone_packets: tone_ms.div_ceil(20),
            gap_ticks: gap_ms.div_ceil(20),
            queue: VecDeque::new(),
            state: Sending::Idle,
        })
    }

    /// Queues one key (`0-9 * # A-D`).
    pub fn push_digit(&mut self, key: char) -> Result<(), MediaError> {
        let event = event_of(key).ok_or(MediaError::NotDtmfKey(key))?;
        self.queue.push_back(event);
        Ok(())
    }

    /// Queues every key of `keys`, or none of them if one is not a DTMF key.
    pub fn push_digits(&mut self, keys: &str) -> Result<(), MediaError> {
        let events = keys
            .chars()
            .map(|k| event_of(k).ok_or(MediaError::NotDtmfKey(k)))
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.extend(events);
        Ok(())
    }

    /// Nothing queued or in progress: [`poll`](Self::poll) will return `None`.
    pub fn is_idle(&self) -> bool {
        self.state == Sending::Idle && self.queue.is_empty()
    }

    /// Drops every queued key; a key already started still finishes (its end packets are
    /// sent), so the peer never sees an event that never ends.
    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// One 20 ms tick: the packet to send in place of audio, or `None` to send audio.
    pub fn poll(&mut self, rtp: &mut RtpSender) -> Option<Vec<u8>> {
        loop {
            match self.state {
                Sending::Idle => {
                    let event = self.queue.pop_front()?;
                    self.state = Sending::Event {
                        event,
                        timestamp: rtp.timestamp(),
                        tick: 0,
                    };
                }
                Sending::Gap { ticks } => {
                    self.state = if ticks > 1 {
                        Sending::Gap { ticks: ticks - 1 }
                    } else {
                        Sending::Idle
                    };
                    return None;
                }
                Sending::Event {
                    event,
                    timestamp,
                    tick,
                } => {
                    let end = tick >= self.tone_packets;
                    let packets = (tick + 1).min(self.tone_packets);
                    let payload = TelephoneEvent {
                        event,
                        end,
                        volume: Self::DEFAULT_VOLUME,
                        // At most 250 packets of 160: 40 000 fits in 16 bits.
                        duration: u16::try_from(packets * SAMPLES_PER_PACKET).unwrap_or(u16::MAX),
                    }
                    .write();
                    // The payload type was checked in the constructor.
                    let packet = rtp.write_raw(self.payload_type, timestamp, &payload, tick == 0);
                    rtp.advance(SAMPLES_PER_PACKET);
                    let next = tick + 1;
                    self.state = if next < self.tone_packets + END_REPEATS {
                        Sending::Event {
                            event,
                            timestamp,
                            tick: next,
                        }
                    } else if self.gap_ticks == 0 {
                        Sending::Idle
                    } else {
                        Sending::Gap {
                            ticks: self.gap_ticks,
                        }
                    };
                    return Some(packet);
                }
            }
        }
    }
}

/// Passes one stream's telephone-events on into another (the two sides of a bridged
/// call): each packet keeps its payload (key, end bit, volume, duration) and marker bit,
/// takes the outgoing stream's next sequence number, and carries the time the outgoing
/// clock showed at the event's first packet, since every packet of one event carries the
/// event's start timestamp (RFC 4733 section 2.5.1). Audio sent meanwhile moves the
/// outgoing clock on as usual.
#[derive(Debug, Clone, Default)]
pub struct EventRelay {
    /// The incoming event being passed on: its timestamp, and the outgoing one.
    current: Option<(u32, u32)>,
}

impl EventRelay {
    /// A relay with no event in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// The packet that passes on an incoming event packet (its RTP `timestamp`,
    /// `payload` and `marker`) as `payload_type` in `out`'s stream. A payload that is not
    /// a telephone-event is refused.
    pub fn relay(
        &mut self,
        timestamp: u32,
        payload: &[u8],
        marker: bool,
        payload_type: u8,
        out: &mut RtpSender,
    ) -> Result<Vec<u8>, MediaError> {
        TelephoneEvent::parse(payload)?;
        let start = match self.current {
            Some((incoming, outgoing)) if incoming == timestamp => outgoing,
            _ => {
                let outgoing = out.timestamp();
                self.current = Some((timestamp, outgoing));
                outgoing
            }
        };
        out.packet_at(payload_type, start, payload, marker)
    }
}

/// All the packets of one key press lasting `tone_ms` (40..=5000, rounded up to 20 ms):
/// `tone_ms / 20` packets with growing duration, then 3 end packets, all with the clock's
/// current timestamp, to be sent one per 20 ms tick (160 ms gives 8 + 3 packets). Advances
/// `rtp`'s clock by the ticks they occupy.
pub fn digit_packets(
    rtp: &mut RtpSender,
    payload_type: u8,
    key: char,
    tone_ms: u32,
) -> Result<Vec<Vec<u8>>, MediaError> {
    let mut sender = EventSender::with_timing(payload_type, tone_ms, 0)?;
    sender.push_digit(key)?;
    Ok(std::iter::from_fn(|| sender.poll(rtp)).collect())
}
