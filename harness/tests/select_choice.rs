//! A select with several ready cases: Go picks uniformly among them, so an exhaustive search must
//! try each. DPOR branches over them (bounded and unbounded), shuttle random draws them, and loom,
//! which cannot branch on data, says its outcome covers the first ready case only.
//!
//! Go 1.19.8 `go test -race -count=1`, 20 runs of the first model written in Go (main reads `x`, a
//! goroutine writes it only in the second of two ready receive cases): the race was reported in
//! 11 of 20 (Go's `selectgo` shuffles its poll order).

use harness::go::{self, select, Chan};
use harness::memory::CheckedBuf;
use harness::report::FailureKind;
use harness::{explore, Strategy};

/// Both cases ready before the goroutine starts; only the second writes `x`, unordered with main's read.
fn second_case_races() {
    let x = CheckedBuf::new("x", 8);
    let (a, b) = (Chan::<()>::new("a", 1), Chan::<()>::new("b", 1));
    a.send(());
    b.send(());
    let x2 = x.clone();
    let h = go::go(move || {
        let (mut ra, mut rb) = (a.recv_case(), b.recv_case());
        if select(&mut [&mut ra, &mut rb]) == 1 {
            let _f = go::frame("secondCase");
            x2.write_u64(0, 1);
        }
    });
    let _f = go::frame("mainRead");
    let _ = x.read_u64(0);
    h.join();
}

/// Data and a closed `done` both ready; only when `done` wins does the goroutine wait forever, so
/// main's join can never return.
fn done_case_deadlocks() {
    let (data, done) = (Chan::<u32>::new("data", 1), Chan::<()>::new("done", 0));
    data.send(1);
    done.close();
    let h = go::go(move || {
        let (mut rd, mut rdone) = (data.recv_case(), done.recv_case());
        if select(&mut [&mut rd, &mut rdone]) == 1 {
            Chan::<()>::new("never", 0).recv();
        }
    });
    h.join();
}

fn strategies() -> [Strategy; 4] {
    [Strategy::dpor(None), Strategy::dpor(Some(0)), Strategy::dpor(Some(2)), Strategy::random(1, 100)]
}

#[test]
fn only_the_second_ready_case_races() {
    for s in strategies() {
        let o = explore(&s, second_case_races);
        let race = o.race().unwrap_or_else(|| panic!("{s}: expected the race, got {o}"));
        let mut sites = [race.current.site(), race.previous.site()];
        sites.sort();
        assert_eq!(sites, [Some("mainRead"), Some("secondCase")], "{s}: {o}");
    }
    let loom = explore(&Strategy::loom(3), second_case_races);
    assert!(loom.failure.is_none(), "loom takes the first ready case: {loom}");
    assert!(!loom.exhaustive && loom.first_ready_case_only, "{loom}");
    assert!(loom.to_string().contains("exhaustive over schedules, first ready select case only"), "{loom}");
}

#[test]
fn only_the_done_case_deadlocks() {
    for s in strategies() {
        let o = explore(&s, done_case_deadlocks);
        match o.failure.as_ref().map(|f| &f.kind) {
            Some(FailureKind::Deadlock { goroutines, .. }) => {
                assert!(goroutines.iter().any(|g| g.waiting_on == "chan receive on never"), "{s}: {o}")
            }
            _ => panic!("{s}: expected a deadlock, got {o}"),
        }
    }
    let loom = explore(&Strategy::loom(3), done_case_deadlocks);
    assert!(loom.failure.is_none() && loom.first_ready_case_only && !loom.exhaustive, "{loom}");
}

/// The failing choice is in the schedule: replaying it fails the same way.
#[test]
fn a_failing_choice_replays() {
    let o = explore(&Strategy::dpor(None), second_case_races);
    let schedule = o.failure.as_ref().and_then(|f| f.schedule.clone()).expect("a failing schedule");
    assert_eq!(schedule.choices, vec![1], "the second case's index");
    let r = harness::replay(&schedule, second_case_races);
    assert_eq!(r.outcome.race().map(|r| r.overlap()), Some(0..8), "{}", r.outcome);
}

/// One ready case is no choice: loom stays exhaustive, and DPOR runs no extra executions.
#[test]
fn a_single_ready_case_is_no_choice() {
    fn one_ready() {
        let (a, b) = (Chan::<()>::new("a", 1), Chan::<()>::new("b", 1));
        a.send(());
        let (mut ra, mut rb) = (a.recv_case(), b.recv_case());
        assert_eq!(select(&mut [&mut ra, &mut rb]), 0);
    }
    let loom = explore(&Strategy::loom(3), one_ready);
    assert!(loom.exhaustive && !loom.first_ready_case_only, "{loom}");
    let dpor = explore(&Strategy::dpor(None), one_ready);
    assert!(dpor.exhaustive && dpor.executions == 1, "{dpor}");
}
