// A stand-in for systemd's notification socket. Node cannot receive unix
// datagrams, so a perl one-liner (perl-base is Essential on Debian) binds the
// socket and prints every datagram on one line.
import { spawn } from 'node:child_process';
import { Proc } from './harness.js';

const RECEIVER = `
use Socket;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!";
$| = 1;
print "bound\\n";
while (defined(recv($s, my $msg, 65536, 0))) { $msg =~ s/\\n/ /g; print "$msg\\n"; }
`;

export class NotifySocket {
  private constructor(private readonly proc: Proc) {}

  static async listen(path: string): Promise<NotifySocket> {
    const proc = new Proc(spawn('perl', ['-e', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await proc.line(/^bound$/);
    return new NotifySocket(proc);
  }

  /** Messages received so far, without systemd-notify's BARRIER=1 handshakes. */
  get messages(): string[] {
    return this.proc.lines.filter((l) => l !== 'bound' && l !== 'BARRIER=1');
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}
