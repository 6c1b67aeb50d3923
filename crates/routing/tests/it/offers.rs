//! Offers, re-routing, abandons, callbacks and leaving the queue.

use std::time::Duration;

use switchboard_routing::*;

use crate::harness::*;

#[test]
fn rejected_and_unanswered_offers_go_to_the_next_agent() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            ring_timeout: Duration::from_secs(15),
            ..queue_spec(Strategy::Linear)
        },
    );
    for id in 1..=3 {
        h.simple_agent(id, &[1], &[]);
    }
    h.voice(1, 1);
    assert_eq!(h.offered_to(1), Some(1));
    let offer = h.offer_of(1);
    h.ok(Input::Reject { offer });
    assert_eq!(h.offered_to(1), Some(2), "agent 1 declined");
    h.advance(15.0);
    assert_eq!(h.offered_to(1), Some(3), "agent 2 did not answer");
    h.answer(1);
    let waited = h.events.iter().find_map(|e| match e.kind {
        EventKind::Connected { waited, .. } => Some(waited),
        _ => None,
    });
    assert_eq!(waited, Some(Duration::from_secs(15)));
    assert_eq!(
        h.input(Input::Accept { offer }),
        Err(RoutingError::UnknownOffer(offer))
    );
}

#[test]
fn a_lone_agent_who_declined_is_offered_again_later() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            ring_timeout: Duration::from_secs(10),
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.voice(1, 1);
    let offer = h.offer_of(1);
    h.ok(Input::Reject { offer });
    assert_eq!(h.offered_to(1), None);
    h.advance(59.0);
    assert_eq!(h.offered_to(1), None);
    h.advance(1.0);
    assert_eq!(
        h.offered_to(1),
        Some(1),
        "declines are forgotten after a minute"
    );
}

#[test]
fn caller_hangs_up_while_waiting_or_ringing() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::RingAll));
    h.voice(1, 1);
    h.advance(5.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert_eq!(h.outcomes(1), [Outcome::Abandoned]);
    h.simple_agent(1, &[1], &[]);
    h.simple_agent(2, &[1], &[]);
    h.voice(2, 1);
    assert_eq!(h.open_offers().len(), 2);
    h.ok(Input::End {
        contact: ContactId(2),
    });
    assert!(h.open_offers().is_empty(), "ringing stops everywhere");
    assert_eq!(h.outcomes(2), [Outcome::Abandoned]);
    assert_eq!(h.state(1), AgentState::Available);
    assert_eq!(h.engine.table_sizes().contacts, 0);
}

#[test]
fn withdraw_and_max_wait_leave_the_queue_without_abandoning() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            max_wait: Some(Duration::from_secs(120)),
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.voice(1, 1);
    h.voice(2, 1);
    h.ok(Input::Withdraw {
        contact: ContactId(1),
    });
    h.advance(119.0);
    assert!(h.outcomes(2).is_empty());
    h.advance(1.0);
    assert_eq!(h.outcomes(1), [Outcome::Withdrawn]);
    assert_eq!(h.outcomes(2), [Outcome::Expired]);
    assert_eq!(h.engine.waiting(QueueId(1)), 0);
}

#[test]
fn callback_keeps_its_place_in_line() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.voice(1, 1);
    h.advance(1.0);
    h.voice(2, 1);
    h.ok(Input::ConvertToCallback {
        contact: ContactId(1),
    });
    assert_eq!(h.engine.position(ContactId(1)).map(|p| p.ahead), Some(0));
    assert_eq!(
        h.input(Input::ConvertToCallback {
            contact: ContactId(1)
        }),
        Err(RoutingError::ContactState {
            contact: ContactId(1),
            action: "become a callback (only a waiting voice contact can)"
        })
    );
    h.advance(60.0);
    h.simple_agent(1, &[1], &[]);
    let offered = h.events.iter().find_map(|e| match e.kind {
        EventKind::Offered {
            contact, channel, ..
        } => Some((contact, channel)),
        _ => None,
    });
    assert_eq!(
        offered,
        Some((ContactId(1), Channel::Callback)),
        "the callback is due first: agent-first callback"
    );
}

#[test]
fn timers_and_tables_are_empty_after_everything_ends() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            wrap_up: WrapUp::Timed(Duration::from_secs(5)),
            max_wait: Some(Duration::from_secs(300)),
            escalation: vec![EscalationStep {
                after: Duration::from_secs(30),
                actions: vec![Escalation::RaisePriority(1)],
            }],
            ..queue_spec(Strategy::RingAll)
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.simple_agent(2, &[1], &[]);
    for c in 1..=6 {
        h.voice(c, 1);
    }
    h.answer(1);
    h.answer(2);
    h.advance(40.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    h.ok(Input::End {
        contact: ContactId(4),
    });
    h.advance(1000.0);
    for c in 1..=6 {
        let _ = h.input(Input::End {
            contact: ContactId(c),
        });
        h.advance(10.0);
    }
    h.advance(1000.0);
    for c in 1..=6 {
        assert_eq!(h.outcomes(c).len(), 1, "contact {c} ends exactly once");
    }
    assert_eq!(
        h.engine.table_sizes(),
        TableSizes::default(),
        "no leaked contacts, offers, timers or classes"
    );
}

#[test]
fn ring_timers_of_answered_offers_do_not_pile_up() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            ring_timeout: Duration::from_secs(15),
            ..queue_spec(Strategy::Linear)
        },
    );
    h.simple_agent(2, &[1], &[]);
    h.voice(1, 1);
    assert_eq!(
        h.offered_to(1),
        Some(2),
        "the only agent is offered contact 1"
    );
    h.simple_agent(1, &[1], &[]);
    // Thousands of offers answered within their ring timeout: each leaves a ring timer
    // that can only fire to no effect.
    let mut most = 0;
    for c in 2..=5_001 {
        h.voice(c, 1);
        h.answer(c);
        h.ok(Input::End {
            contact: ContactId(c),
        });
        most = most.max(h.engine.table_sizes().timers);
    }
    assert!(most < 2_100, "stale ring timers are swept: at most {most}");
    // The offer still ringing keeps its timer through the sweeps.
    h.advance(15.0);
    let timed_out = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::OfferEnded {
                    contact: ContactId(1),
                    reason: OfferEnd::TimedOut,
                    ..
                }
            )
        })
        .count();
    assert_eq!(timed_out, 1, "contact 1's offer to agent 2 timed out once");
}
