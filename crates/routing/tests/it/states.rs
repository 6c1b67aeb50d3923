//! The agent state machine: every transition is an event, illegal ones are refused.

use std::time::Duration;

use switchboard_routing::*;

use crate::harness::*;

fn transitions(h: &Harness, agent: u32) -> Vec<(&'static str, &'static str)> {
    h.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentState { agent: a, from, to } if *a == AgentId(agent) => {
                Some((from.name(), to.name()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_contact_walks_the_agent_through_every_state() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            wrap_up: WrapUp::Timed(Duration::from_secs(30)),
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.voice(1, 1);
    h.advance(3.0);
    h.answer(1);
    h.advance(60.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert_eq!(h.state(1), AgentState::WrapUp);
    h.advance(29.0);
    assert_eq!(h.state(1), AgentState::WrapUp);
    h.advance(1.0);
    assert_eq!(h.state(1), AgentState::Available, "wrap-up timed out");
    h.ok(Input::SetAway {
        agent: AgentId(1),
        reason: ReasonCode::new("lunch"),
    });
    h.ok(Input::Logout { agent: AgentId(1) });
    assert_eq!(
        transitions(&h, 1),
        [
            ("offline", "available"),
            ("available", "reserved"),
            ("reserved", "busy"),
            ("busy", "wrap_up"),
            ("wrap_up", "available"),
            ("available", "away"),
            ("away", "offline"),
        ]
    );
    assert_eq!(h.outcomes(1), [Outcome::Handled]);
    let away = h.events.iter().any(|e| {
        matches!(&e.kind, EventKind::AgentState { to: AgentState::Away(r), .. } if r.0.as_ref() == "lunch")
    });
    assert!(away, "the reason code is in the event");
}

#[test]
fn illegal_transitions_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            wrap_up: WrapUp::Manual,
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.ok(Input::ConfigureAgent {
        agent: AgentId(1),
        spec: AgentSpec {
            queues: vec![member(1, 1, 0)],
            ..AgentSpec::default()
        },
    });
    let refused =
        |r: Result<(), RoutingError>| matches!(r, Err(RoutingError::IllegalTransition { .. }));
    assert!(refused(h.input(Input::Logout { agent: AgentId(1) })));
    assert!(refused(h.input(Input::SetAvailable { agent: AgentId(1) })));
    assert!(refused(h.input(Input::SetAway {
        agent: AgentId(1),
        reason: ReasonCode::new("x")
    })));
    h.ok(Input::Login { agent: AgentId(1) });
    assert!(refused(h.input(Input::Login { agent: AgentId(1) })));
    h.voice(1, 1);
    assert!(
        refused(h.input(Input::Logout { agent: AgentId(1) })),
        "ringing"
    );
    h.answer(1);
    assert!(
        refused(h.input(Input::Logout { agent: AgentId(1) })),
        "busy"
    );
    assert!(refused(h.input(Input::CompleteWrapUp {
        agent: AgentId(1),
        contact: ContactId(1)
    })));
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert!(matches!(
        h.input(Input::End {
            contact: ContactId(1)
        }),
        Err(RoutingError::ContactState { .. })
    ));
    h.advance(3600.0);
    assert_eq!(
        h.state(1),
        AgentState::WrapUp,
        "manual wrap-up never times out"
    );
    let before = h.events.len();
    assert!(refused(h.input(Input::RemoveAgent { agent: AgentId(1) })));
    assert_eq!(h.events.len(), before, "a refused input emits nothing");
    h.ok(Input::CompleteWrapUp {
        agent: AgentId(1),
        contact: ContactId(1),
    });
    h.ok(Input::Logout { agent: AgentId(1) });
    h.ok(Input::RemoveAgent { agent: AgentId(1) });
    assert_eq!(
        h.input(Input::Login { agent: AgentId(1) }),
        Err(RoutingError::UnknownAgent(AgentId(1)))
    );
    assert_eq!(
        h.input(Input::Enqueue {
            contact: ContactId(9),
            spec: ContactSpec::new(Channel::Voice, QueueId(4))
        }),
        Err(RoutingError::UnknownQueue(QueueId(4)))
    );
}

#[test]
fn away_while_busy_finishes_the_work_and_takes_no_more() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.simple_agent(1, &[1], &[]);
    h.voice(1, 1);
    h.answer(1);
    h.ok(Input::SetAway {
        agent: AgentId(1),
        reason: ReasonCode::new("break"),
    });
    assert_eq!(h.state(1), AgentState::Busy);
    h.voice(2, 1);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert!(matches!(h.state(1), AgentState::Away(_)));
    assert_eq!(h.offered_to(2), None);
    h.ok(Input::SetAvailable { agent: AgentId(1) });
    assert_eq!(h.offered_to(2), Some(1));
}

#[test]
fn missed_offers_put_the_agent_away() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            ring_timeout: Duration::from_secs(10),
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.agent(
        1,
        AgentSpec {
            queues: vec![member(1, 1, 0)],
            auto_away_after_missed: Some(2),
            ..AgentSpec::default()
        },
    );
    h.voice(1, 1);
    h.advance(10.0);
    assert_eq!(h.state(1), AgentState::Available, "one miss");
    h.voice(2, 1);
    assert_eq!(
        h.offered_to(2),
        Some(1),
        "contact 1 skips agent 1 for a while"
    );
    h.advance(10.0);
    assert!(
        matches!(h.state(1), AgentState::Away(ref r) if r.0.as_ref() == "missed-offers"),
        "{:?}",
        h.state(1)
    );
    assert_eq!(h.offered_to(1), None);
    assert_eq!(h.offered_to(2), None);
}

#[test]
fn multichannel_agent_holds_chats_up_to_capacity() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.agent(
        1,
        AgentSpec {
            capacity: Capacity {
                voice: 1,
                chat: 2,
                email: 1,
                sms: 0,
                total: 3,
                voice_exclusive: true,
            },
            queues: vec![member(1, 1, 0)],
            ..AgentSpec::default()
        },
    );
    h.enqueue(1, ContactSpec::new(Channel::Chat, QueueId(1)));
    h.answer(1);
    h.enqueue(2, ContactSpec::new(Channel::Voice, QueueId(1)));
    assert_eq!(h.offered_to(2), None, "a chat in progress blocks voice");
    h.enqueue(3, ContactSpec::new(Channel::Chat, QueueId(1)));
    h.enqueue(4, ContactSpec::new(Channel::Email, QueueId(1)));
    h.enqueue(5, ContactSpec::new(Channel::Chat, QueueId(1)));
    assert_eq!(h.offered_to(3), Some(1));
    assert_eq!(h.offered_to(4), Some(1));
    assert_eq!(h.offered_to(5), None, "total capacity 3 reached");
    let load = h.engine.agent_load(AgentId(1)).expect("known agent");
    assert_eq!(load.state, AgentState::Busy);
    assert_eq!((load.connected, load.offers), (1, 2));
    let in_use = |ch| load.per_channel.iter().find(|(c, _)| *c == ch).map(|p| p.1);
    assert_eq!(in_use(Channel::Chat), Some(2));
    assert_eq!(in_use(Channel::Email), Some(1));
    assert_eq!(in_use(Channel::Voice), Some(0));
    for c in [3, 4] {
        h.answer(c);
    }
    h.ok(Input::End {
        contact: ContactId(1),
    });
    assert_eq!(
        h.offered_to(5),
        Some(1),
        "a chat fits again; voice still does not"
    );
    h.answer(5);
    for c in [3, 4, 5] {
        h.ok(Input::End {
            contact: ContactId(c),
        });
    }
    assert_eq!(h.offered_to(2), Some(1), "voice once every chat is done");
}
