//! `joinTableMeta` (`join_table_meta.go`): the build-side row layout and the accessors that read
//! and write rows in a segment.
//!
//! A row, 8-byte aligned in its segment:
//!
//! | offset | field |
//! | --- | --- |
//! | 0 | next row pointer (8 bytes), chaining rows of one hash bucket |
//! | 8 | null map (`null_map_length` bytes); with a used flag, bit 7 of byte 0 is the flag |
//! | 8 + null map | key length (`sizeOfLengthField`: u64 before PR #57458, u32 since), when the keys are variable-length and not inlined |
//! | … | serialized key, when not inlined |
//! | … | row data: stored columns, fixed ones raw (8 bytes), variable ones as length + bytes |

use harness::go::frame;
use harness::memory::CheckedBuf;

use crate::frames::{GET_SERIALIZED_KEY_LENGTH, IS_COLUMN_NULL, IS_KEY_MATCHED};
use crate::types::{ColType, Row, Value};

/// `sizeOfNextPtr`.
pub const SIZE_OF_NEXT_PTR: usize = 8;
/// `usedFlagMask`: the most significant bit of the first null-map byte, as a little-endian u32.
pub const USED_FLAG_MASK: u32 = 1 << 7;

/// `sizeOfLengthField`: the row table's length fields (the serialized key's, and each
/// variable-length column's in the row data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthField {
    /// Before PR #57458: a u64 (`int(unsafe.Sizeof(uint64(1)))`), so #57450's race-1 read of the
    /// key length at row+9 is 8 bytes, [9, 17).
    Pre57458U64,
    /// PR #57458 "Use uint32 as element length".
    U32,
}

impl LengthField {
    /// The field's size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            LengthField::Pre57458U64 => 8,
            LengthField::U32 => 4,
        }
    }
}

/// How `nullMapLength` is computed when the join needs a used flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullMapRule {
    /// Before PR #57451: `(saved + 1 + 7) / 8` bytes (1 byte for up to 7 stored columns) unless no
    /// column is stored and every key is variable-length.
    Pre57451,
    /// PR #57451: always whole 32-bit words, so `setUsedFlag`'s atomic word stays in the null map.
    Post57451,
}

/// How the probe reads a stored column's null bit when another probe worker may set the row's
/// used flag at the same time (an outer-side build).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullMapRead {
    /// Before PR #55525: always `isColumnNull`, a plain 1-byte read, which can overlap
    /// `setUsedFlag`'s atomic 4-byte store (#55465).
    Plain,
    /// PR #55525 until PR #55864: the atomic read for `columnIndex <= 31`; at 31 it indexes
    /// `bitMaskInUint32[32]` of a `[32]uint32` and panics (#55864's index out of range).
    AtomicUpTo31,
    /// PR #55864: the atomic read for `columnIndex < 31` (`isReadNullMapThreadSafe`).
    AtomicBelow31,
}

/// `keyMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// One integer key, compared as 8 bytes.
    OneInt64,
    /// Fixed-length serialized keys.
    FixedSerializedKey,
    /// Variable-length serialized keys, with a u32 length in the row.
    VariableSerializedKey,
}

/// `codec.SerializeMode` of one key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SerializeMode {
    /// The value's bytes.
    Normal,
    /// A sign-flag byte, then the value (signed and unsigned integer keys joined together).
    NeedSignFlag,
    /// A u32 length, then the bytes.
    KeepVarColumnLength,
}

/// `keyProp` of a key column type (`getKeyProp`).
struct KeyProp {
    can_be_inlined: bool,
    key_length: Option<usize>,
    is_key_integer: bool,
    is_key_unsigned: bool,
}

fn key_prop(t: ColType) -> KeyProp {
    match t {
        ColType::Int | ColType::NotNullInt => {
            KeyProp { can_be_inlined: true, key_length: Some(8), is_key_integer: true, is_key_unsigned: false }
        }
        ColType::UInt => {
            KeyProp { can_be_inlined: true, key_length: Some(8), is_key_integer: true, is_key_unsigned: true }
        }
        ColType::Str => {
            KeyProp { can_be_inlined: false, key_length: None, is_key_integer: false, is_key_unsigned: false }
        }
    }
}

/// What `newTableMeta` is given.
#[derive(Clone, Debug)]
pub struct TableMetaInput<'a> {
    /// Build-side key column indexes.
    pub build_key_index: &'a [usize],
    /// Build-side column types.
    pub build_types: &'a [ColType],
    /// Build key types (one per key).
    pub build_key_types: &'a [ColType],
    /// Probe key types (one per key).
    pub probe_key_types: &'a [ColType],
    /// Columns used by other conditions (none in this model).
    pub columns_used_by_other_condition: &'a [usize],
    /// Output columns; `None` means all build columns.
    pub output_columns: Option<&'a [usize]>,
    /// Whether the join sets a used flag while probing (outer-side build).
    pub need_used_flag: bool,
}

/// `joinTableMeta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinTableMeta {
    /// How the probe reads null bits next to the used flag, as at the modelled commit.
    pub null_map_read: NullMapRead,
    /// Whether every stored column is fixed-length.
    pub is_fixed_length: bool,
    /// Whether every key is fixed-length.
    pub is_join_keys_fixed_length: bool,
    /// Total key length when fixed.
    pub join_keys_length: Option<usize>,
    /// Whether the keys are stored as row data columns instead of a serialized key.
    pub is_join_keys_inlined: bool,
    /// Bytes of the null map.
    pub null_map_length: usize,
    /// Build columns in row order.
    pub row_columns_order: Vec<usize>,
    /// Size of each stored column in row order (`None`: variable).
    pub columns_size: Vec<Option<usize>>,
    /// Serialize mode of each key.
    pub serialize_modes: Vec<SerializeMode>,
    /// 1 with a used flag (column null bits are shifted by one), else 0.
    pub col_offset_in_null_map: usize,
    /// How keys are compared.
    pub key_mode: KeyMode,
    /// Offset of row data when it is fixed (`None`: after a variable-length serialized key).
    pub row_data_offset: Option<usize>,
    /// Number of build columns.
    pub total_column_number: usize,
    /// `sizeOfLengthField`, in bytes (see [`LengthField`]).
    pub length_field: usize,
}

/// `newTableMeta`, with the null-map rule chosen by the `57450-used-flag-layout` bug switch and
/// the length field by the TiDB commit (`57458-uint64-length-field`).
pub fn new_table_meta(input: &TableMetaInput<'_>, rule: NullMapRule, length: LengthField) -> JoinTableMeta {
    let length_field = length.bytes();
    let mut saved: Vec<usize> = Vec::new();
    let save = push_unique;
    match input.output_columns {
        None => (0..input.build_types.len()).for_each(|i| save(i, &mut saved)),
        Some(cols) => {
            cols.iter().for_each(|&i| save(i, &mut saved));
            input.columns_used_by_other_condition.iter().for_each(|&i| save(i, &mut saved));
        }
    }
    // setupJoinKeys
    let mut is_join_keys_fixed_length = true;
    let mut join_keys_length = 0;
    let mut is_join_keys_inlined = true;
    let mut serialize_modes = Vec::new();
    let mut all_int = true;
    let mut var_keys = 0;
    let mut has_fixed_size_key_column = false;
    for (k, &t) in input.build_key_types.iter().enumerate() {
        let prop = key_prop(t);
        match prop.key_length {
            Some(l) => {
                join_keys_length += l;
                has_fixed_size_key_column = true;
            }
            None => {
                is_join_keys_fixed_length = false;
                var_keys += 1;
            }
        }
        is_join_keys_inlined &= prop.can_be_inlined;
        if prop.is_key_integer {
            let probe = key_prop(input.probe_key_types[k]);
            assert!(probe.is_key_integer, "build key is integer but probe key is not integer, should not happen");
            if prop.is_key_unsigned != probe.is_key_unsigned {
                serialize_modes.push(SerializeMode::NeedSignFlag);
                is_join_keys_inlined = false;
                if is_join_keys_fixed_length {
                    join_keys_length += 1;
                }
            } else {
                serialize_modes.push(SerializeMode::Normal);
            }
        } else {
            all_int = false;
            serialize_modes.push(if prop.key_length.is_none() {
                SerializeMode::KeepVarColumnLength
            } else {
                SerializeMode::Normal
            });
        }
    }
    let mut distinct = input.build_key_index.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != input.build_key_index.len() {
        is_join_keys_inlined = false;
    }
    if !is_join_keys_inlined && var_keys == 1 {
        for m in &mut serialize_modes {
            if *m == SerializeMode::KeepVarColumnLength {
                *m = SerializeMode::Normal;
            }
        }
    }
    let key_mode = if all_int && input.build_key_index.len() == 1 && serialize_modes[0] != SerializeMode::NeedSignFlag {
        KeyMode::OneInt64
    } else if is_join_keys_fixed_length {
        KeyMode::FixedSerializedKey
    } else {
        KeyMode::VariableSerializedKey
    };
    if is_join_keys_inlined {
        input.build_key_index.iter().for_each(|&i| save(i, &mut saved));
    }
    let saved_column_num = saved.len();
    let is_fixed_length = saved.iter().all(|&i| input.build_types[i].fixed_len().is_some());

    // setupColumnOrder
    let mut order: Vec<usize> = Vec::new();
    let push = push_unique;
    if is_join_keys_inlined {
        input.build_key_index.iter().for_each(|&i| push(i, &mut order));
    }
    input.columns_used_by_other_condition.iter().for_each(|&i| push(i, &mut order));
    match input.output_columns {
        None => (0..input.build_types.len()).for_each(|i| push(i, &mut order)),
        Some(cols) => cols.iter().for_each(|&i| push(i, &mut order)),
    }
    let columns_size = order.iter().map(|&i| input.build_types[i].fixed_len()).collect();

    let (col_offset_in_null_map, null_map_length) = if input.need_used_flag {
        let len = match rule {
            // "the smallest length of a column is 4 byte, so the total row length is enough": only
            // running past the row's end was considered, not overlapping the next field.
            NullMapRule::Pre57451 if saved_column_num > 0 || has_fixed_size_key_column => {
                (saved_column_num + 1).div_ceil(8)
            }
            _ => (saved_column_num + 1).div_ceil(32) * 4,
        };
        (1, len)
    } else {
        (0, saved_column_num.div_ceil(8))
    };
    let row_data_offset = match (is_join_keys_inlined, is_join_keys_fixed_length) {
        (true, true) => Some(SIZE_OF_NEXT_PTR + null_map_length),
        (true, false) => Some(SIZE_OF_NEXT_PTR + null_map_length + length_field),
        (false, true) => Some(SIZE_OF_NEXT_PTR + null_map_length + join_keys_length),
        (false, false) => None,
    };
    JoinTableMeta {
        null_map_read: NullMapRead::AtomicBelow31,
        length_field,
        is_fixed_length,
        is_join_keys_fixed_length,
        join_keys_length: is_join_keys_fixed_length.then_some(join_keys_length),
        is_join_keys_inlined,
        null_map_length,
        row_columns_order: order,
        columns_size,
        serialize_modes,
        col_offset_in_null_map,
        key_mode,
        row_data_offset,
        total_column_number: input.build_types.len(),
    }
}

fn push_unique(i: usize, v: &mut Vec<usize>) {
    if !v.contains(&i) {
        v.push(i);
    }
}

/// Serializes a row's key columns (`codec.SerializeKeys`); `None` when a key is NULL (the row
/// then never matches and is not put into the hash table).
pub fn serialize_key(row: &Row, key_index: &[usize], modes: &[SerializeMode]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (&i, &mode) in key_index.iter().zip(modes) {
        match (&row[i], mode) {
            (Value::Null, _) => return None,
            (Value::Int(v), SerializeMode::NeedSignFlag) => {
                // The sign flag makes a negative signed value differ from a large unsigned one.
                out.push(u8::from(*v < 0));
                out.extend_from_slice(&v.to_le_bytes());
            }
            (Value::Int(v), _) => out.extend_from_slice(&v.to_le_bytes()),
            (Value::Str(s), SerializeMode::KeepVarColumnLength) => {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s);
            }
            (Value::Str(s), _) => out.extend_from_slice(s),
        }
    }
    Some(out)
}

impl JoinTableMeta {
    /// Encodes a build row (`appendToRowTable`): the bytes to append to a segment, padded to 8.
    pub fn encode_row(&self, row: &Row, key: Option<&[u8]>) -> Vec<u8> {
        let mut out = vec![0u8; SIZE_OF_NEXT_PTR + self.null_map_length];
        for (pos, &col) in self.row_columns_order.iter().enumerate() {
            if row[col] == Value::Null {
                let bit = pos + self.col_offset_in_null_map;
                out[SIZE_OF_NEXT_PTR + bit / 8] |= 1 << (7 - bit % 8);
            }
        }
        if !self.is_join_keys_inlined {
            // A row with a NULL key keeps a placeholder key (TiDB's fakeKeyByte): it is never matched.
            let fake;
            let key = match key {
                Some(k) => k,
                None => {
                    fake = vec![0u8; self.join_keys_length.unwrap_or(0)];
                    &fake
                }
            };
            if !self.is_join_keys_fixed_length {
                self.push_length(&mut out, key.len());
            }
            out.extend_from_slice(key);
        } else if !self.is_join_keys_fixed_length {
            self.push_length(&mut out, 0);
        }
        for (&col, size) in self.row_columns_order.iter().zip(&self.columns_size) {
            match (&row[col], size) {
                (Value::Int(v), Some(_)) => out.extend_from_slice(&v.to_le_bytes()),
                (Value::Null, Some(n)) => out.extend(std::iter::repeat_n(0, *n)),
                (Value::Str(s), None) => {
                    self.push_length(&mut out, s.len());
                    out.extend_from_slice(s);
                }
                (Value::Null, None) => self.push_length(&mut out, 0),
                (v, s) => panic!("value {v:?} does not fit column size {s:?}"),
            }
        }
        out.resize(out.len().next_multiple_of(8), 0);
        out
    }

    /// A length field (`sizeOfLengthField` bytes, little-endian).
    fn push_length(&self, out: &mut Vec<u8>, len: usize) {
        out.extend_from_slice(&(len as u64).to_le_bytes()[..self.length_field]);
    }

    /// Reads a length field at `at` (a plain read of `sizeOfLengthField` bytes).
    #[track_caller]
    fn read_length(&self, seg: &CheckedBuf, at: usize) -> usize {
        if self.length_field == 8 {
            seg.read_u64(at) as usize
        } else {
            seg.read_u32(at) as usize
        }
    }

    /// `getSerializedKeyLength`: a plain read of the length field right after the null map.
    #[track_caller]
    pub fn get_serialized_key_length(&self, seg: &CheckedBuf, row_start: usize) -> usize {
        let _f = frame(GET_SERIALIZED_KEY_LENGTH);
        self.read_length(seg, row_start + SIZE_OF_NEXT_PTR + self.null_map_length)
    }

    /// `isKeyMatched`: compares a probe key with a build row's key, per key mode.
    pub fn is_key_matched(&self, seg: &CheckedBuf, row_start: usize, key: &[u8]) -> bool {
        let _f = frame(IS_KEY_MATCHED);
        let at = row_start + SIZE_OF_NEXT_PTR + self.null_map_length;
        match self.key_mode {
            KeyMode::OneInt64 => seg.read_u64(at).to_le_bytes() == key[..8],
            KeyMode::FixedSerializedKey => seg.read_bytes(at, key.len()) == key,
            KeyMode::VariableSerializedKey => {
                let len = self.get_serialized_key_length(seg, row_start);
                len == key.len() && seg.read_bytes(at + self.length_field, len) == key
            }
        }
    }

    /// `setUsedFlag`: atomic 32-bit load of the word at row+8, OR the flag, atomic store. Not a
    /// CAS: the used bit is the only bit any concurrent writer changes.
    pub fn set_used_flag(&self, seg: &CheckedBuf, row_start: usize) {
        let addr = row_start + SIZE_OF_NEXT_PTR;
        let value = seg.atomic_load_u32(addr);
        seg.atomic_store_u32(addr, value | USED_FLAG_MASK);
    }

    /// `isCurrentRowUsed`: a plain 32-bit read (safe once every probe worker finished).
    pub fn is_current_row_used(&self, seg: &CheckedBuf, row_start: usize) -> bool {
        seg.read_u32(row_start + SIZE_OF_NEXT_PTR) & USED_FLAG_MASK != 0
    }

    /// `isCurrentRowUsedWithAtomic`.
    pub fn is_current_row_used_with_atomic(&self, seg: &CheckedBuf, row_start: usize) -> bool {
        seg.atomic_load_u32(row_start + SIZE_OF_NEXT_PTR) & USED_FLAG_MASK != 0
    }

    /// `isReadNullMapThreadSafe`: whether a plain read of this column's null bit cannot meet a
    /// concurrent `setUsedFlag` (bits sharing the flag's 32-bit word need the atomic read).
    /// Before PR #55864 the condition was `columnIndex <= 31`; before PR #55525 there was none.
    pub fn is_read_null_map_thread_safe(&self, column_index: usize) -> bool {
        match self.null_map_read {
            NullMapRead::Plain => true,
            NullMapRead::AtomicUpTo31 => !(self.col_offset_in_null_map == 1 && column_index <= 31),
            NullMapRead::AtomicBelow31 => !(self.col_offset_in_null_map == 1 && column_index < 31),
        }
    }

    /// `isColumnNull`: a plain 1-byte read of the column's null bit.
    pub fn is_column_null(&self, seg: &CheckedBuf, row_start: usize, column_index: usize) -> bool {
        let _f = frame(IS_COLUMN_NULL);
        let bit = column_index + self.col_offset_in_null_map;
        seg.read_u8(row_start + SIZE_OF_NEXT_PTR + bit / 8) & (1 << (7 - bit % 8)) != 0
    }

    /// `isColumnNullThreadSafe`: the null bit through an atomic 32-bit load of the flag's word,
    /// masked with `bitMaskInUint32[columnIndex+1]`, a `[32]uint32`: Go's bounds check panics past
    /// its end, which only the `<= 31` condition before PR #55864 reaches.
    pub fn is_column_null_thread_safe(&self, seg: &CheckedBuf, row_start: usize, column_index: usize) -> bool {
        let bit = column_index + 1;
        if bit >= 32 {
            panic!("runtime error: index out of range [{bit}] with length 32");
        }
        let mask = 1u32 << ((bit / 8) * 8 + 7 - bit % 8);
        seg.atomic_load_u32(row_start + SIZE_OF_NEXT_PTR) & mask != 0
    }

    /// Where a row's data begins (`advanceToRowData`).
    pub fn row_data_start(&self, seg: &CheckedBuf, row_start: usize) -> usize {
        match self.row_data_offset {
            Some(off) => row_start + off,
            None => {
                let key_len = self.get_serialized_key_length(seg, row_start);
                row_start + SIZE_OF_NEXT_PTR + self.null_map_length + self.length_field + key_len
            }
        }
    }

    /// Reads the stored columns of a build row back as a full build row (columns not stored are
    /// NULL), as the probe does when it constructs result rows. `thread_safe_nulls` selects the
    /// atomic null-bit read where a concurrent `setUsedFlag` is possible (the #55465 fix).
    pub fn decode_row(&self, seg: &CheckedBuf, row_start: usize, thread_safe_nulls: bool) -> Row {
        let mut row = vec![Value::Null; self.total_column_number];
        let mut at = self.row_data_start(seg, row_start);
        for (pos, (&col, size)) in self.row_columns_order.iter().zip(&self.columns_size).enumerate() {
            let null = if thread_safe_nulls && !self.is_read_null_map_thread_safe(pos) {
                self.is_column_null_thread_safe(seg, row_start, pos)
            } else {
                self.is_column_null(seg, row_start, pos)
            };
            match size {
                Some(n) => {
                    if !null {
                        row[col] = Value::Int(seg.read_u64(at) as i64);
                    }
                    at += n;
                }
                None => {
                    let len = self.read_length(seg, at);
                    if !null {
                        row[col] = Value::Str(seg.read_bytes(at + self.length_field, len));
                    }
                    at += self.length_field + len;
                }
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColType::{Int, NotNullInt, Str, UInt};

    struct Case {
        key: &'static [usize],
        build: &'static [ColType],
        build_key: &'static [ColType],
        probe_key: &'static [ColType],
        output: Option<&'static [usize]>,
        used_flag: bool,
        pre: usize,
        post: usize,
    }

    /// TiDB's `TestJoinTableMetaNullMapLength`, both before PR #57451 (`pre`) and after (`post`).
    #[test]
    fn null_map_length_table() {
        let cases = [
            // usedFlag is false: 1-byte granularity.
            Case {
                key: &[0],
                build: &[Int],
                build_key: &[Int],
                probe_key: &[Int],
                output: None,
                used_flag: false,
                pre: 1,
                post: 1,
            },
            Case {
                key: &[0],
                build: &[Int; 9],
                build_key: &[Int],
                probe_key: &[Int],
                output: None,
                used_flag: false,
                pre: 2,
                post: 2,
            },
            Case {
                key: &[0],
                build: &[NotNullInt],
                build_key: &[NotNullInt],
                probe_key: &[NotNullInt],
                output: None,
                used_flag: false,
                pre: 1,
                post: 1,
            },
            Case {
                key: &[0],
                build: &[Str],
                build_key: &[Str],
                probe_key: &[Str],
                output: Some(&[]),
                used_flag: false,
                pre: 0,
                post: 0,
            },
            Case {
                key: &[0],
                build: &[Str, Int, Int, Int],
                build_key: &[Str],
                probe_key: &[Str],
                output: Some(&[]),
                used_flag: false,
                pre: 0,
                post: 0,
            },
            // usedFlag is true: pre-fix, 1 byte when a column is stored or a key is fixed-size.
            Case {
                key: &[0],
                build: &[Int],
                build_key: &[Int],
                probe_key: &[Int],
                output: None,
                used_flag: true,
                pre: 1,
                post: 4,
            },
            Case {
                key: &[0],
                build: &[Str, Int],
                build_key: &[Str],
                probe_key: &[Str],
                output: Some(&[1]),
                used_flag: true,
                pre: 1,
                post: 4,
            },
            Case {
                key: &[0],
                build: &[Str, Int],
                build_key: &[Str],
                probe_key: &[Str],
                output: Some(&[0]),
                used_flag: true,
                pre: 1,
                post: 4,
            },
            Case {
                key: &[0, 1],
                build: &[Str, Int],
                build_key: &[Str, Int],
                probe_key: &[Str, Int],
                output: Some(&[]),
                used_flag: true,
                pre: 1,
                post: 4,
            },
            Case {
                key: &[0],
                build: &[Int],
                build_key: &[Int],
                probe_key: &[UInt],
                output: Some(&[]),
                used_flag: true,
                pre: 1,
                post: 4,
            },
            // No stored column and only variable-length keys: 4 bytes even before the fix.
            Case {
                key: &[0],
                build: &[Str],
                build_key: &[Str],
                probe_key: &[Str],
                output: Some(&[]),
                used_flag: true,
                pre: 4,
                post: 4,
            },
            Case {
                key: &[0, 1],
                build: &[Str, Str],
                build_key: &[Str, Str],
                probe_key: &[Str, Str],
                output: Some(&[]),
                used_flag: true,
                pre: 4,
                post: 4,
            },
            // 31 stored columns plus the flag fill one word; 32 need two (post-fix rule).
            Case {
                key: &[0],
                build: &[Int; 31],
                build_key: &[Int],
                probe_key: &[Int],
                output: None,
                used_flag: true,
                pre: 4,
                post: 4,
            },
            Case {
                key: &[0],
                build: &[Int; 32],
                build_key: &[Int],
                probe_key: &[Int],
                output: None,
                used_flag: true,
                pre: 5,
                post: 8,
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            for (rule, want) in [(NullMapRule::Pre57451, c.pre), (NullMapRule::Post57451, c.post)] {
                let input = TableMetaInput {
                    build_key_index: c.key,
                    build_types: c.build,
                    build_key_types: c.build_key,
                    probe_key_types: c.probe_key,
                    columns_used_by_other_condition: &[],
                    output_columns: c.output,
                    need_used_flag: c.used_flag,
                };
                let meta = new_table_meta(&input, rule, LengthField::U32);
                assert_eq!(meta.null_map_length, want, "case {i}, {rule:?}");
            }
        }
    }

    #[test]
    fn key_modes_follow_key_types() {
        let meta = |build: &[ColType], key: &[usize], bk: &[ColType], pk: &[ColType]| {
            let input = TableMetaInput {
                build_key_index: key,
                build_types: build,
                build_key_types: bk,
                probe_key_types: pk,
                columns_used_by_other_condition: &[],
                output_columns: None,
                need_used_flag: true,
            };
            new_table_meta(&input, NullMapRule::Post57451, LengthField::U32)
        };
        assert_eq!(meta(&[Int], &[0], &[Int], &[Int]).key_mode, KeyMode::OneInt64);
        assert_eq!(meta(&[Int, Int], &[0, 1], &[Int, Int], &[Int, Int]).key_mode, KeyMode::FixedSerializedKey);
        assert_eq!(meta(&[Int], &[0], &[Int], &[UInt]).key_mode, KeyMode::FixedSerializedKey);
        let var = meta(&[Str, Int], &[0], &[Str], &[Str]);
        assert_eq!((var.key_mode, var.row_data_offset), (KeyMode::VariableSerializedKey, None));
    }
}
