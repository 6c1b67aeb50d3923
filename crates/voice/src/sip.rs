//! The SIP side: an `rsipstack` endpoint on UDP and TCP, the dispatch of requests, and
//! the answering of calls.
//!
//! Requests outside a dialog: INVITE starts a call (after the runtime accepts it), OPTIONS
//! is answered 200, anything else 405. Requests inside a dialog (ACK, BYE, re-INVITE,
//! INFO, CANCEL …) go to the dialog, whose state changes come back here: a terminated
//! dialog ends its call's media; a re-INVITE gets the call's current answer again.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rsipstack::EndpointBuilder;
use rsipstack::dialog::DialogId;
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::CancellationToken;
use rsipstack::sip::headers::ToTypedHeader;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{TcpListenerConnection, TransportLayer};
use switchboard_media::rtp::RtpSender;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::call::{self, CallSetup, Ending, new_ssrc};
use crate::invites::{self, Invites};
use crate::leg::{Leg, LegLog, unix_ms};
use crate::line::{Line, Peer};
use crate::prompts::Prompts;
use crate::registrar::{MAX_EXPIRES, MIN_EXPIRES, Registrar, Verdict};
use crate::relay::Relays;
use crate::rtcp;
use crate::sdp::{Description, SdpError};
use crate::{Answer, EdgeEvent, LegKind, VoiceConfig};

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

    /// A handle that places outbound calls.
    pub fn handle(&self) -> crate::VoiceHandle {
        crate::VoiceHandle {
            shared: Arc::downgrade(&self.shared),
        }
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

/// A live call leg, as the SIP side knows it.
pub(crate) struct Live {
    /// Fired when the other side hangs up.
    pub gone: CancellationToken,
    /// Switchboard's side of the media, answered again to a re-INVITE.
    pub local: Description,
    /// Where the leg's hold and transfer requests go (an agent leg: its call's task).
    pub signals: Option<SignalSender>,
    /// Where key presses sent as SIP INFO go (a caller's leg: its call's task).
    pub keys: Option<SignalSender>,
    /// Told when the ACK of a late-offer call's 200 has come (it carries the answer).
    pub acked: Option<oneshot::Sender<()>>,
}

/// A request the far end of a leg made in the dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Put on hold (`true`) or taken off hold (re-INVITE, RFC 3264 §8.4).
    Hold(bool),
    /// A blind transfer to the user part of a Refer-To URI (RFC 3515).
    Transfer(String),
    /// A key the caller sent as SIP INFO.
    Key(char),
}

/// Where a call's [`Signal`]s wait for its task: a queue and a wake-up. Signals come a
/// few times a call if at all, and a tokio channel takes 1.3 KB from the start (its
/// first block of 32 slots) for as long as the call lasts; this takes about 100 bytes.
#[derive(Default)]
pub(crate) struct Signals {
    queue: Mutex<VecDeque<Signal>>,
    ready: Notify,
}

impl Signals {
    pub fn new() -> Arc<Signals> {
        Arc::default()
    }

    /// A sender to this call's task.
    pub fn sender(self: &Arc<Self>) -> SignalSender {
        SignalSender(Arc::downgrade(self))
    }

    /// The next signal, when one comes. Cancel-safe: a signal not taken stays queued.
    pub async fn recv(&self) -> Signal {
        loop {
            if let Some(signal) = self.queue.lock().expect("not poisoned").pop_front() {
                return signal;
            }
            // A signal sent since the queue was read left a permit: this returns at once.
            self.ready.notified().await;
        }
    }
}

/// Sends to a call's [`Signals`]; what is sent once the call's task has gone is dropped.
#[derive(Clone)]
pub(crate) struct SignalSender(Weak<Signals>);

impl SignalSender {
    /// A sender whose signals go nowhere (a leg whose requests mean nothing to the call).
    pub fn nowhere() -> SignalSender {
        SignalSender(Weak::new())
    }

    pub fn send(&self, signal: Signal) {
        if let Some(signals) = self.0.upgrade() {
            signals
                .queue
                .lock()
                .expect("not poisoned")
                .push_back(signal);
            signals.ready.notify_one();
        }
    }
}

/// How long a shutdown waits for calls to hang up.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What every call task shares with the SIP side.
pub(crate) struct Shared {
    config: VoiceConfig,
    /// Where SIP listens.
    pub addr: SocketAddr,
    /// The address RTP sockets bind to and SDP announces.
    pub media_ip: IpAddr,
    pub dialogs: Arc<DialogLayer>,
    /// The INVITE dialogs made without keeping their transaction's channel.
    pub invites: Arc<Invites>,
    pub states: DialogStateSender,
    pub events: mpsc::UnboundedSender<EdgeEvent>,
    pub prompts: Prompts,
    /// Where recordings go.
    pub recordings_dir: std::path::PathBuf,
    /// Where voicemails go.
    pub voicemail_dir: std::path::PathBuf,
    pub registrar: Registrar,
    /// Live legs by dialog id.
    calls: Mutex<HashMap<String, Live>>,
    /// Calls being set up or live (for the overload limit).
    load: AtomicU64,
    /// Notified when the last call ends.
    idle: tokio::sync::Notify,
    /// Fired at shutdown: every call hangs up.
    pub hangups: CancellationToken,
    /// The runtime the edge started on: calls placed from elsewhere (the runtime's owner
    /// thread) run there.
    pub runtime: tokio::runtime::Handle,
    /// The threads that relay plain conversations.
    pub relays: Relays,
}

impl Shared {
    /// Lists a live leg under its dialog id.
    pub fn remember(&self, id: &str, live: Live) {
        self.calls
            .lock()
            .expect("not poisoned")
            .insert(id.to_string(), live);
    }

    /// Forgets a leg.
    pub fn forget(&self, id: &str) {
        self.calls.lock().expect("not poisoned").remove(id);
    }

    /// Takes a dialog that has ended (or will not be answered) out of every list.
    pub fn remove_dialog(&self, id: &DialogId) {
        self.invites.remove(&self.dialogs, id);
    }

    /// Calls in progress.
    pub fn calls(&self) -> u64 {
        self.load.load(Ordering::SeqCst)
    }

    /// Live legs.
    pub fn legs(&self) -> usize {
        self.calls.lock().expect("not poisoned").len()
    }

    /// Dialogs listed (by the dialog layer, and the phones' here), and callers' INVITE
    /// transactions listed for their dialogs' events.
    pub fn dialogs(&self) -> (usize, usize) {
        let (phones, transactions) = self.invites.listed();
        (self.dialogs.len() + phones, transactions)
    }

    /// Whether the kernel media path carries what it can, and the audio packets the
    /// relay threads passed on themselves.
    pub fn media(&self) -> (bool, u64) {
        (
            self.relays.in_kernel().is_ok(),
            self.relays.relayed_by_threads(),
        )
    }
}

/// The SIP socket's receive buffer, in bytes (the kernel caps it at `net.core.rmem_max`):
/// a burst of new calls, several datagrams each, must not overflow the default (about
/// 100 datagrams) while the edge waits for a core.
const SIP_RECEIVE_BUFFER: usize = 4 << 20;

/// Ports the kernel picks for SIP's UDP socket before one is also free for TCP.
const SIP_PORT_TRIES: usize = 32;

/// The UDP socket SIP is served on, bound to `addr`, at a port where SIP's TCP listener
/// can listen too. rsipstack binds that listener later and only logs a failure, so it is
/// checked here: a port the kernel picks is picked again while TCP's is taken (as by a
/// connection's own port, from the same range), and a port configured whose TCP side is
/// taken is an error.
fn sip_socket(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let mut tries = 0;
    let socket = loop {
        let socket = std::net::UdpSocket::bind(addr)?;
        let bound = socket.local_addr()?;
        match std::net::TcpListener::bind(bound) {
            Ok(_) => break socket,
            Err(_) if addr.port() == 0 && tries < SIP_PORT_TRIES => tries += 1,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("SIP over TCP cannot listen on {bound}: {e}"),
                ));
            }
        }
    };
    socket.set_nonblocking(true)?;
    rustix::net::sockopt::set_socket_recv_buffer_size(&socket, SIP_RECEIVE_BUFFER)?;
    tokio::net::UdpSocket::from_std(socket)
}

/// Starts the voice edge; it reports to `events`.
pub async fn start(
    config: VoiceConfig,
    events: mpsc::UnboundedSender<EdgeEvent>,
) -> std::io::Result<Voice> {
    let io = |e: rsipstack::Error| std::io::Error::other(e.to_string());
    let cancel = CancellationToken::new();
    let transport = TransportLayer::new(cancel.clone());
    let udp = UdpConnection::from_socket(
        std::sync::Arc::new(sip_socket(config.sip)?),
        None,
        Some(cancel.child_token()),
    )
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
    let (invites, invite_events) = Invites::new();
    let media_ip = config.media_ip.unwrap_or(match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    });
    let prompts = Prompts::new(
        config.audio_dir.clone(),
        config.cache_dir.clone(),
        &config.voice,
    );
    let realm = config.realm.clone();
    let relay_threads = config
        .relay_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let kernel_media = config.kernel_media;
    let shared = Arc::new(Shared {
        recordings_dir: config.recordings_dir.clone(),
        voicemail_dir: config.voicemail_dir.clone(),
        config,
        addr,
        media_ip,
        dialogs,
        invites: Arc::new(invites),
        states,
        events,
        prompts,
        registrar: Registrar::new(&realm, nonce_key()),
        calls: Mutex::new(HashMap::new()),
        load: AtomicU64::new(0),
        idle: tokio::sync::Notify::new(),
        hangups: CancellationToken::new(),
        runtime: tokio::runtime::Handle::current(),
        relays: Relays::start(relay_threads, kernel_media)?,
    });
    let token = cancel.clone();
    let edge = Arc::clone(&shared);
    let task = tokio::spawn(async move {
        tokio::select! {
            () = endpoint.serve() => {}
            () = dispatch(Arc::clone(&edge), incoming) => {}
            () = follow(Arc::clone(&edge), state_rx) => {}
            () = invites::forward(&edge.invites, invite_events) => {}
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

/// A key for signing nonces, new every run.
fn nonce_key() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{:?}", std::time::SystemTime::now()));
    h.update(std::process::id().to_be_bytes());
    h.update(format!("{:p}", &h));
    h.finalize().into()
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
            let dialog = shared.dialogs.match_dialog(&tx);
            match dialog.or_else(|| shared.invites.find(&tx).map(Dialog::Invite)) {
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
                // Boxed: the call's task keeps room for it for as long as the call lasts.
                tokio::spawn(new_call(Arc::clone(&shared), Box::new(tx)));
            }
            Method::Options => {
                let allow = Header::Allow(ALLOW.into());
                let accept = Header::Accept("application/sdp".into());
                let _ = tx
                    .reply_with(StatusCode::OK, vec![allow, accept], None)
                    .await;
            }
            Method::Register => {
                tokio::spawn(register(Arc::clone(&shared), tx));
            }
            Method::Ack => {}
            _ => {
                let allow = Header::Allow(ALLOW.into());
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
            DialogState::Confirmed(id, _) => {
                let mut calls = shared.calls.lock().expect("not poisoned");
                if let Some(acked) = calls.get_mut(&id.to_string()).and_then(|l| l.acked.take()) {
                    let _ = acked.send(());
                }
            }
            DialogState::Updated(id, request, handle) => {
                // A re-INVITE or UPDATE: answer with the call's media as it is; a hold or
                // unhold goes to the call.
                let (local, signals) = shared
                    .calls
                    .lock()
                    .expect("not poisoned")
                    .get(&id.to_string())
                    .map(|l| (Some(l.local.clone()), l.signals.clone()))
                    .unwrap_or_default();
                tokio::spawn(async move {
                    let offer = Description::parse(&request.body);
                    let _ = match (local, offer) {
                        (Some(local), Ok(offer)) => {
                            if let Some(signals) = signals {
                                signals.send(Signal::Hold(offer.is_hold()));
                            }
                            let mut answer = offer.answer(local.addr);
                            answer.codecs = local.codecs.clone();
                            let body = answer.write(u64::from(local.addr.port()));
                            handle
                                .respond(StatusCode::OK, Some(vec![sdp_type()]), Some(body))
                                .await
                        }
                        (Some(local), Err(SdpError::Malformed(_))) if request.body.is_empty() => {
                            // A re-INVITE without an offer: the 200 carries ours (RFC 3261
                            // §14.2), the answer comes in the ACK.
                            let body = local.write(u64::from(local.addr.port()));
                            handle
                                .respond(StatusCode::OK, Some(vec![sdp_type()]), Some(body))
                                .await
                        }
                        (Some(_), Err(_)) => handle.reply(StatusCode::NotAcceptableHere).await,
                        (None, _) => handle.reply(StatusCode::CallTransactionDoesNotExist).await,
                    };
                });
            }
            DialogState::Info(id, request, handle) => {
                // A key press sent as SIP INFO goes to a caller's call like any other key;
                // other INFO bodies are acknowledged and ignored.
                let content_type = request.header_value("Content-Type").unwrap_or_default();
                let key = info_key(&content_type, &request.body);
                let keys = shared
                    .calls
                    .lock()
                    .expect("not poisoned")
                    .get(&id.to_string())
                    .and_then(|l| l.keys.clone());
                match (key, keys) {
                    (Some(key), Some(keys)) => {
                        keys.send(Signal::Key(key));
                    }
                    _ => {
                        tracing::debug!(body = ?String::from_utf8_lossy(&request.body), "INFO ignored")
                    }
                }
                tokio::spawn(async move { handle.reply(StatusCode::OK).await });
            }
            DialogState::Options(_, _, handle) => {
                tokio::spawn(async move { handle.reply(StatusCode::OK).await });
            }
            DialogState::Refer(id, request, handle) => {
                let signals = shared
                    .calls
                    .lock()
                    .expect("not poisoned")
                    .get(&id.to_string())
                    .and_then(|l| l.signals.clone());
                let target = request
                    .header_value("Refer-To")
                    .and_then(|v| rsipstack::sip::typed::Contact::parse(&v).ok())
                    .map(|c| user(&c.uri))
                    .filter(|u| !u.is_empty());
                tokio::spawn(async move {
                    match (signals, target) {
                        (Some(signals), Some(to)) => {
                            signals.send(Signal::Transfer(to));
                            handle.reply(StatusCode::Accepted).await
                        }
                        (None, _) => handle.reply(StatusCode::Forbidden).await,
                        (_, None) => handle.reply(StatusCode::BadRequest).await,
                    }
                });
            }
            DialogState::Message(_, _, handle)
            | DialogState::Notify(_, _, handle)
            | DialogState::Publish(_, _, handle) => {
                tokio::spawn(async move { handle.reply(StatusCode::NotImplemented).await });
            }
            _ => {}
        }
    }
}

/// The key pressed in a SIP INFO body: `application/dtmf-relay` (`Signal=5`, with
/// `Signal=10` and `11` for `*` and `#` as some phones send them) or `application/dtmf`
/// (the key alone).
fn info_key(content_type: &str, body: &[u8]) -> Option<char> {
    let body = std::str::from_utf8(body).ok()?;
    let value = match content_type
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "application/dtmf-relay" => body.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim())
        })?,
        "application/dtmf" => body.trim(),
        _ => return None,
    };
    let key = match value {
        "10" => '*',
        "11" => '#',
        v if v.chars().count() == 1 => v.chars().next()?.to_ascii_uppercase(),
        _ => return None,
    };
    matches!(key, '0'..='9' | '*' | '#' | 'A'..='D').then_some(key)
}

/// The methods Switchboard answers.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER, REFER, UPDATE";

/// Where a request came from: the `received` address of its top Via (RFC 3261 §18.2.1),
/// or the Via's own host.
fn source_ip(request: &rsipstack::sip::Request) -> Option<IpAddr> {
    let via = request.via_header().ok()?.typed().ok()?;
    if let Some(Ok(ip)) = via.received() {
        return Some(ip);
    }
    via.uri
        .host_with_port
        .to_string()
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// A REGISTER: authenticates the phone by digest against the agent's stored HA1, then
/// adds, refreshes or removes its binding.
async fn register(shared: Arc<Shared>, mut tx: Transaction) {
    let now = tokio::time::Instant::now().into_std();
    let source = source_ip(&tx.original).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let registrar = &shared.registrar;
    if registrar.locked_out(source, now) {
        let _ = tx.reply(StatusCode::Forbidden).await;
        return;
    }
    let challenge = |stale: bool| Header::WwwAuthenticate(shared.registrar.challenge(stale).into());
    let Some(auth) = tx.original.header_value("Authorization") else {
        let _ = tx
            .reply_with(StatusCode::Unauthorized, vec![challenge(false)], None)
            .await;
        return;
    };
    let agent = tx
        .original
        .to_header()
        .ok()
        .and_then(|t| t.uri().ok())
        .map(|u| user(&u));
    let named = Registrar::username(&auth);
    let (reply, answer) = oneshot::channel();
    let credentials = match (&agent, &named) {
        (Some(agent), Some(named)) if agent == named => {
            let _ = shared.events.send(EdgeEvent::Credentials {
                agent: agent.clone(),
                reply,
            });
            answer.await.ok().flatten()
        }
        _ => None,
    };
    let verdict = match &credentials {
        Some((realm, ha1)) if realm == registrar.realm() => {
            registrar.verify(&auth, "REGISTER", ha1, unix_secs())
        }
        _ => Verdict::Invalid,
    };
    let (Verdict::Valid, Some(agent)) = (&verdict, agent) else {
        if verdict == Verdict::Stale {
            let _ = tx
                .reply_with(StatusCode::Unauthorized, vec![challenge(true)], None)
                .await;
        } else {
            tracing::info!(%source, user = ?named, "phone registration refused");
            registrar.failed(source, now);
            let _ = tx.reply(StatusCode::Forbidden).await;
        }
        return;
    };
    registrar.succeeded(source);
    let default_expires = tx
        .original
        .header_value("Expires")
        .and_then(|e| e.trim().parse::<u32>().ok())
        .unwrap_or(MAX_EXPIRES);
    let mut current = Vec::new();
    for contact in tx.original.contact_headers() {
        let value = contact.value().trim();
        if value == "*" {
            registrar.unbind_all(&agent);
            continue;
        }
        let Ok(typed) = rsipstack::sip::typed::Contact::parse(value) else {
            let _ = tx.reply(StatusCode::BadRequest).await;
            return;
        };
        let expires = typed
            .params
            .iter()
            .find_map(|p| match p {
                rsipstack::sip::Param::Expires(e) => e.to_string().parse::<u32>().ok(),
                _ => None,
            })
            .unwrap_or(default_expires);
        if expires > 0 && expires < MIN_EXPIRES {
            let min = Header::MinExpires(MIN_EXPIRES.to_string().into());
            let _ = tx
                .reply_with(StatusCode::IntervalTooBrief, vec![min], None)
                .await;
            return;
        }
        current = registrar.bind(
            &agent,
            &typed.uri.to_string(),
            expires.min(MAX_EXPIRES),
            now,
        );
    }
    if tx.original.contact_headers().is_empty() {
        current = registrar.bind(&agent, "", 0, now);
    }
    let headers = current
        .iter()
        .map(|b| {
            let left = b.expires.saturating_duration_since(now).as_secs();
            Header::Contact(format!("<{}>;expires={left}", b.contact).into())
        })
        .collect();
    let _ = tx.reply_with(StatusCode::OK, headers, None).await;
    let _ = shared.events.send(EdgeEvent::Phones {
        agent,
        contacts: current.into_iter().map(|b| b.contact).collect(),
    });
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
pub(crate) struct Load<'a>(pub &'a Shared);

impl Drop for Load<'_> {
    fn drop(&mut self) {
        if self.0.load.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Shared {
    /// Counts a new call, unless the edge is full or shutting down.
    pub fn admit(&self) -> Option<Load<'_>> {
        if self.hangups.is_cancelled() {
            return None;
        }
        let load = Load(self);
        if self.load.fetch_add(1, Ordering::SeqCst) >= self.config.max_calls as u64 {
            // Dropping the guard takes the count back.
            return None;
        }
        Some(load)
    }

    /// Where calls to numbers go (`sip:NUMBER@TRUNK`), if anywhere.
    pub fn trunk(&self) -> Option<&str> {
        self.config.trunk.as_deref()
    }

    /// The credentials for an INVITE to `target`, when it goes through the trunk and the
    /// trunk has them.
    pub fn trunk_credential(&self, target: &str) -> Option<Credential> {
        let trunk = self.trunk()?;
        let (user, password) = self.config.trunk_auth.as_ref()?;
        target.ends_with(&format!("@{trunk}")).then(|| Credential {
            username: user.clone(),
            password: password.clone(),
            realm: None,
            auth_username: None,
        })
    }
}

/// A new INVITE: checks it, asks the runtime, answers, and runs the call to its end.
async fn new_call(shared: Arc<Shared>, tx: Box<Transaction>) {
    // Boxed: the call's task keeps room for its largest await for as long as the call
    // lasts, and answering needs far more than the call then does.
    let Some(call) = Box::pin(answer_call(&shared, tx)).await else {
        return;
    };
    let Call {
        setup,
        line,
        gone,
        dialog,
        id,
        load,
    } = call;
    let contact = setup.contact;
    match call::run(setup, line, gone, Leg::Idle).await {
        Ending::CallerLeft if !shared.hangups.is_cancelled() => {
            let _ = shared.events.send(EdgeEvent::HungUp { contact });
        }
        // Asked to, or shutting down.
        _ => hang_up(&dialog).await,
    }
    shared.forget(&id);
    shared.remove_dialog(&dialog.id());
    drop(load);
}

/// An answered call, ready to run.
struct Call<'a> {
    setup: CallSetup,
    line: Box<Line>,
    /// Fires when the caller hangs up (or at shutdown).
    gone: CancellationToken,
    dialog: InviteDialog,
    /// The dialog's id, as the edge's table of live calls knows it.
    id: String,
    /// The call counted in the edge's load until it ends.
    load: Load<'a>,
}

/// Checks a new INVITE, asks the runtime, and answers it (`None`: refused, or gone
/// before it could be answered, each already dealt with).
async fn answer_call(shared: &Arc<Shared>, mut tx: Box<Transaction>) -> Option<Call<'_>> {
    let started_ms = unix_ms();
    // An address locked out for guessing phone passwords may not call either.
    let source = source_ip(&tx.original).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if shared
        .registrar
        .locked_out(source, tokio::time::Instant::now().into_std())
    {
        let _ = tx.reply(StatusCode::Forbidden).await;
        return None;
    }
    let Some(load) = shared.admit() else {
        let _ = tx.reply(StatusCode::ServiceUnavailable).await;
        return None;
    };
    let request = &tx.original;
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
    // A late offer (RFC 3261 §13.2.1, RFC 3264 §5): an INVITE without SDP gets
    // Switchboard's offer in the 200, and the caller's answer comes in the ACK.
    let late = request.body.iter().all(u8::is_ascii_whitespace);
    let offer = if late {
        Ok(None)
    } else {
        Description::parse(&request.body).map(Some)
    };
    let offer = match offer {
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
            return None;
        }
    };
    let answered = shared
        .invites
        .answer(&shared.dialogs, &mut tx, shared.states.clone());
    let (dialog, listed) = match answered {
        Ok(made) => made,
        Err(e) => {
            tracing::info!(%call_id, "call refused: {e}");
            let _ = tx.reply(StatusCode::BadRequest).await;
            return None;
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
        drop(listed);
    });
    // Ringing while the runtime records the contact.
    if let Err(e) = dialog.ringing(None, None) {
        tracing::debug!(%call_id, "180 not sent: {e}");
    }
    let (reply, answer) = oneshot::channel();
    let _ = shared.events.send(EdgeEvent::Incoming {
        from: from.clone(),
        to,
        call_id: call_id.clone(),
        reply,
    });
    let (contact, commands) = match answer.await {
        Ok(Answer::Accept { contact, commands }) => (contact, commands),
        Ok(Answer::Reject { code, reason }) => {
            tracing::info!(%call_id, code, "call refused: {reason}");
            let _ = dialog.reject(Some(StatusCode::from(code)), Some(reason));
            shared.remove_dialog(&dialog.id());
            return None;
        }
        Err(_) => {
            let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
            shared.remove_dialog(&dialog.id());
            return None;
        }
    };
    // The runtime hears that the caller is gone, which no call task will tell it.
    let hung_up = |shared: &Shared| {
        let _ = shared.events.send(EdgeEvent::HungUp { contact });
        None
    };
    if shared.hangups.is_cancelled() {
        let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
        shared.remove_dialog(&dialog.id());
        return None;
    }
    let sockets = match rtcp::bind_pair(shared.media_ip).await {
        Ok(pair) => pair,
        Err(e) => {
            tracing::error!(%call_id, "no RTP port: {e}");
            let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
            shared.remove_dialog(&dialog.id());
            return hung_up(shared);
        }
    };
    let Ok(addr) = sockets.0.local_addr() else {
        return hung_up(shared);
    };
    let mut local = match &offer {
        Some(offer) => offer.answer(addr),
        None => Description::offer(addr),
    };
    let signals = Signals::new();
    let keys = signals.sender();
    let (ack_tx, ack) = oneshot::channel();
    shared.remember(
        &id,
        Live {
            gone: gone.clone(),
            local: local.clone(),
            signals: None,
            keys: Some(keys),
            acked: offer.is_none().then_some(ack_tx),
        },
    );
    let body = local.write(contact as u64);
    let answered = dialog.accept(Some(vec![sdp_type()]), Some(body));
    let answered_ms = unix_ms();
    // A CANCEL may have ended the dialog before it was listed.
    if answered.is_err() || matches!(dialog.state(), DialogState::Terminated(..)) {
        gone.cancel();
    }
    let peer = match offer {
        Some(offer) => offer,
        None => {
            // The answer to Switchboard's offer, in the ACK (no ACK: the dialog times out).
            tokio::select! {
                () = gone.cancelled() => {
                    shared.forget(&id);
                    shared.remove_dialog(&dialog.id());
                    return hung_up(shared);
                }
                _ = ack => {}
            }
            let answer = dialog
                .last_remote_ack()
                .ok_or_else(|| "no ACK".to_string())
                .and_then(|ack| Description::parse(&ack.body).map_err(|e| e.to_string()));
            match answer {
                Ok(answer) => {
                    // Re-INVITEs are answered with the media agreed.
                    local = answer.answer(addr);
                    if let Some(live) = shared.calls.lock().expect("not poisoned").get_mut(&id) {
                        live.local = local.clone();
                    }
                    answer
                }
                Err(e) => {
                    tracing::info!(%call_id, "late-offer call without a usable answer: {e}");
                    hang_up(&dialog).await;
                    shared.forget(&id);
                    shared.remove_dialog(&dialog.id());
                    return hung_up(shared);
                }
            }
        }
    };
    let (payload_type, codec) = local.codec();
    // Payload types over 127 were dropped when the offer was read.
    let ssrc = new_ssrc();
    let Ok(sender) = RtpSender::new(ssrc, payload_type, ssrc as u16, ssrc) else {
        hang_up(&dialog).await;
        return hung_up(shared);
    };
    let peer = Peer {
        rtp: peer.addr,
        rtcp: peer.rtcp(),
        codec,
        telephone_event: local.telephone_event,
    };
    let log = LegLog {
        contact,
        kind: LegKind::Customer,
        party: from.clone(),
        started_ms,
    };
    let setup = CallSetup {
        contact,
        log,
        answered_ms,
        caller: from,
        signals,
        commands,
        shared: Arc::clone(shared),
    };
    Some(Call {
        setup,
        line: Box::new(Line::new(sockets, peer, sender)),
        gone,
        dialog,
        id,
        load,
    })
}

async fn hang_up(dialog: &InviteDialog) {
    // Boxed: the call's task would otherwise keep room for it all along (see `leg`).
    if let Err(e) = Box::pin(dialog.hangup()).await {
        tracing::debug!("hang-up: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::{SIP_RECEIVE_BUFFER, Signal, SignalSender, Signals, info_key, sip_socket};

    #[test]
    fn signals_arrive_in_order_and_survive_a_dropped_wait() {
        let signals = Signals::new();
        let sender = signals.sender();
        let mut cx = Context::from_waker(Waker::noop());
        {
            // A wait that is woken by a signal, then dropped before it is polled again
            // (another branch of a `select!` won): the signal stays for the next wait.
            let mut wait = pin!(signals.recv());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            sender.send(Signal::Hold(true));
        }
        sender.send(Signal::Key('5'));
        for expected in [Signal::Hold(true), Signal::Key('5')] {
            let mut wait = pin!(signals.recv());
            assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(expected));
        }
        assert!(pin!(signals.recv()).as_mut().poll(&mut cx).is_pending());
        // Once the call's task has gone, what is sent is dropped.
        drop(signals);
        sender.send(Signal::Transfer("1001".into()));
        SignalSender::nowhere().send(Signal::Hold(false));
    }

    #[tokio::test]
    async fn the_sip_socket_has_room_for_a_burst() {
        let socket = sip_socket("127.0.0.1:0".parse().unwrap()).unwrap();
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The kernel grants at most its cap (and reports twice what it grants).
        let room = rustix::net::sockopt::socket_recv_buffer_size(&socket).unwrap();
        assert!(room >= SIP_RECEIVE_BUFFER.min(cap), "{room} bytes");
    }

    #[tokio::test]
    async fn a_sip_port_whose_tcp_side_is_taken_is_refused_with_the_reason() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let Err(e) = sip_socket(addr) else {
            panic!("SIP served on {addr}, whose TCP port is taken");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("SIP over TCP cannot listen"), "{e}");
        // A port the kernel picks is one where TCP can listen too.
        let socket = sip_socket("127.0.0.1:0".parse().unwrap()).unwrap();
        std::net::TcpListener::bind(socket.local_addr().unwrap()).unwrap();
    }

    #[test]
    fn keys_are_read_from_info_bodies() {
        let relay = "application/dtmf-relay";
        assert_eq!(info_key(relay, b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_key(relay, b"signal= #\r\nDuration=100"), Some('#'));
        assert_eq!(info_key(relay, b"Signal=10\r\n"), Some('*'));
        assert_eq!(info_key(relay, b"Signal=11\r\n"), Some('#'));
        assert_eq!(info_key(relay, b"Signal=d\r\n"), Some('D'));
        assert_eq!(info_key("application/dtmf", b"7"), Some('7'));
        assert_eq!(
            info_key("Application/DTMF-Relay; x=y", b"Signal=1"),
            Some('1')
        );
        // Not a key, or not a key press at all.
        assert_eq!(info_key(relay, b"Signal=E\r\n"), None);
        assert_eq!(info_key(relay, b"Signal=12\r\n"), None);
        assert_eq!(info_key(relay, b"Duration=160\r\n"), None);
        assert_eq!(info_key(relay, b"\xff\xfe"), None);
        assert_eq!(info_key("application/media_control+xml", b"<x/>"), None);
        assert_eq!(info_key("", b"Signal=5"), None);
    }

    proptest::proptest! {
        /// INFO bodies are untrusted: anything is a key of the DTMF alphabet or nothing.
        #[test]
        fn any_info_body_is_a_key_or_nothing(
            content_type in "(application/dtmf-relay|application/dtmf|\\PC{0,20})",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        ) {
            if let Some(key) = info_key(&content_type, &body) {
                proptest::prop_assert!(matches!(key, '0'..='9' | '*' | '#' | 'A'..='D'));
            }
        }
    }
}
