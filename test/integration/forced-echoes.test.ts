import type { MongoClient } from 'mongodb';
import { logger } from '../../shared/logger';
import { generatePassword } from '../../shared/password';
import { REDACTED, redactor } from '../../shared/redaction';
import { captureOutput } from '../helpers/capture-output';
import { functionArgs, runCli } from '../helpers/cli-runner';
import type { MongoServer, MysqlServer, PostgresServer } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { leakRuns } from '../helpers/leak-scan';
import { connectMongo, mongoAdmin } from '../helpers/mongo-client';
import { connectMysql, lit, mysqlRoot, mysqlRun } from '../helpers/mysql-client';
import { connect, superuser, uniqueName } from '../helpers/postgres-client';
import { loadBundle } from '../helpers/rotation-service';
import { suiteContext } from '../helpers/suite-context';

/**
 * Leak tests with echoes forced for real: servers and drivers that quote a password back, and
 * the output of the bundled handlers and of the runner checked for every run of 12 characters of
 * it, in every form a driver or serializer gives it. Each case also checks that the echo was there
 * (the output shows where it was removed), so none of them can pass by missing it. Every case runs
 * with the engines' default EXCLUDE_CHARACTERS and with an empty one (passwords with quotes and
 * backslashes, which drivers escape).
 */
const { env, service } = suiteContext('forced-echoes');
const logFile = `${env.runDir}/captured-logs/forced-echoes-${process.pid}.log`;

const EXCLUDES = [
  ['default EXCLUDE_CHARACTERS', {}],
  ['empty EXCLUDE_CHARACTERS', { EXCLUDE_CHARACTERS: '' }],
] as const;

/** A password with every character drivers escape, long runs between them. */
const hostilePassword = () => `Cur'rent\\pass"word-${uniqueName('x')}-'\\"%_tail-of-it`;

/** Every string reachable from a thrown error: message, stack, causes, driver properties. */
function stringsOf(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  return Object.getOwnPropertyNames(value).flatMap((key) =>
    stringsOf((value as Record<string, unknown>)[key], seen),
  );
}

function expectNoLeak(where: string, text: string, passwords: string[]): void {
  const runs = leakRuns(text, passwords);
  if (runs > 0) throw new Error(`${runs} run(s) of a password in ${where}`);
}

const mysqlFamily = (server: MysqlServer) => (server.flavor === 'mariadb' ? 'mariadb' : 'mysql');

describe.each(EXCLUDES)('with %s', (_label, excludes) => {
  describe.each(env.mysql.map((s) => [s.name, s] as const))('%s', (_name, server) => {
    const family = mysqlFamily(server);
    const singleUser = loadBundle(`${family}-single-user`);

    it("a statement stuck behind a lock: mysql2's error carries the statement, passwords and all", async () => {
      const username = uniqueName('echo');
      const password = hostilePassword();
      await mysqlRun(
        server,
        mysqlRoot(server),
        `CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(password)}`,
      );
      const arn = await service.createSecret(uniqueName('secret'), {
        engine: family,
        host: server.host,
        port: server.port,
        username,
        password,
      });
      setHandlerEnvironment(env, server.caFile, { ...excludes, DB_STATEMENT_TIMEOUT_SECONDS: '1' });
      const token = await service.startRotation(arn);
      await service.invoke(singleUser, 'createSecret', arn, token);
      const pending = String((await service.value(arn, 'AWSPENDING')).password);
      const blocker = await connectMysql(server, mysqlRoot(server));
      let run: { error?: unknown; output: string };
      try {
        await blocker.query('FLUSH TABLES WITH READ LOCK');
        run = await service.invokeCaptured(singleUser, 'setSecret', arn, token);
      } finally {
        await blocker.end();
      }
      expect(run.error).toMatchObject({ name: 'DatabaseStatementError' });
      // The echo was there: mysql2's `sql` property, logged with the cause, shows where.
      expect(run.output).toMatch(
        /"sql":"(ALTER USER CURRENT_USER\(\) IDENTIFIED BY |SET PASSWORD = PASSWORD\()'\[REDACTED\]'/,
      );
      expectNoLeak('the log', run.output, [password, pending]);
      expectNoLeak('the thrown error', stringsOf(run.error).join('\n'), [password, pending]);
    });
  });

  describe('a password pasted into "username": the server quotes it back', () => {
    const cases = [
      ...env.postgres.map((s) => [s.name, 'postgresql', 'postgres', s] as const),
      ...env.mysql.map((s) => [s.name, mysqlFamily(s), mysqlFamily(s), s] as const),
      ...env.mongodb.map((s) => [s.name, 'mongodb', 'mongo', s] as const),
    ];
    it.each(cases)('%s', async (_name, fn, engine, server) => {
      // At most 32 characters: MySQL's longest user name.
      const password = `Pw'd\\"${uniqueName('u')}-secret`.slice(0, 32);
      const arn = await service.createSecret(uniqueName('secret'), {
        engine,
        host: server.host,
        port: server.port,
        username: password,
        password,
      });
      setHandlerEnvironment(env, server.caFile, excludes);
      const handler = loadBundle(`${fn}-single-user`);
      const token = await service.startRotation(arn);
      await service.invoke(handler, 'createSecret', arn, token);
      const pending = String((await service.value(arn, 'AWSPENDING')).password);
      const run = await service.invokeCaptured(handler, 'setSecret', arn, token);
      expect(run.error).toBeDefined();
      expect(run.output).toContain(REDACTED);
      expectNoLeak('the log', run.output, [password, pending]);
      expectNoLeak('the thrown error', stringsOf(run.error).join('\n'), [password, pending]);

      // The runner, as a person runs it: preflight, and rotate (which resumes this rotation).
      const common = ['--endpoint', env.secretsManagerEndpoint];
      const ca = server.caFile ? ['--ca-file', server.caFile] : [];
      const envArgs = Object.entries(excludes).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
      for (const args of [
        ['preflight', '--secret-id', arn, ...common, ...ca],
        ['preflight', '--secret-id', arn, '--json', ...common, ...ca],
        [
          'rotate',
          '--secret-id',
          arn,
          ...functionArgs(`${fn}-single-user`),
          '--resume',
          '--verbose',
          '--retries',
          '0',
          ...envArgs,
          ...common,
          ...ca,
        ],
      ]) {
        const cli = await runCli(args, logFile);
        const printed = `${cli.stdout}${cli.stderr}`;
        expect(cli.status).not.toBe(0);
        expect(printed).toContain(REDACTED);
        expectNoLeak(`rotation-lambdas ${args[0]}`, printed, [password, pending]);
      }
    });
  });

  describe('statements a server rejects while quoting the password, through the logger', () => {
    const policy = (length: number) => ({
      length,
      excludeCharacters: 'EXCLUDE_CHARACTERS' in excludes ? '' : '/@"\'\\',
      excludeNumbers: false,
      excludePunctuation: false,
      excludeUppercase: false,
      excludeLowercase: false,
      requireEachIncludedType: true,
    });

    /** Logs `error` as the handler does, with `password` known to the redactor. */
    async function logged(error: unknown, password: string): Promise<string> {
      redactor.add(password);
      try {
        return (await captureOutput(async () => logger.error('Rotation step failed', { error })))
          .output;
      } finally {
        redactor.clear();
      }
    }

    /** The raw error echoes part of the password (so the case is real), the log none of it. */
    async function check(error: unknown, password: string): Promise<void> {
      expect(leakRuns(stringsOf(error).join('\n'), [password])).toBeGreaterThan(0);
      const output = await logged(error, password);
      expect(output).toContain(REDACTED);
      expectNoLeak('the log', output, [password]);
    }

    it.each(env.mysql.map((s) => [s.name, s] as const))(
      "%s: a syntax error's near '…' echo, truncated by the server",
      async (_name, server: MysqlServer) => {
        const password = generatePassword(policy(100));
        const connection = await connectMysql(server, mysqlRoot(server));
        try {
          // REPLACE after RETAIN is wrong on MySQL; MariaDB has no REPLACE at all.
          await connection.query(
            `ALTER USER CURRENT_USER() IDENTIFIED BY 'x' RETAIN CURRENT PASSWORD REPLACE ${lit(password)}`,
          );
          throw new Error('the server accepted the statement');
        } catch (error) {
          expect((error as { errno?: number }).errno).toBe(1064);
          expect((error as Error).message).not.toContain(lit(password)); // cut short
          await check(error, password);
        } finally {
          await connection.end();
        }
      },
    );

    it.each(env.postgres.map((s) => [s.name, s] as const))(
      '%s: a syntax error at or near the quoted password',
      async (_name, server: PostgresServer) => {
        const password = generatePassword(policy(40));
        const client = await connect(server, superuser(server));
        try {
          await client.query(
            `ALTER ROLE CURRENT_USER PASSWORD 'x' ${client.escapeLiteral(password)}`,
          );
          throw new Error('the server accepted the statement');
        } catch (error) {
          expect((error as { code?: string }).code).toBe('42601');
          await check(error, password);
        } finally {
          await client.end();
        }
      },
    );

    it.each(env.mongodb.map((s) => [s.name, s] as const))(
      '%s: an unknown command named by the password (errorResponse)',
      async (_name, server: MongoServer) => {
        const password = generatePassword(policy(40));
        let client: MongoClient | undefined;
        try {
          client = await connectMongo(server, mongoAdmin(server));
          await client.db('admin').command({ [password]: 1 });
          throw new Error('the server accepted the command');
        } catch (error) {
          expect((error as { errorResponse?: unknown }).errorResponse).toBeDefined();
          await check(error, password);
        } finally {
          await client?.close();
        }
      },
    );
  });
});
