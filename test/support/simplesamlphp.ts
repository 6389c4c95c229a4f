import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SigningCert } from '../../infra/local/saml-idp.ts';

const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

export interface SimpleSamlPhpUser {
  readonly username: string;
  readonly password: string;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

export interface SimpleSamlPhpIdp {
  readonly baseUrl: string;
  readonly entityId: string;
  /** Signs in through the IdP's own login form (IdP-initiated SSO) and returns the SAMLResponse it posts. */
  login(user: { username: string; password: string }): Promise<string>;
  close(): Promise<void>;
  /** What the PHP server printed, for a failing test's message. */
  output(): string;
}

/** PHP source for a value: strings single-quoted with escapes, arrays as short arrays. */
function php(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(php).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `[${Object.entries(value)
      .map(([k, v]) => `${php(k)} => ${php(v)}`)
      .join(', ')}]`;
  }
  throw new Error(`cannot write ${typeof value} as PHP`);
}

/**
 * Debian's SimpleSAMLphp 1.19 as a real IdP on loopback: `php -S` over its www folder with a configuration
 * written to a temp dir (SIMPLESAMLPHP_CONFIG_DIR): an exampleauth:UserPass source, a hosted SAML 2.0 IdP
 * signing responses and assertions with RSA-SHA256 and the given key, and Keyvend as the remote SP.
 */
export async function startSimpleSamlPhp(options: {
  port: number;
  cert: SigningCert;
  spEntityId: string;
  acsUrl: string;
  users: readonly SimpleSamlPhpUser[];
}): Promise<SimpleSamlPhpIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-simplesamlphp-'));
  for (const sub of ['config', 'metadata', 'cert', 'log', 'data', 'tmp', 'sessions']) mkdirSync(join(dir, sub));
  const baseUrl = `http://127.0.0.1:${options.port}/`;
  const entityId = `${baseUrl}saml2/idp/metadata.php`;
  writeFileSync(join(dir, 'cert/idp.crt'), options.cert.certPem);
  writeFileSync(join(dir, 'cert/idp.key'), options.cert.keyPem, { mode: 0o600 });
  const config = {
    baseurlpath: baseUrl,
    certdir: join(dir, 'cert/'),
    loggingdir: join(dir, 'log/'),
    datadir: join(dir, 'data/'),
    tempdir: join(dir, 'tmp'),
    metadatadir: join(dir, 'metadata/'),
    secretsalt: randomBytes(16).toString('hex'),
    'auth.adminpassword': randomBytes(16).toString('hex'),
    technicalcontact_name: 'Keyvend tests',
    technicalcontact_email: 'tests@keyvend.invalid',
    timezone: 'UTC',
    'logging.handler': 'errorlog',
    'enable.saml20-idp': true,
    'module.enable': { exampleauth: true, core: true, saml: true },
    'store.type': 'phpsession',
    'session.phpsession.savepath': join(dir, 'sessions'),
    'session.cookie.secure': false,
    'language.available': ['en'],
    'metadata.sources': [{ type: 'flatfile' }],
  };
  writeFileSync(join(dir, 'config/config.php'), `<?php\n$config = ${php(config)};\n`);
  const source: Record<string, unknown> = { 0: 'exampleauth:UserPass' };
  for (const user of options.users) source[`${user.username}:${user.password}`] = user.attributes;
  writeFileSync(
    join(dir, 'config/authsources.php'),
    `<?php\n$config = ['admin' => ['core:AdminPassword'], 'example-userpass' => ${php(source)}];\n`,
  );
  writeFileSync(
    join(dir, 'metadata/saml20-idp-hosted.php'),
    `<?php\n$metadata['__DYNAMIC:1__'] = ${php({
      host: '__DEFAULT__',
      privatekey: 'idp.key',
      certificate: 'idp.crt',
      auth: 'example-userpass',
      'signature.algorithm': RSA_SHA256,
      'saml20.sign.response': true,
      'saml20.sign.assertion': true,
      'attributes.NameFormat': 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
    })};\n`,
  );
  writeFileSync(
    join(dir, 'metadata/saml20-sp-remote.php'),
    `<?php\n$metadata[${php(options.spEntityId)}] = ${php({
      AssertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: options.acsUrl }],
      NameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      'signature.algorithm': RSA_SHA256,
      'saml20.sign.response': true,
      'saml20.sign.assertion': true,
    })};\n`,
  );

  const child: ChildProcess = spawn('php', ['-S', `127.0.0.1:${options.port}`, '-t', SIMPLESAMLPHP_WWW], {
    env: { PATH: process.env['PATH'] ?? '', SIMPLESAMLPHP_CONFIG_DIR: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`php -S exited (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${baseUrl}saml2/idp/metadata.php`, { signal: AbortSignal.timeout(5000) });
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`SimpleSAMLphp did not answer at ${baseUrl} within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    baseUrl,
    entityId,
    output: () => output,
    close,
    async login(user) {
      const browser = new CookieBrowser();
      const start = `${baseUrl}saml2/idp/SSOService.php?spentityid=${encodeURIComponent(options.spEntityId)}`;
      const loginPage = await browser.get(start);
      const authState = /name="AuthState" value="([^"]+)"/.exec(loginPage.body)?.[1];
      if (authState === undefined) throw new Error(`no login form at ${loginPage.url}:\n${loginPage.body.slice(0, 2000)}\n${output}`);
      const posted = await browser.post(loginPage.url, {
        username: user.username,
        password: user.password,
        AuthState: decodeHtml(authState),
      });
      const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(posted.body)?.[1];
      if (samlResponse === undefined)
        throw new Error(`no SAMLResponse after login at ${posted.url}:\n${posted.body.slice(0, 2000)}\n${output}`);
      return decodeHtml(samlResponse);
    },
  };
}

const decodeHtml = (text: string) =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** fetch with a cookie jar and manual redirects, enough to walk SimpleSAMLphp's login. */
class CookieBrowser {
  readonly #cookies = new Map<string, string>();

  async get(url: string) {
    return this.#follow(url, { method: 'GET' });
  }

  async post(url: string, fields: Record<string, string>) {
    return this.#follow(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  async #follow(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: string },
  ): Promise<{ url: string; body: string }> {
    let current = url;
    let request = init;
    for (let hop = 0; hop < 10; hop++) {
      const response = await fetch(current, {
        ...request,
        headers: { ...request.headers, cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        redirect: 'manual',
        signal: AbortSignal.timeout(20_000),
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const index = pair.indexOf('=');
        if (index > 0) this.#cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        current = new URL(location, current).toString();
        request = { method: 'GET' };
        await response.arrayBuffer();
        continue;
      }
      return { url: current, body: await response.text() };
    }
    throw new Error(`too many redirects from ${url}`);
  }
}
