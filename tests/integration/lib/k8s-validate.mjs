// SPDX-License-Identifier: Apache-2.0
// Validates Kubernetes objects against the API schemas of the kubernetes-models npm packages.
// Their validate() checks types, enums and required fields but accepts unknown fields, so a
// misspelled field (readinesProbe) would pass. checkUnknownFields() closes that gap: it walks
// the object along the packages' TypeScript declarations (one interface per API type) and
// reports every field that the type does not declare.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

// Module of each API group version in kubernetes-models; the core group is "v1".
function modulePath(apiVersion, kind) {
    if (apiVersion.startsWith('monitoring.coreos.com/')) {
        return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
    }
    return `kubernetes-models/${apiVersion}/${kind}`;
}

// Returns the model class of an object's apiVersion and kind, or throws naming them.
export async function modelClass(obj) {
    const spec = modulePath(obj.apiVersion, obj.kind);
    let mod;
    try {
        mod = await import(spec);
    } catch (err) {
        throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} (${spec}): ${err.message}`);
    }
    return mod[obj.kind];
}

const interfaceCache = new Map();

// Parses the first exported interface of a .d.ts file: its fields and their type strings, and
// the files its imported interface names come from.
function parseDeclaration(dtsFile) {
    if (interfaceCache.has(dtsFile)) {
        return interfaceCache.get(dtsFile);
    }
    const text = fs.readFileSync(dtsFile, 'utf8');
    const imports = new Map();
    for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
        const from = m[2].startsWith('.')
            ? path.resolve(path.dirname(dtsFile), m[2]) + '.d.ts'
            : require.resolve(m[2]).replace(/\.js$/, '.d.ts');
        for (const name of m[1].split(',').map((s) => s.trim())) {
            imports.set(name, from);
        }
    }
    const fields = new Map();
    const body = text.match(/^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m);
    if (body) {
        for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) {
            fields.set(m[1], m[2]);
        }
    }
    const parsed = { fields, imports, found: body !== null };
    interfaceCache.set(dtsFile, parsed);
    return parsed;
}

function walk(value, dtsFile, where, errors) {
    const decl = parseDeclaration(dtsFile);
    if (!decl.found || value === null || typeof value !== 'object' || Array.isArray(value)) {
        return;
    }
    for (const [key, child] of Object.entries(value)) {
        const type = decl.fields.get(key);
        if (type === undefined) {
            errors.push(`${where}.${key}: unknown field`);
            continue;
        }
        const element = type.match(/^Array<(I\w+)>$/);
        const named = element ? element[1] : type;
        const childFile = decl.imports.get(named);
        if (!childFile) {
            continue; // scalars, enums, maps and inline types are left to validate()
        }
        if (element && Array.isArray(child)) {
            child.forEach((item, i) => walk(item, childFile, `${where}.${key}[${i}]`, errors));
        } else {
            walk(child, childFile, `${where}.${key}`, errors);
        }
    }
}

// Returns the list of unknown-field errors of `obj`, each as "Kind/name.path: unknown field".
export function checkUnknownFields(obj) {
    const jsFile = require.resolve(modulePath(obj.apiVersion, obj.kind));
    const errors = [];
    walk(obj, jsFile.replace(/\.js$/, '.d.ts'), `${obj.kind}/${obj.metadata?.name}`, errors);
    return errors;
}
