//! Decoding the body of a JSON string (what lies between its quotes) into bytes, fast: a heap
//! snapshot arrives over DevTools as JSON text inside JSON strings, so this runs over every byte.

/// Appends the decoded `body` to `out`. Errors name what is wrong.
pub fn unescape_into(body: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut i = 0;
    while i < body.len() {
        let Some(k) = memchr::memchr(b'\\', &body[i..]) else {
            out.extend_from_slice(&body[i..]);
            break;
        };
        out.extend_from_slice(&body[i..i + k]);
        i += k;
        let esc = *body.get(i + 1).ok_or("string ends inside an escape")?;
        i += 2;
        let byte = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = hex4(body.get(i..i + 4))?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&unit) && body.get(i..i + 2) == Some(b"\\u") {
                    let low = hex4(body.get(i + 2..i + 6))?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err("high surrogate without low surrogate");
                    }
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                // A lone surrogate has no UTF-8 form; keep it visible as U+FFFD.
                let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            _ => return Err("unknown escape"),
        };
        out.push(byte);
    }
    Ok(())
}

fn hex4(digits: Option<&[u8]>) -> Result<u32, &'static str> {
    let digits = digits.ok_or("string ends inside a \\u escape")?;
    let text = std::str::from_utf8(digits).map_err(|_| "bad \\u escape")?;
    u32::from_str_radix(text, 16).map_err(|_| "bad \\u escape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_serde_json() {
        for s in [
            "",
            "plain",
            "{\"snapshot\":{\"meta\":1}}\n,[1,2]",
            "tab\there\\back/slash \u{8}\u{c}\r",
            "caf\u{e9} \u{1F600} \u{7f}",
        ] {
            let encoded = serde_json::to_string(s).unwrap();
            let body = &encoded.as_bytes()[1..encoded.len() - 1];
            let mut out = Vec::new();
            unescape_into(body, &mut out).unwrap();
            assert_eq!(out, s.as_bytes(), "{encoded}");
        }
        let mut out = Vec::new();
        unescape_into(br"\u00e9\ud83d\ude00\/", &mut out).unwrap();
        assert_eq!(out, "\u{e9}\u{1F600}/".as_bytes());
    }

    #[test]
    fn bad_escapes_are_errors() {
        for bad in [&br"\x"[..], br"\u12", br"abc\"] {
            assert!(unescape_into(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }
}
