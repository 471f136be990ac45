//! `CheckedField`: a struct field whose every read and write the detector checks (a worker's row
//! table builder, say).

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{check, spec, stop_on_race, Name};
use crate::detector::Shadow;
use crate::report::AccessKind;
use crate::runtime;

/// A checked field holding a `T`. Clones share the field. Each access covers the whole field
/// (`size_of::<T>()` bytes, at least 1) and is not a scheduling point.
pub struct CheckedField<T> {
    inner: Arc<Mutex<(T, Shadow)>>,
}

impl<T> Clone for CheckedField<T> {
    fn clone(&self) -> Self {
        CheckedField { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for CheckedField<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckedField({})", self.inner.lock().1.label())
    }
}

impl<T> CheckedField<T> {
    /// A field holding `value`, named `label` in reports. Creating it is not an access: the value
    /// is published to other goroutines the way the field itself is (say, by the `go` statement
    /// that hands them the struct).
    pub fn new(label: impl Into<Name>, value: T) -> CheckedField<T> {
        let exec = runtime::current();
        let size = size_of::<T>().max(1);
        let base = exec.alloc_addr(size);
        CheckedField { inner: Arc::new(Mutex::new((value, Shadow::new(label, base, size)))) }
    }

    /// The field's address, as reports print it.
    pub fn addr(&self) -> u64 {
        self.inner.lock().1.base()
    }

    /// A plain read: runs `f` on the value.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.access(AccessKind::Read, Location::caller(), |v| f(v))
    }

    /// A plain write: runs `f` on the value, which it may change.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.access(AccessKind::Write, Location::caller(), f)
    }

    /// A plain write of `value`.
    #[track_caller]
    pub fn set(&self, value: T) {
        self.access(AccessKind::Write, Location::caller(), |v| *v = value);
    }

    fn access<R>(&self, kind: AccessKind, location: &'static Location<'static>, f: impl FnOnce(&mut T) -> R) -> R {
        let exec = runtime::current();
        let mut guard = self.inner.lock();
        let (value, shadow) = &mut *guard;
        let size = size_of::<T>().max(1);
        let raced = check(&exec, shadow, spec(0, size, kind, false, &[], location), |_, _| {});
        // The model's closure runs without the execution lock, but must not block or spawn.
        let r = f(value);
        drop(guard);
        if raced {
            stop_on_race(&exec);
        }
        r
    }
}

impl<T: Clone> CheckedField<T> {
    /// A plain read of the value.
    #[track_caller]
    pub fn get(&self) -> T {
        self.access(AccessKind::Read, Location::caller(), |v| v.clone())
    }
}

/// Go's message for a nil pointer dereference.
pub const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

impl<T> CheckedField<Option<T>> {
    /// Reads the pointer the field holds and runs `f` on what it points to, as Go's `p.x` does: a
    /// nil (`None`) field panics with Go's nil-dereference message ([`NIL_DEREFERENCE`]).
    #[track_caller]
    pub fn deref<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match self.access(AccessKind::Read, Location::caller(), |p| p.as_ref().map(f)) {
            Some(r) => r,
            None => panic!("{NIL_DEREFERENCE}"),
        }
    }
}
