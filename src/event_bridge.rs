//! Where events cross threads: from the tokio accept loop to JavaScript.
//!
//! The accept loop pushes [`ServerEvent`]s into a queue and wakes the
//! JavaScript thread through a threadsafe function only when no wake-up is
//! already pending, so a burst of connections costs one wake-up, not one per
//! connection. The wake-up carries nothing: JavaScript takes at most
//! [`BATCH_SIZE`] events per call with `takeEvents()`, and the rest on later
//! turns of its event loop, which keeps timers and I/O running in a burst.
//!
//! Accepted descriptors stay owned (`OwnedFd`) while queued, and tracked
//! ([`HandedOver`]) once JavaScript holds them as numbers, so whatever no
//! socket took when the server closes, or when its environment is torn down
//! (a wake-up that never reaches a dying worker included), is closed rather
//! than leaked.

use std::collections::VecDeque;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use napi::bindgen_prelude::{Either, Function};
use napi::{Env, JsValue};
use napi_derive::napi;
use tokio::sync::Notify;

use crate::env_waker::{self, EnvWaker};
use crate::handover::{close_with_reset, HandedOver};

/// Most events handed to JavaScript in one call, and most connections the
/// accept loop takes in one round.
pub const BATCH_SIZE: usize = 64;

/// Something that happened on a listening socket.
#[derive(Debug)]
pub enum ServerEvent {
  /// A connection was accepted; its descriptor goes to a `net.Socket`.
  Connection(OwnedFd),
  /// `accept(2)` failed with this (negative) errno.
  AcceptFailed(i32),
}

/// A failed `accept(2)` as JavaScript sees it: the negative errno, which
/// JavaScript passes to `handle.onconnection(errno)` as libuv does.
#[napi(object)]
pub struct ServerNotice {
  /// The negative errno.
  pub errno: i32,
}

/// One delivered event: a descriptor number for a connection, an object
/// for anything else.
pub type Delivery = Either<u32, ServerNotice>;

/// How a bridge wakes its JavaScript: its environment's shared threadsafe
/// function, with this listener's id (see [`crate::env_waker`]).
struct Wake {
  waker: Arc<EnvWaker>,
  id: u32,
  /// Whether this listener keeps the event loop alive.
  referenced: AtomicBool,
  /// Still registered with its environment (until closed).
  registered: AtomicBool,
}

impl Wake {
  /// Unregisters the listener; on its JavaScript thread, once.
  fn unregister(&self) {
    if self.registered.swap(false, Ordering::AcqRel) {
      env_waker::unregister_listener(self.id, self.referenced.swap(false, Ordering::AcqRel));
    }
  }
}

#[derive(Default)]
struct QueueState {
  events: VecDeque<ServerEvent>,
  /// Connections among `events`, for the `maxConnections` check.
  connections: usize,
  /// A wake-up was sent and JavaScript has not yet drained the queue.
  wake_pending: bool,
  /// When the wake-up on its way was sent, or JavaScript last took a full
  /// batch (and so will take more): how long JavaScript has kept it waiting.
  woken_at: Option<Instant>,
  /// Queued connections were given to another listener while JavaScript
  /// was kept waiting: it is behind until it takes events again.
  rescued: bool,
  /// The server closed: nothing more is queued.
  closed: bool,
}

/// The queue between the accept loop and JavaScript, with the connections
/// JavaScript holds as numbers.
#[derive(Default)]
struct EventQueue {
  state: Mutex<QueueState>,
  /// Signalled when JavaScript takes events (or the queue closes).
  taken: Notify,
  /// Connections JavaScript holds as numbers.
  handed_over: HandedOver,
}

impl EventQueue {
  fn lock(&self) -> MutexGuard<'_, QueueState> {
    // A poisoned lock only means another thread panicked while holding it;
    // the queue itself is still consistent, so keep going.
    self
      .state
      .lock()
      .unwrap_or_else(|poison| poison.into_inner())
  }

  /// Queues `events`; returns whether JavaScript must be woken (no wake-up
  /// is on its way). After `close`, drops them, closing their descriptors.
  fn push(&self, events: Vec<ServerEvent>) -> bool {
    let mut state = self.lock();
    if state.closed {
      return false;
    }
    for event in events {
      if matches!(event, ServerEvent::Connection(_)) {
        state.connections += 1;
      }
      state.events.push_back(event);
    }
    let wake = !std::mem::replace(&mut state.wake_pending, true);
    if wake {
      state.woken_at = Some(Instant::now());
    }
    wake
  }

  /// Takes up to one batch. When the batch is not full the queue is
  /// drained, so the next push must wake JavaScript again.
  fn take_batch(&self) -> Vec<Delivery> {
    let mut state = self.lock();
    let count = state.events.len().min(BATCH_SIZE);
    let mut batch = Vec::with_capacity(count);
    let mut connections = 0;
    for event in state.events.drain(..count) {
      batch.push(match event {
        ServerEvent::Connection(fd) => {
          connections += 1;
          Either::A(self.handed_over.hand_over(fd) as u32)
        }
        ServerEvent::AcceptFailed(errno) => Either::B(ServerNotice { errno }),
      });
    }
    state.connections -= connections;
    state.rescued = false;
    if count < BATCH_SIZE {
      state.wake_pending = false;
      state.woken_at = None;
    } else {
      state.woken_at = Some(Instant::now());
    }
    drop(state);
    self.taken.notify_one();
    batch
  }

  /// When JavaScript, woken for queued connections, has kept them waiting
  /// since: `None` when none is queued or it is not behind.
  fn waiting_since(&self) -> Option<Instant> {
    let state = self.lock();
    if state.connections == 0 {
      return None;
    }
    state.woken_at
  }

  /// Takes the queued connections (leaving any failure notice queued) when
  /// JavaScript has kept them waiting since `deadline` or before, for
  /// another listener to deliver; until JavaScript takes events again the
  /// queue counts as not drained.
  fn take_waiting(&self, deadline: Instant) -> Vec<OwnedFd> {
    let mut state = self.lock();
    if state.closed || state.connections == 0 || state.woken_at.is_none_or(|at| at > deadline) {
      return Vec::new();
    }
    let mut taken = Vec::with_capacity(state.connections);
    let mut kept = VecDeque::new();
    for event in state.events.drain(..) {
      match event {
        ServerEvent::Connection(fd) => taken.push(fd),
        notice @ ServerEvent::AcceptFailed(_) => kept.push_back(notice),
      }
    }
    state.events = kept;
    state.connections = 0;
    state.rescued = true;
    taken
  }

  /// Stops queueing and returns the connections queued or held by
  /// JavaScript (not adopted), for another listener to deliver.
  fn reclaim(&self) -> Vec<OwnedFd> {
    let mut state = self.lock();
    state.closed = true;
    state.connections = 0;
    let pending = std::mem::take(&mut state.events);
    drop(state);
    let mut connections: Vec<OwnedFd> = pending
      .into_iter()
      .filter_map(|event| match event {
        ServerEvent::Connection(fd) => Some(fd),
        ServerEvent::AcceptFailed(_) => None,
      })
      .collect();
    connections.extend(self.handed_over.reclaim_all());
    self.taken.notify_one();
    connections
  }

  /// Stops queueing; closes what is queued and what JavaScript holds.
  fn close(&self) {
    let mut state = self.lock();
    state.closed = true;
    state.connections = 0;
    let pending = std::mem::take(&mut state.events);
    drop(state);
    for event in pending {
      if let ServerEvent::Connection(connection) = event {
        close_with_reset(connection);
      }
    }
    self.handed_over.close_all();
    self.taken.notify_one();
  }
}

/// The link from one listening socket's accept loop to its JavaScript
/// callback. Shared by the handle (JavaScript thread) and the accept loop.
pub struct EventBridge {
  queue: EventQueue,
  /// `None` only for a bridge that no JavaScript drains (unit tests).
  wake: Option<Wake>,
  /// Also told when JavaScript takes events: a listener group's accept
  /// loop, which waits for any of its members to catch up.
  observer: Option<Arc<Notify>>,
}

impl EventBridge {
  /// Creates the bridge around `callback`, which is called (without
  /// arguments) on the JavaScript thread of `env` for each wake-up. The new
  /// bridge keeps Node's event loop alive until it is unreferenced or
  /// closed. Must be closed (or reclaimed) on that thread.
  pub fn new(env: &Env, callback: Function<'_, (), ()>) -> napi::Result<Self> {
    let (id, waker) = env_waker::register_listener(env, callback.raw())?;
    Ok(Self {
      queue: EventQueue::default(),
      wake: Some(Wake {
        waker,
        id,
        referenced: AtomicBool::new(true),
        registered: AtomicBool::new(true),
      }),
      observer: None,
    })
  }

  /// The same bridge, also notifying `observer` whenever JavaScript takes
  /// events.
  pub fn observed_by(mut self, observer: Arc<Notify>) -> Self {
    self.observer = Some(observer);
    self
  }

  /// A bridge that wakes nobody: events stay queued until taken with
  /// [`EventBridge::take_batch`] or closed. For tests without Node.
  #[cfg(test)]
  pub fn detached() -> Self {
    Self {
      queue: EventQueue::default(),
      wake: None,
      observer: None,
    }
  }

  /// Queues `events` (from the accept loop) and wakes JavaScript unless a
  /// wake-up is already on its way. After [`EventBridge::close`], the events
  /// are dropped, which closes their descriptors.
  pub fn send(&self, events: Vec<ServerEvent>) {
    if self.queue.push(events) {
      if let Some(wake) = &self.wake {
        // A failed call means the environment is being torn down; the
        // events stay queued and are closed by `close`, which the handle
        // registry's cleanup hook runs (dropping the handle closes it).
        let _ = wake.waker.wake(wake.id);
      }
    }
  }

  /// Connections accepted but not yet handed to JavaScript.
  pub fn queued_connections(&self) -> usize {
    self.queue.lock().connections
  }

  /// Events waiting for JavaScript.
  pub fn queued_events(&self) -> usize {
    self.queue.lock().events.len()
  }

  /// Whether JavaScript has taken every event (and, in a group, has taken
  /// events since some of its queue went to another member).
  pub fn is_drained(&self) -> bool {
    let state = self.queue.lock();
    state.events.is_empty() && !state.rescued
  }

  /// When JavaScript, woken for queued connections, has kept them waiting
  /// since (`None`: none queued, or it took its last batch).
  pub fn waiting_since(&self) -> Option<Instant> {
    self.queue.waiting_since()
  }

  /// Takes the queued connections JavaScript has kept waiting since
  /// `deadline` or before (none otherwise), for another member of a
  /// listener group: see [`crate::group`].
  pub fn take_waiting(&self, deadline: Instant) -> Vec<OwnedFd> {
    self.queue.take_waiting(deadline)
  }

  /// Waits until JavaScript has taken every event (or the bridge is closed).
  pub async fn wait_until_drained(&self) {
    loop {
      {
        let state = self.queue.lock();
        if state.closed || state.events.is_empty() {
          return;
        }
      }
      self.queue.taken.notified().await;
    }
  }

  /// Takes up to one batch for JavaScript (on its thread).
  pub fn take_batch(&self) -> Vec<Delivery> {
    let batch = self.queue.take_batch();
    if let Some(observer) = &self.observer {
      observer.notify_one();
    }
    batch
  }

  /// Stops queueing (as [`EventBridge::close`]) but returns the queued
  /// connections and those JavaScript holds unadopted instead of closing
  /// them, for another member of a listener group.
  pub fn reclaim(&self) -> Vec<OwnedFd> {
    if let Some(wake) = &self.wake {
      wake.unregister();
    }
    self.queue.reclaim()
  }

  /// A socket now owns `fd`, a connection JavaScript took from this bridge.
  pub fn adopt(&self, fd: RawFd) {
    self.queue.handed_over.adopt(fd);
  }

  /// Closes `fd`, a connection JavaScript took from this bridge and will
  /// not use. Returns false (closing nothing) when `fd` is not one it holds
  /// (already adopted, or closed with the server).
  pub fn close_connection(&self, fd: RawFd) -> bool {
    self.queue.handed_over.close(fd)
  }

  /// Stops queueing and closes every queued descriptor, and every one
  /// handed to JavaScript that no socket adopted.
  pub fn close(&self) {
    if let Some(wake) = &self.wake {
      wake.unregister();
    }
    self.queue.close();
  }

  /// Makes the bridge keep Node's event loop alive (`ref`) or not (`unref`).
  /// Must be called on the JavaScript thread of `env`.
  pub fn set_referenced(&self, env: &Env, referenced: bool) -> napi::Result<()> {
    if let Some(wake) = &self.wake {
      if wake.registered.load(Ordering::Acquire)
        && wake.referenced.swap(referenced, Ordering::AcqRel) != referenced
      {
        env_waker::set_referenced(env.raw(), referenced);
      }
    }
    Ok(())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn connection() -> ServerEvent {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ServerEvent::Connection(OwnedFd::from(a))
  }

  #[test]
  fn batches_are_bounded_and_one_wake_up_serves_a_burst() {
    let queue = EventQueue::default();
    let burst = (0..BATCH_SIZE + 3).map(|_| connection()).collect();
    assert!(queue.push(burst), "the first push wakes JavaScript");
    assert!(!queue.push(vec![connection()]), "later ones wait for it");
    let first = queue.take_batch();
    assert_eq!(first.len(), BATCH_SIZE);
    assert!(
      !queue.push(vec![]),
      "a full batch leaves the wake-up pending"
    );
    assert_eq!(queue.take_batch().len(), 4);
    assert!(
      queue.push(vec![connection()]),
      "drained: the next push wakes again"
    );
    queue.close();
    assert!(
      !queue.push(vec![connection()]),
      "nothing is queued after close"
    );
    for delivery in first {
      if let Either::A(fd) = delivery {
        assert!(
          !queue.handed_over.holds(fd as RawFd),
          "closed with the queue"
        );
      }
    }
  }

  #[test]
  fn reclaim_returns_queued_and_unadopted_connections_and_stops_queueing() {
    let queue = EventQueue::default();
    queue.push((0..3).map(|_| connection()).collect());
    let taken = queue.take_batch();
    let fds: Vec<RawFd> = taken
      .iter()
      .filter_map(|delivery| match delivery {
        Either::A(fd) => Some(*fd as RawFd),
        Either::B(_) => None,
      })
      .collect();
    // One adopted by a socket, two still held as numbers; two more queued.
    queue.handed_over.adopt(fds[0]);
    queue.push(vec![connection(), connection()]);
    let reclaimed = queue.reclaim();
    assert_eq!(
      reclaimed.len(),
      4,
      "two queued and two held, not the adopted one"
    );
    assert!(!queue.handed_over.holds(fds[1]), "held ones are given back");
    assert!(!queue.push(vec![connection()]), "nothing is queued after");
    // SAFETY: adopted above: this test is its owner.
    drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) });
  }

  #[test]
  fn connections_kept_waiting_past_a_deadline_are_taken_and_the_queue_is_behind() {
    let queue = EventQueue::default();
    assert!(queue.waiting_since().is_none(), "nothing queued");
    queue.push(vec![
      connection(),
      ServerEvent::AcceptFailed(-24),
      connection(),
    ]);
    let since = queue.waiting_since().expect("woken for two connections");
    let before = since - std::time::Duration::from_millis(1);
    assert!(
      queue.take_waiting(before).is_empty(),
      "not waiting that long yet"
    );
    let taken = queue.take_waiting(since);
    assert_eq!(taken.len(), 2, "both connections, not the notice");
    assert_eq!(queue.lock().connections, 0);
    assert_eq!(queue.lock().events.len(), 1, "the notice stays queued");
    assert!(queue.lock().rescued, "behind until JavaScript takes events");
    assert!(queue.waiting_since().is_none(), "nothing left to take");
    assert!(
      !queue.push(vec![connection()]),
      "its wake-up is still on its way"
    );
    assert_eq!(queue.take_batch().len(), 2);
    assert!(!queue.lock().rescued, "caught up again");
    queue.close();
  }
}
