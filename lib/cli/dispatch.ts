import { distance } from '../config/validate.js';
import { ConfigError } from '../errors.js';
import { resolveAppModule } from '../worker/app-loader.js';

/** A path or `module:export` (a dot, a slash or a colon in it): never taken for a command. */
const looksLikeApp = (word: string): boolean => /[./:\\]/.test(word);

/**
 * `tsgund WORD …` where WORD is not a command: WORD must be the app, a path
 * or `module:export` (whether it exists is checked by start, before anything
 * binds), or a package that resolves from `cwd`. Anything else is a mistyped
 * command: a one-line error listing the commands.
 */
export function appArgument(word: string, commands: string[], cwd: string): void {
  if (looksLikeApp(word)) return;
  try {
    resolveAppModule(word, cwd);
    return;
  } catch {
    // not a package either
  }
  const near = commands.find((c) => distance(word, c) <= 2);
  throw new ConfigError(
    `unknown command '${word}'${near ? ` (did you mean '${near}'?)` : ''}: the commands are ${commands.join(', ')}; ` +
      `to serve a module of that name, run tsgund start ${word}`,
  );
}
