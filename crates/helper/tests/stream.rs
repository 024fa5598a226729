//! The helper binary end to end: a real process fed through a real pipe, as the addon feeds it.

use std::fs;
use std::io::{BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use oom_heapdump_capture::protocol::{write_chunk, write_end, write_request, Ack, Request};
use oom_heapdump_capture::Landing;

const SNAPSHOT: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name"],"edge_fields":["type","name_or_index","to_node"]},"node_count":2,"edge_count":1},"nodes":[0,1,1,2],"edges":[0,0,2],"strings":["a","b","c"]}"#;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ohd-helper-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The helper, started for `<dir>/<stem>.heapsnapshot` as the addon starts it.
fn spawn_for(dir: &Path, stem: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oom-heapdump-helper"))
        .arg("--dir")
        .arg(dir)
        .args(["--stem", stem])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn request(target: &Path) -> Request {
    Request {
        final_path: target.to_owned(),
        landing: Landing::Replace,
        summarize: false,
    }
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn complete_stream_lands_checked_file_and_helper_waits_for_more() {
    let d = dir("complete");
    let mut child = spawn_for(&d, "one");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for name in ["one.heapsnapshot", "one-2.heapsnapshot"] {
        let target = d.join(name);
        write_request(&mut stdin, &request(&target)).unwrap();
        for part in SNAPSHOT.as_bytes().chunks(7) {
            write_chunk(&mut stdin, part).unwrap();
        }
        write_end(&mut stdin, SNAPSHOT.len() as u64).unwrap();
        assert_eq!(
            Ack::read_from(&mut stdout).unwrap().unwrap(),
            Ack::Written {
                path: target.clone(),
                bytes: SNAPSHOT.len() as u64,
                node_count: 2,
                edge_count: 1
            }
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), SNAPSHOT);
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "exits cleanly on EOF");
    assert_eq!(entries(&d), ["one-2.heapsnapshot", "one.heapsnapshot"]);
}

#[test]
fn truncated_stream_leaves_nothing() {
    let d = dir("truncated");
    let target = d.join("cut.heapsnapshot");
    let mut child = spawn_for(&d, "cut");
    let mut stdin = child.stdin.take().unwrap();
    write_request(&mut stdin, &request(&target)).unwrap();
    write_chunk(&mut stdin, &SNAPSHOT.as_bytes()[..50]).unwrap();
    stdin.flush().unwrap();
    drop(stdin); // the sender dies mid-stream
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stream ended before the capture was complete (50 bytes received)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nobody to answer");
    assert!(entries(&d).is_empty(), "left: {:?}", entries(&d));
}

#[test]
fn empty_or_incomplete_snapshot_is_refused_with_an_answer() {
    let d = dir("empty");
    for (name, body) in [
        ("empty.heapsnapshot", ""),
        ("half.heapsnapshot", &SNAPSHOT[..60]),
    ] {
        let target = d.join(name);
        let mut child = spawn_for(&d, name.strip_suffix(".heapsnapshot").unwrap());
        let mut stdin = child.stdin.take().unwrap();
        write_request(&mut stdin, &request(&target)).unwrap();
        write_chunk(&mut stdin, body.as_bytes()).unwrap();
        write_end(&mut stdin, body.len() as u64).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "it served on, and exits cleanly on EOF"
        );
        let ack = Ack::read_from(&mut &out.stdout[..]).unwrap().unwrap();
        let expected = if body.is_empty() {
            "snapshot is empty".to_owned()
        } else {
            format!("snapshot is truncated after {} bytes", body.len())
        };
        assert_eq!(ack, Ack::Failed(expected));
    }
    assert!(entries(&d).is_empty(), "left: {:?}", entries(&d));
}

#[test]
fn missing_folder_is_answered() {
    let d = dir("nofolder");
    let target = d.join("gone").join("x.heapsnapshot");
    let mut child = spawn_for(&d.join("gone"), "x");
    let mut stdin = child.stdin.take().unwrap();
    write_request(&mut stdin, &request(&target)).unwrap();
    let _ = write_chunk(&mut stdin, SNAPSHOT.as_bytes());
    let _ = write_end(&mut stdin, SNAPSHOT.len() as u64);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let ack = Ack::read_from(&mut &out.stdout[..]).unwrap().unwrap();
    match ack {
        Ack::Failed(msg) => assert!(
            msg.contains("cannot create temporary file") && msg.contains("gone"),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_request_for_another_path_is_refused_and_nothing_is_written() {
    // A compromised app holds the pipe: it must not aim the helper at any other file.
    let d = dir("forged");
    let elsewhere = dir("forged-elsewhere");
    for forged in [
        elsewhere.join("app.heapsnapshot"),
        d.join("other.heapsnapshot"),
        d.join("app.json"),
        elsewhere.join("passwd"),
    ] {
        let mut child = spawn_for(&d, "app");
        let mut stdin = child.stdin.take().unwrap();
        write_request(&mut stdin, &request(&forged)).unwrap();
        let _ = write_chunk(&mut stdin, SNAPSHOT.as_bytes());
        let _ = write_end(&mut stdin, SNAPSHOT.len() as u64);
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        match Ack::read_from(&mut &out.stdout[..]).unwrap().unwrap() {
            Ack::Failed(msg) => assert!(msg.starts_with(&format!("refused {forged:?}")), "{msg}"),
            other => panic!("{forged:?}: {other:?}"),
        }
        assert!(entries(&d).is_empty() && entries(&elsewhere).is_empty());
    }
}

#[test]
fn started_without_a_target_it_refuses_to_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_oom-heapdump-helper"))
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dir <folder> and --stem <name>"));
}

#[test]
fn a_path_with_newline_and_tab_is_answered_unchanged() {
    let d = dir("odd\nname\tx");
    let target = d.join("a\nb\tc.heapsnapshot");
    let mut child = spawn_for(&d, "a\nb\tc");
    let mut stdin = child.stdin.take().unwrap();
    write_request(&mut stdin, &request(&target)).unwrap();
    write_chunk(&mut stdin, SNAPSHOT.as_bytes()).unwrap();
    write_end(&mut stdin, SNAPSHOT.len() as u64).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    match Ack::read_from(&mut &out.stdout[..]).unwrap().unwrap() {
        Ack::Written { path, .. } => assert_eq!(path, target),
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), SNAPSHOT);
}

/// The helper started with an export command, as the addon starts it with `exportCommand`.
fn spawn_exporting(dir: &Path, stem: &str, script: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oom-heapdump-helper"))
        .arg("--dir")
        .arg(dir)
        .args(["--stem", stem, "--export-timeout-ms", "10000", "--"])
        .args(["/bin/sh", "-c", script, "sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn the_export_runs_once_the_sender_has_gone_on_the_files_it_listed() {
    use oom_heapdump_capture::protocol::{write_export, ExportFiles};
    let d = dir("export");
    let out = d.join("ran");
    let script = format!(
        "sleep 0.3; echo \"$NODE_OOM_HEAPDUMP_KIND|$NODE_OOM_HEAPDUMP_REASON|$*\" > '{}'; echo hello",
        out.display()
    );
    let mut child = spawn_exporting(&d, "app", &script);
    let mut stdin = child.stdin.take().unwrap();
    let files = vec![d.join("app.heapprofile"), d.join("app.oom.json")];
    for f in &files {
        fs::write(f, "{}").unwrap();
    }
    // Planted in the folder in place of the snapshot: a link to a secret of the app's user.
    let secret = d.join("secret");
    fs::write(&secret, "token").unwrap();
    let planted = d.join("app.heapsnapshot");
    std::os::unix::fs::symlink(&secret, &planted).unwrap();
    let listed = [files.clone(), vec![planted.clone()]].concat();
    write_export(
        &mut stdin,
        &ExportFiles {
            reason: "Reached heap limit".into(),
            files: listed,
        },
    )
    .unwrap();
    // Answered at once, while the sender lives: its credentials are read now, not once it is gone.
    let mut answers = child.stdout.take().unwrap();
    assert_eq!(Ack::read_from(&mut answers).unwrap(), Some(Ack::Accepted));
    // Not before the sender is gone.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!out.exists(), "the export ran while the sender was alive");
    drop(stdin);
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!(
            "oom|Reached heap limit|{} {}\n",
            files[0].display(),
            files[1].display()
        )
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        stderr.contains("node-oom-heapdump: export: hello\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "node-oom-heapdump: export: {}: not the file the OOM wrote: it is a symbolic link; left out\n",
            planted.display()
        )),
        "{stderr}"
    );
}

#[test]
fn an_export_of_another_file_is_refused_and_nothing_runs() {
    use oom_heapdump_capture::protocol::{write_export, ExportFiles};
    let d = dir("export-refused");
    let out = d.join("ran");
    let mut child = spawn_exporting(&d, "app", &format!("touch '{}'", out.display()));
    let mut stdin = child.stdin.take().unwrap();
    write_export(
        &mut stdin,
        &ExportFiles {
            reason: String::new(),
            files: vec![d.join("app.oom.json"), "/etc/shadow".into()],
        },
    )
    .unwrap();
    drop(stdin);
    let done = child.wait_with_output().unwrap();
    match Ack::read_from(&mut &done.stdout[..]).unwrap() {
        Some(Ack::Failed(why)) => assert!(why.contains("\"/etc/shadow\""), "{why}"),
        other => panic!("{other:?}"),
    }
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        stderr.contains("refused to export \"/etc/shadow\""),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// An app that starts the helper, then (`exec`) runs another program in place: still its parent,
/// but no longer the program whose credentials the helper may take.
#[test]
fn an_app_that_executed_another_program_gets_nothing_written() {
    let d = dir("executed");
    let helper = env!("CARGO_BIN_EXE_oom-heapdump-helper");
    let target = d.join("app.heapsnapshot");
    let run = |then: &str| {
        // The shell starts the helper on its stdin and stdout (through fd 3: a background job's
        // stdin is /dev/null), lets it note its parent's program, then `then`.
        let script = format!(
            "exec 3<&0; '{helper}' --dir '{}' --stem app <&3 & exec 3<&-; sleep 0.5; {then}",
            d.display()
        );
        let mut app = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let mut stdin = app.stdin.take().unwrap();
        write_request(&mut stdin, &request(&target)).unwrap();
        write_chunk(&mut stdin, SNAPSHOT.as_bytes()).unwrap();
        write_end(&mut stdin, SNAPSHOT.len() as u64).unwrap();
        let mut stdout = app.stdout.take().unwrap();
        let ack = Ack::read_from(&mut stdout).unwrap().unwrap();
        drop(stdin);
        let _ = app.kill();
        let _ = app.wait();
        ack
    };
    // The same shell, waiting: written.
    assert!(matches!(run("sleep 5"), Ack::Written { .. }));
    fs::remove_file(&target).unwrap();
    // The shell executes `sleep` in place: refused, nothing written.
    match run("exec sleep 5") {
        Ack::Failed(why) => assert!(why.contains("runs another program"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(entries(&d), Vec::<String>::new());
}

#[test]
fn a_failed_capture_is_answered_at_once_and_the_helper_serves_on() {
    use oom_heapdump_capture::protocol::{write_export, ExportFiles};
    let d = dir("serves-on");
    let ran = d.join("ran");
    let mut child = spawn_exporting(&d, "app", &format!("echo \"$*\" > '{}'", ran.display()));
    let mut stdin = child.stdin.take().unwrap();
    let mut answers = BufReader::new(child.stdout.take().unwrap());
    // Refused before anything is read of it: answered before its data is sent, which the helper
    // then reads to the end frame (as the app sends it once it has seen the answer).
    write_request(&mut stdin, &request(&d.join("other.heapsnapshot"))).unwrap();
    stdin.flush().unwrap();
    match Ack::read_from(&mut answers).unwrap().unwrap() {
        Ack::Failed(msg) => assert!(msg.starts_with("refused"), "{msg}"),
        other => panic!("{other:?}"),
    }
    for part in SNAPSHOT.as_bytes().chunks(7) {
        write_chunk(&mut stdin, part).unwrap();
    }
    write_end(&mut stdin, SNAPSHOT.len() as u64).unwrap();
    // Incomplete: answered once its end came.
    write_request(&mut stdin, &request(&d.join("app.heapsnapshot"))).unwrap();
    write_chunk(&mut stdin, &SNAPSHOT.as_bytes()[..60]).unwrap();
    write_end(&mut stdin, 60).unwrap();
    assert_eq!(
        Ack::read_from(&mut answers).unwrap().unwrap(),
        Ack::Failed("snapshot is truncated after 60 bytes".into())
    );
    // And the next capture and the export are served.
    let target = d.join("app.heapsnapshot");
    write_request(&mut stdin, &request(&target)).unwrap();
    write_chunk(&mut stdin, SNAPSHOT.as_bytes()).unwrap();
    write_end(&mut stdin, SNAPSHOT.len() as u64).unwrap();
    assert!(matches!(
        Ack::read_from(&mut answers).unwrap().unwrap(),
        Ack::Written { node_count: 2, .. }
    ));
    assert_eq!(fs::read_to_string(&target).unwrap(), SNAPSHOT);
    let files = vec![target.clone()];
    write_export(
        &mut stdin,
        &ExportFiles {
            reason: "Reached heap limit".into(),
            files,
        },
    )
    .unwrap();
    assert_eq!(Ack::read_from(&mut answers).unwrap(), Some(Ack::Accepted));
    drop(stdin);
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(
        fs::read_to_string(&ran).unwrap(),
        format!("{}\n", target.display())
    );
    assert_eq!(entries(&d), ["app.heapsnapshot", "ran"]);
}

/// An S3 endpoint on loopback that lists an empty folder and refuses every other request (403
/// AccessDenied), closing the connection after each answer: the helper starts the upload, and any
/// part it sends would be refused.
fn refusing_s3() -> String {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n")
                && head.len() < 65536
                && matches!(conn.read(&mut byte), Ok(1))
            {
                head.push(byte[0]);
            }
            let listing = head.starts_with(b"GET ")
                && String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .contains("list-type=2");
            let (status, body) = if listing {
                ("200 OK", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>dumps</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>")
            } else {
                ("403 Forbidden", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    at
}

#[test]
fn a_stream_to_the_bucket_that_fails_is_answered_before_the_stream_ends_and_the_helper_serves_on() {
    let d = dir("stream-fails");
    // Never created: no file can be made there, so the snapshot goes to the bucket.
    let gone = d.join("gone");
    let target = gone.join("app.heapsnapshot");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oom-heapdump-helper"))
        .arg("--dir")
        .arg(&gone)
        .args(["--stem", "app", "--upload", "s3://dumps/x"])
        .env("AWS_ACCESS_KEY_ID", "key")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", refusing_s3())
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Answers are read on a thread: a helper that does not answer fails the test, not hangs it.
    let (tx, answers) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        while let Ok(Some(a)) = Ack::read_from(&mut r) {
            if tx.send(a).is_err() {
                break;
            }
        }
    });
    for _ in 0..2 {
        // Found not to be a snapshot at its first chunk: the upload is given up, and that is
        // answered while the stream goes on.
        write_request(&mut stdin, &request(&target)).unwrap();
        write_chunk(&mut stdin, b"not a snapshot").unwrap();
        stdin.flush().unwrap();
        match answers.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(Ack::Failed(msg)) => assert!(
                msg.contains("nor upload it: the snapshot streamed is incomplete"),
                "{msg}"
            ),
            other => panic!("no failure answered before the stream ended: {other:?}"),
        }
        // The app, having seen it, ends the stream; the helper skips to that end, and the next
        // capture is read from its first frame (the loop's second round).
        write_chunk(&mut stdin, b" and more").unwrap();
        write_end(&mut stdin, 23).unwrap();
        stdin.flush().unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(!gone.exists());
    let _ = fs::remove_dir_all(&d);
}
