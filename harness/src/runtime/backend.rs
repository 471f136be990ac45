//! The backend switch: the handful of backend operations everything else is built on, and the only
//! file below `explore/` that names loom, shuttle or std threads.
//!
//! A backend is chosen at run time by the explorer, so one test binary runs loom, shuttle and plain
//! std threads. The switch is deliberately smaller than `std::sync`: goroutines (spawn, join, park,
//! unpark, yield), a scheduling-point token, and
//! a nondeterministic choice. The Go primitives keep their state in plain `parking_lot` locks, which
//! no backend sees, and block through `park`, so:
//!
//! - no backend lock is ever held when a backend detects a deadlock (loom aborts the process when a
//!   deadlock unwinds through a held loom `MutexGuard`);
//! - each primitive operation is exactly one scheduling point (one [`Token::touch`]), the same as a
//!   raw loom or shuttle mutex operation;
//! - the backends' own happens-before edges never leak into the race detector.
//!
//! Invariant: no `parking_lot` lock is held across any call into this module that can switch
//! goroutines (`touch`, `park`, `spawn`, `join`, `yield_now`, `choose`). Under loom and
//! shuttle all goroutines share one OS thread, so a lock held across a switch would deadlock it.

use std::sync::atomic::Ordering;

use shuttle_engine::runtime::execution::ExecutionState;

use super::{record, LOCAL};

/// Which scheduler runs the goroutines of an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// loom 0.7: exhaustive DPOR exploration, optionally preemption-bounded; at most 4 spawned
    /// goroutines per execution.
    Loom,
    /// shuttle 0.9: randomized (random, PCT) or naive DFS exploration; no goroutine limit.
    Shuttle,
    /// Plain OS threads: real parallelism, no control over the schedule (stress runs).
    Std,
}

impl Backend {
    /// The name used in outcomes and reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Loom => "loom",
            Backend::Shuttle => "shuttle",
            Backend::Std => "std",
        }
    }

    /// Whether the backend controls the schedule: executions are then recorded step by step and
    /// can be replayed (loom, shuttle). Std threads run in parallel, unrecorded, and the harness
    /// detects their deadlocks itself.
    pub(crate) fn controls_schedule(self) -> bool {
        self != Backend::Std
    }

    /// Whether each goroutine runs on an OS thread of its own (std), rather than all on the
    /// exploring thread (loom, shuttle).
    pub(crate) fn threaded(self) -> bool {
        self == Backend::Std
    }

    /// The most goroutines an execution may spawn, joined ones included (loom's `MAX_THREADS` is 5,
    /// the main thread included).
    pub(crate) fn max_spawned(self) -> Option<usize> {
        (self == Backend::Loom).then_some(4)
    }

    /// How many scheduling-point tokens a checked buffer of `len` bytes needs: one per 8-byte word
    /// under loom, so loom's DPOR sees atomics on different words as independent; one under
    /// shuttle, where the announced word tells the DPOR explorer instead.
    pub(crate) fn buffer_tokens(self, len: usize) -> usize {
        if self == Backend::Loom {
            len.div_ceil(8)
        } else {
            1
        }
    }
}

/// Stack size of loom's spawned goroutines, in machine words (loom's unit), and of shuttle's tasks,
/// in bytes. The defaults (32 KiB, 60 KiB) are small, and a shuttle overflow is a silent SIGSEGV.
const LOOM_STACK_WORDS: usize = 64 * 1024;
const SHUTTLE_STACK_BYTES: usize = 512 * 1024;

/// A scheduling point that also tells loom's DPOR which operations conflict: every primitive (and,
/// under loom, every 8-byte word of checked memory, for its atomics) owns one token and touches it
/// (under loom, an atomic read-modify-write) before each operation, so operations on the same
/// object are dependent and operations on different objects are independent. shuttle has no notion of dependence, so there a touch is a bare context switch (a
/// shuttle atomic would add its own clock bookkeeping to every operation).
///
/// The token also feeds the interleaving hash: each touch of the object, in order (the record
/// counts positions).
pub(crate) struct Token {
    raw: RawToken,
    /// The object's id in the interleaving hash; `None` when something else records the order.
    object: Option<u64>,
}

enum RawToken {
    Loom(loom::sync::atomic::AtomicUsize),
    Shuttle,
    Std,
}

impl Token {
    pub(crate) fn new(backend: Backend) -> Token {
        let object = backend.controls_schedule().then(record::new_object);
        Token::with_object(backend, object)
    }

    /// A token whose operations the interleaving hash does not record: checked memory's atomics,
    /// whose order the detector's per-word history already records.
    pub(crate) fn unrecorded(backend: Backend) -> Token {
        Token::with_object(backend, None)
    }

    fn with_object(backend: Backend, object: Option<u64>) -> Token {
        let raw = match backend {
            Backend::Loom => RawToken::Loom(loom::sync::atomic::AtomicUsize::new(0)),
            Backend::Shuttle => RawToken::Shuttle,
            Backend::Std => RawToken::Std,
        };
        Token { raw, object }
    }

    /// The object's identity in the interleaving hash (`None` under std and for checked memory).
    pub(crate) fn object(&self) -> Option<u64> {
        self.object
    }

    /// Records an access of the object in the interleaving hash without a scheduling point (the
    /// running goroutine touched the object's token earlier in the same operation).
    pub(crate) fn record(&self) {
        if let Some(o) = self.object {
            record::operate(o, super::goroutine_id());
        }
    }

    /// Yields to the scheduler, which may switch goroutines here; `op` names the operation that
    /// follows (`chan send`) in traces.
    pub(crate) fn touch(&self, op: &'static str) {
        self.touch_on(op, self.object, true)
    }

    /// A scheduling point on the token that operates on nothing (for DPOR and the hash): loom
    /// still sees the token touched. A select touches its cases' tokens so before the one touch
    /// that carries its operation.
    pub(crate) fn touch_only(&self, op: &'static str) {
        match &self.raw {
            RawToken::Loom(a) => {
                switching_on(op, None, || a.fetch_add(1, Ordering::SeqCst));
            }
            RawToken::Shuttle => {
                record::announce(None, false);
                switching_on(op, None, shuttle_engine::runtime::thread::switch)
            }
            RawToken::Std => {}
        }
    }

    /// [`Token::touch`] before an atomic access of checked-memory word `word` (see
    /// `Shadow::word`), a load unless `write`. Under shuttle a buffer has one token, so the word,
    /// not the token, tells the DPOR explorer which operations conflict; loads do not.
    pub(crate) fn touch_word(&self, op: &'static str, word: u64, write: bool) {
        self.touch_on(op, Some(word), write)
    }

    fn touch_on(&self, op: &'static str, label: Option<u64>, write: bool) {
        // The position in the object's history is taken once the goroutine runs again.
        match &self.raw {
            RawToken::Loom(a) => {
                switching_on(op, self.object, || a.fetch_add(1, Ordering::SeqCst));
            }
            RawToken::Shuttle => {
                record::announce(label, write);
                switching_on(op, self.object, shuttle_engine::runtime::thread::switch)
            }
            RawToken::Std => {}
        }
    }
}

/// Tells the DPOR explorer, before the scheduling point of an operation on several objects (a
/// `select`), the objects it also touches; `objects` is only called under shuttle.
pub(crate) fn announce_also(backend: Backend, objects: impl FnOnce() -> Vec<u64>) {
    if backend == Backend::Shuttle {
        record::announce_also(objects());
    }
}

/// A handle that wakes a parked goroutine.
#[derive(Clone)]
pub(crate) enum Unparker {
    Loom(loom::thread::Thread),
    Shuttle(shuttle::current::TaskId),
    Std(std::thread::Thread),
}

impl Unparker {
    pub(crate) fn current(backend: Backend) -> Unparker {
        match backend {
            Backend::Loom => Unparker::Loom(loom::thread::current()),
            Backend::Shuttle => Unparker::Shuttle(shuttle::current::me()),
            Backend::Std => Unparker::Std(std::thread::current()),
        }
    }

    /// Wakes the goroutine. Never a scheduling point: a wake always follows the touch of the
    /// operation that causes it (loom's `unpark` does not switch either; shuttle's `Thread::unpark`
    /// would, which is why shuttle tasks are unblocked directly).
    pub(crate) fn unpark(&self) {
        match self {
            Unparker::Loom(t) => t.unpark(),
            Unparker::Shuttle(task) => ExecutionState::with(|s| s.get_mut(*task).unblock()),
            Unparker::Std(t) => t.unpark(),
        }
    }
}

/// Parks the current goroutine until it is unparked (or, for std, until the timeout; the caller
/// rechecks its condition either way).
///
/// The caller only parks when a waker will find it blocked (the runtime's `wake_pending` covers a
/// wake that comes first), so no park token is needed. Under shuttle the task is blocked the way
/// shuttle's own `Condvar` and channels block, without spurious wake-ups: `shuttle::thread::park`
/// lets the scheduler wake a parked task at any decision, and in the join model most of those
/// wake-ups only re-park, costing a decision and two context switches each.
pub(crate) fn park(backend: Backend) {
    match backend {
        Backend::Loom => switching("wake up", loom::thread::park),
        Backend::Shuttle => switching("wake up", || {
            ExecutionState::with(|s| s.current_mut().block(false));
            shuttle_engine::runtime::thread::switch();
        }),
        Backend::Std => std::thread::park_timeout(std::time::Duration::from_millis(50)),
    }
}

/// Lets another goroutine run.
pub(crate) fn yield_now(backend: Backend) {
    match backend {
        Backend::Loom => switching("yield", loom::thread::yield_now),
        Backend::Shuttle => switching("yield", shuttle::thread::yield_now),
        Backend::Std => std::thread::yield_now(),
    }
}

/// The case a `select` of `n` cases starts polling at; `ready` says which cases would fire now.
/// Recorded by the scheduler where it can be:
/// - loom cannot branch on data: the first ready case fires, and when several were ready the
///   record notes a choice left unexplored (the outcome is then not exhaustive);
/// - shuttle: the ready cases are offered to the scheduler, whose `next_u64` gives the start
///   (the DPOR explorer takes the offer and branches over it; random and PCT draw at random);
/// - std: a thread-local pseudo-random start.
pub(crate) fn choose_case(backend: Backend, n: usize, ready: impl FnOnce() -> Vec<bool>) -> usize {
    if n <= 1 {
        return 0;
    }
    match backend {
        Backend::Loom => {
            if ready().iter().filter(|&&r| r).count() > 1 {
                record::unexplored_choice();
            }
            0
        }
        Backend::Shuttle => {
            use shuttle::rand::RngCore;
            let ready: Vec<u64> = ready().iter().enumerate().filter(|(_, &r)| r).map(|(i, _)| i as u64).collect();
            let several = ready.len() > 1;
            if several {
                record::offer_choice(ready);
            }
            let raw = shuttle::rand::thread_rng().next_u64();
            if several && record::withdraw_offer() {
                // Nobody took the offer: the scheduler does not branch on choices (DFS, replay).
                record::unexplored_choice();
            }
            record::choice(raw);
            (raw % n as u64) as usize
        }
        Backend::Std => LOCAL.with(|l| {
            let s = &l.rng;
            // xorshift64*: enough for a stress run's select choices.
            let mut x = s.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            s.set(x);
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
        }),
    }
}

/// Runs a backend call that may switch goroutines, and notes afterwards that the caller runs again:
/// the caller's return from `op` is the next step of the execution's schedule.
fn switching<R>(op: &'static str, f: impl FnOnce() -> R) -> R {
    switching_on(op, None, f)
}

/// [`switching`] for an operation on an object: the step also records the operation's position in
/// the object's history (for the interleaving hash).
fn switching_on<R>(op: &'static str, object: Option<u64>, f: impl FnOnce() -> R) -> R {
    let me = super::goroutine_id();
    let r = f();
    super::set_goroutine_id(me);
    record::step(me, op, object);
    r
}

/// shuttle: the id of the running task (debug checks of the goroutine id).
#[cfg(debug_assertions)]
pub(super) fn shuttle_task(backend: Backend) -> Option<usize> {
    (backend == Backend::Shuttle).then(shuttle::current::try_get_current_task).flatten().map(usize::from)
}

/// A backend thread's join handle.
pub(crate) enum RawJoinHandle<T> {
    Loom(loom::thread::JoinHandle<T>),
    Shuttle(shuttle::thread::JoinHandle<T>),
    Std(std::thread::JoinHandle<T>),
}

impl<T> RawJoinHandle<T> {
    /// shuttle: the task id of the thread.
    pub(super) fn shuttle_task(&self) -> Option<usize> {
        match self {
            RawJoinHandle::Shuttle(h) => Some(usize::from(h.thread().id())),
            _ => None,
        }
    }

    pub(crate) fn join(self) -> std::thread::Result<T> {
        match self {
            RawJoinHandle::Loom(h) => switching("join", || h.join()),
            RawJoinHandle::Shuttle(h) => switching("join", || h.join()),
            RawJoinHandle::Std(h) => h.join(),
        }
    }
}

/// Starts a backend thread.
pub(crate) fn spawn<F, T>(backend: Backend, f: F) -> RawJoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match backend {
        Backend::Loom => RawJoinHandle::Loom(switching("go", || {
            loom::thread::Builder::new().stack_size(LOOM_STACK_WORDS).spawn(f).expect("loom spawn")
        })),
        Backend::Shuttle => RawJoinHandle::Shuttle(switching("go", || {
            shuttle::thread::Builder::new().stack_size(SHUTTLE_STACK_BYTES).spawn(f).expect("shuttle spawn")
        })),
        Backend::Std => RawJoinHandle::Std(std::thread::Builder::new().spawn(f).expect("std spawn")),
    }
}

/// The shuttle task stack size the explorer configures (bytes).
pub(crate) const SHUTTLE_STACK_SIZE: usize = SHUTTLE_STACK_BYTES;
