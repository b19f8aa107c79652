//! `ServerHandle`: the native half of one listening server, what libuv's
//! `tcp_wrap` / `pipe_wrap` are to Node's `net.Server`.
//!
//! JavaScript drives it through Node's sequence: bind (or adopt a
//! descriptor), listen, then read addresses, ref/unref and close. Binding and
//! listening are synchronous on the JavaScript thread; `listen` then starts
//! the accept loop on the tokio runtime. Methods that touch the socket
//! return 0 (the bind methods: the Node handle's descriptor) or a negative
//! errno, and JavaScript builds Node's error from it.

use std::sync::Arc;

use napi::bindgen_prelude::{ArrayBuffer, Either, Function};
use napi::{Env, Result};
use napi_derive::napi;

use crate::accept_loop::{register, AcceptLoop, SharedSocket};
use crate::addresses::{family_name, format_ip, parse_address};
use crate::before_poll::before_next_poll;
use crate::errno::{errno_of, status_of};
use crate::event_bridge::{EventBridge, ServerNotice};
use crate::group::{ConnectionCount, GroupAddress, Member, Seat};
use crate::listen_socket::{claim, release, ListenSocket, SocketKind, TcpOptions};
use crate::node_version::NodeBehaviour;
use crate::runtime;

/// How many events JavaScript receives per call at most; a full batch means
/// more may be waiting in `takeEvents()`.
#[napi]
pub const BATCH_SIZE: u32 = crate::event_bridge::BATCH_SIZE as u32;

/// The bound address of a TCP listener, as `server.address()` returns it.
#[napi(object)]
pub struct SocketName {
  /// The IP address, e.g. `'::'` or `'127.0.0.1'`.
  pub address: String,
  /// `'IPv4'` or `'IPv6'`.
  pub family: String,
  /// The port.
  pub port: u32,
}

/// Where a handle is in its life.
enum HandleState {
  /// Made; nothing bound yet.
  Empty,
  /// Bound or adopted, not yet listening.
  Bound(ListenSocket),
  /// Listening, with its accept loop running (or, for a socket made here,
  /// waiting among the idle listeners for its first connection).
  Listening(Listener),
  /// Bound in a listener group (see [`crate::group`]), not yet listening.
  Joined(Seat),
  /// A listening member of a listener group.
  Grouped(GroupMembership),
  /// Nothing usable: `listen`'s placeholder while it runs, and what a
  /// listen that gave an inherited descriptor back leaves, until `close`
  /// empties the handle.
  Closed,
}

/// A listening socket with its accept loop and bridge: what closing stops.
/// (At its environment's teardown the handle registry drops the handle,
/// which closes it: see [`crate::handle_registry`].)
struct Listener {
  socket: Arc<ListenSocket>,
  accept: AcceptLoop,
  bridge: Arc<EventBridge>,
}

impl Listener {
  /// Stops accepting, closes queued connections and removes the socket
  /// file. The accept loop lets go of its descriptor here, on the caller's
  /// thread, without waiting for the runtime's, so the descriptor closes
  /// before this returns. The socket itself is never shut
  /// down: other descriptors of it (the Node handle's, a child process's)
  /// keep it listening until they are closed too, as with Node.
  fn stop(self) {
    self.accept.release();
    self.bridge.close();
    self.socket.remove_socket_file();
  }
}

/// A listening group member's state.
struct GroupMembership {
  member: Arc<Member>,
  /// The member's seat, which holds the group (and its socket) open.
  seat: Seat,
  /// The group's socket, for addresses (the group holds it open).
  socket: Arc<ListenSocket>,
}

impl GroupMembership {
  /// Leaves the group: the member's queued connections go to the others,
  /// and the last seat out closes the socket.
  fn leave(self) {
    self.seat.group().remove_member(&self.member);
  }
}

/// A listening socket and its accept loop, driven from JavaScript (by
/// number: see [`crate::handle_registry`]).
pub struct ServerHandle {
  state: HandleState,
  /// The duplicate handed to JavaScript's Node handle, recorded as a
  /// listening socket's so that `listen({ fd })` on it fails with `EEXIST`
  /// (the Node handle owns and closes it; it is forgotten here on close).
  public_descriptor: Option<std::os::fd::RawFd>,
}

impl Default for ServerHandle {
  fn default() -> Self {
    Self::new()
  }
}

impl ServerHandle {
  /// Makes an empty handle.
  pub fn new() -> Self {
    Self {
      state: HandleState::Empty,
      public_descriptor: None,
    }
  }

  /// Binds a TCP socket to `address` (an IP address in text) and `port`.
  /// Returns the descriptor for the Node handle (as `duplicate` makes it)
  /// or a negative errno. `EADDRINUSE` is reported by `listen`.
  pub fn bind_tcp(&mut self, address: String, port: i32, ipv6_only: bool, reuse_port: bool) -> i32 {
    if !matches!(self.state, HandleState::Empty) {
      return -libc::EINVAL;
    }
    let options = TcpOptions {
      ipv6_only,
      reuse_port,
    };
    // Node hands the port to the kernel as 16 bits.
    let bound = parse_address(&address, port as u16)
      .and_then(|address| ListenSocket::bind_tcp(address, options));
    let status = self.keep_bound(bound);
    self.duplicate_after(status)
  }

  /// Binds a Unix-domain socket to `name` (a path, or an abstract name that
  /// starts with `'\0'`). Returns the descriptor for the Node handle or a
  /// negative errno. Names that do not fit are treated as the running Node
  /// version treats them.
  pub fn bind_pipe(&mut self, env: Env, name: String) -> Result<i32> {
    if !matches!(self.state, HandleState::Empty) {
      return Ok(-libc::EINVAL);
    }
    let rules = NodeBehaviour::of(&env)?.pipe_name_rules();
    let bound = ListenSocket::bind_pipe(name.as_bytes(), rules);
    let status = self.keep_bound(bound);
    Ok(self.duplicate_after(status))
  }

  /// Takes a seat in the listener group `group` on `address` (an IP
  /// address in text) and `port`: binds the group's socket when the group
  /// is new, or shares the one it has (a port of 0 then means the group's
  /// port). Returns the descriptor for the Node handle or a negative errno:
  /// `EINVAL` when the group is on another address.
  pub fn bind_group_tcp(
    &mut self,
    group: String,
    address: String,
    port: i32,
    ipv6_only: bool,
  ) -> i32 {
    if !matches!(self.state, HandleState::Empty) {
      return -libc::EINVAL;
    }
    let address = match parse_address(&address, port as u16) {
      Ok(address) => address,
      Err(error) => return errno_of(&error),
    };
    let options = TcpOptions {
      ipv6_only,
      reuse_port: false,
    };
    let seat = Seat::take(&group, GroupAddress::tcp(address, ipv6_only), || {
      ListenSocket::bind_tcp(address, options)
    });
    let status = self.keep_seat(seat);
    self.duplicate_after(status)
  }

  /// Takes a seat in the listener group `group` on the Unix socket `name`,
  /// binding it when the group is new. Returns the descriptor for the Node
  /// handle or a negative errno.
  pub fn bind_group_pipe(&mut self, env: Env, group: String, name: String) -> Result<i32> {
    if !matches!(self.state, HandleState::Empty) {
      return Ok(-libc::EINVAL);
    }
    let rules = NodeBehaviour::of(&env)?.pipe_name_rules();
    let asked = GroupAddress::Pipe(name.as_bytes().to_vec());
    let seat = Seat::take(&group, asked, || {
      ListenSocket::bind_pipe(name.as_bytes(), rules)
    });
    let status = self.keep_seat(seat);
    Ok(self.duplicate_after(status))
  }

  /// Takes over an inherited listening (or bound) socket descriptor, or a
  /// duplicate of it when `duplicate` is true (for a descriptor another
  /// handle object still owns and is about to close). Returns 0, or
  /// `-EINVAL` when `fd` is not a TCP or Unix stream socket.
  pub fn open(&mut self, fd: i32, duplicate: bool) -> i32 {
    if !matches!(self.state, HandleState::Empty) || fd < 0 {
      return -libc::EINVAL;
    }
    let adopted = if duplicate {
      ListenSocket::adopt_duplicate(fd)
    } else {
      ListenSocket::adopt(fd)
    };
    self.keep_bound(adopted)
  }

  /// Starts listening with `backlog` (JavaScript converts it as Node's
  /// `Int32Value` does) and accepting on the tokio
  /// runtime (for a socket made here, from its first pending connection on:
  /// see [`crate::idle_listeners`]); `onevents()` is called on the JavaScript thread when events
  /// are waiting in `takeEvents()`. On a handle that already listens (one
  /// server adopting another's handle) it only applies the new backlog.
  /// Returns 0 or a negative errno (`EEXIST` for a descriptor rs-net
  /// already watches).
  pub fn listen(&mut self, env: Env, backlog: i32, onevents: Function<'_, (), ()>) -> Result<i32> {
    match std::mem::replace(&mut self.state, HandleState::Closed) {
      HandleState::Bound(socket) => match start_listening(&env, socket, backlog, onevents)? {
        Ok(listening) => {
          self.state = HandleState::Listening(listening);
          Ok(0)
        }
        Err((state, errno)) => {
          self.state = state;
          Ok(errno)
        }
      },
      HandleState::Listening(listening) => {
        let status = status_of(listening.socket.listen(backlog));
        self.state = HandleState::Listening(listening);
        Ok(status)
      }
      HandleState::Joined(seat) => {
        let (state, status) = join_listening(&env, seat, backlog, onevents)?;
        self.state = state;
        Ok(status)
      }
      // The group's backlog is its first member's.
      grouped @ HandleState::Grouped(_) => {
        self.state = grouped;
        Ok(0)
      }
      other => {
        self.state = other;
        Ok(-libc::EINVAL)
      }
    }
  }

  /// A new close-on-exec descriptor of this handle's socket, for the Node
  /// handle that stands for it in JavaScript (which owns and closes it);
  /// or a negative errno (`EBADF` before binding and after closing, `EEXIST`
  /// when this handle already gave one out).
  pub fn duplicate(&mut self) -> i32 {
    use std::os::fd::AsRawFd;
    if self.public_descriptor.is_some() {
      return -libc::EEXIST;
    }
    let Some(socket) = self.socket() else {
      return -libc::EBADF;
    };
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor, which `socket`
    // keeps open, and returns a new one that the caller owns.
    let duplicate = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if duplicate < 0 {
      return errno_of(&std::io::Error::last_os_error());
    }
    // A fresh number, not yet anyone's.
    let _ = claim(duplicate);
    self.public_descriptor = Some(duplicate);
    duplicate
  }

  /// `'tcp'` or `'pipe'` once bound or adopted; `null` before and after.
  pub fn kind(&self) -> Option<&'static str> {
    self.socket().map(|socket| match socket.kind() {
      SocketKind::Tcp => "tcp",
      SocketKind::Pipe => "pipe",
    })
  }

  /// The bound IP address and port (`getsockname`), or a negative errno.
  pub fn getsockname(&self) -> Either<SocketName, i32> {
    let Some(socket) = self.socket() else {
      return Either::B(-libc::EBADF);
    };
    match socket.local_inet_address() {
      Ok(address) => Either::A(SocketName {
        address: format_ip(&address),
        family: family_name(&address).to_owned(),
        port: u32::from(address.port()),
      }),
      Err(error) => Either::B(errno_of(&error)),
    }
  }

  /// Grants everyone read and/or write access to the socket file
  /// (`readableAll` / `writableAll`). Returns 0 or a negative errno.
  pub fn grant_access(&self, readable: bool, writable: bool) -> i32 {
    match self.socket() {
      Some(socket) => status_of(socket.grant_access_to_all(readable, writable)),
      None => -libc::EBADF,
    }
  }

  /// Stops accepting and closes the socket (removing a Unix socket file
  /// this handle created). Connections already delivered stay open. The
  /// handle is empty again: JavaScript may bind it anew (making a handle
  /// costs more than reusing one).
  pub fn close(&mut self) {
    if let Some(fd) = self.public_descriptor.take() {
      release(fd);
    }
    match std::mem::replace(&mut self.state, HandleState::Empty) {
      HandleState::Listening(listener) => listener.stop(),
      HandleState::Bound(socket) => drop(socket),
      HandleState::Joined(seat) => drop(seat),
      HandleState::Grouped(membership) => membership.leave(),
      HandleState::Empty | HandleState::Closed => {}
    }
  }

  /// Makes a listening handle keep the process alive (the default).
  pub fn reference(&self, env: Env) -> Result<()> {
    self.set_referenced(&env, true)
  }

  /// Lets the process exit while this handle listens.
  pub fn unref(&self, env: Env) -> Result<()> {
    self.set_referenced(&env, false)
  }

  /// Records how many connections a group member's server counts as open,
  /// which the group balances on (other handles ignore it): also before it
  /// listens (bound in the group), as the shared counter does, for a server
  /// that listens again with connections still open.
  pub fn set_connection_count(&self, count: f64) {
    // A count is never negative or huge.
    let count = count.max(0.0) as usize;
    match &self.state {
      HandleState::Joined(seat) => seat.count().set(count),
      HandleState::Grouped(membership) => membership.member.set_open(count),
      _ => {}
    }
  }

  /// An ArrayBuffer over the 32-bit count of open connections of a group
  /// member (bound or listening), which JavaScript keeps current with
  /// `Atomics.store` instead of calling `setConnectionCount`. `null` for
  /// other handles, for a count already handed out, and where the runtime
  /// cannot share memory with an ArrayBuffer.
  pub fn connection_counter<'env>(&self, env: &'env Env) -> Result<Option<ArrayBuffer<'env>>> {
    let count = match &self.state {
      HandleState::Joined(seat) => seat.count(),
      HandleState::Grouped(membership) => membership.member.count(),
      _ => return Ok(None),
    };
    if !count.share() {
      return Ok(None);
    }
    let data = count.as_ptr().cast::<u8>();
    // SAFETY: the count lives in its `Arc` allocation, four aligned bytes
    // that stay put for as long as the buffer holds the clone it is given
    // (dropped by the finalizer), and no other buffer has them (`share`).
    let buffer = unsafe {
      ArrayBuffer::from_external(
        env,
        data,
        std::mem::size_of::<u32>(),
        Arc::clone(count),
        |_, count: Arc<ConnectionCount>| drop(count),
      )
    }?;
    // A runtime without external buffers gets a copy, which is no use.
    if buffer.as_ptr() != data.cast_const() {
      return Ok(None);
    }
    Ok(Some(buffer))
  }

  /// Takes the next batch of events: descriptor numbers for connections,
  /// objects for refused connections and accept errors. Fewer than a full
  /// batch means the queue is drained and the next event wakes JavaScript
  /// again. Every descriptor taken must be adopted (`adoptConnection`) or
  /// closed (`closeConnection`); what is neither when the handle closes is
  /// closed with it.
  pub fn take_events(&self) -> Vec<Either<u32, ServerNotice>> {
    match &self.state {
      HandleState::Listening(listener) => listener.bridge.take_batch(),
      HandleState::Grouped(membership) => {
        let member = &membership.member;
        let batch = member.bridge().take_batch();
        // Counted as open until JavaScript's own count says otherwise.
        member.add_taken(
          batch
            .iter()
            .filter(|event| matches!(event, Either::A(_)))
            .count(),
        );
        batch
      }
      _ => Vec::new(),
    }
  }

  /// A `net.Socket`'s handle now owns `fd`, a connection taken from this
  /// handle's events.
  pub fn adopt_connection(&self, fd: i32) {
    if let Some(bridge) = self.bridge() {
      bridge.adopt(fd);
    }
  }

  /// Closes `fd`, a connection taken from this handle's events that no
  /// socket will adopt. Returns false (closing nothing) for any number this
  /// handle does not hold: adopted, already closed, or closed with it.
  pub fn close_connection(&self, fd: i32) -> bool {
    self
      .bridge()
      .is_some_and(|bridge| bridge.close_connection(fd))
  }
}

impl ServerHandle {
  /// The bridge of a listening handle.
  fn bridge(&self) -> Option<&EventBridge> {
    match &self.state {
      HandleState::Listening(listener) => Some(&listener.bridge),
      HandleState::Grouped(membership) => Some(membership.member.bridge()),
      _ => None,
    }
  }

  /// The socket, while bound or listening.
  fn socket(&self) -> Option<&ListenSocket> {
    match &self.state {
      HandleState::Bound(socket) => Some(socket),
      HandleState::Listening(listener) => Some(&listener.socket),
      HandleState::Joined(seat) => Some(seat.socket()),
      HandleState::Grouped(membership) => Some(&membership.socket),
      HandleState::Empty | HandleState::Closed => None,
    }
  }

  /// Stores a freshly bound socket, or returns the errno of the failure.
  fn keep_bound(&mut self, bound: std::io::Result<ListenSocket>) -> i32 {
    match bound {
      Ok(socket) => {
        self.state = HandleState::Bound(socket);
        0
      }
      Err(error) => errno_of(&error),
    }
  }

  /// What a bind method returns: after a `status` of 0, the duplicate for
  /// the Node handle (a handle that cannot make one is closed, not left
  /// bound); a failed status as it is.
  fn duplicate_after(&mut self, status: i32) -> i32 {
    if status != 0 {
      return status;
    }
    let duplicate = self.duplicate();
    if duplicate < 0 {
      self.close();
    }
    duplicate
  }

  /// Stores a seat in a group, or returns the errno of the failure.
  fn keep_seat(&mut self, seat: std::io::Result<Seat>) -> i32 {
    match seat {
      Ok(seat) => {
        self.state = HandleState::Joined(seat);
        0
      }
      Err(error) => errno_of(&error),
    }
  }

  fn set_referenced(&self, env: &Env, referenced: bool) -> Result<()> {
    match self.bridge() {
      Some(bridge) => bridge.set_referenced(env, referenced),
      None => Ok(()),
    }
  }
}

/// Registers `socket` with the runtime, starts listen(2) and the accept
/// loop. On failure, returns the state the handle keeps (bound, or closed
/// for an inherited descriptor that is given back) with the errno.
fn start_listening(
  env: &Env,
  socket: ListenSocket,
  backlog: i32,
  onevents: Function<'_, (), ()>,
) -> Result<std::result::Result<Listener, (HandleState, i32)>> {
  let runtime = match runtime::get() {
    Ok(runtime) => runtime,
    Err(error) => return Ok(Err((HandleState::Bound(socket), errno_of(&error)))),
  };
  let socket = Arc::new(socket);
  let bridge;
  let accept;
  if !socket.is_adopted() {
    // A socket made here cannot be watched already. It listens first, so
    // the reactor never sees it before listen(2) (a hang-up it would
    // report, and the accept loop would wake for, in vain), and then waits
    // among the idle listeners for its first connection, which wakes no
    // thread now or when it closes before one came.
    if let Err(error) = socket.listen(backlog) {
      return Ok(Err((still_bound(socket), errno_of(&error))));
    }
    bridge = Arc::new(EventBridge::new(env, onevents)?);
    let idle = match runtime::idle_listeners() {
      Ok(idle) => idle,
      Err(error) => {
        bridge.close();
        return Ok(Err((still_bound(socket), errno_of(&error))));
      }
    };
    accept = AcceptLoop::start_when_connected(
      &idle,
      SharedSocket(Arc::clone(&socket)),
      Arc::clone(&bridge),
    );
    // Watched from the loop's next poll on, as libuv watches Node's
    // listeners; where that cannot be arranged, at once.
    if let Some(watch) = accept.watcher() {
      if let Err(watch) = before_next_poll(env, Box::new(watch)) {
        watch();
      }
    }
  } else {
    // An inherited descriptor is registered first: one rs-net already
    // watches fails with EEXIST there, before its backlog could be changed.
    let registered = {
      let _context = runtime.enter();
      register(SharedSocket(Arc::clone(&socket)))
    };
    let registered = match registered {
      Ok(registered) => registered,
      Err((shared, error)) => {
        drop(shared);
        // The only other reference was the registration, which is gone.
        // An inherited descriptor that is already watched stays open for
        // whoever watches it, as Node leaves it when `open` fails.
        let state = match Arc::into_inner(socket) {
          Some(socket) => {
            socket.forget_descriptor();
            HandleState::Closed
          }
          None => HandleState::Closed,
        };
        return Ok(Err((state, errno_of(&error))));
      }
    };
    if let Err(error) = socket.listen(backlog) {
      drop(registered);
      return Ok(Err((still_bound(socket), errno_of(&error))));
    }
    bridge = Arc::new(EventBridge::new(env, onevents)?);
    accept = AcceptLoop::start(runtime, registered, Arc::clone(&bridge));
  }
  Ok(Ok(Listener {
    socket,
    accept,
    bridge,
  }))
}

/// The state a handle keeps when listening failed: bound again, once the
/// socket's only other reference (a registration, an unstarted loop) is
/// gone; closed if another somehow remains.
fn still_bound(socket: Arc<ListenSocket>) -> HandleState {
  match Arc::into_inner(socket) {
    Some(socket) => HandleState::Bound(socket),
    None => HandleState::Closed,
  }
}

/// Makes the member of `seat`'s group listen: the first member starts the
/// group's listen(2) and accept task. Returns the handle's new state with
/// 0, or its old one with a negative errno.
fn join_listening(
  env: &Env,
  seat: Seat,
  backlog: i32,
  onevents: Function<'_, (), ()>,
) -> Result<(HandleState, i32)> {
  let group = Arc::clone(seat.group());
  let bridge = Arc::new(EventBridge::new(env, onevents)?.observed_by(group.observer()));
  let member = match group.add_member(Arc::clone(&bridge), Arc::clone(seat.count()), backlog) {
    Ok(member) => member,
    Err(error) => {
      bridge.close();
      return Ok((HandleState::Joined(seat), errno_of(&error)));
    }
  };
  let socket = Arc::clone(seat.socket());
  Ok((
    HandleState::Grouped(GroupMembership {
      member,
      seat,
      socket,
    }),
    0,
  ))
}

impl Drop for ServerHandle {
  /// A handle that goes while listening (released by JavaScript, or at
  /// its environment's teardown: see [`crate::handle_registry`]) still
  /// stops its loop and closes its socket.
  fn drop(&mut self) {
    self.close();
  }
}
