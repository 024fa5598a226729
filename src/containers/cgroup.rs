//! How much memory the process may use, and uses: the memory cgroup it runs in (v2 `memory.max` /
//! `memory.current`, v1 `memory.limit_in_bytes` / `memory.usage_in_bytes`, the smallest limit on the
//! way up to the root), or the machine's memory when no cgroup limits it. "Working set" is usage less
//! inactive file cache, which the kernel reclaims before it kills (as kubelet counts it).

use std::fs;
use std::path::{Path, PathBuf};

/// Limits above this count as "no limit" (cgroup v1 writes 2^63 rounded to pages).
const UNLIMITED: u64 = 1 << 60;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryLimit {
    /// "cgroup v2 <path>", "cgroup v1 <path>" or "machine".
    pub source: String,
    pub limit: u64,
    pub usage: u64,
    pub inactive_file: u64,
    pub working_set: u64,
}

impl MemoryLimit {
    /// Bytes the process may still grow by before the limit.
    pub fn headroom(&self) -> u64 {
        self.limit.saturating_sub(self.working_set)
    }

    /// True when a cgroup (not just the machine) limits memory.
    pub fn is_container(&self) -> bool {
        self.source != "machine"
    }
}

/// Reads the limit and usage now. Never fails: without a readable cgroup limit, the machine's.
pub fn read() -> MemoryLimit {
    read_at(
        Path::new("/proc/self/cgroup"),
        Path::new("/proc/self/mountinfo"),
    )
    .unwrap_or_else(machine)
}

fn read_at(cgroup_file: &Path, mountinfo_file: &Path) -> Option<MemoryLimit> {
    let cgroups = fs::read_to_string(cgroup_file).ok()?;
    let mounts = fs::read_to_string(mountinfo_file).ok()?;
    // cgroup v2 first: its memory controller, if enabled, is what the kernel enforces.
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (version, fstype) = if controllers.is_empty() {
            (2, "cgroup2")
        } else if controllers.split(',').any(|c| c == "memory") {
            (1, "cgroup")
        } else {
            continue;
        };
        let Some(dir) = cgroup_dir(&mounts, fstype, path) else {
            continue;
        };
        let found = read_cgroup(&dir, if version == 2 { &V2 } else { &V1 });
        if let Some(mut m) = found {
            m.source = format!("cgroup v{version} {path}");
            return Some(m);
        }
    }
    None
}

/// The folder of cgroup `path` under the mount of type `fstype` (v1: the one with the memory
/// controller), allowing for a mount whose root is itself a cgroup (cgroup namespaces).
fn cgroup_dir(mountinfo: &str, fstype: &str, path: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        if r.next() != Some(fstype) {
            continue;
        }
        let super_options = r.nth(1).unwrap_or("");
        if fstype == "cgroup" && !super_options.split(',').any(|o| o == "memory") {
            continue;
        }
        let fields: Vec<&str> = left.split(' ').collect();
        let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        let relative = path
            .strip_prefix(root)
            .unwrap_or(path)
            .trim_start_matches('/');
        return Some(Path::new(mount_point).join(relative));
    }
    None
}

fn read_u64(file: &Path) -> Option<u64> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn stat_field(dir: &Path, field: &str) -> u64 {
    fs::read_to_string(dir.join("memory.stat"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// The smallest limit from `dir` up to the hierarchy's root.
fn min_limit(dir: &Path, file: &str) -> Option<u64> {
    let mut limit: Option<u64> = None;
    let mut at = Some(dir);
    while let Some(d) = at {
        match fs::read_to_string(d.join(file)) {
            Ok(text) => {
                if let Ok(v) = text.trim().parse::<u64>() {
                    if v < UNLIMITED {
                        limit = Some(limit.map_or(v, |l| l.min(v)));
                    }
                }
            }
            Err(_) if d != dir => break,
            Err(_) => return None,
        }
        at = d.parent();
    }
    limit
}

/// The file names of a cgroup version: limit, usage, and the inactive-file line of memory.stat.
struct Files {
    limit: &'static str,
    usage: &'static str,
    inactive_file: &'static str,
}

const V2: Files = Files {
    limit: "memory.max",
    usage: "memory.current",
    inactive_file: "inactive_file",
};

const V1: Files = Files {
    limit: "memory.limit_in_bytes",
    usage: "memory.usage_in_bytes",
    inactive_file: "total_inactive_file",
};

fn read_cgroup(dir: &Path, files: &Files) -> Option<MemoryLimit> {
    let limit = min_limit(dir, files.limit)?;
    let usage = read_u64(&dir.join(files.usage))?;
    let inactive_file = stat_field(dir, files.inactive_file);
    Some(MemoryLimit {
        source: String::new(),
        limit,
        usage,
        inactive_file,
        working_set: usage.saturating_sub(inactive_file),
    })
}

fn machine() -> MemoryLimit {
    let info = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| {
        info.lines()
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    let total = kb("MemTotal:");
    let used = total.saturating_sub(kb("MemAvailable:"));
    MemoryLimit {
        source: "machine".into(),
        limit: total,
        usage: used,
        inactive_file: 0,
        working_set: used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ohd-cg-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn write(p: PathBuf, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn v1_takes_the_smallest_limit_up_the_tree_and_subtracts_inactive_file() {
        let root = tree("v1");
        let mnt = root.join("sys/fs/cgroup/memory");
        write(mnt.join("memory.limit_in_bytes"), "9223372036854771712\n");
        write(mnt.join("pod/memory.limit_in_bytes"), "536870912\n");
        write(
            mnt.join("pod/app/memory.limit_in_bytes"),
            "9223372036854771712\n",
        );
        write(mnt.join("pod/app/memory.usage_in_bytes"), "300000000\n");
        write(
            mnt.join("pod/app/memory.stat"),
            "cache 1\ntotal_inactive_file 100000000\n",
        );
        write(
            root.join("cgroup"),
            "5:cpu:/pod/app\n4:memory:/pod/app\n0::/\n",
        );
        let mounts = format!(
            "30 25 0:26 / {} rw - cgroup cgroup rw,memory\n31 25 0:27 / /x rw - cgroup cgroup rw,cpu\n",
            mnt.display()
        );
        write(root.join("mountinfo"), &mounts);
        let m = read_at(&root.join("cgroup"), &root.join("mountinfo")).unwrap();
        assert_eq!(m.source, "cgroup v1 /pod/app");
        assert_eq!(
            (m.limit, m.usage, m.working_set),
            (536_870_912, 300_000_000, 200_000_000)
        );
        assert_eq!(m.headroom(), 336_870_912);
    }

    #[test]
    fn v2_with_a_namespaced_root_and_no_limit_falls_through() {
        let root = tree("v2");
        let mnt = root.join("cg2");
        write(mnt.join("memory.max"), "max\n");
        write(mnt.join("app/memory.max"), "268435456\n");
        write(mnt.join("app/memory.current"), "1000\n");
        write(mnt.join("app/memory.stat"), "anon 1\ninactive_file 10\n");
        write(root.join("cgroup"), "0::/kube/pod1/app\n");
        write(
            root.join("mountinfo"),
            &format!(
                "40 30 0:30 /kube/pod1 {} rw - cgroup2 cgroup2 rw\n",
                mnt.display()
            ),
        );
        let m = read_at(&root.join("cgroup"), &root.join("mountinfo")).unwrap();
        assert_eq!(
            (m.source.as_str(), m.limit, m.working_set),
            ("cgroup v2 /kube/pod1/app", 268_435_456, 990)
        );
        write(mnt.join("app/memory.max"), "max\n");
        assert_eq!(
            read_at(&root.join("cgroup"), &root.join("mountinfo")),
            None,
            "no limit anywhere"
        );
    }
}
