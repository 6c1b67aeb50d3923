//! Historical report arithmetic on hand-made contact histories.

use switchboard_server::reports::{By, intervals, intervals_csv, summary};
use switchboard_store::{Contact, ContactStatus};

const MIN: i64 = 60_000;

fn contact(
    id: i64,
    customer: Option<i64>,
    queued: i64,
    answered: Option<i64>,
    ended: i64,
    agent: Option<&str>,
) -> Contact {
    Contact {
        id,
        channel: "chat".into(),
        address: format!("+44{id}"),
        dialed: "support".into(),
        customer_id: customer,
        flow: Some("tech-support".into()),
        queue: Some("support".into()),
        agent: agent.map(str::to_string),
        status: ContactStatus::Closed,
        ivr_path: Vec::new(),
        transcript: Vec::new(),
        created_ms: queued - 10_000,
        queued_ms: Some(queued),
        answered_ms: answered,
        ended_ms: Some(ended),
        wrapped_ms: answered.map(|_| ended + 30_000),
        end_reason: Some(
            if answered.is_some() {
                "handled"
            } else {
                "abandoned"
            }
            .into(),
        ),
        wrapup_code: None,
        notes: None,
        resolved: None,
        recording: None,
        voicemail: None,
        transferred: id == 3,
        forwarded_to: None,
        recordings: Vec::new(),
    }
}

#[test]
fn intervals_count_service_level_asa_and_aht_by_queue_and_agent() {
    let history = vec![
        // 00:00–00:15: answered after 10 s and after 40 s (threshold 20 s), one abandon at
        // 30 s and one short abandon at 2 s.
        contact(
            1,
            None,
            MIN,
            Some(MIN + 10_000),
            MIN + 130_000,
            Some("alice"),
        ),
        contact(
            2,
            None,
            2 * MIN,
            Some(2 * MIN + 40_000),
            2 * MIN + 100_000,
            Some("bob"),
        ),
        contact(3, None, 3 * MIN, None, 3 * MIN + 30_000, None),
        contact(4, None, 4 * MIN, None, 4 * MIN + 2_000, None),
        // 00:15–00:30: one answered at once.
        contact(
            5,
            None,
            20 * MIN,
            Some(20 * MIN),
            20 * MIN + 60_000,
            Some("alice"),
        ),
    ];
    let rows = intervals(&history, 0, 30 * MIN, 15 * MIN, By::Queue, &|_| 20, 5_000);
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(
        (
            r.start_ms,
            r.offered,
            r.answered,
            r.answered_in_sl,
            r.abandoned
        ),
        (0, 3, 2, 1, 1)
    );
    assert!((r.service_level.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.asa_secs, Some(25.0));
    // Handle time runs from answer to wrap-up: (120 + 30) and (60 + 30) seconds.
    assert_eq!(r.aht_secs, Some(120.0));
    assert_eq!(r.max_wait_secs, 40.0);
    assert_eq!(r.transferred, 1);
    assert_eq!(
        (rows[1].start_ms, rows[1].service_level),
        (15 * MIN, Some(100.0))
    );

    let by_agent = intervals(&history, 0, 30 * MIN, 30 * MIN, By::Agent, &|_| 20, 5_000);
    let keys: Vec<(&str, u64)> = by_agent
        .iter()
        .map(|r| (r.key.as_str(), r.answered))
        .collect();
    assert_eq!(keys, vec![("alice", 2), ("bob", 1)]);

    let csv = intervals_csv(&rows);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("start_ms,key,offered,answered")
    );
    assert_eq!(
        lines.next().unwrap(),
        "0,support,3,2,1,1,33.33,25.00,120.00,40.00,1"
    );
}

#[test]
fn a_repeat_contact_within_the_window_is_not_first_contact_resolution() {
    let day = 86_400_000;
    let history = vec![
        // Customer 7 comes back two days later: the first contact was not resolved.
        contact(
            1,
            Some(7),
            day,
            Some(day + 5_000),
            day + 60_000,
            Some("alice"),
        ),
        contact(
            2,
            Some(7),
            3 * day,
            Some(3 * day + 5_000),
            3 * day + 60_000,
            Some("alice"),
        ),
        // Customer 8 does not come back.
        contact(
            3,
            Some(8),
            day,
            Some(day + 15_000),
            day + 60_000,
            Some("bob"),
        ),
    ];
    let s = summary(&history, 0, 2 * day, 7, &|id| {
        Some(if id == 7 { "vip" } else { "consumer" }.into())
    });
    assert_eq!((s.handled, s.resolved_first_contact), (2, 1));
    assert_eq!(s.fcr, Some(50.0));
    assert_eq!(s.transfer_rate, Some(50.0));
    let seg: Vec<(&str, u64, f64)> = s
        .wait_by_segment
        .iter()
        .map(|w| (w.segment.as_str(), w.answered, w.asa_secs))
        .collect();
    assert_eq!(seg, vec![("consumer", 1, 15.0), ("vip", 1, 5.0)]);
    // With a one-day window the return two days later does not count against it.
    assert_eq!(summary(&history, 0, 2 * day, 1, &|_| None).fcr, Some(100.0));
}
