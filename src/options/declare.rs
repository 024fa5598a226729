//! The machinery behind the table in `defs.rs`: one `declare_options!` call there becomes the typed
//! `Options` with its parser and its report to JS, and [`OPTIONS`], the names, kinds and docs that
//! the JS reader, environment variables, the README and the typings tests go through. [`RawOptions`]
//! holds what was given, before the checks.

use super::defs::OPTIONS;
use super::values::{Check, Describe};
use super::Prop;

/// One declared option, as far as names, environment variables and documentation care.
pub struct Declared {
    /// The property of the factory's options object.
    pub js: &'static str,
    /// The environment variable that sets it.
    pub env: &'static str,
    /// How errors name the property: "option `path`".
    pub label: &'static str,
    /// The field of `Options`.
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "read by tests: env names follow fields")
    )]
    pub field: &'static str,
    /// One paragraph (Markdown): what it does.
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "rendered into README by docs.rs's test")
    )]
    pub doc: &'static str,
    /// Its kind: how environment text reads, and its default.
    pub kind: &'static dyn Describe,
}

/// `kind` as the table keeps it, once it is known to check into the field's type (which also
/// settles the type of literals in it: `PositiveInteger { default: 3 }` for a `u32` field).
pub const fn kind_of<V, K: Check<Value = V>>(kind: &'static K) -> &'static dyn Describe {
    kind
}

/// Declares the factory's options; see `defs.rs`. Each entry: doc comment, `field: Type = kind`,
/// `js "name"`, `env "NAME"`, and optionally `installed <fn(&Options) -> Option<Reported>>` when JS
/// gets back something other than the kind's report of the value (`None` leaves it out).
macro_rules! declare_options {
    (@report $options:ident, $field:ident, $kind:expr) => {
        Some($crate::options::values::Check::report(&$kind, &$options.$field))
    };
    (@report $options:ident, $field:ident, $kind:expr, $installed:expr) => {{
        let installed: fn(&Options) -> Option<$crate::options::Reported> = $installed;
        installed($options)
    }};
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $kind:expr,
        js $js:literal,
        env $env:literal
        $(, installed $installed:expr)?;
    )+) => {
        /// The factory's options, checked: one field per entry of the table.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Options {
            $($(#[doc = $doc])+ pub $field: $ty,)+
        }

        /// Every declared option, in the order of the table.
        pub const OPTIONS: &[$crate::options::Declared] = &[$(
            $crate::options::Declared {
                js: $js,
                env: $env,
                label: concat!("option `", $js, "`"),
                field: stringify!($field),
                doc: concat!($($doc),+),
                kind: $crate::options::declare::kind_of::<$ty, _>(&$kind),
            },
        )+];

        impl Options {
            /// Checks every option, in table order, then what depends on several of them
            /// (`check_together`, in defs.rs); the first bad one is the error.
            pub fn parse(
                raw: &$crate::options::RawOptions,
                defaults: &$crate::options::Defaults,
            ) -> Result<Options, $crate::options::OptionError> {
                let [$($field),+] = raw.given();
                Options {
                    $($field: $crate::options::values::Check::check(
                        &$kind,
                        $field.name,
                        &$field.prop,
                        defaults,
                    )?,)+
                }
                .check_together()
            }

            /// The options as `install` gives them back to JS, in table order.
            pub fn report(&self) -> Vec<(&'static str, $crate::options::Reported)> {
                let all = [$(($js, declare_options!(@report self, $field, $kind $(, $installed)?)),)+];
                all.into_iter()
                    .filter_map(|(js, value)| Some((js, value?)))
                    .collect()
            }
        }
    };
}

pub(super) use declare_options;

/// One option as given, and how errors name it: "option `path`", or an environment variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub prop: Prop,
    pub name: &'static str,
}

/// The options as the user gave them, one per declared option in table order; missing ones are
/// `Undefined`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOptions([Given; OPTIONS.len()]);

impl RawOptions {
    /// Nothing given.
    pub fn unset() -> RawOptions {
        RawOptions(std::array::from_fn(|i| Given {
            prop: Prop::Undefined,
            name: OPTIONS[i].label,
        }))
    }

    /// The JS options object, read through `get` (a property by name), each value taken as the
    /// original package took it ([`Text::lenient`](super::values::Text::lenient)).
    pub fn from_js<E>(
        mut get: impl FnMut(&'static str) -> Result<Prop, E>,
    ) -> Result<RawOptions, E> {
        let mut raw = RawOptions::unset();
        for (given, declared) in raw.0.iter_mut().zip(OPTIONS) {
            given.prop = declared.kind.text().lenient(get(declared.js)?);
        }
        Ok(raw)
    }

    /// Sets the option of that JS name, as if the options object had it.
    #[cfg(test)]
    pub fn set(&mut self, js: &str, prop: Prop) {
        let i = OPTIONS.iter().position(|d| d.js == js);
        let i = i.unwrap_or_else(|| panic!("no option {js:?} is declared"));
        self.0[i] = Given {
            prop,
            name: OPTIONS[i].label,
        };
    }

    /// Each option as given, in table order.
    pub(super) fn given(&self) -> &[Given; OPTIONS.len()] {
        &self.0
    }

    /// Each option as given, in table order, to set.
    pub(super) fn given_mut(&mut self) -> &mut [Given; OPTIONS.len()] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_declared_once_and_env_names_follow_the_fields() {
        for (i, d) in OPTIONS.iter().enumerate() {
            assert_eq!(
                d.env,
                format!("NODE_OOM_HEAPDUMP_{}", d.field.to_uppercase()),
                "{}",
                d.js
            );
            assert!(OPTIONS[i + 1..]
                .iter()
                .all(|o| o.env != d.env && o.js != d.js));
            assert!(!d.doc.trim().is_empty() && !d.doc.contains('|'), "{}", d.js);
        }
    }
}
