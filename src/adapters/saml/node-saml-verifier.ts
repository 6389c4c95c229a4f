import type { SAML } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { InvalidSamlResponseError, KeyvendError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { deriveUserKey, GROUP_PATTERN, SAFE_TAG_VALUE_PATTERN, sha256Hex, SUBJECT_PATTERN } from '../../domain/identifiers.ts';
import type { SamlIdpSettings } from '../../domain/identity-providers.ts';
import type { Principal } from '../../domain/principal.ts';
import type { Secret } from '../../domain/secret.ts';
import type { ReplayCache, SamlConsumer, SamlSolicitation, SamlVerification, SamlVerifier } from '../../ports/index.ts';
import { signingKeyProblem } from '../../domain/saml-key-policy.ts';
import { childElements, type GuardOptions, guardSamlResponse, NS } from './xml-guard.ts';

export interface SamlVerifierOptions {
  readonly idps: readonly SamlIdpSettings[];
  readonly replayCache: ReplayCache;
  readonly now?: () => Date;
  /**
   * The conformance profile runs the public corpus (RSA-SHA1, RSA-1024 keys, 2012 and 2020, response or assertion signed, Advice):
   * tests construct it directly; configuration cannot select it.
   */
  readonly conformanceProfile?: boolean;
}

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const ASSERTION_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;
const MAX_GROUPS = 100;
/** Conformance profile only: the node-saml corpus has no AudienceRestriction. */
const NO_AUDIENCE = '';

interface IdpEntry {
  readonly settings: SamlIdpSettings;
  /** Set when a pinned certificate's key is too weak to trust (key-policy.ts): every response is then refused. */
  readonly weakKey: string | undefined;
  /**
   * node-saml instances, made on first use: one per accepted audience (node-saml checks a single audience) and per
   * pair of signature requirements (which signatures it must verify, decided per response).
   */
  readonly instances: Map<string, SAML>;
}

/** Which signatures node-saml must verify for one response. */
interface SignatureRequirements {
  readonly response: boolean;
  readonly assertion: boolean;
}

/**
 * Verifies SAML responses with @node-saml/node-saml and adds every check it leaves to the caller
 * (security catalog §2.0): the pre-parse guard, Issuer bound to the IdP whose certificates verified,
 * Destination and Recipient equal to our ACS, Status, times with a bounded skew and lifetime, the
 * NameID/attribute grammar, and a shared replay cache keyed on the assertion id. Everything the
 * principal is built from is read from the bytes that were signed (node-saml's signed assertion).
 */
export class NodeSamlVerifier implements SamlVerifier {
  readonly #byEntityId: Map<string, IdpEntry>;
  readonly #replayCache: ReplayCache;
  readonly #now: () => Date;
  readonly #guard: GuardOptions;
  readonly #conformance: boolean;

  constructor(options: SamlVerifierOptions) {
    this.#replayCache = options.replayCache;
    this.#now = options.now ?? (() => new Date());
    this.#conformance = options.conformanceProfile === true;
    this.#guard = { allowSha1: this.#conformance, allowAdviceAssertions: this.#conformance };
    this.#byEntityId = new Map(
      options.idps.map((settings) => {
        if (settings.certificates.length === 0) throw new Error(`SAML IdP ${settings.id} has no signing certificate`);
        // The conformance profile runs the 2012 xml-crypto corpus, whose IdP key is RSA-1024, as it allows its SHA-1.
        const weakKey = this.#conformance
          ? undefined
          : settings.certificates.map(signingKeyProblem).find((problem) => problem !== undefined);
        return [settings.entityId, { settings, weakKey, instances: new Map() }];
      }),
    );
  }

  /**
   * node-saml (with xml-crypto and xml2js, most of the credentials bundle) is loaded at the first SAML
   * response, so an OIDC-only cold start never evaluates it and the entitlements function never bundles it.
   */
  async #samlFor(entry: IdpEntry, audience: string, signed: SignatureRequirements): Promise<SAML> {
    const instanceKey = `${audience}\n${signed.response}\n${signed.assertion}`;
    const existing = entry.instances.get(instanceKey);
    if (existing !== undefined) return existing;
    // A CommonJS package: Node's loader gives its exports as named ones, a bundle's lazy chunk (esbuild splitting,
    // docs/bundle-size.md) as `default` only.
    const loaded = await import('@node-saml/node-saml');
    const NodeSaml = loaded.SAML ?? loaded.default.SAML;
    const { settings } = entry;
    const saml = new NodeSaml({
      // node-saml uses it only for requests it builds; the ACS each response names is checked per call.
      callbackUrl: 'urn:keyvend:acs-checked-per-response',
      issuer: audience || 'urn:keyvend:conformance',
      audience: audience === NO_AUDIENCE ? false : audience,
      idpCert: [...settings.certificates],
      wantAssertionsSigned: signed.assertion,
      wantAuthnResponseSigned: signed.response,
      acceptedClockSkewMs: settings.clockSkewSeconds * 1000,
      maxAssertionAgeMs: settings.maxAssertionLifetimeSeconds * 1000,
      idpIssuer: settings.entityId,
    });
    entry.instances.set(instanceKey, saml);
    return saml;
  }

  async verifySamlResponse(samlResponse: Secret, consumer: SamlConsumer): Promise<SamlVerification> {
    const base64 = samlResponse.reveal();
    const guarded = guardSamlResponse(base64, this.#guard);
    const unverifiedIssuer = textOf(firstChild(guarded.assertion, NS.assertion, 'Issuer'));
    const entry = unverifiedIssuer === undefined ? undefined : this.#byEntityId.get(unverifiedIssuer);
    if (entry === undefined) throw new InvalidSamlResponseError('saml_unknown_issuer');
    if (entry.weakKey !== undefined) throw new InvalidSamlResponseError('saml_weak_key');
    const audience = this.#chooseAudience(entry, guarded.assertion);
    // node-saml skips a Response signature that fails unless told to want one (and, in the conformance profile, an
    // assertion signature under a valid Response signature): a signature that is present must verify, whatever
    // the configuration requires, so whatever is signed is also required to verify.
    const saml = await this.#samlFor(entry, audience, {
      response: entry.settings.requireSignedResponse || guarded.responseSigned,
      assertion: !this.#conformance || guarded.assertionSigned,
    });

    let signedAssertionXml: string;
    try {
      const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: base64 });
      if (profile === null || typeof profile.getAssertionXml !== 'function') throw new Error('no profile');
      signedAssertionXml = profile.getAssertionXml();
    } catch (error) {
      throw new InvalidSamlResponseError(reasonOf(error), { cause: error });
    }
    const checked = this.#checkResponse(entry.settings, guarded.root, signedAssertionXml, audience, consumer.acsUrl);

    const principal: Principal = {
      idpType: 'saml',
      issuerId: entry.settings.id,
      issuer: entry.settings.entityId,
      subject: checked.subject,
      userKey: deriveUserKey(entry.settings.entityId, checked.subject),
      groups: checked.groups,
      attributes: checked.attributes,
      auth: {
        tokenId: checked.assertionId,
        issuedAt: checked.issuedAt,
        expiresAt: checked.expiresAt,
        tokenRef: `sha256:${sha256Hex(base64)}`,
      },
    };
    // After the signature, so that a refusal names whose response it was (a login-CSRF attempt names the attacker).
    checkSolicitation(consumer.solicitation, entry.settings.id, checked.inResponseTo, principal);
    let firstUse: boolean;
    try {
      firstUse = await this.#replayCache.claimOnce(`saml#${entry.settings.id}#${checked.assertionId}`, checked.replayExpiresAt);
    } catch (error) {
      throw error instanceof KeyvendError ? error : new UpstreamUnavailableError('saml_replay_cache_unavailable', { cause: error });
    }
    if (!firstUse) throw new InvalidSamlResponseError('saml_replayed', { principal });
    return { principal };
  }

  /** Picks the node-saml instance by the (unverified) audience; node-saml then checks it against the signed bytes. */
  #chooseAudience(entry: IdpEntry, assertion: Element): string {
    const audiences = Array.from(assertion.getElementsByTagNameNS(NS.assertion, 'Audience')).map((a) => textOf(a));
    const match = entry.settings.audiences.find((audience) => audiences.includes(audience));
    if (match === undefined && this.#conformance && audiences.length === 0) return NO_AUDIENCE;
    if (match === undefined) throw new InvalidSamlResponseError('saml_untrusted_audience');
    return match;
  }

  #checkResponse(settings: SamlIdpSettings, root: Element, signedAssertionXml: string, audience: string, acsUrl: string) {
    // The root is signed when the IdP signs the response; either way it must name its consumer and say Success.
    const destination = root.getAttribute('Destination') ?? '';
    if (destination !== acsUrl) throw new InvalidSamlResponseError('saml_destination_mismatch');
    if (root.getAttribute('Version') !== '2.0') throw new InvalidSamlResponseError('saml_version');
    const responseIssuers = childElements(root, NS.assertion, 'Issuer');
    if (responseIssuers.length > 1 || (responseIssuers[0] !== undefined && textOf(responseIssuers[0]) !== settings.entityId)) {
      throw new InvalidSamlResponseError('saml_issuer_mismatch');
    }
    const status = firstChild(root, NS.protocol, 'Status');
    const statusCode = status === undefined ? undefined : firstChild(status, NS.protocol, 'StatusCode');
    if (statusCode?.getAttribute('Value') !== SUCCESS) throw new InvalidSamlResponseError('saml_status_not_success');

    const assertion = parseSignedAssertion(signedAssertionXml);
    const nowMs = this.#now().getTime();
    const skewMs = settings.clockSkewSeconds * 1000;
    const issuers = childElements(assertion, NS.assertion, 'Issuer');
    if (issuers.length !== 1 || textOf(issuers[0]) !== settings.entityId) throw new InvalidSamlResponseError('saml_issuer_mismatch');
    const assertionId = assertion.getAttribute('ID') ?? '';
    if (!ASSERTION_ID_PATTERN.test(assertionId)) throw new InvalidSamlResponseError('saml_assertion_id_invalid');
    const issuedAtMs = instant(assertion.getAttribute('IssueInstant'));
    if (issuedAtMs > nowMs + skewMs) throw new InvalidSamlResponseError('saml_issued_in_future');

    const conditionsList = childElements(assertion, NS.assertion, 'Conditions');
    if (conditionsList.length !== 1) throw new InvalidSamlResponseError('saml_conditions_missing');
    const conditions = conditionsList[0] as Element;
    const notBeforeMs = instant(conditions.getAttribute('NotBefore'));
    const notOnOrAfterMs = instant(conditions.getAttribute('NotOnOrAfter'));
    if (nowMs + skewMs < notBeforeMs) throw new InvalidSamlResponseError('saml_not_yet_valid');
    if (nowMs - skewMs >= notOnOrAfterMs) throw new InvalidSamlResponseError('saml_expired');
    if (notOnOrAfterMs - issuedAtMs > settings.maxAssertionLifetimeSeconds * 1000)
      throw new InvalidSamlResponseError('saml_lifetime_too_long');
    const restrictions = childElements(conditions, NS.assertion, 'AudienceRestriction');
    if (restrictions.length === 0 && !(this.#conformance && audience === NO_AUDIENCE))
      throw new InvalidSamlResponseError('saml_untrusted_audience');
    for (const restriction of restrictions) {
      // Every restriction must be met (SAML Core §2.5.1.4), so each must name the audience we accept.
      if (!childElements(restriction, NS.assertion, 'Audience').some((a) => textOf(a) === audience)) {
        throw new InvalidSamlResponseError('saml_untrusted_audience');
      }
    }
    if (childElements(assertion, NS.assertion, 'AuthnStatement').length === 0)
      throw new InvalidSamlResponseError('saml_no_authn_statement');

    const subjects = childElements(assertion, NS.assertion, 'Subject');
    if (subjects.length !== 1) throw new InvalidSamlResponseError('saml_subject_missing');
    const subjectElement = subjects[0] as Element;
    const confirmation = this.#checkBearerConfirmation(subjectElement, destination, nowMs, skewMs);
    const confirmationUntilMs = confirmation.untilMs;
    const used = new Set(
      [settings.subjectAttribute, settings.groupsAttribute, ...Object.values(settings.tagAttributes)].filter(
        (n): n is string => n !== undefined,
      ),
    );
    const attributes = collectAttributes(assertion, (name) => used.has(name));
    const subject = this.#subjectOf(settings, subjectElement, attributes);

    const groups = settings.groupsAttribute === undefined ? [] : (attributes.get(settings.groupsAttribute) ?? []);
    if (groups.length > MAX_GROUPS || !groups.every((g) => GROUP_PATTERN.test(g)))
      throw new InvalidSamlResponseError('saml_groups_invalid');
    const tags: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, attributeName] of Object.entries(settings.tagAttributes)) {
      const values = attributes.get(attributeName);
      if (values === undefined) continue;
      if (values.length !== 1 || !SAFE_TAG_VALUE_PATTERN.test(values[0] as string))
        throw new InvalidSamlResponseError(`saml_attribute_invalid`);
      tags[key] = values[0] as string;
    }

    const expiresAtMs = Math.min(notOnOrAfterMs, confirmationUntilMs);
    return {
      assertionId,
      // Every InResponseTo the response carries: the Response's (signed when the Response is) and the bearer
      // confirmation's (inside the signed assertion).
      inResponseTo: [root.hasAttribute('InResponseTo') ? root.getAttribute('InResponseTo') : null, confirmation.inResponseTo].filter(
        (id): id is string => id !== null,
      ),
      subject,
      groups: [...new Set(groups)],
      attributes: Object.freeze(tags),
      issuedAt: Math.floor(issuedAtMs / 1000),
      expiresAt: Math.floor(expiresAtMs / 1000),
      // Kept until the last moment any copy of the assertion could still be accepted.
      replayExpiresAt: new Date(Math.max(notOnOrAfterMs, confirmationUntilMs) + skewMs),
    };
  }

  /** At least one bearer confirmation for the response's (already checked) Destination, still valid; returns its NotOnOrAfter and InResponseTo. */
  #checkBearerConfirmation(
    subject: Element,
    recipient: string,
    nowMs: number,
    skewMs: number,
  ): { untilMs: number; inResponseTo: string | null } {
    for (const confirmation of childElements(subject, NS.assertion, 'SubjectConfirmation')) {
      if (confirmation.getAttribute('Method') !== BEARER) continue;
      const data = childElements(confirmation, NS.assertion, 'SubjectConfirmationData');
      if (data.length !== 1) continue;
      const element = data[0] as Element;
      if (element.getAttribute('Recipient') !== recipient) continue;
      const until = element.getAttribute('NotOnOrAfter');
      if (until === null || until === '') continue;
      const untilMs = instant(until);
      if (nowMs - skewMs >= untilMs) throw new InvalidSamlResponseError('saml_expired');
      const notBefore = element.getAttribute('NotBefore');
      if (notBefore !== null && notBefore !== '' && nowMs + skewMs < instant(notBefore))
        throw new InvalidSamlResponseError('saml_not_yet_valid');
      return { untilMs, inResponseTo: element.hasAttribute('InResponseTo') ? element.getAttribute('InResponseTo') : null };
    }
    throw new InvalidSamlResponseError('saml_recipient_mismatch');
  }

  #subjectOf(settings: SamlIdpSettings, subjectElement: Element, attributes: Map<string, string[]>): string {
    let subject: string | undefined;
    if (settings.subjectAttribute !== undefined) {
      const values = attributes.get(settings.subjectAttribute);
      if (values === undefined || values.length !== 1) throw new InvalidSamlResponseError('saml_subject_invalid');
      subject = values[0];
    } else {
      const nameIds = childElements(subjectElement, NS.assertion, 'NameID');
      if (nameIds.length !== 1) throw new InvalidSamlResponseError('saml_subject_invalid');
      const nameId = nameIds[0] as Element;
      if (!settings.nameIdFormats.includes(nameId.getAttribute('Format') ?? '')) throw new InvalidSamlResponseError('saml_nameid_format');
      subject = simpleText(nameId);
    }
    if (subject === undefined || !SUBJECT_PATTERN.test(subject)) throw new InvalidSamlResponseError('saml_subject_invalid');
    return subject;
  }
}

/**
 * InResponseTo against what the consumer asked for (SAML Profiles §4.1.4.2, security catalog S-07 c/e). Where no
 * AuthnRequest is ever sent, any InResponseTo means the response was made for another consumer's request. Where one
 * is, only the answer to this browser's pending request, sent to this IdP, is taken: an unsolicited (IdP-initiated)
 * response is what a login-CSRF attacker posts, with an assertion the IdP issued to them.
 */
function checkSolicitation(solicitation: SamlSolicitation, idpId: string, inResponseTo: readonly string[], principal: Principal): void {
  const refuse = (reason: string) => new InvalidSamlResponseError(reason, { principal });
  if (solicitation.kind === 'never-requested') {
    if (inResponseTo.length > 0) throw refuse('saml_unsolicited_in_response_to');
    return;
  }
  if (inResponseTo.length === 0) throw refuse('saml_unsolicited');
  const { request } = solicitation;
  if (request === undefined) throw refuse('saml_no_pending_request');
  if (request.idpId !== idpId || !inResponseTo.every((id) => id === request.id)) {
    throw refuse('saml_in_response_to_mismatch');
  }
}

function parseSignedAssertion(xml: string): Element {
  const problems: string[] = [];
  const record = (message: string) => problems.push(message);
  const document = new DOMParser({ errorHandler: { warning: record, error: record, fatalError: record } }).parseFromString(xml, 'text/xml');
  const root = document.documentElement;
  if (problems.length > 0 || root === null || root.namespaceURI !== NS.assertion || root.localName !== 'Assertion') {
    throw new InvalidSamlResponseError('saml_signed_assertion_unreadable');
  }
  return root;
}

/**
 * The text values of the attributes we use, by name. A name that appears twice is refused (parser-differential
 * bait); a used attribute whose value is not plain text is refused; attributes we do not use may hold anything.
 */
function collectAttributes(assertion: Element, isUsed: (name: string) => boolean): Map<string, string[]> {
  const seen = new Set<string>();
  const attributes = new Map<string, string[]>();
  for (const statement of childElements(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of childElements(statement, NS.assertion, 'Attribute')) {
      const name = attribute.getAttribute('Name') ?? '';
      if (name === '' || seen.has(name)) throw new InvalidSamlResponseError('saml_attribute_duplicated');
      seen.add(name);
      if (!isUsed(name)) continue;
      const values = childElements(attribute, NS.assertion, 'AttributeValue').map((value) => {
        const text = simpleText(value);
        if (text === undefined) throw new InvalidSamlResponseError('saml_attribute_invalid');
        return text;
      });
      attributes.set(name, values);
    }
  }
  return attributes;
}

/** The element's text when it holds text only: no child elements, comments or instructions. */
function simpleText(element: Element): string | undefined {
  let text = '';
  for (let node = element.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType !== 3) return undefined;
    text += node.nodeValue ?? '';
  }
  return text;
}

function firstChild(parent: Element, namespace: string, localName: string): Element | undefined {
  return childElements(parent, namespace, localName)[0];
}

function textOf(element: Element | undefined): string | undefined {
  return element === undefined ? undefined : simpleText(element);
}

/** UTC only (SAML Core §1.3.3); `+00:00` is the same instant and some IdPs write it. */
const INSTANT_PATTERN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]00:00)$/;

function instant(value: string | null): number {
  if (value === null || !INSTANT_PATTERN.test(value)) throw new InvalidSamlResponseError('saml_time_invalid');
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidSamlResponseError('saml_time_invalid');
  return ms;
}

/** node-saml's messages, mapped to stable audit reasons. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (/multiple assertions/i.test(message)) return 'saml_assertion_count';
  if (/signature/i.test(message)) return 'saml_bad_signature';
  if (/not yet valid/i.test(message)) return 'saml_not_yet_valid';
  if (/expired/i.test(message)) return 'saml_expired';
  if (/audience/i.test(message)) return 'saml_untrusted_audience';
  return 'saml_rejected';
}
