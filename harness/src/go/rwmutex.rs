//! `sync.RWMutex`, as Go's `sync/rwmutex.go` annotates it: `Unlock` releases into the reader clock,
//! which `RLock` and `Lock` acquire; `RUnlock` merges into the writer clock, which `Lock` acquires.
//! So readers are ordered after earlier writers and before later writers, but not among themselves.
//! A blocked writer keeps new readers out, as in Go.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use super::{register, unregister};
use crate::runtime::backend::Token;
use crate::runtime::clock::VectorClock;
use crate::runtime::{self, block_on};

/// A Go `sync.RWMutex`. Clones are the same lock.
#[derive(Clone)]
pub struct RwMutex {
    inner: Arc<Inner>,
}

struct Inner {
    token: Token,
    label: Arc<str>,
    state: Plain<State>,
}

struct State {
    writer: bool,
    readers: usize,
    /// Go's `readerSem` clock: released by `Unlock`.
    reader_clock: VectorClock,
    /// Go's `writerSem` clock: merged into by `RUnlock`.
    writer_clock: VectorClock,
    writers_waiting: Vec<usize>,
    waiters: Vec<usize>,
}

impl fmt::Debug for RwMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RwMutex({})", self.inner.label)
    }
}

/// Holds an [`RwMutex`] for reading; dropping it is `RUnlock`.
#[must_use = "dropping the guard unlocks"]
#[derive(Debug)]
pub struct RwMutexReadGuard<'a>(&'a RwMutex);

/// Holds an [`RwMutex`] for writing; dropping it is `Unlock`.
#[must_use = "dropping the guard unlocks"]
#[derive(Debug)]
pub struct RwMutexWriteGuard<'a>(&'a RwMutex);

impl RwMutex {
    /// An unlocked lock, named `label` in reports.
    pub fn new(label: impl Into<String>) -> RwMutex {
        let exec = runtime::current();
        RwMutex {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                label: label.into().into(),
                state: Plain::new(State {
                    writer: false,
                    readers: 0,
                    reader_clock: VectorClock::default(),
                    writer_clock: VectorClock::default(),
                    writers_waiting: Vec::new(),
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// `rw.RLock()`.
    pub fn read(&self) -> RwMutexReadGuard<'_> {
        let exec = runtime::current();
        let g = exec.me();
        block_on(&exec, g, || {
            self.inner.token.touch("sync.RWMutex.RLock");
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            if st.writer || !st.writers_waiting.is_empty() {
                return Err(register(&mut st.waiters, g, "sync.RWMutex.RLock", &self.inner.label));
            }
            st.readers += 1;
            exec.state.lock().acquire(g, &st.reader_clock);
            Ok(())
        });
        RwMutexReadGuard(self)
    }

    /// `rw.Lock()`.
    pub fn write(&self) -> RwMutexWriteGuard<'_> {
        let exec = runtime::current();
        let g = exec.me();
        block_on(&exec, g, || {
            self.inner.token.touch("sync.RWMutex.Lock");
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            unregister(&mut st.writers_waiting, g);
            if st.writer || st.readers > 0 {
                st.writers_waiting.push(g);
                return Err(register(&mut st.waiters, g, "sync.RWMutex.Lock", &self.inner.label));
            }
            st.writer = true;
            let mut es = exec.state.lock();
            es.acquire(g, &st.reader_clock);
            es.acquire(g, &st.writer_clock);
            Ok(())
        });
        RwMutexWriteGuard(self)
    }

    fn unlock(&self, read: bool) {
        let exec = runtime::current();
        let g = exec.me();
        self.inner.token.touch("sync.RWMutex.Unlock");
        let mut guard = self.inner.state.lock();
        let st = &mut *guard;
        let mut es = exec.state.lock();
        if read {
            es.release(g, &mut st.writer_clock);
            st.readers -= 1;
        } else {
            es.release(g, &mut st.reader_clock);
            st.writer = false;
        }
        drop(es);
        let waiters = if st.readers == 0 { std::mem::take(&mut st.waiters) } else { Vec::new() };
        drop(guard);
        exec.wake(&waiters);
    }
}

impl Drop for RwMutexReadGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.unlock(true);
        }
    }
}

impl Drop for RwMutexWriteGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.unlock(false);
        }
    }
}
