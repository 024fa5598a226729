//! What index.js tells the addon about the process, with each call that needs it: where default
//! files go, where the executables are, this process's inspector. Turned here into the napi-free
//! types below the boundary.

use napi::bindgen_prelude::{Array, JsValue, Utf16String};
use napi::{Error, Result, Unknown, ValueType};
use napi_derive::napi;

use crate::options::{Defaults, Prop};

/// Facts about the process, filled in by index.js (`context()`).
#[napi(object)]
pub struct Context {
    /// Folder for default file names: `--diagnostic-dir` when given, else the working directory.
    pub default_dir: String,
    /// True when `default_dir` came from `--diagnostic-dir`.
    pub default_dir_is_diagnostic_dir: bool,
    /// Absolute path of the helper executable.
    pub helper_path: String,
    /// Absolute path of the analyzer executable (for the summary after an OOM snapshot).
    pub analyzer_path: String,
    /// `process.version`, for reports.
    pub node_version: String,
    /// `inspector.url()`: this process's DevTools inspector, when it has one.
    pub inspector_url: Option<String>,
}

/// Where default file names go, from what index.js found out about the process.
pub fn defaults(context: &Context) -> Result<Defaults> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::from_reason(format!("no working directory: {e}")))?;
    Ok(Defaults {
        dir: cwd.join(&context.default_dir),
        dir_source: if context.default_dir_is_diagnostic_dir {
            "--diagnostic-dir"
        } else {
            "the working directory"
        },
        pid: std::process::id(),
        cwd,
    })
}

/// Longest array read into a [`Prop::List`] (more than any command line takes).
const MAX_LIST: u32 = 4096;

/// A JS value as the option checks see it. Strings are read as UTF-16, so that lone surrogates
/// reach the checks (`Prop::IllFormed`) instead of napi's U+FFFD.
pub fn to_prop(v: &Unknown) -> Result<Prop> {
    Ok(match v.get_type()? {
        ValueType::Undefined => Prop::Undefined,
        ValueType::Null => Prop::Null,
        ValueType::Boolean => Prop::Bool(unsafe { v.cast::<bool>() }?),
        ValueType::Number => Prop::Number(unsafe { v.cast::<f64>() }?),
        ValueType::String => Prop::from_utf16(unsafe { v.cast::<Utf16String>() }?.to_vec()),
        ValueType::Object if v.is_array()? => {
            let array = unsafe { v.cast::<Array>() }?;
            // An array too long for any command line is refused by its length alone.
            if array.len() > MAX_LIST {
                return Ok(Prop::Other("array (too long)"));
            }
            let mut items = Vec::with_capacity(array.len() as usize);
            for i in 0..array.len() {
                let item: Option<Unknown> = array.get(i)?;
                items.push(item.map_or(Ok(Prop::Undefined), |item| to_prop(&item))?);
            }
            Prop::List(items)
        }
        ValueType::Object => Prop::Other("object"),
        ValueType::Function => Prop::Other("function"),
        ValueType::Symbol => Prop::Other("symbol"),
        ValueType::BigInt => Prop::Other("bigint"),
        _ => Prop::Other("unknown"),
    })
}
