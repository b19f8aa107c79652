//! One threadsafe function per Node environment, shared by every listener
//! of that environment, to wake its JavaScript thread.
//!
//! A listener's wake-up carries its id; on the JavaScript thread the id
//! names the listener's own callback (a reference kept here while it
//! listens), which is called without arguments. Making a threadsafe
//! function per `listen()` would cost a libuv handle each time, and each
//! would be an async resource that tools (Jest's `--detectOpenHandles`,
//! why-is-node-running) count as an open handle besides the server's own
//! Node handle. The shared one's async resource says `hasRef()` is false,
//! and it keeps the event loop alive exactly while some listener of the
//! environment is referenced (counted here).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use napi::{sys, Env, Status};

/// A threadsafe function that other threads may call while it lives.
struct RawFunction(sys::napi_threadsafe_function);

// SAFETY: a threadsafe function is made to be called from any thread; the
// pointer is only used under `EnvWaker::function`'s lock, and never after
// Node finalized it (which empties the lock's value first).
unsafe impl Send for RawFunction {}

/// The waking side of an environment's threadsafe function.
pub struct EnvWaker {
  /// `None` once Node finalized the function (the environment ended).
  function: Mutex<Option<RawFunction>>,
}

impl EnvWaker {
  /// Asks the JavaScript thread to call listener `id`'s callback. Returns
  /// false when the environment is gone or going.
  pub fn wake(&self, id: u32) -> bool {
    let function = self.function.lock().unwrap_or_else(|p| p.into_inner());
    let Some(function) = function.as_ref() else {
      return false;
    };
    // SAFETY: the function is alive (finalizing it takes this lock and
    // empties it first); a non-blocking call with an unbounded queue never
    // waits. The id travels as the data pointer's value, never dereferenced.
    let status = unsafe {
      sys::napi_call_threadsafe_function(
        function.0,
        id as usize as *mut c_void,
        sys::ThreadsafeFunctionCallMode::nonblocking,
      )
    };
    status == sys::Status::napi_ok
  }
}

/// What one environment (one JavaScript thread) keeps.
struct EnvState {
  env: sys::napi_env,
  waker: Arc<EnvWaker>,
  function: sys::napi_threadsafe_function,
  /// Each listening listener's callback.
  callbacks: HashMap<u32, sys::napi_ref>,
  /// How many listeners keep the event loop alive.
  referenced: usize,
}

thread_local! {
  /// The environments of this JavaScript thread: one, unless the addon was
  /// loaded again on it (after its module cache was cleared, say), which
  /// gives the new copy an environment of its own.
  static CURRENT: RefCell<Vec<EnvState>> = const { RefCell::new(Vec::new()) };
}

/// Ids of listeners, unique in the process.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn check(status: sys::napi_status) -> napi::Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::from_status(Status::from(status)))
  }
}

/// Registers `callback` (a JavaScript function) as a new listener's, on
/// `env`'s thread, making the environment's threadsafe function if it has
/// none yet. Returns the listener's id and the waker. The listener starts
/// referenced.
pub fn register_listener(
  env: &Env,
  callback: sys::napi_value,
) -> napi::Result<(u32, Arc<EnvWaker>)> {
  let raw_env = env.raw();
  let waker = current_waker(raw_env)?;
  let mut reference = ptr::null_mut();
  // SAFETY: `callback` is a live value of `env`, on its thread.
  check(unsafe { sys::napi_create_reference(raw_env, callback, 1, &mut reference) })?;
  let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
  CURRENT.with(|current| {
    let mut current = current.borrow_mut();
    if let Some(state) = current.iter_mut().find(|state| state.env == raw_env) {
      state.callbacks.insert(id, reference);
    }
  });
  set_referenced(raw_env, true);
  Ok((id, waker))
}

/// Forgets listener `id` (on its environment's thread): its callback is
/// released, and it no longer keeps the event loop alive if it did.
pub fn unregister_listener(id: u32, referenced: bool) {
  let released = CURRENT.with(|current| {
    let mut current = current.borrow_mut();
    // Ids are unique in the process: the one state that has it.
    current.iter_mut().find_map(|state| {
      let reference = state.callbacks.remove(&id)?;
      Some((state.env, reference))
    })
  });
  if let Some((env, reference)) = released {
    // SAFETY: the reference was made on this environment, which is alive
    // (its state is still here), and is deleted once.
    unsafe { sys::napi_delete_reference(env, reference) };
    if referenced {
      set_referenced(env, false);
    }
  }
}

/// Counts a listener in (`true`) or out of those that keep `env`'s event
/// loop alive; the function is referenced while any is.
pub fn set_referenced(env: sys::napi_env, referenced: bool) {
  CURRENT.with(|current| {
    let mut current = current.borrow_mut();
    let Some(state) = current.iter_mut().find(|state| state.env == env) else {
      return;
    };
    let before = state.referenced;
    state.referenced = if referenced {
      before + 1
    } else {
      before.saturating_sub(1)
    };
    // SAFETY: the function belongs to this environment, on its thread, and
    // is alive (finalizing it removes this state first).
    unsafe {
      if before == 0 && state.referenced == 1 {
        sys::napi_ref_threadsafe_function(env, state.function);
      } else if before == 1 && state.referenced == 0 {
        sys::napi_unref_threadsafe_function(env, state.function);
      }
    }
  });
}

/// Makes `env`'s threadsafe function now, if it has none yet. Making it
/// runs JavaScript (async hooks see its resource made), so a caller that
/// must run none while it holds something calls this first.
pub fn prepare(env: &Env) -> napi::Result<()> {
  current_waker(env.raw()).map(drop)
}

/// This thread's waker for `env`, made on first use.
fn current_waker(env: sys::napi_env) -> napi::Result<Arc<EnvWaker>> {
  let existing = CURRENT.with(|current| {
    current
      .borrow()
      .iter()
      .find(|state| state.env == env)
      .map(|state| Arc::clone(&state.waker))
  });
  if let Some(waker) = existing {
    return Ok(waker);
  }
  let waker = Arc::new(EnvWaker {
    function: Mutex::new(None),
  });
  let function = create_function(env, &waker)?;
  *waker.function.lock().unwrap_or_else(|p| p.into_inner()) = Some(RawFunction(function));
  CURRENT.with(|current| {
    current.borrow_mut().push(EnvState {
      env,
      waker: Arc::clone(&waker),
      function,
      callbacks: HashMap::new(),
      referenced: 0,
    });
  });
  Ok(waker)
}

/// Makes the environment's threadsafe function, unreferenced, with an
/// async resource whose `hasRef()` is false.
fn create_function(
  env: sys::napi_env,
  waker: &Arc<EnvWaker>,
) -> napi::Result<sys::napi_threadsafe_function> {
  // SAFETY (this block): every call gets `env` on its own thread and
  // pointers to locals it writes into; the finalize data is a leaked
  // `Arc<EnvWaker>` that `finalize` takes back once.
  unsafe {
    let mut resource = ptr::null_mut();
    check(sys::napi_create_object(env, &mut resource))?;
    let mut has_ref = ptr::null_mut();
    check(sys::napi_create_function(
      env,
      c"hasRef".as_ptr(),
      6,
      Some(has_ref_false),
      ptr::null_mut(),
      &mut has_ref,
    ))?;
    check(sys::napi_set_named_property(
      env,
      resource,
      c"hasRef".as_ptr(),
      has_ref,
    ))?;
    let mut name = ptr::null_mut();
    check(sys::napi_create_string_utf8(
      env,
      c"RSNET_WAKE".as_ptr(),
      10,
      &mut name,
    ))?;
    let data = Arc::into_raw(Arc::clone(waker)).cast_mut().cast::<c_void>();
    let mut function = ptr::null_mut();
    let status = sys::napi_create_threadsafe_function(
      env,
      ptr::null_mut(),
      resource,
      name,
      0,
      1,
      data,
      Some(finalize),
      ptr::null_mut(),
      Some(call_js),
      &mut function,
    );
    if status != sys::Status::napi_ok {
      drop(Arc::from_raw(data.cast_const().cast::<EnvWaker>()));
      return Err(napi::Error::from_status(Status::from(status)));
    }
    check(sys::napi_unref_threadsafe_function(env, function))?;
    Ok(function)
  }
}

/// `hasRef()` of the function's async resource: the server's own Node
/// handle is what stands for it to tools.
unsafe extern "C" fn has_ref_false(
  env: sys::napi_env,
  _info: sys::napi_callback_info,
) -> sys::napi_value {
  let mut value = ptr::null_mut();
  // SAFETY: called by Node on `env`'s thread.
  unsafe { sys::napi_get_boolean(env, false, &mut value) };
  value
}

/// Called by Node when the environment ends: nobody may call the function
/// any more, and this thread's state goes (without touching the ending
/// environment's references).
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  // SAFETY: `data` is the `Arc<EnvWaker>` leaked in `create_function`;
  // Node finalizes a function once.
  let waker = unsafe { Arc::from_raw(data.cast_const().cast::<EnvWaker>()) };
  *waker.function.lock().unwrap_or_else(|p| p.into_inner()) = None;
  CURRENT.with(|current| {
    current
      .borrow_mut()
      .retain(|state| !Arc::ptr_eq(&state.waker, &waker));
  });
}

/// Runs on the JavaScript thread for each wake-up: calls the callback of
/// the listener whose id came with it, if it still listens.
unsafe extern "C" fn call_js(
  env: sys::napi_env,
  _callback: sys::napi_value,
  _context: *mut c_void,
  data: *mut c_void,
) {
  if env.is_null() {
    return;
  }
  let id = data as usize as u32;
  let reference = CURRENT.with(|current| {
    current
      .borrow()
      .iter()
      .find(|state| state.env == env)
      .and_then(|state| state.callbacks.get(&id).copied())
  });
  let Some(reference) = reference else {
    return;
  };
  // SAFETY: on `env`'s thread; the reference is this environment's and
  // alive (it is removed from the map before being deleted).
  unsafe {
    let mut callback = ptr::null_mut();
    if sys::napi_get_reference_value(env, reference, &mut callback) != sys::Status::napi_ok
      || callback.is_null()
    {
      return;
    }
    let mut receiver = ptr::null_mut();
    sys::napi_get_undefined(env, &mut receiver);
    let mut result = ptr::null_mut();
    let status = sys::napi_call_function(env, receiver, callback, 0, ptr::null(), &mut result);
    if status == sys::Status::napi_pending_exception {
      // Reported as Node reports an exception thrown from any callback:
      // 'uncaughtException', or the process ends.
      let mut exception = ptr::null_mut();
      if sys::napi_get_and_clear_last_exception(env, &mut exception) == sys::Status::napi_ok {
        sys::napi_fatal_exception(env, exception);
      }
    }
  }
}
