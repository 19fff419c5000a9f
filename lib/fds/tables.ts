/**
 * The socket tables of every network namespace a scan meets, each read once:
 * which sockets a query names (its targets), and what any socket inode is.
 * Socket inodes are unique across namespaces, so one map by inode serves all.
 *
 * @module
 */

import { namespaceOf } from "../procfs/namespaces.ts";
import { TCP_LISTEN } from "../procfs/net.ts";
import { type NetnsSource, readInetSockets, readUnixSockets, type SocketInfo } from "./sockets.ts";

/** The sockets a query names. */
export interface SocketSelection {
  /** Ports (local or remote); empty: any port. */
  ports: number[];
  protocols: ("tcp" | "udp")[];
  /** Listeners only. */
  listening: boolean;
  /** Whether TCP/UDP sockets are selected at all. */
  inet: boolean;
  /** Unix socket paths (as given and resolved). */
  unixPaths: string[];
}

/** Socket tables by namespace, read lazily. */
export class SocketTables {
  /** Every socket read so far, by inode. */
  readonly byInode = new Map<number, SocketInfo>();
  /** The reader's own network namespace (`net:[N]`). */
  readonly own = namespaceOf("self", "net") ?? "";
  #searched = new Set<string>();
  #loaded = new Set<string>();

  /**
   * The inodes of the sockets `selection` names in namespace `namespace` (read
   * through `source`); [] when that namespace was searched already.
   */
  targets(selection: SocketSelection, namespace: string, source: NetnsSource): number[] {
    if (this.#searched.has(namespace)) return [];
    this.#searched.add(namespace);
    const targets: number[] = [];
    if (selection.inet) {
      const ports = selection.ports.length > 0 ? selection.ports : [undefined];
      for (const port of ports) {
        const filter = { protocols: selection.protocols, port, listening: selection.listening };
        for (const socket of readInetSockets(source, filter)) {
          if (socket.inode === 0) continue; // TIME_WAIT or not accepted: nobody holds it
          this.byInode.set(socket.inode, { kind: "inet", socket });
          targets.push(socket.inode);
        }
      }
    }
    if (selection.unixPaths.length > 0) {
      for (const socket of readUnixSockets(source)) {
        if (!selection.unixPaths.includes(socket.path)) continue;
        this.byInode.set(socket.inode, { kind: "unix", socket });
        targets.push(socket.inode);
      }
    }
    return targets;
  }

  /** The socket with `inode`, held by `pid`: reads all tables of its namespace on first need. */
  get(inode: number, pid: number): SocketInfo | undefined {
    if (!this.byInode.has(inode)) {
      const namespace = namespaceOf(pid, "net");
      if (namespace !== null && !this.#loaded.has(namespace)) {
        this.#loaded.add(namespace);
        this.#loadAll(namespace === this.own ? { own: true } : { own: false, pid });
      }
    }
    return this.byInode.get(inode);
  }

  /** Whether the socket with `inode` (held by `pid`) listens: TCP LISTEN or a unix listener. */
  isListener(inode: number, pid: number): boolean {
    const found = this.get(inode, pid);
    if (found?.kind === "inet") return found.socket.state === TCP_LISTEN;
    return found?.kind === "unix" && found.socket.state === "LISTEN";
  }

  #loadAll(source: NetnsSource): void {
    for (const socket of readInetSockets(source, { protocols: ["tcp", "udp"] })) {
      if (socket.inode !== 0) this.byInode.set(socket.inode, { kind: "inet", socket });
    }
    for (const socket of readUnixSockets(source)) {
      this.byInode.set(socket.inode, { kind: "unix", socket });
    }
  }
}
