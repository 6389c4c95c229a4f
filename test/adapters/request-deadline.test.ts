import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  concurrentDeadlineStore,
  deadlineSignal,
  sequentialDeadlineStore,
  withinDeadline,
} from '../../src/adapters/deadline/request-deadline.ts';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';

/** A DynamoDB endpoint that accepts connections and never answers. */
let server: Server;
const sockets = new Set<Socket>();
let endpoint: string;

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const record = (): AuditRecord => ({
  eventId: `01TEST${Date.now()}`,
  time: new Date().toISOString(),
  action: 'credentials',
  outcome: 'denied',
  request: { requestId: 'deadline-test' },
});

describe('the request deadline', () => {
  it('gives no signal outside a request (tools and adapter tests run unbounded)', () => {
    // Act + Assess
    expect(deadlineSignal()).toBeUndefined();
  });

  it('cuts an SDK call to a silent DynamoDB at the work deadline, whatever the SDK timeouts say', async () => {
    // Prepare: timeouts far longer than the budget
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint,
      maxAttempts: 3,
      requestHandler: { requestTimeout: 30_000 },
      credentials: { accessKeyId: 'AKIA', secretAccessKey: 'x' },
    });
    const audit = new DynamoDbAuditLog(DynamoDBDocumentClient.from(client), 'audit', 1);
    const write = withinDeadline({ workMs: 300, recordMs: 600 }, (r: AuditRecord) => audit.record(r));

    // Act
    const started = Date.now();
    const failure = await write(record()).catch((error: unknown) => error);
    const elapsed = Date.now() - started;

    // Assess
    expect((failure as Error).name).toBe('AbortError');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
  });

  it('gives a call started after the work deadline until the record deadline, then refuses at once', async () => {
    // Prepare
    const run = withinDeadline({ workMs: 100, recordMs: 400 }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const recordSignal = deadlineSignal();
      const late = await new Promise<number>((resolve) => {
        const at = Date.now();
        recordSignal?.addEventListener('abort', () => resolve(Date.now() - at));
      });
      return { late, afterwards: deadlineSignal() };
    });

    // Act
    const { late, afterwards } = await run();

    // Assess
    expect(late).toBeGreaterThanOrEqual(150);
    expect(late).toBeLessThan(400);
    expect(afterwards?.aborted).toBe(true);
    expect((afterwards?.reason as Error | undefined)?.name).toBe('DeadlineExceededError');
  });

  it('keeps the outer deadline when a bounded use case calls another', async () => {
    // Prepare
    const inner = withinDeadline({ workMs: 10_000, recordMs: 20_000 }, async () => deadlineSignal());
    const outer = withinDeadline({ workMs: 50, recordMs: 100 }, async () => inner());

    // Act
    const signal = await outer();
    await new Promise((resolve) => setTimeout(resolve, 80));

    // Assess
    expect(signal?.aborted).toBe(true);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['one request at a time (AsyncLocalStorage off)', sequentialDeadlineStore],
  ['several requests at once (AWS_LAMBDA_MAX_CONCURRENCY: AsyncLocalStorage)', concurrentDeadlineStore],
])('the deadline store for %s', (_name, makeStore) => {
  it('keeps the outer deadline when a bounded use case calls another, and never extends it', async () => {
    // Prepare
    const store = makeStore();
    const inner = withinDeadline({ workMs: 10_000, recordMs: 20_000 }, async () => deadlineSignal(Date.now, store), Date.now, store);
    const outer = withinDeadline({ workMs: 50, recordMs: 100 }, async () => inner(), Date.now, store);

    // Act
    const signal = await outer();
    await sleep(80);

    // Assess
    expect(signal?.aborted).toBe(true);
    expect(deadlineSignal(Date.now, store)).toBeUndefined();
  });

  it('gives the outer use case its deadline back when the one it called returns', async () => {
    // Prepare
    const store = makeStore();
    const inner = withinDeadline({ workMs: 10_000, recordMs: 20_000 }, async () => undefined, Date.now, store);
    const outer = withinDeadline(
      { workMs: 50, recordMs: 100 },
      async () => {
        await inner();
        return deadlineSignal(Date.now, store);
      },
      Date.now,
      store,
    );

    // Act
    const signal = await outer();
    await sleep(80);

    // Assess
    expect(signal?.aborted).toBe(true);
  });

  it("returns a synchronous method's value as it is, as boundedEach bounds the portal's isAdmin", () => {
    // Prepare
    const store = makeStore();
    const isAdmin = withinDeadline({ workMs: 50, recordMs: 100 }, (() => true) as unknown as () => Promise<boolean>, Date.now, store);

    // Act
    const answer: unknown = isAdmin();

    // Assess: a value, not a promise, and no deadline left behind
    expect(answer).toBe(true);
    expect(deadlineSignal(Date.now, store)).toBeUndefined();
  });

  it('leaves a request its own deadline when an unawaited bounded call started before it (the key warm-up at init) ends', async () => {
    // Prepare: the warm-up's budget is longer than the request's; it ends while the request still runs
    const store = makeStore();
    let endWarmUp = () => {};
    const warmUp = withinDeadline(
      { workMs: 10_000, recordMs: 20_000 },
      () => new Promise<void>((resolve) => (endWarmUp = resolve)),
      Date.now,
      store,
    );
    const request = withinDeadline(
      { workMs: 60, recordMs: 120 },
      async () => {
        endWarmUp();
        await sleep(10);
        return deadlineSignal(Date.now, store);
      },
      Date.now,
      store,
    );

    // Act
    const warming = warmUp();
    const signal = await request();
    await warming;
    await sleep(140);

    // Assess: the request's calls were still bounded, by its own budget
    expect(signal).toBeDefined();
    expect(signal?.aborted).toBe(true);
  });
});
