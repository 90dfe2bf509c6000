// The one way text derived from what users write (namespaces, Service names, port names:
// a service port's key) enters iptables-restore input: as the word after --comment.
// The model admits only Kubernetes' name syntax, but a node-local state can also come
// from elsewhere (the gRPC API, a test); whatever it holds, this word stays one word of
// one rule: characters outside a small set become "_", and it is cut to the kernel's
// comment length. The comment is for humans; chain names are hashes of the raw key.

/** Characters a comment keeps: those of Kubernetes names and of our own wording. */
const unsafe = /[^A-Za-z0-9 ._:/>[\]-]/gu;

/** xt_comment holds 256 bytes with the final NUL. */
export const commentLengthMax = 255;

/** `text` as the argument of `-m comment --comment`: safe characters only, quoted when it has a space. */
export function commentWord(text: string): string {
  let safe = text.replace(unsafe, '_');
  if (safe.length > commentLengthMax) safe = safe.slice(0, commentLengthMax);
  if (safe.trim() === '') safe = '_';
  return safe.includes(' ') ? `"${safe}"` : safe;
}
