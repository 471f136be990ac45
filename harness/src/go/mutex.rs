//! `sync.Mutex`: `Unlock` releases into the mutex's clock, `Lock` acquires it.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use super::{register, unregister};
use crate::runtime::backend::Token;
use crate::runtime::clock::VectorClock;
use crate::runtime::{self, block_on};

/// A Go `sync.Mutex`. Clones are the same mutex. `lock` returns a guard; dropping it is `Unlock`.
#[derive(Clone)]
pub struct Mutex {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    token: Token,
    pub(crate) label: Arc<str>,
    state: Plain<State>,
}

struct State {
    locked: bool,
    clock: VectorClock,
    waiters: Vec<usize>,
}

impl fmt::Debug for Mutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mutex({})", self.inner.label)
    }
}

/// Holds a [`Mutex`]; dropping it unlocks.
#[must_use = "dropping the guard unlocks the mutex"]
pub struct MutexGuard<'a> {
    pub(crate) mutex: &'a Mutex,
}

impl fmt::Debug for MutexGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MutexGuard({})", self.mutex.inner.label)
    }
}

impl Mutex {
    /// An unlocked mutex, named `label` in reports.
    pub fn new(label: impl Into<String>) -> Mutex {
        let exec = runtime::current();
        Mutex {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                label: label.into().into(),
                state: Plain::new(State { locked: false, clock: VectorClock::default(), waiters: Vec::new() }),
            }),
        }
    }

    /// `m.Lock()`.
    pub fn lock(&self) -> MutexGuard<'_> {
        self.lock_raw();
        MutexGuard { mutex: self }
    }

    /// `m.TryLock()`.
    pub fn try_lock(&self) -> Option<MutexGuard<'_>> {
        let exec = runtime::current();
        let g = exec.me();
        self.inner.token.touch("sync.Mutex.TryLock");
        let mut st = self.inner.state.lock();
        if st.locked {
            return None;
        }
        st.locked = true;
        exec.state.lock().acquire(g, &st.clock);
        Some(MutexGuard { mutex: self })
    }

    pub(crate) fn lock_raw(&self) {
        let exec = runtime::current();
        let g = exec.me();
        block_on(&exec, g, || {
            self.inner.token.touch("sync.Mutex.Lock");
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            if st.locked {
                return Err(register(&mut st.waiters, g, "sync.Mutex.Lock", &self.inner.label));
            }
            st.locked = true;
            exec.state.lock().acquire(g, &st.clock);
            Ok(())
        })
    }

    /// `m.Unlock()` apart from its `Lock`: Go lets any goroutine unlock a locked mutex, so a
    /// goroutine may forget its guard (`std::mem::forget`) and another unlock it. Happens-before
    /// follows the memory model: every `Unlock` is ordered before every later `Lock`, so the clock
    /// is merged, where Go's detector overwrites it with the unlocker's (README, "Where joinrace
    /// and Go's detector differ").
    ///
    /// # Panics
    /// "sync: unlock of unlocked mutex", which Go makes a fatal error.
    pub fn unlock(&self) {
        self.unlock_raw();
    }

    pub(crate) fn unlock_raw(&self) {
        let exec = runtime::current();
        let g = exec.me();
        self.inner.token.touch("sync.Mutex.Unlock");
        let mut st = self.inner.state.lock();
        assert!(st.locked, "sync: unlock of unlocked mutex");
        let state = &mut *st;
        exec.state.lock().release(g, &mut state.clock);
        state.locked = false;
        // Wake one waiter: whoever gets the mutex next unlocks it and wakes the next.
        let next = if state.waiters.is_empty() { None } else { Some(state.waiters.remove(0)) };
        drop(st);
        if let Some(w) = next {
            exec.wake(&[w]);
        }
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        // Never call into a backend while unwinding (loom aborts the process on a panic in a
        // destructor during a panic): the execution has failed anyway.
        if !std::thread::panicking() {
            self.mutex.unlock_raw();
        }
    }
}
