//! Slice (b): a restore round's build with its controller, split workers and spill goroutines.

use harness::{explore, Strategy};
use join_model::frames::*;
use join_model::slices::restore_build_slice;
use join_model::{Bug, Bugs};

use crate::common::race2_input;

fn strategies() -> Vec<Strategy> {
    vec![Strategy::loom(2), Strategy::random(7, 1_000), Strategy::pct(7, 1_000, 3)]
}

#[test]
fn spill_reads_builder_unordered_with_worker_write_before_57519() {
    let input = race2_input(&Bugs::with([Bug::BuilderPublication]));
    for s in strategies() {
        let input = input.clone();
        let o = explore(&s, move || restore_build_slice(input.clone()));
        let race = o.race().unwrap_or_else(|| panic!("no race under {s}: {o}"));
        let mut sites = [race.current.site().unwrap_or_default(), race.previous.site().unwrap_or_default()];
        sites.sort();
        assert_eq!(sites, [SPLIT_PARTITION_AND_APPEND_FOR_RESTORE, SPILL_ROW_TABLE_IMPL_FUNC1], "{race}");
        assert!(race.object.ends_with(".builder"), "{race}");
        println!("{s}: found in execution {}\n{race}", o.failure.as_ref().unwrap().execution);
    }
}

#[test]
fn restore_slice_is_clean_and_keeps_every_row_after_57519() {
    let input = race2_input(&Bugs::fixed());
    for s in strategies() {
        let input = input.clone();
        let o = explore(&s, move || restore_build_slice(input.clone()));
        assert!(o.failure.is_none(), "{o}");
        if s.exhausts() {
            assert!(o.exhaustive, "{o}");
        }
        println!("{o}");
    }
}
