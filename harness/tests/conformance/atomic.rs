//! `src/runtime/race/testdata/atomic_test.go`: Load acquires, Store releases, Add/Swap/CAS acquire
//! and release, a failed CAS acquires; an atomic and a plain access to the same bytes race.
//!
//! Both the typed atomics (`AtomicInt32`, …) and `CheckedBuf`'s atomic operations are used; only
//! the latter live in checked memory, so the atomic-versus-plain cases use `CheckedBuf`.
#![allow(non_snake_case)]

use super::{assert_object, assert_overlap, assert_write_write};
use crate::common::{assert_clean, assert_race};
use harness::go::{self, AtomicInt32, AtomicInt64, AtomicUint64, Chan};
use harness::memory::{CheckedBuf, CheckedField};
use harness::report::{AccessKind, RaceReport};

/// Go's adjacent `var x1, x2 int8`, as bytes 0 and 1 of one buffer: the cases then also check that
/// a write of one byte does not conflict with its neighbour.
fn x1_x2() -> CheckedBuf {
    let x = CheckedBuf::new("x1,x2", 2);
    x.label_region(0, 1, "x1");
    x.label_region(1, 1, "x2");
    x
}

/// Two goroutines each write their own int8, add 1 to `s`, and if the add returned `cross_at`
/// write the other goroutine's int8.
fn add_and_cross_write<A: Clone + Send + 'static>(s: A, add: fn(&A) -> i64, cross_at: i64) {
    let x = x1_x2();
    let ch = Chan::<bool>::new("ch", 2);
    for (own, other) in [(0, 1), (1, 0)] {
        let (x, s, ch) = (x.clone(), s.clone(), ch.clone());
        go::go(move || {
            x.write_u8(own, 1);
            if add(&s) == cross_at {
                x.write_u8(other, 1);
            }
            ch.send(true);
        });
    }
    ch.recv();
    ch.recv();
}

/// The second adder acquires the first one's release before writing the first one's variable.
#[test]
fn TestNoRaceAtomicAddInt64() {
    assert_clean(|| add_and_cross_write(AtomicInt64::new(0), |s| s.add(1), 2));
}

/// The first adder writes the other's variable having acquired nothing from it.
#[test]
fn TestRaceAtomicAddInt64() {
    let reports = assert_race(|| add_and_cross_write(AtomicInt64::new(0), |s| s.add(1), 1));
    assert_object(&reports, "x1,x2");
    assert_write_write(&reports);
    for r in &reports {
        assert_eq!(r.current.size, 1, "{r}");
        let region = r.region.as_ref().expect("a labelled byte");
        assert!(region.0 == "x1" || region.0 == "x2", "{r}");
    }
}

#[test]
fn TestNoRaceAtomicAddInt32() {
    assert_clean(|| add_and_cross_write(AtomicInt32::new(0), |s| s.add(1).into(), 2));
}

// ---- spin until the atomic says the write happened ----

/// `x = 2` then `publish`, against `for !observe() { Gosched() }` then `x = 1`.
fn publish_then_spin<S: Clone + Send + 'static>(s: S, publish: fn(&S), observe: fn(&S) -> bool) {
    let x = CheckedField::new("x", 0i64);
    let g = {
        let (x, s) = (x.clone(), s.clone());
        go::go(move || {
            x.set(2);
            publish(&s);
        })
    };
    while !observe(&s) {
        go::yield_now();
    }
    x.set(1);
    g.join();
}

#[test]
fn TestNoRaceAtomicLoadAddInt32() {
    assert_clean(|| {
        publish_then_spin(
            AtomicInt32::new(0),
            |s| {
                s.add(1);
            },
            |s| s.load() == 1,
        )
    });
}

/// With `CheckedBuf`'s 32-bit atomics at offset 0.
#[test]
fn TestNoRaceAtomicLoadStoreInt32() {
    assert_clean(|| {
        publish_then_spin(CheckedBuf::new("s", 4), |s| s.atomic_store_u32(0, 1), |s| s.atomic_load_u32(0) == 1)
    });
}

#[test]
fn TestNoRaceAtomicStoreCASInt32() {
    assert_clean(|| publish_then_spin(AtomicInt32::new(0), |s| s.store(1), |s| s.compare_and_swap(1, 0)));
}

#[test]
fn TestNoRaceAtomicCASLoadInt32() {
    assert_clean(|| publish_then_spin(AtomicInt32::new(0), |s| assert!(s.compare_and_swap(0, 1)), |s| s.load() == 1));
}

/// With `CheckedBuf`'s 32-bit CAS at offset 0.
#[test]
fn TestNoRaceAtomicCASCASInt32() {
    assert_clean(|| {
        publish_then_spin(
            CheckedBuf::new("s", 4),
            |s| assert!(s.atomic_cas_u32(0, 0, 1)),
            |s| s.atomic_cas_u32(0, 1, 0),
        )
    });
}

/// The loser's failed CAS acquires the winner's successful one before writing the winner's
/// variable. `s` is a `CheckedBuf` word; x1 and x2 are adjacent bytes.
#[test]
fn TestNoRaceAtomicCASCASInt32_2() {
    assert_clean(|| {
        let x = x1_x2();
        let s = CheckedBuf::new("s", 4);
        let ch = Chan::<bool>::new("ch", 2);
        for (own, other) in [(0, 1), (1, 0)] {
            let (x, s, ch) = (x.clone(), s.clone(), ch.clone());
            go::go(move || {
                x.write_u8(own, 1);
                if !s.atomic_cas_u32(0, 0, 1) {
                    x.write_u8(other, 1);
                }
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
}

/// `var x int32` here.
#[test]
fn TestNoRaceAtomicLoadInt64() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i32);
        let s = AtomicInt64::new(0);
        let g = {
            let (x, s) = (x.clone(), s.clone());
            go::go(move || {
                x.set(2);
                s.add(1);
            })
        };
        while s.load() != 1 {
            go::yield_now();
        }
        x.set(1);
        g.join();
    });
}

/// With `CheckedBuf`'s 64-bit CAS.
#[test]
fn TestNoRaceAtomicCASCASUInt64() {
    assert_clean(|| {
        publish_then_spin(
            CheckedBuf::new("s", 8),
            |s| assert!(s.atomic_cas_u64(0, 0, 1)),
            |s| s.atomic_cas_u64(0, 1, 0),
        )
    });
}

/// Go stores and loads an `unsafe.Pointer` to `y`; the harness has no atomic pointer, so the
/// pointer is `y`'s address in an `AtomicUint64` (StorePointer/LoadPointer are 64-bit atomics).
#[test]
fn TestNoRaceAtomicLoadStorePointer() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let s = AtomicUint64::new(0);
        let y = CheckedField::new("y", 2i64);
        let p = y.addr();
        let g = {
            let (x, s) = (x.clone(), s.clone());
            go::go(move || {
                x.set(2);
                s.store(p);
            })
        };
        while s.load() != p {
            go::yield_now();
        }
        x.set(1);
        g.join();
    });
}

/// With `CheckedBuf`'s 64-bit store and CAS.
#[test]
fn TestNoRaceAtomicStoreCASUint64() {
    assert_clean(|| {
        publish_then_spin(CheckedBuf::new("s", 8), |s| s.atomic_store_u64(0, 1), |s| s.atomic_cas_u64(0, 1, 0))
    });
}

// ---- an atomic and a plain access to the same word ----

/// Asserts each report pairs an atomic `atomic_kind` with a plain `plain_kind` on all 8 bytes of `a`.
#[track_caller]
fn assert_atomic_vs_plain(reports: &[RaceReport], atomic_kind: AccessKind, plain_kind: AccessKind) {
    assert_object(reports, "a");
    assert_overlap(reports, 0..8);
    for r in reports {
        let (atomic, plain) = if r.current.atomic { (&r.current, &r.previous) } else { (&r.previous, &r.current) };
        assert!(atomic.atomic && !plain.atomic, "{r}");
        assert_eq!((atomic.kind, plain.kind), (atomic_kind, plain_kind), "{r}");
        assert_eq!((atomic.goroutine, plain.goroutine), (2, 1), "{r}");
    }
}

#[test]
fn TestRaceAtomicStoreLoad() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 0);
        let a = CheckedBuf::new("a", 8);
        {
            let (c, a) = (c.clone(), a.clone());
            go::go(move || {
                a.atomic_store_u64(0, 1);
                c.send(true);
            });
        }
        let _ = a.read_u64(0);
        c.recv();
    });
    assert_atomic_vs_plain(&reports, AccessKind::Write, AccessKind::Read);
}

#[test]
fn TestRaceAtomicLoadStore() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 0);
        let a = CheckedBuf::new("a", 8);
        {
            let (c, a) = (c.clone(), a.clone());
            go::go(move || {
                let _ = a.atomic_load_u64(0);
                c.send(true);
            });
        }
        a.write_u64(0, 1);
        c.recv();
    });
    assert_atomic_vs_plain(&reports, AccessKind::Read, AccessKind::Write);
}

#[test]
fn TestRaceAtomicAddLoad() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 0);
        let a = CheckedBuf::new("a", 8);
        {
            let (c, a) = (c.clone(), a.clone());
            go::go(move || {
                a.atomic_add_u64(0, 1);
                c.send(true);
            });
        }
        let _ = a.read_u64(0);
        c.recv();
    });
    assert_atomic_vs_plain(&reports, AccessKind::Write, AccessKind::Read);
}

#[test]
fn TestRaceAtomicAddStore() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 0);
        let a = CheckedBuf::new("a", 8);
        {
            let (c, a) = (c.clone(), a.clone());
            go::go(move || {
                a.atomic_add_u64(0, 1);
                c.send(true);
            });
        }
        a.write_u64(0, 42);
        c.recv();
    });
    assert_atomic_vs_plain(&reports, AccessKind::Write, AccessKind::Write);
}
