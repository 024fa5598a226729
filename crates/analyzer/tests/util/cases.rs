//! A runner for many generated inputs (tests/mutations.rs): each goes through the reader, and
//! what the reader accepts through the analysis, on a worker thread under a watchdog. An input must
//! give Ok or an error with a message, never a panic or a hang: a case that takes longer than
//! `CASE_LIMIT` fails the test naming that input instead of blocking forever; panics are collected,
//! and the test fails after all cases with the shortest input of each distinct panic (also written
//! under the target folder, to copy into `fuzz/regressions/`).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use oom_heapdump_analyzer::diff::compare;
use oom_heapdump_analyzer::leaks::{leaks_in, sorted_ids};
use oom_heapdump_analyzer::report::{analyze, Limits};
use oom_heapdump_analyzer::summary::summarize;

use super::read;

/// Longest a single case may take (debug build, slow machine) before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(30);

/// Set while a case runs: the panic hook then records the panic instead of printing it.
static IN_CASE: AtomicBool = AtomicBool::new(false);
/// The first panic of the running case (message and place), from whichever thread it happened in
/// (the analysis runs parts of its work on threads of its own).
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);
/// One `run_cases` at a time: the two statics above belong to it.
static RUNNING: Mutex<()> = Mutex::new(());

thread_local! {
    /// Set on the test threads themselves: their panics (a test failing) are always printed.
    static TEST_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook (once) and marks the calling test thread.
pub fn install_panic_hook() {
    TEST_THREAD.with(|t| t.set(true));
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CASE.load(Ordering::SeqCst) || TEST_THREAD.with(Cell::get) {
                return default(info);
            }
            let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let place = info
                    .location()
                    .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
                *first = Some(format!("{message}{place}"));
            }
        }));
    });
}

/// Runs the reader, and the analysis on what the reader accepts. Err: what went wrong (a panic,
/// with its first message and place, or an empty error message). Ok: whether the reader accepted.
fn check(input: &[u8]) -> Result<bool, String> {
    *FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = None;
    IN_CASE.store(true, Ordering::SeqCst);
    let first_panic = || {
        FIRST_PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    };
    let result = match catch_unwind(|| read(input)) {
        Err(_) => Err(format!("the reader panicked: {}", first_panic())),
        Ok(Err(e)) if e.to_string().is_empty() => Err(format!("an empty error message: {e:?}")),
        Ok(Err(_)) => Ok(false),
        Ok(Ok(s)) => match catch_unwind(AssertUnwindSafe(|| {
            summarize(&s);
            // The whole report (largest objects, retainer paths) and a comparison with itself.
            analyze(&s, Limits::default()).to_string();
            assert!(compare(&s, &s).classes.is_empty());
            // Three snapshots: none of its objects new, then all of them.
            let ids = sorted_ids(&s);
            assert_eq!(leaks_in(&ids, &ids, &s).objects, 0);
            leaks_in(&[], &ids, &s);
        })) {
            Err(_) => Err(format!(
                "the analysis panicked on a snapshot the reader accepted: {}",
                first_panic()
            )),
            Ok(_) => Ok(true),
        },
    };
    IN_CASE.store(false, Ordering::SeqCst);
    result
}

/// The input for a failure message: escaped, and cut if long.
fn show(input: &[u8]) -> String {
    // Only ASCII: any cut is at a character boundary.
    let text: String = input.escape_ascii().to_string();
    if text.len() > 2000 {
        format!("{}... ({} bytes in all)", &text[..2000], input.len())
    } else {
        text
    }
}

/// Keeps a failing input where the developer can copy it into fuzz/regressions/.
fn keep(label: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analyzer-mutations");
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    let path = dir.join(format!("{name}.heapsnapshot"));
    std::fs::write(&path, input).unwrap();
    path
}

pub struct Case {
    pub label: String,
    pub input: Vec<u8>,
}

/// What the worker tells the watchdog.
enum Msg {
    /// Case `i` starts now.
    Start(usize),
    /// All cases ran: how many the reader accepted, and the failures (case, what went wrong).
    Done {
        accepted: usize,
        failures: Vec<(usize, String)>,
    },
}

/// Runs every case on a worker thread under a watchdog; fails naming the input on a hang (at
/// once) or, after all cases, on panics and empty error messages (the shortest input of each
/// distinct failure). Returns how many inputs the reader accepted.
pub fn run_cases(cases: Vec<Case>) -> usize {
    install_panic_hook();
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let cases = Arc::new(cases);
    let (tx, rx) = mpsc::channel::<Msg>();
    let worker_cases = Arc::clone(&cases);
    std::thread::Builder::new()
        .name("mutations".into())
        .spawn(move || {
            let mut accepted = 0;
            let mut failures = Vec::new();
            for (i, case) in worker_cases.iter().enumerate() {
                if tx.send(Msg::Start(i)).is_err() {
                    return;
                }
                match check(&case.input) {
                    Ok(ok) => accepted += usize::from(ok),
                    Err(failure) => failures.push((i, failure)),
                }
            }
            let _ = tx.send(Msg::Done { accepted, failures });
        })
        .unwrap();
    let started = Instant::now();
    let mut current = None;
    loop {
        match rx.recv_timeout(CASE_LIMIT) {
            Ok(Msg::Start(i)) => current = Some(i),
            Ok(Msg::Done { accepted, failures }) => {
                eprintln!(
                    "{} cases in {:.1} s, {accepted} accepted by the reader",
                    cases.len(),
                    started.elapsed().as_secs_f64()
                );
                if failures.is_empty() {
                    return accepted;
                }
                // The shortest input of each distinct failure.
                let mut shortest: BTreeMap<&str, usize> = BTreeMap::new();
                for (i, failure) in &failures {
                    let best = shortest.entry(failure).or_insert(*i);
                    if cases[*i].input.len() < cases[*best].input.len() {
                        *best = *i;
                    }
                }
                let mut report = format!(
                    "{} of {} cases failed, {} distinct failures:\n",
                    failures.len(),
                    cases.len(),
                    shortest.len()
                );
                for (failure, &i) in &shortest {
                    let case = &cases[i];
                    let file = keep(&case.label, &case.input);
                    report += &format!(
                        "\n- {failure}\n  case {i} ({}), {} bytes, kept in {}\n  input: {}\n",
                        case.label,
                        case.input.len(),
                        file.display(),
                        show(&case.input)
                    );
                }
                panic!("{report}");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(i) = current else {
                    panic!("the worker did not start within {CASE_LIMIT:?}");
                };
                let case = &cases[i];
                let file = keep(&case.label, &case.input);
                panic!(
                    "case {i} ({}) still runs after {CASE_LIMIT:?}: a hang\ninput kept in {}\ninput: {}",
                    case.label,
                    file.display(),
                    show(&case.input)
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the worker thread died (case {current:?})")
            }
        }
    }
}
