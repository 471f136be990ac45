//! Race reports in Go's layout, snapshotted: addresses and goroutine numbers are deterministic.

use harness::go::{self, frame};
use harness::memory::CheckedBuf;
use harness::{explore, Strategy};

/// Snapshots are fixtures: data, checked in under the workspace's `fixtures/`.
const SNAPSHOTS: &str = "../../fixtures/snapshots/harness";

fn probe_workers_share_a_row() {
    let seg = CheckedBuf::new("rowTableSegment.rawData", 48);
    seg.label_rows(&[0, 24]);
    let peer = seg.clone();
    let w = go::go(move || {
        let _a = frame("pkg/util.(*WaitGroupWrapper).RunWithRecover.func1");
        let _b = frame("pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild");
        let v = peer.atomic_load_u32(24 + 8);
        peer.atomic_store_u32(24 + 8, v | 0x80);
    });
    let _a = frame("pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild");
    let _b = frame("pkg/executor/join.isKeyMatched");
    let _c = frame("pkg/executor/join.(*joinTableMeta).getSerializedKeyLength");
    seg.read_u32(24 + 9);
    w.join();
}

#[test]
fn race_report_reads_like_go() {
    // Both schedulers find the same pair; loom's first execution runs main first.
    let o = explore(&Strategy::loom(2), probe_workers_share_a_row);
    let report = o.race().expect("race").to_string();
    // Rust line numbers of the model move with every edit; the snapshot keeps the file names.
    let filters = vec![(r"(\.rs):\d+", "$1:[line]")];
    insta::with_settings!({ snapshot_path => SNAPSHOTS, prepend_module_to_snapshot => false, filters => filters }, {
        insta::assert_snapshot!(report);
    });
}
