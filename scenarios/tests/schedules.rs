//! The checked-in schedules of `fixtures/schedules/`: each race replays to the same report (an
//! insta snapshot) and the identical trace, 10 times out of 10, with at most 2 preemptions; each
//! finding of FINDINGS.md (`findings/`) to the failure its scenario expects, 10 times out of 10;
//! a deadlock's file replays as recorded only when the same goroutines block alike.

use std::path::PathBuf;

use harness::report::FailureKind;
use scenarios::format::load_dir;
use scenarios::schedules;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// `fixtures/schedules/<dir>/<name>.schedule`, loaded against the catalog, which must hold its
/// scenario unchanged.
fn load_fixture(dir: &str, name: &str) -> (PathBuf, schedules::Loaded) {
    let catalog = scenarios::catalog_dir();
    let files = load_dir(&catalog).expect("catalog");
    let path = fixtures().join("schedules").join(dir).join(format!("{name}.schedule"));
    let loaded = schedules::load(&path, &files, &catalog).expect("a valid schedule of a catalog scenario");
    assert_eq!(loaded.hash_changed, None, "{name}: the scenario changed since the schedule was recorded");
    (path, loaded)
}

fn replay_fixture(name: &str) {
    let (path, loaded) = load_fixture("", name);
    assert!(loaded.file.preemptions <= 2, "{name}: {} preemptions", loaded.file.preemptions);
    let first = schedules::replay(&path, &loaded).expect("replays");
    assert_eq!(first.preemptions, loaded.file.preemptions);
    let kind = first.outcome.failure.as_ref().map(|f| f.kind.clone()).expect("the replay fails");
    assert_eq!(kind.summary(), loaded.file.summary);
    assert_eq!(first.trace.accesses.iter().filter(|a| a.racing).count(), 2, "{}", first.trace);
    for _ in 0..9 {
        let again = schedules::replay(&path, &loaded).expect("replays");
        assert_eq!(again.outcome.failure.map(|f| f.kind), Some(kind.clone()));
        assert_eq!(again.trace, first.trace);
    }
    let FailureKind::DataRace(report) = kind else { panic!("{name}: not a race") };
    insta::with_settings!({
        snapshot_path => fixtures().join("snapshots/schedules"),
        prepend_module_to_snapshot => false,
        filters => vec![(r"(\.rs):\d+", "$1:[line]")],
    }, {
        insta::assert_snapshot!(name, format!("{report}\n\n{}", first.trace));
    });
}

#[test]
fn race1_probe_slice() {
    replay_fixture("race1");
}

#[test]
fn race2_restore_round() {
    replay_fixture("race2");
}

#[test]
fn race1_whole_executor() {
    replay_fixture("race1-executor");
}

#[test]
fn race2_whole_executor_round1() {
    replay_fixture("race2-executor-round1");
}

/// A finding's checked-in schedule (FINDINGS.md, `fixtures/schedules/findings/`): it replays to the
/// failure its scenario expects, the same one 10 times out of 10, and its report (Go's layout) is
/// the snapshot's.
fn replay_finding(name: &str) {
    let (path, loaded) = load_fixture("findings", name);
    assert_eq!(loaded.scenario.name, name);
    let first = schedules::replay(&path, &loaded).expect("replays");
    let verdict = scenarios::verdict::judge(loaded.model.expect(), &first.outcome);
    assert!(verdict.ok, "{name}: {verdict}");
    let kind = first.outcome.failure.as_ref().map(|f| f.kind.clone()).expect("the replay fails");
    assert_eq!(kind.summary(), loaded.file.summary);
    for _ in 0..9 {
        let again = schedules::replay(&path, &loaded).expect("replays");
        assert_eq!(again.outcome.failure.map(|f| f.kind), Some(kind.clone()));
        assert_eq!(again.trace, first.trace);
    }
    insta::with_settings!({
        snapshot_path => fixtures().join("snapshots/findings"),
        prepend_module_to_snapshot => false,
        filters => vec![(r"(\.rs):\d+", "$1:[line]")],
    }, {
        insta::assert_snapshot!(name, kind.to_string());
    });
}

#[test]
fn finding_restore_build_error_dropped() {
    replay_finding("kill-restore-build-lost");
}

#[test]
fn finding_kill_in_spilled_restore_round_hangs() {
    replay_finding("kill-restore-spill-hang-h5");
}

#[test]
fn finding_null_key_outer_rows_lost_when_all_spilled() {
    replay_finding("all-spilled-null-probe-keys-lost");
}

#[test]
fn finding_split_workers_panicking_hang_the_fetcher() {
    replay_finding("split-worker-panic-hang");
}

#[test]
fn finding_close_races_the_round_driver() {
    replay_finding("close-after-first-chunk-latest");
}

/// A deadlock's summary names the goroutines it blocked, and its replay must block them alike: the
/// hang finding's file with one goroutine's wait changed in its summary no longer reproduces. A
/// file from before that summary (the backend's task list, as shuttle printed it) still replays
/// as recorded, matched by its kind.
#[test]
fn a_deadlock_replays_as_recorded_only_with_the_same_blocked_goroutines() {
    let (path, _) = load_fixture("findings", "split-worker-panic-hang");
    let text = std::fs::read_to_string(&path).expect("the fixture");
    let summary = text.lines().find(|l| l.starts_with("summary: ")).expect("a summary line");
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = scenarios::catalog_dir();
    let files = load_dir(&catalog).expect("catalog");
    let replays_as_recorded = |new_summary: &str| {
        let edited = dir.path().join("edited.schedule");
        std::fs::write(&edited, text.replace(summary, &format!("summary: {new_summary}"))).expect("write");
        let loaded = schedules::load(&edited, &files, &catalog).expect("loads");
        let r = schedules::replay(&edited, &loaded).expect("replays");
        schedules::reproduced(&loaded, &r).is_ok()
    };
    let recorded = summary.trim_start_matches("summary: ");
    assert!(replays_as_recorded(recorded));
    let other_wait = recorded.replacen("[chan receive on joinResultCh]", "[chan send on joinResultCh]", 1);
    assert_ne!(other_wait, recorded);
    assert!(!replays_as_recorded(&other_wait));
    let shuttle_said = "fatal error: all goroutines are asleep - deadlock! (deadlock! blocked tasks: \
                        [main-thread (task main-thread(0)), <unknown> (task main-thread(1))])";
    assert!(replays_as_recorded(shuttle_said));
}
