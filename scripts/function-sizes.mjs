// Lists the longest functions in the product code (tasks/, cli/), by source lines from the
// declaration to its closing brace. `node scripts/function-sizes.mjs [--top N] [--over N]`;
// test/code-shape.test.ts holds the product to the 150-line rule with the same measure.
import ts from 'typescript';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules') yield* sources(path);
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

function nameOf(node, file) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name && ts.isPrivateIdentifier(node.name)) return node.name.text;
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  return '(anonymous)';
}

/** Every function-like node in the product code with its length in lines. */
export function functionSizes(dirs = ['tasks', 'cli']) {
  const out = [];
  for (const dir of dirs) {
    for (const path of sources(join(root, dir))) {
      const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
          const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
          out.push({ file: relative(root, path), line: start + 1, name: nameOf(node, file), lines: end - start + 1 });
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
    }
  }
  return out.sort((a, b) => b.lines - a.lines);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (flag, fallback) => {
    const at = process.argv.indexOf(flag);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const top = arg('--top', 15);
  const over = arg('--over', 0);
  const sizes = functionSizes();
  const shown = sizes.filter((f) => f.lines > over).slice(0, top);
  for (const f of shown) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
  console.log(`${sizes.length} functions; ${sizes.filter((f) => f.lines > 150).length} over 150 lines`);
}
