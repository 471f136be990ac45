//! Schedules: what every loom or shuttle execution records, exact replay, minimisation to the
//! fewest preemptions, and per-goroutine traces.
//!
//! A schedule is the list of goroutines in the order they ran: one step per return from a call
//! that may switch goroutines (a primitive operation, park, spawn, join, yield) and one per
//! goroutine start, plus the raw values of `select`'s random choices. Between two steps a goroutine
//! runs alone and deterministically, so the steps fix the execution. A schedule recorded under loom
//! replays under shuttle: the replay scheduler runs, at each of shuttle's decisions, the goroutine
//! of the next step, and the harness checks every step as it happens.

pub mod file;
pub(crate) mod log;
mod minimize;
pub(crate) mod replay;
pub mod trace;

use std::sync::Arc;

pub use minimize::{minimize, MinimizeError, Minimized};
use trace::Trace;

use crate::explore::{explore_plan, Outcome, Strategy};
use replay::{Decision, Plan};

/// The recorded schedule of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// The harness goroutine index (Go's number minus one) that ran each step.
    pub steps: Vec<u32>,
    /// The raw random values behind `select`'s choices, in order.
    pub choices: Vec<u64>,
}

impl Schedule {
    /// The number of goroutines the schedule mentions.
    pub fn goroutines(&self) -> usize {
        goroutines(&self.steps)
    }
}

/// The number of goroutines that ran `steps` (harness indices).
pub(crate) fn goroutines(steps: &[u32]) -> usize {
    steps.iter().max().map_or(0, |&g| g as usize + 1)
}

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
    let (first, decisions) = run_exact(schedule, &model);
    let watch = first.race().map(|r| {
        let (a, b) = (&r.current, &r.previous);
        (a.addr.min(b.addr), (a.addr + a.size as u64).max(b.addr + b.size as u64))
    });
    log::with(|l| l.trace = Some(log::TraceLog { watch: watch.unwrap_or((0, 0)), ..Default::default() }));
    // Tracing stays on only for this replay, even if something below unwinds.
    struct StopTracing;
    impl Drop for StopTracing {
        fn drop(&mut self) {
            log::with(|l| l.trace = None);
        }
    }
    let _stop = StopTracing;
    let (outcome, _) = run_exact(schedule, &model);
    let traced = log::with(|l| l.trace.take()).expect("trace log");
    let steps = log::with(|l| l.steps.clone());
    let trace = Trace::new(&steps, traced, outcome.race());
    Replayed { outcome, preemptions: preemptions(&decisions), trace }
}

fn run_exact<F: Fn() + Send + Sync + 'static>(schedule: &Schedule, model: &Arc<F>) -> (Outcome, Vec<Decision>) {
    let m = model.clone();
    explore_plan(
        move || m(),
        Plan::Exact(schedule.steps.clone()),
        schedule.choices.clone(),
        &Strategy::Replay(schedule.clone()),
    )
}

/// How many decisions preempted a goroutine that could have gone on.
fn preemptions(decisions: &[Decision]) -> usize {
    decisions.iter().filter(|d| d.is_preemption()).count()
}
