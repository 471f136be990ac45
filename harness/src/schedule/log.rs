//! The per-execution log every scheduling point writes to: which goroutine ran at each step, the
//! values of nondeterministic choices, and a hash of the execution's dependency structure.
//!
//! Under loom and shuttle all goroutines of an execution run on the OS thread that explores, so
//! the log is a thread-local, reset when an execution starts. It costs a `Vec` push per step.

use std::cell::RefCell;

use crate::report::FailureKind;
use crate::runtime::{self, Abort};

/// A step of a traced replay: the operation the goroutine returned from, and its innermost frame.
#[derive(Clone, Debug)]
pub(crate) struct StepDetail {
    pub(crate) op: &'static str,
    pub(crate) frame: Option<String>,
}

/// A checked-memory access seen while tracing, inside the step `step`.
#[derive(Clone, Debug)]
pub(crate) struct MemEvent {
    pub(crate) step: usize,
    pub(crate) goroutine: u32,
    pub(crate) addr: u64,
    pub(crate) size: usize,
    pub(crate) write: bool,
    pub(crate) atomic: bool,
    pub(crate) frame: Option<String>,
}

/// What tracing collects besides the steps.
#[derive(Default)]
pub(crate) struct TraceLog {
    /// Accesses overlapping `[watch.0, watch.1)` are recorded.
    pub(crate) watch: (u64, u64),
    pub(crate) details: Vec<StepDetail>,
    pub(crate) mem: Vec<MemEvent>,
}

pub(crate) struct Log {
    pub(crate) steps: Vec<u32>,
    pub(crate) choices: Vec<u64>,
    /// Sum over dependent operations of a hash of (object, position in the object's history,
    /// goroutine): equal for two executions exactly when every object saw the same goroutines in
    /// the same order (up to hash collisions). For checked memory the position is the writes each
    /// byte saw before (see `Shadow::access`), so reads between two writes commute.
    pub(crate) interleaving: u64,
    /// Per goroutine (and one slot for code outside any), how many objects it has created.
    created: Vec<u32>,
    /// The steps an exact replay expects (set only while replaying exactly).
    pub(crate) expected: Option<Vec<u32>>,
    pub(crate) trace: Option<TraceLog>,
    /// shuttle: the task id of each goroutine. Not the goroutine's index: shuttle may switch
    /// inside `spawn` before it creates the task, so two goroutines spawned concurrently can get
    /// their tasks in the other order.
    pub(crate) tasks: Vec<usize>,
}

impl Log {
    const fn new() -> Log {
        Log {
            steps: Vec::new(),
            choices: Vec::new(),
            interleaving: 0,
            created: Vec::new(),
            expected: None,
            trace: None,
            tasks: Vec::new(),
        }
    }

    /// Whether a traced replay watches any of the `size` bytes at `addr`.
    pub(crate) fn watches(&self, addr: u64, size: usize) -> bool {
        self.trace.as_ref().is_some_and(|t| addr < t.watch.1 && t.watch.0 < addr + size as u64)
    }

    /// Notes that goroutine `g` made the `seq`-th dependent operation on object `object`.
    pub(crate) fn depend(&mut self, object: u64, seq: u32, g: usize) {
        self.interleaving = self.interleaving.wrapping_add(mix(mix(object) ^ (u64::from(seq) << 20) ^ g as u64));
    }
}

std::thread_local! {
    // Const-initialized: every scheduling point writes here, so no lazy-init check.
    static LOG: RefCell<Log> = const { RefCell::new(Log::new()) };
}

/// Starts the log of a new execution (keeping the replay and trace settings).
pub(crate) fn reset() {
    LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.steps.clear();
        l.choices.clear();
        l.interleaving = 0;
        l.created.clear();
        l.tasks.clear();
        l.tasks.push(0);
        if let Some(t) = &mut l.trace {
            t.details.clear();
            t.mem.clear();
        }
    });
}

/// Runs `f` on the log.
pub(crate) fn with<R>(f: impl FnOnce(&mut Log) -> R) -> R {
    LOG.with(|l| f(&mut l.borrow_mut()))
}

/// The goroutine an exact replay expects at the next step.
pub(crate) fn expected_next() -> Option<u32> {
    LOG.with(|l| {
        let l = l.borrow();
        l.expected.as_ref()?.get(l.steps.len()).copied()
    })
}

/// A new object's identity for the interleaving hash and the DPOR explorer: its creator and how
/// many objects the creator made before it. Not a global creation number, which would tell apart
/// executions that only reorder two goroutines' independent creations.
pub(crate) fn new_object() -> u64 {
    let slot = crate::facade::goroutine_id().wrapping_add(1);
    with(|l| {
        if l.created.len() <= slot {
            l.created.resize(slot + 1, 0);
        }
        l.created[slot] += 1;
        mix(((slot as u64) << 32) | u64::from(l.created[slot]))
    })
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finalizer.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Records that goroutine `g` runs the next step, returning from (or starting with) `op`, and, if
/// `object` is given, that this was its `seq`-th operation on that object. While replaying
/// exactly, a goroutine other than the schedule's fails the execution as a divergence.
pub(crate) fn step(g: usize, op: &'static str, object: Option<(u64, u32)>) {
    let diverged = LOG.with(|l| {
        let mut l = l.borrow_mut();
        let k = l.steps.len();
        l.steps.push(g as u32);
        if let Some((object, seq)) = object {
            l.depend(object, seq, g);
        }
        if l.trace.is_none() && l.expected.is_none() {
            return None;
        }
        if l.trace.is_some() {
            let frame = runtime::try_current().and_then(|e| e.top_frame(g));
            l.trace.as_mut().expect("trace").details.push(StepDetail { op, frame });
        }
        let expected = l.expected.as_ref()?;
        match expected.get(k) {
            Some(&want) if want == g as u32 => None,
            Some(&want) => {
                Some(format!("step {k}: the schedule runs goroutine {}, but goroutine {} ran ({op})", want + 1, g + 1))
            }
            None => Some(format!(
                "step {k}: the schedule ends after {} steps, but goroutine {} goes on ({op})",
                expected.len(),
                g + 1
            )),
        }
    });
    if let Some(message) = diverged {
        diverge(message);
    }
}

/// Fails the execution as a divergence from the replayed schedule and stops the goroutine.
pub(crate) fn diverge(message: String) -> ! {
    if let Some(exec) = runtime::try_current() {
        exec.state.lock().fail(FailureKind::Divergence { message });
    }
    std::panic::panic_any(Abort)
}

/// Records that goroutine `g` (just spawned) runs as shuttle task `task`.
pub(crate) fn map_task(g: usize, task: usize) {
    with(|l| {
        if l.tasks.len() <= g {
            l.tasks.resize(g + 1, usize::MAX);
        }
        l.tasks[g] = task;
    });
}

/// Records the raw value behind a nondeterministic choice.
pub(crate) fn choice(value: u64) {
    with(|l| l.choices.push(value));
}

/// Records a checked-memory access of the watched range while tracing; `frame` names the
/// accessing function.
pub(crate) fn memory(g: usize, addr: u64, size: usize, write: bool, atomic: bool, frame: Option<String>) {
    with(|l| {
        let step = l.steps.len().saturating_sub(1);
        if let Some(t) = l.trace.as_mut() {
            t.mem.push(MemEvent { step, goroutine: g as u32, addr, size, write, atomic, frame });
        }
    });
}
