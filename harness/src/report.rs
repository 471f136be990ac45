//! Failure reports as values, rendered in the layout of Go's race detector.
//!
//! The harness never prints: explorations return these values, and the `Display` impls give the
//! text that the CLI prints and the snapshots hold.

use std::fmt;

/// Whether an access reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store (a read-modify-write counts as a write).
    Write,
}

/// One side of a data race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Read or write.
    pub kind: AccessKind,
    /// Whether the access was atomic (`sync/atomic`).
    pub atomic: bool,
    /// Address of the first byte accessed.
    pub addr: u64,
    /// Offset of the first byte within the memory object.
    pub offset: usize,
    /// Number of bytes accessed.
    pub size: usize,
    /// Go goroutine number (main is 1).
    pub goroutine: u64,
    /// Whether the goroutine had finished when the race was reported.
    pub goroutine_finished: bool,
    /// The model's call stack at the access, innermost frame first.
    pub stack: Vec<String>,
    /// The creator's stack at the goroutine's `go` statement, innermost first; `None` for main.
    pub created_at: Option<Vec<String>>,
    /// Where in the Rust model the access was made (`file:line`).
    pub location: String,
}

impl Access {
    /// The bytes accessed, relative to the memory object.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.size
    }

    /// The innermost frame that is not a `sync/atomic` wrapper (the model function that made the access).
    pub fn site(&self) -> Option<&str> {
        self.stack.iter().map(String::as_str).find(|f| !f.starts_with("sync/atomic."))
    }

    fn describe(&self) -> String {
        let kind = match self.kind {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
        };
        let mode = if self.atomic { "atomic" } else { "plain" };
        format!("{mode} {kind} of {} bytes [{}, {})", self.size, self.offset, self.offset + self.size)
    }
}

/// A data race: two accesses to overlapping bytes from different goroutines, at least one a write,
/// not both atomic, neither happening before the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceReport {
    /// The access that found the race (Go's first block).
    pub current: Access,
    /// The earlier access it races with (Go's `Previous …` block).
    pub previous: Access,
    /// The memory object, as the model labelled it (e.g. `rowTableSegment[0].rawData`).
    pub object: String,
    /// The object's size in bytes.
    pub object_size: usize,
    /// The labelled region of the object holding the current access, if the model labelled one
    /// (e.g. `row 3` starting at offset 48).
    pub region: Option<(String, usize)>,
}

impl RaceReport {
    /// The two racing sites (each access's [`Access::site`]), sorted: what tells one race from
    /// another. `None` when an access has no model frame.
    pub fn sites(&self) -> Option<[String; 2]> {
        let mut s = [self.current.site()?.to_string(), self.previous.site()?.to_string()];
        s.sort();
        Some(s)
    }

    /// The bytes both accesses touch.
    pub fn overlap(&self) -> std::ops::Range<usize> {
        let (a, b) = (self.current.range(), self.previous.range());
        a.start.max(b.start)..a.end.min(b.end)
    }
}

fn write_stack(f: &mut fmt::Formatter<'_>, frames: &[String]) -> fmt::Result {
    if frames.is_empty() {
        return writeln!(f, "  [no model frames]");
    }
    for frame in frames {
        writeln!(f, "  {frame}()")?;
    }
    Ok(())
}

fn header(a: &Access, previous: bool) -> String {
    let kind = match (a.kind, previous) {
        (AccessKind::Read, false) => "Read",
        (AccessKind::Write, false) => "Write",
        (AccessKind::Read, true) => "Previous read",
        (AccessKind::Write, true) => "Previous write",
    };
    format!("{kind} at {:#014x} by goroutine {}:", a.addr, a.goroutine)
}

impl fmt::Display for RaceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "==================")?;
        writeln!(f, "WARNING: DATA RACE")?;
        writeln!(f, "{}", header(&self.current, false))?;
        write_stack(f, &self.current.stack)?;
        writeln!(f)?;
        writeln!(f, "{}", header(&self.previous, true))?;
        write_stack(f, &self.previous.stack)?;
        let mut seen = Vec::new();
        for a in [&self.current, &self.previous] {
            if let (Some(created), false) = (&a.created_at, seen.contains(&a.goroutine)) {
                seen.push(a.goroutine);
                let state = if a.goroutine_finished { "finished" } else { "running" };
                writeln!(f)?;
                writeln!(f, "Goroutine {} ({state}) created at:", a.goroutine)?;
                write_stack(f, created)?;
            }
        }
        writeln!(f)?;
        write!(f, "Object: {} ({} bytes)", self.object, self.object_size)?;
        if let Some((region, start)) = &self.region {
            write!(f, ", {region} at offset {start}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  goroutine {}: {} at {}",
            self.current.goroutine,
            self.current.describe(),
            self.current.location
        )?;
        writeln!(
            f,
            "  goroutine {}: {} at {}",
            self.previous.goroutine,
            self.previous.describe(),
            self.previous.location
        )?;
        let o = self.overlap();
        writeln!(f, "  overlap: bytes [{}, {})", o.start, o.end)?;
        write!(f, "==================")
    }
}

/// A goroutine that was blocked when a deadlock was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedGoroutine {
    /// Go goroutine number.
    pub goroutine: u64,
    /// What it waits for, e.g. `chan receive on results`.
    pub waiting_on: String,
    /// Its model stack, innermost first.
    pub stack: Vec<String>,
}

impl BlockedGoroutine {
    /// `goroutine 3 [chan send on results] in f`: its number, what it waits for and its innermost
    /// model frame.
    pub fn line(&self) -> String {
        let mut line = format!("goroutine {} [{}]", self.goroutine, self.waiting_on);
        if let Some(top) = self.stack.first() {
            line.push_str(" in ");
            line.push_str(top);
        }
        line
    }
}

/// Why an execution failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The race detector found a data race.
    DataRace(Box<RaceReport>),
    /// A goroutine panicked and nothing recovered it (including a failed assertion): in Go the
    /// whole program dies.
    Panic {
        /// The panicking goroutine's Go number, when known.
        goroutine: Option<u64>,
        /// The panic message.
        message: String,
        /// Where the panic was raised (`file:line`), when known.
        location: Option<String>,
        /// The goroutine's model stack at the panic, innermost first.
        stack: Vec<String>,
    },
    /// The model's main returned while other goroutines were blocked for good: what goleak
    /// reports after a test.
    Leak {
        /// Every goroutine left blocked and what it waits for.
        goroutines: Vec<BlockedGoroutine>,
    },
    /// No goroutine could make progress.
    Deadlock {
        /// Every blocked goroutine and what it waits for.
        goroutines: Vec<BlockedGoroutine>,
        /// The scheduler's own message.
        message: String,
    },
    /// A replayed schedule no longer fits the model: at some step another goroutine ran, or the
    /// execution went on past the schedule's end.
    Divergence {
        /// Which step diverged, and how.
        message: String,
    },
}

impl FailureKind {
    /// A short name for the kind: `data race`, `panic` or `deadlock`.
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::DataRace(_) => "data race",
            FailureKind::Panic { .. } => "panic",
            FailureKind::Leak { .. } => "goroutine leak",
            FailureKind::Deadlock { .. } => "deadlock",
            FailureKind::Divergence { .. } => "divergence",
        }
    }

    /// The race report, if this is a data race.
    pub fn race(&self) -> Option<&RaceReport> {
        match self {
            FailureKind::DataRace(r) => Some(r),
            _ => None,
        }
    }

    /// The two racing sites, sorted, if this is a data race whose accesses have model frames:
    /// what tells one race from another.
    pub fn race_sites(&self) -> Option<[String; 2]> {
        self.race().and_then(RaceReport::sites)
    }

    /// The goroutines a deadlock or a leak left blocked; none for other failures.
    pub fn blocked(&self) -> &[BlockedGoroutine] {
        match self {
            FailureKind::Leak { goroutines } | FailureKind::Deadlock { goroutines, .. } => goroutines,
            _ => &[],
        }
    }

    /// One line saying what failed: `race between A and B` (the sorted sites); for a deadlock or
    /// a leak, the report's first line and every blocked goroutine with what it waits for and
    /// where (`… (goroutine 1 [chan receive on results] in f; goroutine 2 […] in g)`), so that a
    /// replay must block the same goroutines alike; otherwise the report's first line.
    pub fn summary(&self) -> String {
        if let Some([a, b]) = self.race_sites() {
            return format!("race between {a} and {b}");
        }
        match self.blocked() {
            [] => self.headline(),
            blocked => {
                let each: Vec<String> = blocked.iter().map(BlockedGoroutine::line).collect();
                format!("{} ({})", self.headline(), each.join("; "))
            }
        }
    }

    /// The report's first line, without the colon that introduces what follows (a leak's
    /// goroutines).
    pub fn headline(&self) -> String {
        let text = self.to_string();
        text.lines().next().unwrap_or_default().trim_end_matches(':').to_string()
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::DataRace(r) => write!(f, "{r}"),
            FailureKind::Panic { goroutine, message, location, stack } => {
                // Go's layout: the message, then the panicking goroutine's stack.
                write!(f, "panic: {message}")?;
                if let Some(g) = goroutine {
                    write!(f, "\n\ngoroutine {g} [running]:")?;
                    for frame in stack {
                        write!(f, "\n  {frame}()")?;
                    }
                }
                if let Some(l) = location {
                    write!(f, "\n  at {l}")?;
                }
                Ok(())
            }
            FailureKind::Leak { goroutines } => {
                // goleak's layout.
                write!(f, "found unexpected goroutines:")?;
                for g in goroutines {
                    let top = g.stack.first().map_or("no model frame", String::as_str);
                    write!(
                        f,
                        "\n[Goroutine {} in state {}, with {top} on top of the stack:",
                        g.goroutine, g.waiting_on
                    )?;
                    write!(f, "\ngoroutine {} [{}]:", g.goroutine, g.waiting_on)?;
                    for frame in &g.stack {
                        write!(f, "\n  {frame}()")?;
                    }
                    write!(f, "\n]")?;
                }
                Ok(())
            }
            FailureKind::Deadlock { goroutines, message } => {
                // Go's words; the backend's own message only when it is all there is (its task
                // names are not the model's).
                write!(f, "fatal error: all goroutines are asleep - deadlock!")?;
                if goroutines.is_empty() {
                    write!(f, " ({message})")?;
                }
                for g in goroutines {
                    write!(f, "\n\ngoroutine {} [{}]:", g.goroutine, g.waiting_on)?;
                    for frame in &g.stack {
                        write!(f, "\n  {frame}()")?;
                    }
                }
                Ok(())
            }
            FailureKind::Divergence { message } => write!(f, "schedule diverged: {message}"),
        }
    }
}

/// A panic that a deferred `recover` caught (`harness::go::recover`), as TiDB's `RunWithRecover`
/// logs it: the run goes on, but a scenario can expect or forbid it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredPanic {
    /// The panic message.
    pub message: String,
    /// Where the panic was raised (`file:line`), when known.
    pub location: Option<String>,
    /// The recovering goroutine's Go number.
    pub goroutine: u64,
    /// Its model stack at the panic, innermost first.
    pub stack: Vec<String>,
}

impl fmt::Display for RecoveredPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recovered panic: {} (goroutine {}", self.message, self.goroutine)?;
        if let Some(top) = self.stack.first() {
            write!(f, ", in {top}")?;
        }
        write!(f, ")")
    }
}
