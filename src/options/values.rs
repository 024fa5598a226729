//! The kinds of option values. Each kind checks what it is given the same way whether it came from a
//! JS property or an environment variable, says how an environment variable's text reads, shows its
//! default in the README and gives the checked value back to JS.

use super::{format_number, Defaults, OptionError, Prop};

/// What an environment variable's text is read as before it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// `true`/`1` and `false`/`0`; anything else stays a string (and fails the check).
    Boolean,
    /// A decimal number; anything else stays a string (and fails the check).
    Number,
    String,
    /// JSON (`["/bin/upload", "--bucket", "b"]`): an array reads as a list, other JSON as its
    /// value; text that is not JSON stays a string (and fails the check).
    Json,
}

impl Text {
    /// `text` as the JS value it stands for.
    pub fn read(self, text: &str) -> Prop {
        match self {
            Text::Boolean => match text {
                "true" | "1" => Prop::Bool(true),
                "false" | "0" => Prop::Bool(false),
                _ => Prop::String(text.into()),
            },
            Text::Number => text
                .parse::<f64>()
                .map_or_else(|_| Prop::String(text.into()), Prop::Number),
            Text::String => Prop::String(text.into()),
            Text::Json => serde_json::from_str::<serde_json::Value>(text)
                .map_or_else(|_| Prop::String(text.into()), |v| from_json(&v)),
        }
    }
}

impl Text {
    /// A value given in JS, taken as the original package took it, so that options written for it
    /// keep working: `null` and `""` are not given (it fell back to the default on a falsy value); a
    /// string holding a number or a boolean reads as in an environment variable (it parsed numbers
    /// with parseInt: `port: process.env.INSPECT_PORT`); and 1 and 0 are booleans where one is
    /// expected. Anything else is checked as it is.
    pub fn lenient(self, prop: Prop) -> Prop {
        match (self, prop) {
            (_, Prop::Null) => Prop::Undefined,
            (_, Prop::String(s)) if s.is_empty() => Prop::Undefined,
            (Text::Boolean | Text::Number, Prop::String(s)) => match self.read(s.trim()) {
                Prop::String(_) => Prop::String(s),
                read => read,
            },
            (Text::Boolean, Prop::Number(1.0)) => Prop::Bool(true),
            (Text::Boolean, Prop::Number(0.0)) => Prop::Bool(false),
            (_, prop) => prop,
        }
    }
}

/// A JSON value as the JS value it stands for.
fn from_json(v: &serde_json::Value) -> Prop {
    use serde_json::Value;
    match v {
        Value::Null => Prop::Null,
        Value::Bool(b) => Prop::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Prop::Other("number"), Prop::Number),
        Value::String(s) => Prop::String(s.clone()),
        Value::Array(items) => Prop::List(items.iter().map(from_json).collect()),
        Value::Object(_) => Prop::Other("object"),
    }
}

/// What the table, environment variables and the README need of a kind, whatever its value type.
pub trait Describe {
    /// How an environment variable's text reads.
    fn text(&self) -> Text;
    /// The default, as the README shows it (Markdown).
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "rendered into README by docs.rs's test")
    )]
    fn default_doc(&self) -> String;
}

/// A checked value as JS gets it back from `install`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reported {
    Bool(bool),
    Number(f64),
    String(String),
    /// An array of strings.
    List(Vec<String>),
}

/// How a kind turns what it is given into a typed value, and that value back into JS.
pub trait Check: Describe {
    type Value;
    /// The checked value, the default when `given` is `Undefined`; errors call it `name`.
    fn check(
        &self,
        name: &'static str,
        given: &Prop,
        defaults: &Defaults,
    ) -> Result<Self::Value, OptionError>;
    /// The value as `install` reports it to JS.
    fn report(&self, value: &Self::Value) -> Reported;
}

/// `true` or `false`.
pub struct Boolean {
    pub default: bool,
}

impl Describe for Boolean {
    fn text(&self) -> Text {
        Text::Boolean
    }
    fn default_doc(&self) -> String {
        format!("`{}`", self.default)
    }
}

impl Check for Boolean {
    type Value = bool;
    fn check(&self, name: &'static str, given: &Prop, _: &Defaults) -> Result<bool, OptionError> {
        boolean(name, given, self.default)
    }
    fn report(&self, value: &bool) -> Reported {
        Reported::Bool(*value)
    }
}

/// A number from 0 to 100.
pub struct Percent {
    pub default: f64,
}

impl Describe for Percent {
    fn text(&self) -> Text {
        Text::Number
    }
    fn default_doc(&self) -> String {
        format!("`{}`", format_number(self.default))
    }
}

impl Check for Percent {
    type Value = f64;
    fn check(&self, name: &'static str, given: &Prop, _: &Defaults) -> Result<f64, OptionError> {
        match given {
            Prop::Undefined => Ok(self.default),
            Prop::Number(n) if (0.0..=100.0).contains(n) => Ok(*n),
            other => Err(OptionError::Percent {
                name,
                got: other.describe(),
            }),
        }
    }
    fn report(&self, value: &f64) -> Reported {
        Reported::Number(*value)
    }
}

/// An integer from 1 to 2^53 - 1 (JS's largest exact integer), as `T` (saturating).
pub struct PositiveInteger<T> {
    pub default: T,
}

/// The integer types a [`PositiveInteger`] checks into.
pub trait Integer: Copy + std::fmt::Display + TryFrom<u64> {
    const MAX: Self;
    fn as_f64(self) -> f64;
}

impl Integer for u32 {
    const MAX: u32 = u32::MAX;
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Integer for u64 {
    const MAX: u64 = u64::MAX;
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl<T: Integer> Describe for PositiveInteger<T> {
    fn text(&self) -> Text {
        Text::Number
    }
    fn default_doc(&self) -> String {
        format!("`{}`", self.default)
    }
}

impl<T: Integer> Check for PositiveInteger<T> {
    type Value = T;
    fn check(&self, name: &'static str, given: &Prop, _: &Defaults) -> Result<T, OptionError> {
        let default = self.default.as_f64() as u64;
        positive_integer(name, given, default).map(|n| T::try_from(n).unwrap_or(T::MAX))
    }
    fn report(&self, value: &T) -> Reported {
        Reported::Number(value.as_f64())
    }
}

/// A TCP port, 1-65535.
pub struct Port {
    pub default: u16,
}

impl Describe for Port {
    fn text(&self) -> Text {
        Text::Number
    }
    fn default_doc(&self) -> String {
        format!("`{}`", self.default)
    }
}

impl Check for Port {
    type Value = u16;
    fn check(&self, name: &'static str, given: &Prop, _: &Defaults) -> Result<u16, OptionError> {
        match given {
            Prop::Undefined => Ok(self.default),
            Prop::Number(n) if n.fract() == 0.0 && (1.0..=65535.0).contains(n) => Ok(*n as u16),
            other => Err(OptionError::Port {
                name,
                got: other.describe(),
            }),
        }
    }
    fn report(&self, value: &u16) -> Reported {
        Reported::Number(f64::from(*value))
    }
}

/// One of a few strings, each standing for a `T`.
pub struct OneOf<T: 'static> {
    pub choices: &'static [(&'static str, T)],
    pub default: T,
}

impl<T: PartialEq> OneOf<T> {
    fn name_of(&self, value: &T) -> &'static str {
        self.choices
            .iter()
            .find(|(_, v)| v == value)
            .map_or("", |(name, _)| name)
    }
}

impl<T: PartialEq> Describe for OneOf<T> {
    fn text(&self) -> Text {
        Text::String
    }
    fn default_doc(&self) -> String {
        format!("`{:?}`", self.name_of(&self.default))
    }
}

impl<T: PartialEq + Copy> Check for OneOf<T> {
    type Value = T;
    fn check(&self, name: &'static str, given: &Prop, _: &Defaults) -> Result<T, OptionError> {
        if *given == Prop::Undefined {
            return Ok(self.default);
        }
        let found = match given {
            Prop::String(s) => self.choices.iter().find(|(choice, _)| choice == s),
            _ => None,
        };
        found.map(|(_, value)| *value).ok_or_else(|| {
            let quoted: Vec<String> = self.choices.iter().map(|(c, _)| format!("{c:?}")).collect();
            let choices = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => quoted.concat(),
            };
            OptionError::NotOneOf {
                name,
                choices,
                got: given.describe(),
            }
        })
    }
    fn report(&self, value: &T) -> Reported {
        Reported::String(self.name_of(value).into())
    }
}

/// A command to run: a non-empty array of strings, the file to run then its arguments (no shell).
/// The default is none.
pub struct Command;

/// A checked command: the file to run, then its arguments.
pub type ExportCommand = Vec<String>;

impl Describe for Command {
    fn text(&self) -> Text {
        Text::Json
    }
    fn default_doc(&self) -> String {
        "none".into()
    }
}

impl Check for Command {
    type Value = Option<ExportCommand>;
    fn check(
        &self,
        name: &'static str,
        given: &Prop,
        _: &Defaults,
    ) -> Result<Option<ExportCommand>, OptionError> {
        let items = match given {
            Prop::Undefined => return Ok(None),
            Prop::List(items) if !items.is_empty() => items,
            other => {
                return Err(OptionError::Command {
                    name,
                    got: other.describe(),
                })
            }
        };
        let text_error = || OptionError::CommandText {
            name,
            got: given.describe(),
        };
        let mut command = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Prop::String(s) if !s.contains('\0') => command.push(s.clone()),
                Prop::String(_) | Prop::IllFormed(_) => return Err(text_error()),
                _ => {
                    return Err(OptionError::Command {
                        name,
                        got: given.describe(),
                    })
                }
            }
        }
        if command[0].is_empty() {
            return Err(OptionError::Command {
                name,
                got: given.describe(),
            });
        }
        Ok(Some(command))
    }
    fn report(&self, value: &Option<ExportCommand>) -> Reported {
        Reported::List(value.clone().unwrap_or_default())
    }
}

/// Where to upload: `s3://bucket[/prefix]`. The default is none.
pub struct S3Location;

impl Describe for S3Location {
    fn text(&self) -> Text {
        Text::String
    }
    fn default_doc(&self) -> String {
        "none".into()
    }
}

impl Check for S3Location {
    type Value = Option<oom_heapdump_upload::S3Url>;
    fn check(
        &self,
        name: &'static str,
        given: &Prop,
        _: &Defaults,
    ) -> Result<Option<oom_heapdump_upload::S3Url>, OptionError> {
        match given {
            Prop::Undefined => Ok(None),
            Prop::String(s) => oom_heapdump_upload::S3Url::parse(s)
                .map(Some)
                .map_err(|why| OptionError::Upload {
                    name,
                    got: given.describe(),
                    why: why.to_string(),
                }),
            other => Err(OptionError::Type {
                name,
                expected: "a string s3://bucket/prefix",
                got: other.describe(),
            }),
        }
    }
    fn report(&self, value: &Option<oom_heapdump_upload::S3Url>) -> Reported {
        Reported::String(value.as_ref().map(|u| u.to_string()).unwrap_or_default())
    }
}

/// How the OOM is caught (`OOMImplementation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// V8's OOM error handler only.
    NativeHook,
    /// Also snapshots after garbage collections while the process runs.
    GcMonitoring,
}

pub(super) fn boolean(name: &'static str, prop: &Prop, default: bool) -> Result<bool, OptionError> {
    match prop {
        Prop::Undefined => Ok(default),
        Prop::Bool(b) => Ok(*b),
        other => Err(OptionError::Type {
            name,
            expected: "a boolean",
            got: other.describe(),
        }),
    }
}

pub(super) fn positive_integer(
    name: &'static str,
    prop: &Prop,
    default: u64,
) -> Result<u64, OptionError> {
    match prop {
        Prop::Undefined => Ok(default),
        Prop::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= 9_007_199_254_740_991.0 => {
            Ok(*n as u64)
        }
        other => Err(OptionError::PositiveInteger {
            name,
            got: other.describe(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_values_are_taken_as_the_original_took_them() {
        let s = |t: &str| Prop::String(t.into());
        assert_eq!(Text::Number.lenient(s("9229")), Prop::Number(9229.0));
        assert_eq!(Text::Number.lenient(s(" 70 ")), Prop::Number(70.0));
        assert_eq!(Text::Number.lenient(s("http")), s("http"));
        assert_eq!(Text::Number.lenient(Prop::Null), Prop::Undefined);
        assert_eq!(Text::Boolean.lenient(s("true")), Prop::Bool(true));
        assert_eq!(Text::Boolean.lenient(Prop::Number(0.0)), Prop::Bool(false));
        assert_eq!(Text::Boolean.lenient(Prop::Number(2.0)), Prop::Number(2.0));
        assert_eq!(Text::Boolean.lenient(s("yes")), s("yes"));
        assert_eq!(Text::String.lenient(s("")), Prop::Undefined);
        assert_eq!(Text::String.lenient(s("1")), s("1"));
        assert_eq!(Text::Json.lenient(Prop::Null), Prop::Undefined);
    }

    #[test]
    fn environment_text_reads_per_kind() {
        assert_eq!(Text::Boolean.read("1"), Prop::Bool(true));
        assert_eq!(Text::Boolean.read("false"), Prop::Bool(false));
        assert_eq!(Text::Boolean.read("yes"), Prop::String("yes".into()));
        assert_eq!(Text::Number.read("70.5"), Prop::Number(70.5));
        assert_eq!(Text::Number.read("abc"), Prop::String("abc".into()));
        assert_eq!(Text::Number.read(""), Prop::String("".into()));
        assert_eq!(Text::String.read("1"), Prop::String("1".into()));
        assert_eq!(
            Text::Json.read(r#"["/bin/cp", 1]"#),
            Prop::List(vec![Prop::String("/bin/cp".into()), Prop::Number(1.0)])
        );
        assert_eq!(Text::Json.read("cp"), Prop::String("cp".into()));
        assert_eq!(Text::Json.read("{}"), Prop::Other("object"));
    }

    #[test]
    fn a_command_is_a_non_empty_array_of_strings() {
        let defaults = crate::options::Defaults {
            dir: "/".into(),
            dir_source: "the working directory",
            pid: 1,
            cwd: "/".into(),
        };
        let check = |p: Prop| Command.check("option `exportCommand`", &p, &defaults);
        let strings =
            |s: &[&str]| Prop::List(s.iter().map(|s| Prop::String((*s).into())).collect());
        assert_eq!(check(Prop::Undefined), Ok(None));
        assert_eq!(
            check(strings(&["/bin/cp", "-t", "/out"])),
            Ok(Some(vec!["/bin/cp".into(), "-t".into(), "/out".into()]))
        );
        for (bad, message) in [
            (
                Prop::String("/bin/cp".into()),
                "option `exportCommand` must be a non-empty array of strings (the command, then its arguments), got \"/bin/cp\"",
            ),
            (
                strings(&[]),
                "option `exportCommand` must be a non-empty array of strings (the command, then its arguments), got []",
            ),
            (
                strings(&[""]),
                "option `exportCommand` must be a non-empty array of strings (the command, then its arguments), got [\"\"]",
            ),
            (
                Prop::List(vec![Prop::String("cp".into()), Prop::Number(3.0)]),
                "option `exportCommand` must be a non-empty array of strings (the command, then its arguments), got [\"cp\", 3]",
            ),
            (
                strings(&["cp", "a\0b"]),
                "option `exportCommand` must be a non-empty array of strings without NUL bytes or lone surrogates, got [\"cp\", \"a\\0b\"]",
            ),
        ] {
            assert_eq!(check(bad).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn one_of_lists_its_choices() {
        let three = OneOf {
            choices: &[("a", 1), ("b", 2), ("c", 3)],
            default: 1,
        };
        let defaults = crate::options::Defaults {
            dir: "/".into(),
            dir_source: "the working directory",
            pid: 1,
            cwd: "/".into(),
        };
        let e = three.check("x", &Prop::Bool(true), &defaults).unwrap_err();
        assert_eq!(e.to_string(), "x must be \"a\", \"b\" or \"c\", got true");
        assert_eq!(
            three.check("x", &Prop::String("c".into()), &defaults),
            Ok(3)
        );
        assert_eq!(three.report(&2), Reported::String("b".into()));
        assert_eq!(three.default_doc(), "`\"a\"`");
    }
}
