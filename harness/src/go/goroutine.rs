//! Goroutines: `go`, join handles, model stack frames, yield.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::facade::{self, Backend, RawJoinHandle, Unparker};
use crate::runtime::stack::StackId;
use crate::runtime::{self, Execution, Goroutine, Status};

/// loom's limit: `loom::MAX_THREADS` is 5, the main thread included, over a whole execution.
const LOOM_MAX_SPAWNED: usize = 4;

/// A handle to wait for a goroutine's result (a harness convenience; Go has none).
pub struct JoinHandle<T> {
    raw: RawJoinHandle<T>,
    goroutine: usize,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinHandle(goroutine {})", self.goroutine + 1)
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish and returns its result. Everything the goroutine did
    /// happens before `join` returns. A panic in the goroutine is propagated.
    pub fn join(self) -> T {
        match self.raw.join() {
            Ok(v) => {
                let exec = runtime::current();
                let me = exec.me();
                let mut st = exec.state.lock();
                let done = st.goroutines[self.goroutine].clock.clone();
                st.acquire(me, &done);
                v
            }
            Err(payload) => resume_unwind(payload),
        }
    }
}

/// Starts `f` in a new goroutine, Go's `go` statement: everything the caller did before happens
/// before everything `f` does.
///
/// # Panics
/// Under loom, when the execution already spawned 4 goroutines (loom's limit, joined ones included).
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let exec = runtime::current();
    let parent = exec.me();
    let child = {
        let mut st = exec.state.lock();
        let spawned = st.goroutines.len() - 1;
        if exec.backend == Backend::Loom && spawned >= LOOM_MAX_SPAWNED {
            drop(st);
            panic!(
                "loom allows at most {LOOM_MAX_SPAWNED} spawned goroutines per execution (joined ones count too); \
                 run this model under shuttle or std"
            );
        }
        let child = st.goroutines.len();
        let mut clock = st.goroutines[parent].clock.clone();
        clock.set(child, 1);
        st.goroutines[parent].clock.tick(parent);
        let created_at = Some(st.goroutines[parent].stack);
        st.goroutines.push(Goroutine {
            clock,
            stack: runtime::stack::StackDepot::EMPTY,
            created_at,
            status: Status::Running,
            wake_pending: false,
            unparker: None,
        });
        child
    };
    let backend = exec.backend;
    let raw = facade::spawn(backend, move || run_goroutine(exec, child, f));
    // shuttle creates the task after its last switch in `spawn`, so nothing ran since.
    if let Some(task) = raw.shuttle_task() {
        crate::schedule::log::map_task(child, task);
    }
    JoinHandle { raw, goroutine: child }
}

fn run_goroutine<T>(exec: Arc<Execution>, g: usize, f: impl FnOnce() -> T) -> T {
    let backend = exec.backend;
    if backend == Backend::Std {
        runtime::set_current(Some(exec.clone()));
    }
    facade::set_goroutine_id(g);
    {
        let mut st = exec.state.lock();
        st.goroutines[g].unparker = Some(Unparker::current(backend));
        st.register_task(backend, g);
    }
    if backend != Backend::Std {
        crate::schedule::log::step(g, "start", None);
        // loom and shuttle fail the whole execution when a goroutine panics.
        let r = f();
        exec.finish(g);
        return r;
    }
    // Std threads fail alone: stop the others so that nothing waits for this one forever.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => {
            exec.finish(g);
            r
        }
        Err(payload) => {
            exec.finish(g);
            exec.abort();
            resume_unwind(payload)
        }
    }
}

/// A model stack frame, popped when dropped. Race reports show the frames live at each access, so
/// a model names its functions after the code it mirrors:
///
/// ```
/// use harness::{explore, go, Strategy};
///
/// let outcome = explore(&Strategy::random(1, 1), || {
///     let _f = go::frame("pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild");
/// });
/// assert!(outcome.failure.is_none());
/// ```
#[must_use = "the frame is popped when this guard is dropped"]
pub struct Frame {
    exec: Arc<Execution>,
    goroutine: usize,
    prev: StackId,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame(goroutine {})", self.goroutine + 1)
    }
}

/// Pushes `name` on the calling goroutine's model stack until the returned guard drops.
pub fn frame(name: &'static str) -> Frame {
    let exec = runtime::current();
    let g = exec.me();
    let prev = {
        let mut st = exec.state.lock();
        let prev = st.goroutines[g].stack;
        let id = st.stacks.push(prev, name);
        st.goroutines[g].stack = id;
        prev
    };
    Frame { exec, goroutine: g, prev }
}

impl Drop for Frame {
    fn drop(&mut self) {
        // Plain std state only: safe while unwinding.
        self.exec.state.lock().goroutines[self.goroutine].stack = self.prev;
    }
}

/// Registers `f` to run when the current execution ends, passed or failed, after its goroutines
/// stopped running: for resources outside the model, such as spill files, that must not outlive
/// an execution even when a failure leaves goroutines (and what they own) unwound or leaked.
pub fn at_execution_end(f: impl FnOnce() + Send + 'static) {
    runtime::current().state.lock().at_end.push(Box::new(f));
}

/// Go's `runtime.Gosched`: lets other goroutines run. Transfers no happens-before.
pub fn yield_now() {
    facade::yield_now(runtime::current().backend);
}
