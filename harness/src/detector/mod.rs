//! The happens-before race detector, after ThreadSanitizer v3, with byte-granular shadow memory.
//!
//! Every checked memory object keeps, per byte, the accesses that a later access has not yet
//! subsumed. An access races with a recorded one when the two overlap in at least one byte, come
//! from different goroutines, at least one writes, not both are atomic, and the recorded one does
//! not happen before the new one (its epoch is beyond the new access's clock entry for its
//! goroutine). Detection needs no scheduling points: accesses are checked where they happen, and the
//! clocks, kept by the Go primitives, say what is ordered.
//!
//! The shadow is kept as runs of bytes that hold the same accesses: a field is always accessed
//! whole, so it is one run, and a row buffer has about one run per field it has seen accessed.
//! An access costs its runs, not its bytes (a builder's field of a few hundred bytes had cost a
//! third of a restore slice's instructions under DPOR).
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

    /// The same access (recorded by the same access of the same bytes).
    fn same(&self, other: &Rec) -> bool {
        (self.goroutine, self.epoch, self.atomic, self.write, self.stack, self.offset, self.size)
            == (other.goroutine, other.epoch, other.atomic, other.write, other.stack, other.offset, other.size)
            && std::ptr::eq(self.location, other.location)
    }
}

/// Bytes `start` up to the next run's start that hold the same accesses, those no later access
/// subsumed, in the order they happened, and have seen the same number of writes. Usually one
/// access (a race-free plain write leaves only itself) or two (a write, then another goroutine's
/// read), kept inline.
#[derive(Clone)]
struct Run {
    start: usize,
    writes: u32,
    recs: SmallVec<[Rec; 2]>,
}

impl Run {
    fn same(&self, other: &Run) -> bool {
        self.writes == other.writes
            && self.recs.len() == other.recs.len()
            && self.recs.iter().zip(&other.recs).all(|(a, b)| a.same(b))
    }
}

/// A checked object's name in reports. A templated name (`rowTables[{}][{}]` with 1 and 3) is
/// formatted only when something prints it: a model creates tens of such objects per execution
/// (their `format!` was 5% of a restore slice's instructions), and reports are rare.
#[derive(Clone, Debug)]
pub struct Name(NameKind);

#[derive(Clone, Debug)]
enum NameKind {
    Static(&'static str),
    Text(Arc<str>),
    Template(&'static str, SmallVec<[usize; 3]>),
}

impl Name {
    /// `template` with its `{}`s replaced by `values` in order:
    /// `Name::template("rowTables[{}][{}]", &[1, 3])` prints `rowTables[1][3]`.
    pub fn template(template: &'static str, values: &[usize]) -> Name {
        debug_assert_eq!(template.matches("{}").count(), values.len(), "one value per {{}} in {template}");
        Name(NameKind::Template(template, SmallVec::from_slice(values)))
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            NameKind::Static(t) => f.write_str(t),
            NameKind::Text(t) => f.write_str(t),
            NameKind::Template(template, values) => {
                let mut parts = template.split("{}");
                f.write_str(parts.next().unwrap_or_default())?;
                for (part, v) in parts.zip(values) {
                    write!(f, "{v}{part}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(NameKind::Text(s.into()))
    }
}

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Name {
        Name(NameKind::Static(s))
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Name {
        Name(NameKind::Text(s))
    }
}

/// Tells a read's term in the interleaving hash from a write's.
const READ: u64 = 0x5eed_0f4e_ad00_0001;

/// Shadow memory of one checked object, and what the report needs to name it.
pub(crate) struct Shadow {
    /// Ascending by start, the first at 0: together they cover the object.
    runs: Vec<Run>,
    len: usize,
    label: Name,
    base: u64,
    regions: Vec<(usize, usize, Region)>,
    /// The object's identity in the interleaving hash and to the DPOR explorer (see
    /// [`record::new_object`]).
    identity: u64,
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
    pub(crate) fn new(label: impl Into<Name>, base: u64, size: usize) -> Shadow {
        Shadow {
            runs: vec![Run { start: 0, writes: 0, recs: SmallVec::new() }],
            len: size,
            label: label.into(),
            base,
            regions: Vec::new(),
            identity: record::new_object(),
        }
    }

    /// The index of the run starting at byte `at` (the number of runs if `at` is the end),
    /// splitting the run that holds it.
    fn split(&mut self, at: usize) -> usize {
        if at == self.len {
            return self.runs.len();
        }
        let i = self.runs.partition_point(|r| r.start <= at) - 1;
        if self.runs[i].start == at {
            return i;
        }
        let run = Run { start: at, ..self.runs[i].clone() };
        self.runs.insert(i + 1, run);
        i + 1
    }

    /// Where run `i` ends.
    fn end_of(&self, i: usize) -> usize {
        self.runs.get(i + 1).map_or(self.len, |r| r.start)
    }

    /// The identity of the 8-byte word holding byte `offset`, for the DPOR explorer.
    pub(crate) fn word(&self, offset: usize) -> u64 {
        self.identity.wrapping_add((offset / 8) as u64)
    }

    pub(crate) fn label(&self) -> &Name {
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
        let ends = starts.iter().skip(1).copied().chain(std::iter::once(self.len));
        self.regions.extend(starts.iter().zip(ends).enumerate().map(|(i, (&s, e))| (s, e, Region::Row(i))));
    }

    /// Checks an access by the calling goroutine `g` and records it. Returns the race report if
    /// it races with a recorded access; the report is also stored as the execution's failure.
    pub(crate) fn access(&mut self, st: &mut ExecState, g: usize, spec: AccessSpec) -> Option<Box<RaceReport>> {
        let end = spec.offset + spec.size;
        assert!(
            end <= self.len,
            "access [{}, {end}) out of range for {} ({} bytes)",
            spec.offset,
            self.label,
            self.len
        );
        let gr = &st.goroutines[g];
        let mut stack = gr.stack;
        for frame in spec.frames {
            stack = st.stacks.push(stack, frame);
        }
        let addr = self.base + spec.offset as u64;
        let write = spec.kind == AccessKind::Write;
        let (first, last) = (self.split(spec.offset), self.split(end));
        let position = self.position(first, last);
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
        // The first byte with a racing access names it; a write before a read. Each run is
        // checked before it is updated, in one pass.
        let clock = &gr.clock;
        let mut conflict = None;
        for run in &mut self.runs[first..last] {
            if conflict.is_none() {
                let racing = |write: bool| run.recs.iter().find(|p| p.write == write && p.races_with(&cur, clock));
                conflict = racing(true).or_else(|| racing(false)).copied();
            }
            match run.recs.as_mut_slice() {
                // Most often the run holds one access the new one subsumes.
                [only] if only.subsumed_by(&cur, clock) => *only = cur,
                _ => {
                    run.recs.retain(|p| !p.subsumed_by(&cur, clock));
                    run.recs.push(cur);
                }
            }
            run.writes += u32::from(write);
        }
        self.join(first, last);
        let prev = conflict?;
        let report = Box::new(RaceReport {
            current: self.describe(st, &cur),
            previous: self.describe(st, &prev),
            object: self.label.to_string(),
            object_size: self.len,
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

    /// The access's position in the interleaving hash: the writes each of its bytes saw before,
    /// folded over the stretches of bytes that saw equally many (runs `first..last`).
    fn position(&self, first: usize, last: usize) -> u32 {
        const PRIME: u32 = 0x0100_0193;
        let fold = |h: u32, (w, n): (u32, usize)| (h.wrapping_mul(PRIME) ^ w).wrapping_mul(PRIME) ^ n as u32;
        let (mut position, mut stretch) = (0u32, None);
        for i in first..last {
            let (writes, len) = (self.runs[i].writes, self.end_of(i) - self.runs[i].start);
            stretch = match stretch {
                Some((w, n)) if w == writes => Some((w, n + len)),
                done => {
                    position = done.map_or(position, |d| fold(position, d));
                    Some((writes, len))
                }
            };
        }
        stretch.map_or(position, |d| fold(position, d))
    }

    /// Joins the runs around and between `first..last` that now hold the same.
    fn join(&mut self, first: usize, last: usize) {
        let to = last.min(self.runs.len() - 1);
        for i in (first.max(1)..=to).rev() {
            if self.runs[i - 1].same(&self.runs[i]) {
                self.runs.remove(i);
            }
        }
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

    impl Shadow {
        /// How many accesses byte `at` holds.
        fn recs_at(&self, at: usize) -> usize {
            self.runs[self.runs.partition_point(|r| r.start <= at) - 1].recs.len()
        }
    }

    /// Runs `f` on an execution with goroutines 1 and 2 besides main, unordered with each other,
    /// and one 16-byte object.
    fn with_shadow<R>(f: impl FnOnce(&mut ExecState, &mut Shadow) -> R) -> R {
        let exec = Execution::start(Backend::Std);
        let r = {
            let mut st = exec.state.lock();
            for g in 1..=2 {
                let mut clock = VectorClock::default();
                clock.set(g, 1);
                st.goroutines.push(Goroutine::new(clock, None));
            }
            let mut shadow = Shadow::new("x", 0x1000, 16);
            f(&mut st, &mut shadow)
        };
        set_current(None);
        r
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
            assert_eq!(sh.recs_at(0), 1, "a plain read subsumes its goroutine's atomic read");
            access(st, sh, 1, (0, 1), true, true);
            assert_eq!(sh.recs_at(0), 2, "an atomic write does not subsume a plain read");
            let c1 = st.goroutines[1].clock.clone();
            st.goroutines[2].clock.join(&c1);
            assert!(!access(st, sh, 2, (0, 1), true, false));
            assert_eq!(sh.recs_at(0), 1, "a race-free plain write leaves only itself");
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

    /// The runs hold, byte for byte, what a shadow of one access list per byte holds (the layout
    /// before runs), and the first racing access they name and the positions they give are its.
    #[test]
    fn runs_behave_as_bytes() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let access = (1usize..=2, 0usize..16, 1usize..=8, any::<bool>(), any::<bool>(), any::<bool>());
        let mut runner = TestRunner::new(Config { cases: 300, ..Config::default() });
        runner
            .run(&proptest::collection::vec(access, 1..24), |accesses| {
                with_shadow(|st, sh| {
                    let mut bytes: Vec<SmallVec<[Rec; 2]>> = vec![SmallVec::new(); 16];
                    let mut writes = [0u32; 16];
                    for (g, offset, size, write, atomic, sync) in accesses {
                        let size = size.min(16 - offset);
                        if sync {
                            // Orders what goroutine 3 - g did so far before g's next access.
                            let other = st.goroutines[3 - g].clock.clone();
                            st.goroutines[g].clock.join(&other);
                            st.goroutines[3 - g].clock.tick(3 - g);
                        }
                        let clock = st.goroutines[g].clock.clone();
                        let loc = Location::caller();
                        let cur = Rec {
                            goroutine: g as u32,
                            epoch: clock.get(g),
                            atomic,
                            write,
                            stack: StackDepot::EMPTY,
                            offset: offset as u32,
                            size: size as u32,
                            location: loc,
                        };
                        let mut expected = None;
                        let mut stretch: Vec<(u32, usize)> = Vec::new();
                        for (b, n) in bytes[offset..offset + size].iter_mut().zip(&mut writes[offset..offset + size]) {
                            if expected.is_none() {
                                let racing = |w: bool| b.iter().find(|p| p.write == w && p.races_with(&cur, &clock));
                                expected = racing(true).or_else(|| racing(false)).copied();
                            }
                            b.retain(|p| !p.subsumed_by(&cur, &clock));
                            b.push(cur);
                            match stretch.last_mut() {
                                Some((w, len)) if *w == *n => *len += 1,
                                _ => stretch.push((*n, 1)),
                            }
                            *n += u32::from(write);
                        }
                        let (first, last) = (sh.split(offset), sh.split(offset + size));
                        prop_assert_eq!(sh.position(first, last), fold(&stretch));
                        sh.join(first, last);
                        let spec = AccessSpec {
                            offset,
                            size,
                            kind: if write { AccessKind::Write } else { AccessKind::Read },
                            atomic,
                            frames: &[],
                            location: loc,
                        };
                        let found = sh.access(st, g, spec);
                        st.failure = None;
                        prop_assert_eq!(
                            found.map(|r| (r.previous.goroutine, r.previous.offset, r.previous.size)),
                            expected.map(|p| (
                                ExecState::go_id(p.goroutine as usize),
                                p.offset as usize,
                                p.size as usize
                            ))
                        );
                        for (at, b) in bytes.iter().enumerate() {
                            let run = &sh.runs[sh.runs.partition_point(|r| r.start <= at) - 1];
                            prop_assert!(run.recs.len() == b.len() && run.recs.iter().zip(b).all(|(x, y)| x.same(y)));
                            prop_assert_eq!(run.writes, writes[at]);
                        }
                        prop_assert!(sh.runs.windows(2).all(|w| !w[0].same(&w[1])), "adjacent runs that hold the same");
                        if atomic {
                            st.goroutines[g].clock.tick(g);
                        }
                    }
                    Ok(())
                })
            })
            .unwrap();

        fn fold(stretch: &[(u32, usize)]) -> u32 {
            stretch
                .iter()
                .fold(0u32, |h, &(w, n)| (h.wrapping_mul(0x0100_0193) ^ w).wrapping_mul(0x0100_0193) ^ n as u32)
        }
    }

    #[test]
    fn names_print_their_values_in_place() {
        assert_eq!(Name::template("rowTables[{}][{}]", &[1, 3]).to_string(), "rowTables[1][3]");
        assert_eq!(Name::template("seg[w{} p{}].rawData", &[0, 12]).to_string(), "seg[w0 p12].rawData");
        assert_eq!(Name::from("x.y").to_string(), "x.y");
        assert_eq!(Name::from(String::from("a[2]")).to_string(), "a[2]");
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
