//! What `/proc` says about a target process: its listening TCP sockets (the LISTEN entries of
//! `/proc/<pid>/net/tcp{,6}`, seen from its own network namespace, whose inode is among its open
//! file descriptors), its signal dispositions, its pid inside its own pid namespace, and the
//! inspector port its command line asks for. Every read is of a small file, with a size bound.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Largest `/proc` file read whole (a `net/tcp` of tens of thousands of sockets).
const MAX_PROC_BYTES: u64 = 64 << 20;

/// A listening TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u64,
}

pub fn read_bounded(path: &str) -> io::Result<String> {
    let mut text = String::new();
    fs::File::open(path)?
        .take(MAX_PROC_BYTES)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The inodes of the sockets among `pid`'s open file descriptors.
pub fn socket_inodes(pid: u32) -> io::Result<HashSet<u64>> {
    let mut inodes = HashSet::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        // A descriptor closed since the listing is no longer there: skip it.
        let Ok(link) = fs::read_link(entry?.path()) else {
            continue;
        };
        if let Some(inode) = link
            .to_str()
            .and_then(|l| l.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|l| l.parse().ok())
        {
            inodes.insert(inode);
        }
    }
    Ok(inodes)
}

/// Every listening TCP socket of `pid`'s network namespace.
pub fn namespace_listeners(pid: u32) -> io::Result<Vec<Listener>> {
    let mut all = parse_tcp(&read_bounded(&format!("/proc/{pid}/net/tcp"))?);
    // A kernel without IPv6 has no tcp6.
    if let Ok(v6) = read_bounded(&format!("/proc/{pid}/net/tcp6")) {
        all.extend(parse_tcp(&v6));
    }
    Ok(all)
}

/// The listening TCP sockets that `pid` itself holds open.
pub fn listeners(pid: u32) -> io::Result<Vec<Listener>> {
    let inodes = socket_inodes(pid)?;
    Ok(namespace_listeners(pid)?
        .into_iter()
        .filter(|l| inodes.contains(&l.inode))
        .collect())
}

/// The LISTEN entries (state 0A) of a `/proc/net/tcp` or `tcp6` text.
pub fn parse_tcp(text: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                return None;
            }
            let (addr, port) = f[1].split_once(':')?;
            Some(Listener {
                addr: parse_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// An address as the kernel prints it: 32-bit words in hex, each in the host's byte order.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
            .ok()
            .map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// `/proc/<pid>/status`, the fields we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    /// Signals with a handler (bit n-1 for signal n).
    pub caught: u64,
    pub ignored: u64,
    /// The pid as the process itself sees it (the last `NSpid` entry).
    pub ns_pid: Option<u32>,
    /// Effective user and group (the second `Uid`/`Gid` entries), as this process's namespace sees them.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

pub fn status(pid: u32) -> io::Result<Status> {
    Ok(parse_status(&read_bounded(&format!("/proc/{pid}/status"))?))
}

pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => s.name = value.to_owned(),
            "SigCgt" => s.caught = u64::from_str_radix(value, 16).unwrap_or(0),
            "SigIgn" => s.ignored = u64::from_str_radix(value, 16).unwrap_or(0),
            "NSpid" => s.ns_pid = value.split_whitespace().last().and_then(|p| p.parse().ok()),
            "Uid" => s.uid = value.split_whitespace().nth(1).and_then(|p| p.parse().ok()),
            "Gid" => s.gid = value.split_whitespace().nth(1).and_then(|p| p.parse().ok()),
            _ => {}
        }
    }
    s
}

pub fn has_signal(mask: u64, signal: i32) -> bool {
    mask & (1 << (signal - 1)) != 0
}

/// The process's executable.
pub fn exe(pid: u32) -> io::Result<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe"))
}

/// The process's arguments (argv).
pub fn cmdline(pid: u32) -> io::Result<Vec<String>> {
    Ok(read_bounded(&format!("/proc/{pid}/cmdline"))?
        .split('\0')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `NODE_OPTIONS` of the process as it started, where readable.
pub fn node_options(pid: u32) -> Option<String> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(b"NODE_OPTIONS="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The inspector port Node opens on SIGUSR1: the last `--inspect-port`/`--debug-port`/`--inspect*=`
/// among `args` (`NODE_OPTIONS`' words, then argv without argv[0]), else 9229. Used to explain a
/// failure, never to connect.
pub fn inspect_port<'a>(args: impl IntoIterator<Item = &'a str>) -> u16 {
    let mut port = 9229;
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        // The script (or `--`): Node's own options end here.
        if arg == "--" || !arg.starts_with('-') {
            break;
        }
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg, None),
        };
        let value = match flag {
            "--inspect-port" | "--debug-port" => value.or_else(|| args.next().map(str::to_owned)),
            "--inspect" | "--inspect-brk" | "--inspect-wait" => value,
            _ => None,
        };
        if let Some(p) = value.as_deref().and_then(port_of) {
            port = p;
        }
    }
    port
}

/// The port of `[host:]port`.
fn port_of(value: &str) -> Option<u16> {
    value.rsplit(':').next()?.parse().ok()
}

/// The pid of a process (other than `not`) that holds socket `inode` open, looking through every
/// process we may read.
pub fn socket_owner(inode: u64, not: u32) -> Option<(u32, String)> {
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != not && socket_inodes(pid).is_ok_and(|s| s.contains(&inode)) {
            let name = status(pid).map(|s| s.name).unwrap_or_default();
            return Some((pid, name));
        }
    }
    None
}

/// A pidfd for `pid` (pidfd_open(2)); None where there is none to have (no such call before Linux
/// 5.3, a seccomp filter that refuses it, a thread id): the signal then goes by number, as before.
pub fn pidfd(pid: u32) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain system call; the descriptor it returns is ours to own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd >= 0 {
        return Ok(Some(unsafe {
            std::os::fd::OwnedFd::from_raw_fd(fd as i32)
        }));
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::ESRCH) => Err(io::ErrorKind::NotFound.into()),
        _ => Ok(None),
    }
}

/// Sends `signal` through `pidfd` when there is one (to that process only, not to whoever has its
/// number by now), else to `pid`. A process that is gone is NotFound.
pub fn signal(pid: u32, pidfd: Option<&std::os::fd::OwnedFd>, signal: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain system calls.
    let r = match pidfd {
        Some(fd) => unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        },
        None => libc::c_long::from(unsafe { libc::kill(pid as libc::pid_t, signal) }),
    };
    if r == 0 {
        return Ok(());
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::ESRCH) => Err(io::ErrorKind::NotFound.into()),
        e => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signal through the pidfd reaches the process it was opened for, and no other once that
    /// one is gone (its number may be another's by then).
    #[test]
    fn a_signal_through_a_pidfd_goes_to_its_process_only() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let Some(fd) = pidfd(pid).unwrap() else {
            eprintln!("skipped: this kernel has no pidfd_open");
            let _ = child.kill();
            let _ = child.wait();
            return;
        };
        signal(pid, Some(&fd), 0).unwrap();
        signal(pid, Some(&fd), libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Reaped: the number is free for another process; the pidfd still names the dead one.
        let e = signal(pid, Some(&fd), libc::SIGUSR1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn tcp_listeners_are_read() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2415 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2415 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 51235 1 0000000000000000 100 0 0 10 0
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(
            parse_tcp(v4),
            vec![
                Listener {
                    addr: "127.0.0.1".parse().unwrap(),
                    port: 9237,
                    inode: 51234
                },
                Listener {
                    addr: "0.0.0.0".parse().unwrap(),
                    port: 80,
                    inode: 777
                }
            ]
        );
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2415 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(
            parse_tcp(v6),
            vec![Listener {
                addr: "::1".parse().unwrap(),
                port: 9237,
                inode: 9
            }]
        );
    }

    #[test]
    fn status_fields() {
        let s = parse_status(
            "Name:\tnode\nUid:\t1000\t1001\t1001\t1001\nGid:\t50\t51\t51\t51\nNSpid:\t4242\t7\nSigIgn:\t0000000001001000\nSigCgt:\t0000000188004602\n",
        );
        assert_eq!(s.name, "node");
        assert_eq!((s.uid, s.gid), (Some(1001), Some(51)), "the effective ids");
        assert_eq!(s.ns_pid, Some(7));
        assert!(has_signal(s.caught, libc::SIGUSR1));
        assert!(!has_signal(s.ignored, libc::SIGUSR1));
        assert!(has_signal(s.ignored, libc::SIGPIPE));
    }

    #[test]
    fn inspect_ports() {
        let port = |args: &[&str]| inspect_port(args.iter().copied());
        assert_eq!(port(&["app.js"]), 9229);
        assert_eq!(port(&["--inspect-port=0", "app.js"]), 0);
        assert_eq!(port(&["--inspect-port", "4000", "app.js"]), 4000);
        assert_eq!(port(&["--inspect=127.0.0.1:4001", "app.js"]), 4001);
        assert_eq!(port(&["app.js", "--inspect-port=5"]), 9229);
        assert_eq!(port(&["--max-old-space-size=100", "--debug-port=7"]), 7);
    }
}
