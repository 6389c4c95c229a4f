import { describe, expect, it } from 'vitest';
import { isSecureTransport } from '../../../src/domain/transport.ts';

describe('isSecureTransport: https, or plain http to loopback when the caller allows it', () => {
  it('admits https anywhere and http only to loopback hosts, and only when allowed', () => {
    // Prepare
    const urls = [
      'https://idp.example.com/x',
      'http://127.0.0.1:8080/x',
      'http://127.8.9.10/x',
      'http://localhost/x',
      'http://[::1]:9/x',
      'http://idp.example.com/x',
      'http://127.0.0.1.nip.io/x',
      'file:///etc/passwd',
      'ftp://127.0.0.1/x',
    ];

    // Act
    const allowed = urls.filter((url) => isSecureTransport(new URL(url), { allowLoopbackHttp: true }));
    const strict = urls.filter((url) => isSecureTransport(new URL(url), { allowLoopbackHttp: false }));

    // Assess
    expect(allowed).toEqual([
      'https://idp.example.com/x',
      'http://127.0.0.1:8080/x',
      'http://127.8.9.10/x',
      'http://localhost/x',
      'http://[::1]:9/x',
    ]);
    expect(strict).toEqual(['https://idp.example.com/x']);
  });
});
