//! The oracle: a sequential nested-loops join over the same rows and join type.

use crate::spec::JoinSpec;
use crate::types::{JoinType, Row, Value};

/// The rows of `left JOIN right`, in no particular order (compare as multisets).
pub fn reference_join(spec: &JoinSpec, left: &[Row], right: &[Row]) -> Vec<Row> {
    let key = |row: &Row, cols: &[usize]| -> Option<Vec<Value>> {
        let k: Vec<Value> = cols.iter().map(|&c| row[c].clone()).collect();
        (!k.contains(&Value::Null)).then_some(k)
    };
    // Whether a left and a right row join: equal non-NULL keys and the other condition true.
    let joins = |l: &Row, r: &Row| {
        let lk = key(l, &spec.left_keys);
        lk.is_some() && lk == key(r, &spec.right_keys) && spec.other.is_none_or(|o| o.holds(l, r, unsigned(spec)))
    };
    let (lw, rw) = (spec.left_types.len(), spec.right_types.len());
    let mut out = Vec::new();
    let mut right_matched = vec![false; right.len()];
    for l in left {
        let mut matched = false;
        for (ri, r) in right.iter().enumerate() {
            if joins(l, r) {
                matched = true;
                right_matched[ri] = true;
                if !spec.join_type.is_semi_family() {
                    out.push([l.clone(), r.clone()].concat());
                }
            }
        }
        match spec.join_type {
            JoinType::LeftOuter if !matched => out.push([l.clone(), vec![Value::Null; rw]].concat()),
            JoinType::Semi if matched => out.push(l.clone()),
            JoinType::AntiSemi if !matched => out.push(l.clone()),
            JoinType::LeftOuterSemi => out.push([l.clone(), vec![Value::Int(matched as i64)]].concat()),
            JoinType::AntiLeftOuterSemi => out.push([l.clone(), vec![Value::Int(!matched as i64)]].concat()),
            _ => {}
        }
    }
    if spec.join_type == JoinType::RightOuter {
        for (r, _) in right.iter().zip(&right_matched).filter(|(_, m)| !**m) {
            out.push([vec![Value::Null; lw], r.clone()].concat());
        }
    }
    out
}

fn unsigned(spec: &JoinSpec) -> bool {
    spec.other.is_some_and(|o| spec.left_types[o.left] == crate::types::ColType::UInt)
}

/// Sorts rows so two results compare as multisets.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{CmpOp, OtherCondition};
    use crate::{Bugs, BuildSide, ColType};

    fn spec(join_type: JoinType, build: BuildSide) -> JoinSpec {
        let cols = (vec![ColType::Int, ColType::Int], vec![0]);
        JoinSpec::new(join_type, build, cols.clone(), cols, &Bugs::fixed())
    }

    #[test]
    fn semi_family_results_follow_sql() {
        let i = |v: i64| Value::Int(v);
        let left = vec![vec![i(1), i(5)], vec![i(2), i(5)], vec![Value::Null, i(5)]];
        let right = vec![vec![i(1), i(3)], vec![i(1), i(9)]];
        let run = |t| sorted(reference_join(&spec(t, BuildSide::Right), &left, &right));
        assert_eq!(run(JoinType::Semi), vec![vec![i(1), i(5)]]);
        assert_eq!(run(JoinType::AntiSemi), sorted(vec![vec![i(2), i(5)], vec![Value::Null, i(5)]]));
        assert_eq!(
            run(JoinType::LeftOuterSemi),
            sorted(vec![vec![i(1), i(5), i(1)], vec![i(2), i(5), i(0)], vec![Value::Null, i(5), i(0)]])
        );
        // `left.1 < right.1`: 5 < 3 fails, 5 < 9 holds; a NULL key never joins.
        let other = OtherCondition { left: 1, op: CmpOp::Lt, right: 1 };
        let s = spec(JoinType::AntiLeftOuterSemi, BuildSide::Right).with_other_condition(other);
        assert_eq!(
            sorted(reference_join(&s, &left, &right)),
            sorted(vec![vec![i(1), i(5), i(0)], vec![i(2), i(5), i(1)], vec![Value::Null, i(5), i(1)]])
        );
        let s = spec(JoinType::Inner, BuildSide::Left).with_other_condition(other);
        assert_eq!(reference_join(&s, &left, &right), vec![vec![i(1), i(5), i(1), i(9)]]);
    }
}
