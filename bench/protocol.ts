/**
 * What the orchestrator (run.ts) and its child processes exchange. A child reads its plan from the JSON
 * file named by its first argument and prints one result line, prefixed with RESULT_MARKER, on stdout;
 * the handler's own log lines share stdout and are ignored.
 */
export const RESULT_MARKER = '@@keyvend-bench-result@@ ';

export type FunctionName = 'credentials' | 'entitlements' | 'console' | 'portal' | 'portalSaml' | 'issuer' | 'auditExport';

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
