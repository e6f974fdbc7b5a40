/**
 * The vendored official files the tests and the demo check against (testkit/reference,
 * sources and licences in its README). A fresh clone needs nothing beside it.
 */
import * as path from 'node:path';

export const OFFICIAL = path.join(__dirname, 'reference');
/** microsoft/azure-pipelines-task-lib tasks.schema.json (draft-04). */
export const TASK_SCHEMA = path.join(OFFICIAL, 'schemas', 'tasks.schema.json');
/** microsoft/azure-pipelines-vscode service-schema.json (draft-07). */
export const PIPELINES_SCHEMA = path.join(OFFICIAL, 'schemas', 'azure-pipelines.schema.json');
/** Azure/azure-rest-api-specs examples and other REST references, by source path. */
export const REST_REFERENCE = path.join(OFFICIAL, 'reference');
/** Real CLI v2 job YAML (Azure/azureml-examples, Azure/mlops-project-template). */
export const AZUREML_EXAMPLES = path.join(REST_REFERENCE, 'azureml-examples');
