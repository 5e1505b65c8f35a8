/**
 * The replica set's throughput next to one replica's, in one run: starts N `tinyvllm serve`
 * replicas behind HAProxy (deploy/haproxy/haproxy.cfg), then runs `bench serve` against one
 * replica directly and against the balancer, with the same workload.
 *
 *   npm run bench:fleet -- --model kjv-mini --replicas 3 --num-prompts 96 --output-len 64
 *
 * Needs haproxy on PATH (Debian: apt-get install haproxy). Writes bench-results/fleet.json.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixed, machineInfo, printTable, writeJson } from '../src/bench/report.js';
import { resolveModel } from '../src/hub/hub.js';
import { parseConfig } from '../src/model/config.js';
import { runServeBench, type ServeBenchResult } from '../src/bench/serve.js';
import { Balancer, freePort, haproxyAvailable, Replica, SLOTS, waitUntil } from '../test/fleet/fleet.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'kjv-mini' },
    replicas: { type: 'string', default: '3' },
    'num-prompts': { type: 'string', default: '96' },
    'input-len': { type: 'string', default: '64' },
    'output-len': { type: 'string', default: '64' },
    'threads-per-replica': { type: 'string', default: '1' },
  },
});
const n = Number(values.replicas);
if (!(n >= 1 && n <= SLOTS)) throw new Error(`--replicas must be 1..${SLOTS}`);
if (!haproxyAvailable()) throw new Error('haproxy is not installed (Debian: apt-get install haproxy)');

// Random prompt ids must fit the model's vocabulary.
const modelDir = await resolveModel(values.model!);
const configFile = join(modelDir, 'config.json');
const vocabSize = parseConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile).vocabSize;

const ports: number[] = [];
for (let i = 0; i < SLOTS; i++) ports.push(await freePort());
process.stderr.write(`starting ${n} replicas of ${values.model} and HAProxy...\n`);
const replicas = await Promise.all(ports.slice(0, n).map((p) => Replica.start(values.model!, p, ['--threads', values['threads-per-replica']!, '--kv-cache-memory', '256MiB'])));
const lb = await Balancer.start(ports);
try {
  await waitUntil(async () => (await lb.servers()).filter((s) => s.status === 'UP').length === n, 10_000, 'replicas UP');
  const workload = {
    servedModelName: 'tiny',
    numPrompts: Number(values['num-prompts']),
    inputLen: Number(values['input-len']),
    outputLen: Number(values['output-len']),
    requestRate: Infinity,
    vocabSize,
    seed: 0,
    resultFile: null,
    print: false,
  };
  const rows: [string, ServeBenchResult][] = [];
  rows.push(['one replica', await runServeBench({ ...workload, baseUrl: replicas[0]!.url })]);
  rows.push([`${n} replicas behind HAProxy`, await runServeBench({ ...workload, baseUrl: lb.url })]);
  const base = rows[0]![1].outputThroughput;
  printTable(`Fleet: ${n} replicas of ${values.model} behind HAProxy, ${workload.numPrompts} x (${workload.inputLen} + ${workload.outputLen}) tokens, all at once`, [
    { header: 'target', value: ([name]) => name },
    { header: 'ok', value: ([, r]) => r.completed },
    { header: 'failed', value: ([, r]) => r.failed },
    { header: 'output tok/s', value: ([, r]) => fixed(r.outputThroughput) },
    { header: 'req/s', value: ([, r]) => fixed(r.requestThroughput, 2) },
    { header: 'TTFT p50 ms', value: ([, r]) => fixed(r.ttftMs.median) },
    { header: 'ITL p50 ms', value: ([, r]) => fixed(r.itlMs.median, 2) },
    { header: 'vs one', value: ([, r]) => `${fixed(r.outputThroughput / base, 2)}x` },
  ], rows);
  const machine = machineInfo();
  console.log(`CPU: ${machine.cpu} x ${machine.cores} (the replicas share these cores)`);
  console.log(`JSON: ${writeJson('bench-results/fleet.json', { machine, replicas: n, model: values.model, results: Object.fromEntries(rows) })}`);
} finally {
  await lb.stop();
  await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
}
