//! Runs another load generator (wrk) as a child and measures the server's
//! CPU time over exactly the child's run, so every figure's CPU accounting
//! comes from one place.

use std::process::{Command, Stdio};

use crate::json::JsonObject;
use crate::measure::{Sample, Window};
use crate::Fallible;

/// Runs `command`, returning its exit status and output with the window.
pub fn run(command: &[String], server_pid: Option<u32>) -> Fallible<JsonObject> {
  let (program, args) = command
    .split_first()
    .ok_or("exec needs a command after --")?;
  let start = Sample::take(server_pid)?;
  let output = Command::new(program)
    .args(args)
    .stdin(Stdio::null())
    .output()
    .map_err(|error| format!("could not run {program}: {error}"))?;
  let end = Sample::take(server_pid)?;
  let window = Window::between(&start, &end);
  let status = output.status.code().map_or(-1, i64::from);
  Ok(
    JsonObject::new()
      .raw("status", &status.to_string())
      .string("stdout", &String::from_utf8_lossy(&output.stdout))
      .string("stderr", &String::from_utf8_lossy(&output.stderr))
      .raw("window", &window.to_json())
      .uint("errors", u64::from(!output.status.success())),
  )
}
