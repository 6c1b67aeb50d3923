//! A map from external identifiers to records kept in one dense vector.
//!
//! The engine looks records up by the identifiers its inputs carry. A hash map that holds
//! the records themselves scatters them by hash, so every lookup of a large table misses
//! the cache, and re-inserting after a removal lands somewhere cold. Here the hash map
//! holds only a small slot number, and a freed slot is reused by the next insert, so a
//! contact that replaces one that just left sits where the cache already is.
//!
//! Agents and queues are numbered densely from small numbers by whoever configures the
//! engine, so their slots are found by indexing a vector with the number itself (see
//! [`Key::direct`]), without hashing; larger numbers, and contacts, go through the hash map.
//!
//! Contact numbers are too large to index with, but they mostly come in rising order and
//! leave a while later, so those live at the same time span a range not much wider than
//! their count. Their slots are kept in a window over that range (see [`Key::seq`]): a
//! contact that arrives is appended at the window's end, where the cache already is, and
//! finding one reads one slot number instead of probing a hash table's control bytes and
//! then its bucket, both cold. A number outside the window goes to the hash map, and so do
//! the oldest numbers when the window grows much wider than their count.
//!
//! Handling one input looks the same few records up many times over (the agent and the
//! contact it concerns), so the table also remembers the slot of the key it found last
//! and answers a repeated lookup without hashing.

use std::cell::Cell;
use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::model::{AgentId, ContactId, QueueId};

/// A key of a [`Table`].
pub(crate) trait Key: Copy + Eq + Hash {
    /// The key's index in the table's direct vector, for keys small enough to have one.
    fn direct(&self) -> Option<usize>;

    /// The key's number, for keys that mostly come in rising order and so are kept in the
    /// table's window (see the module docs).
    fn seq(&self) -> Option<u64> {
        None
    }

    /// The key with number `n`, for keys that have numbers ([`Key::seq`]).
    fn of_seq(_n: u64) -> Option<Self> {
        None
    }
}

/// A number this far or further past the window's end is hashed rather than widening the
/// window by that many empty entries; and the window is trimmed from its oldest end once
/// it is wider than twice its live entries plus this.
const WINDOW_GAP: u64 = 1 << 12;

/// Keys below this are indexed directly (a vector of up to 1 MB of slot numbers).
const DIRECT_LIMIT: u32 = 1 << 18;

impl Key for AgentId {
    fn direct(&self) -> Option<usize> {
        (self.0 < DIRECT_LIMIT).then_some(self.0 as usize)
    }
}

impl Key for QueueId {
    fn direct(&self) -> Option<usize> {
        (self.0 < DIRECT_LIMIT).then_some(self.0 as usize)
    }
}

impl Key for ContactId {
    fn direct(&self) -> Option<usize> {
        None
    }

    fn seq(&self) -> Option<u64> {
        Some(self.0)
    }

    fn of_seq(n: u64) -> Option<Self> {
        Some(ContactId(n))
    }
}

#[derive(Debug)]
pub(crate) struct Table<K: Copy, V> {
    /// Slot plus one of each key that has a direct index (0: none).
    direct: Vec<u32>,
    /// Slot of each other key, none of whose numbers falls within the window.
    slot_of: FxHashMap<K, usize>,
    /// The highest number of a key ever put in `slot_of` since it was last empty: the
    /// window may grow over numbers above it only.
    hashed_high: Option<u64>,
    /// Slot plus one (0: none) of the keys numbered `base`, `base + 1`, … (see
    /// [`Key::seq`]); the first and last entries are never 0.
    window: VecDeque<u32>,
    base: u64,
    /// Entries of `window` that are not 0.
    in_window: usize,
    len: usize,
    slots: Vec<Option<(K, V)>>,
    /// Freed slots, the most recently freed last (reused first).
    free: Vec<usize>,
    /// The key found last and its slot (checked against the slot before use).
    last: Cell<Option<(K, usize)>>,
}

impl<K: Copy, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            direct: Vec::new(),
            slot_of: FxHashMap::default(),
            hashed_high: None,
            window: VecDeque::new(),
            base: 0,
            in_window: 0,
            len: 0,
            slots: Vec::new(),
            free: Vec::new(),
            last: Cell::new(None),
        }
    }
}

impl<K: Key, V> Table<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_some()
    }

    /// The slot holding `key`: the one found last if it still holds it, else hashed for.
    #[inline(always)]
    fn find(&self, key: &K) -> Option<usize> {
        if let Some(i) = key.direct() {
            return match self.direct.get(i) {
                Some(&slot) if slot > 0 => Some(slot as usize - 1),
                _ => None,
            };
        }
        if let Some(i) = self.window_index(key) {
            return match self.window[i] {
                0 => None,
                slot => Some(slot as usize - 1),
            };
        }
        if let Some((k, slot)) = self.last.get()
            && k == *key
            && matches!(self.slots.get(slot), Some(Some((k, _))) if k == key)
        {
            return Some(slot);
        }
        let slot = *self.slot_of.get(key)?;
        self.last.set(Some((*key, slot)));
        Some(slot)
    }

    #[inline(always)]
    pub fn get(&self, key: &K) -> Option<&V> {
        let slot = self.find(key)?;
        self.slots[slot].as_ref().map(|e| &e.1)
    }

    #[inline(always)]
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let slot = self.find(key)?;
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// The index in `window` of `key`'s number, if it falls within the window.
    #[inline(always)]
    fn window_index(&self, key: &K) -> Option<usize> {
        let d = key.seq()?.checked_sub(self.base)?;
        (d < self.window.len() as u64).then_some(d as usize)
    }

    /// Whether the window may grow to take in number `n`: not too far past its end, and
    /// with no hashed key among the numbers it would take in.
    fn window_takes(&self, n: u64) -> bool {
        let end = if self.window.is_empty() {
            n
        } else {
            self.base + self.window.len() as u64
        };
        n >= end && n - end < WINDOW_GAP && self.hashed_high.is_none_or(|h| h < end)
    }

    /// Drops empty entries from both ends of the window.
    fn trim_window(&mut self) {
        while self.window.front() == Some(&0) {
            self.window.pop_front();
            self.base += 1;
        }
        while self.window.back() == Some(&0) {
            self.window.pop_back();
        }
    }

    /// Moves the oldest keys of a window much wider than its live entries (a key that
    /// stays while later ones come and go) to the hash map.
    fn narrow_window(&mut self) {
        while self.window.len() as u64 > 2 * self.in_window as u64 + WINDOW_GAP {
            let Some(slot) = self.window.pop_front() else {
                return;
            };
            let n = self.base;
            self.base += 1;
            if slot > 0
                && let Some(key) = K::of_seq(n)
            {
                self.in_window -= 1;
                self.slot_of.insert(key, slot as usize - 1);
                self.hashed_high = Some(self.hashed_high.map_or(n, |h| h.max(n)));
            }
            self.trim_window();
        }
    }

    /// The slot of a record: valid until the record is removed, and then possibly reused
    /// by another key, so reading through it checks the key (see [`Table::at`]).
    #[inline(always)]
    pub fn slot(&self, key: &K) -> Option<usize> {
        self.find(key)
    }

    /// The record of `key` if it sits in `slot`: no hashing, so a caller that kept the
    /// slot (an index entry) reaches the record with one memory access instead of three.
    #[inline(always)]
    pub fn at(&self, slot: usize, key: &K) -> Option<&V> {
        match self.slots.get(slot)? {
            Some((k, v)) if k == key => Some(v),
            _ => None,
        }
    }

    /// Mutable [`Table::at`].
    #[inline(always)]
    pub fn at_mut(&mut self, slot: usize, key: &K) -> Option<&mut V> {
        match self.slots.get_mut(slot)? {
            Some((k, v)) if k == key => Some(v),
            _ => None,
        }
    }

    /// The record of `key`, looked for in `slot` first (see [`Table::at`]) and hashed for
    /// only when it is not there.
    #[inline(always)]
    pub fn get_mut_hinted(&mut self, slot: usize, key: &K) -> Option<&mut V> {
        let slot = match self.slots.get(slot) {
            Some(Some((k, _))) if k == key => slot,
            _ => self.find(key)?,
        };
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// Inserts or replaces; returns the replaced record.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(i) = key.direct() {
            if let Some(&slot) = self.direct.get(i)
                && slot > 0
            {
                return self.slots[slot as usize - 1]
                    .replace((key, value))
                    .map(|e| e.1);
            }
            let slot = place(&mut self.slots, &mut self.free, key, value);
            self.len += 1;
            if self.direct.len() <= i {
                self.direct.resize(i + 1, 0);
            }
            self.direct[i] = slot as u32 + 1;
            return None;
        }
        if let Some(n) = key.seq() {
            if let Some(i) = self.window_index(&key) {
                if self.window[i] > 0 {
                    let slot = self.window[i] as usize - 1;
                    return self.slots[slot].replace((key, value)).map(|e| e.1);
                }
                let slot = place(&mut self.slots, &mut self.free, key, value);
                self.len += 1;
                self.window[i] = slot as u32 + 1;
                self.in_window += 1;
                return None;
            }
            if self.window_takes(n) {
                if self.window.is_empty() {
                    self.base = n;
                }
                let slot = place(&mut self.slots, &mut self.free, key, value);
                self.len += 1;
                let gap = (n - self.base) as usize - self.window.len();
                if gap > 0 {
                    self.window.resize(self.window.len() + gap, 0);
                }
                self.window.push_back(slot as u32 + 1);
                self.in_window += 1;
                self.narrow_window();
                return None;
            }
        }
        let free = match self.slot_of.entry(key) {
            Entry::Occupied(e) => {
                let slot = *e.get();
                return self.slots[slot].replace((key, value)).map(|e| e.1);
            }
            Entry::Vacant(e) => e,
        };
        let slot = place(&mut self.slots, &mut self.free, key, value);
        self.len += 1;
        free.insert(slot);
        self.last.set(Some((key, slot)));
        if let Some(n) = key.seq() {
            self.hashed_high = Some(self.hashed_high.map_or(n, |h| h.max(n)));
        }
        None
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.unlink(key)?;
        self.slots[slot].take().map(|e| e.1)
    }

    /// Removes the record of `key` after `last` has read what it needs of it in place:
    /// the record is dropped where it is, never moved (a contact's is a few hundred
    /// bytes, so moving it out is a `memcpy`).
    #[inline]
    pub fn remove_with<R>(&mut self, key: &K, last: impl FnOnce(&mut V) -> R) -> Option<R> {
        let slot = self.unlink(key)?;
        let entry = self.slots.get_mut(slot)?;
        let read = entry.as_mut().map(|e| last(&mut e.1));
        *entry = None;
        read
    }

    /// Forgets where the record of `key` is and frees its slot (still holding the
    /// record, for the caller to take or drop); returns the slot.
    fn unlink(&mut self, key: &K) -> Option<usize> {
        let slot = match key.direct() {
            Some(i) => match self.direct.get_mut(i) {
                Some(slot) if *slot > 0 => std::mem::take(slot) as usize - 1,
                _ => return None,
            },
            None => match self.window_index(key) {
                Some(i) => {
                    let slot = std::mem::take(&mut self.window[i]);
                    if slot == 0 {
                        return None;
                    }
                    self.in_window -= 1;
                    if i == 0 || i + 1 == self.window.len() {
                        self.trim_window();
                    }
                    slot as usize - 1
                }
                None => {
                    let slot = self.slot_of.remove(key)?;
                    if self.slot_of.is_empty() {
                        self.hashed_high = None;
                    }
                    slot
                }
            },
        };
        self.len -= 1;
        self.free.push(slot);
        Some(slot)
    }

    /// Every record, in slot order (which depends on the history of inserts and removals,
    /// never on hashing).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|e| e.as_ref().map(|e| (&e.0, &e.1)))
    }
}

/// Puts a new record in the slot freed last (or a new one) and returns the slot.
#[inline(always)]
fn place<K, V>(slots: &mut Vec<Option<(K, V)>>, free: &mut Vec<usize>, key: K, value: V) -> usize {
    match free.pop() {
        Some(slot) => {
            slots[slot] = Some((key, value));
            slot
        }
        None => {
            slots.push(Some((key, value)));
            slots.len() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Removes or inserts `key` in both, then checks that the table reads as the map.
    fn step<K: Key + Ord + std::fmt::Debug>(
        table: &mut Table<K, u64>,
        map: &mut BTreeMap<K, u64>,
        key: K,
        remove: bool,
        value: u64,
    ) {
        if remove && value % 2 == 0 {
            assert_eq!(table.remove(&key), map.remove(&key));
        } else if remove {
            // The same, with the record read in place and dropped there.
            assert_eq!(table.remove_with(&key, |v| *v), map.remove(&key));
        } else {
            assert_eq!(table.insert(key, value), map.insert(key, value));
        }
        assert_eq!(table.len(), map.len());
        assert_eq!(table.get(&key), map.get(&key));
        if let Some(slot) = table.slot(&key) {
            assert_eq!(table.at(slot, &key), map.get(&key));
        }
    }

    #[test]
    fn direct_and_hashed_keys_behave_like_a_map() {
        // Keys on both sides of the direct limit, inserted, replaced and removed in a
        // random order, must read back as from a map; slots are reused the same way.
        let mut table: Table<AgentId, u64> = Table::default();
        let mut map = BTreeMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = AgentId(match x % 3 {
                0 => (x >> 8) as u32 % 50,
                1 => DIRECT_LIMIT - 25 + (x >> 8) as u32 % 50,
                _ => u32::MAX - (x >> 8) as u32 % 50,
            });
            step(&mut table, &mut map, key, (x >> 40) % 3 == 0, i);
        }
        let mut all: Vec<(AgentId, u64)> = table.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        assert!(all.into_iter().eq(map.into_iter()));
    }
    #[test]
    fn numbered_keys_behave_like_a_map_in_and_out_of_the_window() {
        // Mostly rising numbers that leave out of order, with some reused, some far ahead
        // and some that stay for long (so the window is trimmed from its old end).
        let mut table: Table<ContactId, u64> = Table::default();
        let mut map = BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = 1_000u64;
        for i in 0..60_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = ContactId(match x % 10 {
                0..=3 => {
                    next += 1 + (x >> 20) % 3;
                    next
                }
                4..=7 => next.saturating_sub((x >> 8) % 300),
                8 => next.saturating_sub((x >> 8) % 20_000),
                _ => match (x >> 8) % 4 {
                    0 => next + WINDOW_GAP + (x >> 16) % 100,
                    1 => (x >> 16) % 50,
                    2 => u64::MAX - (x >> 16) % 5,
                    _ => next + (x >> 16) % 10,
                },
            });
            step(
                &mut table,
                &mut map,
                key,
                (x >> 40) % 2 == 0 && i % 7 != 0,
                i,
            );
            assert!(table.window.len() as u64 <= 2 * table.in_window as u64 + WINDOW_GAP);
        }
        for (k, v) in &map {
            assert_eq!(table.get(k), Some(v));
        }
        let mut all: Vec<(ContactId, u64)> = table.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        assert!(all.into_iter().eq(map.into_iter()));
        assert!(
            table.in_window > 0 && !table.slot_of.is_empty(),
            "both paths ran"
        );
    }
}
