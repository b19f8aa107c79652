//! Listening sockets, made with socket2 the way libuv makes them for Node.
//!
//! Everything here runs on the JavaScript thread and is synchronous: Node
//! binds and listens before `server.listen()` returns, so users can read
//! `server.address().port` right away. Only accepting moves to tokio.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use socket2::{Domain, SockAddr, Socket, Type};

/// Longest filesystem path a `sockaddr_un` holds, leaving room for its NUL.
const MAX_PATH_NAME: usize = 107;
/// Longest Linux abstract name, leading NUL included (no terminator needed).
const MAX_ABSTRACT_NAME: usize = 108;

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

/// How Unix socket names that do not fit are treated. Node's versions differ:
/// Node 20 treats the name as a C string and truncates what is too long;
/// Node 22 refuses a NUL inside a path but still truncates; Node 24 refuses
/// both with `EINVAL`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipeNameRules {
  /// Fail with `EINVAL` when a filesystem path contains a NUL.
  pub reject_interior_nul: bool,
  /// Fail with `EINVAL` when the name does not fit in `sun_path`.
  pub reject_too_long: bool,
}

/// A bound (and later listening) socket, owned until it is dropped.
///
/// Dropping it closes the descriptor and, for a Unix socket this process
/// bound by path, removes the socket file, as libuv does when Node closes a
/// pipe server.
#[derive(Debug)]
pub struct ListenSocket {
  socket: Socket,
  kind: SocketKind,
  /// `EADDRINUSE` from `bind(2)`: libuv keeps it and reports it from
  /// `listen()`, which is why Node's message says `listen EADDRINUSE`.
  delayed_error: Option<i32>,
  /// The socket file to remove on close (held for its `Drop`).
  #[cfg_attr(not(test), allow(dead_code))]
  bound_path: Option<SocketFile>,
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
    Ok(Self {
      socket,
      kind: SocketKind::Tcp,
      delayed_error,
      bound_path: None,
      adopted: false,
    })
  }

  /// Creates a Unix-domain socket and binds it to `name`: a filesystem path,
  /// or a Linux abstract name when it starts with a NUL.
  ///
  /// Errors: `EADDRINUSE` when the file exists, `EACCES` when the directory
  /// is missing or not writable (libuv reports `ENOENT` as `EACCES`),
  /// `EINVAL` for a name `rules` refuse.
  pub fn bind_pipe(name: &[u8], rules: PipeNameRules) -> io::Result<Self> {
    let name = fit_pipe_name(name, rules)?;
    let is_abstract = name.first() == Some(&0);
    let address = SockAddr::unix(OsStr::from_bytes(name))?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    socket.bind(&address).map_err(|error| {
      if error.raw_os_error() == Some(libc::ENOENT) {
        io::Error::from_raw_os_error(libc::EACCES)
      } else {
        error
      }
    })?;
    let bound_path = (!is_abstract).then(|| SocketFile(PathBuf::from(OsStr::from_bytes(name))));
    Ok(Self {
      socket,
      kind: SocketKind::Pipe,
      delayed_error: None,
      bound_path,
      adopted: false,
    })
  }

  /// Takes ownership of an inherited descriptor, such as a socket handed
  /// over by systemd or a parent process, and makes it non-blocking.
  ///
  /// Fails with `EINVAL` (and leaves the descriptor open and untouched)
  /// unless `fd` is a stream socket of family `AF_INET`, `AF_INET6` or
  /// `AF_UNIX`, which is what Node accepts.
  pub fn adopt(fd: RawFd) -> io::Result<Self> {
    let kind = stream_socket_kind(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `fd` is an open stream socket (checked just above) that the
    // caller hands over to us, as Node's `listen({ fd })` takes ownership of
    // it: from here on it is closed exactly once, when this value drops.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    if let Err(error) = socket.set_nonblocking(true) {
      // Give the descriptor back untouched: a failed listen must not close it.
      let _ = socket.into_raw_fd();
      return Err(error);
    }
    Ok(Self {
      socket,
      kind,
      delayed_error: None,
      bound_path: None,
      adopted: true,
    })
  }

  /// Hands an adopted descriptor back without closing it (returning
  /// `None`); a socket made here is returned unchanged.
  pub fn give_back_if_adopted(self) -> Option<Self> {
    if !self.adopted {
      return Some(self);
    }
    let _ = self.socket.into_raw_fd();
    None
  }

  /// Like [`ListenSocket::adopt`], but takes a close-on-exec duplicate of
  /// `fd` and leaves `fd` itself to its owner.
  pub fn adopt_duplicate(fd: RawFd) -> io::Result<Self> {
    stream_socket_kind(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
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

  /// Adds read and/or write permission for everyone to the socket file, as
  /// `readableAll` / `writableAll` ask (`uv_pipe_chmod`). Leaves the mode
  /// alone when it already grants them.
  pub fn grant_access_to_all(&self, readable: bool, writable: bool) -> io::Result<()> {
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
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & wanted == wanted {
      return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode | wanted))
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

/// A Unix socket file this process bound, removed when dropped: Node
/// removes the file when it closes a pipe server.
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
  fn drop(&mut self) {
    let _ = fs::remove_file(&self.0);
  }
}

/// Parses the textual IP address Node resolved (`'::'`, `'127.0.0.1'`,
/// `'fe80::1%eth0'`) and joins it with `port`. Fails with `EINVAL` on text
/// that is not an address, as `uv_ip4_addr` / `uv_ip6_addr` do.
pub fn parse_address(text: &str, port: u16) -> io::Result<SocketAddr> {
  let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
  if let Ok(v4) = text.parse::<Ipv4Addr>() {
    return Ok(SocketAddr::new(IpAddr::V4(v4), port));
  }
  let (ip, zone) = match text.split_once('%') {
    Some((ip, zone)) => (ip, Some(zone)),
    None => (text, None),
  };
  let v6 = ip.parse::<Ipv6Addr>().map_err(|_| invalid())?;
  let scope_id = match zone {
    None => 0,
    Some(zone) => zone
      .parse::<u32>()
      .unwrap_or_else(|_| interface_index(zone)),
  };
  Ok(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope_id)))
}

/// Formats an IP address the way Node's `address()` does: the zone of a
/// scoped IPv6 address follows a `%`.
pub fn format_ip(address: &SocketAddr) -> String {
  match address {
    SocketAddr::V4(v4) => v4.ip().to_string(),
    SocketAddr::V6(v6) if v6.scope_id() != 0 => {
      format!("{}%{}", v6.ip(), interface_name(v6.scope_id()))
    }
    SocketAddr::V6(v6) => v6.ip().to_string(),
  }
}

/// Node's name for an address family.
pub fn family_name(address: &SocketAddr) -> &'static str {
  if address.is_ipv4() {
    "IPv4"
  } else {
    "IPv6"
  }
}

/// Applies `rules` to a Unix socket name, returning the bytes to bind.
fn fit_pipe_name(name: &[u8], rules: PipeNameRules) -> io::Result<&[u8]> {
  let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
  let is_abstract = name.first() == Some(&0);
  let mut fitted = name;
  if !is_abstract {
    if let Some(nul) = name.iter().position(|&byte| byte == 0) {
      if rules.reject_interior_nul {
        return Err(invalid());
      }
      fitted = &name[..nul];
    }
  }
  let limit = if is_abstract {
    MAX_ABSTRACT_NAME
  } else {
    MAX_PATH_NAME
  };
  if fitted.len() > limit {
    if rules.reject_too_long {
      return Err(invalid());
    }
    fitted = &fitted[..limit];
  }
  Ok(fitted)
}

/// Tells what kind of listening socket an inherited descriptor can be, the
/// way `uv_guess_handle` does: a stream socket of an IP or Unix family.
fn stream_socket_kind(fd: RawFd) -> Option<SocketKind> {
  let mut stat = MaybeUninit::<libc::stat>::uninit();
  // SAFETY: fstat writes a full `stat` into the buffer on success, and only
  // then is it read. An invalid descriptor just makes it fail with EBADF.
  if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
    return None;
  }
  // SAFETY: fstat succeeded, so the buffer is initialised.
  let stat = unsafe { stat.assume_init() };
  if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
    return None;
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
    libc::AF_INET | libc::AF_INET6 => Some(SocketKind::Tcp),
    libc::AF_UNIX => Some(SocketKind::Pipe),
    _ => None,
  }
}

/// The index of a network interface by name, or 0 when there is none.
fn interface_index(name: &str) -> u32 {
  let Ok(name) = std::ffi::CString::new(name) else {
    return 0;
  };
  // SAFETY: `name` is a valid NUL-terminated string for the whole call.
  unsafe { libc::if_nametoindex(name.as_ptr()) }
}

/// The name of a network interface by index, or the index as text.
fn interface_name(index: u32) -> String {
  let mut buffer = [0 as libc::c_char; libc::IF_NAMESIZE];
  // SAFETY: the buffer holds IF_NAMESIZE bytes, as if_indextoname requires.
  let name = unsafe { libc::if_indextoname(index, buffer.as_mut_ptr()) };
  if name.is_null() {
    return index.to_string();
  }
  // SAFETY: on success if_indextoname wrote a NUL-terminated name into it.
  let name = unsafe { std::ffi::CStr::from_ptr(buffer.as_ptr()) };
  name.to_string_lossy().into_owned()
}

/// Where a path-bound socket file lives, for tests.
#[cfg(test)]
fn socket_path(socket: &ListenSocket) -> Option<&std::path::Path> {
  socket.bound_path.as_ref().map(|file| file.0.as_path())
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::net::TcpStream;

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
    assert_eq!(socket_path(&socket), Some(path.as_path()));
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
    assert_eq!(fit_pipe_name(&long, lenient).unwrap().len(), MAX_PATH_NAME);
    assert_eq!(fit_pipe_name(b"/tmp/a\0b", lenient).unwrap(), b"/tmp/a");
    let strict = PipeNameRules {
      reject_interior_nul: true,
      reject_too_long: true,
    };
    assert!(fit_pipe_name(&long, strict).is_err());
    assert!(fit_pipe_name(b"/tmp/a\0b", strict).is_err());
    assert_eq!(fit_pipe_name(b"\0abstract", strict).unwrap(), b"\0abstract");
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
  fn addresses_parse_and_format_like_node() {
    let any6 = parse_address("::", 80).unwrap();
    assert_eq!(format_ip(&any6), "::");
    assert_eq!(family_name(&any6), "IPv6");
    let v4 = parse_address("127.0.0.1", 0).unwrap();
    assert_eq!(family_name(&v4), "IPv4");
    assert!(parse_address("not an address", 0).is_err());
    let scoped = parse_address("fe80::1%1", 0).unwrap();
    assert!(matches!(scoped, SocketAddr::V6(v6) if v6.scope_id() == 1));
  }
}
