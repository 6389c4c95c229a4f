import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { httpApiEvent, lambdaContext } from './lambda-event.ts';
import { type HandlerRequest, RESULT_MARKER, type RepeatPlan, type RepeatResult } from './protocol.ts';

/**
 * One warm container asked the plan's requests over and over, in turns: with one request and the credential cache on,
 * a mobile app refreshing its upload credentials (the orchestrator counts STS calls); with several, a side-by-side
 * comparison (callers with 1, 50 and 100 groups) in the same process, and with `other`, each request asked of two
 * copies of the function in turns (a small and a large entitlements table). Only the handler's promise is timed.
 */
const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as RepeatPlan;
type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
const importHandler = async (path: string) => ((await import(pathToFileURL(path).href)) as { handler: Handler }).handler;

/** One copy of the function and what its measured calls gave. */
interface Target {
  readonly handler: Handler;
  readonly samples: number[][];
  readonly statusCodes: Record<string, number>;
  readonly accessKeyIds: Set<string>;
  readonly grantIds: string[];
}
const targetOf = (handler: Handler): Target => ({
  handler,
  samples: plan.requests.map(() => []),
  statusCodes: {},
  accessKeyIds: new Set(),
  grantIds: [],
});
const first = targetOf(await importHandler(plan.handlerPath));
// The other copy reads its configuration when it is imported (once per container), so its settings are set first.
if (plan.other !== undefined) Object.assign(process.env, plan.other.env);
const other = plan.other === undefined ? undefined : targetOf(await importHandler(plan.other.handlerPath));

async function call(target: Target, index: number, request: HandlerRequest, measured: boolean): Promise<void> {
  const event = httpApiEvent(request);
  const context = lambdaContext(plan.lambda);
  const start = process.hrtime.bigint();
  const response = await target.handler(event, context);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!measured) return;
  target.samples[index]?.push(ms);
  target.statusCodes[response.statusCode] = (target.statusCodes[response.statusCode] ?? 0) + 1;
  if (response.statusCode === 200) {
    const body = JSON.parse(response.body) as { AccessKeyId: string; grantId: string };
    target.accessKeyIds.add(body.AccessKeyId);
    target.grantIds.push(body.grantId);
  }
}

for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
  const measured = round >= plan.warmupRounds;
  // With two copies, each round alternates which goes first.
  const order = other === undefined ? [first] : round % 2 === 0 ? [first, other] : [other, first];
  for (const [i, request] of plan.requests.entries()) {
    for (const target of order) await call(target, i, request, measured);
  }
}
const resultOf = (target: Target): RepeatResult => ({
  samples: target.samples,
  statusCodes: target.statusCodes,
  distinctAccessKeyIds: target.accessKeyIds.size,
  grantIds: target.grantIds,
});
const result: RepeatResult = { ...resultOf(first), ...(other === undefined ? {} : { other: resultOf(other) }) };
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
process.exit(0);
