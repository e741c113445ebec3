//! Reading JavaScript values into Rust ones, with an [`InputError`] naming the field when a
//! value has the wrong type. Nothing here interprets evidence.

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use otr_core::rollup::Hash;
use otr_core::UnixTime;

use crate::api;
use crate::failure::{Failure, InputError};

/// A field of an object; `undefined` and `null` read as absent.
pub fn field(obj: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `value` must be a plain object (or absent, read as `{}`) whose keys are all in `allowed`.
pub fn object(
    value: &JsValue,
    what: &'static str,
    allowed: &'static [&'static str],
) -> Result<JsValue, InputError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Object::new().into());
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(InputError::Type {
            what,
            expected: "an object",
        });
    }
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let name = key.as_string().unwrap_or_default();
        if !allowed.contains(&name.as_str()) {
            return Err(InputError::UnknownOption {
                name,
                allowed: allowed.join(", "),
            });
        }
    }
    Ok(value.clone())
}

/// Bytes from a `Uint8Array`, an `ArrayBuffer` or a string (its UTF-8 bytes).
pub fn bytes(value: &JsValue, what: &'static str) -> Result<Vec<u8>, InputError> {
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = value.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if let Some(b) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(b).to_vec());
    }
    Err(InputError::Type {
        what,
        expected: "a Uint8Array, an ArrayBuffer or a string",
    })
}

/// Text: a string, UTF-8 bytes, or an object/array written as JSON (`JSON.stringify`).
pub fn text_or_json(value: &JsValue, what: &'static str) -> Result<String, InputError> {
    if let Some(s) = value.as_string() {
        return Ok(s);
    }
    if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<ArrayBuffer>() {
        return String::from_utf8(bytes(value, what)?).map_err(|_| InputError::Encoding { what });
    }
    if value.is_object() {
        return js_sys::JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or(InputError::Type {
                what,
                expected: "JSON-serialisable",
            });
    }
    Err(InputError::Type {
        what,
        expected: "a string, a Uint8Array or a JSON object",
    })
}

/// An array of values; a single value reads as a one-element list.
pub fn list(value: &JsValue) -> Vec<JsValue> {
    if Array::is_array(value) {
        Array::from(value).iter().collect()
    } else {
        vec![value.clone()]
    }
}

/// A list of strings (one string or an array of them).
pub fn strings(value: &JsValue, what: &'static str) -> Result<Vec<String>, InputError> {
    list(value)
        .iter()
        .map(|v| {
            v.as_string().ok_or(InputError::Type {
                what,
                expected: "a string or an array of strings",
            })
        })
        .collect()
}

/// 32 bytes: hex text or a `Uint8Array`.
pub fn hash(value: &JsValue, what: &'static str) -> Result<Hash, InputError> {
    match value.as_string() {
        Some(s) => api::hash_from_text(&s, what),
        None => api::hash_from_bytes(&bytes(value, what)?, what),
    }
}

/// A non-negative integer: a number or a BigInt.
pub fn uint(value: &JsValue, what: &'static str) -> Result<u64, InputError> {
    let err = InputError::Type {
        what,
        expected: "a non-negative integer (number or BigInt)",
    };
    if let Some(n) = value.as_f64() {
        if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 {
            return Ok(n as u64);
        }
        return Err(err);
    }
    if value.is_bigint() {
        return u64::try_from(value.clone()).map_err(|_| err);
    }
    Err(err)
}

/// The verification time: Unix seconds, RFC 3339 text or a `Date`. Required: the JavaScript
/// facade passes "now" when the caller gives nothing; this layer never reads a clock.
pub fn time(options: &JsValue) -> Result<UnixTime, InputError> {
    let Some(v) = field(options, "time") else {
        return Err(InputError::Time(
            "required (Unix seconds, RFC 3339 text or a Date)".into(),
        ));
    };
    if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        return api::time_from_seconds(d.get_time() / 1000.0);
    }
    if let Some(n) = v.as_f64() {
        return api::time_from_seconds(n);
    }
    if let Some(s) = v.as_string() {
        return api::time_from_text(&s);
    }
    Err(InputError::Type {
        what: "options.time",
        expected: "Unix seconds, RFC 3339 text or a Date",
    })
}

/// The settings shared by every evidence check: time, policy, trust anchors.
pub fn settings(options: &JsValue) -> Result<api::Settings, Failure> {
    let mut s = api::Settings::new(time(options)?);
    if let Some(p) = field(options, "policy") {
        // Through JSON text, so that `deny_unknown_fields` sees every key (a misspelt field
        // must not fall back to the strict default silently) and the names are the policy
        // file's.
        let text = text_or_json(&p, "options.policy")?;
        s.policy = serde_json::from_str(&text).map_err(|e| InputError::Policy(e.to_string()))?;
    }
    if let Some(t) = field(options, "trustAnchors") {
        let t = object(&t, "options.trustAnchors", crate::ANCHOR_FIELDS)?;
        let device = field(&t, "deviceRoots")
            .map(|v| strings(&v, "trustAnchors.deviceRoots"))
            .transpose()?;
        let rim = field(&t, "rimRoots")
            .map(|v| strings(&v, "trustAnchors.rimRoots"))
            .transpose()?;
        let dev = field(&t, "devRoots")
            .map(|v| strings(&v, "trustAnchors.devRoots"))
            .transpose()?
            .unwrap_or_default();
        s.anchors = api::trust_anchors(device.as_deref(), rim.as_deref(), &dev)?;
    }
    Ok(s)
}
