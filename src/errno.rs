//! The one conversion of operating-system errors for JavaScript.
//!
//! Everything native works with `io::Result`; at the boundary an error becomes
//! a negative errno, the number libuv (and so Node) reports as `err.errno`.
//! JavaScript turns that number into `code` and message text with
//! `util.getSystemErrorMap()`, so no errno table is kept here.

use std::io;

/// Returns the negative errno that Node would report for `error`.
///
/// Errors that carry no OS code (they come from argument checks inside
/// socket2 or std) map to the closest errno a system call would have given.
pub fn errno_of(error: &io::Error) -> i32 {
  if let Some(code) = error.raw_os_error() {
    return -code;
  }
  let code = match error.kind() {
    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => libc::EINVAL,
    io::ErrorKind::OutOfMemory => libc::ENOMEM,
    io::ErrorKind::Unsupported => libc::ENOTSUP,
    io::ErrorKind::PermissionDenied => libc::EACCES,
    io::ErrorKind::NotFound => libc::ENOENT,
    io::ErrorKind::AddrInUse => libc::EADDRINUSE,
    io::ErrorKind::AddrNotAvailable => libc::EADDRNOTAVAIL,
    _ => libc::EIO,
  };
  -code
}

/// Returns 0 for success or the negative errno of the failure, the way
/// libuv-style handle methods report to JavaScript.
pub fn status_of(result: io::Result<()>) -> i32 {
  match result {
    Ok(()) => 0,
    Err(error) => errno_of(&error),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn os_errors_keep_their_number() {
    let error = io::Error::from_raw_os_error(libc::EADDRINUSE);
    assert_eq!(errno_of(&error), -libc::EADDRINUSE);
  }

  #[test]
  fn errors_without_a_number_map_by_kind() {
    let error = io::Error::new(io::ErrorKind::InvalidInput, "path too long");
    assert_eq!(errno_of(&error), -libc::EINVAL);
    assert_eq!(status_of(Ok(())), 0);
  }
}
