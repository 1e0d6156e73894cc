// SPDX-License-Identifier: Apache-2.0
// A renderer for the subset of kustomize that deploy/kubernetes uses: resources (files and
// folders), configMapGenerator with kustomize's name hash, JSON 6902 patches with a kind and
// name target, namespace and images. A kustomization field outside that subset raises an
// error, so a new feature in the manifests cannot be rendered wrong without notice. The test
// compares the result with `kubectl kustomize` when kubectl is installed.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator',
    'patches', 'namespace', 'images']);

// Parses every document of a multi-document YAML file, skipping empty ones.
export function parseAllDocuments(text, file) {
    const objects = [];
    for (const doc of YAML.parseAllDocuments(text)) {
        if (doc.errors.length > 0) {
            throw new Error(`${file}: ${doc.errors[0].message}`);
        }
        const value = doc.toJS();
        if (value !== null && value !== undefined) {
            objects.push(value);
        }
    }
    return objects;
}

// Go's json.Marshal escapes these characters; kustomize hashes Go's encoding.
function goJson(value) {
    return JSON.stringify(value)
        .replace(/</g, '\\u003c')
        .replace(/>/g, '\\u003e')
        .replace(/&/g, '\\u0026')
        .replace(/\u2028/g, '\\u2028')
        .replace(/\u2029/g, '\\u2029');
}

function sortKeys(obj) {
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

// The 10-character suffix kustomize appends to a generated ConfigMap's name: the first ten hex
// digits of SHA-256 over {"data":...,"kind":"ConfigMap","name":""}, with the digits and
// letters 0,1,3,a,e replaced so the suffix cannot spell words. The name is empty because
// kustomize hashes the object before naming it (checked against kubectl's kustomize v5.5.0).
export function configMapHash(data) {
    const encoded = goJson({ data: sortKeys(data), kind: 'ConfigMap', name: '' });
    const hex = crypto.createHash('sha256').update(encoded).digest('hex').slice(0, 10);
    const swap = { 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' };
    return [...hex].map((c) => swap[c] || c).join('');
}

function decodePointer(pointer) {
    return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// Applies RFC 6902 add, replace and remove operations in place.
function applyJsonPatch(obj, ops, where) {
    for (const op of ops) {
        const parts = decodePointer(op.path);
        const last = parts.pop();
        let parent = obj;
        for (const p of parts) {
            parent = Array.isArray(parent) ? parent[Number(p)] : parent[p];
            if (parent === undefined) {
                throw new Error(`${where}: path ${op.path} not found`);
            }
        }
        const index = Array.isArray(parent) ? (last === '-' ? parent.length : Number(last)) : last;
        switch (op.op) {
        case 'add':
            if (Array.isArray(parent)) {
                parent.splice(index, 0, op.value);
            } else {
                parent[index] = op.value;
            }
            break;
        case 'replace':
            if (!(index in parent)) {
                throw new Error(`${where}: replace of missing path ${op.path}`);
            }
            parent[index] = op.value;
            break;
        case 'remove':
            if (!(index in parent)) {
                throw new Error(`${where}: remove of missing path ${op.path}`);
            }
            if (Array.isArray(parent)) {
                parent.splice(index, 1);
            } else {
                delete parent[index];
            }
            break;
        default:
            throw new Error(`${where}: unsupported patch operation "${op.op}"`);
        }
    }
}

// Pod specs of the workload kinds, for images and ConfigMap references.
export function podSpecOf(obj) {
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(obj.kind)) {
        return obj.spec?.template?.spec;
    }
    if (obj.kind === 'CronJob') {
        return obj.spec?.jobTemplate?.spec?.template?.spec;
    }
    if (obj.kind === 'Pod') {
        return obj.spec;
    }
    return undefined;
}

export function containersOf(podSpec) {
    return [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
}

function renameConfigMapRefs(objects, renames) {
    for (const obj of objects) {
        const spec = podSpecOf(obj);
        if (!spec) {
            continue;
        }
        for (const vol of spec.volumes || []) {
            if (vol.configMap && renames.has(vol.configMap.name)) {
                vol.configMap.name = renames.get(vol.configMap.name);
            }
        }
        for (const c of containersOf(spec)) {
            for (const from of c.envFrom || []) {
                if (from.configMapRef && renames.has(from.configMapRef.name)) {
                    from.configMapRef.name = renames.get(from.configMapRef.name);
                }
            }
            for (const e of c.env || []) {
                const ref = e.valueFrom?.configMapKeyRef;
                if (ref && renames.has(ref.name)) {
                    ref.name = renames.get(ref.name);
                }
            }
        }
    }
}

function applyImages(objects, images) {
    for (const obj of objects) {
        const spec = podSpecOf(obj);
        if (!spec) {
            continue;
        }
        for (const c of containersOf(spec)) {
            const name = c.image.replace(/[@:][^/]*$/, '');
            const rule = images.find((i) => i.name === name);
            if (!rule) {
                continue;
            }
            let image = rule.newName || name;
            if (rule.digest) {
                image += `@${rule.digest}`;
            } else if (rule.newTag !== undefined) {
                image += `:${rule.newTag}`;
            }
            c.image = image;
        }
    }
}

// Renders the kustomization in folder `dir`; returns the list of objects.
export function renderKustomization(dir) {
    const file = path.join(dir, 'kustomization.yaml');
    const k = YAML.parse(fs.readFileSync(file, 'utf8'));
    for (const field of Object.keys(k)) {
        if (!SUPPORTED_FIELDS.has(field)) {
            throw new Error(`${file}: kustomization field "${field}" is not supported by `
                + 'tests/integration/lib/kustomize.mjs; extend the renderer');
        }
    }

    const objects = [];
    for (const res of k.resources || []) {
        const p = path.resolve(dir, res);
        if (fs.statSync(p).isDirectory()) {
            objects.push(...renderKustomization(p));
        } else {
            objects.push(...parseAllDocuments(fs.readFileSync(p, 'utf8'), p));
        }
    }

    const renames = new Map();
    for (const gen of k.configMapGenerator || []) {
        for (const field of Object.keys(gen)) {
            if (!['name', 'files'].includes(field)) {
                throw new Error(`${file}: configMapGenerator field "${field}" is not supported`);
            }
        }
        const data = {};
        for (const f of gen.files) {
            const [key, rel] = f.includes('=') ? f.split('=', 2) : [path.basename(f), f];
            data[key] = fs.readFileSync(path.resolve(dir, rel), 'utf8');
        }
        const hashed = `${gen.name}-${configMapHash(data)}`;
        renames.set(gen.name, hashed);
        objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: hashed }, data });
    }
    renameConfigMapRefs(objects, renames);

    for (const p of k.patches || []) {
        if (!p.target || !p.patch || p.path) {
            throw new Error(`${file}: only inline JSON 6902 patches with a target are supported`);
        }
        const ops = YAML.parse(p.patch);
        const matches = objects.filter((o) => o.kind === p.target.kind
            && o.metadata.name === p.target.name);
        if (matches.length === 0) {
            throw new Error(`${file}: patch target ${p.target.kind}/${p.target.name} not found`);
        }
        for (const o of matches) {
            applyJsonPatch(o, ops, `${file} patch of ${p.target.kind}/${p.target.name}`);
        }
    }

    if (k.namespace) {
        for (const o of objects) {
            o.metadata.namespace = k.namespace;
        }
    }
    if (k.images) {
        applyImages(objects, k.images);
    }
    return objects;
}
