//! `src/runtime/race/testdata/select_test.go`: `select` with and without `default`.
//!
//! Go compiles a single-case `select` without `default` to the plain channel operation; the ports
//! do the same where Go's comments rely on it.
#![allow(non_snake_case)]

use super::{assert_object, assert_write_write};
use crate::common::{assert_clean, assert_clean_shuttle, assert_race};
use harness::go::{self, Chan};
use harness::memory::CheckedField;

/// The only pairing is g's `c <- true` with main's `<-c` (both c1 cases are sends).
#[test]
fn TestNoRaceSelect1() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 0);
        let c = Chan::<bool>::new("c", 0);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                x.set(1);
                go::select(&mut [&mut c.send_case(true), &mut c1.send_case(true)]);
                compl.send(true);
            });
        }
        go::select(&mut [&mut c.recv_case(), &mut c1.send_case(true)]);
        x.set(2);
        compl.recv();
    });
}

/// Close, then the select receives from the closed channel.
#[test]
fn TestNoRaceSelect2() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 0);
        let c = Chan::<bool>::new("c", 0);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                go::select(&mut [&mut c.recv_case(), &mut c1.recv_case()]);
                x.set(1);
                compl.send(true);
            });
        }
        x.set(2);
        c.close();
        go::yield_now();
        compl.recv();
    });
}

/// A buffered send in a select happens before the plain receive.
#[test]
fn TestNoRaceSelect3() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 0);
        let c = Chan::<bool>::new("c", 10);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                x.set(1);
                go::select(&mut [&mut c.send_case(true), &mut c1.recv_case()]);
                compl.send(true);
            });
        }
        c.recv();
        x.set(2);
        compl.recv();
    });
}

/// A worker runs tasks from a queue. In Go the worker loops forever, blocked on the queue when the
/// test returns; the port closes the queue at the very end (after every access) so the worker
/// exits instead of deadlocking the execution. The worker's single-case select is Go's plain
/// receive.
#[test]
fn TestNoRaceSelect4() {
    type Task = (Box<dyn FnOnce() + Send>, Chan<bool>);
    assert_clean(|| {
        let queue = Chan::<Task>::new("queue", 0);
        let dummy = Chan::<bool>::new("dummy", 0);
        let worker = {
            let queue = queue.clone();
            go::go(move || {
                while let Some((f, done)) = queue.recv() {
                    f();
                    done.send(true);
                }
            })
        };
        let doit = |f: Box<dyn FnOnce() + Send>| {
            let done = Chan::<bool>::new("done", 1);
            go::select(&mut [&mut queue.send_case((f, done.clone())), &mut dummy.recv_case()]);
            go::select(&mut [&mut done.recv_case(), &mut dummy.recv_case()]);
        };
        let x = CheckedField::new("x", 0i64);
        let x2 = x.clone();
        doit(Box::new(move || x2.set(1)));
        let _ = x.get();
        queue.close();
        worker.join();
    });
}

/// One sub-test of `TestNoRaceSelect5`: an unbuffered send (in a select or plain) happens before
/// the receive completes, and both goroutines write x on their side of it.
fn select5(sel: bool, need_sched: bool) {
    let x = CheckedField::new("x", 0i64);
    let ch = Chan::<bool>::new("ch", 0);
    let c1 = Chan::<bool>::new("c1", 0);
    let done = Chan::<bool>::new("done", 2);
    {
        let (x, ch, c1, done) = (x.clone(), ch.clone(), c1.clone(), done.clone());
        go::go(move || {
            if need_sched {
                go::yield_now();
            }
            x.set(1);
            if sel {
                go::select(&mut [&mut ch.send_case(true), &mut c1.recv_case()]);
            } else {
                ch.send(true);
            }
            done.send(true);
        });
    }
    {
        let (x, ch, c1, done) = (x.clone(), ch.clone(), c1.clone(), done.clone());
        go::go(move || {
            if sel {
                go::select(&mut [&mut ch.recv_case(), &mut c1.recv_case()]);
            } else {
                ch.recv();
            }
            x.set(1);
            done.send(true);
        });
    }
    done.recv();
    done.recv();
}

#[test]
fn TestNoRaceSelect5() {
    // shuttle only: 8 goroutines (2 per sub-test), loom allows 4.
    assert_clean_shuttle(|| {
        select5(true, true);
        select5(true, false);
        select5(false, true);
        select5(false, false);
    });
}

/// The two `sel = false` sub-tests of `TestNoRaceSelect5` (4 goroutines), for loom.
#[test]
fn TestNoRaceSelect5_NoSel() {
    assert_clean(|| {
        select5(false, true);
        select5(false, false);
    });
}

/// The two `sel = true` sub-tests of `TestNoRaceSelect5` (4 goroutines), for loom.
#[test]
fn TestNoRaceSelect5_Sel() {
    assert_clean(|| {
        select5(true, true);
        select5(true, false);
    });
}

/// Both senders rendezvous with one receiver but write x after their send.
#[test]
fn TestRaceSelect1() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 2);
        let c = Chan::<bool>::new("c", 0);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let c = c.clone();
            go::go(move || {
                c.recv();
                c.recv();
            });
        }
        for _ in 0..2 {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                go::select(&mut [&mut c.send_case(true), &mut c1.send_case(true)]);
                x.set(1);
                compl.send(true);
            });
        }
        compl.recv();
        compl.recv();
    });
    assert_object(&reports, "x");
    assert_write_write(&reports);
}

/// The only edge is close → g's select, which orders neither write before the other.
#[test]
fn TestRaceSelect2() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 0);
        let c = Chan::<bool>::new("c", 0);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                x.set(1);
                go::select(&mut [&mut c.recv_case(), &mut c1.recv_case()]);
                compl.send(true);
            });
        }
        c.close();
        x.set(2);
        compl.recv();
    });
    assert_object(&reports, "x");
}

/// Both writes come before the rendezvous. Main's single-case select is Go's plain receive.
#[test]
fn TestRaceSelect3() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let compl = Chan::<bool>::new("compl", 0);
        let c = Chan::<bool>::new("c", 0);
        let c1 = Chan::<bool>::new("c1", 0);
        {
            let (x, compl, c, c1) = (x.clone(), compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                x.set(1);
                go::select(&mut [&mut c.send_case(true), &mut c1.send_case(true)]);
                compl.send(true);
            });
        }
        x.set(2);
        c.recv();
        compl.recv();
    });
    assert_object(&reports, "x");
}

/// A select with only `default` synchronizes nothing.
#[test]
fn TestRaceSelect4() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 1);
        let x = CheckedField::new("x", 0i64);
        {
            let (done, x) = (done.clone(), x.clone());
            go::go(move || {
                if go::try_select(&mut []).is_none() {
                    x.set(2);
                }
                done.send(true);
            });
        }
        let _ = x.get();
        done.recv();
    });
    assert_object(&reports, "x");
}

/// c1 (buffered, empty) is always ready and c2 never is: g writes x, unordered with main's read.
#[test]
fn TestRaceSelect5() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 1);
        let c1 = Chan::<bool>::new("c1", 1);
        let c2 = Chan::<bool>::new("c2", 0);
        let x = CheckedField::new("x", 0i64);
        let y = CheckedField::new("y", 0i64);
        {
            let (done, c1, c2, x, y) = (done.clone(), c1.clone(), c2.clone(), x.clone(), y.clone());
            go::go(move || {
                match go::select(&mut [&mut c1.send_case(true), &mut c2.send_case(true)]) {
                    0 => x.set(1),
                    _ => y.set(1),
                }
                done.send(true);
            });
        }
        let _ = x.get();
        let _ = y.get();
        done.recv();
    });
    assert_object(&reports, "x");
}

/// NOT A GO TEST: commented out in Go's select_test.go ("whether this test contains a race depends
/// on the scheduling"). By happens-before it races in every schedule, on different accesses:
/// `default` taken, g's `x = 3` against main's `x = 1`; `<-c` taken, g's `x = 2` against main's
/// `_ = x` after its send.
#[test]
fn TestFlakyDefault() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let c = Chan::<bool>::new("c", 1);
        let done = Chan::<bool>::new("done", 1);
        {
            let (x, c, done) = (x.clone(), c.clone(), done.clone());
            go::go(move || {
                match go::try_select(&mut [&mut c.recv_case()]) {
                    Some(_) => x.set(2),
                    None => x.set(3),
                }
                done.send(true);
            });
        }
        x.set(1);
        c.send(true);
        let _ = x.get();
        done.recv();
    });
    assert_object(&reports, "x");
}
