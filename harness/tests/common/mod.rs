//! Helpers shared by the integration tests: the strategies every model runs under, and the two
//! verdicts a test asserts.

use harness::report::RaceReport;
use harness::{explore, Kind, Outcome, Strategy};

/// loom, exhaustive up to preemption bound 3; the cap only guards against a model too big for a
/// unit test (a capped run fails `assert_clean`).
pub fn loom() -> Strategy {
    Strategy::loom(3).with_iterative(false).with_max_executions(200_000)
}

/// joinrace's DPOR, unbounded (every interleaving); the cap only guards against a model too big
/// for a unit test (a capped run fails `assert_clean`).
pub fn dpor() -> Strategy {
    Strategy::dpor(None).with_max_executions(200_000)
}

/// shuttle random and PCT: 2,000 and 1,000 executions from fixed seeds.
pub fn shuttle() -> [Strategy; 2] {
    [Strategy::random(0x5eed, 2_000), Strategy::pct(0x5eed, 1_000, 3)]
}

/// loom, DPOR and both shuttle schedulers.
pub fn all() -> Vec<Strategy> {
    let mut v = vec![loom(), dpor()];
    v.extend(shuttle());
    v
}

/// Explores `model` under each strategy and asserts each reports a data race; returns the reports.
#[track_caller]
pub fn assert_race_under(strategies: &[Strategy], model: fn()) -> Vec<RaceReport> {
    strategies
        .iter()
        .map(|s| {
            let outcome = explore(s, model);
            match outcome.race() {
                Some(r) => r.clone(),
                None => panic!("expected a data race under {s}, got: {outcome}"),
            }
        })
        .collect()
}

/// Explores `model` under each strategy and asserts no failure; loom and DPOR must finish their
/// search (loom, which cannot branch on a select's choice, over every schedule).
#[track_caller]
pub fn assert_clean_under(strategies: &[Strategy], model: fn()) -> Vec<Outcome> {
    strategies
        .iter()
        .map(|s| {
            let outcome = explore(s, model);
            assert!(outcome.failure.is_none(), "expected no failure under {s}, got: {outcome}");
            if matches!(s.kind(), Kind::Loom { .. }) {
                assert!(outcome.exhaustive || outcome.first_ready_case_only, "{s} did not finish: {outcome}");
            } else if s.exhausts() {
                assert!(outcome.exhaustive, "{s} did not finish its search: {outcome}");
            }
            outcome
        })
        .collect()
}

/// A race under loom and both shuttle schedulers.
#[track_caller]
pub fn assert_race(model: fn()) -> Vec<RaceReport> {
    assert_race_under(&all(), model)
}

/// Clean under loom (exhaustive to bound 3) and both shuttle schedulers.
#[track_caller]
pub fn assert_clean(model: fn()) -> Vec<Outcome> {
    assert_clean_under(&all(), model)
}

/// A race under shuttle only: the model spawns more goroutines than loom's limit of 4.
#[track_caller]
pub fn assert_race_shuttle(model: fn()) -> Vec<RaceReport> {
    assert_race_under(&shuttle(), model)
}

/// Clean under shuttle only: the model spawns more goroutines than loom's limit of 4.
#[track_caller]
pub fn assert_clean_shuttle(model: fn()) -> Vec<Outcome> {
    assert_clean_under(&shuttle(), model)
}
