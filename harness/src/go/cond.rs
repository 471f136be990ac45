//! `sync.Cond`. It transfers no happens-before of its own (Go's `sync/cond.go` has no race
//! annotations): a woken waiter is ordered after the signaller only through the mutex.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use super::{register, unregister, Mutex, MutexGuard};
use crate::runtime::backend::Token;
use crate::runtime::{self, block_on};

/// A Go `sync.Cond` on a [`Mutex`] (Go's `c.L`).
#[derive(Clone)]
pub struct Cond {
    inner: Arc<Inner>,
}

struct Inner {
    token: Token,
    mutex: Mutex,
    state: Plain<State>,
}

struct State {
    /// Waiting goroutines with their tickets, oldest first (Go's notify list).
    queue: VecDeque<(usize, u64)>,
    signalled: Vec<u64>,
    next_ticket: u64,
    waiters: Vec<usize>,
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cond({})", self.inner.mutex.inner.label)
    }
}

impl Cond {
    /// `sync.NewCond(&m)`.
    pub fn new(mutex: &Mutex) -> Cond {
        let exec = runtime::current();
        Cond {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                mutex: mutex.clone(),
                state: Plain::new(State {
                    queue: VecDeque::new(),
                    signalled: Vec::new(),
                    next_ticket: 0,
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// `c.Wait()`: unlocks `c.L`, waits for a `Signal` or `Broadcast`, and locks `c.L` again.
    pub fn wait<'a>(&self, guard: MutexGuard<'a>) -> MutexGuard<'a> {
        let exec = runtime::current();
        let g = exec.me();
        let mutex = guard.mutex;
        self.inner.token.touch("sync.Cond.Wait");
        let ticket = {
            let mut st = self.inner.state.lock();
            let t = st.next_ticket;
            st.next_ticket += 1;
            st.queue.push_back((g, t));
            t
        };
        drop(guard);
        block_on(&exec, g, || {
            self.inner.token.touch("sync.Cond.Wait");
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            if let Some(i) = st.signalled.iter().position(|&t| t == ticket) {
                st.signalled.swap_remove(i);
                return Ok(());
            }
            Err(register(&mut st.waiters, g, "sync.Cond.Wait", &self.inner.mutex.inner.label))
        });
        mutex.lock()
    }

    /// `c.Signal()`: wakes the longest-waiting goroutine, if any.
    pub fn signal(&self) {
        self.notify(false);
    }

    /// `c.Broadcast()`: wakes every waiting goroutine.
    pub fn broadcast(&self) {
        self.notify(true);
    }

    fn notify(&self, all: bool) {
        let exec = runtime::current();
        self.inner.token.touch("sync.Cond.Signal");
        let mut st = self.inner.state.lock();
        let n = if all { st.queue.len() } else { st.queue.len().min(1) };
        let mut wake = Vec::new();
        for (g, t) in st.queue.drain(..n).collect::<Vec<_>>() {
            st.signalled.push(t);
            wake.push(g);
        }
        st.waiters.retain(|w| !wake.contains(w));
        drop(st);
        exec.wake(&wake);
    }
}
