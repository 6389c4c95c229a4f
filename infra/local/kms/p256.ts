/**
 * ECDSA over NIST P-256 on a caller-supplied digest (KMS `MessageType: DIGEST`). node:crypto always hashes its input
 * for EC keys (`crypto.sign(null, …)` applies SHA-256 again), so a prehashed sign needs the curve arithmetic here.
 * BigInt arithmetic is not constant-time: acceptable for a local emulator whose keys live only for one process.
 */
import { randomBytes } from 'node:crypto';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: Affine = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Affine {
  x: bigint;
  y: bigint;
}
/** Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity. */
interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint;
}

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** Both moduli are prime, so Fermat's little theorem gives the inverse. */
const inverse = (a: bigint, m: bigint): bigint => modPow(a, m - 2n, m);

// Doubling for a = -3 (dbl-2001-b).
function double(p: Jacobian): Jacobian {
  if (p.z === 0n || p.y === 0n) return { x: 0n, y: 1n, z: 0n };
  const delta = mod(p.z * p.z, P);
  const gamma = mod(p.y * p.y, P);
  const beta = mod(p.x * gamma, P);
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), P);
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) * (p.y + p.z) - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, P);
  return { x, y, z };
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = mod(p.z * p.z, P);
  const z2z2 = mod(q.z * q.z, P);
  const u1 = mod(p.x * z2z2, P);
  const u2 = mod(q.x * z1z1, P);
  const s1 = mod(p.y * q.z * z2z2, P);
  const s2 = mod(q.y * p.z * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p) : { x: 0n, y: 1n, z: 0n };
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const h2 = mod(h * h, P);
  const h3 = mod(h * h2, P);
  const u1h2 = mod(u1 * h2, P);
  const x = mod(r * r - h3 - 2n * u1h2, P);
  const y = mod(r * (u1h2 - x) - s1 * h3, P);
  const z = mod(p.z * q.z * h, P);
  return { x, y, z };
}

function multiply(k: bigint, point: Affine): Affine {
  let result: Jacobian = { x: 0n, y: 1n, z: 0n };
  let addend: Jacobian = { x: point.x, y: point.y, z: 1n };
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = double(addend);
  }
  if (result.z === 0n) throw new Error('point at infinity');
  const zInv = inverse(result.z, P);
  const zInv2 = mod(zInv * zInv, P);
  return { x: mod(result.x * zInv2, P), y: mod(result.y * zInv2 * zInv, P) };
}

const toBigInt = (bytes: Buffer): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`));

/** The public point d·G, so tests can check the curve constants against node's own key. */
export function publicPoint(d: Buffer): { x: Buffer; y: Buffer } {
  const q = multiply(toBigInt(d), G);
  return { x: Buffer.from(q.x.toString(16).padStart(64, '0'), 'hex'), y: Buffer.from(q.y.toString(16).padStart(64, '0'), 'hex') };
}

function derInteger(value: bigint): Buffer {
  const hex = value.toString(16);
  let bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  // A set high bit would read as a negative INTEGER.
  if (((bytes[0] ?? 0) & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/**
 * Signs a 32-byte digest with the private scalar `d` (big-endian bytes) and returns the DER
 * `SEQUENCE { INTEGER r, INTEGER s }` that KMS returns for ECDSA (ANSI X9.62, RFC 3279 §2.2.3). Like KMS and OpenSSL,
 * the nonce is random and s is not normalised to the lower half.
 */
export function signDigestP256(d: Buffer, digest: Buffer): Buffer {
  const priv = toBigInt(d);
  // For P-256 the order has 256 bits, so a 32-byte digest is used whole (no truncation step).
  const e = toBigInt(digest);
  for (;;) {
    const k = toBigInt(randomBytes(32));
    if (k === 0n || k >= N) continue;
    const r = mod(multiply(k, G).x, N);
    if (r === 0n) continue;
    const s = mod(inverse(k, N) * (e + r * priv), N);
    if (s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}
