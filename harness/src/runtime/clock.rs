//! Vector clocks, one component per goroutine of the execution, and the happens-before
//! operations the Go primitives perform on them (acquire, release, and TSan's atomic rules).

use smallvec::SmallVec;

use super::{record, ExecState};

/// A goroutine's logical time: component `g` counts the release operations of goroutine `g` that
/// happen before the clock's owner's current point.
/// Held inline up to 8 goroutines, so copying a clock does not allocate in small models.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VectorClock(SmallVec<[u32; 8]>);

/// A copy (`SmallVec`'s own `Clone` pushes element by element: the DPOR explorer's clock copies
/// were a tenth of a restore slice's instructions).
impl Clone for VectorClock {
    fn clone(&self) -> VectorClock {
        VectorClock(SmallVec::from_slice(&self.0))
    }
}

impl VectorClock {
    /// The component of goroutine `g` (0 when never seen).
    pub fn get(&self, g: usize) -> u32 {
        self.0.get(g).copied().unwrap_or(0)
    }

    /// Sets the component of goroutine `g`.
    pub fn set(&mut self, g: usize, value: u32) {
        if self.0.len() <= g {
            self.0.resize(g + 1, 0);
        }
        self.0[g] = value;
    }

    /// Advances goroutine `g`'s own component, after a release: later accesses of `g` are then not
    /// covered by what the release published.
    pub fn tick(&mut self, g: usize) {
        let v = self.get(g);
        self.set(g, v + 1);
    }

    /// Pointwise maximum (acquire).
    pub fn join(&mut self, other: &VectorClock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }

    /// The nonzero components, as (goroutine, value).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.0.iter().copied().enumerate().filter(|&(_, v)| v > 0)
    }

    /// Whether the event `(g, epoch)` happens before (or is) the point this clock describes.
    pub fn covers(&self, g: usize, epoch: u32) -> bool {
        epoch <= self.get(g)
    }
}

/// How an atomic operation synchronizes (TSan's rules for Go's seq-cst atomics): a load acquires;
/// a store overwrites the variable's sync clock with the goroutine's; a read-modify-write acquires
/// and merges, or only acquires when it writes nothing (a failed compare-and-swap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomicOp {
    Load,
    Store,
    Rmw,
}

/// Happens-before bookkeeping of the Go primitives, on the execution state.
impl ExecState {
    /// The happens-before of atomic operation `op` by `g` on a variable whose sync clock is
    /// `sync`; `wrote` says whether it stored a value.
    pub(crate) fn atomic_sync(&mut self, g: usize, sync: &mut VectorClock, op: AtomicOp, wrote: bool) {
        match (op, wrote) {
            (AtomicOp::Store, _) => self.release_store(g, sync),
            (AtomicOp::Rmw, true) => {
                self.acquire(g, sync);
                self.release(g, sync);
            }
            (AtomicOp::Load, _) | (AtomicOp::Rmw, false) => self.acquire(g, sync),
        }
    }

    /// Release (merge): `sync` learns everything `g` has done so far; `g` then moves on.
    pub(crate) fn release(&mut self, g: usize, sync: &mut VectorClock) {
        self.trace_release(g);
        let gr = &mut self.goroutines[g];
        sync.join(&gr.clock);
        gr.clock.tick(g);
    }

    /// Release (store): `sync` becomes exactly `g`'s clock, as TSan does for an atomic store.
    pub(crate) fn release_store(&mut self, g: usize, sync: &mut VectorClock) {
        self.trace_release(g);
        let gr = &mut self.goroutines[g];
        *sync = gr.clock.clone();
        gr.clock.tick(g);
    }

    /// Release-store-acquire (TSan's `ReleaseStoreAcquire`, Go's `racereleaseacquire`): `sync`
    /// becomes `g`'s clock from before the call, and `g` learns what `sync` held.
    pub(crate) fn release_store_acquire(&mut self, g: usize, sync: &mut VectorClock) {
        // Traced as a release of the clock from before, then an acquire, as it behaves.
        self.trace_release(g);
        self.trace_acquire(g, sync);
        let gr = &mut self.goroutines[g];
        let before = gr.clock.clone();
        gr.clock.join(sync);
        *sync = before;
        gr.clock.tick(g);
    }

    /// Acquire: `g` learns everything released into `sync`.
    pub(crate) fn acquire(&mut self, g: usize, sync: &VectorClock) {
        self.trace_acquire(g, sync);
        self.goroutines[g].clock.join(sync);
    }

    /// A traced run records the release `g` is about to make (its clock now) as an edge source.
    /// Untraced runs pay one test of a flag.
    fn trace_release(&self, g: usize) {
        if self.tracing {
            let gr = &self.goroutines[g];
            record::released(g, &gr.clock, &self.stacks.frames(gr.stack));
        }
    }

    /// A traced run records the edges into `g` that acquiring `sync` adds (before `g` learns it).
    fn trace_acquire(&self, g: usize, sync: &VectorClock) {
        if self.tracing {
            let gr = &self.goroutines[g];
            record::acquired(g, &gr.clock, sync, &self.stacks.frames(gr.stack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VectorClock;

    #[test]
    fn join_is_pointwise_max_and_covers_follows() {
        let mut a = VectorClock::default();
        a.set(0, 3);
        let mut b = VectorClock::default();
        b.set(1, 2);
        b.set(0, 1);
        assert!(!a.covers(1, 1));
        a.join(&b);
        assert_eq!((a.get(0), a.get(1)), (3, 2));
        assert!(a.covers(1, 2));
        assert!(!a.covers(1, 3));
        a.tick(1);
        assert_eq!(a.get(1), 3);
    }
}
