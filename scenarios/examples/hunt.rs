//! The hunt (FINDINGS.md): TiDB's newest modelled commit with every failpoint, SQL-killer point
//! and Close point armed in turn, on each base join of `scenarios/hunt/` (one that spills and
//! restores, one in memory), under each of the base's strategies (random, PCT, bounded DPOR).
//!
//! Each execution must end one of two ways (`outcome = "sound"`): the reference join's rows with
//! nothing armed having fired, or an error. Everything else is a finding: a hang, a leaked goroutine, a data race, a
//! crash, wrong rows, or a success after an armed point fired (an error lost). A finding's variant
//! is written as a scenario file and its minimised schedule beside it, under
//! `target/joinrace/hunt/`, to replay with `joinrace replay` and to copy into the catalog.
//!
//! `cargo run --release -p scenarios --example hunt [-- --iterations N]` (N replaces the bases'
//! execution counts; the default keeps theirs).

use std::path::Path;
use std::time::Instant;

use join_model::failpoint::{is_kill, FAILPOINTS, PAUSE_POINTS};
use scenarios::format::{load, CloseSpec, Expect, FailActionSpec, FailpointSpec, Scenario, StrategySpec};
use scenarios::model::build;
use scenarios::{schedules, verdict};

/// One armed point on a base: a failpoint with its action and skipped hits, or a Close; each
/// expects `sound`.
fn variants(base: &Scenario) -> Vec<Scenario> {
    let base = Scenario { expect: Expect::Sound, ..base.clone() };
    let mut out = Vec::new();
    for &name in FAILPOINTS {
        // A pause point is armed to fail only: a child paused with no KILL waits by design, and
        // the hang with a KILL is #71122's scenario (`kill-wait-for-build-71122`).
        let actions: &[FailActionSpec] = if is_kill(name) || PAUSE_POINTS.contains(&name) {
            &[FailActionSpec::Error]
        } else {
            &[FailActionSpec::Error, FailActionSpec::Panic]
        };
        for &action in actions {
            // The first hit, and a later one: a point reached once per chunk fires in the middle.
            for after in [0, 2] {
                let mut v = base.clone();
                let action_name = format!("{action:?}").to_lowercase();
                v.name = format!("{}-{}-{action_name}-after{after}", base.name, name.replace('@', "."));
                v.failpoints = vec![FailpointSpec { name: name.to_string(), action, after }];
                out.push(v);
            }
        }
    }
    for after_chunks in 0..3 {
        let mut v = base.clone();
        v.name = format!("{}-close-after{after_chunks}", base.name);
        v.close = Some(CloseSpec { after_chunks });
        out.push(v);
    }
    out
}

fn main() {
    let iterations: Option<u64> = std::env::args()
        .skip_while(|a| a != "--iterations")
        .nth(1)
        .map(|n| n.parse().unwrap_or_else(|_| panic!("--iterations takes a number, not {n:?}")));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate sits in the checkout");
    let out = root.join("target/joinrace/hunt");
    std::fs::create_dir_all(&out).expect("create target/joinrace/hunt");
    let bases = ["spill.toml", "memory.toml"].map(|f| root.join("scenarios/hunt").join(f));
    let (mut runs, mut executions, mut findings) = (0u64, 0u64, Vec::new());
    let start = Instant::now();
    println!("{:<62} {:<10} {:>10}  found", "variant", "strategy", "executions");
    for base in &bases {
        let base = load(base).unwrap_or_else(|e| panic!("{e}"));
        for mut v in variants(&base) {
            if let Some(n) = iterations {
                for s in &mut v.strategies {
                    match s {
                        StrategySpec::Random { iterations, .. } | StrategySpec::Pct { iterations, .. } => {
                            *iterations = n
                        }
                        StrategySpec::Dpor { max_executions, .. } => *max_executions = Some(n),
                        StrategySpec::Loom { .. } => {}
                    }
                }
            }
            let path = out.join(format!("{}.toml", v.name));
            std::fs::write(&path, toml::to_string(&v).expect("a scenario serialises")).expect("write the variant");
            let model = build(&v).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            for st in &v.strategies {
                let outcome = model.explore(&st.strategy());
                runs += 1;
                executions += outcome.executions;
                // `sound` passes a run with no failure, whatever it recovered; one that ran less
                // than asked is no pass either.
                let verdict = verdict::judge(&Expect::Sound, &outcome);
                let found = match &outcome.failure {
                    None if verdict.ok => "nothing".to_string(),
                    None => {
                        findings.push(format!("{} {}: {}", v.name, st.name(), verdict.got));
                        verdict.got
                    }
                    Some(f) => {
                        let saved = schedules::save(&v, &path, &model, &outcome, true, &out, &st.name())
                            .and_then(|s| s.written.ok())
                            .map(|p| format!("\n    {}", p.canonicalize().unwrap_or(p).display()))
                            .unwrap_or_default();
                        findings.push(format!("{} {}: {}{saved}", v.name, st.name(), f.kind.summary()));
                        let summary: String = f.kind.summary().chars().take(90).collect();
                        format!("at #{}: {summary}", f.execution)
                    }
                };
                println!("{:<62} {:<10} {:>10}  {found}", v.name, st.name(), outcome.executions);
            }
        }
    }
    println!(
        "\nhunt: {runs} explorations, {executions} executions in {:.0?}; {} with a finding:",
        start.elapsed(),
        findings.len()
    );
    for f in &findings {
        println!("  {f}");
    }
}
