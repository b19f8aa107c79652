//! The process-wide tokio runtime that runs every accept loop.
//!
//! One runtime serves every server in the process, including servers made in
//! worker threads (the addon is loaded once per environment but this static is
//! shared). Accepting is cheap, so a single worker thread is enough; it never
//! keeps Node's event loop alive by itself.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::{Builder, Runtime};

use crate::idle_listeners::IdleListeners;

/// Returns the shared runtime, building it on first use.
///
/// Fails (without panicking) when the operating system refuses the resources
/// a runtime needs (threads, an epoll instance); the error is kept so every
/// later call reports the same errno.
pub fn get() -> io::Result<&'static Runtime> {
  static RUNTIME: OnceLock<Result<Runtime, i32>> = OnceLock::new();
  let built = RUNTIME.get_or_init(|| {
    Builder::new_multi_thread()
      .worker_threads(1)
      .thread_name("rs-net-accept")
      .enable_io()
      .enable_time()
      .build()
      .map_err(|error| error.raw_os_error().unwrap_or(libc::EAGAIN))
  });
  match built {
    Ok(runtime) => Ok(runtime),
    Err(code) => Err(io::Error::from_raw_os_error(*code)),
  }
}

/// The shared runtime's idle listeners (see [`crate::idle_listeners`]),
/// made on first use. A failure (out of descriptors, say) is not kept: the
/// next call tries again, so one refused `epoll_create1` does not refuse
/// every later `listen()`.
pub fn idle_listeners() -> io::Result<Arc<IdleListeners>> {
  static IDLE: Mutex<Option<Arc<IdleListeners>>> = Mutex::new(None);
  let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
  if let Some(made) = idle.as_ref() {
    return Ok(Arc::clone(made));
  }
  let made = IdleListeners::start(get()?)?;
  *idle = Some(Arc::clone(&made));
  Ok(made)
}
