//! A map from external identifiers to records kept in one dense vector.
//!
//! The engine looks records up by the identifiers its inputs carry. A hash map that holds
//! the records themselves scatters them by hash, so every lookup of a large table misses
//! the cache, and re-inserting after a removal lands somewhere cold. Here the hash map
//! holds only a small slot number, and a freed slot is reused by the next insert, so a
//! contact that replaces one that just left sits where the cache already is.
//!
//! Handling one input looks the same few records up many times over (the agent and the
//! contact it concerns), so the table also remembers the slot of the key it found last
//! and answers a repeated lookup without hashing.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::FxHashMap;

#[derive(Debug)]
pub(crate) struct Table<K: Copy, V> {
    slot_of: FxHashMap<K, usize>,
    slots: Vec<Option<(K, V)>>,
    /// Freed slots, the most recently freed last (reused first).
    free: Vec<usize>,
    /// The key found last and its slot (checked against the slot before use).
    last: Cell<Option<(K, usize)>>,
}

impl<K: Copy, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            slot_of: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            last: Cell::new(None),
        }
    }
}

impl<K: Copy + Eq + Hash, V> Table<K, V> {
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_some()
    }

    /// The slot holding `key`: the one found last if it still holds it, else hashed for.
    fn find(&self, key: &K) -> Option<usize> {
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

    pub fn get(&self, key: &K) -> Option<&V> {
        let slot = self.find(key)?;
        self.slots[slot].as_ref().map(|e| &e.1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let slot = self.find(key)?;
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// The slot of a record: valid until the record is removed, and then possibly reused
    /// by another key, so reading through it checks the key (see [`Table::at`]).
    pub fn slot(&self, key: &K) -> Option<usize> {
        self.find(key)
    }

    /// The record of `key` if it sits in `slot`: no hashing, so a caller that kept the
    /// slot (an index entry) reaches the record with one memory access instead of three.
    pub fn at(&self, slot: usize, key: &K) -> Option<&V> {
        match self.slots.get(slot)? {
            Some((k, v)) if k == key => Some(v),
            _ => None,
        }
    }

    /// Mutable [`Table::at`].
    pub fn at_mut(&mut self, slot: usize, key: &K) -> Option<&mut V> {
        match self.slots.get_mut(slot)? {
            Some((k, v)) if k == key => Some(v),
            _ => None,
        }
    }

    /// The record of `key`, looked for in `slot` first (see [`Table::at`]) and hashed for
    /// only when it is not there.
    pub fn get_mut_hinted(&mut self, slot: usize, key: &K) -> Option<&mut V> {
        let slot = match self.slots.get(slot) {
            Some(Some((k, _))) if k == key => slot,
            _ => self.find(key)?,
        };
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// Inserts or replaces; returns the replaced record.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let free = match self.slot_of.entry(key) {
            Entry::Occupied(e) => {
                let slot = *e.get();
                return self.slots[slot].replace((key, value)).map(|e| e.1);
            }
            Entry::Vacant(e) => e,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some((key, value));
                slot
            }
            None => {
                self.slots.push(Some((key, value)));
                self.slots.len() - 1
            }
        };
        free.insert(slot);
        self.last.set(Some((key, slot)));
        None
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.slot_of.remove(key)?;
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
