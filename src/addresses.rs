//! IP addresses as Node writes them: parsing what `dns.lookup` resolved,
//! and formatting what `getsockname` returns for `server.address()`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

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

#[cfg(test)]
mod tests {
  use super::*;

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
