// Real loopback TCP listeners standing in for protected VM ports. Every connection comes from
// 127.0.0.1, so the client declares the source it stands for in its first line (`SOURCE 10.1.2.3`)
// and the guard asks the simulated NSG whether that source may reach the port right now. A refused
// connection is reset before a byte is sent; an accepted one is told `OK …` and then echoes what it
// receives. Like a real NSG, a later expiry does not cut connections that are already open.
import net from 'node:net';
import type { AccessCheck } from './state';

export interface GuardTarget {
  vmName: string;
  port: number;
}

export interface GuardListener extends GuardTarget {
  /** The loopback port that stands for `port` of the VM. */
  listenPort: number;
}

interface GuardOptions {
  host: string;
  check(vmName: string, port: number, source: string): AccessCheck;
  /** A client that does not declare its source within this time is refused. */
  firstLineTimeoutMs?: number;
}

const MAX_FIRST_LINE_BYTES = 256;
const SOURCE_LINE = /^SOURCE\s+(\S+)$/i;

export class PortGuards {
  private readonly listeners = new Map<string, { server: net.Server; target: GuardTarget; listenPort: number }>();
  private readonly sockets = new Set<net.Socket>();
  private closed = false;

  constructor(private readonly options: GuardOptions) {}

  /** Opens a listener for every target that lacks one; existing listeners stay as they are. */
  async ensure(targets: GuardTarget[]): Promise<void> {
    for (const target of targets) {
      const k = `${target.vmName.toLowerCase()}|${target.port}`;
      if (this.closed || this.listeners.has(k)) continue;
      const server = net.createServer((socket) => this.accept(socket, target));
      const listenPort = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, this.options.host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      });
      this.listeners.set(k, { server, target, listenPort });
    }
  }

  portOf(vmName: string, port: number): number | undefined {
    return this.listeners.get(`${vmName.toLowerCase()}|${port}`)?.listenPort;
  }

  list(): GuardListener[] {
    return [...this.listeners.values()].map((l) => ({ ...l.target, listenPort: l.listenPort }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await Promise.all([...this.listeners.values()].map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))));
    this.listeners.clear();
  }

  private accept(socket: net.Socket, target: GuardTarget): void {
    let buffered = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const refuse = () => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.resetAndDestroy();
    };
    timer = setTimeout(refuse, this.options.firstLineTimeoutMs ?? 5_000);
    this.sockets.add(socket);
    socket.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(socket);
    });
    // A peer resetting first is normal here; the socket is simply done.
    socket.on('error', () => socket.destroy());
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) {
        if (buffered.length > MAX_FIRST_LINE_BYTES) refuse();
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      const line = buffered.subarray(0, newline).toString('utf8').trim();
      const rest = buffered.subarray(newline + 1);
      const source = SOURCE_LINE.exec(line)?.[1];
      let verdict: AccessCheck = { allowed: false };
      if (source !== undefined) {
        try {
          verdict = this.options.check(target.vmName, target.port, source);
        } catch {
          verdict = { allowed: false };
        }
      }
      if (!verdict.allowed) {
        refuse();
        return;
      }
      socket.write(`OK ${target.vmName}:${target.port}${verdict.until ? ` until ${verdict.until}` : ''}\n`);
      if (rest.length > 0) socket.write(rest);
      socket.on('data', (data: Buffer) => socket.write(data));
    };
    socket.on('data', onData);
  }
}
