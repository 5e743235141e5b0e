//! The hash table of groups: keys and states in one vector, found through a table of indices
//! hashed from the borrowed key.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

/// Every table hashes with the same seed: partial states carry their key's hash from the
/// table of one split to the partition and the table they are merged in.
const SEED: u64 = 0x5eed_a9ed_0c7a_11ed;

use super::GroupKey;

/// Groups and their states.
pub struct GroupTable<K, S> {
    index: HashTable<u32>,
    /// (hash, key, state) per group, in the order groups were first seen.
    groups: Vec<(u64, K, S)>,
    hasher: FixedState,
    /// Bytes the keys hold on the heap.
    key_heap: usize,
}

impl<K: GroupKey, S> Default for GroupTable<K, S> {
    fn default() -> Self {
        Self {
            index: HashTable::new(),
            groups: Vec::new(),
            hasher: FixedState::with_seed(SEED),
            key_heap: 0,
        }
    }
}

impl<K: GroupKey, S> GroupTable<K, S> {
    /// A table with room for `groups` groups before it grows.
    pub fn with_capacity(groups: usize) -> Self {
        Self {
            index: HashTable::with_capacity(groups),
            groups: Vec::with_capacity(groups),
            ..Self::default()
        }
    }

    /// Bytes a table holds per group (without keys' heap bytes).
    pub fn bytes_per_group() -> usize {
        std::mem::size_of::<(u64, K, S)>() + std::mem::size_of::<u32>() + 1
    }

    /// The hash of a borrowed key (the same for every table).
    #[inline(always)]
    pub fn hash(&self, key: K::Ref<'_>) -> u64 {
        let mut state = self.hasher.build_hasher();
        K::hash_ref(key, &mut state);
        std::hash::Hasher::finish(&state)
    }

    /// The state of `key`'s group, made with `init` when the group is new.
    #[inline(always)]
    pub fn entry(&mut self, key: K::Ref<'_>, init: impl FnOnce() -> S) -> &mut S {
        let at = self.position(key, init);
        &mut self.groups[at].2
    }

    /// Where `key`'s group is, inserted with `init`'s state when new.
    #[inline(always)]
    fn position(&mut self, key: K::Ref<'_>, init: impl FnOnce() -> S) -> usize {
        let hash = self.hash(key);
        let groups = &self.groups;
        let found = self
            .index
            .find(hash, |&i| groups[i as usize].1.equals(key))
            .copied();
        match found {
            Some(at) => at as usize,
            None => self.insert(hash, K::to_owned(key), init()),
        }
    }

    /// The state of `key`'s group, found through `slot` when it holds the group's index (a
    /// per-block cache indexed by dictionary value), else looked up and remembered there.
    #[inline(always)]
    pub fn entry_cached<'k>(
        &mut self,
        slot: &mut u32,
        key: impl FnOnce() -> K::Ref<'k>,
        init: impl FnOnce() -> S,
    ) -> &mut S {
        if *slot == u32::MAX {
            *slot = self.position(key(), init) as u32;
        }
        &mut self.groups[*slot as usize].2
    }

    /// Merge `state` into `key`'s group (a partial state from elsewhere).
    pub fn merge(&mut self, hash: u64, key: K, state: S, merge: impl FnOnce(&mut S, S)) {
        let groups = &self.groups;
        let borrowed = key.borrow();
        let found = self
            .index
            .find(hash, |&i| groups[i as usize].1.equals(borrowed))
            .copied();
        match found {
            Some(at) => merge(&mut self.groups[at as usize].2, state),
            None => {
                self.insert(hash, key, state);
            }
        }
    }

    #[cold]
    fn insert(&mut self, hash: u64, key: K, state: S) -> usize {
        let at = self.groups.len();
        self.key_heap += key.heap_bytes();
        self.groups.push((hash, key, state));
        let groups = &self.groups;
        self.index
            .insert_unique(hash, at as u32, |&i| groups[i as usize].0);
        at
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Bytes the table holds (states' own heap allocations are not counted).
    pub fn bytes(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<(u64, K, S)>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.key_heap
    }

    /// Take every group out: (hash, key, state), in the order first seen.
    pub fn drain(&mut self) -> Vec<(u64, K, S)> {
        self.index.clear();
        self.key_heap = 0;
        std::mem::take(&mut self.groups)
    }
}
