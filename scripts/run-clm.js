#!/usr/bin/env node
// Runs one landmark search of a clmtrackr model as clmtrackr 1.1.2's own code does it, at the
// mean shape: SVM patch experts through src/svmfilter/svmfilter_fft.js with src/utils/fft.js
// (the path clm.js takes without WebGL), MOSSE ones through src/mossefilter/
// mosseFilterResponses.js on the mosse 0.1.1 package it imports. The face crop is placed in
// the model's frame the way banwatch's converter places it (src/detect/fingerprint/probe/
// convert/clm.rs, `placement`); around it the picture repeats its edge pixels.
// Patches are cut as clm.js cuts them (Math.round(x - side / 2), grey 0.3 R + 0.59 G + 0.11 B).
// Writes float32: the response maps (landmarks x WINDOW x WINDOW, row-major) and then each
// map's peak as (x, y) in the crop's pixels; prints the crop's side as JSON.
//   node run-clm.js MODEL.js CROP.f32 WINDOW OUT.f32
// WINDOW is the SVM search window (a MOSSE model's is its patch).
// CROP.f32 is RGB 0..255, height x width x 3, of the side the converter chose.
'use strict';
const fs = require('fs');
const path = require('path');

function clmModule(rel) {
  // clmtrackr's sources are ES modules in a package Node reads as CommonJS: load their text.
  const root = path.dirname(require.resolve('clmtrackr/package.json'));
  return fs.readFileSync(path.join(root, 'src', rel), 'utf8')
    .replace(/^import .*$/mg, '')
    .replace(/^export default (\w+);?\s*$/mg, 'return $1;');
}

function main() {
  const [modelPath, cropPath, windowArg, outPath] = process.argv.slice(2);
  const pModel = require(path.resolve(modelPath));
  const pm = pModel.patchModel;
  const n = pm.numPatches;
  const ps = pm.patchSize[0];
  const mosse = pm.patchType === 'MOSSE';
  // clm.js: a MOSSE model searches over its patch; an SVM patch is patch + window - 1.
  const sw = mosse ? ps : Number(windowArg);
  const pw = mosse ? sw : ps + sw - 1;
  const mean = pModel.shapeModel.meanShape;
  // The crop's placement (convert/clm.rs `placement`): by the eyes of the hints, the crop's
  // eyes 0.3 of its width apart on the line at 0.45 of its height; else 1.3 times the mean
  // shape's width, centred on it.
  let side, ox, oy;
  const h = pModel.hints || {};
  if (h.leftEye && h.rightEye && Math.abs(h.rightEye[0] - h.leftEye[0]) >= 2) {
    side = Math.round(Math.abs(h.rightEye[0] - h.leftEye[0]) / 0.3);
    ox = Math.round((h.leftEye[0] + h.rightEye[0]) / 2 - side / 2);
    oy = Math.round((h.leftEye[1] + h.rightEye[1]) / 2 - 0.45 * side);
  } else {
    const xs = mean.map((p) => p[0]);
    const ys = mean.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    side = Math.round(1.3 * (x1 - x0));
    ox = Math.round((x0 + x1) / 2 - side / 2);
    oy = Math.round((y0 + y1) / 2 - side / 2);
  }
  const rgb = new Float32Array(fs.readFileSync(cropPath).buffer.slice(0));
  if (rgb.length !== side * side * 3) throw new Error(`crop of ${rgb.length} values, want ${side}x${side}x3`);
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi - 1);
  const grey = (x, y) => {
    const i = (clamp(y - oy, side) * side + clamp(x - ox, side)) * 3;
    return rgb[i] * 0.3 + rgb[i + 1] * 0.59 + rgb[i + 2] * 0.11;
  };
  const patches = [];
  for (let i = 0; i < n; i++) {
    const px = Math.round(mean[i][0] - pw / 2);
    const py = Math.round(mean[i][1] - pw / 2);
    const p = new Float64Array(pw * pw);
    for (let y = 0; y < pw; y++) for (let x = 0; x < pw; x++) p[y * pw + x] = grey(px + x, py + y);
    patches.push(p);
  }
  let responses;
  if (mosse) {
    // mosse.js draws on a canvas it never reads when only responses are asked for.
    global.document = { createElement: () => ({ setAttribute() {}, getContext: () => ({}) }) };
    const mosseLib = require('mosse');
    const Responses = new Function('mosse', clmModule('mossefilter/mosseFilterResponses.js'))(mosseLib);
    const calc = new Responses();
    calc.init(pm.weights, n, ps, ps);
    responses = calc.getResponses(patches);
  } else {
    const FFT = new Function(clmModule('utils/fft.js'))();
    const SvmFilter = new Function('FFT', clmModule('svmfilter/svmfilter_fft.js'))(FFT);
    const svm = new SvmFilter();
    svm.init(pm.weights.raw, pm.bias.raw, n, ps, sw);
    responses = svm.getResponses(patches);
  }
  const out = new Float32Array(n * sw * sw + 2 * n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 0; j < sw * sw; j++) {
      out[i * sw * sw + j] = responses[i][j];
      if (responses[i][j] > responses[i][best]) best = j;
    }
    out[n * sw * sw + 2 * i] = mean[i][0] - (sw - 1) / 2 + (best % sw) - ox;
    out[n * sw * sw + 2 * i + 1] = mean[i][1] - (sw - 1) / 2 + Math.floor(best / sw) - oy;
  }
  fs.writeFileSync(outPath, Buffer.from(out.buffer));
  process.stdout.write(JSON.stringify({ side, landmarks: n, window: sw }) + '\n');
}

main();
