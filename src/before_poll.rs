//! Work a JavaScript thread does just before its event loop next waits for
//! I/O: one libuv prepare handle per Node environment, started only while
//! work is queued.
//!
//! libuv starts watching a listener Node makes when its loop next polls, so
//! a server that closes in the turn it listened in (test suites do this by
//! the thousand) never reaches the kernel's epoll. rs-net's idle listeners
//! wait here the same way (see [`crate::idle_listeners`]): until then a
//! pending connection waits in the kernel's backlog, as it does for Node.
//!
//! The prepare handle is unreferenced (it never keeps the loop alive) and
//! closed at teardown by an asynchronous cleanup hook, which Node waits for
//! before it closes the loop.

use std::cell::RefCell;
use std::ffi::c_void;
use std::io;
use std::ptr;

use napi::{sys, Env};

// Here always a `uv_prepare_t`.
use crate::node_loop::UvHandle;

/// libuv's `UV_PREPARE` in `uv_handle_type` (fixed across libuv 1.x).
const UV_PREPARE: libc::c_int = 9;

/// Node-API's asynchronous cleanup hooks (Node-API 8, which every Node
/// rs-net supports has), declared here: napi-rs's Node-API 8 feature would
/// also add a type-tag check to every method call.
type AsyncCleanupHandle = *mut c_void;
type AsyncCleanupHook = unsafe extern "C" fn(handle: AsyncCleanupHandle, data: *mut c_void);

extern "C" {
  fn napi_add_async_cleanup_hook(
    env: sys::napi_env,
    hook: AsyncCleanupHook,
    arg: *mut c_void,
    remove_handle: *mut AsyncCleanupHandle,
  ) -> sys::napi_status;
  fn napi_remove_async_cleanup_hook(remove_handle: AsyncCleanupHandle) -> sys::napi_status;
  fn uv_handle_size(kind: libc::c_int) -> usize;
  fn uv_prepare_init(event_loop: *mut c_void, handle: *mut UvHandle) -> libc::c_int;
  fn uv_prepare_start(
    handle: *mut UvHandle,
    cb: unsafe extern "C" fn(*mut UvHandle),
  ) -> libc::c_int;
  fn uv_prepare_stop(handle: *mut UvHandle) -> libc::c_int;
  fn uv_unref(handle: *mut UvHandle);
  fn uv_close(handle: *mut UvHandle, cb: unsafe extern "C" fn(*mut UvHandle));
}

/// Work to run before the next poll, on the environment's thread.
pub type Task = Box<dyn FnOnce()>;

/// Storage for one `uv_prepare_t`, whose size libuv tells at run time;
/// 16-byte units keep it aligned for any field.
type HandleMemory = Box<[u128]>;

/// One environment's prepare handle and the work queued for it.
struct EnvPrepare {
  env: sys::napi_env,
  handle: *mut UvHandle,
  /// The handle's storage, freed once libuv has closed it.
  memory: *mut [u128],
  /// Whether the handle is started (work is queued).
  started: bool,
  queue: Vec<Task>,
}

/// A handle being closed: its storage, freed by the close callback, which
/// then tells Node (at teardown) that this cleanup is done.
struct Closing {
  handle: *mut UvHandle,
  memory: *mut [u128],
  done: AsyncCleanupHandle,
}

thread_local! {
  /// This thread's environments (one, unless the addon was loaded again on
  /// it) and their prepare handles.
  static PREPARES: RefCell<Vec<EnvPrepare>> = const { RefCell::new(Vec::new()) };
  /// Handles being closed.
  static CLOSING: RefCell<Vec<Closing>> = const { RefCell::new(Vec::new()) };
}

/// Runs `task` on `env`'s thread just before its event loop next polls for
/// I/O. Must be called on that thread. Fails, giving the task back unrun,
/// only when the environment's prepare handle cannot be made or started.
pub fn before_next_poll(env: &Env, task: Task) -> Result<(), Task> {
  let raw_env = env.raw();
  PREPARES.with(|prepares| {
    let mut prepares = prepares.borrow_mut();
    let index = match prepares.iter().position(|prepare| prepare.env == raw_env) {
      Some(index) => index,
      None => match make_prepare(env) {
        Ok(prepare) => {
          prepares.push(prepare);
          prepares.len() - 1
        }
        Err(_) => return Err(task),
      },
    };
    let prepare = &mut prepares[index];
    if !prepare.started {
      // SAFETY: the handle is initialized and open (it leaves this list
      // before it is closed), on its loop's thread.
      if unsafe { uv_prepare_start(prepare.handle, run_queue) } != 0 {
        return Err(task);
      }
      prepare.started = true;
    }
    prepare.queue.push(task);
    Ok(())
  })
}

/// Makes `env`'s prepare handle, unreferenced and stopped, with the
/// asynchronous cleanup hook that closes it.
fn make_prepare(env: &Env) -> io::Result<EnvPrepare> {
  let event_loop = env
    .get_uv_event_loop()
    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
  // SAFETY: uv_handle_size only reads its argument.
  let size = unsafe { uv_handle_size(UV_PREPARE) };
  let units = size.div_ceil(std::mem::size_of::<u128>());
  let memory: HandleMemory = vec![0u128; units].into_boxed_slice();
  let memory = Box::into_raw(memory);
  let handle = memory.cast::<UvHandle>();
  // SAFETY: `handle` points to zeroed storage of the size libuv asks for,
  // which stays allocated until the close callback frees it; the loop is
  // this environment's, on its thread.
  let initialized = unsafe { uv_prepare_init(event_loop.cast(), handle) };
  if initialized != 0 {
    // SAFETY: libuv failed before keeping the handle; the storage is ours.
    drop(unsafe { Box::from_raw(memory) });
    return Err(io::Error::from_raw_os_error(-initialized));
  }
  // SAFETY: the handle was just initialized on this thread's loop.
  unsafe { uv_unref(handle) };
  let mut done = ptr::null_mut();
  // SAFETY: `env` is live on this thread; the hook's data is the handle,
  // which stays open until the hook closes it.
  let status =
    unsafe { napi_add_async_cleanup_hook(env.raw(), close_at_teardown, handle.cast(), &mut done) };
  if status != sys::Status::napi_ok {
    // Nothing would close the handle before the loop closes: close it now.
    close(handle, memory, ptr::null_mut());
    return Err(io::Error::from_raw_os_error(libc::ENOMEM));
  }
  Ok(EnvPrepare {
    env: env.raw(),
    handle,
    memory,
    started: false,
    queue: Vec::new(),
  })
}

/// Closes `handle` (open, of this thread's loop); its storage is freed
/// and `done` (unless null) removed once libuv has closed it.
fn close(handle: *mut UvHandle, memory: *mut [u128], done: AsyncCleanupHandle) {
  CLOSING.with(|closing| {
    closing.borrow_mut().push(Closing {
      handle,
      memory,
      done,
    })
  });
  // SAFETY: the handle is open, on this thread's loop; stopping a stopped
  // handle does nothing.
  unsafe {
    uv_prepare_stop(handle);
    uv_close(handle, free_closed);
  }
}

/// The prepare callback: stops the handle and runs the queued work.
unsafe extern "C" fn run_queue(handle: *mut UvHandle) {
  let tasks = PREPARES.with(|prepares| {
    let mut prepares = prepares.borrow_mut();
    let prepare = prepares
      .iter_mut()
      .find(|prepare| prepare.handle == handle)?;
    prepare.started = false;
    // SAFETY: the handle is open and started, on this thread.
    unsafe { uv_prepare_stop(handle) };
    Some(std::mem::take(&mut prepare.queue))
  });
  // Run with the list let go of: a task may queue more work.
  for task in tasks.into_iter().flatten() {
    // A panic must not unwind into libuv.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
  }
}

/// The asynchronous cleanup hook: closes the environment's prepare handle,
/// dropping work still queued (the listeners it would have watched are
/// closed by the handle registry's cleanup hook, which runs after this one
/// and copes with a listener never watched). Node's teardown waits until
/// [`free_closed`] is done.
unsafe extern "C" fn close_at_teardown(done: AsyncCleanupHandle, data: *mut c_void) {
  let handle = data.cast::<UvHandle>();
  let removed = PREPARES.with(|prepares| {
    let mut prepares = prepares.borrow_mut();
    let index = prepares
      .iter()
      .position(|prepare| prepare.handle == handle)?;
    Some(prepares.swap_remove(index))
  });
  match removed {
    Some(prepare) => {
      let memory = prepare.memory;
      // The queued work is dropped here, outside the list's borrow.
      drop(prepare);
      close(handle, memory, done);
    }
    // SAFETY: `done` is the handle Node passed to this hook (never
    // reached: every hook's handle is in the list).
    None => unsafe {
      napi_remove_async_cleanup_hook(done);
    },
  }
}

/// libuv's close callback: frees the handle's storage and, at teardown,
/// tells Node this cleanup is done.
unsafe extern "C" fn free_closed(handle: *mut UvHandle) {
  let closed = CLOSING.with(|closing| {
    let mut closing = closing.borrow_mut();
    let index = closing.iter().position(|entry| entry.handle == handle)?;
    Some(closing.swap_remove(index))
  });
  let Some(closed) = closed else {
    return;
  };
  // SAFETY: libuv is done with the handle; the storage came from
  // `Box::into_raw` in `make_prepare` and is freed once.
  drop(unsafe { Box::from_raw(closed.memory) });
  if !closed.done.is_null() {
    // SAFETY: `done` is the handle Node passed to the hook, removed once.
    unsafe { napi_remove_async_cleanup_hook(closed.done) };
  }
}
