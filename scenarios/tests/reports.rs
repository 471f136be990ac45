//! The reports of race 1 and race 2 from the catalog, as insta snapshots
//! (`fixtures/snapshots/scenarios/`), and checked against the report in TiDB #57450
//! (`fixtures/seed/`): the same frames, in the same order, for both accesses, and for race 2 the
//! same goroutine creation stacks. The races of TiDB #58286 and #60052 are checked the same way
//! against theirs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harness::report::{Access, AccessKind, RaceReport};
use scenarios::format::load;
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
    let s = load(&scenarios::catalog_dir().join(format!("{scenario}.toml"))).expect("catalog file");
    let model = build(&s).expect("valid scenario");
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
