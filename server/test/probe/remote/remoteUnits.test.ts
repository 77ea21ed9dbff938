import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { collectPayload, importedModules } from '../../../src/probe/remote/payload';
import { remoteCommand, shQuote } from '../../../src/probe/remote/shellQuote';
import { sshConfigHosts } from '../../../src/probe/remote/sshConfig';
import { checkHost } from '../../../src/probe/remote/sshTransport';
import { workspace } from '../probeScripts';

describe('remote probes: quoting, hosts and what is copied', () => {
  it('every word reaches a POSIX shell unchanged, whatever it holds', () => {
    const words = ['plain', 'two words', "it's", '"dq"', '$(touch /tmp/x)', '`id`', 'a\nb', '*', '~', '', 'x;y|z&', '\\back'];
    // The real test: /bin/sh parses the command line and prints its arguments back.
    const r = spawnSync('/bin/sh', ['-c', `for a in ${remoteCommand(words)}; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
    assert.equal(shQuote('/usr/bin/python3'), '/usr/bin/python3', 'safe words stay readable');
    assert.throws(() => shQuote('a\0b'), /NUL/);
  });

  it('hosts: ssh_config aliases without patterns; destinations that would be options are refused', () => {
    const r = sshConfigHosts('# mine\nHost gpu-box gpu2\n  HostName 10.0.0.2\nHost *.internal !bad\nhost=login\nInclude config.d/*\nHost "quoted one"\n');
    assert.deepEqual(r.hosts, ['gpu-box', 'gpu2', 'login', 'quoted one']);
    assert.deepEqual(r.includes, ['config.d/*']);
    assert.equal(checkHost('me@gpu-box'), undefined);
    assert.match(String(checkHost('-oProxyCommand=x')), /not a host name/);
    assert.match(String(checkHost('a b')), /not a host name/);
  });

  it('what is copied: the script and the workspace modules it imports (relative ones too), not the rest', () => {
    assert.deepEqual(importedModules('import os, numpy as np\nfrom .sib import f\nfrom ..up import (a,\n  b)\nfrom pkg import mod  # comment\n', ['pkg', 'sub']).sort(),
      ['numpy', 'os', 'pkg', 'pkg.mod', 'pkg.sub.sib', 'pkg.sub.sib.f', 'pkg.up', 'pkg.up.a', 'pkg.up.b'].sort());
    const dir = workspace({
      'project/train.py': 'import torch\nfrom models.net import Net\nimport utils\n',
      'project/models/__init__.py': '',
      'project/models/net.py': 'from .layers import Block\n',
      'project/models/layers.py': 'X = 1\n',
      'project/utils.py': 'import json\n',
      'project/unused.py': 'print(1)\n',
      'project/data/big.csv': '1,2,3\n',
      'project/config.yaml': 'lr: 0.1\n',
    });
    const base = path.join(dir, 'project');
    const p = collectPayload(path.join(base, 'train.py'), base, [path.join(base, 'config.yaml'), '/etc/hostname']);
    assert.deepEqual(p.files.map((f) => f.relative), ['config.yaml', 'models/__init__.py', 'models/layers.py', 'models/net.py', 'train.py', 'utils.py']);
  });
});
