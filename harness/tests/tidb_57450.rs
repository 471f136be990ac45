//! The two access patterns of TiDB #57450 in miniature, each racy and ordered.

use crate::common::{assert_clean, assert_race};
use harness::go::{self, frame, Chan, Mutex, WaitGroup};
use harness::memory::{CheckedBuf, CheckedField};
use harness::report::AccessKind;
use harness::{explore, Strategy};

const SET_USED_FLAG: &str = "pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild";
const GET_KEY_LEN: &str = "pkg/executor/join.(*joinTableMeta).getSerializedKeyLength";

/// `setUsedFlag`: atomic 32-bit load, OR the used bit, atomic store, at row+8.
fn set_used_flag(row: &CheckedBuf) {
    let _f = frame(SET_USED_FLAG);
    let v = row.atomic_load_u32(8);
    row.atomic_store_u32(8, v | 0x80);
}

/// A plain 4-byte read at `offset` (the key length after a 1-byte null map is at row+9).
fn read_key_len(row: &CheckedBuf, offset: usize) -> u32 {
    let _f = frame(GET_KEY_LEN);
    row.read_u32(offset)
}

fn used_flag_vs_key_len_at(offset: usize) {
    let row = CheckedBuf::new("row", 24);
    let peer = row.clone();
    let probe = go::go(move || set_used_flag(&peer));
    read_key_len(&row, offset);
    probe.join();
}

#[test]
fn atomic_store_at_8_races_with_plain_read_at_9() {
    for race in assert_race(|| used_flag_vs_key_len_at(9)) {
        let (read, write) = match race.current.kind {
            AccessKind::Read => (&race.current, &race.previous),
            AccessKind::Write => (&race.previous, &race.current),
        };
        assert_eq!((read.range(), read.atomic), (9..13, false), "{race}");
        assert_eq!((write.range(), write.atomic), (8..12, true), "{race}");
        assert_eq!(race.overlap(), 9..12);
        assert_eq!(read.stack, vec![GET_KEY_LEN]);
        assert_eq!(write.stack, vec!["sync/atomic.StoreInt32", "sync/atomic.StoreUint32", SET_USED_FLAG]);
        assert_ne!(read.goroutine, write.goroutine);
    }
}

/// Race 1 as the probe workers run it: each reads the key length, then loads and stores the used
/// flag. The race is in every interleaving, so every strategy reports it in its first execution,
/// whichever worker goes first (the detector once lost a worker's plain read to its own later
/// atomic load).
#[test]
fn two_probe_workers_race_in_every_execution() {
    fn probe(row: &CheckedBuf) {
        read_key_len(row, 9);
        set_used_flag(row);
    }
    let model = || {
        let row = CheckedBuf::new("row", 24);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let row = row.clone();
                go::go(move || probe(&row))
            })
            .collect();
        workers.into_iter().for_each(|w| w.join());
    };
    let mut strategies = vec![crate::common::loom()];
    for seed in 1..=20 {
        strategies.extend([Strategy::random(seed, 100), Strategy::pct(seed, 100, 3)]);
    }
    for s in &strategies {
        let o = explore(s, model);
        assert_eq!(o.failure.as_ref().map(|f| f.execution), Some(1), "{s}: {o}");
        assert_eq!(o.race().map(|r| r.overlap()), Some(9..12), "{s}: {o}");
    }
}

#[test]
fn plain_read_at_12_does_not_overlap_the_flag_word() {
    assert_clean(|| used_flag_vs_key_len_at(12));
}

#[test]
fn overlap_ordered_by_mutex_is_clean() {
    assert_clean(|| {
        let row = CheckedBuf::new("row", 24);
        let mu = Mutex::new("mu");
        let (peer, mu2) = (row.clone(), mu.clone());
        let probe = go::go(move || {
            let _g = mu2.lock();
            set_used_flag(&peer);
        });
        {
            let _g = mu.lock();
            read_key_len(&row, 9);
        }
        probe.join();
    });
}

#[test]
fn overlap_ordered_by_channel_is_clean() {
    assert_clean(|| {
        let row = CheckedBuf::new("row", 24);
        let done = Chan::new("done", 1);
        let (peer, done2) = (row.clone(), done.clone());
        go::go(move || {
            set_used_flag(&peer);
            done2.send(());
        });
        done.recv();
        read_key_len(&row, 9);
    });
}

#[test]
fn overlap_ordered_by_waitgroup_is_clean() {
    assert_clean(|| {
        let row = CheckedBuf::new("row", 24);
        let wg = WaitGroup::new("wg");
        wg.add(1);
        let (peer, wg2) = (row.clone(), wg.clone());
        go::go(move || {
            set_used_flag(&peer);
            wg2.done();
        });
        wg.wait();
        read_key_len(&row, 9);
    });
}

const SPLIT_WORKER: &str = "pkg/executor/join.(*BuildWorkerV2).splitPartitionAndAppendToRowTableForRestore";
const SPILL_READ: &str = "pkg/executor/join.(*hashJoinSpillHelper).spillRowTableImpl.func1";

/// The controller hands chunks to a worker through a channel and counts them with a WaitGroup
/// syncer; before spilling it waits for the syncer, then a spill goroutine reads the worker's
/// builder. With `publish_first`, the controller creates the builder before starting the worker
/// (the #57519 fix); otherwise the worker creates it as its first action.
fn builder_publication(publish_first: bool) {
    // A pointer-sized field, as Go's `*rowTableBuilder` (0 is nil).
    let builder: CheckedField<usize> = CheckedField::new("BuildWorkerV2.builder", 0);
    let syncer = WaitGroup::new("fetcherAndWorkerSyncer");
    let chunks: Chan<u32> = Chan::new("srcChkCh", 1);
    if publish_first {
        builder.set(0xb1);
    }
    let worker = {
        let (builder, syncer, chunks) = (builder.clone(), syncer.clone(), chunks.clone());
        go::go(move || {
            let _f = frame(SPLIT_WORKER);
            if !publish_first {
                builder.set(0xb1);
            }
            while let Some(_chunk) = chunks.recv() {
                builder.with(|b| assert_ne!(*b, 0, "builder is created before the first chunk"));
                syncer.done();
            }
        })
    };
    // checkAndSpillRowTableIfNeeded before the first chunk: no chunk was handed out, so the
    // syncer's Wait orders nothing with the worker.
    syncer.wait();
    let spill = {
        let builder = builder.clone();
        go::go(move || {
            let _f = frame(SPILL_READ);
            builder.get()
        })
    };
    spill.join();
    syncer.add(1);
    chunks.send(7);
    chunks.close();
    worker.join();
}

#[test]
fn builder_written_in_worker_races_with_spill_read() {
    for race in assert_race(|| builder_publication(false)) {
        let mut stacks = [race.current.stack.clone(), race.previous.stack.clone()];
        stacks.sort();
        assert_eq!(stacks, [vec![SPLIT_WORKER.to_string()], vec![SPILL_READ.to_string()]], "{race}");
        assert_eq!(race.object, "BuildWorkerV2.builder");
        assert_eq!(race.current.range(), 0..8);
    }
}

#[test]
fn builder_published_before_spawn_is_clean() {
    assert_clean(|| builder_publication(true));
}
