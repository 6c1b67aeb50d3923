//! RFC 4733 telephone events: the payload layout, the receiver's once-per-press rule and
//! the sender's packet sequence.

use proptest::prelude::*;
use switchboard_media::MediaError;
use switchboard_media::dtmf::{
    EventReceiver, EventRelay, EventSender, KeyPress, TelephoneEvent, digit_of, digit_packets,
    event_of,
};
use switchboard_media::rtp::{RtpSender, parse};

/// Key 1, volume 10, duration 160, with payload type 101, marker set, sequence 1,
/// timestamp 4000, SSRC 0x12345678: an RTP header (RFC 3550) and an RFC 4733 payload.
const KEY_1_FIRST_PACKET: [u8; 16] = [
    0x80, 0xE5, 0x00, 0x01, // V=2, M=1 PT=101, sequence 1
    0x00, 0x00, 0x0F, 0xA0, // timestamp 4000
    0x12, 0x34, 0x56, 0x78, // SSRC
    0x01, 0x0A, 0x00, 0xA0, // event 1, E=0 R=0 volume 10, duration 160
];

#[test]
fn a_literal_packet_for_key_1_parses() {
    let rtp = parse(&KEY_1_FIRST_PACKET).unwrap();
    assert_eq!(
        (rtp.payload_type, rtp.marker, rtp.timestamp),
        (101, true, 4000)
    );
    let event = TelephoneEvent::parse(rtp.payload).unwrap();
    assert_eq!(
        event,
        TelephoneEvent {
            event: 1,
            end: false,
            volume: 10,
            duration: 160
        }
    );
    assert_eq!(digit_of(event.event), Some('1'));
    let press = EventReceiver::new()
        .handle(rtp.ssrc, rtp.timestamp, rtp.payload)
        .unwrap();
    assert_eq!(press.and_then(|p| p.digit()), Some('1'));
}

#[test]
fn the_sender_writes_the_same_literal_packet() {
    let mut rtp = RtpSender::new(0x1234_5678, 0, 1, 4000).unwrap();
    let packets = digit_packets(&mut rtp, 101, '1', 160).unwrap();
    assert_eq!(packets[0], KEY_1_FIRST_PACKET);
}

#[test]
fn payload_layout_follows_section_2_3() {
    let end = TelephoneEvent {
        event: 11,
        end: true,
        volume: 63,
        duration: 0x1234,
    };
    assert_eq!(end.write(), [11, 0xBF, 0x12, 0x34]);
    assert_eq!(TelephoneEvent::parse(&end.write()).unwrap(), end);
    // The reserved bit is ignored on receipt, a too-large volume is clamped on writing.
    let parsed = TelephoneEvent::parse(&[5, 0xC0 | 7, 0, 160]).unwrap();
    assert_eq!(
        parsed,
        TelephoneEvent {
            event: 5,
            end: true,
            volume: 7,
            duration: 160
        }
    );
    let loud = TelephoneEvent {
        event: 0,
        end: false,
        volume: 200,
        duration: 0,
    };
    assert_eq!(loud.write()[1], 63);
    assert_eq!(
        TelephoneEvent::parse(&[1, 2, 3]),
        Err(MediaError::MalformedEvent { len: 3 })
    );
}

#[test]
fn the_sixteen_keys_map_to_events_0_to_15() {
    let keys = "0123456789*#ABCD";
    for (code, key) in keys.chars().enumerate() {
        assert_eq!(event_of(key), Some(code as u8));
        assert_eq!(digit_of(code as u8), Some(key));
    }
    assert_eq!(event_of('a'), Some(12));
    assert_eq!(event_of('E'), None);
    assert_eq!(event_of(' '), None);
    assert_eq!(digit_of(16), None, "16 is flash, not a key");
}

/// The packets of one press as (timestamp, payload) with the default timing.
fn press(event: u8, timestamp: u32) -> Vec<(u32, [u8; 4])> {
    let mut packets: Vec<_> = (1..=8u16)
        .map(|i| TelephoneEvent {
            event,
            end: false,
            volume: 10,
            duration: i * 160,
        })
        .collect();
    packets.extend(
        [TelephoneEvent {
            event,
            end: true,
            volume: 10,
            duration: 1280,
        }; 3],
    );
    packets
        .into_iter()
        .map(|e| (timestamp, e.write()))
        .collect()
}

fn feed(receiver: &mut EventReceiver, ssrc: u32, packets: &[(u32, [u8; 4])]) -> Vec<char> {
    packets
        .iter()
        .filter_map(|(ts, payload)| receiver.handle(ssrc, *ts, payload).unwrap())
        .filter_map(|p| p.digit())
        .collect()
}

#[test]
fn one_press_is_reported_once_on_its_first_packet() {
    let mut receiver = EventReceiver::new();
    let packets = press(5, 1000);
    let first = receiver.handle(9, 1000, &packets[0].1).unwrap();
    assert_eq!(
        first,
        Some(KeyPress {
            ssrc: 9,
            timestamp: 1000,
            event: 5
        })
    );
    assert!(
        feed(&mut receiver, 9, &packets[1..]).is_empty(),
        "nor on the 3 end packets"
    );
}

#[test]
fn losing_the_first_packets_still_reports_the_press() {
    let packets = press(7, 1000);
    for lost in 0..packets.len() {
        let mut receiver = EventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 9, &packets[lost..]),
            vec!['7'],
            "first {lost} lost"
        );
    }
}

#[test]
fn repeated_and_reordered_packets_are_dropped() {
    let mut packets = press(3, 500);
    packets.reverse();
    packets.extend(press(3, 500));
    let mut receiver = EventReceiver::new();
    assert_eq!(feed(&mut receiver, 1, &packets), vec!['3']);
}

#[test]
fn the_same_key_twice_is_two_presses() {
    let mut packets = press(2, 1000);
    packets.extend(press(2, 1000 + 1280 + 640));
    let mut receiver = EventReceiver::new();
    assert_eq!(feed(&mut receiver, 1, &packets), vec!['2', '2']);
}

#[test]
fn a_new_ssrc_with_the_same_timestamp_is_a_new_event() {
    let mut receiver = EventReceiver::new();
    assert_eq!(feed(&mut receiver, 1, &press(4, 8000)), vec!['4']);
    assert_eq!(feed(&mut receiver, 2, &press(4, 8000)), vec!['4']);
    // And a late packet from the first source is still a duplicate.
    assert_eq!(
        feed(&mut receiver, 1, &press(4, 8000)[10..]),
        Vec::<char>::new()
    );
}

#[test]
fn a_long_event_in_segments_is_one_press() {
    // Section 2.5.2.3: the duration stops at 0xFFFF and a new segment starts with the
    // timestamp advanced by that much, same event, until the end packets.
    let seg = |ts: u32, duration: u16, end: bool| {
        (
            ts,
            TelephoneEvent {
                event: 0,
                end,
                volume: 10,
                duration,
            }
            .write(),
        )
    };
    let packets = [
        seg(0, 160, false),
        seg(0, 0xFFFF, false),
        seg(0xFFFF, 160, false),
        seg(0xFFFF, 0xFFFF, false),
        seg(2 * 0xFFFF, 160, false),
        seg(2 * 0xFFFF, 800, true),
        seg(2 * 0xFFFF, 800, true),
    ];
    let mut receiver = EventReceiver::new();
    assert_eq!(feed(&mut receiver, 1, &packets), vec!['0']);
    // A short press of the same key right after an unfinished one is a new press.
    let mut receiver = EventReceiver::new();
    let short = [seg(0, 160, false), seg(160, 160, false)];
    assert_eq!(feed(&mut receiver, 1, &short), vec!['0', '0']);
}

#[test]
fn short_payloads_are_errors() {
    let mut receiver = EventReceiver::new();
    assert!(receiver.handle(1, 1, &[]).is_err());
    assert!(receiver.handle(1, 1, &[1, 2]).is_err());
}

#[test]
fn the_sender_writes_8_packets_then_3_end_packets_on_one_timestamp() {
    let mut rtp = RtpSender::new(42, 0, 100, 16000).unwrap();
    let packets: Vec<_> = digit_packets(&mut rtp, 101, '#', 160).unwrap();
    assert_eq!(packets.len(), 11);
    for (i, bytes) in packets.iter().enumerate() {
        let p = parse(bytes).unwrap();
        let e = TelephoneEvent::parse(p.payload).unwrap();
        assert_eq!((p.payload_type, p.ssrc, p.timestamp), (101, 42, 16000));
        assert_eq!(p.sequence, 100 + i as u16);
        assert_eq!(p.marker, i == 0, "marker on the first packet only");
        assert_eq!((e.event, e.volume), (11, 10));
        assert_eq!(e.end, i >= 8);
        assert_eq!(e.duration, 160 * (i.min(7) as u16 + 1));
    }
    assert_eq!(
        rtp.timestamp(),
        16000 + 11 * 160,
        "the clock ran for 11 ticks"
    );
    assert_eq!(rtp.next_sequence(), 111);
}

#[test]
fn queued_keys_are_separated_by_the_gap() {
    let mut rtp = RtpSender::new(1, 0, 0, 0).unwrap();
    let mut sender = EventSender::with_timing(101, 60, 40).unwrap();
    sender.push_digits("12").unwrap();
    let mut ticks = Vec::new();
    while !sender.is_idle() {
        match sender.poll(&mut rtp) {
            Some(packet) => ticks.push(Some(parse(&packet).unwrap().timestamp)),
            None => {
                // The caller sends audio on this tick.
                rtp.packet(&[0xFF; 160], 160, false);
                ticks.push(None);
            }
        }
    }
    // 3 tone packets + 3 end packets, 2 ticks of audio, then the second key.
    let first = [Some(0); 6];
    let second = [Some(8 * 160); 6];
    let expected: Vec<_> = first
        .into_iter()
        .chain([None, None])
        .chain(second)
        .chain([None, None])
        .collect();
    assert_eq!(ticks, expected);
    assert_eq!(sender.poll(&mut rtp), None);
}

#[test]
fn relayed_events_keep_their_payload_and_take_the_outgoing_clock() {
    // The caller's stream: keys 5 then 9, as payload type 96.
    let mut caller = RtpSender::new(1, 0, 0, 50_000).unwrap();
    let mut incoming = digit_packets(&mut caller, 96, '5', 60).unwrap();
    incoming.extend(digit_packets(&mut caller, 96, '9', 60).unwrap());
    // The agent's stream has its own SSRC, sequence and clock; it takes events as 101.
    let mut agent = RtpSender::new(2, 0, 700, 9_000).unwrap();
    let mut relay = EventRelay::new();
    let mut receiver = EventReceiver::new();
    let mut heard = String::new();
    let mut starts = Vec::new();
    for (i, bytes) in incoming.iter().enumerate() {
        let p = parse(bytes).unwrap();
        let out = relay
            .relay(p.timestamp, p.payload, p.marker, 101, &mut agent)
            .unwrap();
        let q = parse(&out).unwrap();
        assert_eq!((q.payload_type, q.ssrc), (101, 2));
        assert_eq!(q.sequence, 700 + 2 * i as u16, "the agent's own sequence");
        assert_eq!((q.payload, q.marker), (p.payload, p.marker), "payload kept");
        starts.push(q.timestamp);
        if let Some(press) = receiver.handle(q.ssrc, q.timestamp, q.payload).unwrap() {
            heard.extend(press.digit());
        }
        // Audio goes on between event packets and moves the agent's clock.
        agent.packet(&[0xFF; 160], 160, false);
    }
    assert_eq!(heard, "59");
    // Each event keeps one start timestamp: the agent's clock at its first packet.
    assert_eq!(starts[..6], [9_000; 6]);
    assert_eq!(starts[6..], [9_000 + 6 * 160; 6]);
    // Anything but a telephone-event payload is refused.
    assert!(relay.relay(1, &[1, 2], false, 101, &mut agent).is_err());
}

#[test]
fn bad_keys_and_timings_are_refused() {
    let mut sender = EventSender::new(101).unwrap();
    assert_eq!(sender.push_digits("12x"), Err(MediaError::NotDtmfKey('x')));
    assert!(sender.is_idle(), "nothing queued when one key is bad");
    assert_eq!(sender.push_digit('E'), Err(MediaError::NotDtmfKey('E')));
    assert!(EventSender::with_timing(101, 20, 0).is_err());
    assert!(EventSender::with_timing(101, 6000, 0).is_err());
    assert!(EventSender::with_timing(101, 100, 6000).is_err());
    assert!(EventSender::new(128).is_err());
}

#[test]
fn sender_and_receiver_agree_on_every_key() {
    let keys = "0123456789*#ABCD";
    let mut rtp = RtpSender::new(77, 0, 9, 123).unwrap();
    let mut sender = EventSender::new(101).unwrap();
    sender.push_digits(keys).unwrap();
    let mut receiver = EventReceiver::new();
    let mut heard = String::new();
    while !sender.is_idle() {
        if let Some(packet) = sender.poll(&mut rtp) {
            let p = parse(&packet).unwrap();
            if let Some(press) = receiver.handle(p.ssrc, p.timestamp, p.payload).unwrap() {
                heard.extend(press.digit());
            }
        }
    }
    assert_eq!(heard, keys);
}

proptest! {
    /// Whatever subset of packets arrives, in whatever order and repeated, each press with
    /// at least one packet delivered is reported exactly once.
    #[test]
    fn each_delivered_press_is_reported_once(
        keys in proptest::collection::vec(0u8..16, 1..6),
        keep in proptest::collection::vec(any::<bool>(), 66),
        order in proptest::collection::vec(any::<u32>(), 66),
        twice in any::<bool>(),
    ) {
        let mut all = Vec::new();
        for (i, &key) in keys.iter().enumerate() {
            let ts = 10_000 + i as u32 * 3000;
            all.extend(press(key, ts).into_iter().map(|p| (i, p)));
        }
        let mut delivered: Vec<_> = all
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p)
            .collect();
        // Shuffle within a window of 3 packets, as a network would reorder.
        let mut keyed: Vec<_> = delivered
            .drain(..)
            .enumerate()
            .map(|(n, p)| (n as u64 * 4 + u64::from(order[n % order.len()] % 12), p))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let mut delivered: Vec<_> = keyed.into_iter().map(|(_, p)| p).collect();
        if twice {
            delivered.extend(delivered.clone());
        }
        let mut expected: Vec<usize> = delivered.iter().map(|(i, _)| *i).collect();
        expected.sort_unstable();
        expected.dedup();
        let mut receiver = EventReceiver::new();
        let mut reported: Vec<usize> = delivered
            .iter()
            .filter_map(|(i, (ts, payload))| {
                receiver.handle(5, *ts, payload).unwrap().map(|_| *i)
            })
            .collect();
        reported.sort_unstable();
        prop_assert_eq!(reported, expected);
    }
}
