/**
 * Local STS emulator: a node:http server speaking STS's query protocol (SigV4-signed form POSTs / GETs, XML replies)
 * for the AWS SDK, AWS CLI and boto3 with an endpoint override. Dev/test tooling only; never bundle it into Lambdas.
 */
export { startStsEmulator, MAX_BODY_BYTES } from './server.ts';
export type {
  FaultSpec,
  IssuedSession,
  LocalManagedPolicy,
  LocalOidcProvider,
  LocalPrincipal,
  LocalSamlProvider,
  LocalRole,
  SessionTag,
  StsCallRecord,
  StsEmulator,
  StsEmulatorOptions,
} from './types.ts';
export { PACKED_BUDGET_BYTES, packedPolicySize } from './packed-size.ts';
