/**
 * esbuild plugin: only the parts of @azure/arm-machinelearning the tasks call.
 *
 * AzureMachineLearningWorkspaces builds all 27 operation groups in its constructor, and every
 * group hands the whole models/mappers.js namespace to core-client's serializer, so nothing in it
 * tree-shakes: about 280 KiB minified per task, for the three calls the tasks make through the
 * SDK (workspaces.get, workspaces.beginDiagnoseAndWait, jobs.beginCancelAndWait). Everything else
 * goes through JsonClient (tasks/common/http.ts).
 *
 * - operations/index.js: the groups a bundle names (armMlBundle(groups)) are the package's own code; any other
 *   group is an object whose every property access throws "not bundled", so a new use fails loudly
 *   in the tests (as the azure-devops-node-api stub in build.mjs does), not with a half client.
 * - models/parameters.js: only the parameters the kept groups name.
 * - models/mappers.js: only the mappers those groups and parameters reach: by className (a nested
 *   model is looked up by name in the serializer's table), uberParent, the declarations a kept one
 *   reads (Parent.type.modelProperties), and every subtype of a kept
 *   polymorphic type (the discriminator table). The kept declarations are the package's own text.
 *   A model the closure missed would make core-client throw "mapper() cannot be null or undefined
 *   for model ...", never deserialise silently wrong; the discriminator subtypes are all kept.
 */
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

/** The groups every bundle gets: readWorkspace (tasks/common/arm.ts) reads the workspace. */
export const BASE_ML_OPERATIONS = ['workspaces'];

const SRC = /[\\/]@azure[\\/]arm-machinelearning[\\/]dist-esm[\\/]src[\\/]/;
const implName = (group) => `${group[0].toUpperCase()}${group.slice(1)}Impl`;

/** Top-level `export const <name> = ...;` declarations of a generated file, with their text. */
function declarations(text) {
  const starts = [...text.matchAll(/^export (?:const|let) (\$?\w+) = /gm)];
  return starts.map((m, i) => ({ name: m[1], text: text.slice(m.index, i + 1 < starts.length ? starts[i + 1].index : text.length) }));
}

/** The mapper objects of mappers.js, evaluated (plain data and RegExps; it imports nothing). */
function evaluateMappers(text) {
  const mod = { exports: {} };
  new Function('module', 'exports', esbuild.transformSync(text, { format: 'cjs', loader: 'js' }).code)(mod, mod.exports);
  return mod.exports;
}

/** What the kept groups need: parameters by name, mappers by name (a closure over mappers.js). */
function plan(src, used) {
  const read = (f) => fs.readFileSync(path.join(src, f), 'utf8');
  const paramsText = read('models/parameters.js');
  const params = new Map(declarations(paramsText).map((d) => [d.name, d.text]));
  const alias = new Map([...paramsText.matchAll(/(\w+) as (\w+Mapper)\b/g)].map((m) => [m[2], m[1]]));
  const keptParams = new Set();
  const roots = new Set();
  for (const group of used) {
    const text = read(`operations/${group}.js`);
    for (const [, name] of text.matchAll(/\bMappers\.(\w+)/g)) roots.add(name);
    for (const [, name] of text.matchAll(/\bParameters\.(\$?\w+)/g)) {
      if (!params.has(name))
        throw new Error(`arm-ml-bundle: operations/${group}.js names Parameters.${name}, which parameters.js does not declare`);
      keptParams.add(name);
      for (const [, a] of params.get(name).matchAll(/\b(\w+Mapper)\b/g)) roots.add(alias.get(a) ?? a);
    }
  }
  const mappersText = read('models/mappers.js');
  const mappers = evaluateMappers(mappersText);
  const texts = new Map(declarations(mappersText).map((d) => [d.name, d.text]));
  const keep = new Set();
  const walk = (o) => {
    if (!o || typeof o !== 'object' || o instanceof RegExp) return;
    if (typeof o.className === 'string') add(o.className);
    if (typeof o.uberParent === 'string') add(o.uberParent);
    for (const v of Object.values(o)) walk(v);
  };
  function add(name) {
    if (keep.has(name)) return;
    if (!mappers[name]) throw new Error(`arm-ml-bundle: mapper ${name} is referenced but mappers.js does not export it`);
    keep.add(name);
    walk(mappers[name]);
    // A subtype's declaration reads its parent's (Parent.type.modelProperties, ...polymorphicDiscriminator).
    for (const [, ref] of texts.get(name).matchAll(/\b(\w+)\.type\./g)) add(ref);
  }
  for (const r of roots) add(r);
  // Subtypes of a kept polymorphic type: the serializer picks them by discriminator value.
  for (let grew = true; grew;) {
    grew = false;
    for (const [key, m] of Object.entries(mappers.discriminators)) {
      const cls = m.type.className;
      if (!keep.has(cls) && (keep.has(key.split('.')[0]) || keep.has(m.type.uberParent))) {
        add(cls);
        grew = true;
      }
    }
  }
  const discriminators = Object.entries(mappers.discriminators).filter(([, m]) => keep.has(m.type.className));
  return { keptParams, keep, discriminators, alias };
}

function mappersModule(text, p) {
  const kept = declarations(text).filter((d) => d.name !== 'discriminators' && p.keep.has(d.name));
  const table = p.discriminators.map(([key, m]) => `  ${JSON.stringify(key)}: ${m.type.className},`).join('\n');
  return `${kept.map((d) => d.text.trimEnd()).join('\n')}\nexport let discriminators = {\n${table}\n};\n`;
}

function parametersModule(text, p) {
  const kept = declarations(text).filter((d) => p.keptParams.has(d.name));
  const used = new Set(kept.flatMap((d) => [...d.text.matchAll(/\b(\w+Mapper)\b/g)].map((m) => m[1])));
  const imports = [...used].map((a) => `${p.alias.get(a)} as ${a}`).join(', ');
  return `${imports ? `import { ${imports} } from "./mappers";\n` : ''}${kept.map((d) => d.text.trimEnd()).join('\n')}\n`;
}

function operationsModule(src, used) {
  const groups = [...fs.readFileSync(path.join(src, 'operations', 'index.js'), 'utf8').matchAll(/^export \* from "\.\/(\w+)";/gm)].map(
    (m) => m[1],
  );
  for (const g of used)
    if (!groups.includes(g)) throw new Error(`arm-ml-bundle: '${g}' is not an operation group of @azure/arm-machinelearning`);
  const lines = [
    'const unbundled = (group) => new Proxy({}, { get(_, key) {',
    "  if (typeof key !== 'string' || key === 'then') return undefined;",
    "  throw new Error(`@azure/arm-machinelearning's ${group}.${key} is not bundled: add '${group}' to this task's ML_OPERATIONS in scripts/build.mjs`);",
    '} });',
  ];
  for (const g of groups) {
    const file = JSON.stringify(path.join(src, 'operations', `${g}.js`));
    lines.push(
      used.has(g)
        ? `export { ${implName(g)} } from ${file};`
        : `export class ${implName(g)} { constructor() { return unbundled(${JSON.stringify(g)}); } }`,
    );
  }
  return lines.join('\n');
}

/** The plugin for a bundle whose code calls the operation groups `groups` (file names in dist-esm/src/operations) through the SDK. */
export function armMlBundle(groups = BASE_ML_OPERATIONS) {
  const used = new Set(groups);
  let cached;
  const planFor = (src) => (cached ??= plan(src, used));
  return {
    name: 'arm-ml-bundle',
    setup(b) {
      b.onResolve({ filter: /^\.\/operations$/ }, (a) => {
        if (!SRC.test(a.importer) || !/azureMachineLearningWorkspaces\.js$/.test(a.importer)) return undefined;
        // A path without node_modules in it: the build reads package folders from the metafile's inputs.
        return { path: 'operations', namespace: 'arm-ml-operations', pluginData: path.dirname(a.importer) };
      });
      b.onLoad({ filter: /.*/, namespace: 'arm-ml-operations' }, (a) => ({
        contents: operationsModule(a.pluginData, used),
        loader: 'js',
        resolveDir: path.join(a.pluginData, 'operations'),
      }));
      b.onLoad({ filter: /[\\/]arm-machinelearning[\\/]dist-esm[\\/]src[\\/]models[\\/](mappers|parameters)\.js$/ }, (a) => {
        const text = fs.readFileSync(a.path, 'utf8');
        const p = planFor(path.resolve(path.dirname(a.path), '..'));
        return { contents: a.path.endsWith('mappers.js') ? mappersModule(text, p) : parametersModule(text, p), loader: 'js' };
      });
    },
  };
}
