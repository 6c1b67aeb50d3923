//! The media path in the kernel: plain audio between two parties on this host, passed on
//! by a traffic-control program (`bpf/relay.bpf.c`) instead of by a relay thread.
//!
//! A relay thread spends about 5 µs of a core on each packet it relays, nearly all of it
//! in the kernel's UDP path: waking, `recvfrom`, `sendto` and a new packet. The program
//! rewrites the arriving packet where it is (addresses, ports, and the RTP header into the
//! other party's stream) and sends it on: about 1 µs in a probe, and less than half the
//! machine's time per call in the SIP benchmark (BENCHMARKS.md). It runs on the
//! loopback interface, which carries all traffic between this host's own addresses, so it
//! carries conversations whose two parties are on this host (the demo, the tests, the
//! benchmark, a media gateway beside the server). Conversations with a party elsewhere
//! stay with the relay threads.
//!
//! The relay thread decides, per direction, when the kernel may carry a conversation
//! (see [`crate::relay`]): it writes a [`Route`] under the receiving line's socket in
//! the program's table, and takes it out before it hands the lines back to the call's
//! task. Whatever the program does not pass on (key presses, another stream, anyone
//! else's packets) reaches the socket as before.
//!
//! Loading needs the rights to load BPF programs and attach them (root, or `CAP_BPF`
//! with `CAP_NET_ADMIN`) and a build with clang (see `build.rs`). Without either, the
//! server says why once and the relay threads carry everything.
//!
//! Architecture invariant: a route is in the table only while its conversation is lent
//! to a relay thread; the thread takes it out before the lines go back to their task.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Mutex;

/// The table's key: a line's socket (address and port, network order), as the program
/// reads them from the packet.
type Key = [u8; 8];
/// A route, as the program's `struct target` lays it out (see `bpf/relay.bpf.c`).
type Value = [u8; 64];

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

/// No payload type: the route passes nothing on (it is being taken out).
const NONE: u8 = 0xff;

impl Route {
    fn value(&self, ifindex: u32) -> Value {
        let mut v = [0u8; 64];
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
        v[32..36].copy_from_slice(&ifindex.to_ne_bytes());
        v[56..58].copy_from_slice(&self.start.max_seq.to_ne_bytes());
        v[58..60].copy_from_slice(&self.start.max_len.to_ne_bytes());
        v[60..64].copy_from_slice(&self.start.max_ts.to_ne_bytes());
        v
    }
}

impl Progress {
    fn of(v: &Value) -> Progress {
        let u64_at = |i: usize| u64::from_ne_bytes(v[i..i + 8].try_into().unwrap_or_default());
        let u16_at = |i: usize| u16::from_ne_bytes([v[i], v[i + 1]]);
        Progress {
            packets: u64_at(40),
            octets: u64_at(48),
            max_seq: u16_at(56),
            max_len: u16_at(58),
            max_ts: u32::from_ne_bytes([v[60], v[61], v[62], v[63]]),
        }
    }
}

fn key(socket: SocketAddrV4) -> Key {
    let mut k = [0u8; 8];
    k[0..4].copy_from_slice(&socket.ip().octets());
    k[4..6].copy_from_slice(&socket.port().to_be_bytes());
    k
}

/// The loaded program, attached to the loopback interface, and its table.
pub(crate) struct KernelPath {
    table: Mutex<aya::maps::HashMap<aya::maps::MapData, Key, Value>>,
    /// The loopback interface's index, where the program sends packets on.
    ifindex: u32,
    /// Addresses asked about: whether each is this host's.
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
    /// Loads the program and attaches it to the loopback interface's ingress; the reason
    /// if it cannot be.
    pub fn start() -> Result<KernelPath, String> {
        use aya::programs::{SchedClassifier, TcAttachType, tc};
        use aya::util::KernelVersion;
        let object =
            OBJECT.ok_or("this build has none: clang was missing or failed when it was built")?;
        let ifindex = std::fs::read_to_string("/sys/class/net/lo/ifindex")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("no loopback interface")?;
        let mut ebpf = aya::Ebpf::load(object).map_err(|e| format!("cannot load it: {e}"))?;
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
        if !tcx {
            let _ = tc::qdisc_add_clsact("lo");
        }
        program
            .attach("lo", TcAttachType::Ingress)
            .map_err(|e| format!("cannot attach it to lo: {e}"))?;
        let table = ebpf.take_map("lines").ok_or("no table `lines`")?;
        let table = aya::maps::HashMap::try_from(table).map_err(|e| format!("{e}"))?;
        Ok(KernelPath {
            table: Mutex::new(table),
            ifindex,
            local: Mutex::new(HashMap::new()),
            _program: ebpf,
        })
    }

    /// Whether the program sees packets to and from `address`: it is one of this host's
    /// (traffic between them goes through the loopback interface). Asked once per
    /// address: a socket can be bound to it only if it is this host's.
    pub fn reaches(&self, address: Ipv4Addr) -> bool {
        let Ok(mut local) = self.local.lock() else {
            return false;
        };
        *local.entry(address).or_insert_with(|| {
            !address.is_unspecified()
                && (address.is_loopback() || std::net::UdpSocket::bind((address, 0)).is_ok())
        })
    }

    /// Passes the audio arriving at `socket` on by `route` from now on.
    pub fn write(&self, socket: SocketAddrV4, route: &Route) -> Result<(), String> {
        let value = route.value(self.ifindex);
        self.table
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .insert(key(socket), value, 0)
            .map_err(|e| e.to_string())
    }

    /// How far the route at `socket` has carried its direction (its start if none).
    pub fn progress(&self, socket: SocketAddrV4, route: &Route) -> Progress {
        self.table
            .lock()
            .ok()
            .and_then(|t| t.get(&key(socket), 0).ok())
            .map_or(route.start, |v| Progress::of(&v))
    }

    /// Takes the route at `socket` out, and says how far it carried its direction: it
    /// stops passing packets on first, so that none is passed on after it is read. (A
    /// packet the program passes on between that read and the stop is not counted: the
    /// window is a few system calls wide.)
    pub fn remove(&self, socket: SocketAddrV4, route: &Route) -> Progress {
        let Ok(mut table) = self.table.lock() else {
            return route.start;
        };
        let k = key(socket);
        let mut done = route.start;
        if let Ok(v) = table.get(&k, 0) {
            let mut stopped = v;
            stopped[30] = NONE;
            let _ = table.insert(k, stopped, 0);
            if let Ok(v) = table.get(&k, 0) {
                done = Progress::of(&v);
            }
        }
        let _ = table.remove(&k);
        done
    }
}
