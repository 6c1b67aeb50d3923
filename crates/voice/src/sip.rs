//! The SIP side: an `rsipstack` endpoint on UDP and TCP, the dispatch of requests, and
//! the answering of calls.
//!
//! Requests outside a dialog: INVITE starts a call (after the runtime accepts it), OPTIONS
//! is answered 200, anything else 405. Requests inside a dialog (ACK, BYE, re-INVITE,
//! INFO, CANCEL …) go to the dialog, whose state changes come back here: a terminated
//! dialog ends its call's media; a re-INVITE gets the call's current answer again.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::CancellationToken;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{TcpListenerConnection, TransportLayer};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::call::{self, CallSetup, Ending};
use crate::prompts::Prompts;
use crate::sdp::{Description, SdpError};
use crate::{Answer, EdgeEvent, VoiceConfig};

/// The running voice edge.
pub struct Voice {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Voice {
    /// Where SIP listens (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Hangs up every call (their contacts stay in progress, to be closed as
    /// interrupted at the next start), then stops listening.
    pub async fn shutdown(self) {
        self.shared.hangups.cancel();
        let calls_done = async {
            while self.shared.load.load(Ordering::SeqCst) > 0 {
                self.shared.idle.notified().await;
            }
        };
        // Callers that do not answer the BYE do not hold the shutdown up.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, calls_done).await;
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// A live call, as the SIP side knows it.
struct Live {
    /// Fired when the caller hangs up.
    gone: CancellationToken,
    /// Switchboard's side of the media, answered again to a re-INVITE.
    local: Description,
}

/// How long a shutdown waits for calls to hang up.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

struct Shared {
    config: VoiceConfig,
    media_ip: IpAddr,
    dialogs: Arc<DialogLayer>,
    states: DialogStateSender,
    events: mpsc::UnboundedSender<EdgeEvent>,
    prompts: Arc<Prompts>,
    calls: Mutex<HashMap<String, Live>>,
    /// Calls being set up or live (for the overload limit).
    load: AtomicU64,
    /// Notified when the last call ends.
    idle: tokio::sync::Notify,
    /// Fired at shutdown: every call hangs up.
    hangups: CancellationToken,
}

/// Starts the voice edge; it reports to `events`.
pub async fn start(
    config: VoiceConfig,
    events: mpsc::UnboundedSender<EdgeEvent>,
) -> std::io::Result<Voice> {
    let io = |e: rsipstack::Error| std::io::Error::other(e.to_string());
    let cancel = CancellationToken::new();
    let transport = TransportLayer::new(cancel.clone());
    let udp = UdpConnection::create_connection(config.sip, None, Some(cancel.child_token()))
        .await
        .map_err(io)?;
    let addr = udp.get_addr().get_socketaddr().map_err(io)?;
    transport.add_transport(udp.into());
    let tcp = TcpListenerConnection::new(addr, None).await.map_err(io)?;
    transport.add_transport(tcp.into());
    let endpoint = EndpointBuilder::new()
        .with_cancel_token(cancel.clone())
        .with_transport_layer(transport)
        .with_user_agent("Switchboard")
        .build();
    let incoming = endpoint.incoming_transactions().map_err(io)?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (states, state_rx) = dialogs.new_dialog_state_channel();
    let media_ip = config.media_ip.unwrap_or(match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    });
    let prompts = Arc::new(Prompts::new(
        config.audio_dir.clone(),
        config.cache_dir.clone(),
        &config.voice,
    ));
    let shared = Arc::new(Shared {
        config,
        media_ip,
        dialogs,
        states,
        events,
        prompts,
        calls: Mutex::new(HashMap::new()),
        load: AtomicU64::new(0),
        idle: tokio::sync::Notify::new(),
        hangups: CancellationToken::new(),
    });
    let token = cancel.clone();
    let edge = Arc::clone(&shared);
    let task = tokio::spawn(async move {
        tokio::select! {
            () = endpoint.serve() => {}
            () = dispatch(Arc::clone(&edge), incoming) => {}
            () = follow(Arc::clone(&edge), state_rx) => {}
            () = token.cancelled() => {}
        }
        endpoint.shutdown();
    });
    Ok(Voice {
        addr,
        shared,
        cancel,
        task,
    })
}

/// Answers requests that start something, and hands in-dialog requests to their dialog.
async fn dispatch(shared: Arc<Shared>, mut incoming: TransactionReceiver) {
    while let Some(mut tx) = incoming.recv().await {
        let in_dialog = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        if in_dialog {
            match shared.dialogs.match_dialog(&tx) {
                Some(Dialog::Invite(mut dialog)) => {
                    tokio::spawn(async move {
                        if let Err(e) = dialog.handle(&mut tx).await {
                            tracing::debug!("in-dialog request: {e}");
                        }
                    });
                }
                _ => {
                    if tx.original.method != Method::Ack {
                        let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                }
            }
            continue;
        }
        match tx.original.method {
            Method::Invite => {
                tokio::spawn(new_call(Arc::clone(&shared), tx));
            }
            Method::Options => {
                let allow = Header::Allow("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO".into());
                let accept = Header::Accept("application/sdp".into());
                let _ = tx
                    .reply_with(StatusCode::OK, vec![allow, accept], None)
                    .await;
            }
            Method::Ack => {}
            _ => {
                let allow = Header::Allow("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO".into());
                let _ = tx
                    .reply_with(StatusCode::MethodNotAllowed, vec![allow], None)
                    .await;
            }
        }
    }
}

/// Follows dialog state changes: the caller hanging up, mid-call requests.
async fn follow(shared: Arc<Shared>, mut states: DialogStateReceiver) {
    while let Some(state) = states.recv().await {
        match state {
            DialogState::Terminated(id, reason) => {
                tracing::debug!(%id, ?reason, "dialog terminated");
                let calls = shared.calls.lock().expect("not poisoned");
                if let Some(live) = calls.get(&id.to_string()) {
                    live.gone.cancel();
                }
            }
            DialogState::Updated(id, request, handle) => {
                // A re-INVITE or UPDATE: answer with the call's media as it is.
                let local = shared
                    .calls
                    .lock()
                    .expect("not poisoned")
                    .get(&id.to_string())
                    .map(|l| l.local.clone());
                tokio::spawn(async move {
                    let offer = Description::parse(&request.body);
                    let _ = match (local, offer) {
                        (Some(local), Ok(offer)) => {
                            let mut answer = offer.answer(local.addr);
                            answer.codecs = local.codecs.clone();
                            let body = answer.write(u64::from(local.addr.port()));
                            handle
                                .respond(StatusCode::OK, Some(vec![sdp_type()]), Some(body))
                                .await
                        }
                        (Some(_), Err(SdpError::Malformed(_))) if request.body.is_empty() => {
                            handle.reply(StatusCode::OK).await
                        }
                        (Some(_), Err(_)) => handle.reply(StatusCode::NotAcceptableHere).await,
                        (None, _) => handle.reply(StatusCode::CallTransactionDoesNotExist).await,
                    };
                });
            }
            DialogState::Info(_, request, handle) => {
                // SIP INFO key presses (application/dtmf-relay) are not used: RFC 4733
                // telephone-events and in-band tones are. Acknowledge and move on.
                tracing::debug!(body = ?String::from_utf8_lossy(&request.body), "INFO");
                tokio::spawn(async move { handle.reply(StatusCode::OK).await });
            }
            DialogState::Options(_, _, handle) => {
                tokio::spawn(async move { handle.reply(StatusCode::OK).await });
            }
            DialogState::Refer(_, _, handle)
            | DialogState::Message(_, _, handle)
            | DialogState::Notify(_, _, handle)
            | DialogState::Publish(_, _, handle) => {
                tokio::spawn(async move { handle.reply(StatusCode::NotImplemented).await });
            }
            _ => {}
        }
    }
}

fn sdp_type() -> Header {
    Header::ContentType("application/sdp".into())
}

/// The user part of a SIP URI (`sip:support@host` → `support`).
fn user(uri: &rsipstack::sip::Uri) -> String {
    uri.auth
        .as_ref()
        .map(|a| a.user.clone())
        .unwrap_or_default()
}

/// Decrements the load when a call attempt ends, however it ends.
struct Load<'a>(&'a Shared);

impl Drop for Load<'_> {
    fn drop(&mut self) {
        if self.0.load.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A new INVITE: checks it, asks the runtime, answers, and runs the call to its end.
async fn new_call(shared: Arc<Shared>, mut tx: Transaction) {
    if shared.load.fetch_add(1, Ordering::SeqCst) >= shared.config.max_calls as u64 {
        shared.load.fetch_sub(1, Ordering::SeqCst);
        let _ = tx.reply(StatusCode::ServiceUnavailable).await;
        return;
    }
    let _load = Load(&shared);
    let request = tx.original.clone();
    let to = user(&request.uri);
    let from = request
        .from_header()
        .ok()
        .and_then(|h| h.uri().ok())
        .map(|u| user(&u))
        .unwrap_or_default();
    let call_id = request
        .call_id_header()
        .map(|h| h.value().to_string())
        .unwrap_or_default();
    let offer = match Description::parse(&request.body) {
        Ok(offer) => offer,
        Err(e) => {
            tracing::info!(%call_id, "call refused: {e}");
            let _ = tx
                .reply_with(
                    StatusCode::NotAcceptableHere,
                    vec![Header::Warning(format!("399 switchboard \"{e}\"").into())],
                    None,
                )
                .await;
            return;
        }
    };
    let dialog =
        match shared
            .dialogs
            .get_or_create_server_invite(&tx, shared.states.clone(), None, None)
        {
            Ok(d) => d,
            Err(e) => {
                tracing::info!(%call_id, "call refused: {e}");
                let _ = tx.reply(StatusCode::BadRequest).await;
                return;
            }
        };
    let id = dialog.id().to_string();
    let gone = shared.hangups.child_token();
    // The INVITE transaction runs in its own task (provisional responses, CANCEL, ACK).
    let mut handler = dialog.clone();
    tokio::spawn(async move {
        if let Err(e) = handler.handle(&mut tx).await {
            tracing::debug!("INVITE transaction: {e}");
        }
    });
    let (reply, answer) = oneshot::channel();
    let _ = shared.events.send(EdgeEvent::Incoming {
        from,
        to,
        call_id: call_id.clone(),
        reply,
    });
    let (contact, commands) = match answer.await {
        Ok(Answer::Accept { contact, commands }) => (contact, commands),
        Ok(Answer::Reject { code, reason }) => {
            tracing::info!(%call_id, code, "call refused: {reason}");
            let _ = dialog.reject(Some(StatusCode::from(code)), Some(reason));
            shared.dialogs.remove_dialog(&dialog.id());
            return;
        }
        Err(_) => {
            let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
            shared.dialogs.remove_dialog(&dialog.id());
            return;
        }
    };
    let hung_up = |shared: &Shared| {
        let _ = shared.events.send(EdgeEvent::HungUp { contact });
    };
    if shared.hangups.is_cancelled() {
        let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
        shared.dialogs.remove_dialog(&dialog.id());
        return;
    }
    let socket = match UdpSocket::bind((shared.media_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%call_id, "no RTP port: {e}");
            let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
            shared.dialogs.remove_dialog(&dialog.id());
            return hung_up(&shared);
        }
    };
    let local = match socket.local_addr() {
        Ok(addr) => offer.answer(addr),
        Err(_) => return hung_up(&shared),
    };
    shared.calls.lock().expect("not poisoned").insert(
        id.clone(),
        Live {
            gone: gone.clone(),
            local: local.clone(),
        },
    );
    let body = local.write(contact as u64);
    let answered = dialog.accept(Some(vec![sdp_type()]), Some(body));
    // A CANCEL may have ended the dialog before it was listed.
    if answered.is_err() || matches!(dialog.state(), DialogState::Terminated(..)) {
        gone.cancel();
    }
    let (payload_type, codec) = local.codec();
    let setup = CallSetup {
        contact,
        socket,
        remote: offer.addr,
        codec,
        payload_type,
        telephone_event: local.telephone_event,
        commands,
        events: shared.events.clone(),
        prompts: Arc::clone(&shared.prompts),
    };
    match call::run(setup, gone).await {
        Ending::CallerLeft if !shared.hangups.is_cancelled() => hung_up(&shared),
        // Asked to, or shutting down.
        _ => hang_up(&dialog).await,
    }
    shared.calls.lock().expect("not poisoned").remove(&id);
    shared.dialogs.remove_dialog(&dialog.id());
}

async fn hang_up(dialog: &InviteDialog) {
    if let Err(e) = dialog.hangup().await {
        tracing::debug!("hang-up: {e}");
    }
}
