import { closeSync, openSync } from 'node:fs';

/** Does this process have a controlling terminal? (WINCH then means "resized".) */
export function hasTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}
