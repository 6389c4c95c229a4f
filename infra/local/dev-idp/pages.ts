// Self-contained HTML for the dev IdP's pages: no external fonts or scripts, so the local stack
// works without network. The login and consent forms keep devInteractions' field names
// (`prompt`, `login`, `password`) so anything scripted against those keeps working.

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:22rem;color:#222}
h1{font-weight:300;text-align:center}.note{color:#666;font-size:.85rem}.error{color:#b00020}
input{display:block;width:100%;box-sizing:border-box;height:2.5rem;margin:0 0 .6rem;padding:0 .5rem;font-size:1rem}
button{width:100%;height:2.3rem;margin:0 0 .6rem;border:0;background:#3b6fd8;color:#fff;font-weight:600;cursor:pointer}
a,button.link{background:none;color:#666;width:auto;height:auto;font-weight:400}`;

export function escapeHtml(value: string): string {
  return value.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;').replace(/"/gu, '&quot;').replace(/'/gu, '&#39;');
}

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keyvend dev IdP</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
<p class="note">Keyvend dev IdP: local development only.</p>
</body>
</html>`;
}

export function loginPage(input: { submitUrl: string; abortUrl: string; clientName: string; loginHint?: string; error?: string }): string {
  const hint = input.loginHint === undefined ? '' : ` value="${escapeHtml(input.loginHint)}"`;
  return page(
    'Sign-in',
    `<p>to continue to <strong>${escapeHtml(input.clientName)}</strong></p>
${input.error === undefined ? '' : `<p class="error">${escapeHtml(input.error)}</p>`}
<form autocomplete="off" action="${escapeHtml(input.submitUrl)}" method="post">
<input type="hidden" name="prompt" value="login">
<input required type="text" name="login" placeholder="Username (alice or bob)"${hint} autofocus>
<input required type="password" name="password" placeholder="Password">
<button type="submit">Sign-in</button>
</form>
<p><a href="${escapeHtml(input.abortUrl)}">[ Cancel ]</a></p>`,
  );
}

export function consentPage(input: { submitUrl: string; abortUrl: string; clientName: string; items: string[] }): string {
  const list =
    input.items.length === 0
      ? '<li>confirm a previously given authorization</li>'
      : input.items.map((item) => `<li>${escapeHtml(item)}</li>`).join('');
  return page(
    'Authorize',
    `<p><strong>${escapeHtml(input.clientName)}</strong> asks for:</p>
<ul>${list}</ul>
<form autocomplete="off" action="${escapeHtml(input.submitUrl)}" method="post">
<input type="hidden" name="prompt" value="consent">
<button autofocus type="submit">Continue</button>
</form>
<p><a href="${escapeHtml(input.abortUrl)}">[ Cancel ]</a></p>`,
  );
}

/** `form` strings below come from oidc-provider (hidden XSRF inputs) and are inserted verbatim. */
export function deviceCodeInputPage(form: string, message: string, isError: boolean): string {
  return page(
    'Device sign-in',
    `<p class="${isError ? 'error' : ''}">${escapeHtml(message)}</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm device',
    `<p><strong>${escapeHtml(clientName)}</strong> should be showing this code:</p>
<p><code style="font-size:1.8rem">${escapeHtml(userCode)}</code></p>
<p class="note">If you did not start this, or the code differs, abort.</p>
${form}
<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button class="link" type="submit" form="op.deviceConfirmForm" value="yes" name="abort">[ Abort ]</button>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}

export function logoutPage(form: string, host: string): string {
  return page(
    'Sign-out',
    `<p>Sign out from ${escapeHtml(host)}?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button class="link" type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}
