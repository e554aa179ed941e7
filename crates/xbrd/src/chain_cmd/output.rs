//! What a chain command prints on stdout: a [`Report`], shown as JSON (`--json`, for scripts) or
//! as text for people (a headline, then the same fields as indented `name: value` lines).

use serde_json::Value;

/// The result of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// One line saying what happened or what was found.
    pub headline: String,
    /// The details (a JSON object; `--json` prints exactly this).
    pub value: Value,
}

impl Report {
    /// A report of `value` under `headline`.
    pub fn new(headline: impl Into<String>, value: Value) -> Self {
        Self {
            headline: headline.into(),
            value,
        }
    }

    /// The text `xbrd chain` prints: pretty JSON with `json`, else [`Report::text`].
    pub fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string_pretty(&self.value).unwrap_or_else(|_| self.value.to_string())
        } else {
            self.text()
        }
    }

    /// The headline and the fields as `name: value` lines, nested values indented.
    pub fn text(&self) -> String {
        let mut out = self.headline.clone();
        out.push('\n');
        write_value(&mut out, &self.value, 1);
        out
    }
}

/// A mined transaction: its hash and block.
pub fn mined(hash: impl std::fmt::Display, block: Option<u64>) -> Value {
    serde_json::json!({ "hash": hash.to_string(), "block": block })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "(empty)".into(),
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn write_value(out: &mut String, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = k.replace('_', " ");
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}{name}:\n"));
                        write_value(out, v, depth + 1);
                    }
                    _ => out.push_str(&format!("{pad}{name}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) if items.is_empty() => out.push_str(&format!("{pad}(none)\n")),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}- #{}\n", i + 1));
                        write_value(out, item, depth + 1);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_shows_every_field_under_the_headline() {
        let r = Report::new(
            "market 1 found",
            json!({ "market_id": "m", "owner": { "address": "0xab", "eth": "1" }, "members": ["a"], "terms": "" , "none": [] }),
        );
        assert_eq!(
            r.text(),
            "market 1 found\n  market id: m\n  members:\n    - a\n  none:\n    (none)\n  owner:\n    address: 0xab\n    eth: 1\n  terms: (empty)\n"
        );
        let back: Value = serde_json::from_str(&r.render(true)).unwrap();
        assert_eq!(back, r.value, "--json prints the value itself");
    }
}
