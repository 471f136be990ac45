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

/// The join types hash join v2 covered at the time of #57450.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Inner join.
    Inner,
    /// Left outer join: every left row appears.
    LeftOuter,
    /// Right outer join: every right row appears.
    RightOuter,
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
    /// Whether the build side is the outer side: probing must then mark matched build rows
    /// (`setUsedFlag`) and a scan emits the unmatched ones (`NeedScanRowTable`).
    pub fn is_outer_side_build(self, build: BuildSide) -> bool {
        matches!((self, build), (JoinType::LeftOuter, BuildSide::Left) | (JoinType::RightOuter, BuildSide::Right))
    }

    /// Whether the probe side is the outer side: unmatched probe rows are emitted with NULLs.
    pub fn is_outer_side_probe(self, build: BuildSide) -> bool {
        matches!((self, build), (JoinType::LeftOuter, BuildSide::Right) | (JoinType::RightOuter, BuildSide::Left))
    }
}
