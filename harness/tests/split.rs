//! Explorations split: a random one by execution (shards that cover one run cover the same
//! executions and interleavings), a DPOR one by branch (shards that cover one run reach the same
//! interleavings); jobs give the outcome one thread gives.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use harness::explore::explore_logged;
use harness::go::{self, AtomicUint64, Mutex};
use harness::{explore, explore_jobs, Kind, Outcome, Shard, Strategy};

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
/// (index and interleaving hash); random and PCT. A PCT shard also runs execution 0, which
/// measures the horizon its change points are drawn over (`explore/pct.rs`).
#[test]
fn shards_cover_exactly_one_run() {
    for whole in [Strategy::random(7, 300), Strategy::pct(7, 300, 3)] {
        let pct = matches!(whole.kind(), Kind::Pct { .. });
        let (one, log) = explore_logged(&whole, three_appends);
        let all: BTreeSet<(u64, u64)> = log.into_iter().collect();
        let mut union = BTreeSet::new();
        let mut executions = 0;
        for k in 0..3 {
            let (o, log) = explore_logged(&whole.clone().with_shard(Shard { k, n: 3 }), three_appends);
            let own = |i: u64| i % 3 == k || pct && i == 0;
            assert!(log.iter().all(|(i, _)| own(*i)), "{whole}: shard {k} ran another's execution");
            executions += o.executions - u64::from(pct && k > 0);
            union.extend(log);
        }
        assert_eq!((executions, union.len()), (one.executions, all.len()), "{whole}");
        assert_eq!(union, all, "{whole}");
        assert_eq!(one.distinct, Some(6), "{one}");
    }
}

/// Two jobs: the same counts as one thread, clean or failing, and the same failing execution;
/// random and PCT. The jobs did split the run: its executions ran on both job threads (an
/// `explore_jobs` that ran one thread would pass the comparisons).
#[test]
fn jobs_give_what_one_thread_gives() {
    for seed in 0..8 {
        for s in [Strategy::random(seed, 200), Strategy::pct(seed, 200, 3)] {
            let threads: Arc<std::sync::Mutex<HashSet<_>>> = Arc::default();
            let seen = threads.clone();
            let model = move || {
                seen.lock().expect("no panic holding it").insert(std::thread::current().name().map(str::to_owned));
                three_appends()
            };
            assert_eq!(counts(&explore_jobs(&s, 2, model)), counts(&explore(&s, three_appends)), "{s}");
            let jobs = threads
                .lock()
                .expect("no panic holding it")
                .iter()
                .flatten()
                .filter(|n| n.starts_with("explore-job-"))
                .count();
            assert_eq!(jobs, 2, "{s}: executions ran on {jobs} job threads");
            let (one, two) = (explore(&s, reverse_order_fails), explore_jobs(&s, 2, reverse_order_fails));
            assert!(one.failure.is_some(), "{one}");
            assert_eq!(counts(&two), counts(&one), "{one}\n{two}");
            let (a, b) = (one.failure.expect("failed"), two.failure.expect("failed"));
            assert_eq!((a.kind.summary(), a.schedule), (b.kind.summary(), b.schedule), "{s}");
        }
    }
}

/// Three goroutines each take a mutex twice and add to a counter in between: enough branches for
/// DPOR's shards to split (clean).
fn three_lockers() {
    let m = Arc::new(Mutex::new("m"));
    let n = AtomicUint64::new(0);
    let gs: Vec<_> = (0..3)
        .map(|_| {
            let (m, n) = (m.clone(), n.clone());
            go::go(move || {
                for _ in 0..2 {
                    let _g = m.lock();
                    n.add(1);
                }
            })
        })
        .collect();
    gs.into_iter().for_each(|g| g.join());
}

/// DPOR on two and three jobs: the same executions, interleavings and verdict as on one, and the
/// same failing execution with the same schedule; bounded (iterative) and unbounded.
#[test]
fn dpor_jobs_give_what_one_thread_gives() {
    let strategies = [Strategy::dpor(None), Strategy::dpor(Some(2)), Strategy::dpor(Some(1)).with_iterative(false)];
    for s in &strategies {
        for model in [three_appends, three_lockers, reverse_order_fails] {
            let one = explore(s, model);
            for jobs in [2, 3] {
                let many = explore_jobs(s, jobs, model);
                let what = |o: &Outcome| (counts(o), o.exhaustive, o.bound);
                assert_eq!(what(&many), what(&one), "{s}, {jobs} jobs:\n{one}\n{many}");
                let schedule = |o: &Outcome| o.failure.as_ref().map(|f| (f.kind.summary(), f.schedule.clone()));
                assert_eq!(schedule(&many), schedule(&one), "{s}, {jobs} jobs");
            }
        }
    }
    // The failing model fails under DPOR (else the comparison above says little).
    assert!(explore(&Strategy::dpor(None), reverse_order_fails).failure.is_some());
}

/// DPOR's shards: each explores part of the tree, and together they reach exactly the
/// interleavings one run reaches (their hashes), unbounded and bounded.
#[test]
fn dpor_shards_reach_what_one_run_reaches() {
    for whole in [Strategy::dpor(None), Strategy::dpor(Some(2)).with_iterative(false)] {
        let (one, log) = explore_logged(&whole, three_lockers);
        assert!(one.exhaustive, "{one}");
        let all: BTreeSet<u64> = log.into_iter().map(|(_, h)| h).collect();
        assert_eq!(Some(all.len() as u64), one.distinct, "{one}");
        let mut union = BTreeSet::new();
        for k in 0..3 {
            let (o, log) = explore_logged(&whole.clone().with_shard(Shard { k, n: 3 }), three_lockers);
            assert!(o.exhaustive && o.failure.is_none(), "shard {k}: {o}");
            // The shard took its share: it ran less than the whole.
            assert!(o.executions < one.executions, "shard {k} ran {} of {}: {whole}", o.executions, one.executions);
            union.extend(log.into_iter().map(|(_, h)| h));
        }
        assert_eq!(union, all, "{whole}");
    }
}
