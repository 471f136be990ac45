//! Goroutines: `go`, join handles, model stack frames, yield.

use std::fmt;
use std::panic::resume_unwind;
use std::sync::Arc;

use crate::report::RecoveredPanic;
use crate::runtime::backend::{self, RawJoinHandle};
use crate::runtime::stack::StackId;
use crate::runtime::{self, Execution};

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
        match runtime::current().join(self.goroutine, self.raw) {
            Ok(v) => v,
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
    let (goroutine, raw) = exec.spawn(exec.me(), f);
    JoinHandle { raw, goroutine }
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

/// The calling goroutine's model stack, innermost frame first (empty outside an execution): for
/// a model that says where something happened, such as a failpoint that fired.
pub fn current_stack() -> Vec<String> {
    runtime::try_current().map(|exec| exec.frames(exec.me())).unwrap_or_default()
}

/// Registers `f` to run when the current execution ends, passed or failed, after its goroutines
/// stopped running: for resources outside the model, such as spill files, that must not outlive
/// an execution even when a failure leaves goroutines (and what they own) unwound or leaked.
pub fn at_execution_end(f: impl FnOnce() + Send + 'static) {
    runtime::current().state.lock().at_end.push(Box::new(f));
}

/// Go's `defer func() { if r := recover(); r != nil { … } }()` around `f`: runs `f`, and if it
/// panics, returns the panic instead of failing the execution, as TiDB's `RunWithRecover` does
/// before it logs the panic and hands an error on. Every recovered panic is kept on the outcome
/// (`Outcome::recovered`), so a test can expect or forbid it. A panic outside any `recover` kills
/// the execution, as it kills a Go program.
///
/// ```
/// use harness::{explore, go, Strategy};
///
/// let outcome = explore(&Strategy::random(1, 1), || {
///     let r = go::recover(|| -> u32 { panic!("index out of range [3] with length 3") });
///     assert_eq!(r.map_err(|p| p.message), Err("index out of range [3] with length 3".to_string()));
/// });
/// assert!(outcome.failure.is_none());
/// assert_eq!(outcome.recovered.len(), 1);
/// ```
pub fn recover<T>(f: impl FnOnce() -> T) -> Result<T, RecoveredPanic> {
    let exec = runtime::current();
    let g = exec.me();
    exec.recover(g, f)
}

/// Go's `defer deferred()` before `f()`: `deferred` runs when `f` returns or panics, and a panic
/// goes on after it (to an enclosing [`recover`], or killing the execution), as in Go. For
/// deferred calls that must reach other goroutines even on a panic, such as TiDB's `defer
/// fetcherAndWorkerSyncer.Done()`.
pub fn defer<T>(f: impl FnOnce() -> T, deferred: impl FnOnce()) -> T {
    let exec = runtime::current();
    let g = exec.me();
    exec.defer(g, f, deferred)
}

/// Go's `runtime.Gosched`: lets other goroutines run. Transfers no happens-before.
pub fn yield_now() {
    backend::yield_now(runtime::current().backend);
}
