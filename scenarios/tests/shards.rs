//! DPOR's shards on a catalog slice (`harness/src/explore/dpor/window.rs`): two shards of
//! `race1-fixed` unbounded reach together exactly the interleavings one run reaches, and neither
//! runs most of the work.
//!
//! Measured 2026-12-06 (one run: 239,396 executions, 63,120 interleavings): the shards ran 128,344
//! and 110,361 executions (3 shards: 42,394, 84,942 and 111,870). With one cut, dealing the eight
//! branches waiting then, the shallowest went to one shard whole: 178,162 and 61,429 (3 shards:
//! 82,108, 25,895 and 131,638).

use std::collections::BTreeSet;

use harness::{Shard, Strategy};

#[test]
fn two_shards_of_race1_fixed_reach_what_one_run_reaches_and_share_the_work() {
    let (_, model) = scenarios::catalog_scenario("race1-fixed");
    let whole = Strategy::dpor(None);
    let hashes = |log: Vec<(u64, u64)>| log.into_iter().map(|(_, h)| h).collect::<BTreeSet<u64>>();
    let (one, log) = model.explore_logged(&whole);
    assert!(one.exhaustive && one.failure.is_none(), "{one}");
    let all = hashes(log);
    let mut union = BTreeSet::new();
    let mut executions = Vec::new();
    for k in 0..2 {
        let (o, log) = model.explore_logged(&whole.clone().with_shard(Shard { k, n: 2 }));
        assert!(o.exhaustive && o.failure.is_none(), "shard {k}: {o}");
        executions.push(o.executions);
        union.extend(hashes(log));
    }
    assert_eq!(union.len(), all.len());
    assert!(union == all, "the shards reached other interleavings than one run");
    // Each shard runs at most 60% of one run's executions (54% measured; 74% with one cut).
    let largest = *executions.iter().max().expect("two shards");
    assert!(largest * 10 <= one.executions * 6, "shards ran {executions:?} of {}", one.executions);
}
