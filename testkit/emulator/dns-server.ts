/**
 * A small authoritative-and-recursive-looking DNS server on loopback UDP, for the private
 * link check. It answers like a resolver would: CNAME chains are followed into A records,
 * unknown names get NXDOMAIN, blackholed names never get an answer.
 */
import * as dgram from 'node:dgram';
import * as packet from 'dns-packet';

export interface DnsZoneEntry {
  a?: string[];
  aaaa?: string[];
  cname?: string;
}

export class DnsServer {
  readonly records = new Map<string, DnsZoneEntry>();
  /** Names that never get an answer (a dead forwarder). */
  readonly blackholed = new Set<string>();
  /** When true, every query goes unanswered. */
  silent = false;
  queries = 0;
  private socket?: dgram.Socket;
  port = 0;
  host = '127.0.0.1';

  set(name: string, entry: DnsZoneEntry): this {
    this.records.set(name.toLowerCase(), entry);
    return this;
  }

  async start(host = '127.0.0.1', port = 0): Promise<this> {
    this.host = host;
    // A large receive buffer, like a real resolver's: bursts of queries must not be dropped here.
    const s = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.socket = s;
    s.on('message', (msg, rinfo) => this.answer(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, host, () => resolve());
    });
    this.port = s.address().port;
    return this;
  }

  /** host:port for the task's dnsServers input. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.socket ? this.socket.close(() => r()) : r()));
  }

  private answer(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.queries++;
    let q: packet.Packet;
    try {
      q = packet.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question || this.silent) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    if (this.blackholed.has(name)) return;

    const answers: packet.Answer[] = [];
    let current = name;
    let entry = this.records.get(current);
    // Follow the CNAME chain as a recursive resolver does, unless CNAME itself was asked for.
    for (let i = 0; i < 10 && entry?.cname; i++) {
      answers.push({ type: 'CNAME', name: current, ttl: 60, class: 'IN', data: entry.cname });
      if (question.type === 'CNAME') break;
      current = entry.cname.toLowerCase();
      if (this.blackholed.has(current)) return;
      entry = this.records.get(current);
    }
    if (question.type === 'A') for (const ip of entry?.a ?? []) answers.push({ type: 'A', name: current, ttl: 60, class: 'IN', data: ip });
    if (question.type === 'AAAA')
      for (const ip of entry?.aaaa ?? []) answers.push({ type: 'AAAA', name: current, ttl: 60, class: 'IN', data: ip });
    const known = this.records.has(name) || answers.length > 0;
    const res = packet.encode({
      id: q.id,
      type: 'response',
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
      rcode: known || entry ? 'NOERROR' : 'NXDOMAIN',
      questions: q.questions,
      answers,
    } as packet.Packet);
    this.socket?.send(res, rinfo.port, rinfo.address);
  }
}
