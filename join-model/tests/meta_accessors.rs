//! `joinTableMeta`'s accessors on real segments: key matching per key mode, the used flag, null
//! bits plain and thread-safe, and decoding rows back.

use harness::memory::CheckedBuf;
use harness::{explore, Strategy};
use join_model::meta::KeyMode;
use join_model::{Bugs, BuildSide, ColType, JoinSpec, JoinType, Row, Value};

fn in_execution(f: fn()) {
    let o = explore(&Strategy::std(1), f);
    assert!(o.failure.is_none(), "{o}");
}

fn spec(types: Vec<ColType>, keys: Vec<usize>, join_type: JoinType) -> JoinSpec {
    JoinSpec::new(join_type, BuildSide::Left, (types.clone(), keys.clone()), (types, keys), &Bugs::fixed())
}

/// Encodes `row` into a fresh segment and checks key matching against its own and another key.
fn check_roundtrip(spec: &JoinSpec, row: Row, other: Row, mode: KeyMode) {
    assert_eq!(spec.meta.key_mode, mode);
    let key = spec.build_key(&row).expect("non-NULL key");
    let seg = CheckedBuf::from_bytes("seg", &spec.meta.encode_row(&row, Some(&key)));
    assert!(spec.meta.is_key_matched(&seg, 0, &key));
    assert!(!spec.meta.is_key_matched(&seg, 0, &spec.build_key(&other).expect("non-NULL key")));
    assert_eq!(spec.meta.decode_row(&seg, 0, spec.need_used_flag()), row);
}

#[test]
fn key_matching_and_decoding_per_key_mode() {
    in_execution(|| {
        let s = |v: &str| Value::Str(v.as_bytes().to_vec());
        check_roundtrip(
            &spec(vec![ColType::Int, ColType::Str], vec![0], JoinType::Inner),
            vec![Value::Int(7), s("x")],
            vec![Value::Int(8), s("x")],
            KeyMode::OneInt64,
        );
        check_roundtrip(
            &spec(vec![ColType::Int, ColType::Int, ColType::Str], vec![0, 1], JoinType::Inner),
            vec![Value::Int(1), Value::Int(2), Value::Null],
            vec![Value::Int(1), Value::Int(3), Value::Null],
            KeyMode::FixedSerializedKey,
        );
        check_roundtrip(
            &spec(vec![ColType::Str, ColType::Int], vec![0], JoinType::LeftOuter),
            vec![s("key"), Value::Null],
            vec![s("kez"), Value::Null],
            KeyMode::VariableSerializedKey,
        );
    });
}

#[test]
fn used_flag_and_null_bits() {
    in_execution(|| {
        let spec = spec(vec![ColType::Int, ColType::Int, ColType::Int], vec![0], JoinType::LeftOuter);
        assert!(spec.need_used_flag());
        let row = vec![Value::Int(1), Value::Null, Value::Int(3)];
        let seg = CheckedBuf::from_bytes("seg", &spec.meta.encode_row(&row, spec.build_key(&row).as_deref()));
        let pos_of = |col: usize| spec.meta.row_columns_order.iter().position(|&c| c == col).expect("stored");
        assert!(!spec.meta.is_current_row_used(&seg, 0));
        assert!(spec.meta.is_column_null(&seg, 0, pos_of(1)));
        assert!(!spec.meta.is_column_null(&seg, 0, pos_of(2)));
        spec.meta.set_used_flag(&seg, 0);
        assert!(spec.meta.is_current_row_used(&seg, 0));
        assert!(spec.meta.is_current_row_used_with_atomic(&seg, 0));
        // Setting the flag leaves the null bits as they were, read either way.
        assert!(spec.meta.is_column_null_thread_safe(&seg, 0, pos_of(1)));
        assert!(!spec.meta.is_column_null_thread_safe(&seg, 0, pos_of(2)));
        assert!(!spec.meta.is_read_null_map_thread_safe(0));
    });
}
