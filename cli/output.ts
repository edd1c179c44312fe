/**
 * What the runner prints, scrubbed where it is written: every password the runner has read is
 * removed from every line, in every form the redactor knows (see shared/redaction.ts). Each bundle
 * it runs scrubs its own output the same way.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { redactor } from '../shared/redaction';
import { passwordsIn } from '../shared/secrets/database-secret';

/** Hands the password of every secret value `client` reads to the redactor (SDK middleware). */
export function watchPasswords(client: SecretsManagerClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'GetSecretValueCommand') {
        for (const password of passwordsIn(
          (result.output as { SecretString?: string }).SecretString,
        ))
          redactor.add(password);
      }
      return result;
    },
    { step: 'initialize', name: 'watchPasswords', override: true },
  );
}

/** Writes `text` to `stream`, scrubbed. */
export function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(redactor.scrub(text));
}
