//! A map from external identifiers to records kept in one dense vector.
//!
//! The engine looks records up by the identifiers its inputs carry. A hash map that holds
//! the records themselves scatters them by hash, so every lookup of a large table misses
//! the cache, and re-inserting after a removal lands somewhere cold. Here the hash map
//! holds only a small slot number, and a freed slot is reused by the next insert, so a
//! contact that replaces one that just left sits where the cache already is.

use std::hash::Hash;

use rustc_hash::FxHashMap;

#[derive(Debug)]
pub(crate) struct Table<K, V> {
    slot_of: FxHashMap<K, usize>,
    slots: Vec<Option<(K, V)>>,
    /// Freed slots, the most recently freed last (reused first).
    free: Vec<usize>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            slot_of: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash, V> Table<K, V> {
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.slot_of.contains_key(key)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let &slot = self.slot_of.get(key)?;
        self.slots[slot].as_ref().map(|e| &e.1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let &slot = self.slot_of.get(key)?;
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// The slot of a record: valid until the record is removed, and then possibly reused
    /// by another key, so reading through it checks the key (see [`Table::at`]).
    pub fn slot(&self, key: &K) -> Option<usize> {
        self.slot_of.get(key).copied()
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
            _ => *self.slot_of.get(key)?,
        };
        self.slots[slot].as_mut().map(|e| &mut e.1)
    }

    /// Inserts or replaces; returns the replaced record.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(&slot) = self.slot_of.get(&key) {
            return self.slots[slot].replace((key, value)).map(|e| e.1);
        }
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
        self.slot_of.insert(key, slot);
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
