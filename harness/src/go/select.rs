//! Go's `select`, with and without `default`.
//!
//! The cases are polled in an order starting at a scheduler-chosen case (Go picks uniformly among
//! ready cases; shuttle's random and PCT schedulers and std draw the start at random, the DPOR
//! explorer branches over every ready case, loom always starts at the first case and marks its
//! outcome as covering the first ready case only), and the first ready one fires. If none is ready the goroutine registers with every channel and
//! parks. An unbuffered send case is ready while a receiver (a plain `recv` or a select's receive
//! case) is parked on the channel. Limitation: the sender then commits to its case; if that
//! receiver leaves through another case first, the send waits for the next receiver, where Go's
//! `selectgo` would have let the sender pick another case.

use std::fmt;
use std::sync::Arc;

use super::chan::{select_blocked, Chan};
use crate::memory::stop_on_race;
use crate::report::AccessKind;
use crate::runtime::{self, block_on, BlockedOn};
use crate::runtime::{backend, record};
use std::panic::Location;

mod sealed {
    pub trait Sealed {}
}

/// One case of a [`select`]: a [`RecvCase`] or a [`SendCase`].
pub trait SelectCase: sealed::Sealed {
    #[doc(hidden)]
    fn touch(&self);
    /// A scheduling point on the channel's token that operates on nothing: the select's operation
    /// comes at the last case's touch (loom still sees every case's token).
    #[doc(hidden)]
    fn touch_only(&self);
    /// What the case's readiness reads besides the channel, for the DPOR explorer: an unbuffered
    /// send case reads the channel's parked receivers.
    #[doc(hidden)]
    fn readiness(&self) -> Option<u64>;
    /// The channel's identity in the interleaving hash (`None` under std).
    #[doc(hidden)]
    fn object(&self) -> Option<u64>;
    /// Records in the interleaving hash that the running goroutine accesses the channel now.
    #[doc(hidden)]
    fn record(&self);
    #[doc(hidden)]
    fn label(&self) -> Arc<str>;
    /// Whether the case would fire now for goroutine `g` (takes and drops the channel lock).
    #[doc(hidden)]
    fn ready(&self, g: usize) -> bool;
    /// Under the channel lock: fire if ready, else register goroutine `g` as a waiter.
    #[doc(hidden)]
    fn poll(&mut self, g: usize) -> bool;
    #[doc(hidden)]
    fn unregister(&self, g: usize);
    /// After firing, outside any lock: finish the operation (an unbuffered send waits for its receiver).
    #[doc(hidden)]
    fn complete(&mut self, g: usize);
}

/// `case v, ok := <-ch:` in a [`select`].
pub struct RecvCase<'a, T> {
    ch: &'a Chan<T>,
    got: Option<Option<T>>,
}

impl<T> fmt::Debug for RecvCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecvCase({:?})", self.ch)
    }
}

impl<'a, T> RecvCase<'a, T> {
    /// The received value: `Some(v)`, or `None` when the channel was closed.
    ///
    /// # Panics
    /// If this case did not fire.
    pub fn take(&mut self) -> Option<T> {
        self.got.take().expect("this select case did not fire")
    }
}

/// `case ch <- v:` in a [`select`].
pub struct SendCase<'a, T> {
    ch: &'a Chan<T>,
    value: Option<T>,
    ticket: Option<u64>,
    at: &'static Location<'static>,
}

impl<T> fmt::Debug for SendCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendCase({:?})", self.ch)
    }
}

impl<'a, T> SendCase<'a, T> {
    /// The value back, if this case did not fire.
    pub fn into_value(self) -> Option<T> {
        self.value
    }
}

impl<T> Chan<T> {
    /// A receive case for [`select`].
    pub fn recv_case(&self) -> RecvCase<'_, T> {
        RecvCase { ch: self, got: None }
    }

    /// A send case for [`select`].
    #[track_caller]
    pub fn send_case(&self, value: T) -> SendCase<'_, T> {
        SendCase { ch: self, value: Some(value), ticket: None, at: Location::caller() }
    }
}

impl<T> sealed::Sealed for RecvCase<'_, T> {}
impl<T> sealed::Sealed for SendCase<'_, T> {}

impl<T> SelectCase for RecvCase<'_, T> {
    fn touch(&self) {
        self.ch.inner.token.touch("select receive");
    }

    fn touch_only(&self) {
        self.ch.inner.token.touch_only("select receive");
    }

    fn readiness(&self) -> Option<u64> {
        None
    }

    fn object(&self) -> Option<u64> {
        self.ch.inner.token.object()
    }

    fn record(&self) {
        self.ch.inner.token.record();
    }

    fn label(&self) -> Arc<str> {
        self.ch.inner.label.clone()
    }

    fn ready(&self, _g: usize) -> bool {
        self.ch.inner.recv_ready(&self.ch.inner.state.lock())
    }

    fn poll(&mut self, g: usize) -> bool {
        match self.ch.inner.poll_recv(&runtime::current(), g, "select") {
            Ok(v) => {
                self.got = Some(v);
                true
            }
            Err(_) => false,
        }
    }

    fn unregister(&self, g: usize) {
        self.ch.inner.unpark_receiver(&mut self.ch.inner.state.lock(), g);
    }

    fn complete(&mut self, _g: usize) {}
}

impl<T> SelectCase for SendCase<'_, T> {
    fn touch(&self) {
        self.ch.inner.token.touch("select send");
    }

    fn touch_only(&self) {
        self.ch.inner.token.touch_only("select send");
    }

    fn readiness(&self) -> Option<u64> {
        self.ch.inner.token.object().filter(|_| self.ch.cap() == 0).map(record::receivers_label)
    }

    fn object(&self) -> Option<u64> {
        self.ch.inner.token.object()
    }

    fn record(&self) {
        self.ch.inner.token.record();
    }

    fn label(&self) -> Arc<str> {
        self.ch.inner.label.clone()
    }

    fn ready(&self, g: usize) -> bool {
        self.ch.inner.send_ready(&self.ch.inner.state.lock(), g)
    }

    fn poll(&mut self, g: usize) -> bool {
        let exec = runtime::current();
        let mut st = self.ch.inner.state.lock();
        self.ch.inner.unpark_select_sender(&mut st, g);
        if !self.ch.inner.send_ready(&st, g) {
            self.ch.inner.park_select_sender(&mut st, g);
            return false;
        }
        // Go's selectgo reads the channel's address for the send case it fires.
        if st.raceaddr_access(&exec, AccessKind::Read, &["runtime.selectgo"], self.at) {
            drop(st);
            stop_on_race(&exec);
        }
        match self.ch.inner.send_locked(&exec, st, g, &mut self.value) {
            Ok(ticket) => {
                self.ticket = ticket;
                true
            }
            Err(_) => unreachable!("send_ready said the send can proceed"),
        }
    }

    fn unregister(&self, g: usize) {
        self.ch.inner.unpark_select_sender(&mut self.ch.inner.state.lock(), g);
    }

    fn complete(&mut self, g: usize) {
        if let Some(ticket) = self.ticket.take() {
            let exec = runtime::current();
            self.ch.inner.await_receiver(&exec, g, ticket);
        }
    }
}

/// Go's `select` without `default`: blocks until one case fires and returns its index.
/// With no cases it blocks forever, as `select {}` does.
pub fn select(cases: &mut [&mut dyn SelectCase]) -> usize {
    run(cases, false).expect("a select without default always fires a case")
}

/// Go's `select` with `default`: fires a ready case and returns its index, or returns `None` (the
/// `default` branch) when no case is ready.
pub fn try_select(cases: &mut [&mut dyn SelectCase]) -> Option<usize> {
    run(cases, true)
}

fn run(cases: &mut [&mut dyn SelectCase], default: bool) -> Option<usize> {
    let exec = runtime::current();
    let g = exec.me();
    if cases.is_empty() && default {
        return None;
    }
    let labels: Vec<Arc<str>> = cases.iter().map(|c| c.label()).collect();
    let fired = block_on(&exec, g, || {
        // The poll below, after the last touch, reads every case's channel: the explorer is told of
        // all of them, and the hash records the other cases' accesses as the explorer orders them.
        if let Some((last, rest)) = cases.split_last() {
            rest.iter().for_each(|c| c.touch_only());
            backend::announce_also(exec.backend, || {
                cases.iter().flat_map(|c| c.object().into_iter().chain(c.readiness())).collect()
            });
            last.touch();
            rest.iter().for_each(|c| c.record());
        }
        let n = cases.len();
        // Go picks uniformly among the ready cases: the explorer is offered each of them.
        let start = backend::choose_case(exec.backend, n, || cases.iter().map(|c| c.ready(g)).collect());
        for k in 0..n {
            let i = (start + k) % n;
            if cases[i].poll(g) {
                cases.iter().for_each(|c| c.unregister(g));
                record::fired(i, g);
                return Ok(Some(i));
            }
        }
        if default {
            cases.iter().for_each(|c| c.unregister(g));
            return Ok(None);
        }
        Err(if n == 0 { BlockedOn { op: "select (no cases)", object: "".into() } } else { select_blocked(&labels) })
    });
    if let Some(i) = fired {
        cases[i].complete(g);
    }
    fired
}
