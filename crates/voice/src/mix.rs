//! Three-way audio for a supervised call: who hears whom in each monitoring mode.
//!
//! | mode | caller hears | agent hears | supervisor hears |
//! |---|---|---|---|
//! | listen | agent | caller | caller + agent |
//! | whisper | agent | caller + supervisor | caller + agent |
//! | barge | agent + supervisor | caller + supervisor | caller + agent |
//!
//! Each party's decoded audio waits in a short queue (at most 100 ms, the oldest dropped
//! beyond) and is mixed 20 ms at a time, saturating at the 16-bit limits.

use std::collections::VecDeque;

use crate::MonitorMode;

/// Samples in one 20 ms frame.
pub const FRAME: usize = 160;
/// Most samples queued per party.
const MAX_QUEUED: usize = 800;

/// A party to a supervised call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The customer.
    Caller,
    /// The agent.
    Agent,
    /// The supervisor monitoring.
    Supervisor,
}

/// The audio each party receives for one frame, and what each said.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixed {
    /// To the caller.
    pub to_caller: [i16; FRAME],
    /// To the agent.
    pub to_agent: [i16; FRAME],
    /// To the supervisor.
    pub to_supervisor: [i16; FRAME],
}

/// The mixer of a supervised call.
#[derive(Debug, Default)]
pub struct Mixer {
    queues: [VecDeque<i16>; 3],
}

fn index(p: Party) -> usize {
    match p {
        Party::Caller => 0,
        Party::Agent => 1,
        Party::Supervisor => 2,
    }
}

fn add(a: &[i16; FRAME], b: &[i16; FRAME]) -> [i16; FRAME] {
    std::array::from_fn(|i| a[i].saturating_add(b[i]))
}

impl Mixer {
    /// An empty mixer.
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// `party` said `samples` (8 kHz).
    pub fn push(&mut self, party: Party, samples: &[i16]) {
        let q = &mut self.queues[index(party)];
        q.extend(samples);
        let excess = q.len().saturating_sub(MAX_QUEUED);
        q.drain(..excess);
    }

    fn take(&mut self, party: Party) -> [i16; FRAME] {
        let q = &mut self.queues[index(party)];
        std::array::from_fn(|_| q.pop_front().unwrap_or(0))
    }

    /// The next 20 ms for each party in `mode`.
    pub fn mix(&mut self, mode: MonitorMode) -> Mixed {
        let caller = self.take(Party::Caller);
        let agent = self.take(Party::Agent);
        let supervisor = self.take(Party::Supervisor);
        let (to_caller, to_agent) = match mode {
            MonitorMode::Listen => (agent, caller),
            MonitorMode::Whisper => (agent, add(&caller, &supervisor)),
            MonitorMode::Barge => (add(&agent, &supervisor), add(&caller, &supervisor)),
        };
        Mixed {
            to_caller,
            to_agent,
            to_supervisor: add(&caller, &agent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(m: &mut Mixer) {
        m.push(Party::Caller, &[100; FRAME]);
        m.push(Party::Agent, &[20; FRAME]);
        m.push(Party::Supervisor, &[3; FRAME]);
    }

    #[test]
    fn each_mode_routes_the_supervisor_as_documented() {
        let mut m = Mixer::new();
        said(&mut m);
        let listen = m.mix(MonitorMode::Listen);
        assert_eq!(
            (
                listen.to_caller[0],
                listen.to_agent[0],
                listen.to_supervisor[0]
            ),
            (20, 100, 120)
        );
        said(&mut m);
        let whisper = m.mix(MonitorMode::Whisper);
        assert_eq!(
            (
                whisper.to_caller[0],
                whisper.to_agent[0],
                whisper.to_supervisor[0]
            ),
            (20, 103, 120)
        );
        said(&mut m);
        let barge = m.mix(MonitorMode::Barge);
        assert_eq!(
            (
                barge.to_caller[0],
                barge.to_agent[0],
                barge.to_supervisor[0]
            ),
            (23, 103, 120)
        );
    }

    #[test]
    fn silence_fills_gaps_sums_saturate_and_queues_stay_short() {
        let mut m = Mixer::new();
        assert_eq!(m.mix(MonitorMode::Barge).to_caller, [0; FRAME]);
        m.push(Party::Caller, &[i16::MAX; FRAME]);
        m.push(Party::Agent, &[i16::MAX; FRAME]);
        assert_eq!(m.mix(MonitorMode::Listen).to_supervisor, [i16::MAX; FRAME]);
        m.push(Party::Caller, &[1; 10 * FRAME]);
        assert_eq!(m.queues[0].len(), MAX_QUEUED);
    }
}
