//! A replayed execution as per-goroutine columns: one row per step, the accesses to the racing
//! bytes marked, long runs of one goroutine folded. Rendered as text or as a self-contained HTML
//! page.

use std::fmt::{self, Write as _};

use crate::report::RaceReport;
use crate::runtime::record::TraceLog;
use crate::schedule::goroutines;

/// Runs of one goroutine longer than this are folded (in text) or collapsed (in HTML).
const FOLD_AFTER: usize = 4;

/// One step of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Go's number of the goroutine that ran the step (main is 1).
    pub goroutine: u64,
    /// The operation it returned from (`chan receive`, `sync.WaitGroup.Wait`, `start`, …).
    pub op: String,
    /// Its innermost model frame at that point.
    pub frame: Option<String>,
}

/// A checked-memory access to the bytes of interest, within a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceAccess {
    /// The step it happened in.
    pub step: usize,
    /// Go's number of the accessing goroutine.
    pub goroutine: u64,
    /// `atomic write 4B @0x…` and the like.
    pub what: String,
    /// The accessing function.
    pub frame: Option<String>,
    /// One of the two accesses of the reported race.
    pub racing: bool,
}

/// A traced execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The number of goroutines (columns).
    pub goroutines: usize,
    /// Every step, in order.
    pub steps: Vec<TraceStep>,
    /// The accesses to the racing bytes, in order.
    pub accesses: Vec<TraceAccess>,
}

impl Trace {
    pub(crate) fn new(steps: &[u32], log: TraceLog, race: Option<&RaceReport>) -> Trace {
        let goroutines = goroutines(steps);
        let steps = steps
            .iter()
            .zip(log.details)
            .map(|(&g, d)| TraceStep { goroutine: u64::from(g) + 1, op: d.op.to_string(), frame: d.frame })
            .collect();
        let mut accesses: Vec<TraceAccess> = log
            .mem
            .iter()
            .map(|m| TraceAccess {
                step: m.step,
                goroutine: u64::from(m.goroutine) + 1,
                what: format!(
                    "{} {} {}B @{:#x}",
                    if m.atomic { "atomic" } else { "plain" },
                    if m.write { "write" } else { "read" },
                    m.size,
                    m.addr
                ),
                frame: m.frame.clone(),
                racing: false,
            })
            .collect();
        if let Some(r) = race {
            // The race's current access is the last matching one; its previous access is the last
            // matching one before that.
            let matches = |i: usize, a: &crate::report::Access| {
                let m = &log.mem[i];
                u64::from(m.goroutine) + 1 == a.goroutine
                    && m.addr == a.addr
                    && m.size == a.size
                    && m.atomic == a.atomic
                    && m.write == (a.kind == crate::report::AccessKind::Write)
            };
            if let Some(cur) = (0..log.mem.len()).rev().find(|&i| matches(i, &r.current)) {
                accesses[cur].racing = true;
                if let Some(prev) = (0..cur).rev().find(|&i| matches(i, &r.previous)) {
                    accesses[prev].racing = true;
                }
            }
        }
        Trace { goroutines, steps, accesses }
    }

    /// The rows to show: steps with their accesses, runs of one goroutine without accesses folded.
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut i = 0;
        while i < self.steps.len() {
            let g = self.steps[i].goroutine;
            let quiet = |k: usize| self.steps[k].goroutine == g && !self.accesses.iter().any(|a| a.step == k);
            let mut j = i;
            while j < self.steps.len() && quiet(j) {
                j += 1;
            }
            if j - i > FOLD_AFTER {
                rows.push(Row::Step(i));
                rows.push(Row::Folded { first: i + 1, last: j - 2, goroutine: g });
                rows.push(Row::Step(j - 1));
                i = j;
                continue;
            }
            rows.push(Row::Step(i));
            rows.extend(self.accesses.iter().enumerate().filter(|(_, a)| a.step == i).map(|(k, _)| Row::Access(k)));
            i += 1;
        }
        rows
    }

    /// The trace as an HTML page with no external resources.
    pub fn to_html(&self, title: &str, report: &str) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{}</h1>\n<table>\n<thead><tr><th>step</th>",
            esc(title),
            esc(title)
        );
        for g in 1..=self.goroutines {
            let _ = write!(h, "<th>goroutine {g}</th>");
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in self.rows() {
            match row {
                Row::Step(i) => {
                    let s = &self.steps[i];
                    h.push_str(&self.html_row(
                        &i.to_string(),
                        s.goroutine,
                        "step",
                        &cell(&s.op, s.frame.as_deref()),
                        None,
                    ));
                }
                Row::Access(k) => {
                    let a = &self.accesses[k];
                    let (class, id) =
                        if a.racing { ("access race", Some(format!("race-{k}"))) } else { ("access", None) };
                    let mark = if a.racing { "RACE " } else { "" };
                    let text = cell(&format!("{mark}{}", a.what), a.frame.as_deref());
                    h.push_str(&self.html_row("", a.goroutine, class, &text, id.as_deref()));
                }
                Row::Folded { first, last, goroutine } => {
                    let inner: String = (first..=last)
                        .map(|i| format!("<div>{i}: {}</div>", cell(&self.steps[i].op, self.steps[i].frame.as_deref())))
                        .collect();
                    let text = format!("<details><summary>{} more steps</summary>{inner}</details>", last + 1 - first);
                    h.push_str(&self.html_row(&format!("{first}–{last}"), goroutine, "folded", &text, None));
                }
            }
        }
        let _ = write!(
            h,
            "</tbody></table>\n<h2>Report</h2>\n<pre>{}</pre>\n<script>{SCRIPT}</script>\n</body></html>\n",
            esc(report)
        );
        h
    }

    fn html_row(&self, step: &str, goroutine: u64, class: &str, text: &str, id: Option<&str>) -> String {
        let mut r = format!("<tr class=\"{class}\"><td class=\"n\">{step}</td>");
        for g in 1..=self.goroutines as u64 {
            if g == goroutine {
                let id = id.map_or(String::new(), |i| format!(" id=\"{i}\""));
                let _ = write!(r, "<td{id}>{text}</td>");
            } else {
                r.push_str("<td></td>");
            }
        }
        r.push_str("</tr>\n");
        r
    }
}

enum Row {
    Step(usize),
    Access(usize),
    Folded { first: usize, last: usize, goroutine: u64 },
}

fn cell(op: &str, frame: Option<&str>) -> String {
    match frame {
        Some(f) => format!("{} <span class=\"f\">{}</span>", esc(op), esc(short(f))),
        None => esc(op),
    }
}

/// The function name without its package path: `(*joinTableMeta).getSerializedKeyLength`.
fn short(frame: &str) -> &str {
    let tail = frame.rsplit('/').next().unwrap_or(frame);
    tail.split_once('.').map_or(tail, |(_, f)| f)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:13px}\
th{position:sticky;top:0;background:#eee}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;max-width:24em;overflow-wrap:anywhere}\
td.n{color:#888;text-align:right}.f{color:#555;font-family:monospace}tr.folded td{color:#888}\
tr.access td{background:#f4f8ff}tr.race td[id]{background:#ffd6d6;font-weight:bold;outline:2px solid #c00}";

/// Marks the page with how many racing accesses are rendered visibly (a browser test reads it).
const SCRIPT: &str = "document.addEventListener('DOMContentLoaded',function(){var n=0;\
document.querySelectorAll('td[id^=race-]').forEach(function(e){var r=e.getBoundingClientRect();\
var s=getComputedStyle(e);if(r.width>0&&r.height>0&&s.visibility==='visible'&&s.display!=='none')n++;});\
document.body.setAttribute('data-visible-races',String(n));});";

impl fmt::Display for Trace {
    /// Per-goroutine columns as plain text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const W: usize = 34;
        let pad = |s: &str| {
            let s: String = s.chars().take(W - 1).collect();
            format!("{s:<W$}")
        };
        write!(f, "{:>7}  ", "step")?;
        for g in 1..=self.goroutines {
            write!(f, "{}", pad(&format!("goroutine {g}")))?;
        }
        writeln!(f)?;
        let line = |f: &mut fmt::Formatter<'_>, n: &str, g: u64, text: &str| -> fmt::Result {
            write!(f, "{n:>7}  ")?;
            for c in 1..=self.goroutines as u64 {
                if c == g {
                    write!(f, "{}", pad(text))?;
                } else if c < g {
                    write!(f, "{}", pad(""))?;
                }
            }
            writeln!(f)
        };
        let plain = |op: &str, frame: Option<&str>| match frame {
            Some(fr) => format!("{op} {}", short(fr)),
            None => op.to_string(),
        };
        for row in self.rows() {
            match row {
                Row::Step(i) => {
                    let s = &self.steps[i];
                    line(f, &i.to_string(), s.goroutine, &plain(&s.op, s.frame.as_deref()))?;
                }
                Row::Access(k) => {
                    let a = &self.accesses[k];
                    let mark = if a.racing { "RACE " } else { "" };
                    line(f, "", a.goroutine, &plain(&format!("{mark}{}", a.what), a.frame.as_deref()))?;
                }
                Row::Folded { first, last, goroutine } => {
                    line(f, &format!("{first}-{last}"), goroutine, &format!("... {} more steps", last + 1 - first))?;
                }
            }
        }
        Ok(())
    }
}
