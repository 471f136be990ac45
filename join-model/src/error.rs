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
    /// A panic in a worker, recovered as TiDB's `RunWithRecover` handlers do.
    Panicked {
        /// The panic message.
        message: String,
    },
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
            JoinError::Panicked { message } => write!(f, "worker panicked: {message}"),
            JoinError::Spill { message } => write!(f, "spill: {message}"),
        }
    }
}

impl std::error::Error for JoinError {}
