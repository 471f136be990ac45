//! Shrinking a failing scenario: the fewest rows and workers that still fail the same way.
//!
//! Generated rows are written out inline first. Candidates drop one input row (left, right, or a
//! restore chunk's) or one worker of each kind; each is explored under the scenario's own
//! strategies with small caps, and the first that fails the same way is kept. The search stops
//! when no single step still fails (1-minimal) or after a minute.

use std::time::{Duration, Instant};

use harness::report::FailureKind;
use harness::Outcome;

use crate::format::Scenario;
use crate::model::{build, inline_rows, Model};

/// Per strategy, at most this many executions while shrinking (ten times as many under loom),
/// and the whole search at most this long.
const TRY_EXECUTIONS: u64 = 300;
const MAX_TIME: Duration = Duration::from_secs(60);

/// A scenario's size: input rows, and goroutines in its failing schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Rows of both inputs and of every restore chunk.
    pub rows: usize,
    /// Workers of each kind (`exec.concurrency`).
    pub concurrency: usize,
    /// Goroutines the failing execution ran.
    pub goroutines: usize,
}

/// The shrunk scenario, and its failing outcome.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest scenario found (named `<name>-min`).
    pub scenario: Scenario,
    /// Its model.
    pub model: Model,
    /// Its failing outcome (with the schedule).
    pub outcome: Outcome,
    /// The size before.
    pub before: Size,
    /// The size after.
    pub after: Size,
    /// Candidate scenarios explored.
    pub tries: usize,
}

fn rows(s: &Scenario) -> usize {
    s.rows.left.len() + s.rows.right.len() + s.rows.restore.iter().flatten().map(Vec::len).sum::<usize>()
}

fn size(s: &Scenario, o: &Outcome) -> Size {
    let goroutines = o.failure.as_ref().and_then(|f| f.schedule.as_ref()).map_or(0, |sch| sch.goroutines());
    Size { rows: rows(s), concurrency: s.exec.concurrency, goroutines }
}

/// Every scenario one step smaller than `s`.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for side in 0..2 {
        let n = if side == 0 { s.rows.left.len() } else { s.rows.right.len() };
        for i in 0..n {
            let mut c = s.clone();
            if side == 0 {
                c.rows.left.remove(i)
            } else {
                c.rows.right.remove(i)
            };
            out.push(c);
        }
    }
    for (w, chunks) in s.rows.restore.iter().enumerate() {
        for (k, chunk) in chunks.iter().enumerate() {
            for i in 0..chunk.len() {
                let mut c = s.clone();
                c.rows.restore[w][k].remove(i);
                if c.rows.restore[w][k].is_empty() {
                    c.rows.restore[w].remove(k);
                }
                out.push(c);
            }
        }
    }
    if s.exec.concurrency > 1 {
        let mut c = s.clone();
        c.exec.concurrency -= 1;
        out.push(c);
    }
    out
}

/// The first outcome of `s` that fails as `same` accepts, if any.
fn fails(s: &Scenario, same: &impl Fn(&FailureKind) -> bool) -> Option<(Model, Outcome)> {
    let model = build(s).ok()?;
    for st in &s.strategies {
        let o = model.explore(&st.capped(TRY_EXECUTIONS));
        if o.failure.as_ref().is_some_and(|f| same(&f.kind)) {
            return Some((model, o));
        }
    }
    None
}

/// Shrinks `s`, whose run `outcome` failed, to the smallest scenario that fails as `same` accepts.
pub fn shrink(s: &Scenario, outcome: &Outcome, same: impl Fn(&FailureKind) -> bool) -> Option<Shrunk> {
    let s = &inline_rows(s);
    let before = size(s, outcome);
    let (mut best, mut tries, start) = (s.clone(), 0, Instant::now());
    let mut found: Option<(Model, Outcome)> = None;
    'search: loop {
        for c in candidates(&best) {
            if start.elapsed() > MAX_TIME {
                break 'search;
            }
            tries += 1;
            if let Some(hit) = fails(&c, &same) {
                best = c;
                found = Some(hit);
                continue 'search;
            }
        }
        break;
    }
    let (model, outcome) = found?;
    best.name = format!("{}-min", s.name);
    let after = size(&best, &outcome);
    Some(Shrunk { scenario: best, model, outcome, before, after, tries })
}
