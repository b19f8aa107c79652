//! Bulk transfer over one connection, into the server or out of it.
//!
//! Into the server: the client writes the bytes, shuts down its sending
//! side, and the server answers with the count it received (8 bytes, big
//! endian) and closes. Out of the server: the client asks for a count (8
//! bytes, big endian) and the server writes that many bytes and closes. Both
//! ends check the count, so a short transfer cannot pass for a fast one.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connect::Dialer;
use crate::json::JsonObject;
use crate::measure::{Sample, Window};
use crate::Fallible;

/// Size of each write and read: large enough that system calls are not what
/// is measured.
const CHUNK: usize = 256 * 1024;

/// Which way the bytes go.
#[derive(Clone, Copy)]
pub enum Direction {
  /// Client to server.
  In,
  /// Server to client.
  Out,
}

/// Settings of a bulk run.
pub struct Bulk {
  /// The server under test.
  pub dialer: Dialer,
  /// Which way the bytes go.
  pub direction: Direction,
  /// Bytes in the measured transfer.
  pub bytes: u64,
  /// Bytes in an unmeasured transfer first (on its own connection).
  pub warmup_bytes: u64,
  /// Longest the whole measured transfer may take.
  pub op_timeout: Duration,
  /// Server process whose CPU time is measured.
  pub server_pid: Option<u32>,
}

impl Bulk {
  /// Runs the warm-up transfer, then the measured one.
  pub async fn run(self) -> Fallible<JsonObject> {
    if self.warmup_bytes > 0 {
      self.transfer(self.warmup_bytes, 0).await?;
    }
    let start = Sample::take(self.server_pid)?;
    self.transfer(self.bytes, 1).await?;
    let end = Sample::take(self.server_pid)?;
    let window = Window::between(&start, &end);
    Ok(
      JsonObject::new()
        .uint("bytes", self.bytes)
        .raw("window", &window.to_json())
        .uint("errors", 0),
    )
  }

  /// One transfer of `bytes` on a new connection, bounded by the timeout.
  async fn transfer(&self, bytes: u64, sequence: u64) -> Fallible<()> {
    let transfer = async {
      let mut stream = self.dialer.connect(sequence).await?;
      let mut buffer = vec![0x5au8; CHUNK];
      match self.direction {
        Direction::In => {
          let mut left = bytes;
          while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            stream.write_all(&buffer[..n]).await?;
            left -= n as u64;
          }
          stream.shutdown().await?;
          let mut count = [0u8; 8];
          stream.read_exact(&mut count).await?;
          expect_end(&mut stream).await?;
          check_count("server received", u64::from_be_bytes(count), bytes)
        }
        Direction::Out => {
          stream.write_all(&bytes.to_be_bytes()).await?;
          let mut received = 0u64;
          loop {
            match stream.read(&mut buffer).await? {
              0 => break,
              n => received += n as u64,
            }
          }
          check_count("client received", received, bytes)
        }
      }
    };
    match tokio::time::timeout(self.op_timeout, transfer).await {
      Ok(result) => Ok(result?),
      Err(_) => Err(format!("transfer of {bytes} bytes took over {:?}", self.op_timeout).into()),
    }
  }
}

/// Reads until the server closes, failing if it sends anything more.
async fn expect_end(stream: &mut tokio::net::TcpStream) -> io::Result<()> {
  let mut extra = [0u8; 1];
  match stream.read(&mut extra).await? {
    0 => Ok(()),
    _ => Err(io::Error::new(
      io::ErrorKind::InvalidData,
      "server sent more than the count",
    )),
  }
}

fn check_count(what: &str, actual: u64, expected: u64) -> io::Result<()> {
  if actual == expected {
    Ok(())
  } else {
    Err(io::Error::new(
      io::ErrorKind::InvalidData,
      format!("{what} {actual} bytes, expected {expected}"),
    ))
  }
}
