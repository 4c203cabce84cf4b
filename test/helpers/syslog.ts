/** A syslog receiver on loopback for tests: RFC 6587 octet-counted framing, each message kept as received. */
import net from 'node:net';

export interface SyslogReceiver {
  port: number;
  /** The messages received, in order (without their length prefix). */
  received: string[];
  /** Resolves when a sender ends its connection. */
  endedByPeer: Promise<void>;
  close(): Promise<void>;
}

export async function syslogReceiver(): Promise<SyslogReceiver> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  let ended!: () => void;
  const endedByPeer = new Promise<void>((r) => (ended = r));
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('end', () => ended());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // "<len> <msg>", the length in bytes (a message may hold multi-byte characters).
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString('latin1'));
        if (buf.length < sp + 1 + len) break;
        received.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    endedByPeer,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
