//! Regressions found by the join model, each with the reason it broke.

use crate::common::{assert_clean, assert_race};
use harness::go::{self, select, Chan};
use harness::memory::{CheckedBuf, CheckedField};

/// Two selects parked as receivers on one unbuffered channel (every probe worker selects on
/// `closeCh`) once woke each other on every park, forever: a parked receiver must wake only the
/// selects waiting to send.
#[test]
fn parked_select_receivers_do_not_wake_each_other() {
    assert_clean(|| {
        let close = Chan::<()>::new("closeCh", 0);
        let work = Chan::<u32>::new("work", 0);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (close, work) = (close.clone(), work.clone());
                go::go(move || loop {
                    let (mut w, mut c) = (work.recv_case(), close.recv_case());
                    if select(&mut [&mut w, &mut c]) == 1 || w.take().is_none() {
                        return;
                    }
                })
            })
            .collect();
        work.send(1);
        close.close();
        workers.into_iter().for_each(|h| h.join());
    });
}

/// A buffered slot synchronizes by release-store-acquire, as Go's `racenotify`: send k+C is
/// ordered after receive k, not after send k. Merging into the slot used to order main's send
/// after G1's send, hiding this race on x.
#[test]
fn buffered_slot_does_not_carry_send_k_to_send_k_plus_c() {
    let reports = assert_race(|| {
        let x = CheckedField::new("x", 0i64);
        let c = Chan::<u8>::new("c", 1);
        let (x1, c1, c2) = (x.clone(), c.clone(), c.clone());
        let g1 = go::go(move || {
            x1.set(1);
            c1.send(0);
        });
        let g2 = go::go(move || {
            c2.recv();
        });
        c.send(0);
        x.get();
        g1.join();
        g2.join();
    });
    assert!(reports.iter().all(|r| r.object == "x"));
}

/// TSan records a failed compare-and-swap as an atomic write, so it races with a plain read.
#[test]
fn failed_cas_races_with_plain_read() {
    let reports = assert_race(|| {
        let word = CheckedBuf::new("word", 8);
        let w = word.clone();
        let g = go::go(move || {
            assert!(!w.atomic_cas_u32(0, 5, 6));
        });
        word.read_u32(0);
        g.join();
    });
    assert!(reports.iter().all(|r| r.overlap() == (0..4)));
}

/// A select with a receive and a send case on one unbuffered channel must not pair with itself:
/// it takes the plain sender's value.
#[test]
fn select_does_not_pair_with_itself() {
    assert_clean(|| {
        let ch = Chan::<u32>::new("ch", 0);
        let peer = ch.clone();
        let g = go::go(move || peer.send(7));
        let (mut r, mut s) = (ch.recv_case(), ch.send_case(1));
        assert_eq!(select(&mut [&mut r, &mut s]), 0);
        assert_eq!(r.take(), Some(7));
        g.join();
    });
}

/// Two selects sending on one unbuffered channel with one receiver: only one may commit to it;
/// the other leaves through `quit`.
#[test]
fn one_receiver_takes_one_of_two_select_senders() {
    assert_clean(|| {
        let (ch, quit) = (Chan::<u32>::new("ch", 0), Chan::<()>::new("quit", 0));
        let senders: Vec<_> = (0..2)
            .map(|v| {
                let (ch, quit) = (ch.clone(), quit.clone());
                go::go(move || {
                    let (mut s, mut q) = (ch.send_case(v), quit.recv_case());
                    select(&mut [&mut s, &mut q])
                })
            })
            .collect();
        assert!(ch.recv().is_some());
        quit.close();
        let fired: Vec<usize> = senders.into_iter().map(|h| h.join()).collect();
        assert_eq!(fired.iter().filter(|&&i| i == 0).count(), 1, "{fired:?}");
    });
}
