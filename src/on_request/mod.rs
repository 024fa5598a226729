//! Captures the app asks for: over this process's DevTools inspector (`devtools/`) or in-process
//! (`in_process.rs`), landed with the same atomic rules.

pub mod cpu_profile_file;
pub mod devtools;
pub mod in_process;
