import { readFileSync } from 'node:fs';
import { parseDocument, type Tags } from 'yaml';

/** A CloudFormation template read as JSON: short-form tags become their long form (`!Ref x` → `{ Ref: 'x' }`). */
export interface Template {
  Parameters?: Record<string, Record<string, unknown>>;
  Conditions?: Record<string, unknown>;
  Globals?: { Function?: Record<string, unknown> };
  Resources: Record<string, Resource>;
  Outputs?: Record<string, Record<string, unknown>>;
}

/** One resource of a {@link Template}. */
export interface Resource {
  Type: string;
  Condition?: string;
  Metadata?: Record<string, unknown>;
  Properties?: Record<string, unknown>;
}

const FUNCTIONS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAZs',
  'GetAtt',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
];

function longForm(name: string, value: unknown): Record<string, unknown> {
  if (name === 'Ref' || name === 'Condition') return { [name]: value };
  if (name === 'GetAtt' && typeof value === 'string') {
    const dot = value.indexOf('.');
    return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

const cloudFormationTags: Tags = ['Ref', 'Condition', ...FUNCTIONS].flatMap((name) => {
  const tag = `!${name}`;
  const collection = (node: { toJSON(): unknown }) => longForm(name, node.toJSON());
  return [
    { tag, resolve: (value: string) => longForm(name, value) },
    { tag, collection: 'seq' as const, resolve: collection },
    { tag, collection: 'map' as const, resolve: collection },
  ];
});

/** Parses CloudFormation YAML; an unknown tag or any YAML warning is an error. */
export function parseTemplate(text: string, source = 'template'): Template {
  const doc = parseDocument(text, { customTags: cloudFormationTags });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) throw new Error(`${source}: ${problems.map(String).join('\n')}`);
  return doc.toJS() as Template;
}

/** Reads and parses a CloudFormation YAML file. */
export function readTemplate(path: string): Template {
  return parseTemplate(readFileSync(path, 'utf8'), path);
}
