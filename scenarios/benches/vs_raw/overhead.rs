//! The harness's cost over raw loom and raw shuttle, on one small model written three ways.
//!
//! The model: main plus 3 goroutines; each goroutine loops 5 times over {lock, 4-byte write to a
//! shared buffer, unlock, atomic add, atomic load}, about 20 synchronizing operations. Written on
//! the harness (Go primitives plus the race detector), on raw loom, and on raw shuttle. Prints
//! executions per second and the harness/raw cost ratio per backend (target: at most 1.3).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use harness::go::{self, AtomicUint64, Mutex};
use harness::memory::CheckedBuf;
use harness::{explore, Strategy};

const GOROUTINES: usize = 3;
const ROUNDS: usize = 5;
const SHUTTLE_ITERATIONS: u64 = 20_000;

fn harness_model() {
    let buf = CheckedBuf::new("buf", 64);
    let mu = Mutex::new("mu");
    let counter = AtomicUint64::new(0);
    let handles: Vec<_> = (0..GOROUTINES)
        .map(|i| {
            let (buf, mu, counter) = (buf.clone(), mu.clone(), counter.clone());
            go::go(move || {
                for r in 0..ROUNDS {
                    {
                        let _g = mu.lock();
                        buf.write_u32(i * 8, r as u32);
                    }
                    counter.add(1);
                    counter.load();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join());
}

/// The model on raw `$krate` (loom or shuttle, whose `sync` and `thread` modules mirror std's).
macro_rules! raw_model {
    ($name:ident, $krate:ident) => {
        fn $name() {
            use $krate::sync::atomic::AtomicU64;
            let buf = Arc::new($krate::sync::Mutex::new([0u8; 64]));
            let counter = Arc::new(AtomicU64::new(0));
            let handles: Vec<_> = (0..GOROUTINES)
                .map(|i| {
                    let (buf, counter) = (buf.clone(), counter.clone());
                    $krate::thread::spawn(move || {
                        for r in 0..ROUNDS {
                            buf.lock().unwrap()[i * 8..i * 8 + 4].copy_from_slice(&(r as u32).to_le_bytes());
                            counter.fetch_add(1, Ordering::Release);
                            counter.load(Ordering::Acquire);
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
        }
    };
}
raw_model!(raw_loom_model, loom);
raw_model!(raw_shuttle_model, shuttle);

/// One backend's same-model comparison.
pub struct Overhead {
    /// `loom pb2` or `shuttle random`.
    pub backend: &'static str,
    /// Raw executions and executions per second.
    pub raw: (u64, f64),
    /// Harness executions and executions per second.
    pub ours: (u64, f64),
}

/// Rounds per measurement: raw and harness alternate, and each reports its median round, so one
/// slow moment of a shared machine does not decide the ratio.
const ROUNDS_PER_MEASUREMENT: usize = 5;

/// Runs `f` and returns (executions, executions per second).
fn timed(f: &impl Fn() -> u64) -> (u64, f64) {
    let start = Instant::now();
    let n = f();
    (n, n as f64 / start.elapsed().as_secs_f64())
}

/// Times `raw` and `ours` in alternating rounds; each one's median round.
fn compare(backend: &'static str, raw: impl Fn() -> u64, ours: impl Fn() -> u64) -> Overhead {
    let rounds: Vec<[(u64, f64); 2]> = (0..ROUNDS_PER_MEASUREMENT).map(|_| [timed(&raw), timed(&ours)]).collect();
    let median = |side: usize| {
        let mut v: Vec<(u64, f64)> = rounds.iter().map(|r| r[side]).collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v[v.len() / 2]
    };
    Overhead { backend, raw: median(0), ours: median(1) }
}

/// Runs the model on raw loom and the harness under loom (bound 2), then on raw shuttle and the
/// harness under shuttle random.
pub fn run() -> Vec<Overhead> {
    // Warm up both runtimes (and the harness's panic hook) outside the timings.
    explore(&Strategy::random(1, 10), harness_model);
    let loom = compare(
        "loom pb2",
        || {
            let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let c = counter.clone();
            let mut b = loom::model::Builder::new();
            b.preemption_bound = Some(2);
            b.check(move || {
                c.fetch_add(1, Ordering::Relaxed);
                raw_loom_model()
            });
            counter.load(Ordering::Relaxed)
        },
        || {
            let strategy = Strategy::loom(2).with_iterative(false);
            let o = explore(&strategy, harness_model);
            assert!(o.failure.is_none() && o.exhaustive, "{o}");
            o.executions
        },
    );
    let shuttle = compare(
        "shuttle random",
        || {
            let mut config = shuttle::Config::new();
            config.silence_warnings = true;
            let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(7, SHUTTLE_ITERATIONS as usize);
            shuttle::Runner::new(scheduler, config).run(raw_shuttle_model) as u64
        },
        || {
            let o = explore(&Strategy::random(7, SHUTTLE_ITERATIONS), harness_model);
            assert!(o.failure.is_none(), "{o}");
            o.executions
        },
    );
    vec![loom, shuttle]
}
