//! HCL string literals, as tfmono writes them into `.tf`/`.hcl` files and `terraform state
//! mv` arguments.

/// Quotes `s` as an HCL double-quoted string literal that HCL (and Terraform's address parser)
/// reads back as `s`, with nothing interpolated: HCL's escapes, `${` / `%{` doubled, and
/// characters that are not printable as `\uXXXX` / `\UXXXXXXXX`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if !go_printable(c) => out.push_str(&unicode_escape(c)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `\uXXXX`, or `\UXXXXXXXX` beyond the basic plane: the escape HCL and Go share.
pub(crate) fn unicode_escape(c: char) -> String {
    let n = c as u32;
    if n < 0x10000 {
        format!("\\u{n:04x}")
    } else {
        format!("\\U{n:08x}")
    }
}

/// Go's `unicode.IsPrint`, approximated without Unicode tables: not printable are control
/// characters, spaces other than U+0020, format characters (Cf) and private-use characters.
/// (Unassigned code points are printed as-is; Terraform would escape them.)
pub(crate) fn go_printable(c: char) -> bool {
    let n = c as u32;
    let format = matches!(
        n,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x13438
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private = matches!(n, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd);
    !(c.is_control() || (c.is_whitespace() && c != ' ') || format || private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_hcl_specials() {
        assert_eq!(
            quote("git::https://h/x.git?ref=v1"),
            "\"git::https://h/x.git?ref=v1\""
        );
        assert_eq!(quote("a\"b\\c${d}%{e}$f"), "\"a\\\"b\\\\c$${d}%%{e}$f\"");
        assert_eq!(quote("a\"${x}"), "\"a\\\"$${x}\"");
        assert_eq!(quote("$${x}"), "\"$$${x}\"");
        assert_eq!(
            quote("tab\there\u{1}\u{200b}"),
            "\"tab\\there\\u0001\\u200b\""
        );
    }
}
