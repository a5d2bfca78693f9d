// Writes docs/pm2-fields.md from the table in lib/cli/pm2-fields.ts (run after the build).
import { readFileSync, writeFileSync } from 'node:fs';
import { pm2FieldsMarkdown } from '../../dist/lib/cli/pm2-fields.js';

const root = new URL('../../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('node_modules/pm2/package.json', root), 'utf8'));
writeFileSync(new URL('docs/pm2-fields.md', root), pm2FieldsMarkdown(version));
