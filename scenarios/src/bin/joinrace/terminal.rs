//! stderr while the program explores, replays and minimises. shuttle writes `test panicked in task
//! …` for every failing execution it sees, and replays and minimisation fail executions on
//! purpose: those lines would land on the progress bar and bury what matters. While a [`Capture`]
//! is active, stderr goes into a pipe: shuttle's lines are kept aside (shown when an outcome is
//! unexpected), any other line is passed through at once, so an error message, or the last words
//! of a process that aborts, is never lost; progress bars draw on the original stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget};

/// The process's stderr as it was at start, whatever a [`Capture`] does to descriptor 2 since:
/// for what must reach the user even when the process ends mid-capture (an interrupt's last line).
pub fn original_stderr() -> Option<&'static File> {
    static ORIGINAL: std::sync::OnceLock<Option<File>> = std::sync::OnceLock::new();
    ORIGINAL.get_or_init(|| std::io::stderr().as_fd().try_clone_to_owned().ok().map(File::from)).as_ref()
}

/// The lines shuttle prints on its own for a failing execution (the outcome carries the failure).
fn from_shuttle(line: &str) -> bool {
    const LINES: [&str; 5] = [
        "test panicked in task ",
        "Task failed, serializing schedule",
        "Test deadlocked, and SHUTTLE_CAPTURE_BACKTRACE is not set",
        "test panicked while dropping the tasks that were unfinished",
        "test panicked in a task that was still unwinding",
    ];
    LINES.iter().any(|l| line.starts_with(l))
}

/// The original stderr, and the progress bar drawn on it, if any.
struct Tty {
    file: Mutex<File>,
    bar: Mutex<Option<ProgressBar>>,
    is_terminal: bool,
}

impl Tty {
    /// Writes `line` on the original stderr, above the progress bar.
    fn print(&self, line: &str) {
        let write = || {
            let mut f = self.file.lock().expect("no writer panics");
            let _ = writeln!(f, "{line}");
        };
        match self.bar.lock().expect("no writer panics").as_ref() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// stderr redirected into a filter until [`Capture::finish`].
pub struct Capture {
    redirect: Option<gag::Redirect<OwnedFd>>,
    reader: Option<JoinHandle<Vec<String>>>,
    tty: Arc<Tty>,
}

impl Capture {
    /// Starts capturing. If stderr cannot be redirected (it already is), lines pass unfiltered.
    pub fn start() -> Capture {
        let stderr = std::io::stderr();
        let original = stderr.as_fd().try_clone_to_owned().map(File::from);
        let is_terminal = stderr.is_terminal();
        let (Ok(original), Ok((read, write))) = (original, rustix::pipe::pipe()) else {
            return Capture::passthrough();
        };
        let tty = Arc::new(Tty { file: Mutex::new(original), bar: Mutex::new(None), is_terminal });
        let Ok(redirect) = gag::Redirect::stderr(write) else { return Capture::passthrough() };
        let reader = {
            let tty = tty.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for line in BufReader::new(File::from(read)).lines() {
                    let Ok(line) = line else { break };
                    if from_shuttle(&line) {
                        kept.push(line);
                    } else {
                        tty.print(&line);
                    }
                }
                kept
            })
        };
        Capture { redirect: Some(redirect), reader: Some(reader), tty }
    }

    fn passthrough() -> Capture {
        let stderr = std::io::stderr();
        let file = stderr.as_fd().try_clone_to_owned().map(File::from).expect("stderr can be duplicated");
        let tty = Tty { file: Mutex::new(file), bar: Mutex::new(None), is_terminal: stderr.is_terminal() };
        Capture { redirect: None, reader: None, tty: Arc::new(tty) }
    }

    /// A progress bar of `total` steps (a spinner when unknown), drawn on the original stderr when
    /// it is a terminal and hidden otherwise, so logs stay clean.
    pub fn progress_bar(&self, total: Option<u64>) -> ProgressBar {
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let original = || self.tty.file.lock().expect("no writer panics").try_clone().ok();
        let target = match (self.tty.is_terminal, original(), original()) {
            (true, Some(read), Some(write)) => {
                ProgressDrawTarget::term(console::Term::read_write_pair(read, write), 10)
            }
            _ => ProgressDrawTarget::hidden(),
        };
        bar.set_draw_target(target);
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.tty.bar.lock().expect("no writer panics") = Some(bar.clone());
        bar
    }

    /// Stops capturing and returns shuttle's lines, kept aside.
    pub fn finish(mut self) -> Vec<String> {
        if let Some(bar) = self.tty.bar.lock().expect("no writer panics").take() {
            bar.finish_and_clear();
        }
        // Dropping the redirect restores stderr and closes the pipe's last writer: the reader
        // sees the end of its input once every line written so far is read.
        drop(self.redirect.take());
        self.reader.take().and_then(|r| r.join().ok()).unwrap_or_default()
    }
}
