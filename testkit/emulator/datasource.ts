// Azure DevOps' side of a task's dataSourceBindings, as the service evaluates them when the
// classic editor or the YAML assistant fills a picker (service endpoint proxy):
//
//   1. `$(input)` macros in endpointUrl take the values of the dependent inputs;
//   2. initialContextTemplate (mustache) gives the first call's context;
//   3. the URL template is rendered with `endpoint.*` and that context, and called with the
//      service connection's token;
//   4. resultSelector (`jsonpath:`) picks the items, resultTemplate (mustache) renders each into
//      `{"Value": ..., "DisplayValue": ...}`;
//   5. while callbackRequiredTemplate renders `true`, callbackContextTemplate (rendered against the
//      response) becomes the next call's context; the service makes at most 5 calls.
//
// The mustache dialect is the service's own (Microsoft.VisualStudio.Services.ServiceEndpoints
// MustacheTemplateEngine): standard variables and sections plus helpers written
// `{{{ #helper args}}}`. Only the helpers our task.json files use are implemented, with the
// service's semantics: `extractResource <key> <segment>` (the path segment after <segment>,
// case-insensitive, in the item's <key>) and `extractUrlQueryParameter <names>` (the raw value of
// the first of the comma-separated query parameters found in the current context's URL).
// An unknown helper throws, so a binding that relies on one fails its test.
import { JSONPath } from 'jsonpath-plus';
import type { Emulator } from './index';
import { rawRequest } from './raw';
import type { SeedResult } from './seed';

export interface DataSourceBinding {
  target: string;
  endpointId: string;
  endpointUrl: string;
  resultSelector?: string;
  resultTemplate?: string;
  callbackContextTemplate?: string;
  callbackRequiredTemplate?: string;
  initialContextTemplate?: string;
}

export interface PickerValue {
  Value: string;
  DisplayValue: string;
}

/** The service connection as the service sees it (`endpoint.*` in templates). */
export interface EndpointContext {
  url: string;
  subscriptionId: string;
  [key: string]: string;
}

export type Fetch = (url: string) => Promise<{ status: number; body: unknown }>;

const MAX_CALLS = 5;

type Scope = unknown[];

function lookup(scopes: Scope, name: string): unknown {
  if (name === '.') return scopes[scopes.length - 1];
  const [head, ...rest] = name.split('.');
  for (let i = scopes.length - 1; i >= 0; i--) {
    const s = scopes[i];
    if (s !== null && typeof s === 'object' && head! in (s as Record<string, unknown>)) {
      let v: unknown = (s as Record<string, unknown>)[head!];
      for (const part of rest) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      return v;
    }
  }
  return undefined;
}

const falsy = (v: unknown): boolean => v === undefined || v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0);

const HELPERS: Record<string, (args: string[], scopes: Scope) => string> = {
  extractResource(args, scopes) {
    const [key, segment] = args.length < 2 ? ['defaultResultKey', args[0]!] : [args[0]!, args[1]!];
    const value = lookup(scopes, key);
    if (typeof value !== 'string') return '';
    const parts = value.split('/');
    const i = parts.findIndex((p) => p.toLowerCase() === segment.toLowerCase());
    return i >= 0 && i + 1 < parts.length ? parts[i + 1]! : '';
  },
  extractUrlQueryParameter(args, scopes) {
    if (args.length !== 1)
      throw new Error('extractUrlQueryParameter: only the one-argument form (URL from the current context) is emulated');
    const url = String(scopes[scopes.length - 1]);
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const pairs = new Map(query.split('&').map((q) => [q.split('=')[0]!, q.split('=').slice(1).join('=')] as const));
    for (const name of args[0]!.split(',')) {
      const v = pairs.get(name) ?? pairs.get(decodeURIComponent(name));
      if (v) return v;
    }
    return '';
  },
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Renders a template in the service's mustache dialect. */
export function renderMustache(template: string, scopes: Scope): string {
  let out = '';
  let pos = 0;
  const tag = /\{\{(\{?)\s*([#^/]?)\s*([^}]*?)\s*\}?\}\}/g;
  while (pos < template.length) {
    tag.lastIndex = pos;
    const m = tag.exec(template);
    if (!m) {
      out += template.slice(pos);
      break;
    }
    out += template.slice(pos, m.index);
    pos = m.index + m[0].length;
    const [, triple, sigil, body] = m;
    const [name, ...args] = body!.split(/\s+/);
    if (sigil === '#' && name! in HELPERS) {
      out += HELPERS[name!]!(args, scopes);
      continue;
    }
    if (sigil === '#' && args.length > 0) throw new Error(`unknown mustache helper '${name}'`);
    if (sigil === '#' || sigil === '^') {
      if (!/^[\w.$-]+$/.test(name!)) throw new Error(`unknown mustache helper or section '${body}'`);
      const close = new RegExp(`\\{\\{\\{?\\s*/\\s*${name!.replace(/[.$]/g, '\\$&')}\\s*\\}?\\}\\}`, 'g');
      close.lastIndex = pos;
      const end = close.exec(template);
      if (!end) throw new Error(`unclosed section '${name}'`);
      const inner = template.slice(pos, end.index);
      pos = end.index + end[0].length;
      const value = lookup(scopes, name!);
      if (sigil === '^') {
        if (falsy(value)) out += renderMustache(inner, scopes);
      } else if (Array.isArray(value)) {
        for (const item of value) out += renderMustache(inner, [...scopes, item]);
      } else if (!falsy(value)) {
        out += renderMustache(inner, value === true ? scopes : [...scopes, value]);
      }
      continue;
    }
    if (sigil === '/') throw new Error(`unexpected closing tag '${name}'`);
    const value = lookup(scopes, name!);
    const text = value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    out += triple ? text : escapeHtml(text);
  }
  return out;
}

/** `$(input)` macros, replaced with the dependent inputs' current values. */
export function expandInputs(template: string, inputs: Record<string, string>): string {
  return template.replace(/\$\((\w+)\)/g, (_match, name: string) => {
    if (!(name in inputs)) throw new Error(`the binding needs input '${name}', which the test did not give`);
    return inputs[name]!;
  });
}

export interface EvaluateResult {
  values: PickerValue[];
  /** URLs called, in order. */
  calls: string[];
}

export async function evaluateBinding(
  binding: DataSourceBinding,
  endpoint: EndpointContext,
  inputs: Record<string, string>,
  fetch: Fetch,
): Promise<EvaluateResult> {
  const urlTemplate = expandInputs(binding.endpointUrl, inputs);
  let context: Record<string, unknown> = binding.initialContextTemplate
    ? JSON.parse(renderMustache(binding.initialContextTemplate, [{ endpoint }]))
    : {};
  const values: PickerValue[] = [];
  const calls: string[] = [];
  for (let call = 0; call < MAX_CALLS; call++) {
    const url = renderMustache(urlTemplate, [{ endpoint }, context]);
    calls.push(url);
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const selector = binding.resultSelector ?? 'jsonpath:$';
    if (!selector.startsWith('jsonpath:')) throw new Error(`only jsonpath: selectors are emulated, got '${selector}'`);
    const items = JSONPath({ path: selector.slice('jsonpath:'.length), json: res.body as object, wrap: true }) as unknown[];
    for (const item of items) {
      const rendered = binding.resultTemplate
        ? renderMustache(binding.resultTemplate, [res.body, item])
        : JSON.stringify({ Value: item, DisplayValue: item });
      values.push(JSON.parse(rendered) as PickerValue);
    }
    const more = binding.callbackRequiredTemplate
      ? renderMustache(binding.callbackRequiredTemplate, [res.body]).trim().toLowerCase() === 'true'
      : false;
    if (!more || !binding.callbackContextTemplate) break;
    context = { ...context, ...(JSON.parse(renderMustache(binding.callbackContextTemplate, [res.body])) as Record<string, unknown>) };
  }
  return { values, calls };
}

/**
 * The picker scenario of test/pickers.test.ts and `npm run pickers`: lists paged at 2, two more
 * readable workspaces and one in a group the connection cannot read, a second Kubernetes compute,
 * Kubernetes and managed endpoints, three models; and a fetch that calls ARM with the secret
 * service principal's token, as the service does with the connection.
 */
export async function seedPickerWorld(emu: Emulator, seed: SeedResult): Promise<{ endpoint: EndpointContext; fetch: Fetch }> {
  emu.arm.listPageSize = 2;
  const ws = seed.workspace.id;
  for (const [rg, name] of [
    ['rg-aml-dev', 'mlw-dev'],
    ['rg-aml-test', 'mlw-test'],
    ['rg-other-team', 'mlw-other'],
  ] as const) {
    emu.arm.addResourceGroup({ subscriptionId: seed.subscriptionId, name: rg, location: 'westeurope' });
    emu.arm.addWorkspace({ subscriptionId: seed.subscriptionId, resourceGroup: rg, name, location: 'westeurope' });
    if (rg !== 'rg-other-team')
      emu.arm.grantRole(seed.servicePrincipals.secret.objectId, 'Reader', emu.arm.resourceGroupId(seed.subscriptionId, rg));
  }
  // Computes: the seed has cpu-cluster, gpu-cluster and the Kubernetes aks-prod.
  emu.aml.addCompute(ws, 'aks-canary', { computeType: 'Kubernetes', namespace: 'azureml-canary' });
  emu.online.addEndpoint(ws, 'taxi-fare-prod');
  emu.online.addEndpoint(ws, 'taxi-fare-canary', { compute: 'aks-canary' });
  emu.online.addEndpoint(ws, 'managed-demo', { compute: null });
  for (const [name, versions] of [
    ['taxi-fare-model', 7],
    ['churn-model', 2],
    ['fraud-model', 1],
  ] as const) {
    for (let v = 1; v <= versions; v++) emu.models.add(ws, name, String(v));
  }
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: seed.servicePrincipals.secret.clientId,
    client_secret: seed.servicePrincipals.secret.secret,
    scope: 'https://management.azure.com/.default',
  });
  const res = await rawRequest(emu.url, emu.caCertPem, 'POST', `/${seed.tenantId}/oauth2/v2.0/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${res.text}`);
  const token = String(res.json().access_token);
  const fetch: Fetch = async (url) => {
    const u = new URL(url);
    const r = await rawRequest(emu.url, emu.caCertPem, 'GET', `${u.pathname}${u.search}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: r.status, body: r.json() };
  };
  return { endpoint: { url: `${emu.url}/`, subscriptionId: seed.subscriptionId }, fetch };
}
