//! Regressions found by the join model, each with the reason it broke.

use crate::common::assert_clean;
use harness::go::{self, select, Chan};

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
