// Short, stable names derived from long ones: the standard base32 alphabet (RFC 4648,
// upper case) over a SHA-256 digest, as kube-proxy names its chains and nftables objects.
import { hash } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with padding (Go's base32.StdEncoding). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let value = 0;
  let bits = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/**
 * The first `length` characters of base32(sha256(text)). Only the digest's bytes those
 * characters come from are encoded (each character is 5 whole bits of them), with the
 * one-shot hash: a first sync at 10,000 Services names ~110,000 chains.
 */
export function hashName(text: string, length: number): string {
  const digest = hash('sha256', text, 'buffer');
  return base32(digest.subarray(0, Math.ceil((length * 5) / 8))).slice(0, length);
}
