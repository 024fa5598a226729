//! `loadShim(path)`: binds the C++ shim built for the running Node's ABI (`oom_shim-abi<N>.so`).
//! The JS loader calls it right after loading the addon, before anything reaches V8.

use napi::Result;
use napi_derive::napi;

use super::errors::failure;
use crate::shim;

/// Loads the shim at `path` (an absolute path); throws naming the file and what is missing.
#[napi]
pub fn load_shim(path: String) -> Result<()> {
    shim::load(std::path::Path::new(&path)).map_err(failure)
}
