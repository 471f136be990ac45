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
        segment_rows: 4,
    })
}
