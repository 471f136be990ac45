//! The record of the running execution, written at every scheduling point: which goroutine ran at
//! each step, the values of nondeterministic choices, a hash of the execution's dependency
//! structure, the goroutine ↔ shuttle task map, and what the running goroutine announced for the
//! DPOR explorer. A run may also ask for an exact replay (the steps it expects) or for a trace (the
//! accesses to a range of checked memory, the happens-before edges and the goroutines' names);
//! [`scoped`] sets both and [`Scope::finish`] hands back what was recorded, by value.
//!
//! Under loom and shuttle all goroutines of an execution run on the OS thread that explores, so
//! the record lives in the runtime's thread-local and is reset when an execution starts. It costs
//! a `Vec` push per step.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::clock::VectorClock;
use super::LOCAL;
use crate::schedule::Schedule;

/// A step of a traced replay: the operation the goroutine returned from, and its innermost frame.
#[derive(Clone, Debug)]
pub(crate) struct StepDetail {
    pub(crate) op: &'static str,
    pub(crate) frame: Option<String>,
}

/// A checked-memory access seen while tracing, inside the step `step`; `seq` orders it among the
/// trace's accesses and synchronisations.
#[derive(Clone, Debug)]
pub(crate) struct MemEvent {
    pub(crate) step: usize,
    pub(crate) seq: u64,
    pub(crate) goroutine: u32,
    pub(crate) addr: u64,
    pub(crate) size: usize,
    pub(crate) write: bool,
    pub(crate) atomic: bool,
    pub(crate) frame: Option<String>,
}

/// How a traced happens-before edge arose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EdgeKind {
    /// A `go` statement: the parent's step to the child's start.
    Go,
    /// A release (send, close, `Unlock`, `Done`, atomic store …) acquired by another goroutine.
    Sync,
    /// A finished goroutine's end, acquired by a join.
    End,
}

/// A happens-before edge of a traced execution: what goroutine `from` did up to its event `from_seq`
/// (in step `from_step`) happens before what `to` does from its event `to_seq` on (in step
/// `to_step`; for [`EdgeKind::Go`], `None`: the child's first step).
#[derive(Clone, Debug)]
pub(crate) struct SyncEdge {
    pub(crate) kind: EdgeKind,
    pub(crate) from: u32,
    pub(crate) from_step: usize,
    pub(crate) from_seq: u64,
    pub(crate) to: u32,
    pub(crate) to_step: Option<usize>,
    pub(crate) to_seq: u64,
}

/// A release seen while tracing: where it happened and the clock it published.
#[derive(Debug)]
struct Release {
    step: usize,
    seq: u64,
    clock: VectorClock,
}

/// What tracing collects besides the steps.
#[derive(Debug, Default)]
pub(crate) struct TraceLog {
    /// Accesses overlapping `[watch.0, watch.1)` are recorded.
    watch: (u64, u64),
    pub(crate) details: Vec<StepDetail>,
    pub(crate) mem: Vec<MemEvent>,
    /// The happens-before edges, in the order their targets acquired them.
    pub(crate) edges: Vec<SyncEdge>,
    /// Per goroutine, the function it was started with (see [`goroutine_name`]).
    pub(crate) names: Vec<Option<String>>,
    /// Per goroutine, the innermost frame of its creator at the `go` statement (Go's `created by`).
    pub(crate) created_by: Vec<Option<String>>,
    /// Orders accesses and synchronisations (steps alone cannot: an access and a spawn can share
    /// one).
    seq: u64,
    /// Per goroutine, its latest step and latest event.
    last_step: Vec<usize>,
    last_seq: Vec<u64>,
    /// Releases by (goroutine, its epoch at the release): an epoch names one release, since each
    /// one advances it.
    releases: FxHashMap<(u32, u32), Release>,
}

impl TraceLog {
    /// The next event of goroutine `g`: its sequence number.
    fn event(&mut self, g: usize) -> u64 {
        self.seq += 1;
        grow(&mut self.last_seq, g)[g] = self.seq;
        self.seq
    }

    fn last_step(&self, g: usize) -> usize {
        self.last_step.get(g).copied().unwrap_or(0)
    }

    /// Names goroutine `g` from a stack it had while doing something (`frames`, innermost first),
    /// unless an earlier one named it.
    fn saw_stack(&mut self, g: usize, frames: &[String]) {
        let names = grow(&mut self.names, g);
        if names[g].is_none() {
            names[g] = goroutine_name(frames);
        }
    }
}

/// `v` with index `i` in range (new slots default).
fn grow<T: Default + Clone>(v: &mut Vec<T>, i: usize) -> &mut Vec<T> {
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    v
}

/// The function a goroutine was started with, from the first stack it had while doing something
/// (innermost first): the outermost frame that is not a closure (`….func1`, such as a `go func()`
/// literal or a recover wrapper that calls the worker's method), else the innermost closure, which
/// does the work itself.
pub(crate) fn goroutine_name(frames: &[String]) -> Option<String> {
    let closure =
        |f: &str| f.rsplit('.').next().is_some_and(|l| l.starts_with("func") && l[4..].parse::<u32>().is_ok());
    frames.iter().rev().find(|f| !closure(f)).or(frames.first()).cloned()
}

/// What an operation does to shared state, as the DPOR explorer sees it: the objects it touches,
/// and whether it writes them (loads of one object commute).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) labels: SmallVec<[u64; 2]>,
    pub(crate) write: bool,
}

/// A copy by `SmallVec::from_slice`, as `VectorClock`'s (the explorer copies one per step).
impl Clone for Access {
    fn clone(&self) -> Access {
        Access { labels: SmallVec::from_slice(&self.labels), write: self.write }
    }
}

/// What a run asks of the record besides the steps.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Replay exactly: the goroutine of each step; another one diverges.
    pub(crate) expected: Option<Vec<u32>>,
    /// Trace: record the steps' details and the accesses to these bytes.
    pub(crate) watch: Option<(u64, u64)>,
}

/// What a run recorded: the last execution's schedule and, when tracing, its trace.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) steps: Vec<u32>,
    pub(crate) trace: Option<TraceLog>,
}

pub(super) struct Record {
    steps: Vec<u32>,
    choices: Vec<u64>,
    /// Sum over dependent operations of a hash of (object, position in the object's history,
    /// goroutine): equal for two executions exactly when every object saw the same goroutines in
    /// the same order (up to hash collisions). For checked memory the position is the writes each
    /// byte saw before (see `Shadow::access`), so reads between two writes commute.
    interleaving: u64,
    /// Per goroutine (and one slot for code outside any), how many objects it has created.
    created: Vec<u32>,
    /// Per primitive object, how many recorded operations it has seen: the next one's position.
    positions: FxHashMap<u64, u32>,
    /// The primitive operations recorded since the last step, with their hash terms: what a
    /// failed attempt retracts.
    since_step: SmallVec<[(u64, u64); 2]>,
    /// What a failed attempt since the last step left that others can observe (see [`retract`]).
    registered: SmallVec<[u64; 2]>,
    /// The attempt since the last step had an effect others observe beyond registrations: it
    /// stays an operation of its own even if it fails.
    observable: bool,
    /// The running goroutine's last operation turned out a failed attempt: the registrations it
    /// left.
    retracted: Option<SmallVec<[u64; 2]>>,
    expected: Option<Vec<u32>>,
    trace: Option<TraceLog>,
    /// shuttle: the task id of each goroutine. Not the goroutine's index: shuttle may switch
    /// inside `spawn` before it creates the task, so two goroutines spawned concurrently can get
    /// their tasks in the other order.
    tasks: Vec<usize>,
    /// What the running goroutine announced before its last switch: the object and whether it
    /// writes it, and the objects a `select` also touches.
    announced: (Option<u64>, bool),
    also: Vec<u64>,
    /// The values a select offers the scheduler's next choice (the indices of its ready cases).
    offer: Option<Vec<u64>>,
    /// Since the exploration began, some select had several ready cases and only one was tried.
    unexplored_choice: bool,
}

impl Record {
    pub(super) const fn new() -> Record {
        Record {
            steps: Vec::new(),
            choices: Vec::new(),
            interleaving: 0,
            created: Vec::new(),
            positions: FxHashMap::with_hasher(rustc_hash::FxBuildHasher),
            since_step: SmallVec::new_const(),
            registered: SmallVec::new_const(),
            observable: false,
            retracted: None,
            expected: None,
            trace: None,
            tasks: Vec::new(),
            announced: (None, false),
            also: Vec::new(),
            offer: None,
            unexplored_choice: false,
        }
    }

    fn depend(&mut self, object: u64, seq: u32, g: usize) -> u64 {
        let term = mix(mix(object) ^ (u64::from(seq) << 20) ^ g as u64);
        self.interleaving = self.interleaving.wrapping_add(term);
        term
    }

    /// Records goroutine `g`'s operation on primitive `object` at its next position.
    fn operate(&mut self, object: u64, g: usize) {
        let seq = self.next_position(object);
        let term = self.depend(object, seq, g);
        self.since_step.push((object, term));
    }

    /// The next position in the history of `stream` (a primitive, or a goroutine's selects).
    fn next_position(&mut self, stream: u64) -> u32 {
        let position = self.positions.entry(stream).or_insert(0);
        *position += 1;
        *position - 1
    }
}

fn with<R>(f: impl FnOnce(&mut Record) -> R) -> R {
    LOCAL.with(|l| f(&mut l.record.borrow_mut()))
}

/// Starts the record of a new execution (keeping what the run asked for).
pub(super) fn reset() {
    with(|l| {
        l.steps.clear();
        l.choices.clear();
        l.interleaving = 0;
        l.created.clear();
        l.positions.clear();
        l.since_step.clear();
        l.registered.clear();
        l.observable = false;
        l.retracted = None;
        l.tasks.clear();
        l.tasks.push(0);
        if let Some(t) = &mut l.trace {
            *t = TraceLog { watch: t.watch, ..TraceLog::default() };
        }
    });
}

/// Sets what a run asks of the record until the returned scope ends.
pub(crate) fn scoped(options: Options) -> Scope {
    with(|l| {
        l.expected = options.expected;
        l.trace = options.watch.map(|watch| TraceLog { watch, ..TraceLog::default() });
    });
    Scope(())
}

/// A run's requests of the record; they end with it, even when the run unwinds.
#[derive(Debug)]
pub(crate) struct Scope(());

impl Scope {
    /// Ends the scope and returns what the last execution recorded.
    pub(crate) fn finish(self) -> Recorded {
        with(|l| Recorded { steps: l.steps.clone(), trace: l.trace.take() })
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        with(|l| {
            l.expected = None;
            l.trace = None;
        });
    }
}

/// Notes that goroutine `g` made the `seq`-th dependent operation on object `object` (checked
/// memory, which counts its own positions).
pub(crate) fn depend(object: u64, seq: u32, g: usize) {
    with(|l| {
        l.depend(object, seq, g);
    });
}

/// Notes that goroutine `g` operates on primitive `object` without a scheduling point of its own
/// (a select's cases other than the last touched).
pub(crate) fn operate(object: u64, g: usize) {
    with(|l| l.operate(object, g));
}

/// A failed attempt (a poll that found it must wait) is about to park: it changed nothing another
/// goroutine's operation reads except the waiter registrations noted with [`registered_receiver`],
/// so its operations leave the interleaving hash, and the DPOR explorer is told that the
/// operation it scheduled only read its objects and wrote those registrations.
pub(crate) fn retract() {
    with(|l| {
        if l.observable {
            return;
        }
        for (object, term) in std::mem::take(&mut l.since_step) {
            l.interleaving = l.interleaving.wrapping_sub(term);
            if let Some(p) = l.positions.get_mut(&object) {
                *p -= 1;
            }
        }
        l.retracted = Some(std::mem::take(&mut l.registered));
    });
}

/// Notes that the running attempt has an effect others observe even if it fails (a WaitGroup's
/// first waiter writes the group; later waiters see it waiting): it is never retracted.
pub(crate) fn observable_attempt() {
    with(|l| l.observable = true);
}

/// Notes that the running attempt parked its goroutine as a receiver of unbuffered channel
/// `object`, which a select's send case on it observes (see [`receivers_label`]).
pub(crate) fn registered_receiver(object: u64) {
    with(|l| l.registered.push(receivers_label(object)));
}

/// The label, for the DPOR explorer, of an unbuffered channel's parked receivers: written by a
/// receive that parks, read by a select's send case (ready only while a receiver is parked).
pub(crate) fn receivers_label(object: u64) -> u64 {
    object ^ 0x7ece_1e55_0000_0000
}

/// When the running goroutine's last scheduled operation was a failed attempt: the registrations
/// it left.
pub(crate) fn take_retracted() -> Option<SmallVec<[u64; 2]>> {
    with(|l| l.retracted.take())
}

/// The execution's interleaving hash so far.
pub(crate) fn interleaving() -> u64 {
    with(|l| l.interleaving)
}

/// The steps and choices recorded so far: after a failure, the failing execution's schedule
/// (the next execution would reset it).
pub(crate) fn schedule() -> Schedule {
    with(|l| Schedule { steps: l.steps.clone(), choices: l.choices.clone() })
}

/// Records in the interleaving hash that goroutine `g`'s next select fired case `case`:
/// executions that differ only in a select's choice are different executions. Counted per
/// goroutine, so failed attempts (which also choose) leave no trace.
pub(crate) fn fired(case: usize, g: usize) {
    const FIRED: u64 = 0x5e1e_c7ca_5e00_0000;
    with(|l| {
        let stream = FIRED ^ g as u64;
        let seq = l.next_position(stream);
        l.depend(stream ^ ((case as u64 + 1) << 20), seq, g);
    });
}

/// Steps recorded so far.
pub(crate) fn len() -> usize {
    with(|l| l.steps.len())
}

/// The steps an exact replay expects, if the run replays exactly.
pub(crate) fn expected_len() -> Option<usize> {
    with(|l| l.expected.as_ref().map(Vec::len))
}

/// The goroutine an exact replay expects at the next step.
pub(crate) fn expected_next() -> Option<u32> {
    with(|l| l.expected.as_ref()?.get(l.steps.len()).copied())
}

/// A new object's identity for the interleaving hash and the DPOR explorer: its creator and how
/// many objects the creator made before it. Not a global creation number, which would tell apart
/// executions that only reorder two goroutines' independent creations.
pub(crate) fn new_object() -> u64 {
    let slot = super::goroutine_id().wrapping_add(1);
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
/// `object` is given, that it operates on that primitive. While replaying
/// exactly, a goroutine other than the schedule's fails the execution as a divergence.
pub(super) fn step(g: usize, op: &'static str, object: Option<u64>) {
    let diverged = with(|l| {
        let k = l.steps.len();
        l.steps.push(g as u32);
        l.since_step.clear();
        l.registered.clear();
        l.observable = false;
        if let Some(object) = object {
            l.operate(object, g);
        }
        if l.trace.is_none() && l.expected.is_none() {
            return None;
        }
        if let Some(t) = &mut l.trace {
            let frames = super::try_current().map(|e| e.frames(g)).unwrap_or_default();
            grow(&mut t.last_step, g)[g] = k;
            if op != "start" {
                t.saw_stack(g, &frames);
            }
            t.details.push(StepDetail { op, frame: frames.into_iter().next() });
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
        super::diverge(message);
    }
}

/// Records that goroutine `g` (just spawned) runs as shuttle task `task`.
pub(super) fn map_task(g: usize, task: usize) {
    with(|l| {
        if l.tasks.len() <= g {
            l.tasks.resize(g + 1, usize::MAX);
        }
        l.tasks[g] = task;
    });
}

/// The goroutine that shuttle task `task` runs (`None` for a task whose spawn has not returned).
pub(crate) fn goroutine_of_task(task: usize) -> Option<usize> {
    with(|l| l.tasks.iter().position(|&t| t == task))
}

/// Records the raw value behind a nondeterministic choice.
pub(super) fn choice(value: u64) {
    with(|l| l.choices.push(value));
}

/// Called by a goroutine right before a scheduling point: the operation it does when it resumes
/// touches object `label` (`None`: nothing another goroutine can observe), and writes it unless
/// it only loads.
pub(super) fn announce(label: Option<u64>, write: bool) {
    with(|l| l.announced = (label, write));
}

/// Called before the scheduling point of an operation on several objects (a `select` polls all
/// its channels after touching the last one's token): the announced operation also writes these.
pub(super) fn announce_also(objects: Vec<u64>) {
    with(|l| l.also = objects);
}

/// Takes what the running goroutine announced (for the DPOR explorer).
pub(crate) fn take_announced() -> Access {
    with(|l| {
        let (label, write) = std::mem::take(&mut l.announced);
        let mut labels: SmallVec<[u64; 2]> = label.into_iter().collect();
        let also = std::mem::take(&mut l.also);
        if label.is_some() {
            for o in also {
                if !labels.contains(&o) {
                    labels.push(o);
                }
            }
        }
        Access { labels, write }
    })
}

/// Whether a traced run watches any of the `size` bytes at `addr`.
pub(crate) fn watches(addr: u64, size: usize) -> bool {
    with(|l| l.trace.as_ref().is_some_and(|t| addr < t.watch.1 && t.watch.0 < addr + size as u64))
}

/// Records a checked-memory access of the watched range while tracing; `frame` names the
/// accessing function.
pub(crate) fn memory(g: usize, addr: u64, size: usize, write: bool, atomic: bool, frame: Option<String>) {
    with(|l| {
        if let Some(t) = l.trace.as_mut() {
            let (step, seq) = (t.last_step(g), t.event(g));
            t.mem.push(MemEvent { step, seq, goroutine: g as u32, addr, size, write, atomic, frame });
        }
    });
}

/// Notes, while tracing, a stack goroutine `g` had while doing something (`frames`, its model
/// frames innermost first): the first one names the goroutine.
pub(crate) fn saw_stack(g: usize, frames: &[String]) {
    with(|l| {
        if let Some(t) = l.trace.as_mut() {
            t.saw_stack(g, frames);
        }
    });
}

/// Whether the run traces (then the runtime reports synchronisations: [`released`], …).
pub(crate) fn tracing() -> bool {
    with(|l| l.trace.is_some())
}

/// Notes, while tracing, that goroutine `g` (with stack `frames`) released `clock`, its clock at
/// the release, whose own component names the release.
pub(crate) fn released(g: usize, clock: &VectorClock, frames: &[String]) {
    with(|l| {
        let Some(t) = l.trace.as_mut() else { return };
        t.saw_stack(g, frames);
        let (step, seq) = (t.last_step(g), t.event(g));
        t.releases.insert((g as u32, clock.get(g)), Release { step, seq, clock: clock.clone() });
    });
}

/// Notes, while tracing, that goroutine `g` (with stack `frames`, clock `mine`) acquires `sync`:
/// an edge from each release that `sync` holds and `g` had not seen, unless another of them
/// already carried it (the sender of a message forwarded, not every goroutine behind it). A
/// component that names no release is a finished goroutine's own time, which a join acquires: the
/// edge starts at its last step.
pub(crate) fn acquired(g: usize, mine: &VectorClock, sync: &VectorClock, frames: &[String]) {
    with(|l| {
        let Some(t) = l.trace.as_mut() else { return };
        let fresh: Vec<(usize, u32)> = sync.iter().filter(|&(h, e)| h != g && e > mine.get(h)).collect();
        if fresh.is_empty() {
            return;
        }
        t.saw_stack(g, frames);
        let to_seq = t.event(g);
        let to_step = t.last_step(g);
        let sources: Vec<(usize, u32, usize, u64, &VectorClock, EdgeKind)> = fresh
            .iter()
            .map(|&(h, e)| match t.releases.get(&(h as u32, e)) {
                Some(r) => (h, e, r.step, r.seq, &r.clock, EdgeKind::Sync),
                None => {
                    let last = t.last_seq.get(h).copied().unwrap_or(0);
                    (h, e, t.last_step(h), last, sync, EdgeKind::End)
                }
            })
            .collect();
        let direct: Vec<SyncEdge> = sources
            .iter()
            .filter(|&&(h, e, _, seq, _, _)| {
                !sources.iter().any(|&(k, _, _, kseq, clock, _)| k != h && kseq > seq && clock.get(h) >= e)
            })
            .map(|&(h, _, from_step, from_seq, _, kind)| SyncEdge {
                kind,
                from: h as u32,
                from_step,
                from_seq,
                to: g as u32,
                to_step: Some(to_step),
                to_seq,
            })
            .collect();
        t.edges.extend(direct);
    });
}

/// Notes, while tracing, that `parent` (with stack `frames`, clock `clock` before the `go`
/// statement) started `child`.
pub(crate) fn spawned(parent: usize, child: usize, clock: &VectorClock, frames: &[String]) {
    with(|l| {
        let Some(t) = l.trace.as_mut() else { return };
        t.saw_stack(parent, frames);
        grow(&mut t.created_by, child)[child] = frames.first().cloned();
        let (from_step, from_seq) = (t.last_step(parent), t.event(parent));
        t.releases.insert(
            (parent as u32, clock.get(parent)),
            Release { step: from_step, seq: from_seq, clock: clock.clone() },
        );
        let to_seq = t.event(child);
        t.edges.push(SyncEdge {
            kind: EdgeKind::Go,
            from: parent as u32,
            from_step,
            from_seq,
            to: child as u32,
            to_step: None,
            to_seq,
        });
    });
}

/// Offers the scheduler's next choice these values (a select's ready cases).
pub(super) fn offer_choice(values: Vec<u64>) {
    with(|l| l.offer = Some(values));
}

/// Takes the offered values (for the DPOR explorer, which branches over them).
pub(crate) fn take_offer() -> Option<Vec<u64>> {
    with(|l| l.offer.take())
}

/// Withdraws an offer nobody took; whether there was one.
pub(super) fn withdraw_offer() -> bool {
    with(|l| l.offer.take().is_some())
}

/// Notes that a select had several ready cases and only one was tried.
pub(super) fn unexplored_choice() {
    with(|l| l.unexplored_choice = true);
}

/// Whether a select choice was left unexplored since the last call (an exploration's start).
pub(crate) fn take_unexplored_choice() -> bool {
    with(|l| std::mem::take(&mut l.unexplored_choice))
}
