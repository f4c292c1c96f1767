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
  ['64:ff9b::', 96],
  ['100::', 64],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}

/** ::ffff:a.b.c.d and ::a.b.c.d carry an IPv4 address: judge that one. */
function embeddedIpv4(address: string): string | null {
  const match = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (match) return match[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
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
  const v4 = version === 6 ? embeddedIpv4(address) : address;
  const family = v4 ? 'ipv4' : 'ipv6';
  const checked = v4 ?? address;
  if (allow.addresses.check(checked, family) || (v4 !== null && version === 6 && allow.addresses.check(address, 'ipv6'))) return null;
  if (FORBIDDEN.check(checked, family)) {
    return `${hostname} resolves to ${address}, a loopback, private, link-local or reserved address (add it to MLGIT_WEBHOOK_ALLOW to permit it)`;
  }
  return null;
}
