//! `joinrace`: runs and lists the scenario catalog, replays and minimises failing schedules.
//!
//! Exit status: 0 when every outcome matches its expectation (or a replay reproduces its
//! failure), 1 when one does not, 2 on bad input (an unreadable or invalid scenario or schedule
//! file, an unknown scenario name, a schedule that no longer fits its scenario, a bad argument).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Explorations allocate at every step of every execution, and with several jobs free on one
/// thread what another allocated: mimalloc runs DPOR about a third faster than the system
/// allocator on one job, and lets two jobs scale.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use indicatif::ProgressStyle;

use clap::{Parser, Subcommand};
use harness::explore::{Probing, SpaceEstimate};
use harness::{Outcome, Progress, Shard};
use scenarios::format::{load_dir, Scenario, StrategySpec};
use scenarios::model::{build_at, Model};
use scenarios::schedules::{self, ScheduleError};
use scenarios::{shrink, verdict};
use terminal::Capture;

mod terminal;

/// Deterministic concurrency tests for TiDB's hash join v2 executor.
#[derive(Debug, Parser)]
#[command(name = "joinrace", version)]
struct Cli {
    /// The catalog directory (default: `scenarios/catalog` of the joinrace checkout the working
    /// directory is in).
    #[arg(long, global = true)]
    catalog: Option<PathBuf>,
    /// Puts `run`'s spill files on disk, in a directory of this run under DIR that is removed at
    /// the end and on SIGINT or SIGTERM (default: memory-backed files, nothing on disk).
    #[arg(long, global = true, value_name = "DIR")]
    spill_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs scenarios under each of their strategies and prints one row per run.
    Run {
        /// Scenario names to run.
        names: Vec<String>,
        /// Runs every scenario of the catalog.
        #[arg(long)]
        all: bool,
        /// Overrides the seed of every random and PCT strategy.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Runs every random and PCT strategy once per seed in A..B (end excluded), so several
        /// machines can share one exploration.
        #[arg(long, value_parser = parse_range)]
        seeds: Option<std::ops::Range<u64>>,
        /// Where to write the schedule of every failure (default: `target/joinrace/schedules`, or
        /// `$JOINRACE_SCHEDULE_DIR`).
        #[arg(long)]
        schedule_dir: Option<PathBuf>,
        /// Writes failing schedules as found, without minimising them first.
        #[arg(long)]
        no_minimize: bool,
        /// Threads (default: the machine's cores): a random or PCT exploration's executions are
        /// split over them, a DPOR exploration's window of branches too, and loom explorations
        /// (which cannot be split) run this many at once; rows, counts and verdicts are those of
        /// one thread.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: Option<u16>,
        /// Runs shard K of N (1-based) of this run, so that N machines cover what one run covers:
        /// the executions K, K+N, K+2N, … of every random or PCT exploration that must stay clean
        /// (and PCT's execution 1, which measures what the others draw over), every Nth of the
        /// branches such a DPOR exploration deals round the shards whenever 8 wait (the shards
        /// together reach every interleaving one run reaches, some twice), and every Nth of the
        /// other explorations, whole, starting at the Kth.
        #[arg(long, value_parser = parse_shard, value_name = "K/N")]
        shard: Option<Shard>,
    },
    /// Lists the catalog's scenarios and their strategies.
    List,
    /// Replays a schedule file exactly and prints the failure and its per-goroutine trace.
    Replay {
        /// The schedule file.
        file: PathBuf,
        /// Also writes the trace as a self-contained HTML timeline.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Shrinks a schedule file to the fewest preemptions that fail the same way.
    Minimize {
        /// The schedule file.
        file: PathBuf,
        /// Where to write the result (default: next to the input, as `<name>.min.schedule`).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `joinrace` when that name on `PATH` is this program; else this program's path, so that a
/// printed command also works after `cargo run`.
fn program_name() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else { return "joinrace".into() };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| std::fs::canonicalize(d.join("joinrace")).is_ok_and(|p| p == me))
    });
    if on_path {
        "joinrace".into()
    } else {
        me.display().to_string()
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("expected K/N, got {s:?}"))?;
    let k: u64 = k.parse().map_err(|e| format!("{k:?}: {e}"))?;
    let n: u64 = n.parse().map_err(|e| format!("{n:?}: {e}"))?;
    if k == 0 || k > n {
        return Err(format!("shard {s}: K must be 1 to N"));
    }
    Ok(Shard { k: k - 1, n })
}

fn parse_range(s: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("expected A..B, got {s:?}"))?;
    let a: u64 = a.parse().map_err(|e| format!("{a:?}: {e}"))?;
    let b: u64 = b.parse().map_err(|e| format!("{b:?}: {e}"))?;
    if a >= b {
        return Err(format!("empty range {s}"));
    }
    Ok(a..b)
}

/// Set by SIGINT, SIGTERM or SIGHUP: the exploration running then loses its spill directory, so
/// its outcome means nothing and is never reported; the handler ends the process (status 128 + the
/// signal: 130, 143, 129).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Runs reported so far and in all, for the line an interrupt prints.
static RUNS_DONE: AtomicUsize = AtomicUsize::new(0);
static RUNS_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// How a run's spill directory under `--spill-dir` starts: then the process id, so that a later
/// run can tell the directories of dead processes (killed by SIGKILL) from those of live ones.
const RUN_DIR_PREFIX: &str = "joinrace-run-";

/// Removes the spill directories that processes no longer running left in `dir`.
fn sweep_dead_runs(dir: &Path) -> std::io::Result<()> {
    // Without /proc (off Linux) a live process cannot be told from a dead one: sweep nothing.
    if !Path::new("/proc/self").exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(RUN_DIR_PREFIX)).and_then(|r| r.split('-').next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// Waits for the interrupt handler to end the process, if an interrupt came.
fn stop_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    // Output piped into `head` ends the program quietly when the reader leaves, as other Unix
    // tools end, instead of a panic on the failed write.
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    terminal::original_stderr();
    // With --spill-dir, every spill directory of this run goes under one directory of its own,
    // removed when the run ends, and on SIGINT or SIGTERM before the process exits: no spill file
    // outlives a run, interrupted or not. (Memory-backed spill files need no cleaning.)
    let spill_root = match &cli.spill_dir {
        None => None,
        Some(d) => match sweep_dead_runs(d).and_then(|()| {
            tempfile::Builder::new().prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id())).tempdir_in(d)
        }) {
            Ok(root) => Some(root),
            Err(e) => {
                eprintln!("joinrace: cannot create a directory for spill files in {}: {e}", d.display());
                return ExitCode::from(2);
            }
        },
    };
    let root = spill_root.as_ref().map(|d| d.path().to_path_buf());
    let handler_root = root.clone();
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("joinrace: cannot handle interrupts: {e}");
            return ExitCode::from(2);
        }
    };
    std::thread::spawn(move || {
        let Some(signal) = signals.forever().next() else { return };
        INTERRUPTED.store(true, Ordering::SeqCst);
        if let Some(root) = &handler_root {
            // The run goes on while this thread cleans up: move the root away first, so that no
            // new spill file appears in it (creating one under the old path fails), then remove it.
            let dying = root.with_extension("interrupted");
            let target = if std::fs::rename(root, &dying).is_ok() { dying } else { root.clone() };
            for _ in 0..100 {
                if std::fs::remove_dir_all(&target).is_ok() || !target.exists() {
                    break;
                }
            }
        }
        let (done, total) = (RUNS_DONE.load(Ordering::SeqCst), RUNS_TOTAL.load(Ordering::SeqCst));
        let line = if total > 0 {
            format!("joinrace: interrupted after {done} of {total} runs; the one running is not reported\n")
        } else {
            "joinrace: interrupted before any run started\n".to_string()
        };
        // Not `eprintln!`: stderr may be captured right now, and the process ends here.
        if let Some(mut stderr) = terminal::original_stderr() {
            let _ = std::io::Write::write_all(&mut stderr, line.as_bytes());
        }
        // The shell's convention: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
        std::process::exit(128 + signal);
    });
    let code = run_command(cli, root.as_deref());
    stop_if_interrupted();
    drop(spill_root);
    code
}

fn run_command(cli: Cli, spill_dir: Option<&Path>) -> ExitCode {
    // The catalog: --catalog, or the one of the checkout the working directory is in. Schedules go
    // under that checkout's target/ (or the working directory's, outside one).
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let checkout = scenarios::find_checkout(&cwd);
    let dir = match (&cli.catalog, &checkout) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(root)) => Some(root.join("scenarios/catalog")),
        (None, None) => None,
    };
    let root = checkout.unwrap_or_else(|| cwd.clone());
    let files = match &dir {
        Some(dir) => match load_dir(dir) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("joinrace: {e}");
                return ExitCode::from(2);
            }
        },
        // A schedule file carries its scenario: replay and minimise need no catalog.
        None if matches!(cli.command, Command::Replay { .. } | Command::Minimize { .. }) => Vec::new(),
        None => {
            eprintln!(
                "joinrace: no catalog: {} is not inside a joinrace checkout (none of it or its parents has \
                 scenarios/catalog/); pass --catalog DIR",
                cwd.display()
            );
            return ExitCode::from(2);
        }
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from("(no catalog)"));
    // How the printed replay commands name this program and the catalog.
    let program = program_name();
    let replay_cmd = match &cli.catalog {
        Some(c) => format!("{program} --catalog {} replay", c.display()),
        None => format!("{program} replay"),
    };
    match cli.command {
        Command::List => {
            // The bug switches are the one long field: on a line of their own, so rows fit.
            let mut rows = vec![["scenario", "target", "tidb", "expects", "strategies"].map(String::from)];
            let mut bugs = vec![String::new()];
            for (path, s) in &files {
                let model = match build_at(path, s) {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("joinrace: {e}");
                        return ExitCode::from(2);
                    }
                };
                let strategies: Vec<String> = s.strategies.iter().map(StrategySpec::name).collect();
                let b = model.bugs().to_string();
                bugs.push(if s.bugs.is_some() { format!("{b} (override)") } else { b });
                let (target, expects) = (s.target.name().to_string(), s.expect.name().to_string());
                rows.push([s.name.clone(), target, model.commit().id.to_string(), expects, strategies.join(", ")]);
            }
            let width = |c: usize| rows.iter().map(|r| r[c].len()).max().unwrap_or(0);
            let widths = [width(0), width(1), width(2), width(3)];
            for (r, b) in rows.iter().zip(&bugs) {
                println!(
                    "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2],
                    w3 = widths[3]
                );
                if !b.is_empty() && b != "none" {
                    println!("    bugs: {b}");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Replay { file, html } => replay(&file, html.as_deref(), &files, &dir),
        Command::Minimize { file, output } => minimize(&file, output, &files, &dir, &replay_cmd),
        Command::Run { names, all, seed, seeds, schedule_dir, no_minimize, jobs, shard } => {
            let chosen: Vec<&(PathBuf, Scenario)> = if all {
                files.iter().collect()
            } else {
                let mut chosen = Vec::new();
                for n in &names {
                    match files.iter().find(|(_, s)| &s.name == n) {
                        Some(file) => chosen.push(file),
                        None => {
                            eprintln!("joinrace: no scenario named {n:?} in {}", dir.display());
                            return ExitCode::from(2);
                        }
                    }
                }
                chosen
            };
            if chosen.is_empty() {
                eprintln!("joinrace: name scenarios to run, or pass --all");
                return ExitCode::from(2);
            }
            let schedule_dir = schedule_dir.unwrap_or_else(|| schedules::default_dir(&root));
            let saving = Saving { dir: schedule_dir, minimise: !no_minimize, replay_cmd };
            let jobs = jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
            let split = Split { jobs, shard: shard.unwrap_or(Shard::ALL) };
            run(&chosen, seed, seeds, &saving, spill_dir, split)
        }
    }
}

/// Explores `model` under `st` while a progress bar on stderr shows executions per second, distinct
/// interleavings and the current preemption bound (hidden when stderr is not a terminal, so logs
/// stay clean). Seeded strategies know their total, and show an ETA; so does unbounded DPOR, by
/// its size estimate (made first); loom and bounded DPOR do not, unless capped. Returns the
/// outcome, shuttle's stderr lines, kept aside, and the estimate.
fn explore_with_progress(label: &str, model: &Model, st: &StrategySpec, split: Split) -> Explored {
    let capture = Capture::start();
    let strategy = st.strategy().with_shard(split.shard);
    let Shard { k, n } = split.shard;
    let estimate = matches!(st, StrategySpec::Dpor { preemption_bound: None, max_executions: None, .. })
        .then(|| model.estimate_dpor(Probing::DEFAULT.per_shard(n), 1));
    // A shard runs its share of a random or PCT exploration's executions, and every PCT shard
    // execution 0 (`harness/src/explore/pct.rs`). A DPOR shard's part of the whole is not known
    // ahead (README: the shards of one DPOR exploration can differ several times over), so it shows
    // no ETA.
    let share = |t: u64| t.saturating_sub(k).div_ceil(n) + u64::from(st.kind() == "pct" && k > 0 && t > 0);
    let whole = estimate.as_ref().filter(|e| e.stopped.is_none() && n == 1);
    let total = st
        .total()
        .map(|t| if matches!(st.kind(), "random" | "pct") { share(t) } else { t })
        .or_else(|| whole.map(|e| e.executions.mean.round() as u64));
    let bar = capture.progress_bar(total);
    let template = match total {
        Some(_) => "{spinner} {msg} {pos}/{len} executions {bar:20} {elapsed} (ETA {eta})",
        None => "{spinner} {msg} {pos} executions {elapsed}",
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.set_message(label.to_string());
    let progress = Progress::new();
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (bar, progress, done, label) = (bar.clone(), progress.clone(), done.clone(), label.to_string());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !done.load(Ordering::Relaxed) {
                let n = progress.executions();
                bar.set_position(n);
                let rate = n as f64 / start.elapsed().as_secs_f64().max(0.1);
                let bound = progress.bound().map_or(String::new(), |b| format!(", bound {b}"));
                bar.set_message(format!("{label}: {rate:.0}/s, {} distinct{bound},", progress.distinct()));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let outcome = model.explore_jobs(&strategy.with_progress(progress), split.jobs);
    stop_if_interrupted();
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    (outcome, capture.finish(), estimate)
}

/// An exploration's outcome, shuttle's stderr lines, and the size estimate made first (unbounded
/// DPOR).
type Explored = (Outcome, Vec<String>, Option<SpaceEstimate>);

/// Whether explorations of `st` are split over jobs and shards (random and PCT by execution, DPOR
/// by branch); the others (loom) run whole.
fn splits(st: &StrategySpec) -> bool {
    matches!(st.kind(), "random" | "pct" | "dpor")
}

/// How a run is spread: threads in this process, and the share of the whole run it covers.
#[derive(Clone, Copy, Debug)]
struct Split {
    jobs: usize,
    shard: Shard,
}

/// Explores every run on `jobs` threads, each taking the next run not yet taken; the outcomes come
/// back in the order of `runs`. An exploration is a function of its model and strategy, so the
/// outcomes are those one thread would compute (times aside).
fn explore_all(models: &[Model], runs: &[(usize, StrategySpec)], jobs: usize) -> Vec<Outcome> {
    let capture = Capture::start();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Outcome>>> = runs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for j in 0..jobs.min(runs.len()) {
            let (next, slots) = (&next, &slots);
            let worker = move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((i, st)) = runs.get(k) else { break };
                let outcome = models[*i].explore(&st.strategy());
                stop_if_interrupted();
                *slots[k].lock().expect("no job panics while holding its slot") = Some(outcome);
            };
            // The main thread's stack size: explorations recurse as deep on a job as they do there.
            let job = std::thread::Builder::new().name(format!("joinrace-job-{j}")).stack_size(8 << 20);
            job.spawn_scoped(scope, worker).expect("a job thread starts");
        }
    });
    // shuttle's lines cannot be told apart by job here; the rows say what failed.
    capture.finish();
    slots.into_iter().map(|m| m.into_inner().expect("no job panicked").expect("every run explored")).collect()
}

/// Over several seeds of one scenario and strategy kind: executions to first detection, median
/// and maximum (runs that found nothing are counted apart).
fn summarize(detections: &[(String, &'static str, Option<u64>)]) {
    let mut groups: Vec<(&str, &str)> = detections.iter().map(|(s, k, _)| (s.as_str(), *k)).collect();
    groups.dedup();
    for (scenario, k) in groups {
        let runs: Vec<Option<u64>> =
            detections.iter().filter(|(s, kk, _)| s == scenario && *kk == k).map(|(_, _, e)| *e).collect();
        let mut found: Vec<u64> = runs.iter().flatten().copied().collect();
        if runs.len() < 2 || found.is_empty() {
            continue;
        }
        found.sort_unstable();
        println!(
            "joinrace: {scenario} {k}: first detection over {} seeds: median {} executions, max {} ({} found nothing)",
            runs.len(),
            found[found.len() / 2],
            found[found.len() - 1],
            runs.len() - found.len()
        );
    }
}

/// Where and how failing runs leave their schedules.
struct Saving {
    dir: PathBuf,
    minimise: bool,
    /// `joinrace replay`, with `--catalog` when the catalog is not the default one.
    replay_cmd: String,
}

/// Writes the schedule of a failing run (minimised first) and says how to replay it.
fn save_schedule(s: &Scenario, path: &Path, model: &Model, outcome: &Outcome, label: &str, saving: &Saving) {
    let Saving { dir, minimise, replay_cmd } = saving;
    let Some(saved) = quiet(|| schedules::save(s, path, model, outcome, *minimise, dir, label)) else { return };
    let recorded = &saved.recorded;
    let (file, min) = (&recorded.file, &recorded.minimized);
    if let Some(problem) = &recorded.problem {
        eprintln!("joinrace: {}: schedule {problem}", s.name);
    }
    match &saved.written {
        Ok(p) => {
            let found = format!("{} steps, {}", file.schedule.steps.len(), preemptions(file.preemptions));
            let replays = |n: usize| if n == 1 { "1 replay".to_string() } else { format!("{n} replays") };
            let sizes = match min {
                Some(m) if (m.steps_before, m.preemptions_before) == (m.steps_after, m.preemptions_after) => {
                    format!("{found}, minimal as found: {} tried", replays(m.attempts))
                }
                Some(m) => format!(
                    "minimised from {} steps and {} to {} steps and {} in {}",
                    m.steps_before,
                    preemptions(m.preemptions_before),
                    m.steps_after,
                    preemptions(m.preemptions_after),
                    replays(m.attempts)
                ),
                None => found,
            };
            // The path without `..`, as a user would type it.
            let p = p.canonicalize().unwrap_or_else(|_| p.clone());
            println!("    schedule: {} ({sizes})", p.display());
            if recorded.replays {
                println!("    replay:   {replay_cmd} {}", p.display());
            }
        }
        Err(e) => eprintln!("joinrace: cannot write the schedule into {}: {e}", dir.display()),
    }
}

/// `pkg/executor/join.(*joinTableMeta).getSerializedKeyLength` as `(*joinTableMeta).getSerializedKeyLength`:
/// the package path of every Go frame in `text` dropped, for rows that fit a terminal.
fn short_frames(text: &str) -> String {
    let short = |word: &str| match word.rsplit_once('/') {
        Some((path, name)) if !path.is_empty() && !path.starts_with(['/', '.']) => {
            name.split_once('.').map_or(word.to_string(), |(_, f)| f.to_string())
        }
        _ => word.to_string(),
    };
    text.split(' ').map(short).collect::<Vec<_>>().join(" ")
}

fn preemptions(n: usize) -> String {
    format!("{n} preemption{}", if n == 1 { "" } else { "s" })
}

/// `joinrace replay`: exit 0 when the replay fails as recorded, 1 when it fails otherwise or passes.
fn replay(path: &Path, html: Option<&Path>, files: &[(PathBuf, Scenario)], catalog: &Path) -> ExitCode {
    let (loaded, r) = match load_and_replay(path, files, catalog) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let f = &loaded.file;
    if loaded.scenario_path == path {
        println!("scenario:    {} (as recorded, carried by the schedule file)", f.model);
    } else {
        println!("scenario:    {} ({})", f.model, loaded.scenario_path.display());
    }
    println!("recorded:    {} in execution {} of {}", f.failure, f.execution, f.strategy);
    println!("steps:       {} ({})", f.schedule.steps.len(), preemptions(r.preemptions));
    println!();
    match &r.outcome.failure {
        Some(fail) => println!("{}", fail.kind),
        None => println!("the replayed execution passed"),
    }
    println!();
    println!("{}", r.trace);
    if let Some(out) = html {
        let report = r.outcome.failure.as_ref().map(|f| f.kind.to_string()).unwrap_or_default();
        let page = r.trace.to_html(&format!("joinrace: {} ({})", f.model, f.summary), &report);
        if let Err(e) = std::fs::write(out, page) {
            eprintln!("joinrace: {}: {e}", out.display());
            return ExitCode::from(2);
        }
        println!("timeline:    {}", out.display());
    }
    if schedules::reproduced(&loaded, &r).is_ok() {
        println!("joinrace: the replay reproduces the recorded failure");
        ExitCode::SUCCESS
    } else {
        println!("joinrace: the replay does not reproduce the recorded failure ({})", f.summary);
        ExitCode::from(1)
    }
}

/// `joinrace minimize`.
fn minimize(
    path: &Path,
    output: Option<PathBuf>,
    files: &[(PathBuf, Scenario)],
    catalog: &Path,
    replay_cmd: &str,
) -> ExitCode {
    let (loaded, r) = match load_and_replay(path, files, catalog) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let failure = match schedules::reproduced(&loaded, &r) {
        Ok(f) => f.clone(),
        Err(got) => {
            println!("joinrace: the replay does not reproduce the recorded failure ({got}): nothing to minimise");
            return ExitCode::from(1);
        }
    };
    let m = match quiet(|| loaded.model.minimize(&loaded.file.schedule, schedules::same_failure(&failure.kind))) {
        Ok(m) => m,
        Err(e) => {
            println!("joinrace: {e}");
            return ExitCode::from(1);
        }
    };
    let mut file = loaded.file.clone();
    file.schedule = m.schedule.clone();
    file.preemptions = m.preemptions_after;
    file.failure = m.failure.kind.name().to_string();
    file.summary = m.failure.kind.summary();
    if file.model_source.is_none() {
        // Replayed on the catalog's scenario as it is now: the result carries that one.
        file.model_source = std::fs::read_to_string(&loaded.scenario_path).ok();
        if let Some((_, current)) = &loaded.hash_changed {
            file.model_hash = current.clone();
        }
    }
    let out = output.unwrap_or_else(|| path.with_extension("min.schedule"));
    if let Err(e) = std::fs::write(&out, file.encode()) {
        eprintln!("joinrace: {}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!("steps:       {} -> {}", m.steps_before, m.steps_after);
    println!("preemptions: {} -> {}", m.preemptions_before, m.preemptions_after);
    println!("replays:     {}", m.attempts);
    println!("written:     {}", out.display());
    println!("replay:      {replay_cmd} {}", out.display());
    // Then the scenario: the fewest rows and workers that still fail the same way.
    let shrunk = quiet(|| shrink::shrink(&loaded.scenario, &r.outcome, schedules::same_failure(&failure.kind)));
    match shrunk {
        Some(sh) => match write_shrunk(&sh, out.parent().unwrap_or(Path::new("."))) {
            Ok((dir, schedule)) => {
                let (b, a) = (sh.before, sh.after);
                println!(
                    "scenario:    {} rows -> {}, {} workers -> {}, {} goroutines -> {} ({} candidates)",
                    b.rows, a.rows, b.concurrency, a.concurrency, b.goroutines, a.goroutines, sh.tries
                );
                println!("written:     {}", dir.display());
                println!("replay:      {} --catalog {} replay {}", program_name(), dir.display(), schedule.display());
            }
            Err(e) => {
                eprintln!("joinrace: cannot write the shrunk scenario: {e}");
                return ExitCode::from(2);
            }
        },
        None => println!("scenario:    no smaller scenario fails the same way"),
    }
    ExitCode::SUCCESS
}

/// Writes a shrunk scenario and its minimised schedule into `<parent>/<name>/`, a catalog of one.
fn write_shrunk(sh: &shrink::Shrunk, parent: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let dir = parent.join(&sh.scenario.name);
    std::fs::create_dir_all(&dir)?;
    let toml_path = dir.join(format!("{}.toml", sh.scenario.name));
    let text = toml::to_string(&sh.scenario).map_err(std::io::Error::other)?;
    std::fs::write(&toml_path, text)?;
    let recorded = quiet(|| schedules::record(&sh.scenario, &toml_path, &sh.model, &sh.outcome, true))
        .ok_or_else(|| std::io::Error::other("the shrunk scenario's failure has no schedule"))?;
    if let Some(problem) = recorded.problem {
        return Err(std::io::Error::other(format!("its schedule {problem}")));
    }
    let schedule = dir.join(format!("{}.schedule", sh.scenario.name));
    std::fs::write(&schedule, recorded.file.encode())?;
    Ok((dir, schedule))
}

/// Runs `f` without shuttle's lines on stderr: it prints one for every failing execution, and
/// replays and minimisation fail many on purpose. Anything else `f` prints still shows.
fn quiet<R>(f: impl FnOnce() -> R) -> R {
    let capture = Capture::start();
    let r = f();
    capture.finish();
    r
}

/// Reads a schedule file, finds its scenario, warns if that changed, and replays it (quietly).
fn load_and_replay(
    path: &Path,
    files: &[(PathBuf, Scenario)],
    catalog: &Path,
) -> Result<(schedules::Loaded, harness::triage::Replayed), ExitCode> {
    let loaded = schedules::load(path, files, catalog).map_err(bad_input)?;
    warn_if_changed(&loaded);
    let r = quiet(|| schedules::replay(path, &loaded)).map_err(bad_input)?;
    Ok((loaded, r))
}

fn warn_if_changed(loaded: &schedules::Loaded) {
    if let Some((recorded, current)) = &loaded.hash_changed {
        let replayed = match loaded.file.model_source {
            Some(_) => "the scenario the schedule carries, as recorded",
            None => "the catalog's, as it is now",
        };
        eprintln!(
            "joinrace: warning: scenario {} changed in the catalog since the schedule was recorded (recorded \
             {recorded}, now {current}); replaying {replayed}",
            loaded.file.model
        );
    }
}

fn bad_input(e: ScheduleError) -> ExitCode {
    eprintln!("joinrace: {e}");
    ExitCode::from(2)
}

fn run(
    chosen: &[&(PathBuf, Scenario)],
    seed: Option<u64>,
    seeds: Option<std::ops::Range<u64>>,
    saving: &Saving,
    spill_dir: Option<&Path>,
    split: Split,
) -> ExitCode {
    // Every model first: a bad file is refused before anything runs.
    let mut models = Vec::new();
    for (path, s) in chosen.iter().copied() {
        match build_at(path, s) {
            Ok(m) => models.push(m.with_spill_dir(spill_dir)),
            Err(e) => {
                eprintln!("joinrace: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let runs: Vec<(usize, StrategySpec)> = chosen
        .iter()
        .enumerate()
        .flat_map(|(i, (_, s))| {
            s.strategies.iter().flat_map(|st| st.with_seeds(seed, seeds.as_ref())).map(move |st| (i, st))
        })
        .collect();
    // A shard runs its share of every random, PCT or DPOR exploration that must stay clean (each shard
    // must, and together they cover one run), and every Nth of the others, whole: an expected
    // failure must be found by one machine, or no machine could tell it was missed.
    let shard = split.shard;
    let by_execution = |i: usize, st: &StrategySpec| splits(st) && !models[i].expect().must_find();
    let runs: Vec<(usize, StrategySpec, Shard)> = runs
        .into_iter()
        .scan(0u64, |whole, (i, st)| {
            if by_execution(i, &st) {
                return Some(Some((i, st, shard)));
            }
            *whole += 1;
            Some(((*whole - 1) % shard.n == shard.k).then_some((i, st, Shard::ALL)))
        })
        .flatten()
        .collect();
    if runs.is_empty() {
        eprintln!("joinrace: shard {}/{} of this run has nothing to run", shard.k + 1, shard.n);
        return ExitCode::from(2);
    }
    // Columns as wide as this run's names, so that rows fit 120 columns; what was found goes on a
    // line of its own below the row, with short frame names (`joinrace replay` has the report).
    let name_w = chosen.iter().map(|(_, s)| s.name.len()).max().unwrap_or(0).max(8);
    // A shard's share of a random, PCT or DPOR exploration is named with the shard: `random-s1:2/3`.
    let label = |st: &StrategySpec, shard: &Shard| match *shard == Shard::ALL {
        true => st.name(),
        false => format!("{}:{}/{}", st.name(), shard.k + 1, shard.n),
    };
    let strategy_w = runs.iter().map(|(_, st, shard)| label(st, shard).len()).max().unwrap_or(0).max(8);
    println!(
        "{:<name_w$}  {:<strategy_w$}  {:>10}  {:>8}  {:<13}  {:>7}  verdict",
        "scenario", "strategy", "executions", "distinct", "scope", "time"
    );
    RUNS_TOTAL.store(runs.len(), Ordering::SeqCst);
    // With several jobs the explorations that cannot be split run on threads first; the random,
    // PCT and DPOR ones then run one at a time, split over the threads, while the rows are printed
    // in order.
    let unsplit: Vec<(usize, StrategySpec)> =
        runs.iter().filter(|(_, st, _)| split.jobs > 1 && !splits(st)).map(|(i, st, _)| (*i, st.clone())).collect();
    let mut done = explore_all(&models, &unsplit, split.jobs).into_iter();
    let mut all_ok = true;
    // Executions to first detection per (scenario, strategy kind), for the summary over seeds.
    let mut detections: Vec<(String, &'static str, Option<u64>)> = Vec::new();
    for (i, st, shard) in &runs {
        let ((path, s), model) = (chosen[*i], &models[*i]);
        let (outcome, shuttle_said, estimate) = match (split.jobs > 1 && !splits(st)).then(|| done.next()).flatten() {
            Some(o) => (o, Vec::new(), None),
            None => {
                let split = Split { shard: *shard, ..split };
                explore_with_progress(&format!("{} {}", s.name, st.name()), model, st, split)
            }
        };
        let verdict = verdict::judge(model.expect(), &outcome);
        all_ok &= verdict.ok;
        detections.push((s.name.clone(), st.kind(), outcome.failure.as_ref().map(|f| f.execution)));
        let scope = match (&outcome.failure, outcome.exhaustive, outcome.bound) {
            (Some(f), _, Some(b)) => format!("at #{} (pb{b})", f.execution),
            (Some(f), _, None) => format!("at #{}", f.execution),
            (None, _, _) if outcome.incomplete.is_some() => "incomplete".to_string(),
            (None, true, _) => "exhaustive".to_string(),
            // Every schedule, but a select with several ready cases took the first (loom).
            (None, false, _) if outcome.first_ready_case_only => "schedules only".to_string(),
            (None, false, _) => "sampled".to_string(),
        };
        let distinct = outcome.distinct.map_or("-".to_string(), |d| d.to_string());
        println!(
            "{:<name_w$}  {:<strategy_w$}  {:>10}  {:>8}  {:<13}  {:>6.2}s  {}",
            s.name,
            label(st, shard),
            outcome.executions,
            distinct,
            scope,
            outcome.elapsed.as_secs_f64(),
            if verdict.ok { "as expected" } else { "UNEXPECTED" }
        );
        if !verdict.ok || verdict.got != "clean" {
            let found = short_frames(&verdict.got);
            // A race's two sites, one per line: together they rarely fit; so for the goroutines
            // a deadlock or a leak blocked, which its summary lists.
            let blocked = outcome.failure.as_ref().filter(|f| !f.kind.blocked().is_empty());
            match (found.strip_prefix("race between ").and_then(|r| r.split_once(" and ")), blocked) {
                (Some((a, b)), _) => println!("    found:    race between {a}\n              and {b}"),
                (None, Some(f)) => {
                    println!("    found:    {}", f.kind.headline());
                    for g in f.kind.blocked() {
                        println!("              {}", short_frames(&g.line()));
                    }
                    // What the verdict adds after the summary (panics recovered as expected).
                    let tail = verdict.got.strip_prefix(&f.kind.summary()).unwrap_or_default();
                    if !tail.is_empty() {
                        println!("              {}", tail.trim_start_matches("; "));
                    }
                }
                (None, None) => println!("    found:    {found}"),
            }
        }
        if let Some(e) = estimate {
            // Knuth's estimator down the explorer's own tree, made before exploring (it can stay
            // low on large spaces; README).
            match (e.probes, e.stopped) {
                (0, Some(s)) => println!("    estimate: none, the first probe found: {}", short_frames(&s)),
                (n, stopped) => println!(
                    "    estimate: {:.0} ± {:.0} executions (95%, {n} probes, {} executions){}",
                    e.executions.mean,
                    e.executions.half_width,
                    e.cost,
                    stopped.map_or(String::new(), |s| format!("; then a probe found: {}", short_frames(&s)))
                ),
            }
        }
        if !verdict.ok {
            // shuttle's own lines, kept aside while exploring: here they may help.
            for line in &shuttle_said {
                println!("    shuttle:  {line}");
            }
        }
        RUNS_DONE.fetch_add(1, Ordering::SeqCst);
        if outcome.failure.is_some() {
            save_schedule(s, path, model, &outcome, &st.name(), saving);
        }
    }
    summarize(&detections);
    if all_ok {
        println!("joinrace: every outcome matches its expectation");
        ExitCode::SUCCESS
    } else {
        println!("joinrace: some outcomes did not match their expectation");
        ExitCode::from(1)
    }
}
