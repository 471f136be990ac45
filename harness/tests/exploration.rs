//! What an exploration counts: distinct interleavings are executions that differ in some object's
//! order of accessing goroutines, and operations on different objects are independent (loom's DPOR
//! does not order them, and they do not make a new interleaving).

use crate::common::{assert_clean_under, loom};
use harness::go::{self, AtomicUint64};
use harness::memory::CheckedBuf;
use harness::Outcome;

/// Explores `model` exhaustively under loom, asserting it is clean.
fn exhaust(model: fn()) -> Outcome {
    assert_clean_under(&[loom()], model).remove(0)
}

/// Two goroutines add to one atomic each: one interleaving, however loom orders them.
#[test]
fn operations_on_different_objects_are_one_interleaving() {
    let o = exhaust(|| {
        let (a, b) = (AtomicUint64::new(0), AtomicUint64::new(0));
        let g = go::go(move || {
            a.add(1);
        });
        b.add(1);
        g.join();
    });
    assert_eq!(o.distinct, Some(1), "{o}");
}

/// Two goroutines add to the same atomic: two interleavings, one per order.
#[test]
fn two_orders_on_one_object_are_two_interleavings() {
    let o = exhaust(|| {
        let a = AtomicUint64::new(0);
        let a2 = a.clone();
        let g = go::go(move || {
            a2.add(1);
        });
        a.add(1);
        g.join();
    });
    assert_eq!(o.distinct, Some(2), "{o}");
}

fn stores_at(second: usize) {
    let buf = CheckedBuf::new("flags", 16);
    let b = buf.clone();
    let g = go::go(move || b.atomic_store_u32(0, 1));
    buf.atomic_store_u32(second, 1);
    g.join();
}

/// Atomics on different words of one buffer (two rows' used flags) are independent; on one word
/// they are not. A single token per buffer made loom order the first pair too.
#[test]
fn atomics_on_different_words_of_a_buffer_are_independent() {
    let apart = exhaust(|| stores_at(8));
    let same = exhaust(|| stores_at(0));
    assert_eq!((apart.distinct, same.distinct), (Some(1), Some(2)), "{apart}\n{same}");
    assert!(apart.executions < same.executions, "{apart}\n{same}");
}
