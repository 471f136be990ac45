//! The harness's integration tests, as one binary.

// Shared strategies and verdict helpers.
mod common;
// The two access patterns of TiDB #57450 in miniature, racy and ordered.
// See: https://github.com/pingcap/tidb/issues/57450
mod tidb_57450;
// Deadlock, panic and assertion outcomes under every backend, followed by successful runs.
mod outcomes;
// Race reports in Go's layout, as insta snapshots.
mod reports;
// Regressions found while building the join model.
mod regressions;
// Go's race-detector test cases (runtime/race/testdata), ported case by case.
mod conformance;
// Recorded schedules: exact replay, divergence, minimisation.
mod replay;
// The schedule file format and a fuzz of its decoder.
mod schedule_file;
// Distinct-interleaving counting and which operations are independent.
mod exploration;
// joinrace's DPOR explorer against loom, unbounded.
mod dpor;
// Go's panics, recover, leaks, double close, and outcomes that are not clean passes.
mod go_semantics;
// A random exploration split over shards and jobs.
mod split;
// PCT: change points are what preempt.
mod pct;
// A select with several ready cases: every choice explored, or the outcome says it was not.
mod select_choice;
