//! What a scenario's `[[strategy]]` means, in one place: the harness strategy it runs, its name in
//! test names and output, its seeds under `--seed`/`--seeds`, and its caps while shrinking.

use std::ops::Range;

use harness::Strategy;

use crate::format::StrategySpec;

impl StrategySpec {
    /// The harness strategy this runs.
    pub fn strategy(&self) -> Strategy {
        match *self {
            StrategySpec::Loom { preemption_bound, iterative, max_executions } => {
                with_cap(Strategy::loom(preemption_bound).with_iterative(iterative), max_executions)
            }
            StrategySpec::Dpor { preemption_bound, iterative, max_executions } => {
                with_cap(Strategy::dpor(preemption_bound).with_iterative(iterative), max_executions)
            }
            StrategySpec::Random { seed, iterations } => Strategy::random(seed, iterations),
            StrategySpec::Pct { seed, iterations, depth } => Strategy::pct(seed, iterations, depth),
        }
    }

    /// A short name, used in test names and output rows (`loom-pb3`, `pct-d3-s1`).
    pub fn name(&self) -> String {
        match self {
            StrategySpec::Loom { preemption_bound, .. } => format!("loom-pb{preemption_bound}"),
            StrategySpec::Dpor { preemption_bound: Some(b), .. } => format!("dpor-pb{b}"),
            StrategySpec::Dpor { preemption_bound: None, .. } => "dpor".to_string(),
            StrategySpec::Random { seed, .. } => format!("random-s{seed}"),
            StrategySpec::Pct { seed, depth, .. } => format!("pct-d{depth}-s{seed}"),
        }
    }

    /// The scheduler's name (`loom`, `dpor`, `random`, `pct`).
    pub fn kind(&self) -> &'static str {
        match self {
            StrategySpec::Loom { .. } => "loom",
            StrategySpec::Dpor { .. } => "dpor",
            StrategySpec::Random { .. } => "random",
            StrategySpec::Pct { .. } => "pct",
        }
    }

    /// How many executions the run will make at most, if known beforehand (for progress bars).
    pub fn total(&self) -> Option<u64> {
        match self {
            StrategySpec::Loom { max_executions, .. } | StrategySpec::Dpor { max_executions, .. } => *max_executions,
            StrategySpec::Random { iterations, .. } | StrategySpec::Pct { iterations, .. } => Some(*iterations),
        }
    }

    /// The strategies to run after `--seed` or `--seeds`: a seeded strategy once per seed; loom
    /// and DPOR, which take no seed, as they are.
    pub fn with_seeds(&self, seed: Option<u64>, seeds: Option<&Range<u64>>) -> Vec<StrategySpec> {
        let with_seed = |s: u64| match self.clone() {
            StrategySpec::Random { iterations, .. } => StrategySpec::Random { seed: s, iterations },
            StrategySpec::Pct { iterations, depth, .. } => StrategySpec::Pct { seed: s, iterations, depth },
            exhaustive => exhaustive,
        };
        match (self, seed, seeds) {
            (StrategySpec::Loom { .. } | StrategySpec::Dpor { .. }, _, _) => vec![self.clone()],
            (_, Some(s), _) => vec![with_seed(s)],
            (_, None, Some(r)) => r.clone().map(with_seed).collect(),
            _ => vec![self.clone()],
        }
    }

    /// The strategy with at most `executions` executions (ten times as many for loom and DPOR,
    /// whose executions are cheaper and whose failures lie deeper): for shrinking.
    pub fn capped(&self, executions: u64) -> Strategy {
        let mut s = self.clone();
        match &mut s {
            StrategySpec::Loom { max_executions, .. } | StrategySpec::Dpor { max_executions, .. } => {
                *max_executions = Some(executions * 10)
            }
            StrategySpec::Random { iterations, .. } | StrategySpec::Pct { iterations, .. } => {
                *iterations = (*iterations).min(executions)
            }
        }
        s.strategy()
    }
}

/// `s` with the file's execution cap, if it gives one.
fn with_cap(s: Strategy, max_executions: Option<u64>) -> Strategy {
    match max_executions {
        Some(m) => s.with_max_executions(m),
        None => s,
    }
}
