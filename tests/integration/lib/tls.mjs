// SPDX-License-Identifier: Apache-2.0
// Test certificates made with the openssl CLI at run time: a throwaway CA and a server
// certificate for 127.0.0.1 signed by it, for TLS on the mock upstream and on the gateway's
// listener. Tests that use it declare needs('openssl').

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir } from './harness.mjs';

// Writes ca.pem, ca.key, server.pem and server.key (EC P-256, valid for 2 days, server SAN
// IP:127.0.0.1) into a temporary folder that the harness removes when the test file exits.
// Returns {dir, caFile, ca (the CA certificate as a Buffer), caKey, cert, key} with file paths.
export function makeCertificates() {
    const dir = makeTempDir('sluice-tls-');
    const file = (name) => path.join(dir, name);
    const openssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
        '-subj', '/CN=Sluice Test CA',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
    fs.writeFileSync(file('server.ext'), 'basicConstraints=CA:FALSE\n'
        + 'keyUsage=critical,digitalSignature\n'
        + 'extendedKeyUsage=serverAuth\n'
        + 'subjectAltName=IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
        '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext'));
    return {
        dir,
        caFile: file('ca.pem'),
        ca: fs.readFileSync(file('ca.pem')),
        caKey: file('ca.key'),
        cert: file('server.pem'),
        key: file('server.key'),
    };
}
