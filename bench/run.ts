import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, startBroker, startLocalStack } from '../infra/local/stack.ts';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { grantLookupKeys } from '../src/adapters/dynamodb/keys.ts';
import { emulatorSession, grantTokenClaims } from './grant-session.ts';
import { startTestIssuer } from '../test/support/test-issuer.ts';
import { type Bundle, bundleChild, bundleEntry, bundleFunction, functionNames } from './bundle.ts';
import {
  copyOfEntitlementsTable,
  countDefinitions,
  entitlementsTableOf,
  grantToBenchGroup,
  type LoadRun,
  loadRun,
  scaleRequest,
  seedFillers,
} from './scale.ts';
import {
  type ColdStartPlan,
  type ColdStartResult,
  type FloorPlan,
  type FunctionName,
  type RepeatPlan,
  type RepeatResult,
  type HandlerRequest,
  type JwtSettings,
  type LambdaSettings,
  RESULT_MARKER,
  WARM_OPERATIONS,
  type WarmOperation,
  type WarmPlan,
  type WarmResult,
} from './protocol.ts';
import { type Summary, summarize } from './stats.ts';

/**
 * `npm run bench`: bundle sizes, cold starts and warm latency of the handlers against the local stack,
 * written to bench/results.md. Not a test: nothing here passes or fails, it reports.
 */
/** 40 rounds: the medians of single cold starts on a shared machine move by ±0.05 of the ratio with 15, ±0.03 with 25. */
const COLD_STARTS = Number(process.env['BENCH_COLD_STARTS'] ?? 40);
/** Issue 14's goal for a function's cold start over the floor's. */
const COLD_RATIO_GOAL = 1.15;
/** BENCH_ONLY=cold: bundle, run the interleaved cold starts, print their ratios and stop (bench/results.md untouched). */
const ONLY_COLD = process.env['BENCH_ONLY'] === 'cold';
/** BENCH_ONLY=warm: bundle, run the two warm processes, print their ratios and stop (bench/results.md untouched). */
const ONLY_WARM = process.env['BENCH_ONLY'] === 'warm';
/** BENCH_ONLY=load: start the stack, run the load run and print its reconciliation (bench/results.md untouched). */
const ONLY_LOAD = process.env['BENCH_ONLY'] === 'load';
/** Repeated requests of one caller in one warm container with the credential cache on (issue 14, item 1). */
const REPEATED_CALLS = Number(process.env['BENCH_REPEATED_CALLS'] ?? 1000);
/** Issue 14, item 5: the entitlements table's two sizes, the callers' group counts, and the load run. */
const SMALL_TABLE = 10;
const LARGE_TABLE = Number(process.env['BENCH_LARGE_TABLE'] ?? 100_000);
/** 100 is the most a token may carry (the verifier refuses more), and 102 keys take two batches. */
const GROUP_COUNTS = [1, 50, 100] as const;
const SCALE_ROUNDS = Number(process.env['BENCH_SCALE_ROUNDS'] ?? 100);
const LOAD_GRANTS = Number(process.env['BENCH_LOAD_GRANTS'] ?? 1000);
const LOAD_CONCURRENCY = 50;
/**
 * The load run's broker's function timeout. serverless-offline runs each concurrent invocation in a worker thread of
 * one process, so 50 in flight share this machine's two cores, and the deployed 10 s cut the slowest after STS had
 * answered (a session named only by its attempt line). In Lambda each invocation has its own container and CPU.
 */
const LOAD_FUNCTION_TIMEOUT_SECONDS = 30;
const SCALE_GOAL = 1.1;
/** A definition for the fillers: valid, never read (no grant to anyone who asks). */
const FILLER_DEFINITION = {
  description: 'Bench filler',
  roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
  vending: 'assume-role',
  outputs: ['credentials'],
  maxDurationSeconds: 3600,
  sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::filler/*' }] },
  managedPolicyArns: [],
  sessionTags: [],
  transitiveTagKeys: [],
};
const WARMUP_CALLS = Number(process.env['BENCH_WARMUP_CALLS'] ?? 30);
/** 1000: the p99 is then the 10th-highest sample, not the 3rd, and moves less between runs. */
const MEASURED_CALLS = Number(process.env['BENCH_MEASURED_CALLS'] ?? 1000);
const BUNDLE_LIMIT_BYTES = 600 * 1024;
const RATIO_AIM = 1.2;
const COMPOSITION_PARTS = 10;
/** BENCH_AB_HANDLER=<another build's credentials.mjs>: timed interleaved with this build's in the warm runs (BENCH_ONLY=warm prints it). */
const AB_HANDLER: Record<string, string> =
  process.env['BENCH_AB_HANDLER'] === undefined ? {} : { BENCH_AB_HANDLER: process.env['BENCH_AB_HANDLER'] };
/** e.g. BENCH_WARM_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the warm process. */
const WARM_NODE_ARGS = (process.env['BENCH_WARM_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
/** e.g. BENCH_COLD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile every cold start (with BENCH_ONLY=cold). */
const COLD_NODE_ARGS = (process.env['BENCH_COLD_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const ENTITLEMENT = 'photo-uploads';
/** The demo entitlement of the one-hour assume-role path, measured beside the default path. */
const ASSUME_ROLE_ENTITLEMENT = 'hourly-readonly';
const CONSOLE_ENTITLEMENT = 'console-readonly';
/** As serverless.yml's provider settings give them to each function. */
const LAMBDA: Omit<LambdaSettings, 'functionName'> = { memoryMb: 512, timeoutSeconds: 10 };
const PROVIDER_ENV = { POWERTOOLS_SERVICE_NAME: 'keyvend', POWERTOOLS_LOG_LEVEL: 'INFO', AWS_STS_REGIONAL_ENDPOINTS: 'regional' };

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * Each function's first request: a grant for the API functions, the caller's own grants for the audit function, the
 * sign-in page (no session yet) for the portal. None for portalSaml: its first request would need a signed response
 * from a SAML IdP for the portal's ACS, which the bench's stack does not run; none for revocations (admin routes
 * only) and auditExport (a stream batch, not a request); their sizes are reported, their cold starts are not measured.
 */
function requestFor(name: FunctionName, token: string): HandlerRequest | undefined {
  switch (name) {
    case 'portalSaml':
    case 'auditExport':
    // Admin routes only: alice's token is refused (403) before any of the calls a cold start would show.
    case 'revocations':
      return undefined;
    case 'audit':
      return { method: 'GET', path: '/v1/me/grants', authorization: `Bearer ${token}` };
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
  // A comparison prints its figures and leaves bench/results.md alone: the results file describes this build only.
  if (AB_HANDLER['BENCH_AB_HANDLER'] !== undefined && !ONLY_WARM && !ONLY_COLD)
    throw new Error('BENCH_AB_HANDLER needs BENCH_ONLY=warm or BENCH_ONLY=cold');
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-bench-'));
  const names = functionNames();
  log(`bundling ${names.join(', ')} as serverless-esbuild does`);
  const bundles: Bundle[] = [];
  for (const name of names) bundles.push(await bundleFunction(name, join(dir, 'functions')));
  const floor = await bundleEntry('floor', join(ROOT, 'bench/floor-handler.ts'), join(dir, 'functions'));
  const coldChild = join(dir, 'cold-start-child.mjs');
  const warmChild = join(dir, 'warm-child.mjs');
  const repeatChild = join(dir, 'repeat-child.mjs');
  await bundleChild('bench/cold-start-child.ts', coldChild);
  await bundleChild('bench/warm-child.ts', warmChild);
  await bundleChild('bench/repeat-child.ts', repeatChild);

  log('starting the local stack');
  const testIssuer = await startTestIssuer();
  const stack = await startLocalStack({ log, extraIssuers: [testIssuer.settings] });
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

    const credentialsBundle = bundles.find((b) => b.name === 'credentials');
    if (credentialsBundle === undefined) throw new Error('no credentials function');
    const warmPlan = (vending: WarmPlan['vending'], entitlement: string): WarmPlan => ({
      handlerPath: credentialsBundle.path,
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
    const warmRun = (vending: WarmPlan['vending'], entitlement: string) =>
      runChild<WarmResult>(
        warmChild,
        warmPlan(vending, entitlement),
        dir,
        { ...envFor('credentials'), ...AB_HANDLER },
        WARM_NODE_ARGS,
      ).then((run) => run.result);
    if (ONLY_LOAD) {
      const run = await loadRunOn(stack, dir, token);
      log(
        `load: statuses ${JSON.stringify(run.statuses)}; ${run.sessionsWithOneRecord} of ${run.newSessions} sessions have one granted record ` +
          `(${JSON.stringify(run.sessionRecordOutcomes)}; ${run.unrecordedNamedByAttempt} unrecorded named by an attempt line; ` +
          `${run.namedByAttempt} of all named by one), ${run.responsesWithTheirRecord} of ${run.ok} answers`,
      );
      return;
    }
    if (ONLY_WARM) {
      for (const [vending, entitlement] of [
        ['keyvend-issuer', ENTITLEMENT],
        ['assume-role', ASSUME_ROLE_ENTITLEMENT],
      ] as const) {
        const result = await warmRun(vending, entitlement);
        const { median, p99 } = warmRatios(result);
        const own = ownWork(result);
        log(
          `warm ${vending}: handler / unavoidable ${median.toFixed(3)} at the median, ${p99.toFixed(3)} at p99; ` +
            `outside HTTP ${fmt(own.handler)} vs ${fmt(own.unavoidable)} ms`,
        );
        for (const line of segmentTable(result, vending)) if (line.startsWith('| ') && !line.startsWith('| segment')) log(`  ${line}`);
        const outsideOf = (op: WarmOperation) => summarize(result.samples[op].map((ms, i) => ms - (result.httpSamples[op][i] ?? 0))).median;
        log(`  outside HTTP, each call: ${WARM_OPERATIONS.map((op) => `${op} ${fmt(outsideOf(op))}`).join(', ')} ms`);
        if (result.other !== undefined) {
          const { samples, httpSamples } = result.other;
          const outside = samples.map((ms, i) => ms - (httpSamples[i] ?? 0));
          log(
            `  BENCH_AB_HANDLER: this ${fmt(summarize(result.samples.handler).median)} ms, the other ${fmt(summarize(samples).median)} ms ` +
              `at the median (ratio to the unavoidable ${(summarize(samples).median / summarize(unavoidableOf(result.samples)).median).toFixed(3)}); ` +
              `outside HTTP ${fmt(own.handler)} vs ${fmt(summarize(outside).median)} ms`,
          );
        }
      }
      return;
    }
    const coldRun = async (handlerPath: string, name: string, request: HandlerRequest, env: Record<string, string>) => {
      const plan: ColdStartPlan = { handlerPath, request, lambda: { ...LAMBDA, functionName: `keyvend-bench-${name}` } };
      const run = await runChild<ColdStartResult>(coldChild, plan, dir, env, COLD_NODE_ARGS);
      if (run.result.statusCode !== 200) throw new Error(`${name} cold start answered ${run.result.statusCode}: ${run.result.errorBody}`);
      return run;
    };
    // One credentials cold start first (not counted): its grant gives the floor the very calls the broker made.
    const credentialsRequest = requestFor('credentials', token);
    if (credentialsRequest === undefined) throw new Error('no credentials request');
    const first = await coldRun(credentialsBundle.path, 'credentials', credentialsRequest, envFor('credentials'));
    const floorPlan = await floorPlanFor(stack, String(first.result.grantId), jwt);
    // The local stack configures the dev issuer's jwksUri (ADR 0017); this variant drops it, to show what discovery costs.
    const discoveryIssuers = issuers.map((i) => {
      if (i !== dev) return i;
      const { jwksUri: _configured, ...rest } = i;
      return rest;
    });
    // Each variant is one kind of cold start; every round runs each once, in a rotated order, so load falls on all alike.
    const variants: { name: string; path: string; request: HandlerRequest; env: Record<string, string> }[] = [
      {
        name: 'floor',
        path: floor.path,
        request: credentialsRequest,
        env: { ...envFor('credentials'), BENCH_FLOOR_PLAN: JSON.stringify(floorPlan) },
      },
      ...bundles.flatMap((bundle) => {
        const request = requestFor(bundle.name, token);
        return request === undefined ? [] : [{ name: bundle.name, path: bundle.path, request, env: envFor(bundle.name) }];
      }),
      {
        name: 'credentials (discovery)',
        path: credentialsBundle.path,
        request: credentialsRequest,
        env: { ...envFor('credentials'), KEYVEND_ISSUERS: JSON.stringify(discoveryIssuers) },
      },
    ];
    if (AB_HANDLER['BENCH_AB_HANDLER'] !== undefined) {
      // A comparison of two builds: the floor, this build's credentials function and the other's, nothing else.
      const [floorVariant, credentialsVariant] = [variants[0], variants.find((v) => v.name === 'credentials')];
      if (floorVariant === undefined || credentialsVariant === undefined) throw new Error('no credentials variant');
      variants.splice(0, variants.length, floorVariant, credentialsVariant, {
        ...credentialsVariant,
        name: 'credentials (BENCH_AB_HANDLER)',
        path: AB_HANDLER['BENCH_AB_HANDLER'],
        // BENCH_AB_ENV='{"NAME":"value"}': the other build's own settings, to compare a setting rather than a build.
        env: { ...credentialsVariant.env, ...(JSON.parse(process.env['BENCH_AB_ENV'] ?? '{}') as Record<string, string>) },
      });
    }
    const coldRuns = new Map<string, { wallMs: number; result: ColdStartResult }[]>(variants.map((v) => [v.name, []]));
    log(`cold: ${COLD_STARTS} rounds of ${variants.length} fresh processes, interleaved`);
    for (let round = 0; round < COLD_STARTS; round++) {
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(round + k) % variants.length]!;
        coldRuns.get(variant.name)?.push(await coldRun(variant.path, variant.name, variant.request, variant.env));
      }
    }
    const cold: Record<string, { wall: Summary; boot: Summary; import: Summary; firstRequest: Summary }> = {};
    for (const [name, runs] of coldRuns) {
      cold[name] = {
        wall: summarize(runs.map((r) => r.wallMs)),
        boot: summarize(runs.map((r) => r.result.bootMs)),
        import: summarize(runs.map((r) => r.result.importMs)),
        firstRequest: summarize(runs.map((r) => r.result.firstRequestMs)),
      };
      log(`${name}: cold start median ${fmt(cold[name]!.wall.median)} ms`);
    }
    if (ONLY_COLD) {
      const floorMedian = cold['floor']?.wall.median ?? Number.NaN;
      for (const [name, c] of Object.entries(cold)) {
        log(
          `${name}: ratio ${(c.wall.median / floorMedian).toFixed(2)} (import ${fmt(c.import.median)} ms, first request ${fmt(c.firstRequest.median)} ms)`,
        );
      }
      return;
    }

    // Before the scale and load runs: their 100,000 seeded entitlements and 1,100 grants leave DynamoDB Local's JVM
    // busy for a while, and the warm figures are about the handler against its calls, not about that.
    log(`warm: ${WARMUP_CALLS} warm-up and ${MEASURED_CALLS} measured calls per path, interleaved with the unavoidable calls`);
    const warm = await warmRun('keyvend-issuer', ENTITLEMENT);
    const warmAssumeRole = await warmRun('assume-role', ASSUME_ROLE_ENTITLEMENT);

    log(`repeat: ${REPEATED_CALLS} identical requests in one warm process with the credential cache on`);
    const stsCalls = async () => ((await (await fetch(`${stack.sts.url}/_emulator/calls`)).json()) as unknown[]).length;
    const stsBefore = await stsCalls();
    const repeatPlan: RepeatPlan = {
      handlerPath: credentialsBundle.path,
      requests: [{ ...credentialsRequest, body: JSON.stringify({ entitlement: ENTITLEMENT, durationSeconds: 3600 }) }],
      lambda: { ...LAMBDA, functionName: 'keyvend-bench-credentials' },
      warmupRounds: 0,
      rounds: REPEATED_CALLS,
    };
    const { result: repeat } = await runChild<RepeatResult>(repeatChild, repeatPlan, dir, {
      ...envFor('credentials'),
      KEYVEND_CREDENTIAL_CACHE: 'true',
    });
    const repeatStsCalls = (await stsCalls()) - stsBefore;
    const repeatAudit = await grantedRecords(stack, repeat.grantIds);

    log(
      `scale: callers with ${GROUP_COUNTS.join(', ')} groups, in turns, of a table of ${SMALL_TABLE} and one of ${LARGE_TABLE} entitlements`,
    );
    await grantToBenchGroup(stack, ENTITLEMENT);
    const smallTableName = entitlementsTableOf(stack);
    await seedFillers(
      stack,
      smallTableName,
      0,
      Math.max(0, SMALL_TABLE - (await countDefinitions(stack, smallTableName))),
      FILLER_DEFINITION,
    );
    const smallTable = await countDefinitions(stack, smallTableName);
    // The large table is the small one and more fillers: the same entitlement, grants and granted-groups list.
    const largeTableName = await copyOfEntitlementsTable(stack, `${smallTableName}-large`);
    await seedFillers(stack, largeTableName, smallTable, LARGE_TABLE, FILLER_DEFINITION);
    const largeTable = await countDefinitions(stack, largeTableName);
    log(`scale: ${largeTable} entitlements seeded in ${largeTableName}`);
    // A second copy of the bundle is a second container's worth of module state, reading the large table.
    const largeCopy = join(dir, 'functions-large');
    cpSync(join(dir, 'functions'), largeCopy, { recursive: true });
    const scalePlan: RepeatPlan = {
      handlerPath: credentialsBundle.path,
      other: {
        handlerPath: join(largeCopy, relative(join(dir, 'functions'), credentialsBundle.path)),
        env: { KEYVEND_ENTITLEMENTS_TABLE: largeTableName },
      },
      requests: await Promise.all(GROUP_COUNTS.map((groups) => scaleRequest(testIssuer, groups, ENTITLEMENT))),
      lambda: { ...LAMBDA, functionName: 'keyvend-bench-credentials' },
      warmupRounds: 5,
      rounds: SCALE_ROUNDS,
    };
    // The deployed default (the local stack turns the list off for its tests): the read asks only for granted groups.
    const scaleEnv = { ...envFor('credentials'), KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: '60' };
    const { result: small } = await runChild<RepeatResult>(repeatChild, scalePlan, dir, scaleEnv);
    const large = small.other;
    if (large === undefined) throw new Error('the scale run gave no figures for the large table');

    const load = await loadRunOn(stack, dir, token);

    writeResults({
      bundles,
      floor,
      cold,
      repeat: { result: repeat, stsCalls: repeatStsCalls, audit: repeatAudit },
      scale: { small, large, smallTable, largeTable },
      load,
      warm,
      warmAssumeRole,
      dynamoEngine: stack.dynamo.engine,
    });
    log('wrote bench/results.md');
  } finally {
    await stack.close();
    await testIssuer.close();
    // A readable build is kept for the profiles made of it: their frames name its files and lines.
    if (process.env['BENCH_READABLE'] === '1') log(`bundles kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Per iteration, the sum of the calls the path cannot avoid, measured right after the handler call. */
const unavoidableOf = (x: WarmResult['samples']) =>
  x.handler.map(
    (_, i) => (x.jwtVerify[i] ?? 0) + (x.batchGetItem[i] ?? 0) + (x.kmsSign[i] ?? 0) + (x.stsCall[i] ?? 0) + (x.putItem[i] ?? 0),
  );

/**
 * Per iteration, the time outside HTTP exchanges: the handler's own work (with its SDK work) against the unavoidable
 * calls' (their SDK work and jose's verification). Medians in ms.
 */
function ownWork(warm: WarmResult): { handler: number; unavoidable: number } {
  const { samples, httpSamples } = warm;
  const outside = (op: WarmOperation, i: number) => (samples[op][i] ?? 0) - (httpSamples[op][i] ?? 0);
  const calls = WARM_OPERATIONS.filter((op) => op !== 'handler');
  return {
    handler: summarize(samples.handler.map((_, i) => outside('handler', i))).median,
    unavoidable: summarize(samples.handler.map((_, i) => calls.reduce((sum, op) => sum + outside(op, i), 0))).median,
  };
}

/** A segment between HTTP exchanges: its name, what the handler does in it, what the unavoidable calls do. */
type Segment = readonly [string, string, string];
const BEFORE_THE_READ: Segment = [
  'before the entitlement read',
  "middy and the Lambda context, the request's parsing, the token's checks and verification, the rate limit",
  'the JWT verification',
];
const AFTER_THE_READ = "the entitlement's parsing, the revocation marks, the session decision and policy, the attempt line";
const AFTER_STS: Segment = ['between STS and the audit write', "the session's credentials, the audit record", 'the stored record'];
const AFTER_THE_AUDIT_WRITE: Segment = ['after the audit write', 'the decision and metrics lines, the response, middy', ''];
/** What runs in each segment on each path. */
const SEGMENTS: Record<WarmPlan['vending'], readonly Segment[]> = {
  'keyvend-issuer': [
    BEFORE_THE_READ,
    ['between the read and KMS Sign', `${AFTER_THE_READ}, the token's claims`, 'the token of the same shape'],
    ['between KMS Sign and STS', 'the signed token', 'the signed token'],
    AFTER_STS,
    AFTER_THE_AUDIT_WRITE,
  ],
  'assume-role': [BEFORE_THE_READ, ['between the read and STS', AFTER_THE_READ, 'the same parameters'], AFTER_STS, AFTER_THE_AUDIT_WRITE],
};

/**
 * The work between HTTP exchanges, segment by segment, the handler's beside the unavoidable calls' (each also holds
 * the SDK's work of the calls on either side of it: serialising and signing the next request, parsing the last
 * response). Medians of the iterations where both made the same calls.
 */
function segmentTable(warm: WarmResult, vending: WarmPlan['vending']): string[] {
  const labels = SEGMENTS[vending];
  const { handler, unavoidable } = warm.segments;
  if (handler.length === 0 || handler[0]?.length !== labels.length)
    return [`(No segment figures: the calls made did not match the ${vending} path.)`];
  const medianOf = (runs: readonly (readonly number[])[], i: number) => summarize(runs.map((segments) => segments[i] ?? 0)).median;
  return [
    `Where the handler's own work lies on this path: the work between HTTP exchanges, segment by segment (each also holds the SDK's work on the requests and responses on either side), medians over the ${handler.length} iterations whose calls matched, in ms:`,
    '',
    '| segment | the handler does | the unavoidable calls do | handler | unavoidable | difference |',
    '|---|---|---|---:|---:|---:|',
    ...labels.map(([segment, handlerWork, floorWork], i) => {
      const [h, u] = [medianOf(handler, i), medianOf(unavoidable, i)];
      return `| ${segment} | ${handlerWork} | ${floorWork || 'the SDK only'} | ${h.toFixed(3)} | ${u.toFixed(3)} | ${(h - u).toFixed(3)} |`;
    }),
  ];
}

/** Issue 14, item 2: the handler's median and p99 over those of its unavoidable calls. */
function warmRatios(warm: WarmResult): { median: number; p99: number } {
  const handler = summarize(warm.samples.handler);
  const unavoidable = summarize(unavoidableOf(warm.samples));
  return { median: handler.median / unavoidable.median, p99: handler.p99 / unavoidable.p99 };
}

/**
 * The load run (issue 14, item 5) against a broker of the stack started for it, with the longer function timeout
 * LOAD_FUNCTION_TIMEOUT_SECONDS explains, its output kept for the attempt lines the reconciliation reads.
 */
async function loadRunOn(stack: Stack, dir: string, token: string): Promise<LoadRun> {
  log(`load: ${LOAD_GRANTS} grants through the local HTTP stack, ${LOAD_CONCURRENCY} at a time`);
  const closers: Array<() => Promise<void>> = [];
  const logFile = join(dir, 'load-broker.log');
  try {
    const apiUrl = await startBroker(
      { ...stack.brokerEnv, KEYVEND_FUNCTION_TIMEOUT_SECONDS: String(LOAD_FUNCTION_TIMEOUT_SECONDS) },
      { logFile, closers },
    );
    return await loadRun(stack, { apiUrl, logFile }, token, ENTITLEMENT, LOAD_GRANTS, LOAD_CONCURRENCY);
  } finally {
    for (const close of closers) await close();
  }
}

type Stack = Awaited<ReturnType<typeof startLocalStack>>;

/**
 * What the floor must be told that the broker finds out itself: the JWKS URI (the broker discovers it unless
 * `jwksUri` is set), the signing key's kid (the broker asks KMS once), and the grant's keys and session (the broker
 * reads and plans them): all read back from the grant a credentials cold start just made.
 */
async function floorPlanFor(stack: Stack, grantId: string, jwt: JwtSettings): Promise<FloorPlan> {
  const env = stack.brokerEnv;
  const audit = (
    await stack.documentClient.send(
      new GetCommand({ TableName: env['KEYVEND_AUDIT_TABLE'], Key: { eventId: grantId }, ConsistentRead: true }),
    )
  ).Item;
  if (audit === undefined || audit['outcome'] !== 'granted') throw new Error(`no granted audit record for ${grantId}`);
  const caller = audit['caller'] as { issuerId: string; subject: string; groups: string[]; userKey: string };
  const entitlementId = String((audit['entitlement'] as { id: string }).id);
  const accessKeyId = String((audit['session'] as { accessKeyId: string }).accessKeyId);
  const session = await emulatorSession(stack.sts.url, accessKeyId);
  const discovery = (await (await fetch(`${jwt.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
  };
  const tokenIssuer = env['KEYVEND_TOKEN_ISSUER'] ?? '';
  const brokerKeys = (await (await fetch(`${tokenIssuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  const claims = grantTokenClaims(session, {
    issuer: tokenIssuer,
    audience: 'sts.amazonaws.com',
    grantId,
    entitlementId,
    userKey: caller.userKey,
  });
  const { jti: _jti, iat: _iat, nbf: _nbf, exp: _exp, ...tokenClaims } = claims;
  return {
    region: env['AWS_REGION'] ?? 'us-east-1',
    dynamoDbEndpoint: stack.dynamo.endpoint,
    stsEndpoint: stack.sts.url,
    kmsEndpoint: stack.kms.url,
    jwksUri: discovery.jwks_uri,
    jwt: { issuer: jwt.issuer, audiences: jwt.audiences, algorithms: jwt.algorithms },
    entitlementsTable: env['KEYVEND_ENTITLEMENTS_TABLE'] ?? '',
    batchKeys: grantLookupKeys(caller, entitlementId).all,
    auditTable: env['KEYVEND_AUDIT_TABLE'] ?? '',
    auditItem: audit,
    signingKeyId: env['KEYVEND_SIGNING_KEY_ID'] ?? '',
    kid: brokerKeys.keys[0]?.kid ?? '',
    tokenClaims,
    roleArn: session.roleArn,
    roleSessionName: session.roleSessionName,
    durationSeconds: session.durationSeconds,
    policy: session.policy,
  };
}

/** The audit records of these grants: each must be one granted record; all but the first name the first as reused. */
async function grantedRecords(stack: Stack, grantIds: readonly string[]): Promise<{ granted: number; reusing: number; minting: number }> {
  const wanted = new Set(grantIds);
  let granted = 0;
  let reusing = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.documentClient.send(
      new ScanCommand({ TableName: stack.brokerEnv['KEYVEND_AUDIT_TABLE'], ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) {
      if (!wanted.has(String(item['eventId'])) || item['outcome'] !== 'granted') continue;
      granted += 1;
      if ((item['session'] as { reusedGrantId?: string } | undefined)?.reusedGrantId !== undefined) reusing += 1;
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return { granted, reusing, minting: granted - reusing };
}

function writeResults(r: {
  bundles: Bundle[];
  floor: Bundle<'floor'>;
  cold: Record<string, { wall: Summary; boot: Summary; import: Summary; firstRequest: Summary }>;
  repeat: { result: RepeatResult; stsCalls: number; audit: { granted: number; reusing: number; minting: number } };
  scale: { small: RepeatResult; large: RepeatResult; smallTable: number; largeTable: number };
  load: LoadRun;
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
  const unavoidable = summarize(unavoidableOf(s));
  const a = r.warmAssumeRole.samples;
  const handlerAssumeRole = summarize(a.handler);
  const unavoidableAssumeRole = summarize(unavoidableOf(a));
  const { median: medianRatio, p99: p99Ratio } = warmRatios(r.warm);
  const own = ownWork(r.warm);
  const cpu = cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const row = (name: string, x: Summary) => `| ${name} | ${fmt(x.median)} | ${fmt(x.p99)} | ${fmt(x.min)} | ${fmt(x.max)} |`;
  const coldRatio = (name: string) => (r.cold[name]?.wall.median ?? Number.NaN) / (r.cold['floor']?.wall.median ?? Number.NaN);
  const scaleOf = (x: RepeatResult, i: number) => summarize(x.samples[i] ?? []);
  const groupsIndex = (groups: number) => GROUP_COUNTS.indexOf(groups as (typeof GROUP_COUNTS)[number]);
  const tableRatio = scaleOf(r.scale.large, 0).median / scaleOf(r.scale.small, 0).median;
  const groupRatio = scaleOf(r.scale.large, groupsIndex(50)).median / scaleOf(r.scale.large, 0).median;
  const loaded = r.bundles.find((b) => b.name === 'credentials')?.loadedBytes ?? Number.NaN;
  const yes = (met: boolean) => (met ? 'met' : '**not met**');
  const loadLatency = summarize(r.load.latencyMs);
  const reconciled = r.load.sessionsWithOneRecord === r.load.newSessions && r.load.responsesWithTheirRecord === r.load.ok;
  const ownRecords =
    Object.values(r.load.sessionRecordOutcomes).reduce((sum, n) => sum + n, 0) - (r.load.sessionRecordOutcomes['missing'] ?? 0);
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString()} at commit ${commit}.`,
    '',
    `Machine: Node ${process.version} on ${process.platform}/${process.arch}, ${cpu.length} CPU(s) (${cpu[0]?.model.trim() ?? 'unknown'}), ` +
      `DynamoDB: ${r.dynamoEngine}. The machine is shared, so absolute figures move between runs; the ratio is measured in one run, interleaved.`,
    '',
    '## Issue 14: each goal and its figure from this run',
    '',
    '| item | goal | measured | |',
    '|---|---|---|---|',
    `| 1. credential cache | at most one STS call per credential lifetime for ${r.repeat.result.grantIds.length} repeated requests | ${r.repeat.stsCalls} STS call(s), ${r.repeat.audit.granted} granted records | ${yes(r.repeat.stsCalls <= 1 && r.repeat.audit.granted === r.repeat.result.grantIds.length)} |`,
    `| 2. warm overhead | handler ≤ 1.05× its unavoidable calls at the median, ≤ 1.2× at p99 | ${medianRatio.toFixed(3)} at the median, ${p99Ratio.toFixed(3)} at p99 | ${yes(medianRatio <= 1.05 && p99Ratio <= 1.2)} |`,
    `| 3. cold start | credentials ≤ 1.15× the floor | ${coldRatio('credentials').toFixed(3)} (${coldRatio('credentials (discovery)').toFixed(3)} without \`jwksUri\`, by discovery) | ${yes(coldRatio('credentials') <= COLD_RATIO_GOAL)} |`,
    `| 4. load only what a request needs | a bearer-token request loads < 600 KiB | credentials loads ${kib(loaded)} KiB at start | ${yes(loaded < BUNDLE_LIMIT_BYTES)} |`,
    `| 5. scale | flat within ${SCALE_GOAL}× across table size and groups | ${r.scale.largeTable} / ${r.scale.smallTable} entitlements: ${tableRatio.toFixed(2)}; 50 / 1 groups: ${groupRatio.toFixed(2)} | ${yes(tableRatio <= SCALE_GOAL && groupRatio <= SCALE_GOAL)} |`,
    `| 5. load run | ${r.load.grants} grants at concurrency ${r.load.concurrency}, every session exactly one grant record | ${r.load.sessionsWithOneRecord} of ${r.load.newSessions} sessions have one granted record (${ownRecords} have their own record: ${JSON.stringify(r.load.sessionRecordOutcomes)}; of the others, ${r.load.unrecordedNamedByAttempt} named by an attempt line), ${r.load.responsesWithTheirRecord} of ${r.load.ok} answers | ${yes(reconciled)} |`,
    '',
    "Item 2: the pending audit record before STS is gone (one insert after STS, ADR 0011), which took the median from 1.32-1.41 to about 1.2; what remains is the handler's own work (middy, config, the decision and attempt log lines and their metrics, SDK (de)serialisation), measured below.",
    '',
    '## Bundle size',
    '',
    'Each function bundled as serverless-esbuild does for `serverless package` (the `custom.esbuild` block of serverless.yml: bundle, minify, ESM with code splitting, node22, everything bundled including the AWS SDK, ' +
      "with the esbuild plugins of build/esbuild-plugins.cjs). A function's zip holds its entry and its own chunks (test/e2e/package.test.ts checks it). " +
      '"Loaded at start" is the entry with every chunk it imports statically: what Node loads before the first request, the figure the 600 KiB aim (issue 14, item 4) is about; the rest of the package loads only when its code runs (the SAML verifier on the first SAML response).',
    '',
    '| function | entry KiB | **loaded at start** KiB | aim ≤ 600 KiB | whole package KiB |',
    '|---|---:|---:|---|---:|',
    ...[...r.bundles, r.floor].map(
      (b) =>
        `| ${b.name} | ${kib(b.bytes)} | ${kib(b.loadedBytes)} | ${b.loadedBytes <= BUNDLE_LIMIT_BYTES ? 'yes' : '**no**'} | ${kib(b.packageBytes)} |`,
    ),
    '',
    'The largest parts of each bundle, in KiB, over all its files (esbuild metafile; a package counts what it brought in under its own node_modules; docs/bundle-size.md explains the choices):',
    '',
    ...r.bundles.map(
      (b) =>
        `- **${b.name}**: ${b.composition
          .slice(0, COMPOSITION_PARTS)
          .map((c) => `${c.part} ${kib(c.bytes)}`)
          .join(', ')}`,
    ),
    '',
    '## Cold start, against a bare floor (issue 14, item 3)',
    '',
    'The floor (bench/floor-handler.ts, bundled with the same options: above) only creates the SDK clients the credentials function needs and makes the calls its keyvend-issuer path cannot avoid, ' +
      "given what the broker finds out itself (the JWKS URI, the signing key's kid, the grant's keys and session, read back from a credentials cold start made first): JWT verification with one JWKS fetch, the entitlement read, KMS Sign, AssumeRoleWithWebIdentity, the audit write. " +
      `${COLD_STARTS} rounds; each round starts every kind once in a fresh \`node\` process (import and first request), in a rotated order, so load falls on all alike. ` +
      "`credentials` runs as the local stack configures it (the dev issuer's `jwksUri` set, ADR 0017); `credentials (discovery)` is the same function without `jwksUri`, so its first request asks OIDC discovery first. " +
      "The other functions' first requests differ (their own calls); their ratio to the credentials floor is shown for scale. Medians, in ms:",
    '',
    '| cold start | spawn → response | node bootstrap | import (init) | first request | **ratio to floor** |',
    '|---|---:|---:|---:|---:|---:|',
    ...Object.entries(r.cold).map(
      ([name, c]) =>
        `| ${name} | ${fmt(c.wall.median)} | ${fmt(c.boot.median)} | ${fmt(c.import.median)} | ${fmt(c.firstRequest.median)} | ${(c.wall.median / (r.cold['floor']?.wall.median ?? Number.NaN)).toFixed(2)} |`,
    ),
    '',
    ...(['credentials', 'credentials (discovery)'] as const).map((name) => {
      const ratio = (r.cold[name]?.wall.median ?? Number.NaN) / (r.cold['floor']?.wall.median ?? Number.NaN);
      return `- **${name} / floor: ${ratio.toFixed(3)}** (goal ≤ ${COLD_RATIO_GOAL}: ${ratio <= COLD_RATIO_GOAL ? 'met' : '**not met**'})`;
    }),
    '',
    ...(r.bundles.some((b) => r.cold[b.name] === undefined)
      ? [
          `Not measured: ${r.bundles
            .filter((b) => r.cold[b.name] === undefined)
            .map((b) => b.name)
            .join(', ')}. ` +
            "portalSaml's first request needs a signed response from a SAML IdP for the portal's ACS, which the bench's stack does not run; " +
            "its size is above, and its code path is the credentials function's SAML path plus the portal session. auditExport has no HTTP request: " +
            "it runs once per stream batch (up to 100 decisions), off the request path. revocations serves admin routes only, which refuse the bench's caller before any call a cold start would show.",
          '',
        ]
      : []),
    '## Repeated requests with the credential cache (issue 14, item 1)',
    '',
    `One warm process with \`KEYVEND_CREDENTIAL_CACHE=true\` served ${r.repeat.result.grantIds.length} identical requests of one caller (${ENTITLEMENT}, 3600 s): ` +
      `statuses ${JSON.stringify(r.repeat.result.statusCodes)}, **${r.repeat.stsCalls} STS call(s)** (the emulator's count; goal: at most one per credential lifetime), ` +
      `${r.repeat.result.distinctAccessKeyIds} distinct AccessKeyId(s), and in the audit table ${r.repeat.audit.granted} granted records for the ${r.repeat.result.grantIds.length} responses: ` +
      `${r.repeat.audit.minting} minting, ${r.repeat.audit.reusing} naming the minting grant as \`reusedGrantId\`.`,
    '',
    `Latency: the minting request ${fmt(r.repeat.result.samples[0]?.[0] ?? Number.NaN)} ms; the served ones ${fmt(summarize(r.repeat.result.samples[0]?.slice(1) ?? []).median)} ms at the median, ${fmt(summarize(r.repeat.result.samples[0]?.slice(1) ?? []).p99)} ms at p99 (no KMS or STS call; still the JWT check, the entitlement read and the audit writes).`,
    '',
    '## Scale (issue 14, item 5)',
    '',
    `The credentials handler in one warm process, callers of the tests' issuer with ${GROUP_COUNTS.join(', ')} groups (the granted group last; the others grant nothing) asking for ${ENTITLEMENT} in turns, ` +
      `5 warm-up and ${SCALE_ROUNDS} measured rounds, each request asked in turn of two copies of the function in that process (two containers' worth of module state): one reading the stack's table, one reading a copy of it filled with filler entitlements (each a definition and a grant to one of 1,000 other groups), so that both table sizes are measured side by side under the same load. ` +
      "The read asks for 4 + k keys (the definition, the subject grant, the two revocation marks, and the caller's groups on its issuer's granted-groups list: here k = 1, the granted group; the list holds it and the fillers' 1,000 groups), one BatchGetItem; the list is read once per container and kept `KEYVEND_GRANTED_GROUPS_CACHE_SECONDS` (60 here, as deployed; ADR 0018), never waited for. Tokens carry at most 100 groups (the verifier refuses more). In ms:",
    '',
    `| caller | ${r.scale.smallTable} entitlements: median | p99 | ${r.scale.largeTable} entitlements: median | p99 | large / small table |`,
    '|---|---:|---:|---:|---:|---:|',
    ...GROUP_COUNTS.map((groups, i) => {
      const a = scaleOf(r.scale.small, i);
      const b = scaleOf(r.scale.large, i);
      return `| ${groups} group${groups === 1 ? '' : 's'} | ${fmt(a.median)} | ${fmt(a.p99)} | ${fmt(b.median)} | ${fmt(b.p99)} | ${(b.median / a.median).toFixed(2)} |`;
    }),
    '',
    `Ratio to the 1-group caller in the same process: ${GROUP_COUNTS.slice(1)
      .map(
        (groups) =>
          `${groups} groups ${(scaleOf(r.scale.small, groupsIndex(groups)).median / scaleOf(r.scale.small, 0).median).toFixed(2)} (small table), ${(scaleOf(r.scale.large, groupsIndex(groups)).median / scaleOf(r.scale.large, 0).median).toFixed(2)} (large)`,
      )
      .join('; ')}. Statuses: ${JSON.stringify(r.scale.small.statusCodes)}, ${JSON.stringify(r.scale.large.statusCodes)}.`,
    '',
    `### Load: ${r.load.grants} grants at concurrency ${r.load.concurrency} through the local HTTP stack`,
    '',
    `POST /v1/credentials through serverless-offline (the broker's real handler in its worker threads), alice asking for ${ENTITLEMENT}, ${r.load.concurrency} requests in flight, after ${r.load.warmup} warm-up requests at the same concurrency that start the workers, ` +
      `to a broker of the local stack started for this run with a ${LOAD_FUNCTION_TIMEOUT_SECONDS} s function timeout (\`KEYVEND_FUNCTION_TIMEOUT_SECONDS\`; deployed: 10 s): serverless-offline runs the ${r.load.concurrency} invocations in worker threads of one process on this machine's ${cpus().length} cores, where in Lambda each has its own container. ` +
      `${r.load.seconds.toFixed(1)} s, ${(r.load.grants / r.load.seconds).toFixed(1)} requests/s, latency ${fmt(loadLatency.median)} ms at the median and ${fmt(loadLatency.p99)} ms at p99, statuses ${JSON.stringify(r.load.statuses)} (\`timeout\`: serverless-offline's own Lambda timeout, answered as 200 with an error body). ` +
      `Reconciled afterwards against the STS emulator and the audit table: **${r.load.sessionsWithOneRecord} of the ${r.load.newSessions} sessions STS issued have exactly one granted record**, ` +
      `and ${r.load.responsesWithTheirRecord} of the ${r.load.ok} answers have their own (its grantId, with the answer's AccessKeyId). ` +
      `By the grant id each session carries in its \`keyvend:grant\` tag, the sessions' own records are ${JSON.stringify(r.load.sessionRecordOutcomes)}: ` +
      'a session without a granted record would be one whose invocation was cut (a timeout) after STS answered and before its record was written, which only the attempt log line written before STS names (ADR 0011): ' +
      `${r.load.unrecordedNamedByAttempt} of the ${r.load.newSessions - r.load.sessionsWithOneRecord} sessions without a granted record are named by an attempt line of the broker's log.`,
    '',
    `## Warm: POST /v1/credentials on the keyvend-issuer path (${ENTITLEMENT})`,
    '',
    `One process, ${WARMUP_CALLS} warm-up calls, then ${MEASURED_CALLS} iterations. Each iteration calls the bundled handler with an API Gateway HTTP API event, then makes the five calls no implementation of this path can avoid, ` +
      "with the parameters the broker itself used (read back from its audit record and the STS emulator): one JWT verification with cached keys (jose), the entitlement read (one consistent BatchGetItem of the broker's own keys: the definition, the caller's grant keys and the two revocation marks), " +
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
    `**Ratio handler / unavoidable: ${medianRatio.toFixed(3)} at the median, ${p99Ratio.toFixed(3)} at p99** (aim ≤ ${RATIO_AIM}: ${medianRatio <= RATIO_AIM ? 'met' : '**not met**'} at the median).`,
    '',
    `Where the difference lies: outside their HTTP exchanges (timed by node:diagnostics_channel from each request's creation to the end of its response), the handler spends ${fmt(own.handler)} ms per call at the median, ` +
      `the five calls ${fmt(own.unavoidable)} ms together (their SDK work: serialising, signing, parsing; jose's verification). The difference, about ${fmt(own.handler - own.unavoidable)} ms, is the handler's own work: ` +
      "middy and the Lambda context on the logger, the request's parsing, the claim checks jose leaves to the application, the entitlement's parsing, the session decision and policy rendering, the audit record, the attempt and decision log lines and the metrics line, the response. " +
      "On this machine the local services answer from the same two cores, so work the handler overlaps with a call's wait is not saved here (an entitlement read started while the token is verified, tried, gained nothing); every saving must be CPU the handler no longer spends.",
    '',
    ...segmentTable(r.warm, 'keyvend-issuer'),
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
    ...segmentTable(r.warmAssumeRole, 'assume-role'),
    '',
    'The handler writes one audit item per decision, after STS and before the credentials are returned (ADR 0011); before STS it logs the attempt. ' +
      'So its critical path is the sum above plus its own work; the pending record of ADR 0002, written beside the entitlement read, is gone.',
    '',
    ...costSection(r.warm, handler),
    `Tuning: BENCH_COLD_STARTS (${COLD_STARTS}), BENCH_WARMUP_CALLS (${WARMUP_CALLS}), BENCH_MEASURED_CALLS (${MEASURED_CALLS}), BENCH_REPEATED_CALLS (${REPEATED_CALLS}), ` +
      `BENCH_LARGE_TABLE (${LARGE_TABLE}), BENCH_SCALE_ROUNDS (${SCALE_ROUNDS}), BENCH_LOAD_GRANTS (${LOAD_GRANTS}).`,
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
