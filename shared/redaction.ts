/**
 * Redaction where output is written. Every password an invocation (or the runner) has seen is
 * registered here; the logger's JSON replacer, the error that leaves the handler and everything
 * the runner prints go through `scrub`, which removes
 * - each password as written, and as a driver or a serializer would quote it: SQL-quoted
 *   (`''`, PostgreSQL's doubled backslashes, mysql2's backslash escapes), URL-encoded, and each of
 *   those JSON-escaped once or twice;
 * - every run of FRAGMENT_LENGTH or more characters of any of those forms, which covers an echo a
 *   server truncated (MySQL's `near '…'` keeps 80 characters) or a driver cut.
 */

/** The shortest run of a password's characters that is removed on its own. */
export const FRAGMENT_LENGTH = 12;

/**
 * Passwords shorter than this are not searched for: a one- to three-character string would match
 * all over ordinary text, and such a password is no secret anyway.
 */
export const SHORTEST_REDACTED = 4;

export const REDACTED = '[REDACTED]';

/** mysql2's (sqlstring's) escapes inside a quoted literal. */
const BACKSLASH_ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
  '"': '\\"',
  "'": "\\'",
  '\\': '\\\\',
};

const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1);

/** The forms in which `secret` can appear in a statement, a URL or a serialized error. */
export function encodings(secret: string): string[] {
  const quoted = [
    secret,
    secret.replace(/'/g, "''"),
    secret.replace(/['\\]/g, '$&$&'),
    [...secret].map((c) => BACKSLASH_ESCAPES[c] ?? c).join(''),
    encodeURIComponent(secret),
  ];
  const forms = new Set<string>();
  for (const form of quoted) {
    forms.add(form);
    forms.add(jsonEscaped(form));
    forms.add(jsonEscaped(jsonEscaped(form)));
  }
  return [...forms];
}

export class Redactor {
  readonly #secrets = new Set<string>();
  /** Window length → every window of that length of every form; built on first use. */
  #windows: Map<number, Set<string>> | undefined;

  /** Remembers a password (or any secret string) to remove from all later output. */
  public add(secret: unknown): void {
    if (typeof secret !== 'string' || secret.length < SHORTEST_REDACTED) return;
    if (this.#secrets.has(secret)) return;
    this.#secrets.add(secret);
    this.#windows = undefined;
  }

  /** Forgets every secret (at the end of an invocation). */
  public clear(): void {
    this.#secrets.clear();
    this.#windows = undefined;
  }

  public get size(): number {
    return this.#secrets.size;
  }

  /** `text` with every form and every long-enough run of every secret replaced by REDACTED. */
  public scrub(text: string): string {
    if (this.#secrets.size === 0 || text.length === 0) return text;
    const windows = this.windows();
    let covered: Uint8Array | undefined;
    for (const [length, set] of windows) {
      for (let at = 0; at + length <= text.length; at++) {
        if (set.has(text.slice(at, at + length))) {
          covered ??= new Uint8Array(text.length);
          covered.fill(1, at, at + length);
        }
      }
    }
    if (!covered) return text;
    let out = '';
    let at = 0;
    while (at < text.length) {
      if (covered[at]) {
        out += REDACTED;
        while (at < text.length && covered[at]) at++;
      } else {
        out += text[at];
        at++;
      }
    }
    return out;
  }

  /**
   * Scrubs, in place, every string property of `value` and of the objects it holds (an error's
   * message and stack, its cause chain, a driver's `sql`, `sqlMessage` or `errorResponse`), to a
   * bounded depth. Returns `value` (a scrubbed copy for a string).
   */
  public scrubDeep<T>(value: T): T {
    if (typeof value === 'string') return this.scrub(value) as T;
    if (this.#secrets.size > 0) this.scrubObject(value, new Set(), 0);
    return value;
  }

  private scrubObject(value: unknown, seen: Set<unknown>, depth: number): void {
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 8) return;
    seen.add(value);
    const target = value as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(target)) {
      const descriptor = Object.getOwnPropertyDescriptor(target, key);
      if (!descriptor) continue;
      // Other accessors are left alone (a getter may do anything); an error's `stack` is one from
      // Node 24 on (V8 keeps it as a getter and setter pair).
      const stackAccessor = key === 'stack' && descriptor.get && descriptor.set;
      if (!('value' in descriptor) && !stackAccessor) continue;
      const field = (stackAccessor ? target[key] : descriptor.value) as unknown;
      if (typeof field === 'string') {
        const scrubbed = this.scrub(field);
        if (scrubbed !== field) {
          try {
            target[key] = scrubbed;
          } catch {
            // A frozen or read-only property: nothing more can be done here.
          }
        }
      } else if (typeof field === 'object') {
        this.scrubObject(field, seen, depth + 1);
      }
    }
  }

  private windows(): Map<number, Set<string>> {
    if (this.#windows) return this.#windows;
    const windows = new Map<number, Set<string>>();
    for (const secret of this.#secrets) {
      for (const form of encodings(secret)) {
        const length = Math.min(FRAGMENT_LENGTH, form.length);
        let set = windows.get(length);
        if (!set) {
          set = new Set();
          windows.set(length, set);
        }
        for (let at = 0; at + length <= form.length; at++) set.add(form.slice(at, at + length));
      }
    }
    this.#windows = windows;
    return windows;
  }
}

/**
 * The process's one redactor: the handler registers each password it reads or makes and clears
 * them when the invocation ends; the runner registers each one it reads.
 */
export const redactor = new Redactor();
