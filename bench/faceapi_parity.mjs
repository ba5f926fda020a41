// The original face-api.js FaceExpressionNet (its own code, tfjs CPU backend) on crops written by
// bench/faceapi_parity.py: node faceapi_parity.mjs FACE_API_MODULE MODEL_DIR INPUT.json OUTPUT.json
import fs from 'fs';
import { pathToFileURL } from 'url';

const [, , modulePath, modelDir, inputPath, outputPath] = process.argv;
const faceapi = await import(pathToFileURL(modulePath).href);
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();

// The package's weights, decoded (and dequantised) by tfjs itself.
const manifest = JSON.parse(fs.readFileSync(`${modelDir}/face_expression_model-weights_manifest.json`, 'utf8'));
const bytes = fs.readFileSync(`${modelDir}/face_expression_model.bin`);
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const net = new faceapi.FaceExpressionNet();
net.loadFromWeightMap(tf.io.decodeWeights(buffer, manifest[0].weights));

const inputs = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
const out = [];
for (const { shape, rgb } of inputs) {
  const raw = Buffer.from(rgb, 'base64');
  const image = tf.tensor3d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), shape, 'float32');
  const expressions = await net.predictExpressions(image);   // face-api's own input path: pad, resize, normalise
  out.push(faceapi.FACE_EXPRESSION_LABELS.map((label) => expressions[label]));
  image.dispose();
}
fs.writeFileSync(outputPath, JSON.stringify({ labels: faceapi.FACE_EXPRESSION_LABELS, probabilities: out, tfjs: tf.version_core }));
