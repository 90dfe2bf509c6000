// Kubernetes object names and container image references, with a reason when one is
// not valid (so an error can say what is wrong, not only that something is).
import { z } from 'zod';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const DNS1123_LABEL_FORM =
  "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. kpng-system)";
export const DNS1123_SUBDOMAIN_FORM =
  "a DNS-1123 subdomain: at most 253 characters, dot-separated labels of lower-case letters, digits and '-' (e.g. kpng)";
export const IMAGE_REF_FORM =
  'an image reference [registry[:port]/]name[:tag][@sha256:<64 hex>], lower-case name (e.g. kpng:dev, localhost:5001/kpng:dev)';

function labelProblem(value: string, what: string): string | undefined {
  if (value === '') return `${what} is empty`;
  if (value.length > 63) return `${what} is ${value.length} characters long (at most 63)`;
  if (/[A-Z]/.test(value)) return `${what} has upper-case letters`;
  const bad = value.match(/[^-a-z0-9]/);
  if (bad) return `${what} contains ${JSON.stringify(bad[0])}`;
  if (!LABEL.test(value)) return `${what} must start and end with a letter or digit`;
  return undefined;
}

/** Why `value` is not a DNS-1123 label (namespaces, kind cluster names), or undefined. */
export function dns1123LabelProblem(value: string): string | undefined {
  const problem = labelProblem(value, JSON.stringify(value));
  if (problem && value.includes('.') && !/[^-a-z0-9.]/.test(value)) {
    return `${JSON.stringify(value)} contains "." (a label has no dots)`;
  }
  return problem;
}

/** Why `value` is not a DNS-1123 subdomain (ConfigMap, ServiceAccount names), or undefined. */
export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value === '') return 'the name is empty';
  if (value.length > 253) return `${JSON.stringify(value)} is ${value.length} characters long (at most 253)`;
  for (const part of value.split('.')) {
    const problem = labelProblem(part, part === '' ? 'a dot-separated part' : `the part ${JSON.stringify(part)}`);
    if (problem) return `${JSON.stringify(value)}: ${problem}`;
  }
  return undefined;
}

// The grammar of github.com/distribution/reference.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Why `value` is not an image reference, or undefined. */
export function imageRefProblem(value: string): string | undefined {
  if (value === '') return 'the image reference is empty';
  if (/\s/.test(value)) return `${JSON.stringify(value)} contains whitespace`;
  const match = REFERENCE.exec(value);
  if (!match) {
    if (REFERENCE.test(value.toLowerCase())) return `${JSON.stringify(value)}: repository names are lower-case`;
    return `${JSON.stringify(value)} is not an image reference`;
  }
  const name = match[1] ?? '';
  if (name.length > 255) return `${JSON.stringify(value)}: the repository name is longer than 255 characters`;
  const digest = match[3];
  if (digest?.startsWith('sha256:') && digest.length !== 'sha256:'.length + 64) {
    return `${JSON.stringify(value)}: a sha256 digest has 64 hex digits`;
  }
  return undefined;
}

function fromProblem(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

export const dns1123LabelSchema = fromProblem(dns1123LabelProblem);
export const dns1123SubdomainSchema = fromProblem(dns1123SubdomainProblem);
export const imageRefSchema = fromProblem(imageRefProblem);
