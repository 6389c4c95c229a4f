import { join } from 'node:path';
import { ROOT, startBroker } from '../../infra/local/stack.ts';
import { stack } from './e2e.ts';

export interface SecondBroker {
  readonly apiUrl: string;
  readonly logFile: string;
  close(): Promise<void>;
}

/**
 * A second broker process against the shared local stack, with some of its environment changed (a
 * DynamoDB endpoint that is down, an audit table that does not exist...), for fail-closed tests.
 */
export async function startSecondBroker(name: string, overrides: Readonly<Record<string, string>>): Promise<SecondBroker> {
  const closers: Array<() => Promise<void>> = [];
  const logFile = join(ROOT, `test-output/e2e-broker-${name}.log`);
  const apiUrl = await startBroker({ ...stack().brokerEnv, ...overrides }, { logFile, closers });
  return {
    apiUrl,
    logFile,
    close: async () => {
      for (const close of closers.reverse()) await close();
    },
  };
}
