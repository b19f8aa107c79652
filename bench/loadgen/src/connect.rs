//! Opening client connections, and the descriptor limit they need.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use tokio::net::{TcpSocket, TcpStream};

/// Where client connections come from.
///
/// Connection churn closes from the client side, which leaves the client's
/// end in TIME_WAIT; from a single source address the ~28k ephemeral ports
/// run out at a few tens of thousands of connections per second. Rotating
/// over several loopback source addresses (all of 127/8 is local on Linux)
/// multiplies the usable (source, port) pairs without touching sysctls.
#[derive(Clone, Copy)]
pub struct Dialer {
  target: SocketAddr,
  sources: u32,
}

impl Dialer {
  /// Dials `target`, rotating over `sources` source addresses 127.0.0.1,
  /// 127.0.0.2, … (one source, the kernel's choice, when `sources` <= 1 or
  /// the target is not IPv4).
  pub fn new(target: SocketAddr, sources: u32) -> Dialer {
    let sources = if target.is_ipv4() {
      sources.clamp(1, 250)
    } else {
      1
    };
    Dialer { target, sources }
  }

  /// Opens connection number `sequence` with TCP_NODELAY set, since every
  /// workload waits for each reply before writing again.
  pub async fn connect(&self, sequence: u64) -> io::Result<TcpStream> {
    let stream = if self.sources <= 1 {
      TcpStream::connect(self.target).await?
    } else {
      let socket = TcpSocket::new_v4()?;
      bind_address_no_port(&socket)?;
      let host = 1 + (sequence % u64::from(self.sources)) as u8;
      socket.bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)),
        0,
      ))?;
      socket.connect(self.target).await?
    };
    stream.set_nodelay(true)?;
    Ok(stream)
  }
}

/// Sets IP_BIND_ADDRESS_NO_PORT, so binding a source address leaves the
/// port to connect(), which may then reuse a port another destination uses.
fn bind_address_no_port(socket: &TcpSocket) -> io::Result<()> {
  let enable: libc::c_int = 1;
  // SAFETY: the descriptor is open (owned by `socket`) and the option value
  // is a c_int of the size passed.
  let result = unsafe {
    libc::setsockopt(
      socket.as_raw_fd(),
      libc::IPPROTO_IP,
      libc::IP_BIND_ADDRESS_NO_PORT,
      &enable as *const libc::c_int as *const libc::c_void,
      std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    )
  };
  if result == 0 {
    Ok(())
  } else {
    Err(io::Error::last_os_error())
  }
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit and fails
/// clearly when that is still below `needed` descriptors.
pub fn raise_descriptor_limit(needed: u64) -> io::Result<u64> {
  let mut limit = libc::rlimit {
    rlim_cur: 0,
    rlim_max: 0,
  };
  // SAFETY: `limit` is a valid, writable rlimit.
  if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
    return Err(io::Error::last_os_error());
  }
  if limit.rlim_cur < limit.rlim_max {
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid rlimit whose soft value does not exceed its hard value.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
      return Err(io::Error::last_os_error());
    }
  }
  if limit.rlim_cur < needed {
    return Err(io::Error::other(format!(
      "need {needed} file descriptors but RLIMIT_NOFILE is {} (raise it with ulimit -n)",
      limit.rlim_cur
    )));
  }
  Ok(limit.rlim_cur)
}
