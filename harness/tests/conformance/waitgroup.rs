//! `src/runtime/race/testdata/waitgroup_test.go`: `Done` happens before `Wait` returns; an `Add`
//! from zero unordered with a blocking `Wait` is a race on the group itself (Go's `&wg.sema`).
#![allow(non_snake_case)]

use super::{assert_object, assert_object_in, assert_write_write};
use crate::common::{assert_clean, assert_clean_shuttle, assert_race, assert_race_shuttle};
use harness::go::{self, Chan, WaitGroup};
use harness::memory::{CheckedBuf, CheckedField};
use harness::report::AccessKind;

/// `n` workers, each `x = j; wg.Done()`, then `wg.Wait()`.
fn workers_write_x(n: i64) {
    let x = CheckedField::new("x", 0i64);
    let wg = WaitGroup::new("wg");
    for j in 0..n {
        wg.add(1);
        let (x, wg) = (x.clone(), wg.clone());
        go::go(move || {
            x.set(j);
            wg.done();
        });
    }
    wg.wait();
}

#[test]
fn TestNoRaceWaitGroup() {
    assert_clean(|| workers_write_x(1));
}

/// Done releases, but the two workers acquire nothing from each other.
#[test]
fn TestRaceWaitGroup() {
    let reports = assert_race(|| workers_write_x(2));
    assert_object(&reports, "x");
    assert_write_write(&reports);
}

#[test]
fn TestNoRaceWaitGroup2() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let wg = WaitGroup::new("wg");
        wg.add(1);
        {
            let (x, wg) = (x.clone(), wg.clone());
            go::go(move || {
                x.set(1);
                wg.done();
            });
        }
        wg.wait();
        x.set(2);
    });
}

/// Racy only in some schedules (Go's sleeps pick the racy one; they are dropped here):
/// both Waits before either Add: the `x` writes race; one Wait blocking while the other goroutine
/// is between its Adds: the Wait races with that Add on `wg`; one goroutine entirely before the
/// other's Wait: no race. Exploration finds a race under every strategy.
#[test]
fn TestRaceWaitGroupAsMutex() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let wg = WaitGroup::new("wg");
        let c = Chan::<bool>::new("c", 2);
        for k in 1..=2 {
            let (x, wg, c) = (x.clone(), wg.clone(), c.clone());
            go::go(move || {
                wg.wait();
                wg.add(1);
                x.set(k);
                wg.add(-1);
                c.send(true);
            });
        }
        c.recv();
        c.recv();
    });
    assert_object_in(&reports, &["x", "wg"]);
}

/// Add is too late: inside the goroutines. The workers never acquire anything, so `x` races in
/// every schedule; where main's Wait blocks before an Add, that Add races with it on `wg` first.
#[test]
fn TestRaceWaitGroupWrongWait() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 2);
        let x = CheckedField::new("x", 0i64);
        let wg = WaitGroup::new("wg");
        for k in 1..=2 {
            let (c, x, wg) = (c.clone(), x.clone(), wg.clone());
            go::go(move || {
                wg.add(1);
                go::yield_now();
                x.set(k);
                wg.done();
                c.send(true);
            });
        }
        wg.wait();
        c.recv();
        c.recv();
    });
    assert_object_in(&reports, &["x", "wg"]);
}

/// Racy only in the schedules where main's Wait blocks (Go's sleeps force one): the first Add from
/// zero reads the group, the first blocking Wait writes it, unordered. No user variable races.
#[test]
fn TestRaceWaitGroupWrongAdd() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 2);
        let wg = WaitGroup::new("wg");
        for _ in 0..2 {
            let (c, wg) = (c.clone(), wg.clone());
            go::go(move || {
                wg.add(1);
                go::yield_now();
                wg.done();
                c.send(true);
            });
        }
        wg.wait();
        c.recv();
        c.recv();
    });
    assert_object(&reports, "wg");
    for r in &reports {
        let mut kinds = [r.current.kind, r.previous.kind];
        kinds.sort_by_key(|k| *k == AccessKind::Write);
        assert_eq!(kinds, [AccessKind::Read, AccessKind::Write], "Add reads, Wait writes: {r}");
    }
}

/// The counter is zero: no Wait blocks, so none writes the group.
#[test]
fn TestNoRaceWaitGroupMultipleWait() {
    assert_clean(|| {
        let c = Chan::<bool>::new("c", 2);
        let wg = WaitGroup::new("wg");
        for _ in 0..2 {
            let (c, wg) = (c.clone(), wg.clone());
            go::go(move || {
                wg.wait();
                c.send(true);
            });
        }
        wg.wait();
        c.recv();
        c.recv();
    });
}

/// Concurrent Waits: only the first blocking one writes the group.
#[test]
fn TestNoRaceWaitGroupMultipleWait2() {
    assert_clean(|| {
        let c = Chan::<bool>::new("c", 2);
        let wg = WaitGroup::new("wg");
        wg.add(2);
        for _ in 0..2 {
            let (c, wg) = (c.clone(), wg.clone());
            go::go(move || {
                wg.done();
                wg.wait();
                c.send(true);
            });
        }
        wg.wait();
        c.recv();
        c.recv();
    });
}

/// `p` writers and `p` waiters that read all the data.
fn multiple_wait3(p: usize) {
    let data = CheckedBuf::new("data", 8 * p);
    let done = Chan::<bool>::new("done", p);
    let wg = WaitGroup::new("wg");
    wg.add(p as i64);
    for i in 0..p {
        let (data, wg) = (data.clone(), wg.clone());
        go::go(move || {
            data.write_u64(8 * i, 42);
            wg.done();
        });
    }
    for _ in 0..p {
        let (data, done, wg) = (data.clone(), done.clone(), wg.clone());
        go::go(move || {
            wg.wait();
            for i in 0..p {
                let _ = data.read_u64(8 * i);
            }
            done.send(true);
        });
    }
    for _ in 0..p {
        done.recv();
    }
}

#[test]
fn TestNoRaceWaitGroupMultipleWait3() {
    // shuttle only: 6 goroutines, loom allows 4 (see the shrunk variant below).
    assert_clean_shuttle(|| multiple_wait3(3));
}

/// `TestNoRaceWaitGroupMultipleWait3` shrunk from P = 3 to P = 2 (4 goroutines) for loom.
#[test]
fn TestNoRaceWaitGroupMultipleWait3_P2() {
    assert_clean(|| multiple_wait3(2));
}

/// Correct usage, but the two workers race with each other.
#[test]
fn TestRaceWaitGroup2() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let wg = WaitGroup::new("wg");
        wg.add(2);
        for k in 1..=2 {
            let (x, wg) = (x.clone(), wg.clone());
            go::go(move || {
                x.set(k);
                wg.done();
            });
        }
        wg.wait();
    });
    assert_object(&reports, "x");
}

/// Done merges: Wait is ordered after both workers. Go's sleep in the second worker is dropped.
#[test]
fn TestNoRaceWaitGroupTransitive() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let y = CheckedField::new("y", 0i64);
        let wg = WaitGroup::new("wg");
        wg.add(2);
        {
            let (x, wg) = (x.clone(), wg.clone());
            go::go(move || {
                x.set(42);
                wg.done();
            });
        }
        {
            let (y, wg) = (y.clone(), wg.clone());
            go::go(move || {
                y.set(42);
                wg.done();
            });
        }
        wg.wait();
        let _ = x.get();
        let _ = y.get();
    });
}

/// `tries` rounds of `p` workers incrementing their element; main waits, then increments all.
fn reuse(p: usize, tries: usize) {
    let data = CheckedBuf::new("data", 8 * p);
    let wg = WaitGroup::new("wg");
    for _ in 0..tries {
        wg.add(p as i64);
        for i in 0..p {
            let (data, wg) = (data.clone(), wg.clone());
            go::go(move || {
                let v = data.read_u64(8 * i);
                data.write_u64(8 * i, v + 1);
                wg.done();
            });
        }
        wg.wait();
        for i in 0..p {
            let v = data.read_u64(8 * i);
            data.write_u64(8 * i, v + 1);
        }
    }
}

#[test]
fn TestNoRaceWaitGroupReuse() {
    // shuttle only: 9 goroutines, loom allows 4 (see the shrunk variant below).
    assert_clean_shuttle(|| reuse(3, 3));
}

/// `TestNoRaceWaitGroupReuse` shrunk from P = 3, 3 tries to P = 2, 2 tries (4 goroutines).
#[test]
fn TestNoRaceWaitGroupReuse_P2T2() {
    assert_clean(|| reuse(2, 2));
}

/// As `reuse`, plus a helper per round that waits too and increments all; main waits for the
/// helper before the next round's Add.
fn reuse2(p: usize, tries: usize) {
    let data = CheckedBuf::new("data", 8 * p);
    let wg = WaitGroup::new("wg");
    let inc_all = move |data: &CheckedBuf| {
        for i in 0..p {
            let v = data.read_u64(8 * i);
            data.write_u64(8 * i, v + 1);
        }
    };
    for _ in 0..tries {
        wg.add(p as i64);
        for i in 0..p {
            let (data, wg) = (data.clone(), wg.clone());
            go::go(move || {
                let v = data.read_u64(8 * i);
                data.write_u64(8 * i, v + 1);
                wg.done();
            });
        }
        let done = Chan::<bool>::new("done", 0);
        {
            let (data, wg, done) = (data.clone(), wg.clone(), done.clone());
            go::go(move || {
                wg.wait();
                inc_all(&data);
                done.send(true);
            });
        }
        wg.wait();
        done.recv();
        inc_all(&data);
    }
}

#[test]
fn TestNoRaceWaitGroupReuse2() {
    // shuttle only: 12 goroutines, loom allows 4 (see the shrunk variant below).
    assert_clean_shuttle(|| reuse2(3, 3));
}

/// `TestNoRaceWaitGroupReuse2` shrunk from P = 3, 3 tries to P = 1, 2 tries (4 goroutines).
#[test]
fn TestNoRaceWaitGroupReuse2_P1T2() {
    assert_clean(|| reuse2(1, 2));
}

/// Racy only in some schedules (Go's sleeps force one): a round's helper is the first blocking
/// waiter (it writes the group), and main's next-round Add from zero (a read of the group) is
/// unordered with it: main never hears from the helper before the end. The data does not race.
fn wrong_reuse(p: usize, t: usize) {
    let done = Chan::<bool>::new("done", t);
    let wg = WaitGroup::new("wg");
    for _ in 0..t {
        let data = CheckedBuf::new("data", 8 * p);
        wg.add(p as i64);
        for i in 0..p {
            let (data, wg) = (data.clone(), wg.clone());
            go::go(move || {
                let v = data.read_u64(8 * i);
                data.write_u64(8 * i, v + 1);
                wg.done();
            });
        }
        {
            let (data, wg, done) = (data.clone(), wg.clone(), done.clone());
            go::go(move || {
                wg.wait();
                for i in 0..p {
                    let v = data.read_u64(8 * i);
                    data.write_u64(8 * i, v + 1);
                }
                done.send(true);
            });
        }
        wg.wait();
    }
    for _ in 0..t {
        done.recv();
    }
}

#[test]
fn TestRaceWaitGroupReuse() {
    // shuttle only: 12 goroutines, loom allows 4 (see the shrunk variant below).
    let reports = assert_race_shuttle(|| wrong_reuse(3, 3));
    assert_object(&reports, "wg");
}

/// `TestRaceWaitGroupReuse` shrunk from T = 3, P = 3 to T = 2, P = 1 (4 goroutines).
#[test]
fn TestRaceWaitGroupReuse_T2P1() {
    let reports = assert_race(|| wrong_reuse(1, 2));
    assert_object(&reports, "wg");
}

/// `p` goroutines each Add(1), report on `waiting`, and Done; main waits for all reports, then Waits.
fn concurrent_add(p: usize) {
    let waiting = Chan::<bool>::new("waiting", p);
    let wg = WaitGroup::new("wg");
    for _ in 0..p {
        let (waiting, wg) = (waiting.clone(), wg.clone());
        go::go(move || {
            wg.add(1);
            waiting.send(true);
            wg.done();
        });
    }
    for _ in 0..p {
        waiting.recv();
    }
    wg.wait();
}

/// Concurrent Adds from zero are reads of the group; each is ordered before main's Wait through
/// the `waiting` channel.
#[test]
fn TestNoRaceWaitGroupConcurrentAdd() {
    // shuttle only: 4 goroutines fit loom, but its bound-3 search does not finish within 200,000
    // executions (about 50 s); see the shrunk variant below.
    assert_clean_shuttle(|| concurrent_add(4));
}

/// `TestNoRaceWaitGroupConcurrentAdd` shrunk from P = 4 to P = 3 for loom.
#[test]
fn TestNoRaceWaitGroupConcurrentAdd_P3() {
    assert_clean(|| concurrent_add(3));
}
