/**
 * A person at a browser, played with fetch and a cookie jar: opens a URL of the dev IdP (an authorization
 * request or a device verification page), submits the device-code and confirmation forms as they come, signs
 * in with the demo user's password, and follows the redirect back to the CLI's loopback server, if any.
 */
export async function signInAsBrowser(
  startUrl: string,
  username: string,
  password: string,
): Promise<{ status: number; html: string; url: string }> {
  const cookies = new Map<string, string>();
  const origin = new URL(startUrl).origin;
  let url = startUrl;
  let form: URLSearchParams | undefined;
  let loginSubmitted = false;
  for (let hop = 0; hop < 30; hop += 1) {
    const sameOrigin = new URL(url).origin === origin;
    const headers: Record<string, string> = { accept: 'text/html' };
    if (sameOrigin && cookies.size > 0) headers['cookie'] = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: form } : {}) });
    if (sameOrigin) {
      for (const cookie of response.headers.getSetCookie()) {
        const pair = cookie.split(';')[0] ?? '';
        const separator = pair.indexOf('=');
        if (separator > 0) cookies.set(pair.slice(0, separator), pair.slice(separator + 1));
      }
    }
    form = undefined;
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    const html = await response.text();
    if (!sameOrigin) return { status: response.status, html, url };
    const action = /<form\b[^>]*\baction="([^"]*)"/u.exec(html)?.[1];
    if (action !== undefined && /name="prompt" value="login"/u.test(html)) {
      if (loginSubmitted) throw new Error(`the dev IdP refused the sign-in of ${username}`);
      loginSubmitted = true;
      form = new URLSearchParams({ prompt: 'login', login: username, password });
    } else if (action !== undefined) {
      // The device pages: the auto-submitted code form, then the confirmation (Continue, not Abort).
      form = new URLSearchParams();
      for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/gu))
        form.set(match[1] ?? '', match[2] ?? '');
    } else {
      return { status: response.status, html, url };
    }
    url = new URL(action.replace(/&amp;/gu, '&'), url).href;
  }
  throw new Error(`no end to the sign-in after 30 steps, at ${url}`);
}
