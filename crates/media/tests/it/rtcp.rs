//! RTCP (RFC 3550): reception statistics (appendix A.1, A.3, A.8), the reports written
//! (read back field by field), the round trip from LSR and DLSR, and malformed input.

use std::time::Duration;

use proptest::prelude::*;
use rtcp_types::{Compound, Packet, ReportBlock};
use switchboard_media::rtcp::{RtcpSession, ntp_from_unix};
use switchboard_media::rtp::{RtpSender, parse};

/// An NTP time `ms` milliseconds after an arbitrary moment.
fn at(ms: u64) -> u64 {
    ntp_from_unix(Duration::from_secs(1_700_000_000) + Duration::from_millis(ms))
}

/// Feeds `session` the packets of `sender`'s stream with these sequence offsets (in this
/// order), each arriving exactly on time.
fn feed(session: &mut RtcpSession, seqs: &[u16], first_seq: u16) {
    let mut sender = RtpSender::new(0xAAAA, 0, first_seq, 0).unwrap();
    let packets: Vec<Vec<u8>> = (0..=*seqs.iter().max().unwrap())
        .map(|_| sender.packet(&[0xFF; 160], 160, false))
        .collect();
    for &i in seqs {
        let p = parse(&packets[usize::from(i)]).unwrap();
        session.received(&p, p.timestamp, true);
    }
}

/// A report block's SSRC, fraction lost, cumulative lost, extended highest sequence
/// number and jitter.
type Block = (u32, u8, u32, u32, u32);

/// The report blocks of a compound packet, with the packet kinds in order.
fn read(bytes: &[u8]) -> (Vec<&'static str>, Vec<Block>) {
    let mut kinds = Vec::new();
    let mut blocks = Vec::new();
    let fields = |b: ReportBlock<'_>| {
        (
            b.ssrc(),
            b.fraction_lost(),
            b.cumulative_lost(),
            b.extended_sequence_number(),
            b.interarrival_jitter(),
        )
    };
    for packet in Compound::parse(bytes).unwrap() {
        match packet.unwrap() {
            Packet::Sr(sr) => {
                kinds.push("SR");
                blocks.extend(sr.report_blocks().map(fields));
            }
            Packet::Rr(rr) => {
                kinds.push("RR");
                blocks.extend(rr.report_blocks().map(fields));
            }
            Packet::Sdes(sdes) => {
                kinds.push("SDES");
                let chunk = sdes.chunks().next().unwrap();
                let item = chunk.items().next().unwrap();
                assert_eq!(item.value(), b"switchboard@example.com");
            }
            Packet::Bye(_) => kinds.push("BYE"),
            other => panic!("unexpected {other:?}"),
        }
    }
    (kinds, blocks)
}

#[test]
fn ntp_time_counts_from_1900_in_32_32_fixed_point() {
    assert_eq!(ntp_from_unix(Duration::ZERO), 2_208_988_800 << 32);
    assert_eq!(
        ntp_from_unix(Duration::from_millis(1500)),
        ((2_208_988_800 + 1) << 32) | 0x8000_0000
    );
}

#[test]
fn a_lost_packet_counts_in_the_fraction_and_the_total() {
    let mut s = RtcpSession::new(0x1111, "switchboard@example.com");
    // Ten packets, 100..=109, the fifth missing.
    feed(&mut s, &[0, 1, 2, 3, 5, 6, 7, 8, 9], 100);
    let nothing_sent = RtpSender::new(0x1111, 0, 0, 0).unwrap();
    let (kinds, blocks) = read(&s.report(at(0), &nothing_sent));
    assert_eq!(
        kinds,
        ["RR", "SDES"],
        "a receiver report before anything was sent"
    );
    // 1 of 10 lost: 25/256; extended highest sequence 109.
    assert_eq!(blocks, [(0xAAAA, 25, 1, 109, 0)]);
    let q = s.quality();
    assert_eq!((q.received, q.lost), (9, 1));
    // The next interval lost nothing: the fraction is back to 0, the total stays.
    let (_, blocks) = read(&s.report(at(5000), &nothing_sent));
    assert_eq!(blocks, [(0xAAAA, 0, 1, 109, 0)]);
}

#[test]
fn sequence_numbers_wrap_into_the_extended_count() {
    let mut s = RtcpSession::new(1, "switchboard@example.com");
    feed(&mut s, &[0, 1, 2, 3], 65534);
    let mut sender = RtpSender::new(1, 0, 0, 0).unwrap();
    sender.packet(&[0; 160], 160, false);
    let (kinds, blocks) = read(&s.report(at(0), &sender));
    assert_eq!(
        kinds,
        ["SR", "SDES"],
        "a sender report once something was sent"
    );
    // 65534, 65535, 0, 1: one wrap, nothing lost.
    assert_eq!(blocks, [(0xAAAA, 0, 0, 65_536 + 1, 0)]);
}

#[test]
fn duplicates_make_the_lost_count_negative() {
    let mut s = RtcpSession::new(1, "switchboard@example.com");
    feed(&mut s, &[0, 1, 1, 2], 10);
    assert_eq!(s.quality().lost, -1);
    let sender = RtpSender::new(1, 0, 0, 0).unwrap();
    let (_, blocks) = read(&s.report(at(0), &sender));
    assert_eq!(blocks[0].2, 0xFF_FFFF, "-1 in 24-bit two's complement");
}

#[test]
fn jitter_follows_the_running_estimate_of_appendix_a8() {
    let mut s = RtcpSession::new(1, "switchboard@example.com");
    let mut sender = RtpSender::new(7, 0, 0, 0).unwrap();
    // Every other packet arrives 10 ms (80 units) late: |D| = 80 for each pair, and
    // J += (|D| - J) / 16 converges on 80.
    for i in 0..600u32 {
        let bytes = sender.packet(&[0xFF; 160], 160, false);
        let p = parse(&bytes).unwrap();
        s.received(&p, p.timestamp + (i % 2) * 80, true);
    }
    let j = s.quality().jitter;
    assert!((78..=80).contains(&j), "jitter {j}");
    // Packets arriving on time from the start leave it at 0; untimed ones (events) never
    // count.
    let mut s = RtcpSession::new(1, "switchboard@example.com");
    for i in 0..100u32 {
        let bytes = sender.packet(&[0xFF; 160], 160, false);
        let p = parse(&bytes).unwrap();
        s.received(&p, p.timestamp + 5000, true);
        s.received(&p, i * 999, false);
    }
    assert_eq!(s.quality().jitter, 0);
}

#[test]
fn the_round_trip_comes_from_lsr_and_dlsr() {
    // Switchboard (A) and a phone (B), each sending a stream to the other.
    let mut a = RtcpSession::new(0xA, "switchboard@example.com");
    let mut b = RtcpSession::new(0xB, "switchboard@example.com");
    let mut a_stream = RtpSender::new(0xA, 0, 0, 0).unwrap();
    let mut b_stream = RtpSender::new(0xB, 0, 0, 0).unwrap();
    let from_a = a_stream.packet(&[0; 160], 160, false);
    let from_b = b_stream.packet(&[0; 160], 160, false);
    b.received(&parse(&from_a).unwrap(), 0, true);
    a.received(&parse(&from_b).unwrap(), 0, true);

    // A's sender report leaves at 0 and reaches B after 10 ms; B answers 2 s later, and
    // its report reaches A after 30 ms more: the round trip is 40 ms.
    let sr = a.report(at(0), &a_stream);
    b.handle(&sr, at(10)).unwrap();
    let answer = b.report(at(2010), &b_stream);
    a.handle(&answer, at(2040)).unwrap();
    let peer = a.quality().peer.expect("B's report about A's stream");
    let rtt = peer.round_trip.expect("B had A's sender report");
    assert!(
        rtt.abs_diff(Duration::from_millis(40)) < Duration::from_micros(100),
        "{rtt:?}"
    );
    assert_eq!((peer.fraction_lost, peer.cumulative_lost), (0, 0));
    assert_eq!((a.quality().reports, b.quality().reports), (1, 1));
    // B's first word about A came before any sender report of A's: no round trip.
    let mut c = RtcpSession::new(0xC, "switchboard@example.com");
    c.received(&parse(&from_a).unwrap(), 0, true);
    a.handle(&c.report(at(3000), &b_stream), at(3001)).unwrap();
    assert_eq!(a.quality().peer.unwrap().round_trip, None);
}

#[test]
fn the_last_packet_says_bye() {
    let mut s = RtcpSession::new(0xB0, "switchboard@example.com");
    let sender = RtpSender::new(0xB0, 0, 0, 0).unwrap();
    let (kinds, _) = read(&s.bye(at(0), &sender));
    assert_eq!(kinds, ["RR", "SDES", "BYE"]);
}

#[test]
fn malformed_reports_are_errors() {
    let mut s = RtcpSession::new(1, "switchboard@example.com");
    assert!(s.handle(&[], at(0)).is_err());
    assert!(
        s.handle(&[0x80, 200, 0, 6], at(0)).is_err(),
        "length past the end"
    );
    assert!(s.handle(&[0x40, 201, 0, 0], at(0)).is_err(), "version 1");
    assert_eq!(s.quality().reports, 0);
}

proptest! {
    /// Any bytes: an error or a reading, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut s = RtcpSession::new(1, "switchboard@example.com");
        let _ = s.handle(&bytes, at(0));
        let mut version_2 = bytes.clone();
        if let Some(b) = version_2.first_mut() {
            *b = 0x80 | (*b & 0x3F);
        }
        let _ = s.handle(&version_2, at(0));
    }
}

#[test]
fn packets_passed_on_elsewhere_count_as_received_and_move_the_highest_number_on() {
    let mut s = RtcpSession::new(0x1111, "switchboard@example.com");
    // 100..=102 seen here, then 103..=65_535 and 0..=9 (wrapping) passed on elsewhere,
    // 65_443 packets less 3 lost there, told in steps of less than half the space.
    feed(&mut s, &[0, 1, 2], 100);
    s.received_elsewhere(0xAAAA, 30_000, 29_898);
    s.received_elsewhere(0xAAAA, 60_000, 30_000);
    s.received_elsewhere(0xAAAA, 9, 5_542);
    let nothing_sent = RtpSender::new(0x1111, 0, 0, 0).unwrap();
    let (_, blocks) = read(&s.report(at(0), &nothing_sent));
    assert_eq!(blocks, [(0xAAAA, 0, 3, (1 << 16) + 9, 0)]);
    let q = s.quality();
    assert_eq!((q.received, q.lost), (3 + 29_898 + 30_000 + 5_542, 3));
    // A stream first met there starts its statistics there.
    let mut t = RtcpSession::new(0x1111, "switchboard@example.com");
    t.received_elsewhere(0xBBBB, 509, 10);
    let (_, blocks) = read(&t.report(at(0), &nothing_sent));
    assert_eq!(blocks, [(0xBBBB, 0, 0, 509, 0)]);
}
