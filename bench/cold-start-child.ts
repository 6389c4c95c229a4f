import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { httpApiEvent, lambdaContext } from './lambda-event.ts';
import { type ColdStartPlan, type ColdStartResult, RESULT_MARKER } from './protocol.ts';

/**
 * One cold start, as Lambda's runtime does it: a fresh Node process imports the bundled handler (its
 * init phase: configuration, SDK clients) and serves one request, which also fills the JWKS cache.
 */
const bootMs = performance.now();
const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ColdStartPlan;
type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;

const importStart = performance.now();
const { handler } = (await import(pathToFileURL(plan.handlerPath).href)) as { handler: Handler };
const importMs = performance.now() - importStart;

const event = httpApiEvent(plan.request);
const context = lambdaContext(plan.lambda);
const requestStart = performance.now();
const response = await handler(event, context);
const firstRequestMs = performance.now() - requestStart;

const result: ColdStartResult = {
  bootMs,
  importMs,
  firstRequestMs,
  statusCode: response.statusCode,
  ...(response.statusCode === 200 ? {} : { errorBody: response.body.slice(0, 500) }),
  ...grantIdOf(response.body),
};
function grantIdOf(body: string): { grantId?: string } {
  try {
    const grantId = (JSON.parse(body) as { grantId?: unknown }).grantId;
    return typeof grantId === 'string' ? { grantId } : {};
  } catch {
    return {};
  }
}

process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
process.exit(0);
