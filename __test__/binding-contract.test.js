'use strict';

// The contract between JavaScript and the native addon: binding.d.ts,
// generated on every build from the #[napi] items of src/
// (scripts/binding-types.js), says what the addon exports and what shape
// each listen plan has; the JavaScript that uses the addon (the lib/ files
// that start with `// @ts-check`) is type-checked against it. So a change on
// one side that the other does not follow fails here.

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const ts = require('typescript');

const binding = require('../binding');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc');
const libConfig = require('./types/tsconfig.lib.json');
const checkedFiles = libConfig.files.map((file) => path.resolve(__dirname, 'types', file));

function typeCheck(config) {
  const result = spawnSync(process.execPath, [tsc, '-p', config], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

// The declarations of binding.d.ts, by kind.
function declarations(text) {
  const source = ts.createSourceFile('binding.d.ts', text, ts.ScriptTarget.ES2022, true);
  const found = { values: new Map(), interfaces: new Map() };
  for (const statement of source.statements) {
    if (ts.isFunctionDeclaration(statement)) {
      found.values.set(statement.name.text, { kind: 'function' });
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        found.values.set(declaration.name.text, { kind: 'const' });
      }
    } else if (ts.isEnumDeclaration(statement)) {
      const members = statement.members.map((member) => [member.name.text, Number(member.initializer.text)]);
      found.values.set(statement.name.text, { kind: 'enum', members: Object.fromEntries(members) });
    } else if (ts.isClassDeclaration(statement)) {
      const members = statement.members
        .filter((member) => member.name !== undefined)
        .map((member) => member.name.text)
        .sort();
      found.values.set(statement.name.text, { kind: 'class', members });
    } else if (ts.isInterfaceDeclaration(statement)) {
      const properties = statement.members.map((member) => ({
        name: member.name.text,
        optional: member.questionToken !== undefined,
      }));
      found.interfaces.set(statement.name.text, properties);
    }
  }
  return found;
}

const declared = declarations(fs.readFileSync(path.join(root, 'binding.d.ts'), 'utf8'));

describe('binding.d.ts describes the loaded addon', () => {
  test('the same exports, each of the declared kind', () => {
    expect(Object.keys(binding).sort()).toEqual([...declared.values.keys()].sort());
    for (const [name, { kind }] of declared.values) {
      const type = typeof binding[name];
      const expected = { function: 'function', class: 'function', const: 'number', enum: 'object' }[kind];
      expect([name, type]).toEqual([name, expected]);
    }
  });

  test('enums have the declared members and values', () => {
    for (const [name, { kind, members }] of declared.values) {
      if (kind === 'enum') expect([name, { ...binding[name] }]).toEqual([name, members]);
    }
  });

  test('classes have the declared methods and accessors', () => {
    for (const [name, { kind, members }] of declared.values) {
      if (kind !== 'class') continue;
      const own = Object.getOwnPropertyNames(binding[name].prototype).filter((key) => key !== 'constructor');
      expect([name, own.sort()]).toEqual([name, members.filter((member) => member !== 'constructor')]);
    }
  });

  // One call per plan kind: the object the addon returns has the
  // properties its interface declares (optional ones when they apply).
  const { ListenKind, normalizeListenArgs } = binding;
  const { TCP } = require('../lib/node-internals').handles();
  const plan = (args) =>
    normalizeListenArgs(
      args,
      () => {},
      () => {},
      () => {},
      undefined,
      TCP,
      Number,
    );
  const samples = [
    ['TcpPlan', ListenKind.Tcp, [0, '127.0.0.1'], []],
    ['TcpPlan', ListenKind.Tcp, [0], ['host']],
    ['PipePlan', ListenKind.Pipe, ['/tmp/rs-net-contract.sock'], []],
    ['DescriptorPlan', ListenKind.Descriptor, [{ fd: 3 }], []],
    ['HandlePlan', ListenKind.Handle, [new TCP(require('../lib/node-internals').SERVER)], []],
    ['BadPortPlan', ListenKind.BadPort, [{ port: -1 }], []],
    ['NotAnObjectPlan', ListenKind.NotAnObject, [{ handle: 1 }], []],
    ['InvalidOptionsPlan', ListenKind.InvalidOptions, [{}], []],
    ['InvalidOptionsPlan', ListenKind.InvalidOptions, [{ port: {} }], ['reason']],
  ];

  test.each(samples)('%s from listen(%#)', (name, kind, args, absent) => {
    const made = plan(args);
    if (made.kind === ListenKind.Handle) made.handle.close();
    expect(made.kind).toBe(kind);
    const properties = declared.interfaces.get(name);
    const expected = properties.filter((property) => !absent.includes(property.name)).map((p) => p.name);
    expect(Object.keys(made).sort()).toEqual(expected.sort());
  });

  test('every plan kind has a sample above', () => {
    const sampled = new Set(samples.map(([, kind]) => kind));
    // BoundSocket exists on newer Node 24 releases only.
    const kinds = Object.values(ListenKind).filter((kind) => kind !== ListenKind.Bound);
    expect(kinds.filter((kind) => !sampled.has(kind))).toEqual([]);
  });
});

describe('the JavaScript that uses the addon type-checks against binding.d.ts', () => {
  test('lib/ as it is', () => {
    expect(typeCheck(path.join(__dirname, 'types', 'tsconfig.lib.json'))).toEqual({ status: 0, output: '' });
  });

  test('each checked file asks to be checked', () => {
    for (const file of checkedFiles) {
      expect([file, fs.readFileSync(file, 'utf8').split('\n')[0]]).toEqual([file, '// @ts-check']);
    }
  });

  // A copy of lib/ beside a changed binding.d.ts, as if the Rust side had
  // changed and JavaScript had not followed: type checking must fail.
  function checkWithChangedBinding(change) {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rsnet-contract-'));
    try {
      fs.cpSync(path.join(root, 'lib'), path.join(scratch, 'lib'), { recursive: true });
      fs.copyFileSync(path.join(root, 'binding.js'), path.join(scratch, 'binding.js'));
      const types = fs.readFileSync(path.join(root, 'binding.d.ts'), 'utf8');
      const changed = change(types);
      expect(changed).not.toBe(types);
      fs.writeFileSync(path.join(scratch, 'binding.d.ts'), changed);
      const config = {
        compilerOptions: {
          ...libConfig.compilerOptions,
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files: checkedFiles.map((file) => path.join(scratch, path.relative(root, file))),
      };
      fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(config));
      return typeCheck(path.join(scratch, 'tsconfig.json'));
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  test('a renamed plan property fails', () => {
    const result = checkWithChangedBinding((types) =>
      types.replace(/^ {2}ipv6Only: boolean$/m, '  ipv6OnlyFlag: boolean'),
    );
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/lib\/listen\.js.*Property 'ipv6Only' does not exist on type 'TcpPlan'/);
  });

  test('a new plan kind that listen() does not handle fails', () => {
    const result = checkWithChangedBinding((types) =>
      types
        .replace('InvalidOptions = 7', 'InvalidOptions = 7,\n  Future = 8')
        .replace('| InvalidOptionsPlan', '| InvalidOptionsPlan | { kind: ListenKind.Future }'),
    );
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/lib\/listen\.js.*not assignable to parameter of type 'never'/);
  });

  test('a renamed native method fails', () => {
    const result = checkWithChangedBinding((types) =>
      types.replace('  duplicate(): number', '  dup(): number'),
    );
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/lib\/listening-handle\.js.*Property 'duplicate' does not exist/);
  });
});
