// Preloaded first (NODE_OPTIONS) into a worker forked as root for
// `initgroups`: take the user's supplementary groups, then its gid and uid,
// before any other preload or the app runs. A no-op anywhere else, such as in
// a process the app spawns, which inherits NODE_OPTIONS from it.
const raw = process.env.TSGUND_DROP;
if (raw !== undefined) {
  const drop = JSON.parse(raw) as { uid: number; gid: number; user: string; nodeOptions: string | null };
  delete process.env.TSGUND_DROP;
  if (drop.nodeOptions === null) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = drop.nodeOptions;
  // missing from @types/node 22, present in Node 22 to 26 on POSIX
  (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(drop.user, drop.gid);
  process.setgid!(drop.gid);
  process.setuid!(drop.uid);
}
