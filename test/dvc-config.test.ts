import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initDvc, parseDvcConfig, readDefaultRemote, remoteNameFor, remoteObjectUrl, renderDvcConfig } from '../src/dvc/index.js';
import { UserError } from '../src/errors.js';

async function tmpdir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvc-config-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('remoteNameFor gives cmf fixed names', () => {
  assert.equal(remoteNameFor('/data/remote'), 'local-storage');
  assert.equal(remoteNameFor('../remote'), 'local-storage');
  assert.equal(remoteNameFor('remote dir'), 'local-storage');
  assert.equal(remoteNameFor('s3://bucket/prefix'), 'amazons3');
  assert.equal(remoteNameFor('S3://bucket'), 'amazons3');
  assert.equal(remoteNameFor('ssh://host/dir'), 'ssh-storage');
  assert.equal(remoteNameFor('https://origin.example/dir'), 'osdf');
  assert.equal(remoteNameFor('http://origin.example/dir'), 'osdf');
  assert.throws(() => remoteNameFor('gs://bucket'), (e: unknown) => e instanceof UserError && /gs:\/\/bucket/.test(e.message));
  assert.throws(() => remoteNameFor(''), UserError);
});

test('renderDvcConfig matches the configobj shape of tests/func/test_config.py', () => {
  assert.equal(
    renderDvcConfig('myremote', 's3://bucket/path', { region: 'us-east-2' }),
    "[core]\n    remote = myremote\n['remote \"myremote\"']\n    url = s3://bucket/path\n    region = us-east-2\n",
  );
  assert.equal(renderDvcConfig('local-storage', '/srv/dvc'), "[core]\n    remote = local-storage\n['remote \"local-storage\"']\n    url = /srv/dvc\n");
});

test('osdf extra keys, values needing configobj quotes, and the parse round trip', () => {
  const extra = {
    method: 'PUT', ssl_verify: 'false', ask_password: 'false', auth: 'custom',
    custom_auth_header: 'Authorization', password: 'Bearer abc.def', note: 'has # hash', lead: ' space', q: 'say "x"', e: '',
  };
  const text = renderDvcConfig('osdf', 'https://origin.example/dir', extra);
  assert.ok(text.includes('    password = Bearer abc.def\n'));
  assert.ok(text.includes('    note = "has # hash"\n'));
  assert.ok(text.includes(`    q = 'say "x"'\n`));
  assert.ok(text.includes('    e = ""\n'));
  assert.deepEqual(parseDvcConfig(text), {
    core: { remote: 'osdf' },
    remotes: { osdf: { url: 'https://origin.example/dir', ...extra } },
  });
});

test('parseDvcConfig reads comments, other sections, double-quoted headers and lowercases core.remote', () => {
  const text = [
    '# top comment',
    '[core]',
    '    remote = MyRemote   # inline',
    '    autostage = true',
    '[cache]',
    '    type = "reflink,copy"',
    '["remote \\"x\\""]',
    "['remote \"myremote\"']",
    '    url = s3://bucket/path',
    '    # a comment inside',
    '    region = us-east-2',
    '',
  ].join('\n');
  const cfg = parseDvcConfig(text);
  assert.equal(cfg.core.remote, 'myremote');
  assert.equal(cfg.core.autostage, 'true');
  assert.deepEqual(cfg.remotes.myremote, { url: 's3://bucket/path', region: 'us-east-2' });
  assert.deepEqual(parseDvcConfig(''), { core: {}, remotes: {} });
});

test('remoteObjectUrl appends files/md5/<2>/<30>', () => {
  const md5 = 'acbd18db4cc2f85cedef654fccc4a4d8';
  assert.equal(remoteObjectUrl('s3://bucket/prefix/', md5), 's3://bucket/prefix/files/md5/ac/bd18db4cc2f85cedef654fccc4a4d8');
  assert.equal(remoteObjectUrl('/srv/dvc', md5), '/srv/dvc/files/md5/ac/bd18db4cc2f85cedef654fccc4a4d8');
  assert.equal(remoteObjectUrl('https://o/d//', md5), 'https://o/d/files/md5/ac/bd18db4cc2f85cedef654fccc4a4d8');
  assert.throws(() => remoteObjectUrl('/x', 'nope'), /32 lowercase hex/);
});

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string): Promise<void> {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = await fsp.stat(p, { bigint: true });
      out[path.relative(dir, p)] = `${st.mode.toString(8)} ${st.mtimeNs} ${st.ino}` + (e.isFile() ? ` ${await fsp.readFile(p, 'utf8')}` : '');
      if (e.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out;
}

test('initDvc writes what dvc init + dvc remote add -d write, and a second call changes nothing', async (t) => {
  const ws = await tmpdir(t);
  await initDvc(ws, '/srv/dvc-remote');
  const read = (p: string) => fsp.readFile(path.join(ws, p), 'utf8');
  assert.equal(await read('.dvc/config'), "[core]\n    remote = local-storage\n['remote \"local-storage\"']\n    url = /srv/dvc-remote\n");
  assert.equal(await read('.dvc/.gitignore'), '/config.local\n/tmp\n/cache\n');
  assert.equal(
    await read('.dvcignore'),
    '# Add patterns of files dvc should ignore, which could improve\n# the performance. Learn more at\n# https://dvc.org/doc/user-guide/dvcignore\n',
  );
  for (const d of ['.dvc', '.dvc/cache', '.dvc/cache/files', '.dvc/cache/files/md5']) {
    assert.equal(((await fsp.stat(path.join(ws, d))).mode & 0o777).toString(8), '755', d);
  }
  const before = await snapshot(ws);
  await new Promise((r) => setTimeout(r, 20));
  await initDvc(ws, '/srv/dvc-remote');
  assert.deepEqual(await snapshot(ws), before);
  assert.deepEqual(await readDefaultRemote(ws), { name: 'local-storage', url: '/srv/dvc-remote' });
});

test('initDvc updates an existing config whose default remote differs, keeping everything else', async (t) => {
  const ws = await tmpdir(t);
  await fsp.mkdir(path.join(ws, '.dvc'));
  const old = "[core]\n    remote = local-storage\n    autostage = true\n# keep me\n['remote \"local-storage\"']\n    url = /old\n[cache]\n    type = copy\n";
  await fsp.writeFile(path.join(ws, '.dvc/config'), old);
  await initDvc(ws, 'https://origin.example/dir', { extra: { method: 'PUT' } });
  const text = await fsp.readFile(path.join(ws, '.dvc/config'), 'utf8');
  assert.equal(
    text,
    "[core]\n    remote = osdf\n    autostage = true\n# keep me\n['remote \"local-storage\"']\n    url = /old\n[cache]\n    type = copy\n" +
      "['remote \"osdf\"']\n    url = https://origin.example/dir\n    method = PUT\n",
  );
  assert.deepEqual(await readDefaultRemote(ws), { name: 'osdf', url: 'https://origin.example/dir' });
  // Same remote, new url: only the url line changes.
  await initDvc(ws, 'https://origin.example/other', { extra: { method: 'PUT' } });
  assert.match(await fsp.readFile(path.join(ws, '.dvc/config'), 'utf8'), /\['remote "osdf"'\]\n    url = https:\/\/origin\.example\/other\n    method = PUT\n$/);
});

test('a relative local remote is stored relative to .dvc/ (as DVC does) and read back absolute', async (t) => {
  const ws = await tmpdir(t);
  await initDvc(ws, '../remote', { cwd: ws });
  assert.match(await fsp.readFile(path.join(ws, '.dvc/config'), 'utf8'), /    url = \.\.\/\.\.\/remote\n$/);
  assert.deepEqual(await readDefaultRemote(ws), { name: 'local-storage', url: path.resolve(ws, '../remote') });
  const before = await snapshot(ws);
  await initDvc(ws, path.resolve(ws, '../remote'));
  assert.deepEqual(await snapshot(ws), before, 'the same place given absolutely is not a change');
});

test('readDefaultRemote: none without config, config.local overrides, missing url is a UserError', async (t) => {
  const ws = await tmpdir(t);
  assert.equal(await readDefaultRemote(ws), undefined);
  await initDvc(ws, 's3://bucket/prefix');
  await fsp.writeFile(path.join(ws, '.dvc/config.local'), "['remote \"amazons3\"']\n    url = s3://other/p\n");
  assert.deepEqual(await readDefaultRemote(ws), { name: 'amazons3', url: 's3://other/p' });
  await fsp.writeFile(path.join(ws, '.dvc/config.local'), '[core]\n    remote = nowhere\n');
  await assert.rejects(readDefaultRemote(ws), (e: unknown) => e instanceof UserError && /"nowhere"/.test(e.message));
});

test('initDvc under a regular file fails with a UserError', async (t) => {
  const ws = await tmpdir(t);
  await fsp.writeFile(path.join(ws, 'file'), '');
  await assert.rejects(initDvc(path.join(ws, 'file'), '/r'), UserError);
});
