//! RTCP (RFC 3550 section 6) for one side of a call: what is known of the stream received
//! (appendix A.1, A.3 and A.8: extended highest sequence number, loss, interarrival
//! jitter), the compound report sent every [`INTERVAL`] (a sender report with one report
//! block, or a receiver report while nothing was sent, then SDES with the CNAME), BYE,
//! and the peer's reports about the stream sent to it (loss, jitter, and the round trip
//! from LSR and DLSR, section 6.4.1).
//!
//! Packets are parsed and written by `rtcp-types`; the statistics are computed here. Time
//! comes in as values: `now` is an NTP timestamp (32.32 fixed point; see
//! [`ntp_from_unix`]), and arrival times are in units of the 8 kHz media clock.

use std::time::Duration;

use rtcp_types::{
    Bye, Compound, Packet, ReceiverReport, ReportBlock, ReportBlockBuilder, RtcpPacketWriter, Sdes,
    SdesChunk, SdesItem, SenderReport,
};

use crate::MediaError;
use crate::rtp::{Rtp, RtpSender};

/// How often a report is sent: RFC 3550's minimum interval for a small session (section
/// 6.2); the first goes out after half of it (section 6.2, "initial").
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Seconds from NTP's epoch (1900) to Unix's (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The NTP timestamp of a time given as a duration since the Unix epoch.
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let seconds = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let fraction = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// The middle 32 bits of an NTP timestamp: the compact form of LSR, DLSR and the round
/// trip, in units of 1/65536 s.
fn compact(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// What the peer said about the stream sent to it, in its latest report block about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerReport {
    /// Fraction of packets lost since its previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (negative with duplicates).
    pub cumulative_lost: i32,
    /// Interarrival jitter, in media clock units (1/8000 s).
    pub jitter: u32,
    /// The round trip, when the report answered one of our sender reports.
    pub round_trip: Option<Duration>,
}

/// A side of a call as far as RTP and RTCP tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    /// RTP packets received from the peer.
    pub received: u32,
    /// Packets expected from their sequence numbers but not received.
    pub lost: i64,
    /// Interarrival jitter of the stream received, in media clock units.
    pub jitter: u32,
    /// RTCP reports received from the peer.
    pub reports: u32,
    /// The peer's latest report about the stream sent to it.
    pub peer: Option<PeerReport>,
}

/// The stream received (RFC 3550 appendix A.1, A.3, A.8).
#[derive(Debug, Clone)]
struct Reception {
    ssrc: u32,
    base_seq: u16,
    max_seq: u16,
    /// Sequence number wrap-arounds, times 2^16.
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Arrival minus RTP timestamp of the last timed packet.
    transit: Option<u32>,
    /// Interarrival jitter times 16 (the integer form of A.8).
    jitter: u32,
}

impl Reception {
    fn new(ssrc: u32, seq: u16) -> Reception {
        Reception {
            ssrc,
            base_seq: seq,
            max_seq: seq,
            cycles: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0,
        }
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(u32::from(self.base_seq))
            .wrapping_add(1)
    }

    fn lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// A later sequence number (less than half the space ahead) moves the maximum on;
    /// an earlier one is a late or repeated packet.
    fn highest(&mut self, seq: u16) {
        let ahead = seq.wrapping_sub(self.max_seq);
        if ahead != 0 && ahead < 0x8000 {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        }
    }

    fn update(&mut self, seq: u16, timestamp: u32, arrival: u32, timed: bool) {
        self.highest(seq);
        self.received = self.received.wrapping_add(1);
        if timed {
            let transit = arrival.wrapping_sub(timestamp);
            if let Some(last) = self.transit {
                let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
                self.jitter = self
                    .jitter
                    .saturating_add(d)
                    .saturating_sub((self.jitter + 8) >> 4);
            }
            self.transit = Some(transit);
        }
    }

    /// The report block about this stream at `now`; starts a new reporting interval.
    fn block(&mut self, now: u64, last_sr: Option<(u32, u64)>) -> ReportBlockBuilder {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        // 24 bits, two's complement, clamped (section 6.4.1).
        let cumulative = self.lost().clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0xFF_FFFF;
        let (lsr, dlsr) = match last_sr {
            Some((lsr, arrived)) => (lsr, compact(now.wrapping_sub(arrived))),
            None => (0, 0),
        };
        ReportBlock::builder(self.ssrc)
            .fraction_lost(fraction)
            .cumulative_lost(cumulative)
            .extended_sequence_number(self.extended_max())
            .interarrival_jitter(self.jitter >> 4)
            .last_sender_report_timestamp(lsr)
            .delay_since_last_sender_report_timestamp(dlsr)
    }
}

/// RTCP for one RTP stream pair: the stream sent (by an [`RtpSender`] with `ssrc`) and the
/// one received.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    ssrc: u32,
    cname: String,
    reception: Option<Reception>,
    /// The peer's latest sender report: its compact NTP time, and when it arrived.
    last_sr: Option<(u32, u64)>,
    reports: u32,
    peer: Option<PeerReport>,
}

impl RtcpSession {
    /// A session for the stream sent with `ssrc`, named `cname` in SDES (RFC 3550
    /// section 6.5.1: unique and stable, such as `user@host`; cut to SDES's 255 bytes).
    pub fn new(ssrc: u32, cname: &str) -> Self {
        let mut end = cname.len().min(255);
        while !cname.is_char_boundary(end) {
            end -= 1;
        }
        RtcpSession {
            ssrc,
            cname: cname[..end].to_owned(),
            reception: None,
            last_sr: None,
            reports: 0,
            peer: None,
        }
    }

    /// An RTP packet arrived from the peer at `arrival` (media clock units). Only `timed`
    /// packets, whose timestamp is their sampling instant (audio, not RFC 4733 events,
    /// which keep their start time), count towards jitter. A new SSRC starts the
    /// statistics afresh.
    pub fn received(&mut self, packet: &Rtp<'_>, arrival: u32, timed: bool) {
        let reception = match &mut self.reception {
            Some(r) if r.ssrc == packet.ssrc => r,
            other => other.insert(Reception::new(packet.ssrc, packet.sequence)),
        };
        reception.update(packet.sequence, packet.timestamp, arrival, timed);
    }

    /// `packets` RTP packets of stream `ssrc`, the highest numbered `max_seq`, were
    /// received and passed on elsewhere (by the kernel's media path) since the last report,
    /// after those given to [`received`](Self::received). They count as received; jitter is measured only on
    /// the packets seen here.
    pub fn received_elsewhere(&mut self, ssrc: u32, max_seq: u16, packets: u32) {
        if packets == 0 {
            return;
        }
        let reception = match &mut self.reception {
            Some(r) if r.ssrc == ssrc => r,
            other => {
                let first = max_seq.wrapping_sub((packets - 1) as u16);
                other.insert(Reception::new(ssrc, first))
            }
        };
        // Asked at each report, every few seconds: far less than half the sequence space
        // passes between two.
        reception.highest(max_seq);
        reception.received = reception.received.wrapping_add(packets);
    }

    /// The compound report to send at `now`: a sender report once `sender` has sent
    /// anything (a receiver report before), with a report block once anything was
    /// received, then SDES with the CNAME.
    pub fn report(&mut self, now: u64, sender: &RtpSender) -> Vec<u8> {
        self.compound(now, sender, false)
    }

    /// The last compound packet of the session: a report, SDES and BYE.
    pub fn bye(&mut self, now: u64, sender: &RtpSender) -> Vec<u8> {
        self.compound(now, sender, true)
    }

    fn compound(&mut self, now: u64, sender: &RtpSender, bye: bool) -> Vec<u8> {
        let last_sr = self.last_sr;
        let block = self.reception.as_mut().map(|r| r.block(now, last_sr));
        let mut compound = Compound::builder();
        if sender.packets_sent() > 0 {
            let mut sr = SenderReport::builder(self.ssrc)
                .ntp_timestamp(now)
                .rtp_timestamp(sender.timestamp())
                .packet_count(sender.packets_sent())
                .octet_count(sender.octets_sent());
            if let Some(block) = block {
                sr = sr.add_report_block(block);
            }
            compound = compound.add_packet(sr);
        } else {
            let mut rr = ReceiverReport::builder(self.ssrc);
            if let Some(block) = block {
                rr = rr.add_report_block(block);
            }
            compound = compound.add_packet(rr);
        }
        let cname = SdesItem::builder(SdesItem::CNAME, &self.cname);
        let chunk = SdesChunk::builder(self.ssrc).add_item(cname);
        compound = compound.add_packet(Sdes::builder().add_chunk(chunk));
        if bye {
            compound = compound.add_packet(Bye::builder().add_source(self.ssrc));
        }
        // Every field is in range (the CNAME was cut to 255 bytes, the lost count to 24
        // bits), so sizing cannot fail.
        let size = compound.calculate_size().unwrap_or(0);
        let mut out = vec![0; size];
        if size > 0 {
            compound.write_into_unchecked(&mut out);
        }
        out
    }

    /// Reads a compound RTCP packet from the peer that arrived at `now`: its sender
    /// report is remembered (for LSR and DLSR), and a report block about our stream
    /// becomes the [`PeerReport`]. Other packets (SDES, BYE, APP, feedback) are skipped.
    pub fn handle(&mut self, datagram: &[u8], now: u64) -> Result<(), MediaError> {
        let compound =
            Compound::parse(datagram).map_err(|e| MediaError::MalformedRtcp(e.to_string()))?;
        for packet in compound {
            let packet = packet.map_err(|e| MediaError::MalformedRtcp(e.to_string()))?;
            let blocks: Vec<ReportBlock<'_>> = match &packet {
                Packet::Sr(sr) => {
                    self.last_sr = Some((compact(sr.ntp_timestamp()), now));
                    self.reports += 1;
                    sr.report_blocks().collect()
                }
                Packet::Rr(rr) => {
                    self.reports += 1;
                    rr.report_blocks().collect()
                }
                _ => continue,
            };
            if let Some(block) = blocks.iter().find(|b| b.ssrc() == self.ssrc) {
                self.peer = Some(peer_report(block, now));
            }
        }
        Ok(())
    }

    /// What RTP and RTCP tell of this side so far.
    pub fn quality(&self) -> Quality {
        let r = self.reception.as_ref();
        Quality {
            received: r.map_or(0, |r| r.received),
            lost: r.map_or(0, Reception::lost),
            jitter: r.map_or(0, |r| r.jitter >> 4),
            reports: self.reports,
            peer: self.peer,
        }
    }
}

/// A report block about our stream, read at `now`.
fn peer_report(block: &ReportBlock<'_>, now: u64) -> PeerReport {
    let lost = block.cumulative_lost() & 0xFF_FFFF;
    // Sign-extend the 24-bit count.
    let cumulative_lost = ((lost << 8) as i32) >> 8;
    let lsr = block.last_sender_report_timestamp();
    let round_trip = (lsr != 0).then(|| {
        let units = compact(now)
            .wrapping_sub(lsr)
            .wrapping_sub(block.delay_since_last_sender_report_timestamp());
        // A negative result (clock trouble) reads as a huge one; keep it under a minute.
        Duration::from_micros(u64::from(units) * 1_000_000 / 65_536)
    });
    PeerReport {
        fraction_lost: block.fraction_lost(),
        cumulative_lost,
        jitter: block.interarrival_jitter(),
        round_trip: round_trip.filter(|d| *d < Duration::from_secs(60)),
    }
}
