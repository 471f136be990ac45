//! The happens-before race detector, after ThreadSanitizer v3, with byte-granular shadow memory.
//!
//! Every checked memory object keeps, per byte, the accesses that a later access has not yet
//! subsumed. An access races with a recorded one when the two overlap in at least one byte, come
//! from different goroutines, at least one writes, not both are atomic, and the recorded one does
//! not happen before the new one (its epoch is beyond the new access's clock entry for its
//! goroutine). Detection needs no scheduling points: accesses are checked where they happen, and the
//! clocks, kept by the Go primitives, say what is ordered.
//!
//! A new access subsumes a recorded one that happens before it and is no stronger (a write is
//! stronger than a read, a plain access than an atomic one): whatever would race with the old one
//! from then on races with the new one too, so the old one is dropped. Nothing else is: a plain
//! read survives its goroutine's later atomic read, and concurrent atomic writes all stay, since a
//! later plain access races with each of them. (A "last write plus one read per goroutine" shadow
//! misses both; TSan keeps them in separate shadow slots.) After a race-free plain write a byte
//! holds that write alone, as in FastTrack; otherwise at most two accesses per goroutine.

use std::panic::Location;
use std::sync::Arc;

use crate::report::{Access, AccessKind, FailureKind, RaceReport};
use crate::runtime::clock::VectorClock;
use crate::runtime::stack::StackId;
use crate::runtime::{record, ExecState, Status};
use smallvec::SmallVec;

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

    /// Whether `cur`, which did not race with `self`, makes `self` redundant: `self` happens before
    /// `cur` (in the same goroutine, or by the clocks) and `cur` is at least as strong.
    fn subsumed_by(&self, cur: &Rec, clock: &VectorClock) -> bool {
        let ordered = self.goroutine == cur.goroutine || clock.covers(self.goroutine as usize, self.epoch);
        ordered && (cur.write || !self.write) && (!cur.atomic || self.atomic)
    }
}

/// The accesses of one byte that no later access subsumed, in the order they happened. Usually
/// one (a race-free plain write leaves only itself) or two (a write, then another goroutine's
/// read), kept inline: on the slices under DPOR, two inline run 4.5 to 6.3% fewer instructions
/// than one (cachegrind), which allocates for every byte read after a write.
#[derive(Clone, Default)]
struct ByteShadow(SmallVec<[Rec; 2]>);

/// Tells a read's term in the interleaving hash from a write's.
const READ: u64 = 0x5eed_0f4e_ad00_0001;

/// Shadow memory of one checked object, and what the report needs to name it.
pub(crate) struct Shadow {
    bytes: Vec<ByteShadow>,
    label: Arc<str>,
    base: u64,
    regions: Vec<(usize, usize, Region)>,
    /// The object's identity in the interleaving hash and to the DPOR explorer (see
    /// [`record::new_object`]).
    identity: u64,
    /// Per byte, how many writes it has seen: with the access's bytes, its position in the
    /// interleaving hash. Reads between two writes commute, and so do accesses to different bytes.
    byte_writes: Vec<u32>,
}

/// What a region of an object is called in reports; a row is named only when a report needs it
/// (a segment labels every row it holds, in every execution).
enum Region {
    Named(String),
    Row(usize),
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
            // Built one by one: `vec![x; n]` clones `x` through `SmallVec`'s iterator, a profile's 6%.
            bytes: std::iter::repeat_with(ByteShadow::default).take(size).collect(),
            label,
            base,
            regions: Vec::new(),
            identity: record::new_object(),
            byte_writes: vec![0; size],
        }
    }

    /// The identity of the 8-byte word holding byte `offset`, for the DPOR explorer.
    pub(crate) fn word(&self, offset: usize) -> u64 {
        self.identity.wrapping_add((offset / 8) as u64)
    }

    pub(crate) fn label(&self) -> &Arc<str> {
        &self.label
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Names bytes `start..start+len` (a row, a field) for reports.
    pub(crate) fn label_region(&mut self, start: usize, len: usize, name: String) {
        self.regions.push((start, start + len, Region::Named(name)));
    }

    /// Names the rows starting at `starts` (ascending; the last ends with the object) `row 0`,
    /// `row 1`, … for reports.
    pub(crate) fn label_rows(&mut self, starts: &[usize]) {
        let ends = starts.iter().skip(1).copied().chain(std::iter::once(self.bytes.len()));
        self.regions.extend(starts.iter().zip(ends).enumerate().map(|(i, (&s, e))| (s, e, Region::Row(i))));
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
        let bytes = &mut self.byte_writes[spec.offset..end];
        let position = bytes.iter().fold(0u32, |h, &n| h.wrapping_mul(0x0100_0193) ^ n);
        if write {
            bytes.iter_mut().for_each(|n| *n += 1);
        }
        let range = ((spec.offset as u64) << 8) | spec.size as u64;
        let kind = if write { 0 } else { READ };
        record::depend(self.identity ^ range.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ kind, position, g);
        if st.tracing {
            // Any access is the goroutine doing something: its stack then names it.
            record::saw_stack(g, &st.stacks.frames(st.goroutines[g].stack));
        }
        let traced = record::watches(addr, spec.size);
        if traced {
            let frame = st.stacks.frames(stack).into_iter().find(|f| !f.starts_with("sync/atomic."));
            record::memory(g, addr, spec.size, write, spec.atomic, frame);
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
        // The first byte with a racing access names it; a write before a read. Each byte is
        // checked before it is updated, in one pass.
        let clock = &gr.clock;
        let mut conflict = None;
        for b in &mut self.bytes[spec.offset..end] {
            if conflict.is_none() {
                let racing = |write: bool| b.0.iter().find(|p| p.write == write && p.races_with(&cur, clock));
                conflict = racing(true).or_else(|| racing(false)).copied();
            }
            match b.0.as_mut_slice() {
                // Most often the byte holds one access the new one subsumes.
                [only] if only.subsumed_by(&cur, clock) => *only = cur,
                _ => {
                    b.0.retain(|p| !p.subsumed_by(&cur, clock));
                    b.0.push(cur);
                }
            }
        }
        let prev = conflict?;
        let report = Box::new(RaceReport {
            current: self.describe(st, &cur),
            previous: self.describe(st, &prev),
            object: self.label.to_string(),
            object_size: self.bytes.len(),
            region: self.regions.iter().rev().find(|(s, e, _)| *s <= spec.offset && spec.offset < *e).map(
                |(s, _, name)| match name {
                    Region::Named(n) => (n.clone(), *s),
                    Region::Row(i) => (format!("row {i}"), *s),
                },
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::stack::StackDepot;
    use crate::runtime::Backend;
    use crate::runtime::{set_current, Execution, Goroutine};

    /// Runs `f` on an execution with goroutines 1 and 2 besides main, unordered with each other,
    /// and one 16-byte object.
    fn with_shadow(f: impl FnOnce(&mut ExecState, &mut Shadow)) {
        let exec = Execution::start(Backend::Std);
        {
            let mut st = exec.state.lock();
            for g in 1..=2 {
                let mut clock = VectorClock::default();
                clock.set(g, 1);
                st.goroutines.push(Goroutine::new(clock, None));
            }
            let mut shadow = Shadow::new("x".into(), 0x1000, 16);
            f(&mut st, &mut shadow);
        }
        set_current(None);
    }

    /// One access by `g` (atomic ones tick the goroutine's clock, as their sync does).
    fn access(st: &mut ExecState, sh: &mut Shadow, g: usize, at: (usize, usize), write: bool, atomic: bool) -> bool {
        let kind = if write { AccessKind::Write } else { AccessKind::Read };
        let raced = sh.access(
            st,
            g,
            AccessSpec { offset: at.0, size: at.1, kind, atomic, frames: &[], location: Location::caller() },
        );
        if atomic {
            st.goroutines[g].clock.tick(g);
        }
        raced.is_some()
    }

    /// Race 1's shape: a plain read of the key length, then the same goroutine's atomic load of
    /// the overlapping used-flag word. Another goroutine's atomic store of the flag races with the
    /// plain read; a shadow keeping one read per goroutine had replaced it with the atomic one.
    #[test]
    fn a_plain_read_survives_its_goroutines_later_atomic_read() {
        with_shadow(|st, sh| {
            assert!(!access(st, sh, 1, (9, 4), false, false));
            assert!(!access(st, sh, 1, (8, 4), false, true));
            assert!(access(st, sh, 2, (8, 4), true, true));
            let FailureKind::DataRace(r) = st.failure.take().unwrap() else { panic!("not a race") };
            assert_eq!((r.previous.goroutine, r.previous.offset, r.previous.atomic), (2, 9, false));
        });
    }

    /// Two concurrent atomic stores do not race, but a later plain read races with both: the second
    /// store must not erase the first.
    #[test]
    fn concurrent_atomic_writes_all_stay() {
        with_shadow(|st, sh| {
            assert!(!access(st, sh, 1, (0, 4), true, true));
            assert!(!access(st, sh, 2, (0, 4), true, true));
            assert!(access(st, sh, 2, (0, 4), false, false));
            let FailureKind::DataRace(r) = st.failure.take().unwrap() else { panic!("not a race") };
            assert_eq!((r.previous.goroutine, r.previous.atomic, r.previous.kind), (2, true, AccessKind::Write));
        });
    }

    /// An atomic store does not race with a concurrent atomic load, but must keep it: a later
    /// plain store races with the load.
    #[test]
    fn an_atomic_write_keeps_concurrent_atomic_reads() {
        with_shadow(|st, sh| {
            assert!(!access(st, sh, 1, (0, 4), false, true));
            assert!(!access(st, sh, 2, (0, 4), true, true));
            assert!(access(st, sh, 2, (0, 4), true, false));
            let FailureKind::DataRace(r) = st.failure.take().unwrap() else { panic!("not a race") };
            assert_eq!((r.previous.goroutine, r.previous.kind), (2, AccessKind::Read));
        });
    }

    /// Ordered accesses are dropped: a byte holds only what can still race.
    #[test]
    fn ordered_and_weaker_accesses_are_dropped() {
        with_shadow(|st, sh| {
            access(st, sh, 1, (0, 1), false, true);
            access(st, sh, 1, (0, 1), false, false);
            assert_eq!(sh.bytes[0].0.len(), 1, "a plain read subsumes its goroutine's atomic read");
            access(st, sh, 1, (0, 1), true, true);
            assert_eq!(sh.bytes[0].0.len(), 2, "an atomic write does not subsume a plain read");
            let c1 = st.goroutines[1].clock.clone();
            st.goroutines[2].clock.join(&c1);
            assert!(!access(st, sh, 2, (0, 1), true, false));
            assert_eq!(sh.bytes[0].0.len(), 1, "a race-free plain write leaves only itself");
        });
    }

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
