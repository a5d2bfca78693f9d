// Node's strip-only mode refuses these with ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX; some Node 22 releases raised
// the same refusal as ERR_INVALID_TYPESCRIPT_SYNTAX, which otherwise means a plain syntax error
const STRIP_ONLY = /not supported in strip-only mode/;

/** What to add to an error Node's type stripping raised for a config or app in TypeScript. */
export function typeStrippingHint(err: unknown): string {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  const unsupported =
    code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' ||
    (code === 'ERR_INVALID_TYPESCRIPT_SYNTAX' && typeof message === 'string' && STRIP_ONLY.test(message));
  if (!unsupported) return '';
  return (
    " (TypeScript loads through Node's type stripping, which only erases types: enums, namespaces and " +
    'parameter properties need NODE_OPTIONS=--experimental-transform-types)'
  );
}
