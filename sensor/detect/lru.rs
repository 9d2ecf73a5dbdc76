//! An intrusive least-recently-used order over a slab of slots, shared by the flow table and
//! the threshold trackers: each slot carries its [`Links`], the [`Lru`] keeps the most recently
//! used slot at the head and the eviction candidate at the tail. Indices, not pointers: no
//! allocation, no unsafe. Owns only the linking; what a slot holds and when it is evicted is
//! the table's business.

/// "No slot".
pub const NIL: u32 = u32::MAX;

/// A slot's neighbours in the order (`prev` is more recently used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    pub prev: u32,
    pub next: u32,
}

impl Links {
    /// Not in the list.
    pub const NONE: Links = Links {
        prev: NIL,
        next: NIL,
    };
}

/// A slab slot that can be linked.
pub trait Linked {
    fn links(&mut self) -> &mut Links;
}

/// Head (most recently used) and tail (least recently used) of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lru {
    pub head: u32,
    pub tail: u32,
}

impl Default for Lru {
    fn default() -> Self {
        Lru {
            head: NIL,
            tail: NIL,
        }
    }
}

impl Lru {
    /// Takes slot `i` out of the order (its links become [`Links::NONE`]).
    ///
    /// # Panics
    /// If `i` or a neighbour is out of `slots` — the tables keep every index they link valid.
    pub fn unlink<T: Linked>(&mut self, slots: &mut [T], i: u32) {
        let Links { prev, next } = *slots[i as usize].links();
        if prev == NIL {
            self.head = next;
        } else {
            slots[prev as usize].links().next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slots[next as usize].links().prev = prev;
        }
        *slots[i as usize].links() = Links::NONE;
    }

    /// Puts slot `i` (not in the order) at the head.
    ///
    /// # Panics
    /// As [`Lru::unlink`].
    pub fn push_front<T: Linked>(&mut self, slots: &mut [T], i: u32) {
        let old = self.head;
        *slots[i as usize].links() = Links {
            prev: NIL,
            next: old,
        };
        if old == NIL {
            self.tail = i;
        } else {
            slots[old as usize].links().prev = i;
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S(Links);
    impl Linked for S {
        fn links(&mut self) -> &mut Links {
            &mut self.0
        }
    }

    fn order(lru: &Lru, slots: &mut [S]) -> Vec<u32> {
        let mut v = Vec::new();
        let mut i = lru.head;
        while i != NIL {
            v.push(i);
            i = slots[i as usize].links().next;
        }
        v
    }

    #[test]
    fn push_unlink_and_reorder() {
        let mut slots: Vec<S> = (0..4).map(|_| S(Links::NONE)).collect();
        let mut lru = Lru::default();
        for i in 0..4 {
            lru.push_front(&mut slots, i);
        }
        assert_eq!(order(&lru, &mut slots), [3, 2, 1, 0]);
        assert_eq!(lru.tail, 0);
        // Touch 1: to the front.
        lru.unlink(&mut slots, 1);
        lru.push_front(&mut slots, 1);
        assert_eq!(order(&lru, &mut slots), [1, 3, 2, 0]);
        // Evict the tail, then the head.
        lru.unlink(&mut slots, 0);
        assert_eq!((lru.head, lru.tail), (1, 2));
        lru.unlink(&mut slots, 1);
        assert_eq!(order(&lru, &mut slots), [3, 2]);
        lru.unlink(&mut slots, 3);
        lru.unlink(&mut slots, 2);
        assert_eq!(lru, Lru::default());
    }
}
