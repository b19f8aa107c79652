//! Where Node versions behave differently, rs-net behaves like the one it
//! runs on. Each difference the native side follows is named here, once;
//! the rest of `src/` asks for the behaviour, not for a version number.
//! (JavaScript's list is `lib/node-version.js`; what the running libuv
//! does is [`crate::node_loop`]'s.)

use napi::{Env, Result};

use crate::listen_socket::PipeNameRules;

/// The behaviours of the Node version an environment runs.
#[derive(Clone, Copy, Debug)]
pub struct NodeBehaviour {
  major: u32,
}

impl NodeBehaviour {
  /// The behaviours of the Node running `env`.
  pub fn of(env: &Env) -> Result<Self> {
    Ok(Self::of_major(env.get_node_version()?.major))
  }

  /// The behaviours of Node `major`.
  pub fn of_major(major: u32) -> Self {
    Self { major }
  }

  /// How Unix socket names that do not fit are treated: Node 20 binds what
  /// fits, Node 22 refuses a NUL inside a path, Node 24 also refuses a name
  /// too long for `sun_path`.
  pub fn pipe_name_rules(self) -> PipeNameRules {
    PipeNameRules {
      reject_interior_nul: self.major >= 22,
      reject_too_long: self.major >= 24,
    }
  }

  /// Whether `reusePort: true` makes a listen exclusive of a cluster
  /// primary (Node 22+; Node 20 has no reusePort option).
  pub fn reuse_port_is_exclusive(self) -> bool {
    self.major >= 22
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn each_version_has_its_rules() {
    let rules = |major| NodeBehaviour::of_major(major).pipe_name_rules();
    assert!(!rules(20).reject_interior_nul && !rules(20).reject_too_long);
    assert!(rules(22).reject_interior_nul && !rules(22).reject_too_long);
    assert!(rules(24).reject_interior_nul && rules(24).reject_too_long);
    assert!(!NodeBehaviour::of_major(20).reuse_port_is_exclusive());
    assert!(NodeBehaviour::of_major(22).reuse_port_is_exclusive());
  }
}
