//! Failpoints: named points where a test injects an error or a panic, as TiDB's
//! `failpoint.Inject` sites do, under TiDB's names. TiDB's `panicOrError` is one failpoint that
//! `triggerIntest` checks at many sites, firing at random; the model arms it at one site at a
//! time, named `panicOrError@<function>` (`panicOrError@fetchProbeSideChunks`: the
//! `triggerIntest` right after the probe child's `Next`, so it also stands for that child's error).
//!
//! An injected panic is a real panic, `failpoint panic: <name>` as pingcap/failpoint raises it: it
//! unwinds the goroutine to whatever `recover` TiDB has there (a `RunWithRecover` handler, a
//! deferred `recover`), or kills the execution where TiDB has none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::error::JoinError;

/// What a failpoint does when hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailAction {
    /// Return an error from the point.
    Error,
    /// Panic at the point, with `failpoint panic: <name>`.
    Panic,
    /// Block the goroutine at the point until the executor is closed (pingcap/failpoint's
    /// `pause`): a child or a build stuck for longer than the query lives. Only at the points in
    /// [`PAUSE_POINTS`].
    Pause,
}

/// The points the model can pause at.
pub const PAUSE_POINTS: &[&str] = &["issue51998"];

/// Every failpoint the model has. TiDB's `killedDuring…` points are its SQL killer checks
/// (`checkSQLKiller`): armed, they interrupt the query there, as a KILL would.
pub const FAILPOINTS: &[&str] = &[
    "killedDuringBuild",
    "killedDuringRestoreBuild",
    "killedDuringBuildSpill",
    "killedDuringProbe",
    "Issue59377",
    "issue51998",
    "panicOrError@fetchProbeSideChunks",
    "panicOrError@controlWorkersForRestore",
    "splitPartitionPanic",
    "createTasksPanic",
    "buildHashTablePanic",
    "processOneProbeChunkPanic",
    "panicOrError@restoreAndProbe",
];

/// One armed failpoint: what it does, after how many hits that do nothing, and the hits so far.
#[derive(Debug)]
struct Armed {
    name: String,
    action: FailAction,
    after: usize,
    hits: AtomicUsize,
    /// Where it first fired: the firing goroutine's innermost frames.
    fired_at: OnceLock<String>,
}

impl Armed {
    /// Armed afresh: no hits yet.
    fn new(name: String, action: FailAction, after: usize) -> Armed {
        Armed { name, action, after, hits: AtomicUsize::new(0), fired_at: OnceLock::new() }
    }
}

/// The active failpoints. A clone counts hits afresh: each executor counts its own.
#[derive(Debug, Default)]
pub struct Failpoints {
    active: Vec<Armed>,
}

impl Clone for Failpoints {
    fn clone(&self) -> Failpoints {
        let active = self.active.iter().map(|a| Armed::new(a.name.clone(), a.action, a.after));
        Failpoints { active: active.collect() }
    }
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
    pub fn with(self, name: &str, action: FailAction) -> Result<Failpoints, String> {
        self.with_after(name, action, 0)
    }

    /// Activates `name` from its hit `after + 1` on: the first `after` hits do nothing
    /// (pingcap/failpoint's `after*off->` term). Hits are counted over the executor's goroutines
    /// with a plain atomic, which orders nothing the model sees.
    ///
    /// # Errors
    /// An unknown name.
    pub fn with_after(mut self, name: &str, action: FailAction, after: usize) -> Result<Failpoints, String> {
        if !FAILPOINTS.contains(&name) {
            return Err(format!("unknown failpoint {name:?} (known: {})", FAILPOINTS.join(", ")));
        }
        if is_kill(name) && action != FailAction::Error {
            return Err(format!("{name} is a SQL killer check: it interrupts the query (action = \"error\")"));
        }
        if action == FailAction::Pause && !PAUSE_POINTS.contains(&name) {
            return Err(format!("{name} cannot pause (action = \"pause\" is for {})", PAUSE_POINTS.join(", ")));
        }
        self.active.push(Armed::new(name.to_string(), action, after));
        Ok(self)
    }

    /// Called at the point named `name` (a paused point does nothing here: see [`Failpoints::pauses`]).
    ///
    /// # Panics
    /// When the point is armed to panic.
    pub fn hit(&self, name: &str) -> Result<(), JoinError> {
        let Some(armed) = self.active.iter().find(|a| a.name == name) else { return Ok(()) };
        if armed.hits.fetch_add(1, Ordering::Relaxed) < armed.after {
            return Ok(());
        }
        armed.fired_at.get_or_init(|| {
            let stack = harness::go::current_stack();
            format!("{name} in {}", stack.iter().take(3).map(String::as_str).collect::<Vec<_>>().join(" < "))
        });
        match armed.action {
            FailAction::Error if is_kill(name) => Err(JoinError::QueryInterrupted),
            FailAction::Error => Err(JoinError::Injected { failpoint: name.to_string() }),
            FailAction::Panic => panic!("failpoint panic: {name}"),
            FailAction::Pause => Ok(()),
        }
    }

    /// Whether the pause point `name` is armed to pause: the caller then blocks until the
    /// executor is closed.
    pub fn pauses(&self, name: &str) -> bool {
        self.active.iter().any(|a| a.name == name && a.action == FailAction::Pause)
    }

    /// Where an armed point first fired (was hit more than its `after` times): its name and the
    /// innermost frames there; `None` if none fired.
    pub fn fired(&self) -> Option<&str> {
        self.active.iter().find_map(|a| a.fired_at.get().map(String::as_str))
    }
}

/// Whether `name` is one of TiDB's SQL killer checks.
pub fn is_kill(name: &str) -> bool {
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
        assert!(Failpoints::none().with("killedDuringProbe", FailAction::Pause).is_err());
    }

    #[test]
    fn only_pause_points_pause() {
        let paused = Failpoints::none().with("issue51998", FailAction::Pause).expect("a pause point");
        assert!(paused.pauses("issue51998"));
        assert_eq!(paused.hit("issue51998"), Ok(()), "pausing is the caller's");
        assert!(Failpoints::none().with("Issue59377", FailAction::Pause).is_err());
    }

    #[test]
    fn after_n_hits_the_point_fires_and_a_clone_counts_afresh() {
        let armed = Failpoints::none().with_after("Issue59377", FailAction::Error, 2).expect("known");
        let fresh = armed.clone();
        assert_eq!(armed.hit("Issue59377"), Ok(()));
        assert_eq!(armed.hit("Issue59377"), Ok(()));
        assert!(armed.hit("Issue59377").is_err());
        assert!(armed.hit("Issue59377").is_err(), "it keeps firing");
        assert_eq!(fresh.hit("Issue59377"), Ok(()), "a clone starts from zero");
    }
}
