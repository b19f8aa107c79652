//! Listeners no connection has reached yet, watched without a task of
//! their own.
//!
//! Starting an accept loop from the JavaScript thread (spawning its task)
//! wakes the runtime's thread, and stopping it wakes that thread again: two
//! cross-thread wake-ups per `listen()`/`close()`, where Node's loop does
//! not even watch a listener before it next polls. So a new listener is
//! only added to an epoll instance of rs-net's own (`epoll_ctl` from the
//! JavaScript thread wakes nobody), which one long-lived task watches
//! through the reactor; and, as libuv does with Node's listeners, it is
//! added only when the JavaScript thread's loop next polls (see
//! [`crate::before_poll`]), so a listener closed in the turn it listened in
//! costs no `epoll_ctl` at all. When a listener's first connection is
//! pending, the watching task takes it out and starts its accept loop
//! there, on the runtime's thread. A listener closed before any connection
//! came never involved that thread.
//!
//! Each waiting listener has an id (never reused) as its epoll data; the
//! table from ids to listeners is the one place both threads take a
//! listener from, under its lock, so each listener is taken exactly once:
//! by the watcher to start it, or by its handle to cancel it. Whoever takes
//! it removes it from the epoll instance (if it was added) while the
//! descriptor is surely open (the listener's socket holds it).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::{Handle, Runtime};

/// The accept loop a listener runs once a connection is pending.
pub type StartLater = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A waiting listener: its socket's descriptor (open for as long as the
/// entry exists, held by the listener), the loop to start, and whether the
/// descriptor is in the epoll instance yet.
struct Waiting {
  fd: RawFd,
  start: StartLater,
  watched: bool,
}

/// rs-net's epoll instance for idle listeners, and the listeners in it.
pub struct IdleListeners {
  epoll: OwnedFd,
  table: Mutex<Table>,
  /// The runtime the loops start on.
  runtime: Handle,
}

#[derive(Default)]
struct Table {
  next_id: u64,
  waiting: HashMap<u64, Waiting>,
}

/// How many readiness events one `epoll_wait` call takes.
const EVENTS_PER_CALL: usize = 64;

impl IdleListeners {
  fn table(&self) -> MutexGuard<'_, Table> {
    self.table.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// Removes `fd` from the epoll instance. The caller holds `fd` open and
  /// it was added, so this does not fail (a descriptor left in the set
  /// would keep reporting readiness for an id no one has).
  fn forget(&self, fd: RawFd) {
    // SAFETY: both descriptors are open (the caller holds the listener's
    // socket, and `self.epoll` is owned); EPOLL_CTL_DEL ignores the event.
    unsafe {
      libc::epoll_ctl(
        self.epoll.as_raw_fd(),
        libc::EPOLL_CTL_DEL,
        fd,
        std::ptr::null_mut(),
      )
    };
  }

  /// Takes out every listener the epoll instance reports ready, up to one
  /// call's worth; `None` when none is ready.
  fn take_ready(&self) -> io::Result<Option<Vec<StartLater>>> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_CALL];
    // SAFETY: the buffer holds EVENTS_PER_CALL events; a timeout of 0 never
    // blocks.
    let count = unsafe {
      libc::epoll_wait(
        self.epoll.as_raw_fd(),
        events.as_mut_ptr(),
        EVENTS_PER_CALL as i32,
        0,
      )
    };
    if count < 0 {
      let error = io::Error::last_os_error();
      return if error.kind() == io::ErrorKind::Interrupted {
        Ok(Some(Vec::new()))
      } else {
        Err(error)
      };
    }
    if count == 0 {
      return Ok(None);
    }
    let mut table = self.table();
    let mut ready = Vec::with_capacity(count as usize);
    for event in &events[..count as usize] {
      let id = event.u64;
      // Absent: cancelled by its handle since epoll_wait reported it (a
      // reported listener was added).
      if let Some(waiting) = table.waiting.remove(&id) {
        self.forget(waiting.fd);
        ready.push(waiting.start);
      }
    }
    Ok(Some(ready))
  }

  /// Adds waiting listener `id` to the epoll instance, unless it was
  /// cancelled or added already. If the kernel refuses (out of memory, or
  /// past the user's `max_user_watches`), the listener's accept loop starts
  /// now instead, registering the socket with the reactor itself.
  fn watch(&self, id: u64) {
    let mut table = self.table();
    let Some(waiting) = table.waiting.get_mut(&id) else {
      return;
    };
    if waiting.watched {
      return;
    }
    let mut event = libc::epoll_event {
      events: libc::EPOLLIN as u32,
      u64: id,
    };
    // SAFETY: both descriptors are open (the entry's listener keeps `fd`
    // open; the epoll instance is owned), and `event` is a valid
    // epoll_event.
    let added = unsafe {
      libc::epoll_ctl(
        self.epoll.as_raw_fd(),
        libc::EPOLL_CTL_ADD,
        waiting.fd,
        &mut event,
      )
    };
    if added == 0 {
      waiting.watched = true;
      return;
    }
    if let Some(waiting) = table.waiting.remove(&id) {
      drop(table);
      self.runtime.spawn(waiting.start);
    }
  }
}

impl IdleListeners {
  /// Makes an epoll instance for idle listeners and starts, on `runtime`,
  /// the task that watches it (for the life of the runtime).
  pub fn start(runtime: &Runtime) -> io::Result<Arc<Self>> {
    // SAFETY: epoll_create1 has no preconditions; a non-negative result is
    // a new descriptor that nothing else owns.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
      return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` was just created and is owned by no one else.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let idle = Arc::new(IdleListeners {
      epoll,
      table: Mutex::new(Table::default()),
      runtime: runtime.handle().clone(),
    });
    let watched = {
      let _context = runtime.enter();
      // SAFETY: the registration holds an `Arc` of the idle listeners, so
      // the epoll descriptor stays open for as long as it is registered.
      unsafe { AsyncFd::register_with_interest(SharedIdle(Arc::clone(&idle)), Interest::READABLE) }
    };
    let watched = watched.map_err(|failure| failure.into_parts().1)?;
    runtime.spawn(watch(watched));
    Ok(idle)
  }
}

/// The idle listeners, whose epoll instance the reactor watches.
struct SharedIdle(Arc<IdleListeners>);

impl AsRawFd for SharedIdle {
  fn as_raw_fd(&self) -> RawFd {
    self.0.epoll.as_raw_fd()
  }
}

/// The watcher: starts each listener's accept loop, on this thread, once
/// the epoll instance reports it ready. Runs for the life of the process.
async fn watch(watched: AsyncFd<SharedIdle>) {
  let idle = Arc::clone(&watched.get_ref().0);
  loop {
    let Ok(mut guard) = watched.readable().await else {
      // The reactor is gone: the runtime is shutting down.
      return;
    };
    loop {
      match idle.take_ready() {
        Ok(Some(ready)) => {
          for start in ready {
            tokio::spawn(start);
          }
        }
        // Nothing more: wait for the reactor to say otherwise.
        Ok(None) => {
          guard.clear_ready();
          break;
        }
        // epoll_wait on an instance rs-net owns fails only when the
        // process is being torn down; try again on the next readiness.
        Err(_) => {
          guard.clear_ready();
          break;
        }
      }
      // Leave the thread to the accept loops between calls.
      tokio::task::consume_budget().await;
    }
  }
}

/// A listener waiting for its first connection: cancel it, or learn it has
/// started.
pub struct Idle {
  id: u64,
  idle: Arc<IdleListeners>,
}

impl Idle {
  /// Enters the listening socket `socket` (whose descriptor must stay open
  /// until this listener is started or cancelled: `start` should hold it)
  /// among `idle`; `start` runs on their runtime once a connection is
  /// pending on it, after [`Idle::watcher`] has run. Makes no system call
  /// and wakes no thread.
  pub fn wait(idle: &Arc<IdleListeners>, socket: &impl AsRawFd, start: StartLater) -> Self {
    let fd = socket.as_raw_fd();
    let idle = Arc::clone(idle);
    let mut table = idle.table();
    let id = table.next_id;
    table.next_id += 1;
    table.waiting.insert(
      id,
      Waiting {
        fd,
        start,
        watched: false,
      },
    );
    drop(table);
    Self { id, idle }
  }

  /// What adds the listener to the epoll instance (once; nothing after it
  /// was cancelled), to run on any thread, when the caller's event loop
  /// would start watching it.
  pub fn watcher(&self) -> impl FnOnce() + Send + 'static {
    let idle = Arc::clone(&self.idle);
    let id = self.id;
    move || idle.watch(id)
  }

  /// Takes the listener out if it is still waiting, returning its accept
  /// loop unstarted (the caller drops it, on its own thread); `None` when
  /// the loop has started (or is starting) on the runtime's thread.
  pub fn cancel(&self) -> Option<StartLater> {
    let mut table = self.idle.table();
    let waiting = table.waiting.remove(&self.id)?;
    if waiting.watched {
      self.idle.forget(waiting.fd);
    }
    Some(waiting.start)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::listen_socket::{ListenSocket, TcpOptions};
  use std::sync::mpsc;
  use std::time::Duration;
  use tokio::runtime::Builder;

  fn runtime() -> Runtime {
    Builder::new_multi_thread()
      .worker_threads(1)
      .enable_io()
      .enable_time()
      .build()
      .unwrap()
  }

  fn listening() -> (ListenSocket, u16) {
    let address = "127.0.0.1:0".parse().unwrap();
    let socket = ListenSocket::bind_tcp(address, TcpOptions::default()).unwrap();
    socket.listen(16).unwrap();
    let port = socket.local_inet_address().unwrap().port();
    (socket, port)
  }

  /// A loop that reports, once started, on which thread it runs.
  fn reporting_start() -> (StartLater, mpsc::Receiver<String>) {
    let (started, on_start) = mpsc::channel();
    let start: StartLater = Box::pin(async move {
      let thread = std::thread::current().name().unwrap_or("").to_string();
      let _ = started.send(thread);
    });
    (start, on_start)
  }

  /// A listening socket (kept open by the caller) entered, not yet
  /// watched, among new idle listeners of `runtime`; its port; and what its
  /// loop reports once started.
  fn entered(runtime: &Runtime) -> (Idle, ListenSocket, u16, mpsc::Receiver<String>) {
    let (socket, port) = listening();
    let (start, on_start) = reporting_start();
    let idle = Idle::wait(&IdleListeners::start(runtime).unwrap(), &socket, start);
    (idle, socket, port, on_start)
  }

  #[test]
  fn the_first_connection_starts_the_loop_on_the_runtime() {
    let runtime = runtime();
    let (idle, _socket, port, on_start) = entered(&runtime);
    idle.watcher()();
    // Nothing pending: not started.
    assert!(on_start.recv_timeout(Duration::from_millis(50)).is_err());
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let thread = on_start.recv_timeout(Duration::from_secs(10));
    assert!(thread.is_ok(), "started once a connection was pending");
    assert_ne!(
      thread.unwrap(),
      std::thread::current().name().unwrap_or("").to_string()
    );
    // Started: there is nothing left to cancel.
    assert!(idle.cancel().is_none());
    drop(client);
    runtime.shutdown_background();
  }

  /// As libuv with Node's listeners: a listener is not watched until its
  /// thread's loop would poll, and one connection that came before then
  /// starts it once it is.
  #[test]
  fn a_listener_is_watched_only_once_its_watcher_runs() {
    let runtime = runtime();
    let (idle, _socket, port, on_start) = entered(&runtime);
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(on_start.recv_timeout(Duration::from_millis(50)).is_err());
    let watch = idle.watcher();
    watch();
    assert!(on_start.recv_timeout(Duration::from_secs(10)).is_ok());
    // A second run of a watcher does nothing.
    idle.watcher()();
    drop(client);
    runtime.shutdown_background();
  }

  #[test]
  fn a_cancelled_listener_never_starts() {
    let runtime = runtime();
    let (idle, _socket, port, on_start) = entered(&runtime);
    idle.watcher()();
    let listeners = Arc::clone(&idle.idle);
    assert!(idle.cancel().is_some(), "still waiting, so taken back");
    assert!(idle.cancel().is_none(), "taken once");
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Dropped unstarted: the channel closes without a report.
    assert_eq!(
      on_start.recv_timeout(Duration::from_secs(1)),
      Err(mpsc::RecvTimeoutError::Disconnected)
    );
    // And the socket left the epoll instance: nothing reports ready.
    assert!(listeners.take_ready().unwrap().is_none());
    drop(client);
    runtime.shutdown_background();
  }
}
