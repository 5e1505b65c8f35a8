/**
 * The container image and Kubernetes manifests under deploy/, validated offline: the Dockerfile by
 * dockerfile-utils' checker, Kubernetes objects against their API schemas (kubernetes-models, the
 * Gateway API models), the InferencePool against its v1 schema, and the values that must agree
 * across files (ports, labels, block size, grace period, metric names, serve flags) checked here.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { Ajv } from 'ajv';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const CLI = join(ROOT, 'src/cli/index.ts');

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> };

function loadManifests(): Obj[] {
  const out: Obj[] = [];
  for (const f of readdirSync(join(DEPLOY, 'k8s')).filter((n) => n.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DEPLOY, 'k8s', f), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${f}: ${doc.errors[0]!.message}`);
      out.push(doc.toJS() as Obj);
    }
  }
  return out;
}

/** The schema of inference.networking.k8s.io/v1 InferencePool's spec, from its API reference. */
const INFERENCE_POOL_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'inference.networking.k8s.io/v1' },
    kind: { const: 'InferencePool' },
    metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 253 } } },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['selector', 'targetPorts', 'endpointPickerRef'],
      properties: {
        selector: {
          type: 'object',
          additionalProperties: false,
          required: ['matchLabels'],
          properties: {
            matchLabels: {
              type: 'object',
              minProperties: 1,
              maxProperties: 64,
              additionalProperties: { type: 'string', maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' },
            },
          },
        },
        targetPorts: {
          type: 'array',
          minItems: 1,
          maxItems: 1,
          items: { type: 'object', additionalProperties: false, required: ['number'], properties: { number: { type: 'integer', minimum: 1, maximum: 65535 } } },
        },
        endpointPickerRef: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            group: { type: 'string', maxLength: 253 },
            kind: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' },
            name: { type: 'string', minLength: 1, maxLength: 253 },
            port: { type: 'object', additionalProperties: false, required: ['number'], properties: { number: { type: 'integer', minimum: 1, maximum: 65535 } } },
            failureMode: { enum: ['FailOpen', 'FailClose'] },
          },
        },
      },
    },
  },
} as const;

const VALIDATORS: Record<string, (o: Obj) => void> = {
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'v1/PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o as never).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as never).validate(),
  'rbac.authorization.k8s.io/v1/Role': (o) => new Role(o as never).validate(),
  'rbac.authorization.k8s.io/v1/RoleBinding': (o) => new RoleBinding(o as never).validate(),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o as never).validate(),
  'gateway.networking.k8s.io/v1/HTTPRoute': (o) => new HTTPRoute(o as never).validate(),
  'inference.networking.k8s.io/v1/InferencePool': (() => {
    const check = new Ajv({ allErrors: true }).compile(INFERENCE_POOL_SCHEMA);
    return (o: Obj) => {
      if (!check(o)) throw new Error(JSON.stringify(check.errors));
    };
  })(),
};

const manifests = loadManifests();
const find = (kind: string, name: string): Obj => {
  const o = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return o;
};

// Typed views of the pieces the cross-checks read.
type Container = { name: string; args?: string[]; env?: { name: string; value?: string }[]; ports?: { name?: string; containerPort: number }[]; readinessProbe?: { httpGet?: { path: string; port: string } }; livenessProbe?: { httpGet?: { path: string; port: string } } };
type PodSpec = { terminationGracePeriodSeconds?: number; containers: Container[] };
const podSpec = (d: Obj): PodSpec => (d.spec as { template: { spec: PodSpec } }).template.spec;
const podLabels = (d: Obj): Record<string, string> => (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
const server = podSpec(find('Deployment', 'tinyvllm')).containers[0]!;
const serveArgs = (server.env?.find((e) => e.name === 'TINYVLLM_ARGS')?.value ?? '').split(/\s+/).filter(Boolean);
const flag = (name: string): string | undefined => serveArgs[serveArgs.indexOf(name) + 1];

describe('Kubernetes manifests (deploy/k8s)', () => {
  test('every object validates against its API schema', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(10);
    for (const m of manifests) {
      const key = `${m.apiVersion}/${m.kind}`;
      const v = VALIDATORS[key];
      expect(v, `a validator for ${key}`).toBeDefined();
      expect(() => v!(m), `${key} ${m.metadata.name}`).not.toThrow();
    }
  });

  test('the validators catch mistakes (a string port, a missing pool selector)', () => {
    const d = structuredClone(find('Deployment', 'tinyvllm'));
    podSpec(d).containers[0]!.ports = [{ containerPort: '8000' as unknown as number }];
    expect(() => VALIDATORS['apps/v1/Deployment']!(d)).toThrow(/containerPort/);
    const pool = structuredClone(find('InferencePool', 'tinyvllm'));
    delete (pool.spec as Record<string, unknown>).selector;
    expect(() => VALIDATORS['inference.networking.k8s.io/v1/InferencePool']!(pool)).toThrow(/selector/);
  });

  test('the serve flags exist, and probes, ports and grace period agree', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const a of serveArgs.filter((x) => x.startsWith('--'))) expect(help.stdout, a).toContain(a);
    expect(server.ports).toEqual([{ name: 'http', containerPort: 8000 }]);
    expect(server.readinessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(server.livenessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
    const grace = Number(flag('--grace-period'));
    expect(grace).toBeGreaterThan(0);
    expect(podSpec(find('Deployment', 'tinyvllm')).terminationGracePeriodSeconds).toBeGreaterThan(grace);
    const svc = find('Service', 'tinyvllm').spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
    expect(svc.selector).toEqual(podLabels(find('Deployment', 'tinyvllm')));
    expect(svc.ports[0]!.targetPort).toBe('http');
  });

  test('the autoscaler scales the server Deployment on vllm:num_requests_waiting', () => {
    const hpa = find('HorizontalPodAutoscaler', 'tinyvllm').spec as { scaleTargetRef: { kind: string; name: string }; metrics: { pods: { metric: { name: string } } }[] };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'tinyvllm' });
    expect(hpa.metrics.map((m) => m.pods.metric.name)).toEqual(['vllm:num_requests_waiting']);
  });

  test('InferencePool, endpoint picker and HTTPRoute point at each other, with a matching block size', () => {
    const pool = find('InferencePool', 'tinyvllm').spec as { selector: { matchLabels: Record<string, string> }; targetPorts: { number: number }[]; endpointPickerRef: { name: string; port: { number: number } } };
    expect(pool.selector.matchLabels).toEqual(podLabels(find('Deployment', 'tinyvllm')));
    expect(pool.targetPorts[0]!.number).toBe(server.ports![0]!.containerPort);
    const eppSvc = find('Service', pool.endpointPickerRef.name).spec as { ports: { port: number }[]; selector: Record<string, string> };
    expect(eppSvc.ports[0]!.port).toBe(pool.endpointPickerRef.port.number);
    const epp = find('Deployment', pool.endpointPickerRef.name);
    expect(eppSvc.selector).toEqual(podLabels(epp));
    const eppArgs = podSpec(epp).containers[0]!.args!;
    expect(eppArgs[eppArgs.indexOf('--pool-name') + 1]).toBe('tinyvllm');
    expect(eppArgs[eppArgs.indexOf('--grpc-port') + 1]).toBe(String(pool.endpointPickerRef.port.number));

    const config = parseYaml(find('ConfigMap', 'tinyvllm-epp-config').data!['epp-config.yaml']!) as {
      kind: string;
      plugins: { type: string; name?: string; parameters?: Record<string, number> }[];
      schedulingProfiles: { plugins: { pluginRef: string }[] }[];
    };
    expect(config.kind).toBe('EndpointPickerConfig');
    const names = new Set(config.plugins.map((p) => p.name ?? p.type));
    for (const prof of config.schedulingProfiles) for (const p of prof.plugins) expect(names, p.pluginRef).toContain(p.pluginRef);
    // The picker hashes characters; one KV block of --block-size tokens is ~4 characters a token.
    const prefix = config.plugins.find((p) => p.type === 'prefix-cache-scorer')!;
    expect(prefix.parameters!.hashBlockSize).toBe(4 * Number(flag('--block-size')));

    const route = find('HTTPRoute', 'tinyvllm').spec as { rules: { backendRefs: { group: string; kind: string; name: string }[] }[] };
    expect(route.rules[0]!.backendRefs[0]).toEqual({ group: 'inference.networking.k8s.io', kind: 'InferencePool', name: 'tinyvllm' });
  });
});

describe('container image (deploy/Dockerfile)', () => {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  test('passes the Dockerfile checker, which does flag a broken file', () => {
    expect(lintDockerfile(text)).toEqual([]);
    expect(lintDockerfile('FROM node:20\nEXPOSE http\nUSER\n').length).toBe(2);
  });

  test('multi-stage on Node 20 slim, non-root, model cache volume, health check on /health', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-[a-z]+-slim\b/);
    const final = lines.slice(lines.indexOf(froms[1]!));
    expect(final.find((l) => l.startsWith('USER '))).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(final.some((l) => l.startsWith('VOLUME ') && l.includes('/models'))).toBe(true);
    expect(text).toMatch(/HEALTHCHECK[^\n]*\n[^\n]*\/health/);
    expect(final.find((l) => l.startsWith('ENTRYPOINT '))).toContain('tinyvllm-serve');
    // Everything COPY'd from the build context exists.
    for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      const srcs = l.split(/\s+/).slice(1, -1);
      for (const s of srcs) expect(existsSync(join(ROOT, s)), s).toBe(true);
    }
  });

  test('the entrypoint turns the environment into `tinyvllm serve` flags', () => {
    // A stand-in `node` that prints its arguments shows exactly what the entrypoint runs.
    const dir = mkdtempSync(join(tmpdir(), 'entrypoint-'));
    writeFileSync(join(dir, 'node'), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
    chmodSync(join(dir, 'node'), 0o755);
    const run = (env: Record<string, string>, args: string[] = []): string[] => {
      const r = spawnSync('sh', [join(DEPLOY, 'docker-entrypoint.sh'), ...args], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim().split('\n');
    };
    expect(run({})).toEqual(['/app/bin/tinyvllm.js', 'serve', 'gpt2', '--host', '0.0.0.0', '--port', '8000']);
    expect(run({ TINYVLLM_MODEL: 'kjv-mini', TINYVLLM_PORT: '9000', TINYVLLM_ARGS: '--block-size 32 --grace-period 5' }, ['--max-waiting', '8'])).toEqual([
      '/app/bin/tinyvllm.js', 'serve', 'kjv-mini', '--host', '0.0.0.0', '--port', '9000', '--block-size', '32', '--grace-period', '5', '--max-waiting', '8',
    ]);
  });
});
