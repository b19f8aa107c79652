// Types for rs-net, shaped like @types/node's 'net' so that code written
// against net.Server compiles against rs-net unchanged. Server and
// createServer are rs-net's own; everything else is Node's net, re-exported.

import { EventEmitter } from 'node:events';
import type {
  AddressInfo,
  DropArgument,
  ListenOptions as NodeListenOptions,
  ServerOpts,
  Socket,
} from 'node:net';
import type { Worker, WorkerOptions } from 'node:worker_threads';

export * from 'node:net';

/** Node's listen() options, with rs-net's listener groups. */
export interface ListenOptions extends NodeListenOptions {
  /**
   * A listener group: servers of one process (worker threads included)
   * that listen with the same group name share one listening socket, and
   * each connection goes to the member with the fewest open plus queued
   * connections whose event loop has caught up (connections a member's
   * loop has not taken 10 ms after it was woken for them go to one that
   * has). The first member binds (port 0 picks a port); a later member
   * must ask for the same host and port (or port 0, meaning the group's),
   * with the same `ipv6Only` on an IPv6 host, or the same path (else
   * 'error' with `EINVAL`). Not with `fd`, `handle` or `reusePort`; a cluster worker's
   * group is its own, not the primary's.
   */
  group?: string;
}

/**
 * A TCP or IPC server whose connections are accepted on a tokio runtime and
 * handed over as Node's own `net.Socket`. Behaves like `net.Server`.
 */
export declare class Server extends EventEmitter {
  constructor(connectionListener?: (socket: Socket) => void);
  constructor(options?: ServerOpts, connectionListener?: (socket: Socket) => void);

  /** Starts listening; see Node's `server.listen()` for every form. */
  listen(port?: number, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, listeningListener?: () => void): this;
  listen(path: string, backlog?: number, listeningListener?: () => void): this;
  listen(path: string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(handle: any, backlog?: number, listeningListener?: () => void): this;
  listen(handle: any, listeningListener?: () => void): this;

  /** Stops accepting; `'close'` follows once every connection has ended. */
  close(callback?: (err?: Error) => void): this;
  /** The bound address, the pipe path, or `null` when not listening. */
  address(): AddressInfo | string | null;
  /** Counts the open connections (asynchronously, like Node). */
  getConnections(cb: (error: Error | null, count: number) => void): this;
  /** Keeps the process alive while listening (the default). */
  ref(): this;
  /** Lets the process exit while the server still listens. */
  unref(): this;

  /** Connections over this number are refused, with a `'drop'` event. */
  maxConnections: number;
  /** Removed from Node long ago; present for type compatibility only. */
  connections: number;
  /** Whether the server is listening. */
  readonly listening: boolean;

  addListener(event: string, listener: (...args: any[]) => void): this;
  addListener(event: 'close', listener: () => void): this;
  addListener(event: 'connection', listener: (socket: Socket) => void): this;
  addListener(event: 'error', listener: (err: Error) => void): this;
  addListener(event: 'listening', listener: () => void): this;
  addListener(event: 'drop', listener: (data?: DropArgument) => void): this;
  emit(event: string | symbol, ...args: any[]): boolean;
  emit(event: 'close'): boolean;
  emit(event: 'connection', socket: Socket): boolean;
  emit(event: 'error', err: Error): boolean;
  emit(event: 'listening'): boolean;
  emit(event: 'drop', data?: DropArgument): boolean;
  on(event: string, listener: (...args: any[]) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'listening', listener: () => void): this;
  on(event: 'drop', listener: (data?: DropArgument) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  once(event: 'close', listener: () => void): this;
  once(event: 'connection', listener: (socket: Socket) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'listening', listener: () => void): this;
  once(event: 'drop', listener: (data?: DropArgument) => void): this;
  prependListener(event: string, listener: (...args: any[]) => void): this;
  prependListener(event: 'close', listener: () => void): this;
  prependListener(event: 'connection', listener: (socket: Socket) => void): this;
  prependListener(event: 'error', listener: (err: Error) => void): this;
  prependListener(event: 'listening', listener: () => void): this;
  prependListener(event: 'drop', listener: (data?: DropArgument) => void): this;
  prependOnceListener(event: string, listener: (...args: any[]) => void): this;
  prependOnceListener(event: 'close', listener: () => void): this;
  prependOnceListener(event: 'connection', listener: (socket: Socket) => void): this;
  prependOnceListener(event: 'error', listener: (err: Error) => void): this;
  prependOnceListener(event: 'listening', listener: () => void): this;
  prependOnceListener(event: 'drop', listener: (data?: DropArgument) => void): this;
  /** Closes the server (if listening) and resolves when it has closed. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link startWorkers}: Worker's own, and how many to start. */
export interface StartWorkersOptions extends WorkerOptions {
  /** How many worker threads; default `os.availableParallelism()`. */
  count?: number;
}

/**
 * Starts `count` worker threads running `filename` (as `cluster.fork()`
 * starts processes), e.g. each serving a listener group. Returns Node's
 * own Worker objects, in the order started.
 */
export declare function startWorkers(filename: string | URL, options?: StartWorkersOptions): Worker[];

/** Creates a new rs-net {@link Server}. */
export declare function createServer(connectionListener?: (socket: Socket) => void): Server;
export declare function createServer(
  options?: ServerOpts,
  connectionListener?: (socket: Socket) => void,
): Server;
