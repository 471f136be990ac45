//! Exploration: run a model closure under a strategy, get an [`Outcome`] back.
//!
//! Each execution gets a fresh execution (`runtime::Execution`) whose main goroutine is the closure.
//! A failure (a data race, a panic or failed assertion, a deadlock) ends the exploration and is
//! returned as a value; it never aborts the test process.

mod dpor;
mod hook;
mod pct;
pub(crate) mod replay;
mod split;
mod strategy;

use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashSet;

use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

pub use dpor::estimate::{Interval, Probing, SpaceEstimate};
pub use dpor::WINDOW as DPOR_WINDOW;
pub use split::{explore_jobs, Shard};
pub use strategy::{Kind, Progress, Strategy};

use crate::report::{FailureKind, RaceReport, RecoveredPanic};
use crate::runtime::backend::SHUTTLE_STACK_SIZE;
use crate::runtime::record::{self, Recorded};
use crate::runtime::{self, is_deadlock, Execution};
use crate::schedule::Schedule;
use replay::{Decision, Plan, ReplayScheduler};

/// loom's per-execution branch limit; its default (1,000) is too small for executor models.
const LOOM_MAX_BRANCHES: usize = 100_000;

/// A failed execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The 1-based index of the failing execution within the exploration.
    pub execution: u64,
    /// What went wrong.
    pub kind: FailureKind,
    /// The schedule of the failing execution (loom and shuttle; `None` under std), which
    /// [`Strategy::replay`] runs again.
    pub schedule: Option<Schedule>,
}

/// What an exploration found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The strategy that ran.
    pub strategy: Strategy,
    /// Executions run, the failing one included.
    pub executions: u64,
    /// Wall time of the whole exploration.
    pub elapsed: Duration,
    /// Whether the search covered every schedule and every select choice it promises to (loom and
    /// DPOR up to their preemption bound, shuttle DFS without a cap) and found no failure.
    pub exhaustive: bool,
    /// The search covered every schedule, as `exhaustive` would say, but a `select` had several
    /// ready cases and only the first was tried (loom cannot branch on data; shuttle's DFS does
    /// not): the outcome is then not exhaustive.
    pub first_ready_case_only: bool,
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// How many distinct interleavings the executions covered: executions that differ in the
    /// order in which goroutines touched some primitive or checked memory word (`None` under std).
    pub distinct: Option<u64>,
    /// loom and DPOR: the preemption bound of the last (or failing) round of an iterative search.
    pub bound: Option<usize>,
    /// Why the strategy ran less than it was asked to (no execution at all; PCT refusing a model
    /// with no concurrency): such an outcome is never a clean pass.
    pub incomplete: Option<String>,
    /// The panics `go::recover` caught, distinct by message and location, over every execution.
    pub recovered: Vec<RecoveredPanic>,
}

impl Outcome {
    /// The data race found, if the failure is one.
    pub fn race(&self) -> Option<&RaceReport> {
        self.failure.as_ref().and_then(|f| f.kind.race())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match (self.exhaustive, self.first_ready_case_only) {
            (true, _) => ", exhaustive",
            (false, true) => ", exhaustive over schedules, first ready select case only",
            (false, false) => "",
        };
        match &self.failure {
            None if self.incomplete.is_some() => write!(
                f,
                "{}: incomplete, {} executions in {:.2?}: {}",
                self.strategy,
                self.executions,
                self.elapsed,
                self.incomplete.as_deref().unwrap_or_default()
            )?,
            None => {
                write!(f, "{}: pass, {} executions{scope} in {:.2?}", self.strategy, self.executions, self.elapsed)?
            }
            Some(fail) => {
                write!(
                    f,
                    "{}: {} in execution {} of {}",
                    self.strategy,
                    fail.kind.name(),
                    fail.execution,
                    self.executions
                )?;
                if let Some(b) = self.bound {
                    write!(f, " at preemption bound {b}")?;
                }
                write!(f, " ({:.2?})\n{}", self.elapsed, fail.kind)?;
            }
        }
        for p in &self.recovered {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

/// Explores `model` under `strategy` and returns what it found. `model` is the main goroutine of
/// every execution; it builds its own primitives and checked memory, and spawns with [`crate::go::go`].
pub fn explore<F>(strategy: &Strategy, model: F) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    explore_logged(strategy, model).0
}

/// Which execution of a random, PCT or DPOR exploration runs (its index in the whole, shards and
/// jobs aside), where a random or PCT one stops, each ended execution's `(index, interleaving
/// hash)`, the DPOR explorer the jobs share, and PCT's horizon once measured (`explore/pct.rs`).
pub(crate) struct Indexing {
    current: Arc<AtomicU64>,
    stop_at: Arc<AtomicU64>,
    log: split::Log,
    window: Option<Arc<dpor::Window>>,
    horizon: Arc<std::sync::OnceLock<usize>>,
}

/// [`explore`], also returning `(index, interleaving hash)` of every execution of a random, PCT
/// or DPOR exploration that ended (empty for other strategies): what shards are checked by, since
/// shards that cover one run must cover the same interleavings.
pub fn explore_logged<F>(strategy: &Strategy, model: F) -> (Outcome, Vec<(u64, u64)>)
where
    F: Fn() + Send + Sync + 'static,
{
    explore_indexed(strategy, model, Indexing::new(Arc::new(AtomicU64::new(u64::MAX)), None))
}

/// [`explore_logged`] with `indexing`: random executions from its `stop_at` on are not started,
/// and DPOR runs as a worker of its explorer when it has one.
pub(crate) fn explore_indexed<F>(strategy: &Strategy, model: F, indexing: Indexing) -> (Outcome, Vec<(u64, u64)>)
where
    F: Fn() + Send + Sync + 'static,
{
    let bound = Cell::new(None);
    let progress = strategy.progress().cloned().unwrap_or_default();
    let indexed = matches!(strategy.kind(), Kind::Random { .. } | Kind::Pct { .. } | Kind::Dpor { .. });
    let mut outcome = explore_with(strategy, &progress, indexed.then_some(&indexing), model, |body, executions| {
        let set_bound = |b: Option<usize>| {
            bound.set(b);
            progress.counters().bound.store(b.map_or(0, |b| b as u64 + 1), Ordering::Relaxed);
        };
        run(strategy, body, &set_bound, executions, &indexing)
    });
    outcome.bound = bound.get();
    let log = std::mem::take(&mut *indexing.log.lock());
    (outcome, log)
}

/// Estimates how many executions unbounded DPOR runs on `model`, from random walks down the
/// explorer's tree, as many as `probing` says, seeded by `seed` (Knuth's estimator; see
/// `explore/dpor/estimate.rs`). A probe execution that fails ends the estimate, which says so.
pub fn estimate_dpor<F>(model: F, probing: Probing, seed: u64) -> SpaceEstimate
where
    F: Fn() + Send + Sync + 'static,
{
    let walks = Arc::new(dpor::estimate::Probes::new(seed, probing));
    let label = Strategy::dpor(None);
    let w = walks.clone();
    let outcome = explore_with(&label, &Progress::default(), None, model, move |body, _| {
        let worker = dpor::DporWorker::new(w, Arc::default());
        shuttle::Runner::new(worker, shuttle_config()).run(move || body());
    });
    walks.estimate(outcome.failure.map(|f| f.kind.summary()))
}

/// What one run along a plan produced: its outcome, the decisions taken, and what it recorded.
pub(crate) struct PlanRun {
    pub(crate) outcome: Outcome,
    pub(crate) decisions: Vec<Decision>,
    pub(crate) recorded: Recorded,
}

/// Runs `model` once along `plan` under shuttle, recording the decisions (and, with `watch`, a
/// trace of the accesses to those bytes): the engine of replay and minimisation.
pub(crate) fn explore_plan<F>(
    model: F,
    plan: Plan,
    choices: Vec<u64>,
    watch: Option<(u64, u64)>,
    label: &Strategy,
) -> PlanRun
where
    F: Fn() + Send + Sync + 'static,
{
    let decisions: Arc<Mutex<Vec<Decision>>> = Arc::default();
    let d = decisions.clone();
    let scope = record::scoped(record::Options { expected: plan.exact().map(<[u32]>::to_vec), watch });
    let outcome = explore_with(label, &label.progress().cloned().unwrap_or_default(), None, model, move |body, _| {
        run_plan(plan, choices, body, d)
    });
    let decisions = std::mem::take(&mut *decisions.lock());
    PlanRun { outcome, decisions, recorded: scope.finish() }
}

/// Runs one shuttle execution of `body` along `plan`, recording the decisions. Under an exact plan
/// the record checks every step against the schedule, and an execution that ends early diverges.
fn run_plan(plan: Plan, choices: Vec<u64>, body: Body, decisions: Arc<Mutex<Vec<Decision>>>) {
    // A schedule that no longer fits the model, or a candidate of minimisation, could loop; shuttle
    // stops it well past any length the model reached before.
    let max_steps = plan.exact().map_or(MINIMIZE_MAX_STEPS, |steps| steps.len() * 4 + 10_000);
    let mut config = shuttle_config();
    config.max_steps = shuttle::MaxSteps::FailAfter(max_steps);
    let scheduler = ReplayScheduler::new(plan, choices, decisions);
    let result = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, config).run(move || body());
    }));
    if let Err(payload) = result {
        resume_unwind(payload)
    }
    let ended_at = record::len();
    if let Some(len) = record::expected_len().filter(|&len| ended_at < len) {
        // Recorded on the execution, as the record does for a divergence it sees mid-run.
        runtime::diverge(format!("the execution ended after {ended_at} steps, the schedule has {len}"))
    }
}

/// shuttle steps after which a minimisation candidate counts as looping.
const MINIMIZE_MAX_STEPS: usize = 100_000;

/// One execution's body, as runners call it.
type Body = Arc<dyn Fn() + Send + Sync>;

/// Runs `runner`, which calls the execution body once per execution (and gets the count of
/// executions started), and turns what happened into an outcome.
fn explore_with<F>(
    strategy: &Strategy,
    progress: &Progress,
    indexing: Option<&Indexing>,
    model: F,
    runner: impl FnOnce(Body, &Arc<AtomicU64>),
) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    hook::install();
    let backend = strategy.backend();
    let executions = progress.counters().executions.clone();
    executions.store(0, Ordering::Relaxed);
    let last: Arc<Mutex<Option<Arc<Execution>>>> = Arc::default();
    let interleavings: Arc<Mutex<FxHashSet<u64>>> = Arc::default();
    let recovered: Arc<Mutex<Vec<RecoveredPanic>>> = Arc::default();
    let keep_recovered = {
        let recovered = recovered.clone();
        move |exec: &Execution| {
            let mut all = recovered.lock();
            for p in exec.state.lock().take_recovered() {
                if !all.iter().any(|q| q.message == p.message && q.location == p.location) {
                    all.push(p);
                }
            }
        }
    };
    let body: Body = {
        let (executions, last, interleavings) = (executions.clone(), last.clone(), interleavings.clone());
        let progress = progress.clone();
        let indexing = indexing.map(|ix| (ix.current.clone(), ix.log.clone()));
        let keep_recovered = keep_recovered.clone();
        Arc::new(move || {
            executions.fetch_add(1, Ordering::Relaxed);
            let exec = Execution::start(backend);
            *last.lock() = Some(exec.clone());
            exec.run_main(&model);
            if backend.controls_schedule() {
                let hash = record::interleaving();
                if let Some((current, log)) = &indexing {
                    log.lock().push((current.load(Ordering::SeqCst), hash));
                }
                let mut seen = interleavings.lock();
                seen.insert(hash);
                progress.counters().distinct.store(seen.len() as u64, Ordering::Relaxed);
            }
            keep_recovered(&exec);
            exec.run_cleanups();
        })
    };
    record::take_unexplored_choice();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| runner(body, &executions)));
    let unexplored_choice = record::take_unexplored_choice();
    runtime::set_current(None);
    let elapsed = start.elapsed();
    let executions = executions.load(Ordering::Relaxed);
    if result.is_err() {
        if let Some(exec) = last.lock().as_ref() {
            keep_recovered(exec);
            exec.run_cleanups();
        }
    }
    let mut incomplete = (executions == 0).then(|| "no execution ran".to_string());
    let failure = match result {
        Ok(()) => None,
        Err(payload) => match classify(last.lock().take(), &*payload) {
            // PCT refuses a model whose first execution never had two goroutines runnable at once.
            FailureKind::Panic { message, .. } if message.contains("did not exercise any concurrency") => {
                incomplete = Some(format!(
                    "stopped after {executions} execution{}: the model never had two goroutines runnable at once, \
                     so PCT had nothing to prioritise",
                    if executions == 1 { "" } else { "s" }
                ));
                None
            }
            kind => Some(Failure {
                // Random and DPOR executions are numbered as in the whole, shards and jobs aside.
                execution: indexing.map_or(executions, |ix| ix.current.load(Ordering::SeqCst) + 1),
                kind,
                schedule: backend.controls_schedule().then(record::schedule),
            }),
        },
    };
    let mut distinct = interleavings.lock().len() as u64;
    if failure.is_some() {
        // The failing execution never reached the end of main.
        distinct += 1;
    }
    let recovered_panics = std::mem::take(&mut *recovered.lock());
    let searched_all =
        failure.is_none() && incomplete.is_none() && strategy.exhausts() && !strategy.limited(executions, elapsed);
    Outcome {
        strategy: strategy.clone(),
        executions,
        elapsed,
        exhaustive: searched_all && !unexplored_choice,
        first_ready_case_only: searched_all && unexplored_choice,
        failure,
        distinct: backend.controls_schedule().then_some(distinct),
        bound: None,
        incomplete,
        recovered: recovered_panics,
    }
}

fn shuttle_config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.stack_size = SHUTTLE_STACK_SIZE;
    c.failure_persistence = shuttle::FailurePersistence::None;
    c.silence_warnings = true;
    c
}

/// Runs the executions of `strategy`; `executions` is the count `body` keeps (limits span the
/// rounds of iterative bounding), and `bound` is set to the preemption bound of each round.
fn run(
    strategy: &Strategy,
    body: Body,
    set_bound: &dyn Fn(Option<usize>),
    executions: &Arc<AtomicU64>,
    indexing: &Indexing,
) {
    use shuttle::scheduler::DfsScheduler;
    let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
    let start = Instant::now();
    let limits = Limits { strategy: strategy.clone(), start, executions: executions.clone() };
    match strategy.kind() {
        Kind::Loom { .. } => {
            for b in strategy.rounds() {
                set_bound(b);
                let used = executions.load(Ordering::Relaxed);
                let mut builder = loom::model::Builder::new();
                builder.preemption_bound = b;
                builder.max_branches = LOOM_MAX_BRANCHES;
                // loom stops before starting execution `max_permutations`; it checks its caps only
                // every `checkpoint_interval` executions.
                builder.max_permutations =
                    strategy.max_executions().map(|m| n(m.saturating_sub(used)).saturating_add(1));
                builder.max_duration = strategy.max_duration().map(|d| d.saturating_sub(start.elapsed()));
                builder.checkpoint_interval = 1;
                builder.checkpoint_file = None;
                let body = body.clone();
                builder.check(move || body());
                if limits.reached() {
                    break;
                }
            }
        }
        Kind::Dpor { .. } => {
            // The explorer keeps the rounds and the limits; a job's worker shares its jobs'.
            let window = indexing.window.clone().unwrap_or_else(|| dpor::Window::new(strategy));
            let worker = dpor::DporWorker::new(window.clone(), indexing.current.clone());
            let result = catch_unwind(AssertUnwindSafe(|| {
                shuttle::Runner::new(worker, shuttle_config()).run(move || body());
            }));
            set_bound(window.bound());
            if let Err(payload) = result {
                resume_unwind(payload)
            }
        }
        Kind::Random { seed, iterations } => {
            // The execution cap is on indices, so that shards and jobs stop where one run would.
            let end = strategy.max_executions().map_or(*iterations, |m| m.min(*iterations));
            let (stop_at, current) = (indexing.stop_at.clone(), indexing.current.clone());
            run_shuttle(split::SplitRandom::new(*seed, end, strategy.shard(), stop_at, current), &limits, &body)
        }
        Kind::Pct { seed, iterations, depth } => {
            let end = strategy.max_executions().map_or(*iterations, |m| m.min(*iterations));
            let (stop_at, current) = (indexing.stop_at.clone(), indexing.current.clone());
            let pct =
                pct::SplitPct::new((*seed, *depth, end), strategy.shard(), indexing.horizon.clone(), stop_at, current);
            run_shuttle(pct, &limits, &body)
        }
        Kind::Dfs => run_shuttle(DfsScheduler::new(None, false), &limits, &body),
        Kind::Std { iterations } => {
            for _ in 0..*iterations {
                if limits.reached() {
                    break;
                }
                body();
            }
        }
        Kind::Replay(schedule) => {
            let _scope = record::scoped(record::Options { expected: Some(schedule.steps.clone()), watch: None });
            run_plan(Plan::Exact(schedule.steps.clone()), schedule.choices.clone(), body, Arc::default())
        }
    }
}

/// Runs executions of `body` under a shuttle scheduler until it or the limits stop.
fn run_shuttle<S: Scheduler + 'static>(scheduler: S, limits: &Limits, body: &Body) {
    let body = body.clone();
    let scheduler = Limited { inner: Some(scheduler), limits: limits.clone() };
    shuttle::Runner::new(scheduler, shuttle_config()).run(move || body());
}

/// A strategy's execution and time limits, checked before each execution.
#[derive(Clone)]
struct Limits {
    strategy: Strategy,
    start: Instant,
    executions: Arc<AtomicU64>,
}

impl Limits {
    fn reached(&self) -> bool {
        self.strategy.limited(self.executions.load(Ordering::Relaxed), self.start.elapsed())
    }
}

/// A shuttle scheduler that stops at the strategy's limits, and that is leaked when dropped during
/// a panic: shuttle's random scheduler then prints replay instructions for shuttle's own API, which
/// do not apply (the outcome carries the failure).
struct Limited<S> {
    inner: Option<S>,
    limits: Limits,
}

impl<S: Scheduler> Scheduler for Limited<S> {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if self.limits.reached() {
            return None;
        }
        self.inner.as_mut().expect("scheduler present").new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        self.inner.as_mut().expect("scheduler present").next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.as_mut().expect("scheduler present").next_u64()
    }
}

impl<S> Drop for Limited<S> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.inner.take());
        }
    }
}

/// Turns what an execution recorded (and the payload that ended the exploration) into a failure.
/// A backend's deadlock is a leak when main had returned.
fn classify(exec: Option<Arc<Execution>>, payload: &(dyn std::any::Any + Send)) -> FailureKind {
    let recorded = exec.as_ref().and_then(|e| {
        let mut st = e.state.lock();
        let kind = st.failure.take()?;
        Some(kind)
    });
    recorded.unwrap_or_else(|| {
        let message = hook::payload_message(payload);
        match exec {
            Some(e) if is_deadlock(&message) => e.state.lock().stuck(first_line(&message)),
            None if is_deadlock(&message) => {
                FailureKind::Deadlock { goroutines: Vec::new(), message: first_line(&message) }
            }
            _ => FailureKind::Panic { goroutine: None, message, location: None, stack: Vec::new() },
        }
    })
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}
