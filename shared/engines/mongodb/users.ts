import type { Document } from 'mongodb';

/**
 * What a MongoDB user may do and where it may log in from, as `usersInfo` reports it (with
 * `showAuthenticationRestrictions`): its roles on every database (each `{ role, db }`), its
 * authentication restrictions, and its custom data, which some applications and tools read to
 * decide what a user is for. Alternating users keep the clone equal to the base user in all three.
 */
export interface UserInfo {
  roles: Document[];
  authenticationRestrictions: Document[];
  customData: Document | undefined;
  mechanisms: string[] | undefined;
}

/** One `usersInfo` entry as a UserInfo. */
export function toUserInfo(found: Document): UserInfo {
  return {
    roles: (found.roles as Document[] | undefined) ?? [],
    authenticationRestrictions: (found.authenticationRestrictions as Document[] | undefined) ?? [],
    customData: isEmpty(found.customData) ? undefined : (found.customData as Document),
    mechanisms: found.mechanisms as string[] | undefined,
  };
}

/** The updateUser (or createUser) fields that make the clone's rights equal the base's. */
export function differences(base: UserInfo, clone: UserInfo): Document {
  const fields: Document = {};
  if (canonicalList(base.roles) !== canonicalList(clone.roles)) fields.roles = base.roles;
  if (
    canonicalList(base.authenticationRestrictions) !==
    canonicalList(clone.authenticationRestrictions)
  ) {
    fields.authenticationRestrictions = base.authenticationRestrictions;
  }
  if (canonical(base.customData ?? {}) !== canonical(clone.customData ?? {})) {
    fields.customData = base.customData ?? {};
  }
  return fields;
}

/**
 * How the clone differs from the base, one sentence each, for testSecret and preflight. Names
 * roles and restrictions (neither is a secret); custom data is only said to differ, since an
 * application may keep anything there.
 */
export function userDifferences(
  base: UserInfo,
  clone: UserInfo,
  names: { base: string; clone: string },
): string[] {
  const sentences: string[] = [];
  const roleKey = (r: Document) => `"${String(r.role)}" on database "${String(r.db)}"`;
  const baseRoles = new Set(base.roles.map(roleKey));
  const cloneRoles = new Set(clone.roles.map(roleKey));
  for (const role of baseRoles) {
    if (!cloneRoles.has(role)) sentences.push(`${names.clone} lacks role ${role}`);
  }
  for (const role of cloneRoles) {
    if (!baseRoles.has(role)) {
      sentences.push(`${names.clone} has role ${role} (${names.base} does not)`);
    }
  }
  if (
    canonicalList(base.authenticationRestrictions) !==
    canonicalList(clone.authenticationRestrictions)
  ) {
    sentences.push(
      `their authentication restrictions differ: ${names.base} ${describe(base.authenticationRestrictions)}, ${names.clone} ${describe(clone.authenticationRestrictions)}`,
    );
  }
  if (canonical(base.customData ?? {}) !== canonical(clone.customData ?? {})) {
    sentences.push(`their custom data differs`);
  }
  return sentences;
}

/**
 * Why levelling must not run when the base user is the target and the clone is live: levelling
 * copies the base's authentication restrictions onto the clone, and restrictions the clone lacks
 * may shut out the clients that use it now (MongoDB has no account lock; restrictions are how a
 * DBA shuts a user out). `undefined` when the base has none, or the same as the clone.
 */
export function restrictionsBlocker(
  base: UserInfo,
  clone: UserInfo,
  names: { base: string; clone: string },
): string | undefined {
  if (base.authenticationRestrictions.length === 0) return undefined;
  if (
    canonicalList(base.authenticationRestrictions) ===
    canonicalList(clone.authenticationRestrictions)
  )
    return undefined;
  return `${names.base} has authentication restrictions ${canonicalList(base.authenticationRestrictions)} that ${names.clone}, the live user, ${describe(clone.authenticationRestrictions).replace('has none', 'does not have')}`;
}

function describe(restrictions: Document[]): string {
  return restrictions.length === 0 ? 'has none' : `has ${canonicalList(restrictions)}`;
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (typeof value === 'object' && Object.keys(value as object).length === 0)
  );
}

/** Order-insensitive text of a list of documents. */
function canonicalList(documents: Document[]): string {
  return documents.map(canonical).sort().join(', ');
}

/** JSON with every object's keys sorted, so equal documents give equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
