/**
 * What an open engine view costs the server: `bench serve` throughput with and without a viewer
 * reading /engine/snapshots (4 a second, as the page does, from another process), alternating,
 * medians of `--runs` each.
 *
 *   npx tsx scripts/dashboard-overhead.ts --model kjv-mini --runs 3
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { machineInfo, median, writeJson } from '../src/bench/report.js';
import { runServeBench } from '../src/bench/serve.js';
import { startServer } from '../src/server/serve.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'kjv-mini' },
    runs: { type: 'string', default: '3' },
    'num-prompts': { type: 'string', default: '64' },
    'output-len': { type: 'string', default: '64' },
  },
});
const server = await startServer({ model: values.model!, port: 0, log: () => {}, handleSignals: false });
const engine = await server.ready;

/** A viewer in its own process, as a browser would be. */
function viewer(): () => void {
  const code = `fetch(${JSON.stringify(`${server.url}/engine/snapshots?interval=250`)}).then(async (r) => { for await (const c of r.body) JSON.parse('0'); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  return () => child.kill();
}

const bench = async (): Promise<number> =>
  (await runServeBench({ baseUrl: server.url, numPrompts: Number(values['num-prompts']), inputLen: 32, outputLen: Number(values['output-len']), requestRate: Infinity, vocabSize: engine.modelConfig.vocabSize, resultFile: null, print: false })).outputThroughput;

const without: number[] = [];
const withView: number[] = [];
try {
  await bench(); // warm-up
  for (let i = 0; i < Number(values.runs); i++) {
    without.push(await bench());
    const stop = viewer();
    await new Promise((r) => setTimeout(r, 500));
    withView.push(await bench());
    stop();
  }
} finally {
  await server.close();
}
const a = median(without);
const b = median(withView);
console.log(`output tok/s, median of ${without.length}: without a viewer ${a.toFixed(1)} [${without.map((x) => x.toFixed(1)).join(', ')}]`);
console.log(`                          with the engine view open ${b.toFixed(1)} [${withView.map((x) => x.toFixed(1)).join(', ')}]`);
console.log(`change: ${((100 * (b - a)) / a).toFixed(1)} %  (${machineInfo().cpu}, ${machineInfo().cores} cores)`);
writeJson('bench-results/dashboard-overhead.json', { machine: machineInfo(), model: values.model, without, withView });
