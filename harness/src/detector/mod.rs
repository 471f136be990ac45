//! The happens-before race detector, after ThreadSanitizer v3, with byte-granular shadow memory.
//!
//! Every checked memory object keeps, per byte, its last write and the reads since that write
//! (one per goroutine). An access races with a recorded one when the two overlap in at least one
//! byte, come from different goroutines, at least one writes, not both are atomic, and the recorded
//! one does not happen before the new one (its epoch is beyond the new access's clock entry for its
//! goroutine). Detection needs no scheduling points: accesses are checked where they happen, and the
//! clocks, kept by the Go primitives, say what is ordered.

pub mod clock;

use std::panic::Location;
use std::sync::Arc;

use crate::report::{Access, AccessKind, FailureKind, RaceReport};
use crate::runtime::stack::StackId;
use crate::runtime::{ExecState, Status};
use crate::schedule::log;
use clock::VectorClock;

/// One recorded access to a byte.
#[derive(Clone, Copy, Debug)]
struct Rec {
    goroutine: u32,
    epoch: u32,
    atomic: bool,
    write: bool,
    stack: StackId,
    offset: u32,
    size: u32,
    location: &'static Location<'static>,
}

impl Rec {
    /// Whether `self` (recorded earlier) races with `cur`, made by a goroutine whose clock is `clock`.
    fn races_with(&self, cur: &Rec, clock: &VectorClock) -> bool {
        self.goroutine != cur.goroutine
            && (self.write || cur.write)
            && !(self.atomic && cur.atomic)
            && !clock.covers(self.goroutine as usize, self.epoch)
    }
}

#[derive(Clone, Default)]
struct ByteShadow {
    write: Option<Rec>,
    // invariant: at most one read per goroutine, and each read is later than `write`.
    reads: Vec<Rec>,
}

/// Shadow memory of one checked object, and what the report needs to name it.
pub(crate) struct Shadow {
    bytes: Vec<ByteShadow>,
    label: Arc<str>,
    base: u64,
    regions: Vec<(usize, usize, String)>,
    /// Per 8-byte word, how many accesses it has seen (its position in the interleaving hash).
    word_seq: Vec<u32>,
}

/// How an access touches memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccessSpec {
    pub(crate) offset: usize,
    pub(crate) size: usize,
    pub(crate) kind: AccessKind,
    pub(crate) atomic: bool,
    /// Frames the harness adds below the model's for this access, outermost first
    /// (`sync/atomic.StoreUint32` then `sync/atomic.StoreInt32`, as Go's race build shows them;
    /// `runtime.chansend`), as Go's report shows it.
    pub(crate) frames: &'static [&'static str],
    pub(crate) location: &'static Location<'static>,
}

impl Shadow {
    pub(crate) fn new(label: Arc<str>, base: u64, size: usize) -> Shadow {
        Shadow {
            bytes: vec![ByteShadow::default(); size],
            label,
            base,
            regions: Vec::new(),
            word_seq: vec![0; size.div_ceil(8)],
        }
    }

    pub(crate) fn label(&self) -> &Arc<str> {
        &self.label
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Names bytes `start..start+len` (a row, a field) for reports.
    pub(crate) fn label_region(&mut self, start: usize, len: usize, name: String) {
        self.regions.push((start, start + len, name));
    }

    /// Checks an access by the calling goroutine `g` and records it. Returns the race report if
    /// it races with a recorded access; the report is also stored as the execution's failure.
    pub(crate) fn access(&mut self, st: &mut ExecState, g: usize, spec: AccessSpec) -> Option<Box<RaceReport>> {
        let end = spec.offset + spec.size;
        assert!(
            end <= self.bytes.len(),
            "access [{}, {end}) out of range for {} ({} bytes)",
            spec.offset,
            self.label,
            self.bytes.len()
        );
        let gr = &st.goroutines[g];
        let mut stack = gr.stack;
        for frame in spec.frames {
            stack = st.stacks.push(stack, frame);
        }
        let addr = self.base + spec.offset as u64;
        let write = spec.kind == AccessKind::Write;
        let traced = log::with(|l| {
            for w in spec.offset / 8..end.div_ceil(8) {
                l.depend(self.base / 8 + w as u64, self.word_seq[w], g);
                self.word_seq[w] += 1;
            }
            l.watches(addr, spec.size)
        });
        if traced {
            let frame = st.stacks.frames(stack).into_iter().find(|f| !f.starts_with("sync/atomic."));
            log::memory(g, addr, spec.size, write, spec.atomic, frame);
        }
        let gr = &st.goroutines[g];
        let cur = Rec {
            goroutine: g as u32,
            epoch: gr.clock.get(g),
            atomic: spec.atomic,
            write: spec.kind == AccessKind::Write,
            stack,
            offset: spec.offset as u32,
            size: spec.size as u32,
            location: spec.location,
        };
        let mut conflict = None;
        for b in &self.bytes[spec.offset..end] {
            let earlier = b.write.iter().chain(if cur.write { &b.reads[..] } else { &[] });
            if let Some(prev) = earlier.into_iter().find(|p| p.races_with(&cur, &gr.clock)) {
                conflict = Some(*prev);
                break;
            }
        }
        for b in &mut self.bytes[spec.offset..end] {
            if cur.write {
                b.write = Some(cur);
                b.reads.clear();
            } else if let Some(r) = b.reads.iter_mut().find(|r| r.goroutine == cur.goroutine) {
                *r = cur;
            } else {
                b.reads.push(cur);
            }
        }
        let prev = conflict?;
        let report = Box::new(RaceReport {
            current: self.describe(st, &cur),
            previous: self.describe(st, &prev),
            object: self.label.to_string(),
            object_size: self.bytes.len(),
            region: self
                .regions
                .iter()
                .rev()
                .find(|(s, e, _)| *s <= spec.offset && spec.offset < *e)
                .map(|(s, _, name)| (name.clone(), *s)),
        });
        st.fail(FailureKind::DataRace(report.clone()));
        Some(report)
    }

    fn describe(&self, st: &ExecState, r: &Rec) -> Access {
        let gr = &st.goroutines[r.goroutine as usize];
        Access {
            kind: if r.write { AccessKind::Write } else { AccessKind::Read },
            atomic: r.atomic,
            addr: self.base + r.offset as u64,
            offset: r.offset as usize,
            size: r.size as usize,
            goroutine: ExecState::go_id(r.goroutine as usize),
            goroutine_finished: matches!(gr.status, Status::Finished),
            stack: st.stacks.frames(r.stack),
            created_at: gr.created_at.map(|s| st.stacks.frames(s)),
            location: format!("{}:{}", r.location.file(), r.location.line()),
        }
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
        let gr = &mut self.goroutines[g];
        sync.join(&gr.clock);
        gr.clock.tick(g);
    }

    /// Release (store): `sync` becomes exactly `g`'s clock, as TSan does for an atomic store.
    pub(crate) fn release_store(&mut self, g: usize, sync: &mut VectorClock) {
        let gr = &mut self.goroutines[g];
        *sync = gr.clock.clone();
        gr.clock.tick(g);
    }

    /// Release-store-acquire (TSan's `ReleaseStoreAcquire`, Go's `racereleaseacquire`): `sync`
    /// becomes `g`'s clock from before the call, and `g` learns what `sync` held.
    pub(crate) fn release_store_acquire(&mut self, g: usize, sync: &mut VectorClock) {
        let gr = &mut self.goroutines[g];
        let before = gr.clock.clone();
        gr.clock.join(sync);
        *sync = before;
        gr.clock.tick(g);
    }

    /// Acquire: `g` learns everything released into `sync`.
    pub(crate) fn acquire(&mut self, g: usize, sync: &VectorClock) {
        self.goroutines[g].clock.join(sync);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::stack::StackDepot;

    fn rec(goroutine: u32, epoch: u32, write: bool, atomic: bool) -> Rec {
        Rec {
            goroutine,
            epoch,
            atomic,
            write,
            stack: StackDepot::EMPTY,
            offset: 0,
            size: 4,
            location: Location::caller(),
        }
    }

    #[test]
    fn race_rules() {
        let clock = VectorClock::default();
        let w1 = rec(1, 1, true, false);
        // Different goroutines, a write, unordered: race.
        assert!(w1.races_with(&rec(2, 1, false, false), &clock));
        // Same goroutine: never.
        assert!(!w1.races_with(&rec(1, 2, false, false), &clock));
        // Two reads: never.
        assert!(!rec(1, 1, false, false).races_with(&rec(2, 1, false, false), &clock));
        // Both atomic: never; one atomic: race.
        assert!(!rec(1, 1, true, true).races_with(&rec(2, 1, false, true), &clock));
        assert!(rec(1, 1, true, true).races_with(&rec(2, 1, false, false), &clock));
        // Ordered by happens-before: no race.
        let mut later = VectorClock::default();
        later.set(1, 1);
        assert!(!w1.races_with(&rec(2, 1, false, false), &later));
    }
}
