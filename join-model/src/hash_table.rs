//! `hashTableV2` (`hash_table_v2.go`): one sub-table per partition, bucket heads in a checked
//! buffer and each row's next pointer in its first 8 bytes.
//!
//! A build task links a range of a sub-table's segments. A task that owns the whole sub-table
//! writes bucket heads with plain accesses (`updateHashValue`); when several tasks share a
//! sub-table (`createTasks` when the work is unbalanced), each links its rows with a CAS on the
//! bucket head and then a plain write of the row's next pointer (`atomicUpdateHashValue`). Both are
//! ordered before probing by `buildFinished`.

use std::sync::Arc;

use harness::memory::{CheckedBuf, Name};

use crate::row_table::{RowTable, RowTableSegment};

/// A row address: segment index in the sub-table and row start, stored +1 so that 0 is nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPtr {
    /// Segment index within the sub-table.
    pub segment: usize,
    /// Offset of the row in the segment.
    pub row_start: usize,
}

impl RowPtr {
    fn encode(self) -> u64 {
        ((self.segment as u64) << 32 | self.row_start as u64) + 1
    }

    fn decode(v: u64) -> Option<RowPtr> {
        (v != 0).then(|| RowPtr { segment: ((v - 1) >> 32) as usize, row_start: ((v - 1) & 0xffff_ffff) as usize })
    }
}

/// `subTable`: the hash table of one partition.
#[derive(Debug)]
pub struct SubTable {
    buckets: CheckedBuf,
    mask: u64,
    /// The partition's segments, in merge order.
    pub segments: Vec<Arc<RowTableSegment>>,
}

impl SubTable {
    /// `newSubTable`: the sub-table of `partition` over its merged row table, with a bucket
    /// array sized for its valid rows and no row linked yet.
    pub fn new(partition: usize, rows: &RowTable) -> SubTable {
        let valid: usize = rows.segments.iter().map(|s| s.valid_join_key_pos.len()).sum();
        let buckets_len = valid.max(1).next_power_of_two();
        let name = Name::template("hashTableV2.subTable[{}].hashTable", &[partition]);
        let buckets = CheckedBuf::new(name, buckets_len * 8);
        SubTable { buckets, mask: buckets_len as u64 - 1, segments: rows.segments.clone() }
    }

    /// Builds the sub-table of `partition` from its merged row table in one task.
    pub fn build(partition: usize, rows: &RowTable) -> SubTable {
        let sub = SubTable::new(partition, rows);
        sub.build_segments(0, sub.segments.len());
        sub
    }

    /// `subTable.build(start, end)`: links every valid row of segments `start..end` into its
    /// bucket's chain; with plain writes when the range is the whole sub-table, else with a CAS
    /// on the bucket head, as other tasks link rows of the same sub-table at the same time.
    pub fn build_segments(&self, start: usize, end: usize) {
        let whole = start == 0 && end == self.segments.len();
        for (si, seg) in self.segments.iter().enumerate().take(end).skip(start) {
            for &pos in &seg.valid_join_key_pos {
                let bucket = (seg.hash_values[pos] & self.mask) as usize * 8;
                let row_start = seg.row_start_offset[pos];
                let row = RowPtr { segment: si, row_start }.encode();
                if whole {
                    // updateHashValue
                    let head = self.buckets.read_u64(bucket);
                    self.buckets.write_u64(bucket, row);
                    seg.raw_data.write_u64(row_start, head);
                } else {
                    // atomicUpdateHashValue: the row's next pointer is written after the CAS
                    // published the row.
                    loop {
                        let head = self.buckets.atomic_load_u64(bucket);
                        if self.buckets.atomic_cas_u64(bucket, head, row) {
                            seg.raw_data.write_u64(row_start, head);
                            break;
                        }
                    }
                }
            }
        }
    }

    /// The first row of `hash`'s bucket (`lookup`).
    pub fn lookup(&self, hash: u64) -> Option<RowPtr> {
        RowPtr::decode(self.buckets.read_u64((hash & self.mask) as usize * 8))
    }

    /// The next row in the chain (`getNextRowAddress`).
    pub fn next(&self, ptr: RowPtr) -> Option<RowPtr> {
        RowPtr::decode(self.segments[ptr.segment].raw_data.read_u64(ptr.row_start))
    }

    /// The segment holding `ptr`.
    pub fn segment(&self, ptr: RowPtr) -> &RowTableSegment {
        &self.segments[ptr.segment]
    }

    /// Every row of the partition, valid key or not, in order (what `ScanRowTable` walks).
    pub fn all_rows(&self) -> impl Iterator<Item = RowPtr> + '_ {
        self.segments
            .iter()
            .enumerate()
            .flat_map(|(si, s)| s.row_start_offset.iter().map(move |&row_start| RowPtr { segment: si, row_start }))
    }
}

/// `hashTableV2`: a sub-table per partition; `None` for a partition that spilled.
#[derive(Debug, Default)]
pub struct HashTableV2 {
    /// Sub-tables by partition.
    pub tables: Vec<Option<Arc<SubTable>>>,
}

impl HashTableV2 {
    /// `isHashTableEmpty`: no in-memory partition holds a row.
    pub fn is_hash_table_empty(&self) -> bool {
        self.tables.iter().flatten().all(|t| t.all_rows().next().is_none())
    }

    /// Every row of every in-memory partition, for scanning.
    pub fn all_rows(&self) -> Vec<(&SubTable, RowPtr)> {
        self.tables.iter().flatten().flat_map(|t| t.all_rows().map(move |p| (&**t, p))).collect()
    }
}
