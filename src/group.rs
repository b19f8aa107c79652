//! Shared listener groups: servers in several threads of one process (each
//! its own Node environment) serving one address from one listening socket.
//!
//! A group is known by its name, process-wide. The first server that binds
//! in a group makes the socket; later ones join it. One accept task per
//! group hands each connection to the member with the fewest open plus
//! queued connections (ties in turn), among the members whose event loop
//! has taken its last batch: a stalled loop gets nothing more until it
//! catches up, and while every member is stalled the connections wait in
//! the kernel's backlog. What a member's loop keeps waiting for longer than
//! [`STALL_GRACE`] goes to the members that caught up. A member that leaves
//! (its server closes, or its thread ends) gives its queued connections,
//! and those its JavaScript took but no socket adopted, to the others. The
//! socket closes when the last member leaves.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFdReadyGuard;
use tokio::sync::{oneshot, Notify};

use crate::accept_loop::{
  pause, register, stale_readiness, Registered, SharedSocket, FIRST_BACKOFF,
};
use crate::errno::errno_of;
use crate::event_bridge::{EventBridge, ServerEvent, BATCH_SIZE};
use crate::handover::close_with_reset;
use crate::listen_socket::ListenSocket;
use crate::runtime;

/// What a group listens on, as its first member asked: later members must
/// ask for the same (a TCP port of 0 means the group's port).
#[derive(Clone, Debug, PartialEq)]
pub enum GroupAddress {
  /// An IP address and the port the socket is bound to, and whether an
  /// IPv6 address takes IPv6 only (`ipv6Only`), which decides which
  /// connections its members get.
  Tcp(SocketAddr, bool),
  /// A Unix socket path or abstract name.
  Pipe(Vec<u8>),
}

impl GroupAddress {
  /// A TCP address as `listen()` asked for it (`ipv6Only` means nothing
  /// for an IPv4 address).
  pub fn tcp(address: SocketAddr, ipv6_only: bool) -> Self {
    GroupAddress::Tcp(address, address.is_ipv6() && ipv6_only)
  }

  /// Whether a member asking for `asked` may join a group on `self`.
  fn admits(&self, asked: &GroupAddress) -> bool {
    match (self, asked) {
      (GroupAddress::Tcp(bound, bound_v6_only), GroupAddress::Tcp(asked, asked_v6_only)) => {
        bound.ip() == asked.ip()
          && (asked.port() == 0 || asked.port() == bound.port())
          && bound_v6_only == asked_v6_only
      }
      (GroupAddress::Pipe(bound), GroupAddress::Pipe(asked)) => bound == asked,
      _ => false,
    }
  }
}

/// The groups of the process by name, each with how many handles hold a
/// seat in it (bound or listening).
type Groups = HashMap<String, (Arc<Group>, usize)>;

/// The process's groups.
fn registry() -> MutexGuard<'static, Groups> {
  static GROUPS: OnceLock<Mutex<Groups>> = OnceLock::new();
  GROUPS
    .get_or_init(Default::default)
    .lock()
    .unwrap_or_else(|p| p.into_inner())
}

/// The connections a member's server counts as open (`server._connections`,
/// kept current by its JavaScript), plus those taken and not yet counted.
/// Made with the member's seat, so that JavaScript can be given the count's
/// memory before the member listens (see [`ConnectionCount::share`]).
#[derive(Default)]
pub struct ConnectionCount {
  value: AtomicU32,
  /// Its memory was handed to JavaScript (which happens at most once).
  shared: AtomicBool,
}

impl ConnectionCount {
  /// Marks the count as handed to JavaScript; true only the first time.
  /// JavaScript writes it in place (with `Atomics.store`), and no two
  /// ArrayBuffers may have the same memory.
  pub fn share(&self) -> bool {
    !self.shared.swap(true, Ordering::AcqRel)
  }

  /// Where the count lives, for an ArrayBuffer over it.
  pub fn as_ptr(&self) -> *mut u32 {
    self.value.as_ptr()
  }

  /// Records the server's own count.
  pub fn set(&self, open: usize) {
    let open = u32::try_from(open).unwrap_or(u32::MAX);
    self.value.store(open, Ordering::Release);
  }

  fn get(&self) -> usize {
    self.value.load(Ordering::Acquire) as usize
  }

  fn add(&self, taken: usize) {
    let taken = u32::try_from(taken).unwrap_or(u32::MAX);
    // Saturating, as a count written by JavaScript can be anything.
    let _ = self
      .value
      .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
        Some(open.saturating_add(taken))
      });
  }
}

/// One member: a listening server's bridge to its JavaScript thread.
pub struct Member {
  /// Where this member's connections are queued for its JavaScript.
  bridge: Arc<EventBridge>,
  /// Its open connections, shared with its seat.
  open: Arc<ConnectionCount>,
  /// Left the group (a second leave does nothing).
  left: AtomicBool,
}

impl Member {
  /// Open plus queued connections: what the group balances.
  fn load(&self) -> usize {
    self.open.get() + self.bridge.queued_connections()
  }

  /// Whether its JavaScript has taken every event handed to it.
  fn is_caught_up(&self) -> bool {
    self.bridge.is_drained()
  }

  /// Records the server's own count of open connections.
  pub fn set_open(&self, open: usize) {
    self.open.set(open);
  }

  /// Counts `taken` connections JavaScript just took, until it counts them.
  pub fn add_taken(&self, taken: usize) {
    self.open.add(taken);
  }

  /// The member's count of open connections.
  pub fn count(&self) -> &Arc<ConnectionCount> {
    &self.open
  }

  /// This member's bridge.
  pub fn bridge(&self) -> &Arc<EventBridge> {
    &self.bridge
  }
}

/// Who gets the next connections.
#[derive(Default)]
struct Dispatch {
  /// The listening members, in the order they joined.
  members: Vec<Arc<Member>>,
  /// Where the search for the least loaded member starts (ties in turn).
  turn: usize,
  /// Connections given back while no member listened.
  orphans: Vec<OwnedFd>,
}

/// The running accept task of a group.
struct GroupLoop {
  stop: oneshot::Sender<()>,
  finished: mpsc::Receiver<()>,
}

/// One listening socket shared by the servers of a group.
pub struct Group {
  socket: Arc<ListenSocket>,
  /// How long queued connections may wait for a member's loop (see
  /// [`STALL_GRACE`]).
  grace: Duration,
  address: GroupAddress,
  dispatch: Mutex<Dispatch>,
  /// Told when a member takes events, joins or leaves.
  changed: Arc<Notify>,
  /// Told when a member joins or leaves (and may have been handed queued
  /// connections, whose grace the accept task must time).
  rearranged: Notify,
  accept: Mutex<Option<GroupLoop>>,
}

/// A handle's place in a group: while any seat is held, the group and its
/// socket stay. Dropping the last one closes the socket.
pub struct Seat {
  name: String,
  group: Arc<Group>,
  /// The count of open connections of the member this seat becomes.
  count: Arc<ConnectionCount>,
}

impl Seat {
  /// Takes a seat in the group `name`, making the group with `bind` when
  /// there is none. Fails with `EINVAL` when the group listens on another
  /// address than `asked`, or with `bind`'s error.
  pub fn take(
    name: &str,
    asked: GroupAddress,
    bind: impl FnOnce() -> io::Result<ListenSocket>,
  ) -> io::Result<Self> {
    let mut groups = registry();
    if let Some((group, seats)) = groups.get_mut(name) {
      if !group.address.admits(&asked) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
      }
      *seats += 1;
      return Ok(Self {
        name: name.to_owned(),
        group: Arc::clone(group),
        count: Arc::default(),
      });
    }
    let socket = bind()?;
    let address = match asked {
      // The bound address, for port 0's pick; a bind that failed with
      // EADDRINUSE (reported by listen, as Node reports it) bound nothing,
      // and the group is the address asked for, so that members joining
      // before the first one's listen fails get that error too, not EINVAL.
      GroupAddress::Tcp(asked, v6_only) => match socket.local_inet_address()? {
        bound if bound.port() == 0 => GroupAddress::Tcp(asked, v6_only),
        bound => GroupAddress::Tcp(bound, v6_only),
      },
      pipe @ GroupAddress::Pipe(_) => pipe,
    };
    let group = Arc::new(Group {
      socket: Arc::new(socket),
      grace: stall_grace(),
      address,
      dispatch: Mutex::default(),
      changed: Arc::new(Notify::new()),
      rearranged: Notify::new(),
      accept: Mutex::new(None),
    });
    groups.insert(name.to_owned(), (Arc::clone(&group), 1));
    Ok(Self {
      name: name.to_owned(),
      group,
      count: Arc::default(),
    })
  }

  /// The group's socket.
  pub fn socket(&self) -> &Arc<ListenSocket> {
    &self.group.socket
  }

  /// The group.
  pub fn group(&self) -> &Arc<Group> {
    &self.group
  }

  /// The count of open connections its member will balance on.
  pub fn count(&self) -> &Arc<ConnectionCount> {
    &self.count
  }
}

impl Drop for Seat {
  /// The last seat out stops the accept task, closes the connections no
  /// member took, removes the socket file, and closes the socket.
  fn drop(&mut self) {
    let mut groups = registry();
    let last = match groups.get_mut(&self.name) {
      Some((group, seats)) if Arc::ptr_eq(group, &self.group) => {
        *seats -= 1;
        *seats == 0
      }
      _ => false,
    };
    if last {
      groups.remove(&self.name);
    }
    drop(groups);
    if last {
      self.group.shut_down();
    }
  }
}

impl Group {
  fn lock(&self) -> MutexGuard<'_, Dispatch> {
    self.dispatch.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// What a member's bridge must tell when its JavaScript takes events
  /// (see [`EventBridge::observed_by`]).
  pub fn observer(&self) -> Arc<Notify> {
    Arc::clone(&self.changed)
  }

  /// Adds a listening member whose JavaScript is woken through `bridge`
  /// (observed by [`Group::observer`]) and keeps `open` current; the first
  /// one starts listen(2) with `backlog` and the accept task.
  pub fn add_member(
    self: &Arc<Self>,
    bridge: Arc<EventBridge>,
    open: Arc<ConnectionCount>,
    backlog: i32,
  ) -> io::Result<Arc<Member>> {
    {
      let mut accept = self.accept.lock().unwrap_or_else(|p| p.into_inner());
      if accept.is_none() {
        let runtime = runtime::get()?;
        self.socket.listen(backlog)?;
        let registered = {
          let _context = runtime.enter();
          register(SharedSocket(Arc::clone(&self.socket))).map_err(|(_, error)| error)?
        };
        let (stop, stopped) = oneshot::channel();
        let (finished_sender, finished) = mpsc::channel();
        let group = Arc::clone(self);
        runtime.spawn(async move {
          run(group, registered, stopped).await;
          drop(finished_sender);
        });
        *accept = Some(GroupLoop { stop, finished });
      }
    }
    let member = Arc::new(Member {
      bridge,
      open,
      left: AtomicBool::new(false),
    });
    let mut dispatch = self.lock();
    dispatch.members.push(Arc::clone(&member));
    let orphans = std::mem::take(&mut dispatch.orphans);
    give_out(&mut dispatch, orphans);
    drop(dispatch);
    self.changed.notify_one();
    self.rearranged.notify_one();
    Ok(member)
  }

  /// Removes `member`: its queued connections, and those its JavaScript
  /// holds unadopted, go to the others (or wait for the next member).
  pub fn remove_member(&self, member: &Member) {
    if member.left.swap(true, Ordering::AcqRel) {
      return;
    }
    let mut dispatch = self.lock();
    dispatch
      .members
      .retain(|other| !std::ptr::eq(Arc::as_ptr(other), member));
    // Under the lock: the accept task never sends to a member that left.
    let given_back = member.bridge.reclaim();
    give_out(&mut dispatch, given_back);
    drop(dispatch);
    self.changed.notify_one();
    self.rearranged.notify_one();
  }

  /// Stops the accept task and waits until it let go of the socket;
  /// closes the connections no member took and removes the socket file.
  fn shut_down(&self) {
    let running = self.accept.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(running) = running {
      let _ = running.stop.send(());
      // Returns when the task ends (or the runtime dropped it).
      let _ = running.finished.recv();
    }
    let orphans = std::mem::take(&mut self.lock().orphans);
    orphans.into_iter().for_each(close_with_reset);
    self.socket.remove_socket_file();
  }

  /// Gives the queued connections of each member whose JavaScript has kept
  /// them waiting for the group's grace ([`STALL_GRACE`]) to the members
  /// that caught up (none move while no member has). Says, under the same
  /// lock, whether a member has caught up afterwards and when the next
  /// queued connections will have waited that long.
  fn rescue_waiting(&self, now: Instant) -> Rescue {
    let mut dispatch = self.lock();
    let caught_up =
      |dispatch: &Dispatch| dispatch.members.iter().any(|member| member.is_caught_up());
    if let Some(overdue) = now.checked_sub(self.grace).filter(|_| caught_up(&dispatch)) {
      // Nothing is taken from a member not kept waiting that long.
      let rescued: Vec<OwnedFd> = dispatch
        .members
        .iter()
        .flat_map(|member| member.bridge.take_waiting(overdue))
        .collect();
      // The members they came from are behind now: only those that caught
      // up are given them.
      give_out(&mut dispatch, rescued);
    }
    // After handing out, so that what was just given to a member whose loop
    // is blocked too has its deadline; and also while no member has caught
    // up, for when one does.
    let next = dispatch
      .members
      .iter()
      .filter_map(|member| member.bridge.waiting_since())
      // A grace too long to add never ends.
      .filter_map(|since| since.checked_add(self.grace))
      .min();
    Rescue {
      caught_up: caught_up(&dispatch),
      next,
    }
  }

  /// Accepts up to one batch and hands each connection to the least loaded
  /// member that has caught up; accepts nothing when none has.
  fn accept_round(&self, ready: &mut AsyncFdReadyGuard<'_, SharedSocket>) -> RoundEnd {
    let mut dispatch = self.lock();
    // Only members that caught up are given connections.
    let mut loads: Vec<Option<usize>> = dispatch
      .members
      .iter()
      .map(|member| member.is_caught_up().then(|| member.load()))
      .collect();
    if loads.iter().all(Option::is_none) {
      return RoundEnd::NoMember;
    }
    let mut batches: Vec<Vec<ServerEvent>> = loads.iter().map(|_| Vec::new()).collect();
    let mut end = RoundEnd::Nothing;
    let mut accepted = 0;
    while accepted < BATCH_SIZE {
      // A candidate there is (loads only grow): never `None`.
      let Some(chosen) = least_loaded(&loads, dispatch.turn) else {
        break;
      };
      let connection = match ready.try_io(|socket| socket.get_ref().0.accept()) {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => match error.raw_os_error() {
          // The client gave up before we accepted.
          Some(libc::ECONNABORTED) | Some(libc::EINTR) => continue,
          // Out of descriptors: wait for some to be freed.
          Some(libc::EMFILE) | Some(libc::ENFILE) => {
            end = RoundEnd::Pause;
            break;
          }
          // Reported to one member, in turn, as Node reports it.
          _ => {
            dispatch.turn = chosen + 1;
            batches[chosen].push(ServerEvent::AcceptFailed(errno_of(&error)));
            end = RoundEnd::Pause;
            break;
          }
        },
        // Nothing pending: readiness is cleared until the next connection.
        Err(_would_block) => break,
      };
      dispatch.turn = chosen + 1;
      if let Some(load) = loads[chosen].as_mut() {
        *load += 1;
      }
      batches[chosen].push(ServerEvent::Connection(connection));
      accepted += 1;
      end = RoundEnd::Accepted;
    }
    for (member, batch) in dispatch.members.iter().zip(batches) {
      if !batch.is_empty() {
        member.bridge.send(batch);
      }
    }
    end
  }
}

/// Hands `connections` out among the members (preferring those that caught
/// up), or keeps them for the next member when there is none.
fn give_out(dispatch: &mut Dispatch, connections: Vec<OwnedFd>) {
  if connections.is_empty() {
    return;
  }
  if dispatch.members.is_empty() {
    dispatch.orphans.extend(connections);
    return;
  }
  // Those that caught up, or every member when none has.
  let any_caught_up = dispatch.members.iter().any(|member| member.is_caught_up());
  let mut loads: Vec<Option<usize>> = dispatch
    .members
    .iter()
    .map(|member| (member.is_caught_up() || !any_caught_up).then(|| member.load()))
    .collect();
  let mut batches: Vec<Vec<ServerEvent>> = loads.iter().map(|_| Vec::new()).collect();
  for connection in connections {
    // Every member is a candidate when none caught up: never `None`.
    let Some(chosen) = least_loaded(&loads, dispatch.turn) else {
      dispatch.orphans.push(connection);
      continue;
    };
    dispatch.turn = chosen + 1;
    if let Some(load) = loads[chosen].as_mut() {
      *load += 1;
    }
    batches[chosen].push(ServerEvent::Connection(connection));
  }
  for (member, batch) in dispatch.members.iter().zip(batches) {
    if !batch.is_empty() {
      member.bridge.send(batch);
    }
  }
}

/// The member (an index of the group's members) with the smallest load,
/// among those that have one (the candidates), the first found from `turn`
/// on among equals; the caller moves `turn` past it, so that ties are
/// served in turn whichever members are candidates. `None` without one.
fn least_loaded(loads: &[Option<usize>], turn: usize) -> Option<usize> {
  let count = loads.len();
  let mut chosen: Option<(usize, usize)> = None;
  for step in 0..count {
    let index = (turn + step) % count;
    if let Some(load) = loads[index] {
      if chosen.is_none_or(|(_, least)| load < least) {
        chosen = Some((index, load));
      }
    }
  }
  chosen.map(|(index, _)| index)
}

/// How long a member's JavaScript may keep queued connections waiting after
/// it was woken for them (its loop blocked, or busy for that long) before
/// they go to a member that caught up. Long enough that a loop which is
/// merely busy for a moment keeps its own; short against the stalls that
/// make a request late (a blocked loop, a long garbage collection).
pub const STALL_GRACE: Duration = Duration::from_millis(10);

/// The grace of a new group: [`STALL_GRACE`], or the milliseconds in
/// `RSNET_GROUP_STALL_GRACE_MS` (read when a group is made; a whole number,
/// at least 1, else ignored), which tests use to keep connections where
/// they were queued.
fn stall_grace() -> Duration {
  std::env::var("RSNET_GROUP_STALL_GRACE_MS")
    .ok()
    .and_then(|value| value.parse::<u64>().ok())
    // At least 1 ms: a grace of none would move every queued connection.
    .map_or(STALL_GRACE, |millis| Duration::from_millis(millis.max(1)))
}

/// Sleeps until `at`, or forever when there is no such time.
async fn sleep_until(at: Option<Instant>) {
  match at {
    Some(at) => tokio::time::sleep_until(at.into()).await,
    None => std::future::pending().await,
  }
}

/// What [`Group::rescue_waiting`] found.
struct Rescue {
  /// Some member has caught up (and can be given connections).
  caught_up: bool,
  /// When the next queued connections will have waited their grace.
  next: Option<Instant>,
}

/// How a round ended.
enum RoundEnd {
  Accepted,
  Nothing,
  Pause,
  /// Every member is behind: nothing was accepted.
  NoMember,
}

/// The group's accept task: waits for a member that caught up, then for a
/// connection, and hands out what is pending.
async fn run(group: Arc<Group>, registered: Registered, mut stop: oneshot::Receiver<()>) {
  let mut backoff = FIRST_BACKOFF;
  loop {
    // Yields to the other listeners' loops once the budget is spent.
    tokio::task::consume_budget().await;
    let mut rescue_at;
    let rearranged = group.rearranged.notified();
    loop {
      let changed = group.changed.notified();
      let rescue = group.rescue_waiting(Instant::now());
      rescue_at = rescue.next;
      if rescue.caught_up {
        break;
      }
      // No member caught up: nothing can be rescued until one does.
      tokio::select! {
        biased;
        _ = &mut stop => return,
        () = changed => {}
      }
    }
    let mut ready = tokio::select! {
      biased;
      _ = &mut stop => return,
      // A member may fall behind meanwhile; the round checks again.
      ready = registered.readable() => match ready {
        Ok(ready) => ready,
        // The reactor is gone: the runtime is shutting down.
        Err(_) => return,
      },
      // Queued connections have waited their grace, or a member joined or
      // left (and may have been handed some): handled at the top.
      () = sleep_until(rescue_at) => continue,
      () = rearranged => continue,
    };
    let readiness = ready.ready();
    let end = group.accept_round(&mut ready);
    drop(ready);
    match end {
      RoundEnd::Accepted => backoff = FIRST_BACKOFF,
      RoundEnd::NoMember => {}
      RoundEnd::Nothing if !stale_readiness(readiness) => {}
      // A closed readiness with nothing to accept, or an accept error that
      // may repeat: wait before trying again instead of spinning.
      RoundEnd::Nothing | RoundEnd::Pause => {
        if pause(&mut stop, &mut backoff).await.is_break() {
          return;
        }
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Picks as the accept task does: the least loaded from the turn on,
  /// then the turn moves past it.
  #[derive(Default)]
  struct Turns {
    turn: usize,
  }

  impl Turns {
    fn pick(&mut self, loads: &[Option<usize>]) -> Option<usize> {
      let chosen = least_loaded(loads, self.turn);
      if let Some(chosen) = chosen {
        self.turn = chosen + 1;
      }
      chosen
    }
  }

  #[test]
  fn the_least_loaded_wins_and_ties_go_in_turn() {
    let mut turns = Turns::default();
    let mut pick = |loads: &[Option<usize>]| turns.pick(loads);
    assert_eq!(pick(&[Some(0), Some(0), Some(0)]), Some(0));
    assert_eq!(pick(&[Some(1), Some(0), Some(0)]), Some(1));
    assert_eq!(pick(&[Some(1), Some(1), Some(0)]), Some(2));
    assert_eq!(pick(&[Some(1), Some(1), Some(1)]), Some(0));
    assert_eq!(pick(&[Some(5), Some(2), Some(3)]), Some(1));
    assert_eq!(pick(&[None, None, None]), None);
  }

  #[test]
  fn ties_go_in_turn_over_the_whole_group_while_some_are_behind() {
    let mut turns = Turns::default();
    let mut pick = |loads: &[Option<usize>]| turns.pick(loads);
    let all = [Some(0); 4];
    assert_eq!(pick(&all), Some(0));
    // Member 1 is behind: skipped, member 2 is next.
    assert_eq!(pick(&[Some(0), None, Some(0), Some(0)]), Some(2));
    // All caught up again: member 3's turn, not member 2's again.
    assert_eq!(pick(&all), Some(3));
    assert_eq!(pick(&all), Some(0));
    assert_eq!(pick(&all), Some(1));
  }

  #[test]
  fn a_group_whose_bind_failed_admits_its_own_address() {
    use crate::listen_socket::TcpOptions;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let asked = taken.local_addr().unwrap();
    let name = format!("bind-failed-{}", std::process::id());
    let bind = || ListenSocket::bind_tcp(asked, TcpOptions::default());
    let first = Seat::take(&name, GroupAddress::tcp(asked, false), bind).unwrap();
    // The port is taken: the group's listen fails as Node's would.
    let error = first.socket().listen(511).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EADDRINUSE));
    // A member asking for the same address meanwhile joins, and meets the
    // same error, instead of being refused as asking for another address.
    let second = Seat::take(&name, GroupAddress::tcp(asked, false), bind).unwrap();
    let error = second.socket().listen(511).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EADDRINUSE));
  }

  #[test]
  fn a_port_of_zero_joins_the_groups_port() {
    let bound = GroupAddress::tcp("127.0.0.1:4000".parse().unwrap(), false);
    assert!(bound.admits(&GroupAddress::tcp("127.0.0.1:0".parse().unwrap(), false)));
    assert!(bound.admits(&GroupAddress::tcp("127.0.0.1:4000".parse().unwrap(), false)));
    assert!(!bound.admits(&GroupAddress::tcp("127.0.0.1:4001".parse().unwrap(), false)));
    assert!(!bound.admits(&GroupAddress::tcp("[::1]:4000".parse().unwrap(), false)));
    assert!(!bound.admits(&GroupAddress::Pipe(b"/tmp/x".to_vec())));
    // An IPv4 address ignores ipv6Only; an IPv6 one must agree on it.
    assert!(bound.admits(&GroupAddress::tcp("127.0.0.1:4000".parse().unwrap(), true)));
    let dual = GroupAddress::tcp("[::]:4000".parse().unwrap(), false);
    assert!(dual.admits(&GroupAddress::tcp("[::]:0".parse().unwrap(), false)));
    assert!(!dual.admits(&GroupAddress::tcp("[::]:4000".parse().unwrap(), true)));
  }
}
