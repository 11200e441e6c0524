//! The two DER readers upstream's key handling goes through, rebuilt for the few shapes
//! deviceauth needs, and a DER writer.
//!
//! Upstream (Go) reads a `PUBLIC KEY` block's outer structure and ECDSA signatures with
//! `encoding/asn1` (which tolerates extra elements at the end of a SEQUENCE and bytes after
//! it, and has its own error texts), and the key material inside with `cryptobyte` (strict,
//! no error texts). [`Reader`] follows `encoding/asn1` for those shapes, error texts included,
//! so that a refused key is answered with upstream's words; [`strict`] follows `cryptobyte`.

/// An `encoding/asn1` error, rendered as Go renders it (`asn1: syntax error: ...` or
/// `asn1: structure error: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asn1Error(pub String);

impl std::fmt::Display for Asn1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn syntax(msg: &str) -> Asn1Error {
    Asn1Error(format!("asn1: syntax error: {msg}"))
}

fn structural(msg: &str) -> Asn1Error {
    Asn1Error(format!("asn1: structure error: {msg}"))
}

/// Universal tag numbers used here.
pub mod tag {
    /// INTEGER.
    pub const INTEGER: u32 = 2;
    /// BIT STRING.
    pub const BIT_STRING: u32 = 3;
    /// OBJECT IDENTIFIER.
    pub const OID: u32 = 6;
    /// SEQUENCE.
    pub const SEQUENCE: u32 = 16;
}

/// A parsed identifier and length octet group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    class: u8,
    compound: bool,
    tag: u32,
    length: usize,
}

/// Go's `parseTagAndLength`: the header at `offset`, and the offset after it.
fn header(bytes: &[u8], mut offset: usize) -> Result<(Header, usize), Asn1Error> {
    let Some(&b) = bytes.get(offset) else {
        return Err(syntax("truncated tag or length"));
    };
    offset += 1;
    let mut h = Header {
        class: b >> 6,
        compound: b & 0x20 != 0,
        tag: u32::from(b & 0x1f),
        length: 0,
    };
    if h.tag == 0x1f {
        let (tag, next) = base128(bytes, offset)?;
        if tag < 0x1f {
            return Err(syntax("non-minimal tag"));
        }
        h.tag = tag;
        offset = next;
    }
    let Some(&b) = bytes.get(offset) else {
        return Err(syntax("truncated tag or length"));
    };
    offset += 1;
    if b & 0x80 == 0 {
        h.length = usize::from(b & 0x7f);
        return Ok((h, offset));
    }
    let count = usize::from(b & 0x7f);
    if count == 0 {
        return Err(syntax("indefinite length found (not DER)"));
    }
    for _ in 0..count {
        let Some(&b) = bytes.get(offset) else {
            return Err(syntax("truncated tag or length"));
        };
        offset += 1;
        if h.length >= 1 << 23 {
            return Err(structural("length too large"));
        }
        h.length = (h.length << 8) | usize::from(b);
        if h.length == 0 {
            return Err(structural("superfluous leading zeros in length"));
        }
    }
    if h.length < 0x80 {
        return Err(structural("non-minimal length"));
    }
    Ok((h, offset))
}

/// Go's `parseBase128Int`: one arc of an OID (or a high tag number).
fn base128(bytes: &[u8], mut offset: usize) -> Result<(u32, usize), Asn1Error> {
    let mut value: i64 = 0;
    let mut shifted = 0;
    while let Some(&b) = bytes.get(offset) {
        if shifted == 5 {
            return Err(structural("base 128 integer too large"));
        }
        if shifted == 0 && b == 0x80 {
            return Err(syntax("integer is not minimally encoded"));
        }
        value = (value << 7) | i64::from(b & 0x7f);
        offset += 1;
        shifted += 1;
        if b & 0x80 == 0 {
            return u32::try_from(value)
                .ok()
                .filter(|v| i64::from(*v) <= i64::from(i32::MAX))
                .map(|v| (v, offset))
                .ok_or_else(|| structural("base 128 integer too large"));
        }
    }
    Err(syntax("truncated base 128 integer"))
}

/// Go's `parseObjectIdentifier`: the arcs of an OID's contents.
pub fn object_identifier(content: &[u8]) -> Result<Vec<u32>, Asn1Error> {
    if content.is_empty() {
        return Err(syntax("zero length OBJECT IDENTIFIER"));
    }
    let (first, mut offset) = base128(content, 0)?;
    let mut arcs = if first < 80 {
        vec![first / 40, first % 40]
    } else {
        vec![2, first - 80]
    };
    while offset < content.len() {
        let (arc, next) = base128(content, offset)?;
        arcs.push(arc);
        offset = next;
    }
    Ok(arcs)
}

/// Go's `checkInteger`: an INTEGER's contents are not empty and minimally encoded.
pub fn check_integer(content: &[u8]) -> Result<(), Asn1Error> {
    match content {
        [] => Err(structural("empty integer")),
        [0, b, ..] if b & 0x80 == 0 => Err(structural("integer not minimally-encoded")),
        [0xff, b, ..] if b & 0x80 != 0 => Err(structural("integer not minimally-encoded")),
        _ => Ok(()),
    }
}

/// A BIT STRING: its bytes and the number of unused bits in the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitString<'a> {
    /// The bytes after the unused-bits count.
    pub bytes: &'a [u8],
    /// Unused bits in the last byte (0 to 7).
    pub padding: u8,
}

impl BitString<'_> {
    /// Go's `RightAlign`: the bits shifted so that the padding is at the start.
    pub fn right_align(&self) -> Vec<u8> {
        let shift = u32::from(self.padding);
        if shift == 0 || self.bytes.is_empty() {
            return self.bytes.to_vec();
        }
        let mut out = Vec::with_capacity(self.bytes.len());
        let mut carry = 0u8;
        for b in self.bytes {
            out.push(carry | (b >> shift));
            carry = b.wrapping_shl(8 - shift);
        }
        out
    }
}

/// Go's `parseBitString`.
fn bit_string(content: &[u8]) -> Result<BitString<'_>, Asn1Error> {
    let Some((&padding, bytes)) = content.split_first() else {
        return Err(syntax("zero length BIT STRING"));
    };
    let last = bytes.last().copied().unwrap_or(0);
    if padding > 7 || (bytes.is_empty() && padding > 0) || last & ((1u16 << padding) - 1) as u8 != 0
    {
        return Err(syntax("invalid padding bits in BIT STRING"));
    }
    Ok(BitString { bytes, padding })
}

/// Go's `%+v` of an empty `fieldParameters`, part of its tag mismatch message.
const NO_PARAMS: &str = "{optional:false explicit:false application:false private:false \
     defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false}";

/// One element as `encoding/asn1`'s `parseField` reads it into a Go type.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    /// The contents.
    pub content: &'a [u8],
    /// Identifier, length and contents (a `RawValue`'s `FullBytes`).
    pub full: &'a [u8],
}

/// Reads the fields of one SEQUENCE (or the top level) in order, as `encoding/asn1` does when
/// it fills a struct: each field's tag must match, missing trailing fields are an error unless
/// optional, and anything after the last field is left unread.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    /// What has not been read.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.offset..]
    }

    /// The next element, which must be universal `tag` (constructed only for SEQUENCE).
    /// `type_name` is the Go type's name in the mismatch message.
    pub fn expect(&mut self, tag: u32, type_name: &str) -> Result<Element<'a>, Asn1Error> {
        if self.offset == self.bytes.len() {
            return Err(syntax("sequence truncated"));
        }
        let start = self.offset;
        let (h, offset) = header(self.bytes, start)?;
        let compound = tag == tag::SEQUENCE;
        if h.class != 0 || h.tag != tag || h.compound != compound {
            return Err(structural(&format!(
                "tags don't match ({tag} vs {{class:{} tag:{} length:{} isCompound:{}}}) \
                 {NO_PARAMS} {type_name} @{offset}",
                h.class, h.tag, h.length, h.compound
            )));
        }
        self.take(start, h, offset)
    }

    /// The next element of any tag, or `None` at the end (an optional `RawValue`).
    pub fn optional_any(&mut self) -> Result<Option<Element<'a>>, Asn1Error> {
        if self.offset == self.bytes.len() {
            return Ok(None);
        }
        let start = self.offset;
        let (h, offset) = header(self.bytes, start)?;
        self.take(start, h, offset).map(Some)
    }

    fn take(&mut self, start: usize, h: Header, offset: usize) -> Result<Element<'a>, Asn1Error> {
        let end = offset
            .checked_add(h.length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| syntax("data truncated"))?;
        self.offset = end;
        Ok(Element {
            content: &self.bytes[offset..end],
            full: &self.bytes[start..end],
        })
    }

    /// A SEQUENCE, as a reader over its contents.
    pub fn sequence(&mut self, type_name: &str) -> Result<Reader<'a>, Asn1Error> {
        self.expect(tag::SEQUENCE, type_name)
            .map(|e| Reader::new(e.content))
    }

    /// An OBJECT IDENTIFIER's arcs.
    pub fn object_identifier(&mut self) -> Result<Vec<u32>, Asn1Error> {
        object_identifier(self.expect(tag::OID, "ObjectIdentifier")?.content)
    }

    /// A BIT STRING.
    pub fn bit_string(&mut self) -> Result<BitString<'a>, Asn1Error> {
        bit_string(self.expect(tag::BIT_STRING, "BitString")?.content)
    }

    /// An INTEGER read into a `*big.Int`: its two's complement contents.
    pub fn big_int(&mut self) -> Result<&'a [u8], Asn1Error> {
        let content = self.expect(tag::INTEGER, "")?.content;
        check_integer(content)?;
        Ok(content)
    }

    /// An INTEGER read into a Go `int` (64 bits).
    pub fn int64(&mut self) -> Result<i64, Asn1Error> {
        let content = self.expect(tag::INTEGER, "int")?.content;
        check_integer(content)?;
        signed(content).ok_or_else(|| structural("integer too large"))
    }
}

/// A two's complement big-endian integer of at most 8 bytes.
pub fn signed(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let fill = if content[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 8];
    buf[8 - content.len()..].copy_from_slice(content);
    Some(i64::from_be_bytes(buf))
}

/// `cryptobyte`'s strict reading: one element of exactly `tag_byte` (identifier octet) at
/// the front of `input`, with a minimal definite length of at most four octets; its contents
/// and what follows. `None` on anything else.
pub fn strict(input: &[u8], tag_byte: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag_byte || t & 0x1f == 0x1f {
        return None;
    }
    let (&len_byte, rest) = rest.split_first()?;
    let (len, rest) = if len_byte & 0x80 == 0 {
        (usize::from(len_byte), rest)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 || rest.len() < count || rest[0] == 0 {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return None;
        }
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// `cryptobyte`'s `ReadASN1Integer`: a minimally encoded INTEGER's contents and what follows.
pub fn strict_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (content, rest) = strict(input, 0x02)?;
    check_integer(content).ok()?;
    Some((content, rest))
}

/// A DER element (definite, minimal length).
pub fn encode(tag_byte: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag_byte);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of the non-negative big-endian magnitude `magnitude`.
pub fn encode_unsigned(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().take_while(|b| **b == 0).count();
    let digits = &magnitude[start..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    encode(0x02, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_go() {
        let err = |b: &[u8]| Reader::new(b).sequence("publicKeyInfo").unwrap_err().0;
        assert_eq!(err(&[]), "asn1: syntax error: sequence truncated");
        assert_eq!(err(&[0x30]), "asn1: syntax error: truncated tag or length");
        assert_eq!(
            err(&[0x30, 0x80]),
            "asn1: syntax error: indefinite length found (not DER)"
        );
        assert_eq!(
            err(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]),
            "asn1: structure error: non-minimal length"
        );
        assert_eq!(
            err(&[0x30, 0x82, 0x00, 0x80]),
            "asn1: structure error: superfluous leading zeros in length"
        );
        assert_eq!(
            err(&[0x30, 0x03, 0x02]),
            "asn1: syntax error: data truncated"
        );
        assert_eq!(
            err(&[0x02, 0x01, 0x05]),
            "asn1: structure error: tags don't match (16 vs {class:0 tag:2 length:1 \
             isCompound:false}) {optional:false explicit:false application:false \
             private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false \
             omitEmpty:false} publicKeyInfo @2"
        );
        // Extra bytes after the element are left for the caller.
        let mut r = Reader::new(&[0x30, 0x00, 0xff]);
        r.sequence("x").unwrap();
        assert_eq!(r.rest(), &[0xff]);
    }

    #[test]
    fn integers_oids_and_bit_strings() {
        assert!(check_integer(&[0x00, 0x80]).is_ok());
        assert!(check_integer(&[0x00, 0x7f]).is_err());
        assert!(check_integer(&[0xff, 0x80]).is_err());
        assert!(check_integer(&[]).is_err());
        assert_eq!(signed(&[0xff]), Some(-1));
        assert_eq!(signed(&[0x01, 0x00, 0x01]), Some(65537));
        assert_eq!(
            object_identifier(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]).unwrap(),
            vec![1, 2, 840, 10045, 2, 1]
        );
        assert!(object_identifier(&[0x2a, 0x80, 0x01]).is_err());
        assert!(object_identifier(&[0x2a, 0x86]).is_err());
        let bs = bit_string(&[0x04, 0xab, 0xc0]).unwrap();
        assert_eq!(bs.right_align(), vec![0x0a, 0xbc]);
        assert!(bit_string(&[0x04, 0xab, 0xc8]).is_err());
        assert!(bit_string(&[0x01]).is_err());
        assert!(bit_string(&[]).is_err());
    }

    #[test]
    fn strict_reading_and_encoding() {
        let long = encode(0x04, &[7; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(strict(&long, 0x04).unwrap().0.len(), 300);
        assert!(strict(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0], 0x04).is_none());
        assert!(strict(&[0x04, 0x80], 0x04).is_none());
        assert!(strict(&[0x04, 0x02, 0], 0x04).is_none());
        assert_eq!(encode_unsigned(&[0, 0, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(encode_unsigned(&[0x05]), vec![0x02, 0x01, 0x05]);
        assert_eq!(encode_unsigned(&[]), vec![0x02, 0x01, 0x00]);
        assert_eq!(
            strict_integer(&[0x02, 0x01, 0x05, 0xaa]).unwrap().1,
            &[0xaa]
        );
        assert!(strict_integer(&[0x02, 0x02, 0x00, 0x05]).is_none());
    }
}
