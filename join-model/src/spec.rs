//! The join being executed: its type, sides, keys and the build-side row layout.

use crate::bugs::{Bug, Bugs};
use crate::meta::{
    new_table_meta, serialize_key, JoinTableMeta, LengthField, NullMapRead, NullMapRule, TableMetaInput,
};
use crate::types::{BuildSide, ColType, JoinType, Row, Value};

/// A comparison in an other condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`.
    Eq,
    /// `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// The operator as SQL writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator SQL writes as `s`.
    pub fn parse(s: &str) -> Option<CmpOp> {
        [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge].into_iter().find(|o| o.symbol() == s)
    }
}

/// An other condition (`OtherCondition`): `left[left] op right[right]`, one column of each side,
/// of one type. NULL on either side makes it NULL, which every join type treats as false here
/// (TiDB's `VectorizedFilter`; `VecEvalBool` reports NULL only for an `=` rewritten from `IN`,
/// which this comparison is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtherCondition {
    /// The left input's column.
    pub left: usize,
    /// The comparison.
    pub op: CmpOp,
    /// The right input's column.
    pub right: usize,
}

impl OtherCondition {
    /// Whether the condition holds for a left and a right row (`false` when either value is NULL).
    pub fn holds(&self, left: &Row, right: &Row, unsigned: bool) -> bool {
        use std::cmp::Ordering;
        let ord = match (&left[self.left], &right[self.right]) {
            (Value::Int(a), Value::Int(b)) if unsigned => (*a as u64).cmp(&(*b as u64)),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            _ => return false,
        };
        match self.op {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// A hash join: `left JOIN right ON left[left_keys[i]] = right[right_keys[i]]`, and an other
/// condition when there is one.
#[derive(Clone, Debug)]
pub struct JoinSpec {
    /// The join type.
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
    /// The other condition, if any.
    pub other: Option<OtherCondition>,
    /// The build-side row layout.
    pub meta: JoinTableMeta,
    rule: NullMapRule,
    length: LengthField,
}

impl JoinSpec {
    /// A join and its row layout; the `57450-used-flag-layout` switch picks the null-map rule.
    ///
    /// # Panics
    /// If `join_type` cannot build `build_side` ([`JoinType::allows`]), or the key columns' types
    /// differ across sides.
    pub fn new(
        join_type: JoinType,
        build_side: BuildSide,
        (left_types, left_keys): (Vec<ColType>, Vec<usize>),
        (right_types, right_keys): (Vec<ColType>, Vec<usize>),
        bugs: &Bugs,
    ) -> JoinSpec {
        assert_eq!(left_keys.len(), right_keys.len(), "one key column per side per equality");
        assert!(join_type.allows(build_side), "{join_type:?} cannot build the {build_side:?} side");
        let rule = if bugs.has(Bug::UsedFlagLayout) { NullMapRule::Pre57451 } else { NullMapRule::Post57451 };
        let length = if bugs.has(Bug::LengthField64) { LengthField::Pre57458U64 } else { LengthField::U32 };
        let null_map_read = if bugs.has(Bug::NullBitRead) {
            NullMapRead::Plain
        } else if bugs.has(Bug::NullMapIndex31) {
            NullMapRead::AtomicUpTo31
        } else {
            NullMapRead::AtomicBelow31
        };
        let mut spec = JoinSpec {
            join_type,
            build_side,
            left_types,
            right_types,
            left_keys,
            right_keys,
            other: None,
            meta: placeholder_meta(null_map_read),
            rule,
            length,
        };
        spec.lay_out();
        spec
    }

    /// The join with an other condition: the row layout puts the build column it reads right
    /// after the inlined keys (`setupColumnOrder`).
    ///
    /// # Panics
    /// If a column does not exist or the two columns' types differ.
    pub fn with_other_condition(mut self, other: OtherCondition) -> JoinSpec {
        assert!(other.left < self.left_types.len() && other.right < self.right_types.len(), "no such column");
        assert_eq!(self.left_types[other.left], self.right_types[other.right], "compared columns must have one type");
        self.other = Some(other);
        self.lay_out();
        self
    }

    /// `newTableMeta` for this join: the build side's columns, keys, the column the other
    /// condition reads, and the used flag where the join needs it. A semi join building the
    /// right side outputs no build column (`RUsed` is empty; `NewJoinProbe` panics otherwise).
    fn lay_out(&mut self) {
        let (bt, bk, pt, pk) = match self.build_side {
            BuildSide::Left => (&self.left_types, &self.left_keys, &self.right_types, &self.right_keys),
            BuildSide::Right => (&self.right_types, &self.right_keys, &self.left_types, &self.left_keys),
        };
        let build_key_types: Vec<ColType> = bk.iter().map(|&i| bt[i]).collect();
        let probe_key_types: Vec<ColType> = pk.iter().map(|&i| pt[i]).collect();
        // Mixed signed/unsigned keys change only the layout (a sign flag); the model's values do
        // not carry signedness, so it joins keys of one type per equality.
        assert_eq!(build_key_types, probe_key_types, "key column types must match across sides");
        let other_cols: Vec<usize> = self
            .other
            .iter()
            .map(|o| match self.build_side {
                BuildSide::Left => o.left,
                BuildSide::Right => o.right,
            })
            .collect();
        let no_output: &[usize] = &[];
        let output = (self.join_type.is_semi_family() && self.build_side == BuildSide::Right).then_some(no_output);
        let null_map_read = self.meta.null_map_read;
        self.meta = new_table_meta(
            &TableMetaInput {
                build_key_index: bk,
                build_types: bt,
                build_key_types: &build_key_types,
                probe_key_types: &probe_key_types,
                columns_used_by_other_condition: &other_cols,
                output_columns: output,
                need_used_flag: self.need_used_flag(),
            },
            self.rule,
            self.length,
        );
        self.meta.null_map_read = null_map_read;
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

    /// `NeedScanRowTable` (and `needUsedFlag`): probing marks matched build rows, and a scan
    /// emits build rows by their flag ([`JoinType::need_scan_row_table`]).
    pub fn need_used_flag(&self) -> bool {
        self.join_type.need_scan_row_table(self.build_side)
    }

    /// Whether the other condition holds for a build and a probe row (true without one).
    pub fn other_condition_holds(&self, build: &Row, probe: &Row) -> bool {
        let Some(o) = &self.other else { return true };
        let (left, right) = match self.build_side {
            BuildSide::Left => (build, probe),
            BuildSide::Right => (probe, build),
        };
        o.holds(left, right, self.left_types[o.left] == ColType::UInt)
    }

    /// What a probe row with a NULL key (never looked up) comes out as, if anything: NULL-extended
    /// for an outer probe side, itself for an anti semi join building the right side, with flag 0
    /// (1 for the anti one) for the left outer semi joins.
    pub fn null_key_probe_result(&self, probe: &Row) -> Option<Row> {
        match self.join_type {
            _ if self.join_type.is_outer_side_probe(self.build_side) => Some(self.combine(None, Some(probe))),
            JoinType::AntiSemi if self.build_side == BuildSide::Right => Some(self.semi_result(probe, None)),
            JoinType::LeftOuterSemi => Some(self.semi_result(probe, Some(false))),
            JoinType::AntiLeftOuterSemi => Some(self.semi_result(probe, Some(true))),
            _ => None,
        }
    }

    /// A result row of a semi join family: the left row, and for the left outer semi joins the
    /// flag (1 or 0).
    pub fn semi_result(&self, left: &Row, flag: Option<bool>) -> Row {
        let mut row = left.clone();
        if let Some(f) = flag {
            row.push(Value::Int(f as i64));
        }
        row
    }

    /// The serialized key of a build row (`None`: a NULL key).
    pub fn build_key(&self, row: &Row) -> Option<Vec<u8>> {
        serialize_key(row, self.build_keys(), &self.meta.serialize_modes)
    }

    /// The serialized key of a probe row (`None`: a NULL key).
    pub fn probe_key(&self, row: &Row) -> Option<Vec<u8>> {
        serialize_key(row, self.probe_keys(), &self.meta.serialize_modes)
    }

    /// A result row of an inner or outer join: left columns then right columns; `None` sides are
    /// NULL-filled.
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

/// A layout to overwrite at once (`JoinSpec::new` lays out the real one).
fn placeholder_meta(null_map_read: NullMapRead) -> JoinTableMeta {
    let empty = TableMetaInput {
        build_key_index: &[],
        build_types: &[],
        build_key_types: &[],
        probe_key_types: &[],
        columns_used_by_other_condition: &[],
        output_columns: None,
        need_used_flag: false,
    };
    let mut meta = new_table_meta(&empty, NullMapRule::Post57451, LengthField::U32);
    meta.null_map_read = null_map_read;
    meta
}
