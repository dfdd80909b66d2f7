// SPDX-License-Identifier: MIT
// Runs nsfwjs itself (pure-JavaScript CPU backend) on exactly the pixels the C
// side sees, through nsfwjs's own preprocessing (x / 255, no resize at
// 224×224), and writes the class probabilities and the same pooled features as
// bb-tool dump, for tests/test-backbone-nsfwjs.py to compare.
//
//   NODE_PATH=<folder with nsfwjs and @tensorflow/tfjs> node reference.js PIXELS.rgb OUT.json
//
// PIXELS.rgb holds n images of 224×224×3 uint8 RGB, back to back.
"use strict";
const fs = require("fs");
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");

// Keep in sync with daemon/backbone/features.c.
const FEATURES = [
    ["b12_out", "block_12_add"],
    ["b13_expand", "block_13_expand_relu"],
    ["b16_project", "block_16_project_BN"],
    ["final", "out_relu"],
];
const SIZE = 224;

function meanMax(t) {
    // t: [1, h, w, c] → [mean(c), max(c)]
    return tf.tidy(() => tf.concat([t.mean([0, 1, 2]), t.max([0, 1, 2])]).arraySync());
}

async function main() {
    const [pixelPath, outPath] = process.argv.slice(2);
    await tf.setBackend("cpu");
    const raw = fs.readFileSync(pixelPath);
    const per = SIZE * SIZE * 3;
    if (raw.length === 0 || raw.length % per !== 0)
        throw new Error(`${pixelPath}: ${raw.length} bytes is not a whole number of 224×224×3 images`);
    const n = raw.length / per;
    const model = await nsfwjs.load("MobileNetV2", { size: SIZE });
    const out = { probs: [], features: {} };
    for (const [name, layer] of FEATURES) out.features[name] = { layer, values: [] };

    // One more model with every pooled layer as an output: one pass per image
    // for the features, on the same preprocessing nsfwjs.infer() applies.
    const layers = model.model;
    const taps = tf.model({
        inputs: layers.inputs,
        outputs: FEATURES.map(([, layer]) => layers.getLayer(layer).output),
    });
    for (let i = 0; i < n; i++) {
        const img = tf.tensor3d(new Uint8Array(raw.buffer, raw.byteOffset + i * per, per), [SIZE, SIZE, 3], "int32");
        // nsfwjs's own API, by class name, so the class order is checked too
        const classes = await model.classify(img, 5);
        out.probs.push(Object.fromEntries(classes.map((c) => [c.className, c.probability])));
        const x = tf.tidy(() => img.toFloat().div(255).reshape([1, SIZE, SIZE, 3]));
        const outs = taps.predict(x);
        FEATURES.forEach(([name], j) => out.features[name].values.push(meanMax(outs[j])));
        tf.dispose([img, x, ...outs]);
    }
    fs.writeFileSync(outPath, JSON.stringify(out));
}

main().catch((e) => {
    console.error(`reference.js: ${e.stack || e}`);
    process.exit(1);
});
