// The forwardedAllowIps list: parsed and checked here, a leaf, because the
// settings validation, the worker's header filter and the master's sticky
// placement all read it.

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const net = process.getBuiltinModule('node:net');

/**
 * 4, 6 or 0, as net.isIP() says, without its IPv6 pattern: V8 compiles that
 * regular expression on its first use, about 8 ms of every start. BlockList
 * reads the address natively.
 */
function ipVersion(address: string): 0 | 4 | 6 {
  if (net.isIPv4(address)) return 4;
  if (!address.includes(':')) return 0;
  try {
    new net.BlockList().addAddress(address, 'ipv6');
    return 6;
  } catch {
    return 0;
  }
}

/** One `forwardedAllowIps` entry: '*', an IPv4 or IPv6 address, or a CIDR like 10.0.0.0/8 or fd00::/8. */
function parseEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = ipVersion(address);
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
    if (remote === undefined) return false;
    try {
      return list.check(remote, remote.includes(':') ? 'ipv6' : 'ipv4');
    } catch {
      return false; // an address BlockList cannot read is not on the list
    }
  };
}
