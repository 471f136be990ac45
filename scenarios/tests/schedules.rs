//! The checked-in schedules of `fixtures/schedules/`: each replays to the same report (an insta
//! snapshot) and the identical trace, 10 times out of 10, with at most 2 preemptions.

use std::path::PathBuf;

use harness::report::FailureKind;
use scenarios::format::load_dir;
use scenarios::schedules;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn replay_fixture(name: &str) {
    let catalog = scenarios::catalog_dir();
    let files = load_dir(&catalog).expect("catalog");
    let path = fixtures().join("schedules").join(format!("{name}.schedule"));
    let loaded = schedules::load(&path, &files, &catalog).expect("a valid schedule of a catalog scenario");
    assert_eq!(loaded.hash_changed, None, "{name}: the scenario changed since the schedule was recorded");
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
