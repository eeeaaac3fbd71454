//! Errors: the library's own, and Graph's error responses.

/// Failures of the emulator itself (not Graph answers).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read tenant file {path}: {source}")]
    ReadTenant {
        path: String,
        source: std::io::Error,
    },
    #[error("tenant file {path} is not valid JSON: {source}")]
    ParseTenant {
        path: String,
        source: serde_json::Error,
    },
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start runtime: {0}")]
    Runtime(std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}

pub type Result<T, E = EmulatorError> = std::result::Result<T, E>;

/// Graph's error answers live with Graph's other rules, shared with idsync's Entra snapshot.
pub use graph_rules::{ErrorExtra, GraphError};
