//! The factory's options from environment variables (`NODE_OOM_HEAPDUMP_PATH=/dumps`, ...), for
//! processes whose code cannot be changed. Each variable's text reads per the option's kind, then
//! goes through the very checks of the JS options; errors name the variable and the value.
//! `node -r node-oom-heapdump/register` reads the environment through it (src/napi/register.rs).

use super::{RawOptions, OPTIONS};

impl RawOptions {
    /// The options that `vars` (name, text pairs, e.g. `std::env::vars()`) set; variables that
    /// are not declared options are ignored (`NODE_OOM_HEAPDUMP_ANALYZER` is the tests').
    pub fn from_env<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> RawOptions
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut raw = RawOptions::unset();
        for (name, text) in vars {
            let found = raw
                .given_mut()
                .iter_mut()
                .zip(OPTIONS)
                .find(|(_, d)| d.env == name.as_ref());
            if let Some((given, declared)) = found {
                given.prop = declared.kind.text().read(text.as_ref());
                given.name = declared.env;
            }
        }
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Defaults, Implementation, Options};

    fn defaults() -> Defaults {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        Defaults {
            dir: tmp.clone(),
            dir_source: "the working directory",
            pid: 7,
            cwd: tmp,
        }
    }

    fn parse(vars: &[(&str, &str)]) -> Result<Options, String> {
        Options::parse(&RawOptions::from_env(vars.iter().copied()), &defaults())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_variables_give_the_defaults() {
        let unrelated = [("PATH", "/bin"), ("NODE_OOM_HEAPDUMP_ANALYZER", "/x")];
        assert_eq!(
            parse(&unrelated),
            Ok(Options::parse(&RawOptions::unset(), &defaults()).unwrap())
        );
    }

    #[test]
    fn text_reads_per_kind() {
        let o = parse(&[
            ("NODE_OOM_HEAPDUMP_HEAPDUMP_ON_OOM", "0"),
            ("NODE_OOM_HEAPDUMP_ADD_TIMESTAMP", "true"),
            ("NODE_OOM_HEAPDUMP_ANALYZE_ON_OOM", "false"),
            ("NODE_OOM_HEAPDUMP_FORCE_SNAPSHOT", "1"),
            ("NODE_OOM_HEAPDUMP_OOM_IMPLEMENTATION", "GC_MONITORING"),
            ("NODE_OOM_HEAPDUMP_PATH", "crash"),
            ("NODE_OOM_HEAPDUMP_PORT", "9333"),
            ("NODE_OOM_HEAPDUMP_THRESHOLD", "85.5"),
            ("NODE_OOM_HEAPDUMP_LIMIT", "2"),
            ("NODE_OOM_HEAPDUMP_HEAP_PROFILE_INTERVAL", "1024"),
            ("NODE_OOM_HEAPDUMP_RSS_THRESHOLD", "80"),
            (
                "NODE_OOM_HEAPDUMP_EXPORT_COMMAND",
                r#"["/bin/upload", "--to", "s3"]"#,
            ),
            ("NODE_OOM_HEAPDUMP_EXPORT_TIMEOUT_MS", "1000"),
        ])
        .unwrap();
        assert!(!o.heapdump_on_oom && o.add_timestamp && !o.analyze_on_oom && o.force_snapshot);
        assert_eq!(o.oom_implementation, Implementation::GcMonitoring);
        assert_eq!(o.path.dir, defaults().cwd);
        assert_eq!(o.path.stem, "crash");
        assert_eq!((o.port, o.threshold, o.limit), (9333, 85.5, 2));
        assert_eq!(
            (o.heap_profile_sampling(), o.rss_threshold),
            (Some(1024), 80.0)
        );
        assert_eq!(
            (o.export_command.unwrap(), o.export_timeout_ms),
            (vec!["/bin/upload".into(), "--to".into(), "s3".into()], 1000)
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_value() {
        for (var, text, message) in [
            (
                "NODE_OOM_HEAPDUMP_THRESHOLD",
                "abc",
                "NODE_OOM_HEAPDUMP_THRESHOLD must be a number from 0 to 100, got \"abc\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_THRESHOLD",
                "101",
                "NODE_OOM_HEAPDUMP_THRESHOLD must be a number from 0 to 100, got 101",
            ),
            (
                "NODE_OOM_HEAPDUMP_ADD_TIMESTAMP",
                "yes",
                "NODE_OOM_HEAPDUMP_ADD_TIMESTAMP must be a boolean, got \"yes\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_HEAPDUMP_ON_OOM",
                "",
                "NODE_OOM_HEAPDUMP_HEAPDUMP_ON_OOM must be a boolean, got \"\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_OOM_IMPLEMENTATION",
                "native_hook",
                "NODE_OOM_HEAPDUMP_OOM_IMPLEMENTATION must be \"NATIVE_HOOK\" or \"GC_MONITORING\", got \"native_hook\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_PORT",
                "http",
                "NODE_OOM_HEAPDUMP_PORT must be an integer from 1 to 65535, got \"http\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_LIMIT",
                "2.5",
                "NODE_OOM_HEAPDUMP_LIMIT must be a positive integer, got 2.5",
            ),
            (
                "NODE_OOM_HEAPDUMP_EXPORT_COMMAND",
                "/bin/upload",
                "NODE_OOM_HEAPDUMP_EXPORT_COMMAND must be a non-empty array of strings (the command, then its arguments), got \"/bin/upload\"",
            ),
            (
                "NODE_OOM_HEAPDUMP_EXPORT_COMMAND",
                r#"{"file": "x"}"#,
                "NODE_OOM_HEAPDUMP_EXPORT_COMMAND must be a non-empty array of strings (the command, then its arguments), got a value of type object",
            ),
            (
                "NODE_OOM_HEAPDUMP_EXPORT_TIMEOUT_MS",
                "0",
                "NODE_OOM_HEAPDUMP_EXPORT_TIMEOUT_MS must be a positive integer, got 0",
            ),
            (
                "NODE_OOM_HEAPDUMP_PATH",
                "",
                "NODE_OOM_HEAPDUMP_PATH must name a file, got \"\"",
            ),
        ] {
            assert_eq!(parse(&[(var, text)]), Err(message.to_string()));
        }
    }

    #[test]
    fn every_declared_option_has_its_variable() {
        for d in OPTIONS {
            let raw = RawOptions::from_env([(d.env, "x")]);
            let set: Vec<_> = raw.given().iter().filter(|g| g.name == d.env).collect();
            assert_eq!(set.len(), 1, "{}", d.env);
        }
    }
}
