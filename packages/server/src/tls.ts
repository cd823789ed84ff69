/**
 * TLS settings and development certificates. Every listener (HTTP + wss, and
 * tls:// for the stream transport) uses the same certificate; TLS 1.3 is the
 * default minimum.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Lowest TLS version accepted. Default 'TLSv1.3'. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface DevCertificate {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/**
 * Creates (or reuses) a self-signed certificate for localhost and 127.0.0.1
 * in `directory`, valid for one year. For development only: clients must be
 * told to trust it (SDK option `tls.ca`).
 */
export async function createDevCertificate(directory: string, hostnames: string[] = ['localhost']): Promise<DevCertificate> {
  mkdirSync(directory, { recursive: true });
  const certPath = join(directory, 'dev-cert.pem');
  const keyPath = join(directory, 'dev-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
  }
  // Real time, not the server's Clock: TLS peers check validity against their own wall clock.
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...hostnames.map((value) => ({ type: 2 as const, value })), { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }],
      },
    ],
  });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { cert: pems.cert, key: pems.private, certPath, keyPath };
}

/** Reads PEM files named by PARLEY_TLS_CERT / PARLEY_TLS_KEY, if both are set. */
export function tlsFromEnvironment(env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const certPath = env.PARLEY_TLS_CERT;
  const keyPath = env.PARLEY_TLS_KEY;
  if (!certPath || !keyPath) return undefined;
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}
