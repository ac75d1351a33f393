// Switchyard's side of a side-by-side benchmark, shared by the peers' scripts
// (bench/peer/ort_bench.js, bench/llama/llama_bench.mjs): `encoder_bench serve` started as a child
// (bench/encoder_bench.c), which answers one command a line, and the median the tables quote.
'use strict';

const childProcess = require('child_process');
const readline = require('readline');

// Starts `BIN serve DIR THREADS SPECS...` and returns {pid, hidden, ask(line) -> Promise<reply
// line>, close()}.
async function startSwitchyard(bin, dir, threads, specs) {
  const child = childProcess.spawn(bin, ['serve', dir, String(threads), ...specs], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // OpenBLAS is linked only for the peak measurement; its idle threads must not compete.
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  const waiting = [];
  let exited = null;
  child.on('exit', (code) => {
    exited = `${bin} serve exited with status ${code}`;
    while (waiting.length) waiting.shift().reject(new Error(exited));
  });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    if (waiting.length) waiting.shift().resolve(line);
  });
  const next = () => new Promise((resolve, reject) => {
    if (exited) reject(new Error(exited));
    else waiting.push({ resolve, reject });
  });
  const ready = await next();
  if (!ready.startsWith('ready ')) throw new Error(`${bin} serve: unexpected ${ready}`);
  return {
    pid: child.pid,
    hidden: parseInt(ready.slice(6), 10),
    ask: (line) => {
      const reply = next();
      child.stdin.write(line + '\n');
      return reply;
    },
    close: () => {
      child.stdin.end('quit\n');
    },
  };
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : 0.5 * (s[h - 1] + s[h]);
}

module.exports = { startSwitchyard, median };
