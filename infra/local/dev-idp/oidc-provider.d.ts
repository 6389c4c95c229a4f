// oidc-provider ships no TypeScript types and @types/oidc-provider lags behind v9, so this
// declares only the part of its surface the dev IdP uses. Configuration stays loosely typed:
// the provider validates it at construction and the callbacks are typed where they are written.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type UnknownObject = Record<string, unknown>;

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'jwt' | 'opaque';
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  export interface ClientModel {
    readonly clientId: string;
    readonly clientName?: string;
    readonly applicationType: 'web' | 'native';
    readonly clientAuthMethod: string;
    readonly redirectUris: string[];
  }

  export interface GrantModel {
    readonly jti: string;
    readonly accountId?: string;
    readonly clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    addRar(detail: UnknownObject): void;
    save(ttl?: number): Promise<string>;
  }

  export interface GrantStatic {
    new (properties: { accountId?: string; clientId?: string }): GrantModel;
    find(id: string): Promise<GrantModel | undefined>;
  }

  export interface ResourceServerModel {
    identifier(): string;
    readonly scopes: Set<string>;
  }

  export interface SessionModel {
    readonly accountId?: string;
    grantIdFor(clientId: string): string | undefined;
  }

  export interface OIDCContext {
    readonly client: ClientModel;
    readonly session: SessionModel;
    readonly params: Record<string, string | undefined>;
    readonly result?: { consent?: { grantId?: string } } & UnknownObject;
    readonly provider: Provider;
    readonly requestParamScopes: Set<string>;
    readonly requestParamOIDCScopes: Set<string>;
    readonly requestParamClaims: Set<string>;
    readonly resourceServers: Record<string, ResourceServerModel>;
    readonly route: string;
  }

  export interface KoaContextWithOIDC {
    oidc: OIDCContext;
    body: unknown;
    type: string;
    status: number;
  }

  export interface BaseTokenModel {
    readonly kind: string;
    readonly jti: string;
    readonly clientId: string;
    readonly accountId?: string;
    readonly grantId?: string;
    resourceServer?: ResourceServerInfo;
  }

  export interface ClaimsResult {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: UnknownObject, rejected: string[]): ClaimsResult | Promise<ClaimsResult>;
  }

  export interface InteractionPrompt {
    name: string;
    reasons: string[];
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
      rar?: UnknownObject[];
    } & UnknownObject;
  }

  export interface Interaction {
    readonly uid: string;
    readonly prompt: InteractionPrompt;
    readonly params: Record<string, string | undefined>;
    readonly grantId?: string;
    readonly session?: { accountId?: string; uid?: string };
    readonly returnTo: string;
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean };
    consent?: { grantId: string };
    error?: string;
    error_description?: string;
  }

  export interface AdapterPayload extends UnknownObject {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: number;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type AdapterFactory = (model: string) => Adapter;

  export class Provider {
    constructor(issuer: string, configuration?: UnknownObject);
    readonly issuer: string;
    proxy: boolean;
    readonly Grant: GrantStatic;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export default Provider;

  export class OIDCProviderError extends Error {
    readonly error: string;
    readonly error_description?: string;
    readonly status: number;
    readonly statusCode: number;
    readonly expose: boolean;
  }

  export const errors: {
    OIDCProviderError: typeof OIDCProviderError;
    InvalidTarget: new (description?: string) => OIDCProviderError;
    SessionNotFound: new (description?: string) => OIDCProviderError;
  };

  export class Check {
    constructor(reason: string, description: string, error: string, check: (ctx: KoaContextWithOIDC) => boolean | Promise<boolean>);
    readonly reason: string;
  }

  export interface PromptChecks extends Array<Check> {
    get(reason: string): Check | undefined;
    remove(reason: string): void;
    add(check: Check, index?: number): void;
  }

  export interface Prompt {
    readonly name: string;
    readonly checks: PromptChecks;
  }

  export interface InteractionPolicy extends Array<Prompt> {
    get(name: string): Prompt | undefined;
  }

  export const interactionPolicy: {
    Check: typeof Check;
    base(): InteractionPolicy;
  };
}
