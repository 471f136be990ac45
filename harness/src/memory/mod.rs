//! Checked memory: the bytes and fields whose accesses the race detector sees.
//!
//! Plain accesses are not scheduling points (a race is found from the clocks, whatever the
//! interleaving); atomic accesses are, and they synchronize as Go's `sync/atomic` does.

mod buf;
mod field;

pub use crate::detector::Name;
pub use buf::CheckedBuf;
pub use field::{CheckedField, NIL_DEREFERENCE};

use std::panic::Location;
use std::sync::Arc;

use crate::detector::{AccessSpec, Shadow};
use crate::report::AccessKind;
use crate::runtime::{self, Abort, Execution};

/// Runs the detector on one access of `shadow` by the calling goroutine, then `sync` on the
/// execution state (the acquire or release of an atomic access). On a race the execution is
/// failed: the caller must drop its locks and call [`stop_on_race`].
pub(crate) fn check(
    exec: &Execution,
    shadow: &mut Shadow,
    spec: AccessSpec,
    sync: impl FnOnce(&mut runtime::ExecState, usize),
) -> bool {
    let g = exec.me();
    let mut st = exec.state.lock();
    let raced = shadow.access(&mut st, g, spec).is_some();
    sync(&mut st, g);
    raced
}

/// Stops the calling goroutine after a reported race (the report is already recorded).
pub(crate) fn stop_on_race(exec: &Arc<Execution>) -> ! {
    exec.abort();
    std::panic::panic_any(Abort)
}

/// An access description for the detector.
pub(crate) fn spec(
    offset: usize,
    size: usize,
    kind: AccessKind,
    atomic: bool,
    frames: &'static [&'static str],
    location: &'static Location<'static>,
) -> AccessSpec {
    AccessSpec { offset, size, kind, atomic, frames, location }
}
