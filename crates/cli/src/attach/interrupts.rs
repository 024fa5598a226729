//! SIGINT, SIGTERM and SIGHUP during a capture (Ctrl-C, `timeout`, a pod or unit stopped). Their
//! default action ends this process at once, which would leave an inspector we opened open in the
//! target, our FIFO in its /tmp (where the target, once it opens the FIFO to write, would wait for
//! a reader for ever) and a partial output file. From the moment attaching starts they are caught
//! instead: the step in flight ends with [`Interrupted`], and the command unwinds as on any other
//! error (files removed, inspector left as found) and exits with status 2.

use std::future::Future;

use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};

#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}")]
pub struct Interrupted(pub &'static str);

pub struct Interrupts {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Interrupts {
    /// Catches the three signals from now on, for the rest of this process.
    pub fn catch(rt: &Runtime) -> std::io::Result<Interrupts> {
        let _in_runtime = rt.enter();
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }

    /// Gives the three signals their default action back (ending this process), for what comes
    /// after the capture (`--analyze`): no runtime reads them any more.
    pub fn release(self) {
        drop(self);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: signal(2) with the default disposition.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }

    /// Runs `work` on `rt` until it ends, or until one of the signals comes (one that came while
    /// nothing ran is seen at once).
    pub fn run<F: Future>(&mut self, rt: &Runtime, work: F) -> Result<F::Output, Interrupted> {
        rt.block_on(async {
            tokio::select! {
                biased;
                signal = self.next() => Err(Interrupted(signal)),
                out = work => Ok(out),
            }
        })
    }
}
