//! The core's one error type. Each variant is one stable code of ts/errors.ts; the binding hands
//! the code, the message and where (`Detail`) to JS as an error's fields.
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// ERR_INVALID_ARGUMENT: the caller broke the contract; nothing was produced.
    InvalidArgument(Detail),
    /// ERR_CORRUPT: the bytes are not a well-formed record or payload.
    Corrupt(Detail),
    /// ERR_CHAIN_BROKEN: well-formed records whose hash chain does not link.
    ChainBroken(Detail),
    /// ERR_UNSUPPORTED: a codec or format the core cannot handle.
    Unsupported(Detail),
}

/// What an error says, and where in the segment it is when the core knows: the binding hands
/// `position` and `offset` to JS as fields of the error, not as text to parse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Detail {
    pub message: String,
    /// Byte position of the record within its segment file.
    pub position: Option<u64>,
    /// The record's offset, when its header was read.
    pub offset: Option<u64>,
}

impl From<String> for Detail {
    fn from(message: String) -> Self {
        Detail {
            message,
            ..Detail::default()
        }
    }
}

impl From<&str> for Detail {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
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

    pub fn detail(&self) -> &Detail {
        match self {
            Error::InvalidArgument(d)
            | Error::Corrupt(d)
            | Error::ChainBroken(d)
            | Error::Unsupported(d) => d,
        }
    }

    pub fn message(&self) -> &str {
        &self.detail().message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into().into())
}

pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(msg.into().into())
}

/// ERR_CORRUPT about the record at `position` (with its `offset` when known): the message says
/// where, and so do the fields.
pub(crate) fn corrupt_at(position: u64, offset: Option<u64>, msg: impl Into<String>) -> Error {
    Error::Corrupt(Detail {
        message: msg.into(),
        position: Some(position),
        offset,
    })
}
