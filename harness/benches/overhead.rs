//! The harness's cost over raw loom and raw shuttle, on one small model written three ways.
//!
//! The model: main plus 3 goroutines; each goroutine loops 5 times over {lock, 4-byte write to a
//! shared buffer, unlock, atomic add, atomic load}, about 20 synchronizing operations. Written on
//! the harness (Go primitives plus the race detector), on raw loom, and on raw shuttle. Prints
//! executions per second and the harness/raw cost ratio per backend (target: at most 1.3).
//!
//! Run: `cargo bench -p harness --bench overhead`

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

fn raw_loom_model() {
    use loom::sync::atomic::AtomicU64;
    let buf = Arc::new(loom::sync::Mutex::new([0u8; 64]));
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..GOROUTINES)
        .map(|i| {
            let (buf, counter) = (buf.clone(), counter.clone());
            loom::thread::spawn(move || {
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

fn raw_shuttle_model() {
    use shuttle::sync::atomic::AtomicU64;
    let buf = Arc::new(shuttle::sync::Mutex::new([0u8; 64]));
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..GOROUTINES)
        .map(|i| {
            let (buf, counter) = (buf.clone(), counter.clone());
            shuttle::thread::spawn(move || {
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

/// Runs `f` and returns (executions, executions per second).
fn timed(f: impl FnOnce() -> u64) -> (u64, f64) {
    let start = Instant::now();
    let n = f();
    (n, n as f64 / start.elapsed().as_secs_f64())
}

fn row(name: &str, raw: (u64, f64), ours: (u64, f64)) {
    println!("{name:<16} {:>10} {:>12.0} {:>10} {:>12.0} {:>8.2}", raw.0, raw.1, ours.0, ours.1, raw.1 / ours.1);
}

fn main() {
    // Warm up both runtimes (and the harness's panic hook) outside the timings.
    explore(&Strategy::random(1, 10), harness_model);
    println!("model: main + {GOROUTINES} goroutines x {ROUNDS} rounds of {{lock, write, unlock, add, load}}");
    println!(
        "{:<16} {:>10} {:>12} {:>10} {:>12} {:>8}",
        "backend", "raw execs", "raw exec/s", "ours execs", "ours exec/s", "cost"
    );

    let raw = timed(|| {
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = counter.clone();
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(move || {
            c.fetch_add(1, Ordering::Relaxed);
            raw_loom_model()
        });
        counter.load(Ordering::Relaxed)
    });
    let ours = timed(|| {
        let o = explore(&Strategy::loom(2), harness_model);
        assert!(o.failure.is_none() && o.exhaustive, "{o}");
        o.executions
    });
    row("loom pb=2", raw, ours);

    let raw = timed(|| {
        let mut config = shuttle::Config::new();
        config.silence_warnings = true;
        let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(7, SHUTTLE_ITERATIONS as usize);
        shuttle::Runner::new(scheduler, config).run(raw_shuttle_model) as u64
    });
    let ours = timed(|| {
        let o = explore(&Strategy::random(7, SHUTTLE_ITERATIONS), harness_model);
        assert!(o.failure.is_none(), "{o}");
        o.executions
    });
    row("shuttle random", raw, ours);
    println!("cost = raw exec/s / harness exec/s (1.00 = no overhead; target <= 1.30)");
}
