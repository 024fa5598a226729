//! Attaching to a running Node.js process by pid, which needs nothing installed in it:
//!
//! 1. its listening sockets from `/proc` (`proc.rs`); one that answers as a DevTools inspector on
//!    loopback is used as it is;
//! 2. else, if it is a Node.js process whose SIGUSR1 handler is in place, SIGUSR1 (Node then opens
//!    its inspector on its `--inspect-port`, 9229 by default), and we wait for the new listener;
//! 3. a websocket session with its inspector target, checked to be that process (`process.pid`);
//! 4. afterwards the inspector is left as found: closed again if we opened it, also when a signal
//!    interrupted the wait for it (the inspector SIGUSR1 asked for opens all the same, later).
//!
//! When the target is in another network namespace (a container), the socket work runs on a
//! thread that entered that namespace (`netns.rs`). Nothing here writes a file: a capture starts
//! only once attached, so that every error here leaves nothing behind.

pub mod fifo;
mod interrupts;
mod netns;
pub mod proc;

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

use oom_heapdump_devtools::client::ANSWER_SILENCE;
use oom_heapdump_devtools::{list_targets, DevtoolsError, Endpoint, Limits, Session};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::messages::note;
use interrupts::{Interrupted, Interrupts};
use proc::Listener;

/// How long `proc` polling waits between two looks (a look reads a few small /proc files; the wait
/// for the inspector to open, and to close again, is part of every capture's time).
const POLL: Duration = Duration::from_millis(10);
/// How long the inspector we opened may take to close again.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Evaluated in the target to close an inspector we opened, once our session has gone (Node's
/// `inspector.close()` waits for its sessions): `process.getBuiltinModule` (Node 20.16 and later)
/// or the main module's `require`, else the old `process._debugEnd`.
const CLOSE_INSPECTOR: &str = "(() => { const m = typeof process.getBuiltinModule === 'function' ? \
process.getBuiltinModule('node:inspector') : process.mainModule && process.mainModule.require('inspector'); \
setTimeout(() => (m ? m.close() : process._debugEnd()), 10); return true })()";

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    #[error("not permitted to attach to pid {pid} ({why}); run as its user or as root")]
    NotPermitted { pid: u32, why: String },
    #[error("pid {pid} ({exe}) is not a Node.js process, and it has no DevTools inspector open")]
    NotNode { pid: u32, exe: String },
    #[error("pid {pid} does not open its inspector on SIGUSR1 (started with --disable-sigusr1, or SIGUSR1 is ignored); start it with --inspect, or without --disable-sigusr1")]
    SigusrDisabled { pid: u32 },
    #[error("pid {pid} did not open an inspector within {} after SIGUSR1 (its SIGUSR1 handler was replaced, e.g. by process.on('SIGUSR1'), or its event loop is blocked: then the inspector opens once it runs again, and stays open, on loopback, until the process exits); its inspector port is {port}", crate::units::show_duration(*waited))]
    SigusrIgnored {
        pid: u32,
        port: u16,
        waited: Duration,
    },
    #[error("pid {pid} could not open its inspector: port {port} (its --inspect-port) is taken by {by}; start it with --inspect-port=0 or another free port")]
    PortTaken { pid: u32, port: u16, by: String },
    #[error("pid {pid}'s inspector on {at} lists no Node.js target")]
    NoTarget { pid: u32, at: Endpoint },
    #[error("the inspector on {at} is not pid {pid}'s: it says its pid is {said}")]
    NotThatProcess {
        pid: u32,
        at: Endpoint,
        said: String,
    },
    #[error("pid {pid} listens on {ports} but none is a DevTools inspector reachable on loopback")]
    NoInspector { pid: u32, ports: String },
    #[error("cannot start the capture's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}: nothing was written")]
    Interrupted(#[from] Interrupted),
    #[error(transparent)]
    Devtools(#[from] DevtoolsError),
}

/// What attaching needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The longest wait for the inspector that SIGUSR1 opens.
    pub sigusr1_wait: Duration,
}

/// An open session with a target's inspector.
pub struct Attached {
    pub pid: u32,
    pub endpoint: Endpoint,
    pub session: Session,
    /// The inspector was closed when we came, and we opened it with SIGUSR1.
    pub opened: bool,
    listener: Listener,
}

/// The current-thread runtime a capture's protocol runs on, and the signals that interrupt it
/// (`interrupts.rs`).
pub struct Runner {
    pub rt: Runtime,
    interrupts: Interrupts,
}

impl Runner {
    /// Runs `work` to its end, or until SIGINT, SIGTERM or SIGHUP comes.
    pub fn run<F: Future>(&mut self, work: F) -> Result<F::Output, AttachError> {
        Ok(self.interrupts.run(&self.rt, work)?)
    }
}

/// Attaches to `pid`, runs `work` with the session (on a thread in the target's network
/// namespace, with a runner to run the protocol on), then leaves the inspector as found, also
/// when a signal interrupted `work`. `work`'s result is returned; a failure to close the inspector
/// again is reported on stderr but does not fail a capture that landed.
pub fn with_session<T: Send>(
    pid: u32,
    limits: Limits,
    options: Options,
    work: impl FnOnce(&mut Runner, &mut Attached) -> Result<T, crate::Failure> + Send,
) -> Result<T, crate::Failure> {
    check_exists(pid)?;
    netns::run_in_namespace_of(pid, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(AttachError::Runtime)?;
        let interrupts = Interrupts::catch(&rt).map_err(AttachError::Runtime)?;
        let mut runner = Runner { rt, interrupts };
        let signalled = RefCell::new(None);
        let attaching = attach(pid, limits, options, &signalled);
        let mut attached = match runner.interrupts.run(&runner.rt, attaching) {
            Ok(attached) => attached?,
            Err(interrupted) => {
                if let Some(sent) = signalled.take() {
                    close_after_interrupt(&mut runner, pid, limits, options, sent);
                }
                return Err(AttachError::from(interrupted).into());
            }
        };
        let result = work(&mut runner, &mut attached);
        runner.rt.block_on(detach(attached));
        runner.interrupts.release();
        result
    })?
}

fn check_exists(pid: u32) -> Result<(), AttachError> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(AttachError::NoSuchProcess(pid));
    }
    // SAFETY: signal 0 only checks that the process exists and that we may signal it.
    if unsafe { libc::kill(pid as i32, 0) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ESRCH) => AttachError::NoSuchProcess(pid),
            _ => AttachError::NotPermitted {
                pid,
                why: format!("signalling it: {e}"),
            },
        });
    }
    Ok(())
}

/// A `/proc` read that failed: the process is gone, or we may not look.
pub fn proc_error(pid: u32, what: &str, e: std::io::Error) -> AttachError {
    match e.kind() {
        std::io::ErrorKind::NotFound => AttachError::NoSuchProcess(pid),
        _ => AttachError::NotPermitted {
            pid,
            why: format!("reading its {what}: {e}"),
        },
    }
}

/// Where loopback reaches a listener ([`Endpoint::reaching`]).
fn endpoint(l: &Listener) -> Option<Endpoint> {
    Endpoint::reaching(l.addr, l.port)
}

/// The first of `listeners` that answers as an inspector, with its target id.
async fn find_inspector(listeners: &[Listener]) -> Option<(Listener, Endpoint, String)> {
    for l in listeners {
        let Some(at) = endpoint(l) else { continue };
        if let Ok(targets) = list_targets(at).await {
            if let Some(t) = targets.iter().find(|t| t.kind == "node") {
                return Some((*l, at, t.id.clone()));
            }
        }
    }
    None
}

/// SIGUSR1 went to the target: the listeners it had before, and when.
struct Signalled {
    before: Vec<Listener>,
    at: Instant,
}

/// A signal interrupted attaching after SIGUSR1 went: the inspector it asked for opens all the same
/// (later, when the target's event loop was busy), so we wait for it for what is left of the wait
/// the options allow, and close it again. A second signal gives that up.
fn close_after_interrupt(
    runner: &mut Runner,
    pid: u32,
    limits: Limits,
    options: Options,
    sent: Signalled,
) {
    // (At least CLOSE_WAIT: the interrupt may have come as it opened.)
    let until = (sent.at + options.sigusr1_wait).max(Instant::now() + CLOSE_WAIT);
    let closing = async {
        let found = new_inspector(pid, &sent.before, until).await?;
        match found {
            Some(found) => {
                detach(connect(pid, limits, found, true).await?).await;
                Ok(true)
            }
            None => Ok(false),
        }
    };
    let why = match runner.interrupts.run(&runner.rt, closing) {
        Ok(Ok(true)) => return,
        // It never opened within the wait: if it does later, it stays open.
        Ok(Ok(false)) => format!(
            "pid {pid} did not open the inspector SIGUSR1 asked for within {}; if it opens later, it stays open",
            crate::units::show_duration(until - sent.at)
        ),
        Ok(Err(AttachError::NoSuchProcess(_))) => return,
        Ok(Err(e)) => format!("could not close the inspector pid {pid} opened on SIGUSR1 ({e}); it stays open"),
        Err(again) => format!("{again} again: the inspector pid {pid} opens on SIGUSR1 stays open"),
    };
    note(why);
}

async fn attach(
    pid: u32,
    limits: Limits,
    options: Options,
    signalled: &RefCell<Option<Signalled>>,
) -> Result<Attached, AttachError> {
    let before = proc::listeners(pid).map_err(|e| proc_error(pid, "sockets", e))?;
    let args: Vec<String> = proc::node_options(pid)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .chain(proc::cmdline(pid).unwrap_or_default().into_iter().skip(1))
        .collect();
    let port = proc::inspect_port(args.iter().map(String::as_str));
    // The configured port first: that is where an inspector opened by --inspect or SIGUSR1 is.
    let mut ordered = before.clone();
    ordered.sort_by_key(|l| l.port != port);
    let (found, opened) = match find_inspector(&ordered).await {
        Some(found) => (found, false),
        None => (
            open_inspector(pid, port, before, options, signalled).await?,
            true,
        ),
    };
    connect(pid, limits, found, opened).await
}

/// A session with the inspector `found`, checked to be pid's (`opened`: we opened it).
async fn connect(
    pid: u32,
    limits: Limits,
    found: (Listener, Endpoint, String),
    opened: bool,
) -> Result<Attached, AttachError> {
    let (listener, at, id) = found;
    let session = match Session::open(at, &id, limits).await {
        Ok(s) => s,
        Err(e) => {
            if opened {
                note(format!(
                    "could not connect to the inspector pid {pid} opened on {at}; it stays open"
                ));
            }
            return Err(e.into());
        }
    };
    let mut attached = Attached {
        pid,
        endpoint: at,
        session,
        opened,
        listener,
    };
    match verify(&mut attached).await {
        Ok(()) => Ok(attached),
        Err(e) => {
            detach(attached).await;
            Err(e)
        }
    }
}

/// SIGUSR1 to a Node.js process whose handler is in place, then the wait for its new listener.
async fn open_inspector(
    pid: u32,
    port: u16,
    before: Vec<Listener>,
    options: Options,
    signalled: &RefCell<Option<Signalled>>,
) -> Result<(Listener, Endpoint, String), AttachError> {
    // Held from before the checks below to the signal: if pid's process ends and the number is
    // taken by another meanwhile, the signal goes nowhere instead of to that one (whom SIGUSR1,
    // without Node's handler, would kill). None where the kernel has no pidfd (before 5.3).
    let pidfd = proc::pidfd(pid).map_err(|e| proc_error(pid, "pidfd", e))?;
    let exe = proc::exe(pid).map_err(|e| proc_error(pid, "executable", e))?;
    let status = proc::status(pid).map_err(|e| proc_error(pid, "status", e))?;
    let argv0 = proc::cmdline(pid).unwrap_or_default().into_iter().next();
    let named_node = |name: &str| {
        let base = name.rsplit('/').next().unwrap_or(name);
        base.to_ascii_lowercase().contains("node")
    };
    let exe_name = exe.to_string_lossy().into_owned();
    if !named_node(&exe_name) && !argv0.as_deref().is_some_and(named_node) {
        if before.is_empty() {
            return Err(AttachError::NotNode {
                pid,
                exe: oom_heapdump_devtools::shown(&exe_name, 256),
            });
        }
        let ports: Vec<String> = before.iter().map(|l| l.port.to_string()).collect();
        return Err(AttachError::NoInspector {
            pid,
            ports: ports.join(", "),
        });
    }
    // Without Node's handler, SIGUSR1 would end the process (its default action).
    if !proc::has_signal(status.caught, libc::SIGUSR1) {
        return Err(AttachError::SigusrDisabled { pid });
    }
    proc::signal(pid, pidfd.as_ref(), libc::SIGUSR1).map_err(|e| proc_error(pid, "signal", e))?;
    let at = Instant::now();
    *signalled.borrow_mut() = Some(Signalled {
        before: before.clone(),
        at,
    });
    if let Some(found) = new_inspector(pid, &before, at + options.sigusr1_wait).await? {
        return Ok(found);
    }
    // Why not: is its port held by another process?
    if port != 0 {
        let mine = proc::socket_inodes(pid).unwrap_or_default();
        let taken = proc::namespace_listeners(pid)
            .unwrap_or_default()
            .into_iter()
            .find(|l| l.port == port && !mine.contains(&l.inode));
        if let Some(l) = taken {
            let by = match proc::socket_owner(l.inode, pid) {
                Some((owner, name)) => format!("pid {owner} ({name})"),
                None => "another process".to_owned(),
            };
            return Err(AttachError::PortTaken { pid, port, by });
        }
    }
    Err(AttachError::SigusrIgnored {
        pid,
        port,
        waited: options.sigusr1_wait,
    })
}

/// The inspector that opened among pid's listeners since `before`, looked for until `until`.
async fn new_inspector(
    pid: u32,
    before: &[Listener],
    until: Instant,
) -> Result<Option<(Listener, Endpoint, String)>, AttachError> {
    while Instant::now() < until {
        tokio::time::sleep(POLL).await;
        let now = proc::listeners(pid).map_err(|e| proc_error(pid, "sockets", e))?;
        let new: Vec<Listener> = now.into_iter().filter(|l| !before.contains(l)).collect();
        if let Some(found) = find_inspector(&new).await {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `Runtime.evaluate` of `expression`; the value as JSON text.
pub async fn evaluate(session: &mut Session, expression: &str) -> Result<String, DevtoolsError> {
    let mut ignore = |_: &str, _: &str| Ok(());
    let answer = session
        .call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
            ANSWER_SILENCE,
            &mut ignore,
            &|| 0,
        )
        .await?;
    // Typed, the value left as its text: a peer's answer of any size (up to the session's message
    // limit) is not turned into a tree of values many times larger.
    #[derive(serde::Deserialize)]
    struct Evaluated<'a> {
        #[serde(borrow)]
        result: Value<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Value<'a> {
        #[serde(borrow, default)]
        value: Option<&'a serde_json::value::RawValue>,
    }
    let evaluated: Evaluated = serde_json::from_str(answer.get())
        .map_err(|e| DevtoolsError::BadMessage(format!("Runtime.evaluate: {e}")))?;
    Ok(evaluated.result.value.map_or_else(
        || "null".to_owned(),
        |v| oom_heapdump_devtools::shown(v.get(), 64),
    ))
}

/// Checks that the inspector's JavaScript says it is the pid we meant (its pid in its own pid
/// namespace).
async fn verify(attached: &mut Attached) -> Result<(), AttachError> {
    let pid = attached.pid;
    let expected = proc::status(pid).ok().and_then(|s| s.ns_pid).unwrap_or(pid);
    let said = evaluate(&mut attached.session, "process.pid").await?;
    if said != expected.to_string() {
        return Err(AttachError::NotThatProcess {
            pid,
            at: attached.endpoint,
            said,
        });
    }
    Ok(())
}

/// Ends the session; closes the inspector again if we opened it, and waits for its listener to go.
async fn detach(attached: Attached) {
    let Attached {
        pid,
        mut session,
        opened,
        listener,
        endpoint,
    } = attached;
    if !opened {
        session.close().await;
        return;
    }
    let asked = evaluate(&mut session, CLOSE_INSPECTOR).await;
    session.close().await;
    if let Err(e) = asked {
        note(format!(
            "could not close the inspector of pid {pid} on {endpoint} again ({e}); it stays open"
        ));
        return;
    }
    let started = Instant::now();
    while started.elapsed() < CLOSE_WAIT {
        match proc::listeners(pid) {
            Ok(now) if now.contains(&listener) => tokio::time::sleep(POLL).await,
            _ => return,
        }
    }
    note(format!(
        "the inspector of pid {pid} on {endpoint} is still open {} after we asked it to close",
        crate::units::show_duration(CLOSE_WAIT)
    ));
}

impl From<AttachError> for crate::Failure {
    fn from(e: AttachError) -> Self {
        crate::Failure::new(e)
    }
}
