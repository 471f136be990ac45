//! A fuzz of scenario files through everything `joinrace run` does before it runs anything:
//! `load_dir` (read, parse, names), then `build_at` for each file (validation and the model).
//! The inputs are catalog files mutated (lines deleted, duplicated or replaced, values of other
//! types or out of range, unknown keys, truncation, byte flips) and files generated from a grammar
//! of the known keys with arbitrary values. No input may panic, and every refusal names the file
//! and a line, and the field when the model refuses it. A few bad files also go through the
//! program itself, which must exit 0, 1 or 2 and never print a panic.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use scenarios::format::load_dir;
use scenarios::model::build_at;

/// The catalog's files, read once.
fn catalog() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut paths: Vec<_> = std::fs::read_dir(scenarios::catalog_dir())
            .expect("catalog")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read_to_string(p).expect("catalog file")).collect()
    })
}

/// Every key of the format, by table, with values that fit it (so that generated files often get
/// past parsing to the model's checks).
const KEYS: &[(&str, &str, &[&str])] = &[
    ("", "name", &["\"g\"", "\"gen-1\"", "\"g.v2\""]),
    ("", "issue", &["\"i\""]),
    ("", "description", &["\"d\"", "\"\"\"\nmore\nlines\"\"\""]),
    ("", "target", &["\"probe-slice\"", "\"restore-slice\"", "\"build-slice\"", "\"executor\""]),
    ("", "tidb", &["\"5450000d92\"", "\"043f833c49\"", "\"8746e39b65\"", "\"51161154df\""]),
    ("", "bugs", &["[]", "[\"57450-used-flag-layout\"]", "[\"57450-builder-publication\"]"]),
    (
        "join",
        "type",
        &[
            "\"inner\"",
            "\"left-outer\"",
            "\"right-outer\"",
            "\"semi\"",
            "\"anti-semi\"",
            "\"left-outer-semi\"",
            "\"anti-left-outer-semi\"",
            "\"full\"",
        ],
    ),
    (
        "join",
        "other",
        &[
            "{ left = 0, op = \"<\", right = 0 }",
            "{ left = 1, op = \"~\", right = 0 }",
            "{ left = 9, op = \"=\", right = 0 }",
        ],
    ),
    ("join", "build", &["\"left\"", "\"right\""]),
    ("join", "left", &["[\"int\"]", "[\"str\", \"int\"]", "[\"not-null-int\", \"uint\"]", "[]"]),
    ("join", "right", &["[\"int\"]", "[\"str\", \"int\"]", "[\"not-null-int\", \"uint\"]", "[]"]),
    ("join", "left_keys", &["[0]", "[1]", "[0, 1]", "[]"]),
    ("join", "right_keys", &["[0]", "[1]", "[0, 1]", "[]"]),
    ("rows", "left", &["[[1], [\"NULL\"]]", "[[\"k1\", 1], [\"k1\", 2]]", "[[1, 2], [3, 4]]", "[]"]),
    ("rows", "right", &["[[1], [\"NULL\"]]", "[[\"k1\", 10], [\"k2\", \"NULL\"]]", "[[1, 10], [4, 40]]", "[]"]),
    ("rows", "restore", &["[[[[1, 10]]], [[[3, 30]]]]", "[[[[1]]], [[[2]]], [[[3]]]]", "[[[[\"k1\", 1]]]]", "[]"]),
    ("rows.generate", "seed", &["0", "7"]),
    ("rows.generate", "left", &["0", "3", "16"]),
    ("rows.generate", "right", &["0", "3", "16"]),
    ("rows.generate", "keys", &["0", "1", "4"]),
    ("rows.generate", "nulls", &["true", "false"]),
    ("exec", "concurrency", &["0", "1", "2", "3", "4", "64"]),
    ("exec", "chunk_size", &["0", "1", "4"]),
    ("exec", "segment_rows", &["0", "2", "4"]),
    ("exec", "quota", &["0", "16", "300"]),
    ("exec", "max_spill_round", &["0", "1", "2", "16"]),
    ("exec", "memory", &["\"scaled\"", "\"tidb\"", "\"huge\""]),
    ("exec", "reopen", &["0", "1", "1000"]),
    ("close", "after_chunks", &["0", "1", "3"]),
    ("failpoint", "name", &["\"Issue59377\"", "\"splitPartitionPanic\"", "\"issue51998\"", "\"nope\""]),
    ("failpoint", "action", &["\"error\"", "\"panic\"", "\"pause\""]),
    ("failpoint", "after", &["0", "1", "4"]),
    ("strategy", "kind", &["\"loom\"", "\"dpor\"", "\"random\"", "\"pct\""]),
    ("strategy", "preemption_bound", &["0", "1", "3"]),
    ("strategy", "iterative", &["true", "false"]),
    ("strategy", "max_executions", &["0", "1", "100"]),
    ("strategy", "seed", &["1", "2"]),
    ("strategy", "iterations", &["0", "1", "10"]),
    ("strategy", "depth", &["0", "1", "3"]),
    (
        "expect",
        "outcome",
        &["\"race\"", "\"clean\"", "\"error\"", "\"wrong-result\"", "\"panic\"", "\"deadlock\"", "\"leak\""],
    ),
    ("expect", "between", &["[\"a\", \"b\"]", "[\"a\"]"]),
    ("expect", "message", &["\"x\""]),
    ("expect", "recovered", &["[\"x\"]", "[]"]),
    ("expect", "error", &["\"x\""]),
    ("expect", "blocked", &["[\"f\"]", "[]"]),
];

/// The keys every file has (`strategy` and `expect` need more, by kind and outcome).
const REQUIRED: &[(&str, &str)] = &[
    ("", "name"),
    ("", "issue"),
    ("", "description"),
    ("", "target"),
    ("join", "type"),
    ("join", "build"),
    ("join", "left"),
    ("join", "right"),
    ("join", "left_keys"),
    ("join", "right_keys"),
    ("strategy", "kind"),
    ("expect", "outcome"),
];

/// The tables of a generated file, in order, each as many times as it may appear.
const TABLES: &[&str] = &[
    "",
    "join",
    "rows",
    "rows.generate",
    "exec",
    "close",
    "failpoint",
    "failpoint",
    "strategy",
    "strategy",
    "strategy",
    "expect",
];

/// Any value, of any TOML type, in range or not.
fn value() -> impl Strategy<Value = String> {
    const FIXED: &[&str] = &[
        "0",
        "-1",
        "1",
        "2",
        "3",
        "4",
        "5",
        "17",
        "65",
        "10000",
        "100001",
        "1000000",
        "10000000",
        "1000000000000000000",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "1e400",
        "1.5",
        "-0.0",
        "nan",
        "inf",
        "true",
        "false",
        "\"\"",
        "\"NULL\"",
        "\"null\"",
        "\"ü🦀\\u0000\"",
        "[]",
        "[[]]",
        "[[[]]]",
        "[0]",
        "[0, 0]",
        "[5]",
        "[-1]",
        "[[1, \"x\"]]",
        "[[\"NULL\", \"NULL\"]]",
        "[[1.5]]",
        "[[true]]",
        "{}",
        "{ a = 1 }",
        "\"../../escape\"",
        "\"a/b\"",
        "\".hidden\"",
        "1979-05-27T07:32:00Z",
        "'literal'",
        "\"\"\"\"\"\"",
        "[\"int\", \"int\", \"int\"]",
        "\"everything\"",
        "\"Inner\"",
        "\"LOOM\"",
    ];
    prop_oneof![
        4 => proptest::sample::select(FIXED).prop_map(String::from),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => (0i64..200_000).prop_map(|i| i.to_string()),
        1 => "\\PC{0,12}".prop_map(|s| toml::Value::String(s).to_string()),
        1 => proptest::sample::select(KEYS).prop_flat_map(|(_, _, good)| proptest::sample::select(good)).prop_map(String::from),
    ]
}

/// `key = value` for any key of the format, or an unknown one.
fn key_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        6 => proptest::sample::select(KEYS).prop_map(|(_, k, _)| k.to_string()),
        1 => "[a-z_]{1,10}",
        1 => Just("\"quoted key\"".to_string()),
        1 => Just("a.b".to_string()),
    ];
    (key, value()).prop_map(|(k, v)| format!("{k} = {v}"))
}

/// A header line: a known table, an array table, or an unknown one.
fn header_line() -> impl Strategy<Value = String> {
    proptest::sample::select(TABLES).prop_flat_map(|t| {
        prop_oneof![
            Just(format!("[{t}]")),
            Just(format!("[[{t}]]")),
            Just("[colour]".to_string()),
            Just("[rows.generate.more]".to_string())
        ]
    })
}

/// An edit of a file.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Replace(usize, String),
    /// The value after the `=` of a line.
    Value(usize, String),
    Insert(usize, String),
    /// Keeps this many bytes.
    Truncate(usize),
    /// XORs a byte.
    Flip(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        2 => at.prop_map(Edit::Delete),
        1 => at.prop_map(Edit::Duplicate),
        2 => (at, prop_oneof![3 => key_line(), 1 => header_line()]).prop_map(|(i, l)| Edit::Replace(i, l)),
        6 => (at, value()).prop_map(|(i, v)| Edit::Value(i, v)),
        2 => (at, prop_oneof![3 => key_line(), 1 => header_line()]).prop_map(|(i, l)| Edit::Insert(i, l)),
        1 => at.prop_map(Edit::Truncate),
        1 => (at, 1u8..).prop_map(|(i, b)| Edit::Flip(i, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut bytes_edits = Vec::new();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::Delete(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::Duplicate(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::Replace(i, l) if !lines.is_empty() => lines[i % n] = l.clone(),
            Edit::Value(i, v) => {
                // The k-th line that has a value, so that most such edits change one.
                let with_value: Vec<usize> = (0..lines.len()).filter(|&j| lines[j].contains(" = ")).collect();
                if let Some(&j) = with_value.get(i % with_value.len().max(1)) {
                    let key = lines[j].split(" = ").next().unwrap_or_default().to_string();
                    lines[j] = format!("{key} = {v}");
                }
            }
            Edit::Insert(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
            Edit::Truncate(_) | Edit::Flip(..) => bytes_edits.push(e.clone()),
            _ => {}
        }
    }
    let mut bytes = (lines.join("\n") + "\n").into_bytes();
    for e in bytes_edits {
        match e {
            Edit::Truncate(k) => bytes.truncate(k % (bytes.len() + 1)),
            Edit::Flip(i, b) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes[i % n] ^= b;
            }
            _ => {}
        }
    }
    bytes
}

/// A catalog file with 1 to 4 edits.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (0..catalog().len(), proptest::collection::vec(edit(), 1..4)).prop_map(|(f, edits)| apply(&catalog()[f], &edits))
}

/// A file from the grammar: each table present or not, each key present or not, each value one
/// that fits the key (mostly) or any value; sometimes an unknown key.
fn generated() -> impl Strategy<Value = Vec<u8>> {
    let slots = TABLES.iter().map(|t| KEYS.iter().filter(|(s, _, _)| s == t).count() + 1).sum::<usize>();
    (
        proptest::collection::vec(any::<u8>(), TABLES.len()),
        proptest::collection::vec((any::<u8>(), any::<usize>(), value()), slots),
    )
        .prop_map(|(tables, keys)| {
            let mut out = String::new();
            let mut keys = keys.into_iter();
            for (t, present) in TABLES.iter().zip(tables) {
                // The top level, [join], [rows], [expect] are required: mostly present.
                let required = ["", "join", "rows", "expect"].contains(t) || *t == "strategy";
                let table_keys: Vec<_> = KEYS.iter().filter(|(s, _, _)| s == t).collect();
                let slots: Vec<_> = keys.by_ref().take(table_keys.len() + 1).collect();
                if present < if required { 8 } else { 128 } {
                    continue;
                }
                if !t.is_empty() {
                    let array = ["failpoint", "strategy"].contains(t);
                    out += &if array { format!("\n[[{t}]]\n") } else { format!("\n[{t}]\n") };
                }
                for ((_, key, good), (p, pick, any)) in table_keys.iter().zip(&slots) {
                    // Required keys are nearly always there, so that most files reach the model.
                    let required = REQUIRED.contains(&(*t, *key));
                    if *p < if required { 3 } else { 80 } {
                        continue;
                    }
                    let v = if pick % 64 == 0 { any.clone() } else { good[pick % good.len()].to_string() };
                    out += &format!("{key} = {v}\n");
                }
                if let Some((p, _, v)) = slots.last() {
                    if *p < 8 {
                        out += &format!("unknown_key = {v}\n");
                    }
                }
            }
            out.into_bytes()
        })
}

/// A file's bytes, shown as text when a case fails.
#[derive(Clone)]
struct File(Vec<u8>);

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n{}", String::from_utf8_lossy(&self.0))
    }
}

/// `message` is `<path>:<line>: …` with a line of the file (or the one after its last).
fn names_file_and_line<'m>(message: &'m str, path: &Path, text: &[u8]) -> Result<(usize, &'m str), String> {
    let rest = message
        .strip_prefix(&format!("{}:", path.display()))
        .ok_or_else(|| format!("does not start with the file {}: {message}", path.display()))?;
    let (line, rest) = rest.split_once(": ").ok_or_else(|| format!("no line: {message}"))?;
    let line: usize = line.parse().map_err(|_| format!("no line number: {message}"))?;
    let lines = text.split(|&b| b == b'\n').count();
    if line == 0 || line > lines + 1 {
        return Err(format!("line {line} of a file of {lines} lines: {message}"));
    }
    Ok((line, rest))
}

/// What `joinrace run` does before running: load the directory, then build every model. Never a
/// panic; every error names the file and a line, and a model's error its field.
fn check(files: &[(&str, &[u8])]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    let text_of = |p: &Path| files.iter().find(|(n, _)| dir.path().join(n) == p).map(|(_, b)| *b).unwrap_or_default();
    match load_dir(dir.path()) {
        Err(e) => {
            let message = e.to_string();
            let named = files.iter().any(|(n, _)| message.starts_with(&format!("{}:", dir.path().join(n).display())));
            prop_assert!(named, "names no file: {}", message);
            let path = files
                .iter()
                .map(|(n, _)| dir.path().join(n))
                .find(|p| message.starts_with(&format!("{}:", p.display())));
            let path = path.expect("named");
            names_file_and_line(&message, &path, text_of(&path)).map_err(TestCaseError::fail)?;
        }
        Ok(loaded) => {
            for (path, s) in &loaded {
                if let Err(e) = build_at(path, s) {
                    let message = e.to_string();
                    let (_, rest) = names_file_and_line(&message, path, text_of(path)).map_err(TestCaseError::fail)?;
                    let field = rest.split(": ").next().unwrap_or_default();
                    let field_like = !field.is_empty()
                        && field.chars().all(|c| c.is_ascii_lowercase() || "_.[]0123456789".contains(c));
                    prop_assert!(field_like, "names no field: {}", message);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    // A fixed seed: the same 10,000 cases on every run, so a failure here is never a flake.
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5ce_0a21_0f22),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_scenario_file_panics_and_every_error_names_file_and_line(
        file in prop_oneof![1 => mutated(), 1 => generated()].prop_map(File),
        twice in proptest::bool::weighted(0.05),
    ) {
        let bytes = file.0;
        if twice {
            // Two files, one name: refused, naming the second.
            check(&[("a.toml", &bytes), ("b.toml", &bytes)])?;
        } else {
            check(&[("f.toml", &bytes)])?;
        }
    }
}

/// `joinrace --catalog DIR run --all` on a catalog of `files`, killed after 60 s: its exit
/// status (`None`: killed by a signal) and its stderr.
fn run_catalog(files: &[(&str, &[u8])]) -> (Option<i32>, String) {
    let (dir, schedules) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_joinrace"))
        .args(["--catalog", dir.path().to_str().expect("utf-8"), "run", "--all"])
        .env("JOINRACE_SCHEDULE_DIR", schedules.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("joinrace starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("joinrace exits");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn edited(file: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(scenarios::catalog_dir().join(file)).expect("catalog file");
    let edited = text.replacen(from, to, 1);
    assert_ne!(edited, text, "{file}: no {from:?}");
    edited
}

/// Bad files through the program: refused with status 2 and a message naming the file, never a
/// panic, a backtrace or a signal (before, some of these panicked or ran for hours).
#[test]
fn the_program_refuses_bad_files_without_panicking() {
    let cases = [
        edited("race1-fixed.toml", "kind = \"dpor\"\n", "kind = \"dpor\"\npreemption_bound = 1000000000000000000\n"),
        edited("race1-fixed.toml", "preemption_bound = 3", "preemption_bound = 1000000000000000000"),
        edited("generated-spill-fixed.toml", "left = 24", "left = 1000000000000000000"),
        edited("race2-round1-build-slice.toml", "concurrency = 2", "concurrency = 3"),
        edited("race1-fixed.toml", "right = [[\"k1\", 10]", "right = [[\"k1\", 1.5]"),
        edited("race1-fixed.toml", "[exec]", "[exec]\nquota = -1"),
        edited("race1-fixed.toml", "name = \"race1-fixed\"", "name = \"\u{1F980}\""),
        "name = \"x\"\n[join\n".to_string(),
    ];
    let not_utf8 = b"name = \"x\"\nissue = \"\xff\xfe\"\n".to_vec();
    for text in cases.iter().map(|t| t.as_bytes().to_vec()).chain([not_utf8]) {
        let (code, err) = run_catalog(&[("f.toml", &text)]);
        assert_eq!(code, Some(2), "{}\n{err}", String::from_utf8_lossy(&text));
        assert!(!err.contains("panicked") && !err.contains("stack backtrace"), "{err}");
        assert!(err.starts_with("joinrace: ") && err.contains("f.toml:"), "{err}");
    }
}
