//! Schedule files of scenario failures: written for every failure (minimised first), replayed by
//! `joinrace replay`, shrunk by `joinrace minimize`.

use std::path::{Path, PathBuf};

use harness::report::FailureKind;
use harness::schedule::file::{DecodeError, ScheduleFile};
use harness::triage::{Minimized, Replayed};
use harness::{Failure, Outcome};

use crate::format::field_line;
use crate::format::Scenario;
use crate::model::{build, build_at, FileBuildError, Model};

/// Where failing schedules go unless `--schedule-dir` says otherwise: `$JOINRACE_SCHEDULE_DIR`, or
/// `target/joinrace/schedules` under `root` (the checkout, beside cargo's own output).
pub fn default_dir(root: &Path) -> PathBuf {
    match std::env::var_os("JOINRACE_SCHEDULE_DIR") {
        Some(d) => PathBuf::from(d),
        None => root.join("target/joinrace/schedules"),
    }
}

/// The scenario file's content hash, as a schedule file's header holds it.
pub fn scenario_hash(path: &Path) -> std::io::Result<String> {
    Ok(source_hash(&std::fs::read(path)?))
}

/// FNV-1a, 64 bits, of a scenario's text: stable across builds and platforms, unlike std's hasher.
fn source_hash(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("fnv1a64:{h:016x}")
}

/// What went wrong with a schedule file.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid schedule.
    #[error("{path}:{source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line and field.
        source: DecodeError,
    },
    /// No scenario of that name.
    #[error("{path}: model: no scenario named {name:?} in {catalog}")]
    UnknownScenario {
        /// The schedule file.
        path: PathBuf,
        /// The name in its header.
        name: String,
        /// Where it was looked for.
        catalog: String,
    },
    /// The scenario cannot be built.
    #[error("{source}")]
    Build {
        /// What is wrong, in which file and line.
        source: FileBuildError,
    },
    /// The scenario the file carries is not the one its header names.
    #[error("{path}: model source: {message}")]
    Carried {
        /// The schedule file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// The schedule does not fit the scenario any more.
    #[error("{path}: {message}")]
    Diverged {
        /// The schedule file.
        path: PathBuf,
        /// The step that diverged.
        message: String,
    },
}

/// A schedule file with the scenario it belongs to.
#[derive(Debug)]
pub struct Loaded {
    /// The file's contents.
    pub file: ScheduleFile,
    /// The scenario's path: its catalog file, or the schedule file when the scenario it carries
    /// is not in the catalog as recorded.
    pub scenario_path: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// The built model.
    pub model: Model,
    /// `Some((recorded, current))` when the catalog's scenario file changed since the schedule was
    /// recorded: a file that carries its scenario replays the recorded one, an older file the
    /// catalog's.
    pub hash_changed: Option<(String, String)>,
}

/// Reads a schedule file and finds its scenario: the one the file carries (as recorded), or else
/// the one of that name among `files` (the catalog `catalog`).
pub fn load(path: &Path, files: &[(PathBuf, Scenario)], catalog: &Path) -> Result<Loaded, ScheduleError> {
    let io = |source| ScheduleError::Io { path: path.into(), source };
    // A FIFO or a device would block or never end: only a regular file is read.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(io(std::io::Error::other("not a regular file")));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let file = ScheduleFile::decode(&bytes).map_err(|source| ScheduleError::Decode { path: path.into(), source })?;
    let in_catalog = files.iter().find(|(_, s)| s.name == file.model);
    let current = match in_catalog {
        Some((p, _)) => Some(scenario_hash(p).map_err(|source| ScheduleError::Io { path: p.clone(), source })?),
        None => None,
    };
    let hash_changed =
        current.as_ref().filter(|c| **c != file.model_hash).map(|c| (file.model_hash.clone(), c.clone()));
    let (scenario_path, scenario) = match (&file.model_source, in_catalog) {
        // The catalog holds the scenario as recorded: name its file.
        (_, Some(found)) if hash_changed.is_none() => found.clone(),
        (Some(source), _) => (path.to_path_buf(), carried_scenario(path, &file, source)?),
        (None, Some(found)) => found.clone(),
        (None, None) => {
            return Err(ScheduleError::UnknownScenario {
                path: path.into(),
                name: file.model.clone(),
                catalog: catalog.display().to_string(),
            })
        }
    };
    let model = match &file.model_source {
        Some(source) if scenario_path == path => build(&scenario).map_err(|error| ScheduleError::Build {
            source: FileBuildError { path: path.into(), line: carried_line(&bytes, source, &error.field), error },
        })?,
        _ => build_at(&scenario_path, &scenario).map_err(|source| ScheduleError::Build { source })?,
    };
    Ok(Loaded { file, scenario_path, scenario, model, hash_changed })
}

/// The scenario a schedule file carries, checked against the file's header: its hash is the
/// recorded one and its name the file's model, so a schedule never replays on another scenario.
fn carried_scenario(path: &Path, file: &ScheduleFile, source: &str) -> Result<Scenario, ScheduleError> {
    let carried = |message: String| ScheduleError::Carried { path: path.into(), message };
    if source_hash(source.as_bytes()) != file.model_hash {
        return Err(carried(format!(
            "the scenario it carries does not hash to its model-hash {} (the file was edited)",
            file.model_hash
        )));
    }
    let scenario = crate::format::parse(path, source).map_err(|e| carried(e.to_string()))?;
    if scenario.name != file.model {
        return Err(carried(format!("it carries scenario {:?} but names {:?}", scenario.name, file.model)));
    }
    Ok(scenario)
}

/// The line in the schedule file of `field` in the scenario it carries.
fn carried_line(bytes: &[u8], source: &str, field: &str) -> usize {
    let before = bytes.len() - source.len();
    bytes[..before].iter().filter(|&&b| b == b'\n').count() + field_line(source, field)
}

/// Replays a loaded schedule; a divergence is an error.
pub fn replay(path: &Path, loaded: &Loaded) -> Result<Replayed, ScheduleError> {
    let r = loaded.model.replay(&loaded.file.schedule);
    match r.outcome.failure.as_ref().map(|f| &f.kind) {
        Some(k @ FailureKind::Divergence { .. }) => {
            Err(ScheduleError::Diverged { path: path.into(), message: k.to_string() })
        }
        _ => Ok(r),
    }
}

/// The replay's failure when it is the one the file recorded (the same summary); otherwise what
/// the replay gave instead, in one line.
pub fn reproduced<'a>(loaded: &Loaded, r: &'a Replayed) -> Result<&'a Failure, String> {
    match &r.outcome.failure {
        Some(f) if recorded_as(&loaded.file.summary, &f.kind) => Ok(f),
        other => Err(other.as_ref().map_or("a passing execution".into(), |f| f.kind.summary())),
    }
}

/// Whether a file's `summary` records `kind`. Files written before 2026-12-06 summarised a
/// deadlock with the backend's own message (`deadlock! blocked tasks: …` from shuttle, `deadlock;
/// threads = …` from loom), which names tasks, not goroutines: their deadlock matches any.
fn recorded_as(summary: &str, kind: &FailureKind) -> bool {
    let backend_said = summary.starts_with("fatal error: all goroutines are asleep - deadlock! (deadlock");
    summary == kind.summary() || (backend_said && matches!(kind, FailureKind::Deadlock { .. }))
}

/// Whether `kind` is the same failure as `like`: the same pair of racing sites, or for other
/// failures the same kind.
pub fn same_failure(like: &FailureKind) -> impl Fn(&FailureKind) -> bool + '_ {
    let sites = like.race_sites();
    move |k| match &sites {
        Some(sites) => k.race_sites().as_ref() == Some(sites),
        None => k.name() == like.name(),
    }
}

/// The longest schedule a failure is minimised from: minimisation keeps a few copies of it and its
/// replays' records, and replays it up to 2,000 times.
const MAX_MINIMIZE_STEPS: usize = 200_000;

/// A failing run's schedule, ready to write.
#[derive(Debug)]
pub struct Recorded {
    /// The schedule file.
    pub file: ScheduleFile,
    /// The minimisation, when it ran and succeeded.
    pub minimized: Option<Minimized>,
    /// Why the schedule was not minimised, or does not replay to the same failure; `None` when
    /// all is well.
    pub problem: Option<String>,
    /// Whether replaying the file reproduces the failure (otherwise no replay command is shown).
    pub replays: bool,
}

/// A failing outcome of `scenario` (at `scenario_path`) as a schedule file, minimised unless
/// `minimise` is false. `None` when the outcome has no failure or no schedule (std).
pub fn record(
    scenario: &Scenario,
    scenario_path: &Path,
    model: &Model,
    outcome: &Outcome,
    minimise: bool,
) -> Option<Recorded> {
    let failure = outcome.failure.as_ref()?;
    let schedule = failure.schedule.clone()?;
    let same = same_failure(&failure.kind);
    // Minimisation replays the schedule up to thousands of times: not one this long.
    let too_long = schedule.steps.len() > MAX_MINIMIZE_STEPS;
    // Minimisation fails only when the schedule does not replay, which the replay below reports.
    let minimized = if minimise && !too_long { model.minimize(&schedule, &same).ok() } else { None };
    let mut problem = (minimise && too_long).then(|| {
        format!(
            "not minimised: {} steps, more than the {MAX_MINIMIZE_STEPS} a minimisation replays",
            schedule.steps.len()
        )
    });
    let (schedule, kind, preemptions, replays) = match &minimized {
        Some(m) => (m.schedule.clone(), &m.failure.kind, m.preemptions_after, true),
        None => {
            let r = model.replay(&schedule);
            let replays = r.outcome.failure.as_ref().is_some_and(|f| same(&f.kind));
            if !replays {
                let got = r.outcome.failure.map_or("a passing execution".into(), |f| f.kind.summary());
                problem = Some(format!("the schedule does not replay to the same failure (replay: {got})"));
            }
            (schedule, &failure.kind, r.preemptions, replays)
        }
    };
    // The scenario's text goes with its schedule, so the file replays where the catalog changed or
    // is absent.
    let source = std::fs::read_to_string(scenario_path).ok();
    let file = ScheduleFile {
        model: scenario.name.clone(),
        model_hash: source.as_deref().map(|s| source_hash(s.as_bytes())).unwrap_or_default(),
        model_source: source,
        strategy: outcome.strategy.to_string(),
        execution: failure.execution,
        failure: kind.name().to_string(),
        summary: kind.summary(),
        preemptions,
        schedule,
    };
    Some(Recorded { file, minimized, problem, replays })
}

/// Writes `file` into `dir` as `<scenario>-<label>.schedule` and returns its path.
pub fn write(dir: &Path, file: &ScheduleFile, label: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}-{label}.schedule", file.model));
    std::fs::write(&path, file.encode())?;
    Ok(path)
}

/// A failing run's schedule, recorded and written.
#[derive(Debug)]
pub struct Saved {
    /// The schedule and how it was made.
    pub recorded: Recorded,
    /// Where it was written, or why it could not be.
    pub written: std::io::Result<PathBuf>,
}

/// Records the schedule of a failing `outcome` of `scenario` (minimised unless `minimise` is false)
/// and writes it into `dir` as `<scenario>-<label>.schedule`: what `joinrace run` and the catalog
/// test do with every failure. `None` when the outcome has no failure or no schedule (std).
pub fn save(
    scenario: &Scenario,
    scenario_path: &Path,
    model: &Model,
    outcome: &Outcome,
    minimise: bool,
    dir: &Path,
    label: &str,
) -> Option<Saved> {
    // The schedule as found is on disk before minimising starts: a minimisation that is killed,
    // or that exhausts memory, leaves it behind.
    let found = record(scenario, scenario_path, model, outcome, false)?;
    let written = write(dir, &found.file, label);
    if !minimise || written.is_err() || !found.replays {
        return Some(Saved { recorded: found, written });
    }
    let recorded = record(scenario, scenario_path, model, outcome, true)?;
    let written = write(dir, &recorded.file, label);
    Some(Saved { recorded, written })
}
