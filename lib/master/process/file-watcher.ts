import { watch, type FSWatcher } from 'chokidar';
import { dirname, resolve } from 'node:path';

const DEBOUNCE_MS = 300;
// chokidar 4 has no globs: skip the usual noise with a predicate
const IGNORED = /(^|[/\\])(node_modules|\.git|dist|coverage)([/\\]|$)|(^|[/\\])\.[^/\\]+$|\.(log|pid|sock)$/;

/**
 * `--reload`: watch the app's directory (and reload-extra-file paths) and call
 * `onChange` once per burst of edits. Development only.
 */
export function watchForReload(
  appModule: string,
  cwd: string,
  extra: string[],
  onChange: (file: string) => void,
  onReady: () => void,
): FSWatcher {
  const roots = [dirname(resolve(cwd, appModule)), ...extra.map((f) => resolve(cwd, f))];
  const watcher = watch(roots, { ignored: (path) => IGNORED.test(path), ignoreInitial: true });
  watcher.once('ready', onReady); // changes before this may be missed
  let timer: NodeJS.Timeout | null = null;
  let last = '';
  watcher.on('all', (_event, path) => {
    last = path;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange(last);
    }, DEBOUNCE_MS);
  });
  return watcher;
}
