#!/usr/bin/env node
// Runs a BBF cascade as jsfeat itself does (jsfeat 0.0.8: bbf.prepare_cascade, build_pyramid
// with the smallest object twice the window and an interval of 4, detect, group_rectangles with
// one neighbour: its face-detection sample's settings) on grey PGM pictures, and prints one JSON
// object: per picture, the raw hits and the grouped detections as [x, y, width, height].
// CASCADE is a script in jsfeat's own layout (`(function(global){ global.face_cascade = …
// })(jsfeat.bbf)`, as jsfeat's cascades/bbf_face.js).
//   node run-bbf-jsfeat.js CASCADE.js PICTURE.pgm...
'use strict';
const fs = require('fs');

function readPgm(path) {
  const b = fs.readFileSync(path);
  // "P5\n<w> <h>\n255\n" then the pixels.
  let at = 0;
  const fields = [];
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(b[at]))) at += 1;
    let s = '';
    while (!/\s/.test(String.fromCharCode(b[at]))) s += String.fromCharCode(b[at++]);
    fields.push(s);
  }
  at += 1;
  const [magic, w, h] = [fields[0], Number(fields[1]), Number(fields[2])];
  if (magic !== 'P5') throw new Error(`${path}: not a binary PGM`);
  return { w, h, data: b.subarray(at, at + w * h) };
}

function main() {
  const [cascadePath, ...pictures] = process.argv.slice(2);
  if (!pictures.length) throw new Error('usage: run-bbf-jsfeat.js CASCADE.js PICTURE.pgm...');
  const jsfeat = require('jsfeat');
  new Function('jsfeat', fs.readFileSync(cascadePath, 'utf8'))(jsfeat);
  const cascade = jsfeat.bbf.face_cascade;
  jsfeat.bbf.prepare_cascade(cascade);
  const box = (r) => [r.x, r.y, r.width, r.height];
  const out = pictures.map((p) => {
    const pgm = readPgm(p);
    const img = new jsfeat.matrix_t(pgm.w, pgm.h, jsfeat.U8_t | jsfeat.C1_t);
    img.data.set(pgm.data);
    const pyr = jsfeat.bbf.build_pyramid(img, cascade.width * 2, cascade.height * 2, 4);
    const raw = jsfeat.bbf.detect(pyr, cascade);
    const grouped = jsfeat.bbf.group_rectangles(raw, 1);
    return { raw: raw.map(box), grouped: grouped.map(box) };
  });
  process.stdout.write(JSON.stringify(out) + '\n');
}

main();
