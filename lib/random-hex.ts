// Random names for files created with O_EXCL (a pidfile's temporary, the
// startup script's), unpredictable so that none can be planted in advance.
// The bytes come from the kernel's /dev/urandom: node:crypto would cost every
// start about 16 ms of loading for 8 bytes.

const fs = process.getBuiltinModule('node:fs');

/** `bytes` random bytes as hex. */
export function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  let fd: number | null = null;
  try {
    fd = fs.openSync('/dev/urandom', fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    if (fs.readSync(fd, buf) === bytes) return buf.toString('hex');
  } catch {
    // no /dev/urandom (a chroot without /dev): node:crypto below
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  return process.getBuiltinModule('node:crypto').randomBytes(bytes).toString('hex');
}
