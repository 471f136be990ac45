//! The schedule file: round trip, each kind of corruption as a clear error naming line and field,
//! and a fuzz of the decoder (no input makes it panic).

use harness::schedule::file::ScheduleFile;
use harness::Schedule;
use proptest::prelude::*;

fn sample() -> ScheduleFile {
    ScheduleFile {
        model: "race1-used-flag-layout".into(),
        model_hash: "fnv1a64:0123456789abcdef".into(),
        strategy: "shuttle-pct(seed 1, 1000 executions, depth 3)".into(),
        execution: 4,
        failure: "data race".into(),
        summary: "race between A and B".into(),
        preemptions: 1,
        schedule: Schedule { steps: vec![0, 0, 0, 1, 2, 2, 0, 1, 1, 1, 3], choices: vec![7, 1 << 40] },
        model_source: None,
    }
}

#[test]
fn round_trip() {
    let text = sample().encode();
    assert!(text.starts_with("joinrace-schedule v2\nmodel: race1-used-flag-layout\n"), "{text}");
    assert!(text.ends_with("---\n1*3 2 3*2 1 2*3 4\n"), "{text}");
    assert_eq!(ScheduleFile::decode(text.as_bytes()), Ok(sample()));
}

#[test]
fn the_model_source_comes_back_verbatim() {
    // Text that looks like a schedule's, and no final newline: still the source, byte for byte.
    let source = "name = \"x\"\n---\n1*3 2\n\n[rows]\nlast line without newline";
    let file = ScheduleFile { model_source: Some(source.into()), ..sample() };
    let text = file.encode();
    assert!(text.contains("---\n1*3 2 3*2 1 2*3 4\n--- model source\nname = "), "{text}");
    assert_eq!(ScheduleFile::decode(text.as_bytes()), Ok(file));
}

fn error(text: &str) -> String {
    ScheduleFile::decode(text.as_bytes()).expect_err("a corrupt file").to_string()
}

#[test]
fn truncated_files_name_what_is_missing() {
    let text = sample().encode();
    let header_only = &text[..text.find("---").unwrap()];
    assert_eq!(error(header_only), "line 12: ---: missing (the file is truncated)");
    let mid_header = &text[..text.find("failure:").unwrap()];
    assert_eq!(error(mid_header), "line 6: failure: missing (the file is truncated)");
    let short_steps = text.trim_end().trim_end_matches(" 4").to_string();
    assert_eq!(error(&short_steps), "line 13: steps: 10 steps where the header gives 11 (the file is truncated)");
    let more_goroutines = text.replace("goroutines: 4", "goroutines: 5");
    assert_eq!(error(&more_goroutines), "line 9: goroutines: the steps use 4 goroutines");
}

/// Header fields are read by name: their order does not matter, and the first v2 files' names for
/// the model (`scenario`, `scenario-hash`) still read.
#[test]
fn header_fields_are_read_by_name() {
    let text = sample().encode();
    let swapped = text.replace("execution: 4\nfailure: data race\n", "failure: data race\nexecution: 4\n");
    assert_ne!(swapped, text);
    assert_eq!(ScheduleFile::decode(swapped.as_bytes()), Ok(sample()));
    let old_names = text.replace("\nmodel: ", "\nscenario: ").replace("\nmodel-hash: ", "\nscenario-hash: ");
    assert_ne!(old_names, text);
    assert_eq!(ScheduleFile::decode(old_names.as_bytes()), Ok(sample()));
}

#[test]
fn a_wrong_version_is_named() {
    let text = sample().encode().replace("v2", "v7");
    assert_eq!(error(&text), "line 1: version: unsupported version `v7`; this joinrace reads v2");
}

#[test]
fn a_file_from_before_the_scheduling_points_changed_says_so() {
    let text = sample().encode().replace("v2", "v1");
    assert_eq!(
        error(&text),
        "line 1: version: version v1 was recorded by an older joinrace whose scheduling points differ; this \
         joinrace reads v2: run the scenario again to record the failure anew"
    );
}

#[test]
fn random_bytes_are_not_a_schedule() {
    assert_eq!(
        error("\u{7f}ELF\u{2}\u{1}"),
        "line 1: file: not a joinrace schedule (the first line is not `joinrace-schedule v2`)"
    );
    let bad = ScheduleFile::decode(&[0xff, 0xfe, 0x00]).unwrap_err();
    assert_eq!(bad.to_string(), "line 1: file: not UTF-8 text (byte 0)");
}

#[test]
fn bad_fields_are_named() {
    let text = sample().encode();
    assert_eq!(error(&text.replace("execution: 4", "execution: four")), "line 5: execution: `four` is not a number");
    assert_eq!(error(&text.replace("preemptions: 1\n", "")), "line 11: preemptions: missing");
    assert_eq!(
        error(&text.replace("preemptions: 1\n", "preemptions: 1\npreemptions: 2\n")),
        "line 9: preemptions: given twice"
    );
    assert!(error(&text.replace("steps: 11\n", "stpes: 11\n")).starts_with("line 10: header: unknown field `stpes`"));
    assert_eq!(error(&text.replace("3*2", "3*0")), "line 13: steps: `3*0` is not a step (`G` or `G*N`)");
    assert_eq!(
        error(&text.replace("2*3 4\n", "2*3 9\n")),
        "line 13: steps: goroutine 9 is not one of the 4 goroutines"
    );
    assert_eq!(
        error(&text.replace("steps: 11", "steps: 99999999999")),
        "line 10: steps: 99999999999 steps is more than the 50000000 allowed"
    );
    // A run count near usize::MAX must not overflow the check (found in review, not by the fuzz).
    let huge = text.replace("2*3 4\n", "2*3 4*18446744073709551615\n");
    assert_eq!(error(&huge), "line 13: steps: more steps than the 11 the header gives");
}

/// Valid files with a few bytes changed, and files cut short: the decoder's likeliest inputs.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let base = sample().encode().into_bytes();
    let len = base.len();
    (proptest::collection::vec((0..len, any::<u8>()), 0..6), 0..=len).prop_map(move |(edits, cut)| {
        let mut b = base.clone();
        for (i, v) in edits {
            b[i] = v;
        }
        b.truncate(cut.max(1));
        b
    })
}

proptest! {
    // A fixed seed: the same 10,000 cases on every run, so a failure here is never a flake.
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5c4e_d01e),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_decoder_never_panics(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        mutated(),
        // Valid files with a header value changed to arbitrary text.
        "[^\n]{0,12}".prop_map(|v| sample().encode().replace("race between A and B", &v).into_bytes()),
    ]) {
        if let Ok(file) = ScheduleFile::decode(&bytes) {
            // Whatever it accepts, it writes back and reads again the same.
            prop_assert_eq!(ScheduleFile::decode(file.encode().as_bytes()), Ok(file));
        }
    }
}
