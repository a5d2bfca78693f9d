// The part of winston-syslog (which ships no types) that tsgund uses.
declare module 'winston-syslog' {
  import Transport from 'winston-transport';

  export interface SyslogTransportOptions extends Transport.TransportStreamOptions {
    host?: string;
    port?: number;
    path?: string;
    protocol?: string;
    facility?: string;
    type?: string;
    appName?: string;
    localhost?: string;
    pid?: number;
  }
  export class Syslog extends Transport {
    constructor(options?: SyslogTransportOptions);
  }
}
