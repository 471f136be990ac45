//! Inputs shared by the tests.

use std::sync::Arc;

use join_model::slices::JoinInput;
use join_model::{Bugs, BuildSide, ColType, JoinSpec, JoinType, Value};

/// Race 1's shape: a right outer join building the right (outer) side on a VARCHAR key, with one
/// stored column besides the key (so at most 7), and duplicate probe keys so two probe workers
/// hit the same build row.
pub fn race1_input(bugs: &Bugs) -> Arc<JoinInput> {
    let s = |v: &str| Value::Str(v.as_bytes().to_vec());
    let spec = JoinSpec::new(
        JoinType::RightOuter,
        BuildSide::Right,
        (vec![ColType::Str, ColType::Int], vec![0]),
        (vec![ColType::Str, ColType::Int], vec![0]),
        bugs,
    );
    Arc::new(JoinInput {
        spec,
        left: vec![vec![s("k1"), Value::Int(1)], vec![s("k1"), Value::Int(2)]],
        right: vec![vec![s("k1"), Value::Int(10)], vec![s("k2"), Value::Null]],
        chunk_size: 1,
        max_chunk_size: 1,
        segment_rows: 4,
    })
}

/// Race 2's shape: a restore round with two split workers, one restored chunk each; the first
/// chunk handed out exceeds the quota, so the controller spills before the second token, while
/// the other worker has not handled a chunk. Each worker's rows fall into its own partition, so
/// after the spill nothing more reaches a spilled partition.
pub fn race2_input(bugs: &Bugs) -> Arc<join_model::slices::RestoreInput> {
    use join_model::row_table::{hash_key, partition_index, rehash};
    let spec = JoinSpec::new(
        JoinType::Inner,
        BuildSide::Right,
        (vec![ColType::Int, ColType::Int], vec![0]),
        (vec![ColType::Int, ColType::Int], vec![0]),
        bugs,
    );
    let key_in = |partition: usize| {
        (1i64..).find(|k| partition_index(rehash(hash_key(&k.to_le_bytes())), 2) == partition).expect("a key")
    };
    let row = |k: i64| vec![Value::Int(k), Value::Int(k * 10)];
    Arc::new(join_model::slices::RestoreInput {
        spec,
        chunks_per_worker: vec![vec![vec![row(key_in(0))]], vec![vec![row(key_in(1))]]],
        quota: 16,
        segment_rows: 2,
        bugs: bugs.clone(),
        spill_dir: None,
    })
}
