import { stsErrors } from '../errors.ts';
import type { ActionHandler } from './types.ts';

export const getCallerIdentity: ActionHandler = {
  name: 'GetCallerIdentity',
  auth: 'sigv4',
  handle({ caller }) {
    if (!caller) throw stsErrors.missingAuthenticationToken();
    return [
      ['Arn', caller.arn],
      ['UserId', caller.userId],
      ['Account', caller.account],
    ];
  },
};
