//! The whole executor under std threads and shuttle: results equal the reference join, with and
//! without spill, and no spill file survives.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use harness::report::FailureKind;
use harness::{explore, Outcome, Strategy};
use join_model::exec::{ExecConfig, HashJoinV2Exec};
use join_model::frames::{CHECK_AND_SPILL_ROW_TABLE_IF_NEEDED, CLOSE, FETCH_BUILD_SIDE_ROWS, START_BUILD_AND_PROBE};
use join_model::reference::{reference_join, sorted};
use join_model::spec::{CmpOp, OtherCondition};
use join_model::spill::SpillStats;
use join_model::{BuildSide, ColType, JoinSpec, JoinType, Row, Value};

/// One join to run.
#[derive(Clone, Debug)]
pub struct Case {
    pub spec: JoinSpec,
    pub left: Vec<Row>,
    pub right: Vec<Row>,
    pub config: ExecConfig,
}

impl Case {
    /// A fresh executor over the case's inputs.
    pub fn exec(&self) -> HashJoinV2Exec {
        let (build, probe) = self.spec.split(&self.left, &self.right);
        HashJoinV2Exec::new(self.spec.clone(), self.config.clone(), build, probe)
    }
}

/// What TiDB's executor returns for the case: the reference join, less what TiDB loses (inferred
/// from its code, `all-spilled-null-probe-keys-lost`): when round 1 spilled every partition,
/// `probeAndSendResult` probes nothing, so probe rows with a NULL key, which are never spilled,
/// never come out (NULL-extended for an outer probe side, as themselves for an anti semi join, with
/// their flag for the left outer semi joins: `JoinSpec::null_key_probe_result`).
pub fn tidb_want(spec: &JoinSpec, left: &[Row], right: &[Row], stats: &SpillStats) -> Vec<Row> {
    let mut want = reference_join(spec, left, right);
    if stats.all_partitions_spilled_in_round1 {
        let probe = spec.split(left, right).1;
        for lost in probe.iter().filter(|r| spec.probe_key(r).is_none()).filter_map(|r| spec.null_key_probe_result(r)) {
            let at = want.iter().position(|r| *r == lost).expect("the reference has the NULL-key probe row's result");
            want.remove(at);
        }
    }
    want
}

/// Runs the case once, inside an execution, and asserts the result equals TiDB's (the reference
/// join, less what TiDB loses: [`tidb_want`]).
pub fn check_case(case: &Case) {
    let mut exec = case.exec();
    let got = exec.run_to_end().unwrap_or_else(|e| panic!("join failed: {e}"));
    let want = tidb_want(&case.spec, &case.left, &case.right, &exec.spill_stats());
    assert_eq!(sorted(got), sorted(want), "result differs from the reference join");
}

/// Explores the case and asserts no failure; returns the outcome.
pub fn explore_case(case: Case, strategy: &Strategy) -> Outcome {
    let case = Arc::new(case);
    let o = explore(strategy, move || check_case(&case));
    assert!(o.failure.is_none(), "{o}");
    o
}

pub fn rows(keys: &[Option<i64>]) -> Vec<Row> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| vec![k.map(Value::Int).unwrap_or(Value::Null), Value::Str(format!("r{i}").into_bytes())])
        .collect()
}

pub fn case(join_type: JoinType, build_side: BuildSide, config: ExecConfig) -> Case {
    let spec = JoinSpec::new(
        join_type,
        build_side,
        (vec![ColType::Int, ColType::Str], vec![0]),
        (vec![ColType::Int, ColType::Str], vec![0]),
        &config.bugs,
    );
    Case {
        spec,
        // Duplicate keys, NULL keys, keys only on one side; enough rows to fill every partition.
        left: rows(&(0..16).map(|i| (i % 5 != 4).then_some((i * 7) % 13)).collect::<Vec<_>>()),
        right: rows(&(0..16).map(|i| (i % 6 != 5).then_some((i * 5) % 11)).collect::<Vec<_>>()),
        config,
    }
}

/// Every join type with every build side TiDB allows it, each without and with an other
/// condition (`left.1 < right.1`, on the string column).
fn kinds() -> Vec<(JoinType, BuildSide, Option<OtherCondition>)> {
    let other = OtherCondition { left: 1, op: CmpOp::Lt, right: 1 };
    JoinType::with_build_sides().into_iter().flat_map(|(jt, bs)| [None, Some(other)].map(|o| (jt, bs, o))).collect()
}

fn kind_case(jt: JoinType, bs: BuildSide, other: Option<OtherCondition>, config: ExecConfig) -> Case {
    let mut c = case(jt, bs, config);
    if let Some(o) = other {
        c.spec = c.spec.with_other_condition(o);
    }
    c
}

#[test]
fn every_join_kind_equals_reference_in_memory() {
    let kinds = kinds();
    assert_eq!(kinds.len(), 24, "7 join types, 12 (type, build side) pairs, with and without a condition");
    for (jt, bs, other) in kinds {
        for strategy in [Strategy::std(10), Strategy::random(1, 300), Strategy::pct(1, 300, 3)] {
            let o = explore_case(kind_case(jt, bs, other, ExecConfig::default()), &strategy);
            println!("{jt:?} build {bs:?} other {other:?}: {o}");
        }
    }
}

#[test]
fn every_join_kind_equals_reference_with_spill() {
    for (jt, bs, other) in kinds() {
        let config = ExecConfig { quota: Some(160), max_spill_round: 6, ..ExecConfig::default() };
        let mut spilled = false;
        for strategy in [Strategy::std(10), Strategy::random(2, 300), Strategy::pct(2, 300, 3)] {
            let case = Arc::new(kind_case(jt, bs, other, config.clone()));
            let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (c, s) = (case.clone(), seen.clone());
            let o = explore(&strategy, move || {
                let mut exec = c.exec();
                let got = exec.run_to_end().unwrap_or_else(|e| panic!("join failed: {e}"));
                let stats = exec.spill_stats();
                s.fetch_or(stats.spilled_during_build || stats.spilled_before_hash_table, SeqCst);
                assert_eq!(sorted(got), sorted(tidb_want(&c.spec, &c.left, &c.right, &stats)));
            });
            assert!(o.failure.is_none(), "{o}");
            spilled |= seen.load(SeqCst);
            println!("{jt:?} build {bs:?} other {other:?} spill: {o}");
        }
        // Not vacuous: the quota makes every kind spill.
        assert!(spilled, "{jt:?} build {bs:?} never spilled");
    }
}

/// A fresh directory to hold one test's spill directories, so leftovers can be counted.
fn spill_parent() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A small quota (spills and restore rounds happen) with spill files under `parent`.
fn spilling(parent: &tempfile::TempDir) -> ExecConfig {
    ExecConfig {
        quota: Some(120),
        max_spill_round: 8,
        spill_dir: Some(parent.path().to_path_buf()),
        ..ExecConfig::default()
    }
}

fn leftover(parent: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk(parent).into_iter().filter(|p| p.is_file()).collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().flat_map(|e| [vec![e.path()], walk(&e.path())].concat()).collect())
        .unwrap_or_default()
}

/// TiDB's five quota situations (`testSpill`): spill of some partitions during the build, of all
/// partitions, between the row table and the hash table (`tryToSpill`), a re-spill in a restore
/// round, and exceeding the round limit. Which one happens depends on the schedule, so each quota
/// is explored (std threads, 1,000 shuttle executions) and must show its situation in at least one
/// execution, while every execution equals the reference join (or, for the last, fails with the
/// round-limit error); no spill file is left behind. One test per situation, so that the test
/// threads share them.
mod five_quota_situations {
    use super::*;

    #[test]
    fn some_partitions_during_build() {
        situation(250, 8, |s| s.spilled_during_build && !s.all_partitions_spilled);
    }

    #[test]
    fn all_partitions() {
        situation(100, 8, |s| s.all_partitions_spilled);
    }

    #[test]
    fn between_row_table_and_hash_table() {
        situation(500, 8, |s| s.spilled_before_hash_table);
    }

    #[test]
    fn respill_in_a_restore_round() {
        situation(250, 8, |s| s.respilled);
    }

    /// One round allowed: every execution must fail with the round-limit error.
    #[test]
    fn exceeding_the_round_limit() {
        situation(150, 1, |_| true);
    }

    /// Explores `quota` (scaled to each join's row size) with `rounds` spill rounds allowed, for
    /// one join per shape; `seen` must hold after at least one execution of each.
    fn situation(quota: usize, rounds: usize, seen: fn(&SpillStats) -> bool) {
        let must_fail = rounds == 1;
        // One join per shape: inner, outer with the outer side built, outer with it probed.
        let kinds = [
            (JoinType::Inner, BuildSide::Right),
            (JoinType::LeftOuter, BuildSide::Left),
            (JoinType::RightOuter, BuildSide::Left),
        ];
        for (jt, bs) in kinds {
            let parent = spill_parent();
            // The quotas were chosen for 32-byte build rows (with a used flag); scale them to this
            // join's row size.
            let sample = case(jt, bs, ExecConfig::default());
            let row_len = sample.spec.meta.encode_row(&sample.left[0], Some(&[0; 8])).len();
            let config = ExecConfig {
                quota: Some(quota * row_len / 32),
                max_spill_round: rounds,
                concurrency: 3,
                spill_dir: Some(parent.path().to_path_buf()),
                ..ExecConfig::default()
            };
            let c = Arc::new(case(jt, bs, config));
            let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for strategy in [Strategy::std(10), Strategy::random(3, 1_000)] {
                let (c, hits) = (c.clone(), hits.clone());
                let o = explore(&strategy, move || {
                    let mut exec = c.exec();
                    match exec.run_to_end() {
                        Ok(got) => {
                            assert!(!must_fail, "expected the round limit to be exceeded");
                            let want = tidb_want(&c.spec, &c.left, &c.right, &exec.spill_stats());
                            assert_eq!(sorted(got), sorted(want));
                        }
                        Err(e) => {
                            assert!(must_fail, "unexpected error: {e}");
                            assert!(e.to_string().starts_with("Exceed max spill round"), "{e}");
                        }
                    }
                    if seen(&exec.spill_stats()) {
                        hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
                assert!(o.failure.is_none(), "{jt:?} build {bs:?}: {o}");
            }
            let hits = hits.load(std::sync::atomic::Ordering::Relaxed);
            assert!(hits > 0, "{jt:?} build {bs:?}: never happened in 1,010 executions");
            assert_eq!(leftover(parent.path()), Vec::<std::path::PathBuf>::new(), "spill files left");
        }
    }
}

/// No failure but audit H6: `Close`, called while the round driver may still start a restore
/// round (after an error out of `Next`, or mid-join), reads `e.buildFinished` unordered with the
/// driver's write of the next round's channel (`tidb_paths::h6_…`).
fn assert_clean_but_h6(o: &Outcome) {
    if let Some(f) = &o.failure {
        let h6 = [CLOSE, START_BUILD_AND_PROBE].map(String::from);
        assert_eq!(f.kind.race_sites(), Some(h6), "{o}");
    }
}

/// Close after any failpoint returns (no goroutine hangs) and the injected error comes out of
/// Next; no spill file survives. (A panic in round 1's split workers is the exception: see
/// `h4_a_round1_split_worker_panic_can_hang_the_build_fetcher`.) A failpoint reached only by a
/// restore round's build is lost, as in TiDB (`startProbeJoinWorkers` drops the error): the join
/// succeeds with fewer rows than the reference join.
#[test]
fn failpoints_surface_errors_and_close_returns() {
    use join_model::failpoint::{FailAction, Failpoints, FAILPOINTS};
    for &fp in FAILPOINTS {
        for action in [FailAction::Error, FailAction::Panic] {
            let kill = fp.starts_with("killedDuring");
            if (fp, action) == ("splitPartitionPanic", FailAction::Panic) || (kill && action == FailAction::Panic) {
                continue;
            }
            // A SQL killer check interrupts the query with TiDB's ErrQueryInterrupted.
            let want = if kill { "Query execution was interrupted" } else { fp };
            let parent = spill_parent();
            let failpoints = Failpoints::none().with(fp, action).expect("known failpoint");
            // A small quota so the restore-round failpoints are reached.
            let config = ExecConfig { failpoints, ..spilling(&parent) };
            let c = Arc::new(case(JoinType::LeftOuter, BuildSide::Left, config));
            // Reached by restore rounds' builds only (with this quota round 1 spills every
            // partition, so its hash table build has no task).
            let lost = ["killedDuringRestoreBuild", "panicOrError@controlWorkersForRestore", "buildHashTablePanic"]
                .contains(&fp);
            for strategy in [Strategy::std(5), Strategy::random(4, 300)] {
                let c = c.clone();
                let o = explore(&strategy, move || {
                    let mut exec = c.exec();
                    let err = match exec.run_to_end() {
                        Ok(got) if lost => {
                            let want = reference_join(&c.spec, &c.left, &c.right);
                            assert!(got.len() < want.len(), "{fp}: the restore round's rows are lost");
                            return;
                        }
                        Ok(_) => panic!("failpoint {fp} was not reached"),
                        Err(e) => e,
                    };
                    let text = err.to_string();
                    assert!(text.contains(want), "{fp}: {text}");
                });
                assert_clean_but_h6(&o);
            }
            assert!(leftover(parent.path()).is_empty(), "{fp}: spill files left");
        }
    }
}

/// Close in the middle of a join, after the first result chunk: every goroutine stops (no leak,
/// no hang) and no spill file is left. The one failure allowed is audit H6, Close's read of
/// `e.buildFinished` against the driver's next round (see `tidb_paths::h6_…`), which PCT finds.
#[test]
fn close_after_first_chunk_returns() {
    let parent = spill_parent();
    let config = spilling(&parent);
    let c = Arc::new(case(JoinType::RightOuter, BuildSide::Right, config));
    for strategy in [Strategy::std(10), Strategy::random(5, 1_000), Strategy::pct(5, 1_000, 3)] {
        let c = c.clone();
        let o = explore(&strategy, move || {
            let mut exec = c.exec();
            exec.open().expect("open");
            let _ = exec.next();
            exec.close();
        });
        assert_clean_but_h6(&o);
    }
    assert!(leftover(parent.path()).is_empty(), "spill files left");
}

/// A run that fails mid-join (here the main goroutine panics after the first chunk, with spill
/// files on disk and goroutines still running) leaves no spill file either.
#[test]
fn failed_run_leaves_no_spill_file() {
    let parent = spill_parent();
    let config = spilling(&parent);
    let c = Arc::new(case(JoinType::LeftOuter, BuildSide::Left, config));
    for strategy in [Strategy::std(1), Strategy::random(6, 10)] {
        let c = c.clone();
        let o = explore(&strategy, move || {
            let mut exec = c.exec();
            exec.open().expect("open");
            let _ = exec.next();
            panic!("the test gives up mid-join");
        });
        let failure = o.failure.map(|f| f.kind.to_string()).unwrap_or_default();
        assert!(failure.contains("the test gives up mid-join"), "{failure}");
        assert!(leftover(parent.path()).is_empty(), "{strategy}: spill files left: {:?}", leftover(parent.path()));
    }
}

/// Audit H4: round 1's split workers have no `recover` of their own, so a panic ends the worker
/// (its `RunWithRecover` handler reports it). When every worker has died while the fetcher had
/// handed a chunk to `srcChkCh` (Go picks at random between that send and `doneCh`), nobody calls
/// `fetcherAndWorkerSyncer.Done()` for it, and once a spill is due the fetcher waits for it forever:
/// the query hangs. The model had every worker drain the channel instead and could not hang.
/// Found by reading TiDB's code at 5450000d92, not confirmed by running TiDB.
#[test]
fn h4_a_round1_split_worker_panic_can_hang_the_build_fetcher() {
    use join_model::failpoint::{FailAction, Failpoints};
    let parent = spill_parent();
    let failpoints = Failpoints::none().with("splitPartitionPanic", FailAction::Panic).expect("known failpoint");
    let c = Arc::new(case(JoinType::LeftOuter, BuildSide::Left, ExecConfig { failpoints, ..spilling(&parent) }));
    let o = explore(&Strategy::random(4, 300), move || {
        let _ = c.exec().run_to_end();
    });
    let failure = o.failure.as_ref().unwrap_or_else(|| panic!("expected a hang: {o}"));
    let FailureKind::Deadlock { goroutines, .. } = &failure.kind else { panic!("expected a hang: {o}") };
    let fetcher = goroutines
        .iter()
        .find(|g| g.stack.iter().any(|f| f == FETCH_BUILD_SIDE_ROWS))
        .unwrap_or_else(|| panic!("the build fetcher is not among the blocked: {o}"));
    // Waiting for the chunk no worker will take: at the safe point before the next chunk, or at
    // the end of its input before spilling the remaining rows.
    assert!([CHECK_AND_SPILL_ROW_TABLE_IF_NEEDED, FETCH_BUILD_SIDE_ROWS].contains(&fetcher.stack[0].as_str()), "{o}");
    assert_eq!(fetcher.waiting_on, "sync.WaitGroup.Wait on fetcherAndWorkerSyncer", "{o}");
    assert!(o.recovered.iter().all(|p| p.message == "failpoint panic: splitPartitionPanic"), "{o}");
    assert!(leftover(parent.path()).is_empty(), "spill files left");
}
