//! What an outcome means for a scenario: whether it matched the expected outcome, and what was
//! found, in one line.

use std::fmt;

use harness::report::{FailureKind, RecoveredPanic};
use harness::Outcome;

use crate::format::Expect;
use crate::model::WRONG_RESULT;

/// Whether an outcome matched its expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// It matched.
    pub ok: bool,
    /// What was found, in one line.
    pub got: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", if self.ok { "as expected" } else { "UNEXPECTED" }, self.got)
    }
}

/// Compares `outcome` with what the scenario expects. An expected error is checked inside each
/// execution (the model fails it when the join's result differs), so it passes as a clean run.
/// An outcome that ran less than asked (`Outcome::incomplete`) matches nothing, and `clean` also
/// forbids recovered panics (TiDB logs them; a clean run has none). `error` and `wrong-result`
/// allow exactly the recovered panics they name: each must occur, and no other. `wrong-result`,
/// like `race`, `panic`, `deadlock` and `leak`, is a failure some execution must find.
pub fn judge(expect: &Expect, outcome: &Outcome) -> Verdict {
    if let Some(why) = &outcome.incomplete {
        return Verdict { ok: false, got: format!("incomplete: {why}") };
    }
    let want = expect.recovered();
    let fits = |p: &RecoveredPanic, w: &String| p.message.starts_with(w.as_str());
    // `sound` allows any recovered panic: TiDB logs it and returns its error.
    let unexpected = outcome.recovered.iter().find(|p| !want.iter().any(|w| fits(p, w)) && *expect != Expect::Sound);
    let missing = want.iter().find(|w| !outcome.recovered.iter().any(|p| fits(p, w)));
    let recovered_as_expected = unexpected.is_none() && missing.is_none();
    let got = match (&outcome.failure, unexpected, missing) {
        (Some(f), _, _) => f.kind.summary(),
        (None, Some(p), _) if !matches!(expect, Expect::Race { .. }) => p.to_string(),
        (None, _, Some(w)) => format!("no recovered panic {w:?}"),
        (None, _, _) if matches!(expect, Expect::Error { .. }) => "every execution failed with that error".into(),
        (None, _, _) => "clean".to_string(),
    };
    let ok = match expect {
        Expect::Clean | Expect::Sound | Expect::Error { .. } => outcome.failure.is_none() && recovered_as_expected,
        Expect::WrongResult { .. } => {
            let wrong = outcome.failure.as_ref().is_some_and(
                |f| matches!(&f.kind, FailureKind::Panic { message, .. } if message.starts_with(WRONG_RESULT)),
            );
            wrong && recovered_as_expected
        }
        Expect::Panic { message: start } => outcome.failure.as_ref().is_some_and(|f| {
            matches!(&f.kind, FailureKind::Panic { message, .. }
                if message.starts_with(start.as_str()) && !message.starts_with(WRONG_RESULT))
        }),
        Expect::Deadlock { blocked } | Expect::Leak { blocked } => {
            let kind = outcome.failure.as_ref().map(|f| &f.kind);
            let right_kind = match expect {
                Expect::Deadlock { .. } => matches!(kind, Some(FailureKind::Deadlock { .. })),
                _ => matches!(kind, Some(FailureKind::Leak { .. })),
            };
            let stuck = kind.map(FailureKind::blocked).unwrap_or_default();
            right_kind && blocked.iter().all(|f| stuck.iter().any(|g| g.stack.contains(f)))
        }
        Expect::Race { between } => {
            let mut want = between.clone();
            want.sort();
            outcome.failure.as_ref().and_then(|f| f.kind.race_sites()) == Some(want)
        }
    };
    let got = if ok && !want.is_empty() {
        format!("{got}; {} panics recovered as expected", outcome.recovered.len())
    } else {
        got
    };
    Verdict { ok, got }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::report::RecoveredPanic;
    use harness::{Failure, Strategy};

    fn clean_outcome() -> Outcome {
        Outcome {
            strategy: Strategy::pct(1, 10, 3),
            executions: 10,
            elapsed: std::time::Duration::ZERO,
            exhaustive: false,
            first_ready_case_only: false,
            failure: None,
            distinct: Some(3),
            bound: None,
            incomplete: None,
            recovered: Vec::new(),
        }
    }

    #[test]
    fn an_incomplete_outcome_matches_no_expectation() {
        let o = Outcome { incomplete: Some("no execution ran".into()), executions: 0, ..clean_outcome() };
        let error = Expect::Error { message: "x".into(), recovered: Vec::new() };
        for expect in [Expect::Clean, error] {
            assert_eq!(judge(&expect, &o), Verdict { ok: false, got: "incomplete: no execution ran".into() });
        }
        assert!(judge(&Expect::Clean, &clean_outcome()).ok);
    }

    #[test]
    fn clean_forbids_a_recovered_panic() {
        let p = RecoveredPanic { message: "boom".into(), location: None, goroutine: 3, stack: vec!["f".into()] };
        let o = Outcome { recovered: vec![p], ..clean_outcome() };
        assert_eq!(
            judge(&Expect::Clean, &o),
            Verdict { ok: false, got: "recovered panic: boom (goroutine 3, in f)".into() }
        );
    }

    #[test]
    fn an_error_allows_exactly_the_recovered_panics_it_names() {
        let panic = |message: &str| RecoveredPanic {
            message: message.into(),
            location: None,
            goroutine: 5,
            stack: vec!["pkg/executor/join.(*hashTableV2).totalRowCount".into()],
        };
        let expect = |recovered: &[&str]| Expect::Error {
            message: "failpoint panic".into(),
            recovered: recovered.iter().map(|s| s.to_string()).collect(),
        };
        let o =
            Outcome { recovered: vec![panic("failpoint panic: x"), panic("runtime error: nil")], ..clean_outcome() };
        assert!(judge(&expect(&["failpoint panic", "runtime error"]), &o).ok);
        let v = judge(&expect(&["failpoint panic"]), &o);
        assert!(!v.ok && v.got.starts_with("recovered panic: runtime error: nil"), "{}", v.got);
        let v = judge(&expect(&["failpoint panic", "runtime error", "index out of range"]), &o);
        assert!(!v.ok && v.got == "no recovered panic \"index out of range\"", "{}", v.got);
        assert!(!judge(&expect(&[]), &o).ok);
    }

    #[test]
    fn a_deadlock_must_block_a_goroutine_inside_each_named_frame() {
        use harness::report::BlockedGoroutine;
        let stuck = |frames: &[&str]| BlockedGoroutine {
            goroutine: 4,
            waiting_on: "sync.WaitGroup.Wait on fetcherAndWorkerSyncer".into(),
            stack: frames.iter().map(|f| f.to_string()).collect(),
        };
        let hung = |g: BlockedGoroutine| Outcome {
            failure: Some(Failure {
                execution: 3,
                kind: FailureKind::Deadlock { goroutines: vec![g], message: "deadlock!".into() },
                schedule: None,
            }),
            ..clean_outcome()
        };
        let expect = Expect::Deadlock { blocked: vec!["fetchBuildSideRows".into()] };
        assert!(judge(&expect, &hung(stuck(&["checkAndSpillRowTableIfNeeded", "fetchBuildSideRows"]))).ok);
        assert!(!judge(&expect, &hung(stuck(&["runJoinWorker"]))).ok);
        assert!(!judge(&expect, &clean_outcome()).ok, "no hang");
        let leak = Expect::Leak { blocked: vec!["fetchBuildSideRows".into()] };
        assert!(!judge(&leak, &hung(stuck(&["fetchBuildSideRows"]))).ok, "a deadlock is no leak");
    }

    /// `panic` wants a crash with that message, and neither a recovered panic nor the model's
    /// wrong-result check nor another failure is one.
    #[test]
    fn panic_is_an_unrecovered_panic_with_that_message() {
        let crashed = |message: &str| Outcome {
            failure: Some(Failure {
                execution: 2,
                kind: FailureKind::Panic {
                    goroutine: Some(3),
                    message: message.into(),
                    location: None,
                    stack: Vec::new(),
                },
                schedule: None,
            }),
            ..clean_outcome()
        };
        let expect = Expect::Panic { message: "runtime error: index out of range".into() };
        assert!(judge(&expect, &crashed("runtime error: index out of range [32] with length 32")).ok);
        assert!(!judge(&expect, &crashed("runtime error: invalid memory address")).ok);
        assert!(!judge(&expect, &clean_outcome()).ok, "no crash");
        let recovered = Outcome {
            recovered: vec![RecoveredPanic {
                message: "runtime error: index out of range [32] with length 32".into(),
                location: None,
                goroutine: 3,
                stack: Vec::new(),
            }],
            ..clean_outcome()
        };
        assert!(!judge(&expect, &recovered).ok, "a recovered panic is no crash");
        let anything = Expect::Panic { message: String::new() };
        assert!(!judge(&anything, &crashed(&format!("{WRONG_RESULT}: 1 rows"))).ok, "a wrong result is no crash");
    }
}
