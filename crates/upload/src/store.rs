//! The S3 client: `object_store`'s, configured from the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for S3-compatible servers; without keys, the instance's or pod's role), with
//! our retries and time limits.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::{S3Url, UploadError};

/// Each request: retried on connection errors, 5xx and throttling, 0.2 s then doubling up to 5 s
/// between tries, at most this many retries and this long in all.
const RETRIES: usize = 5;
const RETRY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub fn build(url: &S3Url) -> Result<AmazonS3, UploadError> {
    // TLS by rustls with ring (see Cargo.toml); an error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: RETRIES,
        retry_timeout: RETRY_TIMEOUT,
    };
    let client = ClientOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT);
    // from_env reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) itself; a plain-http endpoint (a
    // server on the same network) is allowed when it is the one given.
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_default();
    AmazonS3Builder::from_env()
        .with_bucket_name(&url.bucket)
        .with_retry(retry)
        .with_client_options(client)
        .with_allow_http(endpoint.starts_with("http://"))
        .build()
        .map_err(|e| UploadError::Setup(chain(&e)))
}

/// The error of a request on `key`, with its causes and what to check.
pub fn store_error(bucket: &str, key: &str, err: &object_store::Error) -> UploadError {
    let message = chain(err);
    // By the error's kind and S3's error codes; a bare "403" would also match a port or a time
    // in the URL (port 44033 once gave a refused connection the credentials' hint).
    let denied = matches!(
        err,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "403 Forbidden",
    ]
    .iter()
    .any(|m| message.contains(m));
    let hint = if message.contains("NoSuchBucket") {
        format!(" (bucket {bucket:?} does not exist)")
    } else if denied {
        " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN)".to_owned()
    } else if message.contains("connect") || message.contains("Connection") {
        " (is the server at AWS_ENDPOINT_URL up?)".to_owned()
    } else {
        String::new()
    };
    UploadError::Store {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: format!("{message}{hint}"),
    }
}

/// `err` and its sources, each once.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(message: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: message.into(),
        }
    }

    #[test]
    fn the_hint_goes_by_the_error_not_by_digits_in_the_url() {
        let refused = generic(
            "Error performing GET http://127.0.0.1:44033/dumps?prefix=x%2F20261206T034030Z-11991%2F: tcp connect error: Connection refused (os error 111)",
        );
        let text = store_error("dumps", "k", &refused).to_string();
        assert!(
            text.ends_with("(is the server at AWS_ENDPOINT_URL up?)"),
            "{text}"
        );
        let forbidden =
            generic("Client error with status 403 Forbidden: <Code>AccessDenied</Code>");
        let text = store_error("dumps", "k", &forbidden).to_string();
        assert!(
            text.ends_with(
                "(check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN)"
            ),
            "{text}"
        );
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "no".into(),
        };
        let text = store_error("dumps", "k", &denied).to_string();
        assert!(text.contains("(check AWS_ACCESS_KEY_ID"), "{text}");
    }
}
