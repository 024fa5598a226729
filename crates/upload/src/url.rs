//! `s3://bucket/prefix`: where the `upload` option puts objects.

use std::fmt;

/// A checked `s3://bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("must start with s3://")]
    Scheme,
    #[error("bucket name {0:?} is not a valid S3 bucket name (3 to 63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit)")]
    Bucket(String),
    #[error("prefix {0:?} has an empty, '.' or '..' segment, or a control character")]
    Prefix(String),
}

impl S3Url {
    pub fn parse(text: &str) -> Result<S3Url, UrlError> {
        let rest = text.strip_prefix("s3://").ok_or(UrlError::Scheme)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(UrlError::Bucket(bucket.to_owned()));
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let bad_segment = |s: &str| s.is_empty() || s == "." || s == "..";
        if !prefix.is_empty()
            && (prefix.split('/').any(bad_segment) || prefix.chars().any(char::is_control))
        {
            return Err(UrlError::Prefix(prefix.to_owned()));
        }
        Ok(S3Url {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

fn valid_bucket(b: &str) -> bool {
    let bytes = b.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !b.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let u = S3Url::parse("s3://dumps/prod/api/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("dumps", "prod/api")
        );
        assert_eq!(u.key("x"), "prod/api/x");
        assert_eq!(u.to_string(), "s3://dumps/prod/api");
        let u = S3Url::parse("s3://dumps").unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("dumps", ""));
        assert_eq!(u.key("x"), "x");
    }

    #[test]
    fn refuses_what_is_not_a_bucket_url() {
        assert_eq!(S3Url::parse("https://b/x"), Err(UrlError::Scheme));
        assert_eq!(S3Url::parse("dumps"), Err(UrlError::Scheme));
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Dumps",
            "s3://-ab",
            "s3://a..b",
            "s3://a_b/x",
        ] {
            assert!(
                matches!(S3Url::parse(bad), Err(UrlError::Bucket(_))),
                "{bad}"
            );
        }
        for bad in [
            "s3://dumps//x",
            "s3://dumps/a/../b",
            "s3://dumps/./a",
            "s3://dumps/a\nb",
        ] {
            assert!(
                matches!(S3Url::parse(bad), Err(UrlError::Prefix(_))),
                "{bad}"
            );
        }
    }
}
