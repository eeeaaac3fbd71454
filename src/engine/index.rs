//! Lean indexes for a million objects: a hash table that stores only object numbers (the keys
//! are read back from the objects), and duplicate detection by sorting hashes.
//!
//! A `HashMap<&str, Vec<usize>>` costs ~40 bytes a slot plus a vector per key; these cost
//! 8 bytes a slot, which keeps a million-identity plan in memory and in cache.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

/// Hash of text compared without case, the same however the text is split into `parts`
/// (`["jdoe", "@", "example.com"]` hashes as `"JDoe@Example.com"`).
pub(crate) fn ci_hash(parts: &[&str]) -> u64 {
    let mut stack = [0u8; 256];
    let mut heap: Vec<u8> = Vec::new();
    let mut len = 0;
    let mut push = |b: &[u8]| {
        if heap.is_empty() && len + b.len() <= stack.len() {
            stack[len..len + b.len()].copy_from_slice(b);
            len += b.len();
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack[..len]);
            }
            heap.extend_from_slice(b);
        }
    };
    for part in parts {
        if part.is_ascii() {
            for chunk in part.as_bytes().chunks(64) {
                let mut lower = [0u8; 64];
                let lower = &mut lower[..chunk.len()];
                lower.copy_from_slice(chunk);
                lower.make_ascii_lowercase();
                push(lower);
            }
        } else {
            let mut utf8 = [0u8; 4];
            for c in part.chars().flat_map(char::to_lowercase) {
                push(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    let bytes: &[u8] = if heap.is_empty() {
        &stack[..len]
    } else {
        &heap
    };
    FixedState::default().hash_one(bytes)
}

/// Hash of bytes compared exactly.
pub(crate) fn exact_hash(bytes: &[u8]) -> u64 {
    FixedState::default().hash_one(bytes)
}

/// 32 bits kept per entry; spread back to 64 for the table (it uses the top bits too).
fn short(hash: u64) -> u32 {
    (hash >> 32) as u32 ^ hash as u32
}

fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Object numbers by key hash. Several objects may share a key; lookups return candidates
/// whose hash matches, which the caller checks against the real key.
#[derive(Default)]
pub(crate) struct HashIndex {
    table: HashTable<(u32, u32)>,
}

impl HashIndex {
    pub(crate) fn with_capacity(n: usize) -> Self {
        HashIndex {
            table: HashTable::with_capacity(n),
        }
    }

    pub(crate) fn insert(&mut self, hash: u64, object: usize) {
        let h = short(hash);
        // Cannot fail: 2^32 objects would need hundreds of GB in memory (snapshots are below 4 GiB); memory runs out first.
        let object = u32::try_from(object).expect("fewer than 4 billion objects");
        self.table
            .insert_unique(spread(h), (object, h), |&(_, h)| spread(h));
    }

    /// Objects filed under `hash`, in no particular order.
    pub(crate) fn candidates(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let h = short(hash);
        self.table
            .iter_hash(spread(h))
            .filter(move |(_, stored)| *stored == h)
            .map(|&(object, _)| object as usize)
    }
}

/// Groups of entries that share a key: sorts `entries` (hash, object, tag) by hash and splits
/// each run of equal hashes by `same_key`. Only groups holding two or more different objects
/// are returned. Linear-log in the number of entries, no hash table.
pub(crate) fn shared_keys<T: Copy>(
    mut entries: Vec<(u64, u32, T)>,
    same_key: impl Fn(&(u64, u32, T), &(u64, u32, T)) -> bool,
) -> Vec<Vec<(u32, T)>> {
    entries.sort_unstable_by_key(|e| (e.0, e.1));
    let mut groups = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = start + 1;
        while end < entries.len() && entries[end].0 == entries[start].0 {
            end += 1;
        }
        // Entries are sorted by object within a hash: a run of one object's values is no group.
        if end - start > 1 && entries[start].1 != entries[end - 1].1 {
            // Usually one key per run; a hash collision splits it.
            let mut run: Vec<(u64, u32, T)> = entries[start..end].to_vec();
            while let Some(first) = run.first().copied() {
                let (same, rest): (Vec<_>, Vec<_>) =
                    run.into_iter().partition(|e| same_key(&first, e));
                let mut objects: Vec<u32> = same.iter().map(|e| e.1).collect();
                objects.dedup();
                if objects.len() > 1 {
                    groups.push(same.iter().map(|e| (e.1, e.2)).collect());
                }
                run = rest;
            }
        }
        start = end;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_hash_ignores_case_and_splitting() {
        assert_eq!(
            ci_hash(&["JDoe@Example.com"]),
            ci_hash(&["jdoe", "@", "EXAMPLE.COM"])
        );
        assert_eq!(ci_hash(&["Ärger"]), ci_hash(&["ärger"]));
        assert_ne!(ci_hash(&["a"]), ci_hash(&["b"]));
        let long = "x".repeat(300);
        assert_eq!(ci_hash(&[&long]), ci_hash(&[&long[..100], &long[100..]]));
    }

    #[test]
    fn index_returns_every_object_under_a_key() {
        let mut ix = HashIndex::with_capacity(0);
        for i in 0..1000 {
            ix.insert(ci_hash(&[&format!("k{}", i % 500)]), i);
        }
        let mut got: Vec<usize> = ix.candidates(ci_hash(&["K7"])).collect();
        got.sort();
        assert_eq!(got, vec![7, 507]);
        assert_eq!(ix.candidates(ci_hash(&["nope"])).count(), 0);
    }

    #[test]
    fn shared_keys_groups_only_different_objects() {
        let e = vec![
            (1, 0, 'a'),
            (2, 1, 'b'),
            (1, 2, 'c'),
            (1, 2, 'd'),
            (3, 3, 'e'),
            (3, 3, 'f'),
        ];
        let groups = shared_keys(e, |_, _| true);
        assert_eq!(groups, vec![vec![(0, 'a'), (2, 'c'), (2, 'd')]]);
    }
}
