// Kubernetes' own syntax rules for what a user writes into an object (names, port names,
// label keys and values), as the API server applies them
// (k8s.io/apimachinery/pkg/util/validation, pkg/apis/core/validation,
// pkg/apis/discovery/validation). Each check returns undefined when the text is valid, or
// a sentence saying what is accepted. The model rejects an object on ingest when a field
// that reaches the node's rules breaks them, so no such text ever reaches a backend.

export type Check = (text: string) => string | undefined;

const dns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035LabelRe = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const portNameRe = /^[-a-z0-9]+$/;
const qualifiedNamePartRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValueRe = qualifiedNamePartRe;

/** RFC 1123 label: namespaces, Service and EndpointSlice port names, endpoint hostnames. */
export const dns1123Label: Check = (s) =>
  s.length <= 63 && dns1123LabelRe.test(s) ? undefined : 'accepted: a DNS-1123 label (at most 63 characters: a-z, 0-9 and "-", starting and ending with a letter or digit)';

/** RFC 1123 subdomain: EndpointSlice and Node names. */
export const dns1123Subdomain: Check = (s) =>
  s.length <= 253 && dns1123SubdomainRe.test(s)
    ? undefined
    : 'accepted: a DNS-1123 subdomain (at most 253 characters: a-z, 0-9, "-" and ".", each dot-separated part starting and ending with a letter or digit)';

/** RFC 1035 label: Service names. */
export const dns1035Label: Check = (s) =>
  s.length <= 63 && dns1035LabelRe.test(s) ? undefined : 'accepted: a DNS-1035 label (at most 63 characters: a-z, 0-9 and "-", starting with a letter, ending with a letter or digit)';

/** IANA_SVC_NAME (RFC 6335): a named targetPort, i.e. a container port's name. */
export const ianaServiceName: Check = (s) =>
  s.length >= 1 && s.length <= 15 && portNameRe.test(s) && /[a-z]/.test(s) && !s.startsWith('-') && !s.endsWith('-') && !s.includes('--')
    ? undefined
    : 'accepted: an IANA_SVC_NAME (at most 15 characters: a-z, 0-9 and "-", at least one letter, no "-" at either end nor two in a row)';

/** A label or annotation key: [prefix/]name, prefix a DNS-1123 subdomain, name at most 63 characters. */
export const qualifiedName: Check = (s) => {
  const accepted = 'accepted: [prefix/]name, the prefix a DNS-1123 subdomain, the name at most 63 characters of A-Z, a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit';
  const parts = s.split('/');
  if (parts.length > 2) return accepted;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2 && (parts[0] === '' || dns1123Subdomain(parts[0]!) !== undefined)) return accepted;
  return name.length <= 63 && qualifiedNamePartRe.test(name) ? undefined : accepted;
};

/** A label value: empty, or at most 63 characters of A-Z, a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit. */
export const labelValue: Check = (s) =>
  s === '' || (s.length <= 63 && labelValueRe.test(s))
    ? undefined
    : 'accepted: a label value (empty, or at most 63 characters of A-Z, a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit)';

/** "<what> "<text>" is not valid (accepted: ...)", or undefined when the check passes. */
export function problem(check: Check, text: string): string | undefined {
  const why = check(text);
  return why === undefined ? undefined : `${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)} is not valid (${why})`;
}
