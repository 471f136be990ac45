//! Row tables (`join_row_table.go`, `row_table_builder.go`): segments of encoded build rows, the
//! per-worker builder that fills them, hashing and partitioning.
//!
//! A segment's bytes are built privately by one worker and become a [`CheckedBuf`] when the
//! segment is finalized: from then on every read and write of them (next pointers while the hash
//! table is built, keys and null maps while probing) is checked by the race detector.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use harness::memory::{CheckedBuf, CheckedField, Name};

/// FNV-64a, the hash TiDB applies to serialized keys.
pub fn hash_key(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// `rehash` in restore rounds: FNV-64 over the previous hash's 8 bytes, so a row and its probe
/// rows land in the same new partition.
pub fn rehash(hash: u64) -> u64 {
    hash_key(&hash.to_le_bytes())
}

/// `genHashJoinPartitionNumber`: the smallest power of two at least `concurrency`, capped at 16.
pub fn partition_number(concurrency: usize) -> usize {
    concurrency.max(1).next_power_of_two().min(16)
}

/// `generatePartitionIndex`: the top `log2(partitions)` bits of the hash.
pub fn partition_index(hash: u64, partitions: usize) -> usize {
    let bits = partitions.trailing_zeros();
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// `rowTableSegment`: finalized, shared, immutable apart from next pointers and used flags.
#[derive(Debug)]
pub struct RowTableSegment {
    /// The encoded rows.
    pub raw_data: CheckedBuf,
    /// Hash of each row's key.
    pub hash_values: Vec<u64>,
    /// Start offset of each row in `raw_data`.
    pub row_start_offset: Vec<usize>,
    /// Rows whose key is not NULL: the ones inserted into the hash table.
    pub valid_join_key_pos: Vec<usize>,
}

impl RowTableSegment {
    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.row_start_offset.len()
    }

    /// The encoded bytes of row `i` (a plain range read, as spilling copies rows out).
    pub fn row_bytes(&self, i: usize) -> Vec<u8> {
        let start = self.row_start_offset[i];
        let end = self.row_start_offset.get(i + 1).copied().unwrap_or(self.raw_data.len());
        self.raw_data.read_bytes(start, end - start)
    }
}

/// The segments of one (worker, partition) or of one partition after the merge.
#[derive(Clone, Debug, Default)]
pub struct RowTable {
    /// Finalized segments.
    pub segments: Vec<Arc<RowTableSegment>>,
}

impl RowTable {}

/// A row already encoded, with its hash and whether its key is valid (not NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedRow {
    /// Key hash (for restore rounds, the hash of the previous round).
    pub hash: u64,
    /// Whether the row goes into the hash table.
    pub valid: bool,
    /// The row bytes, as `appendToRowTable` laid them out.
    pub bytes: Vec<u8>,
}

/// The open segment of one partition: rows appended since the last `finalizeCurrentSeg`.
#[derive(Debug, Default)]
struct OpenSegment {
    bytes: Vec<u8>,
    hash_values: Vec<u64>,
    row_start_offset: Vec<usize>,
    valid_join_key_pos: Vec<usize>,
}

/// What a `rowTableBuilder` keeps for one partition: `rowNumberInCurrentRowTableSeg[p]` and the
/// partition's open segment (in TiDB the last, unfinalized segment of `rowTables[w][p]`).
#[derive(Debug, Default)]
pub struct PartitionBuilder {
    /// `rowNumberInCurrentRowTableSeg[p]`.
    pub row_number_in_current_row_table_seg: usize,
    open: OpenSegment,
}

/// `rowTableBuilder`: one per build worker, filling one open segment per partition. Each
/// partition's part is its own checked field, as TiDB's per-partition slices are distinct memory
/// (audit I2): the worker appends, and a spill goroutine finalizes, only when ordered.
#[derive(Debug)]
pub struct RowTableBuilder {
    /// The builder's state, per partition.
    pub parts: Vec<CheckedField<PartitionBuilder>>,
    worker: usize,
    max_rows_per_segment: usize,
    // Numbers segments for their labels only (not modelled state).
    segments_made: AtomicUsize,
}

impl RowTableBuilder {
    /// `createRowTableBuilder`.
    pub fn new(worker: usize, partitions: usize, max_rows_per_segment: usize) -> Arc<RowTableBuilder> {
        let part = |p| {
            CheckedField::new(
                Name::template("rowTableBuilder[{}].rowNumberInCurrentRowTableSeg[{}]", &[worker, p]),
                PartitionBuilder::default(),
            )
        };
        Arc::new(RowTableBuilder {
            parts: (0..partitions).map(part).collect(),
            worker,
            max_rows_per_segment: max_rows_per_segment.max(1),
            segments_made: AtomicUsize::new(0),
        })
    }

    /// `rowNumberInCurrentRowTableSeg[partition]`.
    pub fn row_number_in_current_row_table_seg(&self, partition: usize) -> usize {
        self.parts[partition].with(|b| b.row_number_in_current_row_table_seg)
    }

    /// `appendToRowTable`: appends `row` to `partition`'s open segment. A full segment
    /// (`maxRowTableSegmentSize` rows) is finalized into `row_tables[partition]`: before the next
    /// row is appended in round 1 (`appendToRowTable`), right after the row that fills it in a
    /// restore round (`processOneRestoredChunk`). Returns the bytes of the segment it finalized, or
    /// 0.
    pub fn append(
        &self,
        partition: usize,
        row: EncodedRow,
        row_tables: &[CheckedField<RowTable>],
        finalize_before: bool,
    ) -> usize {
        let full = |b: &PartitionBuilder| b.row_number_in_current_row_table_seg >= self.max_rows_per_segment;
        let mut finalized = 0;
        if finalize_before && self.parts[partition].with(full) {
            finalized = self.finalize_current_seg(partition, row_tables);
        }
        let now_full = self.parts[partition].with_mut(|b| {
            let seg = &mut b.open;
            if row.valid {
                seg.valid_join_key_pos.push(seg.row_start_offset.len());
            }
            seg.row_start_offset.push(seg.bytes.len());
            seg.hash_values.push(row.hash);
            seg.bytes.extend_from_slice(&row.bytes);
            b.row_number_in_current_row_table_seg += 1;
            full(b)
        });
        if now_full && !finalize_before {
            finalized = self.finalize_current_seg(partition, row_tables);
        }
        finalized
    }

    /// `finalizeCurrentSeg`: moves `partition`'s open segment, if it has rows, into
    /// `row_tables[partition]`; returns its bytes (0 when there was none).
    pub fn finalize_current_seg(&self, partition: usize, row_tables: &[CheckedField<RowTable>]) -> usize {
        let taken = self.parts[partition].with_mut(|b| {
            if b.row_number_in_current_row_table_seg == 0 {
                return None;
            }
            b.row_number_in_current_row_table_seg = 0;
            Some(std::mem::take(&mut b.open))
        });
        let Some(seg) = taken else { return 0 };
        let n = self.segments_made.fetch_add(1, Ordering::Relaxed) + 1;
        let name = Name::template("rowTableSegment[w{} p{} #{}].rawData", &[self.worker, partition, n]);
        let raw = CheckedBuf::from_bytes(name, &seg.bytes);
        raw.label_rows(&seg.row_start_offset);
        let bytes = seg.bytes.len();
        let segment = Arc::new(RowTableSegment {
            raw_data: raw,
            hash_values: seg.hash_values,
            row_start_offset: seg.row_start_offset,
            valid_join_key_pos: seg.valid_join_key_pos,
        });
        row_tables[partition].with_mut(|t| t.segments.push(segment));
        bytes
    }

    /// `appendRemainingRowLocations`: finalizes every open segment at the end of input; returns
    /// the bytes of each partition's finalized segment (0 where there was none).
    pub fn finalize_all(&self, row_tables: &[CheckedField<RowTable>]) -> Vec<usize> {
        (0..self.parts.len()).map(|p| self.finalize_current_seg(p, row_tables)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_powers_of_two_capped_at_16() {
        assert_eq!([1, 2, 3, 4, 5, 17, 100].map(partition_number), [1, 2, 4, 4, 8, 16, 16]);
    }

    #[test]
    fn partition_index_takes_top_bits() {
        assert_eq!(partition_index(u64::MAX, 1), 0);
        assert_eq!(partition_index(1 << 63, 2), 1);
        assert_eq!(partition_index(0b11 << 62, 4), 3);
        assert_eq!(partition_index(0x0fff_ffff_ffff_ffff, 16), 0);
    }

    #[test]
    fn fnv_matches_reference_values() {
        // FNV-1a 64 test vectors.
        assert_eq!(hash_key(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_key(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(rehash(hash_key(b"a")), hash_key(b"a"));
    }
}
