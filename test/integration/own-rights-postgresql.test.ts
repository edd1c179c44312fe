import fc from 'fast-check';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { postgresql } from '../../shared/engines/postgresql';
import { tablePrivilegesOf } from '../../shared/engines/postgresql/own-rights';
import { compareRights } from '../../shared/strategies/pair';
import type { PostgresServer } from '../helpers/environment';
import { readEnvironment } from '../helpers/environment';
import { runAs, superuser } from '../helpers/postgres-client';

// The generative test of pair mode's parity check on PostgreSQL (shared/engines/
// postgresql/own-rights.ts): a seeded random sequence of changes a DBA makes to one user of a pair
// or the other (object privileges, column grants, memberships with their options, attributes,
// limits, expiry, settings, ownership), each kept in a model of facts per user. After every change
// both users read their rights in their own sessions, and the comparison testSecret makes must
// agree with the model: what one lacks of the other is non-empty exactly when its facts lack one
// of the other's. A failure prints the seed and the sequence (replay with PARITY_SEED=<seed>);
// PARITY_SEQUENCES sets the number of sequences per server (default 12).

const env = readEnvironment();
const SEQUENCES = Number(process.env.PARITY_SEQUENCES) || 12;
const SEED = Number(process.env.PARITY_SEED) || Math.floor(Math.random() * 2 ** 31);
const USERS = ['blue', 'green'] as const;
type Who = (typeof USERS)[number];
/** Facts that are one of two values, each its own line. */
const STATES = new Set(['connection limit', 'valid until']);
/** Facts that narrow a user (limits): any difference counts, either way. */
const LIMITS = new Set([...STATES, 'setting work_mem', 'setting in database']);

/** One change: a fact it turns on or off for one user, and the statements that do it. */
interface Change {
  who: Who;
  fact: string;
  on: boolean;
}

describe.each(env.postgres.map((s) => [s.name, s] as const))(
  'parity check on %s: generated changes to either user of a pair',
  (_name, server: PostgresServer) => {
    const admin = superuser(server);
    const major = Number(server.version.split('.')[0]);
    const p = `par${server.port}`;
    const schema = `${p}_s`;
    const q = (name: string) => `${id(schema)}.${id(name)}`;
    const group = `${p}_grp`;
    const noSet = `${p}_noset`;
    const adminOf = `${p}_adm`;
    const tablePrivileges = tablePrivilegesOf(major * 10000);

    /** Each fact, with the statements that turn it on and off for a user (`{u}`). */
    const facts: Record<string, { on: string; off: string }> = {
      ...Object.fromEntries(
        tablePrivileges.map((priv) => [
          `${priv} t1`,
          {
            on: `GRANT ${priv} ON ${q('t1')} TO {u}`,
            off: `REVOKE ${priv} ON ${q('t1')} FROM {u}`,
          },
        ]),
      ),
      'SELECT t1 grantable': {
        on: `GRANT SELECT ON ${q('t2')} TO {u} WITH GRANT OPTION`,
        off: `REVOKE SELECT ON ${q('t2')} FROM {u}`,
      },
      'UPDATE (c) t3': {
        on: `GRANT UPDATE (c) ON ${q('t3')} TO {u}`,
        off: `REVOKE UPDATE (c) ON ${q('t3')} FROM {u}`,
      },
      'USAGE s1': {
        on: `GRANT USAGE ON SEQUENCE ${q('s1')} TO {u}`,
        off: `REVOKE USAGE ON SEQUENCE ${q('s1')} FROM {u}`,
      },
      'CREATE schema': {
        on: `GRANT CREATE ON SCHEMA ${id(schema)} TO {u}`,
        off: `REVOKE CREATE ON SCHEMA ${id(schema)} FROM {u}`,
      },
      'CREATE database': {
        on: 'GRANT CREATE ON DATABASE postgres TO {u}',
        off: 'REVOKE CREATE ON DATABASE postgres FROM {u}',
      },
      'EXECUTE f1': {
        on: `GRANT EXECUTE ON FUNCTION ${q('f1')}() TO {u}`,
        off: `REVOKE EXECUTE ON FUNCTION ${q('f1')}() FROM {u}`,
      },
      'member of group': { on: `GRANT ${id(group)} TO {u}`, off: `REVOKE ${id(group)} FROM {u}` },
      ...(major >= 16
        ? {
            'member of noset, no SET': {
              on: `GRANT ${id(noSet)} TO {u} WITH SET FALSE`,
              off: `REVOKE ${id(noSet)} FROM {u}`,
            },
          }
        : {}),
      'member of adm': { on: `GRANT ${id(adminOf)} TO {u}`, off: `REVOKE ${id(adminOf)} FROM {u}` },
      'ADMIN OPTION on adm': {
        on: `GRANT ${id(adminOf)} TO {u} WITH ADMIN OPTION`,
        off: `REVOKE ADMIN OPTION FOR ${id(adminOf)} FROM {u}`,
      },
      CREATEDB: { on: 'ALTER ROLE {u} CREATEDB', off: 'ALTER ROLE {u} NOCREATEDB' },
      'connection limit': {
        on: 'ALTER ROLE {u} CONNECTION LIMIT 7',
        off: 'ALTER ROLE {u} CONNECTION LIMIT -1',
      },
      'valid until': {
        on: "ALTER ROLE {u} VALID UNTIL '2100-01-01 00:00:00+00'",
        off: "ALTER ROLE {u} VALID UNTIL 'infinity'",
      },
      'setting work_mem': {
        on: "ALTER ROLE {u} SET work_mem = '8MB'",
        off: 'ALTER ROLE {u} RESET work_mem',
      },
      'setting in database': {
        on: "ALTER ROLE {u} IN DATABASE postgres SET lock_timeout = '3s'",
        off: 'ALTER ROLE {u} IN DATABASE postgres RESET lock_timeout',
      },
      'owns o1': {
        on: `ALTER TABLE ${q('o1_{w}')} OWNER TO {u}`,
        off: `ALTER TABLE ${q('o1_{w}')} OWNER TO ${id(admin.username)}`,
      },
    };
    const factNames = Object.keys(facts);
    const change: fc.Arbitrary<Change> = fc.record({
      who: fc.constantFrom(...USERS),
      fact: fc.constantFrom(...factNames),
      on: fc.boolean(),
    });

    let run = 0;
    beforeAll(async () => {
      await runAs(
        server,
        admin,
        `CREATE SCHEMA ${id(schema)}`,
        `GRANT USAGE ON SCHEMA ${id(schema)} TO PUBLIC`,
        `CREATE TABLE ${q('t1')} (c int)`,
        `CREATE TABLE ${q('t2')} (c int)`,
        `CREATE TABLE ${q('t3')} (c int, d int)`,
        `CREATE TABLE ${q('g1')} (c int)`,
        `CREATE SEQUENCE ${q('s1')}`,
        `CREATE FUNCTION ${q('f1')}() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
        `REVOKE EXECUTE ON FUNCTION ${q('f1')}() FROM PUBLIC`,
        `CREATE ROLE ${id(group)}`,
        `GRANT SELECT ON ${q('g1')} TO ${id(group)}`,
        `CREATE ROLE ${id(noSet)}`,
        `CREATE ROLE ${id(adminOf)}`,
      );
    });

    it(`agrees with the model after every change (seed ${SEED})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(change, { minLength: 8, maxLength: 24 }), async (changes) => {
          run += 1;
          const names: Record<Who, string> = { blue: `${p}_b${run}`, green: `${p}_g${run}` };
          const password = 'Parity-password-1';
          // One table per run for the ownership fact, which only one role holds at a time.
          const owned = `o1_${run}`;
          await runAs(
            server,
            admin,
            `CREATE TABLE ${q(owned)} (c int)`,
            ...USERS.map((u) => `CREATE ROLE ${id(names[u])} LOGIN PASSWORD ${lit(password)}`),
          );
          // A setting with two values (a limit, an expiry) is a fact either way: each value is a
          // line, so a user with the other value lacks it.
          const start = () => new Set([...STATES].map((f) => `${f}=off`));
          const model: Record<Who, Set<string>> = { blue: start(), green: start() };
          const read = async (who: Who) => {
            const session = await postgresql.connect({
              host: server.host,
              port: server.port,
              username: names[who],
              password,
              database: 'postgres',
              tls: 'disable',
              connectTimeoutMs: 5000,
              statementTimeoutMs: 15000,
              flavor: 'postgres',
              parameters: {},
            });
            try {
              const other = who === 'blue' ? names.green : names.blue;
              return await session.ownRights({ partner: other });
            } finally {
              await session.close();
            }
          };
          try {
            for (const c of changes) {
              const statements = facts[c.fact] as { on: string; off: string };
              let sql = (c.on ? statements.on : statements.off)
                .replaceAll('{u}', id(names[c.who]))
                .replaceAll(`o1_{w}`, owned);
              if (c.fact === 'owns o1' && c.on) {
                // Giving the table to one takes it from the other.
                model[c.who === 'blue' ? 'green' : 'blue'].delete(c.fact);
              }
              if (c.fact === 'owns o1' && !c.on && !model[c.who].has(c.fact)) {
                sql = 'SELECT 1'; // taking it from who does not hold it would take it from the other
              }
              await runAs(server, admin, sql);
              if (STATES.has(c.fact)) {
                model[c.who].delete(`${c.fact}=${c.on ? 'off' : 'on'}`);
                model[c.who].add(`${c.fact}=${c.on ? 'on' : 'off'}`);
              } else if (c.on) model[c.who].add(c.fact);
              else model[c.who].delete(c.fact);
              // ADMIN OPTION comes with the membership, and goes with it.
              if (c.fact === 'ADMIN OPTION on adm' && c.on) model[c.who].add('member of adm');
              if (c.fact === 'member of adm' && !c.on) model[c.who].delete('ADMIN OPTION on adm');

              const rights = { blue: await read('blue'), green: await read('green') };
              const seen = compareRights(rights.blue, rights.green);
              const isLimit = (f: string) => LIMITS.has(f.split('=')[0] as string);
              const greenLacks = [...model.blue].filter((f) => !isLimit(f) && !model.green.has(f));
              const blueLacks = [...model.green].filter((f) => !isLimit(f) && !model.blue.has(f));
              const limitsDiffer = [
                ...[...model.blue].filter((f) => isLimit(f) && !model.green.has(f)),
                ...[...model.green].filter((f) => isLimit(f) && !model.blue.has(f)),
              ];
              const where = `after change ${changes.indexOf(c) + 1}: model blue ${JSON.stringify([...model.blue])}, green ${JSON.stringify([...model.green])}; green lacks ${JSON.stringify(seen.lacking)}, blue lacks ${JSON.stringify(seen.extra)}, limits ${JSON.stringify(seen.limits)}`;
              expect({ where, limitsDiffer: limitsDiffer.length > 0 }).toEqual({
                where,
                limitsDiffer: seen.limits.length > 0,
              });
              expect({ where, greenLacks: greenLacks.length > 0 }).toEqual({
                where,
                greenLacks: seen.lacking.length > 0,
              });
              expect({ where, blueLacks: blueLacks.length > 0 }).toEqual({
                where,
                blueLacks: seen.extra.length > 0,
              });
              // No line names either user of the pair.
              for (const line of [
                ...rights.blue.rights,
                ...rights.blue.limits,
                ...rights.green.rights,
                ...rights.green.limits,
              ]) {
                expect(line).not.toContain(names.blue);
                expect(line).not.toContain(names.green);
              }
            }
          } finally {
            await runAs(
              server,
              admin,
              `DROP TABLE ${q(owned)}`,
              ...USERS.flatMap((u) => [
                `DROP OWNED BY ${id(names[u])}`,
                `DROP ROLE ${id(names[u])}`,
              ]),
            );
          }
        }),
        { seed: SEED, numRuns: SEQUENCES, endOnFailure: true },
      );
    }, 300_000);
  },
);
