/**
 * Azure ML naming rules shared by the tasks. Kept free of imports: the tasks check inputs with
 * them in index.js, before anything heavy loads.
 */

/** Model names: letters, digits, '-', '_' and '.', starting with a letter or digit, at most 255, not ending with '.'. */
export function isModelName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name) && !name.endsWith('.');
}
