//! `sync.WaitGroup`.
//!
//! Happens-before, as Go's `sync/waitgroup.go` annotates it: every `Done` (an `Add` with a negative
//! delta) merges the caller's clock into the group's, and `Wait` acquires it on return. Misuse is a
//! race as in Go: an `Add` that raises the counter from zero reads the group's semaphore address,
//! and the first `Wait` that blocks writes it, so an `Add` unordered with a `Wait` is reported.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{register, unregister};
use crate::detector::Shadow;
use crate::memory::{check, spec, stop_on_race};
use crate::report::AccessKind;
use crate::runtime::backend::Token;
use crate::runtime::clock::VectorClock;
use crate::runtime::{self, block_on, record};

/// A Go `sync.WaitGroup`. Clones are the same group.
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    token: Token,
    label: Arc<str>,
    state: Mutex<State>,
}

struct State {
    count: i64,
    clock: VectorClock,
    sema: Shadow,
    waiters: Vec<usize>,
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WaitGroup({})", self.inner.label)
    }
}

impl WaitGroup {
    /// A zero group, named `label` in reports.
    pub fn new(label: impl Into<String>) -> WaitGroup {
        let exec = runtime::current();
        let label: Arc<str> = label.into().into();
        let base = exec.alloc_addr(16);
        WaitGroup {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                label: label.clone(),
                state: Mutex::new(State {
                    count: 0,
                    clock: VectorClock::default(),
                    sema: Shadow::new(label, base, 1),
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// `wg.Add(delta)`.
    ///
    /// # Panics
    /// "sync: negative WaitGroup counter", as Go does.
    #[track_caller]
    pub fn add(&self, delta: i64) {
        let exec = runtime::current();
        let g = exec.me();
        let at = Location::caller();
        self.inner.token.touch("sync.WaitGroup.Add");
        let mut guard = self.inner.state.lock();
        let st = &mut *guard;
        if delta < 0 {
            exec.state.lock().release(g, &mut st.clock);
        }
        st.count += delta;
        if st.count < 0 {
            drop(guard);
            panic!("sync: negative WaitGroup counter");
        }
        let mut raced = false;
        if delta > 0 && st.count == delta {
            raced = check(
                &exec,
                &mut st.sema,
                spec(0, 1, AccessKind::Read, false, &["sync.(*WaitGroup).Add"], at),
                |_, _| {},
            );
        }
        let waiters = if st.count == 0 { std::mem::take(&mut st.waiters) } else { Vec::new() };
        drop(guard);
        if raced {
            stop_on_race(&exec);
        }
        exec.wake(&waiters);
    }

    /// `wg.Done()`.
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// `wg.Wait()`: blocks until the counter is zero.
    #[track_caller]
    pub fn wait(&self) {
        let exec = runtime::current();
        let g = exec.me();
        let at = Location::caller();
        block_on(&exec, g, || {
            self.inner.token.touch("sync.WaitGroup.Wait");
            let mut guard = self.inner.state.lock();
            let st = &mut *guard;
            unregister(&mut st.waiters, g);
            if st.count == 0 {
                exec.state.lock().acquire(g, &st.clock);
                return Ok(());
            }
            // Whether a waiter is already there decides what this one does: a failed Wait is an
            // operation of its own for the explorer.
            record::observable_attempt();
            if st.waiters.is_empty() {
                let access = spec(0, 1, AccessKind::Write, false, &["sync.(*WaitGroup).Wait"], at);
                if check(&exec, &mut st.sema, access, |_, _| {}) {
                    drop(guard);
                    stop_on_race(&exec);
                }
            }
            Err(register(&mut st.waiters, g, "sync.WaitGroup.Wait", &self.inner.label))
        })
    }
}
