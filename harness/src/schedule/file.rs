//! The schedule file: versioned text with a readable header and the steps.
//!
//! ```text
//! joinrace-schedule v2
//! model: race1-used-flag-layout
//! model-hash: fnv1a64:4f0c2b1e9d3a7765
//! strategy: shuttle-pct(seed 1, 1000 executions, depth 3)
//! execution: 1
//! failure: data race
//! summary: race between … and …
//! preemptions: 1
//! goroutines: 4
//! steps: 57
//! choices:
//! ---
//! 1*12 2*3 1 3*7 …
//! ```
//!
//! Steps are Go goroutine numbers (main is 1), `G*N` for N steps in a row. A file may end with the
//! model's definition (for joinrace, the scenario file's text) after a `--- model source` line,
//! verbatim, so that it replays where that definition is gone or has changed. Header fields are read
//! by name, in any order; `scenario` and `scenario-hash`, the names of the first v2 files, are read
//! as `model` and `model-hash`. Decoding never panics: every problem is a [`DecodeError`] naming
//! the line and the field.

use std::fmt::Write as _;

use super::Schedule;

/// The magic first line, and the one version this build reads. The version changes whenever the
/// harness's scheduling points change (v2: a shuttle wake-up is no longer a step of its own), since
/// the steps of an older file then no longer line up with an execution's.
const MAGIC: &str = "joinrace-schedule";
const VERSION: &str = "v2";

/// Larger schedules are refused (a corrupt count must not allocate without bound).
const MAX_STEPS: usize = 50_000_000;

/// A schedule file's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleFile {
    /// The model the schedule belongs to (for joinrace's catalog, the scenario's name): what to
    /// run the steps on.
    pub model: String,
    /// A hash of the model's definition (a scenario file's content), to warn when it changed since.
    pub model_hash: String,
    /// The strategy that found the failure, for the reader.
    pub strategy: String,
    /// The failing execution's index within that exploration.
    pub execution: u64,
    /// The failure kind (`data race`, `panic`, `deadlock`, `divergence`).
    pub failure: String,
    /// One line saying what failed.
    pub summary: String,
    /// Preemptions in the schedule.
    pub preemptions: usize,
    /// The schedule.
    pub schedule: Schedule,
    /// The model's definition as recorded (its text, whose hash is `model_hash`), if the file
    /// carries it.
    pub model_source: Option<String>,
}

/// The line that starts the model's definition, after the steps.
const SOURCE_LINE: &str = "--- model source";

/// Why a schedule file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct DecodeError {
    /// 1-based line number.
    pub line: usize,
    /// The field (or part) at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, field: &str, message: impl Into<String>) -> DecodeError {
    DecodeError { line, field: field.to_string(), message: message.into() }
}

/// Header fields in the order they are written.
const FIELDS: [&str; 10] = [
    "model",
    "model-hash",
    "strategy",
    "execution",
    "failure",
    "summary",
    "preemptions",
    "goroutines",
    "steps",
    "choices",
];

impl ScheduleFile {
    /// The file's text.
    pub fn encode(&self) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let s = &self.schedule;
        let mut out = format!("{MAGIC} {VERSION}\n");
        let choices: Vec<String> = s.choices.iter().map(u64::to_string).collect();
        let values = [
            one_line(&self.model),
            one_line(&self.model_hash),
            one_line(&self.strategy),
            self.execution.to_string(),
            one_line(&self.failure),
            one_line(&self.summary),
            self.preemptions.to_string(),
            s.goroutines().to_string(),
            s.steps.len().to_string(),
            choices.join(" "),
        ];
        for (k, v) in FIELDS.iter().zip(values) {
            let _ = if v.is_empty() { writeln!(out, "{k}:") } else { writeln!(out, "{k}: {v}") };
        }
        out.push_str("---\n");
        let mut runs: Vec<String> = Vec::new();
        let mut i = 0;
        while i < s.steps.len() {
            let g = s.steps[i];
            let n = s.steps[i..].iter().take_while(|&&x| x == g).count();
            runs.push(if n == 1 { format!("{}", g + 1) } else { format!("{}*{n}", g + 1) });
            i += n;
        }
        for line in runs.chunks(16) {
            out.push_str(&line.join(" "));
            out.push('\n');
        }
        if let Some(source) = &self.model_source {
            out.push_str(SOURCE_LINE);
            out.push('\n');
            out.push_str(source);
        }
        out
    }

    /// Reads a schedule file.
    pub fn decode(bytes: &[u8]) -> Result<ScheduleFile, DecodeError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| err(1, "file", format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
        // The model's source, verbatim, is everything after its line.
        let (text, model_source) = match text.split_once(&format!("\n{SOURCE_LINE}\n")) {
            Some((schedule, source)) => (schedule, Some(source.to_string())),
            None => (text, None),
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (_, first) = lines.next().ok_or_else(|| err(1, "file", "empty"))?;
        match first.split_once(' ') {
            Some((MAGIC, VERSION)) => {}
            Some((MAGIC, "v1")) => {
                return Err(err(
                    1,
                    "version",
                    format!(
                        "version v1 was recorded by an older joinrace whose scheduling points differ; this joinrace \
                         reads {VERSION}: run the scenario again to record the failure anew"
                    ),
                ));
            }
            Some((MAGIC, v)) => {
                return Err(err(1, "version", format!("unsupported version `{v}`; this joinrace reads {VERSION}")));
            }
            _ => {
                return Err(err(
                    1,
                    "file",
                    format!("not a joinrace schedule (the first line is not `{MAGIC} {VERSION}`)"),
                ))
            }
        }
        // The header, by name, up to the `---` line.
        let mut header: [Option<(usize, String)>; FIELDS.len()] = Default::default();
        let mut last_line = 1;
        let sep = loop {
            let Some((n, line)) = lines.next() else {
                // Truncated: name the first field the file never gave, or the separator.
                let missing = FIELDS.iter().zip(&header).find(|(_, v)| v.is_none()).map_or("---", |(f, _)| *f);
                return Err(err(last_line + 1, missing, "missing (the file is truncated)"));
            };
            last_line = n;
            if line == "---" {
                break n;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| err(n, "header", format!("expected `field: value` or `---`, found `{}`", clip(line))))?;
            let canonical = match name {
                "scenario" => "model",
                "scenario-hash" => "model-hash",
                other => other,
            };
            let i = FIELDS.iter().position(|f| *f == canonical).ok_or_else(|| {
                err(n, "header", format!("unknown field `{}` (known: {})", clip(name), FIELDS.join(", ")))
            })?;
            if header[i].is_some() {
                return Err(err(n, FIELDS[i], "given twice"));
            }
            let value = value.trim();
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err(err(n, FIELDS[i], format!("control character {c:?} in the value")));
            }
            header[i] = Some((n, value.to_string()));
        };
        let mut values: Vec<(usize, String)> = Vec::with_capacity(FIELDS.len());
        for (field, v) in FIELDS.iter().zip(header) {
            values.push(v.ok_or_else(|| err(sep, field, "missing"))?);
        }
        let number = |i: usize| -> Result<u64, DecodeError> {
            let (n, v) = &values[i];
            v.parse::<u64>().map_err(|_| err(*n, FIELDS[i], format!("`{}` is not a number", clip(v))))
        };
        let execution = number(3)?;
        let preemptions = number(6)? as usize;
        let goroutines = number(7)?;
        let count = number(8)? as usize;
        if count > MAX_STEPS {
            return Err(err(values[8].0, "steps", format!("{count} steps is more than the {MAX_STEPS} allowed")));
        }
        let choices = values[9]
            .1
            .split_whitespace()
            .map(|c| {
                c.parse::<u64>().map_err(|_| err(values[9].0, "choices", format!("`{}` is not a number", clip(c))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Grown as the steps come, not sized from the header: a short file must not allocate much.
        let mut steps: Vec<u32> = Vec::new();
        let mut last_line = sep;
        for (n, line) in lines {
            last_line = n;
            for run in line.split_whitespace() {
                let (g, times) = match run.split_once('*') {
                    Some((g, t)) => (g, t.parse::<usize>().ok().filter(|&t| t >= 1)),
                    None => (run, Some(1)),
                };
                let bad = || err(n, "steps", format!("`{}` is not a step (`G` or `G*N`)", clip(run)));
                let g = g.parse::<u64>().map_err(|_| bad())?;
                let times = times.ok_or_else(bad)?;
                if g == 0 || g > goroutines {
                    return Err(err(n, "steps", format!("goroutine {g} is not one of the {goroutines} goroutines")));
                }
                // `count - len` cannot underflow (len never exceeds count); a sum could overflow.
                if times > count - steps.len() {
                    return Err(err(n, "steps", format!("more steps than the {count} the header gives")));
                }
                steps.extend(std::iter::repeat_n((g - 1) as u32, times));
            }
        }
        if steps.len() < count {
            return Err(err(
                last_line,
                "steps",
                format!("{} steps where the header gives {count} (the file is truncated)", steps.len()),
            ));
        }
        let schedule = Schedule { steps, choices };
        if schedule.goroutines() as u64 != goroutines {
            return Err(err(values[7].0, "goroutines", format!("the steps use {} goroutines", schedule.goroutines())));
        }
        let text = |i: usize| values[i].1.clone();
        if text(0).is_empty() {
            return Err(err(values[0].0, "model", "empty"));
        }
        Ok(ScheduleFile {
            model: text(0),
            model_hash: text(1),
            strategy: text(2),
            execution,
            failure: text(4),
            summary: text(5),
            preemptions,
            schedule,
            model_source,
        })
    }
}

/// At most 40 characters of `s`, for error messages.
fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(40).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}
