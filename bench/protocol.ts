/**
 * What the orchestrator (run.ts) and its child processes exchange. A child reads its plan from the JSON
 * file named by its first argument and prints one result line, prefixed with RESULT_MARKER, on stdout;
 * the handler's own log lines share stdout and are ignored.
 */
export const RESULT_MARKER = '@@keyvend-bench-result@@ ';

export type FunctionName =
  | 'credentials'
  | 'entitlements'
  | 'audit'
  | 'console'
  | 'portal'
  | 'portalSaml'
  | 'revocations'
  | 'issuer'
  | 'auditExport';

export interface HandlerRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly authorization?: string;
  readonly body?: string;
}

export interface LambdaSettings {
  readonly functionName: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export interface ColdStartPlan {
  readonly handlerPath: string;
  readonly request: HandlerRequest;
  readonly lambda: LambdaSettings;
}

export interface ColdStartResult {
  /** performance.now() when the child's own code started: Node's bootstrap, before any import. */
  readonly bootMs: number;
  readonly importMs: number;
  readonly firstRequestMs: number;
  readonly statusCode: number;
  readonly errorBody?: string;
  /** The response's `grantId`, when it has one (nothing else of the body leaves the child: it holds credentials). */
  readonly grantId?: string;
}

/**
 * bench/repeat-child.ts: requests made over and over in one warm process, in turns (one round asks each request once),
 * so that load falls on each alike: the credential cache's run (one request), and the scale runs (a caller with 1
 * and with 50 groups).
 */
export interface RepeatPlan {
  readonly handlerPath: string;
  /**
   * A second copy of the function (its own module state) with settings of its own, e.g. another table: asked the same
   * requests in turns with the first, in the same process, so that load falls on both alike.
   */
  readonly other?: { readonly handlerPath: string; readonly env: Readonly<Record<string, string>> };
  readonly requests: readonly HandlerRequest[];
  readonly lambda: LambdaSettings;
  readonly warmupRounds: number;
  readonly rounds: number;
}

export interface RepeatResult {
  /** Milliseconds per call, per request (in the plan's order), measured rounds only, in order. */
  readonly samples: readonly (readonly number[])[];
  readonly statusCodes: Readonly<Record<string, number>>;
  /** How many distinct AccessKeyIds the measured calls returned (compared, never printed). */
  readonly distinctAccessKeyIds: number;
  /** The measured calls' grant ids. */
  readonly grantIds: readonly string[];
  /** The plan's `other` copy's own figures. */
  readonly other?: RepeatResult;
}

/** How the broker verifies tokens of the issuer the bench uses (from its KEYVEND_ISSUERS). */
export interface JwtSettings {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly typ?: string;
  readonly maxTokenAgeSeconds: number;
  readonly clockToleranceSeconds: number;
}

export interface WarmPlan {
  readonly handlerPath: string;
  readonly request: HandlerRequest;
  readonly lambda: LambdaSettings;
  readonly token: string;
  readonly warmupCalls: number;
  readonly measuredCalls: number;
  readonly region: string;
  readonly jwt: JwtSettings;
  readonly dynamoDbEndpoint: string;
  readonly entitlementsTable: string;
  readonly auditTable: string;
  readonly stsEndpoint: string;
  /** Which STS call the entitlement's path makes, and so which calls are unavoidable. */
  readonly vending: 'keyvend-issuer' | 'assume-role';
  readonly kmsEndpoint: string;
  readonly signingKeyId: string;
  /** The broker's token settings, to mint tokens of the same shape as the broker's. */
  readonly tokenIssuer: string;
  readonly tokenAudience: string;
}

/**
 * The handler, and the calls it cannot avoid (each made the way the broker makes it: KMS Sign only on the
 * keyvend-issuer path, whose STS call is AssumeRoleWithWebIdentity; AssumeRole on the assume-role path).
 */
export const WARM_OPERATIONS = ['handler', 'jwtVerify', 'batchGetItem', 'kmsSign', 'stsCall', 'putItem'] as const;
export type WarmOperation = (typeof WARM_OPERATIONS)[number];

export interface WarmResult {
  /** Milliseconds per call, measured calls only (warm-up excluded), in iteration order. */
  readonly samples: Readonly<Record<WarmOperation, readonly number[]>>;
  /**
   * Of each sample, the milliseconds its HTTP exchanges took (from the request's creation to the end of its response,
   * by node:diagnostics_channel; overlapping exchanges counted once each): the rest is the process's own work.
   */
  readonly httpSamples: Readonly<Record<WarmOperation, readonly number[]>>;
  /**
   * Per iteration (those where both made the same number of HTTP exchanges), the milliseconds of work between
   * exchanges: segment 0 before the first request is sent, segment i after the i-th response and before the next
   * request, the last after the last response. The handler's, and the unavoidable calls' made one after the other.
   */
  readonly segments: { readonly handler: readonly (readonly number[])[]; readonly unavoidable: readonly (readonly number[])[] };
  /** With BENCH_AB_HANDLER: the other build's handler, timed alike, interleaved with this one. */
  readonly other?: { readonly samples: readonly number[]; readonly httpSamples: readonly number[] };
  readonly auditItemBytes: number;
  readonly policyChars: number;
  readonly tagCount: number;
  /** Bytes the handler wrote to stdout (its log lines, which CloudWatch Logs ingests) per measured call. */
  readonly logBytesPerCall: number;
  /** Capacity units DynamoDB reports (ReturnConsumedCapacity INDEXES) for the request's read and its audit write. */
  readonly capacity: {
    readonly readUnits: number;
    readonly writeUnits: number;
    readonly writeTableUnits: number;
    readonly writeIndexUnits: Readonly<Record<string, number>>;
  };
}

/** What the cold-start floor (bench/floor-handler.ts) is given instead of discovering it: BENCH_FLOOR_PLAN. */
export interface FloorPlan {
  readonly region: string;
  readonly dynamoDbEndpoint: string;
  readonly stsEndpoint: string;
  readonly kmsEndpoint: string;
  readonly jwksUri: string;
  readonly jwt: Pick<JwtSettings, 'issuer' | 'audiences' | 'algorithms'>;
  readonly entitlementsTable: string;
  readonly batchKeys: readonly Record<string, string>[];
  readonly auditTable: string;
  readonly auditItem: Record<string, unknown>;
  readonly signingKeyId: string;
  readonly kid: string;
  /** The broker's token claims for this grant, without the per-token jti and times. */
  readonly tokenClaims: Record<string, unknown>;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly durationSeconds: number;
  readonly policy: string | undefined;
}
