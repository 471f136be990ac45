//! Go channels: unbuffered and buffered, with close.
//!
//! Happens-before, as Go's race runtime implements the memory model (`runtime/chan.go`):
//! - buffered, capacity C: the send and the receive using a buffer slot each release-store-acquire
//!   its sync clock, so send k happens before receive k completes and receive k happens before
//!   send k+C completes, and nothing else. Zero-size elements (`chan struct{}`) have no buffer:
//!   Go's sync object for every slot is the channel's own address, which close releases into too,
//!   so each buffered operation merges into the close clock and a receive after close acquires it;
//! - unbuffered: send and receive synchronize both ways at the hand-off;
//! - close release-stores into the channel's clock, and a receive that returns because the channel
//!   is closed acquires it;
//! - a send reads, and close writes, the channel's own address, so an unordered send and close
//!   are reported as a race, as Go reports them.

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::{register, unregister};
use crate::detector::Shadow;
use crate::memory::{check, spec, stop_on_race};
use crate::report::AccessKind;
use crate::runtime::backend::Token;
use crate::runtime::clock::VectorClock;
use crate::runtime::{self, block_on, record, BlockedOn, Execution};

/// A Go channel of `T`. Clones are the same channel.
pub struct Chan<T> {
    pub(crate) inner: Arc<Inner<T>>,
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chan({}, cap {})", self.inner.label, self.inner.cap)
    }
}

pub(crate) struct Inner<T> {
    pub(crate) token: Token,
    pub(crate) label: Arc<str>,
    cap: usize,
    pub(crate) state: Mutex<State<T>>,
}

pub(crate) struct State<T> {
    /// Buffered items (capacity > 0).
    buf: VecDeque<T>,
    /// Sync clock per buffer slot; `sendx`/`recvx` index the next slot, as in Go's `hchan`. Zero-size
    /// elements use `close_clock` instead (see [`State::slot_sync`]).
    slots: Vec<VectorClock>,
    sendx: usize,
    recvx: usize,
    /// Unbuffered: senders waiting for a receiver, with a ticket and the sender's released clock.
    pending: VecDeque<(u64, T, VectorClock)>,
    /// Unbuffered: tickets taken by a receiver, with the receiver's released clock.
    taken: Vec<(u64, VectorClock)>,
    next_ticket: u64,
    /// Goroutines parked in a receive, plain or in a select (an unbuffered send case in a select
    /// is ready only then).
    receivers: Vec<usize>,
    /// Goroutines parked in a select on a send case of this channel.
    select_senders: Vec<usize>,
    closed: bool,
    close_clock: VectorClock,
    /// The channel's own address (Go's `c.raceaddr()`): sends read it, close writes it.
    pub(crate) raceaddr: Shadow,
    pub(crate) waiters: Vec<usize>,
}

impl<T> State<T> {
    /// Checks an access to the channel's own address; true when it races (the caller then drops
    /// the lock and stops).
    pub(crate) fn raceaddr_access(
        &mut self,
        exec: &Execution,
        kind: AccessKind,
        frames: &'static [&'static str],
        at: &'static Location<'static>,
    ) -> bool {
        check(exec, &mut self.raceaddr, spec(0, 1, kind, false, frames, at), |_, _| {})
    }
}

/// What a non-blocking attempt found.
pub(crate) enum Try<T> {
    /// The operation completed (for a receive: the value, or `None` when closed).
    Done(T),
    /// The operation cannot proceed yet.
    Blocked,
}

impl<T> Chan<T> {
    /// `make(chan T, capacity)`, named `label` in reports.
    pub fn new(label: impl Into<String>, capacity: usize) -> Chan<T> {
        let exec = runtime::current();
        let label: Arc<str> = label.into().into();
        let base = exec.alloc_addr(8);
        Chan {
            inner: Arc::new(Inner {
                token: Token::new(exec.backend),
                label: label.clone(),
                cap: capacity,
                state: Mutex::new(State {
                    buf: VecDeque::with_capacity(capacity),
                    slots: vec![VectorClock::default(); capacity],
                    sendx: 0,
                    recvx: 0,
                    pending: VecDeque::new(),
                    taken: Vec::new(),
                    next_ticket: 0,
                    receivers: Vec::new(),
                    select_senders: Vec::new(),
                    closed: false,
                    close_clock: VectorClock::default(),
                    raceaddr: Shadow::new(label, base, 1),
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// `cap(c)`.
    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// `len(c)`: the number of buffered items. Not a synchronizing operation, but one on the
    /// channel, so a scheduling point: its result depends on the order of the channel's operations.
    pub fn len(&self) -> usize {
        self.inner.token.touch("len");
        self.inner.state.lock().buf.len()
    }

    /// Whether no items are buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `c <- value`: blocks until there is room (buffered) or a receiver takes it (unbuffered).
    ///
    /// # Panics
    /// "send on closed channel", as Go does.
    #[track_caller]
    pub fn send(&self, value: T) {
        let exec = runtime::current();
        let g = exec.me();
        self.check_raceaddr(&exec, AccessKind::Read, &["runtime.chansend"], Location::caller());
        let mut value = Some(value);
        let ticket = block_on(&exec, g, || {
            self.inner.token.touch("chan send");
            let mut st = self.inner.state.lock();
            unregister(&mut st.waiters, g);
            match self.inner.send_locked(&exec, st, g, &mut value) {
                Ok(ticket) => Ok(ticket),
                Err(mut st) => Err(register(&mut st.waiters, g, "chan send", &self.inner.label)),
            }
        });
        if let Some(ticket) = ticket {
            self.inner.await_receiver(&exec, g, ticket);
        }
    }

    /// `v, ok := <-c`: blocks until a value arrives (`Some`) or the channel is closed and drained
    /// (`None`).
    pub fn recv(&self) -> Option<T> {
        let exec = runtime::current();
        let g = exec.me();
        block_on(&exec, g, || {
            self.inner.token.touch("chan receive");
            self.inner.poll_recv(&exec, g, "chan receive")
        })
    }

    /// `close(c)`.
    ///
    /// # Panics
    /// "close of closed channel", as Go does.
    #[track_caller]
    pub fn close(&self) {
        let exec = runtime::current();
        let g = exec.me();
        self.inner.token.touch("close");
        // Go's closechan panics before its race annotation: a second close is a panic, never a race
        // (Go 1.19 `-race`: two unordered closes panic and report no race).
        if self.inner.state.lock().closed {
            panic!("close of closed channel");
        }
        self.check_raceaddr(&exec, AccessKind::Write, &["runtime.closechan"], Location::caller());
        let mut st = self.inner.state.lock();
        st.closed = true;
        let state = &mut *st;
        // Go's `racerelease` overwrites: for a zero-size element this forgets what earlier buffered
        // operations merged into the shared clock (see [`State::slot_sync`]); otherwise the clock
        // is empty until this one close.
        exec.state.lock().release_store(g, &mut state.close_clock);
        self.inner.unlock_and_wake(&exec, st);
    }

    fn check_raceaddr(
        &self,
        exec: &Arc<Execution>,
        kind: AccessKind,
        frames: &'static [&'static str],
        at: &'static Location,
    ) {
        let mut st = self.inner.state.lock();
        if st.raceaddr_access(exec, kind, frames, at) {
            drop(st);
            stop_on_race(exec);
        }
    }
}

impl<T> Inner<T> {
    /// Releases the channel lock and wakes every waiter, after an operation changed the state
    /// they wait on (they re-register if they still cannot proceed).
    pub(crate) fn unlock_and_wake(&self, exec: &Execution, mut st: MutexGuard<'_, State<T>>) {
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        exec.wake(&waiters);
    }

    /// A receive attempt by `g` (a plain receive, or a select's receive case, per `op`): the
    /// value (`None` when closed and drained), or, having parked `g` as a receiver, what it
    /// waits on. A parked receiver lets the selects waiting to send go ahead.
    pub(crate) fn poll_recv(&self, exec: &Execution, g: usize, op: &'static str) -> Result<Option<T>, BlockedOn> {
        let mut st = self.state.lock();
        self.unpark_receiver(&mut st, g);
        match self.try_recv(exec, &mut st, g) {
            Try::Done(v) => {
                self.unlock_and_wake(exec, st);
                Ok(v)
            }
            Try::Blocked => {
                let on = self.park_receiver(&mut st, g, op);
                let senders = self.take_select_senders(&mut st);
                drop(st);
                exec.wake(&senders);
                Err(on)
            }
        }
    }

    /// Completes a send that can proceed, under the lock: wakes the waiters and returns the
    /// unbuffered ticket to await. Gives the lock back when the send must wait.
    ///
    /// # Panics
    /// "send on closed channel", after releasing the lock.
    pub(crate) fn send_locked<'a>(
        &'a self,
        exec: &Execution,
        mut st: MutexGuard<'a, State<T>>,
        g: usize,
        value: &mut Option<T>,
    ) -> Result<Option<u64>, MutexGuard<'a, State<T>>> {
        match self.try_send(exec, &mut st, g, value) {
            Ok(Try::Done(ticket)) => {
                self.unlock_and_wake(exec, st);
                Ok(ticket)
            }
            Ok(Try::Blocked) => Err(st),
            Err(message) => {
                drop(st);
                panic!("{message}")
            }
        }
    }

    /// Registers `g` as a receiver parked on this channel (plain or in a select): an unbuffered
    /// send, plain or in a select, may hand it a value.
    pub(crate) fn park_receiver(&self, st: &mut State<T>, g: usize, op: &'static str) -> BlockedOn {
        if !st.receivers.contains(&g) {
            st.receivers.push(g);
        }
        // A parked receiver makes a select's send case on an unbuffered channel ready.
        if let Some(o) = self.token.object().filter(|_| self.cap == 0) {
            record::registered_receiver(o);
        }
        register(&mut st.waiters, g, op, &self.label)
    }

    /// A parked receiver lets the selects waiting to send on this unbuffered channel go ahead:
    /// returns them to be woken (only them: waking other receivers would make parked receivers
    /// wake each other forever).
    pub(crate) fn take_select_senders(&self, st: &mut State<T>) -> Vec<usize> {
        if self.cap == 0 {
            std::mem::take(&mut st.select_senders)
        } else {
            Vec::new()
        }
    }

    /// Registers `g` as a select parked on a send case of this channel.
    pub(crate) fn park_select_sender(&self, st: &mut State<T>, g: usize) {
        if !st.select_senders.contains(&g) {
            st.select_senders.push(g);
        }
        register(&mut st.waiters, g, "select", &self.label);
    }

    /// Undoes [`Inner::park_select_sender`].
    pub(crate) fn unpark_select_sender(&self, st: &mut State<T>, g: usize) {
        unregister(&mut st.select_senders, g);
        unregister(&mut st.waiters, g);
    }

    /// Undoes [`Inner::park_receiver`].
    pub(crate) fn unpark_receiver(&self, st: &mut State<T>, g: usize) {
        unregister(&mut st.receivers, g);
        unregister(&mut st.waiters, g);
    }

    /// Under the channel lock: completes a send of `value` if it can proceed now. For an
    /// unbuffered channel the value is handed to the pending queue and the returned ticket must be
    /// awaited with [`Inner::await_receiver`].
    pub(crate) fn try_send(
        &self,
        exec: &Execution,
        st: &mut State<T>,
        g: usize,
        value: &mut Option<T>,
    ) -> Result<Try<Option<u64>>, &'static str> {
        if st.closed {
            return Err("send on closed channel");
        }
        if self.cap == 0 {
            let ticket = st.next_ticket;
            st.next_ticket += 1;
            let mut clock = VectorClock::default();
            exec.state.lock().release(g, &mut clock);
            st.pending.push_back((ticket, value.take().expect("value sent once"), clock));
            return Ok(Try::Done(Some(ticket)));
        }
        if st.buf.len() == self.cap {
            return Ok(Try::Blocked);
        }
        let slot = st.sendx;
        st.sendx = (slot + 1) % self.cap;
        st.slot_sync(&mut exec.state.lock(), g, slot);
        st.buf.push_back(value.take().expect("value sent once"));
        Ok(Try::Done(None))
    }

    /// Whether a send by `g` would complete at once without waiting for a receiver to arrive (for
    /// a select): room in the buffer, or a parked receiver other than `g` not yet promised a value.
    pub(crate) fn send_ready(&self, st: &State<T>, g: usize) -> bool {
        let waiting = st.receivers.iter().filter(|&&r| r != g).count();
        st.closed || if self.cap == 0 { waiting > st.pending.len() } else { st.buf.len() < self.cap }
    }

    /// Whether a receive would complete at once (for a select): a value waiting, or the channel
    /// closed. Mirrors [`Inner::try_recv`].
    pub(crate) fn recv_ready(&self, st: &State<T>) -> bool {
        st.closed || if self.cap == 0 { !st.pending.is_empty() } else { !st.buf.is_empty() }
    }

    /// Under the channel lock: completes a receive if it can proceed now.
    pub(crate) fn try_recv(&self, exec: &Execution, st: &mut State<T>, g: usize) -> Try<Option<T>> {
        if self.cap == 0 {
            if let Some((ticket, v, clock)) = st.pending.pop_front() {
                let mut es = exec.state.lock();
                es.acquire(g, &clock);
                let mut back = VectorClock::default();
                es.release(g, &mut back);
                st.taken.push((ticket, back));
                return Try::Done(Some(v));
            }
        } else if let Some(v) = st.buf.pop_front() {
            let slot = st.recvx;
            st.recvx = (slot + 1) % self.cap;
            st.slot_sync(&mut exec.state.lock(), g, slot);
            return Try::Done(Some(v));
        }
        if st.closed {
            exec.state.lock().acquire(g, &st.close_clock);
            return Try::Done(None);
        }
        Try::Blocked
    }

    /// Unbuffered send, second half: waits until a receiver took `ticket`, then acquires the
    /// receiver's clock. A close before that panics, as in Go.
    pub(crate) fn await_receiver(&self, exec: &Execution, g: usize, ticket: u64) {
        block_on(exec, g, || {
            self.token.touch("chan send");
            let mut st = self.state.lock();
            if let Some(i) = st.taken.iter().position(|(t, _)| *t == ticket) {
                let (_, clock) = st.taken.swap_remove(i);
                unregister(&mut st.waiters, g);
                exec.state.lock().acquire(g, &clock);
                return Ok(());
            }
            if st.closed {
                st.pending.retain(|(t, _, _)| *t != ticket);
                drop(st);
                panic!("send on closed channel");
            }
            Err(register(&mut st.waiters, g, "chan send", &self.label))
        })
    }
}

impl<T> State<T> {
    /// `racenotify`: a buffered send or receive synchronizes on its slot with
    /// release-store-acquire, so send k orders receive k and receive k orders send k+C, and nothing
    /// accumulates. Zero-size elements have no buffer: Go's `chanbuf` is then `c.raceaddr()`, one
    /// sync object for every slot and for close, and `racenotify` merges into it. Go 1.19 `-race`,
    /// 20 runs: an item taken from a closed `chan struct{}` orders the close before the receiver
    /// (0 races); with `chan uint64` it does not (20 races).
    fn slot_sync(&mut self, es: &mut crate::runtime::ExecState, g: usize, slot: usize) {
        if size_of::<T>() == 0 {
            es.acquire(g, &self.close_clock);
            es.release(g, &mut self.close_clock);
        } else {
            es.release_store_acquire(g, &mut self.slots[slot]);
        }
    }
}

/// Blocked-on description for a select over these channels.
pub(crate) fn select_blocked(labels: &[Arc<str>]) -> BlockedOn {
    BlockedOn { op: "select", object: labels.join(", ").into() }
}
