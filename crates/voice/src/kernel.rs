//! The media path in the kernel: plain audio between two parties, passed on by a
//! traffic-control program (`bpf/relay.bpf.c`) instead of by a relay thread.
//!
//! A relay thread spends about 5 µs of a core on each packet it relays, nearly all of it
//! in the kernel's UDP path: waking, `recvfrom`, `sendto` and a new packet. The program
//! rewrites the arriving packet where it is (addresses, ports, and the RTP header into the
//! other party's stream) and sends it to the other party: between two parties on this
//! host it lets it go on up the stack, in the same pass, to the other party's socket
//! (about 0.5 µs in a probe, and less than half the machine's time per call in the SIP
//! benchmark, BENCHMARKS.md). It runs on the ingress of the loopback interface, which
//! carries all traffic between this host's own addresses, and of every Ethernet interface
//! there is when the server starts, so it also carries conversations with parties
//! elsewhere: their packets go out of the interface the other party's packets come in on
//! (which the program learns from them, as a table of addresses), with the kernel's
//! neighbour resolution (`bpf_redirect_neigh`). Parties reached through other interfaces
//! (tunnels, interfaces added later) stay with the relay threads.
//!
//! The relay thread decides, per direction, when the kernel may carry a conversation
//! (see [`crate::relay`]): it writes a [`Route`] under the receiving line's socket in
//! the program's table, and takes it out before it hands the lines back to the call's
//! task. Whatever the program does not pass on (key presses, another stream, anyone
//! else's packets) reaches the socket as before. How far a route has carried its
//! direction (packets, octets, the highest sequence number) is kept in a second table
//! that only the program writes after the route's start: the thread takes the route out
//! first and reads the count after, so no packet passed on is missed by a write of its
//! own.
//!
//! A recorded conversation's audio must reach the recording, in user space: the program
//! copies each packet's audio, with its arrival time, into a ring buffer of the relay
//! thread that carries the conversation (one ring per thread, see [`Ring`]) before it
//! passes the packet on. The thread is not woken for each: it drains its ring in batches,
//! on its own clock (or when the ring is a quarter full), with no system call per packet.
//!
//! Loading needs the rights to load BPF programs and attach them (root, or `CAP_BPF`
//! with `CAP_NET_ADMIN`) and a build with clang (see `build.rs`). Without either, the
//! server says why once and the relay threads carry everything.
//!
//! Architecture invariant: a route is in the table only while its conversation is lent
//! to a relay thread; the thread takes it out before the lines go back to their task.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

/// Consecutive take-backs in which the kernel carried nothing after which a direction is
/// left with its relay thread for the rest of the loan: the party's packets do not come in
/// where the program runs (see [`KernelPath::start`]).
pub(crate) const BARREN: u8 = 8;

/// The table's key: a line's socket (address and port, network order), as the program
/// reads them from the packet.
type Key = [u8; 8];
/// A route, as the program's `struct target` lays it out (see `bpf/relay.bpf.c`).
type Value = [u8; 40];
/// How far a route has carried its direction, as the program's `struct carried` lays it
/// out.
type Carried = [u8; 24];

/// The ring buffers in the program (`ring0` to `ring15`): relay threads beyond these
/// carry no recorded conversation in the kernel.
pub(crate) const RINGS: usize = 16;
/// Each relay thread's ring: 4 MiB holds about 20,000 packets' audio, 200 ms of a
/// thousand recorded conversations' two directions (the program wakes the thread when it
/// is a quarter full).
const RING_BYTES: u32 = 4 << 20;
/// The most audio one packet may carry to be recorded by the program (its `MAX_PAYLOAD`,
/// 60 ms of G.711).
pub(crate) const MAX_RECORDED: usize = 480;
/// A sample's header in a ring, before the audio (the program's `struct sample`).
const SAMPLE_HEADER: usize = 24;

/// Where a party's audio goes, for the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    /// The party's address: packets from anyone else are not passed on.
    pub peer: Ipv4Addr,
    /// The party's stream.
    pub in_ssrc: u32,
    /// The other line's socket, and the other party.
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    /// The other line's stream, and what turns the party's numbers into its.
    pub ssrc: u32,
    pub seq_delta: u16,
    pub ts_delta: u32,
    /// The only payload type passed on.
    pub payload_type: u8,
    /// Recorded: the ring the audio is copied to, and the tag its samples carry.
    pub sample: Option<(u8, u32)>,
    /// Where the party's stream stood when the route was written: its last sequence
    /// number, that packet's payload length and timestamp.
    pub start: Progress,
}

/// How far the program has carried a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// Packets passed on, and their payload's octets, since the route was written.
    pub packets: u64,
    pub octets: u64,
    /// The party's highest sequence number passed on, that packet's payload length and
    /// its timestamp.
    pub max_seq: u16,
    pub max_len: u16,
    pub max_ts: u32,
}

/// No ring.
const NONE: u8 = 0xff;

impl Route {
    fn value(&self, loopback: u32) -> Value {
        let mut v = [0u8; 40];
        v[0..4].copy_from_slice(&self.peer.octets());
        v[4..8].copy_from_slice(&self.in_ssrc.to_be_bytes());
        v[8..12].copy_from_slice(&self.from.ip().octets());
        v[12..16].copy_from_slice(&self.to.ip().octets());
        v[16..18].copy_from_slice(&self.from.port().to_be_bytes());
        v[18..20].copy_from_slice(&self.to.port().to_be_bytes());
        v[20..24].copy_from_slice(&self.ssrc.to_be_bytes());
        v[24..28].copy_from_slice(&self.ts_delta.to_ne_bytes());
        v[28..30].copy_from_slice(&self.seq_delta.to_ne_bytes());
        v[30] = self.payload_type;
        let (ring, tag) = self.sample.unwrap_or((NONE, 0));
        v[31] = ring;
        v[32..36].copy_from_slice(&loopback.to_ne_bytes());
        v[36..40].copy_from_slice(&tag.to_ne_bytes());
        v
    }
}

impl Progress {
    /// The count the program starts from (nothing passed on yet, this highest packet).
    fn carried(&self) -> Carried {
        let mut v = [0u8; 24];
        v[16..18].copy_from_slice(&self.max_seq.to_ne_bytes());
        v[18..20].copy_from_slice(&self.max_len.to_ne_bytes());
        v[20..24].copy_from_slice(&self.max_ts.to_ne_bytes());
        v
    }

    fn of(v: &Carried) -> Progress {
        let u64_at = |i: usize| u64::from_ne_bytes(v[i..i + 8].try_into().unwrap_or_default());
        let u16_at = |i: usize| u16::from_ne_bytes([v[i], v[i + 1]]);
        Progress {
            packets: u64_at(0),
            octets: u64_at(8),
            max_seq: u16_at(16),
            max_len: u16_at(18),
            max_ts: u32::from_ne_bytes([v[20], v[21], v[22], v[23]]),
        }
    }
}

/// A number the kernel gives interface `name` (its `ifindex` or `type`).
fn interface_number(name: &str, what: &str) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/{what}")).ok()?;
    text.trim().parse().ok()
}

/// The names of the Ethernet interfaces (ARPHRD_ETHER: real NICs, bridges, veths, …),
/// whose frames the program reads as it reads the loopback interface's.
fn ethernet_interfaces() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let names = dir.filter_map(|e| e.ok()?.file_name().into_string().ok());
    names
        .filter(|name| interface_number(name, "type") == Some(1))
        .collect()
}

fn key(socket: SocketAddrV4) -> Key {
    let mut k = [0u8; 8];
    k[0..4].copy_from_slice(&socket.ip().octets());
    k[4..6].copy_from_slice(&socket.port().to_be_bytes());
    k
}

/// A relay thread's ring buffer, where the program puts the audio of the recorded
/// conversations the thread carries.
pub(crate) struct Ring {
    buf: aya::maps::RingBuf<aya::maps::MapData>,
    /// The ring's map, for the thread's poll (readable when the program wakes it).
    fd: OwnedFd,
    index: u8,
}

/// A recorded packet's audio, as the program put it in a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample<'a> {
    /// When it arrived (`CLOCK_MONOTONIC`, ns).
    pub time_ns: u64,
    /// The route's tag (see [`Route::sample`]).
    pub tag: u32,
    /// The party's stream, and the packet's timestamp in it.
    pub ssrc: u32,
    pub timestamp: u32,
    pub payload: &'a [u8],
}

impl<'a> Sample<'a> {
    /// Reads a sample (`None` if it is cut short, which the program never does).
    fn of(b: &'a [u8]) -> Option<Sample<'a>> {
        let u32_at = |i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let len = u16::from_ne_bytes(b.get(20..22)?.try_into().ok()?);
        Some(Sample {
            time_ns: u64::from_ne_bytes(b.get(0..8)?.try_into().ok()?),
            tag: u32_at(8)?,
            ssrc: u32_at(12)?,
            timestamp: u32_at(16)?,
            payload: b.get(SAMPLE_HEADER..SAMPLE_HEADER + usize::from(len))?,
        })
    }
}

impl Ring {
    fn new(map: aya::maps::Map, index: u8) -> Result<Ring, String> {
        let aya::maps::Map::RingBuf(data) = &map else {
            return Err("not a ring buffer".into());
        };
        let fd = data
            .fd()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| e.to_string())?;
        let buf = aya::maps::RingBuf::try_from(map).map_err(|e| e.to_string())?;
        Ok(Ring { buf, fd, index })
    }

    /// Which ring this is, for [`Route::sample`].
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Hands every sample in the ring to `f`, oldest first, and empties it.
    pub fn drain(&mut self, mut f: impl FnMut(Sample<'_>)) {
        while let Some(item) = self.buf.next() {
            if let Some(sample) = Sample::of(&item) {
                f(sample);
            }
        }
    }
}

impl AsFd for Ring {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The loaded program, attached to the loopback and Ethernet interfaces, and its tables.
pub(crate) struct KernelPath {
    table: Mutex<aya::maps::HashMap<aya::maps::MapData, Key, Value>>,
    /// How far each route has carried its direction (see `struct carried`).
    carried: Mutex<aya::maps::HashMap<aya::maps::MapData, Key, Carried>>,
    /// The rings not yet taken by their relay threads.
    rings: Mutex<Vec<Option<Ring>>>,
    /// The program's table of where each party is reached (address → interface).
    peers: Mutex<aya::maps::HashMap<aya::maps::MapData, [u8; 4], u32>>,
    /// The loopback interface's index.
    loopback: u32,
    /// Addresses seen so far: whether each is this host's (and so entered in `peers` as
    /// reached through the loopback interface).
    local: Mutex<HashMap<Ipv4Addr, bool>>,
    /// Holds the program and its attachment (dropped, the program is detached).
    _program: aya::Ebpf,
}

/// The program, as `build.rs` built it (aligned: the ELF parser reads it in place).
#[cfg(kernel_relay)]
const OBJECT: Option<&[u8]> = Some(aya::include_bytes_aligned!(concat!(
    env!("OUT_DIR"),
    "/relay.bpf.o"
)));
#[cfg(not(kernel_relay))]
const OBJECT: Option<&[u8]> = None;

impl KernelPath {
    /// Loads the program, with a ring for each of `threads` relay threads (up to
    /// [`RINGS`]), and attaches it to the ingress of the loopback interface and of every
    /// Ethernet interface there is now; the reason if it cannot be (an Ethernet interface
    /// it cannot be attached to is only logged).
    pub fn start(threads: usize) -> Result<KernelPath, String> {
        use aya::programs::{SchedClassifier, TcAttachType, tc};
        use aya::util::KernelVersion;
        let object =
            OBJECT.ok_or("this build has none: clang was missing or failed when it was built")?;
        let loopback = interface_number("lo", "ifindex").ok_or("no loopback interface")?;
        let names: Vec<String> = (0..threads.min(RINGS))
            .map(|i| format!("ring{i}"))
            .collect();
        let mut loader = aya::EbpfLoader::new();
        for name in &names {
            loader.set_max_entries(name, RING_BYTES);
        }
        let mut ebpf = loader
            .load(object)
            .map_err(|e| format!("cannot load it: {e}"))?;
        let program: &mut SchedClassifier = ebpf
            .program_mut("relay")
            .ok_or("no program `relay`")?
            .try_into()
            .map_err(|e| format!("{e}"))?;
        program
            .load()
            .map_err(|e| format!("the kernel refused it: {e}"))?;
        // From 6.6 the program is attached as a TCX link, which goes with the process;
        // older kernels attach it as a filter of a clsact qdisc (which may already be
        // there), taken off when the server stops.
        let tcx = KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(6, 6, 0));
        let mut attach = |name: &str| {
            if !tcx {
                let _ = tc::qdisc_add_clsact(name);
            }
            program.attach(name, TcAttachType::Ingress).map(|_| ())
        };
        attach("lo").map_err(|e| format!("cannot attach it to lo: {e}"))?;
        for name in ethernet_interfaces() {
            if let Err(e) = attach(&name) {
                tracing::warn!("media: the kernel media path does not see {name}: {e}");
            }
        }
        let table = ebpf.take_map("lines").ok_or("no table `lines`")?;
        let table = aya::maps::HashMap::try_from(table).map_err(|e| format!("{e}"))?;
        let carried = ebpf.take_map("carried").ok_or("no table `carried`")?;
        let carried = aya::maps::HashMap::try_from(carried).map_err(|e| format!("{e}"))?;
        let peers = ebpf.take_map("peers").ok_or("no table `peers`")?;
        let peers = aya::maps::HashMap::try_from(peers).map_err(|e| format!("{e}"))?;
        let mut rings = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let map = ebpf.take_map(name).ok_or(format!("no ring `{name}`"))?;
            rings.push(Some(Ring::new(map, i as u8)?));
        }
        Ok(KernelPath {
            table: Mutex::new(table),
            carried: Mutex::new(carried),
            rings: Mutex::new(rings),
            peers: Mutex::new(peers),
            loopback,
            local: Mutex::new(HashMap::new()),
            _program: ebpf,
        })
    }

    /// Relay thread `i`'s ring (once; `None` for a thread beyond [`RINGS`]).
    pub fn ring(&self, i: usize) -> Option<Ring> {
        self.rings.lock().ok()?.get_mut(i)?.take()
    }

    /// Whether `address` is this host's; if so, the program is told that a party there
    /// is reached through the loopback interface. (The program learns where any party is
    /// from its packets; told beforehand, it carries audio to a party on this host before
    /// that party's own direction is in the kernel, e.g. while they are silent.) Worked
    /// out once per address: a socket can be bound to it only if it is this host's.
    pub fn locate(&self, address: Ipv4Addr) -> bool {
        let Ok(mut local) = self.local.lock() else {
            return false;
        };
        *local.entry(address).or_insert_with(|| {
            let here = !address.is_unspecified()
                && (address.is_loopback() || std::net::UdpSocket::bind((address, 0)).is_ok());
            if here && let Ok(mut peers) = self.peers.lock() {
                let _ = peers.insert(address.octets(), self.loopback, 0);
            }
            here
        })
    }

    /// Passes the audio arriving at `socket` on by `route` from now on.
    pub fn write(&self, socket: SocketAddrV4, route: &Route) -> Result<(), String> {
        let k = key(socket);
        // The count first: the program passes nothing on by a route without one.
        self.carried
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .insert(k, route.start.carried(), 0)
            .map_err(|e| e.to_string())?;
        self.table
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .insert(k, route.value(self.loopback), 0)
            .map_err(|e| e.to_string())
    }

    /// How far the route at `socket` has carried its direction (its start if none).
    pub fn progress(&self, socket: SocketAddrV4, route: &Route) -> Progress {
        self.carried
            .lock()
            .ok()
            .and_then(|t| t.get(&key(socket), 0).ok())
            .map_or(route.start, |v| Progress::of(&v))
    }

    /// Takes the route at `socket` out, and says how far it carried its direction. The
    /// route goes first, so that the program passes nothing more on by it; the count is
    /// read after, and only the program writes it, so a packet passed on meanwhile is in
    /// it. (One the program is passing on at that very moment, on another core, may
    /// still be counted after the read: a window of the program's own run, a
    /// microsecond or so.)
    pub fn remove(&self, socket: SocketAddrV4, route: &Route) -> Progress {
        let k = key(socket);
        if let Ok(mut table) = self.table.lock() {
            let _ = table.remove(&k);
        }
        let Ok(mut carried) = self.carried.lock() else {
            return route.start;
        };
        let done = carried.get(&k, 0).map_or(route.start, |v| Progress::of(&v));
        let _ = carried.remove(&k);
        done
    }
}
