//! The oracle: a sequential nested-loops join over the same rows and join type.

use crate::spec::JoinSpec;
use crate::types::{JoinType, Row, Value};

/// The rows of `left JOIN right`, in no particular order (compare as multisets).
pub fn reference_join(spec: &JoinSpec, left: &[Row], right: &[Row]) -> Vec<Row> {
    let key = |row: &Row, cols: &[usize]| -> Option<Vec<Value>> {
        let k: Vec<Value> = cols.iter().map(|&c| row[c].clone()).collect();
        (!k.contains(&Value::Null)).then_some(k)
    };
    let (lw, rw) = (spec.left_types.len(), spec.right_types.len());
    let mut out = Vec::new();
    let mut right_matched = vec![false; right.len()];
    for l in left {
        let mut matched = false;
        for (ri, r) in right.iter().enumerate() {
            let (lk, rk) = (key(l, &spec.left_keys), key(r, &spec.right_keys));
            if lk.is_some() && lk == rk {
                matched = true;
                right_matched[ri] = true;
                out.push([l.clone(), r.clone()].concat());
            }
        }
        if !matched && spec.join_type == JoinType::LeftOuter {
            out.push([l.clone(), vec![Value::Null; rw]].concat());
        }
    }
    if spec.join_type == JoinType::RightOuter {
        for (r, _) in right.iter().zip(&right_matched).filter(|(_, m)| !**m) {
            out.push([vec![Value::Null; lw], r.clone()].concat());
        }
    }
    out
}

/// Sorts rows so two results compare as multisets.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}
