//! joinrace's own exhaustive explorer: a shuttle [`Scheduler`] doing dynamic partial-order
//! reduction with source sets (Abdulla et al., "Source sets", JACM 2017) and, unbounded, sleep
//! sets; optionally preemption-bounded.
//!
//! loom's DPOR keeps no sleep sets, so it runs many executions that only reorder independent
//! operations; unbounded, this explorer runs each interleaving about once.
//!
//! **Operations.** A goroutine runs one operation from each scheduling point to the next. Before
//! it switches it announces (`runtime::record`) what the operation touches: a Go primitive's object, or the 8-byte
//! word of checked memory an atomic accesses (a load only reads it), or, for a `select`, every
//! case's channel. Two operations depend on each other when they touch a common object and one
//! writes it. A wake-up, a goroutine's start, a spawn and a join touch nothing; they happen after
//! what enabled them (the operation after which the goroutine became runnable). Plain checked
//! memory is not an operation: the race detector checks it, and a race-free access is ordered by
//! the operations anyway.
//!
//! **Per execution:** replay the path to a node with a branch left, take that branch, then run
//! on, preferring the running goroutine (unbounded, after the start of each goroutine it spawns,
//! which touches nothing; when it cannot go on, one whose next step touches nothing) and never a
//! sleeping one. Each operation's direct predecessors on its objects (the last write, or for a
//! write the reads since) that no other path orders before it race with it;
//! the state before such a predecessor must also be explored starting with one of the
//! *initials* of the reversed order (the goroutines that can go first among the operations that
//! do not happen after the predecessor, then the racing operation), unless one of them is
//! explored, scheduled or asleep there. A sleep set holds the operations whose continuations are
//! all explored; they sleep until a dependent operation runs. When every runnable goroutine
//! sleeps, the rest of the execution is covered by another: it runs to its end without preemption
//! and adds nothing to the search.
//!
//! **Failed attempts.** An operation is recorded once it ran, at the next scheduling point: a
//! blocking operation that found it must wait and parked (`runtime::record::retract`) was a read
//! of its objects, so it races with the write that made it wait (and the explorer tries it first
//! too) but not with the writes after it, which would only reorder a wait with its end; and a
//! read of what it registered that others observe (an unbuffered channel's parked receivers,
//! which only a `select`'s send case, a write of them, observes: two goroutines parking in either
//! order leave the same). Unbounded, a failed attempt that registered nothing changed nothing but
//! parking its goroutine, so the state after it is the state before with one goroutine fewer: as
//! the branch's own decision it shows the goroutine cannot go first there (the reversal the
//! branch was for is impossible), and the execution runs on as a redundant one; past the branch,
//! the next decision stands in for the one it was made at (`Step::stand_in`): races ask for
//! branches there, and the goroutine taken next counts as explored there.
//!
//! **Select choices.** A `select` with several ready cases offers them (`next_u64`); each option
//! is a branch of its own, explored depth-first like a scheduling node's goroutines, between the
//! node whose step makes the choice and the next node. The options share the step's announced
//! operation, so its races and sleep set are those of the first option.
//!
//! **Under a preemption bound** a branch that would exceed it is never taken, and each race also
//! tries the racer at the last context switch before it (as loom does, after Coons et al.,
//! "Bounded partial-order reduction", OOPSLA 2013). Only the goroutine that ran into a decision
//! sleeps in its other branches: see `Tree::sleeps`.
//!
//! **The window and jobs.** The explored decisions form a tree (`tree.rs`); branches are taken
//! from it deepest first into a window of up to `window::WINDOW` not yet merged, run by one worker
//! or several, and merged back in the order taken, each merge topping the window up
//! (`window.rs`): the executions, their numbering and the first failure do not depend on the
//! number of workers. A worker ([`DporWorker`]) runs one execution at a time: it replays its
//! branch's path, runs on, and returns the decisions it made and what its races ask for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use smallvec::SmallVec;

use crate::runtime::clock::VectorClock as Clock;
use crate::runtime::record::{self, Access};

pub(crate) mod estimate;
mod tree;
mod window;

use tree::{Branch, Explored, Point, PointKind, Request, Step};
pub(crate) use window::Window;
pub use window::WINDOW;

/// An operation a goroutine is about to do: its task and what it touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Op {
    pub(super) task: usize,
    pub(super) access: Access,
}

impl Op {
    pub(super) fn depends_on(&self, other: &Op) -> bool {
        let (a, b) = (&self.access, &other.access);
        self.task == other.task || ((a.write || b.write) && a.labels.iter().any(|l| b.labels.contains(l)))
    }
}

pub(super) fn asleep(sleep: &[Op], task: usize) -> bool {
    sleep.iter().any(|s| s.task == task)
}

/// What an operation that announced `announced` did, now that it ran: the same, or, when it was
/// a failed attempt that parked (`retracted`: the registrations it left), a read of what it
/// announced and of those registrations (see `runtime::record::retract`).
pub(super) fn ran(announced: Access, retracted: Option<&[u64]>) -> Access {
    match retracted {
        None => announced,
        Some(registered) => {
            let mut labels = announced.labels;
            for &l in registered {
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            Access { labels, write: false }
        }
    }
}

/// An operation of the running execution, with its vector clock.
struct Event {
    task: usize,
    /// Happens-before.
    clock: Clock,
    /// Happens-before through program order and enabling only (its own index is `own[task]`).
    own: Clock,
}

impl Event {
    /// Whether the event happens before the point `clock` describes.
    fn precedes(&self, clock: &Clock) -> bool {
        clock.covers(self.task, self.own.get(self.task))
    }
}

/// Where a worker gets its branches and gives back what their executions found: the explorer's
/// [`Window`], or the estimator's probes.
pub(crate) trait Branches: Send + Sync {
    /// The next branch, its execution's index and the preemption bound; `None` when over.
    fn next(&self) -> Option<(u64, Option<usize>, Branch)>;
    /// The execution numbered `index` ended and found `explored`.
    fn finish(&self, index: u64, explored: Explored);
    /// The execution numbered `index` failed.
    fn fail(&self, index: u64);
}

/// A worker of the DPOR explorer: a shuttle [`Scheduler`] running the branches its source hands
/// it, one execution each (see the module documentation).
pub(crate) struct DporWorker {
    branches: Arc<dyn Branches>,
    /// The index of the execution running now, for the outcome and the per-execution log.
    index: Arc<AtomicU64>,
    run: Option<Run>,
    /// The last execution's path, whose start the next one shares (see `Run::new`).
    path: Path,
    /// The last execution's tables, emptied, for the next one to fill without growing them again.
    spare: Spare,
}

/// Per-execution tables kept from one execution to the next.
#[derive(Default)]
struct Spare {
    objects: Objects,
    events: Vec<Event>,
}

/// Per object, its last write and the reads since (events).
type Objects = rustc_hash::FxHashMap<u64, (Option<usize>, SmallVec<[usize; 4]>)>;

/// The decisions on a path: scheduling decisions and select choices, as the worker's own copies
/// of what replaying them needs. Points are shared with the tree and the other workers: holding
/// references to them would make the workers write one another's cache lines at every step.
#[derive(Default)]
struct Path {
    steps: Vec<StepCopy>,
    choices: Vec<ChoiceCopy>,
}

/// A scheduling decision on a path.
struct StepCopy {
    point: u64,
    chosen: usize,
    runnable: SmallVec<[usize; 8]>,
    /// Preemptions on the path after it.
    preemptions: usize,
    /// The point races ask for branches at instead (see `Step::stand_in`).
    stand_in: Option<u64>,
}

/// A select choice on a path.
struct ChoiceCopy {
    point: u64,
    chosen: u64,
    options: Vec<u64>,
}

impl StepCopy {
    /// The point a race before this decision asks for a branch at.
    fn target(&self) -> u64 {
        self.stand_in.unwrap_or(self.point)
    }

    fn of(point: &Point, chosen: usize) -> StepCopy {
        let step = point.step();
        StepCopy {
            point: point.id,
            chosen,
            runnable: step.runnable.iter().map(|o| o.task).collect(),
            preemptions: step.preemptions_after(chosen),
            stand_in: step.stand_in,
        }
    }
}

impl ChoiceCopy {
    fn of(point: &Point, chosen: u64) -> ChoiceCopy {
        let PointKind::Choice { options } = &point.kind else { unreachable!("a choice") };
        ChoiceCopy { point: point.id, chosen, options: options.clone() }
    }
}

/// The state of one execution.
struct Run {
    index: u64,
    bound: Option<usize>,
    branch: Branch,
    /// The path, replayed then made anew.
    path: Path,
    /// What the execution adds to the tree.
    explored: Explored,
    /// Per task, what it does next.
    next: Vec<Access>,
    /// Per task, its clock.
    clocks: Vec<Clock>,
    objects: Objects,
    events: Vec<Event>,
    runnable_before: SmallVec<[usize; 8]>,
    sleep: SmallVec<[Op; 4]>,
    /// Every runnable goroutine was asleep or over the bound: the rest is covered elsewhere.
    redundant: bool,
    /// Scheduling decisions and select choices made so far (a redundant execution makes none).
    decided: usize,
    made: usize,
    /// The goroutine scheduled at the last decision, and that decision's depth: its operation is
    /// recorded once the goroutine has run it and reached its next scheduling point, when it is
    /// known whether it was a failed attempt (see `runtime::record::retract`).
    pending: Option<(usize, usize)>,
    /// The point the next decision stands in for (`Step::stand_in`): set when the last decision,
    /// made anew past the branch, ran a failed attempt that changed nothing (no registrations).
    stands_for: Option<u64>,
    /// Unbounded, the goroutine that could go on when a step that touched nothing was taken
    /// instead (a start run at once, see `Run::pick`): the decisions after it return to it.
    return_to: Option<usize>,
}

impl DporWorker {
    /// A worker taking its branches from `branches`; it stores the index of each execution it starts
    /// in `index`.
    pub(crate) fn new(branches: Arc<dyn Branches>, index: Arc<AtomicU64>) -> DporWorker {
        DporWorker { branches, index, run: None, path: Path::default(), spare: Spare::default() }
    }
}

impl Drop for DporWorker {
    fn drop(&mut self) {
        // An execution that did not end through `new_execution` failed (its panic is unwinding).
        if let Some(run) = self.run.take() {
            self.branches.fail(run.index);
        }
    }
}

impl Path {
    /// Makes this path (the last execution's) the path of `branch`, keeping the start the two
    /// share (usually long).
    fn follow(&mut self, branch: &Branch) {
        let mut differ = Vec::new();
        let mut edge = branch.edge.as_deref();
        while let Some(e) = edge {
            let (p, chosen) = (&e.point, e.chosen);
            let same = match p.kind {
                PointKind::Step(_) => {
                    self.steps.get(p.steps_before).is_some_and(|s| s.point == p.id && s.chosen as u64 == chosen)
                }
                PointKind::Choice { .. } => {
                    self.choices.get(p.choices_before).is_some_and(|c| c.point == p.id && c.chosen == chosen)
                }
            };
            if same {
                break;
            }
            differ.push(e);
            edge = e.parent.as_deref();
        }
        // Everything up to the shared decision stays.
        let (steps, choices) = edge.map_or((0, 0), |e| match e.point.kind {
            PointKind::Step(_) => (e.point.steps_before + 1, e.point.choices_before),
            PointKind::Choice { .. } => (e.point.steps_before, e.point.choices_before + 1),
        });
        self.steps.truncate(steps);
        self.choices.truncate(choices);
        for e in differ.into_iter().rev() {
            match e.point.kind {
                PointKind::Step(_) => self.steps.push(StepCopy::of(&e.point, e.chosen as usize)),
                PointKind::Choice { .. } => self.choices.push(ChoiceCopy::of(&e.point, e.chosen)),
            }
        }
    }
}

impl Run {
    fn new(index: u64, bound: Option<usize>, branch: Branch, mut path: Path, spare: Spare) -> Run {
        path.follow(&branch);
        let Spare { mut objects, mut events } = spare;
        objects.clear();
        events.clear();
        Run {
            index,
            bound,
            branch,
            path,
            explored: Explored::default(),
            next: Vec::new(),
            clocks: Vec::new(),
            objects,
            events,
            runnable_before: SmallVec::new(),
            sleep: SmallVec::new(),
            redundant: false,
            decided: 0,
            made: 0,
            pending: None,
            stands_for: None,
            return_to: None,
        }
    }

    /// The goroutine a fresh step runs. Unbounded: a goroutine that was just spawned and has not
    /// started (its step touches nothing), else the goroutine that ran before such starts, else
    /// the current one if it may, else one whose next step touches nothing (it returns from
    /// parking), else the lowest-numbered one that is awake. Under a bound: the same without the
    /// first two (there a switch to a start and back would cost two preemptions).
    ///
    /// Any choice is complete; this one is a heuristic. A start touches nothing, so it commutes
    /// with every operation: run at once, then back to the spawner, the goroutine's first
    /// operation is announced at every decision after its spawn, where a branch that takes the
    /// goroutine runs that operation itself (one that fails there is cut short, see
    /// `complete_pending`). Measured unbounded: `race1-fixed` 253,122 → 238,372 executions,
    /// `race2-fixed` 7,060 → 3,399 (3.2 → 1.54 per interleaving), fewer on every small model of
    /// `harness/tests/dpor.rs` (`select_workers(2)` 48 → 28), the same interleavings. Picking a
    /// goroutine returning from parking first when switching, before that: `race1-fixed`
    /// unbounded 301,989 → 253,122, at bound 2 12,459 → 9,502, at bound 3 115,903 → 84,060;
    /// `race2-fixed` unbounded 11,108 → 7,060, at bound 2 1,720 → 1,136. Tried and not shipped:
    /// a goroutine returning from parking run at once too, then back (`race1-fixed` 269,444, and
    /// more on `select_workers(2)`); and the start run at once with the started goroutine kept on
    /// (115,106 and 3,528, but more on five small models, and a ping-pong through an unbuffered
    /// channel, `failed_polls_are_not_interleavings`, that grew with its length instead of
    /// staying at 2).
    fn pick(&self, step: &Step) -> Option<usize> {
        let awake = |t: usize| !asleep(&step.sleep, t) && step.within(self.bound, t);
        if self.bound.is_none() {
            let runnable = |t: usize| step.runnable.iter().any(|o| o.task == t);
            if let Some(t) = step.runnable.iter().map(|o| o.task).filter(|&t| self.unstarted(t) && awake(t)).min() {
                return Some(t);
            }
            if let Some(r) = self.return_to.filter(|&r| awake(r) && runnable(r)) {
                return Some(r);
            }
        }
        // Among the others, those that touch nothing first, then by number.
        let other = || {
            let others = step.runnable.iter().filter(|o| awake(o.task));
            others.min_by_key(|o| (!o.access.labels.is_empty(), o.task)).map(|o| o.task)
        };
        step.current.filter(|&c| awake(c)).or_else(other)
    }

    /// Whether goroutine `t` was spawned and has not run a step yet (its clock has no tick of its
    /// own, so it has announced nothing: its next step, the start, touches nothing).
    fn unstarted(&self, t: usize) -> bool {
        self.clocks[t].get(t) == 0
    }

    /// Records the operation scheduled at the last decision, now that it ran: what it announced,
    /// or, when it was a failed attempt that parked, a read of what it announced and of the
    /// registrations it left (see `runtime::record::retract`).
    ///
    /// Unbounded, a failed attempt that left no registration changed nothing but parking its
    /// goroutine. As the branch's own decision, the goroutine could not go first there, which is
    /// what the branch was for: the rest is covered by the point's other branches, and the
    /// execution runs on as a redundant one. Past the branch, the next decision stands in for this
    /// one (`Step::stand_in`). Not for the decision before when the same goroutine touched nothing
    /// there (it started, or returned from parking, then failed): the point's later branches sleep
    /// on that operation, which nothing wakes, and would never run the goroutine.
    fn complete_pending(&mut self) {
        if let Some((task, d)) = self.pending.take() {
            let retracted = record::take_retracted();
            let access = ran(self.next[task].clone(), retracted.as_deref());
            self.execute(task, d, access, retracted.as_deref());
            if !(retracted.is_some_and(|r| r.is_empty()) && self.bound.is_none()) {
                return;
            }
            if d > self.branch.first_new {
                self.stands_for = Some(self.path.steps[d].target());
            } else if d == self.branch.first_new && self.branch.edge.as_ref().is_some_and(|e| e.point.is_step()) {
                self.redundant = true;
            }
        }
    }

    /// Records that `task` ran the operation `access` at depth `d`, finds the races it completes,
    /// and updates the sleep set. A failed attempt (`failed`: the registrations it left) reads its
    /// objects: it races with the write that made it wait, so the explorer also tries it first,
    /// but later writes do not race with it, as they would only reorder a wait with its end. Its
    /// registrations are reads that stay, so a later write of them (a select's send case, ready
    /// only while a receiver is parked) races with them; two goroutines parking in either order
    /// leave the same.
    fn execute(&mut self, task: usize, d: usize, access: Access, failed: Option<&[u64]>) {
        let op = Op { task, access };
        let mut own = self.clocks[task].clone();
        own.tick(task);
        // The operations this one depends on directly: a write on the reads since the last write
        // (or on that write if none), a read on the last write.
        let mut preds: SmallVec<[usize; 4]> = SmallVec::new();
        for &label in &op.access.labels {
            let (last_write, reads) = self.objects.entry(label).or_default();
            // A failed attempt writes nothing (see `ran`); only its registrations stay as reads.
            let (writes, stays) = (op.access.write, failed.is_none_or(|r| r.contains(&label)));
            let before: SmallVec<[usize; 4]> = match (writes, reads.is_empty()) {
                (true, false) => reads.clone(),
                _ => last_write.iter().copied().collect(),
            };
            if writes {
                *last_write = Some(d);
                reads.clear();
            } else if stays {
                reads.push(d);
            }
            for i in before {
                if !preds.contains(&i) {
                    preds.push(i);
                }
            }
        }
        let events = &self.events;
        // The clock of this operation without its edge from `skip`.
        let without = |skip: Option<usize>| {
            let mut c = own.clone();
            for &i in preds.iter().filter(|&&i| Some(i) != skip) {
                c.join(&events[i].clock);
            }
            c
        };
        // A direct predecessor by another goroutine that nothing else orders before this operation
        // races with it: the two can be reordered. Races whose later operation is replayed were
        // handled when it first ran.
        let races: SmallVec<[(usize, Clock); 2]> = match d >= self.branch.first_new {
            true => preds
                .iter()
                .filter(|&&i| events[i].task != task)
                .map(|&i| (i, without(Some(i))))
                .filter(|(i, c)| !events[*i].precedes(c))
                .collect(),
            false => SmallVec::new(),
        };
        let clock = without(None);
        self.clocks[task] = clock.clone();
        self.sleep.retain(|s| !s.depends_on(&op));
        self.events.push(Event { task, clock, own });
        for (i, reversed) in races {
            self.backtrack(i, d, &reversed);
        }
    }

    /// Asks that the state before event `i` also be explored with event `j` (which races with
    /// it) reordered before it.
    fn backtrack(&mut self, i: usize, j: usize, reversed: &Clock) {
        let initials = self.initials(i, j, reversed);
        let racer = self.events[j].task;
        let steps = &self.path.steps;
        self.explored.requests.push(Request::Reverse { at: steps[i].target(), initials, racer });
        if self.bound.is_some() {
            // The bound makes otherwise independent orders differ in cost: also try the racer at
            // the last context switch before `i` (or the first step), as loom does.
            let c = (1..i).rev().find(|&c| steps[c].chosen != steps[c - 1].chosen).unwrap_or(0);
            self.explored.requests.push(Request::Add { at: steps[c].point, task: racer });
        }
    }

    /// The goroutines whose next operation can come first in the events that do not happen after
    /// event `i`, followed by event `j` with its edge from `i` removed (clock `reversed`).
    fn initials(&self, i: usize, j: usize, reversed: &Clock) -> SmallVec<[usize; 8]> {
        let events = &self.events;
        let first = &events[i];
        let after_first = |e: &Event| first.precedes(&e.clock);
        // The initials of the events that do not happen after `i`, then `j`: events with no
        // predecessor among them. An event that happens after some event of a task happens after
        // that task's first one, so checking each task's first event suffices.
        let mut firsts: SmallVec<[&Event; 8]> = SmallVec::new();
        let mut initials: SmallVec<[usize; 8]> = SmallVec::new();
        let between = events[i + 1..j].iter().filter(|e| !after_first(e)).map(|e| (e, &e.clock));
        // `j` without its edge from `i`, the order being reversed.
        for (e, clock) in between.chain(std::iter::once((&events[j], reversed))) {
            let preceded = firsts.iter().any(|f| f.precedes(clock));
            if !firsts.iter().any(|f| f.task == e.task) {
                firsts.push(e);
            }
            if !preceded && !initials.contains(&e.task) {
                initials.push(e.task);
            }
        }
        initials
    }
}

impl Scheduler for DporWorker {
    fn new_execution(&mut self) -> Option<Schedule> {
        if let Some(mut run) = self.run.take() {
            // The last operation of the previous execution.
            run.complete_pending();
            self.branches.finish(run.index, run.explored);
            self.path = run.path;
            self.spare = Spare { objects: run.objects, events: run.events };
        }
        let (index, bound, branch) = self.branches.next()?;
        self.index.store(index, Ordering::SeqCst);
        let (path, spare) = (std::mem::take(&mut self.path), std::mem::take(&mut self.spare));
        self.run = Some(Run::new(index, bound, branch, path, spare));
        record::take_announced();
        record::take_retracted();
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let run = self.run.as_mut().expect("an execution is running");
        let d = run.decided;
        let ids: SmallVec<[usize; 8]> = runnable.iter().map(|t| usize::from(t.id())).collect();
        let current = current.map(usize::from);
        let max = ids.iter().copied().chain(current).max().unwrap_or(0);
        if run.next.len() <= max {
            run.next.resize(max + 1, Access::default());
            run.clocks.resize(max + 1, Clock::default());
        }
        run.complete_pending();
        if let Some(c) = current {
            run.next[c] = record::take_announced();
        }
        // A goroutine that could not run before the last operation was enabled by it.
        if let Some(last) = run.events.last() {
            let clock = last.clock.clone();
            for &t in ids.iter().filter(|t| !run.runnable_before.contains(t)) {
                run.clocks[t].join(&clock);
            }
        }
        run.runnable_before = SmallVec::from_slice(&ids);
        let running_on = current.filter(|c| !is_yielding && ids.contains(c));
        if run.redundant {
            // Covered by another execution: finish without preempting.
            return Some(fallback(runnable, current, running_on));
        }
        // As under loom, a goroutine that yields runs again only when no other can: a spin loop
        // that yields then ends in every schedule.
        let mut ids = ids;
        if let Some(c) = current.filter(|_| is_yielding && ids.len() > 1) {
            ids.retain(|t| *t != c);
        }

        let chosen = if d < run.path.steps.len() {
            let step = &run.path.steps[d];
            let same = step.runnable.len() == ids.len() && step.runnable.iter().all(|t| ids.contains(t));
            assert!(
                same,
                "dpor: replaying step {d} found other runnable goroutines than before; the model is not deterministic"
            );
            let chosen = step.chosen;
            if run.branch.resume == Some(d) {
                run.sleep = run.branch.sleep.clone();
            }
            chosen
        } else {
            let preemptions = run.path.steps.last().map_or(0, |s| s.preemptions);
            // After a failed attempt that changed nothing, the decision it was made at.
            let stand_in = run.stands_for.take();
            let step = Step {
                runnable: ids.iter().map(|&t| Op { task: t, access: run.next[t].clone() }).collect(),
                current: running_on,
                preemptions,
                sleep: run.sleep.clone(),
                stand_in,
            };
            let Some(t) = run.pick(&step) else {
                // Covered by another execution: finish without preempting.
                run.redundant = true;
                return Some(fallback(runnable, current, running_on));
            };
            if let Some(at) = stand_in {
                run.explored.requests.push(Request::Cover { at, task: t });
            }
            let point = Point::new(d, run.made, PointKind::Step(step));
            run.path.steps.push(StepCopy::of(&point, t));
            run.explored.tail.push((Arc::new(point), t as u64));
            t
        };
        // Replayed or made anew: a step that touches nothing (a start run at once, see `Run::pick`)
        // taken while another goroutine could go on is a detour, which the next decisions end by
        // returning to that goroutine; a step that touches something ends it.
        if run.bound.is_none() {
            if run.next[chosen].labels.is_empty() {
                if let Some(c) = running_on.filter(|&c| c != chosen) {
                    run.return_to.get_or_insert(c);
                }
            } else {
                run.return_to = None;
            }
        }
        run.pending = Some((chosen, d));
        run.decided += 1;
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        let run = self.run.as_mut().expect("an execution is running");
        // Only a select with several ready cases offers a choice.
        let Some(options) = record::take_offer() else { return 0 };
        let k = run.made;
        run.made += 1;
        if let Some(c) = run.path.choices.get(k) {
            assert!(
                c.options == options,
                "dpor: replaying choice {k} found other ready select cases than before; the model is not deterministic"
            );
            return c.chosen;
        }
        if run.redundant {
            // Covered by another execution: no new branches.
            return options[0];
        }
        let first = options[0];
        let point = Point::new(run.decided, k, PointKind::Choice { options });
        run.path.choices.push(ChoiceCopy::of(&point, first));
        run.explored.tail.push((Arc::new(point), first));
        first
    }
}

/// The running goroutine if it can go on, else the next runnable one after it.
fn fallback(runnable: &[&Task], current: Option<usize>, running_on: Option<usize>) -> TaskId {
    let ids = || runnable.iter().map(|t| t.id());
    if let Some(c) = running_on {
        return TaskId::from(c);
    }
    let after = current.unwrap_or(0);
    ids().filter(|&t| usize::from(t) > after).min().or_else(|| ids().min()).expect("a runnable task")
}
