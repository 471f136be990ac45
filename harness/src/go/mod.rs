//! Go's concurrency primitives, each transferring exactly the happens-before edges that the Go
//! memory model (and Go's race detector) gives it, and no more.
//!
//! Every primitive keeps its state behind a plain lock that no backend and no detector sees, owns
//! one scheduling-point token (`runtime::backend::Token`), and blocks by parking the goroutine. Its
//! happens-before edges are explicit acquire/release operations on vector clocks, so an internal
//! lock never orders what Go leaves unordered.

mod atomic;
mod chan;
mod cond;
mod goroutine;
mod mutex;
mod once;
mod rwmutex;
mod select;
mod waitgroup;

pub use atomic::{AtomicBool, AtomicInt32, AtomicInt64, AtomicUint32, AtomicUint64};
pub use chan::Chan;
pub use cond::Cond;
pub use goroutine::{at_execution_end, current_stack, defer, frame, go, recover, yield_now, Frame, JoinHandle};
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwmutex::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};
pub use select::{select, try_select, RecvCase, SelectCase, SendCase};
pub use waitgroup::WaitGroup;

use std::sync::Arc;

use crate::runtime::BlockedOn;

/// Removes `g` from a wait list (it is retrying, or done waiting).
pub(crate) fn unregister(waiters: &mut Vec<usize>, g: usize) {
    waiters.retain(|&w| w != g);
}

/// Adds `g` to a wait list and says what it waits on.
pub(crate) fn register(waiters: &mut Vec<usize>, g: usize, op: &'static str, object: &Arc<str>) -> BlockedOn {
    if !waiters.contains(&g) {
        waiters.push(g);
    }
    BlockedOn { op, object: object.clone() }
}
