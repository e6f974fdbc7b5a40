// A forward proxy for tests that plays the internet: CONNECT to a host the routes name is tunnelled
// to a local emulator port (whose certificate names that host); anything else is refused with 403,
// so a test notices a client that goes somewhere unexpected. Tasks reach it through Agent.ProxyUrl.
import * as net from 'node:net';

export interface TunnelRoute {
  /** host:port as sent in CONNECT, e.g. /^api\.github\.com:443$/i. */
  host: RegExp;
  /** The local origin to tunnel to (https://127.0.0.1:<port>), asked at connect time. */
  to: () => string;
}

export interface Tunnel {
  /** For Agent.ProxyUrl. */
  url: string;
  /** Every CONNECT target asked for, in order (refused ones too). */
  connects: string[];
  close: () => Promise<void>;
}

export async function tunnelHosts(routes: TunnelRoute[]): Promise<Tunnel> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    client.once('data', (chunk) => {
      const asked = /^CONNECT ([^\s]+) HTTP\/1\.[01]/.exec(chunk.toString('latin1'))?.[1] ?? '?';
      connects.push(asked);
      const route = routes.find((r) => r.host.test(asked));
      if (!route) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const target = new URL(route.to());
      const upstream = net.connect(Number(target.port), target.hostname, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
