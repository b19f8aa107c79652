//! rs-net benchmark load generator.
//!
//! Drives a server under test (started by `bench/run.js` in another process)
//! over loopback TCP and prints JSON lines on stdout: progress events, then
//! one `{"event":"result",…}` (or `{"event":"error",…}` with exit status 1).
//!
//! ```text
//! loadgen churn    --addr A [--server-pid P] [--clients 50] [--warmup-ms 1000] [--duration-ms 5000]
//! loadgen echo     --addr A [--server-pid P] [--connections 50] [--size 64] [--warmup-ms …] [--duration-ms …]
//! loadgen bulk-in  --addr A [--server-pid P] [--bytes 1073741824] [--warmup-bytes 67108864]
//! loadgen bulk-out --addr A [--server-pid P] [--bytes …] [--warmup-bytes …]
//! loadgen hold     --addr A [--connections 10000] [--parallel 128] [--hold-max-ms 120000]
//! loadgen exec     [--server-pid P] -- command args…
//! ```
//! Common options: `--threads N` (tokio worker threads, default 1: one core
//! for the load, the other for the server, on the 2-core machine this was
//! written on), `--sources N` (loopback source addresses, default 16),
//! `--op-timeout-ms` (bound on any single operation).

mod args;
mod bulk;
mod churn;
mod connect;
mod echo;
mod exec;
mod failures;
mod histogram;
mod hold;
mod json;
mod measure;

use std::process::ExitCode;
use std::time::Duration;

use args::Options;
use connect::Dialer;
use json::JsonObject;

/// The error type of everything that ends a run.
pub type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
  let args: Vec<String> = std::env::args().skip(1).collect();
  match run(&args) {
    Ok(report) => {
      let report = report
        .string("event", "result")
        .uint("self_cpu_ns", measure::rusage_cpu_ns(libc::RUSAGE_SELF))
        .uint(
          "children_cpu_ns",
          measure::rusage_cpu_ns(libc::RUSAGE_CHILDREN),
        );
      println!("{}", report.finish());
      ExitCode::SUCCESS
    }
    Err(error) => {
      let report = JsonObject::new()
        .string("event", "error")
        .string("message", &error.to_string());
      println!("{}", report.finish());
      ExitCode::FAILURE
    }
  }
}

/// Parses the mode and its options and runs it.
fn run(args: &[String]) -> Fallible<JsonObject> {
  let (mode, rest) = args
    .split_first()
    .ok_or("usage: loadgen churn|echo|bulk-in|bulk-out|hold|exec --option value …")?;
  let mut options = Options::parse(rest)?;
  let server_pid = options.server_pid()?;
  if mode == "exec" {
    let command = std::mem::take(&mut options.rest);
    options.finish()?;
    return exec::run(&command, server_pid);
  }

  let threads = options.u64_or("threads", 1)?;
  let dialer = Dialer::new(
    options.loopback_addr()?,
    options.u64_or("sources", 16)? as u32,
  );
  let runtime = if threads <= 1 {
    tokio::runtime::Builder::new_current_thread()
      .enable_all()
      .build()?
  } else {
    tokio::runtime::Builder::new_multi_thread()
      .worker_threads(threads as usize)
      .enable_all()
      .build()?
  };
  let warmup = |options: &mut Options| options.millis_or("warmup-ms", 1000);
  let duration = |options: &mut Options| options.millis_or("duration-ms", 5000);

  let report = match mode.as_str() {
    "churn" => {
      let churn = churn::Churn {
        dialer,
        clients: options.u64_or("clients", 50)?,
        warmup: warmup(&mut options)?,
        duration: duration(&mut options)?,
        op_timeout: options.millis_or("op-timeout-ms", 10_000)?,
        server_pid,
      };
      options.finish()?;
      runtime.block_on(churn.run())?
    }
    "echo" => {
      let echo = echo::Echo {
        dialer,
        connections: options.u64_or("connections", 50)?,
        message_size: options.u64_or("size", 64)?.clamp(1, 1 << 20) as usize,
        warmup: warmup(&mut options)?,
        duration: duration(&mut options)?,
        op_timeout: options.millis_or("op-timeout-ms", 10_000)?,
        server_pid,
      };
      options.finish()?;
      runtime.block_on(echo.run())?
    }
    "bulk-in" | "bulk-out" => {
      let bulk = bulk::Bulk {
        dialer,
        direction: if mode == "bulk-in" {
          bulk::Direction::In
        } else {
          bulk::Direction::Out
        },
        bytes: options.u64_or("bytes", 1 << 30)?,
        warmup_bytes: options.u64_or("warmup-bytes", 64 << 20)?,
        op_timeout: options.millis_or("op-timeout-ms", 120_000)?,
        server_pid,
      };
      options.finish()?;
      runtime.block_on(bulk.run())?
    }
    "hold" => {
      let hold = hold::Hold {
        dialer,
        connections: options.u64_or("connections", 10_000)?,
        parallel: options.u64_or("parallel", 128)?,
        op_timeout: options.millis_or("op-timeout-ms", 30_000)?,
        hold_max: options.millis_or("hold-max-ms", 120_000)?,
      };
      options.finish()?;
      runtime.block_on(hold.run())?
    }
    other => return Err(format!("unknown mode {other:?}").into()),
  };
  // Tasks still parked (none in a finished run) must not delay the exit.
  runtime.shutdown_timeout(Duration::from_secs(1));
  Ok(report.string("mode", mode))
}
