//! The reorder buffer: order, loss, duplicates, late packets, wrap-around, restarts and
//! its size bound.

use proptest::prelude::*;
use switchboard_media::jitter::{JitterBuffer, Pushed, Streams};

fn drain(buffer: &mut JitterBuffer<u16>) -> Vec<u16> {
    std::iter::from_fn(|| buffer.pop())
        .map(|(seq, _)| seq)
        .collect()
}

#[test]
fn in_order_packets_pass_straight_through() {
    let mut buffer = JitterBuffer::new(3);
    for seq in 10..20u16 {
        assert_eq!(buffer.push(seq, seq), Pushed::Queued);
        assert_eq!(drain(&mut buffer), vec![seq]);
    }
    assert_eq!(buffer.stats().released, 10);
}

#[test]
fn reordered_packets_come_out_in_order() {
    let mut buffer = JitterBuffer::new(3);
    buffer.push(1, 1);
    assert_eq!(drain(&mut buffer), [1]);
    buffer.push(3, 3);
    assert_eq!(drain(&mut buffer), [] as [u16; 0], "2 may still come");
    buffer.push(2, 2);
    assert_eq!(drain(&mut buffer), [2, 3]);
    assert_eq!(buffer.stats().lost, 0);
}

#[test]
fn a_lost_packet_is_given_up_when_the_buffer_is_full() {
    let mut buffer = JitterBuffer::new(3);
    buffer.push(1, 1);
    drain(&mut buffer);
    buffer.push(3, 3);
    buffer.push(4, 4);
    assert!(drain(&mut buffer).is_empty());
    buffer.push(5, 5);
    assert_eq!(drain(&mut buffer), [3, 4, 5]);
    assert_eq!(buffer.stats().lost, 1);
    assert_eq!(
        buffer.push(2, 2),
        Pushed::Late,
        "too late once 3 was released"
    );
}

#[test]
fn sequence_numbers_wrap() {
    let mut buffer = JitterBuffer::new(3);
    buffer.push(65534, 65534);
    assert_eq!(drain(&mut buffer), [65534]);
    let mut released = Vec::new();
    for seq in [1, 0, 65535, 2] {
        buffer.push(seq, seq);
        released.extend(drain(&mut buffer));
    }
    assert_eq!(released, [65535, 0, 1, 2]);
    assert_eq!(buffer.push(65535, 65535), Pushed::Late);
}

#[test]
fn duplicates_and_late_packets_are_dropped() {
    let mut buffer = JitterBuffer::new(3);
    buffer.push(100, 100);
    drain(&mut buffer);
    buffer.push(102, 102);
    assert_eq!(buffer.push(102, 102), Pushed::Duplicate);
    assert_eq!(buffer.push(100, 100), Pushed::Late);
    assert_eq!(buffer.push(99, 99), Pushed::Late);
    let stats = buffer.stats();
    assert_eq!((stats.duplicates, stats.late), (1, 2));
    assert_eq!(
        buffer
            .flush()
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>(),
        [102]
    );
    assert_eq!(buffer.stats().lost, 1);
}

#[test]
fn a_sender_restart_resynchronises_but_a_stray_packet_does_not() {
    let mut buffer = JitterBuffer::new(3);
    buffer.push(1000, 1000);
    drain(&mut buffer);
    assert_eq!(buffer.push(40000, 40000), Pushed::Stray);
    assert_eq!(buffer.push(1001, 1001), Pushed::Queued);
    assert_eq!(drain(&mut buffer), [1001]);
    assert_eq!(buffer.push(20000, 20000), Pushed::Stray);
    assert_eq!(buffer.push(20001, 20001), Pushed::Resynced);
    buffer.push(20002, 20002);
    assert_eq!(drain(&mut buffer), [20001, 20002]);
}

#[test]
fn in_order_packets_pass_without_being_held_and_the_rest_wait_their_turn() {
    let mut buffer = JitterBuffer::new(3);
    assert!(buffer.pass(10), "the first packet");
    assert!(buffer.pass(11));
    // 13 before 12: 13 is held, 12 fills the hole, then both come out in order.
    assert!(!buffer.pass(13));
    assert_eq!(buffer.push(13, 13), Pushed::Queued);
    assert!(!buffer.pass(14), "not while something is held");
    assert_eq!(buffer.push(14, 14), Pushed::Queued);
    assert!(!buffer.pass(12), "12 is due, but 13 and 14 wait behind it");
    assert_eq!(buffer.push(12, 12), Pushed::Queued);
    assert_eq!(drain(&mut buffer), [12, 13, 14]);
    assert!(buffer.pass(15), "drained: in order again");
    assert!(!buffer.pass(15), "a duplicate does not pass");
    assert_eq!(buffer.push(15, 15), Pushed::Late);
    assert_eq!(buffer.stats().released, 6);
}

#[test]
fn interleaved_streams_are_each_put_in_order() {
    // Audio (SSRC 1, from 100) and key presses (SSRC 2, from 5000) interleaved, each with
    // a swapped pair.
    let arrivals = [
        (1, 100),
        (2, 5000),
        (1, 101),
        (2, 5002),
        (1, 103),
        (2, 5001),
        (1, 102),
        (2, 5003),
        (1, 104),
    ];
    let mut streams = Streams::default();
    let mut out = Vec::new();
    for (ssrc, seq) in arrivals {
        assert_eq!(streams.push(ssrc, seq, (ssrc, seq)), Pushed::Queued);
        out.extend(std::iter::from_fn(|| streams.pop()));
    }
    let of = |s: u32| -> Vec<u16> {
        out.iter()
            .filter(|(ssrc, _)| *ssrc == s)
            .map(|(_, q)| *q)
            .collect()
    };
    assert_eq!(of(1), [100, 101, 102, 103, 104]);
    assert_eq!(of(2), [5000, 5001, 5002, 5003]);
    assert_eq!(streams.push(1, 50, (1, 50)), Pushed::Late);
    // New streams replace the ones started first: stream 1 then starts afresh.
    for ssrc in 3..=5 {
        streams.push(ssrc, 0, (ssrc, 0));
    }
    assert_eq!(streams.push(1, 50, (1, 50)), Pushed::Queued);
}

#[test]
fn the_buffer_never_holds_more_than_its_depth() {
    let mut buffer = JitterBuffer::new(3);
    for seq in (0..40u16).step_by(2) {
        buffer.push(seq, seq);
        assert!(buffer.len() <= 3);
    }
    let out: Vec<u16> = buffer.flush().into_iter().map(|(s, _)| s).collect();
    assert_eq!(out, [34, 36, 38]);
}

proptest! {
    /// Whatever arrives, output is in strictly increasing (wrapping) order, nothing is
    /// released twice, and the buffer stays within its depth.
    #[test]
    fn output_is_ordered_and_bounded(
        start in any::<u16>(),
        jitter in proptest::collection::vec((0u16..8, any::<bool>()), 1..300),
        depth in 1usize..6,
    ) {
        let mut buffer = JitterBuffer::new(depth);
        let mut released = Vec::new();
        for (i, &(back, duplicate)) in jitter.iter().enumerate() {
            let seq = start.wrapping_add(i as u16).wrapping_sub(back);
            // As the voice edge drives it: a packet that needs no buffering passes.
            if buffer.pass(seq) {
                released.push(seq);
            } else {
                buffer.push(seq, seq);
            }
            if duplicate && !buffer.pass(seq) {
                buffer.push(seq, seq);
            }
            prop_assert!(buffer.len() <= depth);
            while let Some((seq, _)) = buffer.pop() {
                released.push(seq);
            }
        }
        released.extend(buffer.flush().into_iter().map(|(s, _)| s));
        for pair in released.windows(2) {
            let step = pair[1].wrapping_sub(pair[0]);
            prop_assert!((1..1000).contains(&step), "{:?}", pair);
        }
    }
}

#[test]
fn a_stream_passed_on_elsewhere_resumes_after_the_last_packet_passed_there() {
    let mut streams: Streams<u16> = Streams::new(3);
    assert!(streams.pass(7, 10));
    // 11..=65_535, 0..=4 passed on elsewhere (wrapping), told in steps of less than
    // half the sequence space: 5 is due next.
    for next in [30_000, 60_000, 5] {
        streams.resume(7, next);
    }
    assert!(streams.pass(7, 5), "the next one due passes straight on");
    assert!(!streams.pass(7, 7), "one after a hole waits");
    // A stream first met there is due from there too.
    streams.resume(8, 300);
    assert!(streams.pass(8, 300));
    // Resuming behind where the stream is changes nothing.
    streams.resume(7, 2);
    assert!(streams.pass(7, 6));
}
