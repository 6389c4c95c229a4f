/** What the HTTP layer knows about the request, for the audit record. Never headers wholesale. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
}
