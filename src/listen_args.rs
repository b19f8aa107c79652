//! Where `server.listen(...)` arguments are decided.
//!
//! Node accepts a dozen call forms (`listen()`, `listen(port, host, backlog,
//! cb)`, `listen(path)`, `listen({ fd })`, `listen(otherServer)`, ...) and
//! tells them apart with a precise sequence of `typeof` checks, property
//! reads and number conversions. This module replays that sequence on the
//! JavaScript values, reading each option in the order and as often as Node
//! does (getters and Proxies observe the same accesses, and a throwing getter
//! throws from the same place), and turns every form into one
//! [`ListenDecision`] before anything touches a socket.
//!
//! Errors are decided here but not built: the decision names Node's error
//! code and the received value, and JavaScript renders the message the way
//! Node does (with `util.inspect`), in the caller's realm.

use napi::bindgen_prelude::{Either3, Either8, Function, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, Result, ValueType};
use napi_derive::napi;

use crate::node_version::NodeBehaviour;

/// What `listen()` was asked to listen on.
enum ListenTarget<'env> {
  /// A `net.BoundSocket` (newer Node 24 releases): adopt its bound socket.
  BoundSocket(Unknown<'env>),
  /// A TCP handle (`options._handle`, `options.handle` or `options`).
  Handle(Unknown<'env>),
  /// A descriptor: `{ fd }`, or a handle object that carries one.
  Descriptor {
    fd: Unknown<'env>,
    source: Object<'env>,
  },
  /// A TCP port, with a host to resolve first when one was given.
  Tcp {
    port: i32,
    host: Option<Unknown<'env>>,
    exclusive: bool,
    ipv6_only: bool,
    reuse_port: bool,
  },
  /// A Unix-domain socket path or abstract name.
  Pipe {
    path: Unknown<'env>,
    exclusive: bool,
    readable_all: Unknown<'env>,
    writable_all: Unknown<'env>,
  },
}

/// The argument errors `listen()` throws, with what Node puts in them.
enum ListenArgumentError<'env> {
  /// `ERR_SOCKET_BAD_PORT` for `options.port`.
  BadPort(Unknown<'env>),
  /// The TypeError of `'port' in options` when `options` is a primitive.
  NotAnObject(Unknown<'env>),
  /// `ERR_INVALID_ARG_VALUE` for `options`, with an optional reason.
  InvalidOptions {
    options: Object<'env>,
    reason: Option<&'static str>,
  },
}

/// The backlog Node would pass on: `options.backlog` when truthy, else the
/// number found in the arguments (`None` is Node's `false`).
enum Backlog<'env> {
  Given(Unknown<'env>),
  FromArgs(Option<f64>),
}

/// The decision for one `listen()` call.
enum ListenDecision<'env> {
  /// Listen on `target`. `backlog` is the raw value Node would hand to
  /// `listen(2)` (after `|| 511`); `options` is the normalized options object.
  Listen {
    target: ListenTarget<'env>,
    backlog: Backlog<'env>,
    options: Object<'env>,
  },
  /// Throw this error.
  Invalid(ListenArgumentError<'env>),
}

/// The JavaScript callbacks Node's sequence reaches, and the class it
/// tests against.
struct ListenHooks<'a, 'env> {
  /// Called with the normalized options, where Node publishes the
  /// `net.server.listen` trace and registers the callback.
  on_start: &'a Function<'env, Object<'env>, Unknown<'env>>,
  /// Called where Node invalidates earlier pending `listen()` calls.
  on_commit: &'a Function<'env, (), Unknown<'env>>,
  /// Called with the options where Node handles `options.signal`.
  on_signal: &'a Function<'env, Object<'env>, Unknown<'env>>,
  /// `net.BoundSocket` on the Node versions that have it.
  bound_socket_class: Option<&'a Unknown<'env>>,
  /// Node's `TCP` handle class: `listen(tcpHandle)` adopts the handle.
  tcp_class: &'a Unknown<'env>,
  /// JavaScript's own `Number` function, which Node converts with.
  number: &'a Function<'env, Unknown<'env>, f64>,
}

/// Decides what `server.listen(...args)` means.
///
/// `args` is the argument list as an array. `on_start(options)` is called
/// once the arguments are normalized into an options object; `on_commit` is
/// called where Node invalidates earlier pending `listen()` calls (after the
/// handle and flag options are read); `on_signal(options)` is called where
/// Node handles `options.signal`, when it is not `undefined`.
/// `bound_socket_class` is `net.BoundSocket` where Node has it (its
/// instances are adopted first), else `undefined`. `tcp_class` is Node's
/// `TCP` handle class (a handle of it is adopted as it is). `number` is the
/// `Number` function (as it was when rs-net loaded: Node uses its own
/// untouchable copy). Returns the [`ListenPlan`], whose `kind` says which
/// shape it has.
// Each argument is one thing Node's sequence touches; bundling them into an
// object would cost property reads on every listen().
// The plan's type is spelled out (not the ListenPlan alias) so that the
// generated binding.d.ts names each shape of the union.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
#[napi]
pub fn normalize_listen_args<'env>(
  env: &'env Env,
  args: Object<'env>,
  on_start: Function<'env, Object<'env>, Unknown<'env>>,
  on_commit: Function<'env, (), Unknown<'env>>,
  on_signal: Function<'env, Object<'env>, Unknown<'env>>,
  bound_socket_class: Unknown<'env>,
  tcp_class: Unknown<'env>,
  number: Function<'env, Unknown<'env>, f64>,
) -> Result<
  Either8<
    BoundPlan<'env>,
    HandlePlan<'env>,
    DescriptorPlan<'env>,
    TcpPlan<'env>,
    PipePlan<'env>,
    BadPortPlan<'env>,
    NotAnObjectPlan<'env>,
    InvalidOptionsPlan<'env>,
  >,
> {
  let behaviour = NodeBehaviour::of(env)?;
  let class_given = bound_socket_class.get_type()? == ValueType::Function;
  let hooks = ListenHooks {
    on_start: &on_start,
    on_commit: &on_commit,
    on_signal: &on_signal,
    bound_socket_class: class_given.then_some(&bound_socket_class),
    tcp_class: &tcp_class,
    number: &number,
  };
  let decision = decide(env, &args, behaviour, &hooks)?;
  into_plan(decision)
}

/// Replays Node's `Server.prototype.listen` argument handling.
fn decide<'env>(
  env: &'env Env,
  args: &Object<'env>,
  behaviour: NodeBehaviour,
  hooks: &ListenHooks<'_, 'env>,
) -> Result<ListenDecision<'env>> {
  let ListenHooks {
    on_start,
    on_commit,
    on_signal,
    bound_socket_class,
    tcp_class,
    number,
  } = *hooks;
  let count = args.get_array_length_unchecked()?;
  let arg = |index: u32| -> Result<Option<Unknown<'env>>> {
    if index < count {
      Ok(Some(args.get_element::<Unknown>(index)?))
    } else {
      Ok(None)
    }
  };
  let first = arg(0)?;

  // normalizeArgs: an object is the options; a string that is not a number
  // is a path; anything else is a port, and a string after it is the host.
  let mut options = match first {
    None => Object::new(env)?,
    Some(value) if is_object(&value)? => Object::from_raw(env.raw(), value.raw()),
    Some(value) if is_pipe_name(&value)? => {
      let mut options = Object::new(env)?;
      options.set_named_property("path", value)?;
      options
    }
    Some(value) => {
      let mut options = Object::new(env)?;
      options.set_named_property("port", value)?;
      if let Some(host) = arg(1)? {
        if host.get_type()? == ValueType::String {
          options.set_named_property("host", host)?;
        }
      }
      options
    }
  };
  on_start.call(options)?;

  // The backlog in the 2nd argument, or else the 3rd: Number(x) when >= 0.
  let backlog_from_args = match non_negative_number(number, count > 1, arg(1)?)? {
    Some(backlog) if backlog != 0.0 => Some(backlog),
    _ => non_negative_number(number, count > 2, arg(2)?)?,
  };

  // `options instanceof BoundSocket`, else `options.handle instanceof
  // BoundSocket`: adopted before anything else is read.
  if let Some(class) = bound_socket_class {
    let mut bound = None;
    if options.instanceof(*class)? {
      bound = Some(options.to_unknown());
    } else {
      let handle = get(&options, "handle")?;
      if handle.instanceof(*class)? {
        bound = Some(handle);
      }
    }
    if let Some(bound) = bound {
      return Ok(ListenDecision::Listen {
        target: ListenTarget::BoundSocket(bound),
        backlog: Backlog::FromArgs(backlog_from_args),
        options,
      });
    }
  }

  // `options._handle || options.handle || options`
  let mut handle_holder = get(&options, "_handle")?;
  if !handle_holder.coerce_to_bool()? {
    handle_holder = get(&options, "handle")?;
  }
  if handle_holder.coerce_to_bool()? {
    if !is_object(&handle_holder)? && handle_holder.get_type()? != ValueType::Function {
      // A truthy primitive: Node reads nothing useful from it and then
      // throws from `'port' in options`, a TypeError JavaScript reproduces.
      on_commit.call(())?;
      return Ok(ListenDecision::Invalid(ListenArgumentError::NotAnObject(
        handle_holder,
      )));
    }
    options = Object::from_raw(env.raw(), handle_holder.raw());
  }

  let ipv6_only = strictly_true(&get(&options, "ipv6Only")?)?;
  // Node 22+ reads reusePort here; rs-net honours it on Node 20 as well.
  let reuse_port = strictly_true(&get(&options, "reusePort")?)?;
  on_commit.call(())?;

  // `options instanceof TCP`: a TCP handle is listened on as it is (a Pipe
  // handle is not one, and is taken by its descriptor below, as Node does).
  if options.instanceof(*tcp_class)? {
    return Ok(ListenDecision::Listen {
      target: ListenTarget::Handle(options.to_unknown()),
      backlog: Backlog::FromArgs(backlog_from_args),
      options,
    });
  }

  let signal = get(&options, "signal")?;
  if signal.get_type()? != ValueType::Undefined {
    on_signal.call(options)?;
  }

  let fd = get(&options, "fd")?;
  if fd.get_type()? == ValueType::Number && number_of(number, get(&options, "fd")?)? >= 0.0 {
    return Ok(ListenDecision::Listen {
      target: ListenTarget::Descriptor {
        fd: get(&options, "fd")?,
        source: options,
      },
      backlog: Backlog::FromArgs(backlog_from_args),
      options,
    });
  }

  // listen(), listen(null), listen(cb), listen({ port: undefined }): port 0.
  let port_is_unset = count == 0
    || first
      .as_ref()
      .map(|value| value.get_type().map(|t| t == ValueType::Function))
      .transpose()?
      .unwrap_or(false)
    || {
      let port = get(&options, "port")?;
      (port.get_type()? == ValueType::Undefined && options.has_named_property("port")?)
        || get(&options, "port")?.get_type()? == ValueType::Null
    };
  if port_is_unset {
    options.set_named_property("port", 0)?;
  }

  let port_type = get(&options, "port")?.get_type()?;
  if port_type == ValueType::Number || get(&options, "port")?.get_type()? == ValueType::String {
    let port = get(&options, "port")?;
    if !is_valid_port(&port)? {
      return Ok(ListenDecision::Invalid(ListenArgumentError::BadPort(port)));
    }
    let backlog = or_backlog(get(&options, "backlog")?, backlog_from_args)?;
    // Where Node makes a reusePort listener exclusive of the cluster primary.
    if behaviour.reuse_port_is_exclusive() && strictly_true(&get(&options, "reusePort")?)? {
      options.set_named_property("exclusive", true)?;
    }
    let host = get(&options, "host")?;
    let host = if host.coerce_to_bool()? {
      let port = to_int32(&get(&options, "port")?)?;
      let host = get(&options, "host")?;
      Some((port, Some(host)))
    } else {
      None
    };
    let (port, host) = match host {
      Some(resolved) => resolved,
      None => (to_int32(&get(&options, "port")?)?, None),
    };
    let exclusive = get(&options, "exclusive")?.coerce_to_bool()?;
    return Ok(ListenDecision::Listen {
      target: ListenTarget::Tcp {
        port,
        host,
        exclusive,
        ipv6_only,
        reuse_port,
      },
      backlog,
      options,
    });
  }

  let path = get(&options, "path")?;
  if path.coerce_to_bool()? && is_pipe_name(&get(&options, "path")?)? {
    let first_char_is_nul = string_starts_with_nul(&get(&options, "path")?)?;
    if first_char_is_nul
      && (get(&options, "readableAll")?.coerce_to_bool()?
        || get(&options, "writableAll")?.coerce_to_bool()?)
    {
      return Ok(ListenDecision::Invalid(
        ListenArgumentError::InvalidOptions {
          options,
          reason: Some(ABSTRACT_WITH_PERMISSIONS),
        },
      ));
    }
    let path = get(&options, "path")?;
    let backlog = or_backlog(get(&options, "backlog")?, backlog_from_args)?;
    let exclusive = get(&options, "exclusive")?.coerce_to_bool()?;
    let readable_all = get(&options, "readableAll")?;
    let writable_all = get(&options, "writableAll")?;
    return Ok(ListenDecision::Listen {
      target: ListenTarget::Pipe {
        path,
        exclusive,
        readable_all,
        writable_all,
      },
      backlog,
      options,
    });
  }

  let reason = if options.has_named_property("port")? || options.has_named_property("path")? {
    None
  } else {
    Some(MISSING_PORT_OR_PATH)
  };
  Ok(ListenDecision::Invalid(
    ListenArgumentError::InvalidOptions { options, reason },
  ))
}

/// Node's reason when neither `port` nor `path` is present.
const MISSING_PORT_OR_PATH: &str = "must have the property \"port\" or \"path\"";
/// Node's reason (typo included) for permissions on an abstract socket.
const ABSTRACT_WITH_PERMISSIONS: &str =
  "can not set readableAll or writableAllt to true when path is abstract unix socket";

/// Which form of `listen()` a plan is: JavaScript switches on a plan's
/// `kind`, and the generated `binding.d.ts` gives each kind its own shape.
#[napi]
pub enum ListenKind {
  /// [`BoundPlan`].
  Bound,
  /// [`HandlePlan`].
  Handle,
  /// [`DescriptorPlan`].
  Descriptor,
  /// [`TcpPlan`].
  Tcp,
  /// [`PipePlan`].
  Pipe,
  /// [`BadPortPlan`].
  BadPort,
  /// [`NotAnObjectPlan`].
  NotAnObject,
  /// [`InvalidOptionsPlan`].
  InvalidOptions,
}

/// Adopt a `net.BoundSocket` (newer Node 24 releases).
#[napi(object, object_from_js = false)]
pub struct BoundPlan<'env> {
  /// Always [`ListenKind::Bound`].
  #[napi(ts_type = "ListenKind.Bound")]
  pub kind: ListenKind,
  /// The BoundSocket.
  pub bound: Unknown<'env>,
  /// What Node hands to `listen(2)` before `|| 511`: a number or `false`.
  pub backlog: Either3<Unknown<'env>, f64, bool>,
  /// The normalized options object.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
}

/// Listen on a Node `TCP` handle as it is.
#[napi(object, object_from_js = false)]
pub struct HandlePlan<'env> {
  /// Always [`ListenKind::Handle`].
  #[napi(ts_type = "ListenKind.Handle")]
  pub kind: ListenKind,
  /// The handle.
  pub handle: Unknown<'env>,
  /// What Node hands to `listen(2)` before `|| 511`: a number or `false`.
  pub backlog: Either3<Unknown<'env>, f64, bool>,
  /// The normalized options object.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
}

/// Listen on a descriptor: `{ fd }`, or a handle object that carries one.
#[napi(object, object_from_js = false)]
pub struct DescriptorPlan<'env> {
  /// Always [`ListenKind::Descriptor`].
  #[napi(ts_type = "ListenKind.Descriptor")]
  pub kind: ListenKind,
  /// `options.fd`, a non-negative number.
  pub fd: Unknown<'env>,
  /// The object the descriptor was read from (a Node handle, or options).
  pub source: Object<'env>,
  /// What Node hands to `listen(2)` before `|| 511`: a number or `false`.
  pub backlog: Either3<Unknown<'env>, f64, bool>,
  /// The normalized options object.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
}

/// Bind a TCP port, resolving `host` first when there is one.
#[napi(object, object_from_js = false)]
pub struct TcpPlan<'env> {
  /// Always [`ListenKind::Tcp`].
  #[napi(ts_type = "ListenKind.Tcp")]
  pub kind: ListenKind,
  /// The port, as Node's `options.port | 0`.
  pub port: i32,
  /// `options.host`, when truthy.
  pub host: Option<Unknown<'env>>,
  /// `options.exclusive`, as a boolean.
  pub exclusive: bool,
  /// `options.ipv6Only === true`.
  pub ipv6_only: bool,
  /// `options.reusePort === true`.
  pub reuse_port: bool,
  /// `options.backlog` when truthy, else the number found in the
  /// arguments, or `false`.
  pub backlog: Either3<Unknown<'env>, f64, bool>,
  /// The normalized options object.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
}

/// Bind a Unix-domain socket path or abstract name.
#[napi(object, object_from_js = false)]
pub struct PipePlan<'env> {
  /// Always [`ListenKind::Pipe`].
  #[napi(ts_type = "ListenKind.Pipe")]
  pub kind: ListenKind,
  /// `options.path`.
  pub path: Unknown<'env>,
  /// `options.exclusive`, as a boolean.
  pub exclusive: bool,
  /// `options.readableAll`, as read (a cluster primary is given it).
  pub readable_all: Unknown<'env>,
  /// `options.writableAll`, as read.
  pub writable_all: Unknown<'env>,
  /// `options.backlog` when truthy, else the number found in the
  /// arguments, or `false`.
  pub backlog: Either3<Unknown<'env>, f64, bool>,
  /// The normalized options object.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
}

/// Throw `ERR_SOCKET_BAD_PORT` for `options.port`.
#[napi(object, object_from_js = false)]
pub struct BadPortPlan<'env> {
  /// Always [`ListenKind::BadPort`].
  #[napi(ts_type = "ListenKind.BadPort")]
  pub kind: ListenKind,
  /// The port received.
  pub value: Unknown<'env>,
}

/// Throw the TypeError of `'port' in value` (a truthy primitive handle).
#[napi(object, object_from_js = false)]
pub struct NotAnObjectPlan<'env> {
  /// Always [`ListenKind::NotAnObject`].
  #[napi(ts_type = "ListenKind.NotAnObject")]
  pub kind: ListenKind,
  /// The primitive.
  pub value: Unknown<'env>,
}

/// Throw `ERR_INVALID_ARG_VALUE` for `options`.
#[napi(object, object_from_js = false)]
pub struct InvalidOptionsPlan<'env> {
  /// Always [`ListenKind::InvalidOptions`].
  #[napi(ts_type = "ListenKind.InvalidOptions")]
  pub kind: ListenKind,
  /// The options received.
  #[napi(ts_type = "Record<string, unknown>")]
  pub options: Object<'env>,
  /// Node's reason, when it gives one.
  pub reason: Option<&'static str>,
}

/// The plan JavaScript acts on: one of the shapes above, told apart by
/// `kind`.
type ListenPlan<'env> = Either8<
  BoundPlan<'env>,
  HandlePlan<'env>,
  DescriptorPlan<'env>,
  TcpPlan<'env>,
  PipePlan<'env>,
  BadPortPlan<'env>,
  NotAnObjectPlan<'env>,
  InvalidOptionsPlan<'env>,
>;

/// Turns the decision into the plan JavaScript acts on.
fn into_plan<'env>(decision: ListenDecision<'env>) -> Result<ListenPlan<'env>> {
  let (target, backlog, options) = match decision {
    ListenDecision::Invalid(ListenArgumentError::BadPort(value)) => {
      return Ok(Either8::F(BadPortPlan {
        kind: ListenKind::BadPort,
        value,
      }))
    }
    ListenDecision::Invalid(ListenArgumentError::NotAnObject(value)) => {
      return Ok(Either8::G(NotAnObjectPlan {
        kind: ListenKind::NotAnObject,
        value,
      }))
    }
    ListenDecision::Invalid(ListenArgumentError::InvalidOptions { options, reason }) => {
      return Ok(Either8::H(InvalidOptionsPlan {
        kind: ListenKind::InvalidOptions,
        options,
        reason,
      }))
    }
    ListenDecision::Listen {
      target,
      backlog,
      options,
    } => (target, backlog, options),
  };
  let backlog = match backlog {
    Backlog::Given(value) => Either3::A(value),
    Backlog::FromArgs(Some(number)) => Either3::B(number),
    Backlog::FromArgs(None) => Either3::C(false),
  };
  Ok(match target {
    ListenTarget::BoundSocket(bound) => Either8::A(BoundPlan {
      kind: ListenKind::Bound,
      bound,
      backlog,
      options,
    }),
    ListenTarget::Handle(handle) => Either8::B(HandlePlan {
      kind: ListenKind::Handle,
      handle,
      backlog,
      options,
    }),
    ListenTarget::Descriptor { fd, source } => Either8::C(DescriptorPlan {
      kind: ListenKind::Descriptor,
      fd,
      source,
      backlog,
      options,
    }),
    ListenTarget::Tcp {
      port,
      host,
      exclusive,
      ipv6_only,
      reuse_port,
    } => Either8::D(TcpPlan {
      kind: ListenKind::Tcp,
      port,
      host,
      exclusive,
      ipv6_only,
      reuse_port,
      backlog,
      options,
    }),
    ListenTarget::Pipe {
      path,
      exclusive,
      readable_all,
      writable_all,
    } => Either8::E(PipePlan {
      kind: ListenKind::Pipe,
      path,
      exclusive,
      readable_all,
      writable_all,
      backlog,
      options,
    }),
  })
}

/// Reads `object[name]`, running getters and Proxy traps like JavaScript.
fn get<'env>(object: &Object<'env>, name: &str) -> Result<Unknown<'env>> {
  object.get_named_property_unchecked::<Unknown>(name)
}

/// `typeof value === 'object' && value !== null`.
fn is_object(value: &Unknown) -> Result<bool> {
  Ok(value.get_type()? == ValueType::Object)
}

/// `value === true`.
fn strictly_true(value: &Unknown) -> Result<bool> {
  Ok(value.get_type()? == ValueType::Boolean && value.coerce_to_bool()?)
}

/// `Number(value)`, with `number` the `Number` function: ToNumber, except
/// that a BigInt (also one an object converts to) becomes a number instead
/// of throwing. Runs `valueOf`/`toString`/`Symbol.toPrimitive` on objects,
/// and throws on Symbols, as `Number` does.
fn number_of<'env>(
  number: &Function<'env, Unknown<'env>, f64>,
  value: Unknown<'env>,
) -> Result<f64> {
  match value.get_type()? {
    // ToNumber, which Number() applies to these, runs no JavaScript; a call
    // into JavaScript costs more than the whole conversion.
    ValueType::Number
    | ValueType::String
    | ValueType::Boolean
    | ValueType::Undefined
    | ValueType::Null => value.coerce_to_number()?.get_double(),
    // Objects (valueOf, toString, Symbol.toPrimitive), BigInts (which
    // Number() converts and ToNumber refuses) and Symbols go to Number().
    _ => number.call(value),
  }
}

/// Node's `toNumber(present && value)`: `Number(x)` when it is `>= 0`,
/// otherwise `None` (Node's `false`). An absent argument is `false`, which
/// `Number` makes 0.
fn non_negative_number<'env>(
  number: &Function<'env, Unknown<'env>, f64>,
  present: bool,
  value: Option<Unknown<'env>>,
) -> Result<Option<f64>> {
  let Some(value) = value.filter(|_| present) else {
    return Ok(Some(0.0));
  };
  let number = number_of(number, value)?;
  Ok((number >= 0.0).then_some(number))
}

/// A string that is not a non-negative number names a pipe (`isPipeName`).
fn is_pipe_name(value: &Unknown) -> Result<bool> {
  if value.get_type()? != ValueType::String {
    return Ok(false);
  }
  let number = value.coerce_to_number()?.get_double()?;
  // NaN is a pipe name too: only a number >= 0 is a port.
  Ok(number.is_nan() || number < 0.0)
}

/// Node's `validatePort`: a number, or a non-blank string, whose numeric
/// value is an integer from 0 to 65535.
fn is_valid_port(port: &Unknown) -> Result<bool> {
  let number = match port.get_type()? {
    ValueType::Number => port.coerce_to_number()?.get_double()?,
    ValueType::String => {
      if is_blank(port)? {
        return Ok(false);
      }
      port.coerce_to_number()?.get_double()?
    }
    _ => return Ok(false),
  };
  Ok(number == to_uint32(number) && number <= 65535.0)
}

/// ECMAScript ToUint32 on a number.
fn to_uint32(number: f64) -> f64 {
  if !number.is_finite() {
    return 0.0;
  }
  number.trunc().rem_euclid(4_294_967_296.0)
}

/// `value | 0` (ECMAScript ToInt32).
fn to_int32(value: &Unknown) -> Result<i32> {
  value.coerce_to_number()?.get_int32()
}

/// Whether a string is empty after `String.prototype.trim`.
fn is_blank(value: &Unknown) -> Result<bool> {
  let text: napi::bindgen_prelude::Utf16String = {
    // SAFETY: callers only pass values whose type is String.
    unsafe { value.cast() }?
  };
  Ok(text.iter().all(|&unit| is_js_whitespace(unit)))
}

/// The code units `String.prototype.trim` removes: WhiteSpace (including
/// every Zs space) and LineTerminator.
fn is_js_whitespace(unit: u16) -> bool {
  matches!(
    unit,
    0x0009..=0x000D
      | 0x0020
      | 0x00A0
      | 0x1680
      | 0x2000..=0x200A
      | 0x2028
      | 0x2029
      | 0x202F
      | 0x205F
      | 0x3000
      | 0xFEFF
  )
}

/// `name[0] === '\0'`, for a string (other values never start with NUL).
fn string_starts_with_nul(name: &Unknown) -> Result<bool> {
  if name.get_type()? != ValueType::String {
    return Ok(false);
  }
  // SAFETY: the value was just checked to be a string.
  let text: napi::bindgen_prelude::Utf16String = unsafe { name.cast() }?;
  Ok(text.first() == Some(&0))
}

/// `options.backlog || backlogFromArgs`.
fn or_backlog<'env>(backlog: Unknown<'env>, from_args: Option<f64>) -> Result<Backlog<'env>> {
  if backlog.coerce_to_bool()? {
    Ok(Backlog::Given(backlog))
  } else {
    Ok(Backlog::FromArgs(from_args))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn uint32_matches_javascript() {
    assert_eq!(to_uint32(80.0), 80.0);
    assert_eq!(to_uint32(-1.0), 4_294_967_295.0);
    assert_eq!(to_uint32(4_294_967_296.0), 0.0);
    assert_eq!(to_uint32(f64::NAN), 0.0);
    assert_eq!(to_uint32(1.5), 1.0);
  }

  #[test]
  fn whitespace_matches_string_trim() {
    for unit in [
      0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0xFEFF, 0x2028, 0x3000,
    ] {
      assert!(is_js_whitespace(unit), "{unit:#x}");
    }
    for unit in [0x0085, 0x200B, u16::from(b'0')] {
      assert!(!is_js_whitespace(unit), "{unit:#x}");
    }
  }
}
