//! The one error type of every model parser.

use thiserror::Error;

/// Why a model file could not be parsed. Each variant carries a short human-readable reason
/// (what was wrong and where), never file contents.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    /// The input ended before a structure it announced.
    #[error("truncated: {0}")]
    Truncated(String),
    /// The input contradicts its own format (bad offsets, wrong wire types, bad JSON...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A size or count read from the input exceeds banwatch's bounds.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A valid file of a variant banwatch does not read (or not yet).
    #[error("unsupported: {0}")]
    Unsupported(String),
}
