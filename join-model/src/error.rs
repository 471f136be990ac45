//! Errors the executor returns from `Next`.

use std::fmt;

/// An error of the join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// `Exceed max spill round`: a partition still did not fit after the last allowed round.
    ExceedMaxSpillRound {
        /// The round limit.
        max: usize,
    },
    /// An error injected at a failpoint.
    Injected {
        /// The failpoint's name.
        failpoint: String,
    },
    /// A panic recovered by a `RunWithRecover` handler or a deferred `recover`, made an error by
    /// `util.GetRecoverError` (its message is the panic's).
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The SQL killer stopped the query (`exeerrors.ErrQueryInterrupted`, what TiDB's
    /// `checkSQLKiller` returns, and what its `killedDuring…` failpoints inject).
    QueryInterrupted,
    /// Reading or writing a spill file failed.
    Spill {
        /// What failed.
        message: String,
    },
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::ExceedMaxSpillRound { max } => write!(f, "Exceed max spill round. (max: {max})"),
            JoinError::Injected { failpoint } => write!(f, "injected error at failpoint {failpoint}"),
            JoinError::Panicked { message } => f.write_str(message),
            JoinError::QueryInterrupted => f.write_str("Query execution was interrupted"),
            JoinError::Spill { message } => write!(f, "spill: {message}"),
        }
    }
}

impl std::error::Error for JoinError {}

/// `util.GetRecoverError`: a recovered panic as the error a handler hands on.
impl From<harness::report::RecoveredPanic> for JoinError {
    fn from(p: harness::report::RecoveredPanic) -> JoinError {
        JoinError::Panicked { message: p.message }
    }
}
