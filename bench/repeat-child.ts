import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { httpApiEvent, lambdaContext } from './lambda-event.ts';
import { RESULT_MARKER, type RepeatPlan, type RepeatResult } from './protocol.ts';

/**
 * One warm container asked the plan's requests over and over, in turns: with one request and the credential cache on,
 * a mobile app refreshing its upload credentials (the orchestrator counts STS calls); with two, a side-by-side
 * comparison (a caller with 1 group and one with 50) in the same process.
 */
const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as RepeatPlan;
type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
const { handler } = (await import(pathToFileURL(plan.handlerPath).href)) as { handler: Handler };

const samples = plan.requests.map(() => [] as number[]);
const statusCodes: Record<string, number> = {};
const accessKeyIds = new Set<string>();
const grantIds: string[] = [];
for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
  for (const [i, request] of plan.requests.entries()) {
    const start = process.hrtime.bigint();
    const response = await handler(httpApiEvent(request), lambdaContext(plan.lambda));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (round < plan.warmupRounds) continue;
    samples[i]?.push(ms);
    statusCodes[response.statusCode] = (statusCodes[response.statusCode] ?? 0) + 1;
    if (response.statusCode === 200) {
      const body = JSON.parse(response.body) as { AccessKeyId: string; grantId: string };
      accessKeyIds.add(body.AccessKeyId);
      grantIds.push(body.grantId);
    }
  }
}
const result: RepeatResult = { samples, statusCodes, distinctAccessKeyIds: accessKeyIds.size, grantIds };
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
process.exit(0);
