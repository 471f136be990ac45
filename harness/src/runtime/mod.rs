//! Per-execution state: the goroutines with their vector clocks, stacks and blocking status.
//!
//! One [`Execution`] exists per explored execution. Under loom and shuttle every goroutine runs on
//! the OS thread that started the exploration, so a std thread-local finds it; under the std
//! backend each spawned OS thread installs the same `Arc` before running its goroutine.

pub(crate) mod stack;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::detector::clock::VectorClock;
use crate::facade::{self, Backend, Unparker};
use crate::report::{BlockedGoroutine, FailureKind};
use crate::schedule::log;
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
    /// Debug builds: which goroutine each shuttle task runs (checks the running-goroutine id).
    #[cfg(debug_assertions)]
    pub(crate) shuttle_tasks: std::collections::HashMap<usize, usize>,
}

impl ExecState {
    /// Debug builds: records that the calling shuttle task runs goroutine `g`.
    pub(crate) fn register_task(&mut self, backend: Backend, g: usize) {
        #[cfg(debug_assertions)]
        if backend == Backend::Shuttle {
            if let Some(t) = shuttle::current::try_get_current_task() {
                self.shuttle_tasks.insert(usize::from(t), g);
            }
        }
        let _ = (backend, g);
    }
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

std::thread_local! {
    static CURRENT: RefCell<Option<Arc<Execution>>> = const { RefCell::new(None) };
}

/// The execution the calling goroutine belongs to.
///
/// # Panics
/// Outside an exploration: harness primitives only work inside `harness::explore`.
pub(crate) fn current() -> Arc<Execution> {
    CURRENT
        .with(|c| c.borrow().clone())
        .expect("a harness primitive was used outside an exploration: run the model through harness::explore")
}

/// The execution the calling goroutine belongs to, if any.
pub(crate) fn try_current() -> Option<Arc<Execution>> {
    CURRENT.with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
}

/// Records a panic as the current execution's failure, if it has none yet. Called from the panic
/// hook: it only tries the lock, since the panicking code may hold it.
pub(crate) fn record_panic(message: String, location: Option<String>) {
    if let Some(exec) = try_current() {
        if let Some(mut st) = exec.state.try_lock() {
            let goroutine = facade::running_goroutine().map(ExecState::go_id);
            st.fail(FailureKind::Panic { goroutine, message, location });
        }
    }
}

/// Whether the calling OS thread is running an execution (for the panic hook).
pub(crate) fn in_execution() -> bool {
    CURRENT.with(|c| c.try_borrow().map(|c| c.is_some()).unwrap_or(true))
}

/// Installs (or, with `None`, removes) the calling OS thread's execution.
pub(crate) fn set_current(exec: Option<Arc<Execution>>) {
    CURRENT.with(|c| *c.borrow_mut() = exec);
}

impl Execution {
    /// A fresh execution whose main goroutine (0) is the calling backend thread.
    pub(crate) fn start(backend: Backend) -> Arc<Execution> {
        let mut clock = VectorClock::default();
        clock.set(0, 1);
        let main = Goroutine {
            clock,
            stack: StackDepot::EMPTY,
            created_at: None,
            status: Status::Running,
            wake_pending: false,
            unparker: Some(Unparker::current(backend)),
        };
        let exec = Arc::new(Execution {
            backend,
            state: Mutex::new(ExecState {
                goroutines: vec![main],
                stacks: StackDepot::new(),
                failure: None,
                next_addr: 0x00c0_0000_0000,
                at_end: Vec::new(),
                #[cfg(debug_assertions)]
                shuttle_tasks: std::collections::HashMap::new(),
            }),
            aborted: AtomicBool::new(false),
        });
        facade::set_goroutine_id(0);
        exec.state.lock().register_task(backend, 0);
        set_current(Some(exec.clone()));
        if backend != Backend::Std {
            log::reset();
        }
        exec
    }

    /// The innermost model frame of goroutine `g` (for traces).
    pub(crate) fn top_frame(&self, g: usize) -> Option<String> {
        let st = self.state.lock();
        let stack = st.goroutines.get(g)?.stack;
        st.stacks.frames(stack).into_iter().next()
    }

    /// The calling goroutine's id.
    pub(crate) fn me(&self) -> usize {
        let g = facade::goroutine_id();
        debug_assert!(g != usize::MAX, "goroutine id not registered");
        // A mismatch with shuttle's own notion of the running task means a backend call switched
        // goroutines without `facade::switching`.
        #[cfg(debug_assertions)]
        if self.backend == Backend::Shuttle {
            let task = shuttle::current::try_get_current_task().map(usize::from);
            let st = self.state.lock();
            debug_assert_eq!(
                task.and_then(|t| st.shuttle_tasks.get(&t).copied()),
                Some(g),
                "goroutine id out of sync with shuttle's task"
            );
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
        if self.backend == Backend::Std {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline
                && self.state.lock().goroutines.iter().skip(1).any(|g| matches!(g.status, Status::Running))
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
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
        if self.backend == Backend::Std {
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
            if self.backend == Backend::Std && st.all_blocked() {
                let blocked = st.blocked();
                st.fail(FailureKind::Deadlock { goroutines: blocked, message: "all goroutines are asleep".into() });
                drop(st);
                self.abort();
                std::panic::panic_any(Abort);
            }
        }
        loop {
            facade::park(self.backend);
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
        if self.backend == Backend::Std && st.all_blocked() {
            let blocked = st.blocked();
            st.fail(FailureKind::Deadlock { goroutines: blocked, message: "all goroutines are asleep".into() });
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
                exec.park(g, on);
            }
        }
    }
}
