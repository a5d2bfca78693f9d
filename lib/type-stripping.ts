const UNSUPPORTED = new Set(['ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_INVALID_TYPESCRIPT_SYNTAX']);

/** What to add to an error Node's type stripping raised for a config or app in TypeScript. */
export function typeStrippingHint(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !UNSUPPORTED.has(code)) return '';
  return (
    " (TypeScript loads through Node's type stripping, which only erases types: enums, namespaces and " +
    'parameter properties need NODE_OPTIONS=--experimental-transform-types)'
  );
}
