//! Agent-first callbacks: ring the agent the routing engine offers the callback to; once
//! they answer, dial the customer's number through the trunk while the agent hears
//! ringback; when the customer answers, the two are bridged like any call (the customer's
//! leg takes the caller's place).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::MissedTickBehavior;

use crate::call::{self, CallSetup, Ending};
use crate::leg::{self, Leg, LegEvent, Outcome, Up};
use crate::sip::{Shared, SignalSender, Signals};
use crate::{CallCommand, Commands, EdgeEvent, LegKind};

/// Runs the callback of `contact` to `number`, driven by `commands`.
pub(crate) async fn run(shared: Arc<Shared>, contact: i64, number: String, mut commands: Commands) {
    let Some(_load) = shared.admit() else {
        let reason = "the voice edge is full or stopping".to_string();
        let _ = shared
            .events
            .send(EdgeEvent::CustomerUnreachable { contact, reason });
        return;
    };
    // The agent's hold and transfer requests, for the conversation once the customer is
    // on the line.
    let signals = Signals::new();
    let Some(agent) =
        agent_answers(&shared, contact, &number, &mut commands, signals.sender()).await
    else {
        return;
    };
    let agent_name = agent.agent.clone();
    let Some((customer, agent)) =
        customer_answers(&shared, contact, &number, agent, &mut commands).await
    else {
        return;
    };
    let parts = customer.into_parts();
    let setup = CallSetup {
        contact,
        caller: number,
        log: parts.log,
        answered_ms: parts.answered_ms,
        signals,
        commands,
        shared: Arc::clone(&shared),
    };
    tracing::info!(contact, agent = %agent_name, "callback connected");
    let ending = call::run(
        setup,
        Box::new(parts.line),
        parts.gone.clone(),
        Leg::Up(agent),
    )
    .await;
    if ending == Ending::CallerLeft && !shared.hangups.is_cancelled() {
        let _ = shared.events.send(EdgeEvent::HungUp { contact });
    } else {
        let _ = parts.dialog.hangup().await;
    }
    shared.forget(&parts.id);
    shared.remove_dialog(&parts.dialog.id());
}

/// Rings agents as the routing engine offers the callback, until one answers (`None`:
/// the callback ended first).
async fn agent_answers(
    shared: &Arc<Shared>,
    contact: i64,
    number: &str,
    commands: &mut Commands,
    signals: SignalSender,
) -> Option<Box<Up>> {
    let mut ringing = Leg::Idle;
    let mut buf = Vec::new();
    let emit = |e: EdgeEvent| {
        let _ = shared.events.send(e);
    };
    loop {
        tokio::select! {
            () = shared.hangups.cancelled() => break,
            command = commands.next() => match command {
                None | Some(CallCommand::Hangup) => break,
                Some(CallCommand::Ring { agent, record }) => {
                    ringing.release(&agent, shared).await;
                    match leg::ring(shared, contact, (&agent, LegKind::Agent), number, record).await {
                        Ok(phones) => ringing.ring(phones, shared).await,
                        Err(reason) => emit(EdgeEvent::AgentFailed { contact, agent, reason }),
                    }
                }
                Some(CallCommand::Release { agent }) => ringing.release(&agent, shared).await,
                // Prompts and music are for a caller on the line; there is none yet.
                Some(_) => {}
            },
            event = ringing.next(&mut buf) => {
                let LegEvent::Answered(i, result) = event else { continue };
                match ringing.answer(i, result, shared, signals.clone()).await {
                    Some(Outcome::Answered(agent)) => {
                        emit(EdgeEvent::AgentAnswered { contact, agent });
                        if let Leg::Up(up) = ringing {
                            return Some(up);
                        }
                        return None;
                    }
                    Some(Outcome::Failed(agent, reason)) => {
                        emit(EdgeEvent::AgentFailed { contact, agent, reason });
                    }
                    None => {}
                }
            }
        }
    }
    ringing.end(shared).await;
    None
}

/// Dials the customer through the trunk while the agent hears ringback; answers both
/// legs once the customer answers (`None`: nobody answered, or the call ended first).
async fn customer_answers(
    shared: &Arc<Shared>,
    contact: i64,
    number: &str,
    agent: Box<Up>,
    commands: &mut Commands,
) -> Option<(Box<Up>, Box<Up>)> {
    let trunk = shared.trunk().unwrap_or_default().to_string();
    let target = format!("sip:{number}@{trunk}");
    let mut agent = Leg::Up(agent);
    let mut customer = match leg::invite(
        shared,
        contact,
        (number, LegKind::Customer),
        &target,
        "switchboard",
        false,
    )
    .await
    {
        Ok(r) => Leg::Ringing(vec![r]),
        Err(reason) => {
            let _ = shared
                .events
                .send(EdgeEvent::CustomerUnreachable { contact, reason });
            agent.end(shared).await;
            return None;
        }
    };
    let ringback = call::ringback();
    let mut at = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut buf, mut agent_buf) = (Vec::new(), Vec::new());
    let failure = loop {
        tokio::select! {
            () = shared.hangups.cancelled() => break None,
            command = commands.next() => match command {
                None | Some(CallCommand::Hangup) => break None,
                Some(_) => {}
            },
            event = agent.next(&mut agent_buf) => {
                if matches!(event, LegEvent::Gone) {
                    let name = agent.agent().unwrap_or_default().to_string();
                    let _ = shared.events.send(EdgeEvent::AgentHungUp { contact, agent: name });
                    if let Leg::Up(up) = std::mem::replace(&mut agent, Leg::Idle) {
                        up.closed(shared, "hung_up");
                    }
                    break None;
                }
            }
            event = customer.next(&mut buf) => {
                let LegEvent::Answered(i, result) = event else { continue };
                match customer.answer(i, result, shared, SignalSender::nowhere()).await {
                    Some(Outcome::Answered(_)) => {
                        match (std::mem::replace(&mut customer, Leg::Idle), std::mem::replace(&mut agent, Leg::Idle)) {
                            (Leg::Up(up), Leg::Up(agent)) => return Some((up, agent)),
                            (customer, agent) => {
                                customer.end(shared).await;
                                agent.end(shared).await;
                                return None;
                            }
                        }
                    }
                    Some(Outcome::Failed(_, reason)) => break Some(reason),
                    None => {}
                }
            }
            _ = tick.tick() => {
                if let Leg::Up(up) = &mut agent {
                    let frame: Vec<i16> = (0..160).map(|i| ringback[(at + i) % ringback.len()]).collect();
                    at = (at + 160) % ringback.len();
                    up.play(&frame).await;
                }
            }
        }
    };
    if let Some(reason) = failure {
        tracing::info!(contact, %number, "callback not answered: {reason}");
        let _ = shared
            .events
            .send(EdgeEvent::CustomerUnreachable { contact, reason });
    }
    customer.end(shared).await;
    agent.end(shared).await;
    None
}
