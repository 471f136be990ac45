//! Slice (a): two probe workers on one prepared row table.

use harness::report::AccessKind;
use harness::{explore, Strategy};
use join_model::slices::probe_slice;
use join_model::{Bug, Bugs};

use crate::common::race1_input;

fn strategies() -> Vec<Strategy> {
    vec![Strategy::loom(2), Strategy::random(7, 1_000), Strategy::pct(7, 1_000, 3)]
}

#[test]
fn used_flag_store_races_with_key_length_read_before_57451() {
    let input = race1_input(&Bugs::with([Bug::UsedFlagLayout]));
    for s in strategies() {
        let input = input.clone();
        let o = explore(&s, move || probe_slice(input.clone(), 2));
        let race = o.race().unwrap_or_else(|| panic!("no race under {s}: {o}"));
        let (read, write) = match race.current.kind {
            AccessKind::Read => (&race.current, &race.previous),
            AccessKind::Write => (&race.previous, &race.current),
        };
        assert_eq!((write.atomic, write.size, write.offset % 8), (true, 4, 0), "{race}");
        assert_eq!((read.atomic, read.size, read.offset - write.offset), (false, 4, 1), "{race}");
        assert_eq!(read.stack[0], join_model::frames::GET_SERIALIZED_KEY_LENGTH, "{race}");
        println!("{s}: found in execution {}\n{race}", o.failure.as_ref().unwrap().execution);
    }
}

#[test]
fn probe_slice_is_clean_and_correct_after_57451() {
    let input = race1_input(&Bugs::fixed());
    for s in strategies() {
        let input = input.clone();
        let o = explore(&s, move || probe_slice(input.clone(), 2));
        assert!(o.failure.is_none(), "{o}");
        if s.exhausts() {
            assert!(o.exhaustive, "{o}");
        }
        println!("{o}");
    }
}
