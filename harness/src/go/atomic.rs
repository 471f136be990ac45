//! Go's typed atomics (`atomic.Int32`, `atomic.Bool`, …): sequentially consistent, and
//! synchronizing as the race runtime treats them: a load acquires the variable's clock, a store
//! overwrites it with the goroutine's, a read-modify-write acquires and merges.
//!
//! The value lives in harness state, so every backend sees sequentially consistent values (loom's
//! own atomics would also explore weaker orders Go does not have); the token makes each operation a
//! scheduling point and a DPOR dependency.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex as Plain;

use crate::runtime;
use crate::runtime::backend::Token;
use crate::runtime::clock::AtomicOp;
use crate::runtime::clock::VectorClock;

struct Cell {
    token: Token,
    state: Plain<(u64, VectorClock)>,
}

impl Cell {
    fn new(v: u64) -> Cell {
        Cell { token: Token::new(runtime::current().backend), state: Plain::new((v, VectorClock::default())) }
    }

    /// Applies `f` (old value to new value, `None` to leave it), returning the old value and
    /// whether it was written.
    fn apply(&self, op: AtomicOp, f: impl FnOnce(u64) -> Option<u64>) -> (u64, bool) {
        let exec = runtime::current();
        let g = exec.me();
        self.token.touch("sync/atomic");
        let mut guard = self.state.lock();
        let (value, clock) = &mut *guard;
        let old = *value;
        let new = f(old);
        if let Some(v) = new {
            *value = v;
        }
        exec.state.lock().atomic_sync(g, clock, op, new.is_some());
        (old, new.is_some())
    }
}

macro_rules! int_atomic {
    ($($name:ident $t:ty, $go:literal;)*) => {$(
        #[doc = concat!("Go's `", $go, "`.")]
        #[derive(Clone)]
        pub struct $name(Arc<Cell>);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.state.lock().0 as $t)
            }
        }

        impl $name {
            /// A new variable holding `v`.
            pub fn new(v: $t) -> Self {
                $name(Arc::new(Cell::new(v as u64)))
            }

            /// `Load`.
            pub fn load(&self) -> $t {
                self.0.apply(AtomicOp::Load, |_| None).0 as $t
            }

            /// `Store`.
            pub fn store(&self, v: $t) {
                self.0.apply(AtomicOp::Store, |_| Some(v as u64));
            }

            /// `Add`: returns the new value.
            pub fn add(&self, delta: $t) -> $t {
                let old = self.0.apply(AtomicOp::Rmw, |o| Some((o as $t).wrapping_add(delta) as u64)).0;
                (old as $t).wrapping_add(delta)
            }

            /// `Swap`: returns the old value.
            pub fn swap(&self, v: $t) -> $t {
                self.0.apply(AtomicOp::Rmw, |_| Some(v as u64)).0 as $t
            }

            /// `CompareAndSwap`.
            pub fn compare_and_swap(&self, old: $t, new: $t) -> bool {
                self.0.apply(AtomicOp::Rmw, |o| (o as $t == old).then_some(new as u64)).1
            }
        }
    )*};
}

int_atomic! {
    AtomicInt32 i32, "atomic.Int32";
    AtomicUint32 u32, "atomic.Uint32";
    AtomicInt64 i64, "atomic.Int64";
    AtomicUint64 u64, "atomic.Uint64";
}

/// Go's `atomic.Bool`.
#[derive(Clone)]
pub struct AtomicBool(Arc<Cell>);

impl fmt::Debug for AtomicBool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AtomicBool({})", self.0.state.lock().0 != 0)
    }
}

impl AtomicBool {
    /// A new variable holding `v`.
    pub fn new(v: bool) -> Self {
        AtomicBool(Arc::new(Cell::new(v as u64)))
    }

    /// `Load`.
    pub fn load(&self) -> bool {
        self.0.apply(AtomicOp::Load, |_| None).0 != 0
    }

    /// `Store`.
    pub fn store(&self, v: bool) {
        self.0.apply(AtomicOp::Store, |_| Some(v as u64));
    }

    /// `Swap`: returns the old value.
    pub fn swap(&self, v: bool) -> bool {
        self.0.apply(AtomicOp::Rmw, |_| Some(v as u64)).0 != 0
    }

    /// `CompareAndSwap`.
    pub fn compare_and_swap(&self, old: bool, new: bool) -> bool {
        self.0.apply(AtomicOp::Rmw, |o| ((o != 0) == old).then_some(new as u64)).1
    }
}
