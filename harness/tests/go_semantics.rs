//! Go's panic, recover and goroutine-leak semantics, and the outcomes that must never read as a
//! clean pass.

use harness::go::{self, Chan, WaitGroup};
use harness::memory::{CheckedField, NIL_DEREFERENCE};
use harness::report::{AccessKind, FailureKind};
use harness::{explore, Strategy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn kind(o: &harness::Outcome) -> &FailureKind {
    &o.failure.as_ref().unwrap_or_else(|| panic!("expected a failure: {o}")).kind
}

/// A panic nothing recovers kills the execution, reported as Go prints it: the message, then the
/// panicking goroutine's stack.
#[test]
fn an_unrecovered_panic_reads_like_go() {
    let o = explore(&Strategy::dpor(None), || {
        let h = go::go(|| {
            let _f = go::frame("pkg/executor/join.(*ProbeWorkerV2).probeAndSendResult");
            let _g = go::frame("pkg/executor/join.(*hashJoinSpillHelper).spillProbeChunk");
            panic!("index out of range [3] with length 3");
        });
        h.join();
    });
    let FailureKind::Panic { goroutine, message, stack, .. } = kind(&o) else { panic!("{o}") };
    assert_eq!((*goroutine, message.as_str()), (Some(2), "index out of range [3] with length 3"));
    assert_eq!(stack[0], "pkg/executor/join.(*hashJoinSpillHelper).spillProbeChunk");
    let text = kind(&o).to_string();
    assert!(
        text.starts_with(
            "panic: index out of range [3] with length 3\n\ngoroutine 2 [running]:\n  \
             pkg/executor/join.(*hashJoinSpillHelper).spillProbeChunk()\n  \
             pkg/executor/join.(*ProbeWorkerV2).probeAndSendResult()\n  at "
        ),
        "{text}"
    );
}

/// `recover` returns the panic, the execution goes on, and the outcome keeps it.
#[test]
fn a_recovered_panic_is_kept_on_the_outcome() {
    for s in [Strategy::dpor(None), Strategy::loom(2), Strategy::random(1, 20), Strategy::std(5)] {
        let o = explore(&s, || {
            let errors = Chan::<String>::new("errCh", 1);
            let e2 = errors.clone();
            let h = go::go(move || {
                let _f = go::frame("util.WithRecovery");
                if let Err(p) = go::recover(|| -> () { panic!("buildHashTablePanic") }) {
                    e2.send(format!("recovered: {}", p.message));
                }
            });
            assert_eq!(errors.recv().as_deref(), Some("recovered: buildHashTablePanic"));
            h.join();
        });
        assert!(o.failure.is_none(), "{s}: {o}");
        assert_eq!(o.recovered.len(), 1, "{s}: {o}");
        let p = &o.recovered[0];
        assert_eq!(
            (p.message.as_str(), p.goroutine, p.stack.first().map(String::as_str)),
            ("buildHashTablePanic", 2, Some("util.WithRecovery"))
        );
        assert!(
            o.to_string().contains("recovered panic: buildHashTablePanic (goroutine 2, in util.WithRecovery)"),
            "{o}"
        );
    }
}

/// A race found inside a `recover` scope is not a panic to recover: it still ends the execution.
#[test]
fn recover_does_not_swallow_a_race() {
    let o = explore(&Strategy::dpor(None), || {
        let x = harness::memory::CheckedBuf::new("x", 8);
        let x2 = x.clone();
        let h = go::go(move || x2.write_u64(0, 1));
        let r = go::recover(|| x.read_u64(0));
        let _ = r;
        h.join();
    });
    assert!(o.race().is_some(), "{o}");
    assert!(o.recovered.is_empty(), "{o}");
}

/// Reading through an unset pointer field panics with Go's nil-dereference message.
#[test]
fn a_nil_dereference_panics_as_in_go() {
    let o = explore(&Strategy::random(1, 1), || {
        let builder: CheckedField<Option<u32>> = CheckedField::new("BuildWorkerV2.builder", None);
        let _ = builder.deref(|b| *b + 1);
    });
    let FailureKind::Panic { message, .. } = kind(&o) else { panic!("{o}") };
    assert_eq!(message, NIL_DEREFERENCE);
    let set = explore(&Strategy::random(1, 1), || {
        let builder: CheckedField<Option<u32>> = CheckedField::new("BuildWorkerV2.builder", Some(1));
        assert_eq!(builder.deref(|b| *b + 1), 2);
    });
    assert!(set.failure.is_none(), "{set}");
}

/// Main returns while a goroutine waits forever: a leak (goleak's report), not a deadlock.
#[test]
fn a_goroutine_blocked_after_main_returns_is_a_leak() {
    fn leaky() {
        let ch = Chan::<u32>::new("resultCh", 0);
        let _h = go::go(move || {
            let _f = go::frame("pkg/executor/join.(*HashJoinV2Exec).fetchAndProbeHashTable.func1");
            ch.send(1);
        });
    }
    for s in [Strategy::dpor(None), Strategy::loom(2), Strategy::random(1, 20), Strategy::std(5)] {
        let o = explore(&s, leaky);
        let FailureKind::Leak { goroutines } = kind(&o) else { panic!("{s}: expected a leak, got {o}") };
        assert_eq!(goroutines.len(), 1, "{s}: {o}");
        assert_eq!(goroutines[0].goroutine, 2);
        assert_eq!(goroutines[0].waiting_on, "chan send on resultCh");
        let text = kind(&o).to_string();
        assert!(
            text.starts_with(
                "found unexpected goroutines:\n[Goroutine 2 in state chan send on resultCh, with \
                 pkg/executor/join.(*HashJoinV2Exec).fetchAndProbeHashTable.func1 on top of the stack:"
            ),
            "{s}: {text}"
        );
    }
}

/// Main itself blocked for good stays a deadlock.
#[test]
fn main_blocked_for_good_is_a_deadlock() {
    let o = explore(&Strategy::dpor(None), || {
        let ch = Chan::<u32>::new("never", 0);
        let _ = ch.recv();
    });
    assert!(matches!(kind(&o), FailureKind::Deadlock { .. }), "{o}");
}

/// Go 1.19.8 `go test -race -count=1`, 20 runs: two goroutines close one channel unordered (each
/// recovering its panic so the run completes); one close panics `close of closed channel` and no
/// run reports a data race (closechan checks `closed` before its race annotation).
#[test]
fn a_second_close_panics_and_is_no_race() {
    for s in [Strategy::dpor(None), Strategy::loom(2), Strategy::random(1, 50)] {
        let o = explore(&s, || {
            let c = Chan::<()>::new("c", 0);
            let c2 = c.clone();
            let h = go::go(move || c2.close());
            c.close();
            h.join();
        });
        let FailureKind::Panic { message, .. } = kind(&o) else { panic!("{s}: expected a panic, got {o}") };
        assert_eq!(message, "close of closed channel", "{s}");
    }
}

/// PCT refuses a model in which two goroutines are never runnable at once: the outcome says so
/// and is neither a failure nor a clean pass.
#[test]
fn pct_on_a_model_with_no_concurrency_is_incomplete() {
    let o = explore(&Strategy::pct(1, 100, 3), || {
        let c = Chan::<u32>::new("c", 1);
        c.send(1);
        assert_eq!(c.recv(), Some(1));
    });
    assert!(o.failure.is_none(), "{o}");
    let why = o.incomplete.as_deref().unwrap_or_else(|| panic!("expected an incomplete outcome: {o}"));
    assert!(why.contains("never had two goroutines runnable at once"), "{why}");
    assert!(!o.exhaustive);
    assert!(o.to_string().contains(": incomplete, 1 executions"), "{o}");
}

/// A cap of zero runs nothing, and says so.
#[test]
fn a_cap_of_zero_runs_nothing_and_says_so() {
    for s in [Strategy::dpor(None).with_max_executions(0), Strategy::random(1, 0), Strategy::std(0)] {
        let o = explore(&s, || {});
        assert_eq!(o.executions, 0, "{s}");
        assert_eq!(o.incomplete.as_deref(), Some("no execution ran"), "{s}: {o}");
        assert!(!o.exhaustive, "{s}");
    }
}

/// Stricter than Go's detector, on purpose: a plain 8-byte write at offset 0 and an unordered
/// atomic 4-byte load at offset 4 overlap in bytes [4, 8), a race by Go's memory model. Go 1.19.8
/// `go test -race -count=1`, 20 runs of the same program (`unsafe.Add(&v, 4)`): no race reported
/// in any (its instrumentation checks where a plain scalar access starts). joinrace reports it.
#[test]
fn a_wide_plain_write_races_with_a_narrow_atomic_load_inside_it() {
    let o = explore(&Strategy::dpor(None), || {
        let v = harness::memory::CheckedBuf::new("v", 8);
        let v2 = v.clone();
        let h = go::go(move || v2.atomic_load_u32(4));
        v.write_u64(0, 1);
        h.join();
    });
    let race = o.race().unwrap_or_else(|| panic!("expected a race: {o}"));
    assert_eq!(race.overlap(), 4..8, "{o}");
}

/// Orders `then` after `first` in time only: a plain Rust flag the harness does not see, spun on
/// with real threads (the std backend), as Go's tests order with `time.Sleep`. No happens-before.
fn in_time_only() -> (impl Fn() + Send + Clone, impl Fn()) {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    (
        move || set.store(true, Ordering::SeqCst),
        move || {
            while !flag.load(Ordering::SeqCst) {
                std::thread::yield_now()
            }
        },
    )
}

/// G writes x and closes c; main, after G (in time only), takes the item it buffered before
/// starting G and reads x. Go 1.19.8 `go test -race -count=1`, 20 runs (`time.Sleep` for the wait):
/// with `chan struct{}` no run reports a race, with `chan uint64` all 20 do. A zero-size element
/// has no buffer, and Go's one sync object for its slots is the one close releases into.
#[test]
fn a_zero_size_item_taken_after_close_acquires_the_close() {
    fn item_after_close<T: Default + Send + 'static>() -> harness::Outcome {
        explore(&Strategy::std(5), || {
            let c = Chan::<T>::new("c", 1);
            c.send(T::default());
            let x = CheckedField::new("x", 0u64);
            let (c2, x2) = (c.clone(), x.clone());
            let (closed, after_close) = in_time_only();
            let h = go::go(move || {
                x2.set(1);
                c2.close();
                closed();
            });
            after_close();
            assert!(c.recv().is_some(), "the buffered item outlives the close");
            x.get();
            h.join();
        })
    }
    let o = item_after_close::<()>();
    assert!(o.failure.is_none(), "zero-size: {o}");
    let o = item_after_close::<u64>();
    let race = o.race().unwrap_or_else(|| panic!("8-byte element: expected a race: {o}"));
    assert_eq!(race.object, "x", "{o}");
    assert_eq!((race.current.kind, race.previous.kind), (AccessKind::Read, AccessKind::Write), "{o}");
}

/// Looser than Go's detector, true to the memory model ("call n of l.Unlock() is synchronized
/// before call m of l.Lock() returns for n < m"): G1 writes x, locks and unlocks mu, then locks it
/// and keeps it; G2, after that in time only, unlocks it; main then locks it and reads x. Go 1.19.8
/// `go test -race -count=1`, 20 runs: a race in all 20, because Go's `Unlock` overwrites the
/// mutex's clock with G2's. joinrace merges it and reports nothing.
#[test]
fn an_unlock_by_another_goroutine_keeps_the_earlier_unlocks() {
    let o = explore(&Strategy::std(5), || {
        let mu = go::Mutex::new("mu");
        let x = CheckedField::new("x", 0u64);
        let (mu1, mu2, x1) = (mu.clone(), mu.clone(), x.clone());
        let (held, after_held) = in_time_only();
        let (unlocked, after_unlock) = in_time_only();
        let g1 = go::go(move || {
            x1.set(1);
            drop(mu1.lock());
            std::mem::forget(mu1.lock());
            held();
        });
        let g2 = go::go(move || {
            after_held();
            mu2.unlock();
            unlocked();
        });
        after_unlock();
        let _g = mu.lock();
        x.get();
        g1.join();
        g2.join();
    });
    assert!(o.failure.is_none(), "{o}");
    assert_eq!(o.executions, 5, "{o}");
}

/// Zero-size buffered operations merge into one sync object, as in Go, and close overwrites it, as
/// in Go: main buffers two items; R writes y and takes one; main, after R in time only, takes the
/// other and reads y, with or without a close (by a goroutine ordered after main's sends only)
/// between the two receives. Go 1.19.8 `go test -race -count=1`, 20 runs each (`time.Sleep` for
/// the waits): no race without the close (looser than the memory model, which orders no receive
/// before another), a race on y in all 20 with it.
#[test]
fn a_close_overwrites_what_zero_size_receives_merged() {
    fn receive_then_receive(with_close: bool) -> harness::Outcome {
        explore(&Strategy::std(5), move || {
            let c = Chan::<()>::new("c", 2);
            c.send(());
            c.send(());
            let y = CheckedField::new("y", 0u64);
            let (c1, c2, y1) = (c.clone(), c.clone(), y.clone());
            let (taken, after_take) = in_time_only();
            let (closed, after_close) = in_time_only();
            let r = go::go(move || {
                y1.set(1);
                assert_eq!(c1.recv(), Some(()));
                taken();
            });
            after_take();
            let g = with_close.then(|| {
                go::go(move || {
                    c2.close();
                    closed();
                })
            });
            if with_close {
                after_close();
            }
            assert_eq!(c.recv(), Some(()));
            y.get();
            r.join();
            if let Some(g) = g {
                g.join();
            }
        })
    }
    let o = receive_then_receive(false);
    assert!(o.failure.is_none(), "without close: {o}");
    let o = receive_then_receive(true);
    let race = o.race().unwrap_or_else(|| panic!("with close: expected a race: {o}"));
    assert_eq!(race.object, "y", "{o}");
}

/// `defer`: the deferred call runs when the body panics, and the panic goes on after it: to an
/// enclosing `recover` (kept on the outcome), or killing the execution.
#[test]
fn a_deferred_call_runs_and_the_panic_goes_on() {
    for recovered in [true, false] {
        let o = explore(&Strategy::dpor(None), move || {
            let done = Chan::<()>::new("done", 1);
            let d2 = done.clone();
            let body = move || go::defer(|| -> () { panic!("failpoint panic: splitPartitionPanic") }, || d2.send(()));
            if recovered {
                let p = go::recover(body).expect_err("the panic reaches the recover");
                assert_eq!(p.message, "failpoint panic: splitPartitionPanic");
            } else {
                let h = go::go(body);
                done.recv();
                h.join();
            }
            assert_eq!(done.len(), usize::from(recovered));
        });
        if recovered {
            assert!(o.failure.is_none(), "{o}");
            assert_eq!(o.recovered.len(), 1, "{o}");
        } else {
            let FailureKind::Panic { message, goroutine, .. } = kind(&o) else { panic!("{o}") };
            assert_eq!((message.as_str(), *goroutine), ("failpoint panic: splitPartitionPanic", Some(2)));
            assert!(o.recovered.is_empty(), "{o}");
        }
    }
}

/// Go 1.19.8 `go test -race -count=1`: a goroutine parked in `wg.Wait()` (a sleep lets it park),
/// then main's `wg.Done()` wakes it and main reuses the group before that `Wait` returned, with
/// `wg.Add(1)` (then a `Done` once the waiter is done) or with `wg.Add(1); wg.Done()`. Go's woken
/// `Wait` panics `sync: WaitGroup is reused before previous Wait has returned` when it runs while
/// the counter is not zero (20 of 20 runs, and 11 of 20 for the second); every run (20 of 20 for
/// the first, 10 of 10 for both) also reported a data race first: the `Add` that raised the
/// counter from zero read the group's semaphore, unordered with the `Wait` that blocked on it. Such a reuse is always that
/// race (the blocked waiter releases nothing between its write and its wake), so here too the
/// race ends the execution before the `Wait` returns: the model's woken `Wait` does not need
/// Go's panic.
#[test]
fn a_group_reused_before_its_wait_returned_is_the_race_go_reports() {
    for s in [Strategy::dpor(None), Strategy::loom(2)] {
        let o = explore(&s, || {
            let wg = WaitGroup::new("wg");
            wg.add(1);
            let waiter = wg.clone();
            go::go(move || waiter.wait());
            wg.done();
            wg.add(1);
            wg.done();
        });
        let FailureKind::DataRace(r) = kind(&o) else { panic!("{s}: {o}") };
        let text = r.to_string();
        assert!(text.contains("sync.(*WaitGroup).Wait()") && text.contains("sync.(*WaitGroup).Add()"), "{s}: {text}");
        assert!(text.contains("Object: wg"), "{s}: {text}");
    }
}

/// The same reuse once the woken `Wait` has returned (main waits for word of it) is sound in every
/// schedule.
#[test]
fn a_group_reused_after_its_wait_returned_is_sound() {
    let o = explore(&Strategy::dpor(None), || {
        let wg = WaitGroup::new("wg");
        let returned = Chan::<()>::new("returned", 0);
        wg.add(1);
        let (waiter, tell) = (wg.clone(), returned.clone());
        go::go(move || {
            waiter.wait();
            tell.send(());
        });
        wg.done();
        returned.recv();
        wg.add(1);
        wg.done();
    });
    assert!(o.failure.is_none() && o.exhaustive, "{o}");
}
