//! Ties native work to the Node environment (main thread or worker) that
//! started it, so a torn-down environment never receives a call.
//!
//! Node runs environment cleanup hooks when the main thread exits by itself
//! and when a worker thread ends or is terminated. A listening server
//! registers one; its action stops the accept loop and closes queued
//! connections. Closing the server cancels the hook and frees its data
//! (napi-rs' own wrapper would leak it on removal).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use napi::{sys, Env, Status};

/// What a registered hook runs, and whether it already ran.
struct HookState {
  action: Mutex<Option<Box<dyn FnOnce() + Send>>>,
  ran: AtomicBool,
}

/// A registered cleanup hook; [`EnvCleanup::cancel`] removes it.
pub struct EnvCleanup {
  env: sys::napi_env,
  data: *const HookState,
  state: Arc<HookState>,
}

impl EnvCleanup {
  /// Registers `action` to run when `env` is torn down.
  pub fn register(env: &Env, action: impl FnOnce() + Send + 'static) -> napi::Result<Self> {
    let state = Arc::new(HookState {
      action: Mutex::new(Some(Box::new(action))),
      ran: AtomicBool::new(false),
    });
    let data = Arc::into_raw(Arc::clone(&state));
    // SAFETY: `data` is a leaked `Arc<HookState>` that `run_hook` (or
    // `cancel`) takes back exactly once; `env` is the caller's live env.
    let status =
      unsafe { sys::napi_add_env_cleanup_hook(env.raw(), Some(run_hook), data.cast_mut().cast()) };
    if status != sys::Status::napi_ok {
      // SAFETY: registration failed, so nothing else will reclaim `data`.
      drop(unsafe { Arc::from_raw(data) });
      return Err(napi::Error::from_status(Status::from(status)));
    }
    Ok(Self {
      env: env.raw(),
      data,
      state,
    })
  }

  /// Removes the hook without running it. Does nothing if it already ran.
  /// Must be called on the environment's own thread.
  pub fn cancel(self) {
    if self.state.ran.load(Ordering::Acquire) {
      return;
    }
    // SAFETY: the hook is registered (it has not run) with exactly this
    // function and data, on this environment, from its thread.
    let status = unsafe {
      sys::napi_remove_env_cleanup_hook(self.env, Some(run_hook), self.data.cast_mut().cast())
    };
    if status == sys::Status::napi_ok {
      // SAFETY: the hook can no longer run, so its reference is ours again.
      drop(unsafe { Arc::from_raw(self.data) });
    }
  }
}

/// The hook Node calls at teardown, on the environment's thread.
unsafe extern "C" fn run_hook(data: *mut c_void) {
  // SAFETY: `data` came from `Arc::into_raw` in `register`; Node calls a
  // hook at most once, and `cancel` skips hooks that ran.
  let state = unsafe { Arc::from_raw(data.cast_const().cast::<HookState>()) };
  state.ran.store(true, Ordering::Release);
  let action = state
    .action
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .take();
  if let Some(action) = action {
    // A panic must not unwind into Node.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(action));
  }
}
