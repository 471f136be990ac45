//! The join being executed: its type, sides, keys and the build-side row layout.

use crate::bugs::{Bug, Bugs};
use crate::meta::{
    new_table_meta, serialize_key, JoinTableMeta, LengthField, NullMapRead, NullMapRule, TableMetaInput,
};
use crate::types::{BuildSide, ColType, JoinType, Row, Value};

/// A hash join: `left JOIN right ON left[left_keys[i]] = right[right_keys[i]]`.
#[derive(Clone, Debug)]
pub struct JoinSpec {
    /// Inner, left outer or right outer.
    pub join_type: JoinType,
    /// Which side is built into the hash table.
    pub build_side: BuildSide,
    /// Column types of the left input.
    pub left_types: Vec<ColType>,
    /// Column types of the right input.
    pub right_types: Vec<ColType>,
    /// Key columns of the left input.
    pub left_keys: Vec<usize>,
    /// Key columns of the right input.
    pub right_keys: Vec<usize>,
    /// The build-side row layout.
    pub meta: JoinTableMeta,
}

impl JoinSpec {
    /// A join and its row layout; the `57450-used-flag-layout` switch picks the null-map rule.
    pub fn new(
        join_type: JoinType,
        build_side: BuildSide,
        (left_types, left_keys): (Vec<ColType>, Vec<usize>),
        (right_types, right_keys): (Vec<ColType>, Vec<usize>),
        bugs: &Bugs,
    ) -> JoinSpec {
        assert_eq!(left_keys.len(), right_keys.len(), "one key column per side per equality");
        let (bt, bk, pt, pk) = match build_side {
            BuildSide::Left => (&left_types, &left_keys, &right_types, &right_keys),
            BuildSide::Right => (&right_types, &right_keys, &left_types, &left_keys),
        };
        let build_key_types: Vec<ColType> = bk.iter().map(|&i| bt[i]).collect();
        let probe_key_types: Vec<ColType> = pk.iter().map(|&i| pt[i]).collect();
        // Mixed signed/unsigned keys change only the layout (a sign flag); the model's values do
        // not carry signedness, so it joins keys of one type per equality.
        assert_eq!(build_key_types, probe_key_types, "key column types must match across sides");
        let rule = if bugs.has(Bug::UsedFlagLayout) { NullMapRule::Pre57451 } else { NullMapRule::Post57451 };
        let length = if bugs.has(Bug::LengthField64) { LengthField::Pre57458U64 } else { LengthField::U32 };
        let mut meta = new_table_meta(
            &TableMetaInput {
                build_key_index: bk,
                build_types: bt,
                build_key_types: &build_key_types,
                probe_key_types: &probe_key_types,
                columns_used_by_other_condition: &[],
                output_columns: None,
                need_used_flag: join_type.is_outer_side_build(build_side),
            },
            rule,
            length,
        );
        meta.null_map_read = if bugs.has(Bug::NullBitRead) {
            NullMapRead::Plain
        } else if bugs.has(Bug::NullMapIndex31) {
            NullMapRead::AtomicUpTo31
        } else {
            NullMapRead::AtomicBelow31
        };
        JoinSpec { join_type, build_side, left_types, right_types, left_keys, right_keys, meta }
    }

    /// Build-side key columns.
    pub fn build_keys(&self) -> &[usize] {
        match self.build_side {
            BuildSide::Left => &self.left_keys,
            BuildSide::Right => &self.right_keys,
        }
    }

    /// Probe-side key columns.
    pub fn probe_keys(&self) -> &[usize] {
        match self.build_side {
            BuildSide::Left => &self.right_keys,
            BuildSide::Right => &self.left_keys,
        }
    }

    /// Number of build-side columns.
    pub fn build_width(&self) -> usize {
        self.meta.total_column_number
    }

    /// Number of probe-side columns.
    pub fn probe_width(&self) -> usize {
        match self.build_side {
            BuildSide::Left => self.right_types.len(),
            BuildSide::Right => self.left_types.len(),
        }
    }

    /// The build and the probe input among `left` and `right`.
    pub fn split<'a>(&self, left: &'a [Row], right: &'a [Row]) -> (&'a [Row], &'a [Row]) {
        match self.build_side {
            BuildSide::Left => (left, right),
            BuildSide::Right => (right, left),
        }
    }

    /// `NeedScanRowTable`: outer-side build marks matches and scans for the unmatched rows.
    pub fn need_used_flag(&self) -> bool {
        self.join_type.is_outer_side_build(self.build_side)
    }

    /// The serialized key of a build row (`None`: a NULL key).
    pub fn build_key(&self, row: &Row) -> Option<Vec<u8>> {
        serialize_key(row, self.build_keys(), &self.meta.serialize_modes)
    }

    /// The serialized key of a probe row (`None`: a NULL key).
    pub fn probe_key(&self, row: &Row) -> Option<Vec<u8>> {
        serialize_key(row, self.probe_keys(), &self.meta.serialize_modes)
    }

    /// A result row: left columns then right columns; `None` sides are NULL-filled.
    pub fn combine(&self, build: Option<&Row>, probe: Option<&Row>) -> Row {
        let nulls = |n| vec![Value::Null; n];
        let b = build.cloned().unwrap_or_else(|| nulls(self.build_width()));
        let p = probe.cloned().unwrap_or_else(|| nulls(self.probe_width()));
        match self.build_side {
            BuildSide::Left => [b, p].concat(),
            BuildSide::Right => [p, b].concat(),
        }
    }
}
