//! The replay scheduler, a peer of the other explorers: it runs a recorded schedule exactly
//! (replay), or as a list of overrides of a non-preemptive default (minimisation).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

use crate::runtime::record;

/// A scheduling decision made while replaying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The goroutine chosen.
    pub(crate) chosen: u32,
    /// What the non-preemptive default would have chosen.
    pub(crate) default: u32,
    /// The running goroutine could have gone on (so a different choice preempts it).
    pub(crate) current_runnable: bool,
}

impl Decision {
    /// A switch away from a goroutine that could have gone on.
    pub(crate) fn is_preemption(&self) -> bool {
        self.current_runnable && self.chosen != self.default
    }
}

/// How the replay scheduler chooses.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    /// At step `k`, run goroutine `steps[k]`; the runtime's record checks that it did, and the
    /// scheduler reads the expected step from it.
    Exact(Vec<u32>),
    /// At decision `d`, run `overrides[d]` if it can run; otherwise the default: the running
    /// goroutine while it can run, else the lowest-numbered runnable one.
    Overrides(HashMap<usize, u32>),
}

impl Plan {
    /// The steps of an exact plan.
    pub(crate) fn exact(&self) -> Option<&[u32]> {
        match self {
            Plan::Exact(steps) => Some(steps),
            Plan::Overrides(_) => None,
        }
    }
}

/// Runs one execution along a plan, recording every decision.
pub(crate) struct ReplayScheduler {
    plan: Plan,
    choices: Vec<u64>,
    next_choice: usize,
    started: bool,
    decisions: Arc<Mutex<Vec<Decision>>>,
}

impl ReplayScheduler {
    pub(crate) fn new(plan: Plan, choices: Vec<u64>, decisions: Arc<Mutex<Vec<Decision>>>) -> ReplayScheduler {
        ReplayScheduler { plan, choices, next_choice: 0, started: false, decisions }
    }
}

/// The goroutine a shuttle task runs (`u32::MAX` for a task whose spawn has not returned yet).
fn goroutine(t: TaskId) -> u32 {
    record::goroutine_of_task(usize::from(t)).map_or(u32::MAX, |g| g as u32)
}

impl Scheduler for ReplayScheduler {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        Some(ShuttleSchedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let can_run = |g: u32| runnable.iter().find(|t| goroutine(t.id()) == g).map(|t| t.id());
        let current_runnable = !is_yielding && current.is_some_and(|c| runnable.iter().any(|t| t.id() == c));
        let default = match current {
            Some(c) if current_runnable => c,
            // A yielding goroutine hands over to the next runnable one after it (round robin), so
            // a goroutine that polls in a loop cannot starve the one it waits for.
            Some(c) if is_yielding => {
                let me = goroutine(c);
                let mut ids: Vec<(u32, TaskId)> = runnable.iter().map(|t| (goroutine(t.id()), t.id())).collect();
                ids.sort_unstable_by_key(|&(g, _)| g);
                ids.iter().find(|&&(g, _)| g > me).or(ids.first()).map(|&(_, t)| t)?
            }
            _ => runnable.iter().map(|t| t.id()).min_by_key(|&t| goroutine(t))?,
        };
        let wanted = match &self.plan {
            Plan::Exact(_) => record::expected_next(),
            Plan::Overrides(o) => o.get(&self.decisions.lock().len()).copied(),
        };
        // A wanted goroutine that cannot run is a divergence under `Exact`; the harness reports it
        // at the step, so run the default meanwhile.
        let chosen = wanted.and_then(can_run).unwrap_or(default);
        self.decisions.lock().push(Decision {
            chosen: goroutine(chosen),
            default: goroutine(default),
            current_runnable,
        });
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        // loom makes no choices (0); a schedule recorded under loom has none to give.
        let v = self.choices.get(self.next_choice).copied().unwrap_or(0);
        self.next_choice += 1;
        v
    }
}
