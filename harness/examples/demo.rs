//! The harness's demonstration run: the two access patterns of TiDB #57450 in miniature, buggy
//! and fixed, under loom, shuttle random and shuttle PCT. Prints one line per run and the first
//! race report of each buggy pattern; exits 0 when every verdict matches its expectation, else 1.
//!
//! Run: `cargo run --release -p harness --example demo`

use std::process::ExitCode;

use harness::go::{self, frame, Chan, WaitGroup};
use harness::memory::{CheckedBuf, CheckedField};
use harness::{explore, Strategy};

/// Race 1: a probe worker sets the used flag (atomic 4 bytes at row+8) while another reads the
/// key length right after the null map, at row+8+nullMapLength.
fn used_flag(null_map_len: usize) {
    let seg = CheckedBuf::new("rowTableSegment.rawData", 32);
    seg.label_region(0, 32, "row 0");
    let peer = seg.clone();
    let setter = go::go(move || {
        let _f = frame("pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild");
        let v = peer.atomic_load_u32(8);
        peer.atomic_store_u32(8, v | 0x80);
    });
    let _a = frame("pkg/executor/join.(*outerJoinProbe).probeForOuterSideBuild");
    let _b = frame("pkg/executor/join.isKeyMatched");
    let _c = frame("pkg/executor/join.(*joinTableMeta).getSerializedKeyLength");
    seg.read_u32(8 + null_map_len);
    drop((_c, _b, _a));
    setter.join();
}

/// Race 2: a split worker creates its builder inside its goroutine (pre-#57519) or the
/// coordinator creates it before starting the worker (the fix); a spill goroutine reads it after
/// the fetcher/worker syncer's Wait, before any chunk was handed out.
fn builder(publish_first: bool) {
    let builder = CheckedField::new("BuildWorkerV2.builder", 0usize);
    let syncer = WaitGroup::new("fetcherAndWorkerSyncer");
    let chunks: Chan<u32> = Chan::new("srcChkCh", 1);
    if publish_first {
        builder.set(0xb1);
    }
    let worker = {
        let (builder, syncer, chunks) = (builder.clone(), syncer.clone(), chunks.clone());
        go::go(move || {
            let _f = frame("pkg/executor/join.(*BuildWorkerV2).splitPartitionAndAppendToRowTableForRestore");
            if !publish_first {
                builder.set(0xb1);
            }
            while chunks.recv().is_some() {
                syncer.done();
            }
        })
    };
    syncer.wait();
    let reader = builder.clone();
    go::go(move || {
        let _f = frame("pkg/executor/join.(*hashJoinSpillHelper).spillRowTableImpl.func1");
        reader.get()
    })
    .join();
    syncer.add(1);
    chunks.send(1);
    chunks.close();
    worker.join();
}

fn main() -> ExitCode {
    let strategies = [Strategy::loom(3), Strategy::random(1, 10_000), Strategy::pct(1, 10_000, 3)];
    let cases: [(&str, fn(), bool); 4] = [
        ("race 1: key length after a 1-byte null map (pre-#57451)", || used_flag(1), true),
        ("race 1 fixed: key length after a 4-byte null map", || used_flag(4), false),
        ("race 2: builder created inside the worker (pre-#57519)", || builder(false), true),
        ("race 2 fixed: builder created before the worker starts", || builder(true), false),
    ];
    let mut ok = true;
    for (name, model, racy) in cases {
        println!("== {name}");
        let mut shown = false;
        for s in &strategies {
            let outcome = explore(s, model);
            let matches =
                outcome.race().is_some() == racy && outcome.failure.as_ref().is_none_or(|f| f.kind.race().is_some());
            ok &= matches;
            let verdict = if matches { "as expected" } else { "UNEXPECTED" };
            match &outcome.failure {
                Some(f) => println!(
                    "  {s}: {} in execution {} ({:.2?}) -- {verdict}",
                    f.kind.name(),
                    f.execution,
                    outcome.elapsed
                ),
                None => println!(
                    "  {s}: clean over {} executions{} ({:.2?}) -- {verdict}",
                    outcome.executions,
                    if outcome.exhaustive { ", exhaustive" } else { "" },
                    outcome.elapsed
                ),
            }
            if let (Some(race), false) = (outcome.race(), shown) {
                println!("{race}");
                shown = true;
            }
        }
    }
    if ok {
        println!("every verdict matches its expectation");
        ExitCode::SUCCESS
    } else {
        println!("some verdicts did not match");
        ExitCode::FAILURE
    }
}
