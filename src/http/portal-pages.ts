import { createHash } from 'node:crypto';
import type { ConsoleEntitlementView } from '../app/portal.ts';

/**
 * The portal's pages: server-rendered HTML, one inline stylesheet allowed by its hash in the CSP, no
 * script, no third-party font or image. Every interpolated value goes through `escapeHtml`.
 */
export const PORTAL_CSS = `:root{color-scheme:light;--ink:#16191f;--muted:#5f6b7a;--line:#d5dbe3;--accent:#0b5cad;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#232f3e;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
header p{margin:0}.brand{font-weight:700;font-size:1.1rem}.who{color:#c8d1dc;font-size:.85rem;overflow-wrap:anywhere}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:0 0 .25rem}
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:0 0 1rem}
ul.roles{list-style:none;padding:0;margin:0}
.meta{color:var(--muted);font-size:.9rem;margin:.25rem 0;overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem;background:var(--bg);padding:.1rem .3rem;border-radius:.25rem;word-break:break-all}
.button,button{display:inline-block;font:inherit;font-weight:600;border:0;border-radius:.4rem;padding:.6rem 1rem;background:var(--accent);color:#fff;text-decoration:none;cursor:pointer;min-height:2.75rem}
button.secondary{background:#fff;color:var(--ink);border:1px solid var(--line)}
.button:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #f90;outline-offset:2px}
form.inline{display:inline;margin:0}.error{border-color:#b3261e}.error h1{color:#b3261e}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{text-align:left;border-bottom:1px solid var(--line);padding:.3rem;vertical-align:top;overflow-wrap:anywhere}
input{font:inherit;width:100%;padding:.4rem;border:1px solid var(--line);border-radius:.3rem}pre{overflow-x:auto;background:var(--bg);padding:.5rem;border-radius:.3rem}
footer{color:var(--muted);font-size:.85rem;text-align:center;padding:1rem}
@media (max-width:30rem){main{padding:.5rem}.button,button{width:100%}form.inline{display:block}}`;

export const PORTAL_CSS_HASH = `sha256-${createHash('sha256').update(PORTAL_CSS, 'utf8').digest('base64')}`;

/**
 * The pages' one script: each `<time datetime>` in the viewer's own zone. Without script the server's UTC text stays.
 * The CSP allows exactly this text, by its hash; it reads the attribute and writes text, never HTML.
 */
export const PORTAL_SCRIPT =
  "for(const t of document.querySelectorAll('time[datetime]')){const d=new Date(t.dateTime);if(!Number.isNaN(d.getTime()))t.textContent=d.toLocaleString([],{year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit',timeZoneName:'short'})}";
export const PORTAL_SCRIPT_HASH = `sha256-${createHash('sha256').update(PORTAL_SCRIPT, 'utf8').digest('base64')}`;

/** A key on the header's colour, inline so the page needs no request for it (the CSP allows data: images only). */
export const FAVICON = `data:image/svg+xml,${encodeURIComponent(
  "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='6' fill='#232f3e'/><circle cx='12' cy='16' r='6' fill='none' stroke='#f90' stroke-width='3'/><path d='M18 16h10M24 16v5M28 16v4' stroke='#f90' stroke-width='3'/></svg>",
)}`;

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Every portal page's frame: the stylesheet and script allowed by their hashes, the header and the footer. */
export function layout(title: string, body: string, header = ''): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Keyvend</title>
<link rel="icon" type="image/svg+xml" href="${FAVICON}">
<style>${PORTAL_CSS}</style>
</head>
<body>
<header><p class="brand">Keyvend</p>${header}</header>
<main id="main">
${body}
</main>
<footer>Short-lived AWS access, granted by your organisation's entitlements. Every action here is audited.</footer>
<script>${PORTAL_SCRIPT}</script>
</body>
</html>`;
}

/** A SAML IdP the portal offers, labelled by its configured display name (else `SAML (<id>)`). */
export interface SamlSignIn {
  readonly id: string;
  readonly label: string;
  readonly url: string;
}

export function signInPage(input: { issuerName: string; notice?: string; samlSignIns?: readonly SamlSignIn[] }): string {
  const notice = input.notice === undefined ? '' : `<p role="status">${escapeHtml(input.notice)}</p>`;
  const saml = (input.samlSignIns ?? [])
    .map((idp) => `<p><a class="button" href="${escapeHtml(idp.url)}">Sign in with ${escapeHtml(idp.label)}</a></p>`)
    .join('\n');
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<section class="card" aria-labelledby="signin-heading">
<h2 id="signin-heading">Open the AWS console as a role you are entitled to</h2>
${notice}
<p>Sign in with your organisation's identity provider. Keyvend then lists the roles you may use.</p>
<p><a class="button" href="/portal/login">Sign in with ${escapeHtml(input.issuerName)}</a></p>
${saml}
</section>`,
  );
}

/**
 * The signed-in page. `displayName` (the token's name, preferred_username or email, grammar-checked) is shown beside
 * the subject and decides nothing. Times are rendered in UTC with the time left, and the page's one script
 * (PORTAL_SCRIPT) shows them in the viewer's own zone; the `<time>` element carries the exact instant.
 */
export function homePage(input: {
  isAdmin?: boolean;
  subject: string;
  displayName?: string | undefined;
  csrfToken: string;
  entitlements: readonly ConsoleEntitlementView[];
  expiresAt: Date;
  now: Date;
}): string {
  const csrf = `<input type="hidden" name="csrf" value="${escapeHtml(input.csrfToken)}">`;
  const logout = `<form class="inline" method="post" action="/portal/logout">${csrf}<button type="submit" class="secondary">Sign out</button></form>`;
  const items = input.entitlements.map((e) => {
    const headingId = `role-${escapeHtml(e.id)}`;
    const cli = e.outputs.includes('credentials')
      ? `<p class="meta">Same role in a terminal: <code>keyvend credentials ${escapeHtml(e.id)}</code></p>`
      : '<p class="meta">Console only: this entitlement gives no CLI credentials.</p>';
    return `<li class="card" aria-labelledby="${headingId}">
<h2 id="${headingId}">${escapeHtml(e.id)}</h2>
<p>${escapeHtml(e.description)}</p>
<p class="meta">Role <code>${escapeHtml(e.roleArn)}</code></p>
<form method="post" action="/portal/console">
${csrf}
<input type="hidden" name="entitlement" value="${escapeHtml(e.id)}">
<button type="submit" aria-describedby="${headingId}">Open the AWS console as ${escapeHtml(e.id)}</button>
</form>
${cli}
<p class="meta"><a href="/portal/explain?entitlement=${encodeURIComponent(e.id)}">What does this allow?</a></p>
</li>`;
  });
  const list =
    items.length === 0
      ? '<section class="card"><p id="no-roles">You have no entitlements that open the AWS console. Ask your administrator if you need one.</p></section>'
      : `<ul class="roles">\n${items.join('\n')}\n</ul>`;
  return layout(
    'Your AWS roles',
    `<h1>Your AWS console roles</h1>
<p class="meta">Signed in until ${timeElement(input.expiresAt)} (<span id="time-left">${escapeHtml(timeLeft(input.expiresAt, input.now))}</span>). Each click opens a fresh console session.</p>
${list}${input.isAdmin === true ? '\n<p><a id="admin-link" href="/portal/admin">Audit trail (admins)</a></p>' : ''}`,
    input.displayName === undefined
      ? `<p>Signed in as <strong id="subject">${escapeHtml(input.subject)}</strong></p>${logout}`
      : `<p>Signed in as <strong id="display-name">${escapeHtml(input.displayName)}</strong> <span class="who">(<span id="subject">${escapeHtml(input.subject)}</span>)</span></p>${logout}`,
  );
}

/** After sign-out: a confirmation, a way back in, and (when the IdP publishes one) its own sign-out. */
export function signedOutPage(input: { issuerName: string; idpLogoutUrl?: string | undefined }): string {
  const idp =
    input.idpLogoutUrl === undefined
      ? `<p class="meta">You may still be signed in at ${escapeHtml(input.issuerName)}; sign out there too on a shared computer.</p>`
      : `<p><a id="idp-logout" href="${escapeHtml(input.idpLogoutUrl)}">Also sign out of ${escapeHtml(input.issuerName)}</a> (recommended on a shared computer).</p>`;
  return layout(
    'Signed out',
    `<section class="card" role="status" aria-labelledby="signed-out-heading">
<h1 id="signed-out-heading">You are signed out</h1>
<p>Your portal session has ended. Console sessions you already opened last until they expire.</p>
${idp}
<p><a class="button" href="/portal">Sign in again</a></p>
</section>`,
  );
}

/** `2026-11-29 14:57 UTC` inside a `<time>` element with the exact instant. */
export function timeElement(at: Date): string {
  const iso = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}

/** "in 29 minutes", "in 1 hour 5 minutes", "in less than a minute"; "expired" once past. */
export function timeLeft(at: Date, now: Date): string {
  const minutes = Math.round((at.getTime() - now.getTime()) / 60_000);
  if (at.getTime() <= now.getTime()) return 'expired';
  if (minutes < 1) return 'in less than a minute';
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (minutes < 60) return `in ${plural(minutes, 'minute')}`;
  const rest = minutes % 60;
  return `in ${plural(Math.floor(minutes / 60), 'hour')}${rest === 0 ? '' : ` ${plural(rest, 'minute')}`}`;
}

export function errorPage(input: { title: string; message: string; requestId: string; signInAgain: boolean }): string {
  const again = input.signInAgain
    ? '<p><a class="button" href="/portal/login">Sign in again</a></p>'
    : '<p><a href="/portal">Back to the portal</a></p>';
  return layout(
    input.title,
    `<section class="card error" role="alert">
<h1>${escapeHtml(input.title)}</h1>
<p>${escapeHtml(input.message)}</p>
<p class="meta">Request id <code>${escapeHtml(input.requestId)}</code></p>
${again}
</section>`,
  );
}

type Json = Readonly<Record<string, unknown>>;
const str = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
const duration = (seconds: unknown): string =>
  typeof seconds === 'number' ? (seconds % 3600 === 0 ? `${seconds / 3600} h` : `${Math.round(seconds / 60)} min`) : '';
const LIMITED_BY: Readonly<Record<string, string>> = {
  entitlement_max: "the entitlement's own maximum",
  role_chaining: 'role chaining (the broker assumes the role from its own role session: one hour)',
  vending_path: "the vending path's maximum",
};

/** "What does this allow?": an explanation (app/explain.ts) for the signed-in person, as a page. */
export function explainPage(input: { explanation: Json; isAdmin: boolean }): string {
  const e = input.explanation;
  const id = escapeHtml(str(e['entitlement']));
  const back = '<p><a href="/portal">Back to your roles</a></p>';
  const grantedBy = ((e['grantedBy'] ?? []) as Json[])
    .map((m) => (m['subject'] !== undefined ? 'your own subject' : `the group <code>${escapeHtml(str(m['group']))}</code>`))
    .join(', ');
  if (e['entitled'] !== true) {
    return layout(
      `What does ${str(e['entitlement'])} allow?`,
      `<section class="card error" role="alert" aria-labelledby="explain-heading">
<h1 id="explain-heading">You are not entitled to ${id}</h1>
<p id="why">${escapeHtml(str(e['why']))}</p>
<p class="meta">Reason <code>${escapeHtml(str(e['reason']))}</code></p>
${back}
</section>`,
    );
  }
  const s = (e['session'] ?? {}) as Json;
  const tags = ((s['tags'] ?? []) as Json[])
    .map((t) => `<li><code>${escapeHtml(str(t['Key']))}</code> = <code>${escapeHtml(str(t['Value']))}</code></li>`)
    .join('');
  const policy =
    typeof s['sessionPolicy'] === 'string'
      ? `<pre id="session-policy"><code>${escapeHtml(JSON.stringify(JSON.parse(s['sessionPolicy']) as unknown, null, 2))}</code></pre>`
      : '<p>No session policy: the managed policies below scope the session.</p>';
  const managed = ((s['managedPolicyArns'] ?? []) as string[]).map((arn) => `<li><code>${escapeHtml(arn)}</code></li>`).join('');
  return layout(
    `What does ${str(e['entitlement'])} allow?`,
    `<h1 id="explain-heading">What does ${id} allow?</h1>
<section class="card" aria-labelledby="explain-heading">
<p>${escapeHtml(str(e['description']))}</p>
<p id="granted-by">You have it through ${grantedBy}.</p>
<p class="meta">Role <code>${escapeHtml(str(s['roleArn']))}</code>, vending path <code>${escapeHtml(str(s['vending']))}</code></p>
<p id="duration">Sessions last ${duration(s['durationSeconds'])} by default and at most ${duration(s['maxDurationSeconds'])}, set by ${escapeHtml(LIMITED_BY[str(s['maxDurationLimitedBy'])] ?? str(s['maxDurationLimitedBy']))}.</p>
<p class="meta">Session name and SourceIdentity <code>${escapeHtml(str(s['roleSessionName']))}</code>${s['tokenSubject'] === undefined ? '' : `; token subject <code>${escapeHtml(str(s['tokenSubject']))}</code>`}</p>
<h2>The session policy, exactly as it would be sent</h2>
${policy}
${managed === '' ? '' : `<h2>Managed policies</h2><ul>${managed}</ul>`}
<h2>Session tags</h2>
<ul class="meta">${tags}</ul>
<p class="meta">The <code>keyvend:grant</code> tag is each grant's own id, shown here as <code>${escapeHtml(str(e['grantIdPlaceholder']))}</code>.</p>
<p class="meta" id="role-note">${escapeHtml(str(e['note']))}</p>
${back}
</section>`,
  );
}

export interface AuditFilters {
  readonly idp?: string | undefined;
  readonly subject?: string | undefined;
  readonly entitlement?: string | undefined;
  readonly outcome?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

/** The admin page: the audit trail, filtered and paged (a GET form: reading changes nothing, and is audited). */
export function adminAuditPage(input: { filters: AuditFilters; records: readonly Json[]; nextPageUrl?: string | undefined }): string {
  const f = input.filters;
  const field = (name: keyof AuditFilters, label: string, placeholder = '') =>
    `<label for="f-${name}">${escapeHtml(label)}</label><input id="f-${name}" name="${name}" value="${escapeHtml(f[name] ?? '')}" placeholder="${escapeHtml(placeholder)}">`;
  const rows = input.records.map((r) => {
    const caller = (r['caller'] ?? {}) as Json;
    const session = (r['session'] ?? {}) as Json;
    const entitlement = (r['entitlement'] ?? {}) as Json;
    const outcome = str(r['outcome']) + (r['reason'] === undefined ? '' : ` (${str(r['reason'])})`);
    return `<tr><td>${typeof r['time'] === 'string' ? timeElement(new Date(r['time'])) : ''}</td><td>${escapeHtml(str(r['action']))}</td><td>${escapeHtml(outcome)}</td><td>${escapeHtml(caller['subject'] === undefined ? '-' : `${str(caller['issuerId'])}/${str(caller['subject'])}`)}</td><td>${escapeHtml(str(entitlement['id']))}</td><td>${session['accessKeyId'] === undefined ? '' : `<code>${escapeHtml(str(session['accessKeyId']))}</code>`}</td></tr>`;
  });
  const table =
    rows.length === 0
      ? '<p id="no-records">No audit records match.</p>'
      : `<div class="scroll"><table id="audit-records"><thead><tr><th>Time</th><th>Action</th><th>Outcome</th><th>Person</th><th>Entitlement</th><th>Access key</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>`;
  const next =
    input.nextPageUrl === undefined ? '' : `<p><a class="button" id="next-page" href="${escapeHtml(input.nextPageUrl)}">Next page</a></p>`;
  return layout(
    'Audit trail',
    `<h1>Who got what</h1>
<section class="card" aria-labelledby="filters-heading">
<h2 id="filters-heading">Filters</h2>
<form method="get" action="/portal/admin">
${field('idp', 'Identity provider id', 'dev')}
${field('subject', 'Subject')}
${field('entitlement', 'Entitlement')}
${field('outcome', 'Outcome', 'granted, denied, minted_not_delivered')}
${field('from', 'From (UTC)', '2026-11-29 or 2026-11-29T16:00:00Z')}
${field('to', 'To (UTC)')}
<p><button type="submit">Search</button></p>
</form>
<p class="meta">Newest first. Every search here is itself recorded in the audit trail.</p>
</section>
<section class="card" aria-label="Audit records">
${table}
${next}
</section>
<p><a href="/portal">Back to your roles</a></p>`,
  );
}
