//! The scenario file format (TOML), read with serde. Unknown fields and wrong types are errors
//! that name the file, the line and the field.
//!
//! ```toml
//! name = "race1-used-flag-layout"
//! issue = "pingcap/tidb#57450"
//! description = "..."
//! target = "probe-slice"            # probe-slice | restore-slice | build-slice | executor
//! tidb = "a22b8421a6"               # the TiDB commit modelled: its bugs are the fixes it lacks
//!                                    # (join_model::tidb); absent: the newest modelled commit
//! bugs = ["57450-used-flag-layout"]  # optional override: exactly these bug switches
//!
//! [join]
//! type = "right-outer"               # inner | left-outer | right-outer
//! build = "right"                    # left | right
//! left = ["str", "int"]              # column types: int | uint | not-null-int | str
//! right = ["str", "int"]
//! left_keys = [0]
//! right_keys = [0]
//!
//! [rows]                             # values: integers, strings; the string "NULL" is SQL NULL
//! left = [["k1", 1], ["k1", 2]]
//! right = [["k1", 10]]
//! restore = [[[[1, 10]]], [[[2, 20]]]]   # restore-slice: per worker, chunks of build rows
//!
//! [rows.generate]                    # optional: rows from a seed, appended to the inline ones
//! seed = 7
//! left = 16
//! right = 16
//! keys = 4                           # distinct values per column (so keys repeat)
//! nulls = true                       # NULL one time in eight in nullable columns
//!
//! [exec]
//! concurrency = 2
//! chunk_size = 1                     # rows per chunk of the children
//! max_chunk_size = 1024              # rows per result chunk; absent: chunk_size
//! segment_rows = 4
//! quota = 16                         # bytes; absent: never spill
//! max_spill_round = 2
//! memory = "scaled"                 # "tidb": charged per segment, children and hash table too
//! reopen = 0                         # executor: runs of the same executor after the first
//!
//! [close]                            # executor only: Close after this many result chunks
//! after_chunks = 1
//!
//! [[failpoint]]                      # executor only (join_model::failpoint::FAILPOINTS)
//! name = "Issue59377"
//! action = "error"                   # error | panic (a real one: `failpoint panic: <name>`) | pause
//! after = 0                          # hits that do nothing first (failpoint's `N*off->`)
//!
//! [[strategy]]
//! kind = "loom"                      # loom | dpor | random | pct
//! preemption_bound = 2               # loom: required; dpor: absent means every interleaving
//!
//! [expect]
//! outcome = "race"                   # race | clean | sound | error | wrong-result | panic | deadlock | leak
//! between = ["frame A", "frame B"]   # race: the two racing sites, in either order
//! # error: message = "start of the message"; error and wrong-result (executor only):
//! # recovered = ["start of a panic message", ...]: the panics TiDB would recover and log
//! # wrong-result: error = "start of a message": an error every execution owes (success loses it)
//! # panic: message = "start of the message": a panic nothing recovers (the process would crash)
//! # deadlock and leak: blocked = ["frame", ...]: a goroutine blocked inside each (on its stack)
//! # sound (executor only): each execution errs, or returns the reference rows with nothing fired
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name; test names and `joinrace run NAME` use it.
    pub name: String,
    /// The issue it comes from.
    pub issue: String,
    /// What it shows.
    pub description: String,
    /// Which part of the executor runs.
    pub target: Target,
    /// The TiDB commit the scenario models (`join_model::tidb::COMMITS`); absent: the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tidb: Option<String>,
    /// Bug switches (`Bug` names) that override the commit's: exactly these are active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bugs: Option<Vec<String>>,
    /// The join.
    pub join: Join,
    /// The input rows.
    pub rows: Rows,
    /// Executor settings.
    #[serde(default)]
    pub exec: Exec,
    /// Failpoints to arm (whole executor only).
    #[serde(default, rename = "failpoint")]
    pub failpoints: Vec<FailpointSpec>,
    /// Close the executor in the middle of the join (whole executor only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<CloseSpec>,
    /// The strategies to run, each its own test.
    #[serde(rename = "strategy")]
    pub strategies: Vec<StrategySpec>,
    /// The expected outcome.
    pub expect: Expect,
}

/// What runs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Two probe workers on one prepared row table (loom-sized).
    ProbeSlice,
    /// A restore round's build with its controller, split workers and spill goroutines (loom-sized).
    RestoreSlice,
    /// Round 1's build with its fetcher, split workers and spill goroutines (loom-sized); the
    /// build side's rows, in chunks of `exec.chunk_size`.
    BuildSlice,
    /// The whole executor (shuttle and std only).
    Executor,
}

impl Target {
    /// The name a scenario file gives it.
    pub fn name(self) -> &'static str {
        match self {
            Target::ProbeSlice => "probe-slice",
            Target::RestoreSlice => "restore-slice",
            Target::BuildSlice => "build-slice",
            Target::Executor => "executor",
        }
    }
}

/// The join.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// inner | left-outer | right-outer | semi | anti-semi | left-outer-semi |
    /// anti-left-outer-semi.
    #[serde(rename = "type")]
    pub join_type: JoinTypeSpec,
    /// left | right.
    pub build: SideSpec,
    /// Left column types.
    pub left: Vec<ColSpec>,
    /// Right column types.
    pub right: Vec<ColSpec>,
    /// Left key columns.
    pub left_keys: Vec<usize>,
    /// Right key columns.
    pub right_keys: Vec<usize>,
    /// An other condition: `left[left] op right[right]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherSpec>,
}

/// A join type.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum JoinTypeSpec {
    Inner,
    LeftOuter,
    RightOuter,
    Semi,
    AntiSemi,
    LeftOuterSemi,
    AntiLeftOuterSemi,
}

/// An other condition: one left column compared with one right column of the same type.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherSpec {
    /// The left column.
    pub left: usize,
    /// `=`, `<>`, `<`, `<=`, `>` or `>=`.
    pub op: String,
    /// The right column.
    pub right: usize,
}

/// A side.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum SideSpec {
    Left,
    Right,
}

/// A column type.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum ColSpec {
    Int,
    Uint,
    NotNullInt,
    Str,
}

/// A value: an integer or a string; the string "NULL" is SQL NULL.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ValueSpec {
    /// An integer.
    Int(i64),
    /// A string, or "NULL".
    Str(String),
}

/// The input rows.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rows {
    /// Left input.
    #[serde(default)]
    pub left: Vec<Vec<ValueSpec>>,
    /// Right input.
    #[serde(default)]
    pub right: Vec<Vec<ValueSpec>>,
    /// restore-slice: per worker, the chunks of build rows in its restored spill file.
    #[serde(default)]
    pub restore: Vec<Vec<Vec<Vec<ValueSpec>>>>,
    /// Rows generated from a seed, appended to the inline ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
}

/// Rows generated from a seed: every value drawn from `keys` distinct values (so keys repeat),
/// NULL one time in eight in a nullable column when `nulls` is set.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// The seed; the same seed gives the same rows.
    pub seed: u64,
    /// Rows on the left.
    pub left: usize,
    /// Rows on the right.
    pub right: usize,
    /// Distinct values per column.
    pub keys: u64,
    /// Whether nullable columns get NULLs.
    #[serde(default)]
    pub nulls: bool,
}

/// When the caller closes the executor: after this many result chunks came out of `Next` (0:
/// before the first `Next`), whatever the goroutines are doing then.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloseSpec {
    /// Result chunks taken before `Close`.
    pub after_chunks: usize,
}

/// A failpoint to arm.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailpointSpec {
    /// The failpoint's name: TiDB's (`splitPartitionPanic`, `killedDuringBuildSpill`,
    /// `Issue59377`, …), or `panicOrError@<function>` for TiDB's `panicOrError` at one
    /// `triggerIntest` site (`panicOrError@fetchProbeSideChunks`, …).
    pub name: String,
    /// What it does when hit.
    pub action: FailActionSpec,
    /// How many hits do nothing before it fires (pingcap/failpoint's `N*off->` term; 0 by default).
    #[serde(default)]
    pub after: usize,
}

/// What an armed failpoint does.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailActionSpec {
    /// Return an error at the point.
    Error,
    /// Panic at the point, as Go does: recovered where TiDB recovers, fatal elsewhere.
    Panic,
    /// Block at the point until the executor is closed (pingcap/failpoint's `pause`).
    Pause,
}

/// Executor settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exec {
    /// Workers of each kind.
    pub concurrency: usize,
    /// Rows per chunk of the children.
    pub chunk_size: usize,
    /// Rows per result chunk (TiDB's `tidb_max_chunk_size`); absent: `chunk_size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chunk_size: Option<usize>,
    /// Rows per row table segment.
    pub segment_rows: usize,
    /// Memory quota in bytes.
    pub quota: Option<usize>,
    /// Spill round limit.
    pub max_spill_round: usize,
    /// Where memory is charged to the quota: `scaled` to the model's byte-sized quotas, or `tidb`
    /// as TiDB does (`join_model::spill::MemoryCharge`).
    pub memory: MemorySpec,
    /// Runs of the same executor after the first (`Open` after `Close`, as Apply does).
    #[serde(skip_serializing_if = "is_zero")]
    pub reopen: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Exec {
    fn default() -> Exec {
        Exec {
            concurrency: 2,
            chunk_size: 1,
            max_chunk_size: None,
            segment_rows: 4,
            quota: None,
            max_spill_round: 2,
            memory: MemorySpec::Scaled,
            reopen: 0,
        }
    }
}

/// Where memory is charged to the quota.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum MemorySpec {
    #[default]
    Scaled,
    Tidb,
}

/// One strategy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StrategySpec {
    /// loom, exhaustive up to the bound.
    Loom {
        /// Preemption bound.
        preemption_bound: usize,
        /// Reach the bound step by step (0, 1, …), as CHESS does (the default), or explore at the
        /// bound directly.
        #[serde(default = "yes")]
        iterative: bool,
        /// Cap on executions.
        #[serde(default)]
        max_executions: Option<u64>,
    },
    /// joinrace's DPOR explorer (source sets and sleep sets) on shuttle, exhaustive up to the
    /// bound; unlike loom it runs the whole executor.
    Dpor {
        /// Preemption bound (absent: unbounded).
        #[serde(default)]
        preemption_bound: Option<usize>,
        /// With a bound, reach it step by step (0, 1, …) (the default), or explore at it directly.
        #[serde(default = "yes")]
        iterative: bool,
        /// Cap on executions.
        #[serde(default)]
        max_executions: Option<u64>,
    },
    /// shuttle random.
    Random {
        /// Seed.
        seed: u64,
        /// Executions.
        iterations: u64,
    },
    /// shuttle PCT.
    Pct {
        /// Seed.
        seed: u64,
        /// Executions.
        iterations: u64,
        /// Bug depth.
        depth: usize,
    },
}

fn yes() -> bool {
    true
}

/// The expected outcome.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expect {
    /// A data race whose two sites (innermost model frames) are these, in either order.
    Race {
        /// The two sites.
        between: [String; 2],
    },
    /// No failure, and every result equals the reference join.
    Clean,
    /// The join fails with an error whose message starts with this (executor only).
    Error {
        /// The message's start.
        message: String,
        /// The panics recovered on the way (TiDB logs them), by message start: each must be
        /// recovered at least once and every recovered panic must match one. None by default.
        #[serde(default)]
        recovered: Vec<String>,
    },
    /// Some execution crashes: a panic that no `recover` catches (Go prints `panic: <message>` and
    /// the goroutine's stack, and the process exits 2), whose message starts with this. The
    /// model's own findings (a wrong result, a failed check) are not it; the executions that do
    /// not crash may end either way.
    Panic {
        /// The message's start.
        message: String,
    },
    /// Every goroutine blocked for good (a hung query; Go's `all goroutines are asleep`), with a
    /// goroutine blocked inside each of these frames (a frame of its stack), found by some
    /// execution; the executions that do not hang may end either way.
    Deadlock {
        /// The frames.
        blocked: Vec<String>,
    },
    /// The code under test returned but goroutines are left blocked (goleak's report), one inside
    /// each of these frames, found by some execution.
    Leak {
        /// The frames.
        blocked: Vec<String>,
    },
    /// Every execution ends soundly, as the hunt (FINDINGS.md) requires of an executor with a
    /// failpoint or Close armed: with an error, or with the reference join's rows and no armed
    /// failpoint having fired (a success after one fired has lost its error); recovered panics
    /// allowed (TiDB logs them and returns their error). No race, hang, leak or crash (executor
    /// only).
    Sound,
    /// Some execution's join succeeds with a result other than the reference join's (build rows
    /// lost, say, where an error was due); executions that fail are not the symptom and pass
    /// (executor only).
    WrongResult {
        /// As for `error`.
        #[serde(default)]
        recovered: Vec<String>,
        /// An error every execution owes (by message start): an execution that succeeds is then
        /// the symptom even with the reference join's rows (the error was lost), and one that
        /// fails must fail with it.
        #[serde(default)]
        error: Option<String>,
    },
}

impl Expect {
    /// Whether some execution must fail (a race, a wrong result, a panic, a hang or a leak); `clean`
    /// and `error` forbid failures.
    pub fn must_find(&self) -> bool {
        !matches!(self, Expect::Clean | Expect::Sound | Expect::Error { .. })
    }

    /// Its `outcome` as a scenario file writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Expect::Race { .. } => "race",
            Expect::Clean => "clean",
            Expect::Sound => "sound",
            Expect::Error { .. } => "error",
            Expect::Panic { .. } => "panic",
            Expect::Deadlock { .. } => "deadlock",
            Expect::Leak { .. } => "leak",
            Expect::WrongResult { .. } => "wrong-result",
        }
    }

    /// The error every execution owes, by message start: `error`'s message, or `wrong-result`'s
    /// error when it names one.
    pub fn error_due(&self) -> Option<&str> {
        match self {
            Expect::Error { message, .. } => Some(message),
            Expect::WrongResult { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// The panics the scenario expects recovered (by message start); none but for `error` and
    /// `wrong-result`.
    pub fn recovered(&self) -> &[String] {
        match self {
            Expect::Error { recovered, .. } | Expect::WrongResult { recovered, .. } => recovered,
            Expect::Race { .. }
            | Expect::Clean
            | Expect::Sound
            | Expect::Panic { .. }
            | Expect::Deadlock { .. }
            | Expect::Leak { .. } => &[],
        }
    }
}

/// A scenario file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (1-based) the error points at.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Parses a scenario from `text`, naming `path` in errors.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, LoadError> {
    let scenario = toml::from_str::<Scenario>(text).map_err(|e| {
        let start = e.span().map_or(0, |s| s.start.min(text.len()));
        let line = text.as_bytes()[..start].iter().filter(|&&b| b == b'\n').count() + 1;
        // serde names the field only when it is missing or unknown: a wrong type or value says
        // what it expected, not where.
        let message = match field_at(text, start) {
            Some(field) if !field.is_empty() => format!("{field}: {}", e.message()),
            _ => e.message().to_string(),
        };
        LoadError::Invalid { path: path.to_path_buf(), line, message }
    })?;
    // The name becomes part of file names (`<name>-<strategy>.schedule`): no path, no surprise.
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let name = &scenario.name;
    if name.is_empty() || name.len() > 100 || name.starts_with('.') || !name.chars().all(valid) {
        let message =
            format!("name: {name:?} is not a scenario name (1 to 100 of A-Z a-z 0-9 - _ ., not starting with .)");
        return Err(LoadError::Invalid { path: path.to_path_buf(), line: name_line(text), message });
    }
    Ok(scenario)
}

/// The line of the top-level `name` field (1 when it cannot be found).
fn name_line(text: &str) -> usize {
    field_line(text, "name")
}

/// The line where `field` (`tidb`, `exec.concurrency`, `rows.generate.keys`, `strategy[2].depth`
/// for the third `[[strategy]]`, …) is written in a scenario's text: its key in its table, or the
/// table's header; 1 when it is not written.
pub fn field_line(text: &str, field: &str) -> usize {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (Some(t), k),
        None => (None, field),
    };
    // `strategy[2]`: the third table of that name.
    let (table, nth) = match table.and_then(|t| t.strip_suffix(']')?.split_once('[')) {
        Some((t, n)) => (Some(t), n.parse::<usize>().ok()),
        None => (table, None),
    };
    let header = |l: &str| l.starts_with('[').then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let is_key = |l: &str| l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='));
    let (mut in_table, mut seen, mut table_line) = (table.is_none(), 0, None);
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if let Some(name) = header(l) {
            if name == field {
                return i + 1;
            }
            let named = Some(name.as_str()) == table;
            in_table = named && nth.is_none_or(|n| n == seen);
            seen += usize::from(named);
            if table_line.is_none() && (in_table || (table.is_none() && name == key)) {
                table_line = Some(i + 1);
            }
            continue;
        }
        if in_table && is_key(l) {
            return i + 1;
        }
    }
    match (table_line, field.rsplit_once('.')) {
        (Some(line), _) => line,
        // A key of an inline table (`join.other.op`): the line of the table's own key.
        (None, Some((parent, _))) => field_line(text, parent),
        (None, None) => 1,
    }
}

/// The field (`exec.concurrency`, `strategy[1].depth`, `rows` for a table's own error) whose
/// value or key is at byte `offset` of a scenario's text, as [`field_line`] finds it again; the
/// empty string at the top level outside any key, `None` when the offset is in no line.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let mut table = String::new();
    let mut seen: Vec<String> = Vec::new();
    // The headers up to this line's, which is the table's own when the error is at its header.
    for l in text[..line_start + line.len()].lines().map(str::trim_start).filter(|l| l.starts_with('[')) {
        let name = l.split('#').next().unwrap_or_default().trim().trim_matches(|c| c == '[' || c == ']').trim();
        table = if l.starts_with("[[") {
            let nth = seen.iter().filter(|t| *t == name).count();
            seen.push(name.to_string());
            format!("{name}[{nth}]")
        } else {
            name.to_string()
        };
    }
    // An error at a value names its key; one at a key or a header names the table.
    let key = line.split_once('=').filter(|(k, _)| line_start + k.len() < offset).map(|(k, _)| k.trim());
    let key = key.filter(|k| !k.starts_with('[') && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    Some(match key {
        Some(k) if table.is_empty() => k.to_string(),
        Some(k) => format!("{table}.{k}"),
        None => table,
    })
}

/// The largest scenario file read: ten times the largest inline input of `MAX_ROWS` rows of a
/// few columns. Larger inputs are generated (`[rows.generate]`); a file of gigabytes would be read
/// into memory whole, and every execution copies its rows.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads and parses the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let invalid = |line: usize, message: String| LoadError::Invalid { path: path.to_path_buf(), line, message };
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    // A FIFO or a device would block or never end: only a regular file is read.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(invalid(1, "file: not a regular file".into()));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let message = format!("file: more than {MAX_FILE_BYTES} bytes (generate large inputs with [rows.generate])");
        return Err(invalid(1, message));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        invalid(line, format!("file: not UTF-8 (byte {at})"))
    })?;
    parse(path, &text)
}

/// Every `*.toml` scenario in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Scenario)>, LoadError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let files: Vec<(PathBuf, Scenario)> =
        paths.into_iter().map(|p| load(&p).map(|s| (p, s))).collect::<Result<_, _>>()?;
    // `run NAME` and schedule files find a scenario by name: two files may not share one.
    for (i, (path, s)) in files.iter().enumerate() {
        if let Some((first, _)) = files[..i].iter().find(|(_, t)| t.name == s.name) {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let message = format!("name: {:?} is also the name of {}", s.name, first.display());
            return Err(LoadError::Invalid { path: path.clone(), line: name_line(&text), message });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_s_name_is_the_file_s() {
        for t in [Target::ProbeSlice, Target::RestoreSlice, Target::BuildSlice, Target::Executor] {
            assert_eq!(toml::Value::try_from(t).expect("serialises"), toml::Value::String(t.name().into()));
        }
    }

    const GOOD: &str = r#"
name = "n"
issue = "i"
description = "d"
target = "probe-slice"

[join]
type = "inner"
build = "right"
left = ["int"]
right = ["int"]
left_keys = [0]
right_keys = [0]

[rows]
left = [[1], ["NULL"]]

[[strategy]]
kind = "random"
seed = 1
iterations = 10

[expect]
outcome = "clean"
"#;

    fn err(text: &str) -> String {
        parse(Path::new("catalog/x.toml"), text).expect_err("invalid").to_string()
    }

    #[test]
    fn fields_are_found_on_their_lines() {
        let text = "name = \"x\"\ntidb = \"y\"\n[exec]\nconcurrency = 2\n[[strategy]]\nkind = \"pct\"\ndepth = 0\n[rows.generate]\nkeys = 0\n";
        assert_eq!(field_line(text, "tidb"), 2);
        assert_eq!(field_line(text, "exec.concurrency"), 4);
        assert_eq!(field_line(text, "strategy"), 5);
        assert_eq!(field_line(text, "strategy.depth"), 7);
        assert_eq!(field_line(text, "strategy[0].depth"), 7);
        assert_eq!(field_line(text, "strategy[1].depth"), 1);
        assert_eq!(field_line(text, "rows.generate.keys"), 9);
        assert_eq!(field_line(text, "exec.chunk_size"), 3);
        assert_eq!(field_line(text, "bugs"), 1);
    }

    #[test]
    fn a_name_is_no_path() {
        for bad in ["../../escape", "", ".hidden", "a/b", "a b"] {
            let text = GOOD.replace("name = \"n\"", &format!("name = {bad:?}"));
            assert_ne!(text, GOOD);
            let e = err(&text);
            assert!(e.contains(":2: name:") && e.contains("is not a scenario name"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_good_file_parses() {
        let s = parse(Path::new("x.toml"), GOOD).expect("valid");
        assert_eq!(s.rows.left[1], vec![ValueSpec::Str("NULL".into())]);
        assert_eq!(s.strategies, vec![StrategySpec::Random { seed: 1, iterations: 10 }]);
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let text = GOOD.replace("[rows]", "[rows]\ncolour = 3");
        let e = err(&text);
        assert!(e.starts_with("catalog/x.toml:16: "), "{e}");
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = err(&GOOD.replace("seed = 1", "seed = \"one\""));
        assert!(e.contains("catalog/x.toml:"), "{e}");
        assert!(e.contains("invalid type") || e.contains("seed"), "{e}");
    }

    #[test]
    fn unknown_enum_value_lists_the_choices() {
        let e = err(&GOOD.replace("target = \"probe-slice\"", "target = \"everything\""));
        assert!(e.starts_with("catalog/x.toml:5: "), "{e}");
        assert!(e.contains("probe-slice"), "{e}");
    }

    /// serde names no field for a wrong type or value: the error names the key at that line, or
    /// the table at its header (issue 20).
    #[test]
    fn a_wrong_value_names_its_field_and_a_missing_one_its_table() {
        let e = err(&GOOD.replace("left_keys = [0]", "left_keys = [\"zero\"]"));
        assert!(e.starts_with("catalog/x.toml:12: join.left_keys: invalid type: string \"zero\""), "{e}");
        // A `[[strategy]]` is read whole by its `kind` first: toml points at the table.
        let e = err(&GOOD.replace("seed = 1", "seed = \"one\""));
        assert!(e.starts_with("catalog/x.toml:18: strategy[0]: invalid type"), "{e}");
        let e = err(&GOOD.replace("type = \"inner\"", "type = \"outer\""));
        assert!(e.starts_with("catalog/x.toml:8: join.type: unknown variant `outer`"), "{e}");
        let e = err(&GOOD.replace("iterations = 10\n", ""));
        assert!(e.starts_with("catalog/x.toml:18: strategy[0]: missing field `iterations`"), "{e}");
        let e = err(&format!("{GOOD}[rows.generate]\nseed = 1\n"));
        let header = GOOD.lines().count() + 1;
        assert!(e.starts_with(&format!("catalog/x.toml:{header}: rows.generate: missing field `left`")), "{e}");
    }

    /// Only a regular UTF-8 file of at most `MAX_FILE_BYTES` is read; a FIFO used to block the
    /// program for good, bytes that are not UTF-8 gave an error with no line.
    #[test]
    fn a_file_that_is_no_scenario_text_names_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let load_err = |name: &str, bytes: Option<&[u8]>| {
            let path = dir.path().join(name);
            if let Some(b) = bytes {
                std::fs::write(&path, b).expect("write");
            }
            let e = load(&path).expect_err("refused").to_string();
            e.strip_prefix(&format!("{}:", path.display())).expect("names the file").to_string()
        };
        assert_eq!(load_err("u.toml", Some(b"name = \"x\"\nissue = \"\xff\"\n")), "2: file: not UTF-8 (byte 20)");
        let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
        assert!(load_err("big.toml", Some(&big)).starts_with("1: file: more than 16777216 bytes"));
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(made.success());
        assert_eq!(load_err("fifo.toml", None), "1: file: not a regular file");
    }

    #[test]
    fn missing_field_is_named() {
        let e = err(&GOOD.replace("issue = \"i\"\n", ""));
        assert!(e.contains("missing field `issue`"), "{e}");
    }
}
