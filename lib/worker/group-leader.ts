// Imported by the worker right after early-signals, before any app code: the worker leads a
// process group of its own, which everything the app starts joins (unless it
// calls setsid, as a `detached` child does). node:cluster cannot fork
// `detached`, Node has no setpgid, and the master may not change a child's
// group after its exec, hence the native addon. When the worker exits, the
// master signals what is left of the group (lib/master/process/descendants.ts).
// Without the addon the master warns once; nothing to do here.
import { addonWith } from '../native-addon.js';

const { native } = addonWith('makeGroupLeader');
try {
  native?.makeGroupLeader();
} catch {
  // already a session leader (a worker started otherwise): keeps the group it has
}
