//! A test driver: a virtual clock that jumps to the engine's next timeout, and shorthands.

use std::time::Duration;

use switchboard_routing::*;

pub struct Harness {
    pub engine: Engine,
    pub now: Timestamp,
    pub events: Vec<Event>,
}

pub fn member(queue: u32, tier: u8, order: u32) -> Membership {
    Membership {
        queue: QueueId(queue),
        tier,
        order,
        weight: 1,
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness {
            engine: Engine::new(Config { seed: 7 }),
            now: Timestamp::ZERO,
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }

    pub fn input(&mut self, input: Input) -> Result<(), RoutingError> {
        let r = self.engine.handle_input(self.now, input);
        self.drain();
        r
    }

    pub fn ok(&mut self, input: Input) {
        let shown = format!("{input:?}");
        if let Err(e) = self.input(input) {
            panic!("{shown} refused: {e}");
        }
    }

    /// Moves the clock forward by `secs`, firing every timer due on the way.
    pub fn advance(&mut self, secs: f64) {
        let target = self.now.after(Duration::from_secs_f64(secs));
        while let Some(t) = self.engine.poll_timeout() {
            if t > target {
                break;
            }
            self.now = self.now.max(t);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    pub fn queue(&mut self, id: u32, spec: QueueSpec) {
        self.ok(Input::ConfigureQueue {
            queue: QueueId(id),
            spec,
        });
    }

    pub fn agent(&mut self, id: u32, spec: AgentSpec) {
        self.ok(Input::ConfigureAgent {
            agent: AgentId(id),
            spec,
        });
        self.ok(Input::Login { agent: AgentId(id) });
    }

    /// A voice agent in the given queues (tier 1, order = agent id) with the given skills.
    pub fn simple_agent(&mut self, id: u32, queues: &[u32], skills: &[(u32, u8)]) {
        self.agent(
            id,
            AgentSpec {
                skills: skills.iter().map(|&(s, p)| (SkillId(s), p)).collect(),
                queues: queues.iter().map(|&q| member(q, 1, id)).collect(),
                ..AgentSpec::default()
            },
        );
    }

    pub fn enqueue(&mut self, id: u64, spec: ContactSpec) {
        self.ok(Input::Enqueue {
            contact: ContactId(id),
            spec,
        });
    }

    pub fn voice(&mut self, id: u64, queue: u32) {
        self.enqueue(id, ContactSpec::new(Channel::Voice, QueueId(queue)));
    }

    /// Open offers so far: (offer, contact, agent), minus those that ended or were answered.
    pub fn open_offers(&self) -> Vec<(OfferId, ContactId, AgentId)> {
        let mut open = Vec::new();
        for e in &self.events {
            match &e.kind {
                EventKind::Offered {
                    offer,
                    contact,
                    agent,
                    ..
                } => open.push((*offer, *contact, *agent)),
                EventKind::OfferEnded { offer, .. } => open.retain(|o| o.0 != *offer),
                EventKind::Connected { contact, agent, .. } => {
                    open.retain(|o| !(o.1 == *contact && o.2 == *agent))
                }
                _ => {}
            }
        }
        open
    }

    /// The agent the contact is currently offered to (exactly one expected).
    pub fn offered_to(&self, contact: u64) -> Option<u32> {
        let offers: Vec<_> = self
            .open_offers()
            .into_iter()
            .filter(|o| o.1 == ContactId(contact))
            .collect();
        assert!(
            offers.len() <= 1,
            "several offers for {contact}: {offers:?}"
        );
        offers.first().map(|o| o.2.0)
    }

    pub fn offer_of(&self, contact: u64) -> OfferId {
        self.open_offers()
            .into_iter()
            .find(|o| o.1 == ContactId(contact))
            .unwrap_or_else(|| panic!("contact {contact} has no open offer"))
            .0
    }

    /// Accepts the open offer of a contact.
    pub fn answer(&mut self, contact: u64) {
        let offer = self.offer_of(contact);
        self.ok(Input::Accept { offer });
    }

    pub fn state(&self, agent: u32) -> AgentState {
        self.engine
            .agent_state(AgentId(agent))
            .cloned()
            .expect("known agent")
    }

    pub fn outcomes(&self, contact: u64) -> Vec<Outcome> {
        self.events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::ContactLeft {
                    contact: c,
                    outcome,
                    ..
                } if c == ContactId(contact) => Some(outcome),
                _ => None,
            })
            .collect()
    }
}

pub fn queue_spec(strategy: Strategy) -> QueueSpec {
    QueueSpec {
        strategy,
        ..QueueSpec::default()
    }
}

pub fn needs(queue: u32, skills: &[(u32, u8)]) -> ContactSpec {
    ContactSpec {
        skills: skills
            .iter()
            .map(|&(s, min)| SkillRequirement {
                skill: SkillId(s),
                min,
            })
            .collect(),
        ..ContactSpec::new(Channel::Voice, QueueId(queue))
    }
}
