import { recordOutput } from './leak/capture-dir';

/** Collects everything written to stdout and stderr while `work` runs (the logger's output). */
export async function captureOutput<T>(
  work: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; output: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof stream.write;
  }
  try {
    const result = await work();
    return { result, output: chunks.join('') };
  } catch (error) {
    const { name, message, stack } = error as { name?: string; message?: string; stack?: string };
    chunks.push(`${name}: ${message}\n${stack}\n`);
    return { error, output: chunks.join('') };
  } finally {
    streams.forEach((s, i) => {
      s.write = originals[i] as typeof s.write;
    });
    recordOutput(chunks.join(''));
  }
}
