//! What an outcome means for a scenario: whether it matched the expected outcome, and what was
//! found, in one line.

use std::fmt;

use harness::report::RaceReport;
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
pub fn judge(expect: &Expect, outcome: &Outcome) -> Verdict {
    let got = match &outcome.failure {
        None if matches!(expect, Expect::Error { .. }) => "every execution failed with that error".into(),
        None => "clean".to_string(),
        Some(f) => f.kind.summary(),
    };
    let ok = match expect {
        Expect::Clean | Expect::Error { .. } => outcome.failure.is_none(),
        Expect::Race { between } => {
            let mut want = between.clone();
            want.sort();
            outcome.failure.as_ref().and_then(|f| f.kind.race()).and_then(RaceReport::sites) == Some(want)
        }
    };
    Verdict { ok, got }
}
