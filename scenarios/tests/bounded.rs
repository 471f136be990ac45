//! Bounded DPOR on the catalog's slices against a plain bounded search (every schedule within
//! the preemption bound, counted alike): it reaches every interleaving the plain search reaches.
//! The small models of `harness/tests/dpor.rs` check the same at bounds 0 to 3; here the slices
//! TiDB's races live in, at the bounds a plain search exhausts in seconds (about 16 s in all).
//!
//! Measured 2026-12-06: `race1-fixed` at bound 2, 1,396 interleavings in 73,293 plain executions
//! and 8,876 DPOR ones; `race2-fixed` at bound 2, 248 in 16,868 and 1,000. With every earlier
//! branch asleep, as unbounded, DPOR missed 4 of `race1-fixed`'s 8 at bound 0.

use std::collections::BTreeSet;

use harness::Strategy;

#[test]
fn bounded_dpor_reaches_every_interleaving_a_plain_bounded_search_reaches_on_the_slices() {
    for (name, bounds) in [("race1-fixed", 0..=2), ("race2-fixed", 0..=2), ("null-bit-read-55465-fixed", 0..=1)] {
        let (_, model) = scenarios::catalog_scenario(name);
        for b in bounds {
            let reached = |strategy: &Strategy| {
                let (o, log) = model.explore_logged(strategy);
                assert!(o.failure.is_none() && o.exhaustive, "{name}: {o}");
                (o, log.into_iter().map(|(_, h)| h).collect::<BTreeSet<u64>>())
            };
            let (plain, all) = reached(&Strategy::bounded_dfs(b));
            let (dpor, seen) = reached(&Strategy::dpor(Some(b)).with_iterative(false));
            let missed = all.difference(&seen).count();
            assert_eq!(missed, 0, "{name}, bound {b}: {missed} of {} missed\nplain: {plain}\ndpor: {dpor}", all.len());
            assert!(dpor.executions <= plain.executions, "{name}, bound {b}:\nplain: {plain}\ndpor: {dpor}");
        }
    }
}
