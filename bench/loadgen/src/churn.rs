//! Connection churn: each client connects, sends 16 bytes, reads the 16-byte
//! echo and closes, over and over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connect::Dialer;
use crate::failures::Failures;
use crate::json::JsonObject;
use crate::measure::{timed_window, Phase};
use crate::Fallible;

/// Bytes each connection sends and expects back.
const MESSAGE: [u8; 16] = *b"rs-net churn 16b";

/// What the clients share.
#[derive(Default)]
struct Shared {
  phase: Phase,
  /// Connections completed in the measured window.
  measured: AtomicU64,
  /// Connections completed at any time (the runner checks this against the
  /// server's own count).
  completed: AtomicU64,
  failures: Failures,
}

/// Settings of a churn run.
pub struct Churn {
  /// The server under test.
  pub dialer: Dialer,
  /// Concurrent clients.
  pub clients: u64,
  /// Warm-up before the measured window.
  pub warmup: Duration,
  /// Length of the measured window.
  pub duration: Duration,
  /// Longest a single connection may take before it counts as failed.
  pub op_timeout: Duration,
  /// Server process whose CPU time is measured.
  pub server_pid: Option<u32>,
}

impl Churn {
  /// Runs the clients through warm-up and the measured window.
  pub async fn run(self) -> Fallible<JsonObject> {
    let shared = Arc::new(Shared::default());
    let mut clients = Vec::new();
    for index in 0..self.clients {
      let shared = shared.clone();
      let (dialer, stride, op_timeout) = (self.dialer, self.clients, self.op_timeout);
      clients.push(tokio::spawn(async move {
        client(&shared, dialer, index, stride, op_timeout).await;
      }));
    }
    let window = timed_window(&shared.phase, self.server_pid, self.warmup, self.duration).await?;
    for client in clients {
      client.await?;
    }
    let report = JsonObject::new()
      .uint("connections", shared.measured.load(Ordering::Relaxed))
      .uint(
        "total_connections",
        shared.completed.load(Ordering::Relaxed),
      )
      .raw("window", &window.to_json());
    Ok(shared.failures.add_to(report))
  }
}

/// One client's loop; `index` and `stride` spread its connections over the
/// dialer's source addresses.
async fn client(shared: &Shared, dialer: Dialer, index: u64, stride: u64, op_timeout: Duration) {
  let mut sequence = index;
  while !shared.phase.done() {
    let this = sequence;
    sequence += stride;
    let exchange = async move {
      let mut stream = dialer.connect(this).await?;
      stream.write_all(&MESSAGE).await?;
      let mut reply = [0u8; MESSAGE.len()];
      stream.read_exact(&mut reply).await?;
      if reply != MESSAGE {
        return Err(std::io::Error::new(
          std::io::ErrorKind::InvalidData,
          "echo differs from what was sent",
        ));
      }
      // Dropping the stream closes it: the server sees the end and closes too.
      Ok(())
    };
    match tokio::time::timeout(op_timeout, exchange).await {
      Ok(Ok(())) => {
        shared.completed.fetch_add(1, Ordering::Relaxed);
        if shared.phase.measuring() {
          shared.measured.fetch_add(1, Ordering::Relaxed);
        }
      }
      Ok(Err(error)) => {
        shared.failures.record(format!("connection: {error}"));
        // Pause so a persistent error (server gone) does not spin a core.
        tokio::time::sleep(Duration::from_millis(10)).await;
      }
      Err(_) => shared
        .failures
        .record(format!("connection took over {op_timeout:?}")),
    }
  }
}
