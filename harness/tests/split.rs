//! A random exploration split by execution: shards that cover one run cover the same executions
//! and interleavings, and jobs give the outcome one thread gives.

use std::collections::BTreeSet;
use std::sync::Arc;

use harness::explore::explore_logged;
use harness::go::{self, Mutex};
use harness::{explore, explore_jobs, Outcome, Shard, Strategy};

/// Three goroutines append their number under a mutex: six orders, clean.
fn three_appends() {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let m = Arc::new(Mutex::new("m"));
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (m, order) = (m.clone(), order.clone());
            go::go(move || {
                let _g = m.lock();
                order.lock().expect("no panic holding it").push(i);
            })
        })
        .collect();
    gs.into_iter().for_each(|g| g.join());
}

/// The same, failing when the order is the reverse of the spawn order: one order in six.
fn reverse_order_fails() {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let m = Arc::new(Mutex::new("m"));
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (m, order) = (m.clone(), order.clone());
            go::go(move || {
                let _g = m.lock();
                order.lock().expect("no panic holding it").push(i);
            })
        })
        .collect();
    gs.into_iter().for_each(|g| g.join());
    assert_ne!(*order.lock().expect("no panic"), [2, 1, 0], "reverse order");
}

fn counts(o: &Outcome) -> (u64, Option<u64>, Option<u64>) {
    (o.executions, o.distinct, o.failure.as_ref().map(|f| f.execution))
}

/// Three shards run disjoint executions whose union is the single run's, execution by execution
/// (index and interleaving hash).
#[test]
fn shards_cover_exactly_one_run() {
    let whole = Strategy::random(7, 300);
    let (one, log) = explore_logged(&whole, three_appends);
    let all: BTreeSet<(u64, u64)> = log.into_iter().collect();
    let mut union = BTreeSet::new();
    let mut executions = 0;
    for k in 0..3 {
        let (o, log) = explore_logged(&whole.clone().with_shard(Shard { k, n: 3 }), three_appends);
        assert!(log.iter().all(|(i, _)| i % 3 == k), "shard {k} ran another's execution");
        executions += o.executions;
        union.extend(log);
    }
    assert_eq!((executions, union.len()), (one.executions, all.len()));
    assert_eq!(union, all);
    assert_eq!(one.distinct, Some(6), "{one}");
}

/// Two jobs: the same counts as one thread, clean or failing, and the same failing execution.
#[test]
fn jobs_give_what_one_thread_gives() {
    for seed in 0..8 {
        let s = Strategy::random(seed, 200);
        assert_eq!(counts(&explore_jobs(&s, 2, three_appends)), counts(&explore(&s, three_appends)), "seed {seed}");
        let (one, two) = (explore(&s, reverse_order_fails), explore_jobs(&s, 2, reverse_order_fails));
        assert!(one.failure.is_some(), "seed {seed}: {one}");
        assert_eq!(counts(&two), counts(&one), "seed {seed}: {one}\n{two}");
        let (a, b) = (one.failure.expect("failed"), two.failure.expect("failed"));
        assert_eq!((a.kind.summary(), a.schedule), (b.kind.summary(), b.schedule), "seed {seed}");
    }
}
