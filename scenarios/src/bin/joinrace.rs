//! `joinrace`: runs and lists the scenario catalog.
//!
//! Exit status: 0 when every outcome matches its expectation, 1 when one does not, 2 on bad input
//! (an unreadable or invalid scenario file, an unknown scenario name, a bad argument).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use clap::{Parser, Subcommand};
use scenarios::format::{load_dir, Scenario, StrategySpec};
use scenarios::run::{build, strategy, strategy_name};

/// Deterministic concurrency tests for TiDB's hash join v2 executor.
#[derive(Debug, Parser)]
#[command(name = "joinrace", version)]
struct Cli {
    /// The catalog directory (default: the crate's `catalog/`).
    #[arg(long, global = true)]
    catalog: Option<PathBuf>,
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
    },
    /// Lists the catalog's scenarios and their strategies.
    List,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.catalog.clone().unwrap_or_else(scenarios::catalog_dir);
    let files = match load_dir(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("joinrace: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::List => {
            for (_, s) in &files {
                let strategies: Vec<String> = s.strategies.iter().map(strategy_name).collect();
                println!("{:<28} {:<14} {}", s.name, format!("{:?}", s.target), strategies.join(", "));
            }
            ExitCode::SUCCESS
        }
        Command::Run { names, all, seed, seeds } => {
            let chosen: Vec<&Scenario> = if all {
                files.iter().map(|(_, s)| s).collect()
            } else {
                let mut chosen = Vec::new();
                for n in &names {
                    match files.iter().find(|(_, s)| &s.name == n) {
                        Some((_, s)) => chosen.push(s),
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
            run(&chosen, &files, seed, seeds)
        }
    }
}

/// The strategies to run for one scenario strategy, after seed overrides.
fn expand(st: &StrategySpec, seed: Option<u64>, seeds: &Option<std::ops::Range<u64>>) -> Vec<StrategySpec> {
    let with_seed = |s: u64| match st.clone() {
        StrategySpec::Random { iterations, .. } => StrategySpec::Random { seed: s, iterations },
        StrategySpec::Pct { iterations, depth, .. } => StrategySpec::Pct { seed: s, iterations, depth },
        loom => loom,
    };
    match (st, seed, seeds) {
        (StrategySpec::Loom { .. }, _, _) => vec![st.clone()],
        (_, Some(s), _) => vec![with_seed(s)],
        (_, None, Some(r)) => r.clone().map(with_seed).collect(),
        _ => vec![st.clone()],
    }
}

/// Runs `explore` while a progress bar on stderr follows its execution count (hidden when stderr
/// is not a terminal, so logs stay clean). Shuttle strategies know their total; loom does not.
fn with_progress<R>(label: &str, st: &StrategySpec, explore: impl FnOnce(Arc<AtomicU64>) -> R) -> R {
    let total = match st {
        StrategySpec::Loom { max_executions, .. } => *max_executions,
        StrategySpec::Random { iterations, .. } | StrategySpec::Pct { iterations, .. } => Some(*iterations),
    };
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} executions {wide_bar} {elapsed}").expect("valid template"),
    );
    bar.set_message(label.to_string());
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (bar, counter, done) = (bar.clone(), counter.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(counter.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let r = explore(counter);
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    bar.finish_and_clear();
    r
}

fn kind(st: &StrategySpec) -> &'static str {
    match st {
        StrategySpec::Loom { .. } => "loom",
        StrategySpec::Random { .. } => "random",
        StrategySpec::Pct { .. } => "pct",
    }
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

fn run(
    chosen: &[&Scenario],
    files: &[(PathBuf, Scenario)],
    seed: Option<u64>,
    seeds: Option<std::ops::Range<u64>>,
) -> ExitCode {
    println!("{:<28} {:<16} {:>11} {:<10} {:>9}  verdict", "scenario", "strategy", "executions", "scope", "time");
    let mut all_ok = true;
    // Executions to first detection per (scenario, strategy kind), for the summary over seeds.
    let mut detections: Vec<(String, &'static str, Option<u64>)> = Vec::new();
    for s in chosen {
        let path = files.iter().find(|(_, f)| f.name == s.name).map(|(p, _)| p.display().to_string());
        let model = match build(s) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("joinrace: {}: {e}", path.unwrap_or_default());
                return ExitCode::from(2);
            }
        };
        for st in s.strategies.iter().flat_map(|st| expand(st, seed, &seeds)) {
            let start = Instant::now();
            let outcome = with_progress(&format!("{} {}", s.name, strategy_name(&st)), &st, |counter| {
                model.explore_counted(&strategy(&st), counter)
            });
            let verdict = model.verdict(&outcome);
            all_ok &= verdict.ok;
            detections.push((s.name.clone(), kind(&st), outcome.failure.as_ref().map(|f| f.execution)));
            let scope = match (&outcome.failure, outcome.exhaustive) {
                (Some(f), _) => format!("at #{}", f.execution),
                (None, true) => "exhaustive".to_string(),
                (None, false) => "sampled".to_string(),
            };
            println!(
                "{:<28} {:<16} {:>11} {:<10} {:>8.2}s  {verdict}",
                s.name,
                strategy_name(&st),
                outcome.executions,
                scope,
                start.elapsed().as_secs_f64()
            );
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
