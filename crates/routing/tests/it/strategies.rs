//! Each queue strategy picks the agent it promises to, and free agents pick the right contact.

use std::collections::BTreeMap;
use std::time::Duration;

use switchboard_routing::*;

use crate::harness::*;

/// Three idle agents 1, 2, 3 (order = id) in queue 1 with the given strategy.
fn three_agents(strategy: Strategy) -> Harness {
    let mut h = Harness::new();
    h.queue(1, queue_spec(strategy));
    for id in 1..=3 {
        h.simple_agent(id, &[1], &[]);
        h.advance(1.0);
    }
    h
}

/// Enqueues a contact, answers it, talks for `talk` seconds, hangs up; returns the agent.
fn handle(h: &mut Harness, contact: u64, talk: f64) -> u32 {
    h.voice(contact, 1);
    let agent = h.offered_to(contact).expect("an agent is free");
    h.answer(contact);
    h.advance(talk);
    h.ok(Input::End {
        contact: ContactId(contact),
    });
    agent
}

#[test]
fn linear_always_starts_from_the_top() {
    let mut h = three_agents(Strategy::Linear);
    assert_eq!(handle(&mut h, 1, 5.0), 1);
    assert_eq!(handle(&mut h, 2, 5.0), 1);
    h.voice(3, 1);
    h.voice(4, 1);
    assert_eq!(h.offered_to(3), Some(1));
    assert_eq!(
        h.offered_to(4),
        Some(2),
        "next one down when the first is busy"
    );
}

#[test]
fn round_robin_remembers_where_it_stopped() {
    let mut h = three_agents(Strategy::RoundRobin);
    let order: Vec<u32> = (1..=7).map(|c| handle(&mut h, c, 1.0)).collect();
    assert_eq!(order, [1, 2, 3, 1, 2, 3, 1]);
}

#[test]
fn longest_idle_prefers_the_agent_idle_longest() {
    let mut h = three_agents(Strategy::LongestIdle);
    // Agents logged in at t=0,1,2; agent 1 takes a call and finishes last.
    assert_eq!(handle(&mut h, 1, 10.0), 1);
    assert_eq!(handle(&mut h, 2, 1.0), 2);
    assert_eq!(handle(&mut h, 3, 1.0), 3);
    assert_eq!(handle(&mut h, 4, 1.0), 1, "agent 1 finished before 2 and 3");
}

#[test]
fn fewest_contacts_and_least_talk_time_balance_work() {
    let mut h = three_agents(Strategy::FewestContacts);
    let counts = (1..=9).fold(BTreeMap::new(), |mut m, c| {
        *m.entry(handle(&mut h, c, 1.0)).or_insert(0) += 1;
        m
    });
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3, 3, 3]);

    let mut h = three_agents(Strategy::LeastTalkTime);
    assert_eq!(handle(&mut h, 1, 100.0), 1);
    assert_eq!(handle(&mut h, 2, 30.0), 2);
    assert_eq!(handle(&mut h, 3, 40.0), 3);
    assert_eq!(handle(&mut h, 4, 5.0), 2, "agent 2 has talked least");
    assert_eq!(handle(&mut h, 5, 5.0), 2, "35 s is still the least");
    assert_eq!(handle(&mut h, 6, 5.0), 3);
}

#[test]
fn ring_all_offers_everyone_and_one_wins() {
    let mut h = three_agents(Strategy::RingAll);
    h.voice(1, 1);
    let offers = h.open_offers();
    assert_eq!(offers.len(), 3);
    h.ok(Input::Accept { offer: offers[1].0 });
    assert_eq!(
        h.input(Input::Accept { offer: offers[0].0 }),
        Err(RoutingError::UnknownOffer(offers[0].0)),
        "the second answer is refused"
    );
    let taken: Vec<_> = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::OfferEnded {
                    reason: OfferEnd::TakenByOther,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(taken.len(), 2);
    assert_eq!(h.state(2), AgentState::Busy);
    assert_eq!(h.state(1), AgentState::Available);
    assert_eq!(h.state(3), AgentState::Available);
}

#[test]
fn random_is_uniform_and_weighted_random_follows_weights() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::Random));
    for id in 1..=4 {
        h.simple_agent(id, &[1], &[]);
    }
    let mut counts = [0u32; 5];
    for c in 1..=4000 {
        counts[handle(&mut h, c, 1.0) as usize] += 1;
    }
    for &n in &counts[1..] {
        // Binomial(4000, 1/4): sd 27.4; 5 sd either side.
        assert!((863..=1137).contains(&n), "random counts {counts:?}");
    }

    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::WeightedRandom));
    for (id, weight) in [(1, 1), (2, 3)] {
        h.agent(
            id,
            AgentSpec {
                queues: vec![Membership {
                    weight,
                    ..member(1, 1, id)
                }],
                ..AgentSpec::default()
            },
        );
    }
    let mut counts = [0u32; 3];
    for c in 1..=4000 {
        counts[handle(&mut h, c, 1.0) as usize] += 1;
    }
    // Binomial(4000, 3/4): mean 3000, sd 27.4.
    assert!(
        (2863..=3137).contains(&counts[2]),
        "weighted counts {counts:?}"
    );
}

#[test]
fn best_skill_picks_highest_proficiency_then_longest_idle() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::BestSkill));
    h.simple_agent(1, &[1], &[(10, 3)]);
    h.advance(1.0);
    h.simple_agent(2, &[1], &[(10, 5), (11, 1)]);
    h.advance(1.0);
    h.simple_agent(3, &[1], &[(10, 5), (11, 4)]);
    h.advance(1.0);
    h.enqueue(1, needs(1, &[(10, 1)]));
    assert_eq!(
        h.offered_to(1),
        Some(2),
        "proficiency 5, idle longer than 3"
    );
    h.enqueue(2, needs(1, &[(11, 1)]));
    assert_eq!(h.offered_to(2), Some(3), "best at skill 11");
    h.enqueue(3, needs(1, &[(10, 4)]));
    assert_eq!(h.offered_to(3), None, "agent 1 is not good enough");
}

#[test]
fn best_skill_without_the_first_skill_goes_to_the_longest_idle_member() {
    // A best-skill queue files its ready members in the list of all of them only once a
    // contact needs it: one that needs no skill, or whose first skill has been relaxed
    // away, or that overflows from a ring-all queue. Agents who joined or left the queue,
    // or freed up, before then must be found (or not) all the same.
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::BestSkill));
    h.queue(
        2,
        QueueSpec {
            strategy: Strategy::RingAll,
            escalation: vec![EscalationStep {
                after: Duration::from_secs(30),
                actions: vec![Escalation::Overflow(QueueId(1))],
            }],
            ..QueueSpec::default()
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.advance(1.0);
    h.simple_agent(2, &[1], &[(10, 5)]);
    h.advance(1.0);
    h.simple_agent(3, &[1], &[(10, 3)]);
    h.advance(1.0);
    // Agent 4 joins queue 1 and leaves it for queue 3 before any list of all is built.
    h.queue(3, queue_spec(Strategy::LongestIdle));
    h.simple_agent(4, &[1], &[(10, 1)]);
    h.ok(Input::ConfigureAgent {
        agent: AgentId(4),
        spec: AgentSpec {
            skills: vec![(SkillId(10), 1)],
            queues: vec![member(3, 1, 4)],
            ..AgentSpec::default()
        },
    });
    h.advance(1.0);
    h.enqueue(1, needs(1, &[(10, 1)]));
    assert_eq!(h.offered_to(1), Some(2), "best at skill 10");
    h.answer(1);
    h.advance(1.0);
    h.enqueue(2, needs(1, &[]));
    assert_eq!(
        h.offered_to(2),
        Some(1),
        "no skill needed: the member idle longest, with no skill the queue ranks on"
    );
    h.answer(2);
    h.advance(1.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    h.advance(1.0);
    // The rest are busy or gone; a contact on skill 11, which nobody has, waits, and after
    // its skills relax goes to the agent idle longest (3, not 2, who freed up just now).
    h.queue(
        1,
        QueueSpec {
            strategy: Strategy::BestSkill,
            escalation: vec![EscalationStep {
                after: Duration::from_secs(10),
                actions: vec![Escalation::RelaxSkills(2)],
            }],
            ..QueueSpec::default()
        },
    );
    h.enqueue(3, needs(1, &[(11, 2)]));
    assert_eq!(h.offered_to(3), None, "nobody has skill 11");
    h.advance(10.0);
    assert_eq!(h.offered_to(3), Some(3), "skill 11 relaxed away");
    h.answer(3);
    // A ring-all contact of queue 2 (no members) overflows into queue 1 and rings agent 2.
    h.enqueue(4, needs(2, &[(10, 1)]));
    assert_eq!(h.offered_to(4), None);
    h.advance(30.0);
    assert_eq!(h.offered_to(4), Some(2), "overflowed from ring-all");
}

#[test]
fn least_occupied_balances_chats() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LeastOccupied));
    let chat = Capacity {
        voice: 0,
        chat: 3,
        total: 3,
        ..Capacity::default()
    };
    for id in 1..=2 {
        h.agent(
            id,
            AgentSpec {
                capacity: chat,
                queues: vec![member(1, 1, id)],
                ..AgentSpec::default()
            },
        );
    }
    let mut per_agent = BTreeMap::new();
    for c in 1..=6 {
        h.enqueue(c, ContactSpec::new(Channel::Chat, QueueId(1)));
        let a = h.offered_to(c).expect("capacity left");
        h.answer(c);
        *per_agent.entry(a).or_insert(0) += 1;
    }
    assert_eq!(per_agent.values().copied().collect::<Vec<_>>(), [3, 3]);
    h.enqueue(7, ContactSpec::new(Channel::Chat, QueueId(1)));
    assert_eq!(h.offered_to(7), None, "both agents are full");
    assert_eq!(h.engine.waiting(QueueId(1)), 1);
}

#[test]
fn free_agent_takes_the_best_contact_across_queues() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.queue(
        2,
        QueueSpec {
            weight: 3,
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.voice(1, 1);
    h.advance(10.0);
    h.voice(2, 2);
    h.advance(9.0);
    h.enqueue(
        3,
        ContactSpec {
            priority: 5,
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    h.advance(1.0);
    h.simple_agent(1, &[1, 2], &[]);
    assert_eq!(h.offered_to(3), Some(1), "priority first");
    h.answer(3);
    h.ok(Input::End {
        contact: ContactId(3),
    });
    // Contact 1 has waited 20 s; contact 2 only 10 s, but its queue weighs 3: 30 s.
    assert_eq!(h.offered_to(2), Some(1), "queue weight multiplies the wait");
}

#[test]
fn fifo_within_priority_and_skills_must_match() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.enqueue(1, needs(1, &[(7, 3)]));
    h.advance(1.0);
    h.enqueue(2, needs(1, &[(8, 1)]));
    h.advance(1.0);
    h.enqueue(3, needs(1, &[(8, 1)]));
    h.advance(1.0);
    h.simple_agent(1, &[1], &[(8, 2), (7, 2)]);
    assert_eq!(h.offered_to(1), None, "proficiency 2 < 3");
    assert_eq!(h.offered_to(2), Some(1), "oldest of those it qualifies for");
    assert_eq!(h.offered_to(3), None);
}

#[test]
fn languages_and_channels_are_requirements() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.agent(
        1,
        AgentSpec {
            languages: vec![LanguageId(1)],
            queues: vec![member(1, 1, 0)],
            ..AgentSpec::default()
        },
    );
    h.enqueue(
        1,
        ContactSpec {
            language: Some(LanguageId(2)),
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    assert_eq!(h.offered_to(1), None);
    h.enqueue(2, ContactSpec::new(Channel::Email, QueueId(1)));
    assert_eq!(h.offered_to(2), None, "no email capacity");
    h.enqueue(
        3,
        ContactSpec {
            language: Some(LanguageId(1)),
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    assert_eq!(h.offered_to(3), Some(1));
}

#[test]
fn escalation_relaxes_skills_adds_tiers_overflows_and_raises_priority() {
    let mut h = Harness::new();
    h.queue(2, queue_spec(Strategy::LongestIdle));
    h.queue(
        1,
        QueueSpec {
            initial_tier: 1,
            escalation: vec![
                EscalationStep {
                    after: Duration::from_secs(10),
                    actions: vec![Escalation::ExpandTier(2)],
                },
                EscalationStep {
                    after: Duration::from_secs(20),
                    actions: vec![Escalation::RelaxSkills(2)],
                },
                EscalationStep {
                    after: Duration::from_secs(30),
                    actions: vec![Escalation::Overflow(QueueId(2))],
                },
            ],
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    // Tier-2 member of queue 1 without the skill at level 3; a member of queue 2 only.
    h.agent(
        1,
        AgentSpec {
            skills: vec![(SkillId(5), 1)],
            queues: vec![member(1, 2, 0)],
            ..AgentSpec::default()
        },
    );
    h.agent(
        2,
        AgentSpec {
            skills: vec![(SkillId(5), 5)],
            queues: vec![member(2, 1, 0)],
            ..AgentSpec::default()
        },
    );
    h.enqueue(1, needs(1, &[(5, 3)]));
    h.enqueue(2, needs(1, &[(5, 5)]));
    h.advance(15.0);
    assert_eq!(h.offered_to(1), None, "tier 2 allowed but skill 1 < 3");
    h.advance(10.0);
    assert_eq!(h.offered_to(1), Some(1), "after 20 s the minimum is 1");
    assert_eq!(h.offered_to(2), None, "5 - 2 = 3 > 1");
    h.advance(10.0);
    assert_eq!(h.offered_to(2), Some(2), "overflowed to queue 2 after 30 s");
    let steps = h
        .events
        .iter()
        .filter(
            |e| matches!(e.kind, EventKind::Escalated { contact, .. } if contact == ContactId(2)),
        )
        .count();
    assert_eq!(steps, 3);
}

#[test]
fn raised_priority_overtakes_newer_urgent_work() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            escalation: vec![EscalationStep {
                after: Duration::from_secs(60),
                actions: vec![Escalation::RaisePriority(10)],
            }],
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.voice(1, 1);
    h.advance(30.0);
    h.enqueue(
        2,
        ContactSpec {
            priority: 5,
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    h.advance(31.0);
    h.simple_agent(1, &[1], &[]);
    assert_eq!(h.offered_to(1), Some(1), "0 + 10 beats 5: no starvation");
}

#[test]
fn preferred_agent_is_waited_for_then_anyone() {
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::LongestIdle));
    h.simple_agent(1, &[1], &[]);
    h.simple_agent(2, &[1], &[]);
    h.voice(100, 1);
    h.answer(100); // agent 1 is busy
    assert_eq!(h.state(1), AgentState::Busy);
    h.enqueue(
        1,
        ContactSpec {
            preferred_agents: vec![AgentId(1)],
            preferred_for: Duration::from_secs(30),
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    assert_eq!(h.offered_to(1), None, "agent 2 is free but 1 is preferred");
    h.advance(10.0);
    h.ok(Input::End {
        contact: ContactId(100),
    });
    assert_eq!(h.offered_to(1), Some(1), "sticky agent gets it when free");
    h.answer(1);

    h.enqueue(
        2,
        ContactSpec {
            preferred_agents: vec![AgentId(1)],
            preferred_for: Duration::from_secs(30),
            ..ContactSpec::new(Channel::Voice, QueueId(1))
        },
    );
    assert_eq!(h.offered_to(2), None);
    h.advance(30.0);
    assert_eq!(
        h.offered_to(2),
        Some(2),
        "after the time limit anyone will do"
    );
}

#[test]
fn position_and_ewt_follow_the_queue() {
    let mut h = Harness::new();
    h.queue(
        1,
        QueueSpec {
            aht_hint: Duration::from_secs(120),
            ..queue_spec(Strategy::LongestIdle)
        },
    );
    h.simple_agent(1, &[1], &[]);
    h.simple_agent(2, &[1], &[]);
    for c in 1..=5 {
        h.voice(c, 1);
    }
    let queued: Vec<(u32, Option<Duration>)> = h
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Queued { position, ewt, .. } => Some((position, ewt)),
            _ => None,
        })
        .collect();
    let secs = |s| Some(Duration::from_secs(s));
    assert_eq!(
        queued,
        [
            (0, secs(0)),
            (0, secs(0)),
            (0, secs(60)),
            (1, secs(120)),
            (2, secs(180))
        ],
        "(ahead + 1) x AHT / agents"
    );
    let p = h.engine.position(ContactId(5)).expect("waiting");
    assert_eq!(p.ahead, 2);
    h.ok(Input::End {
        contact: ContactId(3),
    });
    assert_eq!(h.engine.position(ContactId(5)).map(|p| p.ahead), Some(1));
}

#[test]
fn a_freed_agent_is_filed_under_a_skill_ranked_while_it_was_busy() {
    // An agent freed again is filed under the entries it had before, unless something
    // they are worked out from changed meanwhile: here a best-skill queue starts ranking
    // on a skill the agent holds while it is busy.
    let mut h = Harness::new();
    h.queue(1, queue_spec(Strategy::BestSkill));
    h.simple_agent(1, &[1], &[(10, 5), (11, 2)]);
    h.advance(1.0);
    h.simple_agent(2, &[1], &[(10, 3), (11, 4)]);
    h.advance(1.0);
    h.enqueue(1, needs(1, &[(10, 1)]));
    assert_eq!(h.offered_to(1), Some(1), "best at skill 10");
    h.answer(1);
    h.advance(1.0);
    h.ok(Input::End {
        contact: ContactId(1),
    });
    h.advance(1.0);
    h.enqueue(2, needs(1, &[(10, 1)]));
    assert_eq!(h.offered_to(2), Some(1), "best at skill 10 again");
    h.answer(2);
    h.advance(1.0);
    // Ranking on skill 11 starts while agent 1 is busy.
    h.enqueue(3, needs(1, &[(11, 1)]));
    assert_eq!(h.offered_to(3), Some(2), "the only one ready");
    h.answer(3);
    h.advance(1.0);
    h.ok(Input::End {
        contact: ContactId(2),
    });
    h.advance(1.0);
    h.enqueue(4, needs(1, &[(11, 1)]));
    assert_eq!(
        h.offered_to(4),
        Some(1),
        "agent 1, freed after skill 11 was ranked, is found by it"
    );
}

#[test]
fn an_agent_filed_under_more_entries_than_its_record_holds_is_found_by_each() {
    // Four best-skill queues ranking four skills each: every agent is filed under twenty
    // entries, more than its record keeps inline, freed and filed again after each call.
    let mut h = Harness::new();
    for q in 1..=4 {
        h.queue(q, queue_spec(Strategy::BestSkill));
    }
    let queues = [1, 2, 3, 4];
    h.simple_agent(1, &queues, &[(10, 5), (11, 2), (12, 5), (13, 2)]);
    h.advance(1.0);
    h.simple_agent(2, &queues, &[(10, 2), (11, 5), (12, 2), (13, 5)]);
    h.advance(1.0);
    let mut contact = 0;
    for round in 0..3 {
        for q in queues {
            for skill in 10..=13 {
                contact += 1;
                h.enqueue(contact, needs(q, &[(skill, 1)]));
                let best = if skill % 2 == 0 { 1 } else { 2 };
                assert_eq!(
                    h.offered_to(contact),
                    Some(best),
                    "round {round}, queue {q}, skill {skill}"
                );
                h.answer(contact);
                h.advance(1.0);
                h.ok(Input::End {
                    contact: ContactId(contact),
                });
                h.advance(1.0);
            }
        }
    }
}
