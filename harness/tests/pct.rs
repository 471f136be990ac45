//! joinrace's PCT (`harness/src/explore/pct.rs`): a goroutine runs until it blocks or a change
//! point drops its priority, so a bug that needs one preemption at one place is out of reach at
//! depth 1 and found at depth 2 (with the change points removed, depth 2 finds nothing in 200
//! executions either; checked 2026-12-06).

use harness::go::{self, AtomicUint64};
use harness::{explore, Strategy};

/// Main stores 1 then 2; a goroutine that reads 1 saw main preempted between its two stores,
/// which only a change point there does (neither store blocks).
fn sees_the_middle_store() {
    let x = AtomicUint64::new(0);
    let seen = x.clone();
    let g = go::go(move || {
        assert_ne!(seen.load(), 1, "read between the two stores");
    });
    x.store(1);
    x.store(2);
    g.join();
}

#[test]
fn a_preemption_needs_a_change_point() {
    for seed in 0..5 {
        let none = explore(&Strategy::pct(seed, 200, 1), sees_the_middle_store);
        assert!(none.failure.is_none() && none.incomplete.is_none(), "depth 1, seed {seed}: {none}");
        let one = explore(&Strategy::pct(seed, 200, 2), sees_the_middle_store);
        let message = one.failure.as_ref().map(|f| f.kind.to_string()).unwrap_or_default();
        assert!(message.contains("read between the two stores"), "depth 2, seed {seed}: {one}");
    }
}
