//! The voice edge: SIP (UDP and TCP, by the `rsipstack` crate) and RTP for the runtime.
//!
//! A caller's INVITE becomes an [`EdgeEvent::Incoming`]; the runtime answers with the
//! contact it recorded (or a refusal with a SIP status) and a channel of
//! [`CallCommand`]s: prompts to speak or play, key presses to collect, music while the
//! caller waits, hang up. The edge answers the call, plays the prompts paced at 20 ms,
//! hears key presses (RFC 4733 telephone-events, or in-band tones), and reports them,
//! silence after a prompt, and the caller hanging up as further [`EdgeEvent`]s.
//!
//! Architecture invariant: only this crate knows SIP; the runtime sees calls as contacts,
//! commands and events. Every call's task owns its RTP socket and ends with the call, so
//! no port, timer or task outlives it; a relay thread (see `relay`) only borrows a plain
//! conversation's sockets, and the task takes them back before the call ends.

pub mod call;
mod invites;
mod kernel;
mod leg;
mod line;
pub mod mix;
mod outbound;
pub mod prompts;
pub mod registrar;
mod relay;
mod rtcp;
pub mod sdp;
mod sip;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;

pub use sip::{Voice, start};
pub use switchboard_media::rtcp::{PeerReport, Quality};

/// How the voice edge is set up.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Where SIP listens, on UDP and TCP (port 0: any free port).
    pub sip: SocketAddr,
    /// The address written into SDP for RTP (default: the address SIP listens on; for
    /// 0.0.0.0, the host's first non-loopback IPv4 address).
    pub media_ip: Option<IpAddr>,
    /// Where the flows' audio files are.
    pub audio_dir: PathBuf,
    /// Where spoken prompts are cached.
    pub cache_dir: PathBuf,
    /// Where call recordings are written.
    pub recordings_dir: PathBuf,
    /// Where voicemails are written.
    pub voicemail_dir: PathBuf,
    /// The espeak-ng voice for spoken prompts.
    pub voice: String,
    /// Most calls at once; more are refused with 503.
    pub max_calls: usize,
    /// Threads that relay plain conversations (default: one per core; 0: each call's
    /// task relays its own).
    pub relay_threads: Option<usize>,
    /// Whether they hand plain conversations to the kernel media path, where it can be
    /// loaded (it needs root, or `CAP_BPF` and `CAP_NET_ADMIN`).
    pub kernel_media: bool,
    /// The digest realm phones register in.
    pub realm: String,
    /// Where calls to customers' numbers go: `host:port` of a SIP trunk or gateway
    /// (`sip:NUMBER@TRUNK`); without one, Switchboard does not dial out.
    pub trunk: Option<String>,
    /// The digest user name and password Switchboard answers the trunk's challenges
    /// with (`401`/`407` to its INVITEs), if the trunk asks.
    pub trunk_auth: Option<(String, String)>,
}

/// What the runtime may ask of the running edge: outbound calls (agent-first callbacks)
/// and its load. It does not keep the edge alive: once the edge has shut down, dialing
/// fails and the load is zero.
#[derive(Clone)]
pub struct VoiceHandle {
    shared: std::sync::Weak<sip::Shared>,
}

impl VoiceHandle {
    /// Calls in progress (answered or being set up, callbacks included).
    pub fn calls(&self) -> u64 {
        self.shared.upgrade().map_or(0, |s| s.calls())
    }

    /// Answered legs with a dialog (callers, agents' and supervisors' phones, customers).
    pub fn legs(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.legs())
    }

    /// SIP dialogs kept, and callers' INVITE transactions their dialogs still answer
    /// through (both come and go with calls; either left over is a leak).
    pub fn dialogs(&self) -> (usize, usize) {
        self.shared.upgrade().map_or((0, 0), |s| s.dialogs())
    }

    /// Whether the kernel media path carries plain conversations, and the audio packets the relay threads passed on themselves so far.
    pub fn media(&self) -> (bool, u64) {
        self.shared.upgrade().map_or((false, 0), |s| s.media())
    }

    /// Starts the call of contact `contact` to `number`, agent first: the agent's phone
    /// rings on [`CallCommand::Ring`] (as for an inbound call); once the agent answers
    /// ([`EdgeEvent::AgentAnswered`]), `number` is dialed through the trunk while the agent
    /// hears ringback, and the two are bridged ([`EdgeEvent::CustomerUnreachable`] if the
    /// number does not answer; [`EdgeEvent::HungUp`] when the customer hangs up).
    pub fn dial(&self, contact: i64, number: &str, commands: Commands) -> Result<(), String> {
        let shared = self.shared.upgrade().ok_or("the voice edge has stopped")?;
        if shared.trunk().is_none() {
            return Err("no trunk is configured".into());
        }
        let runtime = shared.runtime.clone();
        runtime.spawn(outbound::run(shared, contact, number.to_string(), commands));
        Ok(())
    }
}

/// Something the edge tells the runtime.
#[derive(Debug)]
pub enum EdgeEvent {
    /// A new call: answer with [`Answer`].
    Incoming {
        /// The caller (user part of `From`, e.g. `+441632960001`).
        from: String,
        /// What was dialed (user part of the request URI, e.g. `support` or `1000`).
        to: String,
        /// SIP Call-ID, for the log.
        call_id: String,
        /// Where to send the answer.
        reply: oneshot::Sender<Answer>,
    },
    /// The caller entered `digits` at a [`CallCommand::Gather`].
    Digits {
        /// Contact id.
        contact: i64,
        /// The keys, without the terminator.
        digits: String,
    },
    /// Nothing was entered at a [`CallCommand::Gather`] before its timeout.
    NoInput {
        /// Contact id.
        contact: i64,
    },
    /// The caller hung up (BYE, CANCEL, or the call failed).
    HungUp {
        /// Contact id.
        contact: i64,
    },
    /// A phone registers as `agent`: answer with the agent's (realm, HA1), if it has a
    /// phone account.
    Credentials {
        /// The agent login (user part of the registration).
        agent: String,
        /// Where to send the answer.
        reply: oneshot::Sender<Option<(String, String)>>,
    },
    /// `agent`'s registered phones changed.
    Phones {
        /// The agent login.
        agent: String,
        /// Their phones' contact URIs now registered.
        contacts: Vec<String>,
    },
    /// The agent's phone answered the call of `contact`.
    AgentAnswered {
        /// Contact id.
        contact: i64,
        /// Agent login.
        agent: String,
    },
    /// The agent's phone did not answer (busy, declined, unreachable, not registered).
    AgentFailed {
        /// Contact id.
        contact: i64,
        /// Agent login.
        agent: String,
        /// Why, for the log.
        reason: String,
    },
    /// The agent put the caller on hold (`held`), or took them off hold.
    Held {
        /// Contact id.
        contact: i64,
        /// Agent login.
        agent: String,
        /// On hold now.
        held: bool,
    },
    /// A voicemail was recorded and is on disk (synced).
    Voicemail {
        /// Contact id of the call.
        contact: i64,
        /// The mailbox (a queue).
        mailbox: String,
        /// The file, relative to the voicemail directory.
        file: String,
        /// A transcription is wanted.
        transcribe: bool,
        /// Its length in milliseconds.
        duration_ms: u64,
    },
    /// A supervisor monitors the call (answered, or changed mode), or stopped (`mode`
    /// is `None`: they hung up, or their phone did not answer).
    Monitoring {
        /// Contact id.
        contact: i64,
        /// The supervisor's phone user.
        user: String,
        /// The mode now.
        mode: Option<MonitorMode>,
    },
    /// The agent asked (SIP REFER, a blind transfer) to transfer the call to `to` (the
    /// user part of the Refer-To URI: a queue, an agent or a number). The runtime answers
    /// with [`CallCommand::Release`] of the agent when it has done so.
    Transfer {
        /// Contact id.
        contact: i64,
        /// The agent transferring.
        agent: String,
        /// Where to.
        to: String,
    },
    /// A conversation's recording is complete.
    Recorded {
        /// Contact id.
        contact: i64,
        /// The file, relative to the recordings directory.
        file: String,
    },
    /// The customer's number did not answer an agent-first callback.
    CustomerUnreachable {
        /// Contact id.
        contact: i64,
        /// Why (status, timeout).
        reason: String,
    },
    /// The agent hung up.
    AgentHungUp {
        /// Contact id.
        contact: i64,
        /// Agent login.
        agent: String,
    },
    /// A leg of a call is over (answered or not): for the contact's record.
    LegClosed(LegRecord),
}

/// Which side of a call a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegKind {
    /// The caller, or the customer a callback dialed.
    Customer,
    /// An agent's phone.
    Agent,
    /// A supervisor's phone, monitoring.
    Supervisor,
    /// A number outside, dialed through the trunk for a transfer.
    External,
}

impl LegKind {
    /// Its name in the contact's record.
    pub fn name(self) -> &'static str {
        match self {
            LegKind::Customer => "customer",
            LegKind::Agent => "agent",
            LegKind::Supervisor => "supervisor",
            LegKind::External => "external",
        }
    }
}

/// One leg of a call, closed.
#[derive(Debug, Clone, PartialEq)]
pub struct LegRecord {
    /// Contact id.
    pub contact: i64,
    /// Which side.
    pub kind: LegKind,
    /// Who: the customer's number, the agent's or supervisor's login, or the number
    /// dialed.
    pub party: String,
    /// When it started: the INVITE received or sent (ms since the epoch).
    pub started_ms: i64,
    /// When it was answered, if it was.
    pub answered_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: i64,
    /// Why: `hung_up` (its party hung up), `ended` (Switchboard ended it), `cancelled`
    /// (it rang and was not answered: another phone took the call, the offer moved on, or
    /// the caller left), or why it failed (`the phone answered 486 Busy Here`, …).
    pub reason: String,
    /// How its audio went (answered legs).
    pub quality: Option<Quality>,
}

/// The runtime's answer to [`EdgeEvent::Incoming`].
#[derive(Debug)]
pub enum Answer {
    /// Take the call as `contact`, driven by `commands`.
    Accept {
        /// The recorded contact.
        contact: i64,
        /// What to do on the call, in order.
        commands: Commands,
    },
    /// Refuse the call with a SIP status (e.g. 404, 480, 503) and a reason phrase.
    Reject {
        /// SIP status code.
        code: u16,
        /// Why.
        reason: String,
    },
}

/// How a supervisor takes part in a call (see [`mix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// Hears both sides; nobody hears them.
    Listen,
    /// Hears both sides; only the agent hears them.
    Whisper,
    /// A three-way conversation.
    Barge,
}

impl MonitorMode {
    /// `listen`, `whisper` or `barge`.
    pub fn parse(s: &str) -> Option<MonitorMode> {
        match s {
            "listen" => Some(MonitorMode::Listen),
            "whisper" => Some(MonitorMode::Whisper),
            "barge" => Some(MonitorMode::Barge),
            _ => None,
        }
    }

    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }
}

/// A call's end of its [`CallCommand`]s, in order; it ends once every [`CommandSender`]
/// is dropped (the contact center is done with the call).
pub type Commands = futures_channel::mpsc::UnboundedReceiver<CallCommand>;

/// The runtime's end of a call's [`Commands`].
pub type CommandSender = futures_channel::mpsc::UnboundedSender<CallCommand>;

/// A new call's command channel. futures' unbounded channel allocates a node per command
/// sent, so an idle one takes about a hundred bytes; tokio's takes a block of 32 slots
/// (0.9 KiB) when made, for the whole life of the call.
pub fn command_channel() -> (CommandSender, Commands) {
    futures_channel::mpsc::unbounded()
}

/// Something the runtime wants done on a call, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum CallCommand {
    /// Speak `text`.
    Say {
        /// The text.
        text: String,
        /// A key press stops it (and the prompts queued after it).
        barge_in: bool,
    },
    /// Play an audio file (relative to the flows' directory).
    Play {
        /// The file.
        file: String,
        /// A key press stops it.
        barge_in: bool,
    },
    /// Collect keys once the prompts have played: report them as
    /// [`EdgeEvent::Digits`] after `max_digits` keys, the terminator, or `timeout` of
    /// silence after at least one key; [`EdgeEvent::NoInput`] if none came.
    Gather {
        /// Most keys.
        max_digits: u32,
        /// The key that ends the input early.
        terminator: Option<char>,
        /// How long to wait after the prompts, and between keys.
        timeout: Duration,
    },
    /// Music on hold (a file, or the built-in tone pattern) between prompts until the
    /// next [`CallCommand::StopMusic`].
    Music {
        /// The file, relative to the flows' directory.
        file: Option<String>,
    },
    /// No more music.
    StopMusic,
    /// Ring `agent`'s phones (the routing engine offered them the call); the first to
    /// answer is bridged to the caller.
    Ring {
        /// Agent login.
        agent: String,
        /// Record the conversation (two-channel WAV: caller left, agent right).
        record: bool,
    },
    /// Stop ringing `agent`'s phone (the offer ended unanswered), or hang up their leg
    /// (they transferred the call, or answered too late).
    Release {
        /// Agent login.
        agent: String,
    },
    /// After the prompts: a beep, then record the caller until `#`, five seconds of
    /// silence or two minutes; reported as [`EdgeEvent::Voicemail`] (also when the
    /// caller hangs up while recording).
    Voicemail {
        /// The mailbox (a queue) that receives it.
        mailbox: String,
        /// A transcription is wanted.
        transcribe: bool,
    },
    /// Hang up once the prompts queued before have played (and a voicemail is taken).
    Hangup,
    /// Connect the caller to `number` through the trunk (a transfer out of the contact
    /// center): the caller hears ringback, then talks with whoever answers. The call is
    /// the contact center's no more: it goes on without commands until either side
    /// hangs up, and ends if the number cannot be reached.
    Forward {
        /// The number dialed (`sip:NUMBER@TRUNK`).
        number: String,
    },
    /// A supervisor monitors the conversation from their phone (registered as `user`),
    /// in `mode`; when already monitoring, the mode changes.
    Monitor {
        /// The supervisor's phone user.
        user: String,
        /// Listen, whisper or barge.
        mode: MonitorMode,
    },
    /// Supervisor `user` stops monitoring.
    StopMonitor {
        /// The supervisor's phone user.
        user: String,
    },
    /// The agent put the caller on hold from the desktop, or took them off it: as when
    /// their phone does it, the caller hears music and neither hears the other.
    Hold {
        /// On hold (true) or back in conversation.
        held: bool,
    },
    /// The transfer `agent` asked for could not be done (unknown target): their phone
    /// is told, and the conversation goes on.
    TransferRefused {
        /// The agent.
        agent: String,
    },
}
