"""The official SDK (azure-ai-ml, Debian's python3-azure) as a real client of the emulator.

One process runs every operation the test asks for against a live emulator: MLClient's ARM base
URL is the emulator's origin (AZUREML_DEV_URL_MFE, the SDK's developer override), storage is
reached at https://<account>.blob.core.windows.net through HTTPS_PROXY (a tunnel to the
emulator's Azurite), and TLS trusts the test CA through REQUESTS_CA_BUNDLE. The credential below
signs in as a seeded service principal with the client-credentials grant against the emulator's
Entra, as azure-identity's ClientSecretCredential would.

stdin: {"url", "tenantId", "clientId", "clientSecret", "subscription", "resourceGroup", "workspace",
        "operations": [{"op": "job" | "data" | "model" | "online", ...}]}
stdout: one JSON document, a result per operation: {"op", "ok", "error"?, "trace"?, ...what it returned}
"""
import contextlib
import json
import os
import sys
import time
import traceback

import requests


class EmulatorCredential:
    """get_token through the emulator's Entra (client credentials, v2.0 token endpoint)."""

    def __init__(self, authority, tenant_id, client_id, client_secret):
        self._endpoint = "%s/%s/oauth2/v2.0/token" % (authority.rstrip("/"), tenant_id)
        self._client_id = client_id
        self._client_secret = client_secret
        self._cache = {}

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        key = " ".join(scopes)
        cached = self._cache.get(key)
        if cached and cached.expires_on - 300 > time.time():
            return cached
        r = requests.post(
            self._endpoint,
            data={"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret, "scope": key},
            timeout=30,
        )
        if r.status_code != 200:
            raise RuntimeError("token request failed (%s): %s" % (r.status_code, r.text[:500]))
        body = r.json()
        token = AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))
        self._cache[key] = token
        return token


def failure(out, e):
    text = str(e).strip()
    out["ok"] = False
    out["error"] = "%s: %s" % (type(e).__name__, text[:1500])
    out["trace"] = traceback.format_exc()[-3000:]
    return out


TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")


def run_job(client, op):
    from azure.ai.ml import load_job

    out = {"op": "job", "file": op["file"]}
    # From the job's folder, as the examples' instructions run `az ml job create -f <file>`: 1.4.0
    # resolves some local paths (an AutoML job's training data) against the working directory.
    os.chdir(os.path.dirname(op["file"]))
    job = load_job(op["file"], params_override=op.get("override") or [])
    created = client.jobs.create_or_update(job)
    out.update(name=created.name, type=created.type, submitted_status=created.status)
    # The job as the service shows it later, until it ends (the emulator runs jobs quickly).
    deadline = time.time() + op.get("timeoutSeconds", 60)
    got = client.jobs.get(created.name)
    while got.status not in TERMINAL and time.time() < deadline:
        time.sleep(0.2)
        got = client.jobs.get(created.name)
    out.update(status=got.status, ok=True)
    return out


def run_data(client, op):
    from azure.ai.ml.entities import Data

    out = {"op": "data", "name": op["name"]}
    created = client.data.create_or_update(Data(name=op["name"], version=op.get("version"), path=op["path"], type=op.get("type", "uri_folder"), description="uploaded by the SDK client test"))
    got = client.data.get(op["name"], version=created.version)
    out.update(ok=True, version=created.version, path=created.path, type=created.type, got_path=got.path)
    return out


def run_model(client, op):
    from azure.ai.ml.entities import Model

    out = {"op": "model", "name": op["name"]}
    created = client.models.create_or_update(Model(name=op["name"], version=op.get("version"), path=op["path"], type=op.get("type", "custom_model")))
    got = client.models.get(op["name"], version=created.version)
    out.update(ok=True, version=created.version, path=created.path, type=created.type, got_path=got.path, got_version=got.version)
    return out


def run_online(client, op):
    from azure.ai.ml.entities import CodeConfiguration, Environment, KubernetesOnlineDeployment, KubernetesOnlineEndpoint, ManagedOnlineDeployment, ManagedOnlineEndpoint

    out = {"op": "online", "endpoint": op["endpoint"]}
    kubernetes = op.get("compute") is not None
    endpoint_kwargs = dict(name=op["endpoint"], auth_mode="key", description="created by the SDK client test")
    endpoint = KubernetesOnlineEndpoint(compute=op["compute"], **endpoint_kwargs) if kubernetes else ManagedOnlineEndpoint(**endpoint_kwargs)
    created = client.online_endpoints.begin_create_or_update(endpoint).result()
    out.update(endpoint_state=created.provisioning_state, scoring_uri=created.scoring_uri)
    dep_kwargs = dict(
        name=op["deployment"],
        endpoint_name=op["endpoint"],
        model=op["model"],
        code_configuration=CodeConfiguration(code=op["code"], scoring_script=op["scoringScript"]),
        environment=Environment(image=op["image"], conda_file=op.get("condaFile")),
        instance_type=op["instanceType"],
        instance_count=1,
    )
    deployment = KubernetesOnlineDeployment(**dep_kwargs) if kubernetes else ManagedOnlineDeployment(**dep_kwargs)
    dep = client.online_deployments.begin_create_or_update(deployment).result()
    out.update(deployment_state=dep.provisioning_state, deployment_model=dep.model if isinstance(dep.model, str) else getattr(dep.model, "id", None))
    # All traffic to the new deployment, as the SDK's samples do next.
    endpoint = client.online_endpoints.get(op["endpoint"])
    endpoint.traffic = {op["deployment"]: 100}
    updated = client.online_endpoints.begin_create_or_update(endpoint).result()
    out.update(traffic=updated.traffic, ok=True)
    return out


RUNNERS = {"job": run_job, "data": run_data, "model": run_model, "online": run_online}


def main():
    request = json.load(sys.stdin)
    real_stdout = sys.stdout
    results = []
    # The SDK prints progress and warnings to stdout; only the JSON document goes there.
    with contextlib.redirect_stdout(sys.stderr):
        from azure.ai.ml import MLClient
        from azure.ai.ml.constants._common import LROConfigurations

        # Timing only: the emulator's operations take milliseconds, so poll every 0.1 s instead of
        # the SDK's 5 s (deployments) and 30 s (the generated clients' default polling_interval).
        LROConfigurations.POLL_INTERVAL = 0.1
        credential = EmulatorCredential(request["url"], request["tenantId"], request["clientId"], request["clientSecret"])
        client = MLClient(credential, request["subscription"], request["resourceGroup"], request["workspace"], show_progress=False, polling_interval=0.1)
        for op in request["operations"]:
            out = {"op": op["op"]}
            started = time.time()
            try:
                out = RUNNERS[op["op"]](client, op)
            except Exception as e:  # the next operation still runs; the test names what failed
                failure(out, e)
                out.update({k: op[k] for k in ("file", "name", "endpoint") if k in op})
            out["seconds"] = round(time.time() - started, 2)
            results.append(out)
            print("sdk_client: %s %s %s" % (op["op"], op.get("file") or op.get("name") or op.get("endpoint"), "ok" if out.get("ok") else out.get("error")), file=sys.stderr)
    json.dump(results, real_stdout)


if __name__ == "__main__":
    main()
