// One load-generator SioClient on the raw transport, reporting in JSON lines, for
// tests/integration/test_bench_raw_client.py.
//
//   NODE_PATH=<loadgen node_modules> node raw_client_probe.mjs LOADGEN_JS_DIR BASE_URL
//
// Prints {"event":"connected"} or {"event":"error","message"} (connect rejected), then
// {"event":"message","bytes","head"} per Socket.IO event and {"event":"closed"} when the
// connected socket closes. Exits when stdin closes.
import { createRequire } from 'node:module';

const [jsDir, baseUrl] = process.argv.slice(2);
const require = createRequire(`${jsDir}/`);
const { SioClient } = require('./eio_client.js');

const say = (fields) => process.stdout.write(`${JSON.stringify(fields)}\n`);
const client = new SioClient(baseUrl, {
  transport: 'raw',
  onEvent: (buf, start, end) => {
    say({ event: 'message', bytes: end - start, head: buf.toString('utf8', start, Math.min(end, start + 40)) });
  },
  onClose: () => say({ event: 'closed' }),
});
process.stdin.on('end', () => process.exit(0)).resume();
try {
  await client.connect(5000);
  say({ event: 'connected' });
} catch (err) {
  say({ event: 'error', message: err.message });
}
