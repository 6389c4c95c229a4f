/**
 * Structural check of an inline session policy (identity-policy grammar): valid JSON, an object with an optional
 * Version of 2012-10-17/2008-10-17, a Statement object or non-empty array of statements with Effect Allow|Deny,
 * Action|NotAction, Resource|NotResource and no Principal. Violations are MalformedPolicyDocument, worded like IAM.
 */
import { stsErrors } from './errors.ts';

const TOP_LEVEL = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
  'Principal',
  'NotPrincipal',
]);

function isStringOrStrings(v: unknown): boolean {
  return typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateSessionPolicyDocument(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw stsErrors.malformedPolicy('This policy contains invalid Json');
  }
  if (!isObject(doc)) throw stsErrors.malformedPolicy('Syntax errors in policy.');
  if (Object.keys(doc).some((k) => !TOP_LEVEL.has(k))) throw stsErrors.malformedPolicy('Syntax errors in policy.');
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw stsErrors.malformedPolicy('The policy must contain a valid version string');
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  if (statements.length === 0) throw stsErrors.malformedPolicy('Syntax errors in policy.');
  for (const s of statements) {
    if (!isObject(s) || Object.keys(s).some((k) => !STATEMENT_KEYS.has(k))) throw stsErrors.malformedPolicy('Syntax errors in policy.');
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw stsErrors.malformedPolicy('Syntax errors in policy.');
    if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
      throw stsErrors.malformedPolicy('Policy document should not specify a principal.');
    }
    const hasAction = s.Action !== undefined;
    const hasNotAction = s.NotAction !== undefined;
    if (hasAction === hasNotAction || !isStringOrStrings(hasAction ? s.Action : s.NotAction)) {
      throw stsErrors.malformedPolicy('Policy statement must contain actions.');
    }
    const hasResource = s.Resource !== undefined;
    const hasNotResource = s.NotResource !== undefined;
    if (hasResource === hasNotResource || !isStringOrStrings(hasResource ? s.Resource : s.NotResource)) {
      throw stsErrors.malformedPolicy('Policy statement must contain resources.');
    }
    if (s.Condition !== undefined && !isObject(s.Condition)) throw stsErrors.malformedPolicy('Syntax errors in policy.');
    if (s.Sid !== undefined && typeof s.Sid !== 'string') throw stsErrors.malformedPolicy('Syntax errors in policy.');
  }
  return doc;
}
