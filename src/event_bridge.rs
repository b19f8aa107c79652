//! Where events cross threads: from the tokio accept loop to JavaScript.
//!
//! The accept loop pushes [`ServerEvent`]s into a queue and wakes the
//! JavaScript thread through a threadsafe function only when no wake-up is
//! already pending, so a burst of connections costs one wake-up, not one per
//! connection. The wake-up carries nothing: JavaScript takes at most
//! [`BATCH_SIZE`] events per `takeEvents()` call, the first when woken and
//! the rest on later turns of its event loop, which keeps timers and I/O
//! running during a burst.
//!
//! Accepted descriptors stay owned (`OwnedFd`) until JavaScript itself takes
//! them, so whatever is still queued when the server closes, or when its
//! environment is torn down, is closed rather than leaked. (A wake-up that
//! carried the descriptors would lose them when it reaches an environment
//! that is being torn down, as a terminated worker's is: the call into
//! JavaScript fails after the descriptors were turned into numbers.)
//!
//! Taken descriptors are remembered until JavaScript reports that a
//! `net.Socket` adopted each one (`adoptConnection`) or closes it through
//! `closeConnection`: a worker terminated while its JavaScript delivers a
//! batch leaves the rest of the batch unadopted, and closing the bridge
//! closes those.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;
use tokio::sync::Notify;

use crate::listen_socket::{family_name, format_ip};

/// Most events handed to JavaScript in one call, and most connections the
/// accept loop takes in one round. It accepts the next round only once
/// fewer than this many are left waiting for JavaScript, so the queue stays
/// short and the rest wait in the kernel's backlog, as with Node.
pub const BATCH_SIZE: usize = 64;

/// Something that happened on a listening socket.
#[derive(Debug)]
pub enum ServerEvent {
  /// A connection was accepted; its descriptor goes to a `net.Socket`.
  Connection(OwnedFd),
  /// A connection refused because `maxConnections` was reached. It is
  /// closed after JavaScript has emitted `'drop'`, as Node closes it after.
  Dropped(DroppedConnection, OwnedFd),
  /// `accept(2)` failed with this (negative) errno.
  AcceptFailed(i32),
}

/// The addresses of a connection closed because of `maxConnections`, for
/// the `'drop'` event. Unix-domain connections have none.
#[derive(Debug, Default)]
pub struct DroppedConnection {
  /// The server's end (`getsockname`).
  pub local: Option<SocketAddr>,
  /// The client's end (`getpeername`).
  pub remote: Option<SocketAddr>,
}

/// A non-connection event as JavaScript sees it: `kind` is `'drop'` (with
/// the addresses Node puts on the `'drop'` event) or `'error'` (with the
/// negative `errno` of a failed `accept`).
#[napi(object)]
pub struct ServerNotice {
  /// `'drop'` or `'error'`.
  pub kind: String,
  /// For `'error'`: the negative errno.
  pub errno: Option<i32>,
  /// For `'drop'`: the server's address.
  pub local_address: Option<String>,
  /// For `'drop'`: the server's port.
  pub local_port: Option<u32>,
  /// For `'drop'`: `'IPv4'` or `'IPv6'`.
  pub local_family: Option<String>,
  /// For `'drop'`: the client's address.
  pub remote_address: Option<String>,
  /// For `'drop'`: the client's port.
  pub remote_port: Option<u32>,
  /// For `'drop'`: `'IPv4'` or `'IPv6'`.
  pub remote_family: Option<String>,
  /// For `'drop'`: whether addresses exist (false for Unix sockets).
  pub has_addresses: bool,
  /// For `'drop'` from the accept loop: the refused connection, for
  /// JavaScript to close (with `closeConnection`) once it emitted `'drop'`.
  pub fd: Option<u32>,
}

/// One delivered event: a descriptor number for a connection, an object
/// for anything else.
pub type Delivery = Either<u32, ServerNotice>;

/// Describes an accepted connection that JavaScript refuses itself (its
/// `maxConnections` check found the limit reached first), for the `'drop'`
/// event. `fd` stays open; the caller closes it.
#[napi]
pub fn describe_connection(fd: i32) -> ServerNotice {
  // SAFETY: JavaScript owns `fd` and keeps it open for the whole call.
  let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
  let socket = socket2::SockRef::from(&borrowed);
  let address =
    |result: std::io::Result<socket2::SockAddr>| result.ok().and_then(|a| a.as_socket());
  drop_notice(DroppedConnection {
    local: address(socket.local_addr()),
    remote: address(socket.peer_addr()),
  })
}

/// A descriptor handed to JavaScript and not yet adopted by a `net.Socket`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct HandedOver {
  /// The queue it came from ([`EventQueue::id`]).
  bridge: usize,
  /// Which open socket the number named when it was handed over.
  identity: Option<SocketIdentity>,
}

/// The device and inode of an open descriptor: they tell whether a number
/// still names the same socket (a closed number may be reused at once).
#[derive(Clone, Copy, Debug, PartialEq)]
struct SocketIdentity {
  device: u64,
  inode: u64,
}

impl SocketIdentity {
  fn of(fd: RawFd) -> Option<Self> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
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

/// Descriptors handed to JavaScript, by number, until adopted or closed.
/// One map for the process: numbers are unique while open, whatever
/// environment holds them.
static HANDED_OVER: Mutex<BTreeMap<RawFd, HandedOver>> = Mutex::new(BTreeMap::new());

fn handed_over() -> MutexGuard<'static, BTreeMap<RawFd, HandedOver>> {
  HANDED_OVER
    .lock()
    .unwrap_or_else(|poison| poison.into_inner())
}

/// Gives `fd` to JavaScript as a number, remembering it until adopted.
fn hand_over(fd: OwnedFd, bridge: usize) -> RawFd {
  let identity = SocketIdentity::of(fd.as_raw_fd());
  let raw = fd.into_raw_fd();
  handed_over().insert(raw, HandedOver { bridge, identity });
  raw
}

/// Closes the descriptors of `bridge` that JavaScript took but no socket
/// adopted. A number that no longer names the socket it was handed over as
/// was closed by its owner (Node closes every socket of an environment
/// before its cleanup hooks run) and is left alone.
fn close_unadopted(bridge: usize) {
  let mut map = handed_over();
  let abandoned: Vec<(RawFd, HandedOver)> = map
    .iter()
    .filter(|(_, entry)| entry.bridge == bridge)
    .map(|(fd, entry)| (*fd, *entry))
    .collect();
  for (fd, entry) in abandoned {
    map.remove(&fd);
    if entry.identity.is_some() && SocketIdentity::of(fd) == entry.identity {
      // SAFETY: the number still names the socket this bridge handed over
      // and nothing adopted it, so it is ours to close, once (it has just
      // been removed from the map).
      drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
  }
}

/// Tells rs-net that a `net.Socket` now owns `fd`, a connection JavaScript
/// took from `takeEvents()`.
#[napi]
pub fn adopt_connection(fd: i32) {
  handed_over().remove(&fd);
}

/// Closes `fd`, a connection JavaScript took from `takeEvents()` and will
/// not use. Returns false (and closes nothing) when it is no longer
/// rs-net's: already closed with its server.
#[napi]
pub fn close_connection(fd: i32) -> bool {
  if handed_over().remove(&fd).is_none() {
    return false;
  }
  // SAFETY: the number was handed over by this module and neither adopted
  // nor closed since (it was still in the map, and is removed now).
  drop(unsafe { OwnedFd::from_raw_fd(fd) });
  true
}

/// The threadsafe function that wakes JavaScript, which then takes the
/// events itself.
type WakeFunction = ThreadsafeFunction<(), (), (), Status, false>;

/// The queue between the accept loop and JavaScript.
#[derive(Default)]
struct EventQueue {
  state: Mutex<QueueState>,
  /// Signalled when JavaScript takes events (or the bridge closes).
  room: Notify,
}

#[derive(Default)]
struct QueueState {
  events: VecDeque<ServerEvent>,
  /// Connections among `events`, for the `maxConnections` check.
  connections: usize,
  /// A wake-up was sent and JavaScript has not yet drained the queue.
  wake_pending: bool,
  /// The server closed: nothing more is queued.
  closed: bool,
}

impl EventQueue {
  fn lock(&self) -> MutexGuard<'_, QueueState> {
    // A poisoned lock only means another thread panicked while holding it;
    // the queue itself is still consistent, so keep going.
    self
      .state
      .lock()
      .unwrap_or_else(|poison| poison.into_inner())
  }

  /// What tells this queue's handed-over descriptors from other servers'.
  fn id(&self) -> usize {
    std::ptr::from_ref(self) as usize
  }

  /// Removes up to one batch. When the batch is not full the queue is
  /// drained, so the next push must wake JavaScript again.
  fn take_batch(&self) -> Vec<Delivery> {
    let mut state = self.lock();
    let count = state.events.len().min(BATCH_SIZE);
    let mut batch = Vec::with_capacity(count);
    let mut connections = 0;
    for event in state.events.drain(..count) {
      connections += usize::from(matches!(event, ServerEvent::Connection(_)));
      batch.push(deliver(event, self.id()));
    }
    state.connections -= connections;
    if count < BATCH_SIZE {
      state.wake_pending = false;
    }
    drop(state);
    self.room.notify_one();
    batch
  }
}

/// Turns an event into what JavaScript receives; a connection's descriptor
/// becomes JavaScript's to own and close.
fn deliver(event: ServerEvent, bridge: usize) -> Delivery {
  match event {
    ServerEvent::Connection(fd) => Either::A(hand_over(fd, bridge) as u32),
    ServerEvent::AcceptFailed(errno) => Either::B(ServerNotice {
      kind: "error".to_owned(),
      errno: Some(errno),
      local_address: None,
      local_port: None,
      local_family: None,
      remote_address: None,
      remote_port: None,
      remote_family: None,
      has_addresses: false,
      fd: None,
    }),
    ServerEvent::Dropped(dropped, fd) => Either::B(ServerNotice {
      fd: Some(hand_over(fd, bridge) as u32),
      ..drop_notice(dropped)
    }),
  }
}

/// The `'drop'` notice for a refused connection.
fn drop_notice(dropped: DroppedConnection) -> ServerNotice {
  let address = |end: &Option<SocketAddr>| end.as_ref().map(format_ip);
  let port = |end: &Option<SocketAddr>| end.map(|address| u32::from(address.port()));
  let family = |end: &Option<SocketAddr>| end.as_ref().map(|a| family_name(a).to_owned());
  ServerNotice {
    kind: "drop".to_owned(),
    errno: None,
    local_address: address(&dropped.local),
    local_port: port(&dropped.local),
    local_family: family(&dropped.local),
    remote_address: address(&dropped.remote),
    remote_port: port(&dropped.remote),
    remote_family: family(&dropped.remote),
    has_addresses: dropped.local.is_some() || dropped.remote.is_some(),
    fd: None,
  }
}

/// The link from one listening socket's accept loop to its JavaScript
/// callback. Shared by the handle (JavaScript thread) and the accept loop.
pub struct EventBridge {
  queue: Arc<EventQueue>,
  wake: WakeFunction,
}

impl EventBridge {
  /// Creates the bridge around `callback`, which is called (without
  /// arguments) on the JavaScript thread for each wake-up. The new bridge
  /// keeps Node's event loop alive until it is unreferenced or dropped.
  pub fn new(callback: Function<'_, (), ()>) -> napi::Result<Self> {
    let queue = Arc::new(EventQueue::default());
    let wake = callback
      .build_threadsafe_function::<()>()
      .callee_handled::<false>()
      .build_callback(|_context| Ok(()))?;
    Ok(Self { queue, wake })
  }

  /// Queues `events` (from the accept loop) and wakes JavaScript unless a
  /// wake-up is already on its way. After [`EventBridge::close`], the events
  /// are dropped, which closes their descriptors.
  pub fn send(&self, events: Vec<ServerEvent>) {
    let mut state = self.queue.lock();
    if state.closed {
      return;
    }
    for event in events {
      if matches!(event, ServerEvent::Connection(_)) {
        state.connections += 1;
      }
      state.events.push_back(event);
    }
    let must_wake = !state.wake_pending;
    state.wake_pending = true;
    drop(state);
    if must_wake {
      // A failed call means the environment is being torn down; the events
      // stay queued and are closed by `close`, which its cleanup hook runs.
      let _ = self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
    }
  }

  /// Connections accepted but not yet handed to JavaScript.
  pub fn queued_connections(&self) -> usize {
    self.queue.lock().connections
  }

  /// Events waiting for JavaScript.
  pub fn queued_events(&self) -> usize {
    self.queue.lock().events.len()
  }

  /// Whether JavaScript has taken every event. The accept loop watches its
  /// socket only then.
  pub fn has_room(&self) -> bool {
    self.queue.lock().events.is_empty()
  }

  /// Waits until [`EventBridge::has_room`] (or the bridge is closed).
  pub async fn wait_for_room(&self) {
    loop {
      {
        let state = self.queue.lock();
        if state.closed || state.events.is_empty() {
          return;
        }
      }
      self.queue.room.notified().await;
    }
  }

  /// Takes the next batch for JavaScript (on its thread).
  pub fn take_batch(&self) -> Vec<Delivery> {
    self.queue.take_batch()
  }

  /// Stops queueing and closes every queued descriptor, and every one
  /// handed to JavaScript that no socket adopted.
  pub fn close(&self) {
    let mut state = self.queue.lock();
    state.closed = true;
    state.connections = 0;
    let pending = std::mem::take(&mut state.events);
    drop(state);
    drop(pending);
    close_unadopted(self.queue.id());
    self.queue.room.notify_one();
  }

  /// Makes the bridge keep Node's event loop alive (`ref`) or not (`unref`).
  /// Must be called on the JavaScript thread of `env`.
  pub fn set_referenced(&self, env: &Env, referenced: bool) -> napi::Result<()> {
    let raw = self.wake.raw();
    // SAFETY: `raw` is this bridge's live threadsafe function (it is only
    // released when `self.wake` drops) and `env` is the environment that
    // created it, on its own thread, as both calls require.
    let status = unsafe {
      if referenced {
        sys::napi_ref_threadsafe_function(env.raw(), raw)
      } else {
        sys::napi_unref_threadsafe_function(env.raw(), raw)
      }
    };
    if status == sys::Status::napi_ok {
      Ok(())
    } else {
      Err(napi::Error::from_status(Status::from(status)))
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn connection() -> ServerEvent {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ServerEvent::Connection(OwnedFd::from(a))
  }

  #[test]
  fn batches_are_bounded_and_drain_in_order() {
    let queue = EventQueue::default();
    {
      let mut state = queue.lock();
      for _ in 0..BATCH_SIZE + 3 {
        state
          .events
          .push_back(ServerEvent::AcceptFailed(-libc::ENOBUFS));
      }
      state.wake_pending = true;
    }
    assert_eq!(queue.take_batch().len(), BATCH_SIZE);
    assert!(
      queue.lock().wake_pending,
      "a full batch leaves the wake-up pending"
    );
    assert_eq!(queue.take_batch().len(), 3);
    assert!(!queue.lock().wake_pending, "a short batch means drained");
  }

  #[test]
  fn delivered_descriptors_belong_to_the_receiver() {
    let queue = EventQueue::default();
    {
      let mut state = queue.lock();
      state.events.push_back(connection());
      state.connections = 1;
    }
    let batch = queue.take_batch();
    assert_eq!(queue.lock().connections, 0);
    let Either::A(fd) = batch[0] else {
      panic!("expected a descriptor");
    };
    assert!(handed_over().contains_key(&(fd as i32)));
    adopt_connection(fd as i32);
    assert!(!handed_over().contains_key(&(fd as i32)));
    // SAFETY: the descriptor was handed over by `take_batch` and adopted
    // here; close it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    assert!(owned.as_raw_fd() >= 0);
  }

  #[test]
  fn unadopted_descriptors_are_closed_with_their_bridge() {
    let queue = EventQueue::default();
    {
      let mut state = queue.lock();
      for _ in 0..3 {
        state.events.push_back(connection());
      }
      state.connections = 3;
    }
    let fds: Vec<RawFd> = queue
      .take_batch()
      .into_iter()
      .map(|delivery| match delivery {
        Either::A(fd) => fd as RawFd,
        Either::B(_) => panic!("expected a descriptor"),
      })
      .collect();
    let abandoned = SocketIdentity::of(fds[2]);
    assert!(abandoned.is_some());
    // JavaScript adopted the first, closed the second, never got to the third.
    adopt_connection(fds[0]);
    assert!(close_connection(fds[1]));
    assert!(!close_connection(fds[1]), "closing twice is refused");
    close_unadopted(queue.id());
    assert!(
      SocketIdentity::of(fds[0]).is_some(),
      "the adopted one stays open"
    );
    // (Compared by identity: other tests may reuse the number at once.)
    assert_ne!(
      SocketIdentity::of(fds[2]),
      abandoned,
      "the abandoned one is closed"
    );
    assert!(!handed_over().contains_key(&fds[2]));
    // SAFETY: adopted above: this test is its owner.
    drop(unsafe { OwnedFd::from_raw_fd(fds[0]) });
  }

  fn connection_fd() -> OwnedFd {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    OwnedFd::from(a)
  }

  #[test]
  fn drops_carry_addresses() {
    let dropped = DroppedConnection {
      local: Some("127.0.0.1:80".parse().unwrap()),
      remote: Some("[::1]:5000".parse().unwrap()),
    };
    let Either::B(notice) = deliver(ServerEvent::Dropped(dropped, connection_fd()), 0) else {
      panic!("expected a notice");
    };
    let fd = notice.fd.expect("the refused connection is handed over") as RawFd;
    assert!(close_connection(fd), "JavaScript closes it after 'drop'");
    assert_eq!(notice.kind, "drop");
    assert_eq!(notice.local_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(notice.remote_family.as_deref(), Some("IPv6"));
    assert_eq!(notice.remote_port, Some(5000));
    assert!(notice.has_addresses);
  }
}
