// Test PKI: a CA and a loopback server certificate, plus self-signed client certificates
// for service principals. Keys come from node's native generator (fast); node-forge only
// builds and signs the X.509 structures.
import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

/** Bump when the certificate layout changes so stale caches are ignored. */
// v2: the server certificate also names api.github.com (github.com's API, tunnelled to the emulator in tests).
// v3: and *.blob.core.windows.net (storage accounts by their public names, tunnelled to Azurite in tests).
const TLS_CACHE_VERSION = 'aml-emulator-tls-v3';

/** Public cloud blob host suffix: tests reach <account>.blob.core.windows.net through tunnelHosts. */
export const PUBLIC_BLOB_SUFFIX = 'blob.core.windows.net';

export interface TlsMaterial {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** PEM file holding only the CA certificate: the value for NODE_EXTRA_CA_CERTS. */
  caFile: string;
}

export interface GeneratedCertificate {
  certPem: string;
  /** PKCS#8 private key. */
  keyPem: string;
  /** Key then certificate, the shape Azure DevOps stores in servicePrincipalCertificate. */
  combinedPem: string;
  thumbprintSha1Hex: string;
  thumbprintSha256Hex: string;
}

function newRsaKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

function serial(): string {
  // Positive serial: clear the top bit.
  const b = randomBytes(16);
  b[0] = b[0] & 0x7f;
  return b.toString('hex');
}

interface CertSpec {
  subjectCn: string;
  publicPem: string;
  issuerCn: string;
  signerPrivatePem: string;
  days: number;
  extensions: object[];
}

function buildCert(spec: CertSpec): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicPem);
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + spec.days * 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: 'commonName', value: spec.subjectCn }]);
  cert.setIssuer([{ name: 'commonName', value: spec.issuerCn }]);
  cert.setExtensions(spec.extensions);
  cert.sign(forge.pki.privateKeyFromPem(spec.signerPrivatePem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function thumbprints(certPem: string): { sha1: string; sha256: string } {
  const der = new X509Certificate(certPem).raw;
  return { sha1: createHash('sha1').update(der).digest('hex'), sha256: createHash('sha256').update(der).digest('hex') };
}

/** A self-signed certificate for a service principal's certificate credential. */
export function makeSelfSignedCertificate(commonName: string, days = 365): GeneratedCertificate {
  const keys = newRsaKeyPair();
  const certPem = buildCert({
    subjectCn: commonName,
    issuerCn: commonName,
    publicPem: keys.publicPem,
    signerPrivatePem: keys.privatePem,
    days,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  const t = thumbprints(certPem);
  return {
    certPem,
    keyPem: keys.privatePem,
    combinedPem: `${keys.privatePem}${certPem}`,
    thumbprintSha1Hex: t.sha1.toUpperCase(),
    thumbprintSha256Hex: t.sha256.toUpperCase(),
  };
}

interface CachedTls {
  version: string;
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

function generateTls(): CachedTls {
  const ca = newRsaKeyPair();
  const caCertPem = buildCert({
    subjectCn: 'AML Secure MLOps Emulator Test CA',
    issuerCn: 'AML Secure MLOps Emulator Test CA',
    publicPem: ca.publicPem,
    signerPrivatePem: ca.privatePem,
    days: 3650,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = newRsaKeyPair();
  const serverCertPem = buildCert({
    subjectCn: 'localhost',
    issuerCn: 'AML Secure MLOps Emulator Test CA',
    publicPem: server.publicPem,
    signerPrivatePem: ca.privatePem,
    days: 825,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
          { type: 2, value: 'api.github.com' },
          { type: 2, value: `*.${PUBLIC_BLOB_SUFFIX}` },
        ],
      },
    ],
  });
  return { version: TLS_CACHE_VERSION, caCertPem, serverCertPem, serverKeyPem: server.privatePem };
}

function readCache(path: string): CachedTls | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const c = parsed as Partial<CachedTls>;
    if (c.version !== TLS_CACHE_VERSION || !c.caCertPem || !c.serverCertPem || !c.serverKeyPem) return undefined;
    // Regenerate well before expiry so a long test run never straddles it.
    const validTo = Date.parse(new X509Certificate(c.serverCertPem).validTo);
    if (!(validTo > Date.now() + 7 * 24 * 60 * 60 * 1000)) return undefined;
    return { version: c.version, caCertPem: c.caCertPem, serverCertPem: c.serverCertPem, serverKeyPem: c.serverKeyPem };
  } catch {
    return undefined;
  }
}

function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Loads the CA and server certificate from the tmpdir cache, generating them on first use.
 * The CA file name is derived from the CA's content, so concurrent processes that race on
 * generation never point NODE_EXTRA_CA_CERTS at a CA that did not sign their server cert.
 */
export function loadTlsMaterial(): TlsMaterial {
  const cachePath = join(tmpdir(), `${TLS_CACHE_VERSION}.json`);
  let material = readCache(cachePath);
  if (!material) {
    material = generateTls();
    writeAtomic(cachePath, JSON.stringify(material));
  }
  const caFile = join(tmpdir(), `aml-emulator-ca-${createHash('sha256').update(material.caCertPem).digest('hex').slice(0, 16)}.pem`);
  if (!existsSync(caFile) || readFileSync(caFile, 'utf8') !== material.caCertPem) writeAtomic(caFile, material.caCertPem);
  return { caCertPem: material.caCertPem, serverCertPem: material.serverCertPem, serverKeyPem: material.serverKeyPem, caFile };
}
