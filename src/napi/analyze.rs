//! `analyzeHeapSnapshot(path, { top })`: the analyzer (crates/analyzer) on a libuv worker thread,
//! answering the same JSON as `node-oom-heapdump analyze --json`.

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{Env, Result, Task};
use napi_derive::napi;
use oom_heapdump_analyzer::report::{analyze, Limits};

use super::context::to_prop;
use super::errors::{failure, invalid};
use crate::options;

/// Checks the arguments now (so a bad one rejects with `InvalidArg`), then analyzes off the JS
/// thread; resolves with the analysis as JSON text.
#[napi(ts_return_type = "Promise<string>")]
pub fn analyze_heap_snapshot(path: Unknown, top: Unknown) -> Result<AsyncTask<Analyze>> {
    let path = options::analysis_file(&to_prop(&path)?).map_err(invalid)?;
    let top = options::analysis_top(&to_prop(&top)?).map_err(invalid)?;
    Ok(AsyncTask::new(Analyze { path, top }))
}

pub struct Analyze {
    path: std::path::PathBuf,
    top: usize,
}

impl Task for Analyze {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let snapshot = oom_heapdump_analyzer::read_snapshot(&self.path).map_err(failure)?;
        let limits = Limits {
            top: self.top,
            ..Limits::default()
        };
        serde_json::to_string(&analyze(&snapshot, limits)).map_err(failure)
    }

    fn resolve(&mut self, _: Env, json: String) -> Result<String> {
        Ok(json)
    }
}
