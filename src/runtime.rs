//! The process-wide tokio runtime that runs every accept loop.
//!
//! One runtime serves every server in the process, including servers made in
//! worker threads (the addon is loaded once per environment but this static is
//! shared). Accepting is cheap, so a single worker thread is enough; it never
//! keeps Node's event loop alive by itself.

use std::io;
use std::sync::{Arc, OnceLock};

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
/// made on first use; a failure is kept, as the runtime's is.
pub fn idle_listeners() -> io::Result<&'static Arc<IdleListeners>> {
  static IDLE: OnceLock<Result<Arc<IdleListeners>, i32>> = OnceLock::new();
  let made = IDLE.get_or_init(|| {
    let runtime = get().map_err(|error| error.raw_os_error().unwrap_or(libc::EAGAIN))?;
    IdleListeners::start(runtime).map_err(|error| error.raw_os_error().unwrap_or(libc::ENOMEM))
  });
  match made {
    Ok(idle) => Ok(idle),
    Err(code) => Err(io::Error::from_raw_os_error(*code)),
  }
}
