// Write docs/settings.md from the settings table, through the built code
// (npm run docs builds first). The unit test spec/unit/settings-reference
// fails when the committed page and the table disagree.
//
//   npm run docs
//   node scripts/docs/settings.mjs --check   exit 1 if the page is out of date

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const built = path.join(root, 'dist/lib/config/settings-reference.js');
if (!fs.existsSync(built)) {
  console.error('dist/lib/config/settings-reference.js not built: run npm run build (or npm run docs)');
  process.exit(1);
}
const { SETTINGS_REFERENCE_PATH, settingsReference } = await import(built);
const page = path.join(root, SETTINGS_REFERENCE_PATH);
const text = settingsReference();
const current = fs.existsSync(page) ? fs.readFileSync(page, 'utf8') : null;

if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error(`${SETTINGS_REFERENCE_PATH} is out of date with lib/config/settings.ts: run npm run docs`);
    process.exit(1);
  }
} else if (current === text) {
  console.log(`${SETTINGS_REFERENCE_PATH} is up to date`);
} else {
  fs.writeFileSync(page, text);
  console.log(`wrote ${SETTINGS_REFERENCE_PATH}`);
}
