/**
 * App code that runs in the master's process (check-config, preload) must
 * never listen there: node:cluster's primary would open the port itself. Its
 * listen() is ignored; the workers serve the app.
 * Loaded on demand: a plain start needs neither module in the master.
 */
export async function loadAppInMaster(app: string, cwd: string, withStack: boolean): Promise<void> {
  const [{ loadApp }, { interceptListen }] = await Promise.all([
    import('../worker/app-loader.js'),
    import('../worker/listen-hook.js'),
  ]);
  interceptListen(() => {}, { passOwnCalls: true });
  // PM2 apps call process.send('ready') unguarded: the master has no parent to tell
  process.send ??= ((message: unknown) => message === 'ready') as NonNullable<typeof process.send>;
  await loadApp(app, cwd, { withStack });
}
