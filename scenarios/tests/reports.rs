//! The reports of race 1 and race 2 from the catalog, as insta snapshots
//! (`fixtures/snapshots/scenarios/`), and checked against the report in TiDB #57450
//! (`fixtures/seed/`): the same frames, in the same order, for both accesses, and for race 2 the
//! same goroutine creation stacks. The races of TiDB #58286 and #60052 are checked the same way
//! against theirs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harness::report::{Access, AccessKind, RaceReport};
use scenarios::model::build;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The seed report's sections: `[read]`, `[write]`, `[read created at]`, …
fn seed(name: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(fixtures().join("seed").join(name)).expect("seed fixture");
    let mut sections = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = section.to_string();
        } else {
            sections.entry(current.clone()).or_insert_with(Vec::new).push(line.to_string());
        }
    }
    sections
}

/// The first strategy's race report of a catalog scenario.
fn report(scenario: &str) -> RaceReport {
    let (s, model) = scenarios::catalog_scenario(scenario);
    let outcome = model.explore(&s.strategies[0].strategy());
    outcome.race().cloned().unwrap_or_else(|| panic!("{scenario}: no race: {outcome}"))
}

fn access(r: &RaceReport, kind: AccessKind) -> &Access {
    if r.current.kind == kind {
        &r.current
    } else {
        &r.previous
    }
}

fn snapshot(name: &str, r: &RaceReport) {
    let filters = vec![(r"(\.rs):\d+", "$1:[line]")];
    insta::with_settings!({
        snapshot_path => fixtures().join("snapshots/scenarios"),
        prepend_module_to_snapshot => false,
        filters => filters,
    }, {
        insta::assert_snapshot!(name, r.to_string());
    });
}

#[test]
fn race1_report_matches_tidb() {
    let r = report("race1-used-flag-layout");
    snapshot("race1-used-flag-layout", &r);
    let seed = seed("tidb-57450-race1.txt");
    let (read, write) = (access(&r, AccessKind::Read), access(&r, AccessKind::Write));
    assert_eq!(read.stack, seed["read"]);
    assert_eq!(write.stack, seed["write"]);
    // An 8-byte plain read at row+9 (the key length is a u64 before PR #57458, as in TiDB's report
    // at a22b8421a6) against a 4-byte atomic write at row+8 by another goroutine.
    let row = r.region.as_ref().expect("the row is labelled").1;
    assert_eq!((read.offset - row, read.size, read.atomic), (9, 8, false));
    assert_eq!((write.offset - row, write.size, write.atomic), (8, 4, true));
    assert_ne!(read.goroutine, write.goroutine);
}

#[test]
fn race2_report_matches_tidb() {
    let r = report("race2-builder-publication");
    snapshot("race2-builder-publication", &r);
    let seed = seed("tidb-57450-race2.txt");
    let (read, write) = (access(&r, AccessKind::Read), access(&r, AccessKind::Write));
    assert_eq!(write.stack, seed["write"]);
    assert_eq!(read.stack, seed["read"]);
    assert_eq!(write.created_at.as_ref(), Some(&seed["write created at"]));
    assert_eq!(read.created_at.as_ref(), Some(&seed["read created at"]));
    assert!(r.object.ends_with(".builder"), "{r}");
}

/// The race of a catalog scenario between two plain accesses at the same TiDB site: both on
/// `object`'s bytes `range`, by two goroutines, with the stack of the seed report's `[write]`.
fn same_site_race(scenario: &str, seed_file: &str, object: &str, range: std::ops::Range<usize>) -> RaceReport {
    let r = report(scenario);
    let seed = seed(seed_file);
    assert_eq!(r.object, object, "{r}");
    for a in [&r.current, &r.previous] {
        assert_eq!(a.stack, seed["write"], "{r}");
        assert_eq!((a.range(), a.atomic), (range.clone(), false), "{r}");
    }
    assert_ne!(r.current.goroutine, r.previous.goroutine);
    r
}

/// TiDB #60052: two spill goroutines' plain `spilledValidRowNum +=`, all 8 bytes of the counter,
/// at the frames of the issue's report. Go 1.19.8 reports such a `+=` as a read against a previous
/// write when the second goroutine reads after the first wrote (`go test -race`, 5 of 5 runs);
/// TiDB's report shows two writes, the order in which both read before either wrote.
#[test]
fn spilled_valid_row_num_report_matches_tidb_60052() {
    let object = "hashJoinSpillHelper.spilledValidRowNum";
    let r = same_site_race("spilled-valid-row-num-60052", "tidb-60052.txt", object, 0..8);
    assert_eq!(r.previous.kind, AccessKind::Write, "{r}");
}

/// TiDB #58286: two probe workers' plain writes of the test-only `skipProbeInRestoreForTest` (a
/// Go bool, one byte) in a restore round, at the frames of the issue's report.
#[test]
fn skip_probe_flag_report_matches_tidb_58286() {
    let object = "hashJoinSpillHelper.skipProbeInRestoreForTest";
    let r = same_site_race("skip-probe-flag-58286", "tidb-58286.txt", object, 0..1);
    assert_eq!((r.current.kind, r.previous.kind), (AccessKind::Write, AccessKind::Write), "{r}");
}

/// TiDB #55465 gives only lines: the read at join_row_table.go:195 (`isColumnNull`, a plain byte)
/// from base_join_probe.go:360 (`appendBuildRowToChunkInternal`) in `probeForOuterSideBuild`, the
/// write at join_row_table.go:202 (`setUsedFlag`'s atomic 4-byte store, inlined) from
/// outer_join_probe.go:308 (`probeForOuterSideBuild`). The model's report has those frames, and
/// the bytes: the null map's first byte, row+8, inside the flag's word [8, 12).
#[test]
fn null_bit_read_report_matches_tidb_55465() {
    let r = report("null-bit-read-55465");
    let (read, write) = (access(&r, AccessKind::Read), access(&r, AccessKind::Write));
    let probe = "pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild";
    let read_top = [
        "pkg/executor/join.(*joinTableMeta).isColumnNull",
        "pkg/executor/join.(*baseJoinProbe).appendBuildRowToChunkInternal",
        probe,
    ];
    assert_eq!(read.stack[..3], read_top, "{r}");
    // Below Go's `sync/atomic` frames, as in every report of an atomic access.
    assert_eq!(write.stack.iter().find(|f| !f.starts_with("sync/atomic.")).map(String::as_str), Some(probe), "{r}");
    assert_eq!((read.size, read.atomic, write.size, write.atomic), (1, false, 4, true), "{r}");
    assert_eq!(read.addr, write.addr, "the null map's first byte is the flag word's first: {r}");
}

/// TiDB #55864: PR #55525 took the atomic null-bit read for `columnIndex <= 31`, and at 31 its
/// mask table `[32]uint32` is indexed at 32. With 32 stored build columns of an outer-side build,
/// a probe worker panics with Go's message, recovered by its `RunWithRecover` (the join fails);
/// from PR #55864 (`< 31`) the same join is clean. One worker and one matched row are enough: the
/// panic needs no other goroutine.
#[test]
fn index_31_panics_before_55864_and_not_after() {
    let columns = vec!["\"int\""; 32].join(", ");
    let row = |k: i64| format!("[{k}{}]", ", 0".repeat(31));
    let text = |commit: &str| {
        format!(
            "name = \"index-31\"\nissue = \"pingcap/tidb#55864\"\ndescription = \"x\"\ntarget = \"probe-slice\"\ntidb = \"{commit}\"\n\n[join]\ntype = \"right-outer\"\n\
             build = \"right\"\nleft = [\"int\"]\nright = [{columns}]\nleft_keys = [0]\nright_keys = [0]\n\n\
             [rows]\nleft = [[1]]\nright = [{}, {}]\n\n[exec]\nconcurrency = 1\nchunk_size = 1\n\
             segment_rows = 4\n\n[[strategy]]\nkind = \"dpor\"\n\n[expect]\noutcome = \"clean\"\n",
            row(1),
            row(2)
        )
    };
    let explore = |commit: &str| {
        let s = scenarios::format::parse(std::path::Path::new("index-31.toml"), &text(commit)).expect("valid");
        let model = build(&s).expect("valid scenario");
        model.explore(&s.strategies[0].strategy())
    };
    let before = explore("2761e91f2e");
    let messages: Vec<&str> = before.recovered.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages, ["runtime error: index out of range [32] with length 32"], "{before}");
    assert!(before.recovered[0].stack.iter().any(|f| f.ends_with("appendBuildRowToChunkInternal")), "{before}");
    let after = explore("41c99261bf");
    assert!(after.failure.is_none() && after.recovered.is_empty() && after.exhaustive, "{after}");
}
