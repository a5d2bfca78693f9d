const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local UTC offset as strftime's %z prints it: `+0100`, `-0430`. */
function utcOffset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function hms(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** gunicorn's error-log time, local: `2026-11-25 09:20:36 +0000`. */
export function errorLogTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hms(d)} ${utcOffset(d)}`;
}

/** Common Log Format time, local: `[25/Nov/2026:09:20:36 +0000]`. */
export function clfTime(d: Date): string {
  return `[${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${hms(d)} ${utcOffset(d)}]`;
}

let cachedSecond = -1;
let cachedClf = '';

/** clfTime() of now, formatted at most once per second. */
export function clfNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedClf = clfTime(new Date(now));
  }
  return cachedClf;
}
