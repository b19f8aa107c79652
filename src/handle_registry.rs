//! The [`ServerHandle`]s JavaScript drives, by number: the addon's functions
//! JavaScript calls for them (`lib/native-handle.js` wraps them in a class).
//!
//! A handle lives in its JavaScript thread's registry under a number, not
//! as a wrapped object: a call through napi-rs's class methods unwraps the
//! object and records the borrow in a process-wide table, which costs more
//! than most of what the methods do (a listen/close cycle makes several).
//! A number names a live handle of this thread or nothing (a new number
//! skips live ones), so a wrong one is refused (`EBADF`), never taken for
//! another kind of object. A call holds the registry while it runs and
//! runs no JavaScript meanwhile: arguments are converted before it, and
//! what would run JavaScript (making the environment's threadsafe function,
//! whose resource async hooks see) is done before the registry is taken.
//!
//! A handle goes, closing, when JavaScript releases its number (its wrapper
//! was collected) or when its environment ends. A wrapper whose realm is
//! discarded first (a Jest test file's module registry) may never be
//! collected as such: its handle, empty by then unless a server was left
//! open, stays until the environment ends.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};

use napi::bindgen_prelude::{ArrayBuffer, Either, Function};
use napi::{sys, Env, Result};
use napi_derive::napi;

use crate::env_waker;
use crate::event_bridge::ServerNotice;
use crate::server_handle::{ServerHandle, SocketName};

/// A registered handle and the environment it belongs to.
struct Entry {
  env: sys::napi_env,
  handle: ServerHandle,
}

/// A thread's handles, by number.
#[derive(Default)]
struct Handles(HashMap<u32, Entry>);

impl Drop for Handles {
  /// At the thread's end, handles still here are let go of without being
  /// closed: closing calls into their environment, which is gone by then
  /// (its cleanup hook takes its handles out first; what remains is only
  /// ever the main thread's at `process.exit()`, whose descriptors the
  /// process's end closes).
  fn drop(&mut self) {
    for (_, entry) in self.0.drain() {
      std::mem::forget(entry);
    }
  }
}

thread_local! {
  /// This thread's handles, by number.
  static HANDLES: RefCell<Handles> = RefCell::new(Handles::default());
  /// The environments of this thread whose teardown drops their handles.
  static HOOKED: RefCell<Vec<sys::napi_env>> = const { RefCell::new(Vec::new()) };
}

/// Numbers of handles, unique in the process.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// `EBADF`, for a number that names no handle.
const NO_HANDLE: i32 = -libc::EBADF;

/// Runs `f` on handle `id`, or returns `missing` when there is none.
fn with_handle<R>(id: u32, missing: R, f: impl FnOnce(&mut ServerHandle) -> R) -> R {
  HANDLES.with(|handles| match handles.borrow_mut().0.get_mut(&id) {
    Some(entry) => f(&mut entry.handle),
    None => missing,
  })
}

/// Makes an empty handle and returns its number.
#[napi(catch_unwind)]
pub fn server_handle_new(env: Env) -> Result<u32> {
  drop_at_teardown(&env)?;
  let entry = Entry {
    env: env.raw(),
    handle: ServerHandle::new(),
  };
  Ok(HANDLES.with(|handles| {
    let mut handles = handles.borrow_mut();
    // Past 2^32 numbers the counter wraps: never 0, never a live one.
    let id = loop {
      let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
      if id != 0 && !handles.0.contains_key(&id) {
        break id;
      }
    };
    handles.0.insert(id, entry);
    id
  }))
}

/// Closes and forgets handle `id` (its JavaScript wrapper is gone).
#[napi(catch_unwind)]
pub fn server_handle_release(id: u32) {
  let entry = HANDLES.with(|handles| handles.borrow_mut().0.remove(&id));
  // Dropped (and so closed) with the registry let go of.
  drop(entry);
}

/// Binds a TCP socket to `address` (an IP address in text) and `port`.
/// Returns the descriptor for the Node handle or a negative errno
/// (`EADDRINUSE` comes from listening).
#[napi(catch_unwind)]
pub fn server_handle_bind_tcp(
  id: u32,
  address: String,
  port: i32,
  ipv6_only: bool,
  reuse_port: bool,
) -> i32 {
  with_handle(id, NO_HANDLE, |handle| {
    handle.bind_tcp(address, port, ipv6_only, reuse_port)
  })
}

/// Binds a Unix socket to `name` (a path, or an abstract name starting
/// with NUL), as the running Node treats names. Returns the descriptor for
/// the Node handle or a negative errno.
#[napi(catch_unwind)]
pub fn server_handle_bind_pipe(env: Env, id: u32, name: String) -> Result<i32> {
  with_handle(id, Ok(NO_HANDLE), |handle| handle.bind_pipe(env, name))
}

/// Takes a seat in listener group `group` on `address` and `port` (0: the
/// group's). Returns the descriptor for the Node handle or a negative
/// errno (`EINVAL`: the group is on another address).
#[napi(catch_unwind)]
pub fn server_handle_bind_group_tcp(
  id: u32,
  group: String,
  address: String,
  port: i32,
  ipv6_only: bool,
) -> i32 {
  with_handle(id, NO_HANDLE, |handle| {
    handle.bind_group_tcp(group, address, port, ipv6_only)
  })
}

/// Takes a seat in listener group `group` on the Unix socket `name`.
/// Returns the descriptor for the Node handle or a negative errno.
#[napi(catch_unwind)]
pub fn server_handle_bind_group_pipe(
  env: Env,
  id: u32,
  group: String,
  name: String,
) -> Result<i32> {
  with_handle(id, Ok(NO_HANDLE), |handle| {
    handle.bind_group_pipe(env, group, name)
  })
}

/// Takes over the inherited socket `fd` (or, with `duplicate`, a duplicate
/// of it). Returns 0 or `-EINVAL` (not a TCP or Unix stream socket).
#[napi(catch_unwind)]
pub fn server_handle_open(id: u32, fd: i32, duplicate: bool) -> i32 {
  with_handle(id, NO_HANDLE, |handle| handle.open(fd, duplicate))
}

/// Starts listening with `backlog` (a 32-bit integer, as Node's
/// `Int32Value` makes it: JavaScript converts it) and accepting; calls
/// `onevents()` on this thread when events wait in `serverHandleTakeEvents`.
/// On a handle that already listens it only applies the backlog. Returns 0
/// or a negative errno (`EEXIST` for a descriptor rs-net already watches).
#[napi(catch_unwind)]
pub fn server_handle_listen(
  env: Env,
  id: u32,
  backlog: i32,
  onevents: Function<'_, (), ()>,
) -> Result<i32> {
  // May run JavaScript (async hooks): before the registry is taken.
  env_waker::prepare(&env)?;
  with_handle(id, Ok(NO_HANDLE), |handle| {
    handle.listen(env, backlog, onevents)
  })
}

/// A new close-on-exec descriptor of the socket for a Node handle, or a
/// negative errno (`EBADF` unbound or closed, `EEXIST` one was given out).
#[napi(catch_unwind)]
pub fn server_handle_duplicate(id: u32) -> i32 {
  with_handle(id, NO_HANDLE, ServerHandle::duplicate)
}

/// `'tcp'` or `'pipe'` once bound or adopted; `null` before and after.
#[napi(catch_unwind)]
pub fn server_handle_kind(id: u32) -> Option<&'static str> {
  with_handle(id, None, |handle| handle.kind())
}

/// The bound IP address and port, or a negative errno.
#[napi(catch_unwind)]
pub fn server_handle_getsockname(id: u32) -> Either<SocketName, i32> {
  with_handle(id, Either::B(NO_HANDLE), |handle| handle.getsockname())
}

/// Grants everyone read and/or write access to the Unix socket file.
/// Returns 0 or a negative errno.
#[napi(catch_unwind)]
pub fn server_handle_grant_access(id: u32, readable: bool, writable: bool) -> i32 {
  with_handle(id, NO_HANDLE, |handle| {
    handle.grant_access(readable, writable)
  })
}

/// Stops accepting and closes the socket (queued connections with it);
/// the handle keeps its number, empty, and may be bound again.
#[napi(catch_unwind)]
pub fn server_handle_close(id: u32) {
  with_handle(id, (), ServerHandle::close)
}

/// Makes a listening handle keep its event loop alive (the default).
#[napi(catch_unwind)]
pub fn server_handle_ref(env: Env, id: u32) -> Result<()> {
  with_handle(id, Ok(()), |handle| handle.reference(env))
}

/// Lets the event loop end while this handle listens.
#[napi(catch_unwind)]
pub fn server_handle_unref(env: Env, id: u32) -> Result<()> {
  with_handle(id, Ok(()), |handle| handle.unref(env))
}

/// Tells a group member's group how many connections its server has open.
#[napi(catch_unwind)]
pub fn server_handle_set_connection_count(id: u32, count: f64) {
  with_handle(id, (), |handle| handle.set_connection_count(count))
}

/// An ArrayBuffer over a group member's 32-bit count of open connections
/// (kept with `Atomics.store`), or `null` (not a member, already handed
/// out, or no shared memory).
#[napi(catch_unwind)]
pub fn server_handle_connection_counter(env: &Env, id: u32) -> Result<Option<ArrayBuffer<'_>>> {
  with_handle(id, Ok(None), |handle| handle.connection_counter(env))
}

/// The next batch of events (descriptors, or `{ errno }` for failed
/// accepts); fewer than a batch means none are left. Each descriptor must
/// be adopted or closed with the functions below.
#[napi(catch_unwind)]
pub fn server_handle_take_events(id: u32) -> Vec<Either<u32, ServerNotice>> {
  with_handle(id, Vec::new(), |handle| handle.take_events())
}

/// A `net.Socket`'s handle now owns `fd`, taken from the events.
#[napi(catch_unwind)]
pub fn server_handle_adopt_connection(id: u32, fd: i32) {
  with_handle(id, (), |handle| handle.adopt_connection(fd))
}

/// Closes `fd`, taken from the events and adopted by nothing; false (and
/// nothing closed) for a number the handle does not hold.
#[napi(catch_unwind)]
pub fn server_handle_close_connection(id: u32, fd: i32) -> bool {
  with_handle(id, false, |handle| handle.close_connection(fd))
}

/// Registers, once per environment, the cleanup hook that drops the
/// environment's handles when it ends: what stops their listeners (or takes
/// them out of their groups) at a worker's end or the main thread's. It is
/// registered before the environment's threadsafe function and prepare
/// handle exist, so it runs after their hooks (Node runs the newest first):
/// by then the threadsafe function is closing but not yet finalized (its
/// listeners' references can still be deleted), and the prepare handle has
/// dropped, unrun, the watching it had queued.
fn drop_at_teardown(env: &Env) -> Result<()> {
  let raw = env.raw();
  if HOOKED.with(|hooked| hooked.borrow().contains(&raw)) {
    return Ok(());
  }
  // SAFETY: `env` is live on this thread; the data is the environment's
  // pointer, only compared, never dereferenced.
  let status = unsafe { sys::napi_add_env_cleanup_hook(raw, Some(drop_handles), raw.cast()) };
  if status != sys::Status::napi_ok {
    return Err(napi::Error::from_status(napi::Status::from(status)));
  }
  HOOKED.with(|hooked| hooked.borrow_mut().push(raw));
  Ok(())
}

/// The cleanup hook: drops (and so closes) every handle of the ending
/// environment, outside the registry's borrow.
unsafe extern "C" fn drop_handles(data: *mut c_void) {
  let env = data.cast::<sys::napi_env__>();
  HOOKED.with(|hooked| hooked.borrow_mut().retain(|hooked| *hooked != env));
  let ending: Vec<Entry> = HANDLES.with(|handles| {
    let mut handles = handles.borrow_mut();
    let ids: Vec<u32> = handles
      .0
      .iter()
      .filter(|(_, entry)| entry.env == env)
      .map(|(id, _)| *id)
      .collect();
    ids.iter().filter_map(|id| handles.0.remove(id)).collect()
  });
  // A panic must not unwind into Node.
  let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(ending)));
}
