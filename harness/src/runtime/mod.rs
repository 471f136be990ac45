//! The execution that is running now: its goroutines with their vector clocks, stacks and
//! blocking status, the backend that schedules them ([`backend`]), the running goroutine's id, and
//! the record of its steps ([`record`]).
//!
//! One [`Execution`] exists per explored execution. Everything a goroutine needs to find it lives
//! in one thread-local ([`LOCAL`]): under loom and shuttle every goroutine runs on the OS thread
//! that started the exploration; under the std backend each spawned OS thread installs the same
//! `Arc` before running its goroutine.

pub(crate) mod backend;
pub(crate) mod clock;
pub(crate) mod record;
pub(crate) mod stack;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::report::{BlockedGoroutine, FailureKind, RecoveredPanic};
pub use backend::Backend;
use backend::{RawJoinHandle, Unparker};
use clock::VectorClock;
use stack::{StackDepot, StackId};

/// Payload of a panic that stops a goroutine because the execution already failed (a race was
/// reported, or the std backend found a deadlock). The panic hook keeps it quiet.
#[derive(Debug)]
pub(crate) struct Abort;

/// What a blocked goroutine waits for, as Go prints it (`chan receive`, `sync.WaitGroup.Wait`, …)
/// and the label of the object.
#[derive(Clone, Debug)]
pub(crate) struct BlockedOn {
    pub(crate) op: &'static str,
    pub(crate) object: Arc<str>,
}

#[derive(Clone, Debug)]
pub(crate) enum Status {
    Running,
    Blocked(BlockedOn),
    Finished,
}

pub(crate) struct Goroutine {
    pub(crate) clock: VectorClock,
    pub(crate) stack: StackId,
    /// The creator's stack at the `go` statement; `None` for the main goroutine.
    pub(crate) created_at: Option<StackId>,
    pub(crate) status: Status,
    /// A wake arrived while the goroutine was not parked: its next park returns at once.
    pub(crate) wake_pending: bool,
    pub(crate) unparker: Option<Unparker>,
    /// How many `recover` scopes the goroutine is inside: a panic there is not a failure.
    recovering: u32,
    /// A panic raised inside a `recover` scope, for the scope to take.
    pending_panic: Option<RecoveredPanic>,
}

impl Goroutine {
    /// A running goroutine with clock `clock`, created at `created_at` (`None`: main).
    pub(crate) fn new(clock: VectorClock, created_at: Option<StackId>) -> Goroutine {
        Goroutine {
            clock,
            stack: StackDepot::EMPTY,
            created_at,
            status: Status::Running,
            wake_pending: false,
            unparker: None,
            recovering: 0,
            pending_panic: None,
        }
    }
}

/// Mutable state of one execution, behind one lock (uncontended under loom and shuttle).
pub(crate) struct ExecState {
    pub(crate) goroutines: Vec<Goroutine>,
    pub(crate) stacks: StackDepot,
    /// The first failure found inside the execution (a data race, or a std-backend deadlock).
    pub(crate) failure: Option<FailureKind>,
    next_addr: u64,
    /// Cleanups to run when the execution ends, whether it passed or failed.
    pub(crate) at_end: Vec<Box<dyn FnOnce() + Send>>,
    /// Panics `recover` caught in this execution.
    recovered: Vec<RecoveredPanic>,
    /// The run traces: synchronisations are recorded as happens-before edges (see `clock.rs`).
    pub(crate) tracing: bool,
}

impl ExecState {
    /// Go's goroutine number for harness goroutine `g` (the main goroutine is 1).
    pub(crate) fn go_id(g: usize) -> u64 {
        g as u64 + 1
    }

    /// Records the execution's first failure; later ones are dropped.
    pub(crate) fn fail(&mut self, kind: FailureKind) {
        if self.failure.is_none() {
            self.failure = Some(kind);
        }
    }

    /// Goroutine `g` panicked with `p`: inside a `recover` (or a `defer`) the panic is held for it,
    /// otherwise it fails the execution.
    fn panicked(&mut self, g: usize, p: RecoveredPanic) {
        if self.goroutines[g].recovering > 0 {
            self.goroutines[g].pending_panic = Some(p);
        } else {
            let RecoveredPanic { message, location, goroutine, stack } = p;
            self.fail(FailureKind::Panic { goroutine: Some(goroutine), message, location, stack });
        }
    }

    /// The goroutines that are blocked, with what they wait for.
    pub(crate) fn blocked(&self) -> Vec<BlockedGoroutine> {
        self.goroutines
            .iter()
            .enumerate()
            .filter_map(|(g, gr)| match &gr.status {
                Status::Blocked(on) => Some(BlockedGoroutine {
                    goroutine: Self::go_id(g),
                    waiting_on: format!("{} on {}", on.op, on.object),
                    stack: self.stacks.frames(gr.stack),
                }),
                _ => None,
            })
            .collect()
    }

    /// Every live goroutine is blocked for good: a leak when main has returned (goleak's case),
    /// else a deadlock (main itself can never proceed).
    pub(crate) fn stuck(&self, message: String) -> FailureKind {
        let goroutines = self.blocked();
        if matches!(self.goroutines[0].status, Status::Finished) {
            FailureKind::Leak { goroutines }
        } else {
            FailureKind::Deadlock { goroutines, message }
        }
    }

    /// Panics recovered in this execution so far.
    pub(crate) fn take_recovered(&mut self) -> Vec<RecoveredPanic> {
        std::mem::take(&mut self.recovered)
    }

    /// Std backend only: every live goroutine is parked with no wake pending, so none can ever be
    /// woken. (loom and shuttle detect this themselves.)
    fn all_blocked(&self) -> bool {
        let mut any = false;
        for g in &self.goroutines {
            match g.status {
                Status::Running => return false,
                Status::Blocked(_) if g.wake_pending => return false,
                Status::Blocked(_) => any = true,
                Status::Finished => {}
            }
        }
        any
    }
}

/// One explored execution.
pub(crate) struct Execution {
    pub(crate) backend: Backend,
    pub(crate) state: Mutex<ExecState>,
    /// Std backend: the execution failed; parked goroutines unwind with [`Abort`].
    aborted: AtomicBool,
}

/// Everything the calling OS thread knows of the execution it runs: the harness's one thread-local.
struct Local {
    /// The harness id of the goroutine running on this OS thread (`usize::MAX` outside any). Under
    /// loom and shuttle all goroutines share the OS thread and switch only inside backend calls,
    /// so every backend call that may switch restores it on return; a std thread sets it once.
    goroutine: Cell<usize>,
    exec: RefCell<Option<Arc<Execution>>>,
    record: RefCell<record::Record>,
    /// The std backend's select choices (xorshift64* state).
    rng: Cell<u64>,
}

std::thread_local! {
    // Const-initialized: every scheduling point reads it, so no lazy-init check.
    static LOCAL: Local = const {
        Local {
            goroutine: Cell::new(usize::MAX),
            exec: RefCell::new(None),
            record: RefCell::new(record::Record::new()),
            rng: Cell::new(0x9e37_79b9_7f4a_7c15),
        }
    };
}

/// Records that goroutine `id` runs on the calling OS thread.
fn set_goroutine_id(id: usize) {
    LOCAL.with(|l| l.goroutine.set(id));
}

/// The harness id of the running goroutine (`usize::MAX` outside any).
fn goroutine_id() -> usize {
    LOCAL.with(|l| l.goroutine.get())
}

/// The running goroutine, for the panic hook (which must not call into loom or shuttle).
fn running_goroutine() -> Option<usize> {
    LOCAL.try_with(|l| l.goroutine.get()).ok().filter(|&g| g != usize::MAX)
}

/// The execution the calling goroutine belongs to.
///
/// # Panics
/// Outside an exploration: harness primitives only work inside `harness::explore`.
pub(crate) fn current() -> Arc<Execution> {
    LOCAL
        .with(|l| l.exec.borrow().clone())
        .expect("a harness primitive was used outside an exploration: run the model through harness::explore")
}

/// The execution the calling goroutine belongs to, if any.
pub(crate) fn try_current() -> Option<Arc<Execution>> {
    LOCAL.with(|l| l.exec.try_borrow().ok().and_then(|c| c.clone()))
}

/// Records a model panic: inside a `recover` scope, for the scope to take; otherwise as the
/// current execution's failure, if it has none yet. Called from the panic hook: it only tries the
/// lock, since the panicking code may hold it.
pub(crate) fn record_panic(message: String, location: Option<String>) {
    let Some(exec) = try_current() else { return };
    // try_lock: a panic inside the harness while it holds the state must not deadlock here. With
    // threads another goroutine may hold it for a moment, and a model panic lost to that (a
    // recovered one especially) would change the outcome: wait for it.
    let st = if exec.backend.threaded() {
        exec.state.try_lock_for(std::time::Duration::from_secs(1))
    } else {
        exec.state.try_lock()
    };
    let Some(mut st) = st else { return };
    if is_deadlock(&message) {
        // The backend found every goroutine blocked; their stacks are read now, before unwinding
        // pops their frames.
        let stuck = st.stuck(message.lines().next().unwrap_or_default().to_string());
        st.fail(stuck);
        return;
    }
    let Some(g) = running_goroutine().filter(|&g| g < st.goroutines.len()) else {
        st.fail(FailureKind::Panic { goroutine: None, message, location, stack: Vec::new() });
        return;
    };
    let stack = st.stacks.frames(st.goroutines[g].stack);
    st.panicked(g, RecoveredPanic { message, location, goroutine: ExecState::go_id(g), stack });
}

/// Whether a backend's panic message reports a deadlock: loom says `deadlock; threads = …`,
/// shuttle `deadlock! blocked tasks: …`.
pub(crate) fn is_deadlock(message: &str) -> bool {
    message.starts_with("deadlock")
}

/// Whether the calling OS thread is running an execution (for the panic hook).
pub(crate) fn in_execution() -> bool {
    LOCAL.with(|l| l.exec.try_borrow().map(|c| c.is_some()).unwrap_or(true))
}

/// Installs (or, with `None`, removes) the calling OS thread's execution.
pub(crate) fn set_current(exec: Option<Arc<Execution>>) {
    LOCAL.with(|l| *l.exec.borrow_mut() = exec);
}

/// Fails the running execution as a divergence from the replayed schedule and stops the goroutine.
pub(crate) fn diverge(message: String) -> ! {
    if let Some(exec) = try_current() {
        exec.state.lock().fail(FailureKind::Divergence { message });
    }
    std::panic::panic_any(Abort)
}

impl Execution {
    /// A fresh execution whose main goroutine (0) is the calling backend thread.
    pub(crate) fn start(backend: Backend) -> Arc<Execution> {
        let mut clock = VectorClock::default();
        clock.set(0, 1);
        let main = Goroutine { unparker: Some(Unparker::current(backend)), ..Goroutine::new(clock, None) };
        let exec = Arc::new(Execution {
            backend,
            state: Mutex::new(ExecState {
                goroutines: vec![main],
                stacks: StackDepot::new(),
                failure: None,
                next_addr: 0x00c0_0000_0000,
                at_end: Vec::new(),
                recovered: Vec::new(),
                tracing: backend.controls_schedule() && record::tracing(),
            }),
            aborted: AtomicBool::new(false),
        });
        set_goroutine_id(0);
        set_current(Some(exec.clone()));
        if backend.controls_schedule() {
            record::reset();
        }
        exec
    }

    /// Runs `model` as the main goroutine; its start is the execution's first step. When it
    /// returns, main is finished: goroutines blocked for good from then on are a leak. Under std,
    /// goroutines still running then die with the program, as in Go.
    pub(crate) fn run_main(&self, model: impl FnOnce()) {
        if self.backend.controls_schedule() {
            record::step(0, "start", None);
        }
        model();
        self.finish(0);
        if self.backend.threaded() {
            // As goleak retries before it reports: give goroutines still running a moment to
            // finish or block; the last to block reports the leak (see `park`).
            self.wait_while_running(std::time::Duration::from_secs(1));
            self.abort();
            if self.state.lock().failure.is_some() {
                std::panic::panic_any(Abort);
            }
        }
    }

    /// Std backend: waits, at most `limit`, while a goroutine other than main is running.
    fn wait_while_running(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline
            && self.state.lock().goroutines.iter().skip(1).any(|g| matches!(g.status, Status::Running))
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Runs `f` in a `recover` scope of goroutine `g`: a model panic inside it is returned (and
    /// kept on the execution) instead of failing the execution. The harness's own stop signals
    /// pass through.
    pub(crate) fn recover<T>(&self, g: usize, f: impl FnOnce() -> T) -> Result<T, RecoveredPanic> {
        match self.hold(g, f) {
            (Ok(v), _) => Ok(v),
            (Err(_), Some(p)) => {
                self.state.lock().recovered.push(p.clone());
                Err(p)
            }
            (Err(payload), None) => resume_unwind(payload),
        }
    }

    /// Runs `f` in goroutine `g` holding a model panic instead of judging it: what `f` returned or
    /// unwound with, and the panic held (none for the harness's own stop signals).
    fn hold<T>(&self, g: usize, f: impl FnOnce() -> T) -> (std::thread::Result<T>, Option<RecoveredPanic>) {
        self.state.lock().goroutines[g].recovering += 1;
        let r = catch_unwind(AssertUnwindSafe(f));
        let mut st = self.state.lock();
        st.goroutines[g].recovering -= 1;
        (r, st.goroutines[g].pending_panic.take())
    }

    /// Runs `f` with `deferred` deferred in goroutine `g` (Go's `defer deferred(); f()`):
    /// `deferred` runs after `f` returns or panics, and a panic goes on unwinding after it, still
    /// unrecovered unless an enclosing [`Execution::recover`] takes it.
    pub(crate) fn defer<T>(&self, g: usize, f: impl FnOnce() -> T, deferred: impl FnOnce()) -> T {
        // The panic is held while the deferred call runs, then judged as if it happened now.
        let (r, held) = self.hold(g, f);
        deferred();
        match r {
            Ok(v) => v,
            Err(payload) => {
                if let Some(p) = held {
                    self.state.lock().panicked(g, p);
                }
                resume_unwind(payload)
            }
        }
    }

    /// Starts `f` as a new goroutine created by `parent` (Go's `go` statement): everything the
    /// parent did before happens before everything `f` does. Returns the child's id and handle.
    ///
    /// # Panics
    /// When the backend allows no more goroutines in this execution (loom: 4 spawned).
    pub(crate) fn spawn<F, T>(self: &Arc<Self>, parent: usize, f: F) -> (usize, RawJoinHandle<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let child = {
            let mut st = self.state.lock();
            let spawned = st.goroutines.len() - 1;
            if let Some(max) = self.backend.max_spawned().filter(|&m| spawned >= m) {
                drop(st);
                panic!(
                    "{} allows at most {max} spawned goroutines per execution (joined ones count too); \
                     run this model under shuttle or std",
                    self.backend.name()
                );
            }
            let child = st.goroutines.len();
            if st.tracing {
                let p = &st.goroutines[parent];
                record::spawned(parent, child, &p.clock, &st.stacks.frames(p.stack));
            }
            let mut clock = st.goroutines[parent].clock.clone();
            clock.set(child, 1);
            st.goroutines[parent].clock.tick(parent);
            let created_at = Some(st.goroutines[parent].stack);
            st.goroutines.push(Goroutine::new(clock, created_at));
            child
        };
        let exec = self.clone();
        let raw = backend::spawn(self.backend, move || exec.run_goroutine(child, f));
        // shuttle creates the task after its last switch in `spawn`, so nothing ran since.
        if let Some(task) = raw.shuttle_task() {
            record::map_task(child, task);
        }
        (child, raw)
    }

    fn run_goroutine<T>(self: Arc<Self>, g: usize, f: impl FnOnce() -> T) -> T {
        let backend = self.backend;
        if backend.threaded() {
            set_current(Some(self.clone()));
        }
        set_goroutine_id(g);
        self.state.lock().goroutines[g].unparker = Some(Unparker::current(backend));
        if !backend.threaded() {
            record::step(g, "start", None);
            // loom and shuttle fail the whole execution when a goroutine panics.
            let r = f();
            self.finish(g);
            return r;
        }
        // Threads fail alone: stop the others so that nothing waits for this one forever.
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => {
                self.finish(g);
                r
            }
            Err(payload) => {
                self.finish(g);
                self.abort();
                resume_unwind(payload)
            }
        }
    }

    /// Joins goroutine `g` through its handle: everything it did happens before the caller goes on.
    pub(crate) fn join<T>(&self, g: usize, raw: RawJoinHandle<T>) -> std::thread::Result<T> {
        let r = raw.join()?;
        let me = self.me();
        let mut st = self.state.lock();
        let done = st.goroutines[g].clock.clone();
        st.acquire(me, &done);
        Ok(r)
    }

    /// The model frames of goroutine `g`, innermost first (for traces).
    pub(crate) fn frames(&self, g: usize) -> Vec<String> {
        let st = self.state.lock();
        st.goroutines.get(g).map(|gr| st.stacks.frames(gr.stack)).unwrap_or_default()
    }

    /// The calling goroutine's id.
    pub(crate) fn me(&self) -> usize {
        let g = goroutine_id();
        debug_assert!(g != usize::MAX, "goroutine id not registered");
        // A mismatch with shuttle's own notion of the running task means a backend call switched
        // goroutines without `backend::switching`.
        #[cfg(debug_assertions)]
        if let Some(task) = backend::shuttle_task(self.backend) {
            debug_assert_eq!(record::goroutine_of_task(task), Some(g), "goroutine id out of sync with shuttle's task");
        }
        g
    }

    /// A deterministic, Go-heap-like address for a new checked object of `size` bytes: objects are
    /// numbered in creation order, which is fixed by the schedule, so reports are reproducible.
    pub(crate) fn alloc_addr(&self, size: usize) -> u64 {
        let mut st = self.state.lock();
        let addr = st.next_addr;
        st.next_addr += ((size as u64).max(1) + 0xff) & !0xff;
        addr
    }

    /// Runs the execution's end-of-execution cleanups (once). Under std, first waits (a bounded
    /// while) for goroutines still running after an abort, so a cleanup does not race them.
    pub(crate) fn run_cleanups(&self) {
        if self.backend.threaded() {
            self.wait_while_running(std::time::Duration::from_secs(5));
        }
        let cleanups = std::mem::take(&mut self.state.lock().at_end);
        for f in cleanups.into_iter().rev() {
            f();
        }
    }

    /// Marks every other goroutine to stop (std backend) and wakes the parked ones.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        let unparkers: Vec<Unparker> = self.state.lock().goroutines.iter().filter_map(|g| g.unparker.clone()).collect();
        if self.backend.threaded() {
            for u in unparkers {
                u.unpark();
            }
        }
    }

    /// Parks goroutine `g` until another goroutine wakes it. The caller has registered `g` with the
    /// object it waits on and rechecks its condition afterwards.
    pub(crate) fn park(&self, g: usize, on: BlockedOn) {
        {
            let mut st = self.state.lock();
            let gr = &mut st.goroutines[g];
            if gr.wake_pending {
                gr.wake_pending = false;
                return;
            }
            gr.status = Status::Blocked(on);
            if self.backend.threaded() && st.all_blocked() {
                let stuck = st.stuck("all goroutines are asleep".into());
                st.fail(stuck);
                drop(st);
                self.abort();
                std::panic::panic_any(Abort);
            }
        }
        loop {
            backend::park(self.backend);
            if self.aborted.load(Ordering::SeqCst) {
                std::panic::panic_any(Abort);
            }
            let mut st = self.state.lock();
            let gr = &mut st.goroutines[g];
            if !matches!(gr.status, Status::Blocked(_)) {
                gr.wake_pending = false;
                return;
            }
        }
    }

    /// Wakes the goroutines `gs` (they recheck what they wait for).
    pub(crate) fn wake(&self, gs: &[usize]) {
        if gs.is_empty() {
            return;
        }
        let mut unpark = Vec::new();
        {
            let mut st = self.state.lock();
            for &g in gs {
                let gr = &mut st.goroutines[g];
                match gr.status {
                    Status::Blocked(_) => {
                        gr.status = Status::Running;
                        unpark.extend(gr.unparker.clone());
                    }
                    Status::Running => gr.wake_pending = true,
                    Status::Finished => {}
                }
            }
        }
        for u in unpark {
            u.unpark();
        }
    }

    /// Drops a stale pending wake once `g`'s blocking operation has completed.
    pub(crate) fn clear_wake(&self, g: usize) {
        self.state.lock().goroutines[g].wake_pending = false;
    }

    /// Marks `g` finished; under std, the last running goroutine finishing while others are parked
    /// is a deadlock.
    pub(crate) fn finish(&self, g: usize) {
        let mut st = self.state.lock();
        st.goroutines[g].status = Status::Finished;
        if self.backend.threaded() && st.all_blocked() {
            let stuck = st.stuck("all goroutines are asleep".into());
            st.fail(stuck);
            drop(st);
            self.abort();
        }
    }
}

/// Blocks the calling goroutine until `attempt` succeeds. `attempt` touches the object's token,
/// then, under the object's lock, either completes the operation or registers the goroutine as a
/// waiter and says what it waits on.
pub(crate) fn block_on<R>(exec: &Execution, g: usize, mut attempt: impl FnMut() -> Result<R, BlockedOn>) -> R {
    let mut waited = false;
    loop {
        match attempt() {
            Ok(r) => {
                // Only an operation that registered as a waiter can leave a stale wake behind.
                if waited {
                    exec.clear_wake(g);
                }
                return r;
            }
            Err(on) => {
                waited = true;
                if exec.backend.controls_schedule() {
                    record::retract();
                }
                exec.park(g, on);
            }
        }
    }
}
