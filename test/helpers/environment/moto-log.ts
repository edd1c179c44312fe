/** What moto's access log (werkzeug's format, also its container's) says about the run. */
export interface MotoAnswers {
  /** Requests moto answered. */
  requests: number;
  /** The access-log lines of requests moto answered with a 5xx status. */
  serverErrors: string[];
  /** The first Python traceback in the log, if any: what made moto fail. */
  firstTraceback?: string;
}

// 127.0.0.1 - - [22/Nov/2026 05:40:01] "POST / HTTP/1.1" 200 -
const ACCESS_LINE = /"[A-Z]+ \S+ HTTP\/[\d.]+" (\d{3}) /;

/** Reads moto's access log: how many requests it answered, and which ones it failed. */
export function motoAnswers(log: string): MotoAnswers {
  const lines = log.split('\n');
  let requests = 0;
  const serverErrors: string[] = [];
  for (const line of lines) {
    const status = ACCESS_LINE.exec(line)?.[1];
    if (!status) continue;
    requests++;
    if (status.startsWith('5')) serverErrors.push(line.trim());
  }
  const start = lines.findIndex((line) => line.startsWith('Traceback (most recent call last)'));
  if (start < 0) return { requests, serverErrors };
  const end = lines.findIndex((line, i) => i > start && /^\S/.test(line));
  const firstTraceback = lines.slice(start, end < 0 ? undefined : end + 1).join('\n');
  return { requests, serverErrors, firstTraceback };
}
