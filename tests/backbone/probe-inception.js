// SPDX-License-Identifier: MIT
// nsfwjs's InceptionV3 (its TF.js layers model, 299×299, pure-JavaScript CPU
// backend) on raw images, writing the mean over h×w of each named layer's
// output per image, for tests/backbone/probe-taste.py --inception (issue 13:
// is its ImageNet part, up to mixed5, a better object recogniser than the
// MobileNetV2 Fluff imports?). About 15 s per image on a loaded 2-core
// machine: a probe of a hundred crops, not a backbone.
//
//   NODE_PATH=<folder with nsfwjs and @tensorflow/tfjs> node probe-inception.js PIXELS.rgb OUT.json mixed2,mixed5
//
// PIXELS.rgb holds n images of 299×299×3 uint8 RGB, back to back; nsfwjs
// feeds the network x / 255, as here.
"use strict";
const fs = require("fs");
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");

const SIZE = 299;

async function main() {
    const [pixelPath, outPath, layerList] = process.argv.slice(2);
    await tf.setBackend("cpu");
    const raw = fs.readFileSync(pixelPath);
    const per = SIZE * SIZE * 3;
    if (raw.length === 0 || raw.length % per !== 0)
        throw new Error(`${pixelPath}: ${raw.length} bytes is not a whole number of 299×299×3 images`);
    const n = raw.length / per;
    const model = (await nsfwjs.load("InceptionV3", { size: SIZE })).model;
    // a model that ends at the deepest layer asked for: nothing above it runs
    const taps = tf.model({ inputs: model.inputs, outputs: layerList.split(",").map((l) => model.getLayer(l).output) });
    const out = [];
    for (let i = 0; i < n; i++) {
        const x = tf.tidy(() =>
            tf.tensor4d(new Uint8Array(raw.buffer, raw.byteOffset + i * per, per), [1, SIZE, SIZE, 3], "int32")
                .toFloat()
                .div(255));
        let outs = taps.predict(x);
        if (!Array.isArray(outs)) outs = [outs];
        out.push(outs.map((o) => tf.tidy(() => o.mean([0, 1, 2])).arraySync()));
        tf.dispose([x, ...outs]);
    }
    fs.writeFileSync(outPath, JSON.stringify(out));
}

main().catch((e) => {
    console.error(`probe-inception.js: ${e.stack || e}`);
    process.exit(1);
});
