//! The parts of libuv (which Node exports to addons) that tell what the
//! running Node does: its libuv version, and the handles its event loop
//! watches. Resolved from the node binary when the addon loads, like the
//! `napi_*` functions.

use std::ffi::c_void;
use std::os::fd::RawFd;

use napi::{Env, Result};

/// An opaque `uv_handle_t`.
#[repr(C)]
pub(crate) struct UvHandle {
  _private: [u8; 0],
}

extern "C" {
  fn uv_version() -> libc::c_uint;
  fn uv_walk(
    event_loop: *mut c_void,
    visit: unsafe extern "C" fn(*mut UvHandle, *mut c_void),
    arg: *mut c_void,
  );
  fn uv_fileno(handle: *const UvHandle, fd: *mut libc::c_int) -> libc::c_int;
  fn uv_is_active(handle: *const UvHandle) -> libc::c_int;
  fn uv_is_closing(handle: *const UvHandle) -> libc::c_int;
}

/// The version of the libuv inside the running Node.
pub fn libuv_version() -> u32 {
  // SAFETY: uv_version takes nothing and only returns a constant.
  unsafe { uv_version() }
}

/// What the walk looks for, and whether it found it.
struct Search {
  fd: libc::c_int,
  found: bool,
}

/// Whether Node's event loop of `env` watches `fd`: some handle of it is
/// active (listening, reading), not closing, and has that descriptor.
/// libuv's own check (`uv__fd_exists`) looks at the loop's watchers,
/// which are exactly the descriptors of such handles.
pub fn watches(env: &Env, fd: RawFd) -> Result<bool> {
  let event_loop = env.get_uv_event_loop()?;
  let mut search = Search { fd, found: false };
  // SAFETY: the loop is the running environment's own and this is its
  // thread; the walk calls `visit` synchronously with `search`, which
  // outlives the call.
  unsafe {
    uv_walk(
      event_loop.cast(),
      visit,
      (&mut search as *mut Search).cast(),
    )
  };
  Ok(search.found)
}

/// The walk's visitor: notes a live handle whose descriptor is the one
/// searched.
unsafe extern "C" fn visit(handle: *mut UvHandle, arg: *mut c_void) {
  // SAFETY: `arg` is the `Search` that `watches` passed to uv_walk.
  let search = unsafe { &mut *arg.cast::<Search>() };
  // SAFETY: uv_walk passes valid handles of the loop; these functions
  // only read them (uv_fileno fails with EINVAL for kinds without one).
  unsafe {
    if uv_is_active(handle) == 0 || uv_is_closing(handle) != 0 {
      return;
    }
    let mut fd: libc::c_int = -1;
    if uv_fileno(handle, &mut fd) == 0 && fd == search.fd {
      search.found = true;
    }
  }
}
