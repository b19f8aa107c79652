//! Descriptors JavaScript wraps once, to learn Node's own handle classes.
//!
//! Node keeps its `TCP` and `Pipe` handle classes internal. JavaScript gets
//! them from a `net.Socket` made on a descriptor of each kind (Node picks
//! the class from what the descriptor is), then closes that socket.

use socket2::{Domain, Socket, Type};

use napi_derive::napi;

use crate::errno::errno_of;

/// A new, unconnected, close-on-exec stream socket: TCP (IPv4) when `unix`
/// is false, Unix-domain when true. Returns its descriptor, which the
/// caller owns, or a negative errno.
#[napi(catch_unwind)]
pub fn new_probe_socket(unix: bool) -> i32 {
  use std::os::fd::IntoRawFd;
  let domain = if unix { Domain::UNIX } else { Domain::IPV4 };
  match Socket::new(domain, Type::STREAM, None) {
    Ok(socket) => socket.into_raw_fd(),
    Err(error) => errno_of(&error),
  }
}
