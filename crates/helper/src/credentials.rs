//! Writing with the app's credentials. The helper may have been started by a root app that later
//! dropped its privileges (`process.setuid('nobody')`); it must then write only what the app itself
//! could. At each request it reads the app's current file-system uid, gid and supplementary groups
//! from `/proc/<app pid>/status` (the app is its parent, checked before and after the read, so the
//! pid cannot have been reused), and does the whole write under them with setfsuid(2)/setfsgid(2)
//! and setgroups(2) (this process is single-threaded, so these apply to all of it), restoring its
//! own afterwards. A helper that is not root cannot take other credentials: it then writes only if
//! the app's are still its own.
//!
//! A process that is not root gains privileges only by executing a program (set-user-ID, or with
//! file capabilities): an app that dropped its privileges and, compromised, then executed `su` in
//! place would still be our parent, with `/proc` showing root's credentials. So the program the app
//! runs is noted when this helper starts ([`App::parent`]), and credentials are taken only while
//! it is still that program.

use std::io;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the app (pid {0}) is no longer this helper's parent")]
    AppGone(u32),
    #[error("the app (pid {0}) now runs another program than the one that started this helper (it executed one): its credentials are not taken")]
    Executed(u32),
    #[error("cannot read the app's credentials from /proc/{pid}/status: {source}")]
    Read { pid: u32, source: io::Error },
    #[error("cannot parse the app's credentials in /proc/{0}/status")]
    Parse(u32),
    #[error("cannot take the app's credentials (uid {uid}, gid {gid}): {why}")]
    Switch { uid: u32, gid: u32, why: String },
}

/// The app this helper serves: its parent, and the program it ran when this helper started.
pub struct App {
    pub pid: u32,
    /// Device and inode of `/proc/<pid>/exe`; None where this helper may not look (it is then not
    /// root, and takes no credentials but its own anyway).
    program: Option<(u64, u64)>,
}

/// Device and inode of the program `pid` runs.
fn program_of(pid: u32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((m.dev(), m.ino()))
}

impl App {
    /// This process's parent, as it is now: called first thing, while the app that started this
    /// helper waits for it.
    pub fn parent() -> App {
        let pid = unsafe { libc::getppid() } as u32;
        App {
            pid,
            program: program_of(pid),
        }
    }

    /// The app's file-system credentials now: it must still be this process's parent (checked
    /// before and after, so that its pid cannot have been reused), running the same program.
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let pid = self.pid;
        let parent = || unsafe { libc::getppid() } as u32;
        if parent() != pid {
            return Err(CredentialsError::AppGone(pid));
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|source| CredentialsError::Read { pid, source })?;
        let program = program_of(pid);
        if parent() != pid {
            return Err(CredentialsError::AppGone(pid));
        }
        if self.program.is_some() && program != self.program {
            return Err(CredentialsError::Executed(pid));
        }
        Credentials::parse(&status).ok_or(CredentialsError::Parse(pid))
    }
}

impl Credentials {
    /// From the text of `/proc/<pid>/status`: the fourth (file-system) ids of `Uid:` and `Gid:`,
    /// and `Groups:`.
    pub fn parse(status: &str) -> Option<Credentials> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|rest| rest.split_whitespace().map(str::parse::<u32>))
        };
        let fs_id = |name| field(name)?.nth(3)?.ok();
        Some(Credentials {
            uid: fs_id("Uid:")?,
            gid: fs_id("Gid:")?,
            groups: field("Groups:")?.collect::<Result<_, _>>().ok()?,
        })
    }

    /// This process's own file-system credentials.
    fn current() -> Credentials {
        // setfsuid/setfsgid with an invalid id change nothing and return the current one.
        let uid = unsafe { libc::setfsuid(u32::MAX) } as u32;
        let gid = unsafe { libc::setfsgid(u32::MAX) } as u32;
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) }.max(0) as usize;
        let mut groups = vec![0; n];
        let n = unsafe { libc::getgroups(n as i32, groups.as_mut_ptr()) }.max(0) as usize;
        groups.truncate(n);
        Credentials { uid, gid, groups }
    }

    /// Runs `f` with these credentials for file access, then restores this process's own.
    pub fn run_as<T>(&self, f: impl FnOnce() -> T) -> Result<T, CredentialsError> {
        let own = Credentials::current();
        if unsafe { libc::geteuid() } != 0 {
            return if (own.uid, own.gid) == (self.uid, self.gid) {
                Ok(f())
            } else {
                Err(self.cannot("this helper is not root and the app's are not its own"))
            };
        }
        self.apply()?;
        let out = f();
        own.apply()
            .expect("a root process can take back its own credentials");
        Ok(out)
    }

    /// For good: before running the analyzer on a file the app wrote.
    pub fn become_permanently(&self) -> io::Result<()> {
        if unsafe { libc::geteuid() } != 0 {
            return Ok(());
        }
        let ok = unsafe {
            libc::setgroups(self.groups.len(), self.groups.as_ptr()) == 0
                && libc::setresgid(self.gid, self.gid, self.gid) == 0
                && libc::setresuid(self.uid, self.uid, self.uid) == 0
        };
        if ok {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn apply(&self) -> Result<(), CredentialsError> {
        if unsafe { libc::setgroups(self.groups.len(), self.groups.as_ptr()) } != 0 {
            return Err(self.cannot(&format!("setgroups: {}", io::Error::last_os_error())));
        }
        // Groups and gid first: after setfsuid to non-root the file-system capabilities are gone.
        unsafe { libc::setfsgid(self.gid) };
        unsafe { libc::setfsuid(self.uid) };
        let now = Credentials::current();
        if (now.uid, now.gid) == (self.uid, self.gid) {
            Ok(())
        } else {
            Err(self.cannot(&format!(
                "setfsuid/setfsgid left uid {} gid {}",
                now.uid, now.gid
            )))
        }
    }

    fn cannot(&self, why: &str) -> CredentialsError {
        CredentialsError::Switch {
            uid: self.uid,
            gid: self.gid,
            why: why.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_file_system_ids_and_groups() {
        let status =
            "Name:\tnode\nUid:\t0\t65534\t0\t65534\nGid:\t0\t65534\t0\t65533\nGroups:\t65534 4 \n";
        assert_eq!(
            Credentials::parse(status),
            Some(Credentials {
                uid: 65534,
                gid: 65533,
                groups: vec![65534, 4]
            })
        );
        let no_groups = "Uid:\t1\t1\t1\t1\nGid:\t2\t2\t2\t2\nGroups:\t\n";
        assert_eq!(
            Credentials::parse(no_groups).unwrap().groups,
            Vec::<u32>::new()
        );
        assert_eq!(Credentials::parse("Uid:\t1\n"), None);
    }

    #[test]
    fn writes_under_other_credentials_are_refused_where_they_would_be_for_them() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let d = std::env::temp_dir().join(format!("ohd-creds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let nobody = Credentials {
            uid: 65534,
            gid: 65534,
            groups: vec![65534],
        };
        let r = nobody.run_as(|| std::fs::write(d.join("x"), b"x")).unwrap();
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        // And this process is root again afterwards.
        std::fs::write(d.join("y"), b"y").unwrap();
        assert_eq!(Credentials::current().uid, 0);
    }
}
