//! `src/runtime/race/testdata/sync_test.go` (Cond, nested `go`), and DERIVED sync.Once cases.
#![allow(non_snake_case)]

use super::{assert_object, assert_read_write, assert_write_write};
use crate::common::{assert_clean, assert_race, assert_race_shuttle};
use harness::go::{self, frame, Chan, Cond, Mutex, Once};
use harness::memory::CheckedField;

// ---- sync.Cond: ordered through its mutex only ----

#[test]
fn TestNoRaceCond() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let condition = CheckedField::new("condition", 0i64);
        let mu = Mutex::new("mu");
        let cond = Cond::new(&mu);
        let g = {
            let (x, condition, mu, cond) = (x.clone(), condition.clone(), mu.clone(), cond.clone());
            go::go(move || {
                x.set(1);
                let l = mu.lock();
                condition.set(1);
                cond.signal();
                drop(l);
            })
        };
        let mut l = mu.lock();
        while condition.get() != 1 {
            l = cond.wait(l);
        }
        drop(l);
        x.set(2);
        g.join();
    });
}

/// Racy only in some schedules: main's `x = 2` (after it leaves the wait loop and unlocks) races
/// with g's `x = 3` (in g's second critical section) unless that section came before main's first
/// Lock. Go's sleeps, which force the racy order, are dropped; exploration finds it.
#[test]
fn TestRaceCond() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 0);
        let mu = Mutex::new("mu");
        let cond = Cond::new(&mu);
        let x = CheckedField::new("x", 0i64);
        let condition = CheckedField::new("condition", 0i64);
        {
            let (done, mu, cond, x, condition) = (done.clone(), mu.clone(), cond.clone(), x.clone(), condition.clone());
            go::go(move || {
                x.set(1);
                let l = mu.lock();
                condition.set(1);
                cond.signal();
                drop(l);
                let l = mu.lock();
                x.set(3);
                drop(l);
                done.send(true);
            });
        }
        let mut l = mu.lock();
        while condition.get() != 1 {
            l = cond.wait(l);
        }
        drop(l);
        x.set(2);
        done.recv();
    });
    // x = 1 is always ordered through the mutex: the race is x = 2 against x = 3.
    assert_object(&reports, "x");
    assert_write_write(&reports);
}

// ---- nested go statements ----

const FUNC1: &str = "race_test.TestRaceGoroutineCreationStack.func1";
const FUNC2: &str = "race_test.TestRaceGoroutineCreationStack.func2";
const FUNC3: &str = "race_test.TestRaceGoroutineCreationStack.func3";
const FUNC4: &str = "race_test.TestRaceGoroutineCreationStack.func4";

/// `x = 1` in the fourth nested goroutine against main's `x = 2`. Go checks the creation stack by
/// eye; the port checks that the writer was created inside `func2`. 4 goroutines.
#[test]
fn TestRaceGoroutineCreationStack() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let ch = Chan::<bool>::new("ch", 1);
        let f1 = {
            let (x, ch) = (x.clone(), ch.clone());
            move || {
                let _f = frame(FUNC1);
                x.set(1);
                ch.send(true);
            }
        };
        let f2 = move || {
            let _f = frame(FUNC2);
            go::go(f1);
        };
        let f3 = move || {
            let _f = frame(FUNC3);
            go::go(f2);
        };
        let f4 = move || {
            let _f = frame(FUNC4);
            go::go(f3);
        };
        go::go(f4);
        x.set(2);
        ch.recv();
    });
    assert_object(&reports, "x");
    for r in &reports {
        let (main, g) = if r.current.goroutine == 1 { (&r.current, &r.previous) } else { (&r.previous, &r.current) };
        assert_eq!(main.goroutine, 1, "{r}");
        assert_eq!(g.goroutine, 5, "the fourth goroutine spawned: {r}");
        assert_eq!(g.stack, vec![FUNC1.to_string()], "{r}");
        assert_eq!(g.created_at, Some(vec![FUNC2.to_string()]), "{r}");
    }
}

fn announce_f(x: CheckedField<i64>, all_done: Chan<bool>) {
    x.set(1);
    {
        let (x, all_done) = (x.clone(), all_done.clone());
        go::go(move || announce_g(x, all_done));
    }
    {
        let (x, all_done) = (x.clone(), all_done.clone());
        go::go(move || {
            x.set(1);
            all_done.send(true);
        });
    }
    x.set(2);
    all_done.send(true);
}

fn announce_g(x: CheckedField<i64>, all_done: Chan<bool>) {
    for _ in 0..2 {
        let (x, done) = (x.clone(), all_done.clone());
        go::go(move || {
            x.set(1);
            done.send(true);
        });
        all_done.send(true);
    }
}

fn announce_h(x: CheckedField<i64>, all_done: Chan<bool>) {
    x.set(1);
    x.set(2);
    {
        let (x, all_done) = (x.clone(), all_done.clone());
        go::go(move || announce_f(x, all_done));
    }
    all_done.send(true);
}

/// Nested goroutines writing x (Go checks the creation stacks by eye).
#[test]
fn TestRaceAnnounceThreads() {
    // shuttle only: 6 goroutines, loom allows 4.
    let reports = assert_race_shuttle(|| {
        const N: usize = 7;
        let all_done = Chan::<bool>::new("allDone", N);
        let x = CheckedField::new("x", 0i64);
        {
            let (x, all_done) = (x.clone(), all_done.clone());
            go::go(move || announce_h(x, all_done));
        }
        for _ in 0..N {
            all_done.recv();
        }
    });
    assert_object(&reports, "x");
    for r in &reports {
        assert!(r.current.goroutine > 1 && r.previous.goroutine > 1, "main never writes x: {r}");
    }
}

// ---- sync.Once: DERIVED cases, not in Go's race testdata (which has no Once tests) ----
// They follow from sync/once.go: f's completion happens before every Do returns, and nothing else.

/// DERIVED (not a Go test): exactly one f runs, and it happens before both Do calls return.
#[test]
fn TestNoRaceOnceBothDo() {
    assert_clean(|| {
        let once = Once::new("once");
        let x = CheckedField::new("x", 0i64);
        let done = Chan::<bool>::new("done", 0);
        {
            let (once, x, done) = (once.clone(), x.clone(), done.clone());
            go::go(move || {
                once.call(|| x.set(1));
                done.send(true);
            });
        }
        once.call(|| x.set(2));
        let _ = x.get();
        done.recv();
    });
}

/// DERIVED (not a Go test): Once orders f, not what follows Do.
#[test]
fn TestRaceOnceWriteAfterDo() {
    let reports = assert_race(|| {
        let once = Once::new("once");
        let x = CheckedField::new("x", 0i64);
        let done = Chan::<bool>::new("done", 0);
        {
            let (once, x, done) = (once.clone(), x.clone(), done.clone());
            go::go(move || {
                once.call(|| {});
                x.set(5);
                done.send(true);
            });
        }
        once.call(|| {});
        let _ = x.get();
        done.recv();
    });
    assert_object(&reports, "x");
    assert_read_write(&reports);
}

/// DERIVED (not a Go test): a reader that never calls Do acquires nothing.
#[test]
fn TestRaceOnceNoDoReader() {
    let reports = assert_race(|| {
        let once = Once::new("once");
        let x = CheckedField::new("x", 0i64);
        let done = Chan::<bool>::new("done", 0);
        {
            let (once, x, done) = (once.clone(), x.clone(), done.clone());
            go::go(move || {
                once.call(|| x.set(1));
                done.send(true);
            });
        }
        let _ = x.get();
        done.recv();
    });
    assert_object(&reports, "x");
}
