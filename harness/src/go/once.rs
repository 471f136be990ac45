//! `sync.Once`: the completion of `f` in the first `Do` happens before every `Do` returns.
//!
//! As Go's `once.go`: a `Do` that finds `done` set (the fast path) acquires the atomic store of
//! `done`; a `Do` that arrives while `f` runs takes the slow path through `o.m`, so it is also
//! ordered after the slow-path callers before it.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use super::{register, unregister};
use crate::runtime::backend::Token;
use crate::runtime::clock::VectorClock;
use crate::runtime::{self, block_on};

/// A Go `sync.Once`. Clones are the same once.
#[derive(Clone)]
pub struct Once {
    inner: Arc<Inner>,
}

struct Inner {
    token: Token,
    label: Arc<str>,
    state: Plain<State>,
}

struct State {
    done: bool,
    running: bool,
    /// Released (stored) by the atomic `done.Store(1)`.
    done_clock: VectorClock,
    /// Released by each unlock of `o.m`.
    mutex_clock: VectorClock,
    waiters: Vec<usize>,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Once({})", self.inner.label)
    }
}

impl Once {
    /// A fresh once, named `label` in reports.
    pub fn new(label: impl Into<String>) -> Once {
        let exec = runtime::current();
        Once {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                label: label.into().into(),
                state: Plain::new(State {
                    done: false,
                    running: false,
                    done_clock: VectorClock::default(),
                    mutex_clock: VectorClock::default(),
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// `o.Do(f)`: runs `f` if no `Do` has; otherwise waits until the first `f` finished.
    /// Returns whether this call ran `f`.
    pub fn call(&self, f: impl FnOnce()) -> bool {
        let exec = runtime::current();
        let g = exec.me();
        let mut slow = false;
        let run = block_on(&exec, g, || {
            self.inner.token.touch("sync.Once.Do");
            let mut guard = self.inner.state.lock();
            let st = &mut *guard;
            unregister(&mut st.waiters, g);
            if st.done {
                let mut es = exec.state.lock();
                es.acquire(g, &st.done_clock);
                if slow {
                    // It took o.m after the callers before it, and released it.
                    es.acquire(g, &st.mutex_clock);
                    es.release(g, &mut st.mutex_clock);
                }
                return Ok(false);
            }
            if st.running {
                slow = true;
                return Err(register(&mut st.waiters, g, "sync.Once.Do", &self.inner.label));
            }
            st.running = true;
            Ok(true)
        });
        if !run {
            return false;
        }
        f();
        self.inner.token.touch("sync.Once.Do");
        let mut guard = self.inner.state.lock();
        let st = &mut *guard;
        let mut es = exec.state.lock();
        es.release_store(g, &mut st.done_clock);
        es.release(g, &mut st.mutex_clock);
        drop(es);
        st.done = true;
        st.running = false;
        let waiters = std::mem::take(&mut st.waiters);
        drop(guard);
        exec.wake(&waiters);
        true
    }
}
