//! `sync.Once`: the completion of `f` in the first `Do` happens before every `Do` returns.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use super::{register, unregister, wake_all};
use crate::detector::clock::VectorClock;
use crate::facade::Token;
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
    clock: VectorClock,
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
                    clock: VectorClock::default(),
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
        let run = block_on(&exec, g, || {
            self.inner.token.touch();
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            if st.done {
                exec.state.lock().acquire(g, &st.clock);
                return Ok(false);
            }
            if st.running {
                return Err(register(&mut st.waiters, g, "sync.Once.Do", &self.inner.label));
            }
            st.running = true;
            Ok(true)
        });
        if !run {
            return false;
        }
        f();
        self.inner.token.touch();
        let mut guard = self.inner.state.lock();
        let st = &mut *guard;
        exec.state.lock().release(g, &mut st.clock);
        st.done = true;
        st.running = false;
        let waiters = std::mem::take(&mut st.waiters);
        drop(guard);
        wake_all(&exec, waiters);
        true
    }
}
