#!/usr/bin/env node
// Runs one of face-api.js's networks as face-api.js itself does (@vladmandic/face-api's Node
// build, TF.js's CPU backend) on a float32 NHWC picture of RGB values 0..255, and writes its raw
// output as float32, NCHW where the output is a map. The networks: `recognition`
// (FaceRecognitionNet.forwardInput: the 128-value descriptor), `tiny` (TinyFaceDetector
// forwardInput at the picture's size: the 25-channel map), `landmark68tiny`
// (FaceLandmark68TinyNet.runNet: the 136 raw values before face-api's rescaling),
// `landmark68` (FaceLandmark68Net.runNet, the same), `expression` (FaceExpressionNet
// .forwardInput: seven probabilities), `ssd`
// (SsdMobilenetv1.forwardInput: per anchor the decoded box and the face score, as rows of
// five, before non-maximum suppression). Prints the output's shape as JSON.
//   node run-faceapi.js MANIFEST.json NET SIZE INPUT.f32 OUTPUT.f32
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [manifestPath, net, sizeArg, input, output] = process.argv.slice(2);
  if (!output) throw new Error('usage: run-faceapi.js MANIFEST.json NET SIZE INPUT.f32 OUTPUT.f32');
  const tf = require('@tensorflow/tfjs');
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  await tf.setBackend('cpu');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const dir = path.dirname(manifestPath);
  const data = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const weights = tf.io.decodeWeights(
    data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    manifest.flatMap((g) => g.weights),
  );
  const size = Number(sizeArg);
  const raw = fs.readFileSync(input);
  const x = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4), [1, size, size, 3]);
  const netInput = await faceapi.toNetInput(x);
  let out;
  if (net === 'recognition') {
    const n = new faceapi.FaceRecognitionNet();
    n.loadFromWeightMap(weights);
    out = n.forwardInput(netInput);
  } else if (net === 'tiny') {
    const n = new faceapi.TinyFaceDetector();
    n.loadFromWeightMap(weights);
    out = n.forwardInput(netInput, size).transpose([0, 3, 1, 2]);
  } else if (net === 'landmark68tiny') {
    const n = new faceapi.FaceLandmark68TinyNet();
    n.loadFromWeightMap(weights);
    out = n.runNet(netInput);
  } else if (net === 'landmark68') {
    const n = new faceapi.FaceLandmark68Net();
    n.loadFromWeightMap(weights);
    out = n.runNet(netInput);
  } else if (net === 'expression') {
    const n = new faceapi.FaceExpressionNet();
    n.loadFromWeightMap(weights);
    out = n.forwardInput(netInput);
  } else if (net === 'ssd') {
    const n = new faceapi.SsdMobilenetv1();
    n.loadFromWeightMap(weights);
    const { boxes, scores } = n.forwardInput(netInput);
    out = tf.concat([boxes[0], tf.expandDims(scores[0], 1)], 1);
  } else {
    throw new Error(`unknown network ${net}`);
  }
  fs.writeFileSync(output, Buffer.from((await out.data()).buffer));
  process.stdout.write(JSON.stringify(out.shape) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
