//! Our typed errors as JS errors, in one place: bad arguments and options are `InvalidArg` (the
//! message names the option and the value), everything else `GenericFailure` with the error's
//! own message, which says what failed and where.

use napi::{Error, Status};

use crate::options::OptionError;

/// A bad option or argument; `?` on an [`OptionError`] does the same.
pub fn invalid(e: OptionError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

impl From<OptionError> for Error {
    fn from(e: OptionError) -> Error {
        invalid(e)
    }
}

/// Any other failure.
pub fn failure(e: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}
