//! The TiDB function names the model's stack frames carry, so a race report from the model lines
//! up with Go's race detector output from TiDB (`tidb-issue-57450.md`).

use harness::go::{self, frame, JoinHandle, WaitGroup};

use crate::error::JoinError;

macro_rules! names {
    ($($name:ident = $value:literal;)*) => {$(
        #[doc = concat!("`", $value, "`")]
        pub const $name: &str = $value;
    )*};
}

names! {
    RUN_WITH_RECOVER = "pkg/util.(*WaitGroupWrapper).RunWithRecover";
    RUN_WITH_RECOVER_FUNC1 = "pkg/util.(*WaitGroupWrapper).RunWithRecover.func1";
    GET_SERIALIZED_KEY_LENGTH = "pkg/executor/join.(*joinTableMeta).getSerializedKeyLength";
    IS_KEY_MATCHED = "pkg/executor/join.isKeyMatched";
    IS_COLUMN_NULL = "pkg/executor/join.(*joinTableMeta).isColumnNull";
    APPEND_BUILD_ROW_TO_CHUNK_INTERNAL = "pkg/executor/join.(*baseJoinProbe).appendBuildRowToChunkInternal";
    PROBE_FOR_OUTER_SIDE_BUILD = "pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild";
    PROBE_FOR_INNER_SIDE_BUILD = "pkg/executor/join.(*outerJoinProbe).probeForInnerSideBuild";
    INNER_JOIN_PROBE = "pkg/executor/join.(*innerJoinProbe).Probe";
    OUTER_JOIN_PROBE = "pkg/executor/join.(*outerJoinProbe).Probe";
    SCAN_ROW_TABLE = "pkg/executor/join.(*outerJoinProbe).ScanRowTable";
    SEMI_SCAN_ROW_TABLE = "pkg/executor/join.(*semiJoinProbe).ScanRowTable";
    ANTI_SEMI_SCAN_ROW_TABLE = "pkg/executor/join.(*antiSemiJoinProbe).ScanRowTable";
    SEMI_JOIN_PROBE = "pkg/executor/join.(*semiJoinProbe).Probe";
    SEMI_LEFT_BUILD_NO_OTHER_CONDITION = "pkg/executor/join.(*semiJoinProbe).probeForLeftSideBuildNoOtherCondition";
    SEMI_LEFT_BUILD_HAS_OTHER_CONDITION = "pkg/executor/join.(*semiJoinProbe).probeForLeftSideBuildHasOtherCondition";
    SEMI_RIGHT_BUILD_NO_OTHER_CONDITION = "pkg/executor/join.(*semiJoinProbe).probeForRightSideBuildNoOtherCondition";
    SEMI_RIGHT_BUILD_HAS_OTHER_CONDITION =
        "pkg/executor/join.(*semiJoinProbe).probeForRightSideBuildHasOtherCondition";
    ANTI_SEMI_JOIN_PROBE = "pkg/executor/join.(*antiSemiJoinProbe).Probe";
    ANTI_SEMI_LEFT_BUILD_NO_OTHER_CONDITION =
        "pkg/executor/join.(*antiSemiJoinProbe).probeForLeftSideBuildNoOtherCondition";
    ANTI_SEMI_LEFT_BUILD_HAS_OTHER_CONDITION =
        "pkg/executor/join.(*antiSemiJoinProbe).probeForLeftSideBuildHasOtherCondition";
    ANTI_SEMI_RIGHT_BUILD_NO_OTHER_CONDITION =
        "pkg/executor/join.(*antiSemiJoinProbe).probeForRightSideBuildNoOtherCondition";
    ANTI_SEMI_RIGHT_BUILD_HAS_OTHER_CONDITION =
        "pkg/executor/join.(*antiSemiJoinProbe).probeForRightSideBuildHasOtherCondition";
    LEFT_OUTER_SEMI_JOIN_PROBE = "pkg/executor/join.(*leftOuterSemiJoinProbe).Probe";
    LOSJ_PROBE_WITH_OTHER_CONDITION = "pkg/executor/join.(*leftOuterSemiJoinProbe).probeWithOtherCondition";
    LOSJ_PROBE_WITHOUT_OTHER_CONDITION = "pkg/executor/join.(*leftOuterSemiJoinProbe).probeWithoutOtherCondition";
    PROBE_AND_SEND_RESULT = "pkg/executor/join.(*ProbeWorkerV2).probeAndSendResult";
    PROCESS_ONE_PROBE_CHUNK = "pkg/executor/join.(*ProbeWorkerV2).processOneProbeChunk";
    RUN_JOIN_WORKER = "pkg/executor/join.(*ProbeWorkerV2).runJoinWorker";
    GET_NEW_JOIN_RESULT = "pkg/executor/join.(*ProbeWorkerV2).getNewJoinResult";
    RESTORE_AND_PROBE = "pkg/executor/join.(*ProbeWorkerV2).restoreAndProbe";
    START_PROBE_JOIN_WORKERS_FUNC1 = "pkg/executor/join.(*HashJoinV2Exec).startProbeJoinWorkers.func1";
    START_PROBE_JOIN_WORKERS = "pkg/executor/join.(*HashJoinV2Exec).startProbeJoinWorkers";
    FETCH_PROBE_SIDE_CHUNKS = "pkg/executor/join.(*probeSideTupleFetcherBase).fetchProbeSideChunks";
    SPLIT_PARTITION_AND_APPEND = "pkg/executor/join.(*BuildWorkerV2).splitPartitionAndAppendToRowTable";
    SPLIT_PARTITION_AND_APPEND_FOR_RESTORE =
        "pkg/executor/join.(*BuildWorkerV2).splitPartitionAndAppendToRowTableForRestore";
    SPLIT_AND_APPEND_TO_ROW_TABLE = "pkg/executor/join.(*HashJoinV2Exec).splitAndAppendToRowTable";
    SPLIT_AND_APPEND_TO_ROW_TABLE_FUNC1 = "pkg/executor/join.(*HashJoinV2Exec).splitAndAppendToRowTable.func1";
    FETCH_AND_BUILD_HASH_TABLE_IMPL = "pkg/executor/join.(*HashJoinV2Exec).fetchAndBuildHashTableImpl";
    FETCH_AND_BUILD_HASH_TABLE_FUNC2 =
        "pkg/executor/join.(*HashJoinV2Exec).startBuildAndProbe.(*HashJoinV2Exec).fetchAndBuildHashTable.func2";
    START_BUILD_AND_PROBE = "pkg/executor/join.(*HashJoinV2Exec).startBuildAndProbe";
    CLOSE = "pkg/executor/join.(*HashJoinV2Exec).Close";
    NEXT = "pkg/executor/join.(*HashJoinV2Exec).Next";
    FETCH_BUILD_SIDE_ROWS = "pkg/executor/join.(*buildWorkerBase).fetchBuildSideRows";
    FETCH_BUILD_SIDE_ROWS_FUNC1 = "pkg/executor/join.(*HashJoinV2Exec).fetchBuildSideRows.func1";
    CONTROL_WORKERS_FOR_RESTORE = "pkg/executor/join.(*HashJoinV2Exec).controlWorkersForRestore";
    CHECK_AND_SPILL_ROW_TABLE_IF_NEEDED = "pkg/executor/join.checkAndSpillRowTableIfNeeded";
    SPILL_ROW_TABLE = "pkg/executor/join.(*hashJoinSpillHelper).spillRowTable";
    SPILL_ROW_TABLE_IMPL = "pkg/executor/join.(*hashJoinSpillHelper).spillRowTableImpl";
    SPILL_ROW_TABLE_IMPL_FUNC1 = "pkg/executor/join.(*hashJoinSpillHelper).spillRowTableImpl.func1";
    SPILL_BUILD_SEGMENT_TO_DISK = "pkg/executor/join.(*hashJoinSpillHelper).spillBuildSegmentToDisk";
    SPILL_SEGMENTS_TO_DISK_IMPL = "pkg/executor/join.(*hashJoinSpillHelper).spillSegmentsToDiskImpl";
    GENERATE_SPILLED_VALID_JOIN_KEY = "pkg/executor/join.(*hashJoinSpillHelper).generateSpilledValidJoinKey";
    SPILL_REMAINING_ROWS = "pkg/executor/join.(*hashJoinSpillHelper).spillRemainingRows";
    BUILD_HASH_TABLE = "pkg/executor/join.(*BuildWorkerV2).buildHashTable";
    CREATE_TASKS = "pkg/executor/join.(*HashJoinV2Exec).createTasks";
    CREATE_BUILD_TASKS_FUNC1 = "pkg/executor/join.(*HashJoinV2Exec).createBuildTasks.func1";
    WAIT_JOIN_WORKERS = "pkg/executor/join.(*HashJoinV2Exec).waitJoinWorkers";
    WAIT_JOIN_WORKERS_FUNC1 = "pkg/executor/join.(*HashJoinV2Exec).waitJoinWorkers.func1";
    PROCESS_ONE_RESTORED_PROBE_CHUNK = "pkg/executor/join.(*ProbeWorkerV2).processOneRestoredProbeChunk";
    SCAN_ROW_TABLE_AFTER_PROBE_DONE = "pkg/executor/join.(*ProbeWorkerV2).scanRowTableAfterProbeDone";
    INIT_FOR_SCAN_ROW_TABLE = "pkg/executor/join.(*outerJoinProbe).InitForScanRowTable";
    SEMI_INIT_FOR_SCAN_ROW_TABLE = "pkg/executor/join.(*semiJoinProbe).InitForScanRowTable";
    ANTI_SEMI_INIT_FOR_SCAN_ROW_TABLE = "pkg/executor/join.(*antiSemiJoinProbe).InitForScanRowTable";
    TOTAL_ROW_COUNT = "pkg/executor/join.(*hashTableV2).totalRowCount";
}

/// `(*WaitGroupWrapper).RunWithRecover(exec, recoverFn)`: `wg.Add(1)`, then a goroutine whose
/// stack begins with `RunWithRecover.func1` runs `exec`; its deferred function recovers a panic,
/// calls `recover_fn` with it (`None` when `exec` returned), then `wg.Done()`. A recovered panic is
/// handed on as `util.GetRecoverError` makes it, and the harness keeps it on the outcome, as TiDB
/// logs it. The harness's `JoinHandle` is returned for slices that join.
pub fn run_with_recover(
    wg: Option<&WaitGroup>,
    exec: impl FnOnce() + Send + 'static,
    recover_fn: impl FnOnce(Option<JoinError>) + Send + 'static,
) -> JoinHandle<()> {
    let _f = frame(RUN_WITH_RECOVER);
    let wg = wg.cloned();
    if let Some(wg) = &wg {
        wg.add(1);
    }
    go::go(move || {
        let _f = frame(RUN_WITH_RECOVER_FUNC1);
        let r = go::recover(exec).err();
        recover_fn(r.map(JoinError::from));
        if let Some(wg) = wg {
            wg.done();
        }
    })
}
