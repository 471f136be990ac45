//! Values, column types, rows and chunks: the small slice of TiDB's `types` and `chunk` the model needs.

use std::fmt;

/// A column value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed or unsigned 64-bit integer (unsigned values are stored as their bit pattern).
    Int(i64),
    /// A string (bytes).
    Str(Vec<u8>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
        }
    }
}

/// A column type, reduced to what decides TiDB's row layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColType {
    /// `BIGINT`: fixed 8 bytes, can be an inlined key.
    Int,
    /// `BIGINT UNSIGNED`.
    UInt,
    /// `BIGINT NOT NULL`.
    NotNullInt,
    /// `VARCHAR`: variable length; as a key it is serialized, never inlined (a collation that is
    /// not raw memory).
    Str,
}

impl ColType {
    /// `chunk.GetFixedLen`: the fixed size, or `None` for a variable-length column.
    pub fn fixed_len(self) -> Option<usize> {
        match self {
            ColType::Int | ColType::UInt | ColType::NotNullInt => Some(8),
            ColType::Str => None,
        }
    }
}

/// A row: one value per column.
pub type Row = Vec<Value>;

/// The join types hash join v2 has (`NewJoinProbe`, `base_join_probe.go:728-810` at 8746e39b65).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Inner join.
    Inner,
    /// Left outer join: every left row appears.
    LeftOuter,
    /// Right outer join: every right row appears.
    RightOuter,
    /// Semi join: the left rows with a match (`semiJoinProbe`, PR #57658).
    Semi,
    /// Anti semi join: the left rows without a match (`antiSemiJoinProbe`, PR #57971).
    AntiSemi,
    /// Left outer semi join: every left row and a match flag (`leftOuterSemiJoinProbe`, PR #57053).
    LeftOuterSemi,
    /// Anti left outer semi join: every left row and a no-match flag (`isAnti`, PR #58479).
    AntiLeftOuterSemi,
}

/// Which input is the build side. The other is the probe side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildSide {
    /// The left input is built into the hash table.
    Left,
    /// The right input is built into the hash table.
    Right,
}

impl JoinType {
    /// Every join type.
    pub const ALL: [JoinType; 7] = [
        JoinType::Inner,
        JoinType::LeftOuter,
        JoinType::RightOuter,
        JoinType::Semi,
        JoinType::AntiSemi,
        JoinType::LeftOuterSemi,
        JoinType::AntiLeftOuterSemi,
    ];

    /// Every join type with every build side it allows ([`JoinType::allows`]): 12 pairs.
    pub fn with_build_sides() -> Vec<(JoinType, BuildSide)> {
        JoinType::ALL
            .into_iter()
            .flat_map(|jt| [BuildSide::Left, BuildSide::Right].map(|bs| (jt, bs)))
            .filter(|(jt, bs)| jt.allows(*bs))
            .collect()
    }

    /// Whether `build` may be this join's build side: the left outer semi joins build the right
    /// side only (`NewJoinProbe` panics otherwise; the planner fixes the side).
    pub fn allows(self, build: BuildSide) -> bool {
        !matches!((self, build), (JoinType::LeftOuterSemi | JoinType::AntiLeftOuterSemi, BuildSide::Left))
    }

    /// Whether the result has the left columns only (and, for the left outer semi joins, a flag).
    pub fn is_semi_family(self) -> bool {
        matches!(self, JoinType::Semi | JoinType::AntiSemi | JoinType::LeftOuterSemi | JoinType::AntiLeftOuterSemi)
    }

    /// Whether the build side is the outer side of an outer join.
    pub fn is_outer_side_build(self, build: BuildSide) -> bool {
        matches!((self, build), (JoinType::LeftOuter, BuildSide::Left) | (JoinType::RightOuter, BuildSide::Right))
    }

    /// Whether the probe side is the outer side of an outer join: unmatched probe rows are
    /// emitted with NULLs.
    pub fn is_outer_side_probe(self, build: BuildSide) -> bool {
        matches!((self, build), (JoinType::LeftOuter, BuildSide::Right) | (JoinType::RightOuter, BuildSide::Left))
    }

    /// `NeedScanRowTable`, which is also the row layout's `needUsedFlag`: probing marks matched
    /// build rows (`setUsedFlag`) and a scan emits rows by their flag. True for an outer join
    /// building its outer side and for (anti) semi joins building the left side.
    pub fn need_scan_row_table(self, build: BuildSide) -> bool {
        self.is_outer_side_build(build)
            || matches!((self, build), (JoinType::Semi | JoinType::AntiSemi, BuildSide::Left))
    }

    /// `canSkipProbeIfHashTableIsEmpty` (`hash_join_v2.go:774-787`): whether an empty hash table
    /// makes probing pointless.
    pub fn can_skip_probe_if_hash_table_is_empty(self, build: BuildSide) -> bool {
        match self {
            JoinType::Inner => true,
            JoinType::LeftOuter | JoinType::RightOuter => self.is_outer_side_build(build),
            JoinType::Semi => build == BuildSide::Right,
            _ => false,
        }
    }
}
