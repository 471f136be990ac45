//! The TiDB commits the model can be, and the fixes it knows: a scenario names a commit
//! (`tidb = "5450000d92"`) and gets exactly the bug switches of the fixes TiDB did not have yet.
//!
//! TiDB's master history is linear here: [`COMMITS`] lists the commits in order, and a fix is in
//! a commit when its own commit is that one or comes before it. Commits are the ones the fidelity
//! audit pinned (`shared/research/tidb-fidelity-audit.md`, read from a fork carrying master).

use std::fmt;

use crate::bugs::{Bug, Bugs};
use crate::types::{BuildSide, JoinType};

/// A TiDB commit on master that the model can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The abbreviated commit id, as TiDB's history shows it.
    pub id: &'static str,
    /// What it is.
    pub what: &'static str,
}

/// The commits the model can be, oldest first (master's order, read from a fork carrying master
/// to February 2026: #55525 merged 2024-08-22 after its parent of that day, #55864 on 2024-09-05,
/// #57451 merged 2024-11-18, #57458 the day after, #57519 after its parent of
/// 2024-11-20, #58406 on 2024-12-20, #59255 and then #59381 on 2025-02-11, #60061 on 2025-03-14,
/// #60467 on 2025-04-10, #60531 on 2025-04-17).
pub const COMMITS: [Commit; 14] = [
    Commit { id: "9690dab339", what: "parent of PR #55525 (#55465's race; probe slice only)" },
    Commit { id: "2761e91f2e", what: "PR #55525: atomic null-bit reads beside the used flag (probe slice only)" },
    Commit { id: "41c99261bf", what: "PR #55864: no index out of range at column 31 (probe slice only)" },
    Commit { id: "a22b8421a6", what: "parent of PR #57451 (#57450's race 1 stack)" },
    Commit { id: "043f833c49", what: "PR #57451: null map rounded up for the used flag" },
    Commit { id: "ac90676f06", what: "PR #57458: uint32 key length" },
    Commit { id: "5450000d92", what: "parent of PR #57519 (#57450's race 2 stack)" },
    Commit { id: "51161154df", what: "PR #57519: row table builders created before the workers start" },
    Commit { id: "acba0cd1e2", what: "PR #58406: skipProbeInRestoreForTest an atomic.Bool" },
    Commit { id: "8bfc46e5bb", what: "PR #59255: spill statistics (introduces #60052's counter)" },
    Commit { id: "27365b47", what: "PR #59381: round 1's build errors reach errCh" },
    Commit { id: "2f558585b2", what: "PR #60061: spilledValidRowNum an atomic.Uint64" },
    Commit { id: "d0e4cd4d", what: "PR #60467: no row table scan after a failed build" },
    Commit { id: "8746e39b65", what: "PR #60531: the row table scanned only after a successful build" },
];

/// A fix of TiDB's that the model has as a bug switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fix {
    /// The pull request.
    pub pr: u32,
    /// Its merge commit (one of [`COMMITS`]).
    pub commit: &'static str,
    /// The bug it fixes: active in every commit before this one (from `introduced` on, when set).
    pub bug: Bug,
    /// The commit that brought the bug in, when it is one of [`COMMITS`]; `None` when the bug is
    /// as old as the oldest commit the model can be.
    pub introduced: Option<&'static str>,
}

/// Every modelled fix, with its PR and commit: the one place bug switches come from.
pub const FIXES: [Fix; 10] = [
    Fix { pr: 55525, commit: "2761e91f2e", bug: Bug::NullBitRead, introduced: None },
    Fix { pr: 55864, commit: "41c99261bf", bug: Bug::NullMapIndex31, introduced: Some("2761e91f2e") },
    Fix { pr: 57451, commit: "043f833c49", bug: Bug::UsedFlagLayout, introduced: None },
    Fix { pr: 57458, commit: "ac90676f06", bug: Bug::LengthField64, introduced: None },
    Fix { pr: 57519, commit: "51161154df", bug: Bug::BuilderPublication, introduced: None },
    Fix { pr: 58406, commit: "acba0cd1e2", bug: Bug::SkipProbeFlag, introduced: None },
    Fix { pr: 59381, commit: "27365b47", bug: Bug::LostBuildError, introduced: None },
    Fix { pr: 60061, commit: "2f558585b2", bug: Bug::SpilledValidRowNum, introduced: Some("8bfc46e5bb") },
    Fix { pr: 60467, commit: "d0e4cd4d", bug: Bug::ScanAfterFailedBuild, introduced: None },
    Fix { pr: 60531, commit: "8746e39b65", bug: Bug::ScanWithoutBuildSuccess, introduced: None },
];

/// When hash join v2 gained a join type (or a build side of one): the PR, its merge commit, and
/// the first of [`COMMITS`] that has it. Read from TiDB's history (`git log` on the probe files
/// and the planner's `getHashJoins`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinTypeAdded {
    /// The pull request.
    pub pr: u32,
    /// Its merge commit.
    pub commit: &'static str,
    /// The first modelled commit that has it.
    pub first_modelled: &'static str,
}

/// When `join_type` building `build` came to hash join v2; `None` for the types it started with.
pub fn join_type_added(join_type: JoinType, build: BuildSide) -> Option<JoinTypeAdded> {
    let added = |pr, commit, first_modelled| Some(JoinTypeAdded { pr, commit, first_modelled });
    match (join_type, build) {
        (JoinType::Inner | JoinType::LeftOuter | JoinType::RightOuter, _) => None,
        // 2024-11-13: before the oldest whole-executor commit, after the probe-only ones.
        (JoinType::LeftOuterSemi, _) => added(57053, "8832684721", FIRST_WHOLE_EXECUTOR),
        // The executor built either side from #57658 and #57971; the planner offered the left
        // build side from #58546 (2024-12-27).
        (JoinType::Semi | JoinType::AntiSemi, BuildSide::Left) => added(58546, "652cee2f0b", "8bfc46e5bb"),
        (JoinType::Semi, BuildSide::Right) => added(57658, "8eebb2da00", "acba0cd1e2"),
        (JoinType::AntiSemi, BuildSide::Right) => added(57971, "033b1758a9", "acba0cd1e2"),
        (JoinType::AntiLeftOuterSemi, _) => added(58479, "3c407312a9", "8bfc46e5bb"),
    }
}

/// Whether TiDB's hash join v2 at `commit` had `join_type` building `build`; if not, why.
pub fn has_join_type(commit: Commit, join_type: JoinType, build: BuildSide) -> Result<(), String> {
    match join_type_added(join_type, build) {
        Some(a) if position(commit.id) < position(a.first_modelled) => Err(format!(
            "hash join v2 has no {join_type:?} join building the {build:?} side at {} (it came with PR #{}, {})",
            commit.id, a.pr, a.commit
        )),
        _ => Ok(()),
    }
}

/// The oldest commit whose whole executor the model is. Before it (August and September 2024)
/// hash join v2 had no spill and its build differed; the model there is the probe side only,
/// which the fixes of that time touched, and a scenario at such a commit must be a probe slice.
pub const FIRST_WHOLE_EXECUTOR: &str = "a22b8421a6";

/// Whether the model is `commit`'s whole executor, or only its probe side.
pub fn whole_executor(commit: Commit) -> bool {
    position(commit.id) >= position(FIRST_WHOLE_EXECUTOR)
}

/// The newest commit the model knows: what a scenario without `tidb` models.
pub fn latest() -> Commit {
    COMMITS[COMMITS.len() - 1]
}

/// The commit `id` names (at least 7 hex digits of one of [`COMMITS`]).
pub fn commit(id: &str) -> Result<Commit, UnknownCommit> {
    let known = id.len() >= 7 && id.chars().all(|c| c.is_ascii_hexdigit());
    COMMITS
        .into_iter()
        .find(|c| known && (c.id.starts_with(id) || id.starts_with(c.id)))
        .ok_or_else(|| UnknownCommit(id.to_string()))
}

/// The bugs TiDB had at `commit`: those brought in by it or before it and fixed after it; the
/// code of bugs brought in after it is absent.
pub fn bugs_at(commit: Commit) -> Bugs {
    let at = position(commit.id);
    let unwritten = |f: &Fix| f.introduced.is_some_and(|i| position(i) > at);
    Bugs::with(FIXES.into_iter().filter(|f| position(f.commit) > at).map(|f| f.bug))
        .unwritten(FIXES.into_iter().filter(unwritten).map(|f| f.bug))
}

fn position(id: &str) -> usize {
    COMMITS.iter().position(|c| c.id == id).expect("fixes name known commits")
}

/// A commit the model does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCommit(pub String);

impl fmt::Display for UnknownCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<String> = COMMITS.iter().map(|c| format!("{} ({})", c.id, c.what)).collect();
        write!(f, "unknown TiDB commit {:?} (known: {})", self.0, known.join(", "))
    }
}

impl std::error::Error for UnknownCommit {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_commit_has_the_bugs_brought_in_and_not_yet_fixed() {
        let at = |id| {
            let bugs = bugs_at(commit(id).expect("known"));
            Bugs::with(Bug::ALL.into_iter().filter(|&b| bugs.has(b)))
        };
        let later = [Bug::SkipProbeFlag, Bug::LostBuildError, Bug::ScanAfterFailedBuild, Bug::ScanWithoutBuildSuccess];
        let layout = [Bug::UsedFlagLayout, Bug::BuilderPublication, Bug::LengthField64];
        let august = |bugs: &[Bug]| Bugs::with(bugs.iter().chain(&layout).chain(&later).copied());
        assert_eq!(at("9690dab339"), august(&[Bug::NullBitRead]));
        // #55525 brought #55864's bug in with its fix.
        assert_eq!(at("2761e91f2e"), august(&[Bug::NullMapIndex31]));
        assert!(!bugs_at(commit("9690dab339").expect("known")).written(Bug::NullMapIndex31));
        assert_eq!(at("41c99261bf"), august(&[]));
        assert!(!whole_executor(commit("41c99261bf").expect("known")));
        assert!(whole_executor(commit("a22b8421a6").expect("known")));
        let with = |bugs: &[Bug]| Bugs::with(bugs.iter().chain(&later).copied());
        assert_eq!(at("a22b8421a6"), with(&[Bug::UsedFlagLayout, Bug::BuilderPublication, Bug::LengthField64]));
        assert_eq!(at("043f833c49"), with(&[Bug::BuilderPublication, Bug::LengthField64]));
        assert_eq!(at("ac90676f06"), with(&[Bug::BuilderPublication]));
        assert_eq!(at("5450000d92"), with(&[Bug::BuilderPublication]));
        assert_eq!(at("51161154df"), with(&[]));
        let last = [Bug::ScanAfterFailedBuild, Bug::ScanWithoutBuildSuccess];
        let from_58406 = |bugs: &[Bug]| Bugs::with(bugs.iter().chain(&last).copied());
        assert_eq!(at("acba0cd1e2"), from_58406(&[Bug::LostBuildError]));
        // #59255 brought the counter in: the bug exists only from its commit to #60061's.
        assert_eq!(at("8bfc46e5bb"), from_58406(&[Bug::LostBuildError, Bug::SpilledValidRowNum]));
        assert_eq!(at("27365b47"), from_58406(&[Bug::SpilledValidRowNum]));
        assert_eq!(at("2f558585b2"), from_58406(&[]));
        assert_eq!(at("d0e4cd4d"), Bugs::with([Bug::ScanWithoutBuildSuccess]));
        assert_eq!(at("8746e39b65"), Bugs::fixed());
        assert_eq!(bugs_at(latest()), Bugs::fixed());
        let before_59255 = bugs_at(commit("acba0cd1e2").expect("known"));
        assert!(!before_59255.written(Bug::SpilledValidRowNum), "no counter before #59255");
        assert!(bugs_at(commit("8bfc46e5bb").expect("known")).written(Bug::SpilledValidRowNum));
    }

    #[test]
    fn a_commit_is_named_by_a_prefix_of_seven_digits_or_more() {
        assert_eq!(commit("5450000").map(|c| c.id), Ok("5450000d92"));
        assert_eq!(commit("5450000d92ab12").map(|c| c.id), Ok("5450000d92"));
        assert!(commit("545000").is_err());
        assert!(commit("v8.5.0").is_err());
        assert!(commit("").is_err());
    }

    /// Audit item I1: before PR #57458 the row table's length fields are u64, so the key length
    /// race 1 reads at row+9 is 8 bytes, as in #57450's report; from #57458 on, a u32.
    #[test]
    fn i1_the_key_length_is_a_u64_before_57458() {
        use crate::{BuildSide, ColType, JoinSpec, JoinType};
        let spec = |id| {
            let cols = (vec![ColType::Str, ColType::Int], vec![0]);
            JoinSpec::new(
                JoinType::RightOuter,
                BuildSide::Right,
                cols.clone(),
                cols,
                &bugs_at(commit(id).expect("known")),
            )
        };
        assert_eq!(spec("a22b8421a6").meta.length_field, 8);
        assert_eq!(spec("043f833c49").meta.length_field, 8);
        assert_eq!(spec("ac90676f06").meta.length_field, 4);
        assert_eq!(spec("51161154df").meta.length_field, 4);
    }

    #[test]
    fn every_fix_names_a_known_commit() {
        for f in FIXES {
            assert!(COMMITS.iter().any(|c| c.id == f.commit), "{f:?}");
            assert!(f.introduced.is_none_or(|i| position(i) < position(f.commit)), "{f:?}");
        }
    }
}
