//! JSON forms of byte fields (`docs/PROTOCOL.md` §6): fixed-size values (hashes, addresses,
//! signatures) as `0x`-prefixed lowercase hex, variable-length binary blobs as standard base64
//! with padding, and `u64` values that routinely exceed 2^53 as decimal strings. Readers also
//! accept hex without the `0x` prefix and in upper case.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use super::Hex;

fn parse_hex<E: serde::de::Error>(s: &str, out: &mut [u8]) -> Result<(), E> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if t.len() != out.len() * 2 {
        return Err(E::custom(format!(
            "expected {} bytes as hex ({} digits), got {} digits",
            out.len(),
            out.len() * 2,
            t.len()
        )));
    }
    hex::decode_to_slice(t, out).map_err(|_| E::custom("invalid hex digit"))
}

/// `[u8; N]` as `0x…` hex.
pub mod hex_array {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        parse_hex::<D::Error>(&s, &mut out)?;
        Ok(out)
    }
}

/// `Vec<[u8; 32]>` as a list of `0x…` hex strings.
pub mod hex_hash_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&alloc::string::ToString::to_string(&Hex(h)))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| {
                let mut out = [0u8; 32];
                parse_hex::<D::Error>(s, &mut out).map(|_| out)
            })
            .collect()
    }
}

/// `Vec<u8>` as standard base64.
pub mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::encoding::base64_encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&s)
            .map_err(|_| D::Error::custom("invalid base64 (standard alphabet, padded)"))
    }
}

/// `Vec<Vec<u8>>` as a list of base64 strings.
pub mod base64_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&crate::encoding::base64_encode(b))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| {
                <base64ct::Base64 as base64ct::Encoding>::decode_vec(s)
                    .map_err(|_| D::Error::custom("invalid base64 (standard alphabet, padded)"))
            })
            .collect()
    }
}

/// An unsigned integer (`u64`, `u128`) as a canonical decimal string (exact in JavaScript).
pub mod dec_string {
    use super::*;
    use core::fmt::Display;
    use core::str::FromStr;

    pub fn serialize<S: Serializer, T: Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: FromStr>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        let canonical = !s.is_empty()
            && s.bytes().all(|c| c.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !canonical {
            return Err(D::Error::custom(
                "expected an unsigned decimal string without sign or leading zeros",
            ));
        }
        s.parse()
            .map_err(|_| D::Error::custom("decimal string is out of range"))
    }
}
