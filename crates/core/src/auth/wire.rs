//! The byte-level pieces of SSH key formats: RFC 4251 strings and the lenient
//! base64 that Node's `Buffer.from(text, "base64")` implements.

/// Reads RFC 4251 fields (big-endian `uint32`, length-prefixed `string`) from a buffer.
///
/// Every read returns `None` when the buffer is too short, which callers turn into
/// ssh2's "Malformed …" messages.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let end = self.pos.checked_add(4)?;
        let field = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(u32::from_be_bytes([field[0], field[1], field[2], field[3]]))
    }

    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let len = usize::try_from(self.u32()?).ok()?;
        let end = self.pos.checked_add(len);
        match end.and_then(|end| self.bytes.get(self.pos..end)) {
            Some(field) => {
                self.pos += len;
                Some(field)
            }
            None => {
                self.pos = start;
                None
            }
        }
    }

    /// A string field read as text; ssh2 decodes these as (lossy) UTF-8.
    pub(crate) fn text(&mut self) -> Option<String> {
        self.string().map(|field| String::from_utf8_lossy(field).into_owned())
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    pub(crate) fn is_at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Appends an RFC 4251 string field.
pub(crate) fn put_string(out: &mut Vec<u8>, field: &[u8]) {
    // Key fields are far below 4 GiB; a longer one cannot come from a parsed key.
    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// Decodes base64 the way Node does: both the standard and the URL-safe alphabet,
/// other characters (line breaks, spaces) skipped, decoding stops at the first `=`,
/// and bits of an incomplete last byte are dropped. Never fails.
pub(crate) fn decode_base64_lenient(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_strings_and_refuses_short_fields() {
        let mut bytes = Vec::new();
        put_string(&mut bytes, b"ssh-ed25519");
        bytes.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.text().as_deref(), Some("ssh-ed25519"));
        assert_eq!(reader.string(), None, "a length beyond the buffer is refused");
        assert_eq!(reader.rest(), &[0, 0, 0, 9, 1, 2]);
        assert!(!reader.is_at_end());
    }

    #[test]
    fn lenient_base64_matches_node() {
        assert_eq!(decode_base64_lenient("aGVsbG8="), b"hello");
        assert_eq!(decode_base64_lenient("aGVs\nbG8"), b"hello", "line breaks skipped, padding optional");
        assert_eq!(decode_base64_lenient("aGVsbG8=aGVsbG8="), b"hello", "stops at the first '='");
        assert_eq!(decode_base64_lenient("-_8"), vec![0xfb, 0xff], "URL-safe alphabet accepted");
        assert_eq!(decode_base64_lenient("a"), b"", "a lone character is no whole byte");
    }
}
