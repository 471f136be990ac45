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
//! **Per execution:** replay the path to the deepest node with a branch left, take that branch,
//! then run on, preferring the running goroutine and never a sleeping one. Each operation's direct
//! predecessors on its objects (the last write, or for a write the reads since) that no other path
//! orders before it race with it; the state before such a predecessor must also be explored
//! starting with one of the *initials* of the reversed order (the goroutines that can go first
//! among the operations that do not happen after the predecessor, then the racing operation),
//! unless one of them is explored, scheduled or asleep there. A sleep set holds the operations
//! whose continuations are all explored; they sleep until a dependent operation runs. When every
//! runnable goroutine sleeps, the rest of the execution is covered by another: it runs to its end
//! without preemption and adds nothing to the search.
//!
//! **Failed attempts.** An operation is recorded once it ran, at the next scheduling point: a
//! blocking operation that found it must wait and parked (`runtime::record::retract`) was a read
//! of its objects, so it races with the write that made it wait (and the explorer tries it first
//! too) but not with the writes after it, which would only reorder a wait with its end; and a
//! write of what it registered that others observe (an unbuffered channel's parked receivers).
//!
//! **Select choices.** A `select` with several ready cases offers them (`next_u64`); each option
//! is a branch of its own, explored depth-first like a scheduling node's goroutines, between the
//! node whose step makes the choice and the next node. The options share the step's announced
//! operation, so its races and sleep set are those of the first option.
//!
//! **Under a preemption bound** a branch that would exceed it is never taken, and each race also
//! tries the racer at the last context switch before it (as loom does, after Coons et al.,
//! "Bounded partial-order reduction", OOPSLA 2013). Sleep sets are off: see [`DporScheduler::sleep_sets`].

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use smallvec::SmallVec;

use crate::runtime::clock::VectorClock as Clock;
use crate::runtime::record::{self, Access};

/// An operation a goroutine is about to do: its task and what it touches.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Op {
    task: usize,
    access: Access,
}

impl Op {
    fn depends_on(&self, other: &Op) -> bool {
        let (a, b) = (&self.access, &other.access);
        self.task == other.task || ((a.write || b.write) && a.labels.iter().any(|l| b.labels.contains(l)))
    }
}

/// A scheduling decision on the current path.
#[derive(Debug)]
struct Node {
    /// The runnable goroutines and what each does next.
    runnable: SmallVec<[Op; 8]>,
    /// The goroutine that ran into this decision, if it could go on: running another preempts it.
    current: Option<usize>,
    /// Preemptions on the path before this node.
    preemptions: usize,
    /// The goroutine chosen on the current path.
    chosen: usize,
    /// Branches still to explore.
    todo: SmallVec<[usize; 2]>,
    /// Branches explored or being explored.
    done: SmallVec<[usize; 4]>,
    /// The sleep set on arriving here.
    sleep: SmallVec<[Op; 4]>,
}

impl Node {
    fn cost(&self, task: usize) -> usize {
        usize::from(self.current.is_some_and(|c| c != task))
    }

    fn op(&self, task: usize) -> Option<Op> {
        self.runnable.iter().find(|o| o.task == task).cloned()
    }

    /// Whether a branch starting with `task` is explored, scheduled or asleep here.
    fn covers(&self, task: usize) -> bool {
        self.done.contains(&task) || self.todo.contains(&task) || asleep(&self.sleep, task)
    }
}

fn asleep(sleep: &[Op], task: usize) -> bool {
    sleep.iter().any(|s| s.task == task)
}

/// A select's choice on the current path: the ready cases it offered (see
/// `runtime::backend::choose_case`). Every option is explored: Go picks uniformly among ready cases.
#[derive(Debug)]
struct ChoiceNode {
    /// Scheduling decisions made before it: it happens in the step node `at - 1` chose.
    at: usize,
    options: Vec<u64>,
    chosen: u64,
    /// Options still to explore.
    todo: Vec<u64>,
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

/// The DPOR explorer (see the module documentation).
pub(crate) struct DporScheduler {
    bound: Option<usize>,
    executions: u64,
    nodes: Vec<Node>,
    /// The select choices on the current path, in order.
    choices: Vec<ChoiceNode>,
    /// The first node this execution explores anew; nodes before it are replayed, and the races
    /// of their operations were handled when they first ran.
    branch: usize,
    /// The node whose sleep set is rebuilt as the execution replays it: the branch's node, or for
    /// a new choice, the node whose step makes it.
    resume: usize,
    run: Run,
}

/// The state of one execution.
#[derive(Default)]
struct Run {
    depth: usize,
    /// Per task, what it does next.
    next: Vec<Access>,
    /// Per task, its clock.
    clocks: Vec<Clock>,
    /// Per object, its last write and the reads since (events).
    objects: rustc_hash::FxHashMap<u64, (Option<usize>, SmallVec<[usize; 4]>)>,
    events: Vec<Event>,
    runnable_before: SmallVec<[usize; 8]>,
    sleep: SmallVec<[Op; 4]>,
    /// Every runnable goroutine was asleep or over the bound: the rest is covered elsewhere.
    redundant: bool,
    /// Select choices made so far.
    choices: usize,
    /// The goroutine scheduled at the last decision, and that decision's depth: its operation is
    /// recorded once the goroutine has run it and reached its next scheduling point, when it is
    /// known whether it was a failed attempt (see `runtime::record::retract`).
    pending: Option<(usize, usize)>,
}

impl DporScheduler {
    /// An explorer with at most `bound` preemptions per execution (`None`: unbounded).
    pub(crate) fn new(bound: Option<usize>) -> DporScheduler {
        DporScheduler {
            bound,
            executions: 0,
            nodes: Vec::new(),
            choices: Vec::new(),
            branch: 0,
            resume: 0,
            run: Run::default(),
        }
    }

    /// Sleep sets are sound only without a bound: the explored order of two independent
    /// operations may need more preemptions than the one a sleep set then skips (checked against a
    /// plain bounded search, which found interleavings that bounded search with sleep sets missed).
    fn sleep_sets(&self) -> bool {
        self.bound.is_none()
    }

    fn within_bound(&self, node: &Node, task: usize) -> bool {
        self.bound.is_none_or(|b| node.preemptions + node.cost(task) <= b)
    }

    /// Picks the deepest unexplored branch, a goroutine at a scheduling node or an option at a
    /// select choice; `false` when none is left. A choice made in the step of node `i` lies
    /// between node `i` and node `i + 1`.
    fn next_branch(&mut self) -> bool {
        loop {
            let node = self.nodes.len().checked_sub(1);
            let choice_deeper = match (node, self.choices.last()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(i), Some(c)) => c.at > i,
            };
            if choice_deeper {
                let c = self.choices.last_mut().expect("a choice");
                if let Some(option) = c.todo.pop() {
                    c.chosen = option;
                    (self.branch, self.resume) = (c.at, c.at.saturating_sub(1));
                    return true;
                }
                self.choices.pop();
            } else if let Some(node) = self.nodes.last_mut() {
                if let Some(task) = node.todo.pop() {
                    node.chosen = task;
                    node.done.push(task);
                    self.branch = self.nodes.len() - 1;
                    self.resume = self.branch;
                    return true;
                }
                self.nodes.pop();
            } else {
                return false;
            }
        }
    }

    /// The goroutine a fresh node runs: the current one if it may, else the lowest-numbered one
    /// that is awake and within the bound.
    fn pick(&self, node: &Node) -> Option<usize> {
        let awake = |t: usize| !asleep(&node.sleep, t) && self.within_bound(node, t);
        node.current.filter(|&c| awake(c)).or_else(|| node.runnable.iter().map(|o| o.task).filter(|&t| awake(t)).min())
    }

    /// Records the operation scheduled at the last decision, now that it ran: what it announced,
    /// or, when it was a failed attempt that parked, a read of what it announced plus a write of
    /// the registrations it left (see `runtime::record::retract`).
    fn complete_pending(&mut self) {
        if let Some((task, d)) = self.run.pending.take() {
            let announced = self.run.next[task].clone();
            match record::take_retracted() {
                None => self.execute(task, d, announced, None),
                Some(registered) => {
                    let mut labels = announced.labels;
                    for &l in &registered {
                        if !labels.contains(&l) {
                            labels.push(l);
                        }
                    }
                    let access = Access { labels, write: !registered.is_empty() };
                    self.execute(task, d, access, Some(&registered))
                }
            }
        }
    }

    /// Records that `task` ran the operation `access` at depth `d`, finds the races it completes,
    /// and updates the sleep set. A failed attempt (`failed`: the registrations it wrote) reads
    /// its other objects: it races with the write that made it wait, so the explorer also tries
    /// it first, but later writes do not race with it, as they would only reorder a wait with its
    /// end.
    fn execute(&mut self, task: usize, d: usize, access: Access, failed: Option<&[u64]>) {
        let run = &mut self.run;
        let op = Op { task, access };
        let mut own = run.clocks[task].clone();
        own.tick(task);
        // The operations this one depends on directly: a write on the reads since the last write
        // (or on that write if none), a read on the last write.
        let mut preds: SmallVec<[usize; 4]> = SmallVec::new();
        for &label in &op.access.labels {
            let (last_write, reads) = run.objects.entry(label).or_default();
            let writes = match failed {
                None => op.access.write,
                Some(registered) => registered.contains(&label),
            };
            let before: SmallVec<[usize; 4]> = match (writes, reads.is_empty()) {
                (true, false) => reads.clone(),
                _ => last_write.iter().copied().collect(),
            };
            if writes {
                *last_write = Some(d);
                reads.clear();
            } else if failed.is_none() {
                reads.push(d);
            }
            for i in before {
                if !preds.contains(&i) {
                    preds.push(i);
                }
            }
        }
        // The clock of this operation without its edge from `skip`.
        let without = |skip: Option<usize>| {
            let mut c = own.clone();
            for &i in preds.iter().filter(|&&i| Some(i) != skip) {
                c.join(&run.events[i].clock);
            }
            c
        };
        // A direct predecessor by another goroutine that nothing else orders before this operation
        // races with it: the two can be reordered.
        let races: SmallVec<[(usize, Clock); 2]> = preds
            .iter()
            .filter(|&&i| run.events[i].task != task)
            .map(|&i| (i, without(Some(i))))
            .filter(|(i, c)| !run.events[*i].precedes(c))
            .collect();
        let clock = without(None);
        run.clocks[task] = clock.clone();
        run.sleep.retain(|s| !s.depends_on(&op));
        run.events.push(Event { task, clock, own });
        // Races whose later operation was replayed were handled when it first ran.
        if d >= self.branch {
            for (i, reversed) in races {
                self.backtrack(i, d, &reversed);
            }
        }
    }

    /// Makes sure the state before event `i` is also explored with event `j` (which races with it)
    /// reordered before it.
    fn backtrack(&mut self, i: usize, j: usize, reversed: &Clock) {
        let initials = self.initials(i, j, reversed);
        let racer = self.run.events[j].task;
        if !initials.iter().any(|&t| self.nodes[i].covers(t)) {
            let pick = if initials.contains(&racer) { racer } else { initials[0] };
            self.add(i, pick);
        }
        if self.bound.is_some() {
            // The bound makes otherwise independent orders differ in cost: also try the racer at
            // the last context switch before `i` (or the first node), as loom does.
            let c = (1..i).rev().find(|&c| self.nodes[c].chosen != self.nodes[c - 1].chosen).unwrap_or(0);
            self.add(c, racer);
        }
    }

    /// The goroutines whose next operation can come first in the events that do not happen after
    /// event `i`, followed by event `j` with its edge from `i` removed (clock `reversed`).
    fn initials(&self, i: usize, j: usize, reversed: &Clock) -> SmallVec<[usize; 8]> {
        let events = &self.run.events;
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

    /// Schedules `task` as a branch of node `n` (every runnable goroutine, if it cannot run there).
    fn add(&mut self, n: usize, task: usize) {
        let node = &self.nodes[n];
        let tasks: SmallVec<[usize; 8]> = if node.op(task).is_some() {
            SmallVec::from_slice(&[task])
        } else {
            node.runnable.iter().map(|o| o.task).collect()
        };
        for t in tasks {
            let node = &self.nodes[n];
            if !node.covers(t) && self.within_bound(node, t) {
                self.nodes[n].todo.push(t);
            }
        }
    }
}

impl Scheduler for DporScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        // The last operation of the previous execution.
        self.complete_pending();
        if self.executions > 0 && !self.next_branch() {
            return None;
        }
        self.executions += 1;
        self.run = Run::default();
        record::take_announced();
        record::take_retracted();
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let d = self.run.depth;
        let ids: SmallVec<[usize; 8]> = runnable.iter().map(|t| usize::from(t.id())).collect();
        let current = current.map(usize::from);
        let max = ids.iter().copied().chain(current).max().unwrap_or(0);
        if self.run.next.len() <= max {
            self.run.next.resize(max + 1, Access::default());
            self.run.clocks.resize(max + 1, Clock::default());
        }
        self.complete_pending();
        if let Some(c) = current {
            self.run.next[c] = record::take_announced();
        }
        // A goroutine that could not run before the last operation was enabled by it.
        if let Some(last) = self.run.events.last() {
            let clock = last.clock.clone();
            for &t in ids.iter().filter(|t| !self.run.runnable_before.contains(t)) {
                self.run.clocks[t].join(&clock);
            }
        }
        self.run.runnable_before = ids.clone();
        let running_on = current.filter(|c| !is_yielding && ids.contains(c));
        if self.run.redundant {
            // Covered by another execution: finish without preempting.
            return Some(fallback(runnable, current, running_on));
        }
        // As under loom, a goroutine that yields runs again only when no other can: a spin loop
        // that yields then ends in every schedule.
        let mut ids = ids;
        if let Some(c) = current.filter(|_| is_yielding && ids.len() > 1) {
            ids.retain(|t| *t != c);
        }

        let chosen = if d < self.nodes.len() {
            let node = &self.nodes[d];
            let same = node.runnable.len() == ids.len() && node.runnable.iter().all(|o| ids.contains(&o.task));
            assert!(
                same,
                "dpor: replaying step {d} found other runnable goroutines than before; the model is not deterministic"
            );
            if d == self.resume && self.sleep_sets() {
                // The branch starts with the node's earlier branches asleep.
                let earlier = node.done.iter().filter(|&&t| t != node.chosen).filter_map(|&t| node.op(t));
                self.run.sleep = node.sleep.iter().cloned().chain(earlier).collect();
            }
            node.chosen
        } else {
            let preemptions = self.nodes.last().map_or(0, |p| p.preemptions + p.cost(p.chosen));
            let node = Node {
                runnable: ids.iter().map(|&t| Op { task: t, access: self.run.next[t].clone() }).collect(),
                current: running_on,
                preemptions,
                chosen: usize::MAX,
                todo: SmallVec::new(),
                done: SmallVec::new(),
                sleep: self.run.sleep.clone(),
            };
            let Some(t) = self.pick(&node) else {
                // Covered by another execution: finish without preempting.
                self.run.redundant = true;
                return Some(fallback(runnable, current, running_on));
            };
            self.nodes.push(Node { chosen: t, done: SmallVec::from_slice(&[t]), ..node });
            t
        };
        self.run.pending = Some((chosen, d));
        self.run.depth += 1;
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        // Only a select with several ready cases offers a choice.
        let Some(options) = record::take_offer() else { return 0 };
        let k = self.run.choices;
        self.run.choices += 1;
        if let Some(c) = self.choices.get(k) {
            assert!(
                c.options == options,
                "dpor: replaying choice {k} found other ready select cases than before; the model is not deterministic"
            );
            return c.chosen;
        }
        if self.run.redundant {
            // Covered by another execution: no new branches.
            return options[0];
        }
        let mut todo = options[1..].to_vec();
        todo.reverse();
        self.choices.push(ChoiceNode { at: self.run.depth, chosen: options[0], options, todo });
        self.choices[k].chosen
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
