/**
 * The one "https, or plain http to loopback" rule. Bearer tokens, refresh tokens, client secrets and
 * sign-in URLs travel to the URLs it admits, so plain http is only ever the machine itself: nothing on
 * the network can read or alter a connection that never leaves it. Callers decide whether loopback http
 * is allowed at all (the broker only in local mode; the CLI always, since it runs on the user's machine).
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/u.test(hostname);
}

export function isSecureTransport(url: URL, options: { readonly allowLoopbackHttp: boolean }): boolean {
  if (url.protocol === 'https:') return true;
  return options.allowLoopbackHttp && url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
