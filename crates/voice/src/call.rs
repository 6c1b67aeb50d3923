//! One answered call's media: a task that owns the call's RTP socket, sends prompts and
//! music paced at 20 ms, hears key presses and collects them as the runtime asked, takes
//! voicemails, and, once an agent's phone answers, relays the conversation (or mixes it,
//! while a supervisor is on the call), plays music on hold and records.
//!
//! The decisions (what to send next, when a collection is complete, when silence counts
//! as no input or ends a voicemail) are in [`CallMedia`], which takes time as an argument;
//! the task around it only moves packets and commands.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use switchboard_media::audio::{Side, beep, rms, wav_bytes};
use switchboard_media::dtmf::{EventReceiver, EventRelay};
use switchboard_media::g711::{Codec, transcode};
use switchboard_media::goertzel::DtmfDetector;
use switchboard_media::player::Player;
use switchboard_media::rtp;
use tokio::time::{Instant, MissedTickBehavior};

use crate::leg::{self, Leg, LegEvent, LegLog, Outcome};
use crate::line::{Line, room};
use crate::mix::{FRAME, Mixer, Party};
use crate::prompts::Clip;
use crate::relay::{Returned, Talk};
use crate::sip::{Shared, Signal, SignalSender, Signals};
use crate::{CallCommand, Commands, EdgeEvent, LegKind, MonitorMode};

/// Most keys remembered while no collection is open (typed ahead during prompts).
const TYPE_AHEAD: usize = 32;
/// A voicemail ends after this much silence …
const VOICEMAIL_SILENCE: Duration = Duration::from_secs(5);
/// … or at this length.
const VOICEMAIL_MAX: Duration = Duration::from_secs(120);
/// Audio quieter than this (RMS, 16-bit units; about -40 dBFS) counts as silence.
const SILENCE_RMS: f64 = 330.0;

/// A voicemail being taken.
#[derive(Debug)]
pub struct Voicemail {
    /// The mailbox (a queue).
    pub mailbox: String,
    /// A transcription is wanted.
    pub transcribe: bool,
    /// What the caller said.
    pub samples: Vec<i16>,
    /// When the recording started (after the beep).
    started: Option<Instant>,
    /// When the caller was last heard.
    last_sound: Option<Instant>,
    /// `#`, silence or the maximum length ended it.
    done: bool,
}

/// A collection of keys in progress.
#[derive(Debug)]
struct Gather {
    max_digits: u32,
    terminator: Option<char>,
    timeout: Duration,
    keys: String,
    /// When silence ends the collection; set once the prompts have played.
    deadline: Option<Instant>,
}

/// What a call's media does next, given time and input.
pub struct CallMedia {
    contact: i64,
    player: Player,
    /// Every prompt queued since the player was last idle may be cut short by a key.
    interruptible: bool,
    music: Option<(Clip, usize)>,
    gather: Option<Gather>,
    type_ahead: VecDeque<char>,
    hangup_pending: bool,
    voicemail: Option<Voicemail>,
}

impl CallMedia {
    /// The media of contact `contact`'s call.
    pub fn new(contact: i64) -> CallMedia {
        CallMedia {
            contact,
            player: Player::new(),
            interruptible: true,
            music: None,
            gather: None,
            type_ahead: VecDeque::new(),
            hangup_pending: false,
            voicemail: None,
        }
    }

    /// Queues a prompt.
    pub fn prompt(&mut self, clip: Clip, barge_in: bool) {
        if self.player.is_idle() {
            self.interruptible = true;
        }
        self.interruptible &= barge_in;
        self.player.push(clip);
    }

    /// Starts or stops the music played between prompts.
    pub fn music(&mut self, clip: Option<Clip>) {
        self.music = clip.map(|c| (c, 0));
    }

    /// Opens a collection of keys; keys typed ahead count.
    pub fn gather(
        &mut self,
        max_digits: u32,
        terminator: Option<char>,
        timeout: Duration,
    ) -> Option<EdgeEvent> {
        self.gather = Some(Gather {
            max_digits: max_digits.max(1),
            terminator,
            timeout,
            keys: String::new(),
            deadline: None,
        });
        let mut done = None;
        while done.is_none()
            && let Some(key) = self.type_ahead.pop_front()
        {
            done = self.collect(key, None);
        }
        done
    }

    /// A frame of music on hold (the queue's music, or the built-in chime).
    pub fn hold_frame(&mut self) -> [i16; FRAME] {
        if self.music.is_none() {
            self.music = Some((default_music(), 0));
        }
        self.music_frame()
    }

    /// Drops the prompts queued (an agent answered).
    pub fn stop_prompts(&mut self) {
        self.player.clear();
    }

    /// Asks to hang up once the queued prompts have played.
    pub fn hang_up(&mut self) {
        self.hangup_pending = true;
    }

    /// Takes a voicemail for `mailbox` once the prompts have played: a beep, then the
    /// caller's audio (fed with [`CallMedia::heard`]).
    pub fn voicemail(&mut self, mailbox: String, transcribe: bool) {
        self.music = None;
        self.prompt(beep().into(), false);
        self.voicemail = Some(Voicemail {
            mailbox,
            transcribe,
            samples: Vec::new(),
            started: None,
            last_sound: None,
            done: false,
        });
    }

    /// The caller's audio heard at `now` (recorded while a voicemail is being taken).
    pub fn heard(&mut self, samples: &[i16], now: Instant) {
        if let Some(v) = &mut self.voicemail
            && v.started.is_some()
            && !v.done
        {
            v.samples.extend_from_slice(samples);
            if rms(samples) > SILENCE_RMS {
                v.last_sound = Some(now);
            }
        }
    }

    /// Whether the caller's audio is wanted (a voicemail is being recorded).
    pub fn listening(&self) -> bool {
        self.voicemail.as_ref().is_some_and(|v| v.started.is_some())
    }

    /// The voicemail, once complete (or, with `force`, whatever was recorded so far:
    /// the caller hung up).
    pub fn take_voicemail(&mut self, force: bool) -> Option<Voicemail> {
        if self.voicemail.as_ref().is_some_and(|v| v.done || force) {
            return self.voicemail.take();
        }
        None
    }

    /// A key was pressed at `now`.
    pub fn key(&mut self, key: char, now: Instant) -> Option<EdgeEvent> {
        if let Some(v) = &mut self.voicemail {
            // `#` ends the message; other keys are part of it.
            v.done |= key == '#' && v.started.is_some();
            return None;
        }
        if !self.player.is_idle() && self.interruptible {
            self.player.clear();
        }
        if self.gather.is_none() && self.music.is_some() {
            // Waiting in queue: a key is a choice now (a callback offer, leaving the queue).
            return Some(EdgeEvent::Digits {
                contact: self.contact,
                digits: key.to_string(),
            });
        }
        if self.gather.is_none() {
            if self.type_ahead.len() < TYPE_AHEAD {
                self.type_ahead.push_back(key);
            }
            return None;
        }
        self.collect(key, Some(now))
    }

    fn collect(&mut self, key: char, now: Option<Instant>) -> Option<EdgeEvent> {
        let g = self.gather.as_mut()?;
        if Some(key) != g.terminator {
            g.keys.push(key);
        }
        if Some(key) == g.terminator || g.keys.chars().count() >= g.max_digits as usize {
            let digits = std::mem::take(&mut g.keys);
            self.gather = None;
            return Some(EdgeEvent::Digits {
                contact: self.contact,
                digits,
            });
        }
        if let Some(now) = now {
            g.deadline = Some(now + g.timeout);
        }
        None
    }

    /// The next 20 ms of audio to send, and whatever the passing of time decided.
    pub fn frame(&mut self, now: Instant) -> ([i16; FRAME], Option<EdgeEvent>) {
        // The silence is timed from the end of the last prompt frame, not its start.
        let prompts_done = self.player.is_idle();
        let frame = match self.player.next_frame() {
            Some(f) => f,
            None => self.music_frame(),
        };
        let mut event = None;
        if prompts_done && let Some(v) = &mut self.voicemail {
            let started = *v.started.get_or_insert(now);
            let last = *v.last_sound.get_or_insert(now);
            if now.duration_since(last) >= VOICEMAIL_SILENCE
                || now.duration_since(started) >= VOICEMAIL_MAX
            {
                v.done = true;
            }
        }
        if prompts_done && let Some(g) = &mut self.gather {
            match g.deadline {
                None => g.deadline = Some(now + g.timeout),
                Some(at) if at <= now => {
                    let keys = std::mem::take(&mut g.keys);
                    self.gather = None;
                    event = Some(if keys.is_empty() {
                        EdgeEvent::NoInput {
                            contact: self.contact,
                        }
                    } else {
                        EdgeEvent::Digits {
                            contact: self.contact,
                            digits: keys,
                        }
                    });
                }
                Some(_) => {}
            }
        }
        (frame, event)
    }

    fn music_frame(&mut self) -> [i16; FRAME] {
        let mut out = [0; FRAME];
        if let Some((clip, pos)) = &mut self.music
            && !clip.is_empty()
        {
            for s in &mut out {
                *s = clip[*pos];
                *pos = (*pos + 1) % clip.len();
            }
        }
        out
    }

    /// Whether nothing is playing, collected, recorded or pending: the passing of time
    /// changes nothing.
    pub fn quiet(&self) -> bool {
        self.player.is_idle()
            && self.gather.is_none()
            && self.voicemail.is_none()
            && !self.hangup_pending
    }

    /// Whether the call should now be hung up (asked to, and the prompts have played).
    pub fn should_hang_up(&self) -> bool {
        self.hangup_pending && self.player.is_idle() && self.voicemail.is_none()
    }
}

/// The parts of an answered call the media task needs.
pub(crate) struct CallSetup {
    pub contact: i64,
    /// Who is calling (for the agent's phone display).
    pub caller: String,
    /// The caller's leg, answered at `answered_ms`, for the contact's record.
    pub log: LegLog,
    pub answered_ms: i64,
    /// The call's requests from its legs: the agent's hold and transfer, the caller's
    /// keys sent as SIP INFO (one queue: the call task polls it at every wake-up).
    pub signals: Arc<Signals>,
    pub commands: Commands,
    pub shared: Arc<Shared>,
}

/// How the media task ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The runtime asked to hang up (or went away): send BYE.
    Hangup,
    /// The caller hung up, or the edge is shutting down.
    CallerLeft,
}

/// Runs the call's media until it ends, with the caller's line `caller` and the agent
/// leg `leg` (idle for an inbound call; answered for a callback). `gone` fires when the
/// caller hangs up (or at shutdown).
pub(crate) async fn run(
    mut setup: CallSetup,
    caller: Box<Line>,
    gone: rsipstack::platform::CancellationToken,
    mut leg: Leg,
) -> Ending {
    let mut monitor = Leg::Idle;
    let (ending, caller) = run_legs(&mut setup, caller, &gone, &mut leg, &mut monitor).await;
    Box::pin(leg.end(&setup.shared)).await;
    Box::pin(monitor.end(&setup.shared)).await;
    let mut quality = None;
    if let Some(mut caller) = caller {
        if ending == Ending::Hangup {
            caller.bye().await;
        }
        quality = caller.control.quality();
    }
    let reason = match ending {
        Ending::Hangup => "ended",
        Ending::CallerLeft => "hung_up",
    };
    setup
        .log
        .closed(&setup.shared, Some(setup.answered_ms), reason, quality);
    ending
}

/// What woke a call task.
enum Wake {
    CallerGone,
    /// A command from the runtime (`None`: it is done with the call).
    Command(Option<CallCommand>),
    Signal(Signal),
    Monitor(LegEvent),
    Leg(LegEvent),
    /// A datagram on the caller's RTP socket (in the task's buffer), or an error.
    Caller(std::io::Result<(usize, SocketAddr)>),
    /// A datagram on the caller's RTCP socket, or an error.
    CallerRtcp(std::io::Result<(usize, SocketAddr)>),
    Tick,
}

/// The call's media until it ends, and the caller's line, unless it was lost (see
/// [`relay`](crate::relay)).
///
/// Steps taken once or twice a call (ringing, answering, hanging up a leg, a prompt
/// spoken, a voicemail saved) are awaited boxed: the task keeps room for its largest
/// await for as long as the call lasts (with the legs boxed too, an inbound call's task
/// went from 17 KB to 7 KB). The caller's line is boxed for the same reason: an argument
/// moved into an `async fn` takes room twice, as the argument and as the local.
async fn run_legs(
    setup: &mut CallSetup,
    mut caller: Box<Line>,
    gone: &rsipstack::platform::CancellationToken,
    leg: &mut Leg,
    monitor: &mut Leg,
) -> (Ending, Option<Box<Line>>) {
    let contact = setup.contact;
    let shared = Arc::clone(&setup.shared);
    let mut media = CallMedia::new(contact);
    let mut events = EventReceiver::new();
    // The agent's key presses on their way to the caller.
    let mut agent_keys = EventRelay::new();
    // In-band key detection, only for a caller who sends no telephone-events.
    let mut detector: Option<DtmfDetector> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Room for datagrams, made when a socket is read here (see `room`).
    let (mut buf, mut leg_buf, mut rtcp_buf, mut monitor_buf) = Default::default();
    let mut encoded = Vec::with_capacity(FRAME);
    let mut decoded = Vec::with_capacity(FRAME);
    // What a supervised call's agent and supervisor hear, encoded (made when first mixed).
    let (mut to_agent, mut to_supervisor) = (Vec::new(), Vec::new());
    let mut first = true;
    let mut commands_open = true;
    let (signal_tx, signals) = (setup.signals.sender(), &*setup.signals);
    let mut held = false;
    // Transferred out (see `CallCommand::Forward`): the far end is no agent.
    let mut forwarded = false;
    // A supervisor's leg; while it is up, audio is mixed every 20 ms instead of relayed.
    let mut mode = MonitorMode::Listen;
    let mut mixer = Mixer::new();
    let emit = |e: Option<EdgeEvent>| {
        if let Some(e) = e {
            let _ = shared.events.send(e);
        }
    };
    // Kept across wake-ups: built once, not at every packet.
    let caller_gone = gone.cancelled();
    tokio::pin!(caller_gone);
    // Something that woke the task while its conversation was relayed, taken next.
    let mut deferred = None;
    // Whether the relay threads can take this call's conversation.
    let mut relayable = shared.relays.any();
    loop {
        let wake = if let Some(wake) = deferred.take() {
            wake
        } else if relayable
            && let Leg::Up(up) = &*leg
            && up.plain()
            && matches!(monitor, Leg::Idle)
            && !held
            && caller.order.is_empty()
            && media.quiet()
        {
            // A plain conversation: its packets go through a relay thread until something
            // needs the task.
            let Leg::Up(mut up) = std::mem::replace(leg, Leg::Idle) else {
                continue;
            };
            // The relay thread reads the sockets: the task's buffers are not needed.
            (buf, leg_buf, rtcp_buf) = Default::default();
            up.free_buffer();
            let talk = match (caller.into_std(), up.line.into_std()) {
                (Ok(caller), Ok(agent)) => Box::new(Talk {
                    caller,
                    agent,
                    recording: up.recording.take(),
                }),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(contact, "call media lost: {e}");
                    return (Ending::Hangup, None);
                }
            };
            let (back, woke) = match shared.relays.lend(talk) {
                Ok(mut lent) => {
                    let woke = tokio::select! {
                        back = lent.returned() => Err(back),
                        () = &mut caller_gone => Ok(Wake::CallerGone),
                        () = up.hung_up.as_mut() => Ok(Wake::Leg(LegEvent::Gone)),
                        command = setup.commands.next(), if commands_open => Ok(Wake::Command(command)),
                        signal = signals.recv() => Ok(Wake::Signal(signal)),
                    };
                    match woke {
                        Err(back) => (back, None),
                        Ok(wake) => (lent.recall().await, Some(wake)),
                    }
                }
                Err(talk) => {
                    relayable = false;
                    (
                        Some(Returned {
                            talk,
                            pending: None,
                        }),
                        None,
                    )
                }
            };
            let Some(Returned { talk, pending }) = back else {
                tracing::error!(contact, "call media lost: the relay thread stopped");
                return (Ending::Hangup, None);
            };
            let Talk {
                caller: c,
                agent: a,
                recording,
            } = *talk;
            up.recording = recording;
            match (c.into_tokio(), a.into_tokio()) {
                (Ok(c), Ok(a)) => {
                    caller = Box::new(c);
                    up.line = a;
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(contact, "call media lost: {e}");
                    return (Ending::Hangup, None);
                }
            }
            *leg = Leg::Up(up);
            deferred = woke;
            match pending {
                Some((Side::Caller, datagram, from)) => {
                    let buf = room(&mut buf);
                    let n = datagram.len().min(buf.len());
                    buf[..n].copy_from_slice(&datagram[..n]);
                    Wake::Caller(Ok((n, from)))
                }
                Some((Side::Agent, datagram, from)) => {
                    let leg_buf = room(&mut leg_buf);
                    let n = datagram.len().min(leg_buf.len());
                    leg_buf[..n].copy_from_slice(&datagram[..n]);
                    Wake::Leg(LegEvent::Received(n, from))
                }
                None => match deferred.take() {
                    Some(wake) => wake,
                    // Given back unasked with nothing to handle: it could not be carried.
                    None => {
                        relayable = false;
                        continue;
                    }
                },
            }
        } else {
            tokio::select! {
                () = &mut caller_gone => Wake::CallerGone,
                command = setup.commands.next(), if commands_open => Wake::Command(command),
                signal = signals.recv() => Wake::Signal(signal),
                event = monitor.next(&mut monitor_buf) => Wake::Monitor(event),
                event = leg.next(&mut leg_buf) => Wake::Leg(event),
                received = caller.recv(room(&mut buf)) => Wake::Caller(received),
                received = caller.recv_rtcp(room(&mut rtcp_buf)) => Wake::CallerRtcp(received),
                _ = tick.tick() => Wake::Tick,
            }
        };
        match wake {
            Wake::CallerGone => {
                // What a caller said before hanging up is still their message.
                if let Some(v) = media.take_voicemail(true) {
                    Box::pin(save_voicemail(&shared, contact, v)).await;
                }
                return (Ending::CallerLeft, Some(caller));
            }
            Wake::Command(command) => {
                let Some(command) = command else {
                    // The runtime is done with the call: finish the prompts, then hang up
                    // (a forwarded call goes on).
                    commands_open = false;
                    if !forwarded {
                        media.hang_up();
                    }
                    continue;
                };
                match command {
                    CallCommand::Say { text, barge_in } => {
                        match Box::pin(shared.prompts.say(&text)).await {
                            Ok(clip) => media.prompt(clip, barge_in),
                            Err(e) => tracing::warn!(contact, "prompt not spoken: {e}"),
                        }
                    }
                    CallCommand::Play { file, barge_in } => {
                        match shared.prompts.play(&file).await {
                            Ok(clip) => media.prompt(clip, barge_in),
                            Err(e) => tracing::warn!(contact, "prompt not played: {e}"),
                        }
                    }
                    CallCommand::Gather {
                        max_digits,
                        terminator,
                        timeout,
                    } => {
                        emit(media.gather(max_digits, terminator, timeout));
                    }
                    CallCommand::Music { file } => {
                        let clip = match file {
                            Some(f) => shared
                                .prompts
                                .play(&f)
                                .await
                                .map_err(|e| {
                                    tracing::warn!(contact, "music not played: {e}");
                                })
                                .ok(),
                            None => None,
                        };
                        media.music(Some(clip.unwrap_or_else(default_music)));
                    }
                    CallCommand::StopMusic => media.music(None),
                    CallCommand::Voicemail {
                        mailbox,
                        transcribe,
                    } => {
                        media.voicemail(mailbox, transcribe);
                    }
                    CallCommand::Hangup => media.hang_up(),
                    CallCommand::Forward { number } => {
                        forwarded = true;
                        let target = format!("sip:{number}@{}", shared.trunk().unwrap_or_default());
                        match Box::pin(leg::invite(
                            &shared,
                            contact,
                            (&number, LegKind::External),
                            &target,
                            &setup.caller,
                            false,
                        ))
                        .await
                        {
                            Ok(ringing) => {
                                Box::pin(leg.ring(vec![ringing], &shared)).await;
                                media.music(Some(ringback()));
                            }
                            Err(reason) => {
                                tracing::info!(contact, %number, "not forwarded: {reason}");
                                return (Ending::Hangup, Some(caller));
                            }
                        }
                    }
                    CallCommand::Ring { agent, record } => {
                        // A new offer to the same agent replaces the old one.
                        Box::pin(leg.release(&agent, &shared)).await;
                        match Box::pin(leg::ring(
                            &shared,
                            contact,
                            (&agent, LegKind::Agent),
                            &setup.caller,
                            record,
                        ))
                        .await
                        {
                            Ok(phones) => Box::pin(leg.ring(phones, &shared)).await,
                            Err(reason) => emit(Some(EdgeEvent::AgentFailed {
                                contact,
                                agent,
                                reason,
                            })),
                        }
                    }
                    CallCommand::Release { agent } => {
                        Box::pin(leg.release(&agent, &shared)).await;
                    }
                    // The same as the agent's phone asking for it.
                    CallCommand::Hold { held } => {
                        signal_tx.send(Signal::Hold(held));
                    }
                    CallCommand::TransferRefused { agent } => {
                        if let Leg::Up(up) = leg
                            && up.agent == agent
                        {
                            up.transfer_refused().await;
                        }
                    }
                    CallCommand::Monitor { user, mode: wanted } => {
                        // One supervisor at a time: another's request is refused.
                        if monitor.agent().is_some_and(|u| u != user) {
                            emit(Some(EdgeEvent::Monitoring {
                                contact,
                                user,
                                mode: None,
                            }));
                            continue;
                        }
                        mode = wanted;
                        match &*monitor {
                            Leg::Up(_) => emit(Some(EdgeEvent::Monitoring {
                                contact,
                                user,
                                mode: Some(mode),
                            })),
                            Leg::Ringing(_) => {}
                            Leg::Idle => match Box::pin(leg::ring(
                                &shared,
                                contact,
                                (&user, LegKind::Supervisor),
                                &setup.caller,
                                false,
                            ))
                            .await
                            {
                                Ok(phones) => *monitor = Leg::Ringing(phones),
                                Err(reason) => {
                                    tracing::info!(contact, %user, "monitor not started: {reason}");
                                    emit(Some(EdgeEvent::Monitoring {
                                        contact,
                                        user,
                                        mode: None,
                                    }));
                                }
                            },
                        }
                    }
                    CallCommand::StopMonitor { user } => {
                        if monitor.agent() == Some(user.as_str()) {
                            Box::pin(std::mem::replace(monitor, Leg::Idle).end(&shared)).await;
                            emit(Some(EdgeEvent::Monitoring {
                                contact,
                                user,
                                mode: None,
                            }));
                        }
                    }
                }
            }
            Wake::Signal(signal) => match signal {
                Signal::Hold(hold) => {
                    if hold != held
                        && let Leg::Up(up) = leg
                    {
                        held = hold;
                        emit(Some(EdgeEvent::Held {
                            contact,
                            agent: up.agent.clone(),
                            held,
                        }));
                    }
                }
                Signal::Transfer(to) => {
                    if let Leg::Up(up) = leg {
                        up.refer_pending = true;
                        emit(Some(EdgeEvent::Transfer {
                            contact,
                            agent: up.agent.clone(),
                            to,
                        }));
                    }
                }
                // A key sent as SIP INFO counts in the IVR like any other, or is passed on
                // to the agent's phone as a telephone-event.
                Signal::Key(key) => match leg {
                    Leg::Up(up) => up.press(key),
                    _ => emit(media.key(key, Instant::now())),
                },
            },
            Wake::Monitor(event) => match (event, std::mem::replace(monitor, Leg::Idle)) {
                (LegEvent::Answered(i, result), ringing) => {
                    *monitor = ringing;
                    // The supervisor's own hold requests mean nothing to the call.
                    let ignored = SignalSender::nowhere();
                    match Box::pin(monitor.answer(i, result, &shared, ignored)).await {
                        Some(Outcome::Answered(user)) => {
                            emit(Some(EdgeEvent::Monitoring {
                                contact,
                                user,
                                mode: Some(mode),
                            }));
                        }
                        Some(Outcome::Failed(user, reason)) => {
                            tracing::info!(contact, %user, "monitor not answered: {reason}");
                            emit(Some(EdgeEvent::Monitoring {
                                contact,
                                user,
                                mode: None,
                            }));
                        }
                        None => {}
                    }
                }
                (LegEvent::Received(n, from), Leg::Up(mut up)) => {
                    if let Ok(packet) = rtp::parse(&monitor_buf[..n])
                        && up.heard(&packet, from)
                        && Codec::from_payload_type(packet.payload_type) == Some(up.line.codec)
                    {
                        decoded.clear();
                        up.line.codec.decode(packet.payload, &mut decoded);
                        mixer.push(Party::Supervisor, &decoded);
                    }
                    *monitor = Leg::Up(up);
                }
                (LegEvent::Gone, Leg::Up(up)) => {
                    let user = up.agent.clone();
                    up.closed(&shared, "hung_up");
                    emit(Some(EdgeEvent::Monitoring {
                        contact,
                        user,
                        mode: None,
                    }));
                }
                (_, other) => *monitor = other,
            },
            Wake::Leg(event) => match event {
                // The conversation's packets are handled in place (the leg is not moved).
                LegEvent::Received(n, from) => {
                    let Leg::Up(up) = &mut *leg else { continue };
                    // In order, the datagram is handled where it is; otherwise it waits its
                    // turn in the reorder buffer.
                    let mut fresh = None;
                    if let Ok(packet) = rtp::parse(&leg_buf[..n])
                        && up.heard(&packet, from)
                    {
                        if up.line.order.pass(packet.ssrc, packet.sequence) {
                            fresh = Some(n);
                        } else {
                            up.line
                                .order
                                .push(packet.ssrc, packet.sequence, leg_buf[..n].to_vec());
                        }
                    }
                    loop {
                        let waited;
                        let bytes: &[u8] = match fresh.take() {
                            Some(n) => &leg_buf[..n],
                            None => match up.line.order.pop() {
                                Some(b) => {
                                    waited = b;
                                    &waited
                                }
                                None => break,
                            },
                        };
                        let Ok(packet) = rtp::parse(bytes) else {
                            continue;
                        };
                        if Some(packet.payload_type) == up.line.telephone_event
                            && let Some(pt) = caller.telephone_event
                            && !held
                        {
                            // A key pressed on the agent's phone, passed on to the caller.
                            let relayed = agent_keys.relay(
                                packet.timestamp,
                                packet.payload,
                                packet.marker,
                                pt,
                                &mut caller.sender,
                            );
                            if let Ok(out) = relayed {
                                let _ = caller.send(&out).await;
                            }
                        } else if Codec::from_payload_type(packet.payload_type)
                            == Some(up.line.codec)
                        {
                            up.record(Side::Agent, &packet, up.line.codec);
                            if matches!(monitor, Leg::Up(_)) {
                                decoded.clear();
                                up.line.codec.decode(packet.payload, &mut decoded);
                                mixer.push(Party::Agent, &decoded);
                            } else if !held {
                                let payload =
                                    transcode(packet.payload, up.line.codec, caller.codec);
                                let out =
                                    caller.sender.packet(&payload, payload.len() as u32, false);
                                let _ = caller.send(&out).await;
                            }
                        }
                    }
                }
                event => match (event, std::mem::replace(leg, Leg::Idle)) {
                    (LegEvent::Answered(i, result), ringing) => {
                        *leg = ringing;
                        match Box::pin(leg.answer(i, result, &shared, signal_tx.clone())).await {
                            // A forwarded call's far end: nobody to tell but the log.
                            Some(Outcome::Failed(number, reason)) if forwarded => {
                                tracing::info!(contact, %number, "forwarded call not answered: {reason}");
                                return (Ending::Hangup, Some(caller));
                            }
                            Some(Outcome::Answered(_)) if forwarded => media.stop_prompts(),
                            Some(Outcome::Answered(agent)) => {
                                // The conversation replaces prompts; music resumes if the agent
                                // leg ends while the caller still waits.
                                media.stop_prompts();
                                emit(Some(EdgeEvent::AgentAnswered { contact, agent }));
                            }
                            Some(Outcome::Failed(agent, reason)) => {
                                emit(Some(EdgeEvent::AgentFailed {
                                    contact,
                                    agent,
                                    reason,
                                }));
                            }
                            None => {}
                        }
                    }
                    (LegEvent::Gone, Leg::Up(up)) => {
                        held = false;
                        let agent = up.agent.clone();
                        up.closed(&shared, "hung_up");
                        if forwarded {
                            return (Ending::Hangup, Some(caller));
                        }
                        emit(Some(EdgeEvent::AgentHungUp { contact, agent }));
                    }
                    (_, other) => *leg = other,
                },
            },
            Wake::Caller(received) => {
                let Ok((n, from)) = received else { continue };
                let Ok(packet) = rtp::parse(&buf[..n]) else {
                    continue;
                };
                if !caller.accept(from) {
                    continue;
                }
                let timed = Some(packet.payload_type) != caller.telephone_event;
                caller.control.received(&packet, timed);
                let mut fresh = None;
                if caller.order.pass(packet.ssrc, packet.sequence) {
                    fresh = Some(n);
                } else {
                    caller
                        .order
                        .push(packet.ssrc, packet.sequence, buf[..n].to_vec());
                }
                loop {
                    let waited;
                    let bytes: &[u8] = match fresh.take() {
                        Some(n) => &buf[..n],
                        None => match caller.order.pop() {
                            Some(b) => {
                                waited = b;
                                &waited
                            }
                            None => break,
                        },
                    };
                    let Ok(packet) = rtp::parse(bytes) else {
                        continue;
                    };
                    if let Leg::Up(up) = leg {
                        if Some(packet.payload_type) == caller.telephone_event {
                            up.relay_event(&packet).await;
                        } else if let Some(codec) = Codec::from_payload_type(packet.payload_type) {
                            up.record(Side::Caller, &packet, codec);
                            if matches!(monitor, Leg::Up(_)) {
                                decoded.clear();
                                codec.decode(packet.payload, &mut decoded);
                                mixer.push(Party::Caller, &decoded);
                            } else {
                                let payload = transcode(packet.payload, codec, up.line.codec);
                                up.send(&payload, payload.len() as u32).await;
                            }
                        }
                        continue;
                    }
                    let now = Instant::now();
                    if media.listening()
                        && let Some(codec) = Codec::from_payload_type(packet.payload_type)
                    {
                        decoded.clear();
                        codec.decode(packet.payload, &mut decoded);
                        media.heard(&decoded, now);
                    }
                    if Some(packet.payload_type) == caller.telephone_event {
                        let press = events.handle(packet.ssrc, packet.timestamp, packet.payload);
                        if let Some(key) = press.ok().flatten().and_then(|p| p.digit()) {
                            emit(media.key(key, now));
                        }
                    } else if caller.telephone_event.is_none()
                        && let Some(codec) = Codec::from_payload_type(packet.payload_type)
                    {
                        decoded.clear();
                        codec.decode(packet.payload, &mut decoded);
                        for key in detector
                            .get_or_insert_with(DtmfDetector::new)
                            .feed(&decoded)
                        {
                            emit(media.key(key, now));
                        }
                    }
                }
            }
            Wake::CallerRtcp(received) => {
                if let Ok((n, from)) = received {
                    caller.control.handle(&rtcp_buf[..n], from);
                }
            }
            Wake::Tick => {
                let now = std::time::Instant::now();
                caller.tick(now).await;
                for up in [&mut *leg, &mut *monitor]
                    .into_iter()
                    .filter_map(Leg::up_mut)
                {
                    up.line.tick(now).await;
                }
                if let Leg::Up(up) = leg {
                    up.send_keys().await;
                }
                // Every frame is encoded in this block, before anything is sent: the task
                // keeps room for what lives across an await for as long as the call lasts,
                // and a frame is 320 bytes.
                let to_caller = {
                    let (frame, event) = media.frame(Instant::now());
                    emit(event);
                    // Talking: the agent's audio is relayed instead, unless the caller is
                    // on hold, who hears music.
                    let mut frame = if held { media.hold_frame() } else { frame };
                    if let (Leg::Up(agent), Leg::Up(supervisor)) = (&*leg, &*monitor) {
                        let mixed = mixer.mix(mode);
                        if !held {
                            frame = mixed.to_caller;
                        }
                        to_agent.clear();
                        agent.line.codec.encode(&mixed.to_agent, &mut to_agent);
                        to_supervisor.clear();
                        let codec = &supervisor.line.codec;
                        codec.encode(&mixed.to_supervisor, &mut to_supervisor);
                    }
                    let to_caller =
                        held || !matches!(leg, Leg::Up(_)) || matches!(monitor, Leg::Up(_));
                    if to_caller {
                        encoded.clear();
                        caller.codec.encode(&frame, &mut encoded);
                    }
                    to_caller
                };
                if let (Leg::Up(agent), Leg::Up(supervisor)) = (&mut *leg, &mut *monitor) {
                    agent.send(&to_agent, FRAME as u32).await;
                    supervisor.send(&to_supervisor, FRAME as u32).await;
                }
                if to_caller {
                    let packet = caller.sender.packet(&encoded, FRAME as u32, first);
                    first = false;
                    let _ = caller.send(&packet).await;
                }
                if let Some(v) = media.take_voicemail(false) {
                    Box::pin(save_voicemail(&shared, contact, v)).await;
                }
                if media.should_hang_up() {
                    return (Ending::Hangup, Some(caller));
                }
            }
        }
    }
}

/// Writes a voicemail to disk (synced before it is reported) and reports it.
async fn save_voicemail(shared: &Shared, contact: i64, v: Voicemail) {
    use tokio::io::AsyncWriteExt;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let file = format!("{contact}-{stamp}.wav");
    let path = shared.voicemail_dir.join(&file);
    let written = async {
        let bytes = wav_bytes(&v.samples).map_err(std::io::Error::other)?;
        tokio::fs::create_dir_all(&shared.voicemail_dir).await?;
        let mut f = tokio::fs::File::create(&path).await?;
        f.write_all(&bytes).await?;
        f.sync_all().await
    };
    if let Err(e) = written.await {
        tracing::error!(contact, "voicemail not saved: {e}");
        return;
    }
    let _ = shared.events.send(EdgeEvent::Voicemail {
        contact,
        mailbox: v.mailbox,
        file,
        transcribe: v.transcribe,
        duration_ms: v.samples.len() as u64 / 8,
    });
}

/// A new SSRC: different per stream and per process run.
pub(crate) fn new_ssrc() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    COUNT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(2_654_435_761)
        ^ t
}

/// Ringback as callers expect it: 425 Hz, one second on, four off (ITU-T E.180's common
/// cadence). Synthesised once, shared by every call.
pub(crate) fn ringback() -> Clip {
    use switchboard_media::audio::{silence, tone};
    static CLIP: std::sync::LazyLock<Clip> = std::sync::LazyLock::new(|| {
        let mut clip = tone(425.0, 1000, 4000);
        clip.extend(silence(4000));
        clip.into()
    });
    CLIP.clone()
}

/// The built-in music on hold: a soft two-tone chime every two seconds. Synthesised
/// once, shared by every call.
fn default_music() -> Clip {
    use switchboard_media::audio::{silence, tone};
    static CLIP: std::sync::LazyLock<Clip> = std::sync::LazyLock::new(|| {
        let mut clip = tone(523.25, 300, 3000);
        clip.extend(tone(659.25, 300, 3000));
        clip.extend(silence(1400));
        clip.into()
    });
    CLIP.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(ms: usize) -> Clip {
        vec![1000; ms * 8].into()
    }

    fn digits(e: Option<EdgeEvent>) -> Option<String> {
        match e {
            Some(EdgeEvent::Digits { digits, .. }) => Some(digits),
            _ => None,
        }
    }

    #[test]
    fn keys_collect_until_terminator_or_max() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        assert!(m.gather(8, Some('#'), Duration::from_secs(5)).is_none());
        for k in "1234".chars() {
            assert!(m.key(k, t).is_none());
        }
        assert_eq!(digits(m.key('#', t)), Some("1234".into()));
        assert!(m.gather(2, None, Duration::from_secs(5)).is_none());
        assert!(m.key('7', t).is_none());
        assert_eq!(digits(m.key('8', t)), Some("78".into()));
    }

    #[test]
    fn keys_typed_during_prompts_count_and_cut_them_short() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        m.prompt(clip(2000), true);
        assert!(m.key('3', t).is_none());
        assert!(m.player_idle(), "a barge-in prompt stops at a key");
        assert_eq!(
            digits(m.gather(1, None, Duration::from_secs(5))),
            Some("3".into())
        );
        // A prompt without barge-in plays on.
        m.prompt(clip(2000), false);
        assert!(m.key('4', t).is_none());
        assert!(!m.player_idle());
    }

    #[test]
    fn silence_counts_only_after_the_prompts() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        m.prompt(clip(100), false);
        m.gather(1, None, Duration::from_secs(5));
        // The prompt plays for 100 ms (5 frames); the timeout starts after it.
        for i in 0..5 {
            assert!(m.frame(t + Duration::from_millis(20 * i)).1.is_none());
        }
        let idle = t + Duration::from_millis(100);
        assert!(m.frame(idle).1.is_none());
        assert!(m.frame(idle + Duration::from_millis(4999)).1.is_none());
        assert!(matches!(
            m.frame(idle + Duration::from_secs(5)).1,
            Some(EdgeEvent::NoInput { contact: 1 })
        ));
    }

    #[test]
    fn a_pause_after_some_keys_sends_what_was_entered() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        m.gather(8, Some('#'), Duration::from_secs(3));
        m.key('4', t);
        m.key('2', t);
        assert!(m.frame(t + Duration::from_secs(2)).1.is_none());
        assert_eq!(
            digits(m.frame(t + Duration::from_secs(3)).1),
            Some("42".into())
        );
    }

    #[test]
    fn keys_pressed_while_waiting_in_queue_go_at_once() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        m.music(Some(vec![5; 100].into()));
        assert_eq!(digits(m.key('1', t)), Some("1".into()));
    }

    #[test]
    fn music_fills_the_gaps_and_hangup_waits_for_prompts() {
        let t = Instant::now();
        let mut m = CallMedia::new(1);
        m.music(Some(vec![5; 100].into()));
        assert_eq!(m.frame(t).0, [5; FRAME]);
        m.prompt(clip(40), false);
        m.hang_up();
        assert!(!m.should_hang_up());
        assert_eq!(m.frame(t).0, [1000; FRAME]);
        m.frame(t);
        assert!(m.should_hang_up());
    }

    impl CallMedia {
        fn player_idle(&self) -> bool {
            self.player.is_idle()
        }
    }
}
