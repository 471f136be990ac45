//! A replayed execution as per-goroutine columns: one row per step, the accesses to the racing
//! bytes marked, long runs of one goroutine folded. Rendered as text or as a self-contained HTML
//! page; the page also names each goroutine by the function it was started with, draws the
//! happens-before edges of the execution (`go` statements and synchronisations) and explains why
//! the racing accesses are unordered ([`Trace::explain`]).

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use crate::report::RaceReport;
use crate::runtime::record::{self, TraceLog};
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
    /// Its place among the trace's accesses and edge ends (finer than steps).
    pub(crate) seq: u64,
}

/// A goroutine of a trace, as a column heading names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceGoroutine {
    /// Go's number (main is 1).
    pub number: u64,
    /// The function it was started with: the outermost model frame that is not a closure (the
    /// worker's method a `go func() { … }()` calls), else its innermost closure; `None` when it
    /// never did anything with a frame on its stack (main, usually).
    pub function: Option<String>,
    /// Its creator's innermost frame at the `go` statement (Go's `created by`).
    pub created_by: Option<String>,
    /// Go's number of its creator.
    pub parent: Option<u64>,
}

/// What made a happens-before edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A `go` statement: the creator's step before the new goroutine's start.
    Go,
    /// A synchronisation: a release (channel send or close, `Unlock`, `Done`, an atomic store …)
    /// acquired by another goroutine (the receive, `Lock`, `Wait`, the atomic load …).
    Sync,
    /// A finished goroutine joined.
    End,
}

/// A happens-before edge of a traced execution: everything goroutine `from` did up to step
/// `from_step` happens before what goroutine `to` does from step `to_step` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEdge {
    /// What made it.
    pub kind: EdgeKind,
    /// Go's number of the releasing goroutine.
    pub from: u64,
    /// The step of the release.
    pub from_step: usize,
    /// Go's number of the acquiring goroutine.
    pub to: u64,
    /// The step of the acquire.
    pub to_step: usize,
    /// The two operations: `chan send → chan receive`, `go statement`, …
    pub what: String,
    from_seq: u64,
    to_seq: u64,
}

/// One of the two racing accesses, with the synchronisation around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceSide {
    /// The access (an index into [`Trace::accesses`]).
    pub access: usize,
    /// The goroutine's last synchronisation before the access, incoming or outgoing (an index
    /// into [`Trace::edges`]): everything the goroutine knows of the others comes through edges
    /// up to it.
    pub last_sync: Option<usize>,
    /// The goroutine's first outgoing edge after the access: the first that could publish it.
    pub next_release: Option<usize>,
}

/// Why a race's two accesses are unordered, from the traced edges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceExplanation {
    /// The earlier access (the report's "previous").
    pub first: RaceSide,
    /// The later access, where the race was detected.
    pub second: RaceSide,
    /// Some chain of edges and program order leads from the first access to the second. Never so
    /// for a reported race: it would mean the trace missed an edge the detector did not.
    pub ordered: bool,
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
    /// Each goroutine, by Go's number minus one.
    pub names: Vec<TraceGoroutine>,
    /// The happens-before edges between goroutines, in the order they were acquired.
    pub edges: Vec<TraceEdge>,
}

impl Trace {
    pub(crate) fn new(steps: &[u32], log: TraceLog, race: Option<&RaceReport>) -> Trace {
        let goroutines = goroutines(steps);
        let first_step = |g: u32| steps.iter().position(|&s| s == g);
        let edges: Vec<TraceEdge> = log
            .edges
            .iter()
            .filter_map(|e| {
                let to_step = e.to_step.or_else(|| first_step(e.to))?;
                let op = |k: usize| log.details.get(k).map_or("?", |d| d.op);
                // A `go` statement is its creator's next step (`go`, which ends when the creator
                // runs again), unless the child started before that.
                let next_of_parent = (e.from_step + 1..steps.len()).find(|&k| steps[k] == e.from);
                let from_step = match next_of_parent {
                    Some(k) if e.kind == record::EdgeKind::Go && op(k) == "go" && k < to_step => k,
                    _ => e.from_step,
                };
                let what = match e.kind {
                    record::EdgeKind::Go => "go statement".to_string(),
                    record::EdgeKind::End => "goroutine end → join".to_string(),
                    record::EdgeKind::Sync => format!("{} → {}", release_name(op(from_step)), op(to_step)),
                };
                let kind = match e.kind {
                    record::EdgeKind::Go => EdgeKind::Go,
                    record::EdgeKind::Sync => EdgeKind::Sync,
                    record::EdgeKind::End => EdgeKind::End,
                };
                Some(TraceEdge {
                    kind,
                    from: u64::from(e.from) + 1,
                    from_step,
                    to: u64::from(e.to) + 1,
                    to_step,
                    what,
                    from_seq: e.from_seq,
                    to_seq: e.to_seq,
                })
            })
            .collect();
        let names = (0..goroutines)
            .map(|g| TraceGoroutine {
                number: g as u64 + 1,
                function: log.names.get(g).cloned().flatten(),
                created_by: log.created_by.get(g).cloned().flatten(),
                parent: edges.iter().find(|e| e.kind == EdgeKind::Go && e.to == g as u64 + 1).map(|e| e.from),
            })
            .collect();
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
                seq: m.seq,
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
        Trace { goroutines, steps, accesses, names, edges }
    }

    /// Why the race's two accesses are unordered, if the trace marks two racing accesses.
    pub fn explain(&self) -> Option<RaceExplanation> {
        let mut racing = self.accesses.iter().enumerate().filter(|(_, a)| a.racing).map(|(k, _)| k);
        let (first, second) = (racing.next()?, racing.next()?);
        let side = |k: usize| {
            let a = &self.accesses[k];
            let at = |e: &TraceEdge| if e.to == a.goroutine { e.to_seq } else { e.from_seq };
            let last_sync = (0..self.edges.len())
                .filter(|&i| {
                    let e = &self.edges[i];
                    (e.to == a.goroutine || e.from == a.goroutine) && at(e) < a.seq
                })
                .max_by_key(|&i| at(&self.edges[i]));
            let next_release = (0..self.edges.len())
                .filter(|&i| self.edges[i].from == a.goroutine && self.edges[i].from_seq > a.seq)
                .min_by_key(|&i| self.edges[i].from_seq);
            RaceSide { access: k, last_sync, next_release }
        };
        let ordered = self.ordered(&self.accesses[first], &self.accesses[second]);
        Some(RaceExplanation { first: side(first), second: side(second), ordered })
    }

    /// Whether a chain of edges and program order leads from access `a` to access `b`. The edges
    /// are in the order of their acquires, so one pass follows every chain.
    fn ordered(&self, a: &TraceAccess, b: &TraceAccess) -> bool {
        // Per goroutine, its earliest event that `a` happens before.
        let mut reached = vec![u64::MAX; self.goroutines + 1];
        reached[a.goroutine as usize] = a.seq;
        for e in &self.edges {
            if reached.get(e.from as usize).is_some_and(|&r| r <= e.from_seq) {
                if let Some(to) = reached.get_mut(e.to as usize) {
                    *to = (*to).min(e.to_seq);
                }
            }
        }
        reached.get(b.goroutine as usize).is_some_and(|&r| r <= b.seq)
    }

    /// The rows to show: steps with their accesses, runs of one goroutine without accesses (nor
    /// steps `keep` asks for) folded.
    fn rows(&self, keep: impl Fn(usize) -> bool) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut i = 0;
        while i < self.steps.len() {
            let g = self.steps[i].goroutine;
            let quiet =
                |k: usize| self.steps[k].goroutine == g && !keep(k) && !self.accesses.iter().any(|a| a.step == k);
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

    /// The trace as an HTML page with no external resources: a summary of why the race's accesses
    /// are unordered with a link to the first of them, then one column per goroutine (headed by the
    /// function it was started with), each step marked with its happens-before edges, and `report`.
    pub fn to_html(&self, title: &str, report: &str) -> String {
        let why = self.explain();
        // The goroutines the summary names: the racing two and the ends of their last edges.
        let mut involved = BTreeSet::new();
        if let Some(w) = &why {
            for side in [&w.first, &w.second] {
                let g = self.accesses[side.access].goroutine;
                involved.insert(g);
                if let Some(e) = side.last_sync.map(|i| &self.edges[i]) {
                    involved.insert(if e.to == g { e.from } else { e.to });
                }
            }
        }
        let racing: BTreeSet<u64> = self.accesses.iter().filter(|a| a.racing).map(|a| a.goroutine).collect();
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{}</h1>\n",
            esc(title),
            esc(title)
        );
        h.push_str(&self.html_summary(why.as_ref(), &involved));
        h.push_str("<table>\n<thead><tr><th class=\"n\">step</th>");
        for g in &self.names {
            let hidden = if involved.is_empty() || involved.contains(&g.number) { "" } else { " u" };
            let race = if racing.contains(&g.number) { " race" } else { "" };
            let created = match (&g.created_by, g.parent) {
                (Some(f), Some(p)) => {
                    format!("<span class=\"cb\">created by {} in goroutine {p}</span>", esc(short(f)))
                }
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<th class=\"g{hidden}{race}\" id=\"g{n}\"><div class=\"h\"><span class=\"num\">goroutine {n}</span> <b class=\"fn\">{}</b>{created}</div></th>",
                esc(&self.goroutine_name(g.number)),
                n = g.number,
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        let edge_of = |k: usize| self.edges.iter().any(|e| self.edge_at(e, k).is_some());
        // Steps with edges of the goroutines the summary names stay unfolded.
        let keep = |k: usize| {
            edge_of(k)
                && self
                    .edges
                    .iter()
                    .any(|e| self.edge_at(e, k).is_some() && (involved.contains(&e.from) || involved.contains(&e.to)))
        };
        let mut nth_race = 0;
        for row in self.rows(keep) {
            match row {
                Row::Step(i) => {
                    let s = &self.steps[i];
                    let text = format!("{}{}", cell(&s.op, s.frame.as_deref()), self.html_edges(i));
                    let id = format!("s{i}");
                    h.push_str(&self.html_row(&i.to_string(), s.goroutine, "step", &text, Some(&id), &involved));
                }
                Row::Access(k) => {
                    let a = &self.accesses[k];
                    let id = a.racing.then(|| {
                        nth_race += 1;
                        if nth_race == 1 {
                            "race-first"
                        } else {
                            "race-second"
                        }
                    });
                    let class = if a.racing { "access race" } else { "access" };
                    let mark = if a.racing { "RACE " } else { "" };
                    let text = cell(&format!("{mark}{}", a.what), a.frame.as_deref());
                    h.push_str(&self.html_row("", a.goroutine, class, &text, id, &involved));
                }
                Row::Folded { first, last, goroutine } => {
                    let inner: String = (first..=last)
                        .map(|i| {
                            let s = &self.steps[i];
                            format!(
                                "<div id=\"s{i}\">{i}: {}{}</div>",
                                cell(&s.op, s.frame.as_deref()),
                                self.html_edges(i)
                            )
                        })
                        .collect();
                    let text = format!("<details><summary>{} more steps</summary>{inner}</details>", last + 1 - first);
                    h.push_str(&self.html_row(&format!("{first}–{last}"), goroutine, "folded", &text, None, &involved));
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

    /// A goroutine as the page names it: the function it was started with.
    fn goroutine_name(&self, g: u64) -> String {
        let named = self.names.get(g as usize - 1).and_then(|n| n.function.as_deref());
        match named {
            Some(f) => short(f).to_string(),
            None if g == 1 => "main".to_string(),
            None => "?".to_string(),
        }
    }

    /// Whether edge `e` starts or ends at step `k`, and which.
    fn edge_at(&self, e: &TraceEdge, k: usize) -> Option<bool> {
        let g = self.steps[k].goroutine;
        if e.to == g && e.to_step == k {
            Some(true)
        } else if e.from == g && e.from_step == k {
            Some(false)
        } else {
            None
        }
    }

    /// The edges into and out of step `k`, as marks under its operation.
    fn html_edges(&self, k: usize) -> String {
        let mut out = String::new();
        for e in &self.edges {
            if let Some(incoming) = self.edge_at(e, k) {
                let class = if incoming { "in" } else { "out" };
                let kind = if e.kind == EdgeKind::Go { " go" } else { "" };
                let _ =
                    write!(out, "<div class=\"e {class}{kind}\">{}</div>", self.html_edge(e, self.steps[k].goroutine));
            }
        }
        out
    }

    /// Edge `e` as goroutine `g`, one of its ends, sees it, with a link to the other end.
    fn html_edge(&self, e: &TraceEdge, g: u64) -> String {
        let link = |step: usize| format!("<a href=\"#s{step}\">step {step}</a>");
        match (e.to == g, e.kind) {
            (true, EdgeKind::Go) => {
                format!("← started by goroutine {} at {} (go statement)", e.from, link(e.from_step))
            }
            (true, _) => format!("← from goroutine {} {} ({})", e.from, link(e.from_step), esc(&e.what)),
            (false, EdgeKind::Go) => format!(
                "→ go statement: starts goroutine {} ({}) at {}",
                e.to,
                esc(&self.goroutine_name(e.to)),
                link(e.to_step)
            ),
            (false, _) => format!("→ to goroutine {} {} ({})", e.to, link(e.to_step), esc(&e.what)),
        }
    }

    /// The section above the table: a link to the first racing access, why the two accesses are
    /// unordered, and the toggle that hides the other goroutines.
    fn html_summary(&self, why: Option<&RaceExplanation>, involved: &BTreeSet<u64>) -> String {
        let Some(w) = why else {
            return "<section id=\"why\"><p>No data race in this execution: nothing to explain.</p></section>\n".into();
        };
        let (a, b) = (&self.accesses[w.first.access], &self.accesses[w.second.access]);
        let who = |x: &TraceAccess| {
            format!("goroutine {} <code>{}</code>", x.goroutine, esc(&self.goroutine_name(x.goroutine)))
        };
        let mut h = String::from("<section id=\"why\">\n");
        let _ = writeln!(
            h,
            "<p class=\"jump\"><a id=\"to-race\" href=\"#race-first\">↓ Jump to the first racing access</a>: {}, {} at step {} (then <a href=\"#race-second\">the second</a>, step {})</p>",
            who(a),
            esc(&a.what),
            a.step,
            b.step
        );
        h.push_str("<h2>Why these two accesses race</h2>\n<ol>\n");
        for (label, side, x) in [("First", &w.first, a), ("Second", &w.second, b)] {
            let last = match side.last_sync.map(|i| &self.edges[i]) {
                Some(e) => format!("its last synchronisation before it: {}", self.html_edge(e, x.goroutine)),
                None => "it has no synchronisation before it".into(),
            };
            let _ = write!(
                h,
                "<li class=\"side\"><b>{label}</b>: {} — {} at <a href=\"#s{}\">step {}</a>; {last}",
                who(x),
                esc(&x.what),
                x.step,
                x.step
            );
            if std::ptr::eq(side, &w.first) {
                let next = match side.next_release.map(|i| &self.edges[i]) {
                    Some(e) => format!("its first edge out after the access: {}", self.html_edge(e, x.goroutine)),
                    None => "after the access it sends no edge to any goroutine".into(),
                };
                let _ = write!(h, "; {next}");
            }
            h.push_str(".</li>\n");
        }
        let verdict = if w.ordered {
            "A chain of edges does order the first access before the second, yet the detector reported a race: \
             the trace and the detector disagree (a harness bug)."
                .to_string()
        } else {
            format!(
                "No chain of happens-before edges (go statements, synchronisations, and each goroutine's own order) \
                 leads from goroutine {}'s access at step {} to goroutine {}'s at step {}: neither is ordered before \
                 the other, and one of them writes.",
                a.goroutine, a.step, b.goroutine, b.step
            )
        };
        let _ = writeln!(h, "<li class=\"verdict\">{verdict}</li>\n</ol>");
        let list: Vec<String> = involved.iter().map(|g| format!("goroutine {g}")).collect();
        let _ = writeln!(
            h,
            "<p><label><input type=\"checkbox\" id=\"only-race\"> Show only the goroutines named above ({})</label></p>",
            list.join(", ")
        );
        h.push_str(
            "<p class=\"legend\">Each step lists its happens-before edges: ← one into the step from another goroutine, \
             → one out of it. Steps without accesses or edges of these goroutines are folded.</p>\n</section>\n",
        );
        h
    }

    fn html_row(
        &self,
        step: &str,
        goroutine: u64,
        class: &str,
        text: &str,
        id: Option<&str>,
        involved: &BTreeSet<u64>,
    ) -> String {
        let hidden = |g: u64| !involved.is_empty() && !involved.contains(&g);
        let row_class = if hidden(goroutine) { format!("{class} u") } else { class.to_string() };
        let mut r = format!("<tr class=\"{row_class}\"><td class=\"n\">{step}</td>");
        for g in 1..=self.goroutines as u64 {
            let u = if hidden(g) { " class=\"u\"" } else { "" };
            if g == goroutine {
                let id = id.map_or(String::new(), |i| format!(" id=\"{i}\""));
                let _ = write!(r, "<td{id}{u}>{text}</td>");
            } else {
                let _ = write!(r, "<td{u}></td>");
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

/// The operation a release happened in, as Go code names it: a release in `WaitGroup.Add` is a
/// negative delta, `Done` in practice.
fn release_name(op: &str) -> &str {
    if op == "sync.WaitGroup.Add" {
        "sync.WaitGroup.Done"
    } else {
        op
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:13px}\
th{position:sticky;top:0;background:#eee;z-index:2;text-align:left}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;max-width:26em;overflow-wrap:anywhere}\
th .h{min-width:15em}th .num{color:#555;font-weight:normal}th .fn{display:block;font-family:monospace}\
th .cb{display:block;font-weight:normal;font-size:11px;color:#666}th.race{background:#ffe0e0}\
td.n,th.n{position:sticky;left:0;background:#fafafa;color:#888;text-align:right;z-index:1}th.n{z-index:3}\
.f{color:#555;font-family:monospace}tr.folded td{color:#888}\
tr.access td{background:#f4f8ff}tr.race td[id]{background:#ffd6d6;font-weight:bold;outline:2px solid #c00}\
.e{font-size:11px;color:#06c}.e.go{color:#080}[id]{scroll-margin-top:7em}\
#why{max-width:70em;background:#fffbe6;border:1px solid #e6d690;padding:.2em 1em;margin-bottom:1em}\
#why li{margin:.3em 0}.jump a#to-race{font-weight:bold;color:#c00}body.only .u{display:none}";

/// Opens the folded steps a link points into and scrolls there; applies the toggle; and marks the
/// page for a browser test: how many racing accesses are rendered visibly, where the link to the
/// first one is, and whether the page's fragment (`#race-first`) landed on screen.
const SCRIPT: &str = "document.addEventListener('DOMContentLoaded',function(){var b=document.body;\
var t=document.getElementById('only-race');if(t){var f=function(){b.classList.toggle('only',t.checked);};\
t.addEventListener('change',f);f();}\
function go(){var id=decodeURIComponent(location.hash.slice(1));var e=id&&document.getElementById(id);if(!e)return null;\
for(var p=e.parentElement;p;p=p.parentElement)if(p.tagName==='DETAILS')p.open=true;e.scrollIntoView({block:'center'});return e;}\
window.addEventListener('hashchange',go);var landed=go();\
var n=0;document.querySelectorAll('td[id^=race-]').forEach(function(e){var r=e.getBoundingClientRect();\
var s=getComputedStyle(e);if(r.width>0&&r.height>0&&s.visibility==='visible'&&s.display!=='none')n++;});\
b.setAttribute('data-visible-races',String(n));\
var a=document.getElementById('to-race');if(a)b.setAttribute('data-race-link-top',String(Math.round(a.getBoundingClientRect().top+scrollY)));\
if(landed){var r=landed.getBoundingClientRect();b.setAttribute('data-landed',r.top>=0&&r.bottom<=innerHeight?landed.id:'off-screen');}});";

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
        for row in self.rows(|_| false) {
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

#[cfg(test)]
mod tests {
    use super::{EdgeKind, Trace};
    use crate::go::{self, frame, Chan, WaitGroup};
    use crate::memory::CheckedBuf;
    use crate::{explore, replay, Strategy};

    /// The trace of the first failing execution of `model` the random scheduler finds, replayed.
    fn traced(model: fn()) -> Trace {
        let outcome = explore(&Strategy::random(1, 100), model);
        let schedule = outcome.failure.and_then(|f| f.schedule).expect("a failing schedule");
        replay(&schedule, model).trace
    }

    /// A sender writes `x`, sends, writes `x` again; main receives, then reads `x`: the first write
    /// is ordered before the read by the channel, the second races with it.
    fn send_between_writes() {
        let _f = frame("pkg.receive");
        let x = CheckedBuf::new("x", 8);
        let c: Chan<u64> = Chan::new("c", 0);
        let (x2, c2) = (x.clone(), c.clone());
        go::go(move || {
            let _f = frame("pkg.(*worker).send");
            x2.write_u64(0, 1);
            c2.send(1);
            x2.write_u64(0, 2);
        });
        c.recv();
        x.read_u64(0);
    }

    #[test]
    fn a_channel_is_a_send_to_receive_edge_and_orders_only_what_came_before_the_send() {
        let t = traced(send_between_writes);
        let has = |kind: EdgeKind, from: u64, to: u64, what: &str| {
            t.edges.iter().any(|e| e.kind == kind && (e.from, e.to) == (from, to) && e.what == what)
        };
        assert!(has(EdgeKind::Go, 1, 2, "go statement"), "{:?}", t.edges);
        assert!(has(EdgeKind::Sync, 2, 1, "chan send → chan receive"), "{:?}", t.edges);
        // Unbuffered: the receive also orders the rest of the send (Go's race runtime does so).
        assert!(has(EdgeKind::Sync, 1, 2, "chan receive → chan send"), "{:?}", t.edges);
        assert_eq!(t.names[1].function.as_deref(), Some("pkg.(*worker).send"));
        assert_eq!((t.names[1].parent, t.names[1].created_by.as_deref()), (Some(1), Some("pkg.receive")));

        let writes: Vec<_> = t.accesses.iter().filter(|a| a.goroutine == 2).collect();
        let read = t.accesses.iter().find(|a| a.goroutine == 1).expect("main's read");
        assert_eq!(writes.len(), 2, "{t}");
        assert!(t.ordered(writes[0], read), "the write before the send happens before the read");
        assert!(!t.ordered(writes[1], read) && !t.ordered(read, writes[1]));

        let why = t.explain().expect("a race to explain");
        assert!(!why.ordered);
        let last = |side: &super::RaceSide| &t.edges[side.last_sync.expect("a last synchronisation")];
        let (first, second) = (t.accesses[why.first.access].goroutine, t.accesses[why.second.access].goroutine);
        for (side, g) in [(&why.first, first), (&why.second, second)] {
            let e = last(side);
            assert!(e.kind == EdgeKind::Sync && (e.from == g || e.to == g), "goroutine {g}: {e:?}");
        }
    }

    /// Two goroutines write `x` with nothing between them but the `go` statements.
    fn unsynchronised_writes() {
        let x = CheckedBuf::new("x", 8);
        for v in 0..2 {
            let x = x.clone();
            go::go(move || x.write_u64(0, v));
        }
    }

    #[test]
    fn without_synchronisation_the_last_edge_is_the_go_statement_and_nothing_orders_the_writes() {
        let t = traced(unsynchronised_writes);
        let why = t.explain().expect("a race to explain");
        assert!(!why.ordered);
        for side in [&why.first, &why.second] {
            let e = &t.edges[side.last_sync.expect("started by main")];
            assert_eq!((e.kind, e.from, e.to), (EdgeKind::Go, 1, t.accesses[side.access].goroutine));
        }
        assert_eq!(why.first.next_release, None, "the first writer publishes nothing after its write");
        let html = t.to_html("t", "");
        assert!(html.contains("No chain of happens-before edges"), "{html}");
        assert!(html.contains("<a id=\"to-race\" href=\"#race-first\">") && html.contains("id=\"race-first\""));
    }

    /// Two workers call `Done`, main `Wait`s, then writes `x`, which a third goroutine reads
    /// unsynchronised.
    fn wait_then_write() {
        let x = CheckedBuf::new("x", 8);
        let wg = WaitGroup::new("wg");
        wg.add(2);
        for _ in 0..2 {
            let wg = wg.clone();
            go::go(move || wg.done());
        }
        let x2 = x.clone();
        go::go(move || {
            x2.read_u64(0);
        });
        wg.wait();
        x.write_u64(0, 1);
    }

    #[test]
    fn each_done_is_an_edge_into_wait() {
        let t = traced(wait_then_write);
        let done: Vec<u64> = t
            .edges
            .iter()
            .filter(|e| e.to == 1 && e.what == "sync.WaitGroup.Done → sync.WaitGroup.Wait")
            .map(|e| e.from)
            .collect();
        assert_eq!(done, [2, 3], "{:?}", t.edges);
    }
}
