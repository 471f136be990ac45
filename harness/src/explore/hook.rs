//! The panic hook: model panics inside an exploration are recorded as the execution's failure and
//! not printed (the outcome carries them); everything else goes to the previous hook.

use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use crate::runtime::{self, Abort};

/// Installs the hook once per process, on top of loom's and shuttle's.
///
/// loom (through `generator`) and shuttle each install a hook the first time they run; whichever
/// is outermost sees the other's internal panics (feasibility notes: 1,701 spurious lines). So the
/// harness first runs one trivial execution of each, then puts its own hook outermost, and that
/// hook drops `generator`'s internal coroutine-exit panics itself.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Panics outside an exploration go straight to the hook that was there before loom's and
        // shuttle's (theirs only matter inside their own executions, which this hook handles).
        let previous = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let mut config = shuttle::Config::new();
        config.failure_persistence = shuttle::FailurePersistence::None;
        config.silence_warnings = true;
        shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new(1), config).run(|| {});
        loom::model::Builder::new().check(|| {});
        drop(panic::take_hook());
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            if payload.is::<Abort>() || payload.is::<generator::Error>() {
                return;
            }
            if runtime::in_execution() {
                runtime::record_panic(message(info), info.location().map(|l| format!("{}:{}", l.file(), l.line())));
                return;
            }
            previous(info)
        }));
    });
}

/// The panic's message, when its payload is a string.
pub(crate) fn message(info: &PanicHookInfo<'_>) -> String {
    payload_message(info.payload())
}

/// A panic payload as text.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
