/**
 * A tiny authoritative DNS server on loopback (UDP and TCP, one port) that plays a Cloud Map private
 * namespace for the edge proxy: SRV records per tenant service, A records for their targets.
 */
import dns2 from 'dns2';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';

const { Packet } = dns2;
/** RFC 1035 response codes; dns2 has them at runtime but its types do not declare them. */
const RCODE = { NOERROR: 0, NXDOMAIN: 3 } as const;

/** One SRV answer: where a tenant's service listens. */
export interface SrvTarget {
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
  readonly ttl?: number;
}

/** A question the server was asked, as it arrived. */
export interface DnsQuestionSeen {
  readonly name: string;
  readonly type: number;
  readonly transport: 'udp' | 'tcp';
}

/** A running server; `close()` stops both transports and drops open TCP connections. */
export interface SrvDnsServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the form Caddy's `resolvers` takes. */
  readonly address: string;
  /** Every question asked so far, oldest first. */
  readonly questions: readonly DnsQuestionSeen[];
  /** Serves `records` as the SRV answer for `name` (no trailing dot, any case); replaces what was there. */
  setSrv(name: string, records: readonly SrvTarget[]): void;
  /** Serves `addresses` (IPv4) as the A answer for `name`; replaces what was there. */
  setA(name: string, addresses: readonly string[]): void;
  close(): Promise<void>;
}

function canonical(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

interface NameRecords {
  srv: readonly SrvTarget[];
  a: readonly string[];
}

const ANSWER_TTL_SECONDS = 5;

/** A name table that never offers a match, so dns2 writes every name in full. */
class NoCompression extends Map<string, number> {
  override has(): boolean {
    return false;
  }
}

/**
 * The wire form without name compression: dns2 also compresses the SRV target, which RFC 2782 forbids
 * and Go's resolver (Caddy's) rejects as "cannot unmarshal DNS message".
 */
function uncompressed(packet: dns2.Packet): Buffer {
  const writer = Object.assign(new Packet.Writer(), { names: new NoCompression() });
  // dns2's toBuffer takes the writer at runtime; its type declaration leaves the parameter out.
  return (packet as unknown as { toBuffer(writer: dns2.Packet.Writer): Buffer }).toBuffer(writer);
}

/** NXDOMAIN for a name it does not hold; for one it holds, the records of the asked type (maybe none). */
function answer(zone: ReadonlyMap<string, NameRecords>, request: dns2.Packet): dns2.Packet {
  const response = Packet.createResponseFromRequest(request);
  // Authoritative, as Route 53 is for a private namespace; Go's resolver treats a non-authoritative empty answer as a lame referral.
  response.header.aa = 1;
  const [question] = request.questions;
  const records = question ? zone.get(canonical(question.name)) : undefined;
  if (!question || !records) {
    response.header.rcode = RCODE.NXDOMAIN;
    return response;
  }
  response.header.rcode = RCODE.NOERROR;
  if (question.type === Packet.TYPE.A) {
    for (const address of records.a) {
      response.answers.push({ name: question.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: ANSWER_TTL_SECONDS, address } as dns2.Packet.Resource);
    }
  }
  if (question.type === Packet.TYPE.SRV) {
    for (const record of records.srv) {
      response.answers.push({
        name: question.name,
        type: Packet.TYPE.SRV,
        class: Packet.CLASS.IN,
        ttl: record.ttl ?? ANSWER_TTL_SECONDS,
        priority: record.priority ?? 1,
        weight: record.weight ?? 1,
        port: record.port,
        target: record.target,
      } as dns2.Packet.Resource);
    }
  }
  return response;
}

function bindUdp(socket: UdpSocket, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

/**
 * Starts the server on `host` (loopback) at a free port that is free for both UDP and TCP, since a
 * DNS client falls back to TCP on the same address when a UDP answer is truncated.
 */
export async function startSrvDnsServer(host = '127.0.0.1'): Promise<SrvDnsServer> {
  const zone = new Map<string, NameRecords>();
  const entry = (name: string): NameRecords => {
    const key = canonical(name);
    const found = zone.get(key) ?? { srv: [], a: [] };
    zone.set(key, found);
    return found;
  };
  const questions: DnsQuestionSeen[] = [];
  const handle = (transport: 'udp' | 'tcp'): dns2.DnsHandler => (request, send) => {
    for (const question of request.questions) questions.push({ name: canonical(question.name), type: question.type, transport });
    void send(uncompressed(answer(zone, request))).catch(() => undefined);
  };

  for (let attempt = 1; ; attempt += 1) {
    // Find a free UDP port with a plain socket, then hand the same port to dns2's UDP and TCP servers.
    const probe = createSocket('udp4');
    const port = await bindUdp(probe, host);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const udp = dns2.createUDPServer(handle('udp'));
    const tcp = dns2.createTCPServer(handle('tcp'));
    const connections = new Set<Socket>();
    tcp.on('connection', (socket: Socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        void udp.listen(port, host).then(() => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => resolve());
      });
    } catch (error) {
      // The port was taken between the probe and the bind: let go of whatever did bind and try another.
      try { udp.close(); } catch { /* never bound */ }
      tcp.close();
      if (attempt >= 10) throw error;
      continue;
    }

    return {
      host,
      port,
      address: `${host}:${port}`,
      questions,
      setSrv(name, records) {
        entry(name).srv = [...records];
      },
      setA(name, addresses) {
        entry(name).a = [...addresses];
      },
      async close() {
        for (const socket of connections) socket.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      },
    };
  }
}
