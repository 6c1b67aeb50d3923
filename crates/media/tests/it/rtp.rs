//! RTP: writing and parsing packets, wrap-around, and refusing malformed datagrams.

use proptest::prelude::*;
use switchboard_media::MediaError;
use switchboard_media::rtp::{RtpSender, parse};

#[test]
fn sender_writes_the_rfc_3550_header() {
    let mut sender = RtpSender::new(0xDEAD_BEEF, 0, 0x1234, 0x0001_0000).unwrap();
    let packet = sender.packet(&[0xFF, 0x7F], 2, true);
    assert_eq!(
        packet,
        [
            0x80, 0x80, 0x12, 0x34, // V=2, M=1, PT=0, sequence
            0x00, 0x01, 0x00, 0x00, // timestamp
            0xDE, 0xAD, 0xBE, 0xEF, // SSRC
            0xFF, 0x7F, // payload
        ]
    );
    assert_eq!(sender.next_sequence(), 0x1235);
    assert_eq!(sender.timestamp(), 0x0001_0002);
}

#[test]
fn a_packet_written_over_a_used_buffer_is_the_same_packet() {
    let (mut fresh, mut reused) = (
        RtpSender::new(0xDEAD_BEEF, 0, 0x1234, 0x0001_0000).unwrap(),
        RtpSender::new(0xDEAD_BEEF, 0, 0x1234, 0x0001_0000).unwrap(),
    );
    // A longer packet first, so that the second must not keep any of its bytes.
    let mut out = Vec::new();
    for (payload, marker) in [(&[0x55; 160][..], true), (&[0xFF, 0x7F][..], false)] {
        reused.packet_into(payload, payload.len() as u32, marker, &mut out);
        assert_eq!(out, fresh.packet(payload, payload.len() as u32, marker));
    }
    assert_eq!(out.len(), 14);
    assert_eq!(reused.next_sequence(), 0x1236);
    assert_eq!(reused.timestamp(), 0x0001_0000 + 162);
    assert_eq!(reused.packets_sent(), 2);
}

#[test]
fn parse_reads_every_field() {
    let datagram = [
        0x80, 0x08, 0xFF, 0xFF, 0x00, 0x00, 0x03, 0x20, 0x01, 0x02, 0x03, 0x04, 0xD5, 0xD5,
    ];
    let rtp = parse(&datagram).unwrap();
    assert_eq!(rtp.payload_type, 8);
    assert_eq!(rtp.sequence, 65535);
    assert_eq!(rtp.timestamp, 800);
    assert_eq!(rtp.ssrc, 0x0102_0304);
    assert!(!rtp.marker);
    assert_eq!(rtp.payload, &[0xD5, 0xD5]);
}

#[test]
fn parse_skips_csrcs_extension_and_padding() {
    let datagram = [
        0xB1, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, // V=2 P X CC=1
        0xAA, 0xBB, 0xCC, 0xDD, // CSRC
        0xBE, 0xDE, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, // extension, one word
        0x42, 0x43, // payload
        0x00, 0x02, // padding, 2 bytes
    ];
    assert_eq!(parse(&datagram).unwrap().payload, &[0x42, 0x43]);
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut sender = RtpSender::new(7, 0, 65535, u32::MAX - 100).unwrap();
    let first = parse(&sender.packet(&[0; 160], 160, false))
        .unwrap()
        .sequence;
    let second = sender.packet(&[0; 160], 160, false);
    let second = parse(&second).unwrap();
    assert_eq!((first, second.sequence), (65535, 0));
    assert_eq!(second.timestamp, 59);
}

#[test]
fn event_packets_keep_their_timestamp() {
    let mut sender = RtpSender::new(7, 0, 10, 8000).unwrap();
    let a = sender.packet_at(101, 4000, &[1, 2, 3, 4], true).unwrap();
    let b = sender.packet_at(101, 4000, &[1, 2, 3, 4], false).unwrap();
    let (a, b) = (parse(&a).unwrap(), parse(&b).unwrap());
    assert_eq!((a.timestamp, b.timestamp), (4000, 4000));
    assert_eq!((a.sequence, b.sequence), (10, 11));
    assert_eq!((a.payload_type, a.marker, b.marker), (101, true, false));
    assert_eq!(sender.timestamp(), 8000, "events leave the clock alone");
    sender.advance(320);
    assert_eq!(sender.timestamp(), 8320);
}

#[test]
fn payload_types_must_fit_in_seven_bits() {
    assert_eq!(
        RtpSender::new(1, 128, 0, 0),
        Err(MediaError::InvalidPayloadType(128))
    );
    let mut sender = RtpSender::new(1, 127, 0, 0).unwrap();
    assert_eq!(
        sender.packet_at(200, 0, &[], false),
        Err(MediaError::InvalidPayloadType(200))
    );
    assert_eq!(
        sender.next_sequence(),
        0,
        "a refused packet takes no sequence number"
    );
}

#[test]
fn malformed_datagrams_are_errors() {
    let header = [0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", header[..11].to_vec()),
        ("version 1", [&[0x40u8][..], &header[1..]].concat()),
        ("version 0", [&[0x00u8][..], &header[1..]].concat()),
        (
            "CSRCs past the end",
            [&[0x83u8][..], &header[1..], &[0; 8]].concat(),
        ),
        (
            "extension past the end",
            [&[0x90u8][..], &header[1..], &[0, 0, 0, 2, 0, 0, 0, 0]].concat(),
        ),
        (
            "zero padding",
            [&[0xA0u8][..], &header[1..], &[1, 0]].concat(),
        ),
        (
            "padding past the header",
            [&[0xA0u8][..], &header[1..], &[1, 9]].concat(),
        ),
    ];
    for (what, datagram) in cases {
        assert!(
            matches!(parse(&datagram), Err(MediaError::MalformedRtp(_))),
            "{what} must be refused"
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(rtp) = parse(&bytes) {
            prop_assert!(rtp.payload.len() <= bytes.len() - 12);
        }
    }

    #[test]
    fn version_2_headers_with_random_flags_never_panic(
        first in 0x80u8..0xC0,
        rest in proptest::collection::vec(any::<u8>(), 11..80),
    ) {
        let bytes = [&[first][..], &rest].concat();
        let _ = parse(&bytes);
    }

    #[test]
    fn written_packets_parse_back(
        ssrc in any::<u32>(),
        pt in 0u8..128,
        seq in any::<u16>(),
        ts in any::<u32>(),
        marker in any::<bool>(),
        samples in 0u32..2000,
        payload in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut sender = RtpSender::new(ssrc, pt, seq, ts).unwrap();
        let packet = sender.packet(&payload, samples, marker);
        let rtp = parse(&packet).unwrap();
        prop_assert_eq!(
            (rtp.ssrc, rtp.payload_type, rtp.sequence, rtp.timestamp, rtp.marker),
            (ssrc, pt, seq, ts, marker)
        );
        prop_assert_eq!(rtp.payload, &payload[..]);
        prop_assert_eq!(sender.next_sequence(), seq.wrapping_add(1));
        prop_assert_eq!(sender.timestamp(), ts.wrapping_add(samples));
    }
}

#[test]
fn packets_forwarded_elsewhere_count_and_the_stream_goes_on_after_them() {
    let mut sender = RtpSender::new(0x1234, 0, 100, 1000).unwrap();
    sender.packet(&[0xFF; 160], 160, false);
    // 50 more written by the kernel's media path: 101..=150, the last at 9000.
    sender.forwarded(50, 8000, 151, 9160);
    assert_eq!((sender.packets_sent(), sender.octets_sent()), (51, 8160));
    let next = parse(&sender.packet(&[0xFF; 160], 160, false))
        .map(|p| (p.sequence, p.timestamp))
        .unwrap();
    assert_eq!(next, (151, 9160));
    // The clock never goes back.
    sender.forwarded(0, 0, 152, 0);
    assert_eq!((sender.next_sequence(), sender.timestamp()), (152, 9320));
}
