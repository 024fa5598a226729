//! The napi boundary of `node -r node-oom-heapdump/register` (and `--import`, `NODE_OPTIONS`): the
//! factory with its options read from `NODE_OOM_HEAPDUMP_*` environment variables, one per option
//! as declared in src/options/defs.rs, through the same checks as the JS options. A bad value is an
//! `InvalidArg` error naming the variable and the value; register.js decides what it does with it.

use napi::bindgen_prelude::Object;
use napi::{Env, Result};
use napi_derive::napi;

use super::context::Context;
use super::install::install_raw;
use crate::options::RawOptions;

/// Installs as `install` does, with the options that this process's environment variables
/// (`NODE_OOM_HEAPDUMP_PATH`, ...) set; unset ones take their defaults.
#[napi(ts_return_type = "Record<string, boolean | number | string | string[]>")]
pub fn install_from_environment<'env>(env: &'env Env, context: Context) -> Result<Object<'env>> {
    // A variable whose name or value is not Unicode cannot be one of ours (names) or is refused by
    // the checks (values, shown with U+FFFD).
    let vars = std::env::vars_os().filter_map(|(name, value)| {
        Some((
            name.into_string().ok()?,
            value.to_string_lossy().into_owned(),
        ))
    });
    install_raw(env, RawOptions::from_env(vars), context)
}
