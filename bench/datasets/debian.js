#!/usr/bin/env node
'use strict';
// Real-text corpus: Debian package records from `apt-cache dumpavail`, one document each.
//
//   node bench/datasets/debian.js [--index debian] [--format bulk|docs] [--out FILE]
//                                 [--input FILE]     (a saved dumpavail; default: run apt-cache)
//
// Each record (Package, Version, Section, Maintainer, Description, Installed-Size, Depends, ...)
// becomes a document:
//   package, version, source, section, priority, architecture, maintainer, maintainer_email,
//   installed_size (KiB, int), size (bytes, int), description (the synopsis line),
//   long_description (when the lists carry it), homepage, tags[] (debtags),
//   depends[] / recommends[] / suggests[] / pre_depends[] (package names), filename
// Records are sorted by (package, version, architecture) and de-duplicated, so the output is the
// same for the same apt lists (it changes when `apt-get update` brings new lists). _id is
// "<package>=<version>:<arch>". Needs `apt-get update` once on a fresh machine.

const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

function parseRecords(text) {
  const out = [];
  for (const para of text.split(/\n\s*\n/)) {
    if (!para.trim()) continue;
    const rec = {};
    let key = null;
    for (const line of para.split('\n')) {
      if (/^[ \t]/.test(line) && key) {
        rec[key] += '\n' + line.replace(/^ /, '');
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
      if (!m) continue;
      key = m[1];
      rec[key] = m[2];
    }
    if (rec.Package) out.push(rec);
  }
  return out;
}

function names(field) {
  if (!field) return [];
  const seen = new Set();
  for (const alt of field.split(/[,|]/)) {
    const n = alt.trim().split(/[\s(:[]/)[0];
    if (n) seen.add(n);
  }
  return [...seen];
}

function toDoc(r) {
  const maint = /^(.*?)\s*<([^>]+)>/.exec(r.Maintainer || '') || [];
  const desc = r.Description || '';
  const nl = desc.indexOf('\n');
  const longDesc =
    nl >= 0
      ? desc
          .slice(nl + 1)
          .split('\n')
          .map((l) => (l.trim() === '.' ? '' : l))
          .join('\n')
          .trim()
      : '';
  const doc = {
    package: r.Package,
    version: r.Version || '',
    source: (r.Source || r.Package).split(' ')[0],
    section: r.Section || '',
    priority: r.Priority || '',
    architecture: r.Architecture || '',
    maintainer: maint[1] || r.Maintainer || '',
    maintainer_email: maint[2] || '',
    installed_size: r['Installed-Size'] ? Number(r['Installed-Size']) : 0,
    size: r.Size ? Number(r.Size) : 0,
    description: nl >= 0 ? desc.slice(0, nl) : desc,
  };
  if (longDesc) doc.long_description = longDesc;
  if (r.Homepage) doc.homepage = r.Homepage;
  const tags = (r.Tag || '')
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length) doc.tags = tags;
  for (const [f, k] of [
    ['Depends', 'depends'],
    ['Pre-Depends', 'pre_depends'],
    ['Recommends', 'recommends'],
    ['Suggests', 'suggests'],
  ]) {
    const n = names(r[f]);
    if (n.length) doc[k] = n;
  }
  if (r.Filename) doc.filename = r.Filename;
  return doc;
}

/** All documents, sorted and de-duplicated. input: dumpavail text (default: run apt-cache). */
function debianDocs(input) {
  const text = input !== undefined ? input : execFileSync('apt-cache', ['dumpavail'], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const docs = parseRecords(text).map(toDoc);
  const key = (d) => `${d.package}\u0000${d.version}\u0000${d.architecture}`;
  docs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const out = [];
  let prev = null;
  for (const d of docs) {
    const k = key(d);
    if (k !== prev) out.push(d);
    prev = k;
  }
  return out;
}

function docId(d) {
  return `${d.package}=${d.version}:${d.architecture}`;
}

if (require.main === module) {
  const o = { index: 'debian', format: 'bulk', out: null, input: null };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '');
    if (!(k in o)) {
      process.stderr.write(`unknown option ${a[i]}\nusage: debian.js [--index NAME] [--format bulk|docs] [--out FILE] [--input DUMPAVAIL_FILE]\n`);
      process.exit(2);
    }
    o[k] = a[++i];
  }
  const docs = debianDocs(o.input ? fs.readFileSync(o.input, 'utf8') : undefined);
  if (!docs.length) {
    process.stderr.write('debian.js: apt-cache dumpavail gave no records (run apt-get update first)\n');
    process.exit(1);
  }
  const fd = o.out ? fs.openSync(o.out, 'w') : 1;
  let buf = '';
  try {
    for (const d of docs) {
      if (o.format === 'bulk') buf += JSON.stringify({ index: { _index: o.index, _id: docId(d) } }) + '\n';
      buf += JSON.stringify(d) + '\n';
      if (buf.length > 1 << 20) {
        fs.writeSync(fd, buf);
        buf = '';
      }
    }
    if (buf) fs.writeSync(fd, buf);
  } catch (e) {
    if (e.code !== 'EPIPE') throw e;
  }
  if (o.out) fs.closeSync(fd);
  process.stderr.write(`debian.js: ${docs.length} documents\n`);
}

module.exports = { debianDocs, parseRecords, toDoc, docId };
