//! `src/runtime/race/testdata/mutex_test.go`, and three mutex cases of `mop_test.go`
//! (`TestNoRaceFuncUnlock`, `TestRaceAsFunc3`, `TestNoRaceAsFunc4`).
//!
//! A Go mutex may be unlocked by another goroutine than the one that locked it. The harness's
//! `Mutex::lock` returns a guard borrowing the mutex, so those cases leak the mutex (one small
//! allocation per execution) to get a `'static` guard that can move to the unlocking goroutine.
#![allow(non_snake_case)]

use super::{assert_object, assert_read_write, assert_write_write};
use crate::common::{assert_clean, assert_race};
use harness::go::{self, Chan, Mutex, MutexGuard};
use harness::memory::CheckedField;

/// A mutex that lives for the rest of the process, so a guard can cross goroutines.
fn leaked_mutex(label: &str) -> &'static Mutex {
    Box::leak(Box::new(Mutex::new(label)))
}

#[test]
fn TestNoRaceMutex() {
    assert_clean(|| {
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i16);
        let ch = Chan::<bool>::new("ch", 2);
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                let _unlock = mu.lock(); // defer mu.Unlock(): after the send
                x.set(1);
                ch.send(true);
            });
        }
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                let g = mu.lock();
                x.set(2);
                drop(g);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
}

/// Both writes come before the goroutine's own Lock.
#[test]
fn TestRaceMutex() {
    let reports = assert_race(|| {
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i16);
        let ch = Chan::<bool>::new("ch", 2);
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                x.set(1);
                let _unlock = mu.lock();
                ch.send(true);
            });
        }
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                x.set(2);
                drop(mu.lock());
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
    assert_object(&reports, "x");
    assert_write_write(&reports);
    for r in &reports {
        assert_eq!(r.current.range(), 0..2, "int16: {r}");
        assert_ne!(r.current.goroutine, r.previous.goroutine);
    }
}

/// Two different mutexes order nothing.
#[test]
fn TestRaceMutex2() {
    let reports = assert_race(|| {
        let mu1 = Mutex::new("mu1");
        let mu2 = Mutex::new("mu2");
        let x = CheckedField::new("x", 0i8);
        let ch = Chan::<bool>::new("ch", 2);
        {
            let (mu1, x, ch) = (mu1.clone(), x.clone(), ch.clone());
            go::go(move || {
                let _unlock = mu1.lock();
                x.set(1);
                ch.send(true);
            });
        }
        {
            let (mu2, x, ch) = (mu2.clone(), x.clone(), ch.clone());
            go::go(move || {
                let g = mu2.lock();
                x.set(2);
                drop(g);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
    assert_object(&reports, "x");
}

/// The newer Go version: g2 polls `written` under the lock until g1 set it. Go's sleeps become
/// yields.
#[test]
fn TestNoRaceMutexPureHappensBefore() {
    assert_clean(|| {
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i16);
        let written = CheckedField::new("written", false);
        let ch = Chan::<bool>::new("ch", 2);
        {
            let (mu, x, written, ch) = (mu.clone(), x.clone(), written.clone(), ch.clone());
            go::go(move || {
                x.set(1);
                let g = mu.lock();
                written.set(true);
                drop(g);
                ch.send(true);
            });
        }
        {
            let (mu, x, written, ch) = (mu.clone(), x.clone(), written.clone(), ch.clone());
            go::go(move || {
                go::yield_now();
                let mut g = mu.lock();
                while !written.get() {
                    drop(g);
                    go::yield_now();
                    g = mu.lock();
                }
                drop(g);
                x.set(1);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
}

/// Main locks; g1 unlocks (another goroutine), so g2's Lock waits for g1's Unlock.
#[test]
fn TestNoRaceMutexSemaphore() {
    assert_clean(|| {
        let mu = leaked_mutex("mu");
        let ch = Chan::<bool>::new("ch", 2);
        let x = CheckedField::new("x", 0i64);
        let held = mu.lock();
        {
            let (ch, x) = (ch.clone(), x.clone());
            go::go(move || {
                x.set(1);
                drop(held); // mu.Unlock()
                ch.send(true);
            });
        }
        {
            let (ch, x) = (ch.clone(), x.clone());
            go::go(move || {
                let g = mu.lock();
                x.set(2);
                drop(g);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
}

/// From the Go memory model document: the goroutine unlocks what main locked; main ends holding
/// the lock. `a` is a string in Go.
#[test]
fn TestNoRaceMutexExampleFromHtml() {
    assert_clean(|| {
        let l = leaked_mutex("l");
        let a = CheckedField::new("a", String::new());
        let held = l.lock();
        let g = {
            let a = a.clone();
            go::go(move || {
                a.set("hello, world".to_string());
                drop(held); // l.Unlock()
            })
        };
        let _held = l.lock();
        assert_eq!(a.get(), "hello, world");
        g.join();
    });
}

/// (mop_test.go) x is assigned the result of a call that locks, so the write is under the lock.
#[test]
fn TestNoRaceFuncUnlock() {
    assert_clean(|| {
        let ch = Chan::<bool>::new("ch", 1);
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        {
            let (ch, mu, x) = (ch.clone(), mu.clone(), x.clone());
            go::go(move || {
                let g = mu.lock();
                x.set(42);
                drop(g);
                ch.send(true);
            });
        }
        // x = func(mu *sync.Mutex) int { mu.Lock(); return 43 }(&mu)
        fn lock_and_return(mu: &Mutex) -> (MutexGuard<'_>, i64) {
            (mu.lock(), 43)
        }
        let (unlock, v) = lock_and_return(&mu);
        x.set(v);
        drop(unlock); // mu.Unlock()
        ch.recv();
    });
}

/// (mop_test.go) The argument x is read before the call locks.
#[test]
fn TestRaceAsFunc3() {
    let reports = assert_race(|| {
        let c = Chan::<bool>::new("c", 1);
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        {
            let (c, mu, x) = (c.clone(), mu.clone(), x.clone());
            go::go(move || {
                // func(x int) { mu.Lock() }(x): the argument is evaluated before the call.
                fn lock_with_arg(mu: &Mutex, _x: i64) -> MutexGuard<'_> {
                    mu.lock()
                }
                let unlock = lock_with_arg(&mu, x.get());
                drop(unlock); // mu.Unlock()
                c.send(true);
            });
        }
        let g = mu.lock();
        x.set(42);
        drop(g);
        c.recv();
    });
    assert_object(&reports, "x");
    assert_read_write(&reports);
}

/// (mop_test.go) x is written with the result of a call that locks: under the lock.
#[test]
fn TestNoRaceAsFunc4() {
    assert_clean(|| {
        let c = Chan::<bool>::new("c", 1);
        let mu = Mutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        {
            let (c, mu, x) = (c.clone(), mu.clone(), x.clone());
            go::go(move || {
                // x = func() int { mu.Lock(); return 42 }()
                fn lock_and_return(mu: &Mutex) -> (MutexGuard<'_>, i64) {
                    (mu.lock(), 42)
                }
                let (unlock, v) = lock_and_return(&mu);
                x.set(v);
                drop(unlock);
                c.send(true);
            });
        }
        let g = mu.lock();
        x.set(42);
        drop(g);
        c.recv();
    });
}
