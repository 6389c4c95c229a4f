/** What the HTTP layer knows about the request, for the audit record. Never headers wholesale. */
export interface RequestContext {
  /** The Lambda request id: unique per invocation, returned to the caller in errors. */
  readonly requestId: string;
  /** API Gateway's request id, for its access logs. */
  readonly apiRequestId?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
}
