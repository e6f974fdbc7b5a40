/**
 * Bench worker (run by bench.ts with NODE_EXTRA_CA_CERTS=the emulator's CA): one AmlPipelineJob
 * local-data upload of a folder to LocalUpload/<hash>/ on the emulated datastore container, with
 * the task's own code (snapshotCode, uploadToDatastore). Prints {ms, bytes, files, hash} as JSON.
 * argv: folder, container URL, SAS token.
 */
import { snapshotCode, objectHash, uploadToDatastore } from '../tasks/common/upload';

async function main(): Promise<void> {
  const [folder, containerUrl, token] = process.argv.slice(2);
  const t = process.hrtime.bigint();
  const snap = snapshotCode(folder!, folder!, 'bench data');
  const r = await uploadToDatastore(
    snap,
    { datastore: 'workspaceblobstore', containerUrl: containerUrl!, credential: { kind: 'sas', token: token! } },
    () => undefined,
  );
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(JSON.stringify({ ms, bytes: r.uploadedBytes, files: snap.files.length, hash: objectHash(snap), path: r.path }));
}

void main();
