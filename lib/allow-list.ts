// The forwardedAllowIps list: parsed and checked here, a leaf, because the
// settings validation, the worker's header filter and the master's sticky
// placement all read it.
import net from 'node:net';

/** One `forwardedAllowIps` entry: '*', an IPv4 or IPv6 address, or a CIDR like 10.0.0.0/8 or fd00::/8. */
function parseEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = net.isIP(address);
  if (version === 0) return null;
  const bits = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(bits) : entry.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) return null;
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Why a `forwardedAllowIps` list is invalid, or null when it is fine. */
export function allowListProblem(entries: string[]): string | null {
  const bad = entries.find((e) => e !== '*' && parseEntry(e) === null);
  return bad === undefined
    ? null
    : `has ${JSON.stringify(bad)}, expected '*', an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8`;
}

/**
 * Does the list trust `remote`? IPv4 entries also match IPv4-mapped IPv6
 * peers (::ffff:10.1.2.3), as a dual-stack listener reports them. A peer with
 * no address (a unix socket) is not trusted unless the list is '*'.
 */
export function allowList(entries: string[]): (remote: string | undefined) => boolean {
  if (entries.includes('*')) return () => true;
  const list = new net.BlockList();
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (remote) => {
    const version = remote === undefined ? 0 : net.isIP(remote);
    try {
      return version !== 0 && list.check(remote!, version === 4 ? 'ipv4' : 'ipv6');
    } catch {
      return false; // an address BlockList cannot read (an IPv6 zone id) is not on the list
    }
  };
}
