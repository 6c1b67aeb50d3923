//! Plain conversations relayed by threads of their own instead of by their call tasks.
//!
//! A call task wakes for every packet it relays: the runtime's reactor, the task's
//! `select!` and its waits cost several times the two system calls that move the packet.
//! While a conversation is plain (both parties talking; nothing to play, mix, hold back or
//! time), its task lends both [`Line`]s to a relay thread, one per core, with the
//! conversation's recording if it is recorded, and waits only for what would change that:
//! a command, a signal, either side hanging up.
//!
//! A relay thread waits on one level-triggered epoll set for every socket it carries,
//! reads one datagram per ready socket, and passes each packet on exactly as the task
//! would: latched, counted for RTCP, put in order (a packet after a hole waits in the
//! line's reorder buffer, as in the task), recorded as the task records it, transcoded
//! and re-stamped in the other party's stream. It sends the RTCP reports as they fall
//! due. It gives the lines back when the task asks, or by itself with a packet it leaves
//! to the task (a telephone-event, another payload type), so the task's code stays the
//! only place where anything but audio is handled. Audio out of order stays here:
//! packets are lost often under load, and handing each one to the task took all four
//! sockets out of and back into both threads' polls.
//!
//! Where the kernel media path is loaded (see [`crate::kernel`]), a relay thread hands
//! each direction of a plain conversation without transcoding over IPv4 to the kernel
//! once it has passed one of the party's packets itself: from that packet's numbers it
//! knows how the party's stream maps onto the other line's. If the conversation is
//! recorded, the kernel copies the audio it passes on into the thread's ring, which the
//! thread drains into the recording. Any packet of that direction that still reaches the
//! thread takes the direction back first (a key press, a new stream, a packet already
//! queued), and so does giving the lines back; what the kernel passed on is then counted
//! in both lines' RTCP, the party's reorder buffer and the other line's stream, as if the
//! thread had passed it.
//!
//! Architecture invariant: a relay thread never ends a call and never keeps a line: every
//! line lent goes back to its task (or, if the task is gone, is closed), and only the task
//! ends the call.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
use switchboard_media::audio::Side;
use switchboard_media::g711::{Codec, transcode};
use switchboard_media::rtp;
use tokio::sync::oneshot;

use crate::kernel::{BARREN, KernelPath, MAX_RECORDED, Progress, Ring, Route};
use crate::leg::Recording;
use crate::line::Line;

/// How often a relay thread looks for RTCP reports due (each stream's is every 5 s).
const TICK: Duration = Duration::from_millis(100);
/// The epoll token of a thread's wake-up eventfd (sockets' tokens are slot × 4 + socket).
const WAKE: u64 = u64::MAX;
/// The epoll token of a thread's ring (see [`Ring`]).
const RING: u64 = u64::MAX - 1;
/// Readiness events taken per wait.
const EVENTS: usize = 1024;

/// A conversation's two lines, lent to a relay thread, and its recording if it is
/// recorded (both parties' audio is written to it as it is passed on).
pub(crate) struct Talk {
    pub caller: Line<UdpSocket>,
    pub agent: Line<UdpSocket>,
    pub recording: Option<Recording>,
}

/// A conversation given back, with the RTP datagram (and its source and party) the relay
/// left to the task, if that is why.
pub(crate) struct Returned {
    pub talk: Box<Talk>,
    pub pending: Option<(Side, Vec<u8>, SocketAddr)>,
}

/// What a call task asks of a relay thread.
enum Order {
    /// Carry the conversation `id` until asked to give it back.
    Take(u64, Box<Talk>, oneshot::Sender<Returned>),
    /// Give conversation `id` back (if it has not been already).
    Give(u64),
}

/// A relay thread, seen from the call tasks.
struct Thread {
    orders: mpsc::Sender<Order>,
    wake: Arc<OwnedFd>,
    /// Audio packets the thread passed on itself (its own counter: the threads share no
    /// cache line per packet).
    relayed: Arc<AtomicU64>,
}

impl Thread {
    /// Sends `order`; the thread takes it at its next wake-up, which this causes.
    fn send(&self, order: Order) -> Result<(), Order> {
        self.orders.send(order).map_err(|e| e.0)?;
        ring(&self.wake);
        Ok(())
    }
}

/// Wakes the thread waiting on eventfd `fd`.
fn ring(fd: &OwnedFd) {
    let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
}

/// The relay threads of a voice edge.
pub(crate) struct Relays {
    threads: Vec<Thread>,
    next: AtomicUsize,
    ids: AtomicU64,
    /// Whether the kernel media path was loaded, or why not.
    in_kernel: Result<(), String>,
}

impl Relays {
    /// Starts `n` relay threads (none: call tasks relay their own conversations), which
    /// hand what they can to the kernel media path if `kernel` and it can be loaded.
    pub fn start(n: usize, kernel: bool) -> io::Result<Relays> {
        let loaded = match (kernel, n) {
            (false, _) => Err("turned off".to_string()),
            (true, 0) => Err("no relay threads".to_string()),
            (true, _) => KernelPath::start(n).map(Arc::new),
        };
        match &loaded {
            Ok(_) => {
                tracing::info!("media: the kernel media path carries conversations on this host")
            }
            Err(e) => tracing::info!(
                "media: no kernel media path ({e}); relay threads carry every conversation"
            ),
        }
        let (kernel, in_kernel) = match loaded {
            Ok(k) => (Some(k), Ok(())),
            Err(e) => (None, Err(e)),
        };
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
            let wake = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
            let data = epoll::EventData::new_u64(WAKE);
            epoll::add(&epoll, &*wake, data, epoll::EventFlags::IN)?;
            let ring = kernel.as_ref().and_then(|k| k.ring(i));
            if let Some(ring) = &ring {
                epoll::add(
                    &epoll,
                    ring,
                    epoll::EventData::new_u64(RING),
                    epoll::EventFlags::IN,
                )?;
            }
            let (orders, inbox) = mpsc::channel();
            let relayed = Arc::new(AtomicU64::new(0));
            let relay = Relay {
                epoll,
                wake: Arc::clone(&wake),
                inbox,
                slots: Vec::new(),
                free: Vec::new(),
                by_id: HashMap::new(),
                buf: vec![0; 2048],
                packet: Vec::new(),
                kernel: kernel.clone(),
                ring,
                relayed: Arc::clone(&relayed),
            };
            std::thread::Builder::new()
                .name(format!("media-relay-{i}"))
                .spawn(move || relay.run())?;
            threads.push(Thread {
                orders,
                wake,
                relayed,
            });
        }
        Ok(Relays {
            threads,
            next: AtomicUsize::new(0),
            ids: AtomicU64::new(0),
            in_kernel,
        })
    }

    /// Whether the kernel media path carries what it can, or why not.
    pub fn in_kernel(&self) -> Result<(), &str> {
        self.in_kernel.as_ref().map(|_| ()).map_err(String::as_str)
    }

    /// Audio packets the threads themselves passed on so far.
    pub fn relayed_by_threads(&self) -> u64 {
        let counts = self
            .threads
            .iter()
            .map(|t| t.relayed.load(Ordering::Relaxed));
        counts.sum()
    }

    /// Whether there are relay threads at all.
    pub fn any(&self) -> bool {
        !self.threads.is_empty()
    }

    /// Lends `talk` to the next relay thread (`Err` gives it back: there are none, or
    /// they are gone).
    pub fn lend(&self, talk: Box<Talk>) -> Result<Lent<'_>, Box<Talk>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(thread) = self
            .threads
            .get(n.checked_rem(self.threads.len()).unwrap_or(0))
        else {
            return Err(talk);
        };
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let (tx, back) = oneshot::channel();
        if let Err(Order::Take(_, talk, _)) = thread.send(Order::Take(id, talk, tx)) {
            return Err(talk);
        }
        Ok(Lent {
            thread,
            id,
            back,
            done: false,
        })
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        // Each thread stops once its orders' channel is closed and it is woken.
        for Thread { orders, wake, .. } in self.threads.drain(..) {
            drop(orders);
            ring(&wake);
        }
    }
}

/// A conversation on loan to a relay thread. Dropped before it is back, it is recalled
/// (its lines are then closed).
pub(crate) struct Lent<'a> {
    thread: &'a Thread,
    id: u64,
    back: oneshot::Receiver<Returned>,
    done: bool,
}

impl Lent<'_> {
    /// The conversation, once the relay gives it back by itself (`None`: the relay
    /// thread is gone, and the lines with it).
    pub async fn returned(&mut self) -> Option<Returned> {
        let back = (&mut self.back).await.ok();
        self.done = true;
        back
    }

    /// Asks for the conversation back and waits for it.
    pub async fn recall(&mut self) -> Option<Returned> {
        let _ = self.thread.send(Order::Give(self.id));
        self.returned().await
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.thread.send(Order::Give(self.id));
        }
    }
}

/// A conversation a relay thread carries.
struct Slot {
    id: u64,
    talk: Box<Talk>,
    back: oneshot::Sender<Returned>,
    /// The directions (from the caller, from the agent) the kernel carries.
    armed: [Option<Armed>; 2],
    /// Per direction, how many times in a row the thread took it back from the kernel
    /// with nothing carried (see [`BARREN`]).
    barren: [u8; 2],
}

/// A direction the kernel carries: the route written under the receiving socket, and how
/// far its progress is counted in the lines.
struct Armed {
    socket: SocketAddrV4,
    route: Route,
    counted: Progress,
}

impl Slot {
    /// The four sockets, in token order.
    fn sockets(&self) -> [&UdpSocket; 4] {
        let t = &self.talk;
        [&t.caller.rtp, &t.caller.rtcp, &t.agent.rtp, &t.agent.rtcp]
    }
}

/// A relay thread's own state.
struct Relay {
    epoll: OwnedFd,
    wake: Arc<OwnedFd>,
    inbox: mpsc::Receiver<Order>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_id: HashMap<u64, usize>,
    buf: Vec<u8>,
    /// The packet being sent on, its room reused.
    packet: Vec<u8>,
    kernel: Option<Arc<KernelPath>>,
    /// Where the kernel puts the audio of the recorded conversations it carries for this
    /// thread (none: the thread carries them itself).
    ring: Option<Ring>,
    relayed: Arc<AtomicU64>,
}

impl Relay {
    fn run(mut self) {
        let mut events = Vec::with_capacity(EVENTS);
        let mut next_tick = Instant::now() + TICK;
        loop {
            // Idle, it sleeps until an order comes.
            let timeout = (!self.by_id.is_empty()).then(|| {
                let left = next_tick.saturating_duration_since(Instant::now());
                Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos().into(),
                }
            });
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::error!("media relay stopped: {e}");
                    return self.give_all();
                }
            }
            for event in &events {
                let token = event.data.u64();
                if token == WAKE {
                    if !self.orders() {
                        return self.give_all();
                    }
                } else if token == RING {
                    self.drain();
                } else {
                    self.ready(token);
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                self.tick(now);
            }
        }
    }

    /// Takes the orders waiting; false once the relay is no longer wanted.
    fn orders(&mut self) -> bool {
        let mut word = [0u8; 8];
        let _ = rustix::io::read(&*self.wake, &mut word);
        loop {
            match self.inbox.try_recv() {
                Ok(Order::Take(id, talk, back)) => self.take(Slot {
                    id,
                    talk,
                    back,
                    armed: [None, None],
                    barren: [0; 2],
                }),
                Ok(Order::Give(id)) => {
                    if let Some(&i) = self.by_id.get(&id) {
                        self.give(i, None);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Starts carrying `slot`'s conversation (or, if its sockets cannot be watched, gives
    /// it straight back).
    fn take(&mut self, slot: Slot) {
        let i = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let sockets = slot.sockets();
        let mut added = 0;
        let mut failed = None;
        for (k, socket) in sockets.iter().enumerate() {
            let data = epoll::EventData::new_u64((i * 4 + k) as u64);
            match epoll::add(&self.epoll, socket, data, epoll::EventFlags::IN) {
                Ok(()) => added += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            tracing::warn!("media relay: {e}");
            for socket in &sockets[..added] {
                let _ = epoll::delete(&self.epoll, socket);
            }
            self.free.push(i);
            let _ = slot.back.send(Returned {
                talk: slot.talk,
                pending: None,
            });
            return;
        }
        self.by_id.insert(slot.id, i);
        self.slots[i] = Some(slot);
    }

    /// Gives conversation `i` back to its task, with the datagram left to it.
    fn give(&mut self, i: usize, pending: Option<(Side, Vec<u8>, SocketAddr)>) {
        for d in 0..2 {
            self.take_back(i, d);
        }
        let Some(slot) = self.slots.get_mut(i).and_then(Option::take) else {
            return;
        };
        for socket in slot.sockets() {
            let _ = epoll::delete(&self.epoll, socket);
        }
        self.by_id.remove(&slot.id);
        self.free.push(i);
        // A task that is gone closes the lines with the message.
        let _ = slot.back.send(Returned {
            talk: slot.talk,
            pending,
        });
    }

    /// Gives every conversation back (the thread is stopping).
    fn give_all(mut self) {
        for i in 0..self.slots.len() {
            self.give(i, None);
        }
    }

    /// Socket `token` is readable: one datagram is read and handled (if more wait, the
    /// next wait says so).
    fn ready(&mut self, token: u64) {
        let (i, k) = ((token / 4) as usize, token % 4);
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let d = (k / 2) as usize;
        if k % 2 == 1 {
            let from = if d == 0 {
                &mut slot.talk.caller
            } else {
                &mut slot.talk.agent
            };
            if let Ok((n, source)) = from.rtcp.recv_from(&mut self.buf) {
                from.control.handle(&self.buf[..n], source);
            }
            return;
        }
        // Nothing waiting after all, or a transient error (e.g. ICMP unreachable).
        let Ok((n, source)) = slot.sockets()[k as usize].recv_from(&mut self.buf) else {
            return;
        };
        // A packet of a direction the kernel carries: the thread takes it back first.
        self.take_back(i, d);
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let datagram = &self.buf[..n];
        let Slot {
            talk,
            armed,
            barren,
            ..
        } = slot;
        let Talk {
            caller,
            agent,
            recording,
        } = &mut **talk;
        let (from, to, party) = if d == 0 {
            (caller, agent, Side::Caller)
        } else {
            (agent, caller, Side::Agent)
        };
        // A plain conversation's direction goes to the kernel when one of its packets
        // passes in order, before that packet is sent: the next may follow at once. A
        // recorded one's only if the kernel can put its audio in this thread's ring.
        let sample = match (&recording, &self.ring) {
            (None, _) => Some(None),
            (Some(_), Some(ring)) => Some(Some((ring.index(), (i * 2 + d) as u32))),
            (Some(_), None) => None,
        };
        let kernel = self
            .kernel
            .as_deref()
            .zip(sample)
            .filter(|_| barren[d] < BARREN);
        let in_order = |from: &Line<UdpSocket>, to: &Line<UdpSocket>, packet: &rtp::Rtp<'_>| {
            if let Some((kernel, sample)) = kernel {
                armed[d] = arm(kernel, from, to, datagram, packet, sample);
            }
        };
        let recording = recording.as_mut().map(|r| (r, party));
        let seq = to.sender.next_sequence();
        if !relay(
            from,
            to,
            datagram,
            source,
            &mut self.packet,
            recording,
            in_order,
        ) {
            let datagram = datagram.to_vec();
            self.give(i, Some((party, datagram, source)));
            return;
        }
        let passed = to.sender.next_sequence().wrapping_sub(seq);
        self.relayed.fetch_add(u64::from(passed), Ordering::Relaxed);
    }

    /// Takes direction `d` of conversation `i` back from the kernel, if it has it: what
    /// the kernel passed on is counted in the lines and, if the conversation is recorded,
    /// written into the recording.
    fn take_back(&mut self, i: usize, d: usize) {
        let Some(kernel) = &self.kernel else {
            return;
        };
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let Some(armed) = &slot.armed[d] else {
            return;
        };
        let recorded = armed.route.sample.is_some();
        count(kernel, slot, d, true);
        let carried = slot.armed[d]
            .as_ref()
            .is_some_and(|a| a.counted.packets > 0);
        slot.barren[d] = if carried { 0 } else { slot.barren[d] + 1 };
        // The route is out of the table: every sample of it is in the ring (but for the
        // window `KernelPath::remove` tells of), and is recorded while it is still armed.
        if recorded {
            self.drain();
        }
        if let Some(Some(slot)) = self.slots.get_mut(i) {
            slot.armed[d] = None;
        }
    }

    /// Writes the audio the kernel put in this thread's ring into the recordings of the
    /// directions it carries.
    fn drain(&mut self) {
        let Relay { ring, slots, .. } = self;
        let Some(ring) = ring else {
            return;
        };
        // Samples are stamped with the monotonic clock, which `Instant` reads too.
        let now = Instant::now();
        let now_ns = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let now_ns = (now_ns.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(now_ns.tv_nsec as u64);
        ring.drain(|sample| {
            let (i, d) = ((sample.tag / 2) as usize, (sample.tag % 2) as usize);
            let Some(Some(slot)) = slots.get_mut(i) else {
                return;
            };
            // (A sample of a direction since taken back, or of a conversation gone.)
            if slot.armed[d]
                .as_ref()
                .is_none_or(|a| a.route.in_ssrc != sample.ssrc)
            {
                return;
            }
            let talk = &mut *slot.talk;
            let (codec, side) = if d == 0 {
                (talk.caller.codec, Side::Caller)
            } else {
                (talk.agent.codec, Side::Agent)
            };
            let age = Duration::from_nanos(now_ns.saturating_sub(sample.time_ns));
            let arrived = now.checked_sub(age).unwrap_or(now);
            if let Some(recording) = &mut talk.recording {
                recording.record_at(
                    side,
                    sample.ssrc,
                    sample.timestamp,
                    sample.payload,
                    codec,
                    arrived,
                );
            }
        });
    }

    /// Sends the RTCP reports due at `now`, and records what the kernel put in the ring.
    fn tick(&mut self, now: Instant) {
        self.drain();
        for slot in self.slots.iter_mut().flatten() {
            if let Some(kernel) = &self.kernel {
                let talk = &*slot.talk;
                if talk.caller.control.due(now) || talk.agent.control.due(now) {
                    for d in 0..2 {
                        count(kernel, slot, d, false);
                    }
                }
            }
            let talk = &mut *slot.talk;
            for line in [&mut talk.caller, &mut talk.agent] {
                if let Some((report, to)) = line.control.tick(now, &line.sender) {
                    let _ = line.rtcp.send_to(&report, to);
                }
            }
        }
    }
}

/// Hands a direction of a conversation to the kernel: `packet` (`datagram`), taken
/// `from` the line it came in on, is about to be passed on in order `to` the other line,
/// as the next packet of its stream. Only plain audio over IPv4 between parties whose laws
/// match, and not from elsewhere to this host, goes to the kernel. `sample`: recorded,
/// the ring and tag of the audio (see [`Route::sample`]).
fn arm(
    kernel: &KernelPath,
    from: &Line<UdpSocket>,
    to: &Line<UdpSocket>,
    datagram: &[u8],
    packet: &rtp::Rtp<'_>,
    sample: Option<(u8, u32)>,
) -> Option<Armed> {
    // Version 2 with no padding, extension or CSRCs: the program passes nothing else on.
    if datagram.first() != Some(&0x80) || from.codec != to.codec || !from.order.is_empty() {
        return None;
    }
    // The program records no longer packet (the thread would take each one back).
    if sample.is_some() && packet.payload.len() > MAX_RECORDED {
        return None;
    }
    if !(from.latched && to.latched) {
        return None;
    }
    let (seq, timestamp) = (to.sender.next_sequence(), to.sender.timestamp());
    let v4 = |a: SocketAddr| match a {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(_) => None,
    };
    let (socket, out) = (
        v4(from.rtp.local_addr().ok()?)?,
        v4(to.rtp.local_addr().ok()?)?,
    );
    let (peer, other) = (v4(from.remote)?, v4(to.remote)?);
    // Audio from elsewhere to a party on this host stays with the thread: the stack takes
    // a packet to this host's loopback addresses only from its own sockets.
    if kernel.locate(*other.ip()) && !kernel.locate(*peer.ip()) {
        return None;
    }
    let start = Progress {
        max_seq: packet.sequence,
        max_len: packet.payload.len() as u16,
        max_ts: packet.timestamp,
        ..Progress::default()
    };
    let route = Route {
        peer: *peer.ip(),
        in_ssrc: packet.ssrc,
        from: out,
        to: other,
        ssrc: to.sender.ssrc(),
        seq_delta: seq.wrapping_sub(packet.sequence),
        ts_delta: timestamp.wrapping_sub(packet.timestamp),
        payload_type: packet.payload_type,
        sample,
        start,
    };
    if let Err(e) = kernel.write(socket, &route) {
        tracing::debug!("media relay: the kernel cannot carry {socket}: {e}");
        return None;
    }
    Some(Armed {
        socket,
        route,
        counted: start,
    })
}

/// Counts what the kernel passed on in direction `d` of `slot`'s conversation since last
/// asked, in the lines, as if the thread had passed it: in the party's reception
/// statistics and reorder buffer, and in the other line's stream. `take_back` takes the
/// route out of the table too (the caller then forgets it).
fn count(kernel: &KernelPath, slot: &mut Slot, d: usize, take_back: bool) {
    let Some(armed) = &mut slot.armed[d] else {
        return;
    };
    let now = if take_back {
        kernel.remove(armed.socket, &armed.route)
    } else {
        kernel.progress(armed.socket, &armed.route)
    };
    let talk = &mut *slot.talk;
    let (from, to) = if d == 0 {
        (&mut talk.caller, &mut talk.agent)
    } else {
        (&mut talk.agent, &mut talk.caller)
    };
    // (Saturating: a route gone from the table reads as its start.)
    let packets = now.packets.saturating_sub(armed.counted.packets) as u32;
    if packets > 0 {
        let octets = now.octets.saturating_sub(armed.counted.octets) as u32;
        let route = &armed.route;
        from.control
            .received_elsewhere(route.in_ssrc, now.max_seq, packets);
        from.order
            .resume(route.in_ssrc, now.max_seq.wrapping_add(1));
        let next_seq = now.max_seq.wrapping_add(route.seq_delta).wrapping_add(1);
        let next_timestamp = now
            .max_ts
            .wrapping_add(route.ts_delta)
            .wrapping_add(u32::from(now.max_len));
        to.sender
            .forwarded(packets, octets, next_seq, next_timestamp);
    }
    armed.counted = now;
}

/// Passes a datagram `from` one party's line (from `source`) `to` the other's, as the
/// call task does with a conversation's packets, recording what it passes on as the
/// given side's audio if there is a recording. Garbage and datagrams from anyone but the
/// party are dropped, as there; audio out of order goes through the line's reorder
/// buffer, as there. False leaves the packet to the task, with nothing changed but
/// latching: anything but the party's own audio. `in_order` is told of a packet that
/// passes straight on, in order, before it is sent.
fn relay(
    from: &mut Line<UdpSocket>,
    to: &mut Line<UdpSocket>,
    datagram: &[u8],
    source: SocketAddr,
    out: &mut Vec<u8>,
    mut recording: Option<(&mut Recording, Side)>,
    in_order: impl FnOnce(&Line<UdpSocket>, &Line<UdpSocket>, &rtp::Rtp<'_>),
) -> bool {
    let Ok(packet) = rtp::parse(datagram) else {
        return true;
    };
    if !from.accept(source) {
        return true;
    }
    if Codec::from_payload_type(packet.payload_type) != Some(from.codec) {
        return false;
    }
    from.control.received(&packet, true);
    if from.order.pass(packet.ssrc, packet.sequence) {
        in_order(from, to, &packet);
        pass_on(from.codec, to, &packet, out, recording);
        return true;
    }
    from.order
        .push(packet.ssrc, packet.sequence, datagram.to_vec());
    // Only audio of the party's law is held here (the task lends no line with packets
    // held), so whatever is due now is passed on the same way.
    while let Some(due) = from.order.pop() {
        if let Ok(packet) = rtp::parse(&due) {
            let recording = recording.as_mut().map(|(r, side)| (&mut **r, *side));
            pass_on(from.codec, to, &packet, out, recording);
        }
    }
    true
}

/// Sends `packet`'s audio, in the law `codec`, in `to`'s stream (written in `out`), and
/// records it as `side`'s if there is a recording.
fn pass_on(
    codec: Codec,
    to: &mut Line<UdpSocket>,
    packet: &rtp::Rtp<'_>,
    out: &mut Vec<u8>,
    recording: Option<(&mut Recording, Side)>,
) {
    if let Some((r, side)) = recording {
        r.record(side, packet, codec);
    }
    let payload = transcode(packet.payload, codec, to.codec);
    to.sender
        .packet_into(&payload, payload.len() as u32, false, out);
    // A full socket buffer drops the packet, as the network may.
    let _ = to.rtp.send_to(out, to.remote);
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::os::fd::AsFd;

    use switchboard_media::jitter::JitterBuffer;
    use switchboard_media::rtp::RtpSender;

    use super::*;
    use crate::line::Peer;
    use crate::rtcp::bind_pair;

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const EVENT: u8 = 101;

    /// A phone speaking `codec` (its RTP socket) and Switchboard's line to it, whose
    /// stream starts at sequence 100, timestamp 1000.
    async fn party(codec: Codec, ssrc: u32) -> (tokio::net::UdpSocket, Line<UdpSocket>) {
        let phone = tokio::net::UdpSocket::bind((HOST, 0)).await.unwrap();
        let reports = tokio::net::UdpSocket::bind((HOST, 0)).await.unwrap();
        let peer = Peer {
            rtp: phone.local_addr().unwrap(),
            rtcp: reports.local_addr().unwrap(),
            codec,
            telephone_event: Some(EVENT),
        };
        let sender = RtpSender::new(ssrc, codec.payload_type(), 100, 1000).unwrap();
        let line = Line::new(bind_pair(HOST).await.unwrap(), peer, sender);
        (phone, line.into_std().unwrap())
    }

    /// An A-law caller and a µ-law agent in a conversation (recorded into `recording`, if
    /// given): their phones, where Switchboard's lines to them listen, and the lines.
    struct Pair {
        caller_phone: tokio::net::UdpSocket,
        agent_phone: tokio::net::UdpSocket,
        to_caller: SocketAddr,
        to_agent: SocketAddr,
        talk: Box<Talk>,
    }

    async fn pair(recording: Option<Recording>) -> Pair {
        pair_of(Codec::Pcma, Codec::Pcmu, recording).await
    }

    async fn pair_of(caller: Codec, agent: Codec, recording: Option<Recording>) -> Pair {
        let (caller_phone, caller) = party(caller, 0x1111).await;
        let (agent_phone, agent) = party(agent, 0x2222).await;
        Pair {
            caller_phone,
            agent_phone,
            to_caller: caller.rtp.local_addr().unwrap(),
            to_agent: agent.rtp.local_addr().unwrap(),
            talk: Box::new(Talk {
                caller,
                agent,
                recording,
            }),
        }
    }

    fn lend(relays: &Relays, talk: Box<Talk>) -> Lent<'_> {
        let Ok(lent) = relays.lend(talk) else {
            panic!("the relay threads are gone");
        };
        lent
    }

    #[tokio::test]
    async fn a_conversation_is_relayed_in_order_and_what_is_not_audio_goes_back_to_the_task() {
        let relays = Relays::start(1, false).unwrap();
        let Pair {
            caller_phone,
            agent_phone,
            to_caller,
            to_agent,
            talk,
        } = pair(None).await;
        let mut lent = lend(&relays, talk);
        let mut buf = [0u8; 2048];

        // The caller's A-law reaches the agent's phone in µ-law, in the agent line's own
        // stream (its SSRC, sequence numbers and clock).
        let mut callers = RtpSender::new(0xAAAA, 8, 500, 0).unwrap();
        let said: Vec<u8> = (0..160).map(|i| i as u8).collect();
        for _ in 0..3 {
            let packet = callers.packet(&said, 160, false);
            caller_phone.send_to(&packet, to_caller).await.unwrap();
        }
        for i in 0..3u16 {
            let (n, from) = agent_phone.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, to_agent);
            let p = rtp::parse(&buf[..n]).unwrap();
            assert_eq!((p.payload_type, p.ssrc), (0, 0x2222));
            assert_eq!(
                (p.sequence, p.timestamp),
                (100 + i, 1000 + 160 * u32::from(i))
            );
            assert_eq!(p.payload, &*transcode(&said, Codec::Pcma, Codec::Pcmu));
        }

        // The agent's µ-law goes back in A-law. Once the agent's phone is heard (latched),
        // a stranger's packet on the agent's port is dropped, not relayed.
        let stranger = tokio::net::UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))
            .await
            .unwrap();
        let mut agents = RtpSender::new(0xBBBB, 0, 7, 0).unwrap();
        let mut strangers = RtpSender::new(0xCCCC, 0, 9, 320).unwrap();
        for (i, heard) in [0x22u8, 0x33].into_iter().enumerate() {
            let packet = agents.packet(&[heard; 160], 160, false);
            agent_phone.send_to(&packet, to_agent).await.unwrap();
            let (n, _) = caller_phone.recv_from(&mut buf).await.unwrap();
            let p = rtp::parse(&buf[..n]).unwrap();
            assert_eq!(
                (p.payload_type, p.ssrc, p.sequence),
                (8, 0x1111, 100 + i as u16)
            );
            assert_eq!(
                p.payload,
                &*transcode(&[heard; 160], Codec::Pcmu, Codec::Pcma)
            );
            let noise = strangers.packet(&[0x11; 160], 160, false);
            stranger.send_to(&noise, to_agent).await.unwrap();
        }

        // A key press (a telephone-event) is the task's: the lines come back with it.
        let key = callers
            .packet_at(EVENT, 480, &[1, 0x0a, 0, 160], true)
            .unwrap();
        caller_phone.send_to(&key, to_caller).await.unwrap();
        let back = lent.returned().await.expect("given back");
        let from = caller_phone.local_addr().unwrap();
        assert_eq!(back.pending, Some((Side::Caller, key, from)));
        let quality = back.talk.caller.control.quality().unwrap();
        assert_eq!(
            quality.received, 3,
            "the relayed packets count in the caller's RTCP"
        );

        // A lost packet stays the relay's. (The key's sequence number never reached the
        // caller's reorder buffer here, so two are missing.) The packets after the hole
        // wait there until it is given up, with the buffer's depth behind it, and then go
        // on in order. The lost one, arriving late after that, is dropped, as the task
        // drops it.
        let mut lent = lend(&relays, back.talk);
        let depth = JitterBuffer::<Vec<u8>>::DEFAULT_DEPTH;
        let lost = callers.packet(&[0x77; 160], 160, false);
        let mut spoken: Vec<Vec<u8>> = (0..depth).map(|i| vec![i as u8; 160]).collect();
        for words in &spoken {
            let packet = callers.packet(words, 160, false);
            caller_phone.send_to(&packet, to_caller).await.unwrap();
        }
        caller_phone.send_to(&lost, to_caller).await.unwrap();
        let next = callers.packet(&said, 160, false);
        caller_phone.send_to(&next, to_caller).await.unwrap();
        spoken.push(said.clone());
        for (i, words) in spoken.iter().enumerate() {
            let (n, _) = agent_phone.recv_from(&mut buf).await.unwrap();
            let p = rtp::parse(&buf[..n]).unwrap();
            assert_eq!(p.sequence, 103 + i as u16, "the agent's stream has no hole");
            assert_eq!(p.payload, &*transcode(words, Codec::Pcma, Codec::Pcmu));
        }

        // Asked for, the lines come back at once, with nothing left to handle. Every
        // packet the relay received counts in the caller's RTCP, the late one too.
        let back = lent.recall().await.expect("given back");
        assert!(back.pending.is_none());
        let quality = back.talk.caller.control.quality().unwrap();
        assert_eq!(quality.received, 3 + depth as u32 + 2);
        back.talk.agent.into_tokio().unwrap();
    }

    #[tokio::test]
    async fn a_recorded_conversation_is_relayed_and_both_parties_land_in_their_channels() {
        let relays = Relays::start(1, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let recording = Recording::start(dir.path(), 7, "alice").unwrap();
        let Pair {
            caller_phone,
            agent_phone,
            to_caller,
            to_agent,
            talk,
        } = pair(Some(recording)).await;
        let mut lent = lend(&relays, talk);

        // Each side says one thing for 60 ms, each heard by the other through the relay.
        let (said, answered) = (vec![0x2au8; 160], vec![0x9cu8; 160]);
        let mut callers = RtpSender::new(0xAAAA, 8, 500, 0).unwrap();
        let mut agents = RtpSender::new(0xBBBB, 0, 7, 0).unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..3 {
            let packet = callers.packet(&said, 160, false);
            caller_phone.send_to(&packet, to_caller).await.unwrap();
            agent_phone.recv_from(&mut buf).await.unwrap();
            let packet = agents.packet(&answered, 160, false);
            agent_phone.send_to(&packet, to_agent).await.unwrap();
            caller_phone.recv_from(&mut buf).await.unwrap();
        }

        // The recording comes back with the lines; finished, it holds the caller's audio
        // on the left and the agent's on the right.
        let back = lent.recall().await.expect("given back");
        let file = back
            .talk
            .recording
            .expect("the recording")
            .finish()
            .unwrap();
        let (left, right) = channels(dir.path(), file);
        assert_eq!(
            heard(&left, decoded(Codec::Pcma, &said)),
            480,
            "the caller, left"
        );
        assert_eq!(
            heard(&right, decoded(Codec::Pcmu, &answered)),
            480,
            "the agent, right"
        );
        assert_eq!(heard(&left, decoded(Codec::Pcmu, &answered)), 0);
        assert_eq!(heard(&right, decoded(Codec::Pcma, &said)), 0);
    }

    /// One relay thread with the kernel media path (the tests that use it run as root).
    fn kernel_relays() -> Relays {
        assert!(
            rustix::process::geteuid().is_root(),
            "the kernel media path needs root: run this test as root (`cargo xtask test` does)"
        );
        let relays = Relays::start(1, true).unwrap();
        if let Err(e) = relays.in_kernel() {
            panic!("the kernel media path did not load: {e}");
        }
        relays
    }

    /// The samples of a finished two-channel recording `file` in `dir`: (left, right).
    fn channels(dir: &std::path::Path, file: String) -> (Vec<i16>, Vec<i16>) {
        let mut wav = hound::WavReader::open(dir.join(file)).unwrap();
        assert_eq!(wav.spec().channels, 2);
        let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
        let channel =
            |c: usize| -> Vec<i16> { samples.iter().skip(c).step_by(2).copied().collect() };
        (channel(0), channel(1))
    }

    /// The first sample of `payload` (in `codec`) decoded.
    fn decoded(codec: Codec, payload: &[u8]) -> i16 {
        let mut pcm = Vec::new();
        codec.decode(payload, &mut pcm);
        pcm[0]
    }

    /// How many of `side`'s samples are `sample`.
    fn heard(side: &[i16], sample: i16) -> usize {
        side.iter().filter(|&&s| s == sample).count()
    }

    /// Machines elsewhere, for the kernel media path: network namespaces, each joined to
    /// this host by a veth pair made before the path is loaded (so that the program runs
    /// on this host's end). Machine `i` has [`Elsewhere::phone`], this host's end
    /// [`Elsewhere::host`], in a /24 of the benchmarking range (RFC 2544).
    struct Elsewhere {
        namespaces: Vec<String>,
        net: [u8; 2],
    }

    impl Elsewhere {
        fn new(machines: usize) -> Elsewhere {
            let pid = std::process::id();
            let net = [18 + (pid % 2) as u8, (pid / 2 % 128) as u8 * 2];
            let run = |args: &[&str]| {
                let status = std::process::Command::new("ip").args(args).status();
                assert!(
                    status.as_ref().is_ok_and(|s| s.success()),
                    "ip {args:?}: {status:?}"
                );
            };
            let mut made = Elsewhere {
                namespaces: Vec::new(),
                net,
            };
            for i in 0..machines {
                let (ns, link) = (format!("sb{pid}-{i}"), format!("sbv{}-{i}", pid % 100_000));
                run(&["netns", "add", &ns]);
                made.namespaces.push(ns.clone());
                run(&[
                    "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ]);
                let host = format!("{}/24", made.host(i));
                run(&["addr", "add", &host, "dev", &link]);
                run(&["link", "set", &link, "up"]);
                let phone = format!("{}/24", made.phone(i));
                run(&["-n", &ns, "addr", "add", &phone, "dev", "eth0"]);
                run(&["-n", &ns, "link", "set", "eth0", "up"]);
            }
            made
        }

        fn address(&self, i: usize, last: u8) -> Ipv4Addr {
            Ipv4Addr::new(198, self.net[0], self.net[1] + i as u8, last)
        }

        /// This host's address on machine `i`'s link.
        fn host(&self, i: usize) -> Ipv4Addr {
            self.address(i, 1)
        }

        /// Machine `i`'s address.
        fn phone(&self, i: usize) -> Ipv4Addr {
            self.address(i, 2)
        }

        /// A socket of machine `i`'s (made on a thread that moves into its namespace).
        fn socket(&self, i: usize) -> tokio::net::UdpSocket {
            let path = format!("/run/netns/{}", self.namespaces[i]);
            let phone = self.phone(i);
            let socket = std::thread::spawn(move || {
                let ns = std::fs::File::open(path).unwrap();
                let net = rustix::thread::LinkNameSpaceType::Network;
                rustix::thread::move_into_link_name_space(ns.as_fd(), Some(net)).unwrap();
                std::net::UdpSocket::bind((phone, 0)).unwrap()
            });
            let socket = socket.join().unwrap();
            socket.set_nonblocking(true).unwrap();
            tokio::net::UdpSocket::from_std(socket).unwrap()
        }

        /// A phone on machine `i` speaking µ-law, and Switchboard's line to it.
        async fn party(&self, i: usize, ssrc: u32) -> (tokio::net::UdpSocket, Line<UdpSocket>) {
            let phone = self.socket(i);
            let rtp = phone.local_addr().unwrap();
            let peer = Peer {
                rtp,
                rtcp: SocketAddr::new(rtp.ip(), rtp.port() + 1),
                codec: Codec::Pcmu,
                telephone_event: Some(EVENT),
            };
            let sender = RtpSender::new(ssrc, 0, 100, 1000).unwrap();
            let sockets = bind_pair(IpAddr::V4(self.host(i))).await.unwrap();
            let line = Line::new(sockets, peer, sender);
            (phone, line.into_std().unwrap())
        }
    }

    impl Drop for Elsewhere {
        fn drop(&mut self) {
            // (The veth pairs go with their namespaces.)
            for ns in &self.namespaces {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "del", ns])
                    .status();
            }
        }
    }

    /// A phone (`from`) sends `payload` in `stream` to its line at `line`; the other
    /// phone (`to`) receives it whole from `expected`, its line's socket, as packet `i` of
    /// that line's stream `ssrc` (which starts at sequence 100).
    async fn passes(
        stream: &mut RtpSender,
        payload: &[u8],
        (from, line): (&tokio::net::UdpSocket, SocketAddr),
        (to, expected): (&tokio::net::UdpSocket, SocketAddr),
        (ssrc, i): (u32, usize),
    ) {
        let mut buf = [0u8; 2048];
        let packet = stream.packet(payload, 160, false);
        from.send_to(&packet, line).await.unwrap();
        let (n, source) = to.recv_from(&mut buf).await.unwrap();
        assert_eq!(source, expected, "packet {i} of {ssrc:#x}, from its line");
        let p = rtp::parse(&buf[..n]).unwrap();
        assert_eq!((p.ssrc, p.sequence), (ssrc, 100 + i as u16));
        assert_eq!(p.payload, payload);
    }

    /// The two sides of a conversation speak `spoken` packets each, in turn, the agent
    /// first; each packet reaches the other side whole, from the line's socket.
    async fn converse(
        (caller_phone, to_caller): (&tokio::net::UdpSocket, SocketAddr),
        (agent_phone, to_agent): (&tokio::net::UdpSocket, SocketAddr),
        (said, answered): (&[u8], &[u8]),
        spoken: usize,
    ) {
        let mut callers = RtpSender::new(0xAAAA, 0, 500, 0).unwrap();
        let mut agents = RtpSender::new(0xBBBB, 0, 7, 0).unwrap();
        let (caller, agent) = ((caller_phone, to_caller), (agent_phone, to_agent));
        for i in 0..spoken {
            passes(&mut agents, answered, agent, caller, (0x1111, i)).await;
            passes(&mut callers, said, caller, agent, (0x2222, i)).await;
        }
    }

    /// Lends a conversation between two phones and their lines to a relay thread, lets
    /// them [`converse`], and takes it back.
    async fn talk_over(
        relays: &Relays,
        (caller_phone, caller): (tokio::net::UdpSocket, Line<UdpSocket>),
        (agent_phone, agent): (tokio::net::UdpSocket, Line<UdpSocket>),
        recording: Option<Recording>,
        words: (&[u8], &[u8]),
        spoken: usize,
    ) -> Returned {
        let to_caller = caller.rtp.local_addr().unwrap();
        let to_agent = agent.rtp.local_addr().unwrap();
        let talk = Box::new(Talk {
            caller,
            agent,
            recording,
        });
        let mut lent = lend(relays, talk);
        let (caller, agent) = ((&caller_phone, to_caller), (&agent_phone, to_agent));
        converse(caller, agent, words, spoken).await;
        lent.recall().await.expect("given back")
    }

    #[tokio::test]
    async fn conversations_with_parties_elsewhere_are_carried_by_the_kernel_too() {
        let elsewhere = Elsewhere::new(2);
        let relays = kernel_relays();
        const SPOKEN: usize = 8;
        let (said, answered) = ([0x2au8; 160], [0x9cu8; 160]);

        // A caller and an agent on two other machines: the kernel sends each party's
        // audio out of the other's interface.
        let caller = elsewhere.party(0, 0x1111).await;
        let agent = elsewhere.party(1, 0x2222).await;
        let words = (&said[..], &answered[..]);
        talk_over(&relays, caller, agent, None, words, SPOKEN).await;
        // The thread relays each side's first packets, until the kernel has seen where
        // each party is: the agent's first two and the caller's first two at most.
        let by_threads = relays.relayed_by_threads();
        assert!(
            by_threads <= 4,
            "the threads relayed {by_threads} of {}",
            2 * SPOKEN
        );

        // A caller elsewhere and an agent on this host, recorded: the kernel sends the
        // agent's audio out of the caller's interface, and puts it in the recording; the
        // thread relays and records the caller's (see `arm`).
        let dir = tempfile::tempdir().unwrap();
        let recording = Recording::start(dir.path(), 9, "carol").unwrap();
        let caller = elsewhere.party(0, 0x1111).await;
        let agent = party(Codec::Pcmu, 0x2222).await;
        let back = talk_over(&relays, caller, agent, Some(recording), words, SPOKEN).await;
        let relayed = relays.relayed_by_threads() - by_threads;
        assert_eq!(
            relayed,
            SPOKEN as u64 + 2,
            "the threads relay the caller's packets and the agent's first two"
        );
        let file = back.talk.recording.expect("the recording").finish();
        let (left, right) = channels(dir.path(), file.unwrap());
        assert_eq!(heard(&left, decoded(Codec::Pcmu, &said)), 160 * SPOKEN);
        assert_eq!(heard(&right, decoded(Codec::Pcmu, &answered)), 160 * SPOKEN);
    }

    #[tokio::test]
    async fn a_recorded_conversation_on_this_host_is_carried_by_the_kernel_and_recorded_whole() {
        let relays = kernel_relays();
        let dir = tempfile::tempdir().unwrap();
        let recording = Recording::start(dir.path(), 8, "bob").unwrap();
        let Pair {
            caller_phone,
            agent_phone,
            to_caller,
            to_agent,
            talk,
        } = pair_of(Codec::Pcmu, Codec::Pcmu, Some(recording)).await;
        let mut lent = lend(&relays, talk);

        // Each side speaks 8 packets in turn, every one reaching the other side. (At
        // once: 160 ms of audio in less. The recording places audio by its timestamps
        // while they stay within 200 ms of the clock.)
        const SPOKEN: usize = 8;
        let (said, answered) = ([0x2au8; 160], [0x9cu8; 160]);
        converse(
            (&caller_phone, to_caller),
            (&agent_phone, to_agent),
            (&said, &answered),
            SPOKEN,
        )
        .await;
        // Given back (the thread has counted what it relayed by then): the thread
        // relayed the caller's first packet and the agent's first two (a direction goes
        // to the kernel once both lines are latched, the caller's by its first packet).
        let back = lent.recall().await.expect("given back");
        let by_threads = relays.relayed_by_threads();
        assert_eq!(by_threads, 3, "the kernel carried the rest");

        // The recording holds every packet of both sides, the kernel's too, each in its
        // channel, one after the other: the kernel's arrival times place them as the
        // thread's clock does.
        let file = back.talk.recording.expect("the recording").finish();
        let (left, right) = channels(dir.path(), file.unwrap());
        let all = 160 * SPOKEN;
        for (side, sample, who) in [
            (&left, decoded(Codec::Pcmu, &said), "the caller"),
            (&right, decoded(Codec::Pcmu, &answered), "the agent"),
        ] {
            assert_eq!(heard(side, sample), all, "{who}");
            let first = side.iter().position(|&s| s == sample);
            let last = side.iter().rposition(|&s| s == sample);
            assert_eq!(last.zip(first).map(|(l, f)| l + 1 - f), Some(all), "{who}");
        }
        assert_eq!(heard(&left, decoded(Codec::Pcmu, &answered)), 0);
        assert_eq!(heard(&right, decoded(Codec::Pcmu, &said)), 0);
    }

    #[tokio::test]
    async fn a_conversation_on_this_host_is_carried_by_the_kernel_and_counted_as_if_relayed() {
        let relays = kernel_relays();
        let Pair {
            caller_phone,
            agent_phone,
            to_caller,
            to_agent,
            talk,
        } = pair_of(Codec::Pcmu, Codec::Pcmu, None).await;
        let mut lent = lend(&relays, talk);
        let mut buf = [0u8; 2048];

        // The agent's phone is heard first (both lines latch), then the caller speaks.
        let mut agents = RtpSender::new(0xBBBB, 0, 7, 0).unwrap();
        let packet = agents.packet(&[0x22; 160], 160, false);
        agent_phone.send_to(&packet, to_agent).await.unwrap();
        caller_phone.recv_from(&mut buf).await.unwrap();
        // The caller's packets 0 to 49, except that 40 comes only after 49: the kernel
        // passes 41 on at once (the gap kept in the agent's stream), and 40, late, goes
        // to the thread, whose reorder buffer drops it. Then one more, 50.
        let mut callers = RtpSender::new(0xAAAA, 0, 500, 0).unwrap();
        const SPOKEN: u16 = 51;
        const LATE: u16 = 40;
        let packets: Vec<Vec<u8>> = (0..SPOKEN)
            .map(|i| callers.packet(&[i as u8; 160], 160, false))
            .collect();
        let sent = (0..SPOKEN - 1)
            .filter(|&i| i != LATE)
            .chain([LATE, SPOKEN - 1]);
        for i in sent {
            caller_phone
                .send_to(&packets[usize::from(i)], to_caller)
                .await
                .unwrap();
            if i == LATE {
                continue;
            }
            let (n, from) = agent_phone.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, to_agent, "from the agent line's socket");
            let p = rtp::parse(&buf[..n]).unwrap();
            assert_eq!(
                (p.payload_type, p.ssrc, p.sequence, p.timestamp),
                (0, 0x2222, 100 + i, 1000 + 160 * u32::from(i)),
                "packet {i} in the agent line's stream"
            );
            assert_eq!(p.payload, &[i as u8; 160][..]);
        }
        // The agent's first packet, the caller's first, and 50 if it reached the
        // thread before the late one had taken the direction back.
        let by_threads = relays.relayed_by_threads();
        assert!(
            by_threads <= 3,
            "the threads relayed {by_threads} packets: the kernel should have carried all but the first of each side"
        );

        // A key press reaches the task as before, and the stream the kernel carried is
        // counted in the lines: the next packet to the agent follows the last one.
        let key = callers
            .packet_at(EVENT, 480, &[1, 0x0a, 0, 160], true)
            .unwrap();
        caller_phone.send_to(&key, to_caller).await.unwrap();
        let back = lent.returned().await.expect("given back");
        assert_eq!(back.pending.map(|p| p.1), Some(key));
        let talk = back.talk;
        assert_eq!(talk.agent.sender.next_sequence(), 100 + SPOKEN);
        assert_eq!(
            talk.agent.sender.timestamp(),
            1000 + 160 * u32::from(SPOKEN)
        );
        let passed = u32::from(SPOKEN) - 1;
        assert_eq!(talk.agent.sender.packets_sent(), passed);
        assert_eq!(talk.agent.sender.octets_sent(), 160 * passed);
        let quality = talk.caller.control.quality().unwrap();
        assert_eq!(quality.received, u32::from(SPOKEN), "the late one too");
        assert_eq!(quality.lost, 0);
    }
}
