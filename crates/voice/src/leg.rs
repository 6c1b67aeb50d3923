//! The agent leg of a call: an outbound INVITE to the agent's registered phone while the
//! routing engine's offer stands, then, once answered, the phone's RTP, relayed to and
//! from the caller (transcoded when the two sides chose different G.711 laws).
//!
//! rsipstack's requests (CANCEL, BYE, NOTIFY) are awaited boxed: their futures take
//! kilobytes, and unboxed, every call's task would keep room for the largest of them for
//! as long as the call lasts.

use std::fs::File;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::{CancellationToken, JoinHandle};
use rsipstack::sip::StatusCode;
use switchboard_media::MediaError;
use switchboard_media::audio::{Audio, Side, StereoRecorder};
use switchboard_media::dtmf::{EventRelay, EventSender};
use switchboard_media::g711::Codec;
use switchboard_media::rtp::{Rtp, RtpSender};
use tokio::net::UdpSocket;

use crate::call::new_ssrc;
use crate::line::{Line, Peer, room};
use crate::rtcp;
use crate::sdp::Description;
use crate::sip::{Live, Shared, SignalSender};
use crate::{EdgeEvent, LegKind, LegRecord, Quality};

/// Symmetric RTP with a guard: the first datagram's source becomes the address media is
/// sent to (the peer may be behind NAT, or its SDP may be wrong); after that only datagrams
/// from the same host are media, so nobody else can inject audio into the call. (Another
/// port of the same host is allowed: some peers send key presses from a second socket.)
pub(crate) fn accept_media(remote: &mut SocketAddr, latched: &mut bool, from: SocketAddr) -> bool {
    if !*latched {
        *remote = from;
        *latched = true;
        return true;
    }
    from.ip() == remote.ip()
}

/// The agent leg's state.
pub(crate) enum Leg {
    /// No agent phone involved.
    Idle,
    /// Phones ring: every registered phone of the agent offered the call (forking), and
    /// of several agents at once in a ring-all queue. The first to answer takes the call.
    Ringing(Vec<Ringing>),
    /// A phone answered: media is relayed. (Boxed: a leg is moved in and out of the call
    /// task's futures, each of which would otherwise keep room for it.)
    Up(Box<Up>),
}

/// What a ringing phone's final answer means for the call.
pub(crate) enum Outcome {
    /// The agent's phone answered; the call's other phones stopped ringing.
    Answered(String),
    /// The agent's last ringing phone did not answer (why).
    Failed(String, String),
}

/// What is known of a leg from its start, to close it out with.
#[derive(Debug, Clone)]
pub(crate) struct LegLog {
    pub contact: i64,
    pub kind: LegKind,
    pub party: String,
    pub started_ms: i64,
}

impl LegLog {
    /// A leg of `contact`'s call to or from `party`, starting now.
    pub fn new(contact: i64, kind: LegKind, party: &str) -> LegLog {
        LegLog {
            contact,
            kind,
            party: party.to_string(),
            started_ms: unix_ms(),
        }
    }

    /// Reports the leg over, for the contact's record.
    pub fn closed(
        &self,
        shared: &Shared,
        answered_ms: Option<i64>,
        reason: &str,
        quality: Option<Quality>,
    ) {
        let _ = shared.events.send(EdgeEvent::LegClosed(LegRecord {
            contact: self.contact,
            kind: self.kind,
            party: self.party.clone(),
            started_ms: self.started_ms,
            answered_ms,
            ended_ms: unix_ms(),
            reason: reason.to_string(),
            quality,
        }));
    }
}

/// Now, in milliseconds since the epoch.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A ringing agent phone.
pub(crate) struct Ringing {
    log: LegLog,
    contact: i64,
    pub agent: String,
    record: bool,
    dialog: InviteDialog,
    result: JoinHandle<InviteAsyncResult>,
    /// The leg's RTP and RTCP sockets.
    sockets: (UdpSocket, UdpSocket),
    local: Description,
}

/// An answered agent phone.
pub(crate) struct Up {
    contact: i64,
    pub agent: String,
    /// The conversation's recording (lent with the lines to a relay thread).
    pub recording: Option<Recording>,
    dialog: InviteDialog,
    id: String,
    /// The phone's media.
    pub line: Line,
    log: LegLog,
    answered_ms: i64,
    /// The caller's key presses on their way to the phone.
    events: EventRelay,
    /// Keys the caller sent as SIP INFO, sent on as telephone-events (while they play,
    /// the caller's audio is held back: the phone's clock is the events').
    keys: Option<EventSender>,
    gone: CancellationToken,
    /// `gone`'s wait, kept across the call task's wake-ups.
    pub hung_up: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Room for an RTCP datagram from the phone (made when first needed).
    report: Vec<u8>,
    /// The phone asked for a transfer: it is told the outcome (NOTIFY) before the BYE.
    pub refer_pending: bool,
}

/// A conversation being recorded: by the call's task, or by the relay thread that carries
/// the conversation (see [`crate::relay::Talk`]).
pub(crate) struct Recording {
    contact: i64,
    recorder: StereoRecorder<File>,
    file: String,
    started: Instant,
}

impl Recording {
    /// Records `packet` (in `codec`), arriving now, as `side`'s audio, placed by its
    /// timestamp.
    pub fn record(&mut self, side: Side, packet: &Rtp<'_>, codec: Codec) {
        let (ssrc, ts) = (packet.ssrc, packet.timestamp);
        self.record_at(side, ssrc, ts, packet.payload, codec, Instant::now());
    }

    /// Records the audio `payload` (in `codec`) of a packet of stream `ssrc` with
    /// `timestamp`, which `arrived` then, as `side`'s audio, placed by its timestamp.
    pub fn record_at(
        &mut self,
        side: Side,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
        codec: Codec,
        arrived: Instant,
    ) {
        let since = arrived.saturating_duration_since(self.started);
        let now = since.as_micros() as u64 * 8 / 1000;
        let recorder = &mut self.recorder;
        if let Err(e) = recorder.push_rtp(side, ssrc, timestamp, now, Audio::G711(codec, payload)) {
            tracing::debug!(contact = self.contact, "recording: {e}");
        }
    }

    /// Starts `contact`'s recording with `agent` in `dir`.
    pub fn start(dir: &Path, contact: i64, agent: &str) -> std::io::Result<Recording> {
        std::fs::create_dir_all(dir)?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let file = format!("{contact}-{agent}-{stamp}.wav");
        // Unbuffered: the recorder writes 8 KiB at a time.
        let recorder =
            StereoRecorder::new(File::create(dir.join(&file))?).map_err(std::io::Error::other)?;
        Ok(Recording {
            contact,
            recorder,
            file,
            started: Instant::now(),
        })
    }

    /// Completes the file; returns its name (in the directory it was started in).
    pub fn finish(self) -> Result<String, MediaError> {
        self.recorder.finish()?;
        Ok(self.file)
    }
}

/// Something that happened on the agent leg.
pub(crate) enum LegEvent {
    /// The INVITE to one of the ringing phones (its index) got its final answer (or
    /// failed). Boxed: the call's task keeps room for its wake-up for as long as the
    /// call lasts, and this answer comes once a phone.
    Answered(usize, Box<InviteAsyncResult>),
    /// A datagram arrived on the leg's RTP socket (its length and source).
    Received(usize, SocketAddr),
    /// The agent hung up.
    Gone,
}

impl Leg {
    /// The next thing that happens on the leg (never, when idle); a datagram received is
    /// in `buf` (given room when the leg is up).
    pub async fn next(&mut self, buf: &mut Vec<u8>) -> LegEvent {
        match self {
            Leg::Idle => std::future::pending().await,
            Leg::Ringing(phones) => {
                let (i, result) = std::future::poll_fn(|cx| {
                    for (i, r) in phones.iter_mut().enumerate() {
                        if let Poll::Ready(result) = Pin::new(&mut r.result).poll(cx) {
                            return Poll::Ready((i, result));
                        }
                    }
                    Poll::Pending
                })
                .await;
                let result = match result {
                    Ok(result) => result,
                    Err(e) => Err(rsipstack::Error::Error(e.to_string())),
                };
                LegEvent::Answered(i, Box::new(result))
            }
            // RTCP is read here; only media and the end are reported.
            Leg::Up(up) => loop {
                tokio::select! {
                    biased;
                    () = up.hung_up.as_mut() => return LegEvent::Gone,
                    r = up.line.recv(room(buf)) => return match r {
                        Ok((n, from)) => LegEvent::Received(n, from),
                        // A transient socket error (e.g. ICMP unreachable): skip it.
                        Err(_) => LegEvent::Received(0, up.line.remote),
                    },
                    r = up.line.recv_rtcp(room(&mut up.report)) => {
                        if let Ok((n, from)) = r {
                            up.line.control.handle(&up.report[..n], from);
                        }
                    }
                }
            },
        }
    }

    /// Ends the leg: CANCEL a ringing phone, BYE an answered one.
    pub async fn end(self, shared: &Shared) {
        match self {
            Leg::Idle => {}
            Leg::Ringing(phones) => {
                for r in phones {
                    let _ = Box::pin(r.dialog.cancel()).await;
                    r.log.closed(shared, None, "cancelled", None);
                }
            }
            Leg::Up(mut up) => {
                if up.refer_pending {
                    let done = "terminated;reason=noresource";
                    let _ = Box::pin(up.dialog.notify_refer(StatusCode::OK, done)).await;
                }
                let _ = Box::pin(up.dialog.hangup()).await;
                up.line.bye().await;
                up.closed(shared, "ended");
            }
        }
    }

    /// The answered leg, if it is one.
    pub fn up_mut(&mut self) -> Option<&mut Up> {
        match self {
            Leg::Up(up) => Some(up),
            _ => None,
        }
    }

    /// The agent whose phone this leg is (the first of several ringing).
    pub fn agent(&self) -> Option<&str> {
        match self {
            Leg::Idle => None,
            Leg::Ringing(phones) => phones.first().map(|r| r.agent.as_str()),
            Leg::Up(u) => Some(&u.agent),
        }
    }

    /// Rings `phones` too (another agent's, in a ring-all queue); an answered leg is
    /// hung up first (the call was offered anew).
    pub async fn ring(&mut self, phones: Vec<Ringing>, shared: &Shared) {
        match self {
            Leg::Ringing(ringing) => ringing.extend(phones),
            _ => {
                std::mem::replace(self, Leg::Ringing(phones))
                    .end(shared)
                    .await
            }
        }
    }

    /// Stops `agent`'s phones: their ringing, or their conversation.
    pub async fn release(&mut self, agent: &str, shared: &Shared) {
        match std::mem::replace(self, Leg::Idle) {
            Leg::Ringing(phones) => {
                let (theirs, others): (Vec<_>, Vec<_>) =
                    phones.into_iter().partition(|r| r.agent == agent);
                Leg::Ringing(theirs).end(shared).await;
                if !others.is_empty() {
                    *self = Leg::Ringing(others);
                }
            }
            Leg::Up(up) if up.agent == agent => Leg::Up(up).end(shared).await,
            other => *self = other,
        }
    }

    /// Phone `i` of the ringing leg gave its final `result`. Answered: the leg is up and
    /// the other phones stop ringing. Otherwise the phone is dropped, and the agent has
    /// failed once none of their phones rings any more (`None` until then).
    pub async fn answer(
        &mut self,
        i: usize,
        result: Box<InviteAsyncResult>,
        shared: &Shared,
        signals: SignalSender,
    ) -> Option<Outcome> {
        let Leg::Ringing(mut phones) = std::mem::replace(self, Leg::Idle) else {
            return None;
        };
        let phone = phones.swap_remove(i);
        let agent = phone.agent.clone();
        match phone.answered(*result, shared, signals).await {
            Ok(up) => {
                Leg::Ringing(phones).end(shared).await;
                *self = Leg::Up(up);
                Some(Outcome::Answered(agent))
            }
            Err(reason) => {
                let still = phones.iter().any(|r| r.agent == agent);
                if !phones.is_empty() {
                    *self = Leg::Ringing(phones);
                }
                (!still).then_some(Outcome::Failed(agent, reason))
            }
        }
    }
}

/// Rings every registered phone of `agent` (an agent's, or a supervisor's: `kind`) for
/// `contact`'s call from `caller`.
pub(crate) async fn ring(
    shared: &Arc<Shared>,
    contact: i64,
    (agent, kind): (&str, LegKind),
    caller: &str,
    record: bool,
) -> Result<Vec<Ringing>, String> {
    let now = std::time::Instant::now();
    let targets = shared.registrar.contacts(agent, now);
    if targets.is_empty() {
        return Err("no phone registered".to_string());
    }
    let mut phones = Vec::with_capacity(targets.len());
    let mut failure = String::new();
    for target in &targets {
        match invite(shared, contact, (agent, kind), target, caller, record).await {
            Ok(r) => phones.push(r),
            Err(e) => failure = e,
        }
    }
    if phones.is_empty() {
        return Err(failure);
    }
    Ok(phones)
}

/// Calls `target` (a SIP URI) for `contact`'s call, as `caller`; `who` names the leg (an
/// agent login, or the number dialed) and `kind` says which side it is.
pub(crate) async fn invite(
    shared: &Arc<Shared>,
    contact: i64,
    (who, kind): (&str, LegKind),
    target: &str,
    caller: &str,
    record: bool,
) -> Result<Ringing, String> {
    let callee = rsipstack::sip::Uri::try_from(target).map_err(|e| e.to_string())?;
    let sockets = rtcp::bind_pair(shared.media_ip)
        .await
        .map_err(|e| format!("no RTP port: {e}"))?;
    let local = Description::offer(sockets.0.local_addr().map_err(|e| e.to_string())?);
    let here = shared.addr;
    let caller_uri = format!(
        "sip:{}@{here}",
        if caller.is_empty() {
            "anonymous"
        } else {
            caller
        }
    );
    let option = InviteOption {
        caller: rsipstack::sip::Uri::try_from(caller_uri.as_str())
            .or_else(|_| rsipstack::sip::Uri::try_from(format!("sip:anonymous@{here}").as_str()))
            .map_err(|e| e.to_string())?,
        callee,
        contact: rsipstack::sip::Uri::try_from(format!("sip:switchboard@{here}").as_str())
            .map_err(|e| e.to_string())?,
        content_type: Some("application/sdp".into()),
        offer: Some(local.write(u64::from(local.addr.port()))),
        call_id: Some(format!("{:08x}{:08x}@switchboard", new_ssrc(), new_ssrc())),
        credential: shared.trunk_credential(target),
        ..Default::default()
    };
    let states = shared.states.clone();
    let (dialog, result) = match kind {
        // Sent straight to the phone's registered address: nothing forks it.
        LegKind::Agent | LegKind::Supervisor => {
            shared.invites.call_phone(&shared.dialogs, option, states)
        }
        LegKind::Customer | LegKind::External => shared
            .dialogs
            .do_invite_async(option, states)
            .map_err(|e| e.to_string()),
    }?;
    Ok(Ringing {
        log: LegLog::new(contact, kind, who),
        contact,
        agent: who.to_string(),
        record,
        dialog,
        result,
        sockets,
        local,
    })
}

impl Ringing {
    /// The phone's final answer: an answered leg (whose hold and transfer requests go to
    /// `signals`), or why not (the leg is then closed out).
    pub async fn answered(
        self,
        result: InviteAsyncResult,
        shared: &Shared,
        signals: SignalSender,
    ) -> Result<Box<Up>, String> {
        let log = self.log.clone();
        let up = self.take_answer(result, shared, signals).await;
        if let Err(reason) = &up {
            log.closed(shared, None, reason, None);
        }
        up
    }

    async fn take_answer(
        self,
        result: InviteAsyncResult,
        shared: &Shared,
        signals: SignalSender,
    ) -> Result<Box<Up>, String> {
        let (id, response) = result.map_err(|e| e.to_string())?;
        let response = response.ok_or_else(|| "no answer".to_string())?;
        if response.status_code.kind() != rsipstack::sip::StatusCodeKind::Successful {
            return Err(format!("the phone answered {}", response.status_code));
        }
        let answer = match Description::parse(&response.body) {
            Ok(a) => a,
            Err(e) => {
                let _ = Box::pin(self.dialog.hangup()).await;
                return Err(e.to_string());
            }
        };
        let (payload_type, codec) = answer.codec();
        let ssrc = new_ssrc();
        let Ok(sender) = RtpSender::new(ssrc, payload_type, ssrc as u16, ssrc) else {
            let _ = Box::pin(self.dialog.hangup()).await;
            return Err(format!("payload type {payload_type}"));
        };
        let peer = Peer {
            rtp: answer.addr,
            rtcp: answer.rtcp(),
            codec,
            telephone_event: answer.telephone_event,
        };
        let recording = if self.record {
            Recording::start(&shared.recordings_dir, self.contact, &self.agent)
                .map_err(|e| tracing::error!(contact = self.contact, "not recorded: {e}"))
                .ok()
        } else {
            None
        };
        let gone = shared.hangups.child_token();
        let id = id.to_string();
        shared.remember(
            &id,
            Live {
                gone: gone.clone(),
                local: self.local,
                signals: Some(signals),
                keys: None,
                acked: None,
            },
        );
        Ok(Box::new(Up {
            contact: self.contact,
            agent: self.agent,
            recording,
            dialog: self.dialog,
            id,
            line: Line::new(self.sockets, peer, sender),
            log: self.log,
            answered_ms: unix_ms(),
            events: EventRelay::new(),
            keys: answer
                .telephone_event
                .and_then(|pt| EventSender::new(pt).ok()),
            hung_up: Box::pin(gone.clone().cancelled_owned()),
            gone,
            report: Vec::new(),
            refer_pending: false,
        }))
    }
}

/// An answered leg taken apart, to serve as a call's first leg (see `outbound`).
pub(crate) struct Parts {
    pub dialog: InviteDialog,
    pub id: String,
    pub line: Line,
    pub gone: CancellationToken,
    pub log: LegLog,
    pub answered_ms: i64,
}

impl Up {
    /// The leg's dialog, socket and media, for a call to run on.
    pub fn into_parts(self) -> Parts {
        Parts {
            dialog: self.dialog,
            id: self.id,
            line: self.line,
            gone: self.gone,
            log: self.log,
            answered_ms: self.answered_ms,
        }
    }

    /// Sends 20 ms of audio to the phone.
    pub async fn play(&mut self, frame: &[i16]) {
        let mut payload = Vec::with_capacity(frame.len());
        self.line.codec.encode(frame, &mut payload);
        self.send(&payload, frame.len() as u32).await;
    }

    /// The leg is over (`reason`: see [`LegRecord::reason`]): it is no longer listed
    /// anywhere, its recording is complete, and it is closed out.
    pub fn closed(self, shared: &Shared, reason: &str) {
        shared.forget(&self.id);
        shared.remove_dialog(&self.dialog.id());
        let quality = self.line.control.quality();
        self.log
            .closed(shared, Some(self.answered_ms), reason, quality);
        if let Some(r) = self.recording {
            match r.finish() {
                Ok(file) => {
                    let _ = shared.events.send(EdgeEvent::Recorded {
                        contact: self.contact,
                        file,
                    });
                }
                Err(e) => tracing::error!(contact = self.contact, "recording failed: {e}"),
            }
        }
    }

    /// Records `packet` (in `codec`) as `side`'s audio, if the leg is recorded.
    pub fn record(&mut self, side: Side, packet: &Rtp<'_>, codec: Codec) {
        if let Some(r) = &mut self.recording {
            r.record(side, packet, codec);
        }
    }

    /// An RTP packet from `from`: whether it is the phone's media (see
    /// [`accept_media`]); if so it counts in the leg's RTCP statistics.
    pub fn heard(&mut self, packet: &Rtp<'_>, from: SocketAddr) -> bool {
        if !self.line.accept(from) {
            return false;
        }
        let timed = Some(packet.payload_type) != self.line.telephone_event;
        self.line.control.received(packet, timed);
        true
    }

    /// Lets go of the leg's buffer while a relay thread reads its sockets.
    pub fn free_buffer(&mut self) {
        self.report = Vec::new();
    }

    /// Tells the phone its transfer (REFER) was refused; the call goes on.
    pub async fn transfer_refused(&mut self) {
        if std::mem::take(&mut self.refer_pending) {
            let done = "terminated;reason=rejected";
            let _ = Box::pin(self.dialog.notify_refer(StatusCode::Decline, done)).await;
        }
    }

    /// Passes on a telephone-event packet from the caller (a phone that takes none hears
    /// the caller's keys only if they were sent as tones).
    pub async fn relay_event(&mut self, event: &Rtp<'_>) {
        let Some(pt) = self.line.telephone_event else {
            return;
        };
        let relayed = self.events.relay(
            event.timestamp,
            event.payload,
            event.marker,
            pt,
            &mut self.line.sender,
        );
        if let Ok(packet) = relayed {
            self.line.send(&packet).await;
        }
    }

    /// Queues a key the caller pressed (sent as SIP INFO) for the phone, if it takes
    /// telephone-events.
    pub fn press(&mut self, key: char) {
        if let Some(keys) = &mut self.keys {
            let _ = keys.push_digit(key);
        }
    }

    /// One 20 ms tick of queued keys: sends the next event packet, if one is due.
    pub async fn send_keys(&mut self) {
        if let Some(packet) = self
            .keys
            .as_mut()
            .and_then(|k| k.poll(&mut self.line.sender))
        {
            self.line.send(&packet).await;
        }
    }

    /// Whether the leg's packets need nothing but relaying (and recording): no key being
    /// sent, none waiting in the reorder buffer (see [`crate::relay`]).
    pub fn plain(&self) -> bool {
        self.keys.as_ref().is_none_or(EventSender::is_idle) && self.line.order.is_empty()
    }

    /// Sends the caller's audio (already in the phone's law) to the phone (held back
    /// while a key plays).
    pub async fn send(&mut self, payload: &[u8], samples: u32) {
        if self.keys.as_ref().is_some_and(|k| !k.is_idle()) {
            return;
        }
        let packet = self.line.sender.packet(payload, samples, false);
        self.line.send(&packet).await;
    }
}
