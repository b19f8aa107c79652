#![deny(clippy::all)]
// Items exported to JavaScript are only reachable from there; unit-test
// builds do not register them, so they would look unused.
#![cfg_attr(test, allow(dead_code))]
//! rs-net's native half: listening sockets and the accept loop.
//!
//! JavaScript (`lib/`) owns Node's semantics; this crate owns the operating
//! system. One module per concern:
//!
//! - [`listen_args`]: where `server.listen(...)` arguments are decided.
//! - [`listen_socket`]: where listening sockets are made (socket2).
//! - [`addresses`]: IP addresses parsed and written as Node does.
//! - [`node_loop`]: what libuv says about the running Node.
//! - [`node_version`]: where Node versions differ, named once.
//! - [`node_handles`]: sockets JavaScript wraps to learn Node's handle classes.
//! - [`accept_loop`]: the tokio task that accepts connections.
//! - [`idle_listeners`]: listeners no connection has reached yet, watched
//!   without waking the runtime's thread.
//! - [`before_poll`]: work done just before a JavaScript thread's loop polls.
//! - [`event_bridge`]: where events cross from tokio to the JavaScript thread.
//! - [`group`]: shared listener groups (one socket, servers in several threads).
//! - [`handover`]: connections JavaScript holds until a socket adopts them.
//! - [`server_handle`]: the `ServerHandle` JavaScript drives.
//! - [`handle_registry`]: JavaScript's handles by number, the functions it
//!   calls for them, and what closes an ending environment's handles.
//! - [`env_waker`]: one threadsafe function per environment wakes its listeners.
//! - [`errno`]: the one conversion of `io::Error` for JavaScript.
//! - [`runtime`]: the process-wide tokio runtime.

mod accept_loop;
mod addresses;
mod before_poll;
mod env_waker;
mod errno;
mod event_bridge;
mod group;
mod handle_registry;
mod handover;
mod idle_listeners;
mod listen_args;
mod listen_socket;
mod node_handles;
mod node_loop;
mod node_version;
mod runtime;
mod server_handle;
