//! A flat JSON object writer: the load generator's reports are small, so a
//! serializer dependency is not worth its build time.

use std::fmt::Write;

/// A JSON object built one field at a time.
#[derive(Default)]
pub struct JsonObject {
  text: String,
}

impl JsonObject {
  /// An empty object.
  pub fn new() -> Self {
    Self::default()
  }

  fn key(&mut self, key: &str) {
    self.text.push(if self.text.is_empty() { '{' } else { ',' });
    push_string(&mut self.text, key);
    self.text.push(':');
  }

  /// Adds a whole number. JavaScript reads it as a double, exact up to 2^53,
  /// far beyond any count or nanosecond span the benchmark produces.
  pub fn uint(mut self, key: &str, value: u64) -> Self {
    self.key(key);
    let _ = write!(self.text, "{value}");
    self
  }

  /// Adds a string.
  pub fn string(mut self, key: &str, value: &str) -> Self {
    self.key(key);
    push_string(&mut self.text, value);
    self
  }

  /// Adds a boolean.
  pub fn boolean(mut self, key: &str, value: bool) -> Self {
    self.key(key);
    self.text.push_str(if value { "true" } else { "false" });
    self
  }

  /// Adds an already serialized JSON value (a nested object).
  pub fn raw(mut self, key: &str, json: &str) -> Self {
    self.key(key);
    self.text.push_str(json);
    self
  }

  /// The finished object's text.
  pub fn finish(mut self) -> String {
    if self.text.is_empty() {
      self.text.push('{');
    }
    self.text.push('}');
    self.text
  }
}

/// Appends `value` as a JSON string literal.
fn push_string(out: &mut String, value: &str) {
  out.push('"');
  for c in value.chars() {
    match c {
      '"' => out.push_str("\\\""),
      '\\' => out.push_str("\\\\"),
      '\n' => out.push_str("\\n"),
      '\r' => out.push_str("\\r"),
      '\t' => out.push_str("\\t"),
      c if (c as u32) < 0x20 => {
        let _ = write!(out, "\\u{:04x}", c as u32);
      }
      c => out.push(c),
    }
  }
  out.push('"');
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn writes_fields_in_order_with_escapes() {
    let inner = JsonObject::new().uint("n", 3).finish();
    let text = JsonObject::new()
      .string("s", "a\"b\\c\nd\u{1}")
      .uint("u", 18_446_744_073_709_551_615)
      .boolean("b", false)
      .raw("o", &inner)
      .finish();
    assert_eq!(
      text,
      r#"{"s":"a\"b\\c\nd\u0001","u":18446744073709551615,"b":false,"o":{"n":3}}"#
    );
    assert_eq!(JsonObject::new().finish(), "{}");
  }
}
