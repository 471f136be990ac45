//! Shrinking a failing schedule to the fewest preemptions that still fail the same way.
//!
//! A schedule is re-expressed as overrides of a non-preemptive default (the running goroutine
//! goes on while it can; otherwise the lowest-numbered runnable one runs). The search removes one
//! override at a time and keeps the removal when the execution still fails the same way, until no
//! single removal does (a 1-minimal set, as delta debugging's). Each kept candidate is re-recorded,
//! so the result is an ordinary schedule that replays exactly.

use std::collections::HashMap;
use std::sync::Arc;

use super::replay::{Decision, Plan};
use super::{preemptions, run_exact, Schedule};
use crate::explore::{explore_plan, Outcome, Strategy};
use crate::report::FailureKind;

/// Most candidate executions a minimisation runs.
const MAX_ATTEMPTS: usize = 2_000;

/// A minimised schedule.
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest failing schedule found.
    pub schedule: Schedule,
    /// Preemptions of the schedule given.
    pub preemptions_before: usize,
    /// Preemptions of the minimised schedule.
    pub preemptions_after: usize,
    /// Steps before and after.
    pub steps_before: usize,
    /// Steps of the minimised schedule.
    pub steps_after: usize,
    /// The minimised schedule's outcome.
    pub outcome: Outcome,
    /// Candidate executions run.
    pub attempts: usize,
}

/// Why a schedule could not be minimised.
#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    /// Replaying the schedule does not fail the way it should.
    #[error("the schedule does not reproduce the failure: {0}")]
    NotReproduced(String),
}

/// Shrinks `schedule`, which fails `model` in a way `same` accepts, to the fewest preemptions.
pub fn minimize(
    schedule: &Schedule,
    model: impl Fn() + Send + Sync + 'static,
    same: impl Fn(&FailureKind) -> bool,
) -> Result<Minimized, MinimizeError> {
    let model = Arc::new(model);
    let (outcome, decisions) = run_exact(schedule, &model);
    match &outcome.failure {
        Some(f) if same(&f.kind) => {}
        Some(f) => return Err(MinimizeError::NotReproduced(f.kind.to_string())),
        None => return Err(MinimizeError::NotReproduced("the execution passed".into())),
    }
    let before = preemptions(&decisions);
    let mut best = Best { schedule: schedule.clone(), overrides: overrides(&decisions), preemptions: before, outcome };
    let mut attempts = 1;
    let mut candidates = removals(&best.overrides);
    // The default schedule alone first: often enough, and then nothing else is needed.
    candidates.push(HashMap::new());
    while let Some(candidate) = candidates.pop() {
        if attempts >= MAX_ATTEMPTS {
            break;
        }
        attempts += 1;
        let m = model.clone();
        let label = Strategy::Replay(schedule.clone());
        let (o, d) = explore_plan(move || m(), Plan::Overrides(candidate), schedule.choices.clone(), label);
        let Some(s) = o.failure.as_ref().filter(|f| same(&f.kind)).and_then(|f| f.schedule.clone()) else {
            continue;
        };
        let (p, ov) = (preemptions(&d), overrides(&d));
        if (p, ov.len()) < (best.preemptions, best.overrides.len()) {
            best = Best { schedule: s, overrides: ov, preemptions: p, outcome: o };
            if best.overrides.is_empty() {
                break;
            }
            candidates = removals(&best.overrides);
        }
    }
    Ok(Minimized {
        steps_before: schedule.steps.len(),
        steps_after: best.schedule.steps.len(),
        schedule: best.schedule,
        preemptions_before: before,
        preemptions_after: best.preemptions,
        outcome: best.outcome,
        attempts,
    })
}

struct Best {
    schedule: Schedule,
    overrides: HashMap<usize, u32>,
    preemptions: usize,
    outcome: Outcome,
}

/// Every set with one of `overrides` removed, ordered so that the latest removal is tried first
/// (late switches are the likeliest to be incidental).
fn removals(overrides: &HashMap<usize, u32>) -> Vec<HashMap<usize, u32>> {
    let mut keys: Vec<usize> = overrides.keys().copied().collect();
    keys.sort_unstable();
    keys.into_iter()
        .map(|k| {
            let mut c = overrides.clone();
            c.remove(&k);
            c
        })
        .collect()
}

/// The decisions that differ from the default, by decision index.
fn overrides(decisions: &[Decision]) -> HashMap<usize, u32> {
    decisions.iter().enumerate().filter(|(_, d)| d.chosen != d.default).map(|(i, d)| (i, d.chosen)).collect()
}
