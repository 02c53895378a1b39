#!/usr/bin/env node
// Interop test: the real NSQ client nsqjs (pinned in package-lock.json) against push-queued or
// the real nsqd v1.3.0, started by this script with the same flags.
//
//   node interop_test.js --kind queued|nsqd [--bin PATH] --modules-dir DIR [--timeout SECONDS]
//
// 1. Installs nsqjs with `npm ci` into DIR (once; later runs reuse it while the lock file is
//    unchanged). A failed install fails the test with a message saying so.
// 2. Starts the daemon on free 127.0.0.1 ports with a temporary --data-path.
// 3. Creates the topic and two channels over HTTP, connects three nsqjs Readers (two on channel
//    A, one on channel B; maxInFlight 200, msg_timeout 5 s) and one Writer.
// 4. Publishes 10,000 unique binary bodies: PUBs, a few DPUBs and MPUBs of varied sizes.
// 5. On each channel: ~5% are requeued once (REQ 0 or a short delay; a few on channel B with
//    nsqjs's backoff, so RDY goes to 0 and back) and must come back with attempts == 2 and not
//    before the delay; ~2% are TOUCHed on arrival and every 1.5 s and finished 6 s after arrival
//    (msg_timeout is 5 s), and must not be redelivered; everything else is finished at once and
//    seen exactly once. After the last FIN the script waits longer than msg_timeout for stray
//    redeliveries, then checks /stats.
// Exit 0 on success, 1 on failure, 77 (ctest SKIP_RETURN_CODE) when --kind nsqd and no nsqd.
// The daemon is killed by its PID on every path (success, failure, time limit, signal).
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const TOTAL = 10000;
const SINGLE_PUBS = 1000;  // messages [0, 1000) are PUB
const DEFERRED = 20;       // messages [1000, 1020) are DPUB with 100..480 ms
const MAX_IN_FLIGHT = 200;
// The daemon starts a message's msg_timeout when it sends it; the client may read it much later
// on a loaded machine (seen: 1.4 s). So a touched message is touched as soon as it is read and
// then every 1.5 s, and finished 6 s after it was read: without the touches it would time out
// at the latest 5 s after it was read, and come back.
const MSG_TIMEOUT_MS = 5000;
const TOUCH_EVERY_MS = 1500;
const FINISH_TOUCHED_AT_MS = 6000;
const GRACE_MS = MSG_TIMEOUT_MS + 1500;  // quiet time after the last FIN
const PUBLISH_WINDOW = 16;               // publish commands awaiting their OK at once
const EXIT_SKIP = 77;

// ---------------------------------------------------------------------------------------------
// Arguments and locations.

function parseArgs(argv) {
  const args = {kind: '', bin: '', modulesDir: '', timeout: 120};
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(`missing value after ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--kind':
        args.kind = next();
        break;
      case '--bin':
        args.bin = next();
        break;
      case '--modules-dir':
        args.modulesDir = next();
        break;
      case '--timeout':
        args.timeout = Number(next());
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if (args.kind !== 'queued' && args.kind !== 'nsqd') fail('--kind must be queued or nsqd');
  if (!args.modulesDir) fail('--modules-dir is required');
  if (!(args.timeout > 0)) fail('--timeout must be a positive number of seconds');
  return args;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch (e) {
    return false;
  }
}

// The same places tests/support/nsq_daemon.cc looks: NSQD_BIN, the shared peers folder, and
// ../shared/peers/nsq/nsqd beside the source tree.
function findBinary(args) {
  if (args.bin) return isExecutable(args.bin) ? args.bin : '';
  if (args.kind === 'queued') {
    const dir = process.env.PUSH_BIN_DIR || '';
    const p = path.join(dir, 'push-queued');
    return dir && isExecutable(p) ? p : '';
  }
  const candidates = [];
  if (process.env.NSQD_BIN) candidates.push(process.env.NSQD_BIN);
  candidates.push('/work/shared/peers/nsq/nsqd');
  candidates.push(path.resolve(__dirname, '../../../shared/peers/nsq/nsqd'));
  return candidates.find(isExecutable) || '';
}

// ---------------------------------------------------------------------------------------------
// npm ci of the pinned nsqjs into modulesDir (serialized between concurrent tests by a lock
// directory; skipped while the installed lock file equals the source one).

let heldLock = '';  // removed by fail() too

function sleepSync(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

// Returns '' when nsqjs is installed, else what went wrong.
function ensureModules(modulesDir) {
  fs.mkdirSync(modulesDir, {recursive: true});
  const lockDir = path.join(modulesDir, '.install-lock');
  const deadline = Date.now() + 240000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      heldLock = lockDir;
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lockDir).mtimeMs;
      } catch (e2) {
        continue;
      }
      // A live installer holds the lock for at most npm's 150 s limit; older is a dead one.
      if (age > 200000) fs.rmSync(lockDir, {recursive: true, force: true});
      if (Date.now() > deadline) fail(`timed out waiting for ${lockDir}`);
      sleepSync(200);
    }
  }
  try {
    const srcLock = fs.readFileSync(path.join(__dirname, 'package-lock.json'));
    const dstLock = path.join(modulesDir, 'package-lock.json');
    const installed = path.join(modulesDir, 'node_modules', 'nsqjs', 'package.json');
    if (fs.existsSync(installed) && fs.existsSync(dstLock) &&
        fs.readFileSync(dstLock).equals(srcLock)) {
      return '';
    }
    fs.copyFileSync(path.join(__dirname, 'package.json'), path.join(modulesDir, 'package.json'));
    fs.writeFileSync(dstLock, srcLock);
    log(`npm ci --prefix ${modulesDir}`);
    const r = childProcess.spawnSync(
        'npm', ['ci', '--prefix', modulesDir, '--no-audit', '--no-fund', '--loglevel=error'],
        {encoding: 'utf8', timeout: 150000});
    if (r.error || r.status !== 0) {
      fs.rmSync(dstLock, {force: true});  // retry next time
      const why = r.error ? String(r.error) : `exit ${r.status}`;
      const tail = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
      return `npm ci of the pinned nsqjs failed (${why}); this test needs the npm registry or ` +
          `a warm npm cache.\n${tail}`;
    }
    return '';
  } finally {
    fs.rmSync(lockDir, {recursive: true, force: true});
    heldLock = '';
  }
}

// ---------------------------------------------------------------------------------------------
// Logging, failure, cleanup.

const startedAt = Date.now();
let daemon = null;  // {child, logPath, dataPath}
let summaryPrefix = 'nsqjs interop';

function log(s) {
  const t = ((Date.now() - startedAt) / 1000).toFixed(2);
  process.stdout.write(`[${t}s] ${s}\n`);
}

function killDaemonNow() {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    try {
      process.kill(daemon.child.pid, 'SIGKILL');
    } catch (e) {
      // already gone
    }
  }
}

function removeDataPath() {
  if (daemon && daemon.dataPath) fs.rmSync(daemon.dataPath, {recursive: true, force: true});
}

function daemonLogTail(lines) {
  if (!daemon) return '';
  try {
    return fs.readFileSync(daemon.logPath, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return '';
  }
}

function fail(message) {
  process.stdout.write(`FAILED: ${summaryPrefix}: ${message}\n`);
  const tail = daemonLogTail(30);
  if (tail) process.stdout.write(`--- daemon log (last lines) ---\n${tail}\n`);
  killDaemonNow();
  removeDataPath();
  if (heldLock) fs.rmSync(heldLock, {recursive: true, force: true});
  process.exit(1);
}

process.on('exit', killDaemonNow);
process.on('beforeExit', () => fail('the event loop ran empty before the test finished'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => fail(`received ${sig}`));
}
process.on('uncaughtException', (e) => fail(`uncaught exception: ${e && e.stack || e}`));
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e && e.stack || e}`));

// ---------------------------------------------------------------------------------------------
// Daemon.

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

function httpRequest(method, port, pathAndQuery) {
  return new Promise((resolve, reject) => {
    const req = http.request(
        {host: '127.0.0.1', port, method, path: pathAndQuery, timeout: 5000}, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({status: res.statusCode, body: Buffer.concat(chunks)}));
        });
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathAndQuery} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function startDaemon(bin) {
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-interop-'));
  const logPath = path.join(dataPath, 'daemon.log');
  const tcpPort = await freePort();
  const httpPort = await freePort();
  const logFd = fs.openSync(logPath, 'w');
  const argv = [
    `--tcp-address=127.0.0.1:${tcpPort}`, `--http-address=127.0.0.1:${httpPort}`,
    `--data-path=${dataPath}`
  ];
  const child = childProcess.spawn(bin, argv, {stdio: ['ignore', logFd, logFd]});
  fs.closeSync(logFd);
  daemon = {child, logPath, dataPath, tcpPort, httpPort};
  log(`started ${bin} ${argv.join(' ')} (pid ${child.pid})`);
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      fail(`daemon exited at start (${child.exitCode ?? child.signalCode})`);
    }
    try {
      const r = await httpRequest('GET', httpPort, '/ping');
      if (r.status === 200 && (await tcpAccepts(tcpPort))) break;
    } catch (e) {
      // not up yet
    }
    if (Date.now() > deadline) fail('daemon did not answer /ping within 20 s');
    await delay(50);
  }
  log(`daemon ready: tcp 127.0.0.1:${tcpPort} http 127.0.0.1:${httpPort}`);
}

function tcpAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({host: '127.0.0.1', port}, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function stopDaemon() {
  const {child} = daemon;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    const t = setTimeout(() => killDaemonNow(), 10000);
    await exited;
    clearTimeout(t);
  }
  log(`daemon stopped (${child.exitCode ?? child.signalCode})`);
  removeDataPath();
}

function delay(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// ---------------------------------------------------------------------------------------------
// Messages and the plan for each (channel, message).

// A unique binary body: "m<i>:" then bytes that include NUL, '\n' and 0xff.
function bodyOf(i) {
  const len = (i * 37) % 300;
  const b = Buffer.alloc(len);
  for (let k = 0; k < len; k++)
    b[k] = (i * 31 + k * 7) & 0xff;
  return Buffer.concat([Buffer.from(`m${i}:`), b]);
}

function indexOf(body) {
  const colon = body.indexOf(0x3a);
  if (colon < 2 || body[0] !== 0x6d) return -1;
  const i = Number(body.subarray(1, colon).toString('latin1'));
  return Number.isInteger(i) && i >= 0 && i < TOTAL ? i : -1;
}

// Channel A: i%20==3 requeued, i%50==7 touched.
// Channel B: i%20==11 requeued, i%50==29 touched; 2 of its requeues (i%5000==11) also make
// nsqjs back off (RDY 0, then RDY 1, then back to maxInFlight). Only two: each backoff
// slows the reader down for seconds.
// (The two sets of a channel are disjoint: they differ in i%10.)
const CHANNELS = [
  {name: 'chan_a', readers: 2, reqMod: 3, touchMod: 7, backoffMod: -1},
  {name: 'chan_b', readers: 1, reqMod: 11, touchMod: 29, backoffMod: 11},
];

function planOf(ch, i) {
  if (i % 20 === ch.reqMod) return 'requeue';
  if (i % 50 === ch.touchMod) return 'touch';
  return 'finish';
}

// Half the requeues are REQ 0, the others wait 50..350 ms.
function requeueDelayOf(i) { return (i % 40) < 20 ? 0 : 50 + (i % 7) * 50; }

// ---------------------------------------------------------------------------------------------
// The test.

async function main() {
  const args = parseArgs(process.argv);
  summaryPrefix = `nsqjs interop against ${args.kind}`;
  const bin = findBinary(args);
  if (!bin) {
    if (args.kind === 'nsqd') {
      process.stdout.write(
          'SKIPPED: nsqd not found (NSQD_BIN, /work/shared/peers/nsq/nsqd, ' +
          '../shared/peers/nsq/nsqd)\n');
      process.exit(EXIT_SKIP);
    }
    fail(
        `push-queued not found (--bin ${args.bin || '(unset)'}, ` +
        `PUSH_BIN_DIR ${process.env.PUSH_BIN_DIR || '(unset)'})`);
  }
  const installError = ensureModules(args.modulesDir);
  if (installError) fail(installError);
  // The time limit covers the run, not the install (npm ci has its own limit).
  const hardLimit = setTimeout(() => {
    let where = '';
    try {
      where = progress();
    } catch (e) {
      where = '(before the consumers started)';
    }
    fail(`time limit of ${args.timeout} s reached\n${where}`);
  }, args.timeout * 1000);

  const nsq = require(path.join(path.resolve(args.modulesDir), 'node_modules', 'nsqjs'));
  const nsqjsVersion =
      require(path.join(path.resolve(args.modulesDir), 'node_modules', 'nsqjs', 'package.json'))
          .version;
  log(`nsqjs ${nsqjsVersion}, node ${process.version}`);

  await startDaemon(bin);
  const topic = 'nsqjs_interop';
  const {httpPort, tcpPort} = daemon;

  // Topic and channels exist before the first publish, so every channel gets every message.
  for (const p of [`/topic/create?topic=${topic}`].concat(
           CHANNELS.map((ch) => `/channel/create?topic=${topic}&channel=${ch.name}`))) {
    const r = await httpRequest('POST', httpPort, p);
    if (r.status !== 200) fail(`POST ${p}: HTTP ${r.status} ${r.body}`);
  }

  const errors = [];
  const addError = (s) => {
    errors.push(s);
    if (errors.length <= 20 || s.startsWith("/stats")) log(`ERROR: ${s}`);
  };
  let shuttingDown = false;

  // Per-channel state.
  const state = CHANNELS.map((ch) => ({
                               ch,
                               deliveries: new Uint16Array(TOTAL),
                               done: new Uint8Array(TOTAL),
                               doneCount: 0,
                               requeued: 0,
                               requeueExpected: 0,
                               touched: 0,
                               touchExpected: 0,
                               requeuedAt: new Float64Array(TOTAL),
                               lastDeliveryAt: 0,
                               perReader: [],
                             }));
  for (const st of state) {
    for (let i = 0; i < TOTAL; i++) {
      const p = planOf(st.ch, i);
      if (p === 'requeue') st.requeueExpected++;
      if (p === 'touch') st.touchExpected++;
    }
  }
  const publishedAt = new Float64Array(TOTAL);
  const deferOf = (i) =>
      (i >= SINGLE_PUBS && i < SINGLE_PUBS + DEFERRED) ? 100 + (i - SINGLE_PUBS) * 20 : 0;
  let allDone = null;
  const allDonePromise = new Promise((resolve) => {
    allDone = resolve;
  });
  const markDone = (st, i) => {
    if (st.done[i]) return;
    st.done[i] = 1;
    st.doneCount++;
    if (state.every((s) => s.doneCount === TOTAL)) allDone();
  };

  function onMessage(st, readerIndex, msg) {
    const now = Date.now();
    st.lastDeliveryAt = now;
    st.perReader[readerIndex]++;
    const where = `${st.ch.name}/reader${readerIndex}`;
    const body = msg.body;
    const i = indexOf(body);
    if (i < 0) {
      addError(`${where}: unknown body ${body.subarray(0, 40).toString('hex')}`);
      msg.finish();
      return;
    }
    if (!body.equals(bodyOf(i))) {
      addError(`${where}: body of message ${i} corrupted (${body.length} bytes)`);
    }
    const d = ++st.deliveries[i];
    const attempts = msg.attempts;
    const plan = planOf(st.ch, i);
    const defer = deferOf(i);
    if (d === 1 && defer > 0 && now - publishedAt[i] < defer - 25) {
      addError(
          `${where}: DPUB ${defer} ms message ${i} delivered after ${now - publishedAt[i]} ms`);
    }
    if (plan === 'requeue' && d === 1) {
      if (attempts !== 1) addError(`${where}: message ${i} first delivery attempts=${attempts}`);
      st.requeued++;
      st.requeuedAt[i] = now;
      msg.requeue(requeueDelayOf(i), i % 5000 === st.ch.backoffMod);
      return;
    }
    if (plan === 'requeue' && d === 2) {
      if (attempts !== 2) {
        addError(`${where}: requeued message ${i} came back with attempts=${attempts}, want 2`);
      }
      const waited = now - st.requeuedAt[i];
      if (waited < requeueDelayOf(i) - 25) {
        addError(`${where}: message ${i} requeued with ${requeueDelayOf(i)} ms came back after ${
            waited} ms`);
      }
      msg.finish();
      markDone(st, i);
      return;
    }
    if (d > 1) {
      addError(`${where}: message ${i} (${plan}) delivered ${d} times (attempts=${attempts})`);
      msg.finish();
      return;
    }
    if (attempts !== 1) addError(`${where}: message ${i} first delivery attempts=${attempts}`);
    if (plan === 'touch') {
      st.touched++;
      msg.touch();
      const toucher = setInterval(() => {
        if (!msg.hasResponded) msg.touch();
      }, TOUCH_EVERY_MS);
      setTimeout(() => {
        clearInterval(toucher);
        msg.finish();
        markDone(st, i);
      }, FINISH_TOUCHED_AT_MS);
      return;
    }
    msg.finish();
    markDone(st, i);
  }

  // Readers.
  const readers = [];
  const readyPromises = [];
  for (const st of state) {
    for (let r = 0; r < st.ch.readers; r++) {
      st.perReader.push(0);
      const reader = new nsq.Reader(topic, st.ch.name, {
        nsqdTCPAddresses: [`127.0.0.1:${tcpPort}`],
        maxInFlight: MAX_IN_FLIGHT,
        messageTimeout: MSG_TIMEOUT_MS,
        maxBackoffDuration: 1,
        requeueDelay: 0,
        clientId: `nsqjs-${st.ch.name}-${r}`,
      });
      reader.on('message', (msg) => onMessage(st, r, msg));
      reader.on('discard', (msg) => addError(`${st.ch.name}/reader${r}: discard ${msg.id}`));
      reader.on('error', (e) => addError(`${st.ch.name}/reader${r}: error ${e && e.message}`));
      reader.on('nsqd_closed', () => {
        if (!shuttingDown) addError(`${st.ch.name}/reader${r}: connection closed by the daemon`);
      });
      readyPromises.push(new Promise((resolve) => reader.once('ready', resolve)));
      reader.connect();
      readers.push(reader);
    }
  }
  await Promise.all(readyPromises);
  log(`${readers.length} readers subscribed`);

  // Writer.
  const writer = new nsq.Writer('127.0.0.1', tcpPort, {clientId: 'nsqjs-writer'});
  writer.on('error', (e) => addError(`writer: error ${e && e.message}`));
  writer.on('closed', () => {
    if (!shuttingDown) addError('writer: connection closed by the daemon');
  });
  await new Promise((resolve) => {
    writer.once('ready', resolve);
    writer.connect();
  });

  // Publish: PUB x1000, DPUB x20, then MPUB batches of 2..300, pipelined (nsqjs matches the OK
  // responses to callbacks in order) but at most PUBLISH_WINDOW at once, so that the readers
  // in this same process get to run while publishing goes on.
  const pubs = new Set();
  const pubCommands = {PUB: 0, DPUB: 0, MPUB: 0};
  const publish = async (cmd, fn) => {
    while (pubs.size >= PUBLISH_WINDOW)
      await Promise.race(pubs);
    pubCommands[cmd]++;
    const p = new Promise((resolve) => fn((err) => {
                            if (err) addError(`${cmd} failed: ${err.message}`);
                            resolve();
                          }));
    pubs.add(p);
    p.then(() => pubs.delete(p));
  };
  for (let i = 0; i < SINGLE_PUBS; i++) {
    publishedAt[i] = Date.now();
    await publish('PUB', (cb) => writer.publish(topic, bodyOf(i), cb));
  }
  for (let i = SINGLE_PUBS; i < SINGLE_PUBS + DEFERRED; i++) {
    publishedAt[i] = Date.now();
    await publish('DPUB', (cb) => writer.deferPublish(topic, [bodyOf(i)], deferOf(i), cb));
  }
  const batchSizes = [2, 17, 300, 64, 5, 150, 99, 256, 3, 200];
  for (let i = SINGLE_PUBS + DEFERRED, b = 0; i < TOTAL; b++) {
    const n = Math.min(batchSizes[b % batchSizes.length], TOTAL - i);
    const batch = [];
    for (let k = 0; k < n; k++)
      batch.push(bodyOf(i + k));
    if (n === 1) {
      await publish('PUB', (cb) => writer.publish(topic, batch[0], cb));
    } else {
      await publish('MPUB', (cb) => writer.publish(topic, batch, cb));
    }
    i += n;
  }
  await Promise.all([...pubs]);
  log(`published ${TOTAL} messages (${pubCommands.PUB} PUB, ${pubCommands.DPUB} DPUB, ${
      pubCommands.MPUB} MPUB), all acknowledged`);

  function progress() {
    return state
        .map(
            (st) => `${st.ch.name}: ${st.doneCount}/${TOTAL} done, requeued ${st.requeued}/${
                st.requeueExpected}, touched ${st.touched}/${st.touchExpected}, per reader [${
                st.perReader.join(', ')}]`)
        .join('\n');
  }
  const ticker = setInterval(() => log(progress().replace(/\n/g, '; ')), 5000);
  await allDonePromise;
  log('every message finished on every channel; waiting for stray redeliveries');
  // Quiet time: a touched message finished too late, or a lost FIN, would come back here.
  await delay(GRACE_MS);
  clearInterval(ticker);

  // The daemon's own account (nsqd's /stats JSON; queued answers the same).
  const statsRes = await httpRequest('GET', httpPort, `/stats?format=json&topic=${topic}`);
  let stats = null;
  try {
    stats = JSON.parse(statsRes.body.toString());
  } catch (e) {
    addError(`/stats?format=json is not JSON: ${statsRes.body.subarray(0, 200)}`);
  }
  if (stats) {
    const data = stats.data || stats;
    const t = (data.topics || []).find((x) => x.topic_name === topic);
    if (!t) {
      addError(`/stats has no topic ${topic}`);
    } else {
      if (t.message_count !== TOTAL) addError(`/stats topic message_count ${t.message_count}`);
      if (t.depth !== 0) addError(`/stats topic depth ${t.depth}`);
      for (const st of state) {
        const c = (t.channels || []).find((x) => x.channel_name === st.ch.name);
        if (!c) {
          addError(`/stats has no channel ${st.ch.name}`);
          continue;
        }
        const want = {
          depth: 0,
          in_flight_count: 0,
          deferred_count: 0,
          message_count: TOTAL,
          requeue_count: st.requeueExpected,
          timeout_count: 0,
          client_count: st.ch.readers,
        };
        for (const [k, v] of Object.entries(want)) {
          if (c[k] !== v) addError(`/stats ${st.ch.name}.${k} = ${c[k]}, want ${v}`);
        }
      }
    }
  }

  shuttingDown = true;
  for (const r of readers)
    r.close();
  writer.close();
  await delay(100);
  await stopDaemon();

  // Verdict.
  for (const st of state) {
    let missing = 0;
    let extra = 0;
    for (let i = 0; i < TOTAL; i++) {
      const want = planOf(st.ch, i) === 'requeue' ? 2 : 1;
      if (st.deliveries[i] < want) missing++;
      if (st.deliveries[i] > want) extra++;
    }
    if (missing) addError(`${st.ch.name}: ${missing} messages missing`);
    if (extra) addError(`${st.ch.name}: ${extra} messages with unexpected redeliveries`);
    if (st.requeued !== st.requeueExpected) {
      addError(`${st.ch.name}: requeued ${st.requeued}, want ${st.requeueExpected}`);
    }
    if (st.touched !== st.touchExpected) {
      addError(`${st.ch.name}: touched ${st.touched}, want ${st.touchExpected}`);
    }
    if (st.ch.readers > 1 && st.perReader.some((n) => n === 0)) {
      addError(`${st.ch.name}: a reader got no messages (${st.perReader.join(', ')})`);
    }
  }
  log(progress().replace(/\n/g, '; '));
  const secs = ((Date.now() - startedAt) / 1000).toFixed(1);
  if (errors.length) {
    const kinds = new Map();
    for (const e of errors) {
      const k = e.replace(/\b[0-9a-f]{16}\b/g, '<id>').replace(/\d+/g, '#');
      kinds.set(k, (kinds.get(k) || 0) + 1);
    }
    for (const [k, n] of kinds)
      log(`${n} x ${k}`);
    fail(`${errors.length} problems (first: ${errors[0]}) after ${secs} s`);
  }
  process.stdout.write(
      `PASSED: ${summaryPrefix}: ${TOTAL} messages x ${CHANNELS.length} ` +
      `channels, ${state.map((s) => s.requeued).join('+')} REQ, ${
          state.map((s) => s.touched).join('+')} TOUCH, no loss, no ` +
      `unexpected duplicates, in ${secs} s\n`);
  process.exit(0);
}

main().catch((e) => fail(`exception: ${e && e.stack || e}`));
