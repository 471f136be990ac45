//! Every failure kind under every backend, in one process, each followed by a passing run: a
//! failure is a value and leaves the backends usable.

use harness::go::{self, Chan, Mutex};
use harness::report::FailureKind;
use harness::{explore, Kind, Strategy};

fn strategies() -> Vec<Strategy> {
    vec![Strategy::loom(2), Strategy::random(1, 100), Strategy::pct(1, 100, 3), Strategy::std(20)]
}

/// Two goroutines each wait for the other's message.
fn channel_deadlock() {
    let (a, b) = (Chan::<u8>::new("a", 0), Chan::<u8>::new("b", 0));
    let (a2, b2) = (a.clone(), b.clone());
    go::go(move || {
        a2.recv();
        b2.send(1);
    });
    b.recv();
    a.send(1);
}

/// A lock-order inversion with the guards held when the deadlock is found (loom aborts the process
/// here when a loom MutexGuard is held; the harness holds none).
fn mutex_deadlock() {
    let (m1, m2) = (Mutex::new("m1"), Mutex::new("m2"));
    let (n1, n2) = (m1.clone(), m2.clone());
    let h = go::go(move || {
        let _a = n2.lock();
        go::yield_now();
        let _b = n1.lock();
    });
    let _a = m1.lock();
    go::yield_now();
    let _b = m2.lock();
    drop((_b, _a));
    h.join();
}

fn passing() {
    let ch = Chan::new("ch", 1);
    let ch2 = ch.clone();
    go::go(move || ch2.send(42u32));
    assert_eq!(ch.recv(), Some(42));
}

#[test]
fn channel_deadlock_is_reported_with_blocked_goroutines() {
    for s in strategies() {
        let o = explore(&s, channel_deadlock);
        let Some(FailureKind::Deadlock { goroutines, .. }) = o.failure.as_ref().map(|f| &f.kind) else {
            panic!("expected a deadlock under {s}: {o}");
        };
        let mut waits: Vec<_> = goroutines.iter().map(|g| g.waiting_on.as_str()).collect();
        waits.sort();
        assert_eq!(waits, ["chan receive on a", "chan receive on b"], "under {s}");
        assert!(explore(&s, passing).failure.is_none());
    }
}

/// A deadlock's one-line summary, which a schedule file keeps and its replay must match, names
/// each blocked goroutine and what it waits for, in Go's words and alike under every backend (it
/// carried the backend's own message before, which names tasks, not goroutines).
#[test]
fn a_deadlock_summary_names_the_blocked_goroutines_alike_under_every_backend() {
    for s in strategies() {
        let o = explore(&s, channel_deadlock);
        let summary = o.failure.as_ref().map(|f| f.kind.summary()).unwrap_or_default();
        assert_eq!(
            summary,
            "fatal error: all goroutines are asleep - deadlock! (goroutine 1 [chan receive on b]; goroutine 2 [chan receive on a])",
            "under {s}"
        );
        assert!(!o.failure.expect("a deadlock").kind.to_string().contains("task"), "under {s}");
    }
}

#[test]
fn mutex_deadlock_is_reported_not_aborted() {
    for s in strategies().into_iter().filter(|s| !matches!(s.kind(), Kind::Std { .. })) {
        let o = explore(&s, mutex_deadlock);
        let Some(FailureKind::Deadlock { goroutines, .. }) = o.failure.as_ref().map(|f| &f.kind) else {
            panic!("expected a deadlock under {s}: {o}");
        };
        assert!(goroutines.iter().all(|g| g.waiting_on.starts_with("sync.Mutex.Lock")), "{o}");
        assert!(explore(&s, passing).failure.is_none());
    }
}

#[test]
fn panic_in_goroutine_is_reported_with_message() {
    for s in strategies() {
        let o = explore(&s, || {
            let h = go::go(|| panic!("worker failed: {}", 7));
            h.join();
        });
        let Some(FailureKind::Panic { message, .. }) = o.failure.as_ref().map(|f| &f.kind) else {
            panic!("expected a panic under {s}: {o}");
        };
        assert_eq!(message, "worker failed: 7", "under {s}");
        assert!(explore(&s, passing).failure.is_none());
    }
}

#[test]
fn failed_assertion_is_reported_with_location() {
    for s in strategies() {
        let o = explore(&s, || {
            let ch = Chan::new("ch", 1);
            let ch2 = ch.clone();
            go::go(move || ch2.send(1u32));
            assert_eq!(ch.recv(), Some(2), "wrong value");
        });
        let Some(FailureKind::Panic { message, location, .. }) = o.failure.as_ref().map(|f| &f.kind) else {
            panic!("expected a failed assertion under {s}: {o}");
        };
        assert!(message.contains("wrong value"), "{message}");
        assert!(location.as_deref().is_some_and(|l| l.contains("outcomes.rs")), "{location:?}");
        assert!(explore(&s, passing).failure.is_none());
    }
}

#[test]
fn loom_goroutine_limit_is_a_clear_failure() {
    let o = explore(&Strategy::loom(1), || {
        for _ in 0..5 {
            go::go(|| ()).join();
        }
    });
    let msg = o.failure.map(|f| f.kind.to_string()).unwrap_or_default();
    assert!(msg.contains("loom allows at most 4 spawned goroutines"), "{msg}");
    assert!(explore(&Strategy::loom(2), passing).failure.is_none());
}
