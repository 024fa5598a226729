//! The command line: `node-oom-heapdump analyze|diff|convert` (the npm package's `bin` runs this
//! binary).
//! Exit status: 0 when answered, 2 for bad usage or a file that is not a readable snapshot.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use oom_heapdump_analyzer::diff::{compare_files, comparison_text};
use oom_heapdump_analyzer::read_snapshot;
use oom_heapdump_analyzer::report::{analyze, Limits};

const USAGE: &str = "\
usage: node-oom-heapdump analyze <file.heapsnapshot> [--top N] [--json]
       node-oom-heapdump diff <base.heapsnapshot> <target.heapsnapshot> [--top N] [--json]
       node-oom-heapdump convert <file.heapprofile|file.cpuprofile> [-o out.pb.gz]

analyze  totals, the top N classes by retained size (default 10) as Chrome DevTools' Summary view
         counts them, and the largest objects with their shortest retainer paths
diff     Chrome DevTools' Comparison view: per class, objects added and removed between the two
         snapshots, by growth (default: the top 20 in text; --json lists all)
convert  a V8 heap or CPU profile as pprof (profile.proto, gzipped) for go tool pprof, Pyroscope
         and Grafana; by default beside it as <name>.heap.pb.gz or <name>.cpu.pb.gz
--json   the same as JSON (shapes in the package's README)";

struct Args {
    command: String,
    files: Vec<PathBuf>,
    top: Option<usize>,
    json: bool,
    output: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args_os().skip(1);
    let mut parsed = Args {
        command: String::new(),
        files: Vec::new(),
        top: None,
        json: false,
        output: None,
    };
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--json") => parsed.json = true,
            Some("--top") => {
                let n = args.next().ok_or("--top needs a number")?;
                let n = n.to_string_lossy();
                parsed.top = Some(
                    n.parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or(format!("--top needs a positive whole number, not {n:?}"))?,
                );
            }
            Some("-o" | "--output") => {
                parsed.output = Some(args.next().ok_or("-o needs a file name")?.into())
            }
            Some("-h" | "--help") => return Err(String::new()),
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ if parsed.command.is_empty() => parsed.command = arg.to_string_lossy().into_owned(),
            _ => parsed.files.push(arg.into()),
        }
    }
    let wanted = match parsed.command.as_str() {
        "analyze" => 1,
        "diff" => 2,
        "convert" => 1,
        "" => return Err(String::new()),
        other => return Err(format!("unknown command {other:?}")),
    };
    if parsed.files.len() != wanted {
        return Err(format!(
            "{} takes {wanted} file{}, got {}",
            parsed.command,
            if wanted == 1 { "" } else { "s" },
            parsed.files.len()
        ));
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("node-oom-heapdump: {why}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let out = match args.command.as_str() {
        "convert" => oom_heapdump_pprof::convert_file(&args.files[0], args.output.as_deref())
            .map(|summary| summary.to_string())
            .map_err(|e| e.to_string()),
        "analyze" => {
            let file = &args.files[0];
            read_snapshot(file)
                .map(|s| {
                    let limits = Limits {
                        top: args.top.unwrap_or(Limits::default().top),
                        ..Limits::default()
                    };
                    let a = analyze(&s, limits);
                    if args.json {
                        serde_json::to_string_pretty(&a).expect("serializable")
                    } else {
                        format!("{}: {a}", file.display())
                    }
                })
                .map_err(|e| e.to_string())
        }
        _ => {
            let (base, target) = (&args.files[0], &args.files[1]);
            compare_files(base, target)
                .map(|c| {
                    if args.json {
                        serde_json::to_string_pretty(&c).expect("serializable")
                    } else {
                        format!(
                            "{} -> {}: {}",
                            base.display(),
                            target.display(),
                            comparison_text(&c, args.top.unwrap_or(20))
                        )
                    }
                })
                .map_err(|e| e.to_string())
        }
    };
    match out {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error of ours.
            let _ = writeln!(stdout, "{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("node-oom-heapdump: {e}");
            ExitCode::from(2)
        }
    }
}
