// SPDX-License-Identifier: MIT
// ONNX Runtime (CPU) side of tests/bench/bench-backbone.py: loads MODEL once,
// then for every line "SECONDS" on stdin runs batches of BATCH random
// 3×224×224 images for that long and prints one JSON line. Kept alive between
// rounds so the benchmark can alternate engines without paying the load again.
//
//   NODE_PATH=<dir>/node_modules node bench-ort.js MODEL BATCH THREADS
'use strict';
const ort = require('onnxruntime-node');
const readline = require('readline');

async function main() {
    const [model, batchArg, threadsArg] = process.argv.slice(2);
    const batch = parseInt(batchArg, 10), threads = parseInt(threadsArg, 10);
    const session = await ort.InferenceSession.create(model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const data = new Float32Array(batch * 3 * 224 * 224);
    let seed = 12345;
    for (let i = 0; i < data.length; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        data[i] = (seed >>> 8) / (1 << 24);
    }
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, 224, 224]) };
    await session.run(feeds); // warm-up: the first run plans memory
    process.stdout.write(JSON.stringify({ ready: true }) + '\n');

    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
        const seconds = parseFloat(line);
        if (!(seconds > 0))
            break;
        let n = 0;
        const t0 = process.hrtime.bigint();
        let dt = 0;
        do {
            await session.run(feeds);
            n++;
            dt = Number(process.hrtime.bigint() - t0) / 1e9;
        } while (dt < seconds);
        process.stdout.write(JSON.stringify({
            engine: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : '',
            threads, batch, batches: n, images_per_s: Math.round(n * batch / dt * 1000) / 1000,
        }) + '\n');
    }
}

main().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
