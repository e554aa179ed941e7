//! JSON text in and out, with WAMP's JSON conventions (exact integers of any size, byte strings
//! as `"\u0000"` + base64), through the wamp-proto JSON codec.

use std::io::Write;

use wamp_proto::{Dict, Serializer, Value};

use crate::cli::PayloadArgs;
use crate::failure::Failure;

/// Parses one JSON value.
pub fn parse(text: &str) -> Result<Value, String> {
    Serializer::Json
        .decode_value(text.as_bytes())
        .map_err(|e| e.to_string())
}

/// Parses the positional arguments (each a JSON value) and the `--kwargs` object.
pub fn parse_payload(payload: &PayloadArgs) -> Result<(Vec<Value>, Dict), Failure> {
    let args = payload
        .args
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse(text).map_err(|e| {
                Failure::Usage(format!(
                    "argument {} is not a JSON value ({e}): {text} (write strings quoted: '\"{text}\"')",
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let kwargs = match &payload.kwargs {
        None => Dict::new(),
        Some(text) => match parse(text) {
            Ok(Value::Dict(d)) => d,
            Ok(other) => {
                return Err(Failure::Usage(format!(
                    "--kwargs must be a JSON object, not a {}",
                    other.kind()
                )));
            }
            Err(e) => {
                return Err(Failure::Usage(format!(
                    "--kwargs is not JSON ({e}): {text}"
                )));
            }
        },
    };
    Ok((args, kwargs))
}

/// The JSON text of a value. Values that JSON cannot carry (non-finite floats) become `null`.
pub fn to_text(value: &Value) -> String {
    match Serializer::Json.encode_value(value) {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|_| "null".into()),
        Err(_) => replace_unencodable(value),
    }
}

fn replace_unencodable(value: &Value) -> String {
    fn clean(v: &Value) -> Value {
        match v {
            Value::Float(f) if !f.is_finite() => Value::Null,
            Value::List(items) => Value::List(items.iter().map(clean).collect()),
            Value::Dict(map) => {
                Value::Dict(map.iter().map(|(k, v)| (k.clone(), clean(v))).collect())
            }
            other => other.clone(),
        }
    }
    Serializer::Json
        .encode_value(&clean(value))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| "null".into())
}

/// Prints one JSON document as a line on stdout (flushed, so pipes see it at once).
pub fn print_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head -1`) is not worth a panic.
    let _ = writeln!(out, "{}", to_text(value));
    let _ = out.flush();
}

/// `{"args": [...], "kwargs": {...}}`.
pub fn payload_doc(args: &[Value], kwargs: &Dict) -> Dict {
    let mut doc = Dict::new();
    doc.insert("args".into(), Value::List(args.to_vec()));
    doc.insert("kwargs".into(), Value::Dict(kwargs.clone()));
    doc
}

/// `{"error": uri, "args": [...], "kwargs": {...}}`.
pub fn error_doc(uri: &str, args: &[Value], kwargs: &Dict) -> Value {
    let mut doc = Dict::new();
    doc.insert("error".into(), Value::from(uri));
    doc.extend(payload_doc(args, kwargs));
    Value::Dict(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(args: &[&str], kwargs: Option<&str>) -> PayloadArgs {
        PayloadArgs {
            args: args.iter().map(|s| s.to_string()).collect(),
            kwargs: kwargs.map(str::to_string),
        }
    }

    #[test]
    fn arguments_are_json_values_with_exact_big_integers_and_bytes() {
        let (args, kwargs) = parse_payload(&payload(
            &[
                "2",
                "\"two\"",
                "999000000000000000000",
                "\"\\u0000AAH/\"",
                "{\"a\":[1,null]}",
            ],
            Some("{\"k\": true}"),
        ))
        .unwrap();
        assert_eq!(args[0], Value::from(2));
        assert_eq!(args[1], Value::from("two"));
        assert_eq!(args[2], Value::from_u128(999_000_000_000_000_000_000));
        assert_eq!(args[3], Value::bytes(vec![0u8, 1, 0xff]));
        assert_eq!(
            args[4].as_dict().unwrap()["a"],
            Value::List(vec![Value::from(1), Value::Null])
        );
        assert_eq!(kwargs["k"], Value::Bool(true));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let err = parse_payload(&payload(&["hello"], None)).unwrap_err();
        assert!(
            matches!(&err, Failure::Usage(m) if m.contains("argument 1") && m.contains("\"hello\""))
        );
        let err = parse_payload(&payload(&[], Some("[1]"))).unwrap_err();
        assert!(matches!(&err, Failure::Usage(m) if m.contains("JSON object")));
        let err = parse_payload(&payload(&[], Some("{"))).unwrap_err();
        assert!(matches!(err, Failure::Usage(_)));
    }

    #[test]
    fn output_keeps_big_integers_and_bytes() {
        let doc = error_doc(
            "com.example.oops",
            &[
                Value::from_u128(999_000_000_000_000_000_000),
                Value::bytes(vec![0u8, 1, 0xff]),
            ],
            &Dict::new(),
        );
        assert_eq!(
            to_text(&doc),
            r#"{"error":"com.example.oops","args":[999000000000000000000,"\u0000AAH/"],"kwargs":{}}"#
        );
        assert_eq!(
            to_text(&Value::List(vec![Value::Float(f64::NAN), Value::from(1)])),
            "[null,1]"
        );
    }

    #[test]
    fn negative_integers_below_i64_stay_exact() {
        let text = "-18446744073709551617";
        let value = parse(text).unwrap();
        assert_eq!(value, Value::from(-(1i128 << 64) - 1));
        assert_eq!(to_text(&value), text);
    }
}
