/**
 * Azure ML naming rules shared by the tasks. Kept free of imports: the tasks check inputs with
 * them in index.js, before anything heavy loads.
 */

/** Model names: letters, digits, '-', '_' and '.', starting with a letter or digit, at most 255, not ending with '.'. */
export function isModelName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name) && !name.endsWith('.');
}

/** Azure ML registry names (RegistryNameParameter of the registries API): 3 to 33 letters, digits, '-' and '_', starting with a letter or digit. */
export function isRegistryName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/.test(name);
}
