//! Tools for a failure once exploration has found it, built on [`mod@crate::explore`]: exact replay
//! with a per-goroutine trace, and minimisation to the fewest preemptions ([`minimize()`]).
//!
//! A schedule recorded under loom replays under shuttle: the replay scheduler runs, at each of
//! shuttle's decisions, the goroutine of the next step, and the runtime checks every step as it
//! happens.

mod minimize;
pub mod trace;

use std::sync::Arc;

pub use minimize::{minimize, MinimizeError, Minimized};
use trace::Trace;

use crate::explore::replay::{Decision, Plan};
use crate::explore::{explore_plan, Outcome, PlanRun, Strategy};
use crate::schedule::Schedule;

/// What a replay produced.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The outcome of the replayed execution (its failure, or a divergence).
    pub outcome: Outcome,
    /// Switches away from a goroutine that could have gone on.
    pub preemptions: usize,
    /// The execution as per-goroutine steps, with the accesses to the racing bytes.
    pub trace: Trace,
}

/// Replays `schedule` on `model` exactly, once to find the failure and once more to trace the
/// accesses to the bytes it concerns; a step that does not fit is a divergence.
pub fn replay(schedule: &Schedule, model: impl Fn() + Send + Sync + 'static) -> Replayed {
    let model = Arc::new(model);
    let first = run_exact(schedule, &model, None);
    let watch = first.outcome.race().map(|r| {
        let (a, b) = (&r.current, &r.previous);
        (a.addr.min(b.addr), (a.addr + a.size as u64).max(b.addr + b.size as u64))
    });
    let traced = run_exact(schedule, &model, Some(watch.unwrap_or((0, 0))));
    let log = traced.recorded.trace.expect("a traced run records a trace");
    let trace = Trace::new(&traced.recorded.steps, log, traced.outcome.race());
    Replayed { outcome: traced.outcome, preemptions: preemptions(&first.decisions), trace }
}

/// One exact run of `schedule`, traced when `watch` is given.
fn run_exact<F: Fn() + Send + Sync + 'static>(
    schedule: &Schedule,
    model: &Arc<F>,
    watch: Option<(u64, u64)>,
) -> PlanRun {
    let m = model.clone();
    explore_plan(
        move || m(),
        Plan::Exact(schedule.steps.clone()),
        schedule.choices.clone(),
        watch,
        &Strategy::replay(schedule.clone()),
    )
}

/// How many decisions preempted a goroutine that could have gone on.
fn preemptions(decisions: &[Decision]) -> usize {
    decisions.iter().filter(|d| d.is_preemption()).count()
}
