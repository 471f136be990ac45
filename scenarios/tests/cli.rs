//! The `joinrace` program's exit statuses and errors on bad input.

use std::process::Command;

fn joinrace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_joinrace")).args(args).output().expect("joinrace runs")
}

#[test]
fn unknown_scenario_is_bad_input() {
    let out = joinrace(&["run", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scenario named \"no-such-scenario\""));
}

#[test]
fn invalid_catalog_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bad.toml"), "name = \"x\"\nissue = 3\n").expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:2: "), "{err}");
    assert!(err.contains("invalid type"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_bug_switch_is_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-fixed.toml")).expect("catalog file");
    let text = text.replace("bugs = []", "bugs = [\"57450-no-such-bug\"]");
    std::fs::write(dir.path().join("b.toml"), text).expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "run", "--all"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.toml: bugs: unknown bug switch \"57450-no-such-bug\""), "{err}");
}

/// A copy of a catalog file with another name and other data is picked up with no code change.
#[test]
fn a_new_scenario_file_needs_no_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-used-flag-layout.toml")).expect("file");
    let text = text
        .replace("name = \"race1-used-flag-layout\"", "name = \"race1-more-rows\"")
        .replace("left = [[\"k1\", 1], [\"k1\", 2]]", "left = [[\"k1\", 1], [\"k1\", 2], [\"k1\", 3], [\"k9\", 4]]");
    std::fs::write(dir.path().join("mine.toml"), text).expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "run", "race1-more-rows"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.matches("as expected (race between").count(), 3, "{stdout}");
}

/// An `error` expectation is checked both ways: the error must come, and must be the one named.
#[test]
fn error_expectation_fails_when_the_join_succeeds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-executor-fixed.toml")).expect("file");
    let text = text
        .replace("name = \"race1-executor-fixed\"", "name = \"wrongly-expects-error\"")
        .replace("outcome = \"clean\"", "outcome = \"error\"\nmessage = \"Exceed max spill round\"")
        .replace("iterations = 2000", "iterations = 5");
    std::fs::write(dir.path().join("e.toml"), text).expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "run", "--all"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("UNEXPECTED (panic: the join succeeded where the scenario expects an error"), "{stdout}");
}
