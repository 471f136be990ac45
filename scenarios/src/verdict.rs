//! What an outcome means for a scenario: whether it matched the expected outcome, and what was
//! found, in one line.

use std::fmt;

use harness::Outcome;

use crate::format::Expect;

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
/// forbids recovered panics (TiDB logs them; a clean run has none).
pub fn judge(expect: &Expect, outcome: &Outcome) -> Verdict {
    if let Some(why) = &outcome.incomplete {
        return Verdict { ok: false, got: format!("incomplete: {why}") };
    }
    let recovered = outcome.recovered.first();
    let got = match (&outcome.failure, recovered) {
        (Some(f), _) => f.kind.summary(),
        (None, Some(p)) if matches!(expect, Expect::Clean) => p.to_string(),
        (None, _) if matches!(expect, Expect::Error { .. }) => "every execution failed with that error".into(),
        (None, _) => "clean".to_string(),
    };
    let ok = match expect {
        Expect::Clean => outcome.failure.is_none() && recovered.is_none(),
        Expect::Error { .. } => outcome.failure.is_none(),
        Expect::Race { between } => {
            let mut want = between.clone();
            want.sort();
            outcome.failure.as_ref().and_then(|f| f.kind.race_sites()) == Some(want)
        }
    };
    Verdict { ok, got }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::report::RecoveredPanic;
    use harness::Strategy;

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
        let error = Expect::Error { message: "x".into() };
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
}
