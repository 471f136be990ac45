//! The DPOR explorer's tree: the decision points executions reached, the branches taken and still
//! to take at each, and the order in which they are taken (deepest first, the latest added first
//! among equals). A point lives while a branch below it is to be explored or is being explored.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::Op;

/// Numbers points, so that the tree can find a point an execution names: each thread takes a
/// block of numbers at a time, so that workers do not contend for one counter.
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(0);
const BLOCK: u64 = 1 << 12;

thread_local! {
    static NEXT_POINT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

fn point_id() -> u64 {
    NEXT_POINT.with(|c| {
        let (mut next, mut end) = c.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) * BLOCK;
            end = next + BLOCK;
        }
        c.set((next + 1, end));
        next
    })
}

/// A decision an execution reached; what it offered never changes.
#[derive(Debug)]
pub(super) struct Point {
    pub(super) id: u64,
    /// Scheduling decisions and select choices before it on its path.
    pub(super) steps_before: usize,
    pub(super) choices_before: usize,
    pub(super) kind: PointKind,
}

// Each point is allocated on its own (in an `Arc`) and choices are rare: boxing the step would
// cost an allocation per scheduling decision to save bytes on a few choices.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum PointKind {
    /// Which goroutine runs next.
    Step(Step),
    /// Which ready case a select takes; it happens in the step of the scheduling decision before
    /// it.
    Choice { options: Vec<u64> },
}

/// A scheduling decision.
#[derive(Debug)]
pub(super) struct Step {
    /// The runnable goroutines and what each does next.
    pub(super) runnable: SmallVec<[Op; 8]>,
    /// The goroutine that ran into this decision, if it could go on: running another preempts it.
    pub(super) current: Option<usize>,
    /// Preemptions on the path before this decision.
    pub(super) preemptions: usize,
    /// The sleep set on arriving here.
    pub(super) sleep: SmallVec<[Op; 4]>,
    /// The decision this one stands for, when the operations since it were failed attempts that
    /// changed nothing (unbounded only): the state here is the state there with those goroutines
    /// parked, so races ask for branches there, and the goroutine taken here counts as explored
    /// there (see `Request::Cover`).
    pub(super) stand_in: Option<u64>,
}

impl Point {
    pub(super) fn new(steps_before: usize, choices_before: usize, kind: PointKind) -> Point {
        Point { id: point_id(), steps_before, choices_before, kind }
    }

    /// Decisions of both kinds before it: its depth in the tree.
    pub(super) fn depth(&self) -> usize {
        self.steps_before + self.choices_before
    }

    pub(super) fn is_step(&self) -> bool {
        matches!(self.kind, PointKind::Step(_))
    }

    pub(super) fn step(&self) -> &Step {
        match &self.kind {
            PointKind::Step(s) => s,
            PointKind::Choice { .. } => unreachable!("a scheduling decision"),
        }
    }
}

impl Step {
    fn cost(&self, task: usize) -> usize {
        usize::from(self.current.is_some_and(|c| c != task))
    }

    /// Preemptions on the path after this decision runs `task`.
    pub(super) fn preemptions_after(&self, task: usize) -> usize {
        self.preemptions + self.cost(task)
    }

    pub(super) fn within(&self, bound: Option<usize>, task: usize) -> bool {
        bound.is_none_or(|b| self.preemptions_after(task) <= b)
    }

    pub(super) fn op(&self, task: usize) -> Option<&Op> {
        self.runnable.iter().find(|o| o.task == task)
    }
}

/// A decision taken on a path, and the path before it.
#[derive(Debug)]
pub(super) struct Edge {
    pub(super) point: Arc<Point>,
    /// The goroutine (a step) or the case (a choice) taken.
    pub(super) chosen: u64,
    pub(super) parent: Option<Arc<Edge>>,
}

/// A branch to explore: a path to replay, ending in the decision that differs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Branch {
    /// The last decision of the path (`None`: a round's first execution).
    pub(super) edge: Option<Arc<Edge>>,
    /// The first scheduling decision explored anew: the races of earlier operations were handled
    /// when they first ran.
    pub(super) first_new: usize,
    /// The scheduling decision where the sleep set starts (`sleep`): the branch's own, or for a
    /// select choice the step that makes it.
    pub(super) resume: Option<usize>,
    pub(super) sleep: SmallVec<[Op; 4]>,
}

/// What an execution adds to the tree: the decisions it made past its branch, and what its races
/// ask for, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Explored {
    pub(super) tail: Vec<(Arc<Point>, u64)>,
    pub(super) requests: Vec<Request>,
}

impl Explored {
    /// Drops the decisions below the last one with a branch to take or that a race names: a tree
    /// with partial-order reduction that keeps nothing explored would prune them as soon as it
    /// added them. Done by the worker, before the explorer's lock.
    pub(super) fn trim(&mut self) {
        let requests = &self.requests;
        let named = |p: &Point| {
            requests.iter().any(|r| match r {
                Request::Reverse { at, .. } | Request::Add { at, .. } | Request::Cover { at, .. } => *at == p.id,
            })
        };
        let more = |p: &Point| matches!(&p.kind, PointKind::Choice { options } if options.len() > 1);
        let needed = self.tail.iter().rposition(|(p, _)| more(p) || named(p));
        self.tail.truncate(needed.map_or(0, |i| i + 1));
    }
}

/// What a race asks of a decision on the path.
#[derive(Debug)]
pub(super) enum Request {
    /// Explore the state before point `at` also starting with one of `initials`, unless one of
    /// them is explored, scheduled or asleep there; `racer` is preferred.
    Reverse { at: u64, initials: SmallVec<[usize; 8]>, racer: usize },
    /// Explore `task` at point `at` (every runnable goroutine, if it cannot run there).
    Add { at: u64, task: usize },
    /// `task` is explored at point `at`: a decision standing in for `at` took it (see
    /// `Step::stand_in`).
    Cover { at: u64, task: usize },
}

/// A point with branches to explore or being explored.
#[derive(Debug)]
struct Entry {
    point: Arc<Point>,
    /// The path to it.
    prefix: Option<Arc<Edge>>,
    parent: Option<u64>,
    /// Branches still to explore.
    todo: SmallVec<[u64; 2]>,
    /// Branches explored or being explored.
    done: SmallVec<[u64; 4]>,
    /// Goroutines explored through a decision standing in for this one (`Step::stand_in`): not
    /// branches of this point, but explored here as far as races and sleep sets go.
    covered: SmallVec<[usize; 2]>,
    /// Live points right below it, and branches of it being explored.
    alive: usize,
    /// The decisions that lead to it from the top, hashed (see [`Tree::key`]).
    key: u64,
}

/// The key of the point after taking `chosen` at the point keyed `parent`.
fn path_key(parent: u64, chosen: u64) -> u64 {
    crate::explore::split::execution_seed(parent ^ 0x9e37_79b9_7f4a_7c15, chosen)
}

impl Entry {
    /// The branches taken or to take.
    fn branches(&self) -> usize {
        self.done.len() + self.todo.len()
    }

    /// Whether a branch starting with `task` is explored, scheduled or asleep here.
    fn covers(&self, task: usize) -> bool {
        let t = task as u64;
        self.done.contains(&t)
            || self.todo.contains(&t)
            || self.covered.contains(&task)
            || self.point.step().sleep.iter().any(|s| s.task == task)
    }
}

/// The tree of one round (one preemption bound).
pub(super) struct Tree {
    bound: Option<usize>,
    /// Partial-order reduction on; off, every schedule within the bound is a branch.
    reduction: bool,
    /// Keep points with nothing left to explore (the estimator walks the tree after merging).
    keep: bool,
    /// The round's first execution is still to run.
    first: bool,
    entries: FxHashMap<u64, Entry>,
    /// Branches to take: (depth, order added, point, branch).
    heap: BinaryHeap<(usize, u64, u64, u64)>,
    added: u64,
}

impl Tree {
    pub(super) fn new(bound: Option<usize>, reduction: bool) -> Tree {
        let (entries, heap) = (FxHashMap::default(), BinaryHeap::new());
        Tree { bound, reduction, keep: false, first: true, entries, heap, added: 0 }
    }

    /// The tree of the round after this one, at preemption bound `bound`.
    pub(super) fn next_round(&self, bound: Option<usize>) -> Tree {
        Tree::new(bound, self.reduction)
    }

    /// An unbounded tree that keeps every point, for the estimator's walks.
    pub(super) fn kept() -> Tree {
        Tree { keep: true, ..Tree::new(None, true) }
    }

    /// The branches of point `id` taken or to take.
    pub(super) fn children(&self, id: u64) -> usize {
        self.entries[&id].branches()
    }

    /// The decisions that lead to point `id` from the top, hashed: points of different trees of
    /// one model with the same key are the same decision, at the same state.
    pub(super) fn key(&self, id: u64) -> u64 {
        self.entries[&id].key
    }

    /// The branches of every scheduling decision with more than one, by key.
    pub(super) fn branching(&self) -> impl Iterator<Item = (u64, impl Iterator<Item = u64> + '_)> + '_ {
        let steps = self.entries.values().filter(|e| e.point.is_step() && e.branches() > 1);
        steps.map(|e| (e.key, e.done.iter().chain(&e.todo).copied()))
    }

    /// Offers scheduling decision `id` the branches `values` found at the same decision elsewhere
    /// (`Tree::branching`): those not explored, scheduled or asleep here become branches to do.
    pub(super) fn offer(&mut self, id: u64, values: &[u64]) {
        for &v in values {
            self.add(id, v as usize);
        }
    }

    /// Takes branch `i` of point `id`, counting the branches taken first (those done, then those to
    /// do, the latest added first) as explored before it.
    pub(super) fn take_nth(&mut self, id: u64, i: usize) -> Branch {
        let e = self.entries.get_mut(&id).expect("the point lives");
        let mut todo: SmallVec<[u64; 4]> = e.todo.iter().rev().copied().collect();
        let before = i - e.done.len();
        e.done.extend(todo.drain(..before));
        let value = todo.remove(0);
        e.todo.retain(|v| *v != value && !e.done.contains(v));
        e.todo.push(value);
        self.take_value(id, value)
    }

    pub(super) fn bound(&self) -> Option<usize> {
        self.bound
    }

    /// Branches waiting to be taken.
    pub(super) fn pending(&self) -> usize {
        self.heap.len() + usize::from(self.first)
    }

    /// Whether a branch of `at` starts with its earlier branch `task` asleep.
    ///
    /// Unbounded, every earlier branch sleeps. Under a preemption bound only the goroutine that ran
    /// into `at` (running it costs no preemption) may: an execution that preempts it for `u` and
    /// runs its operation `t` later, every operation between independent of `t`, has an equivalent
    /// with `t` moved first whose preemptions are no more (the preemption for `u` becomes at most
    /// the one from `t` to `u`, and taking `t` out of the middle adds none), so it is within the
    /// bound in `t`'s branch. For another goroutine the equivalent can cost one preemption more
    /// than the execution and fall outside the bound: a plain bounded search found interleavings
    /// that bounded search with every earlier branch asleep missed (`harness/tests/dpor.rs`).
    fn sleeps(&self, at: &Step, task: usize) -> bool {
        self.reduction && (self.bound.is_none() || at.current == Some(task))
    }

    /// Takes the deepest branch left (the latest added among equals).
    pub(super) fn take(&mut self) -> Option<Branch> {
        if std::mem::take(&mut self.first) {
            return Some(Branch::default());
        }
        let (_, _, id, value) = self.heap.pop()?;
        Some(self.take_value(id, value))
    }

    /// Takes branch `value` of point `id`, one of those to do.
    fn take_value(&mut self, id: u64, value: u64) -> Branch {
        let e = self.entries.get_mut(&id).expect("a point with a branch to take lives");
        let k = e.todo.iter().position(|&v| v == value).expect("the branch is to do");
        e.todo.remove(k);
        e.done.push(value);
        e.alive += 1;
        let edge = Some(Arc::new(Edge { point: e.point.clone(), chosen: value, parent: e.prefix.clone() }));
        let first_new = e.point.steps_before;
        let resume = match &e.point.kind {
            PointKind::Step(_) => Some((e.point.clone(), value)),
            PointKind::Choice { .. } => {
                // The step that makes the choice: the nearest step on the path before it.
                let mut p = e.prefix.as_deref();
                while let Some(x) = p.filter(|x| matches!(x.point.kind, PointKind::Choice { .. })) {
                    p = x.parent.as_deref();
                }
                p.map(|x| (x.point.clone(), x.chosen))
            }
        };
        let Some((at, chosen)) = resume else { return Branch { edge, first_new, ..Branch::default() } };
        let step = at.step();
        // The branch starts with the point's earlier branches asleep, those that may sleep.
        let entry = &self.entries[&at.id];
        let explored = entry.done.iter().map(|&t| t as usize).chain(entry.covered.iter().copied());
        let earlier = explored.filter(|&t| t as u64 != chosen && self.sleeps(step, t));
        let sleep = step.sleep.iter().cloned().chain(earlier.filter_map(|t| step.op(t)).cloned()).collect();
        Branch { edge, first_new, resume: Some(at.steps_before), sleep }
    }

    /// Adds what the execution of `branch` found (trimmed or not: see [`Explored::trim`]).
    pub(super) fn merge(&mut self, branch: &Branch, explored: Explored) {
        let mut parent = branch.edge.as_ref().map(|e| e.point.id);
        let mut prefix = branch.edge.clone();
        for (point, chosen) in explored.tail {
            if let Some(p) = parent {
                self.entries.get_mut(&p).expect("the path lives").alive += 1;
            }
            let id = point.id;
            let options = match &point.kind {
                PointKind::Choice { options, .. } => options[1..].to_vec(),
                // Without reduction, every other goroutine within the bound.
                PointKind::Step(step) if !self.reduction => {
                    let others = step.runnable.iter().map(|o| o.task).filter(|&t| t as u64 != chosen);
                    others.filter(|&t| step.within(self.bound, t)).map(|t| t as u64).collect()
                }
                PointKind::Step(_) => Vec::new(),
            };
            // The path from the top, hashed: the same decisions lead to the same state.
            let key = prefix.as_ref().map_or(0, |e| path_key(self.entries[&e.point.id].key, e.chosen));
            let entry = Entry {
                point: point.clone(),
                prefix: prefix.clone(),
                parent,
                key,
                todo: SmallVec::new(),
                done: SmallVec::from_slice(&[chosen]),
                covered: SmallVec::new(),
                alive: 0,
            };
            self.entries.insert(id, entry);
            // A select's other ready cases (or goroutines), the second first.
            for option in options.into_iter().rev() {
                self.push(id, option);
            }
            prefix = Some(Arc::new(Edge { point, chosen, parent: prefix }));
            parent = Some(id);
        }
        self.finish(branch);
        let requests = if self.reduction { explored.requests } else { Vec::new() };
        for request in requests {
            match request {
                Request::Reverse { at, initials, racer } => {
                    if !initials.iter().any(|&t| self.entries[&at].covers(t)) {
                        let pick = if initials.contains(&racer) { racer } else { initials[0] };
                        self.add(at, pick);
                    }
                }
                Request::Add { at, task } => self.add(at, task),
                Request::Cover { at, task } => {
                    let e = self.entries.get_mut(&at).expect("a point a request names lives");
                    if !e.covers(task) {
                        e.covered.push(task);
                    }
                }
            }
        }
        self.prune(parent);
    }

    /// Ends `branch` without exploring it here: another shard explores it.
    pub(super) fn skip(&mut self, branch: &Branch) {
        self.finish(branch);
        self.prune(branch.edge.as_ref().map(|e| e.point.id));
    }

    fn finish(&mut self, branch: &Branch) {
        if let Some(e) = &branch.edge {
            self.entries.get_mut(&e.point.id).expect("the path lives").alive -= 1;
        }
    }

    /// Drops the points from `id` up that have nothing left to explore.
    fn prune(&mut self, mut id: Option<u64>) {
        while let Some(i) = id.filter(|_| !self.keep) {
            let e = &self.entries[&i];
            if !e.todo.is_empty() || e.alive > 0 {
                break;
            }
            id = e.parent;
            self.entries.remove(&i);
            if let Some(p) = id {
                self.entries.get_mut(&p).expect("a parent lives while a child does").alive -= 1;
            }
        }
    }

    /// Schedules `task` as a branch of point `id` (every runnable goroutine, if it cannot run
    /// there), unless it is covered or over the bound.
    fn add(&mut self, id: u64, task: usize) {
        let step = self.entries[&id].point.clone();
        let step = step.step();
        let tasks: SmallVec<[usize; 8]> = match step.op(task) {
            Some(_) => SmallVec::from_slice(&[task]),
            None => step.runnable.iter().map(|o| o.task).collect(),
        };
        for t in tasks {
            if !self.entries[&id].covers(t) && step.within(self.bound, t) {
                self.push(id, t as u64);
            }
        }
    }

    fn push(&mut self, id: u64, value: u64) {
        let e = self.entries.get_mut(&id).expect("the point lives");
        e.todo.push(value);
        self.added += 1;
        self.heap.push((e.point.depth(), self.added, id, value));
    }
}
