/** TCP reachability of port 443, bounded by a timeout. */
import * as net from 'node:net';
import { msg } from './messages';

export function tcpCheck(ip: string, port: number, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port });
    const done = (r: { ok: true } | { ok: false; reason: string }) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, reason: msg('TcpNoAnswerWithin', timeoutMs) }));
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, reason: e.code ?? e.message }));
  });
}
