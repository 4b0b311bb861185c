import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecoderGate } from '../../../stages/lib/data/decoder-gate.ts';

/** A task that records when it starts and ends, and finishes only when told. */
function task(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    run: async () => {
      log.push(`${name} start`);
      await done;
      log.push(`${name} end`);
      return name;
    },
    finish,
  };
}

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('shared work overlaps; alone waits for the work in flight and holds back new work until it ends', async () => {
  const gate = new DecoderGate();
  const log: string[] = [];
  const a = task(log, 'a');
  const b = task(log, 'b');
  const solo = task(log, 'solo');
  const c = task(log, 'c');
  const ra = gate.shared(a.run);
  const rb = gate.shared(b.run);
  await ticks();
  assert.deepEqual(log, ['a start', 'b start'], 'two shared tasks run at once');
  const rsolo = gate.alone(solo.run);
  await ticks();
  const rc = gate.shared(c.run);
  await ticks();
  assert.deepEqual(log, ['a start', 'b start'], 'alone waits for a and b; c waits behind it');
  a.finish();
  await ticks();
  assert.deepEqual(log.slice(2), ['a end'], 'still b in flight');
  b.finish();
  await ticks();
  assert.deepEqual(log.slice(3), ['b end', 'solo start']);
  solo.finish();
  await ticks();
  assert.deepEqual(log.slice(5), ['solo end', 'c start']);
  c.finish();
  assert.deepEqual(await Promise.all([ra, rb, rsolo, rc]), ['a', 'b', 'solo', 'c']);
});

test('a failing task releases the gate either way', async () => {
  const gate = new DecoderGate();
  await assert.rejects(
    gate.shared(async () => {
      throw new Error('shared boom');
    }),
    /shared boom/,
  );
  await assert.rejects(
    gate.alone(async () => {
      throw new Error('alone boom');
    }),
    /alone boom/,
  );
  assert.equal(await gate.alone(async () => 'free'), 'free');
  assert.equal(await gate.shared(async () => 'free too'), 'free too');
});
