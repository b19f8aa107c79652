//! Connections that are opened and then held open, doing nothing, until the
//! runner has measured the server: the idle-memory and burst workloads.

use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::connect::{raise_descriptor_limit, Dialer};
use crate::json::JsonObject;
use crate::measure::monotonic_ns;
use crate::Fallible;

/// Descriptors kept for everything that is not a held connection.
const SPARE_DESCRIPTORS: u64 = 64;

/// Settings of a hold run.
pub struct Hold {
  /// The server under test.
  pub dialer: Dialer,
  /// Connections to open.
  pub connections: u64,
  /// Connects in flight at once: a small number opens them steadily (idle
  /// memory), the full count opens them all at once (burst).
  pub parallel: u64,
  /// Longest one connect may take.
  pub op_timeout: Duration,
  /// Longest the connections are held when the runner never says `release`.
  pub hold_max: Duration,
}

impl Hold {
  /// Opens the connections, reports `{"event":"opened",…}` on stdout, holds
  /// them until stdin says `release` (or closes, or `hold_max` passes), then
  /// closes them all.
  pub async fn run(self) -> Fallible<JsonObject> {
    raise_descriptor_limit(self.connections + SPARE_DESCRIPTORS)?;
    let start_mono_ns = monotonic_ns();
    let started = Instant::now();
    let streams = self.open_all().await?;
    let elapsed = started.elapsed();
    println!(
      "{}",
      JsonObject::new()
        .string("event", "opened")
        .uint("count", streams.len() as u64)
        .uint("start_mono_ns", start_mono_ns)
        .uint("elapsed_ns", elapsed.as_nanos() as u64)
        .finish()
    );
    let released = wait_for_release(self.hold_max);
    drop(streams);
    Ok(
      JsonObject::new()
        .uint("connections", self.connections)
        .uint("start_mono_ns", start_mono_ns)
        .uint("open_ns", elapsed.as_nanos() as u64)
        .boolean("released", released)
        .uint("errors", 0),
    )
  }

  /// Opens every connection, keeping at most `parallel` connects in flight.
  async fn open_all(&self) -> Fallible<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(self.connections as usize);
    let mut pending = JoinSet::new();
    let mut next = 0;
    while (streams.len() as u64) < self.connections {
      while next < self.connections && (pending.len() as u64) < self.parallel.max(1) {
        let (dialer, op_timeout, sequence) = (self.dialer, self.op_timeout, next);
        pending
          .spawn(async move { tokio::time::timeout(op_timeout, dialer.connect(sequence)).await });
        next += 1;
      }
      match pending.join_next().await {
        Some(Ok(Ok(Ok(stream)))) => streams.push(stream),
        Some(Ok(Ok(Err(error)))) => {
          return Err(format!("connect {}: {error}", streams.len()).into())
        }
        Some(Ok(Err(_))) => {
          return Err(format!("a connect took over {:?}", self.op_timeout).into())
        }
        Some(Err(error)) => return Err(error.into()),
        None => break,
      }
    }
    Ok(streams)
  }
}

/// Blocks until a `release` line or the end of stdin; false if `hold_max`
/// passed first. Reading happens on its own thread because stdin has no
/// timeout of its own.
fn wait_for_release(hold_max: Duration) -> bool {
  let (sender, receiver) = mpsc::channel();
  std::thread::spawn(move || {
    for line in std::io::stdin().lock().lines() {
      match line {
        Ok(line) if line.trim() == "release" => break,
        Ok(_) => continue,
        Err(_) => break,
      }
    }
    let _ = sender.send(());
  });
  receiver.recv_timeout(hold_max).is_ok()
}
