/**
 * Registry model URIs, import-free so an entry point can check its inputs with them before
 * anything heavy loads.
 */

/** `azureml://registries/<registry>/models/<name>/versions/<version>` */
export function registryModelUri(registry: string, name: string, version: string): string {
  return `azureml://registries/${registry}/models/${name}/versions/${version}`;
}

const REGISTRY_MODEL = /^azureml:\/\/registries\/([^/]+)\/models\/([^/]+)\/versions\/([^/]+)$/i;

/** The parts of a registry model URI, or undefined for anything else. */
export function parseRegistryModelUri(text: string): { registry: string; name: string; version: string } | undefined {
  const m = REGISTRY_MODEL.exec(text.trim());
  return m ? { registry: m[1]!, name: decodeURIComponent(m[2]!), version: decodeURIComponent(m[3]!) } : undefined;
}
