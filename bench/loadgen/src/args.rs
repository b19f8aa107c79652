//! Command-line options: `loadgen <mode> --name value ... [-- command ...]`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Fallible;

/// The `--name value` options of one invocation. Each getter consumes its
/// option, so [`Options::finish`] can reject misspelt or unused ones instead
/// of silently running with defaults.
pub struct Options {
  values: BTreeMap<String, String>,
  /// The arguments after `--`: the command that `exec` runs.
  pub rest: Vec<String>,
}

impl Options {
  /// Splits `--name value` pairs from everything after a `--`.
  pub fn parse(args: &[String]) -> Fallible<Options> {
    let mut values = BTreeMap::new();
    let mut index = 0;
    while index < args.len() {
      let arg = &args[index];
      if arg == "--" {
        return Ok(Options {
          values,
          rest: args[index + 1..].to_vec(),
        });
      }
      let name = arg
        .strip_prefix("--")
        .ok_or_else(|| format!("expected an option (--name value), got {arg:?}"))?;
      let value = args
        .get(index + 1)
        .ok_or_else(|| format!("option --{name} needs a value"))?;
      if values.insert(name.to_string(), value.clone()).is_some() {
        return Err(format!("option --{name} given twice").into());
      }
      index += 2;
    }
    Ok(Options {
      values,
      rest: Vec::new(),
    })
  }

  /// A whole number, or `default` when the option is absent.
  pub fn u64_or(&mut self, name: &str, default: u64) -> Fallible<u64> {
    match self.values.remove(name) {
      None => Ok(default),
      Some(text) => text
        .parse()
        .map_err(|_| format!("--{name} must be a whole number, got {text:?}").into()),
    }
  }

  /// A duration given in milliseconds, or `default_ms` when absent.
  pub fn millis_or(&mut self, name: &str, default_ms: u64) -> Fallible<Duration> {
    Ok(Duration::from_millis(self.u64_or(name, default_ms)?))
  }

  /// The required `--addr`: the server under test, which must be on loopback
  /// because the benchmark never sends traffic off the machine.
  pub fn loopback_addr(&mut self) -> Fallible<SocketAddr> {
    let text = self
      .values
      .remove("addr")
      .ok_or("--addr host:port is required")?;
    let addr: SocketAddr = text
      .parse()
      .map_err(|_| format!("--addr must be ip:port, got {text:?}"))?;
    if !addr.ip().is_loopback() {
      return Err(format!("--addr must be a loopback address, got {addr}").into());
    }
    Ok(addr)
  }

  /// The optional `--server-pid`, whose CPU time is measured over windows.
  pub fn server_pid(&mut self) -> Fallible<Option<u32>> {
    match self.values.remove("server-pid") {
      None => Ok(None),
      Some(text) => {
        Ok(Some(text.parse().map_err(|_| {
          format!("--server-pid must be a process id, got {text:?}")
        })?))
      }
    }
  }

  /// Fails on options that no getter asked for.
  pub fn finish(self) -> Fallible<()> {
    match self.values.keys().next() {
      None => Ok(()),
      Some(name) => Err(format!("unknown option --{name} for this mode").into()),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
  }

  #[test]
  fn reads_options_and_the_command_after_the_separator() {
    let mut options = Options::parse(&strings(&[
      "--conns",
      "5",
      "--addr",
      "127.0.0.1:80",
      "--",
      "wrk",
      "-t1",
    ]))
    .unwrap();
    assert_eq!(options.u64_or("conns", 1).unwrap(), 5);
    assert_eq!(options.u64_or("absent", 7).unwrap(), 7);
    assert_eq!(options.loopback_addr().unwrap().port(), 80);
    assert_eq!(options.rest, strings(&["wrk", "-t1"]));
    options.finish().unwrap();
  }

  #[test]
  fn rejects_unknown_and_malformed_options() {
    let options = Options::parse(&strings(&["--typo", "1"])).unwrap();
    assert!(options.finish().is_err());
    assert!(Options::parse(&strings(&["--conns"])).is_err());
    assert!(Options::parse(&strings(&["conns", "1"])).is_err());
    let mut options = Options::parse(&strings(&["--addr", "10.0.0.1:80"])).unwrap();
    assert!(options.loopback_addr().is_err());
    let mut options = Options::parse(&strings(&["--conns", "x"])).unwrap();
    assert!(options.u64_or("conns", 1).is_err());
  }
}
