//! Schedules as data: the goroutine that ran at each step of an execution and the values of its
//! nondeterministic choices, and their file format ([`mod@file`]).
//!
//! A schedule is the list of goroutines in the order they ran: one step per return from a call
//! that may switch goroutines (a primitive operation, park, spawn, join, yield) and one per
//! goroutine start, plus the raw values of `select`'s random choices. Between two steps a goroutine
//! runs alone and deterministically, so the steps fix the execution. This module knows nothing of
//! how schedules are recorded or replayed.

pub mod file;

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
