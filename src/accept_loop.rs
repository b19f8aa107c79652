//! The tokio task that accepts connections on one listening socket.
//!
//! It accepts until the socket has nothing pending (or a batch is full) and
//! hands the connections to the [`EventBridge`]; JavaScript decides what
//! becomes of each (`maxConnections` and `'drop'` included, as Node's
//! `onconnection` does). When the process runs out of descriptors
//! (`EMFILE`/`ENFILE`) it waits with a growing delay and tries again, leaving
//! clients in the kernel's backlog instead of spinning a core.

use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::{Interest, Ready};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::errno::errno_of;
use crate::event_bridge::{EventBridge, ServerEvent, BATCH_SIZE};
use crate::idle_listeners::{Idle, IdleListeners};
use crate::listen_socket::ListenSocket;

/// First wait after running out of descriptors (or another accept error
/// that may repeat); each further one doubles, up to [`LAST_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// Longest wait between attempts to accept after a failure.
const LAST_BACKOFF: Duration = Duration::from_millis(500);
/// How long JavaScript may leave a round untaken before the loop accepts
/// the next one anyway.
const STALL: Duration = Duration::from_millis(1);
/// Most events left waiting for JavaScript before the loop stops accepting
/// altogether; the kernel's backlog holds the rest, as it does for Node.
const QUEUE_LIMIT: usize = 1024;

/// A listening socket shared by its handle (for addresses, `listen` and
/// `close`) and its accept loop, which registers it with the reactor only
/// while it wants connections.
#[derive(Clone)]
pub struct SharedSocket(pub Arc<ListenSocket>);

impl AsRawFd for SharedSocket {
  fn as_raw_fd(&self) -> RawFd {
    self.0.as_raw_fd()
  }
}

/// The socket as registered with the reactor.
pub type Registered = AsyncFd<SharedSocket>;

/// Registers `socket` for readability with the current runtime's reactor.
/// Fails with `EEXIST` when the descriptor is already being watched.
pub fn register(socket: SharedSocket) -> Result<Registered, (SharedSocket, io::Error)> {
  // SAFETY: the registration holds an `Arc` of the socket, so its descriptor
  // stays open, with the same number, for as long as it is registered.
  unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
    .map_err(|failure| failure.into_parts())
}

/// The socket as the accept loop holds it: watched by the reactor, or set
/// aside while JavaScript catches up. Shared with the handle, which takes
/// it out to close the socket on its own thread; the loop only accepts
/// while it holds the lock, so it never accepts on a closed descriptor or
/// on a number reused since.
enum Watch {
  Registered(Registered),
  Unwatched(SharedSocket),
}

/// The slot the loop and the handle share; empty once the handle closed.
type SocketSlot = Arc<Mutex<Option<Watch>>>;

fn lock_slot(slot: &SocketSlot) -> std::sync::MutexGuard<'_, Option<Watch>> {
  slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running accept loop (or one waiting among the idle listeners for its
/// first connection). [`AcceptLoop::release`] ends it.
pub struct AcceptLoop {
  stop: Mutex<Option<oneshot::Sender<()>>>,
  slot: SocketSlot,
  /// Set while the loop may still be waiting, unstarted, for its first
  /// connection.
  idle: Option<Idle>,
}

impl AcceptLoop {
  /// Starts accepting on `registered` (registered with `runtime`'s reactor
  /// by the caller, so registration errors are the caller's) and
  /// delivering to `bridge`.
  pub fn start(runtime: &Runtime, registered: Registered, bridge: Arc<EventBridge>) -> Self {
    let (stop_sender, stop) = oneshot::channel();
    let slot: SocketSlot = Arc::new(Mutex::new(Some(Watch::Registered(registered))));
    let task_slot = Arc::clone(&slot);
    runtime.spawn(async move {
      run(task_slot, bridge, stop).await;
    });
    Self {
      stop: Mutex::new(Some(stop_sender)),
      slot,
      idle: None,
    }
  }

  /// Starts accepting on `socket` (listening, not registered with the
  /// reactor) once a connection is pending on it, delivering to `bridge`;
  /// until then the loop is only an entry among `idle`, which watches the
  /// socket once the function [`AcceptLoop::watcher`] gives has run, and
  /// neither this call nor a [`AcceptLoop::release`] before a connection
  /// wakes the runtime's thread.
  pub fn start_when_connected(
    idle: &Arc<IdleListeners>,
    socket: SharedSocket,
    bridge: Arc<EventBridge>,
  ) -> Self {
    let (stop_sender, stop) = oneshot::channel();
    // The loop registers the socket itself, on the runtime's thread.
    let slot: SocketSlot = Arc::new(Mutex::new(Some(Watch::Unwatched(socket.clone()))));
    let task_slot = Arc::clone(&slot);
    let start = Box::pin(async move {
      run(task_slot, bridge, stop).await;
    });
    // The slot (in `start`, and here) holds the socket open until the loop
    // is started or released.
    let idle = Idle::wait(idle, &socket, start);
    Self {
      stop: Mutex::new(Some(stop_sender)),
      slot,
      idle: Some(idle),
    }
  }

  /// For a loop started with [`AcceptLoop::start_when_connected`]: what
  /// makes the idle listeners watch its socket (see [`Idle::watcher`]).
  pub fn watcher(&self) -> Option<impl FnOnce() + Send + 'static> {
    self.idle.as_ref().map(Idle::watcher)
  }

  /// Tells the loop to stop; it ends (and lets go of the socket and the
  /// bridge) on its thread shortly after. Safe to call more than once.
  pub fn stop(&self) {
    let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(stop) = stop {
      let _ = stop.send(());
    }
  }

  /// Takes the socket away from the loop on the caller's thread: removes it
  /// from the reactor and drops the loop's reference, so that the caller's
  /// drop of its own closes the descriptor at once, without waiting for the
  /// runtime's thread; then tells the loop to end. Safe to call more than
  /// once.
  pub fn release(&self) {
    // Still idle: the unstarted loop is dropped here, and no one is woken.
    if let Some(unstarted) = self.idle.as_ref().and_then(Idle::cancel) {
      drop(unstarted);
    }
    let taken = lock_slot(&self.slot).take();
    // Deregistered (epoll_ctl) here, after the lock is let go: the loop,
    // finding the slot empty, ends without touching the socket again.
    drop(taken);
    self.stop();
  }
}

/// What one wait for readiness came to.
enum Wake {
  /// The handle took the socket (closed) or the reactor is gone.
  Gone,
  /// A round was accepted, with the readiness it started from.
  Round(Vec<ServerEvent>, RoundEnd, Ready),
}

/// Accepts until stopped.
///
/// Once a round of connections is handed over and not yet taken, the loop
/// stops watching the socket until JavaScript takes them: connections that
/// arrive meanwhile wait in the kernel's backlog and are accepted together
/// in the next round, instead of waking this thread once per connection
/// (each wake-up costs more than the accept itself). If JavaScript takes
/// nothing for [`STALL`] (it is busy or blocked), the loop accepts anyway,
/// up to [`QUEUE_LIMIT`] waiting events, so the backlog keeps draining.
///
/// Every accept loop of the process shares one runtime thread, so a loop
/// must never keep it: each round spends from tokio's cooperative budget
/// (the readiness futures of `AsyncFd` do not), and a readiness that says
/// the socket is closed while `accept` finds nothing is not trusted (see
/// [`stale_readiness`]): the socket is registered afresh, and if the kernel
/// still says so, the loop backs off as it does after accept errors.
///
/// The socket lives in `slot`, which the handle empties when it closes; the
/// loop holds the slot's lock while it accepts and ends when it finds the
/// slot empty.
async fn run(slot: SocketSlot, bridge: Arc<EventBridge>, mut stop: oneshot::Receiver<()>) {
  if lock_slot(&slot).is_none() {
    return;
  }
  let mut backoff = FIRST_BACKOFF;
  // Rounds in a row that found a closed readiness and nothing to accept.
  let mut stale_rounds = 0u32;
  loop {
    // Yields to the other listeners' loops once the budget is spent, even
    // if every future below is ready at once.
    tokio::task::consume_budget().await;
    let unwatched = match lock_slot(&slot).as_ref() {
      None => return,
      Some(watch) => matches!(watch, Watch::Unwatched(_)),
    };
    if unwatched {
      tokio::select! {
        biased;
        _ = &mut stop => return,
        () = bridge.wait_until_drained() => {}
        () = tokio::time::sleep(STALL), if bridge.queued_events() < QUEUE_LIMIT => {}
      }
      let failed = {
        let mut guard = lock_slot(&slot);
        match guard.take() {
          None => return,
          Some(Watch::Unwatched(socket)) => match register(socket) {
            Ok(registered) => {
              *guard = Some(Watch::Registered(registered));
              None
            }
            Err((socket, error)) => {
              *guard = Some(Watch::Unwatched(socket));
              Some(error)
            }
          },
          Some(registered) => {
            *guard = Some(registered);
            None
          }
        }
      };
      if let Some(error) = failed {
        bridge.send(vec![ServerEvent::AcceptFailed(errno_of(&error))]);
        if pause(&mut stop, &mut backoff).await.is_break() {
          return;
        }
        continue;
      }
    }
    let wake = tokio::select! {
      biased;
      _ = &mut stop => return,
      wake = std::future::poll_fn(|cx| {
        let guard = lock_slot(&slot);
        let Some(Watch::Registered(registered)) = guard.as_ref() else {
          return std::task::Poll::Ready(Wake::Gone);
        };
        match registered.poll_read_ready(cx) {
          std::task::Poll::Pending => std::task::Poll::Pending,
          // The reactor is gone: the runtime is shutting down.
          std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Wake::Gone),
          std::task::Poll::Ready(Ok(mut ready)) => {
            // Read before accepting: a round that finds nothing clears it.
            let readiness = ready.ready();
            let (batch, end) = accept_round(&mut ready);
            std::task::Poll::Ready(Wake::Round(batch, end, readiness))
          }
        }
      }) => wake,
    };
    let Wake::Round(batch, end, readiness) = wake else {
      return;
    };
    if !batch.is_empty() {
      bridge.send(batch);
    }
    let stale = matches!(end, RoundEnd::Nothing) && stale_readiness(readiness);
    match end {
      RoundEnd::Pause => {
        if pause(&mut stop, &mut backoff).await.is_break() {
          return;
        }
      }
      RoundEnd::Accepted => {
        backoff = FIRST_BACKOFF;
        stale_rounds = 0;
      }
      RoundEnd::Nothing if stale => {
        // The first time, registering again is enough (the reactor saw the
        // socket before listen(2)); after that the socket itself does not
        // listen (an inherited one that its other owner shut down).
        if stale_rounds > 0 && pause(&mut stop, &mut backoff).await.is_break() {
          return;
        }
        stale_rounds = stale_rounds.saturating_add(1);
      }
      RoundEnd::Nothing => stale_rounds = 0,
    }
    if !bridge.is_drained() || stale {
      let mut guard = lock_slot(&slot);
      match guard.take() {
        None => return,
        Some(Watch::Registered(registered)) => {
          *guard = Some(Watch::Unwatched(registered.into_inner()));
        }
        Some(unwatched) => *guard = Some(unwatched),
      }
    }
  }
}

/// Whether `readiness`, found on a round that accepted nothing, is one the
/// reactor can never report again: a closed state.
///
/// A listening socket never polls as closed; one that is bound but not yet
/// listening polls as hung up (`EPOLLHUP`, a TCP or Unix stream socket in
/// the closed state). The socket is registered before `listen(2)` (so that a
/// descriptor rs-net already watches fails first), and when the reactor
/// happens to poll it in between, tokio records the hang-up as
/// `READ_CLOSED`/`WRITE_CLOSED`, which it treats as final: clearing the
/// readiness after `EAGAIN` keeps them, and `readable()` resolves at once
/// for as long as the registration lives. Only a new registration, made
/// while the socket listens, reads the socket's state again.
pub(crate) fn stale_readiness(readiness: Ready) -> bool {
  readiness.is_read_closed() || readiness.is_write_closed()
}

/// How a round of accepting ended.
enum RoundEnd {
  /// Connections were accepted (all that were pending, or a full batch).
  Accepted,
  /// Nothing was pending after all.
  Nothing,
  /// Accepting failed in a way that calls for a pause before trying again:
  /// out of descriptors or memory, or an error that could repeat.
  Pause,
}

/// Accepts up to one batch of pending connections.
fn accept_round(ready: &mut AsyncFdReadyGuard<'_, SharedSocket>) -> (Vec<ServerEvent>, RoundEnd) {
  let mut batch = Vec::new();
  while batch.len() < BATCH_SIZE {
    let accepted = match ready.try_io(|socket| socket.get_ref().0.accept()) {
      Ok(accepted) => accepted,
      // Nothing pending: readiness is cleared until the next connection.
      Err(_would_block) => break,
    };
    match accepted {
      Ok(connection) => batch.push(ServerEvent::Connection(connection)),
      Err(error) => match error.raw_os_error() {
        // The client gave up before we accepted: nothing to report.
        Some(libc::ECONNABORTED) | Some(libc::EINTR) => {}
        // Out of descriptors: wait for some to be freed. Node's libuv does
        // not report these either.
        Some(libc::EMFILE) | Some(libc::ENFILE) => return (batch, RoundEnd::Pause),
        // Anything else is reported as Node reports it ('error' with
        // syscall 'accept'); the pause keeps a persistent failure from
        // spinning.
        _ => {
          batch.push(ServerEvent::AcceptFailed(errno_of(&error)));
          return (batch, RoundEnd::Pause);
        }
      },
    }
  }
  let end = if batch.is_empty() {
    RoundEnd::Nothing
  } else {
    RoundEnd::Accepted
  };
  (batch, end)
}

/// Sleeps for the current backoff (doubling it for next time), unless
/// stopped first.
pub(crate) async fn pause(
  stop: &mut oneshot::Receiver<()>,
  backoff: &mut Duration,
) -> ControlFlow<()> {
  let delay = *backoff;
  *backoff = (*backoff * 2).min(LAST_BACKOFF);
  tokio::select! {
    biased;
    _ = stop => ControlFlow::Break(()),
    () = tokio::time::sleep(delay) => ControlFlow::Continue(()),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::listen_socket::TcpOptions;
  use std::sync::mpsc;
  use std::time::Instant;
  use tokio::runtime::Builder;

  /// Waits up to ten seconds (a bound, not an expectation) for `done`.
  fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
      if Instant::now() > deadline {
        return false;
      }
      std::thread::sleep(Duration::from_millis(5));
    }
    true
  }

  /// The race behind lost connections in a reusePort group: the reactor
  /// polls a listener between its registration and listen(2), and the
  /// hang-up of a socket that does not listen yet stays in tokio's
  /// readiness. The loop must still accept, and must leave the runtime's
  /// one thread to the other listeners' loops.
  #[test]
  fn a_hang_up_seen_before_listen_starves_no_one() {
    let runtime = Builder::new_multi_thread()
      .worker_threads(1)
      .enable_io()
      .enable_time()
      .build()
      .unwrap();
    let address = "127.0.0.1:0".parse().unwrap();
    let socket = Arc::new(ListenSocket::bind_tcp(address, TcpOptions::default()).unwrap());
    let registered = {
      let _context = runtime.enter();
      register(SharedSocket(Arc::clone(&socket)))
        .map_err(|(_, error)| error)
        .unwrap()
    };
    // Made deterministic: wait for the reactor to report the hang-up.
    let registered = runtime.block_on(async move {
      let ready = registered.readable().await.unwrap();
      assert!(stale_readiness(ready.ready()), "bound, not listening");
      drop(ready);
      registered
    });
    socket.listen(16).unwrap();
    let bridge = Arc::new(EventBridge::detached());
    let accept = AcceptLoop::start(&runtime, registered, Arc::clone(&bridge));

    // Another listener's loop, on the same thread.
    let (neighbour, neighbour_ran) = mpsc::channel();
    runtime.spawn(async move {
      tokio::time::sleep(Duration::from_millis(1)).await;
      let _ = neighbour.send(());
    });
    let neighbour_ran = neighbour_ran.recv_timeout(Duration::from_secs(10)).is_ok();

    let port = socket.local_inet_address().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted = eventually(|| bridge.queued_connections() == 1);
    // A second one after the first was taken, on the watched socket.
    let taken = bridge.take_batch().len();
    let second = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted_again = eventually(|| bridge.queued_connections() == 1);

    // Not waiting for a loop that may never yield (before the fix).
    accept.stop();
    bridge.close();
    runtime.shutdown_background();
    drop((client, second));
    assert!(neighbour_ran, "the other loop ran");
    assert!(accepted && taken == 1, "the first connection was accepted");
    assert!(accepted_again, "the second connection was accepted");
  }
}
