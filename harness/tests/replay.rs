//! Schedules: every failure carries one, it replays exactly (under shuttle, whichever scheduler
//! found it), a schedule that does not fit diverges with a clear message, and minimisation shrinks
//! it to the fewest preemptions.

use harness::go::{self, frame, WaitGroup};
use harness::memory::CheckedBuf;
use harness::report::FailureKind;
use harness::triage::MinimizeError;
use harness::{explore, minimize, replay, Schedule, Strategy};

const WRITER: &str = "writer";
const READER: &str = "reader";

/// Two goroutines bump a shared counter (noise that gives a random schedule many preemptions);
/// a third writes `x` unordered with main's read of it.
fn noisy_race() {
    let counter = CheckedBuf::new("counter", 8);
    let x = CheckedBuf::new("x", 8);
    let wg = WaitGroup::new("wg");
    wg.add(3);
    for _ in 0..2 {
        let (c, wg) = (counter.clone(), wg.clone());
        go::go(move || {
            for _ in 0..6 {
                c.atomic_add_u64(0, 1);
            }
            wg.done();
        });
    }
    let (c, x2, wg2) = (counter.clone(), x.clone(), wg.clone());
    go::go(move || {
        for _ in 0..3 {
            c.atomic_add_u64(0, 1);
        }
        let _f = frame(WRITER);
        x2.write_u64(0, 1);
        wg2.done();
    });
    for _ in 0..3 {
        counter.atomic_add_u64(0, 1);
    }
    {
        let _f = frame(READER);
        x.read_u64(0);
    }
    wg.wait();
}

fn sites(kind: &FailureKind) -> Option<[String; 2]> {
    let r = kind.race()?;
    let mut s = [r.current.site()?.to_string(), r.previous.site()?.to_string()];
    s.sort();
    Some(s)
}

fn found(strategy: &Strategy) -> (FailureKind, Schedule) {
    let outcome = explore(strategy, noisy_race);
    let failure = outcome.failure.unwrap_or_else(|| panic!("no failure under {strategy}"));
    (failure.kind, failure.schedule.expect("a schedule"))
}

#[test]
fn every_scheduler_s_failure_replays_to_the_same_report_and_trace_ten_times() {
    for strategy in [Strategy::loom(2), Strategy::random(3, 100), Strategy::pct(3, 100, 3)] {
        let (kind, schedule) = found(&strategy);
        let first = replay(&schedule, noisy_race);
        let got = first.outcome.failure.as_ref().expect("the replay fails").kind.clone();
        assert_eq!(got, kind, "replay of the {strategy} schedule gave another failure");
        assert_eq!(first.trace.accesses.iter().filter(|a| a.racing).count(), 2, "{}", first.trace);
        for _ in 0..9 {
            let again = replay(&schedule, noisy_race);
            assert_eq!(again.outcome.failure.map(|f| f.kind), Some(kind.clone()));
            assert_eq!(again.trace, first.trace);
        }
    }
}

#[test]
fn a_schedule_of_another_model_diverges_at_a_named_step() {
    let (_, schedule) = found(&Strategy::random(3, 100));
    let outcome = explore(&Strategy::replay(schedule), || {
        let x = CheckedBuf::new("x", 8);
        let x2 = x.clone();
        let h = go::go(move || x2.atomic_add_u64(0, 1));
        x.atomic_add_u64(0, 1);
        h.join();
    });
    match outcome.failure.map(|f| f.kind) {
        Some(FailureKind::Divergence { message }) => assert!(message.starts_with("step "), "{message}"),
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn an_empty_schedule_diverges_at_step_zero() {
    let outcome = explore(&Strategy::replay(Schedule::default()), noisy_race);
    match outcome.failure.map(|f| f.kind) {
        Some(FailureKind::Divergence { message }) => assert!(message.starts_with("step 0:"), "{message}"),
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn minimisation_keeps_the_race_and_removes_every_needless_preemption() {
    let (kind, schedule) = found(&Strategy::random(11, 100));
    let want = sites(&kind).expect("a race");
    let before = replay(&schedule, noisy_race).preemptions;
    assert!(before >= 2, "the random schedule should preempt a few times, got {before}");
    let m = minimize(&schedule, noisy_race, |k| sites(k).as_ref() == Some(&want)).expect("minimises");
    assert_eq!(m.preemptions_before, before);
    // The writer's and reader's accesses are never ordered, so no preemption is needed at all.
    assert_eq!(m.preemptions_after, 0, "{m:?}");
    let again = replay(&m.schedule, noisy_race);
    assert_eq!(again.preemptions, 0);
    assert_eq!(again.outcome.failure.and_then(|f| sites(&f.kind)), Some(want));
}

#[test]
fn a_schedule_that_does_not_fail_is_not_minimised() {
    // The model does nothing: replaying five steps of it diverges, which is not a race.
    let schedule = Schedule { steps: vec![0, 0, 1, 1, 0], choices: vec![] };
    match minimize(&schedule, || {}, |k| k.race().is_some()) {
        Err(MinimizeError::NotReproduced(why)) => {
            assert!(why.starts_with("schedule diverged: the execution ended after 1 steps"), "{why}")
        }
        Ok(m) => panic!("minimised a schedule that does not fail: {m:?}"),
    }
}
