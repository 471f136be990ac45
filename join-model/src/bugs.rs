//! A switch per historical bug of hash join v2. Every switch defaults to fixed.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One historical concurrency bug that the model can reintroduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// TiDB #55465 (fixed by PR #55525): the probe reads a stored column's null bit with a plain
    /// 1-byte load (`isColumnNull`) while another probe worker's `setUsedFlag` stores the row's
    /// first null-map word atomically; the bytes overlap.
    NullBitRead,
    /// TiDB's #55864 fix (brought in by PR #55525): the atomic null-bit read is taken for
    /// `columnIndex <= 31`, and at 31 its mask table `[32]uint32` is indexed at 32: an index out of
    /// range panic for an outer-side build storing 32 or more columns.
    NullMapIndex31,
    /// TiDB #57450, race 1 (fixed by PR #57451): with a used flag, the null map is 1 byte for up to
    /// 7 stored columns, so `setUsedFlag`'s 4-byte atomic store at row+8 overlaps the key length
    /// (or key, or row data) that starts at row+9.
    UsedFlagLayout,
    /// TiDB #57450, race 2 (fixed by PR #57519): each build worker creates its row table builder
    /// inside its own goroutine, so a spill goroutine started before the worker handled a chunk
    /// reads the field unordered with that write.
    BuilderPublication,
    /// Not a bug but a layout TiDB had (fixed by PR #57458, the day after #57451): the row table's
    /// length fields are u64, so race 1's plain read of the key length is 8 bytes, [9, 17), as
    /// in #57450's report (audit item I1).
    LengthField64,
    /// TiDB #59377 (fixed by PR #59381): round 1's build fetcher returned on an error at its safe
    /// point (a failed spill, an injected error) without sending it to `errCh`, so the join went on
    /// with the rows fetched so far and returned a wrong result (audit H1).
    LostBuildError,
    /// TiDB #60466 (fixed by PR #60467): `waitJoinWorkers` scanned the row table of an outer-side
    /// build after a failed build, and the scan dereferenced the nil hash table (audit H2).
    ScanAfterFailedBuild,
    /// TiDB #60466's second path (fixed by PR #60531): from PR #60467 `waitJoinWorkers` skips the
    /// scan only when the probe fetcher saw the build fail or the executor close; a fetcher that
    /// failed on its child before waiting for the build, or a restore round whose build failed,
    /// leaves the flag unset, and the scan meets the nil hash table.
    ScanWithoutBuildSuccess,
    /// TiDB #51998 (fixed by PR #53079, 5d780ebf, May 2024): the probe fetcher, shared with hash
    /// join v1, marked the join finished when its first probe chunk was empty and the build side
    /// was the inner one, before waiting for the build; a build fetcher that then saw `finished`
    /// stopped without an error, and a build error due was lost. No modelled commit predates the
    /// fix (hash join v2 came after it), so only a scenario's `bugs` turns it on: the shared
    /// fetcher before #53079 on the v2 executor of a later commit.
    EmptyProbeShortPath,
    /// TiDB #58286 (fixed by PR #58406): in a restore round whose build spilled every partition,
    /// each probe worker's `probeAndSendResult` sets the test-only flag `skipProbeInRestoreForTest`
    /// with a plain write; two workers write it unordered. The write exists only under
    /// `intest.InTest`, so the race was in TiDB's tests, never in a user's query.
    SkipProbeFlag,
    /// TiDB #60052 (introduced by PR #59255, fixed by PR #60061): every spill goroutine adds its
    /// segments' valid rows to the shared `spilledValidRowNum` with a plain `+=`.
    SpilledValidRowNum,
}

impl Bug {
    /// Every switch, in a stable order.
    pub const ALL: [Bug; 11] = [
        Bug::NullBitRead,
        Bug::NullMapIndex31,
        Bug::UsedFlagLayout,
        Bug::BuilderPublication,
        Bug::LengthField64,
        Bug::LostBuildError,
        Bug::ScanAfterFailedBuild,
        Bug::ScanWithoutBuildSuccess,
        Bug::EmptyProbeShortPath,
        Bug::SkipProbeFlag,
        Bug::SpilledValidRowNum,
    ];

    /// The switch's name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Bug::NullBitRead => "55465-null-bit-read",
            Bug::NullMapIndex31 => "55864-null-map-index-31",
            Bug::UsedFlagLayout => "57450-used-flag-layout",
            Bug::BuilderPublication => "57450-builder-publication",
            Bug::LengthField64 => "57458-uint64-length-field",
            Bug::LostBuildError => "59377-lost-build-error",
            Bug::ScanAfterFailedBuild => "60466-scan-after-failed-build",
            Bug::ScanWithoutBuildSuccess => "60531-scan-without-build-success",
            Bug::EmptyProbeShortPath => "51998-empty-probe-short-path",
            Bug::SkipProbeFlag => "58286-skip-probe-flag",
            Bug::SpilledValidRowNum => "60052-spilled-valid-row-num",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not a known bug switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBug(pub String);

impl fmt::Display for UnknownBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<_> = Bug::ALL.iter().map(|b| b.name()).collect();
        write!(f, "unknown bug switch {:?} (known: {})", self.0, known.join(", "))
    }
}

impl std::error::Error for UnknownBug {}

impl FromStr for Bug {
    type Err = UnknownBug;

    fn from_str(s: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| UnknownBug(s.to_string()))
    }
}

/// The set of active (reintroduced) bugs; empty means every bug is fixed. It also knows the bugs
/// whose code was not written yet at the commit modelled: that code is absent, neither buggy nor
/// fixed (a commit before PR #59255 has no `spilledValidRowNum` at all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    active: BTreeSet<Bug>,
    unwritten: BTreeSet<Bug>,
}

impl Bugs {
    /// Every bug fixed.
    pub fn fixed() -> Bugs {
        Bugs::default()
    }

    /// The given bugs active.
    pub fn with(bugs: impl IntoIterator<Item = Bug>) -> Bugs {
        Bugs { active: bugs.into_iter().collect(), unwritten: BTreeSet::new() }
    }

    /// These bugs' code not written yet (and so not active).
    pub fn unwritten(self, bugs: impl IntoIterator<Item = Bug>) -> Bugs {
        let unwritten: BTreeSet<Bug> = bugs.into_iter().collect();
        Bugs { active: &self.active - &unwritten, unwritten }
    }

    /// The same code, with exactly `bugs` active (a scenario's `bugs = [...]` override): an
    /// active bug's code is written.
    pub fn with_active(self, bugs: impl IntoIterator<Item = Bug>) -> Bugs {
        let active: BTreeSet<Bug> = bugs.into_iter().collect();
        Bugs { unwritten: &self.unwritten - &active, active }
    }

    /// Whether `bug` is active.
    pub fn has(&self, bug: Bug) -> bool {
        self.active.contains(&bug)
    }

    /// Whether the code `bug` lives in exists (buggy or fixed).
    pub fn written(&self, bug: Bug) -> bool {
        !self.unwritten.contains(&bug)
    }
}

/// The active switches' names, comma-separated, or `none`.
impl fmt::Display for Bugs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.active.is_empty() {
            return f.write_str("none");
        }
        // By name, so by issue number.
        let mut names: Vec<&str> = self.active.iter().map(|b| b.name()).collect();
        names.sort_unstable();
        f.write_str(&names.join(", "))
    }
}
