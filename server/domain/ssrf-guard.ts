import { BlockList, isIP } from 'node:net';

/**
 * Where outgoing webhooks may not go unless the operator allows it: loopback, private,
 * link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254), carrier-grade NAT,
 * multicast, reserved and unspecified addresses. Checked on the resolved address, never the
 * name, so a DNS name pointing at 127.0.0.1 is refused like 127.0.0.1 itself.
 */
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  // NAT64 local-use (RFC 8215): where the IPv4 address sits depends on the operator's prefix length.
  ['64:ff9b:1::', 48],
  ['100::', 64],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted quad becomes the last two). */
function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const [head, tail] = text.split('::');
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...new Array<number>(zeros).fill(0), ...right];
}

const ipv4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
const zero = (groups: number[]) => groups.every((group) => group === 0);

/**
 * The IPv4 addresses an IPv6 address carries, which is where its packets end up: IPv4-compatible
 * `::a.b.c.d`, IPv4-mapped `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, 6to4 `2002:AABB:CCDD::`
 * (RFC 3056), Teredo `2001:0:SSSS:SSSS::CCCC:CCCC` (RFC 4380: the server in bits 32-63, the client
 * in the last 32 bits inverted) and NAT64 `64:ff9b::a.b.c.d` (RFC 6052).
 */
export function embeddedIpv4(address: string): string[] {
  const g = ipv6Groups(address);
  if (zero(g.slice(0, 5)) && (g[5] === 0 || g[5] === 0xffff)) return [ipv4(g[6]!, g[7]!)];
  if (zero(g.slice(0, 4)) && g[4] === 0xffff && g[5] === 0) return [ipv4(g[6]!, g[7]!)];
  if (g[0] === 0x2002) return [ipv4(g[1]!, g[2]!)];
  if (g[0] === 0x2001 && g[1] === 0) return [ipv4(g[2]!, g[3]!), ipv4(g[6]! ^ 0xffff, g[7]! ^ 0xffff)];
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(g.slice(2, 6))) return [ipv4(g[6]!, g[7]!)];
  return [];
}

export interface AllowList {
  readonly hosts: ReadonlySet<string>;
  readonly addresses: BlockList;
}

/** Parses one MLGIT_WEBHOOK_ALLOW entry (a host name, an address, or address/prefix); null if malformed. */
export function parseAllowEntry(entry: string): { host: string } | { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, prefixText, extra] = entry.replace(/^\[|\]$/g, '').split('/');
  if (extra !== undefined || !address) return null;
  const version = isIP(address);
  if (version === 0) {
    if (prefixText !== undefined || !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(address)) return null;
    return { host: address.toLowerCase() };
  }
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function buildAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const addresses = new BlockList();
  for (const entry of entries) {
    const parsed = parseAllowEntry(entry);
    if (!parsed) throw new Error(`invalid webhook allow-list entry "${entry}"`);
    if ('host' in parsed) hosts.add(parsed.host);
    else addresses.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return { hosts, addresses };
}

/**
 * Why `address` (resolved from `hostname`) may not receive a webhook, or null when it may.
 * An allow-listed host name allows whatever it resolves to; otherwise the address must be
 * public or inside an allow-listed range.
 */
export function refusal(hostname: string, address: string, allow: AllowList): string | null {
  const version = isIP(address);
  if (version === 0) return `"${address}" is not an IP address`;
  if (allow.hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''))) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  // An allow-listed IPv6 range is the operator's word for everything inside it.
  if (allow.addresses.check(address, family)) return null;
  const carried = version === 6 ? embeddedIpv4(address) : [];
  const refused = FORBIDDEN.check(address, family) || carried.some((v4) => !allow.addresses.check(v4, 'ipv4') && FORBIDDEN.check(v4, 'ipv4'));
  if (refused) {
    return `${hostname} resolves to ${address}, a loopback, private, link-local or reserved address (add it to MLGIT_WEBHOOK_ALLOW to permit it)`;
  }
  return null;
}
