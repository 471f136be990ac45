//! Failpoints: named points where a test injects an error or a panic, as TiDB's
//! `failpoint.Inject` sites do (TiDB's names where they exist).
//!
//! An injected panic is a real panic, `failpoint panic: <name>` as pingcap/failpoint raises it: it
//! unwinds the goroutine to whatever `recover` TiDB has there (a `RunWithRecover` handler, a
//! deferred `recover`), or kills the execution where TiDB has none.

use crate::error::JoinError;

/// What a failpoint does when hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailAction {
    /// Return an error from the point.
    Error,
    /// Panic at the point, with `failpoint panic: <name>`.
    Panic,
}

/// Every failpoint the model has. TiDB's `killedDuring…` points are its SQL killer checks
/// (`checkSQLKiller`): armed, they interrupt the query there, as a KILL would.
pub const FAILPOINTS: &[&str] = &[
    "killedDuringBuild",
    "killedDuringRestoreBuild",
    "killedDuringBuildSpill",
    "killedDuringProbe",
    "Issue59377",
    "fetchProbeSideChunksError",
    "controlWorkersForRestoreError",
    "splitPartitionPanic",
    "createTasksPanic",
    "buildHashTablePanic",
    "processOneProbeChunkPanic",
    "restoreAndProbeError",
];

/// The active failpoints.
#[derive(Clone, Debug, Default)]
pub struct Failpoints {
    active: Vec<(String, FailAction)>,
}

impl Failpoints {
    /// No failpoint active.
    pub fn none() -> Failpoints {
        Failpoints::default()
    }

    /// Activates `name`.
    ///
    /// # Errors
    /// An unknown name.
    pub fn with(mut self, name: &str, action: FailAction) -> Result<Failpoints, String> {
        if !FAILPOINTS.contains(&name) {
            return Err(format!("unknown failpoint {name:?} (known: {})", FAILPOINTS.join(", ")));
        }
        if is_kill(name) && action == FailAction::Panic {
            return Err(format!("{name} is a SQL killer check: it interrupts the query (action = \"error\")"));
        }
        self.active.push((name.to_string(), action));
        Ok(self)
    }

    /// Called at the point named `name`.
    ///
    /// # Panics
    /// When the point is armed to panic.
    pub fn hit(&self, name: &str) -> Result<(), JoinError> {
        match self.active.iter().find(|(n, _)| n == name) {
            None => Ok(()),
            Some((_, FailAction::Error)) if is_kill(name) => Err(JoinError::QueryInterrupted),
            Some((_, FailAction::Error)) => Err(JoinError::Injected { failpoint: name.to_string() }),
            Some((_, FailAction::Panic)) => panic!("failpoint panic: {name}"),
        }
    }
}

/// Whether `name` is one of TiDB's SQL killer checks.
fn is_kill(name: &str) -> bool {
    name.starts_with("killedDuring")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_check_interrupts_the_query_and_cannot_panic() {
        let armed = Failpoints::none().with("killedDuringBuildSpill", FailAction::Error).expect("known");
        assert_eq!(armed.hit("killedDuringBuildSpill"), Err(JoinError::QueryInterrupted));
        assert_eq!(JoinError::QueryInterrupted.to_string(), "Query execution was interrupted");
        assert!(Failpoints::none().with("killedDuringProbe", FailAction::Panic).is_err());
    }
}
