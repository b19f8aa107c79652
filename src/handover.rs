//! Descriptors handed to JavaScript, tracked until a socket adopts them.
//!
//! Between `takeEvents()` and the moment a `net.Socket`'s handle opens a
//! connection's descriptor, JavaScript holds it as a bare number. If the
//! server closes in between (a `'connection'` listener calls `close()`), or
//! its environment is torn down (a terminated worker can stop anywhere),
//! the numbers no socket adopted must still be closed, once. Each listener
//! keeps its own [`HandedOver`] set, so one server can never close another
//! server's connection by number.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use socket2::SockRef;

/// The device and inode of an open descriptor: they tell whether a number
/// still names the same socket (a closed number may be reused at once).
#[derive(Clone, Copy, Debug, PartialEq)]
struct SocketIdentity {
  device: u64,
  inode: u64,
}

impl SocketIdentity {
  fn of(fd: RawFd) -> Option<Self> {
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat only writes into `stat`, and fails for a closed number.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
      return None;
    }
    // SAFETY: fstat succeeded, so it filled `stat` in.
    let stat = unsafe { stat.assume_init() };
    Some(Self {
      device: stat.st_dev,
      inode: stat.st_ino,
    })
  }
}

/// One listener's descriptors that JavaScript holds as numbers.
#[derive(Default)]
pub struct HandedOver {
  /// Each number with the socket it named when handed over.
  entries: Mutex<HashMap<RawFd, Option<SocketIdentity>>>,
}

impl HandedOver {
  fn lock(&self) -> MutexGuard<'_, HashMap<RawFd, Option<SocketIdentity>>> {
    self
      .entries
      .lock()
      .unwrap_or_else(|poison| poison.into_inner())
  }

  /// Gives `fd` to JavaScript as a number, remembering it until adopted
  /// or closed.
  pub fn hand_over(&self, fd: OwnedFd) -> RawFd {
    let identity = SocketIdentity::of(fd.as_raw_fd());
    let raw = fd.into_raw_fd();
    self.lock().insert(raw, identity);
    raw
  }

  #[cfg(test)]
  /// Whether `fd` is one of ours that no socket has adopted yet.
  pub fn holds(&self, fd: RawFd) -> bool {
    self.lock().contains_key(&fd)
  }

  /// A socket now owns `fd`: forget it.
  pub fn adopt(&self, fd: RawFd) {
    self.lock().remove(&fd);
  }

  /// Closes `fd` if it is one of ours not yet adopted; returns whether it
  /// was.
  pub fn close(&self, fd: RawFd) -> bool {
    if self.lock().remove(&fd).is_none() {
      return false;
    }
    // SAFETY: the number was handed over by this set and neither adopted
    // nor closed since (it was still here, and is removed now).
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    true
  }

  /// Takes back every descriptor still held that names the socket it was
  /// handed over as (see [`HandedOver::close_all`] for the others), for a
  /// listener that gives its connections to another.
  pub fn reclaim_all(&self) -> Vec<OwnedFd> {
    let entries = std::mem::take(&mut *self.lock());
    let mut reclaimed = Vec::new();
    for (fd, identity) in entries {
      if identity.is_some() && SocketIdentity::of(fd) == identity {
        // SAFETY: as in `close_all`: still the socket handed over, never
        // adopted, and removed from the set above, so owned here once.
        reclaimed.push(unsafe { OwnedFd::from_raw_fd(fd) });
      }
    }
    reclaimed
  }

  /// Closes every descriptor still held. A number that no longer names
  /// the socket it was handed over as was already closed by its owner
  /// (Node closes an environment's sockets before its cleanup hooks run,
  /// and a terminated worker may have adopted one without saying so) and
  /// is left alone: it may name someone else's file by now.
  pub fn close_all(&self) {
    let entries = std::mem::take(&mut *self.lock());
    for (fd, identity) in entries {
      if identity.is_some() && SocketIdentity::of(fd) == identity {
        // SAFETY: the number still names the socket handed over and
        // nothing adopted it, so it is ours to close, once (the set was
        // emptied above).
        close_with_reset(unsafe { OwnedFd::from_raw_fd(fd) });
      }
    }
  }
}

/// Closes an accepted connection that no socket took, as the kernel closes
/// one left in the backlog of a listening socket that closes: with a reset
/// (`SO_LINGER` of 0 on TCP), so that its client sees `ECONNRESET`, as
/// Node's clients do, rather than an orderly end.
pub fn close_with_reset(connection: OwnedFd) {
  // Fails only for what is no TCP socket (a Unix one), which closes as it is.
  let _ = SockRef::from(&connection).set_linger(Some(Duration::ZERO));
  drop(connection);
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::os::unix::net::UnixStream;

  fn socket() -> OwnedFd {
    let (a, _b) = UnixStream::pair().unwrap();
    OwnedFd::from(a)
  }

  #[test]
  fn unadopted_descriptors_are_closed_once() {
    let set = HandedOver::default();
    let adopted = set.hand_over(socket());
    let closed = set.hand_over(socket());
    let abandoned = set.hand_over(socket());
    let abandoned_identity = SocketIdentity::of(abandoned);
    set.adopt(adopted);
    assert!(set.close(closed));
    assert!(!set.close(closed), "a second close does nothing");
    assert!(set.holds(abandoned));
    set.close_all();
    assert!(!set.holds(abandoned));
    assert!(
      SocketIdentity::of(adopted).is_some(),
      "the adopted one stays open"
    );
    // Compared by identity: other tests may reuse the number at once.
    assert_ne!(
      SocketIdentity::of(abandoned),
      abandoned_identity,
      "the abandoned one is closed"
    );
    // SAFETY: adopted above: this test is its owner.
    drop(unsafe { OwnedFd::from_raw_fd(adopted) });
  }

  #[test]
  fn sets_do_not_close_each_others_descriptors() {
    let first = HandedOver::default();
    let second = HandedOver::default();
    let fd = first.hand_over(socket());
    assert!(!second.close(fd));
    assert!(first.holds(fd));
    assert!(first.close(fd));
  }
}
