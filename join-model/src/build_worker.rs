//! `BuildWorkerV2`, the split worker's state that the build and the spill helper both reach: its
//! row table builder and its row tables (`hash_join_v2.go`).

use std::sync::Arc;

use harness::memory::{CheckedField, Name};

use crate::row_table::{RowTable, RowTableBuilder};

/// `BuildWorkerV2`: a split worker, its row table builder and its row tables.
#[derive(Debug)]
pub struct BuildWorkerV2 {
    /// `WorkerID`.
    pub worker_id: usize,
    /// `builder`: the field race 2 of #57450 is about.
    pub builder: CheckedField<Option<Arc<RowTableBuilder>>>,
    /// `hashTableContext.rowTables[worker]`: one row table per partition, each its own checked
    /// field (audit I2: TiDB's `rowTables[w][p]` are distinct memory).
    pub row_tables: Vec<CheckedField<RowTable>>,
}

impl BuildWorkerV2 {
    /// A worker with no builder yet and empty row tables.
    pub fn new(worker_id: usize, partitions: usize) -> Arc<BuildWorkerV2> {
        Arc::new(BuildWorkerV2 {
            worker_id,
            builder: CheckedField::new(Name::template("BuildWorkers[{}].builder", &[worker_id]), None),
            row_tables: (0..partitions)
                .map(|p| {
                    let name = Name::template("hashTableContext.rowTables[{}][{}]", &[worker_id, p]);
                    CheckedField::new(name, RowTable::default())
                })
                .collect(),
        })
    }
}
