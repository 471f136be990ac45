//! TiDB's error and panic paths at the commits the model can be, one test per audit item
//! (`shared/research/tidb-fidelity-audit.md`): each fails when the model behaves the old way.

use std::sync::Arc;

use harness::memory::NIL_DEREFERENCE;
use harness::{explore, Outcome, Strategy};
use join_model::exec::{ExecConfig, HashJoinV2Exec};
use join_model::failpoint::{FailAction, Failpoints};
use join_model::frames::TOTAL_ROW_COUNT;
use join_model::reference::{reference_join, sorted};
use join_model::tidb::{bugs_at, commit};
use join_model::{BuildSide, ColType, JoinSpec, JoinType, Row, Value};

fn int_rows(rows: &[[i64; 2]]) -> Vec<Row> {
    rows.iter().map(|r| r.iter().map(|&v| Value::Int(v)).collect()).collect()
}

/// The bugs TiDB had at commit `id`.
fn spec_bugs(id: &str) -> join_model::Bugs {
    bugs_at(commit(id).expect("a modelled commit"))
}

/// A join of two `[int, int]` sides on column 0, as TiDB at commit `id` had it.
fn spec_at(id: &str, join_type: JoinType, build: BuildSide) -> JoinSpec {
    let cols = (vec![ColType::Int, ColType::Int], vec![0]);
    JoinSpec::new(join_type, build, cols.clone(), cols, &spec_bugs(id))
}

/// A left outer join of `left` and `right` built on `build`, at TiDB `commit`, with `failpoint`
/// armed, run to the end in every execution of `strategy`; `check` sees each result.
fn run_at(
    id: &str,
    build: BuildSide,
    failpoint: (&str, FailAction),
    check: impl Fn(Result<Vec<Row>, String>, &[Row]) + Send + Sync + 'static,
) -> Outcome {
    let spec = spec_at(id, JoinType::LeftOuter, build);
    let bugs = spec_bugs(id);
    let (left, right) = (int_rows(&[[1, 10], [2, 20], [3, 30]]), int_rows(&[[1, 1], [3, 3], [3, 4], [5, 5]]));
    let want = sorted(reference_join(&spec, &left, &right));
    let failpoints = Failpoints::none().with(failpoint.0, failpoint.1).expect("known failpoint");
    let config = ExecConfig { concurrency: 2, chunk_size: 1, bugs, failpoints, ..ExecConfig::default() };
    let c = Arc::new((spec, config, left, right));
    explore(&Strategy::random(1, 200), move || {
        let (spec, config, left, right) = &*c;
        let (b, p) = spec.split(left, right);
        let got = HashJoinV2Exec::new(spec.clone(), config.clone(), b, p).run_to_end();
        check(got.map(sorted).map_err(|e| e.to_string()), &want);
    })
}

/// Audit H1, TiDB #59377: before PR #59381 an error at round 1's build safe point was dropped and
/// the join returned the rows it had (here none from the build side: every left row NULL-extended).
#[test]
fn h1_a_round1_build_error_is_lost_before_59381() {
    let fp = ("Issue59377", FailAction::Error);
    let before = run_at("51161154df", BuildSide::Right, fp, |got, want| {
        let got = got.expect("the error is lost: the join succeeds");
        assert_ne!(got, want, "a wrong result");
        assert!(got.iter().all(|r| r[2..].iter().all(|v| *v == Value::Null)), "{got:?}");
    });
    assert!(before.failure.is_none(), "{before}");
    let after = run_at("27365b47", BuildSide::Right, fp, |got, _| {
        assert_eq!(got.expect_err("the error reaches Next"), "injected error at failpoint Issue59377");
    });
    assert!(after.failure.is_none(), "{after}");
}

/// Audit H2, TiDB #60466: before PR #60467 `waitJoinWorkers` scanned the row table of an
/// outer-side build after the build failed, and the scan met the nil hash table. The panic is
/// recovered (TiDB logs it) and the build's error still comes out of Next.
#[test]
fn h2_the_scan_after_a_failed_build_meets_a_nil_table_before_60467() {
    let fp = ("splitPartitionPanic", FailAction::Panic);
    let error_out = |got: Result<Vec<Row>, String>, _: &[Row]| {
        assert_eq!(got.expect_err("the build failed"), "failpoint panic: splitPartitionPanic");
    };
    let before = run_at("27365b47", BuildSide::Left, fp, error_out);
    assert!(before.failure.is_none(), "{before}");
    let nil = before.recovered.iter().find(|p| p.message == NIL_DEREFERENCE);
    let nil = nil.unwrap_or_else(|| panic!("no nil dereference recovered: {before}"));
    assert_eq!(nil.stack.first().map(String::as_str), Some(TOTAL_ROW_COUNT));
    let after = run_at("d0e4cd4d", BuildSide::Left, fp, error_out);
    assert!(after.failure.is_none(), "{after}");
    assert!(after.recovered.iter().all(|p| p.message == "failpoint panic: splitPartitionPanic"), "{after}");
    assert!(!after.recovered.is_empty(), "the split workers' panics are still recovered: {after}");
}

/// Audit H12: round 1's fetcher waits for the split workers at the end only when a spill was
/// triggered. Without a spill, split workers that all died of a panic (audit H4) leave a chunk
/// nobody takes, and the join still ends with their error; the model used to wait always, and hung.
#[test]
fn h12_without_a_spill_the_fetcher_does_not_wait_for_the_workers() {
    let o = run_at("d0e4cd4d", BuildSide::Right, ("splitPartitionPanic", FailAction::Panic), |got, _| {
        assert_eq!(got.expect_err("the build failed"), "failpoint panic: splitPartitionPanic");
    });
    assert!(o.failure.is_none(), "{o}");
    assert_eq!(o.executions, 200);
}

/// Audit H3: before PR #57519 a worker's builder stays nil until the worker's own goroutine creates
/// it, and a spill goroutine that reads it first (`builder.rowNumberInCurrentRowTableSeg`)
/// dereferences nil. Its `RunWithRecover` handler recovers the panic into `spillRowTable`'s
/// error. The model used to skip a missing builder.
#[test]
fn h3_a_spill_goroutine_reading_an_unset_builder_dereferences_nil() {
    use join_model::build_worker::BuildWorkerV2;
    use join_model::frames::SPILL_ROW_TABLE_IMPL_FUNC1;
    use join_model::spill::HashJoinSpillHelper;
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().to_path_buf();
    let o = explore(&Strategy::random(1, 1), move || {
        let spill = HashJoinSpillHelper::new(Some(1), 2, 2, 1, Some(&dir)).expect("spill dir");
        spill.set_can_spill_flag(true);
        spill.consume(&[8, 8]);
        assert!(spill.is_spill_needed());
        let workers = vec![BuildWorkerV2::new(0, 2)];
        let err = spill.spill_row_table(&workers).expect_err("the worker has no builder yet");
        assert_eq!(err.to_string(), NIL_DEREFERENCE);
    });
    assert!(o.failure.is_none(), "{o}");
    let nil = o.recovered.first().unwrap_or_else(|| panic!("nothing recovered: {o}"));
    assert_eq!(
        (nil.message.as_str(), nil.stack.first().map(String::as_str)),
        (NIL_DEREFERENCE, Some(SPILL_ROW_TABLE_IMPL_FUNC1))
    );
}

/// Audit H9: `wait4BuildSide` skips the probe when the build left an empty hash table, no spill,
/// and a join whose probe rows all need a match (an inner join here): no probe chunk reaches a
/// worker, so a panic armed in the probe workers never fires and the join returns no rows. The
/// model used to probe every chunk against the empty table.
#[test]
fn h9_an_empty_build_skips_the_probe() {
    let spec = spec_at("d0e4cd4d", JoinType::Inner, BuildSide::Right);
    let failpoints = Failpoints::none().with("processOneProbeChunkPanic", FailAction::Panic).expect("known failpoint");
    let config = ExecConfig { concurrency: 2, chunk_size: 1, failpoints, ..ExecConfig::default() };
    let c = Arc::new((spec, config));
    let o = explore(&Strategy::random(1, 200), move || {
        let (spec, config) = &*c;
        let probe = int_rows(&[[1, 10], [2, 20], [3, 30]]);
        let got = HashJoinV2Exec::new(spec.clone(), config.clone(), &[], &probe).run_to_end();
        assert_eq!(got, Ok(Vec::new()));
    });
    assert!(o.failure.is_none(), "{o}");
    assert!(o.recovered.is_empty(), "a probe worker probed: {o}");
}

/// Audit H6: `Close` drains `e.buildFinished`, a plain executor field, and the round driver,
/// having loaded `finished` just before `Close` stored it, assigns the next restore round's
/// channel to it; nothing orders the read and the write. Inferred from TiDB at 5450000d92
/// (`hash_join_v2.go:683` and `:1070`), not confirmed by running TiDB. The model used to keep the
/// channel in a local of the driver, where `Close` never read it.
#[test]
fn h6_close_races_with_the_round_driver_on_build_finished() {
    use join_model::frames::{CLOSE, START_BUILD_AND_PROBE};
    let parent = tempfile::tempdir().expect("temp dir");
    let spec = spec_at("d0e4cd4d", JoinType::RightOuter, BuildSide::Right);
    let rows: Vec<[i64; 2]> = (0..12).map(|i| [i % 5, i]).collect();
    let config = ExecConfig {
        concurrency: 2,
        chunk_size: 2,
        quota: Some(120),
        max_spill_round: 8,
        spill_dir: Some(parent.path().to_path_buf()),
        ..ExecConfig::default()
    };
    let c = Arc::new((spec, config, int_rows(&rows)));
    let o = explore(&Strategy::pct(1, 1_000, 3), move || {
        let (spec, config, rows) = &*c;
        let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), rows, rows);
        exec.open().expect("open");
        let _ = exec.next();
        exec.close();
    });
    let race = o.race().unwrap_or_else(|| panic!("expected H6: {o}"));
    assert_eq!(race.object, "HashJoinV2Exec.buildFinished", "{o}");
    assert_eq!(race.current.stack.first().map(String::as_str), Some(CLOSE), "{o}");
    assert_eq!(race.previous.stack.first().map(String::as_str), Some(START_BUILD_AND_PROBE), "{o}");
}

/// Audit H2, restore rounds: `startProbeJoinWorkers` takes a restore round's build error out of
/// `buildFinished` and returns (`if err != nil { return }`); nothing passes it on, and the round
/// driver moves to the next spilled partition. So a KILL at `killedDuringRestoreBuild` is lost and
/// the join returns without that round's rows, in TiDB at every commit read (to 9a5c8821c6,
/// 2026-02-10). The model used to send the error to `joinResultCh`.
#[test]
fn h2_a_restore_round_build_error_is_dropped() {
    let parent = tempfile::tempdir().expect("temp dir");
    let spec = spec_at("d0e4cd4d", JoinType::LeftOuter, BuildSide::Right);
    let rows: Vec<[i64; 2]> = (0..8).map(|i| [i % 3, i]).collect();
    let failpoints = Failpoints::none().with("killedDuringRestoreBuild", FailAction::Error).expect("known failpoint");
    let config = ExecConfig {
        concurrency: 2,
        chunk_size: 2,
        quota: Some(64),
        max_spill_round: 4,
        failpoints,
        spill_dir: Some(parent.path().to_path_buf()),
        ..ExecConfig::default()
    };
    let want = sorted(reference_join(&spec, &int_rows(&rows), &int_rows(&rows)));
    let c = Arc::new((spec, config, int_rows(&rows), want));
    let o = explore(&Strategy::random(1, 200), move || {
        let (spec, config, rows, want) = &*c;
        let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), rows, rows);
        let got = exec.run_to_end().expect("the KILL is lost: the join succeeds");
        assert!(exec.spill_stats().max_round >= 1, "a restore round ran");
        assert!(got.len() < want.len(), "the restore round's rows are missing: {got:?}");
    });
    assert!(o.failure.is_none(), "{o}");
    assert!(std::fs::read_dir(parent.path()).expect("spill parent").next().is_none(), "spill files left");
}

/// Audit H2, #60466's second path: from PR #60467 to PR #60531 the scan is skipped only when the
/// probe fetcher saw the build's error in `wait4BuildSide`. A probe child that fails on its first
/// `Next` sends its error and returns before that wait, so with a failed build the scan still
/// meets the nil hash table (recovered and logged by TiDB). From #60531 (`buildSuccess`) it does
/// not. The model used to decide by the published hash table, as #60531 does, at every commit.
#[test]
fn h2_a_probe_child_error_before_the_wait_lets_the_scan_meet_a_nil_table_before_60531() {
    let run = |id: &str| {
        let spec = spec_at(id, JoinType::LeftOuter, BuildSide::Left);
        let failpoints = Failpoints::none()
            .with("panicOrError@fetchProbeSideChunks", FailAction::Error)
            .and_then(|f| f.with("Issue59377", FailAction::Error))
            .expect("known failpoints");
        let config =
            ExecConfig { concurrency: 2, chunk_size: 1, bugs: spec_bugs(id), failpoints, ..ExecConfig::default() };
        let c = Arc::new((spec, config));
        explore(&Strategy::random(1, 200), move || {
            let (spec, config) = &*c;
            let (build, probe) = (int_rows(&[[1, 10], [2, 20]]), int_rows(&[[1, 1]]));
            let got = HashJoinV2Exec::new(spec.clone(), config.clone(), &build, &probe).run_to_end();
            let err = got.expect_err("the probe child failed").to_string();
            assert_eq!(err, "injected error at failpoint panicOrError@fetchProbeSideChunks");
        })
    };
    let before = run("d0e4cd4d");
    assert!(before.failure.is_none(), "{before}");
    let nil = before.recovered.iter().find(|p| p.message == NIL_DEREFERENCE);
    let nil = nil.unwrap_or_else(|| panic!("no nil dereference recovered: {before}"));
    assert_eq!(nil.stack.first().map(String::as_str), Some(TOTAL_ROW_COUNT));
    let after = run("8746e39b65");
    assert!(after.failure.is_none(), "{after}");
    assert!(after.recovered.is_empty(), "{after}");
}

/// TiDB #71122: a build paused at `issue51998` leaves the probe fetcher in `wait4BuildSide`, which
/// selects on `buildFinished` and `closeCh` only, and no running goroutine checks the SQL killer
/// (armed here at the build and the probe): every execution hangs, with the build fetcher paused
/// and the probe fetcher waiting. Unpaused, the same join ends with the killer's error. (The test
/// used to open and close the executor without `Next`, which starts nothing: it could not fail.)
#[test]
fn a_paused_build_holds_the_killed_query_71122() {
    use join_model::frames::{FETCH_BUILD_SIDE_ROWS, FETCH_PROBE_SIDE_CHUNKS};
    let run = |pause: bool| {
        let spec = spec_at("8746e39b65", JoinType::Inner, BuildSide::Right);
        let mut failpoints = Failpoints::none();
        for kill in ["killedDuringBuild", "killedDuringProbe"] {
            failpoints = failpoints.with(kill, FailAction::Error).expect("a killer check");
        }
        if pause {
            failpoints = failpoints.with("issue51998", FailAction::Pause).expect("a pause point");
        }
        let config = ExecConfig { concurrency: 2, chunk_size: 1, failpoints, ..ExecConfig::default() };
        let c = Arc::new((spec, config));
        explore(&Strategy::random(1, 50), move || {
            let (spec, config) = &*c;
            let rows = int_rows(&[[1, 10], [2, 20]]);
            let got = HashJoinV2Exec::new(spec.clone(), config.clone(), &rows, &rows).run_to_end();
            assert_eq!(got.map_err(|e| e.to_string()), Err("Query execution was interrupted".into()));
        })
    };
    let paused = run(true);
    let hang = paused.failure.as_ref().unwrap_or_else(|| panic!("expected a hang: {paused}"));
    assert_eq!(hang.execution, 1, "{paused}");
    let inside = |frame: &str| hang.kind.blocked().iter().any(|g| g.stack.iter().any(|f| f == frame));
    assert!(matches!(hang.kind, harness::report::FailureKind::Deadlock { .. }), "{paused}");
    assert!(inside(FETCH_BUILD_SIDE_ROWS) && inside(FETCH_PROBE_SIDE_CHUNKS), "{paused}");
    let unpaused = run(false);
    assert!(unpaused.failure.is_none(), "{unpaused}");
}

/// Audit H13: `spillRemainingRows` runs whenever a spill was triggered: it checks the SQL killer
/// and starts one goroutine per worker over every spilled partition, even when no row reached
/// them since the last spill. So a KILL is seen there; the model used to return at once when
/// nothing was new (the loom slices still do, within loom's thread limit).
#[test]
fn h13_the_end_of_input_spill_runs_even_with_nothing_new() {
    use join_model::build_worker::BuildWorkerV2;
    use join_model::error::JoinError;
    use join_model::row_table::RowTableBuilder;
    use join_model::spill::HashJoinSpillHelper;
    let o = explore(&Strategy::random(1, 1), || {
        let kill = Failpoints::none().with_after("killedDuringBuildSpill", FailAction::Error, 1).expect("known");
        let spill = HashJoinSpillHelper::new(Some(1), 2, 2, 1, None).expect("spill files");
        let spill = spill.with_tidb(&spec_bugs("8746e39b65"), Arc::new(kill));
        let workers = vec![BuildWorkerV2::new(0, 2)];
        workers[0].builder.set(Some(RowTableBuilder::new(0, 2, 2)));
        spill.set_can_spill_flag(true);
        spill.consume(&[8, 8]);
        spill.spill_row_table(&workers).expect("the first spill passes the killer check");
        assert_eq!(spill.spill_remaining_rows(&workers), Err(JoinError::QueryInterrupted));
    });
    assert!(o.failure.is_none(), "{o}");
}

/// Audit H10: each probe worker owns one result chunk, which `Next` hands back through the
/// worker's `joinChkResourceCh`; a worker with a full chunk sends it (a plain send) and waits in
/// `getNewJoinResult` for it to come back. A caller that takes one chunk and stops, without Close,
/// leaves the workers waiting there (here every execution: 32 result rows, chunks of 1); Close
/// lets them go (`closeCh`, then the drain of `joinResultCh`). The model used to send fresh rows
/// with a select on `closeCh`, and a worker never waited in `getNewJoinResult`.
#[test]
fn h10_a_caller_that_stops_taking_chunks_holds_the_workers_until_close() {
    use join_model::frames::{GET_NEW_JOIN_RESULT, PROBE_AND_SEND_RESULT};
    let run = |close: bool| {
        let spec = spec_at("8746e39b65", JoinType::Inner, BuildSide::Right);
        let config = ExecConfig { concurrency: 2, chunk_size: 1, ..ExecConfig::default() };
        let rows: Vec<[i64; 2]> = (0..8).map(|i| [i % 2, i]).collect();
        let c = Arc::new((spec, config, int_rows(&rows)));
        explore(&Strategy::random(1, 100), move || {
            let (spec, config, rows) = &*c;
            let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), rows, rows);
            exec.open().expect("open");
            assert!(matches!(exec.next(), Ok(Some(_))));
            if close {
                exec.close();
            } else {
                // The caller neither calls Next again nor Close (dropping would Close).
                std::mem::forget(exec);
            }
        })
    };
    let held = run(false);
    let leak = held.failure.as_ref().unwrap_or_else(|| panic!("expected the workers held: {held}"));
    assert!(matches!(leak.kind, harness::report::FailureKind::Leak { .. }), "{held}");
    assert_eq!(leak.execution, 1, "{held}");
    let waiting = |g: &&harness::report::BlockedGoroutine| {
        g.stack.first().map(String::as_str) == Some(GET_NEW_JOIN_RESULT)
            && g.stack.iter().any(|f| f == PROBE_AND_SEND_RESULT)
    };
    assert!(leak.kind.blocked().iter().any(|g| waiting(&g)), "no worker waits for its chunk: {held}");
    let closed = run(true);
    assert!(closed.failure.is_none(), "{closed}");
}

/// Inferred from TiDB's code (`all-spilled-null-probe-keys-lost`): when round 1 spilled every
/// partition, `probeAndSendResult` returns before probing (`areAllPartitionsSpilled`), at every
/// commit read to 9a5c8821c6. `SetChunkForProbe` spills every probe row with a key, but a row with
/// a NULL key is neither spilled nor looked up, so on an outer probe side it never comes out
/// NULL-extended: a LEFT JOIN building the right side loses its NULL-key left rows. The model
/// used to probe every chunk and send what it found, NULL-key rows included.
#[test]
fn all_partitions_spilled_in_round1_loses_the_null_key_probe_rows() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let spec = spec_at("8746e39b65", JoinType::LeftOuter, BuildSide::Right);
    let config = ExecConfig {
        concurrency: 2,
        chunk_size: 2,
        segment_rows: 2,
        quota: Some(40),
        max_spill_round: 8,
        ..ExecConfig::default()
    };
    let left: Vec<Row> =
        (0..8).map(|i| vec![if i % 3 == 0 { Value::Null } else { Value::Int(i % 4) }, Value::Int(i)]).collect();
    let right = int_rows(&(0..8).map(|i| [i, 10 * i]).collect::<Vec<_>>());
    let nulls = left.iter().filter(|r| r[0] == Value::Null).count();
    let want = sorted(reference_join(&spec, &left, &right));
    let all_spilled = Arc::new(AtomicUsize::new(0));
    let c = Arc::new((spec, config, left, right, want, all_spilled.clone()));
    let o = explore(&Strategy::random(1, 200), move || {
        let (spec, config, left, right, want, all_spilled) = &*c;
        let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), right, left);
        let got = sorted(exec.run_to_end().expect("the join succeeds"));
        if !exec.spill_stats().all_partitions_spilled_in_round1 {
            assert_eq!(&got, want);
            return;
        }
        all_spilled.fetch_add(1, Ordering::Relaxed);
        let lost: Vec<&Row> = want.iter().filter(|r| !got.contains(r)).collect();
        assert!(lost.iter().all(|r| r[0] == Value::Null && r[2..].iter().all(|v| *v == Value::Null)), "{lost:?}");
        assert_eq!((lost.len(), got.len()), (nulls, want.len() - nulls), "the NULL-key left rows are lost");
    });
    assert!(o.failure.is_none(), "{o}");
    assert!(all_spilled.load(Ordering::Relaxed) > 0, "round 1 never spilled every partition: {o}");
}

/// Audit H7: TiDB reads and writes `spilledPartitions` and `spillTriggered` with no lock, and
/// relies on the build's end for order. A probe-side read that nothing orders after a spill is a
/// race on the helper's field; when the model kept the helper under its mutex, the lock ordered
/// the two and nothing was reported.
#[test]
fn h7_the_spill_helpers_unlocked_fields_are_checked_memory() {
    use harness::go;
    use join_model::build_worker::BuildWorkerV2;
    use join_model::row_table::RowTableBuilder;
    use join_model::spill::HashJoinSpillHelper;
    let o = explore(&Strategy::random(1, 50), || {
        let spill = Arc::new(HashJoinSpillHelper::new(Some(1), 2, 2, 1, None).expect("spill files"));
        let workers = vec![BuildWorkerV2::new(0, 2)];
        workers[0].builder.set(Some(RowTableBuilder::new(0, 2, 2)));
        spill.set_can_spill_flag(true);
        spill.consume(&[8, 8]);
        let s = spill.clone();
        let spiller = go::go(move || s.spill_row_table(&workers).expect("spills"));
        let _ = spill.is_partition_spilled(0);
        spiller.join();
    });
    let failure = o.failure.as_ref().unwrap_or_else(|| panic!("no race: {o}"));
    let report = failure.kind.race().unwrap_or_else(|| panic!("not a race: {o}"));
    assert_eq!(report.object, "hashJoinSpillHelper.spilledPartitions", "{o}");
}

/// Audit H11: the memory action runs on whichever goroutine consumes memory. The probe child's
/// chunks are charged on the probe fetcher's goroutine; a chunk that takes the session over the
/// quota while the join holds too little to spill, or after the row tables are merged
/// (`canSpill` false), runs the fallback action: TiDB's `PanicOnExceed` cancels the query there,
/// and the fetcher's handler hands the panic to `Next`. When only split workers charged memory,
/// per chunk of build rows, this join (nothing to spill on the build side) always succeeded.
#[test]
fn h11_the_probe_fetcher_runs_the_memory_action_and_its_fallback() {
    use join_model::frames::FETCH_PROBE_SIDE_CHUNKS;
    use join_model::spill::{MemoryCharge, MEMORY_EXCEEDED};
    let spec = spec_at("8746e39b65", JoinType::Inner, BuildSide::Right);
    let (left, right) = (int_rows(&[[1, 10], [2, 20], [3, 30], [4, 40]]), int_rows(&[[1, 1]]));
    // Each probe chunk is 32 bytes: over a 24-byte quota whatever the build holds.
    let config = ExecConfig {
        concurrency: 2,
        chunk_size: 2,
        quota: Some(24),
        memory: MemoryCharge::Tidb,
        ..ExecConfig::default()
    };
    let c = Arc::new((spec, config, left, right));
    let o = explore(&Strategy::random(1, 100), move || {
        let (spec, config, left, right) = &*c;
        let (b, p) = spec.split(left, right);
        let err = HashJoinV2Exec::new(spec.clone(), config.clone(), b, p).run_to_end().expect_err("cancelled");
        assert_eq!(err.to_string(), MEMORY_EXCEEDED);
    });
    assert!(o.failure.is_none(), "{o}");
    let oom = o.recovered.iter().find(|r| r.message == MEMORY_EXCEEDED).unwrap_or_else(|| panic!("{o}"));
    assert!(oom.stack.iter().any(|f| f == FETCH_PROBE_SIDE_CHUNKS), "{:?}", oom.stack);
}

/// Audit I2: TiDB's `rowTables[w][p]` and a builder's per-partition state are distinct memory
/// per partition, so two goroutines touching different partitions of one worker never race. When
/// the model had one checked field per worker for all partitions, this schedule was a race.
#[test]
fn i2_disjoint_partitions_of_one_worker_do_not_race() {
    use harness::go;
    use join_model::build_worker::BuildWorkerV2;
    use join_model::row_table::RowTableBuilder;
    let o = explore(&Strategy::random(1, 50), || {
        let worker = BuildWorkerV2::new(0, 2);
        let builder = RowTableBuilder::new(0, 2, 1);
        let row = |p: u64| join_model::row_table::EncodedRow { hash: p, valid: true, bytes: vec![0; 16] };
        let (w, b) = (worker.clone(), builder.clone());
        let other = go::go(move || {
            b.append(1, row(1), &w.row_tables, false);
        });
        builder.append(0, row(0), &worker.row_tables, false);
        other.join();
        assert_eq!(worker.row_tables.iter().map(|t| t.with(|t| t.segments.len())).collect::<Vec<_>>(), [1, 1]);
    });
    assert!(o.failure.is_none(), "{o}");
}

/// Audit H16: `prepareForRestoring` checks the round limit before anything else, so a join whose
/// restore rounds reach `maxSpillRound` fails even when its last round spilled nothing. The model
/// used to return the rows.
#[test]
fn h16_the_round_limit_is_checked_before_looking_for_spills() {
    use join_model::error::JoinError;
    use join_model::spill::HashJoinSpillHelper;
    let o = explore(&Strategy::random(1, 1), || {
        let spill = HashJoinSpillHelper::new(Some(100), 2, 2, 1, None).expect("spill files");
        assert_eq!(spill.prepare_for_restoring(1), Ok(()));
        assert_eq!(spill.prepare_for_restoring(2), Err(JoinError::ExceedMaxSpillRound { max: 2 }));
    });
    assert!(o.failure.is_none(), "{o}");
}

/// Executor reuse (issue 17): `Open` after `Close` on the same executor, as Apply runs its inner
/// side once per outer row. TiDB makes `BuildWorkers` once, with the executor, so a re-opened
/// executor's workers still hold the last run's builders until the next build replaces them; the
/// model used to make new workers (with no builder) in every `Open`. Each run spills and equals
/// the reference join.
#[test]
fn reopen_keeps_the_build_workers_builders() {
    let spec = spec_at("8746e39b65", JoinType::LeftOuter, BuildSide::Right);
    let keys: Vec<[i64; 2]> = (0..12).map(|i| [i % 5, i]).collect();
    let (left, right) = (int_rows(&keys), int_rows(&keys));
    let want = sorted(reference_join(&spec, &left, &right));
    let config =
        ExecConfig { concurrency: 2, chunk_size: 2, quota: Some(120), max_spill_round: 8, ..ExecConfig::default() };
    let c = Arc::new((spec, config, left, right, want));
    let o = explore(&Strategy::random(1, 50), move || {
        let (spec, config, left, right, want) = &*c;
        let (b, p) = spec.split(left, right);
        let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), b, p);
        for run in 0..3 {
            let kept = exec.build_workers()[0].builder.get();
            assert_eq!(kept.is_some(), run > 0, "run {run}: the builder of the last run");
            exec.open().expect("opens");
            let still = exec.build_workers()[0].builder.get();
            assert!(matches!((&kept, &still), (Some(a), Some(b)) if Arc::ptr_eq(a, b)) || run == 0, "Open keeps it");
            let mut got = Vec::new();
            while let Some(chunk) = exec.next().expect("no error") {
                got.extend(chunk);
            }
            exec.close();
            assert_eq!(&sorted(got), want, "run {run}");
            assert!(exec.spill_stats().spilled_during_build || exec.spill_stats().spilled_before_hash_table);
        }
    });
    assert!(o.failure.is_none(), "{o}");
}

/// Audit H11, `tryToSpill`: charged as TiDB does, the hash table's memory (a 32-bucket floor per
/// partition) is charged before the hash table is built, and that charge alone can ask for the
/// spill, which `tryToSpill` then does between the row tables and the hash table. Scaled to the
/// model's quotas (the default), the same join fits and never spills.
#[test]
fn h11_try_to_spill_charges_the_hash_table_and_spills_for_it() {
    use join_model::spill::MemoryCharge;
    let spec = spec_at("8746e39b65", JoinType::Inner, BuildSide::Right);
    let (left, right) = (int_rows(&[[1, 10], [2, 20]]), int_rows(&[[1, 1], [2, 2], [3, 3], [4, 4]]));
    let want = sorted(reference_join(&spec, &left, &right));
    for (memory, spills) in [(MemoryCharge::Scaled, false), (MemoryCharge::Tidb, true)] {
        // 100 bytes of rows, then 512 of hash table (two partitions of 32 buckets) and the
        // children's chunks: over 640 in round 1, under it in the restore rounds.
        let config =
            ExecConfig { concurrency: 2, quota: Some(640), max_spill_round: 8, memory, ..ExecConfig::default() };
        let c = Arc::new((spec.clone(), config, left.clone(), right.clone(), want.clone()));
        let o = explore(&Strategy::random(1, 50), move || {
            let (spec, config, left, right, want) = &*c;
            let (b, p) = spec.split(left, right);
            let mut exec = HashJoinV2Exec::new(spec.clone(), config.clone(), b, p);
            assert_eq!(&sorted(exec.run_to_end().expect("joins")), want);
            let stats = exec.spill_stats();
            assert_eq!(stats.spilled_before_hash_table, spills, "{memory:?}");
            assert!(spills || !stats.spilled_during_build, "{memory:?}");
        });
        assert!(o.failure.is_none(), "{o}");
    }
}
