import type { RevocationList } from '../app/revocations.ts';
import type { RevocationTarget } from '../domain/revocation.ts';
import { escapeHtml, layout, timeElement } from './portal-pages.ts';

/** The page's revoke form: the revocation request's fields as form fields, and the session's CSRF token. */
export const REVOKE_FORM_FIELDS = ['csrf', 'kind', 'issuer', 'subject', 'grantId', 'entitlement', 'reason'] as const;
export const UNREVOKE_FORM_FIELDS = ['csrf', 'id', 'reason'] as const;

function targetText(target: RevocationTarget): string {
  switch (target.kind) {
    case 'person':
      return `person ${target.issuerId}/${target.subject}`;
    case 'grant':
      return `grant ${target.grantId} (${target.issuerId}/${target.subject}, ${target.entitlementId})`;
    case 'entitlement':
      return `entitlement ${target.entitlementId}`;
  }
}

/**
 * `/portal/admin/revocations`: what is revoked, a form to revoke, and an un-revoke form per revocation, each with
 * the session's CSRF token. Everything shown is escaped; nothing shown is a secret (identifiers and reasons only).
 */
export function revocationsPage(input: { subject: string; csrfToken: string; list: RevocationList; notice?: string }): string {
  const csrf = `<input type="hidden" name="csrf" value="${escapeHtml(input.csrfToken)}">`;
  const rows = input.list.revocations.map(
    (r) => `<tr>
<td><code>${escapeHtml(targetText(r.target))}</code></td>
<td>${timeElement(new Date(r.revokedAt))}</td>
<td>${escapeHtml(`${r.revokedBy.issuerId}/${r.revokedBy.subject}`)}</td>
<td>${escapeHtml(r.reason)}</td>
<td>${r.liveSessionDeny ? 'denied' : 'expired'}</td>
<td><form method="post" action="/portal/admin/unrevoke">${csrf}<input type="hidden" name="id" value="${escapeHtml(r.id)}">
<label>Reason <input name="reason" required maxlength="256"></label>
<button type="submit" class="secondary" aria-label="Un-revoke ${escapeHtml(targetText(r.target))}">Un-revoke</button></form></td>
</tr>`,
  );
  const table =
    rows.length === 0
      ? '<p id="nothing-revoked">Nothing is revoked.</p>'
      : `<table id="revocations"><thead><tr><th>Target</th><th>Revoked</th><th>By</th><th>Reason</th><th>Live sessions</th><th></th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
  const notice = input.notice === undefined ? '' : `<p class="card" role="status" id="notice">${escapeHtml(input.notice)}</p>`;
  const sync = input.list.policyInSync
    ? ''
    : '<p class="card" role="alert">The member accounts do not hold the latest revocations yet: revoke or un-revoke again to retry.</p>';
  return layout(
    'Revocations',
    `<h1>Revocations</h1>
${notice}${sync}
<section class="card">
<h2>Revoke</h2>
<p class="meta">The next request is refused, and sessions already issued are denied by AWS in every member account.</p>
<form method="post" action="/portal/admin/revocations" id="revoke">
${csrf}
<label>What <select name="kind"><option value="person">a person</option><option value="grant">one grant</option><option value="entitlement">an entitlement</option></select></label>
<label>Identity provider <input name="issuer" placeholder="dev"></label>
<label>Subject <input name="subject"></label>
<label>Grant id <input name="grantId"></label>
<label>Entitlement <input name="entitlement"></label>
<label>Reason <input name="reason" required maxlength="256"></label>
<button type="submit">Revoke</button>
</form>
</section>
<section class="card">
<h2>In force</h2>
${table}
</section>`,
    `<p>Signed in as <strong id="subject">${escapeHtml(input.subject)}</strong> · <a href="/portal">Your roles</a></p>`,
  );
}
