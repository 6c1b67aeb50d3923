//! Short lists kept inside the record that owns them.
//!
//! An agent's skills, queues, offers and contacts, and the classes a contact waits in,
//! are a handful of items each. As vectors, every one of them is a separate allocation
//! somewhere else in memory, so a decision about an agent that has not been touched for a
//! while (every agent-side decision is about one) misses the cache once for the record
//! and once more for each list. Kept inline, the lists come with the record; a list that
//! outgrows its inline room moves to the heap as a whole and stays there.

use std::fmt;
use std::num::NonZeroU8;
use std::ops::{Deref, DerefMut};

use crate::model::{AgentId, ContactId, LanguageId, Membership, OfferId, QueueId, SkillId};

/// A value to fill unused inline room with (never read as an item).
pub(crate) trait Blank: Copy {
    const BLANK: Self;
}

impl Blank for OfferId {
    const BLANK: Self = OfferId(0);
}

impl Blank for ContactId {
    const BLANK: Self = ContactId(0);
}

impl Blank for LanguageId {
    const BLANK: Self = LanguageId(0);
}

impl Blank for usize {
    const BLANK: Self = 0;
}

impl Blank for (SkillId, u8) {
    const BLANK: Self = (SkillId(0), 0);
}

impl Blank for Membership {
    const BLANK: Self = Membership {
        queue: QueueId(0),
        tier: 0,
        order: 0,
        weight: 0,
    };
}

impl Blank for AgentId {
    const BLANK: Self = AgentId(0);
}

/// A list of up to `N` items inline, more on the heap.
///
/// The heap list is boxed, and the inline length never 0 as stored ([`Len`]), so that the
/// two variants need no tag of their own: a list of two ids takes 24 bytes, not 32 (the
/// agent's record holds several, see `Agent` in the engine).
#[derive(Clone)]
pub(crate) enum Small<T: Blank, const N: usize> {
    /// The items while they fit: the first `len` of `items`.
    Inline { len: Len, items: [T; N] },
    /// Every item once the list has outgrown its inline room.
    #[expect(
        clippy::box_collection,
        reason = "boxed, the vector's three words do not widen the inline variant"
    )]
    Heap(Box<Vec<T>>),
}

/// The length of an inline [`Small`] list, stored plus one: the value 0 is left to mark
/// the heap variant.
#[derive(Clone, Copy)]
pub(crate) struct Len(NonZeroU8);

impl Len {
    const ZERO: Len = Len(NonZeroU8::MIN);

    #[inline(always)]
    fn get(self) -> usize {
        usize::from(self.0.get() - 1)
    }

    /// Length `n`, which is below 255 (see [`Small::default`]).
    #[inline(always)]
    fn of(n: usize) -> Len {
        Len(NonZeroU8::MIN.saturating_add(n as u8))
    }
}

impl<T: Blank, const N: usize> Default for Small<T, N> {
    fn default() -> Self {
        const { assert!(N < 255) };
        Small::Inline {
            len: Len::ZERO,
            items: [T::BLANK; N],
        }
    }
}

impl<T: Blank, const N: usize> Small<T, N> {
    /// Appends an item (inlined: nearly every push fits the inline room).
    #[inline]
    pub fn push(&mut self, item: T) {
        match self {
            Small::Inline { len, items } if len.get() < N => {
                items[len.get()] = item;
                *len = Len::of(len.get() + 1);
            }
            _ => self.push_on_heap(item),
        }
    }

    /// [`Small::push`] onto a list on the heap, or one that moves there now.
    #[cold]
    #[inline(never)]
    fn push_on_heap(&mut self, item: T) {
        match self {
            Small::Heap(heap) => heap.push(item),
            Small::Inline { len, items } => {
                let mut heap = Vec::with_capacity(2 * N.max(1));
                heap.extend_from_slice(&items[..len.get()]);
                heap.push(item);
                *self = Small::Heap(Box::new(heap));
            }
        }
    }

    /// Keeps the items for which `keep` is true, in order.
    #[inline]
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Small::Heap(heap) => heap.retain(keep),
            Small::Inline { len, items } => {
                let mut kept = 0;
                for i in 0..len.get() {
                    let item = items[i];
                    if keep(&item) {
                        items[kept] = item;
                        kept += 1;
                    }
                }
                *len = Len::of(kept);
            }
        }
    }

    /// Empties the list (a heap list keeps its allocation).
    pub fn clear(&mut self) {
        match self {
            Small::Heap(heap) => heap.clear(),
            Small::Inline { len, .. } => *len = Len::ZERO,
        }
    }
}

impl<T: Blank, const N: usize> Deref for Small<T, N> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Small::Heap(heap) => heap,
            Small::Inline { len, items } => &items[..len.get()],
        }
    }
}

impl<T: Blank, const N: usize> DerefMut for Small<T, N> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Small::Heap(heap) => heap,
            Small::Inline { len, items } => &mut items[..len.get()],
        }
    }
}

impl<'a, T: Blank, const N: usize> IntoIterator for &'a Small<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Blank, const N: usize> From<Vec<T>> for Small<T, N> {
    fn from(items: Vec<T>) -> Self {
        if items.len() > N {
            return Small::Heap(Box::new(items));
        }
        let mut list = Small::default();
        for item in items {
            list.push(item);
        }
        list
    }
}

impl<T: Blank + fmt::Debug, const N: usize> fmt::Debug for Small<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lists_behave_like_vectors() {
        let mut small: Small<usize, 3> = Small::default();
        let mut vec: Vec<usize> = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 7 {
                0 => {
                    let v = (x >> 8) as usize % 5;
                    small.retain(|&i| i != v);
                    vec.retain(|&i| i != v);
                }
                1 if x % 13 == 0 => {
                    small.clear();
                    vec.clear();
                }
                _ => {
                    let v = (x >> 8) as usize % 5;
                    small.push(v);
                    vec.push(v);
                }
            }
            if x % 11 == 0 {
                small.iter_mut().for_each(|i| *i += 1);
                vec.iter_mut().for_each(|i| *i += 1);
            }
            assert_eq!(&*small, vec.as_slice());
        }
        let from: Small<usize, 3> = Small::from(vec![1, 2]);
        assert_eq!(&*from, &[1, 2]);
        let from: Small<usize, 3> = Small::from(vec![1, 2, 3, 4]);
        assert_eq!(&*from, &[1, 2, 3, 4]);
    }

    #[test]
    fn the_variants_need_no_tag_of_their_own() {
        assert_eq!(size_of::<Small<OfferId, 2>>(), 24);
        assert_eq!(size_of::<Small<ContactId, 2>>(), 24);
    }
}
