//! The `joinrace` program's exit statuses and errors on bad input.

use std::process::{Command, Output};

fn joinrace(args: &[&str]) -> Output {
    // Failing runs write their schedules: into a directory of the test's, never the user's.
    let schedules = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_joinrace"));
    command.args(args).env("JOINRACE_SCHEDULE_DIR", schedules.path()).output().expect("joinrace runs")
}

/// A catalog file's text with `from` replaced by `to` (which must change it).
fn edited(file: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(scenarios::catalog_dir().join(file)).expect("catalog file");
    let edited = text.replacen(from, to, 1);
    assert_ne!(edited, text, "{file}: no {from:?}");
    edited
}

/// `joinrace run --all` on a catalog of one file holding `text` must refuse it before anything
/// runs: exit 2 and a message that names the file and the line of the field at fault, then
/// starts with `error` (a field, then what is wrong).
#[track_caller]
fn assert_refused(text: &str, error: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("f.toml");
    std::fs::write(&file, text).expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "run", "--all"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let field = error.split(':').next().unwrap_or_default();
    let line = scenarios::format::field_line(text, field);
    assert!(line > 1 || field == "name", "{field} is written in the file: {text}");
    assert!(err.starts_with(&format!("joinrace: {}:{line}: {error}", file.display())), "{err}");
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
    let text = edited("race1-fixed.toml", "tidb = \"043f833c49\"", "bugs = [\"57450-no-such-bug\"]");
    assert_refused(&text, "bugs: unknown bug switch \"57450-no-such-bug\"");
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
    // One line per strategy of the file: loom, DPOR, random and PCT.
    assert_eq!(stdout.matches("as expected\n    found:    race between").count(), 4, "{stdout}");
}

/// `run --schedule-dir D --no-minimize` writes each failure's schedule, as found, into D and prints
/// the command that replays it, which reproduces the failure.
#[test]
fn run_writes_each_failure_s_schedule_and_its_replay_command() {
    let (catalog, schedules) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-used-flag-layout.toml")).expect("file");
    std::fs::write(catalog.path().join("race1.toml"), text).expect("write");
    let (catalog, schedules) = (catalog.path().to_str().expect("utf-8"), schedules.path());
    let out = joinrace(&[
        "--catalog",
        catalog,
        "run",
        "race1-used-flag-layout",
        "--no-minimize",
        "--schedule-dir",
        schedules.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for label in ["loom-pb2", "dpor", "random-s1", "pct-d3-s1"] {
        let file = schedules.join(format!("race1-used-flag-layout-{label}.schedule"));
        // joinrace is not on PATH under `cargo test`: the command names the binary by its path.
        let me = std::fs::canonicalize(env!("CARGO_BIN_EXE_joinrace")).expect("the binary");
        let file = file.canonicalize().expect("the schedule");
        let command = format!("replay:   {} --catalog {catalog} replay {}", me.display(), file.display());
        assert!(stdout.contains(&command), "{command}\n{stdout}");
        let replayed = joinrace(&["--catalog", catalog, "replay", file.to_str().expect("utf-8")]);
        assert_eq!(replayed.status.code(), Some(0), "{}", String::from_utf8_lossy(&replayed.stdout));
    }
    assert!(!stdout.contains("minimised from"), "{stdout}");
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
    assert!(
        stdout.contains("UNEXPECTED\n    found:    panic: the join succeeded where the scenario expects an error"),
        "{stdout}"
    );
}

fn fixture_schedule(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/schedules/{name}.schedule"))
}

/// `joinrace <command> <race2 fixture> <flag> <dir>/<file>`, in a fresh temp dir.
fn race2_fixture_into(command: &str, flag: &str, file: &str) -> (tempfile::TempDir, std::path::PathBuf, Output) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(file);
    let fixture = fixture_schedule("race2");
    let out = joinrace(&[command, fixture.to_str().expect("utf-8"), flag, path.to_str().expect("utf-8")]);
    (dir, path, out)
}

/// A copy of a fixture schedule, edited, in a temp dir.
fn edited_schedule(name: &str, edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(fixture_schedule(name)).expect("fixture");
    let path = dir.path().join("s.schedule");
    std::fs::write(&path, edit(text)).expect("write");
    (dir, path.to_str().expect("utf-8").to_string())
}

#[test]
fn replay_reproduces_a_checked_in_schedule() {
    let out = joinrace(&["replay", fixture_schedule("race1").to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("WARNING: DATA RACE"), "{stdout}");
    assert!(stdout.contains("RACE atomic write 4B"), "{stdout}");
    assert!(stdout.contains("RACE plain read 8B"), "{stdout}");
    assert!(stdout.contains("joinrace: the replay reproduces the recorded failure"), "{stdout}");
}

/// Each kind of corrupt schedule file: a clear error naming the file, line and field; status 2.
#[test]
fn corrupt_schedules_are_bad_input() {
    type Edit = fn(String) -> String;
    let cases: [(&str, Edit, &str); 4] = [
        ("truncated", |t| t[..t.len() / 2].to_string(), ":line 8: preemptions: missing (the file is truncated)"),
        ("wrong version", |t| t.replacen("v2", "v9", 1), ":line 1: version: unsupported version `v9`"),
        ("random bytes", |_| "\u{1}\u{2}garbage\u{7f}".repeat(20), ":line 1: file: not a joinrace schedule"),
        (
            "another scenario's schedule",
            |t| t.replace("model: race2-builder-publication", "model: race1-used-flag-layout"),
            ": schedule diverged: step ",
        ),
    ];
    for (what, edit, expected) in cases {
        let (_dir, path) = edited_schedule("race2", edit);
        let out = joinrace(&["replay", &path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(&format!("{path}{expected}")), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn a_changed_scenario_is_a_warning_with_both_hashes() {
    // A file from before schedules carried their scenario: the catalog's scenario, changed since.
    let (_dir, path) = edited_schedule("race1", |t| {
        let line = t.lines().find(|l| l.starts_with("model-hash:")).expect("hash line").to_string();
        let t = t.replace(&line, "model-hash: fnv1a64:0000000000000000");
        t.split("--- model source").next().expect("a header").to_string()
    });
    let out = joinrace(&["replay", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning:") && err.contains("recorded fnv1a64:0000000000000000, now fnv1a64:"), "{err}");
}

#[test]
fn minimize_writes_a_schedule_with_no_more_preemptions() {
    let (dir, out_path, out) = race2_fixture_into("minimize", "--output", "min.schedule");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("preemptions: 1 -> 1"), "{stdout}");
    let again = joinrace(&["replay", out_path.to_str().expect("utf-8")]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stdout));
    // Then the scenario: race 2's restore round needs both restore files' rows and runs one worker
    // per file (before, the shrink claimed "2 workers -> 1" by lowering a setting the slice
    // ignores).
    assert!(stdout.contains("scenario:    no smaller scenario fails the same way"), "{stdout}");
    drop(dir);
    // Race 1's probe slice does not need the probe row of the key k2.
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = fixture_schedule("race1");
    let out_path = dir.path().join("min.schedule");
    let out = joinrace(&["minimize", fixture.to_str().expect("utf-8"), "--output", out_path.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("scenario:    4 rows -> 3, 2 workers -> 2, 3 goroutines -> 3"), "{stdout}");
    let shrunk = dir.path().join("race1-used-flag-layout-min");
    let toml = std::fs::read_to_string(shrunk.join("race1-used-flag-layout-min.toml")).expect("shrunk scenario");
    assert!(!toml.contains("k2"), "{toml}");
    let schedule = shrunk.join("race1-used-flag-layout-min.schedule");
    let replayed =
        joinrace(&["--catalog", shrunk.to_str().expect("utf-8"), "replay", schedule.to_str().expect("utf-8")]);
    assert_eq!(replayed.status.code(), Some(0), "{}", String::from_utf8_lossy(&replayed.stdout));
}

/// The Chromium to render pages with, or `None` (the test is skipped) when it is missing. CI
/// installs it and sets `JOINRACE_REQUIRE_CHROMIUM`.
fn chromium() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if std::path::Path::new(&chromium).exists() {
        return Some(chromium);
    }
    assert!(std::env::var_os("JOINRACE_REQUIRE_CHROMIUM").is_none(), "{chromium} is missing");
    eprintln!("skipped: {chromium} is missing (CI installs it)");
    None
}

/// Headless Chromium, with its profile in `dir`, on `url` at 1400×1000, doing `action`
/// (`--dump-dom`, `--screenshot=…`); its standard output.
fn render(chromium: &str, dir: &std::path::Path, url: &str, action: &str) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            action,
            url,
        ])
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page loads nothing: no remote address, no `src`, and links only within the page.
#[track_caller]
fn assert_self_contained(page: &str) {
    for external in ["http:", "https:", " src="] {
        assert!(!page.contains(external), "the page loads something ({external})");
    }
    for link in page.split(" href=\"").skip(1) {
        assert!(link.starts_with('#'), "a link out of the page: {}", &link[..link.len().min(60)]);
    }
}

/// `--html` writes a self-contained page; headless Chromium renders it and both racing accesses
/// are visible (the page's script counts them into `data-visible-races`).
#[test]
fn html_timeline_shows_both_racing_accesses_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let (dir, html, out) = race2_fixture_into("replay", "--html", "race2.html");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_self_contained(&std::fs::read_to_string(&html).expect("page written"));
    let dom = render(&chromium, dir.path(), &format!("file://{}", html.display()), "--dump-dom");
    assert!(dom.contains("data-visible-races=\"2\""), "{dom}");
    assert!(dom.contains("RACE plain write 8B") && dom.contains("RACE plain read 8B"), "{dom}");
}

/// At executor size (12 goroutines) the page explains the race: a link near the top lands on the
/// first racing access, the summary names both racing goroutines by the function they were
/// started with and gives each one's last synchronisation, columns are headed by those names,
/// `go` statements are drawn as edges, and the rendered page is not blank.
#[test]
fn html_timeline_at_executor_size_explains_the_race_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("executor.html");
    let fixture = fixture_schedule("race2-executor-round1");
    let out = joinrace(&["replay", fixture.to_str().expect("utf-8"), "--html", html.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let page = std::fs::read_to_string(&html).expect("page written");
    assert_self_contained(&page);
    // The race: goroutine 10 (a build worker) writes the builder field, goroutine 12 (a spill
    // worker) reads it; each was last synchronised by the `go` statement that started it.
    let summary = &page[page.find("<section id=\"why\">").expect("summary")..page.find("</section>").expect("end")];
    assert!(summary.contains("<a id=\"to-race\" href=\"#race-first\">"), "{summary}");
    for (g, function, parent) in [
        (10, "(*BuildWorkerV2).splitPartitionAndAppendToRowTable", 3),
        (12, "(*hashJoinSpillHelper).spillRowTableImpl.func1", 8),
    ] {
        let named = format!("goroutine {g} <code>{function}</code>");
        let side = summary.split("<li class=\"side\">").skip(1).find(|s| s.contains(&named)).expect(&named);
        assert!(
            side.contains(&format!("its last synchronisation before it: ← started by goroutine {parent} at")),
            "{side}"
        );
        assert!(page.contains(&format!("goroutine {g}</span> <b class=\"fn\">{function}</b>")), "column {g}");
    }
    assert!(summary.contains("No chain of happens-before edges"), "{summary}");
    assert!(page.contains("<div class=\"e out go\">→ go statement: starts goroutine 12"), "no spawn edge drawn");
    assert!(page.contains("<div class=\"e in go\">← started by goroutine 8"), "no spawn edge drawn");

    let url = format!("file://{}", html.display());
    let dom = render(&chromium, dir.path(), &url, "--dump-dom");
    assert!(dom.contains("data-visible-races=\"2\""), "{dom}");
    let top = dom.split("data-race-link-top=\"").nth(1).and_then(|s| s.split('"').next()?.parse::<u32>().ok());
    assert!(top.is_some_and(|t| t < 1000), "the link to the race is not on the first screen: {top:?}");
    let jumped = render(&chromium, dir.path(), &format!("{url}#race-first"), "--dump-dom");
    assert!(jumped.contains("data-landed=\"race-first\""), "the link's target is not reached: {jumped}");

    // A screenshot of the first screen: a PNG of the window's size with more than a blank page in it.
    let png = dir.path().join("executor.png");
    render(&chromium, dir.path(), &url, &format!("--screenshot={}", png.display()));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!((size(16), size(20)), (1400, 1000), "IHDR size");
    // A blank 1400×1000 page compresses to about 6 KB; the rendered summary and table to ~200 KB.
    assert!(bytes.len() > 50_000, "the screenshot looks blank ({} bytes)", bytes.len());
}

#[test]
fn failpoints_need_the_whole_executor_and_a_known_name() {
    let file = "failpoint-build-error.toml";
    assert_refused(
        &edited(file, "name = \"Issue59377\"", "name = \"noSuchFailpoint\""),
        "failpoint.name: unknown failpoint \"noSuchFailpoint\" (known: killedDuringBuild, \
         killedDuringRestoreBuild, killedDuringBuildSpill, killedDuringProbe, Issue59377, issue51998, panicOrError@fetchProbeSideChunks, \
         panicOrError@controlWorkersForRestore, splitPartitionPanic, createTasksPanic, buildHashTablePanic, \
         processOneProbeChunkPanic, panicOrError@restoreAndProbe)\n",
    );
    assert_refused(
        &edited(file, "target = \"executor\"", "target = \"probe-slice\""),
        "failpoint: failpoints need target = \"executor\"\n",
    );
}

/// A slice never returns the join's error, so a slice scenario expecting one could never fail: it
/// is refused before anything runs (before this check it ran and passed, exit 0).
#[test]
fn an_error_is_expected_of_the_whole_executor_only() {
    let text = edited("race1-fixed.toml", "outcome = \"clean\"", "outcome = \"error\"\nmessage = \"injected error\"");
    assert_refused(
        &text,
        "expect.outcome: \"error\" needs target = \"executor\" (a slice returns no join error or result)\n",
    );
}

/// A configuration that would run nothing is refused before anything runs (before, each of these
/// exited 0 after running nothing).
#[test]
fn a_strategy_that_runs_nothing_is_bad_input() {
    let cases = [
        ("iterations = 1000\ndepth = 3", "iterations = 0\ndepth = 3", "strategy[3].iterations: 0 in pct-d3-s1"),
        ("iterations = 1000\ndepth = 3", "iterations = 1000\ndepth = 0", "strategy[3].depth: 0 in pct-d0-s1"),
        ("kind = \"dpor\"\n", "kind = \"dpor\"\nmax_executions = 0\n", "strategy[1].max_executions: 0 in dpor"),
    ];
    for (from, to, error) in cases {
        assert_refused(&edited("race1-fixed.toml", from, to), &format!("{error}: it would run nothing\n"));
    }
}

/// Two files with one scenario name: `run NAME` could pick either, so the catalog is refused.
#[test]
fn two_files_may_not_share_a_name() {
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-fixed.toml")).expect("file");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.toml"), &text).expect("write");
    std::fs::write(dir.path().join("b.toml"), &text).expect("write");
    let out = joinrace(&["--catalog", dir.path().to_str().expect("utf-8"), "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    assert_eq!(
        err,
        format!("joinrace: {}:1: name: \"race1-fixed\" is also the name of {}\n", b.display(), a.display())
    );
}

/// A scenario names the TiDB commit it models; an unknown one is bad input naming the field.
#[test]
fn an_unknown_tidb_commit_is_bad_input() {
    let text = edited("race1-fixed.toml", "tidb = \"043f833c49\"", "tidb = \"deadbeef00\"");
    assert_refused(&text, "tidb: unknown TiDB commit \"deadbeef00\"");
}

/// `joinrace list` shows each scenario's TiDB commit and the bug switches it implies.
#[test]
fn list_shows_each_scenarios_commit_and_bugs() {
    let out = joinrace(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("scenario "), "a header: {stdout}");
    // A scenario's row, and its `bugs:` line below it if it has bugs.
    let row = |name: &str| {
        let mut lines = stdout.lines().skip_while(|l| !l.starts_with(&format!("{name} ")));
        let row = lines.next().unwrap_or_default().to_string();
        let bugs = lines.next().filter(|l| l.starts_with("    bugs: ")).unwrap_or_default();
        format!("{row} {bugs}")
    };
    let r = row("race2-builder-publication");
    assert!(r.contains(" race "), "its expectation: {r}");
    assert!(r.contains("5450000d92") && r.contains("57450-builder-publication"), "{r}");
    assert!(!r.contains("57450-used-flag-layout"), "fixed by #57451 before that commit: {r}");
    let r = row("race1-used-flag-layout");
    assert!(r.contains("a22b8421a6") && r.contains("57450-used-flag-layout"), "{r}");
    // At #57519's fix the two #57450 bugs are gone, not yet the later ones.
    let r = row("race2-fixed");
    assert!(r.contains("51161154df") && !r.contains("57450-") && r.contains("59377-lost-build-error"), "{r}");
    let r = row("generated-spill-fixed");
    assert!(!r.contains("bugs:"), "the newest commit has every modelled fix: {r}");
}

/// SIGINT or SIGTERM in the middle of a run that spills to disk (`--spill-dir`), 20 times at
/// different moments: the process exits 130 or 143, says how far it got, and leaves no spill file or
/// directory behind (before, 10 of 14 interrupted runs of race2-fixed left a spill directory).
/// A directory a dead process left (SIGKILL) is swept when the next run starts; a live
/// process's is not.
#[test]
fn interrupted_runs_leave_no_spill_file() {
    let (tmp, schedules) = (tempdir(), tempdir());
    let dead = tmp.path().join("joinrace-run-4194304999-x");
    let live = tmp.path().join(format!("joinrace-run-{}-x", std::process::id()));
    std::fs::create_dir_all(dead.join("spill")).expect("mkdir");
    std::fs::create_dir_all(&live).expect("mkdir");
    let ours = |p: &std::path::PathBuf| *p != live;
    for attempt in 0..20u64 {
        let child = Command::new(env!("CARGO_BIN_EXE_joinrace"))
            .args(["run", "race2-fixed", "--spill-dir"])
            .arg(tmp.path())
            .env("JOINRACE_SCHEDULE_DIR", schedules.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("joinrace starts");
        // From early in the loom run of the restore slice to well inside it.
        std::thread::sleep(std::time::Duration::from_millis(300 + 60 * attempt));
        let during: Vec<_> =
            std::fs::read_dir(tmp.path()).expect("readable").flatten().map(|e| e.path()).filter(ours).collect();
        assert_eq!(during.len(), 1, "attempt {attempt}: the run's spill directory only: {during:?}");
        let signal = if attempt % 2 == 0 { "-INT" } else { "-TERM" };
        let kill = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill runs");
        assert!(kill.success());
        let out = child.wait_with_output().expect("joinrace exits");
        let err = String::from_utf8_lossy(&out.stderr);
        let status = if signal == "-INT" { 130 } else { 143 };
        assert_eq!(out.status.code(), Some(status), "attempt {attempt} ({signal}): {err}");
        assert!(err.contains("joinrace: interrupted "), "attempt {attempt}: {err}");
        let left: Vec<_> =
            std::fs::read_dir(tmp.path()).expect("readable").flatten().map(|e| e.path()).filter(ours).collect();
        assert!(left.is_empty(), "attempt {attempt} ({signal}) left behind: {left:?}");
    }
    assert!(live.exists(), "a live process's directory is left alone");
}

/// `--spill-dir` puts the spill files of a run on disk, under that directory, and removes them
/// at the end; a directory that does not exist is bad input.
#[test]
fn spill_files_go_where_spill_dir_says() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_joinrace"))
        .args(["run", "race2-executor-round1-fixed", "--spill-dir"])
        .arg(tmp.path())
        .output()
        .expect("joinrace runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(std::fs::read_dir(tmp.path()).expect("readable").next().is_none(), "spill files left");
    let missing = tmp.path().join("nowhere");
    let out = Command::new(env!("CARGO_BIN_EXE_joinrace"))
        .args(["run", "race2-fixed", "--spill-dir"])
        .arg(&missing)
        .output()
        .expect("joinrace runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot create a directory for spill files in") && err.contains("nowhere"), "{err}");
}

/// A FIFO given as a schedule file is refused at once (it used to hang waiting for a writer).
#[test]
fn a_fifo_is_no_schedule_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("s.schedule");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs").success());
    let out = joinrace(&["replay", fifo.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

/// Settings beyond the limits, or zeros that would be clamped, are refused before anything runs
/// (before, `concurrency = 10000` ran out of memory and zeros were clamped to 1 without a word).
#[test]
fn settings_out_of_range_are_bad_input() {
    let cases = [
        ("concurrency = 2", "concurrency = 10000", "exec.concurrency: 10000 is outside 1..=64"),
        ("concurrency = 2", "concurrency = 0", "exec.concurrency: 0 is outside 1..=64"),
        ("chunk_size = 1", "chunk_size = 0", "exec.chunk_size: 0 is outside 1..=100000"),
        ("concurrency = 2", "concurrency = 4", "exec.concurrency: a probe slice runs at most 3 probe workers"),
    ];
    for (from, to, error) in cases {
        assert_refused(&edited("race1-fixed.toml", from, to), error);
    }
    let text = edited("race2-fixed.toml", "[exec]", "[exec]\nmax_spill_round = 1000000");
    assert_refused(&text, "exec.max_spill_round: 1000000 is outside 1..=16");
    let text = edited("race1-fixed.toml", "max_chunk_size = 1024", "max_chunk_size = 0");
    assert_refused(&text, "exec.max_chunk_size: 0 is outside 1..=100000");
    let text = edited("race1-fixed.toml", "max_chunk_size = 1024", "max_chunk_size = 1024\nreopen = 1");
    assert_refused(
        &text,
        "exec.reopen: re-opening runs the whole executor to its end (target = \"executor\", no [close])",
    );
    let text = edited("reopen-spill-fixed.toml", "reopen = 2", "reopen = 101");
    assert_refused(&text, "exec.reopen: 101 is outside 0..=100");
    // A setting the slice would ignore is refused, not run as if it mattered.
    let text = edited("race2-fixed.toml", "[exec]", "[exec]\nmax_chunk_size = 8");
    assert_refused(
        &text,
        "exec.max_chunk_size: a restore-slice makes no result chunks (probe-slice and executor only)",
    );
}

/// A value that does not fit its column is refused before anything runs, naming the row and the
/// column: the model would otherwise encode a string's bytes in an int column (issue 20).
#[test]
fn a_value_that_does_not_fit_its_column_is_bad_input() {
    let text = edited("race1-fixed.toml", "right = [[\"k1\", 10]", "right = [[\"k1\", \"ten\"]");
    assert_refused(&text, "rows.right: row 0, column 1: a string in an int column");
    let text = edited("race1-fixed.toml", "left = [[\"k1\", 1]", "left = [[7, 1]");
    assert_refused(&text, "rows.left: row 0, column 0: an integer in a string column");
    let text = edited("race1-fixed.toml", "right = [\"str\", \"int\"]", "right = [\"str\", \"not-null-int\"]");
    assert_refused(&text, "rows.right: row 1, column 1: NULL in a not-null column");
}

/// A join type TiDB's commit did not have, a build side TiDB never builds, and a bad other
/// condition are refused, each at its line (issue 17).
#[test]
fn join_types_and_other_conditions_are_checked() {
    let semi = edited(
        "semi-left-build-used-flag.toml",
        "target = \"probe-slice\"",
        "target = \"probe-slice\"\ntidb = \"51161154df\"",
    );
    assert_refused(
        &semi,
        "join.type: hash join v2 has no Semi join building the Left side at 51161154df (it came with PR #58546, 652cee2f0b)",
    );
    let text = edited("semi-family-spill-fixed.toml", "build = \"right\"", "build = \"left\"");
    assert_refused(&text, "join.build: a AntiLeftOuterSemi join builds the right side only, as in TiDB");
    for (from, to, error) in [
        ("op = \"<\"", "op = \"!\"", "join.other.op: \"!\" is not one of =, <>, <, <=, >, >="),
        ("left = 1, op", "left = 7, op", "join.other.left: column 7 does not exist"),
        (
            "left = 1, op",
            "left = 0, op",
            "join.other: compares a Str column with a Int column; they must have one type",
        ),
    ] {
        assert_refused(&edited("semi-left-build-used-flag.toml", from, to), error);
    }
}

/// `--jobs 3` runs the explorations on three threads and prints the same rows, in the same order,
/// with the same counts, as one job (the time column aside).
#[test]
fn jobs_print_what_one_job_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let names = ["skip-probe-flag-58286", "spilled-valid-row-num-60052", "lost-build-error-59377", "race2-fixed"];
    let rows = |jobs: &str| {
        let mut args =
            vec!["run", "--no-minimize", "--jobs", jobs, "--schedule-dir", dir.path().to_str().expect("utf-8")];
        args.extend(names);
        let out = joinrace(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        // Each run's row without its time column (the one ending in `s` before the verdict).
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rows: Vec<String> = text
            .lines()
            .filter(|l| names.iter().any(|n| l.starts_with(n)))
            .map(|l| {
                l.split_whitespace()
                    .filter(|w| !(w.ends_with('s') && w[..w.len() - 1].parse::<f64>().is_ok()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        rows
    };
    let one = rows("1");
    assert_eq!(one.len(), 11, "{one:#?}");
    assert_eq!(rows("3"), one);
}

/// A schedule carries the scenario it was recorded on: it replays outside any checkout once the
/// catalog is gone, and a schedule whose header names another scenario than the one it carries
/// is bad input.
#[test]
fn a_schedule_replays_without_its_catalog_and_refuses_another_scenario() {
    let (catalog, schedules, elsewhere) = (tempdir(), tempdir(), tempdir());
    let text = std::fs::read_to_string(scenarios::catalog_dir().join("race1-used-flag-layout.toml")).expect("file");
    std::fs::write(catalog.path().join("race1.toml"), text).expect("write");
    let (c, s) = (catalog.path().to_str().expect("utf-8"), schedules.path().to_str().expect("utf-8"));
    let out = joinrace(&["--catalog", c, "run", "race1-used-flag-layout", "--schedule-dir", s]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    drop(catalog);
    let file = schedules.path().join("race1-used-flag-layout-dpor.schedule");
    let replay = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_joinrace"))
            .current_dir(elsewhere.path())
            .args(["replay", file.to_str().expect("utf-8")])
            .output()
            .expect("joinrace runs")
    };
    let out = replay(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("race1-used-flag-layout (as recorded, carried by the schedule file)"), "{stdout}");
    assert!(stdout.contains("the replay reproduces the recorded failure"), "{stdout}");
    let text = std::fs::read_to_string(&file).expect("schedule");
    let other = schedules.path().join("other.schedule");
    std::fs::write(&other, text.replace("model: race1-used-flag-layout", "model: race2-fixed")).expect("write");
    let out = replay(&other);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let expected = "model source: it carries scenario \"race1-used-flag-layout\" but names \"race2-fixed\"";
    assert!(err.contains(expected), "{err}");
    std::fs::write(&other, text.replace("[[strategy]]", "[[strategy]]\n")).expect("write");
    let err = String::from_utf8_lossy(&replay(&other).stderr).to_string();
    assert!(err.contains("does not hash to its model-hash"), "{err}");
}

/// Outside a checkout and without `--catalog`, `run` says where it looked: no catalog path is
/// compiled into the program.
#[test]
fn outside_a_checkout_run_needs_a_catalog() {
    let elsewhere = tempdir();
    let out = Command::new(env!("CARGO_BIN_EXE_joinrace"))
        .current_dir(elsewhere.path())
        .args(["run", "--all"])
        .output()
        .expect("joinrace runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not inside a joinrace checkout") && err.contains("--catalog DIR"), "{err}");
}

/// shuttle's own line for every failing execution (`test panicked in task …`) is kept off the
/// terminal, and so is its line for every deadlock: the row says what was found. Before, `run
/// --all` printed 15 of the first and 31 of the second.
#[test]
fn shuttle_s_own_failure_lines_stay_off_the_terminal() {
    // A race and a hang: shuttle prints a line for each kind.
    let out = joinrace(&["run", "race2-builder-publication", "kill-wait-for-build-71122"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stderr.contains("test panicked in task") && !stdout.contains("test panicked"), "{stderr}");
    assert!(!stderr.contains("Test deadlocked"), "{stderr}");
    assert!(stdout.lines().all(|l| l.len() <= 120 || l.starts_with("    ")), "rows fit 120 columns:\n{stdout}");
    // The hang's row lists the goroutines left blocked, one per line, in the model's names (it
    // printed shuttle's task list before: `<unknown> (task main-thread(1))`).
    let hang = "found:    fatal error: all goroutines are asleep - deadlock!\n              goroutine 1 [chan receive on joinResultCh] in (*HashJoinV2Exec).Next\n";
    assert!(stdout.contains(hang), "{stdout}");
    assert!(!stdout.contains("main-thread"), "{stdout}");
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Before a22b8421a6 the model is TiDB's probe side only: an executor at such a commit is refused
/// at its `tidb` line, not run as code TiDB did not have.
#[test]
fn a_commit_before_the_whole_executor_takes_only_a_probe_slice() {
    let text = edited("race2-executor-round1-fixed.toml", "tidb = \"acba0cd1e2\"", "tidb = \"9690dab339\"");
    assert_refused(&text, "tidb: the model is only the probe side of TiDB 9690dab339");
}

/// A restore slice runs one split worker per restore file: another `exec.concurrency` would be a
/// setting that changes nothing, and is refused.
#[test]
fn a_restore_slice_s_concurrency_is_its_file_count() {
    let text = edited("race2-fixed.toml", "concurrency = 2", "concurrency = 3");
    assert_refused(&text, "exec.concurrency: 3 on a restore slice, which runs one worker per restore file: 2");
}
