// Runs a TF.js graph model in TF.js itself (tfjs-core's CPU backend and tfjs-converter, from
// .deps/tfjs, which scripts/setup.sh installs) on the input in INPUT.json ({shape, data}) and
// prints the outputs as JSON ([{shape, data}, ...]). Used by scripts/compare-tfjs-onnx.py.
//   node scripts/run-tfjs-graph.js MODEL.json INPUT.json
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelPath, inputPath] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(modelPath));
  const dir = path.dirname(modelPath);
  const specs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  await tf.setBackend('cpu');
  const model = await converter.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: specs, weightData,
    format: json.format, signature: json.signature,
  }));
  const input = JSON.parse(fs.readFileSync(inputPath));
  let out = model.execute(tf.tensor(input.data, input.shape));
  if (!Array.isArray(out)) out = [out];
  console.log(JSON.stringify(out.map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }))));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
