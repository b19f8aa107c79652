//! Echo: long-lived connections, each writing a message and waiting for its
//! echo before writing the next (one request in flight per connection).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connect::Dialer;
use crate::failures::Failures;
use crate::histogram::Histogram;
use crate::json::JsonObject;
use crate::measure::{timed_window, Phase};
use crate::Fallible;

/// What the connections share.
#[derive(Default)]
struct Shared {
  phase: Phase,
  /// Round trips completed at any time (checked against the server's count
  /// of echoed bytes).
  completed: AtomicU64,
  failures: Failures,
}

/// Settings of an echo run.
pub struct Echo {
  /// The server under test.
  pub dialer: Dialer,
  /// Concurrent connections.
  pub connections: u64,
  /// Bytes per message.
  pub message_size: usize,
  /// Warm-up before the measured window.
  pub warmup: Duration,
  /// Length of the measured window.
  pub duration: Duration,
  /// Longest a single round trip may take before the connection gives up.
  pub op_timeout: Duration,
  /// Server process whose CPU time is measured.
  pub server_pid: Option<u32>,
}

impl Echo {
  /// Connects, then runs every connection through warm-up and the window.
  pub async fn run(self) -> Fallible<JsonObject> {
    let shared = Arc::new(Shared::default());
    let mut streams = Vec::new();
    for sequence in 0..self.connections {
      streams.push(self.dialer.connect(sequence).await?);
    }
    let mut workers = Vec::new();
    for (index, stream) in streams.into_iter().enumerate() {
      let shared = shared.clone();
      // Distinct bytes per connection, so a crossed echo would be caught.
      let message: Vec<u8> = (0..self.message_size).map(|i| (index + i) as u8).collect();
      let op_timeout = self.op_timeout;
      workers.push(tokio::spawn(async move {
        connection(&shared, stream, message, op_timeout).await
      }));
    }
    let window = timed_window(&shared.phase, self.server_pid, self.warmup, self.duration).await?;
    let mut latency = Histogram::default();
    for worker in workers {
      latency.merge(&worker.await?);
    }
    let report = JsonObject::new()
      .uint("round_trips", latency.count())
      .uint(
        "total_round_trips",
        shared.completed.load(Ordering::Relaxed),
      )
      .raw("latency", &latency.to_json())
      .raw("window", &window.to_json());
    Ok(shared.failures.add_to(report))
  }
}

/// One connection's loop; returns the latencies of the round trips that
/// completed inside the measured window.
async fn connection(
  shared: &Shared,
  mut stream: TcpStream,
  message: Vec<u8>,
  op_timeout: Duration,
) -> Histogram {
  let mut latency = Histogram::default();
  let mut reply = vec![0u8; message.len()];
  while !shared.phase.done() {
    let started = Instant::now();
    let round_trip = async {
      stream.write_all(&message).await?;
      stream.read_exact(&mut reply).await?;
      Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(op_timeout, round_trip).await {
      Ok(Ok(())) if reply == message => {
        shared.completed.fetch_add(1, Ordering::Relaxed);
        if shared.phase.measuring() {
          latency.record(started.elapsed().as_nanos() as u64);
        }
      }
      Ok(Ok(())) => {
        shared.failures.record("echo differs from what was sent");
        break;
      }
      Ok(Err(error)) => {
        shared.failures.record(format!("round trip: {error}"));
        break;
      }
      Err(_) => {
        // The stream may hold half a reply now, so it cannot be reused.
        shared
          .failures
          .record(format!("round trip took over {op_timeout:?}"));
        break;
      }
    }
  }
  latency
}
