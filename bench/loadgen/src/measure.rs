//! Clocks and CPU accounting, and the measured window of a timed workload.
//!
//! Server CPU is read from `/proc/<pid>/stat` (utime + stime, which the
//! kernel sums over every thread of the process) at both ends of the window,
//! so it covers Node's main thread, libuv's pool and rs-net's tokio threads
//! alike. Sampling here rather than in the runner puts the samples exactly at
//! the window's edges.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::json::JsonObject;

/// Clock ticks per second of the times in `/proc` (USER_HZ).
pub fn clock_ticks_per_second() -> u64 {
  // SAFETY: sysconf only reads a configuration value.
  let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
  if ticks > 0 {
    ticks as u64
  } else {
    100
  }
}

/// User plus system CPU time of every thread of `pid`, in clock ticks.
pub fn process_cpu_ticks(pid: u32) -> io::Result<u64> {
  let path = format!("/proc/{pid}/stat");
  // Name the file: the usual failure is a server that has exited.
  let text = fs::read_to_string(&path)
    .map_err(|error| io::Error::new(error.kind(), format!("{path}: {error}")))?;
  parse_cpu_ticks(&text).ok_or_else(|| {
    io::Error::new(
      io::ErrorKind::InvalidData,
      format!("{path}: unexpected format"),
    )
  })
}

/// Extracts utime + stime from a `/proc/<pid>/stat` line. The command name
/// in parentheses may contain spaces, so fields are counted after the last
/// `)`: state is field 3, utime field 14 and stime field 15.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
  let after_name = &stat[stat.rfind(')')? + 1..];
  let fields: Vec<&str> = after_name.split_whitespace().collect();
  let utime: u64 = fields.get(11)?.parse().ok()?;
  let stime: u64 = fields.get(12)?.parse().ok()?;
  Some(utime + stime)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock Node's `process.hrtime` reads,
/// so the runner can compare instants taken in the two processes.
pub fn monotonic_ns() -> u64 {
  let mut now = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
  unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
  now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time (user + system) of this process (`libc::RUSAGE_SELF`) or of its
/// waited-for children (`libc::RUSAGE_CHILDREN`), in nanoseconds.
pub fn rusage_cpu_ns(who: libc::c_int) -> u64 {
  // SAFETY: an all-zero rusage is a valid value of this plain C struct.
  let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
  // SAFETY: `usage` is a valid, writable rusage and `who` is one of the two constants.
  if unsafe { libc::getrusage(who, &mut usage) } != 0 {
    return 0;
  }
  let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
  (micros(usage.ru_utime) + micros(usage.ru_stime)) * 1000
}

/// Where a timed workload is: warming up (the default), measuring, or done.
/// Workers count only what completes while [`Phase::measuring`]; they stop
/// starting new work once [`Phase::done`].
#[derive(Default)]
pub struct Phase(AtomicU8);

const MEASURING: u8 = 1;
const DONE: u8 = 2;

impl Phase {
  /// Whether the measured window is open.
  pub fn measuring(&self) -> bool {
    self.0.load(Ordering::Acquire) == MEASURING
  }

  /// Whether the run is over.
  pub fn done(&self) -> bool {
    self.0.load(Ordering::Acquire) == DONE
  }

  fn set(&self, phase: u8) {
    self.0.store(phase, Ordering::Release);
  }
}

/// One end of a measured window.
pub struct Sample {
  at: Instant,
  server_ticks: Option<u64>,
}

impl Sample {
  /// Reads the clock and, when a server pid is known, its CPU time.
  pub fn take(server_pid: Option<u32>) -> io::Result<Sample> {
    let server_ticks = server_pid.map(process_cpu_ticks).transpose()?;
    Ok(Sample {
      at: Instant::now(),
      server_ticks,
    })
  }
}

/// The measured window: how long it lasted and what the server spent in it.
pub struct Window {
  /// Wall-clock length of the window.
  pub wall: Duration,
  /// Server CPU time over the window, when a server pid was given.
  pub server_cpu_ns: Option<u64>,
}

impl Window {
  /// The window from `start` to `end`.
  pub fn between(start: &Sample, end: &Sample) -> Window {
    let server_cpu_ns = match (start.server_ticks, end.server_ticks) {
      (Some(before), Some(after)) => {
        Some(after.saturating_sub(before) * 1_000_000_000 / clock_ticks_per_second())
      }
      _ => None,
    };
    Window {
      wall: end.at.duration_since(start.at),
      server_cpu_ns,
    }
  }

  /// `{"wall_ns":…,"server_cpu_ns":…}`; the CPU field is left out when unknown.
  pub fn to_json(&self) -> String {
    let object = JsonObject::new().uint("wall_ns", self.wall.as_nanos() as u64);
    match self.server_cpu_ns {
      Some(cpu) => object.uint("server_cpu_ns", cpu).finish(),
      None => object.finish(),
    }
  }
}

/// Runs the warm-up, then opens and closes the measured window, sampling the
/// server at both edges. Workers watch `phase` to know what to count.
pub async fn timed_window(
  phase: &Phase,
  server_pid: Option<u32>,
  warmup: Duration,
  duration: Duration,
) -> io::Result<Window> {
  tokio::time::sleep(warmup).await;
  let start = Sample::take(server_pid);
  phase.set(MEASURING);
  tokio::time::sleep(duration).await;
  phase.set(DONE);
  let end = Sample::take(server_pid);
  Ok(Window::between(&start?, &end?))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn parses_cpu_ticks_after_a_command_name_with_spaces() {
    let line = "42 (node ) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 12 0 300 1000 100";
    assert_eq!(parse_cpu_ticks(line), Some(281));
    assert_eq!(parse_cpu_ticks("42 (short) S 1"), None);
  }

  #[test]
  fn reads_this_process() {
    let pid = std::process::id();
    assert!(process_cpu_ticks(pid).is_ok());
    let before = monotonic_ns();
    assert!(monotonic_ns() >= before);
  }
}
