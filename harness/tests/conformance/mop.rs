//! Partial and overlapping accesses: struct fields, whole structs, array elements, copy ranges,
//! adjacent-but-disjoint bytes. From `mop_test.go`, `comp_test.go` and `slice_test.go`, plus three
//! TSan offset tests (not Go).
//!
//! Every Go struct or array is a `CheckedBuf` laid out as Go lays it out on 64-bit targets (`int`
//! and pointers are 8 bytes, a string 16). Go records a scalar access as 1 byte at its start and
//! a composite one (struct/array assignment, copy, append, channel element) as its full range; the
//! harness records true sizes, which gives Go's verdict on every case here.
#![allow(non_snake_case)]

use super::{assert_object, assert_overlap, assert_read_write, assert_write_write};
use crate::common::{assert_clean, assert_race};
use harness::go::{self, Chan};
use harness::memory::{CheckedBuf, CheckedField};

/// `type Point struct{ x, y int }`: x at 0, y at 8.
const POINT: usize = 16;

/// Runs `g` in a goroutine that then signals on a 1-buffered channel, runs `main`, and waits:
/// the shape of almost every case here (`go func() { g; ch <- true }(); main; <-ch`).
fn concurrently(obj: &CheckedBuf, g: fn(&CheckedBuf), main: fn(&CheckedBuf)) {
    let ch = Chan::<bool>::new("ch", 1);
    {
        let (obj, ch) = (obj.clone(), ch.clone());
        go::go(move || {
            g(&obj);
            ch.send(true);
        });
    }
    main(obj);
    ch.recv();
}

// ---- mop_test.go: structs ----

/// A whole-struct write against a whole-struct read.
#[test]
fn TestRaceStructRW() {
    let reports = assert_race(|| {
        let p = CheckedBuf::new("p", POINT);
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (p, ch) = (p.clone(), ch.clone());
            go::go(move || {
                // p = Point{1, 1}
                let mut bytes = [0u8; POINT];
                bytes[0] = 1;
                bytes[8] = 1;
                p.write_bytes(0, &bytes);
                ch.send(true);
            });
        }
        let q = p.read_bytes(0, POINT);
        ch.recv();
        p.write_bytes(0, &q);
    });
    assert_object(&reports, "p");
    assert_overlap(&reports, 0..POINT);
    assert_read_write(&reports);
}

#[test]
fn TestRaceStructFieldRW1() {
    let reports = assert_race(|| {
        let p = CheckedBuf::new("p", POINT);
        concurrently(
            &p,
            |p| p.write_u64(0, 1),
            |p| {
                let _ = p.read_u64(0);
            },
        );
    });
    assert_overlap(&reports, 0..8);
}

/// `p.x` and `p.y` are different bytes; the final whole-struct read comes after the receive.
#[test]
fn TestNoRaceStructFieldRW1() {
    assert_clean(|| {
        let p = CheckedBuf::new("p", POINT);
        concurrently(&p, |p| p.write_u64(0, 1), |p| p.write_u64(8, 1));
        let _ = p.read_bytes(0, POINT);
    });
}

/// Go's code is identical to `TestNoRaceStructFieldRW1` (its comment about a pointer is stale).
#[test]
fn TestNoRaceStructFieldRW2() {
    assert_clean(|| {
        let p = CheckedBuf::new("p", POINT);
        concurrently(&p, |p| p.write_u64(0, 1), |p| p.write_u64(8, 1));
        let _ = p.read_bytes(0, POINT);
    });
}

/// The same field through a pointer: the pointer variable `p` is only read (read/read).
#[test]
fn TestRaceStructFieldRW2() {
    let reports = assert_race(|| {
        let p = CheckedField::new("p", CheckedBuf::new("*p", POINT));
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (p, ch) = (p.clone(), ch.clone());
            go::go(move || {
                p.get().write_u64(0, 1);
                ch.send(true);
            });
        }
        let _ = p.get().read_u64(0);
        ch.recv();
    });
    assert_object(&reports, "*p");
}

/// `type NamedPoint struct{ name string; p Point }`: p.p.x at 16.
#[test]
fn TestRaceStructFieldRW3() {
    let reports = assert_race(|| {
        let p = CheckedBuf::new("p", 16 + POINT);
        concurrently(
            &p,
            |p| p.write_u64(16, 1),
            |p| {
                let _ = p.read_u64(16);
            },
        );
    });
    assert_overlap(&reports, 16..24);
}

/// `*p = Item{}` (16 bytes at 0) against `i.y = 42` (8 bytes at 8): different starts and sizes.
#[test]
fn TestRaceStructInd() {
    let reports = assert_race(|| {
        let i = CheckedBuf::new("i", 16);
        concurrently(&i, |p| p.write_bytes(0, &[0; 16]), |i| i.write_u64(8, 42));
    });
    assert_object(&reports, "i");
    assert_overlap(&reports, 8..16);
    assert_write_write(&reports);
    for r in &reports {
        let mut ranges = [r.current.range(), r.previous.range()];
        ranges.sort_by_key(|r| r.start);
        assert_eq!(ranges, [0..16, 8..16], "{r}");
    }
}

/// `c <- y` reads all 16 bytes of y; main writes `y.x.y` at 8 before receiving.
#[test]
fn TestRaceNestedStruct() {
    let reports = assert_race(|| {
        let c = Chan::<Vec<u8>>::new("c", 0);
        let y = CheckedBuf::new("y", 16);
        {
            let (c, y) = (c.clone(), y.clone());
            go::go(move || c.send(y.read_bytes(0, 16)));
        }
        y.write_u64(8, 42);
        c.recv();
    });
    assert_object(&reports, "y");
    assert_overlap(&reports, 8..16);
}

/// `X{ y int64; Empty }` is 16 bytes (the trailing zero-size field is padded), so `y.x` is [0, 16)
/// and `y.y` is [16, 24): adjacent, not overlapping.
#[test]
fn TestNoRaceEmptyStruct() {
    assert_clean(|| {
        let c = Chan::<Vec<u8>>::new("c", 0);
        let y = CheckedBuf::new("y", 24);
        {
            let (c, y) = (c.clone(), y.clone());
            go::go(move || {
                let x = y.read_bytes(0, 16);
                c.send(x);
            });
        }
        y.write_u64(16, 42);
        c.recv();
    });
}

/// `copy(y, x)` reads all of x (10 structs of 16 bytes); main writes `x[1].y` at 24.
#[test]
fn TestRaceSliceStruct() {
    let reports = assert_race(|| {
        let x = CheckedBuf::new("x", 10 * 16);
        concurrently(
            &x,
            |x| {
                let y = CheckedBuf::new("y", 10 * 16);
                y.write_bytes(0, &x.read_bytes(0, 10 * 16));
            },
            |x| x.write_u64(16 + 8, 42),
        );
    });
    assert_object(&reports, "x");
    assert_overlap(&reports, 24..32);
}

/// `append(y, x...)` reads all of x, as copy does.
#[test]
fn TestRaceAppendSliceStruct() {
    let reports = assert_race(|| {
        let x = CheckedBuf::new("x", 10 * 16);
        concurrently(
            &x,
            |x| {
                let y = CheckedBuf::new("y (cap 10)", 10 * 16);
                let appended = x.read_bytes(0, 10 * 16);
                y.write_bytes(0, &appended);
            },
            |x| x.write_u64(16 + 8, 42),
        );
    });
    assert_object(&reports, "x");
    assert_overlap(&reports, 24..32);
}

/// Two writes of a 16-byte scalar (complex128) at the same start.
#[test]
fn TestRaceComplex128WW() {
    let reports = assert_race(|| {
        let x = CheckedBuf::new("x", 16);
        let y = CheckedBuf::new("y", 16);
        concurrently(&x, |x| x.write_bytes(0, &[2; 16]), |x| x.write_bytes(0, &[4; 16]));
        y.write_bytes(0, &x.read_bytes(0, 16));
        x.write_bytes(0, &y.read_bytes(0, 16));
    });
    assert_object(&reports, "x");
    assert_overlap(&reports, 0..16);
}

/// `Derived{ pad int; Base }`: the value-receiver call `d.Bar()` reads Base (8 bytes at 8); main
/// writes all 16 bytes of d.
#[test]
fn TestRaceMethodThunk2() {
    let reports = assert_race(|| {
        let d = CheckedBuf::new("d", 16);
        let done = Chan::<bool>::new("done", 0);
        {
            let (d, done) = (d.clone(), done.clone());
            go::go(move || {
                let _bar = d.read_u64(8);
                done.send(true);
            });
        }
        d.write_bytes(0, &[0; 16]);
        done.recv();
    });
    assert_overlap(&reports, 8..16);
}

/// `d.Foo()` has a pointer receiver it never dereferences: taking `&d.Base` is no access.
#[test]
fn TestNoRaceMethodThunk() {
    assert_clean(|| {
        let d = CheckedBuf::new("d", 16);
        let done = Chan::<bool>::new("done", 0);
        {
            let (d, done) = (d.clone(), done.clone());
            go::go(move || {
                let _receiver = d.addr(8);
                done.send(true);
            });
        }
        d.write_bytes(0, &[0; 16]);
        done.recv();
    });
}

/// g1 hands out a pointer to its local x; both goroutines write x after the first rendezvous and
/// before the second.
#[test]
fn TestRaceTLS() {
    let reports = assert_race(|| {
        let comm = Chan::<CheckedField<i64>>::new("comm", 0);
        let done = Chan::<bool>::new("done", 2);
        {
            let (comm, done) = (comm.clone(), done.clone());
            go::go(move || {
                let x = CheckedField::new("x", 0i64);
                comm.send(x.clone());
                x.set(1);
                let p = comm.recv().expect("&x back");
                x.set(p.get());
                done.send(true);
            });
        }
        {
            let (comm, done) = (comm.clone(), done.clone());
            go::go(move || {
                let p = comm.recv().expect("&x");
                p.set(2);
                comm.send(p);
                done.send(true);
            });
        }
        done.recv();
        done.recv();
    });
    assert_object(&reports, "x");
    for r in &reports {
        assert!(r.current.goroutine != 1 && r.previous.goroutine != 1, "{r}");
    }
}

// ---- mop_test.go: arrays ----

/// An element write at 24 against a whole-array write of `[5]int`.
#[test]
fn TestRaceArrayCopy() {
    let reports = assert_race(|| {
        let a = CheckedBuf::new("a", 40);
        concurrently(&a, |a| a.write_u64(24, 1), |a| a.write_bytes(0, &[1; 40]));
    });
    assert_object(&reports, "a");
    assert_overlap(&reports, 24..32);
    assert_write_write(&reports);
}

/// Shrunk: Go's `Point1M` is five levels of `[2][2][2][2][2]` over Point (16 MiB). The port keeps
/// one level, `Point32 = [2][2][2][2][2]Point` (512 bytes): the field written is
/// `a[0][1][0][1][0].y`, element 0b01010 = 10, at 10 * 16 + 8 = 168.
#[test]
fn TestRaceNestedArrayCopy() {
    let reports = assert_race(|| {
        const POINT32: usize = 32 * POINT;
        let a = CheckedBuf::new("a", POINT32);
        let b = CheckedBuf::new("b", POINT32);
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (a, ch) = (a.clone(), ch.clone());
            go::go(move || {
                let index = 0b01010;
                a.write_u64(index * POINT + 8, 1);
                ch.send(true);
            });
        }
        a.write_bytes(0, &b.read_bytes(0, POINT32));
        ch.recv();
    });
    assert_object(&reports, "a");
    assert_overlap(&reports, 168..176);
}

/// Concurrent reads only; the write comes after the receive.
#[test]
fn TestNoRaceBlank() {
    assert_clean(|| {
        let a = CheckedBuf::new("a", 40);
        concurrently(
            &a,
            |a| {
                let _ = (a.read_u64(0), a.read_u64(8));
            },
            |a| {
                let _ = (a.read_u64(16), a.read_u64(24));
            },
        );
        a.write_u64(8, a.read_u64(0));
    });
}

// ---- comp_test.go: `type P struct{ x, y int }; type S struct{ s1, s2 P }` ----

/// `s.s2.x` (16) and `s.s2.y` (24).
#[test]
fn TestNoRaceComp() {
    assert_clean(|| {
        let s = CheckedBuf::new("s", 32);
        concurrently(&s, |s| s.write_u64(16, 1), |s| s.write_u64(24, 2));
    });
}

/// `s.s1.x` (0) and `s.s1.y` (8).
#[test]
fn TestNoRaceComp2() {
    assert_clean(|| {
        let s = CheckedBuf::new("s", 32);
        concurrently(&s, |s| s.write_u64(0, 1), |s| s.write_u64(8, 2));
    });
}

#[test]
fn TestRaceComp() {
    let reports = assert_race(|| {
        let s = CheckedBuf::new("s", 32);
        concurrently(&s, |s| s.write_u64(24, 1), |s| s.write_u64(24, 2));
    });
    assert_overlap(&reports, 24..32);
}

/// `s.s1.x` against `s = S{}`.
#[test]
fn TestRaceComp2() {
    let reports = assert_race(|| {
        let s = CheckedBuf::new("s", 32);
        concurrently(&s, |s| s.write_u64(0, 1), |s| s.write_bytes(0, &[0; 32]));
    });
    assert_overlap(&reports, 0..8);
}

/// `s.s2.y` (8 bytes at 24) against `s = S{}` (32 bytes at 0): a start-address check misses it.
#[test]
fn TestRaceComp3() {
    let reports = assert_race(|| {
        let s = CheckedBuf::new("s", 32);
        concurrently(&s, |s| s.write_u64(24, 1), |s| s.write_bytes(0, &[0; 32]));
    });
    assert_overlap(&reports, 24..32);
}

/// `type Ptr struct{ s1, s2 *P }`: g loads the pointer `p.s1` and writes into the pointee; main
/// reads all of p. Reads of p only.
#[test]
fn TestNoRaceCompPtr2() {
    assert_clean(|| {
        let c = Chan::<bool>::new("c", 1);
        let p = CheckedBuf::new("p", 16);
        let (s1, s2) = (CheckedBuf::new("*p.s1", 16), CheckedBuf::new("*p.s2", 16));
        p.write_u64(0, s1.addr(0));
        p.write_u64(8, s2.addr(0));
        {
            let (c, p, s1) = (c.clone(), p.clone(), s1.clone());
            go::go(move || {
                assert_eq!(p.read_u64(0), s1.addr(0));
                s1.write_u64(0, 1);
                c.send(true);
            });
        }
        let _ = p.read_bytes(0, 16);
        c.recv();
    });
}

/// g loads the pointer `p.s2`; main overwrites it.
#[test]
fn TestRaceCompPtr2() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 1);
        let p = CheckedBuf::new("p", 16);
        let (s1, s2) = (CheckedBuf::new("*p.s1", 16), CheckedBuf::new("*p.s2", 16));
        p.write_u64(0, s1.addr(0));
        p.write_u64(8, s2.addr(0));
        {
            let (c, p, s2) = (c.clone(), p.clone(), s2.clone());
            go::go(move || {
                let _s2 = p.read_u64(8);
                s2.write_u64(0, 1);
                c.send(true);
            });
        }
        let fresh = CheckedBuf::new("&P{}", 16);
        p.write_u64(8, fresh.addr(0));
        c.recv();
    });
    assert_object(&reports, "p");
    assert_overlap(&reports, 8..16);
    assert_read_write(&reports);
}

// ---- slice_test.go ----

#[test]
fn TestRaceSliceRW() {
    let reports = assert_race(|| {
        let a = CheckedBuf::new("a", 16);
        concurrently(
            &a,
            |a| a.write_u64(8, 1),
            |a| {
                let _ = a.read_u64(8);
            },
        );
    });
    assert_overlap(&reports, 8..16);
}

/// Adjacent elements.
#[test]
fn TestNoRaceSliceRW() {
    assert_clean(|| {
        let a = CheckedBuf::new("a", 16);
        concurrently(
            &a,
            |a| a.write_u64(0, 1),
            |a| {
                let _ = a.read_u64(8);
            },
        );
    });
}

#[test]
fn TestNoRaceArrayWW() {
    assert_clean(|| {
        let a = CheckedBuf::new("a", 40);
        concurrently(&a, |a| a.write_u64(0, 1), |a| a.write_u64(8, 2));
    });
}

#[test]
fn TestRaceArrayWW() {
    let reports = assert_race(|| {
        let a = CheckedBuf::new("a", 40);
        concurrently(&a, |a| a.write_u64(8, 1), |a| a.write_u64(8, 2));
    });
    assert_overlap(&reports, 8..16);
    assert_write_write(&reports);
}

/// `_ = a[5]` (8 bytes at 40) against `copy(a, b)` (an 80-byte write of a).
#[test]
fn TestRaceSliceCopyRead() {
    let reports = assert_race(|| {
        let a = CheckedBuf::new("a", 80);
        let b = CheckedBuf::new("b", 80);
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (a, ch) = (a.clone(), ch.clone());
            go::go(move || {
                let _ = a.read_u64(40);
                ch.send(true);
            });
        }
        a.write_bytes(0, &b.read_bytes(0, 80));
        ch.recv();
    });
    assert_object(&reports, "a");
    assert_overlap(&reports, 40..48);
}

/// `a[5] = 1` ([40, 48)) against `copy(a[:5], b[:5])` ([0, 40)): touching, not overlapping.
#[test]
fn TestNoRaceSliceWriteCopy() {
    assert_clean(|| {
        let a = CheckedBuf::new("a", 80);
        let b = CheckedBuf::new("b", 80);
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (a, ch) = (a.clone(), ch.clone());
            go::go(move || {
                a.write_u64(40, 1);
                ch.send(true);
            });
        }
        a.write_bytes(0, &b.read_bytes(0, 40));
        ch.recv();
    });
}

/// A 1-byte write at 7 against `copy(a, "qwertyqwerty")` (10 bytes of a 10-byte slice).
#[test]
fn TestRaceSliceCopyWrite3() {
    let reports = assert_race(|| {
        let a = CheckedBuf::new("a", 10);
        concurrently(&a, |a| a.write_u8(7, 1), |a| a.write_bytes(0, &b"qwertyqwerty"[..10]));
    });
    assert_object(&reports, "a");
    assert_overlap(&reports, 7..8);
    for r in &reports {
        let mut sizes = [r.current.size, r.previous.size];
        sizes.sort();
        assert_eq!(sizes, [1, 10], "{r}");
    }
}

/// `copy(a, b)` only reads b: read/read with `_ = b[5]`.
#[test]
fn TestNoRaceSliceCopyRead() {
    assert_clean(|| {
        let a = CheckedBuf::new("a", 80);
        let b = CheckedBuf::new("b", 80);
        let ch = Chan::<bool>::new("ch", 1);
        {
            let (b, ch) = (b.clone(), ch.clone());
            go::go(move || {
                let _ = b.read_u64(40);
                ch.send(true);
            });
        }
        a.write_bytes(0, &b.read_bytes(0, 80));
        ch.recv();
    });
}

// ---- NOT GO: TSan's tsan_mop.cpp offset tests, for a byte-precise detector ----
// Two never-synchronized threads each write one range of a fresh 8-byte location.

/// A plain write of `size` bytes at `offset` (1, 2, 4 or 8 bytes).
fn write_sized(l: &CheckedBuf, offset: usize, size: usize) {
    match size {
        1 => l.write_u8(offset, 0xff),
        2 => l.write_u16(offset, 0xffff),
        4 => l.write_u32(offset, 0xffff_ffff),
        8 => l.write_u64(offset, u64::MAX),
        _ => unreachable!("TSan accesses 1, 2, 4 or 8 bytes"),
    }
}

/// t1 writes `S1` bytes at `O1` and t2 writes `S2` bytes at `O2` of one 16-byte location.
fn tsan_pair<const O1: usize, const S1: usize, const O2: usize, const S2: usize>() {
    let l = CheckedBuf::new("l", 16);
    let t1 = {
        let l = l.clone();
        go::go(move || write_sized(&l, O1, S1))
    };
    let t2 = {
        let l = l.clone();
        go::go(move || write_sized(&l, O2, S2))
    };
    t1.join();
    t2.join();
}

/// NOT GO (TSan `RaceWithOffset`): u64@0/u32@4, u64@0/u8@7, u32@4/u16@4, u32@4/u16@6,
/// u16@3/u8@4, u64@1/u8@3.
#[test]
fn RaceWithOffset() {
    let cases: [(fn(), std::ops::Range<usize>); 6] = [
        (tsan_pair::<0, 8, 4, 4>, 4..8),
        (tsan_pair::<0, 8, 7, 1>, 7..8),
        (tsan_pair::<4, 4, 4, 2>, 4..6),
        (tsan_pair::<4, 4, 6, 2>, 6..8),
        (tsan_pair::<3, 2, 4, 1>, 4..5),
        (tsan_pair::<1, 8, 3, 1>, 3..4),
    ];
    for (model, overlap) in cases {
        let reports = assert_race(model);
        assert_overlap(&reports, overlap);
        assert_write_write(&reports);
    }
}

/// NOT GO (TSan `RaceWithOffset2`): u32@0 against u8@2, in both program orders.
#[test]
fn RaceWithOffset2() {
    for model in [tsan_pair::<0, 4, 2, 1> as fn(), tsan_pair::<2, 1, 0, 4>] {
        let reports = assert_race(model);
        assert_overlap(&reports, 2..3);
    }
}

/// NOT GO (TSan `NoRaceWithOffset`): u32@0 and u32@4; u16@3 against u16@1 and u16@5 (touching on
/// both sides).
#[test]
fn NoRaceWithOffset() {
    assert_clean(tsan_pair::<0, 4, 4, 4>);
    assert_clean(|| {
        let l = CheckedBuf::new("l", 16);
        let t1 = {
            let l = l.clone();
            go::go(move || write_sized(&l, 3, 2))
        };
        let t2 = {
            let l = l.clone();
            go::go(move || {
                write_sized(&l, 1, 2);
                write_sized(&l, 5, 2);
            })
        };
        t1.join();
        t2.join();
    });
}
