//! Any bytes into the snapshot reader: it must answer Ok or Err, never panic, hang or blow up its
//! memory; and the analysis (Summary, report with retainer paths, comparison, leaks) must not panic on
//! any snapshot the reader accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match oom_heapdump_analyzer::read_snapshot_from(data) {
        Ok(snapshot) => {
            let rows = oom_heapdump_analyzer::summary::summarize(&snapshot);
            assert!(rows.len() <= snapshot.node_count as usize);
            let report =
                oom_heapdump_analyzer::report::analyze(&snapshot, Default::default()).to_string();
            assert!(!report.is_empty());
            let same = oom_heapdump_analyzer::diff::compare(&snapshot, &snapshot);
            assert!(same.classes.is_empty(), "a snapshot differs from itself");
            let ids = oom_heapdump_analyzer::leaks::sorted_ids(&snapshot);
            oom_heapdump_analyzer::leaks::leaks_in(&[], &ids, &snapshot);
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error with no message"),
    }
});
