"""The official SDK (azure-ai-ml, Debian's python3-azure) as a second, independent translator.

For each job YAML: load_job, then the SDK's own resolution (JobOperations
._resolve_arm_id_or_upload_dependencies, ComponentOperations._resolve_arm_id_or_upload_dependencies,
OperationOrchestrator.get_asset_arm_id) with the service calls replaced: anonymous code,
environments and components are recorded instead of uploaded and PUT, local data gets a
LocalUpload URI instead of being uploaded, and a label resolves to the version 'LATEST'. Then
to_rest_job_object(job) gives the body the SDK would PUT.

stdin: {"files": [...], "scope": {"subscription": ..., "resourceGroup": ..., "workspace": ...}}
stdout: one JSON document: [{"file", "ok", "error"?, "body"?, "components", "environments", "codes", "uploads"}]
"""
import contextlib
import hashlib
import io
import json
import os
import sys
import traceback


def main():
    request = json.load(sys.stdin)
    scope = request["scope"]
    real_stdout = sys.stdout
    results = []
    # The SDK prints warnings to stdout; only the JSON document goes there.
    with contextlib.redirect_stdout(sys.stderr):
        from azure.ai.ml import MLClient, load_job
        from azure.ai.ml.constants._common import AzureMLResourceType, VERSIONED_RESOURCE_ID_FORMAT, AZUREML_RESOURCE_PROVIDER
        from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object
        from azure.ai.ml.entities._builders import BaseNode
        from azure.ai.ml.operations import _operation_orchestrator as orch_mod
        from azure.ai.ml.operations import _job_operations as job_mod
        from azure.ai.ml._utils._asset_utils import get_object_hash, get_ignore_file

        class NoCredential:
            def get_token(self, *scopes, **kwargs):
                raise RuntimeError("the translation oracle makes no service calls")

        client = MLClient(NoCredential(), scope["subscription"], scope["resourceGroup"], scope["workspace"])
        recorded = {}

        def versioned(kind, name, version):
            return VERSIONED_RESOURCE_ID_FORMAT.format(
                scope["subscription"], scope["resourceGroup"], AZUREML_RESOURCE_PROVIDER, scope["workspace"], kind, name, version
            )

        def local_hash(path):
            return get_object_hash(path, get_ignore_file(path))

        def fake_code(self, code_asset, register_asset=True):
            path = code_asset.path if os.path.isabs(str(code_asset.path)) else os.path.join(str(code_asset.base_path), str(code_asset.path))
            path = os.path.normpath(path)
            h = local_hash(path)
            recorded["codes"].append({"path": path, "hash": h})
            return versioned("codes", h, "1")

        def fake_environment(self, environment, register_asset=True):
            if environment.id:
                return environment.id
            if environment.build is not None and environment.build.path and not str(environment.build.path).startswith(("http", "azureml:")):
                ctx = environment.build.path
                ctx = ctx if os.path.isabs(ctx) else os.path.normpath(os.path.join(str(environment.base_path), ctx))
                h = local_hash(ctx)
                recorded["uploads"].append({"path": ctx, "hash": h, "datastore": "workspaceblobstore"})
                environment.build.path = "https://uploaded.example/LocalUpload/%s/%s/" % (h, os.path.basename(ctx))
            environment._is_anonymous = True
            name, version = environment.name, environment.version
            body = environment._to_rest_object().serialize()
            recorded["environments"].append({"name": name, "version": version, "body": body})
            return versioned("environments", name, version)

        def fake_component(self, component):
            if component.id:
                return component.id
            client.components._resolve_arm_id_or_upload_dependencies(component)
            name, version = component._get_rest_name_version()
            body = component._to_rest_object().serialize()
            recorded["components"].append({"name": name, "version": version, "body": body})
            component._id = versioned("components", name, version)
            return component.id

        def fake_label(self, aml_id, azureml_type):
            from azure.ai.ml._utils._arm_id_utils import parse_name_label
            name, label = parse_name_label(aml_id)
            if azureml_type not in AzureMLResourceType.VERSIONED_TYPES or azureml_type == AzureMLResourceType.CODE or not label:
                return aml_id, None
            return name, "LATEST"

        def fake_upload(operation_scope, datastore_operation, path, datastore_name="workspaceblobstore", **kwargs):
            path = os.path.normpath(str(path))
            h = local_hash(path)
            recorded["uploads"].append({"path": path, "hash": h, "datastore": datastore_name})
            return "azureml://datastores/%s/paths/LocalUpload/%s/%s" % (datastore_name or "workspaceblobstore", h, os.path.basename(path))

        orch_mod.OperationOrchestrator._get_code_asset_arm_id = fake_code
        orch_mod.OperationOrchestrator._get_environment_arm_id = fake_environment
        orch_mod.OperationOrchestrator._get_component_arm_id = fake_component
        orch_mod.OperationOrchestrator._resolve_name_version_from_name_label = fake_label
        job_mod._upload_and_generate_remote_uri = fake_upload

        for entry in request["files"]:
            recorded.update(components=[], environments=[], codes=[], uploads=[])
            out = {"file": entry["file"]}
            try:
                job = load_job(entry["file"], params_override=entry.get("override") or [])
                if isinstance(job, BaseNode) and type(job).__name__ not in ("Command", "Spark"):
                    job = job._to_job()
                client.jobs._resolve_arm_id_or_upload_dependencies(job)
                rest = to_rest_job_object(job)
                out["body"] = rest.serialize()
                out["name"] = getattr(rest, "name", None) or job.name
                out["ok"] = True
            except Exception as e:  # the SDK's refusal is a result too
                out["ok"] = False
                out["error"] = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0][:400] if str(e).strip() else "")
                out["trace"] = traceback.format_exc()[-1500:]
            out.update({k: recorded[k] for k in ("components", "environments", "codes", "uploads")})
            results.append(out)
    json.dump(results, real_stdout)


if __name__ == "__main__":
    main()
