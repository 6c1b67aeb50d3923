//! Phone calls into the runtime: the voice edge's events become contacts, key presses,
//! silences and hang-ups on the center; the center's call commands go back to the edge
//! through the runtime ([`Runtime::attach_call`]).
//!
//! Architecture invariant: a call is answered only after its contact is recorded
//! ("durable before acknowledged"); every call the edge reports gone ends its contact.

use switchboard_routing::Channel;
use switchboard_store::Store;
use switchboard_voice::{Answer, CallCommand, EdgeEvent};
use tokio::sync::mpsc;

use crate::runtime::{Runtime, StartError, start_contact};

/// Applies the edge's events until the edge stops.
pub async fn follow(
    runtime: Runtime,
    store: Store,
    mut events: mpsc::UnboundedReceiver<EdgeEvent>,
) {
    while let Some(event) = events.recv().await {
        match event {
            EdgeEvent::Incoming {
                from,
                to,
                call_id,
                reply,
            } => {
                let (commands, rx) = mpsc::unbounded_channel();
                let started = start_contact(&runtime, &store, Channel::Voice, &from, &to, |id| {
                    runtime.attach_call(id, commands);
                })
                .await;
                let answer = match started {
                    Ok(contact) => {
                        tracing::info!(contact, %from, %to, %call_id, "call answered");
                        Answer::Accept {
                            contact,
                            commands: rx,
                        }
                    }
                    Err(StartError::NoFlow(_)) => Answer::Reject {
                        code: 404,
                        reason: format!("no flow answers `{to}`"),
                    },
                    Err(e) => {
                        tracing::error!(%call_id, "call not taken: {e}");
                        Answer::Reject {
                            code: 503,
                            reason: "cannot take calls now".into(),
                        }
                    }
                };
                if let Err(Answer::Accept { contact, .. }) = reply.send(answer) {
                    // The caller went before the answer: the contact ends at once.
                    hang_up(&runtime, contact).await;
                }
            }
            EdgeEvent::Digits { contact, digits } => {
                let r = runtime
                    .run(move |center, now| center.input(contact, &digits, now))
                    .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(contact, "keys not taken: {e}");
                }
            }
            EdgeEvent::NoInput { contact } => {
                let r = runtime
                    .run(move |center, now| center.no_input(contact, now))
                    .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(contact, "silence not taken: {e}");
                }
            }
            EdgeEvent::HungUp { contact } => hang_up(&runtime, contact).await,
            EdgeEvent::Credentials { agent, reply } => {
                let account = store.sip_account(&agent).await.unwrap_or_else(|e| {
                    tracing::error!("reading {agent}'s phone account: {e}");
                    None
                });
                let _ = reply.send(account);
            }
            EdgeEvent::Phones { agent, contacts } => {
                let _ = runtime
                    .run(move |center, now| center.phones(&agent, contacts, now))
                    .await;
            }
            EdgeEvent::AgentAnswered { contact, agent } => {
                let login = agent.clone();
                let r = runtime
                    .run(move |center, now| center.accept(&login, contact, now))
                    .await;
                if let Ok(Err(e)) = r {
                    // The offer ended meanwhile (timed out, caller left): release the phone.
                    tracing::info!(contact, %agent, "answer too late: {e}");
                    runtime.command(contact, CallCommand::StopRinging { agent });
                }
            }
            EdgeEvent::AgentFailed {
                contact,
                agent,
                reason,
            } => {
                tracing::info!(contact, %agent, "agent phone did not answer: {reason}");
                let r = runtime
                    .run(move |center, now| center.reject(&agent, contact, now))
                    .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(contact, "offer already over: {e}");
                }
            }
            EdgeEvent::Held {
                contact,
                agent,
                held,
            } => {
                let _ = runtime
                    .run(move |center, now| center.held(&agent, contact, held, now))
                    .await;
            }
            EdgeEvent::Recorded { contact, file } => {
                if let Err(e) = store.contact_recording(contact, &file).await {
                    tracing::error!(contact, "recording {file} not noted: {e}");
                }
            }
            EdgeEvent::AgentHungUp { contact, agent } => {
                let r = runtime
                    .run(move |center, now| center.end(&agent, contact, now))
                    .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(contact, "agent hang-up after the end: {e}");
                }
            }
        }
    }
}

async fn hang_up(runtime: &Runtime, contact: i64) {
    let r = runtime
        .run(move |center, now| center.hangup(contact, now))
        .await;
    if let Ok(Err(e)) = r {
        tracing::debug!(contact, "hang-up after the contact ended: {e}");
    }
}
