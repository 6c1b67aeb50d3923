//! Configuration changes while contacts wait, reused ids, and degenerate settings.

use std::time::Duration;

use switchboard_routing::*;

use crate::harness::*;

fn escalating(after: u64, action: Escalation) -> QueueSpec {
    QueueSpec {
        escalation: vec![EscalationStep {
            after: Duration::from_secs(after),
            actions: vec![action],
        }],
        ..queue_spec(Strategy::Linear)
    }
}

#[test]
fn reconfiguring_a_queue_relists_escalated_contacts_cleanly() {
    let mut h = Harness::new();
    h.queue(1, escalating(10, Escalation::RaisePriority(5)));
    h.voice(1, 1);
    h.advance(11.0);
    h.queue(1, queue_spec(Strategy::LongestIdle));
    assert_eq!(h.engine.waiting(QueueId(1)), 1);
    h.simple_agent(1, &[1], &[]);
    h.answer(1);
    assert_eq!(h.engine.waiting(QueueId(1)), 0);
    assert_eq!(h.engine.table_sizes().classes, 0, "no stale class entries");
    h.simple_agent(2, &[1], &[]);
    assert_eq!(
        h.offered_to(1),
        None,
        "a connected contact is never offered again"
    );
    h.advance(25.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert_eq!(h.outcomes(1), [Outcome::Handled]);
    assert_eq!(h.state(1), AgentState::Available);
}

/// Queue 1 starts with tier 1 only; its one agent is a tier-2 member.
fn tier_two_held_back() -> Harness {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            initial_tier: 1,
            ..queue_spec(Strategy::Linear)
        },
    );
    h.agent(
        1,
        AgentSpec {
            queues: vec![member(1, 2, 0)],
            ..AgentSpec::default()
        },
    );
    h
}

#[test]
fn a_free_agent_given_a_skill_takes_the_contact_that_needs_it() {
    // The agent's search has already looked at the waiting contact's class (and found
    // it wanting) when its skills change; no class comes or goes in between.
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.simple_agent(1, &[1], &[(10, 1)]);
    h.enqueue(1, needs(1, &[(10, 2)]));
    assert_eq!(h.offered_to(1), None, "proficiency 1 is not enough");
    h.voice(2, 1);
    h.answer(2);
    h.ok(Input::End {
        contact: ContactId(2),
    });
    assert_eq!(h.offered_to(1), None);
    h.ok(Input::ConfigureAgent {
        agent: AgentId(1),
        spec: AgentSpec {
            skills: vec![(SkillId(10), 2)],
            queues: vec![member(1, 1, 1)],
            ..AgentSpec::default()
        },
    });
    assert_eq!(h.offered_to(1), Some(1));
}

#[test]
fn reconfiguring_a_queue_routes_waiting_contacts_in_order() {
    let mut h = tier_two_held_back();
    h.voice(1, 1);
    h.voice(2, 1);
    assert_eq!(h.offered_to(1), None, "tier 2 is held back");
    h.queue(
        1,
        QueueSpec {
            initial_tier: 2,
            ..queue_spec(Strategy::Linear)
        },
    );
    assert_eq!(h.offered_to(1), Some(1), "the oldest goes first");
    assert_eq!(h.offered_to(2), None);
}

#[test]
fn escalation_added_later_applies_to_waiting_contacts() {
    let mut h = tier_two_held_back();
    h.voice(1, 1);
    h.queue(
        1,
        QueueSpec {
            initial_tier: 1,
            ..escalating(10, Escalation::ExpandTier(2))
        },
    );
    h.advance(9.0);
    assert_eq!(h.offered_to(1), None);
    h.advance(1.0);
    assert_eq!(h.offered_to(1), Some(1));
}

#[test]
fn a_step_reached_while_ringing_is_reported() {
    let mut h = Harness::new();
    h.queue(1, escalating(10, Escalation::RaisePriority(1)));
    h.simple_agent(1, &[1], &[]);
    h.voice(1, 1);
    h.advance(25.0);
    let steps = h
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Escalated { step: 1, .. }))
        .count();
    assert_eq!(steps, 1);
}

#[test]
fn stale_timers_of_a_reused_contact_id_do_nothing() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            max_wait: Some(Duration::from_secs(60)),
            wrap_up: WrapUp::Timed(Duration::from_secs(30)),
            ..queue_spec(Strategy::Linear)
        },
    );
    h.voice(1, 1);
    h.advance(1.0);
    h.ok(Input::Withdraw {
        contact: ContactId(1),
    });
    h.advance(49.0);
    h.voice(1, 1);
    h.advance(15.0);
    assert_eq!(
        h.outcomes(1),
        [Outcome::Withdrawn],
        "the new contact 1 still waits"
    );
    h.ok(Input::Withdraw {
        contact: ContactId(1),
    });

    h.simple_agent(1, &[1], &[]);
    h.voice(2, 1);
    h.answer(2);
    h.ok(Input::End {
        contact: ContactId(2),
    });
    h.ok(Input::CompleteWrapUp {
        agent: AgentId(1),
        contact: ContactId(2),
    });
    h.advance(20.0);
    h.voice(2, 1);
    h.answer(2);
    h.ok(Input::End {
        contact: ContactId(2),
    });
    h.advance(15.0);
    assert_eq!(
        h.state(1),
        AgentState::WrapUp,
        "the old wrap-up timer is ignored"
    );
    h.advance(15.0);
    assert_eq!(h.state(1), AgentState::Available);
}

#[test]
fn degenerate_settings_are_refused_or_harmless() {
    let mut h = Harness::new();
    assert!(matches!(
        h.input(Input::ConfigureQueue {
            queue: QueueId(1),
            spec: QueueSpec {
                ring_timeout: Duration::ZERO,
                ..QueueSpec::default()
            },
        }),
        Err(RoutingError::InvalidSpec(_))
    ));
    // A zero retry delay cannot make one timeout call run forever: timers set while
    // handling a call wait for the next one.
    h.queue(
        1,
        QueueSpec {
            ring_timeout: Duration::from_millis(1),
            retry_declined_after: Duration::ZERO,
            ..queue_spec(Strategy::Linear)
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.voice(1, 1);
    for _ in 0..5 {
        h.advance(0.001);
    }
    assert!(h.engine.table_sizes().contacts == 1);
}

#[test]
fn counters_saturate_instead_of_overflowing() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LeastTalkTime));
    h.agent(
        1,
        AgentSpec {
            capacity: Capacity {
                voice: 0,
                chat: 2,
                email: 0,
                sms: 0,
                total: 2,
                voice_exclusive: true,
            },
            queues: vec![member(1, 1, 0)],
            ..AgentSpec::default()
        },
    );
    h.enqueue(1, ContactSpec::new(Channel::Chat, QueueId(1)));
    h.enqueue(2, ContactSpec::new(Channel::Chat, QueueId(1)));
    h.answer(1);
    h.answer(2);
    h.now = Timestamp(u64::MAX - 1);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    h.ok(Input::End {
        contact: ContactId(2),
    });
    let load = h.engine.agent_load(AgentId(1)).expect("known");
    assert_eq!(load.talk_time, Duration::from_micros(u64::MAX));
}

#[test]
fn a_refused_input_does_not_move_the_clock() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::Linear));
    h.now = Timestamp::from_secs_f64(100.0);
    assert!(h.input(Input::Login { agent: AgentId(9) }).is_err());
    h.now = Timestamp::from_secs_f64(10.0);
    h.voice(1, 1);
    let at = h.events.iter().find_map(|e| match e.kind {
        EventKind::Queued { .. } => Some(e.at),
        _ => None,
    });
    assert_eq!(at, Some(Timestamp::from_secs_f64(10.0)));
}
