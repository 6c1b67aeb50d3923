//! Property tests: random operation sequences against invariants checked from the events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::Strategy;
use switchboard_routing::Strategy as Strat;
use switchboard_routing::*;

use crate::harness::Harness;

const STRATEGIES: [Strat; 10] = [
    Strat::RingAll,
    Strat::Linear,
    Strat::RoundRobin,
    Strat::LongestIdle,
    Strat::FewestContacts,
    Strat::LeastTalkTime,
    Strat::Random,
    Strat::WeightedRandom,
    Strat::BestSkill,
    Strat::LeastOccupied,
];
const AGENTS: u32 = 6;
const QUEUES: u32 = 3;

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        queue: u32,
        skills: Vec<(u32, u8)>,
        priority: i32,
        chat: bool,
    },
    Accept(usize),
    Reject(usize),
    End(usize),
    Withdraw(usize),
    Callback(usize),
    CompleteWrapUp(usize),
    Away(u32),
    Available(u32),
    Logout(u32),
    Login(u32),
    Advance(u32),
    Reconfigure(u32, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..QUEUES, prop::collection::vec((0u32..4, 1u8..4), 0..3), 0i32..3, any::<bool>())
            .prop_map(|(queue, skills, priority, chat)| Op::Enqueue { queue, skills, priority, chat }),
        4 => any::<usize>().prop_map(Op::Accept),
        1 => any::<usize>().prop_map(Op::Reject),
        3 => any::<usize>().prop_map(Op::End),
        1 => any::<usize>().prop_map(Op::Withdraw),
        1 => any::<usize>().prop_map(Op::Callback),
        2 => any::<usize>().prop_map(Op::CompleteWrapUp),
        1 => (0..AGENTS).prop_map(Op::Away),
        1 => (0..AGENTS).prop_map(Op::Available),
        1 => (0..AGENTS).prop_map(Op::Logout),
        1 => (0..AGENTS).prop_map(Op::Login),
        3 => (1u32..90).prop_map(Op::Advance),
        1 => (0..QUEUES, 0..STRATEGIES.len()).prop_map(|(q, s)| Op::Reconfigure(q, s)),
    ]
}

type AgentSetup = (Vec<(u32, u8)>, Vec<(u32, u8)>, u8);

#[derive(Debug, Clone)]
struct Setup {
    strategies: Vec<usize>,
    /// Per agent: (skill, proficiency) pairs, (queue, tier) memberships, chat capacity.
    agents: Vec<AgentSetup>,
    wrap_manual: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(0..STRATEGIES.len(), QUEUES as usize),
        prop::collection::vec(
            (
                prop::collection::vec((0u32..4, 1u8..6), 0..4),
                prop::collection::vec((0..QUEUES, 1u8..3), 1..4),
                1u8..4,
            ),
            AGENTS as usize,
        ),
        any::<bool>(),
    )
        .prop_map(|(strategies, agents, wrap_manual)| Setup {
            strategies,
            agents,
            wrap_manual,
        })
}

fn queue(setup: &Setup, strategy: usize) -> QueueSpec {
    QueueSpec {
        strategy: STRATEGIES[strategy],
        wrap_up: if setup.wrap_manual {
            WrapUp::Manual
        } else {
            WrapUp::Timed(Duration::from_secs(10))
        },
        initial_tier: 1,
        escalation: vec![EscalationStep {
            after: Duration::from_secs(45),
            actions: vec![Escalation::ExpandTier(2), Escalation::RaisePriority(1)],
        }],
        ..QueueSpec::default()
    }
}

fn build(setup: &Setup) -> Harness {
    let mut h = Harness::new();
    for q in 0..QUEUES {
        h.queue(q, queue(setup, setup.strategies[q as usize]));
    }
    for (id, (skills, queues, chats)) in setup.agents.iter().enumerate() {
        let spec = AgentSpec {
            skills: skills.iter().map(|&(s, p)| (SkillId(s), p)).collect(),
            capacity: Capacity {
                voice: 1,
                chat: *chats,
                email: 0,
                sms: 0,
                total: *chats,
                voice_exclusive: true,
            },
            queues: queues
                .iter()
                .enumerate()
                .map(|(order, &(q, tier))| Membership {
                    queue: QueueId(q),
                    tier,
                    order: order as u32,
                    weight: 1 + order as u32,
                })
                .collect(),
            auto_away_after_missed: Some(3),
            ..AgentSpec::default()
        };
        h.agent(id as u32, spec);
    }
    h
}

/// Runs the operations; inputs the engine refuses are fine, they just do nothing.
fn run(setup: &Setup, ops: &[Op]) -> (Harness, BTreeMap<ContactId, ContactSpec>) {
    let mut h = build(setup);
    let mut specs = BTreeMap::new();
    let mut next = 1u64;
    let pick =
        |items: Vec<ContactId>, i: usize| (!items.is_empty()).then(|| items[i % items.len()]);
    for op in ops {
        let contacts: Vec<ContactId> = specs.keys().copied().collect();
        let _ = match op.clone() {
            Op::Enqueue {
                queue,
                skills,
                priority,
                chat,
            } => {
                let mut spec = ContactSpec::new(
                    if chat { Channel::Chat } else { Channel::Voice },
                    QueueId(queue),
                );
                spec.priority = priority;
                let mut seen = BTreeSet::new();
                spec.skills = skills
                    .into_iter()
                    .filter(|s| seen.insert(s.0))
                    .map(|(s, min)| SkillRequirement {
                        skill: SkillId(s),
                        min,
                    })
                    .collect();
                let id = ContactId(next);
                next += 1;
                specs.insert(id, spec.clone());
                h.input(Input::Enqueue { contact: id, spec })
            }
            Op::Accept(i) | Op::Reject(i) => {
                let offers = h.open_offers();
                if offers.is_empty() {
                    continue;
                }
                let offer = offers[i % offers.len()].0;
                if matches!(op, Op::Accept(_)) {
                    h.input(Input::Accept { offer })
                } else {
                    h.input(Input::Reject { offer })
                }
            }
            Op::End(i) => match pick(contacts, i) {
                Some(contact) => h.input(Input::End { contact }),
                None => continue,
            },
            Op::Withdraw(i) => match pick(contacts, i) {
                Some(contact) => h.input(Input::Withdraw { contact }),
                None => continue,
            },
            Op::Callback(i) => match pick(contacts, i) {
                Some(contact) => h.input(Input::ConvertToCallback { contact }),
                None => continue,
            },
            Op::CompleteWrapUp(i) => match pick(contacts, i) {
                Some(contact) => {
                    let agents: Vec<u32> = (0..AGENTS).collect();
                    let agent = AgentId(agents[i % agents.len()]);
                    h.input(Input::CompleteWrapUp { agent, contact })
                }
                None => continue,
            },
            Op::Away(a) => h.input(Input::SetAway {
                agent: AgentId(a),
                reason: ReasonCode::new("break"),
            }),
            Op::Available(a) => h.input(Input::SetAvailable { agent: AgentId(a) }),
            Op::Logout(a) => h.input(Input::Logout { agent: AgentId(a) }),
            Op::Login(a) => h.input(Input::Login { agent: AgentId(a) }),
            Op::Advance(s) => {
                h.advance(f64::from(s));
                Ok(())
            }
            Op::Reconfigure(q, strategy) => h.input(Input::ConfigureQueue {
                queue: QueueId(q),
                spec: queue(setup, strategy),
            }),
        };
    }
    (h, specs)
}

/// Ends everything: hang up every contact, finish all wrap-ups, let every timer fire.
fn finish(h: &mut Harness, specs: &BTreeMap<ContactId, ContactSpec>) {
    for round in 0..3 {
        for &contact in specs.keys() {
            let _ = h.input(Input::End { contact });
            for a in 0..AGENTS {
                let _ = h.input(Input::CompleteWrapUp {
                    agent: AgentId(a),
                    contact,
                });
            }
        }
        h.advance(200.0 * f64::from(round + 1));
    }
}

/// Replays the event log and checks the invariants at every step.
fn check(
    setup: &Setup,
    h: &Harness,
    specs: &BTreeMap<ContactId, ContactSpec>,
) -> Result<(), String> {
    let mut channel: BTreeMap<ContactId, Channel> =
        specs.iter().map(|(id, s)| (*id, s.channel)).collect();
    let mut held: BTreeMap<AgentId, BTreeMap<ContactId, u32>> = BTreeMap::new();
    let mut state: BTreeMap<AgentId, AgentState> = BTreeMap::new();
    let mut waiting: BTreeMap<ContactId, (u64, u32)> = BTreeMap::new(); // entry time, offers open
    let mut entered: BTreeMap<ContactId, u64> = BTreeMap::new();
    let mut declined: BTreeMap<(ContactId, AgentId), u64> = BTreeMap::new();
    let mut open: BTreeMap<OfferId, (ContactId, AgentId)> = BTreeMap::new();
    let mut connected: BTreeMap<ContactId, u32> = BTreeMap::new();
    let mut left: BTreeMap<ContactId, u32> = BTreeMap::new();
    for (i, e) in h.events.iter().enumerate() {
        let now = e.at.0;
        let tail = || {
            h.events[i.saturating_sub(40)..=i]
                .iter()
                .map(|e| format!("\n  {:>6.1}s {:?}", e.at.as_secs_f64(), e.kind))
                .collect::<String>()
        };
        match &e.kind {
            EventKind::AgentState { agent, to, .. } => {
                state.insert(*agent, to.clone());
            }
            EventKind::Queued { contact, .. } => {
                waiting.insert(*contact, (now, 0));
                entered.insert(*contact, now);
            }
            EventKind::BecameCallback { contact } => {
                channel.insert(*contact, Channel::Callback);
            }
            EventKind::Offered {
                offer,
                contact,
                agent,
                channel: ch,
                ..
            } => {
                let spec = &specs[contact];
                if *ch != channel[contact] {
                    return Err(format!("{contact} offered on {ch:?}"));
                }
                // Eligibility: presence, membership and tier, skills.
                if matches!(
                    state.get(agent),
                    Some(AgentState::Offline | AgentState::Away(_)) | None
                ) {
                    return Err(format!(
                        "{contact} offered to {agent} in {:?}",
                        state.get(agent)
                    ));
                }
                let (skills, queues, _) = &setup.agents[agent.0 as usize];
                let waited = now - entered[contact];
                let max_tier = if waited >= 45_000_000 { 2 } else { 1 };
                if !queues
                    .iter()
                    .any(|&(q, t)| QueueId(q) == spec.queue && t <= max_tier)
                {
                    return Err(format!("{contact} offered to non-member {agent}"));
                }
                for r in &spec.skills {
                    if !skills
                        .iter()
                        .any(|&(s, p)| SkillId(s) == r.skill && p >= r.min)
                    {
                        return Err(format!("{contact} offered to unskilled {agent}"));
                    }
                }
                // FIFO: no older equal-or-higher-priority contact with the same needs waits.
                for (other, (since, offers)) in &waiting {
                    let o = &specs[other];
                    let older = (*since, other.0) < (entered[contact], contact.0);
                    let recently_declined = declined
                        .get(&(*other, *agent))
                        .is_some_and(|&until| until > now);
                    if other != contact
                        && *offers == 0
                        && older
                        && o.queue == spec.queue
                        && o.priority >= spec.priority
                        && o.skills == spec.skills
                        && channel[other] == channel[contact]
                        && !recently_declined
                    {
                        return Err(format!(
                            "{contact} offered to {agent} before older {other}; events:{}",
                            tail()
                        ));
                    }
                }
                open.insert(*offer, (*contact, *agent));
                if let Some(w) = waiting.get_mut(contact) {
                    w.1 += 1;
                }
                *held.entry(*agent).or_default().entry(*contact).or_default() += 1;
            }
            EventKind::OfferEnded {
                offer,
                contact,
                agent,
                reason,
            } => {
                open.remove(offer);
                if matches!(reason, OfferEnd::Rejected | OfferEnd::TimedOut) {
                    declined.insert((*contact, *agent), now + 60_000_000);
                }
                if let Some(w) = waiting.get_mut(contact) {
                    w.1 -= 1;
                }
                release(&mut held, *agent, *contact);
            }
            EventKind::Connected { contact, agent, .. } => {
                let n = connected.entry(*contact).or_default();
                *n += 1;
                if *n > 1 {
                    return Err(format!("{contact} connected twice"));
                }
                waiting.remove(contact);
                open.retain(|_, v| !(v.0 == *contact && v.1 == *agent));
            }
            EventKind::ContactLeft { contact, .. } => {
                *left.entry(*contact).or_default() += 1;
                waiting.remove(contact);
                for agent_held in held.values_mut() {
                    agent_held.remove(contact);
                }
            }
            EventKind::Escalated { .. } | EventKind::Disconnected { .. } => {}
        }
        // Capacity after every event.
        for (agent, contacts) in &held {
            let (_, _, chats) = setup.agents[agent.0 as usize];
            let mut voice = 0;
            let mut chat = 0;
            for (c, n) in contacts {
                match channel[c] {
                    Channel::Chat => chat += n,
                    _ => voice += n,
                }
            }
            if voice > 1 || chat > u32::from(chats) || (voice > 0 && chat > 0) {
                return Err(format!("{agent} over capacity: {voice} voice, {chat} chat"));
            }
        }
    }
    for contact in specs.keys() {
        if h.engine.table_sizes().contacts == 0 && left.get(contact).copied().unwrap_or(0) != 1 {
            return Err(format!("{contact} ended {:?} times", left.get(contact)));
        }
    }
    Ok(())
}

fn release(
    held: &mut BTreeMap<AgentId, BTreeMap<ContactId, u32>>,
    agent: AgentId,
    contact: ContactId,
) {
    if let Some(m) = held.get_mut(&agent)
        && let Some(n) = m.get_mut(&contact)
    {
        *n -= 1;
        if *n == 0 {
            m.remove(&contact);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_inputs(setup in setup(), ops in prop::collection::vec(op(), 1..120)) {
        let (mut h, specs) = run(&setup, &ops);
        finish(&mut h, &specs);
        prop_assert_eq!(h.engine.table_sizes(), TableSizes::default(), "tables empty at the end");
        if let Err(e) = check(&setup, &h, &specs) {
            return Err(TestCaseError::fail(e));
        }
    }

    #[test]
    fn replaying_the_same_inputs_gives_the_same_events(setup in setup(), ops in prop::collection::vec(op(), 1..80)) {
        let (a, _) = run(&setup, &ops);
        let (b, _) = run(&setup, &ops);
        prop_assert_eq!(a.events, b.events);
    }
}
