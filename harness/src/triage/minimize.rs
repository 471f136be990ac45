//! Shrinking a failing schedule to the fewest preemptions that still fail the same way.
//!
//! A schedule is re-expressed as overrides of a non-preemptive default (the running goroutine
//! goes on while it can; otherwise the lowest-numbered runnable one runs). The search first tries
//! the default alone, then removes chunks of preemptions, halving the chunk size down to single
//! preemptions, and keeps a removal when the execution still fails the same way, until no single
//! removal does (1-minimal, as in delta debugging). Each kept candidate is re-recorded, so the result is an ordinary schedule that
//! replays exactly.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::run_exact;
use crate::explore::replay::{Decision, Plan};
use crate::explore::{explore_plan, Failure, Outcome, Strategy};
use crate::report::FailureKind;
use crate::schedule::Schedule;

/// Most candidate executions a minimisation runs, and its longest run time.
const MAX_ATTEMPTS: usize = 2_000;
const MAX_TIME: Duration = Duration::from_secs(20);

/// A minimised schedule.
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest failing schedule found.
    pub schedule: Schedule,
    /// Preemptions of the schedule given.
    pub preemptions_before: usize,
    /// Preemptions of the minimised schedule.
    pub preemptions_after: usize,
    /// Steps of the schedule given.
    pub steps_before: usize,
    /// Steps of the minimised schedule.
    pub steps_after: usize,
    /// The minimised schedule's failure.
    pub failure: Failure,
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
    let first = run_exact(schedule, &model, None);
    let (outcome, decisions) = (first.outcome, first.decisions);
    match &outcome.failure {
        Some(f) if same(&f.kind) => {}
        Some(f) => return Err(MinimizeError::NotReproduced(f.kind.to_string())),
        None => return Err(MinimizeError::NotReproduced("the execution passed".into())),
    }
    let mut best = Best::new(schedule.clone(), &decisions, outcome);
    let before = best.preemptive.len();
    let label = Strategy::replay(schedule.clone());
    let start = Instant::now();
    let attempts = Cell::new(1usize);
    // Runs the overrides; keeps them as the best when they fail the same way with fewer
    // preemptions (or as many, with fewer overrides).
    let attempt = |best: &mut Best, overrides: HashMap<usize, u32>| -> bool {
        attempts.set(attempts.get() + 1);
        let m = model.clone();
        let run = explore_plan(move || m(), Plan::Overrides(overrides), schedule.choices.clone(), None, &label);
        let (o, d) = (run.outcome, run.decisions);
        let Some(s) = o.failure.as_ref().filter(|f| same(&f.kind)).and_then(|f| f.schedule.clone()) else {
            return false;
        };
        let found = Best::new(s, &d, o);
        let better = (found.preemptive.len(), found.overrides.len()) < (best.preemptive.len(), best.overrides.len());
        if better {
            *best = found;
        }
        better
    };
    let budget_left = || attempts.get() < MAX_ATTEMPTS && start.elapsed() < MAX_TIME;
    // The default schedule alone first: often enough, and then nothing else is needed.
    if !best.preemptive.is_empty() && !attempt(&mut best, HashMap::new()) {
        // Delta debugging over the preemptions: remove chunks of them, halving the chunk size
        // when no chunk can go, down to single preemptions.
        let mut chunk = best.preemptive.len().div_ceil(2).max(1);
        loop {
            let mut removed_any = false;
            let mut at = 0;
            while at < best.preemptive.len() && budget_left() {
                let end = (at + chunk).min(best.preemptive.len());
                let mut candidate = best.overrides.clone();
                for k in &best.preemptive[at..end] {
                    candidate.remove(k);
                }
                if attempt(&mut best, candidate) {
                    removed_any = true;
                } else {
                    at = end;
                }
            }
            if !budget_left() || best.preemptive.is_empty() || (chunk == 1 && !removed_any) {
                break;
            }
            chunk = if removed_any { chunk.min(best.preemptive.len()).max(1) } else { chunk.div_ceil(2) };
        }
    }
    Ok(Minimized {
        steps_before: schedule.steps.len(),
        steps_after: best.schedule.steps.len(),
        schedule: best.schedule,
        preemptions_before: before,
        preemptions_after: best.preemptive.len(),
        failure: best.outcome.failure.expect("the kept schedule fails"),
        attempts: attempts.get(),
    })
}

struct Best {
    schedule: Schedule,
    /// Every decision that differs from the default, by decision index.
    overrides: HashMap<usize, u32>,
    /// The decision indices of the preemptions among them.
    preemptive: Vec<usize>,
    outcome: Outcome,
}

impl Best {
    fn new(schedule: Schedule, decisions: &[Decision], outcome: Outcome) -> Best {
        let preemptive = (0..decisions.len()).filter(|&i| decisions[i].is_preemption()).collect();
        Best { schedule, overrides: overrides(decisions), preemptive, outcome }
    }
}

/// The decisions that differ from the default, by decision index.
fn overrides(decisions: &[Decision]) -> HashMap<usize, u32> {
    decisions.iter().enumerate().filter(|(_, d)| d.chosen != d.default).map(|(i, d)| (i, d.chosen)).collect()
}
