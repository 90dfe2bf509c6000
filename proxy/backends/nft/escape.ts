// The one way text derived from what users write (namespaces, Service names, port names)
// enters an nft transaction: as a quoted string (comments), or as the readable part of an
// object name. The model admits only Kubernetes' name syntax, but a node-local state can
// also come from elsewhere (the gRPC API, a test); whatever it holds, the text stays inside
// its string or name: characters outside a small set become "_", and a comment is cut to
// what the kernel stores. Names stay unique: they begin with a hash of the raw text.

/** Characters a quoted string keeps: those of Kubernetes names and of our own wording. */
const unsafeInString = /[^A-Za-z0-9 ._:/>[\]@,()-]/gu;
/** Characters nft takes in an unquoted object name (after its first, which is ours). */
const unsafeInName = /[^A-Za-z0-9._/-]/gu;

/** nft refuses a comment of more than 128 characters (NFTNL_UDATA_COMMENT_MAXLEN). */
export const commentLengthMax = 128;

/** `text` as an nft quoted string (e.g. after `comment`): safe characters only, at most 128 of them. */
export function nftString(text: string): string {
  const safe = text.replace(unsafeInString, '_');
  return `"${safe.length > commentLengthMax ? safe.slice(0, commentLengthMax) : safe}"`;
}

/** `text` as part of an unquoted object name (chain, set): safe characters only. */
export function nameText(text: string): string {
  return text.replace(unsafeInName, '_');
}
