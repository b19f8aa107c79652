//! Failed operations, counted rather than fatal, so a run reports how many
//! went wrong (and the first reason) next to its figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::json::JsonObject;

/// A count of failures and the first one's description.
#[derive(Default)]
pub struct Failures {
  count: AtomicU64,
  first: Mutex<Option<String>>,
}

impl Failures {
  /// Records one failure.
  pub fn record(&self, what: impl std::fmt::Display) {
    if self.count.fetch_add(1, Ordering::Relaxed) == 0 {
      if let Ok(mut first) = self.first.lock() {
        *first = Some(what.to_string());
      }
    }
  }

  /// How many failures were recorded.
  pub fn count(&self) -> u64 {
    self.count.load(Ordering::Relaxed)
  }

  /// Adds `"errors"` (and `"first_error"` when there was one) to `object`.
  pub fn add_to(&self, object: JsonObject) -> JsonObject {
    let object = object.uint("errors", self.count());
    match self.first.lock().ok().and_then(|first| first.clone()) {
      Some(first) => object.string("first_error", &first),
      None => object,
    }
  }
}
