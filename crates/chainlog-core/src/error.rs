//! The core's one error type. Each variant is one stable code of ts/errors.ts; the binding puts
//! the code in front of the message so the TypeScript side can rethrow a ChainlogError.
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// ERR_INVALID_ARGUMENT: the caller broke the contract; nothing was produced.
    InvalidArgument(String),
    /// ERR_CORRUPT: the bytes are not a well-formed record or payload.
    Corrupt(String),
    /// ERR_CHAIN_BROKEN: well-formed records whose hash chain does not link.
    ChainBroken(String),
    /// ERR_UNSUPPORTED: a codec or format the core cannot handle.
    Unsupported(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
            Error::Corrupt(_) => "ERR_CORRUPT",
            Error::ChainBroken(_) => "ERR_CHAIN_BROKEN",
            Error::Unsupported(_) => "ERR_UNSUPPORTED",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::InvalidArgument(m)
            | Error::Corrupt(m)
            | Error::ChainBroken(m)
            | Error::Unsupported(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(msg.into())
}

/// A JS number that must be a non-negative safe integer (offsets, timestamps, positions).
pub fn safe_integer(value: f64, what: &str) -> Result<u64> {
    if value.is_finite()
        && value >= 0.0
        && value.fract() == 0.0
        && value <= crate::format::MAX_SAFE as f64
    {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a non-negative safe integer, got {value}"
        )))
    }
}

/// A 32-byte hash given by the caller.
pub fn hash_arg(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", bytes.len())))
}
