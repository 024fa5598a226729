//! The one thread on which DevTools captures, the load-time inspector check and the timers of
//! in-process CPU profiles run: a current-thread tokio runtime driven by a thread of its own,
//! started on first need (never at load) with fallible calls. A process that may not start one more
//! thread (a tight `pids.max`, `ulimit -u`) gets a [`RuntimeError`], never a panic or an abort; the
//! next call tries again.

use std::future::Future;
use std::io;
use std::sync::Mutex;
use std::thread;

use tokio::runtime::{Builder, Handle};

static RUNTIME: Mutex<Option<Handle>> = Mutex::new(None);

#[derive(Debug, thiserror::Error)]
#[error("cannot start a thread for {what}: {source} (the process may be at its pids.max or thread limit); retry later, or capture in-process")]
pub struct RuntimeError {
    pub what: &'static str,
    pub source: io::Error,
}

/// Runs `fut` on the runtime's thread, starting it if it is not running yet. `what` names the work
/// for the error.
pub fn spawn(
    what: &'static str,
    fut: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    handle(what)?.spawn(fut);
    Ok(())
}

/// The runtime, started if it is not running yet: get it before preparing work that must not be
/// dropped unstarted (a promise to settle).
pub fn handle(what: &'static str) -> Result<Handle, RuntimeError> {
    start().map_err(|source| RuntimeError { what, source })
}

fn start() -> io::Result<Handle> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = &*slot {
        return Ok(handle.clone());
    }
    // A current-thread runtime starts no thread of its own; ours is the only one, and it is
    // started with a call that reports failure instead of panicking.
    let runtime = Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name("ohd-devtools".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    *slot = Some(handle.clone());
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_spawned_work_on_one_lazily_started_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..3 {
            let tx = tx.clone();
            spawn("a test", async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                tx.send((i, thread::current().name().map(str::to_owned)))
                    .unwrap();
            })
            .unwrap();
        }
        let mut got: Vec<_> = (0..3).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        for (i, (n, name)) in got.into_iter().enumerate() {
            assert_eq!((n, name.as_deref()), (i, Some("ohd-devtools")));
        }
    }
}
