//! Go's race-detector test cases (`src/runtime/race/testdata/*_test.go`), ported to the harness.
//!
//! One file per Go source file; each test keeps Go's name. `TestRace*` cases are asserted to be
//! races and `TestNoRace*` cases clean, under loom (preemption bound 3, exhaustive) and both
//! shuttle schedulers unless a case says why it runs under shuttle only. Go variables become
//! `CheckedField`s, or `CheckedBuf`s where byte ranges matter (structs, arrays, copies).
//!
//! General porting rules:
//! - Go tests do not wait for their goroutines; here main joins them (or waits on the test's own
//!   channel) after its own racy access, so the join orders nothing the race is about.
//! - `time.Sleep` used only to steer the schedule is dropped: exploration covers the orders.
//! - A `recover()` that never fires (Go's "vestigial" recovers) is dropped. Where the send or close
//!   Go recovers from is preceded by the racing access to the channel, the race ends the schedule
//!   before the panic, so those cases are ported without the recover (said at each case).
//!
//! Skipped cases, with the reason:
//! - chan_test `TestRaceChanCloseClose`: the losing close panics and Go recovers it before writing
//!   the other goroutine's variable; the race is on that write, which needs `recover()`.
//! - chan_test `TestRaceChanWrongClose`: needs `recover()` in the sender, and the schedules the
//!   sleeps do not force deadlock on the second `<-done`.
//! - chan_test `TestRaceChanItselfNil`: a send on a nil channel (blocks forever); no nil channels.
//! - mutex_test `TestRaceMutexOverwrite`: overwrites a live mutex with a plain write.
//! - waitgroup_test `TestNoRaceWaitGroupPanicRecover`, `TestNoRaceWaitGroupPanicRecover2`: the
//!   negative-counter panic is recovered.
//! - sync_test `TestNoRaceAfterFunc1`, `TestNoRaceAfterFunc2`, `TestNoRaceAfterFunc3`,
//!   `TestRaceAfterFunc3`: `time.AfterFunc` timers.
//! - sync_test `TestNoRaceNilMutexCrash`, atomic_test `TestNoRaceAtomicCrash`: nil-pointer panics
//!   recovered.
//! - atomic_test `TestNoRaceDeferAtomicStore`: about 4,000 goroutines and `runtime.GC`.
//! - mop_test `TestRaceUnsafePtrRW`, `TestRaceMethodThunk4`: `unsafe.Pointer` tricks.
//!
//! Not Go test cases, labelled where they appear: `TestFlakyDefault` (commented out in Go's
//! select_test), the three TSan offset tests in `mop.rs` (from `tsan_mop.cpp`), and the sync.Once
//! cases in `sync.rs` (DERIVED: Go's race testdata has no Once tests).

use harness::report::{AccessKind, RaceReport};

mod atomic;
mod chan;
mod mop;
mod mutex;
mod rwmutex;
mod select;
mod sync;
mod waitgroup;

/// Asserts that every report is about `object`.
#[track_caller]
pub fn assert_object(reports: &[RaceReport], object: &str) {
    for r in reports {
        assert_eq!(r.object, object, "{r}");
    }
}

/// Asserts that every report is about one of `objects`.
#[track_caller]
pub fn assert_object_in(reports: &[RaceReport], objects: &[&str]) {
    for r in reports {
        assert!(objects.contains(&r.object.as_str()), "expected a race on one of {objects:?}:\n{r}");
    }
}

/// Asserts that every report pairs two plain writes.
#[track_caller]
pub fn assert_write_write(reports: &[RaceReport]) {
    for r in reports {
        let kinds = [(r.current.kind, r.current.atomic), (r.previous.kind, r.previous.atomic)];
        assert_eq!(kinds, [(AccessKind::Write, false); 2], "{r}");
    }
}

/// Asserts that every report pairs a plain read and a plain write (in either order).
#[track_caller]
pub fn assert_read_write(reports: &[RaceReport]) {
    for r in reports {
        let mut kinds = [r.current.kind, r.previous.kind];
        kinds.sort_by_key(|k| *k == AccessKind::Write);
        assert_eq!(kinds, [AccessKind::Read, AccessKind::Write], "{r}");
        assert!(!r.current.atomic && !r.previous.atomic, "{r}");
    }
}

/// Asserts that every report's two accesses overlap in exactly `bytes`.
#[track_caller]
pub fn assert_overlap(reports: &[RaceReport], bytes: std::ops::Range<usize>) {
    for r in reports {
        assert_eq!(r.overlap(), bytes, "{r}");
    }
}
