import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startLocalStack } from '../infra/local/stack.ts';
import { type Bundle, bundleChild, bundleFunction, functionNames } from './bundle.ts';
import {
  type ColdStartPlan,
  type ColdStartResult,
  type FunctionName,
  type HandlerRequest,
  type JwtSettings,
  type LambdaSettings,
  RESULT_MARKER,
  type WarmPlan,
  type WarmResult,
} from './protocol.ts';
import { type Summary, summarize } from './stats.ts';

/**
 * `npm run bench`: bundle sizes, cold starts and warm latency of the handlers against the local stack,
 * written to bench/results.md. Not a test: nothing here passes or fails, it reports.
 */
const COLD_STARTS = Number(process.env['BENCH_COLD_STARTS'] ?? 7);
const WARMUP_CALLS = Number(process.env['BENCH_WARMUP_CALLS'] ?? 30);
const MEASURED_CALLS = Number(process.env['BENCH_MEASURED_CALLS'] ?? 300);
const BUNDLE_LIMIT_BYTES = 600 * 1024;
const RATIO_AIM = 1.2;
const COMPOSITION_PARTS = 10;
/** e.g. BENCH_WARM_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the warm process. */
const WARM_NODE_ARGS = (process.env['BENCH_WARM_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const ENTITLEMENT = 'photo-uploads';
/** The demo entitlement of the one-hour assume-role path, measured beside the default path. */
const ASSUME_ROLE_ENTITLEMENT = 'hourly-readonly';
const CONSOLE_ENTITLEMENT = 'console-readonly';
/** As serverless.yml's provider settings give them to each function. */
const LAMBDA: Omit<LambdaSettings, 'functionName'> = { memoryMb: 512, timeoutSeconds: 10 };
const PROVIDER_ENV = { POWERTOOLS_SERVICE_NAME: 'keyvend', POWERTOOLS_LOG_LEVEL: 'INFO', AWS_STS_REGIONAL_ENDPOINTS: 'regional' };

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * Each function's first request: a grant for the API functions, the sign-in page (no session yet) for the portal.
 * None for portalSaml: its first request would need a signed response from a SAML IdP for the portal's ACS, which
 * the bench's stack does not run; its size is reported, its cold start is not measured.
 */
function requestFor(name: FunctionName, token: string): HandlerRequest | undefined {
  switch (name) {
    case 'portalSaml':
    case 'auditExport':
      return undefined;
    case 'credentials':
      return {
        method: 'POST',
        path: '/v1/credentials',
        authorization: `Bearer ${token}`,
        body: JSON.stringify({ entitlement: ENTITLEMENT, durationSeconds: 900 }),
      };
    case 'console':
      return {
        method: 'POST',
        path: '/v1/console',
        authorization: `Bearer ${token}`,
        body: JSON.stringify({ entitlement: CONSOLE_ENTITLEMENT }),
      };
    case 'portal':
      return { method: 'GET', path: '/portal' };
    case 'issuer':
      return { method: 'GET', path: '/.well-known/jwks.json' };
    default:
      return { method: 'GET', path: '/v1/entitlements', authorization: `Bearer ${token}` };
  }
}

/** Runs a bench child on plain node and returns its result line and the wall time from spawn to that line. */
async function runChild<T>(
  script: string,
  plan: unknown,
  dir: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<{ result: T; wallMs: number }> {
  const planPath = join(dir, `plan-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, script, planPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Read the child's stdout line by line as it comes, keeping nothing but the result: the handler logs a
  // line per decision, and a slow reader would fill the pipe and block the child's synchronous writes.
  let partial = '';
  let line: string | undefined;
  let stderr = '';
  let wallMs: number | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (line === undefined && l.startsWith(RESULT_MARKER)) {
        line = l;
        wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-5000)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0 || line === undefined || wallMs === undefined) {
    throw new Error(`${script} exited ${code}:\n${stderr}\n${partial.slice(-3000)}`);
  }
  return { result: JSON.parse(line.slice(RESULT_MARKER.length)) as T, wallMs };
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);
const kib = (bytes: number) => (bytes / 1024).toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-bench-'));
  const names = functionNames();
  log(`bundling ${names.join(', ')} as serverless-esbuild does`);
  const bundles: Bundle[] = [];
  for (const name of names) bundles.push(await bundleFunction(name, join(dir, 'functions')));
  const coldChild = join(dir, 'cold-start-child.mjs');
  const warmChild = join(dir, 'warm-child.mjs');
  await bundleChild('bench/cold-start-child.ts', coldChild);
  await bundleChild('bench/warm-child.ts', warmChild);

  log('starting the local stack');
  const stack = await startLocalStack({ log });
  try {
    if (stack.idp === undefined) throw new Error('the bench needs the dev IdP');
    const token = await stack.idp.tokenFor('alice');
    const issuers = JSON.parse(stack.brokerEnv['KEYVEND_ISSUERS'] ?? '[]') as Array<Record<string, unknown>>;
    const dev = issuers.find((i) => i['issuer'] === stack.idp?.issuer);
    if (dev === undefined) throw new Error('the dev issuer is not configured');
    const jwt: JwtSettings = {
      issuer: String(dev['issuer']),
      audiences: dev['audiences'] as string[],
      algorithms: (dev['algorithms'] as string[] | undefined) ?? ['RS256'],
      ...((dev['tokenType'] ?? 'access') === 'access' ? { typ: 'at+jwt' } : {}),
      maxTokenAgeSeconds: Number(dev['maxTokenLifetimeSeconds'] ?? 3600),
      clockToleranceSeconds: Number(dev['clockToleranceSeconds'] ?? 60),
    };
    const envFor = (name: FunctionName): Record<string, string> => ({
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      ...PROVIDER_ENV,
      AWS_LAMBDA_FUNCTION_NAME: `keyvend-bench-${name}`,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(LAMBDA.memoryMb),
      ...stack.brokerEnv,
    });

    const cold: Record<string, { wall: Summary; boot: Summary; import: Summary; firstRequest: Summary }> = {};
    for (const bundle of bundles) {
      const request = requestFor(bundle.name, token);
      if (request === undefined) continue;
      const runs: { wallMs: number; result: ColdStartResult }[] = [];
      for (let i = 0; i < COLD_STARTS; i++) {
        const plan: ColdStartPlan = {
          handlerPath: bundle.path,
          request,
          lambda: { ...LAMBDA, functionName: `keyvend-bench-${bundle.name}` },
        };
        const run = await runChild<ColdStartResult>(coldChild, plan, dir, envFor(bundle.name));
        if (run.result.statusCode !== 200)
          throw new Error(`${bundle.name} cold start answered ${run.result.statusCode}: ${run.result.errorBody}`);
        runs.push(run);
      }
      cold[bundle.name] = {
        wall: summarize(runs.map((r) => r.wallMs)),
        boot: summarize(runs.map((r) => r.result.bootMs)),
        import: summarize(runs.map((r) => r.result.importMs)),
        firstRequest: summarize(runs.map((r) => r.result.firstRequestMs)),
      };
      log(`${bundle.name}: cold start median ${fmt(cold[bundle.name]!.wall.median)} ms`);
    }

    const credentials = bundles.find((b) => b.name === 'credentials');
    if (credentials === undefined) throw new Error('no credentials function');
    const warmPlan = (vending: WarmPlan['vending'], entitlement: string): WarmPlan => ({
      handlerPath: credentials.path,
      request: {
        method: 'POST',
        path: '/v1/credentials',
        authorization: `Bearer ${token}`,
        body: JSON.stringify({ entitlement, durationSeconds: 900 }),
      },
      lambda: { ...LAMBDA, functionName: 'keyvend-bench-credentials' },
      token,
      warmupCalls: WARMUP_CALLS,
      measuredCalls: MEASURED_CALLS,
      region: stack.brokerEnv['AWS_REGION'] ?? 'us-east-1',
      jwt,
      dynamoDbEndpoint: stack.dynamo.endpoint,
      entitlementsTable: stack.brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'] ?? '',
      auditTable: stack.brokerEnv['KEYVEND_AUDIT_TABLE'] ?? '',
      stsEndpoint: stack.sts.url,
      vending,
      kmsEndpoint: stack.kms.url,
      signingKeyId: stack.brokerEnv['KEYVEND_SIGNING_KEY_ID'] ?? '',
      tokenIssuer: stack.brokerEnv['KEYVEND_TOKEN_ISSUER'] ?? '',
      tokenAudience: 'sts.amazonaws.com',
    });
    log(`warm: ${WARMUP_CALLS} warm-up and ${MEASURED_CALLS} measured calls per path, interleaved with the unavoidable calls`);
    const { result: warm } = await runChild<WarmResult>(
      warmChild,
      warmPlan('keyvend-issuer', ENTITLEMENT),
      dir,
      envFor('credentials'),
      WARM_NODE_ARGS,
    );
    const { result: warmAssumeRole } = await runChild<WarmResult>(
      warmChild,
      warmPlan('assume-role', ASSUME_ROLE_ENTITLEMENT),
      dir,
      envFor('credentials'),
      WARM_NODE_ARGS,
    );
    writeResults({ bundles, cold, warm, warmAssumeRole, dynamoEngine: stack.dynamo.engine });
    log('wrote bench/results.md');
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeResults(r: {
  bundles: Bundle[];
  cold: Record<string, { wall: Summary; boot: Summary; import: Summary; firstRequest: Summary }>;
  warm: WarmResult;
  warmAssumeRole: WarmResult;
  dynamoEngine: string;
}): void {
  const s = r.warm.samples;
  const handler = summarize(s.handler);
  const ops = {
    jwtVerify: summarize(s.jwtVerify),
    batchGetItem: summarize(s.batchGetItem),
    kmsSign: summarize(s.kmsSign),
    stsCall: summarize(s.stsCall),
    putItem: summarize(s.putItem),
  };
  const unavoidableOf = (x: WarmResult['samples']) =>
    x.handler.map(
      (_, i) => (x.jwtVerify[i] ?? 0) + (x.batchGetItem[i] ?? 0) + (x.kmsSign[i] ?? 0) + (x.stsCall[i] ?? 0) + (x.putItem[i] ?? 0),
    );
  const unavoidable = summarize(unavoidableOf(s));
  const a = r.warmAssumeRole.samples;
  const handlerAssumeRole = summarize(a.handler);
  const unavoidableAssumeRole = summarize(unavoidableOf(a));
  const medianRatio = handler.median / unavoidable.median;
  const p99Ratio = handler.p99 / unavoidable.p99;
  const cpu = cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const row = (name: string, x: Summary) => `| ${name} | ${fmt(x.median)} | ${fmt(x.p99)} | ${fmt(x.min)} | ${fmt(x.max)} |`;
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString()} at commit ${commit}.`,
    '',
    `Machine: Node ${process.version} on ${process.platform}/${process.arch}, ${cpu.length} CPU(s) (${cpu[0]?.model.trim() ?? 'unknown'}), ` +
      `DynamoDB: ${r.dynamoEngine}. The machine is shared, so absolute figures move between runs; the ratio is measured in one run, interleaved.`,
    '',
    '## Bundle size',
    '',
    'Each function bundled as serverless-esbuild does for `serverless package` (the `custom.esbuild` block of serverless.yml: bundle, minify, ESM, node22, everything bundled including the AWS SDK, ' +
      "with the esbuild plugins of build/esbuild-plugins.cjs). Each function's zip holds this one file and nothing else (test/e2e/package.test.ts checks it), so this is the whole package.",
    '',
    '| function | bytes | KiB | aim ≤ 600 KiB |',
    '|---|---:|---:|---|',
    ...r.bundles.map((b) => `| ${b.name} | ${b.bytes} | ${kib(b.bytes)} | ${b.bytes <= BUNDLE_LIMIT_BYTES ? 'yes' : '**no**'} |`),
    '',
    'The largest parts of each bundle, in KiB (esbuild metafile; a package counts what it brought in under its own node_modules; docs/bundle-size.md explains the choices):',
    '',
    ...r.bundles.map(
      (b) =>
        `- **${b.name}**: ${b.composition
          .slice(0, COMPOSITION_PARTS)
          .map((c) => `${c.part} ${kib(c.bytes)}`)
          .join(', ')}`,
    ),
    '',
    '## Cold start',
    '',
    `${COLD_STARTS} fresh \`node\` processes per function, each importing the bundled handler and serving its first request against the local stack (` +
      'which includes OIDC discovery and the JWKS fetch from the dev IdP, and the first DynamoDB and STS connections). Medians, in ms:',
    '',
    '| function | spawn → response | node bootstrap | import (init) | first request |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(r.cold).map(
      ([name, c]) =>
        `| ${name} | ${fmt(c.wall.median)} | ${fmt(c.boot.median)} | ${fmt(c.import.median)} | ${fmt(c.firstRequest.median)} |`,
    ),
    '',
    ...(r.bundles.some((b) => r.cold[b.name] === undefined)
      ? [
          `Not measured: ${r.bundles
            .filter((b) => r.cold[b.name] === undefined)
            .map((b) => b.name)
            .join(', ')}. ` +
            "portalSaml's first request needs a signed response from a SAML IdP for the portal's ACS, which the bench's stack does not run; " +
            "its size is above, and its code path is the credentials function's SAML path plus the portal session. auditExport has no HTTP request: " +
            'it runs once per stream batch (up to 100 decisions), off the request path.',
          '',
        ]
      : []),
    `## Warm: POST /v1/credentials on the keyvend-issuer path (${ENTITLEMENT})`,
    '',
    `One process, ${WARMUP_CALLS} warm-up calls, then ${MEASURED_CALLS} iterations. Each iteration calls the bundled handler with an API Gateway HTTP API event, then makes the five calls no implementation of this path can avoid, ` +
      'with the parameters the broker itself used (read back from its audit record and the STS emulator): one JWT verification with cached keys (jose), the entitlement read (one consistent BatchGetItem), ' +
      `one KMS Sign of a token of the broker's shape (SHA-256 digest, RS256, through the local KMS), AssumeRoleWithWebIdentity with such a token and the same session policy (${r.warm.policyChars} characters; ${r.warm.tagCount} tags in the token's claims), ` +
      `and one audit PutItem of the broker's own granted record (${r.warm.auditItemBytes} bytes). In ms:`,
    '',
    '| call | median | p99 | min | max |',
    '|---|---:|---:|---:|---:|',
    row('**handler** (whole request)', handler),
    row('JWT verification', ops.jwtVerify),
    row('entitlement read (BatchGetItem)', ops.batchGetItem),
    row("**KMS Sign** (the broker's token)", ops.kmsSign),
    row('STS AssumeRoleWithWebIdentity', ops.stsCall),
    row('audit write (PutItem)', ops.putItem),
    row('**sum of the five**, per iteration', unavoidable),
    '',
    `**Ratio handler / unavoidable: ${medianRatio.toFixed(2)} at the median, ${p99Ratio.toFixed(2)} at p99** (aim ≤ ${RATIO_AIM}: ${medianRatio <= RATIO_AIM ? 'met' : '**not met**'} at the median).`,
    '',
    `The local KMS signs in-process (node:crypto); AWS KMS's Sign is a network call with its own latency and a per-account request quota for asymmetric keys, so in AWS this row is larger and is paid on every grant (docs/vending-paths.md).`,
    '',
    `### The one-hour assume-role path (${ASSUME_ROLE_ENTITLEMENT}), a second process after the first`,
    '',
    '| call | median | p99 | min | max |',
    '|---|---:|---:|---:|---:|',
    row('**handler** (whole request)', handlerAssumeRole),
    row('STS AssumeRole', summarize(a.stsCall)),
    row('**sum of its four unavoidable calls**', unavoidableAssumeRole),
    '',
    `Ratio handler / unavoidable on this path: ${(handlerAssumeRole.median / unavoidableAssumeRole.median).toFixed(2)} at the median, ${(handlerAssumeRole.p99 / unavoidableAssumeRole.p99).toFixed(2)} at p99. ` +
      `keyvend-issuer handler / assume-role handler: ${(handler.median / handlerAssumeRole.median).toFixed(2)} at the median (two processes one after the other, so this ratio is less robust than the ones above).`,
    '',
    'The handler writes one audit item per decision, after STS and before the credentials are returned (ADR 0011); before STS it logs the attempt. ' +
      'So its critical path is the sum above plus its own work; the pending record of ADR 0002, written beside the entitlement read, is gone.',
    '',
    ...costSection(r.warm, handler),
    `Tuning: BENCH_COLD_STARTS (${COLD_STARTS}), BENCH_WARMUP_CALLS (${WARMUP_CALLS}), BENCH_MEASURED_CALLS (${MEASURED_CALLS}).`,
    '',
  ];
  writeFileSync(join(ROOT, 'bench/results.md'), lines.join('\n'));
}

/**
 * List prices used for the cost per grant: us-east-1, on-demand, no free tier, from each service's pricing page
 * (aws.amazon.com/<service>/pricing), written down 2026-11-29 as known then (this machine cannot fetch the pages).
 * Check them before relying on the totals.
 */
const PRICES = {
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  httpApiRequest: 1.0 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** KMS: requests involving RSA 2048 keys are priced as symmetric ones; other asymmetric requests (ECC, larger RSA) five times that. */
  kmsRsa2048Request: 0.03 / 1e4,
  kmsOtherAsymmetricRequest: 0.15 / 1e4,
  logsIngestedGb: 0.5,
  s3Put: 0.005 / 1e3,
} as const;
/** What an exported batch holds at most (serverless.yml's batchSize): the export's PUT, invocation and head moves are shared by it. */
const EXPORT_BATCH = 100;
/** The handler's duration in AWS is longer than here (KMS, STS and DynamoDB over the network): the cost is also given for this. */
const AWS_DURATION_MS = 120;

function costSection(warm: WarmResult, handler: Summary): string[] {
  const c = warm.capacity;
  const indexUnits = Object.values(c.writeIndexUnits).reduce((a, b) => a + b, 0);
  const memoryGb = LAMBDA.memoryMb / 1024;
  const lambdaAt = (ms: number) => memoryGb * (Math.ceil(ms) / 1000) * PRICES.lambdaArmGbSecond + PRICES.lambdaRequest;
  const perGrant: [string, number, string][] = [
    ['API Gateway HTTP API request', PRICES.httpApiRequest, '1 request'],
    [
      'Lambda (credentials), local median duration',
      lambdaAt(handler.median),
      `${fmt(handler.median)} ms at ${LAMBDA.memoryMb} MB, arm64, + 1 request`,
    ],
    ['KMS Sign (RSA_2048 key)', PRICES.kmsRsa2048Request, '1 request'],
    ['STS AssumeRoleWithWebIdentity', 0, 'STS has no charge'],
    ['DynamoDB entitlement read', c.readUnits * PRICES.dynamoReadUnit, `${c.readUnits} RRU (consistent BatchGetItem)`],
    [
      'DynamoDB audit write',
      c.writeUnits * PRICES.dynamoWriteUnit,
      `${c.writeUnits} WRU: ${c.writeTableUnits} table + ${indexUnits} in ${Object.keys(c.writeIndexUnits).length} index(es) (${warm.auditItemBytes}-byte item)`,
    ],
    [
      'CloudWatch Logs ingestion',
      (warm.logBytesPerCall / 1024 ** 3) * PRICES.logsIngestedGb,
      `${Math.round(warm.logBytesPerCall)} bytes of log lines`,
    ],
    [
      `audit export (per grant, batches of ${EXPORT_BATCH})`,
      (PRICES.s3Put + lambdaAt(50) + 2 * PRICES.dynamoWriteUnit + PRICES.dynamoReadUnit) / EXPORT_BATCH,
      '1 S3 PUT, 1 invocation of ~50 ms, the head read and moved, per batch; stream reads by Lambda are free',
    ],
  ];
  const total = perGrant.reduce((sum, [, dollars]) => sum + dollars, 0);
  const million = (d: number) => `$${(d * 1e6).toFixed(2)}`;
  const awsLambda = lambdaAt(AWS_DURATION_MS) - lambdaAt(handler.median);
  const levers: [string, number][] = [
    ['a Function URL front door instead of the HTTP API (drops API Gateway)', -PRICES.httpApiRequest],
    [
      'keys-only query indexes (an index write costs 1 WRU instead of the item size)',
      -(indexUnits - Object.keys(c.writeIndexUnits).length) * PRICES.dynamoWriteUnit,
    ],
    ['the credential cache at 90% hits (KMS Sign and STS once per ten requests)', -0.9 * PRICES.kmsRsa2048Request],
    ['an ECC_NIST_P256 signing key instead of RSA_2048 (ES256)', PRICES.kmsOtherAsymmetricRequest - PRICES.kmsRsa2048Request],
    [`the Lambda duration in AWS (${AWS_DURATION_MS} ms instead of ${fmt(handler.median)} ms here)`, awsLambda],
  ];
  return [
    '## Cost per grant (issue 13 item 6)',
    '',
    "Per `POST /v1/credentials` grant on the keyvend-issuer path, from what this run measured: the capacity DynamoDB Local reports for the request's read and its one audit write " +
      "(`ReturnConsumedCapacity: INDEXES`, the broker's own item), the bytes the handler logged per call, and its median duration. Prices: us-east-1 list prices, on demand, no free tier, " +
      'as the pricing pages of Lambda, API Gateway, DynamoDB, KMS, CloudWatch and S3 give them (constants `PRICES` in bench/run.ts, written down 2026-11-29 from those pages as known then; ' +
      'this machine cannot fetch them, so check them before relying on the totals).',
    '',
    '| part | per million grants | what |',
    '|---|---:|---|',
    ...perGrant.map(([part, dollars, what]) => `| ${part} | ${million(dollars)} | ${what} |`),
    `| **total** | **${million(total)}** | aim ≤ $2.00: ${total * 1e6 <= 2 ? 'met' : '**not met**'} |`,
    '',
    'What would move it (per million grants; negative is a saving):',
    '',
    '| change | per million grants |',
    '|---|---:|',
    ...levers.map(([change, dollars]) => `| ${change} | ${dollars < 0 ? '-' : '+'}${million(Math.abs(dollars))} |`),
    '',
    'The capacity is what DynamoDB Local reports for the table as created from serverless.yml, so it follows the indexes declared there (an index write is charged by the item size it projects). ' +
      'KMS Sign dominates on this path; the credential cache (issue 14) pays it once per distinct session instead of once per request. STS itself is free, but its per-account request quota is the other reason for the cache.',
    '',
  ];
}

await main();
