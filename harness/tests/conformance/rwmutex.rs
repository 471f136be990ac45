//! `src/runtime/race/testdata/rwmutex_test.go`: readers are ordered after earlier writers and
//! before later ones, never among themselves.
#![allow(non_snake_case)]

use super::{assert_object, assert_write_write};
use crate::common::{assert_clean, assert_clean_shuttle, assert_race};
use harness::go::{self, Chan, Mutex, RwMutex};
use harness::memory::CheckedField;

/// A Mutex and an RWMutex order nothing between each other.
#[test]
fn TestRaceMutexRWMutex() {
    let reports = assert_race(|| {
        let mu1 = Mutex::new("mu1");
        let mu2 = RwMutex::new("mu2");
        let x = CheckedField::new("x", 0i16);
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
                let g = mu2.write();
                x.set(2);
                drop(g);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
    assert_object(&reports, "x");
    assert_write_write(&reports);
}

/// A writer and a reader are ordered whichever goes first.
#[test]
fn TestNoRaceRWMutex() {
    assert_clean(|| {
        let mu = RwMutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        let y = CheckedField::new("y", 1i64);
        let _ = y.get();
        let ch = Chan::<bool>::new("ch", 2);
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                let _unlock = mu.write();
                x.set(2);
                ch.send(true);
            });
        }
        {
            let (mu, x, y, ch) = (mu.clone(), x.clone(), y.clone(), ch.clone());
            go::go(move || {
                let g = mu.read();
                y.set(x.get());
                drop(g);
                ch.send(true);
            });
        }
        ch.recv();
        ch.recv();
    });
}

/// Three readers write y under RLock: whatever the writer's position, two readers are on the same
/// side of it and unordered. 4 goroutines: exactly loom's limit.
#[test]
fn TestRaceRWMutexMultipleReaders() {
    let reports = assert_race(|| {
        let mu = RwMutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        let y = CheckedField::new("y", 1i64);
        let ch = Chan::<bool>::new("ch", 4);
        {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                let _unlock = mu.write();
                x.set(2);
                ch.send(true);
            });
        }
        for k in 1..=3 {
            let (mu, x, y, ch) = (mu.clone(), x.clone(), y.clone(), ch.clone());
            go::go(move || {
                let g = mu.read();
                y.set(x.get() + k);
                drop(g);
                ch.send(true);
            });
        }
        for _ in 0..4 {
            ch.recv();
        }
        let _ = y.get();
    });
    // Only y races: the x reads are ordered against the write through the lock.
    assert_object(&reports, "y");
    assert_write_write(&reports);
}

/// A writer and `readers` readers that only read x.
fn readers_only_read(readers: i64) {
    let mu = RwMutex::new("mu");
    let x = CheckedField::new("x", 0i64);
    let ch = Chan::<bool>::new("ch", 4);
    {
        let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
        go::go(move || {
            let _unlock = mu.write();
            x.set(2);
            ch.send(true);
        });
    }
    for k in 1..=readers {
        let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
        go::go(move || {
            let g = mu.read();
            let _y = x.get() + k;
            drop(g);
            ch.send(true);
        });
    }
    for _ in 0..=readers {
        ch.recv();
    }
}

/// As above, but the readers only read.
#[test]
fn TestNoRaceRWMutexMultipleReaders() {
    // shuttle only: 4 goroutines fit loom, but its bound-3 search does not finish within 200,000
    // executions (about 50 s); see the shrunk variant below.
    assert_clean_shuttle(|| readers_only_read(3));
}

/// `TestNoRaceRWMutexMultipleReaders` shrunk from 3 readers to 2 (3 goroutines) for loom.
#[test]
fn TestNoRaceRWMutexMultipleReaders_2Readers() {
    assert_clean(|| readers_only_read(2));
}

/// Two readers RUnlock before the writer locks: the writer must be ordered after both (RUnlock
/// merges into the writer clock). Go's sleeps, which pick that schedule, are dropped.
#[test]
fn TestNoRaceRWMutexTransitive() {
    assert_clean(|| {
        let mu = RwMutex::new("mu");
        let x = CheckedField::new("x", 0i64);
        let ch = Chan::<bool>::new("ch", 2);
        for _ in 0..2 {
            let (mu, x, ch) = (mu.clone(), x.clone(), ch.clone());
            go::go(move || {
                let g = mu.read();
                let _ = x.get();
                drop(g);
                ch.send(true);
            });
        }
        let g = mu.write();
        x.set(42);
        drop(g);
        ch.recv();
        ch.recv();
    });
}
