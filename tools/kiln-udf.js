#!/usr/bin/env node
'use strict';
// kiln-udf: manage Kiln UDFs from the command line.
//
//   kiln-udf register path/to/udf.json      register the module the manifest names
//   kiln-udf list [--tag T] [--category C] [--author A] [--name PREFIX]
//   kiln-udf get NAME [VERSION]
//   kiln-udf stats [NAME VERSION]
//   kiln-udf execute NAME VERSION '{"doc": {...}, "params": {...}}'
//   kiln-udf delete NAME VERSION
//
// Options: --url http://127.0.0.1:9200 (or $KILN_URL), --api-key KEY (or $KILN_API_KEY).
// Prints the server's JSON answer; exits 1 when the server answered with an error.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');

function usage(msg) {
  if (msg) process.stderr.write(`kiln-udf: ${msg}\n`);
  process.stderr.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 13).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { url: process.env.KILN_URL || 'http://127.0.0.1:9200', apiKey: process.env.KILN_API_KEY || '' };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') opts.url = argv[++i];
    else if (a === '--api-key') opts.apiKey = argv[++i];
    else if (['--tag', '--category', '--author', '--name'].includes(a)) opts[a.slice(2)] = argv[++i];
    else if (a === '-h' || a === '--help') usage();
    else rest.push(a);
  }
  return { opts, rest };
}

function request(opts, method, p, body, contentType) {
  const u = new URL(p, opts.url);
  const lib = u.protocol === 'https:' ? https : http;
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  if (opts.apiKey) headers.Authorization = `ApiKey ${opts.apiKey}`;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The PUT body for a manifest: its metadata plus the module it names, base64. */
function manifestBody(file) {
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const k of ['name', 'version', 'wasm'])
    if (typeof manifest[k] !== 'string') throw new Error(`${file}: "${k}" (a string) is required`);
  const wasm = fs.readFileSync(path.resolve(path.dirname(file), manifest.wasm));
  const { name, version, wasm: _, ...meta } = manifest;
  meta.wasm = wasm.toString('base64');
  return { name, version, body: JSON.stringify(meta) };
}

async function main() {
  const { opts, rest } = parseArgs(process.argv.slice(2));
  const [cmd, ...args] = rest;
  const enc = encodeURIComponent;
  let r;
  switch (cmd) {
    case 'register': {
      if (args.length !== 1) usage('register takes the path of a udf.json');
      const m = manifestBody(args[0]);
      r = await request(opts, 'PUT', `/_udf/${enc(m.name)}/${enc(m.version)}`, m.body);
      break;
    }
    case 'list': {
      const q = new URLSearchParams();
      for (const k of ['tag', 'category', 'author', 'name']) if (opts[k]) q.set(k, opts[k]);
      r = await request(opts, 'GET', `/_udf${q.toString() ? '?' + q : ''}`);
      break;
    }
    case 'get':
      if (args.length < 1) usage('get takes NAME [VERSION]');
      r = await request(opts, 'GET', `/_udf/${args.map(enc).join('/')}`);
      break;
    case 'stats':
      r = await request(opts, 'GET', args.length === 2 ? `/_udf/${enc(args[0])}/${enc(args[1])}/_stats` : '/_udf/_stats');
      break;
    case 'execute':
      if (args.length !== 3) usage('execute takes NAME VERSION BODY');
      r = await request(opts, 'POST', `/_udf/${enc(args[0])}/${enc(args[1])}/_execute`, args[2]);
      break;
    case 'delete':
      if (args.length !== 2) usage('delete takes NAME VERSION');
      r = await request(opts, 'DELETE', `/_udf/${enc(args[0])}/${enc(args[1])}`);
      break;
    default:
      usage(cmd ? `unknown command [${cmd}]` : 'a command is needed');
  }
  let out = r.text;
  try {
    out = JSON.stringify(JSON.parse(r.text), null, 2);
  } catch (_) { /* not JSON: print as is */ }
  process.stdout.write(out + '\n');
  process.exit(r.status >= 400 ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`kiln-udf: ${e.message}\n`);
  process.exit(1);
});
