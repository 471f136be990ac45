//! A scenario's model: the join model built from the file ([`build`]), ready to explore, replay
//! and minimise. What an outcome means for the scenario is [`crate::verdict`]'s.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use harness::report::FailureKind;
use harness::triage::{MinimizeError, Minimized, Replayed};
use harness::{explore, Outcome, Schedule, Strategy};
use join_model::exec::{ExecConfig, HashJoinV2Exec};
use join_model::failpoint::{FailAction, Failpoints};
use join_model::reference::{reference_join, sorted};
use join_model::slices::{probe_slice, restore_build_slice, round1_build_slice, JoinInput, RestoreInput};
use join_model::spec::{CmpOp, OtherCondition};
use join_model::spill::MemoryCharge;
use join_model::tidb::{self, Commit};
use join_model::{Bug, Bugs, BuildSide, ColType, JoinSpec, JoinType, Row, Value};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::format::{
    field_line, ColSpec, Expect, FailActionSpec, Generate, JoinTypeSpec, MemorySpec, OtherSpec, Scenario, SideSpec,
    StrategySpec, Target, ValueSpec,
};

/// A scenario that cannot be built (a semantic error the format cannot catch).
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BuildError {
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A [`BuildError`] located in its scenario file: `path:line: field: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {error}", path.display())]
pub struct FileBuildError {
    /// The scenario file.
    pub path: PathBuf,
    /// The line of the field at fault (1 when it is not written in the file).
    pub line: usize,
    /// What is wrong.
    pub error: BuildError,
}

/// [`build`] for the scenario read from `path`: an error names the file and the field's line.
pub fn build_at(path: &Path, s: &Scenario) -> Result<Model, FileBuildError> {
    build(s).map_err(|error| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        FileBuildError { path: path.to_path_buf(), line: field_line(&text, &error.field), error }
    })
}

fn value(v: &ValueSpec) -> Value {
    match v {
        ValueSpec::Int(i) => Value::Int(*i),
        ValueSpec::Str(s) if s == "NULL" => Value::Null,
        ValueSpec::Str(s) => Value::Str(s.as_bytes().to_vec()),
    }
}

/// Why `v` cannot be a value of column `c` of type `t`, if it cannot: TiDB's chunk would hold
/// no such value, and the model would encode it as another type's bytes.
fn misfit(v: &Value, t: ColType, c: usize) -> Option<String> {
    let what = match (v, t) {
        (Value::Null, ColType::NotNullInt) => "NULL in a not-null column",
        (Value::Null, _) => return None,
        (Value::Str(_), ColType::Int | ColType::UInt | ColType::NotNullInt) => "a string in an int column",
        (Value::Int(_), ColType::Str) => "an integer in a string column",
        (Value::Int(i), ColType::UInt) if *i < 0 => "a negative integer in an unsigned column",
        _ => return None,
    };
    Some(format!("column {c}: {what}"))
}

fn rows(rs: &[Vec<ValueSpec>]) -> Vec<Row> {
    rs.iter().map(|r| r.iter().map(value).collect()).collect()
}

/// `n` rows of the given column types from `seed`: values drawn from `g.keys` distinct ones.
fn generate(seed: u64, n: usize, types: &[ColType], g: &Generate) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            types
                .iter()
                .map(|t| {
                    let v = rng.gen_range(0..g.keys);
                    match t {
                        _ if g.nulls && *t != ColType::NotNullInt && rng.gen_ratio(1, 8) => Value::Null,
                        ColType::Str => Value::Str(format!("k{v}").into_bytes()),
                        _ => Value::Int(v as i64),
                    }
                })
                .collect()
        })
        .collect()
}

/// The scenario with its generated rows written out inline (and no `[rows.generate]`), the same
/// rows `build` would make.
pub fn inline_rows(s: &Scenario) -> Scenario {
    let mut out = s.clone();
    let Some(g) = out.rows.generate.take() else { return out };
    let spec = |v: Value| match v {
        Value::Null => ValueSpec::Str("NULL".into()),
        Value::Int(i) => ValueSpec::Int(i),
        Value::Str(b) => ValueSpec::Str(String::from_utf8_lossy(&b).into_owned()),
    };
    let as_specs = |rows: Vec<Row>| rows.into_iter().map(|r| r.into_iter().map(spec).collect()).collect::<Vec<_>>();
    if g.keys > 0 {
        let (left, right) = generated(&g, &col_types(&s.join.left), &col_types(&s.join.right));
        out.rows.left.extend(as_specs(left));
        out.rows.right.extend(as_specs(right));
    }
    out
}

/// The rows `g` generates for each side (the right side's seed follows the left's).
fn generated(g: &Generate, left: &[ColType], right: &[ColType]) -> (Vec<Row>, Vec<Row>) {
    (generate(g.seed, g.left, left, g), generate(g.seed.wrapping_add(1), g.right, right, g))
}

/// The other condition a scenario names, or the field that is wrong and why.
fn other_condition(o: &OtherSpec, lt: &[ColType], rt: &[ColType]) -> Result<OtherCondition, (&'static str, String)> {
    let op = CmpOp::parse(&o.op)
        .ok_or_else(|| ("join.other.op", format!("{:?} is not one of =, <>, <, <=, >, >=", o.op)))?;
    let (Some(l), Some(r)) = (lt.get(o.left), rt.get(o.right)) else {
        let (field, c) = if o.left >= lt.len() { ("join.other.left", o.left) } else { ("join.other.right", o.right) };
        return Err((field, format!("column {c} does not exist")));
    };
    if l != r {
        return Err(("join.other", format!("compares a {l:?} column with a {r:?} column; they must have one type")));
    }
    Ok(OtherCondition { left: o.left, op, right: o.right })
}

fn col_types(cs: &[ColSpec]) -> Vec<ColType> {
    cs.iter().copied().map(col).collect()
}

fn col(c: ColSpec) -> ColType {
    match c {
        ColSpec::Int => ColType::Int,
        ColSpec::Uint => ColType::UInt,
        ColSpec::NotNullInt => ColType::NotNullInt,
        ColSpec::Str => ColType::Str,
    }
}

/// The model a scenario runs, ready to explore.
#[derive(Clone, Debug)]
pub struct Model {
    target: Target,
    close_after: Option<usize>,
    spec: JoinSpec,
    left: Vec<Row>,
    right: Vec<Row>,
    restore: Vec<Vec<Vec<Row>>>,
    config: ExecConfig,
    /// Runs of the executor after the first (`exec.reopen`).
    reopen: usize,
    expect: Expect,
    commit: Commit,
}

/// How an execution whose join returned other rows than the reference join fails.
pub const WRONG_RESULT: &str = "join result differs from the reference join";

/// Most workers of each kind: more runs out of memory long before it finds anything.
const MAX_CONCURRENCY: usize = 64;
/// Most input rows, inline and generated.
const MAX_ROWS: usize = 100_000;
/// Most spill rounds.
const MAX_SPILL_ROUNDS: usize = 16;
/// Most runs of one executor after the first.
const MAX_REOPEN: usize = 100;
/// Most columns a side: generated rows hold `MAX_ROWS` times as many values.
const MAX_COLUMNS: usize = 64;
/// The largest preemption bound: loom and DPOR exhaust every slice at 3 (README), an iterative
/// search runs one exploration per bound up to it, and beyond a few the search never ends.
const MAX_PREEMPTION_BOUND: usize = 10;
/// Goroutines loom lets an execution spawn (`harness`'s loom backend; `MAX_THREADS` is 5 with the
/// main thread): a slice that needs more fails every execution with loom's limit, not a finding.
const LOOM_SPAWNED: usize = 4;

/// Builds the model of a scenario.
pub fn build(s: &Scenario) -> Result<Model, BuildError> {
    let err = |field: &str, message: String| BuildError { field: field.into(), message };
    let commit = match &s.tidb {
        Some(id) => tidb::commit(id).map_err(|e| err("tidb", e.to_string()))?,
        None => tidb::latest(),
    };
    if !tidb::whole_executor(commit) && s.target != Target::ProbeSlice {
        let message = format!(
            "the model is only the probe side of TiDB {} (before {}, hash join v2 had no spill and another \
             build), so a scenario at it must be a probe-slice, not a {}",
            commit.id,
            tidb::FIRST_WHOLE_EXECUTOR,
            s.target.name()
        );
        return Err(err("tidb", message));
    }
    let bugs = match &s.bugs {
        Some(names) => tidb::bugs_at(commit).with_active(
            names
                .iter()
                .map(|b| Bug::from_str(b))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err("bugs", e.to_string()))?,
        ),
        None => tidb::bugs_at(commit),
    };
    let j = &s.join;
    for (field, cols) in [("join.left", &j.left), ("join.right", &j.right)] {
        if cols.len() > MAX_COLUMNS {
            return Err(err(field, format!("{} columns is more than {MAX_COLUMNS}", cols.len())));
        }
    }
    let (lt, rt) = (col_types(&j.left), col_types(&j.right));
    if j.left_keys.len() != j.right_keys.len() || j.left_keys.is_empty() {
        return Err(err("join.left_keys", "needs one key per side per equality, at least one".into()));
    }
    for (field, keys, types) in [("join.left_keys", &j.left_keys, &lt), ("join.right_keys", &j.right_keys, &rt)] {
        if let Some(k) = keys.iter().find(|&&k| k >= types.len()) {
            return Err(err(field, format!("column {k} does not exist")));
        }
    }
    if j.left_keys.iter().zip(&j.right_keys).any(|(&l, &r)| lt[l] != rt[r]) {
        return Err(err("join", "key columns must have the same type on both sides".into()));
    }
    let join_type = match j.join_type {
        JoinTypeSpec::Inner => JoinType::Inner,
        JoinTypeSpec::LeftOuter => JoinType::LeftOuter,
        JoinTypeSpec::RightOuter => JoinType::RightOuter,
        JoinTypeSpec::Semi => JoinType::Semi,
        JoinTypeSpec::AntiSemi => JoinType::AntiSemi,
        JoinTypeSpec::LeftOuterSemi => JoinType::LeftOuterSemi,
        JoinTypeSpec::AntiLeftOuterSemi => JoinType::AntiLeftOuterSemi,
    };
    let build = match j.build {
        SideSpec::Left => BuildSide::Left,
        SideSpec::Right => BuildSide::Right,
    };
    if !join_type.allows(build) {
        return Err(err("join.build", format!("a {join_type:?} join builds the right side only, as in TiDB")));
    }
    tidb::has_join_type(commit, join_type, build).map_err(|e| err("join.type", e))?;
    let other = j.other.as_ref().map(|o| other_condition(o, &lt, &rt)).transpose().map_err(|(f, m)| err(f, m))?;
    let spec =
        JoinSpec::new(join_type, build, (lt.clone(), j.left_keys.clone()), (rt.clone(), j.right_keys.clone()), &bugs);
    let spec = match other {
        Some(o) => spec.with_other_condition(o),
        None => spec,
    };
    // Every row counts, generated ones included, and before any is generated: 10^18 generated
    // rows would otherwise be allocated first.
    let inline = s.rows.left.len() + s.rows.right.len();
    let restored: usize = s.rows.restore.iter().flatten().map(Vec::len).sum();
    let to_generate = s.rows.generate.as_ref().map_or(0, |g| g.left.saturating_add(g.right));
    let total = inline.saturating_add(restored).saturating_add(to_generate);
    if total > MAX_ROWS {
        let field = if to_generate > 0 { "rows.generate" } else { "rows" };
        return Err(err(
            field,
            format!(
                "{total} rows ({inline} inline, {restored} restored, {to_generate} generated) is more than {MAX_ROWS}"
            ),
        ));
    }
    if !s.rows.restore.is_empty() && s.target != Target::RestoreSlice {
        return Err(err("rows.restore", "restored files need target = \"restore-slice\"".into()));
    }
    let (mut left, mut right) = (rows(&s.rows.left), rows(&s.rows.right));
    if let Some(g) = &s.rows.generate {
        if g.keys == 0 {
            return Err(err("rows.generate.keys", "needs at least one value".into()));
        }
        let (l, r) = generated(g, &lt, &rt);
        left.extend(l);
        right.extend(r);
    }
    for (field, rs, types) in [("rows.left", &left, &lt), ("rows.right", &right, &rt)] {
        let width = types.len();
        if let Some(i) = rs.iter().position(|r| r.len() != width) {
            return Err(err(field, format!("row {i} has {} values, the side has {width} columns", rs[i].len())));
        }
        for (i, r) in rs.iter().enumerate() {
            if let Some(why) = r.iter().zip(types.iter()).enumerate().find_map(|(c, (v, t))| misfit(v, *t, c)) {
                return Err(err(field, format!("row {i}, {why}")));
            }
        }
    }
    let restore: Vec<Vec<Vec<Row>>> = s.rows.restore.iter().map(|w| w.iter().map(|c| rows(c)).collect()).collect();
    if s.target == Target::RestoreSlice && restore.len() < 2 {
        return Err(err("rows.restore", "a restore slice needs the files of at least two workers".into()));
    }
    if restore.len() > MAX_CONCURRENCY {
        // One worker per file: as many split workers and spill files.
        return Err(err("rows.restore", format!("{} workers' files is more than {MAX_CONCURRENCY}", restore.len())));
    }
    if s.target == Target::RestoreSlice && s.exec.concurrency != restore.len() {
        // The slice runs one split worker per restore file: another concurrency would be a
        // setting that changes nothing (and a shrink that claims fewer workers).
        let message = format!(
            "{} on a restore slice, which runs one worker per restore file: {}",
            s.exec.concurrency,
            restore.len()
        );
        return Err(err("exec.concurrency", message));
    }
    let build_width = spec.build_width();
    if let Some(r) = restore.iter().flatten().flatten().find(|r| r.len() != build_width) {
        return Err(err(
            "rows.restore",
            format!("a row has {} values, the build side has {build_width} columns", r.len()),
        ));
    }
    let build_types = match build {
        BuildSide::Left => &lt,
        BuildSide::Right => &rt,
    };
    let mut misfits = restore.iter().flatten().flatten().flat_map(|r| r.iter().zip(build_types).enumerate());
    if let Some(why) = misfits.find_map(|(c, (v, t))| misfit(v, *t, c)) {
        return Err(err("rows.restore", format!("a row's {why}")));
    }
    // Limits: beyond them a run takes gigabytes or hours, and a zero would be clamped silently.
    let e = &s.exec;
    let limits: [(&str, usize, usize, usize); 6] = [
        ("exec.concurrency", e.concurrency, 1, MAX_CONCURRENCY),
        ("exec.chunk_size", e.chunk_size, 1, MAX_ROWS),
        ("exec.max_chunk_size", e.max_chunk_size.unwrap_or(e.chunk_size), 1, MAX_ROWS),
        ("exec.segment_rows", e.segment_rows, 1, MAX_ROWS),
        ("exec.max_spill_round", e.max_spill_round, 1, MAX_SPILL_ROUNDS),
        ("exec.reopen", e.reopen, 0, MAX_REOPEN),
    ];
    for (field, value, min, max) in limits {
        if value < min || value > max {
            return Err(err(field, format!("{value} is outside {min}..={max}")));
        }
    }
    if e.max_chunk_size.is_some() && matches!(s.target, Target::BuildSlice | Target::RestoreSlice) {
        return Err(err(
            "exec.max_chunk_size",
            format!("a {} makes no result chunks (probe-slice and executor only)", s.target.name()),
        ));
    }
    if s.target == Target::ProbeSlice && e.concurrency > 3 {
        return Err(err("exec.concurrency", "a probe slice runs at most 3 probe workers (loom's limit)".into()));
    }
    if s.strategies.is_empty() {
        return Err(err("strategy", "no strategy: the scenario would run nothing".into()));
    }
    for (i, st) in s.strategies.iter().enumerate() {
        let zero = match *st {
            StrategySpec::Loom { max_executions, .. } | StrategySpec::Dpor { max_executions, .. } => {
                (max_executions == Some(0)).then_some("max_executions")
            }
            StrategySpec::Random { iterations, .. } => (iterations == 0).then_some("iterations"),
            StrategySpec::Pct { iterations, depth, .. } => {
                (iterations == 0).then_some("iterations").or((depth == 0).then_some("depth"))
            }
        };
        if let Some(field) = zero {
            return Err(err(&format!("strategy[{i}].{field}"), format!("0 in {}: it would run nothing", st.name())));
        }
    }
    for (i, st) in s.strategies.iter().enumerate() {
        if let StrategySpec::Loom { preemption_bound: b, .. } | StrategySpec::Dpor { preemption_bound: Some(b), .. } =
            *st
        {
            if b > MAX_PREEMPTION_BOUND {
                let field = format!("strategy[{i}].preemption_bound");
                return Err(err(&field, format!("{b} is outside 0..={MAX_PREEMPTION_BOUND}")));
            }
        }
    }
    // A build slice's split workers are `exec.concurrency`, a restore slice's one per file; each
    // spill (possible only under a quota) starts one goroutine per worker.
    let workers = match s.target {
        Target::BuildSlice => Some(e.concurrency),
        Target::RestoreSlice => Some(restore.len()),
        Target::ProbeSlice | Target::Executor => None,
    };
    let loom = s.strategies.iter().position(|st| matches!(st, StrategySpec::Loom { .. }));
    if let (Some(w), Some(i)) = (workers, loom) {
        let spawned = if e.quota.is_some() { 2 * w } else { w };
        if spawned > LOOM_SPAWNED {
            return Err(err(
                &format!("strategy[{i}].kind"),
                format!(
                    "loom spawns at most {LOOM_SPAWNED} goroutines; this {} has {w} split workers{}: use dpor, random or pct",
                    s.target.name(),
                    if e.quota.is_some() { " and as many spill goroutines per spill" } else { "" }
                ),
            ));
        }
    }
    if s.target == Target::Executor && s.strategies.iter().any(|st| matches!(st, StrategySpec::Loom { .. })) {
        return Err(err(
            "strategy",
            "the whole executor spawns more than loom's 4 goroutines: use dpor, random or pct".into(),
        ));
    }
    if !s.failpoints.is_empty() && s.target != Target::Executor {
        return Err(err("failpoint", "failpoints need target = \"executor\"".into()));
    }
    let joins = match s.expect {
        Expect::Error { .. } => Some("\"error\""),
        Expect::WrongResult { .. } => Some("\"wrong-result\""),
        Expect::Sound => Some("\"sound\""),
        Expect::Race { .. } | Expect::Clean | Expect::Panic { .. } | Expect::Deadlock { .. } | Expect::Leak { .. } => {
            None
        }
    };
    if let Some(outcome) = joins.filter(|_| s.target != Target::Executor) {
        // A slice runs part of the executor and never returns the join's error or result: such a
        // scenario could never fail.
        return Err(err(
            "expect.outcome",
            format!("{outcome} needs target = \"executor\" (a slice returns no join error or result)"),
        ));
    }
    let mut failpoints = Failpoints::none();
    for f in &s.failpoints {
        let action = match f.action {
            FailActionSpec::Error => FailAction::Error,
            FailActionSpec::Panic => FailAction::Panic,
            FailActionSpec::Pause => FailAction::Pause,
        };
        failpoints = failpoints.with_after(&f.name, action, f.after).map_err(|e| err("failpoint.name", e))?;
    }
    let e = &s.exec;
    let config = ExecConfig {
        concurrency: e.concurrency,
        chunk_size: e.chunk_size,
        max_chunk_size: e.max_chunk_size,
        segment_rows: e.segment_rows,
        quota: e.quota,
        max_spill_round: e.max_spill_round,
        memory: match e.memory {
            MemorySpec::Scaled => MemoryCharge::Scaled,
            MemorySpec::Tidb => MemoryCharge::Tidb,
        },
        bugs,
        failpoints,
        ..ExecConfig::default()
    };
    if s.close.is_some() && s.target != Target::Executor {
        return Err(err("close", "closing mid-join needs target = \"executor\"".into()));
    }
    if s.close.is_some() && matches!(s.expect, Expect::Error { .. } | Expect::WrongResult { .. }) {
        // A join closed early returns part of its result, never the whole: nothing to compare.
        return Err(err("expect.outcome", "a join closed early has no result or error to expect".into()));
    }
    let close_after = s.close.map(|c| c.after_chunks);
    if e.reopen > 0 && (s.target != Target::Executor || s.close.is_some()) {
        return Err(err(
            "exec.reopen",
            "re-opening runs the whole executor to its end (target = \"executor\", no [close])".into(),
        ));
    }
    Ok(Model {
        target: s.target,
        close_after,
        spec,
        left,
        right,
        restore,
        config,
        reopen: e.reopen,
        expect: s.expect.clone(),
        commit,
    })
}

impl Model {
    /// The model with its executor's spill files in a new directory under `dir` each execution;
    /// `None`: memory-backed files.
    pub fn with_spill_dir(mut self, dir: Option<&Path>) -> Model {
        self.config.spill_dir = dir.map(Path::to_path_buf);
        self
    }

    /// The bug switches the model runs with.
    pub fn bugs(&self) -> &Bugs {
        &self.config.bugs
    }

    /// The TiDB commit the model is.
    pub fn commit(&self) -> Commit {
        self.commit
    }

    /// The outcome the scenario expects.
    pub fn expect(&self) -> &Expect {
        &self.expect
    }

    /// Explores the model under `strategy`.
    pub fn explore(&self, strategy: &Strategy) -> Outcome {
        let m = Arc::new(self.clone());
        explore(strategy, move || m.run_once())
    }

    /// Explores the model under `strategy`, with the index and interleaving hash of every DPOR
    /// execution that ended (see [`harness::explore::explore_logged`]).
    pub fn explore_logged(&self, strategy: &Strategy) -> (Outcome, Vec<(u64, u64)>) {
        let m = Arc::new(self.clone());
        harness::explore::explore_logged(strategy, move || m.run_once())
    }

    /// Explores the model under `strategy` on `jobs` threads: a random exploration split by
    /// execution, a DPOR one by branch (the outcome one thread gives), any other on one thread.
    pub fn explore_jobs(&self, strategy: &Strategy, jobs: usize) -> Outcome {
        let m = Arc::new(self.clone());
        harness::explore_jobs(strategy, jobs, move || m.run_once())
    }

    /// Estimates the size of the model's unbounded DPOR search from random probes, as many as
    /// `probing` says.
    pub fn estimate_dpor(&self, probing: harness::explore::Probing, seed: u64) -> harness::explore::SpaceEstimate {
        let m = Arc::new(self.clone());
        harness::estimate_dpor(move || m.run_once(), probing, seed)
    }

    /// Replays a recorded schedule exactly, with its trace.
    pub fn replay(&self, schedule: &Schedule) -> Replayed {
        let m = Arc::new(self.clone());
        harness::replay(schedule, move || m.run_once())
    }

    /// Shrinks a failing schedule to the fewest preemptions that still fail as `same` accepts.
    pub fn minimize(
        &self,
        schedule: &Schedule,
        same: impl Fn(&FailureKind) -> bool,
    ) -> Result<Minimized, MinimizeError> {
        let m = Arc::new(self.clone());
        harness::minimize(schedule, move || m.run_once(), same)
    }

    /// One execution: the slice or the whole executor, checked against the reference join.
    fn run_once(&self) {
        match self.target {
            Target::ProbeSlice => probe_slice(
                Arc::new(JoinInput {
                    spec: self.spec.clone(),
                    left: self.left.clone(),
                    right: self.right.clone(),
                    chunk_size: self.config.chunk_size,
                    max_chunk_size: self.config.result_chunk_rows(),
                    segment_rows: self.config.segment_rows,
                }),
                self.config.concurrency,
            ),
            Target::RestoreSlice => restore_build_slice(self.build_input(self.restore.clone())),
            Target::BuildSlice => {
                // The build child's chunks, all handed out by the fetcher: the first "worker list"
                // holds them, the others are empty (one per split worker).
                let (build, _) = self.spec.split(&self.left, &self.right);
                let mut lists = vec![build.chunks(self.config.chunk_size).map(<[Row]>::to_vec).collect()];
                lists.resize(self.config.concurrency, Vec::new());
                round1_build_slice(self.build_input(lists))
            }
            Target::Executor => {
                let (build, probe) = self.spec.split(&self.left, &self.right);
                let mut exec = HashJoinV2Exec::new(self.spec.clone(), self.config.clone(), build, probe);
                if let Some(n) = self.close_after {
                    // The caller stops early: Close must stop every goroutine (a goroutine left
                    // blocked is a leak) and remove every spill file.
                    exec.open().expect("open");
                    for _ in 0..n {
                        if !matches!(exec.next(), Ok(Some(_))) {
                            break;
                        }
                    }
                    exec.close();
                    return;
                }
                // The first run, then `reopen` more on the same executor, as Apply runs its
                // inner side once per outer row.
                for _ in 0..=self.reopen {
                    let result = exec.run_to_end();
                    self.check_run(result, exec.failpoint_fired());
                }
            }
        }
    }

    /// Checks one run of the whole executor against the expectation.
    fn check_run(&self, result: Result<Vec<Row>, join_model::JoinError>, fired: Option<&str>) {
        if self.expect == Expect::Sound {
            match (result, fired) {
                (Ok(_), Some(at)) => panic!("{WRONG_RESULT}: the join succeeded after failpoint {at} fired"),
                (Ok(got), None) => self.check_rows(got),
                (Err(_), _) => {}
            }
            return;
        }
        if matches!(self.expect, Expect::Panic { .. } | Expect::Deadlock { .. } | Expect::Leak { .. }) {
            // The executions that do not crash or hang may end either way; the crash or the hang
            // is the finding.
            return;
        }
        match result {
            Ok(_) if matches!(self.expect, Expect::Error { .. }) => {
                panic!("the join succeeded where the scenario expects an error")
            }
            Ok(_) if matches!(self.expect, Expect::WrongResult { error: Some(_), .. }) => {
                panic!("{WRONG_RESULT}: the join succeeded where an error was due")
            }
            Ok(got) => self.check_rows(got),
            Err(e) => {
                let due = self.expect.error_due().is_some_and(|m| e.to_string().starts_with(m));
                // A wrong result sought with no error named: an execution that fails is not the
                // symptom, whatever its error.
                let any = matches!(self.expect, Expect::WrongResult { error: None, .. });
                if !due && !any {
                    panic!("join failed: {e}")
                }
            }
        }
    }

    /// Fails the execution when `got` is not the reference join's result.
    fn check_rows(&self, got: Vec<Row>) {
        let (got, want) = (sorted(got), sorted(reference_join(&self.spec, &self.left, &self.right)));
        if got != want {
            panic!("{WRONG_RESULT}: {} rows where the reference join has {}", got.len(), want.len());
        }
    }

    fn build_input(&self, chunks_per_worker: Vec<Vec<Vec<Row>>>) -> Arc<RestoreInput> {
        Arc::new(RestoreInput {
            spec: self.spec.clone(),
            chunks_per_worker,
            quota: self.config.quota.unwrap_or(usize::MAX),
            segment_rows: self.config.segment_rows,
            bugs: self.config.bugs.clone(),
            spill_dir: self.config.spill_dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_rows_are_a_function_of_the_seed() {
        let g = Generate { seed: 5, left: 40, right: 0, keys: 3, nulls: true };
        let types = [ColType::NotNullInt, ColType::Str, ColType::Int];
        let rows = generate(5, 40, &types, &g);
        assert_eq!(rows, generate(5, 40, &types, &g));
        assert_ne!(rows, generate(6, 40, &types, &g));
        assert!(rows.iter().all(|r| matches!(r[0], Value::Int(0..=2))), "keys out of range or NULL in NOT NULL");
        assert!(rows.iter().any(|r| r[2] == Value::Null), "no NULL in 40 rows of a nullable column");
        assert!(rows
            .iter()
            .all(|r| matches!(&r[1], Value::Null) || matches!(&r[1], Value::Str(s) if s.starts_with(b"k"))));
    }

    /// A catalog scenario expecting `sound` instead, explored under its first strategy.
    fn explored_as_sound(file: &str) -> harness::Outcome {
        let text = std::fs::read_to_string(crate::catalog_dir().join(file)).expect("catalog file");
        let head = &text[..text.find("[expect]").expect("an expectation")];
        let s =
            crate::format::parse(Path::new(file), &format!("{head}[expect]\noutcome = \"sound\"\n")).expect("parses");
        build(&s).expect("valid").explore(&s.strategies[0].strategy())
    }

    /// `sound`, the hunt's check: a join that succeeds after an armed failpoint fired has lost its
    /// error and fails, naming the point and where it fired; a join that errs wherever the point
    /// fired passes.
    #[test]
    fn sound_fails_a_success_after_a_failpoint_fired() {
        let lost = explored_as_sound("kill-restore-build-lost.toml");
        let kind = &lost.failure.as_ref().unwrap_or_else(|| panic!("the lost error is not found: {lost}")).kind;
        let want = format!(
            "{WRONG_RESULT}: the join succeeded after failpoint killedDuringRestoreBuild in \
             pkg/executor/join.(*BuildWorkerV2).splitPartitionAndAppendToRowTableForRestore"
        );
        assert!(
            matches!(kind, harness::report::FailureKind::Panic { message, .. } if message.starts_with(&want)),
            "{lost}"
        );
        let interrupted = explored_as_sound("kill-build-spill-59377-fixed.toml");
        assert!(interrupted.failure.is_none() && interrupted.incomplete.is_none(), "{interrupted}");
        assert_eq!(interrupted.executions, 300, "{interrupted}");
    }

    /// A catalog file with `from` replaced by `to`, built: the field and message of its error.
    fn refused(file: &str, edits: &[(&str, &str)]) -> String {
        let mut text = std::fs::read_to_string(crate::catalog_dir().join(file)).expect("catalog file");
        for (from, to) in edits {
            let edited = text.replacen(from, to, 1);
            assert_ne!(edited, text, "{file}: no {from:?}");
            text = edited;
        }
        let s = crate::format::parse(Path::new(file), &text).expect("parses");
        build(&s).expect_err("refused").to_string()
    }

    /// Every row counts toward the limit, and before any is generated (10^18 generated rows
    /// panicked with a capacity overflow; 10^7 took 16 s and 1.4 GB before being refused; 60,000
    /// inline and 60,000 generated were accepted).
    #[test]
    fn generated_rows_count_before_they_are_made() {
        let f = "generated-spill-fixed.toml";
        let e = refused(f, &[("left = 24", "left = 1000000000000000000")]);
        assert_eq!(e, "rows.generate: 1000000000000000024 rows (0 inline, 0 restored, 1000000000000000024 generated) is more than 100000");
        let inline = format!("[rows]\nleft = [{}]\n\n[rows.generate]", vec!["[\"k\", 1]"; 60_000].join(", "));
        let e = refused(f, &[("[rows.generate]", &inline), ("right = 24", "right = 60000")]);
        assert!(e.starts_with("rows.generate: 120024 rows (60000 inline, 0 restored, 60024 generated)"), "{e}");
    }

    /// An iterative search runs one exploration per bound: a bound of 10^18 panicked with a capacity
    /// overflow after the other strategies ran, 1000 ran for hours.
    #[test]
    fn a_preemption_bound_beyond_ten_is_refused() {
        let e = refused("race1-fixed.toml", &[("preemption_bound = 3", "preemption_bound = 11")]);
        assert_eq!(e, "strategy[0].preemption_bound: 11 is outside 0..=10");
        let e = refused("race1-fixed.toml", &[("kind = \"dpor\"\n", "kind = \"dpor\"\npreemption_bound = 1000\n")]);
        assert_eq!(e, "strategy[1].preemption_bound: 1000 is outside 0..=10");
    }

    /// A slice whose split workers (and, under a quota, their spill goroutines) exceed loom's 4
    /// spawned goroutines is refused under loom (before, every execution failed with loom's limit,
    /// reported as the scenario's failure).
    #[test]
    fn a_loom_slice_over_loom_s_goroutine_limit_is_refused() {
        let e = refused("race2-round1-build-slice.toml", &[("concurrency = 2", "concurrency = 3")]);
        assert!(e.starts_with("strategy[0].kind: loom spawns at most 4 goroutines; this build-slice has 3 split workers and as many spill goroutines"), "{e}");
        let three = "restore = [[[[1, 10]]], [[[3, 30]]], [[[5, 50]]]]";
        let e = refused(
            "race2-builder-publication.toml",
            &[("restore = [[[[1, 10]]], [[[3, 30]]]]", three), ("concurrency = 2", "concurrency = 3")],
        );
        assert!(e.starts_with("strategy[0].kind: loom spawns at most 4 goroutines; this restore-slice has 3"), "{e}");
        // Without loom the same slice builds.
        let mut text =
            std::fs::read_to_string(crate::catalog_dir().join("race2-round1-build-slice.toml")).expect("file");
        text = text
            .replace("concurrency = 2", "concurrency = 3")
            .replace("kind = \"loom\"\npreemption_bound = 2", "kind = \"dpor\"");
        build(&crate::format::parse(Path::new("x"), &text).expect("parses")).expect("builds");
    }

    /// Fields nothing reads, and sizes beyond the limits, are refused.
    #[test]
    fn restore_files_and_columns_have_limits_and_a_target() {
        let e = refused("race1-fixed.toml", &[("[exec]", "restore = [[[[\"k1\", 1]]], [[[\"k1\", 1]]]]\n\n[exec]")]);
        assert_eq!(e, "rows.restore: restored files need target = \"restore-slice\"");
        let files = vec!["[[[1, 10]]]"; 65].join(", ");
        let e =
            refused("race2-fixed.toml", &[("restore = [[[[1, 10]]], [[[3, 30]]]]", &format!("restore = [{files}]"))]);
        assert!(e.starts_with("rows.restore: 65 workers' files is more than 64"), "{e}");
        let cols = vec!["\"int\""; 65].join(", ");
        let e = refused("race2-fixed.toml", &[("left = [\"int\", \"int\"]", &format!("left = [{cols}]"))]);
        assert_eq!(e, "join.left: 65 columns is more than 64");
    }

    #[test]
    fn inline_rows_are_the_rows_build_generates() {
        let s = crate::format::load(&crate::catalog_dir().join("generated-spill-fixed.toml")).expect("catalog file");
        let inline = inline_rows(&s);
        assert!(inline.rows.generate.is_none());
        let (a, b) = (build(&s).expect("builds"), build(&inline).expect("builds"));
        assert_eq!((a.left.len(), a.right.len()), (24, 24));
        assert_eq!((a.left, a.right), (b.left, b.right));
    }
}
