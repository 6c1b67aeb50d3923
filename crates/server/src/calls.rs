//! Phone calls into the runtime: the voice edge's events become contacts, key presses,
//! silences and hang-ups on the center; the center's call commands go back to the edge
//! through the runtime ([`Runtime::attach_call`]).
//!
//! Architecture invariant: a call is answered only after its contact is recorded
//! ("durable before acknowledged"); every call the edge reports gone ends its contact.

use switchboard_routing::Channel;
use switchboard_store::{CallLeg, Line, NewContact, Store};
use switchboard_voice::{Answer, CallCommand, CommandSender, EdgeEvent, command_channel};
use tokio::sync::mpsc;

use crate::center::Reach;
use crate::runtime::{Runtime, StartError, now_ms, start_contact};

/// Applies the edge's events until the edge stops.
///
/// Events about calls in progress are queued on the center in the edge's order, and
/// their answers handled apart: the next event does not wait for this one's commit, so
/// that the owner commits the edge's events together. A new call starts in a task of its
/// own, as its contact is recorded in the store before it is answered; the call's later
/// events come only after that answer.
pub async fn follow(
    runtime: Runtime,
    store: Store,
    voicemail: Voicemail,
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
                let (runtime, store) = (runtime.clone(), store.clone());
                tokio::spawn(async move {
                    incoming(&runtime, &store, &from, &to, &call_id, reply).await;
                });
            }
            EdgeEvent::Digits { contact, digits } => {
                let r = runtime
                    .submit(move |center, now| center.input(contact, &digits, now))
                    .await;
                tokio::spawn(async move {
                    if let Ok(Err(e)) = r.await {
                        tracing::debug!(contact, "keys not taken: {e}");
                    }
                });
            }
            EdgeEvent::NoInput { contact } => {
                let r = runtime
                    .submit(move |center, now| center.no_input(contact, now))
                    .await;
                tokio::spawn(async move {
                    if let Ok(Err(e)) = r.await {
                        tracing::debug!(contact, "silence not taken: {e}");
                    }
                });
            }
            EdgeEvent::HungUp { contact } => {
                let r = hang_up(&runtime, contact).await;
                tokio::spawn(r);
            }
            EdgeEvent::Credentials { agent, reply } => {
                let store = store.clone();
                tokio::spawn(async move {
                    let account = store.sip_account(&agent).await.unwrap_or_else(|e| {
                        tracing::error!("reading {agent}'s phone account: {e}");
                        None
                    });
                    let _ = reply.send(account);
                });
            }
            EdgeEvent::Phones { agent, contacts } => {
                drop(
                    runtime
                        .submit(move |center, now| center.phones(&agent, contacts, now))
                        .await,
                );
            }
            EdgeEvent::AgentAnswered { contact, agent } => {
                let login = agent.clone();
                let r = runtime
                    .submit(move |center, now| center.phone_answered(&login, contact, now))
                    .await;
                let runtime = runtime.clone();
                tokio::spawn(async move {
                    if let Ok(Err(e)) = r.await {
                        // The offer ended meanwhile (timed out, caller left): release the
                        // phone.
                        tracing::info!(contact, %agent, "answer too late: {e}");
                        runtime.command(contact, CallCommand::Release { agent });
                    }
                });
            }
            EdgeEvent::AgentFailed {
                contact,
                agent,
                reason,
            } => {
                tracing::info!(contact, %agent, "agent phone did not answer: {reason}");
                let r = runtime
                    .submit(move |center, now| center.reject(&agent, contact, now))
                    .await;
                tokio::spawn(async move {
                    if let Ok(Err(e)) = r.await {
                        tracing::debug!(contact, "offer already over: {e}");
                    }
                });
            }
            EdgeEvent::Held {
                contact,
                agent,
                held,
            } => {
                drop(
                    runtime
                        .submit(move |center, now| center.held(&agent, contact, held, now))
                        .await,
                );
            }
            EdgeEvent::Voicemail {
                contact,
                mailbox,
                file,
                transcribe,
                duration_ms,
            } => {
                tracing::info!(contact, %mailbox, duration_ms, "voicemail left");
                match route_voicemail(&runtime, &store, contact, &mailbox, &file).await {
                    Ok(routed) if transcribe => {
                        if let Some(url) = voicemail.transcribe_url.clone() {
                            let path = voicemail.dir.join(&file);
                            let (runtime, store) = (runtime.clone(), store.clone());
                            tokio::spawn(async move {
                                transcribe_voicemail(
                                    &runtime,
                                    &store,
                                    &url,
                                    &path,
                                    [contact, routed],
                                )
                                .await;
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(contact, "voicemail {file} not routed: {e}"),
                }
            }
            EdgeEvent::Monitoring {
                contact,
                user,
                mode,
            } => {
                drop(
                    runtime
                        .submit(move |center, now| center.monitoring(contact, &user, mode, now))
                        .await,
                );
            }
            EdgeEvent::Transfer { contact, agent, to } => {
                let who = agent.clone();
                let r = runtime
                    .submit(move |center, now| center.transfer(&who, contact, &to, now))
                    .await;
                let runtime = runtime.clone();
                tokio::spawn(async move {
                    if let Ok(Err(e)) = r.await {
                        tracing::info!(contact, "transfer refused: {e}");
                        runtime.command(contact, CallCommand::TransferRefused { agent });
                    }
                });
            }
            EdgeEvent::LegClosed(leg) => {
                let leg = CallLeg {
                    contact_id: leg.contact,
                    kind: leg.kind.name().into(),
                    party: leg.party,
                    started_ms: leg.started_ms,
                    answered_ms: leg.answered_ms,
                    ended_ms: leg.ended_ms,
                    reason: leg.reason,
                    quality: leg.quality.as_ref().map(quality),
                };
                // Stored by the owner with the notice, in one commit with its neighbours.
                drop(
                    runtime
                        .submit(move |center, now| center.leg_closed(leg, now))
                        .await,
                );
            }
            EdgeEvent::Recorded { contact, file } => {
                if let Err(e) = store.contact_recording(contact, &file).await {
                    tracing::error!(contact, "recording {file} not noted: {e}");
                }
            }
            EdgeEvent::CustomerUnreachable { contact, reason } => {
                tracing::info!(contact, "callback not answered: {reason}");
                let r = runtime
                    .run(move |center, _| {
                        center
                            .queue_of(contact)
                            .and_then(|q| center.queue_config(&q))
                            .map_or((1, 0), |q| (q.callback_attempts, q.callback_retry_secs))
                    })
                    .await;
                let Ok((attempts, retry_secs)) = r else {
                    continue;
                };
                // The failed attempt is noted before the contact ends, so that whoever
                // sees it end (and wraps it up) finds the request as it now is.
                let due = now_ms() + i64::try_from(retry_secs * 1000).unwrap_or(i64::MAX);
                let retry = match store
                    .callback_not_answered(contact, i64::from(attempts), due)
                    .await
                {
                    Ok(Some(cb)) if cb.status == "pending" => Some(cb.id),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::error!(contact, "callback attempt not noted: {e}");
                        None
                    }
                };
                // The request is tried again later, or has ended `no_answer`.
                let r = runtime
                    .run(move |center, now| {
                        let ended = center.unreachable(contact, now);
                        if let Some(id) = retry {
                            center.retry_callback(id, due);
                        }
                        ended
                    })
                    .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(contact, "{e}");
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

/// A leg's audio as the contact's record keeps it: packets received and lost, jitter,
/// RTCP reports read, and the peer's latest report about Switchboard's stream.
fn quality(q: &switchboard_voice::Quality) -> serde_json::Value {
    // Jitter is counted in 8 kHz clock units.
    let ms = |units: u32| f64::from(units) / 8.0;
    let peer = q.peer.map(|p| {
        serde_json::json!({
            "fraction_lost": f64::from(p.fraction_lost) / 256.0,
            "lost": p.cumulative_lost,
            "jitter_ms": ms(p.jitter),
            "round_trip_ms": p.round_trip.map(|d| d.as_secs_f64() * 1000.0),
        })
    });
    serde_json::json!({
        "received": q.received,
        "lost": q.lost,
        "jitter_ms": ms(q.jitter),
        "reports": q.reports,
        "peer": peer,
    })
}

/// Why a call to a number or a direct line was not taken.
#[derive(Debug, thiserror::Error)]
enum DirectError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("the agent is busy")]
    Busy,
    #[error("the agent is not logged in")]
    Unavailable,
}

/// A call to `to` that no flow answers: if `to` is an agent's login, their direct line,
/// taken when they are available (the call is recorded, then routed to them first).
async fn direct_call(
    runtime: &Runtime,
    store: &Store,
    from: &str,
    to: &str,
    commands: CommandSender,
) -> Result<i64, DirectError> {
    let login = to.to_string();
    let reach = runtime
        .run(move |center, _| center.direct_line(&login))
        .await
        .map_err(StartError::from)?;
    match reach {
        None => return Err(StartError::NoFlow(to.to_string()).into()),
        Some(Reach::Busy) => return Err(DirectError::Busy),
        Some(Reach::Unavailable) => return Err(DirectError::Unavailable),
        Some(Reach::Open) => {}
    }
    let customer = store
        .customer_by_address(from)
        .await
        .map_err(StartError::from)?;
    let new = NewContact {
        channel: "voice".into(),
        address: from.to_string(),
        dialed: to.to_string(),
        customer_id: customer.map(|c| c.id),
        flow: None,
    };
    let id = store
        .create_contact(&new, now_ms())
        .await
        .map_err(StartError::from)?;
    runtime.attach_call(id, commands);
    let (from, login) = (from.to_string(), to.to_string());
    runtime
        .run(move |center, now| center.start_direct(id, &from, &login, now))
        .await
        .map_err(StartError::from)?
        .map_err(StartError::from)?;
    Ok(id)
}

/// Where voicemails are and who transcribes them.
#[derive(Debug, Clone)]
pub struct Voicemail {
    /// The voicemail directory.
    pub dir: std::path::PathBuf,
    /// The speech-to-text service, if any.
    pub transcribe_url: Option<String>,
}

/// Notes the voicemail on the call's contact and routes it, as a new `voicemail` contact
/// of the same customer, to the mailbox's queue. Answers the new contact's id.
async fn route_voicemail(
    runtime: &Runtime,
    store: &Store,
    call: i64,
    mailbox: &str,
    file: &str,
) -> Result<i64, String> {
    store
        .contact_voicemail(call, file)
        .await
        .map_err(|e| e.to_string())?;
    let origin = store.contact(call).await.map_err(|e| e.to_string())?;
    let new = NewContact {
        channel: "voicemail".into(),
        address: origin.address.clone(),
        dialed: mailbox.to_string(),
        customer_id: origin.customer_id,
        flow: None,
    };
    let id = store
        .create_contact(&new, now_ms())
        .await
        .map_err(|e| e.to_string())?;
    store
        .contact_voicemail(id, file)
        .await
        .map_err(|e| e.to_string())?;
    let (queue, caller, file) = (mailbox.to_string(), origin.address, file.to_string());
    let routed = runtime
        .run(move |center, now| center.enqueue_voicemail(id, &queue, &caller, &file, now))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = routed {
        store
            .contact_ended(id, &format!("failed:{e}"), now_ms())
            .await
            .map_err(|e| e.to_string())?;
        return Err(e.to_string());
    }
    Ok(id)
}

/// Sends the voicemail at `path` to the speech-to-text service at `url` and adds its
/// text to the transcripts of `contacts` (the call and the routed voicemail).
async fn transcribe_voicemail(
    runtime: &Runtime,
    store: &Store,
    url: &str,
    path: &std::path::Path,
    contacts: [i64; 2],
) {
    let text = async {
        let audio = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "audio/wav")
            .body(audio)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        body["text"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{url} answered no `text`"))
    }
    .await;
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("voicemail {} not transcribed: {e}", path.display());
            return;
        }
    };
    for contact in contacts {
        let t = text.clone();
        let live = runtime
            .run(move |center, now| center.transcribed(contact, &t, now))
            .await
            .unwrap_or(false);
        if !live {
            let line = Line {
                at_ms: now_ms(),
                from: "transcription".into(),
                text: text.clone(),
            };
            if let Err(e) = store.append_line(contact, &line).await {
                tracing::error!(contact, "transcription not stored: {e}");
            }
        }
    }
}

/// Queues the end of `contact`'s call; answers when it is durable (awaiting the answer
/// is only for its log line).
async fn hang_up(runtime: &Runtime, contact: i64) -> impl Future<Output = ()> + 'static {
    let r = runtime
        .submit(move |center, now| center.hangup(contact, now))
        .await;
    async move {
        if let Ok(Err(e)) = r.await {
            tracing::debug!(contact, "hang-up after the contact ended: {e}");
        }
    }
}

/// A new call: its contact is recorded and its flow started (or an agent's direct line
/// rung), then the edge is told to answer it, or to refuse it and why.
async fn incoming(
    runtime: &Runtime,
    store: &Store,
    from: &str,
    to: &str,
    call_id: &str,
    reply: tokio::sync::oneshot::Sender<Answer>,
) {
    let (commands, rx) = command_channel();
    let attach = commands.clone();
    let calls = runtime.clone();
    let started = start_contact(runtime, store, Channel::Voice, from, to, move |id| {
        calls.attach_call(id, attach);
    })
    .await;
    // No flow answers: an agent's direct line, perhaps.
    let started = match started {
        Err(StartError::NoFlow(_)) => direct_call(runtime, store, from, to, commands).await,
        other => other.map_err(DirectError::Start),
    };
    let answer = match started {
        Ok(contact) => {
            tracing::info!(contact, %from, %to, %call_id, "call answered");
            Answer::Accept {
                contact,
                commands: rx,
            }
        }
        Err(DirectError::Start(StartError::NoFlow(_))) => Answer::Reject {
            code: 404,
            reason: format!("no flow answers `{to}`"),
        },
        Err(DirectError::Busy) => Answer::Reject {
            code: 486,
            reason: format!("{to} is busy"),
        },
        Err(DirectError::Unavailable) => Answer::Reject {
            code: 480,
            reason: format!("{to} is not logged in"),
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
        hang_up(runtime, contact).await.await;
    }
}
