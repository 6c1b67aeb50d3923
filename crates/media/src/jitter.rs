//! A small reorder buffer for received RTP packets, keyed by sequence number.
//!
//! Sequence numbers are 16 bits and wrap; the buffer extends them to 64 bits relative to
//! the highest one seen (RFC 3550 appendix A.1), so 65535 is followed by 0. It holds at
//! most `depth` packets: a packet is released as soon as it is the next one due, or, when
//! one is missing, once `depth` packets wait behind the hole (the missing one is then
//! given up as lost). Packets older than the last released one (late) and packets already
//! held (duplicates) are dropped. A jump of more than 3000 ahead or 100 behind is taken as
//! a stray packet, unless the packet after it follows on, which means the sender restarted
//! its sequence: the buffer then resynchronises on the new numbers.

use std::collections::BTreeMap;

/// Largest jump ahead still taken as the same sequence (RFC 3550 `MAX_DROPOUT`).
const MAX_DROPOUT: i64 = 3000;
/// Largest step back still taken as reordering (RFC 3550 `MAX_MISORDER`).
const MAX_MISORDER: i64 = 100;

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Held until its turn.
    Queued,
    /// Dropped: it was due before the last released packet.
    Late,
    /// Dropped: the same sequence number is already held.
    Duplicate,
    /// Dropped: too far from the current sequence; kept in mind in case the sender
    /// restarted.
    Stray,
    /// The sender restarted its sequence: everything held was dropped and the buffer
    /// started again with this packet.
    Resynced,
}

/// Counters for call-quality reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets released by [`JitterBuffer::pop`].
    pub released: u64,
    /// Sequence numbers given up as lost.
    pub lost: u64,
    /// Packets dropped as late.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicates: u64,
}

/// A reorder buffer of at most `depth` packets of type `T`.
///
/// Driving contract: [`push`](Self::push) each received packet, then
/// [`pop`](Self::pop) until it returns `None`; at the end of the stream,
/// [`flush`](Self::flush) releases what is left.
#[derive(Debug, Clone)]
pub struct JitterBuffer<T> {
    depth: usize,
    held: BTreeMap<u64, (u16, T)>,
    /// Extended number of the next packet due; `None` before the first packet.
    next: Option<u64>,
    /// Highest extended number seen.
    highest: u64,
    /// Extended number that would confirm a restart after a stray packet.
    probe: Option<u16>,
    stats: JitterStats,
}

impl<T> JitterBuffer<T> {
    /// Default depth: 3 packets (60 ms of 20 ms packets).
    pub const DEFAULT_DEPTH: usize = 3;

    /// A buffer that holds at most `depth` packets (at least 1).
    pub fn new(depth: usize) -> Self {
        JitterBuffer {
            depth: depth.max(1),
            held: BTreeMap::new(),
            next: None,
            highest: 0,
            probe: None,
            stats: JitterStats::default(),
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Offers one received packet.
    pub fn push(&mut self, seq: u16, packet: T) -> Pushed {
        let Some(next) = self.next else {
            // Start far from zero so that extended numbers never go below it.
            let ext = (1u64 << 32) + u64::from(seq);
            self.start(ext, seq, packet);
            return Pushed::Queued;
        };
        let delta = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        let ext = self.highest.wrapping_add_signed(delta);
        let ahead = ext as i64 - next as i64;
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&ahead) {
            if self.probe == Some(seq) {
                self.held.clear();
                self.probe = None;
                self.start(self.highest.wrapping_add_signed(delta), seq, packet);
                return Pushed::Resynced;
            }
            self.probe = Some(seq.wrapping_add(1));
            return Pushed::Stray;
        }
        self.probe = None;
        if ext < next {
            self.stats.late += 1;
            return Pushed::Late;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.highest = self.highest.max(ext);
        self.held.insert(ext, (seq, packet));
        // Never hold more than `depth`: if the caller did not pop, give up the oldest
        // packet (and any hole before it) as lost.
        while self.held.len() > self.depth {
            if let Some((oldest, _)) = self.held.pop_first() {
                // Held packets are never older than the next one due.
                let due = self.next.unwrap_or(oldest);
                self.stats.lost += (oldest + 1).saturating_sub(due);
                self.next = Some(oldest + 1);
            }
        }
        Pushed::Queued
    }

    /// Takes a packet that needs no buffering, the common case: the first packet, or the
    /// next one due while nothing is held. Answers whether it did; if not, nothing
    /// changed and the packet goes through [`push`](Self::push).
    pub fn pass(&mut self, seq: u16) -> bool {
        let Some(next) = self.next else {
            let ext = (1u64 << 32) + u64::from(seq);
            self.next = Some(ext + 1);
            self.highest = ext;
            self.stats.released += 1;
            return true;
        };
        let delta = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        let ext = self.highest.wrapping_add_signed(delta);
        if !self.held.is_empty() || ext != next {
            return false;
        }
        self.probe = None;
        self.highest = self.highest.max(ext);
        self.next = Some(ext + 1);
        self.stats.released += 1;
        true
    }

    /// The packets before `next` were passed on elsewhere (by the kernel's media path),
    /// in order as far as this buffer knows: `next` is the one due now. Anything held is
    /// kept, and given up as lost or late by the usual rules.
    pub fn resume(&mut self, next: u16) {
        let last = next.wrapping_sub(1);
        let ext = match self.next {
            None => (1u64 << 32) + u64::from(last),
            Some(_) => {
                let delta = i64::from(last.wrapping_sub(self.highest as u16) as i16);
                self.highest.wrapping_add_signed(delta)
            }
        };
        if self.next.is_none_or(|n| ext + 1 > n) {
            self.highest = self.highest.max(ext);
            self.next = Some(ext + 1);
            self.probe = None;
        }
    }

    fn start(&mut self, ext: u64, seq: u16, packet: T) {
        self.next = Some(ext);
        self.highest = ext;
        self.held.insert(ext, (seq, packet));
    }

    /// The next packet in order, with its sequence number, if it is due: it is the next
    /// number, or `depth` packets wait behind a hole.
    pub fn pop(&mut self) -> Option<(u16, T)> {
        let next = self.next?;
        let (&first, _) = self.held.first_key_value()?;
        if first != next && self.held.len() < self.depth {
            return None;
        }
        self.release()
    }

    /// Releases everything held, in order (end of stream).
    pub fn flush(&mut self) -> Vec<(u16, T)> {
        std::iter::from_fn(|| self.release()).collect()
    }

    fn release(&mut self) -> Option<(u16, T)> {
        let (ext, packet) = self.held.pop_first()?;
        if self.held.is_empty() {
            // An empty map keeps its node (hundreds of bytes) for good; packets are held
            // only now and then, and a call lasts long.
            self.held = BTreeMap::new();
        }
        if let Some(next) = self.next {
            self.stats.lost += ext.saturating_sub(next);
        }
        self.next = Some(ext + 1);
        self.stats.released += 1;
        Some(packet)
    }
}

/// Reorder buffers for the streams (SSRCs) of one peer, which may send key presses as a
/// stream of their own, interleaved with its audio. At most [`Streams::MAX`] are kept; a
/// new one replaces the one started longest ago.
#[derive(Debug, Clone)]
pub struct Streams<T> {
    depth: usize,
    lines: Vec<(u32, JitterBuffer<T>)>,
}

impl<T> Streams<T> {
    /// Streams kept at once.
    pub const MAX: usize = 4;

    /// Buffers of `depth` packets each (see [`JitterBuffer::new`]).
    pub fn new(depth: usize) -> Self {
        Streams {
            depth,
            lines: Vec::new(),
        }
    }

    /// Offers one received packet of stream `ssrc`.
    pub fn push(&mut self, ssrc: u32, seq: u16, packet: T) -> Pushed {
        self.line(ssrc).push(seq, packet)
    }

    /// Takes a packet of stream `ssrc` that needs no buffering (see
    /// [`JitterBuffer::pass`]): the caller handles it at once, without handing it over.
    pub fn pass(&mut self, ssrc: u32, seq: u16) -> bool {
        self.line(ssrc).pass(seq)
    }

    /// Stream `ssrc`'s packets before `next` were passed on elsewhere (see
    /// [`JitterBuffer::resume`]).
    pub fn resume(&mut self, ssrc: u32, next: u16) {
        self.line(ssrc).resume(next);
    }

    fn line(&mut self, ssrc: u32) -> &mut JitterBuffer<T> {
        let i = match self.lines.iter().position(|(s, _)| *s == ssrc) {
            Some(i) => i,
            None => {
                if self.lines.len() == Self::MAX {
                    self.lines.remove(0);
                }
                // Most peers send one stream: room for one at a time, not the four a
                // vector first makes.
                self.lines.reserve_exact(1);
                self.lines.push((ssrc, JitterBuffer::new(self.depth)));
                self.lines.len() - 1
            }
        };
        &mut self.lines[i].1
    }

    /// The next packet due, of any stream.
    pub fn pop(&mut self) -> Option<T> {
        self.lines
            .iter_mut()
            .find_map(|(_, line)| line.pop().map(|(_, packet)| packet))
    }

    /// No packet of any stream is held.
    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|(_, line)| line.is_empty())
    }
}

impl<T> Default for Streams<T> {
    fn default() -> Self {
        Self::new(JitterBuffer::<T>::DEFAULT_DEPTH)
    }
}

impl<T> Default for JitterBuffer<T> {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DEPTH)
    }
}
