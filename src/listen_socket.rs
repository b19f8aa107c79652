//! Listening sockets, made with socket2 the way libuv makes them for Node.
//!
//! Everything here runs on the JavaScript thread and is synchronous: Node
//! binds and listens before `server.listen()` returns, so users can read
//! `server.address().port` right away. Only accepting moves to tokio.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use napi::{Env, Result};
use napi_derive::napi;
use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

/// The size of `sockaddr_un.sun_path`: the longest name a Unix socket can
/// be bound to (a path needs no terminating NUL when it fills it).
const SUN_PATH_LEN: usize = 108;

/// What a listening socket carries: TCP (IPv4 or IPv6) or a Unix-domain
/// socket (Node calls those pipes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
  /// An `AF_INET` or `AF_INET6` stream socket.
  Tcp,
  /// An `AF_UNIX` stream socket.
  Pipe,
}

/// Socket options for a TCP listener, from `listen()`'s options.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpOptions {
  /// `ipv6Only`: set `IPV6_V6ONLY`, so `::` does not also take IPv4.
  pub ipv6_only: bool,
  /// `reusePort`: set `SO_REUSEPORT`, so several sockets share the port.
  pub reuse_port: bool,
}

/// How Unix socket names are bound; Node's versions differ.
///
/// Node 20 copies the name into `sun_path` (cutting what does not fit) and
/// binds the whole structure: a path ends at its first NUL, an abstract name
/// is padded with NULs to 108 bytes, and on close it unlinks the name up to
/// its first NUL as given (so the file of a path that was cut stays). Node
/// 22 binds exactly the name's bytes, refuses a NUL inside a path and still
/// cuts what is too long; Node 24 refuses both with `EINVAL`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipeNameRules {
  /// Bind exactly the name's bytes, and fail with `EINVAL` when a
  /// filesystem path contains a NUL (otherwise Node 20's way, above).
  pub reject_interior_nul: bool,
  /// Fail with `EINVAL` when the name does not fit in `sun_path`.
  pub reject_too_long: bool,
}

/// How `readableAll` / `writableAll` change the socket file's mode. libuv
/// changed it in 1.51.0 (in later releases of Node 22 and 24): before, the
/// bits are added to the mode the file has (nothing is done when it has
/// them already); since, the mode becomes exactly those bits (`0o444`,
/// `0o222` or `0o666`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeAccessRule {
  /// libuv before 1.51: `chmod(path, mode | wanted)` unless already granted.
  AddToMode,
  /// libuv 1.51 and later: `fchmod(fd, wanted)`, then `chmod(path, wanted)`.
  SetExactly,
}

impl PipeAccessRule {
  /// The rule of the libuv inside the running Node.
  fn of_running_libuv() -> Self {
    // 1.51.0 as libuv encodes versions: major << 16 | minor << 8 | patch.
    if crate::node_loop::libuv_version() >= 0x01_33_00 {
      Self::SetExactly
    } else {
      Self::AddToMode
    }
  }
}

/// A bound (and later listening) socket, owned until it is dropped.
///
/// Dropping it closes the descriptor and, for a Unix socket this process
/// bound by path, removes the socket file, as libuv does when Node closes a
/// pipe server. Like libuv, it never closes an inherited stdio descriptor
/// (0, 1 or 2).
#[derive(Debug)]
pub struct ListenSocket {
  /// Closed by `Drop` when `close_on_drop` says so.
  socket: ManuallyDrop<Socket>,
  close_on_drop: bool,
  kind: SocketKind,
  /// `EADDRINUSE` from `bind(2)`: libuv keeps it and reports it from
  /// `listen()`, which is why Node's message says `listen EADDRINUSE`.
  delayed_error: Option<i32>,
  /// The socket file to remove on close. Taken (and removed) by
  /// [`ListenSocket::remove_socket_file`] when the server closes, so that a
  /// later drop cannot remove a file a new server bound since.
  bound_path: Mutex<Option<SocketFile>>,
  /// Inherited through [`ListenSocket::adopt`] rather than made here.
  adopted: bool,
}

impl ListenSocket {
  /// Creates a TCP socket for `ip` and binds it to `port`.
  ///
  /// Sets `SO_REUSEADDR` (as libuv does on every TCP listener), sets
  /// `IPV6_V6ONLY` to `options.ipv6_only` on IPv6 sockets, and `SO_REUSEPORT`
  /// when asked. `EADDRINUSE` does not fail here: it is returned by
  /// [`ListenSocket::listen`]. Other errors: `EAFNOSUPPORT` when the family is
  /// unavailable (no IPv6), `EADDRNOTAVAIL`, `EACCES` for privileged ports.
  pub fn bind_tcp(address: SocketAddr, options: TcpOptions) -> io::Result<Self> {
    let socket = Socket::new(
      Domain::for_address(address),
      Type::STREAM.nonblocking(),
      None,
    )?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
      socket.set_only_v6(options.ipv6_only)?;
    }
    if options.reuse_port {
      socket.set_reuse_port(true)?;
    }
    let delayed_error = match socket.bind(&SockAddr::from(address)) {
      Ok(()) => None,
      Err(error) if error.raw_os_error() == Some(libc::EADDRINUSE) => Some(libc::EADDRINUSE),
      Err(error) => return Err(error),
    };
    Self::made_here(socket, SocketKind::Tcp, delayed_error, None)
  }

  /// Creates a Unix-domain socket and binds it to `name`: a filesystem path,
  /// or a Linux abstract name when it starts with a NUL.
  ///
  /// Errors: `EADDRINUSE` when the file exists, `EACCES` when the directory
  /// is missing or not writable (libuv reports `ENOENT` as `EACCES`),
  /// `EINVAL` for a name `rules` refuse.
  pub fn bind_pipe(name: &[u8], rules: PipeNameRules) -> io::Result<Self> {
    let given = name;
    let name = fit_pipe_name(given, rules)?;
    let is_abstract = name.first() == Some(&0);
    let whole_structure = !rules.reject_interior_nul;
    let address = unix_address(name, whole_structure);
    let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    socket.bind(&address).map_err(|error| {
      if error.raw_os_error() == Some(libc::ENOENT) {
        io::Error::from_raw_os_error(libc::EACCES)
      } else {
        error
      }
    })?;
    let removed_on_close = if whole_structure {
      // Node 20 unlinks the given name as a C string, cut or not.
      let end = given
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(given.len());
      &given[..end]
    } else {
      name
    };
    let bound_path =
      (!is_abstract).then(|| SocketFile(PathBuf::from(OsStr::from_bytes(removed_on_close))));
    Self::made_here(socket, SocketKind::Pipe, None, bound_path)
  }

  /// Takes ownership of an inherited descriptor, such as a socket handed
  /// over by systemd or a parent process, and makes it non-blocking.
  ///
  /// Node opens what `uv_guess_handle` calls TCP or a pipe. So this fails
  /// with `EINVAL` (leaving the descriptor open and untouched) unless `fd`
  /// is a stream socket of family `AF_INET`, `AF_INET6` or `AF_UNIX`, or a
  /// FIFO. A FIFO is no socket: Node makes it non-blocking, fails to listen
  /// with `ENOTSOCK` and closes it (unless it is stdio); so does this.
  pub fn adopt(fd: RawFd) -> io::Result<Self> {
    let kind = match guess_inherited(fd) {
      Some(Inherited::Socket(kind)) => kind,
      Some(Inherited::Fifo) => return Err(refuse_fifo(fd)),
      None => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    // A descriptor another rs-net socket owns is refused, as libuv refuses
    // one its loop already watches.
    claim(fd)?;
    // SAFETY: `fd` is an open stream socket (checked just above) that the
    // caller hands over to us, as Node's `listen({ fd })` takes ownership of
    // it: from here on it is closed at most once, when this value drops.
    let socket = ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) });
    // On failure the ManuallyDrop gives the descriptor back untouched: a
    // failed listen must not close it.
    if let Err(error) = socket.set_nonblocking(true) {
      release(fd);
      return Err(error);
    }
    Ok(Self {
      socket,
      close_on_drop: fd > libc::STDERR_FILENO,
      kind,
      delayed_error: None,
      bound_path: Mutex::new(None),
      adopted: true,
    })
  }

  /// Lets go of the descriptor without closing it (for an inherited one
  /// that its owner keeps using).
  pub fn forget_descriptor(mut self) {
    self.close_on_drop = false;
  }

  /// Wraps a socket made here, recording its descriptor as rs-net's.
  fn made_here(
    socket: Socket,
    kind: SocketKind,
    delayed_error: Option<i32>,
    bound_path: Option<SocketFile>,
  ) -> io::Result<Self> {
    claim(socket.as_raw_fd())?;
    Ok(Self {
      socket: ManuallyDrop::new(socket),
      close_on_drop: true,
      kind,
      delayed_error,
      bound_path: Mutex::new(bound_path),
      adopted: false,
    })
  }

  /// Like [`ListenSocket::adopt`], but takes a close-on-exec duplicate of
  /// `fd` and leaves `fd` itself to its owner. Only sockets are taken.
  pub fn adopt_duplicate(fd: RawFd) -> io::Result<Self> {
    if !matches!(guess_inherited(fd), Some(Inherited::Socket(_))) {
      return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd` and returns a new descriptor.
    let duplicate = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if duplicate < 0 {
      return Err(io::Error::last_os_error());
    }
    Self::adopt(duplicate).inspect_err(|_| {
      // SAFETY: the duplicate is ours and nothing else refers to it.
      unsafe { libc::close(duplicate) };
    })
  }

  /// Whether the descriptor was inherited (`listen({ fd })`, a handle)
  /// rather than made here; others may share the socket then.
  pub fn is_adopted(&self) -> bool {
    self.adopted
  }

  /// Removes the Unix socket file this socket was bound to (if any) now.
  pub fn remove_socket_file(&self) {
    let file = self
      .bound_path
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .take();
    drop(file);
  }

  /// Whether this is a TCP or a Unix-domain socket.
  pub fn kind(&self) -> SocketKind {
    self.kind
  }

  /// Starts listening with `backlog` (the kernel caps it at `somaxconn`).
  /// Returns the `EADDRINUSE` that `bind` deferred, if any. Calling it again
  /// on a listening socket only changes the backlog.
  pub fn listen(&self, backlog: i32) -> io::Result<()> {
    if let Some(code) = self.delayed_error {
      return Err(io::Error::from_raw_os_error(code));
    }
    self.socket.listen(backlog)
  }

  /// Returns the IP address and port the socket is bound to (`getsockname`).
  /// Fails with `EINVAL` for a Unix-domain socket.
  pub fn local_inet_address(&self) -> io::Result<SocketAddr> {
    self
      .socket
      .local_addr()?
      .as_socket()
      .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
  }

  /// Gives everyone read and/or write access to the socket file, as
  /// `readableAll` / `writableAll` ask (`uv_pipe_chmod`), the way the libuv
  /// of the running Node does it (see [`PipeAccessRule`]).
  pub fn grant_access_to_all(&self, readable: bool, writable: bool) -> io::Result<()> {
    self.grant_access(readable, writable, PipeAccessRule::of_running_libuv())
  }

  /// [`ListenSocket::grant_access_to_all`] with the rule given. The file is
  /// the name the socket is bound to (`getsockname`), as libuv finds it.
  fn grant_access(&self, readable: bool, writable: bool, rule: PipeAccessRule) -> io::Result<()> {
    let local = self.socket.local_addr()?;
    let path = local
      .as_pathname()
      .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut wanted = 0;
    if readable {
      wanted |= 0o444;
    }
    if writable {
      wanted |= 0o222;
    }
    match rule {
      PipeAccessRule::AddToMode => {
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & wanted == wanted {
          return Ok(());
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode | wanted))
      }
      PipeAccessRule::SetExactly => {
        // The socket's own inode first; systems that cannot change it say
        // EINVAL or EOPNOTSUPP, and then only the file is changed.
        // SAFETY: fchmod only reads the descriptor, valid while `self`.
        if unsafe { libc::fchmod(self.socket.as_raw_fd(), wanted) } != 0 {
          let error = io::Error::last_os_error();
          if !matches!(error.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) {
            return Err(error);
          }
        }
        fs::set_permissions(path, fs::Permissions::from_mode(wanted))
      }
    }
  }

  /// Accepts one pending connection, close-on-exec, or fails with
  /// `EAGAIN` when none is waiting. The caller owns the new descriptor.
  pub fn accept(&self) -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: null address pointers are allowed by accept4(2) when the peer
    // address is not wanted; the listening descriptor is valid while `self`.
    let fd = unsafe {
      libc::accept4(
        self.socket.as_raw_fd(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        libc::SOCK_CLOEXEC,
      )
    };
    if fd < 0 {
      return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
  }
}

impl AsRawFd for ListenSocket {
  fn as_raw_fd(&self) -> RawFd {
    self.socket.as_raw_fd()
  }
}

impl Drop for ListenSocket {
  fn drop(&mut self) {
    // Released first: once closed, the number may be reused at once.
    release(self.socket.as_raw_fd());
    if self.close_on_drop {
      // SAFETY: the socket is dropped exactly once, here, and never used
      // again: `self` is going away.
      unsafe { ManuallyDrop::drop(&mut self.socket) };
    }
  }
}

/// Whether Node could open `fd` to listen on it, as `listen({ fd })` does:
/// returns 0, `-EINVAL` when `uv_guess_handle` would call it neither TCP nor
/// a pipe (a UDP socket, a file, a terminal, a closed descriptor), or
/// `-EEXIST` when Node's own event loop already watches it (the descriptor
/// of a listening `net.Server`, say), which libuv refuses to open twice.
#[napi]
pub fn check_inherited_descriptor(env: Env, fd: i32) -> Result<i32> {
  if guess_inherited(fd).is_none() {
    return Ok(-libc::EINVAL);
  }
  if crate::node_loop::watches(&env, fd)? {
    return Ok(-libc::EEXIST);
  }
  Ok(0)
}

/// The descriptors of every [`ListenSocket`] in the process. Tokio's
/// registration cannot stand in for this: the accept loop unregisters its
/// socket while JavaScript has connections to take.
static OWNED_DESCRIPTORS: Mutex<BTreeSet<RawFd>> = Mutex::new(BTreeSet::new());

/// Records `fd` as a listening socket's; fails with `EEXIST` when another
/// one already owns it.
pub fn claim(fd: RawFd) -> io::Result<()> {
  let mut owned = OWNED_DESCRIPTORS.lock().unwrap_or_else(|p| p.into_inner());
  if owned.insert(fd) {
    Ok(())
  } else {
    Err(io::Error::from_raw_os_error(libc::EEXIST))
  }
}

/// Forgets `fd` as a listening socket's (before it is closed).
pub fn release(fd: RawFd) {
  OWNED_DESCRIPTORS
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .remove(&fd);
}

/// A Unix socket file this process bound, removed when dropped: Node
/// removes the file when it closes a pipe server.
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
  fn drop(&mut self) {
    let _ = fs::remove_file(&self.0);
  }
}

/// Applies `rules` to a Unix socket name, returning the bytes to bind.
fn fit_pipe_name(name: &[u8], rules: PipeNameRules) -> io::Result<&[u8]> {
  let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
  let is_abstract = name.first() == Some(&0);
  if !is_abstract && rules.reject_interior_nul && name.contains(&0) {
    return Err(invalid());
  }
  if name.len() > SUN_PATH_LEN {
    if rules.reject_too_long {
      return Err(invalid());
    }
    return Ok(&name[..SUN_PATH_LEN]);
  }
  Ok(name)
}

/// A `sockaddr_un` for `name` (at most [`SUN_PATH_LEN`] bytes). Its length
/// is the whole structure when `whole_structure` is set (Node 20's way),
/// else the name's own: a path plus its NUL when it fits, or an abstract
/// name's exact bytes.
fn unix_address(name: &[u8], whole_structure: bool) -> SockAddr {
  let mut storage = SockAddrStorage::zeroed();
  // SAFETY: sockaddr_un is one of this platform's sockaddr types, and the
  // storage is large enough for it (view_as asserts so).
  let address = unsafe { storage.view_as::<libc::sockaddr_un>() };
  address.sun_family = libc::AF_UNIX as libc::sa_family_t;
  let name = &name[..name.len().min(SUN_PATH_LEN)];
  for (slot, &byte) in address.sun_path.iter_mut().zip(name) {
    *slot = byte as libc::c_char;
  }
  let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
  let whole = mem::size_of::<libc::sockaddr_un>();
  let length = if whole_structure {
    whole
  } else if name.first() == Some(&0) {
    offset + name.len()
  } else {
    (offset + name.len() + 1).min(whole)
  };
  // SAFETY: the storage holds an AF_UNIX sockaddr_un, initialised above,
  // and `length` does not exceed that structure.
  unsafe { SockAddr::new(storage, length as libc::socklen_t) }
}

/// What an inherited descriptor is, among what Node can open to listen on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inherited {
  /// A stream socket: TCP (`AF_INET`/`AF_INET6`) or a Unix socket.
  Socket(SocketKind),
  /// A FIFO, which `uv_guess_handle` calls a pipe too.
  Fifo,
}

/// Tells what an inherited descriptor is, the way `uv_guess_handle` does,
/// keeping what Node opens for `listen({ fd })`: its TCP and its pipes.
fn guess_inherited(fd: RawFd) -> Option<Inherited> {
  let mut stat = MaybeUninit::<libc::stat>::uninit();
  // SAFETY: fstat writes a full `stat` into the buffer on success, and only
  // then is it read. An invalid descriptor just makes it fail with EBADF.
  if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
    return None;
  }
  // SAFETY: fstat succeeded, so the buffer is initialised.
  let stat = unsafe { stat.assume_init() };
  match stat.st_mode & libc::S_IFMT {
    libc::S_IFIFO => return Some(Inherited::Fifo),
    libc::S_IFSOCK => {}
    _ => return None,
  }
  let mut socket_type: libc::c_int = 0;
  let mut length = mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: the option buffer is a c_int with its size in `length`.
  let status = unsafe {
    libc::getsockopt(
      fd,
      libc::SOL_SOCKET,
      libc::SO_TYPE,
      (&mut socket_type as *mut libc::c_int).cast(),
      &mut length,
    )
  };
  if status != 0 || socket_type != libc::SOCK_STREAM {
    return None;
  }
  let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
  let mut length = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
  // SAFETY: the buffer is a zeroed sockaddr_storage with its size in `length`.
  let status = unsafe { libc::getsockname(fd, storage.as_mut_ptr().cast(), &mut length) };
  if status != 0 {
    return None;
  }
  // SAFETY: zero-initialised and possibly filled by getsockname; every bit
  // pattern is a valid sockaddr_storage.
  let family = unsafe { storage.assume_init() }.ss_family as libc::c_int;
  match family {
    libc::AF_INET | libc::AF_INET6 => Some(Inherited::Socket(SocketKind::Tcp)),
    libc::AF_UNIX => Some(Inherited::Socket(SocketKind::Pipe)),
    _ => None,
  }
}

/// What Node does with a FIFO handed to `listen({ fd })`: it opens it as a
/// pipe (which makes it non-blocking), `listen(2)` fails with `ENOTSOCK`,
/// and closing the pipe closes the descriptor, unless it is stdio.
fn refuse_fifo(fd: RawFd) -> io::Error {
  // SAFETY: fcntl on a descriptor only reads and sets its status flags.
  let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
  if flags == -1 {
    return io::Error::last_os_error();
  }
  // SAFETY: as above; the flags were just read from this descriptor.
  if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } == -1 {
    return io::Error::last_os_error();
  }
  if fd > libc::STDERR_FILENO {
    // SAFETY: the caller handed `fd` over to be listened on; like Node,
    // a failed listen closes it, and nothing here uses it afterwards.
    unsafe { libc::close(fd) };
  }
  io::Error::from_raw_os_error(libc::ENOTSOCK)
}

/// Where a path-bound socket file lives, for tests.
#[cfg(test)]
fn socket_path(socket: &ListenSocket) -> Option<PathBuf> {
  let file = socket.bound_path.lock().unwrap();
  file.as_ref().map(|file| file.0.clone())
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::net::TcpStream;
  use std::os::fd::IntoRawFd;

  fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
  }

  #[test]
  fn tcp_listener_reuses_address_and_accepts() {
    let listener = ListenSocket::bind_tcp(loopback(), TcpOptions::default()).unwrap();
    listener.listen(511).unwrap();
    assert!(listener.socket.reuse_address().unwrap());
    let address = listener.local_inet_address().unwrap();
    let _client = TcpStream::connect(address).unwrap();
    let mut accepted = None;
    for _ in 0..100 {
      match listener.accept() {
        Ok(fd) => {
          accepted = Some(fd);
          break;
        }
        Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
      }
    }
    assert!(accepted.is_some());
  }

  #[test]
  fn address_in_use_is_reported_by_listen() {
    let first = ListenSocket::bind_tcp(loopback(), TcpOptions::default()).unwrap();
    first.listen(511).unwrap();
    let taken = first.local_inet_address().unwrap();
    let second = ListenSocket::bind_tcp(taken, TcpOptions::default()).unwrap();
    let error = second.listen(511).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EADDRINUSE));
  }

  #[test]
  fn reuse_port_lets_two_listeners_share() {
    let options = TcpOptions {
      reuse_port: true,
      ..TcpOptions::default()
    };
    let first = ListenSocket::bind_tcp(loopback(), options).unwrap();
    first.listen(511).unwrap();
    let shared = first.local_inet_address().unwrap();
    let second = ListenSocket::bind_tcp(shared, options).unwrap();
    second.listen(511).unwrap();
  }

  #[test]
  fn pipe_file_is_removed_on_drop() {
    let dir = std::env::temp_dir().join(format!("rs-net-unit-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("drop.sock");
    let socket =
      ListenSocket::bind_pipe(path.as_os_str().as_bytes(), PipeNameRules::default()).unwrap();
    socket.listen(511).unwrap();
    assert_eq!(socket_path(&socket), Some(path.clone()));
    assert!(path.exists());
    drop(socket);
    assert!(!path.exists());
    fs::remove_dir(&dir).unwrap();
  }

  #[test]
  fn missing_directory_is_access_denied() {
    let error =
      ListenSocket::bind_pipe(b"/nonexistent-rs-net/x.sock", PipeNameRules::default()).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EACCES));
  }

  #[test]
  fn pipe_names_follow_the_rules() {
    let long = vec![b'a'; 200];
    let lenient = PipeNameRules::default();
    assert_eq!(fit_pipe_name(&long, lenient).unwrap().len(), SUN_PATH_LEN);
    assert_eq!(fit_pipe_name(b"/tmp/a\0b", lenient).unwrap(), b"/tmp/a\0b");
    let strict = PipeNameRules {
      reject_interior_nul: true,
      reject_too_long: true,
    };
    assert!(fit_pipe_name(&long, strict).is_err());
    assert!(fit_pipe_name(b"/tmp/a\0b", strict).is_err());
    assert_eq!(fit_pipe_name(b"\0abstract", strict).unwrap(), b"\0abstract");
  }

  #[test]
  fn node20_binds_the_whole_sun_path() {
    let node20 = PipeNameRules::default();
    let name = format!("\0rs-net-unit-{}", std::process::id());
    let padded = ListenSocket::bind_pipe(name.as_bytes(), node20).unwrap();
    let whole = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    assert_eq!(padded.socket.local_addr().unwrap().len(), whole);
    let exact = PipeNameRules {
      reject_interior_nul: true,
      reject_too_long: true,
    };
    // The exact name is another abstract name, free to bind.
    let unpadded = ListenSocket::bind_pipe(name.as_bytes(), exact).unwrap();
    assert!(unpadded.socket.local_addr().unwrap().len() < whole);
  }

  #[test]
  fn a_cut_path_stays_on_node20_and_goes_on_node22() {
    let dir = std::env::temp_dir().join(format!("rs-net-unit-cut-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let mut long = dir.as_os_str().as_bytes().to_vec();
    long.push(b'/');
    long.resize(150, b'c');
    let cut = PathBuf::from(OsStr::from_bytes(&long[..SUN_PATH_LEN]));
    drop(ListenSocket::bind_pipe(&long, PipeNameRules::default()).unwrap());
    assert!(cut.exists(), "Node 20 leaves the cut path");
    fs::remove_file(&cut).unwrap();
    let node22 = PipeNameRules {
      reject_interior_nul: true,
      reject_too_long: false,
    };
    drop(ListenSocket::bind_pipe(&long, node22).unwrap());
    assert!(!cut.exists(), "Node 22 removes it");
    fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn only_stream_sockets_can_be_adopted() {
    let file = fs::File::open("/proc/self/stat").unwrap();
    let error = ListenSocket::adopt(file.as_raw_fd()).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
    assert!(ListenSocket::adopt(1_000_000).is_err());
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(ListenSocket::adopt(udp.as_raw_fd()).is_err());
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let adopted = ListenSocket::adopt(tcp.into_raw_fd()).unwrap();
    assert_eq!(adopted.kind(), SocketKind::Tcp);
  }

  #[test]
  fn a_fifo_is_refused_and_closed_like_node() {
    let (read_end, write_end) = fifo_pair();
    let error = ListenSocket::adopt(read_end).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOTSOCK));
    // SAFETY: fcntl on a closed descriptor only reports EBADF.
    assert_eq!(unsafe { libc::fcntl(read_end, libc::F_GETFD) }, -1);
    // SAFETY: the write end is ours.
    unsafe { libc::close(write_end) };
  }

  #[test]
  fn a_descriptor_is_adopted_once() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let adopted = ListenSocket::adopt(tcp.as_raw_fd()).unwrap();
    let again = ListenSocket::adopt(tcp.as_raw_fd()).unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
    let made =
      ListenSocket::bind_tcp("127.0.0.1:0".parse().unwrap(), TcpOptions::default()).unwrap();
    let error = ListenSocket::adopt(made.as_raw_fd()).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EEXIST));
    adopted.forget_descriptor();
    // Free again once forgotten (the TcpListener still owns it).
    ListenSocket::adopt(tcp.as_raw_fd())
      .unwrap()
      .forget_descriptor();
  }

  #[test]
  fn given_back_descriptors_stay_open() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = tcp.as_raw_fd();
    let adopted = ListenSocket::adopt(fd).unwrap();
    adopted.forget_descriptor();
    // Still open: the TcpListener closes it when dropped.
    // SAFETY: fcntl only reads the descriptor flags.
    assert_ne!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1);
  }

  #[test]
  fn access_rules_follow_libuv_versions() {
    let dir = std::env::temp_dir().join(format!("rs-net-unit-mode-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let mode_of = |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let old = dir.join("old.sock");
    let socket =
      ListenSocket::bind_pipe(old.as_os_str().as_bytes(), PipeNameRules::default()).unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o700)).unwrap();
    socket
      .grant_access(true, false, PipeAccessRule::AddToMode)
      .unwrap();
    assert_eq!(mode_of(&old), 0o744);
    let new = dir.join("new.sock");
    let socket =
      ListenSocket::bind_pipe(new.as_os_str().as_bytes(), PipeNameRules::default()).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(0o700)).unwrap();
    socket
      .grant_access(true, true, PipeAccessRule::SetExactly)
      .unwrap();
    assert_eq!(mode_of(&new), 0o666);
    drop(socket);
    fs::remove_dir_all(&dir).unwrap();
  }

  /// The two ends of an anonymous pipe (a FIFO to `fstat`).
  fn fifo_pair() -> (RawFd, RawFd) {
    let mut ends = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the two-element array.
    assert_eq!(
      unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) },
      0
    );
    (ends[0], ends[1])
  }
}
