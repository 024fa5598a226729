//! Tests that keep the words about the options in step with the table in `defs.rs`: README's
//! options table is rendered from it (`UPDATE_DOCS=1 cargo test` rewrites it), and index.d.ts's
//! `Options` and `InstalledOptions` interfaces must name exactly what is declared and reported.

use std::path::Path;

use super::{Defaults, Options, RawOptions, OPTIONS};

const BEGIN: &str = "<!-- options:begin -->";
const END: &str = "<!-- options:end -->";

/// README's table of options, as the table declares them.
fn render_table() -> String {
    let mut out =
        String::from("| option | environment variable | default | meaning |\n|---|---|---|---|\n");
    for d in OPTIONS {
        let doc = d.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        out += &format!(
            "| `{}` | `{}` | {} | {} |\n",
            d.js,
            d.env,
            d.kind.default_doc(),
            doc
        );
    }
    out
}

fn root_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn readme_table_is_rendered_from_the_declarations() {
    let readme = root_file("README.md");
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no {BEGIN} ... {END} section");
    };
    let inside = &readme[begin + BEGIN.len()..end];
    let want = format!("\n{}", render_table());
    if inside == want {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        let updated = format!("{}{want}{}", &readme[..begin + BEGIN.len()], &readme[end..]);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "README.md's options table differs from src/options/defs.rs; run UPDATE_DOCS=1 cargo test \
         -p node-oom-heapdump to rewrite it. Expected:\n{want}"
    );
}

/// The property names of `interface <name> { ... }` in index.d.ts (top-level members only).
fn interface_members(dts: &str, name: &str) -> Vec<String> {
    let open = format!("interface {name} {{");
    let start = dts
        .find(&open)
        .unwrap_or_else(|| panic!("index.d.ts has no `{open}`"));
    let mut members = Vec::new();
    let mut depth = 0usize;
    let mut in_comment = false;
    for line in dts[start + open.len()..].lines() {
        let t = line.trim();
        if in_comment || t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        if depth == 0 && t.starts_with('}') {
            return members;
        }
        if depth == 0 {
            let ident: String = t
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            if !ident.is_empty() && t[ident.len()..].trim_start().starts_with(['?', ':']) {
                members.push(ident);
            }
        }
        depth += t.matches('{').count();
        depth -= t.matches('}').count().min(depth);
    }
    panic!("index.d.ts: `{open}` does not close");
}

#[test]
fn typings_declare_every_option_and_nothing_else() {
    let dts = root_file("index.d.ts");
    let declared: Vec<&str> = OPTIONS.iter().map(|d| d.js).collect();
    assert_eq!(
        sorted(interface_members(&dts, "Options")),
        sorted(declared),
        "index.d.ts's `Options` (left) must name the options src/options/defs.rs declares (right)"
    );

    let tmp = std::env::temp_dir();
    let defaults = Defaults {
        dir: tmp.clone(),
        dir_source: "the working directory",
        pid: 1,
        cwd: tmp,
    };
    // With every option that is reported only when set.
    let mut raw = RawOptions::unset();
    raw.set(
        "exportCommand",
        super::Prop::List(vec![super::Prop::String("/bin/true".into())]),
    );
    raw.set("upload", super::Prop::String("s3://dumps/prod".into()));
    let options = Options::parse(&raw, &defaults).unwrap();
    let mut reported: Vec<&str> = options.report().iter().map(|(js, _)| *js).collect();
    reported.extend(["helperPid", "helperError"]);
    assert_eq!(
        sorted(interface_members(&dts, "InstalledOptions")),
        sorted(reported),
        "index.d.ts's `InstalledOptions` (left) must name what `install` reports (right)"
    );
}

fn sorted<S: AsRef<str>>(names: Vec<S>) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.as_ref().to_owned()).collect();
    names.sort();
    names
}
