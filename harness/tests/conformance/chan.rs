//! `src/runtime/race/testdata/chan_test.go`: unbuffered and buffered channels, close, len/cap,
//! the channel variable itself, channels as mutexes and semaphores.
#![allow(non_snake_case)]

use super::{assert_object, assert_object_in, assert_read_write, assert_write_write};
use crate::common::{assert_clean, assert_clean_shuttle, assert_race};
use harness::go::{self, Chan};
use harness::memory::{CheckedBuf, CheckedField};
use harness::report::AccessKind;

// ---- send/receive ordering ----

#[test]
fn TestNoRaceChanSync() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.send(0);
            })
        };
        c.recv();
        v.set(2);
        g.join();
    });
}

/// On an unbuffered channel the receive happens before the send completes.
#[test]
fn TestNoRaceChanSyncRev() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                c.send(0);
                v.set(2);
            })
        };
        v.set(1);
        c.recv();
        g.join();
    });
}

#[test]
fn TestNoRaceChanAsync() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.send(0);
            })
        };
        c.recv();
        v.set(2);
        g.join();
    });
}

/// A buffered channel orders receive k only before send k+C: nothing flows from main to g.
#[test]
fn TestRaceChanAsyncRev() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                c.send(0);
                v.set(1);
            })
        };
        v.set(2);
        c.recv();
        // g's write may come after main's receive: join after it.
        g.join();
    });
    assert_object(&reports, "v");
    assert_write_write(&reports);
}

// ---- close and receive from a closed channel ----

/// Go wraps the receive in a `defer recover()` that never fires (receiving from a closed channel
/// does not panic); the port drops it.
#[test]
fn TestNoRaceChanAsyncCloseRecv() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        c.recv();
        v.set(2);
        g.join();
    });
}

#[test]
fn TestNoRaceChanAsyncCloseRecv2() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        // `_, _ = <-c`
        let ok = c.recv().is_some();
        assert!(!ok, "nothing was sent");
        v.set(2);
        g.join();
    });
}

#[test]
fn TestNoRaceChanAsyncCloseRecv3() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        // `for range c {}`
        while c.recv().is_some() {}
        v.set(2);
        g.join();
    });
}

/// As `TestNoRaceChanAsyncCloseRecv`, unbuffered; the vestigial recover is dropped.
#[test]
fn TestNoRaceChanSyncCloseRecv() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        c.recv();
        v.set(2);
        g.join();
    });
}

#[test]
fn TestNoRaceChanSyncCloseRecv2() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        let ok = c.recv().is_some();
        assert!(!ok);
        v.set(2);
        g.join();
    });
}

#[test]
fn TestNoRaceChanSyncCloseRecv3() {
    assert_clean(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        while c.recv().is_some() {}
        v.set(2);
        g.join();
    });
}

/// Go recovers main's "send on closed channel". The send reads the channel's address before its
/// closed check, so in every schedule the send/close race on `c` is reported first and ends the
/// schedule (close first: at the send; send first, blocked: at the close). No recover needed.
#[test]
fn TestRaceChanSyncCloseSend() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        c.send(0);
        v.set(2);
        g.join();
    });
    assert_object(&reports, "c");
    assert_read_write(&reports);
}

/// Go sends until the send panics and recovers it. As in `TestRaceChanSyncCloseSend`, the first
/// send after (or the close after) the other's access reports the race on `c` before any panic.
#[test]
fn TestRaceChanAsyncCloseSend() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        // `for { c <- 0 }` until the send panics. Go then writes `v = 2`; here the race on `c`
        // ends every schedule first, so the loop never exits.
        let _g = g;
        loop {
            c.send(0);
        }
    });
    assert_object(&reports, "c");
}

// ---- len and cap do not synchronize ----

#[test]
fn TestRaceChanSendLen() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.send(1);
            })
        };
        while c.is_empty() {
            go::yield_now();
        }
        v.set(2);
        g.join();
    });
    assert_object(&reports, "v");
}

#[test]
fn TestRaceChanRecvLen() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        c.send(1);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.recv();
            })
        };
        while !c.is_empty() {
            go::yield_now();
        }
        v.set(2);
        g.join();
    });
    assert_object(&reports, "v");
}

/// One non-blocking send wins the single slot; the other goroutine takes `default` (no sync) and
/// writes the variable the winner wrote.
#[test]
fn TestRaceChanSendSend() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 2);
        let v1 = CheckedField::new("v1", 0i64);
        let v2 = CheckedField::new("v2", 0i64);
        let c = Chan::<i64>::new("c", 1);
        {
            let (compl, v1, v2, c) = (compl.clone(), v1.clone(), v2.clone(), c.clone());
            go::go(move || {
                v1.set(1);
                if go::try_select(&mut [&mut c.send_case(1)]).is_none() {
                    v2.set(2);
                }
                compl.send(true);
            });
        }
        {
            let (compl, v1, v2, c) = (compl.clone(), v1.clone(), v2.clone(), c.clone());
            go::go(move || {
                v2.set(1);
                if go::try_select(&mut [&mut c.send_case(1)]).is_none() {
                    v1.set(2);
                }
                compl.send(true);
            });
        }
        compl.recv();
        compl.recv();
    });
    assert_object_in(&reports, &["v1", "v2"]);
    assert_write_write(&reports);
}

#[test]
fn TestNoRaceChanPtr() {
    assert_clean(|| {
        // `chan *msg`: the message is a heap object the sender initializes.
        let c = Chan::<CheckedField<i64>>::new("c", 0);
        let g = {
            let c = c.clone();
            go::go(move || {
                let m = CheckedField::new("msg.x", 0i64);
                m.set(1);
                c.send(m);
            })
        };
        let m = c.recv().expect("a message");
        m.set(2);
        g.join();
    });
}

/// Main is ordered after whichever sender filled slot 0 and writes the other sender's variable.
/// Go's `time.Sleep` before the receive is dropped: the late sender races as well.
#[test]
fn TestRaceChanWrongSend() {
    let reports = assert_race(|| {
        let v1 = CheckedField::new("v1", 0i64);
        let v2 = CheckedField::new("v2", 0i64);
        let c = Chan::<i64>::new("c", 2);
        let g1 = {
            let (v1, c) = (v1.clone(), c.clone());
            go::go(move || {
                v1.set(1);
                c.send(1);
            })
        };
        let g2 = {
            let (v2, c) = (v2.clone(), c.clone());
            go::go(move || {
                v2.set(2);
                c.send(2);
            })
        };
        if c.recv() == Some(1) {
            v2.set(3);
        } else {
            v1.set(3);
        }
        g1.join();
        g2.join();
    });
    assert_object_in(&reports, &["v1", "v2"]);
}

/// Two goroutines: one sends, one closes, never synchronized: the race is on the channel itself
/// (the send reads its address, close writes it). Go recovers the send's panic when the close
/// comes first; here the race is reported at that send's read, before its closed check, so the
/// schedule ends before the panic. Go's sleep in the closer is dropped.
#[test]
fn TestRaceChanSendClose() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 2);
        let c = Chan::<i64>::new("c", 1);
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.send(1);
                compl.send(true);
            });
        }
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.close();
                compl.send(true);
            });
        }
        compl.recv();
        compl.recv();
    });
    assert_object(&reports, "c");
    for r in &reports {
        assert_ne!(r.current.goroutine, 1, "main never touches c: {r}");
    }
}

/// As `TestRaceChanSendClose`, with the send in a `select` (Go's select pass 1 reads the channel
/// address of every send case before its closed check). Go recovers the select's panic when the
/// close comes first; the race would be reported before it.
#[test]
fn TestRaceChanSendSelectClose() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 2);
        let c = Chan::<i64>::new("c", 1);
        let c1 = Chan::<i64>::new("c1", 0);
        {
            let (compl, c, c1) = (compl.clone(), c.clone(), c1.clone());
            go::go(move || {
                go::select(&mut [&mut c.send_case(1), &mut c1.recv_case()]);
                compl.send(true);
            });
        }
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.close();
                compl.send(true);
            });
        }
        compl.recv();
        compl.recv();
    });
    assert_object(&reports, "c");
}

// ---- select and plain operations reading and writing x ----

/// The send expression `x` is read on select entry; main writes x after receiving from c2. The
/// two `c3` cases are both sends and never pair.
#[test]
fn TestRaceSelectReadWriteAsync() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 0);
        let x = CheckedField::new("x", 0i64);
        let c1 = Chan::<i64>::new("c1", 10);
        let c2 = Chan::<i64>::new("c2", 10);
        let c3 = Chan::<i64>::new("c3", 0);
        c2.send(1);
        {
            let (done, x, c1, c3) = (done.clone(), x.clone(), c1.clone(), c3.clone());
            go::go(move || {
                let xv = x.get();
                go::select(&mut [&mut c1.send_case(xv), &mut c3.send_case(1)]);
                done.send(true);
            });
        }
        let mut r2 = c2.recv_case();
        let mut s3 = c3.send_case(1);
        if go::select(&mut [&mut r2, &mut s3]) == 0 {
            x.set(r2.take().expect("c2 is open"));
        }
        done.recv();
    });
    assert_object(&reports, "x");
    assert_read_write(&reports);
}

/// As above, unbuffered: helpers make c1 and c2 ready; g syncs only with the c1 helper and main
/// only with the c2 helper.
#[test]
fn TestRaceSelectReadWriteSync() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 0);
        let x = CheckedField::new("x", 0i64);
        let c1 = Chan::<i64>::new("c1", 0);
        let c2 = Chan::<i64>::new("c2", 0);
        let c3 = Chan::<i64>::new("c3", 0);
        let h1 = {
            let c1 = c1.clone();
            go::go(move || {
                c1.recv();
            })
        };
        let h2 = {
            let c2 = c2.clone();
            go::go(move || c2.send(1))
        };
        {
            let (done, x, c1, c3) = (done.clone(), x.clone(), c1.clone(), c3.clone());
            go::go(move || {
                let xv = x.get();
                go::select(&mut [&mut c1.send_case(xv), &mut c3.send_case(1)]);
                done.send(true);
            });
        }
        let mut r2 = c2.recv_case();
        let mut s3 = c3.send_case(1);
        if go::select(&mut [&mut r2, &mut s3]) == 0 {
            x.set(r2.take().expect("c2 is open"));
        }
        done.recv();
        h1.join();
        h2.join();
    });
    assert_object(&reports, "x");
}

/// The only possible pairing is g's select send on c1 with main's select receive on c1.
#[test]
fn TestNoRaceSelectReadWriteAsync() {
    assert_clean(|| {
        let done = Chan::<bool>::new("done", 0);
        let x = CheckedField::new("x", 0i64);
        let c1 = Chan::<i64>::new("c1", 0);
        let c2 = Chan::<i64>::new("c2", 0);
        {
            let (done, x, c1, c2) = (done.clone(), x.clone(), c1.clone(), c2.clone());
            go::go(move || {
                let xv = x.get();
                go::select(&mut [&mut c1.send_case(xv), &mut c2.send_case(1)]);
                done.send(true);
            });
        }
        let mut r1 = c1.recv_case();
        let mut s2 = c2.send_case(1);
        if go::select(&mut [&mut r1, &mut s2]) == 0 {
            x.set(r1.take().expect("c1 is open"));
        }
        done.recv();
    });
}

#[test]
fn TestRaceChanReadWriteAsync() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 0);
        let c1 = Chan::<i64>::new("c1", 10);
        let c2 = Chan::<i64>::new("c2", 10);
        c2.send(10);
        let x = CheckedField::new("x", 0i64);
        {
            let (done, c1, x) = (done.clone(), c1.clone(), x.clone());
            go::go(move || {
                c1.send(x.get());
                done.send(true);
            });
        }
        x.set(c2.recv().expect("c2 holds 10"));
        done.recv();
    });
    assert_object(&reports, "x");
    assert_read_write(&reports);
}

#[test]
fn TestRaceChanReadWriteSync() {
    let reports = assert_race(|| {
        let done = Chan::<bool>::new("done", 0);
        let c1 = Chan::<i64>::new("c1", 0);
        let c2 = Chan::<i64>::new("c2", 0);
        let h1 = {
            let c1 = c1.clone();
            go::go(move || {
                c1.recv();
            })
        };
        let h2 = {
            let c2 = c2.clone();
            go::go(move || c2.send(10))
        };
        let x = CheckedField::new("x", 0i64);
        {
            let (done, c1, x) = (done.clone(), c1.clone(), x.clone());
            go::go(move || {
                c1.send(x.get());
                done.send(true);
            });
        }
        x.set(c2.recv().expect("a value"));
        done.recv();
        h1.join();
        h2.join();
    });
    assert_object(&reports, "x");
}

#[test]
fn TestNoRaceChanReadWriteAsync() {
    assert_clean(|| {
        let done = Chan::<bool>::new("done", 0);
        let c1 = Chan::<i64>::new("c1", 10);
        let x = CheckedField::new("x", 0i64);
        {
            let (done, c1, x) = (done.clone(), c1.clone(), x.clone());
            go::go(move || {
                c1.send(x.get());
                done.send(true);
            });
        }
        x.set(c1.recv().expect("a value"));
        done.recv();
    });
}

/// A task (a closure and its reply channel) goes through an unbuffered queue.
#[test]
fn TestNoRaceProducerConsumerUnbuffered() {
    type Task = (Box<dyn FnOnce() + Send>, Chan<bool>);
    assert_clean(|| {
        let queue = Chan::<Task>::new("queue", 0);
        let worker = {
            let queue = queue.clone();
            go::go(move || {
                let (f, done) = queue.recv().expect("a task");
                f();
                done.send(true);
            })
        };
        let doit = |f: Box<dyn FnOnce() + Send>| {
            let done = Chan::new("done", 1);
            queue.send((f, done.clone()));
            done.recv();
        };
        let x = CheckedField::new("x", 0i64);
        let x2 = x.clone();
        doit(Box::new(move || x2.set(1)));
        let _ = x.get();
        worker.join();
    });
}

// ---- the channel variable itself ----
// `c` is an ordinary variable holding a channel: using it reads it, `c = make(...)` writes it.

#[test]
fn TestRaceChanItselfSend() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = CheckedField::new("c", Chan::<i64>::new("make(chan int, 10)", 10));
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.get().send(0);
                compl.send(true);
            });
        }
        c.set(Chan::new("make(chan int, 20)", 20));
        compl.recv();
    });
    assert_object(&reports, "c");
    assert_read_write(&reports);
}

/// Go's sleep before main's write is dropped.
#[test]
fn TestRaceChanItselfRecv() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = CheckedField::new("c", Chan::<i64>::new("make(chan int, 10)", 10));
        c.get().send(1);
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.get().recv();
                compl.send(true);
            });
        }
        c.set(Chan::new("make(chan int, 20)", 20));
        compl.recv();
    });
    assert_object(&reports, "c");
}

#[test]
fn TestRaceChanItselfClose() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = CheckedField::new("c", Chan::<i64>::new("make(chan int)", 0));
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.get().close();
                compl.send(true);
            });
        }
        c.set(Chan::new("make(chan int)'", 0));
        compl.recv();
    });
    assert_object(&reports, "c");
}

#[test]
fn TestRaceChanItselfLen() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = CheckedField::new("c", Chan::<i64>::new("make(chan int)", 0));
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                let _ = c.get().len();
                compl.send(true);
            });
        }
        c.set(Chan::new("make(chan int)'", 0));
        compl.recv();
    });
    assert_object(&reports, "c");
}

#[test]
fn TestRaceChanItselfCap() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = CheckedField::new("c", Chan::<i64>::new("make(chan int)", 0));
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                let _ = c.get().cap();
                compl.send(true);
            });
        }
        c.set(Chan::new("make(chan int)'", 0));
        compl.recv();
    });
    assert_object(&reports, "c");
}

// ---- len/cap versus close ----

/// `len` touches no address close writes.
#[test]
fn TestNoRaceChanCloseLen() {
    assert_clean(|| {
        let c = Chan::<i64>::new("c", 10);
        let r = Chan::<usize>::new("r", 10);
        {
            let (c, r) = (c.clone(), r.clone());
            go::go(move || r.send(c.len()));
        }
        {
            let (c, r) = (c.clone(), r.clone());
            go::go(move || {
                c.close();
                r.send(0);
            });
        }
        r.recv();
        r.recv();
    });
}

#[test]
fn TestNoRaceChanCloseCap() {
    assert_clean(|| {
        let c = Chan::<i64>::new("c", 10);
        let r = Chan::<usize>::new("r", 10);
        {
            let (c, r) = (c.clone(), r.clone());
            go::go(move || r.send(c.cap()));
        }
        {
            let (c, r) = (c.clone(), r.clone());
            go::go(move || {
                c.close();
                r.send(0);
            });
        }
        r.recv();
        r.recv();
    });
}

/// From the older golang/go copy (commit 04f0b8bc), replaced upstream by the two cases above: `len`
/// does not synchronize with close, so `v` races. Go's sleep is dropped.
#[test]
fn TestRaceChanCloseLen() {
    let reports = assert_race(|| {
        let v = CheckedField::new("v", 0i64);
        let c = Chan::<i64>::new("c", 10);
        c.send(0);
        let g = {
            let (v, c) = (v.clone(), c.clone());
            go::go(move || {
                v.set(1);
                c.close();
            })
        };
        let _ = c.len();
        v.set(2);
        g.join();
    });
    assert_object(&reports, "v");
}

/// Send versus close on the channel itself. If the close comes first, main's send would panic
/// (Go does not recover it); the send reads the channel address before its closed check, so the
/// race is reported first in that schedule too.
#[test]
fn TestRaceChanCloseSend() {
    let reports = assert_race(|| {
        let compl = Chan::<bool>::new("compl", 1);
        let c = Chan::<i64>::new("c", 10);
        {
            let (compl, c) = (compl.clone(), c.clone());
            go::go(move || {
                c.close();
                compl.send(true);
            });
        }
        c.send(0);
        compl.recv();
    });
    assert_object(&reports, "c");
    for r in &reports {
        let (send, close) =
            if r.current.kind == AccessKind::Read { (&r.current, &r.previous) } else { (&r.previous, &r.current) };
        assert_eq!((send.kind, send.goroutine), (AccessKind::Read, 1), "{r}");
        assert_eq!((close.kind, close.goroutine), (AccessKind::Write, 2), "{r}");
    }
}

// ---- channels as mutexes, semaphores and wait groups ----

#[test]
fn TestNoRaceChanMutex() {
    assert_clean(|| {
        let done = Chan::<()>::new("done", 0);
        let mtx = Chan::<()>::new("mtx", 1);
        let data = CheckedField::new("data", 0i64);
        {
            let (done, mtx, data) = (done.clone(), mtx.clone(), data.clone());
            go::go(move || {
                mtx.send(());
                data.set(42);
                mtx.recv();
                done.send(());
            });
        }
        mtx.send(());
        data.set(43);
        mtx.recv();
        done.recv();
    });
}

/// `aux` is never ready; it makes each select a real one.
#[test]
fn TestNoRaceSelectMutex() {
    assert_clean(|| {
        let done = Chan::<()>::new("done", 0);
        let mtx = Chan::<()>::new("mtx", 1);
        let aux = Chan::<bool>::new("aux", 0);
        let data = CheckedField::new("data", 0i64);
        {
            let (done, mtx, aux, data) = (done.clone(), mtx.clone(), aux.clone(), data.clone());
            go::go(move || {
                go::select(&mut [&mut mtx.send_case(()), &mut aux.recv_case()]);
                data.set(42);
                go::select(&mut [&mut mtx.recv_case(), &mut aux.recv_case()]);
                done.send(());
            });
        }
        go::select(&mut [&mut mtx.send_case(()), &mut aux.recv_case()]);
        data.set(43);
        go::select(&mut [&mut mtx.recv_case(), &mut aux.recv_case()]);
        done.recv();
    });
}

/// A capacity-2 semaphore: the second send needs no receive first, so the critical sections are
/// unordered, even in the sequential schedule.
#[test]
fn TestRaceChanSem() {
    let reports = assert_race(|| {
        let done = Chan::<()>::new("done", 0);
        let mtx = Chan::<bool>::new("mtx", 2);
        let data = CheckedField::new("data", 0i64);
        {
            let (done, mtx, data) = (done.clone(), mtx.clone(), data.clone());
            go::go(move || {
                mtx.send(true);
                data.set(42);
                mtx.recv();
                done.send(());
            });
        }
        mtx.send(true);
        data.set(43);
        mtx.recv();
        done.recv();
    });
    assert_object(&reports, "data");
    assert_write_write(&reports);
}

/// `n` goroutines, a channel of capacity `n / 2` counting them (receive j happens before send j+C).
fn chan_wait_group(n: usize) {
    let chan_wg = Chan::<bool>::new("chanWg", n / 2);
    let data = CheckedBuf::new("data", 8 * n);
    for i in 0..n {
        chan_wg.send(true);
        let (chan_wg, data) = (chan_wg.clone(), data.clone());
        go::go(move || {
            data.write_u64(8 * i, 42);
            chan_wg.recv();
        });
    }
    for _ in 0..chan_wg.cap() {
        chan_wg.send(true);
    }
    for i in 0..n {
        let _ = data.read_u64(8 * i);
    }
}

#[test]
fn TestNoRaceChanWaitGroup() {
    // shuttle only: 10 goroutines, loom allows 4 (see the shrunk variant below).
    assert_clean_shuttle(|| chan_wait_group(10));
}

/// `TestNoRaceChanWaitGroup` shrunk from N = 10 (capacity 5) to N = 4 (capacity 2) for loom.
#[test]
fn TestNoRaceChanWaitGroup_N4() {
    assert_clean(|| chan_wait_group(4));
}

// ---- blocked senders ----

/// The sender blocks on a full buffer; the receive that frees its slot still passes its clock on.
/// Go's (optional) sleep is dropped.
#[test]
fn TestNoRaceBlockedSendSync() {
    assert_clean(|| {
        let c = Chan::<Option<CheckedField<i64>>>::new("c", 1);
        c.send(None);
        let g = {
            let c = c.clone();
            go::go(move || {
                let i = CheckedField::new("i", 0i64);
                i.set(42);
                c.send(Some(i));
            })
        };
        c.recv();
        let p = c.recv().expect("open").expect("&i");
        assert_eq!(p.get(), 42);
        g.join();
    });
}

/// As above, with the second receive in a select next to a never-ready channel.
#[test]
fn TestNoRaceBlockedSelectSendSync() {
    assert_clean(|| {
        let c = Chan::<Option<CheckedField<i64>>>::new("c", 1);
        c.send(None);
        let g = {
            let c = c.clone();
            go::go(move || {
                let i = CheckedField::new("i", 0i64);
                i.set(42);
                c.send(Some(i));
            })
        };
        c.recv();
        let never = Chan::<i64>::new("make(chan int)", 0);
        let mut rc = c.recv_case();
        if go::select(&mut [&mut rc, &mut never.recv_case()]) == 0 {
            let p = rc.take().expect("open").expect("&i");
            assert_eq!(p.get(), 42);
        }
        g.join();
    });
}

/// A non-blocking receive that finds the channel closed acquires the close (golang/go#36714).
/// Go runs 100 iterations of 2 goroutines; one iteration is ported.
#[test]
fn TestNoRaceCloseHappensBeforeRead() {
    assert_clean(|| {
        let loc = CheckedField::new("loc", 0i64);
        let write = Chan::<()>::new("write", 0);
        let read = Chan::<()>::new("read", 0);
        {
            let (loc, write, read) = (loc.clone(), write.clone(), read.clone());
            go::go(move || {
                if go::try_select(&mut [&mut write.recv_case()]).is_some() {
                    let _ = loc.get();
                }
                read.close();
            });
        }
        {
            let (loc, write) = (loc.clone(), write.clone());
            go::go(move || {
                loc.set(1);
                write.close();
            });
        }
        read.recv();
    });
}

/// `chan struct{}` of capacity 2 (golang/go#42598): main's third and fourth sends reuse the slots
/// the two receives freed, so main is ordered after both goroutines. Go's sleep is dropped.
#[test]
fn TestNoRaceElemSize0() {
    assert_clean(|| {
        let x = CheckedField::new("x", 0i64);
        let y = CheckedField::new("y", 0i64);
        let c = Chan::<()>::new("c", 2);
        c.send(());
        c.send(());
        {
            let (x, c) = (x.clone(), c.clone());
            go::go(move || {
                x.with_mut(|x| *x += 1);
                c.recv();
            });
        }
        {
            let (y, c) = (y.clone(), c.clone());
            go::go(move || {
                y.with_mut(|y| *y += 1);
                c.recv();
            });
        }
        c.send(());
        c.send(());
        x.with_mut(|x| *x += 1);
        y.with_mut(|y| *y += 1);
    });
}
