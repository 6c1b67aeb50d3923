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
//! Handling one input looks the same few records up many times over (the agent and the
//! contact it concerns), so the table also remembers the slot of the key it found last
//! and answers a repeated lookup without hashing.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::model::{AgentId, ContactId, QueueId};

/// A key of a [`Table`].
pub(crate) trait Key: Copy + Eq + Hash {
    /// The key's index in the table's direct vector, for keys small enough to have one.
    fn direct(&self) -> Option<usize>;
}

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
        // Contact numbers come from the channel edges and only grow: always hashed.
        None
    }
}

#[derive(Debug)]
pub(crate) struct Table<K: Copy, V> {
    /// Slot plus one of each key that has a direct index (0: none).
    direct: Vec<u32>,
    /// Slot of each other key.
    slot_of: FxHashMap<K, usize>,
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
        None
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = match key.direct() {
            Some(i) => match self.direct.get_mut(i) {
                Some(slot) if *slot > 0 => std::mem::take(slot) as usize - 1,
                _ => return None,
            },
            None => self.slot_of.remove(key)?,
        };
        self.len -= 1;
        self.free.push(slot);
        self.slots[slot].take().map(|e| e.1)
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
    use super::*;

    #[test]
    fn direct_and_hashed_keys_behave_like_a_map() {
        // Keys on both sides of the direct limit, inserted, replaced and removed in a
        // random order, must read back as from a map; slots are reused the same way.
        let mut table: Table<AgentId, u64> = Table::default();
        let mut map = std::collections::BTreeMap::new();
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
            if (x >> 40) % 3 == 0 {
                assert_eq!(table.remove(&key), map.remove(&key));
            } else {
                assert_eq!(table.insert(key, i), map.insert(key, i));
            }
            assert_eq!(table.len(), map.len());
            assert_eq!(table.get(&key), map.get(&key));
            if let Some(slot) = table.slot(&key) {
                assert_eq!(table.at(slot, &key), map.get(&key));
            }
        }
        let mut all: Vec<(AgentId, u64)> = table.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        assert!(all.into_iter().eq(map.into_iter()));
    }
}
