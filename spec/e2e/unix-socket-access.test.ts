// Unix binds as root: the socket's mode and owner, who may connect, and a
// socket directory another user could write to.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exec, which } from '../support/exec.js';
import { HELLO, cleanup, freePort, run, startServer, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const NOBODY = 65534;
const SETPRIV = which('setpriv');

/** A fresh directory owned by root, mode 0755: others may enter it, not write to it. */
function rootDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  chmodSync(dir, 0o755);
  return dir;
}

/** The status a GET over the unix socket gets as `user`, or the client's error code. */
async function getAs(user: string, group: string, sock: string): Promise<string> {
  const client = `require('http').get({ socketPath: ${JSON.stringify(sock)}, path: '/', headers: { connection: 'close' } }, (r) => { console.log(r.statusCode); r.resume(); }).on('error', (e) => console.log(e.code))`;
  const done = await exec(SETPRIV!, [
    `--reuid=${user}`,
    `--regid=${group}`,
    '--clear-groups',
    '--',
    process.execPath,
    '-e',
    client,
  ]);
  return done.stdout.trim() || done.stderr;
}

describe('unix binds as root', { skip: process.getuid?.() !== 0 ? 'needs root' : !SETPRIV && 'needs setpriv' }, () => {
  it("with -u nobody the socket is root's and the workers' group's, mode 0660: the app cannot chmod it", async () => {
    const sock = join(rootDir(), 'app.sock');
    const { proc } = await startServer(['-w', '1', '-u', 'nobody', '-g', 'nogroup', '-b', `unix:${sock}`]);
    const st = statSync(sock);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, NOBODY, 0o660]);
    assert.equal(await getAs('nobody', 'nogroup', sock), '200');
    assert.equal(await getAs('daemon', 'daemon', sock), 'EACCES');
    // the app's user is in the socket's group but not its owner: chmod 777 is refused
    const chmod = `try { require('fs').chmodSync(${JSON.stringify(sock)}, 0o777); console.log('changed') } catch (e) { console.log(e.code) }`;
    const tried = await exec(SETPRIV!, [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      '--',
      process.execPath,
      '-e',
      chmod,
    ]);
    assert.equal(tried.stdout.trim(), 'EPERM');
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
  });

  it('--unix-socket-group and --unix-socket-mode give the socket to a proxy group', async () => {
    const sock = join(rootDir(), 'app.sock');
    const { proc } = await startServer([
      '-w',
      '1',
      '-u',
      'nobody',
      '-b',
      `unix:${sock}`,
      '--unix-socket-group',
      'daemon',
      '--unix-socket-mode',
      '0620',
    ]);
    const st = statSync(sock);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 1, 0o620]);
    assert.equal(await getAs('daemon', 'daemon', sock), '200');
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
  });

  it('refuses a socket directory that another user can write to, in one line', { timeout: 30_000 }, async () => {
    const theirs = join(rootDir(), 'nobodys');
    mkdirSync(theirs);
    chownSync(theirs, NOBODY, NOBODY);
    const sock = join(theirs, 'app.sock');
    const proc = run(['start', HELLO, '-u', 'nobody', '-b', `unix:${sock}`, '-b', `127.0.0.1:${await freePort()}`]);
    assert.equal((await proc.exit).code, 1);
    assert.equal(
      proc.lines.at(-1),
      `tsgund: cannot bind unix:${sock}: refusing ${sock}: its directory ${theirs} is owned by uid ${NOBODY}`,
    );
    assert.throws(() => statSync(sock), /ENOENT/, 'no socket was created');
  });
});
