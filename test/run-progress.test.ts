import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunProgress } from '../src/train/run-progress.ts';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('without a budget, progress is the share of the steps, and the run never runs out of time', () => {
  const clock = fakeClock();
  const progress = new RunProgress(101, undefined, clock.now);
  clock.advance(1e9);
  assert.equal(progress.at(0), 0);
  assert.equal(progress.at(50), 0.5);
  assert.equal(progress.at(100), 1);
  assert.equal(progress.expectedSteps(10), 101);
  assert.equal(progress.outOfTime(), false);
});

test('with a budget, progress follows the clock when it is further on, and the time runs out', () => {
  const clock = fakeClock();
  const progress = new RunProgress(1001, 1, clock.now); // one minute or 1001 steps
  clock.advance(15_000);
  assert.equal(progress.at(10), 0.25, 'a quarter of the time spent beats 1% of the steps');
  assert.equal(progress.expectedSteps(100), 400, '100 steps in a quarter of the time: 400 in all');
  assert.equal(progress.at(900), 0.9, 'the steps are further on than the clock');
  assert.equal(progress.expectedSteps(900), 1001);
  clock.advance(44_000);
  assert.equal(progress.outOfTime(), false);
  clock.advance(1_000);
  assert.equal(progress.outOfTime(), true);
  assert.equal(progress.at(300), 1);
});

test("the time kept for the run's end brings the end of the time forward", () => {
  const clock = fakeClock();
  const progress = new RunProgress(Infinity, 1, clock.now); // as many steps as fit
  clock.advance(30_000);
  assert.equal(progress.at(1e6), 0.5, 'with no step count, only the clock says how far');
  progress.reserve(6_000);
  assert.equal(progress.at(0), 0.6);
  clock.advance(23_999);
  assert.equal(progress.outOfTime(), false);
  clock.advance(1);
  assert.equal(progress.outOfTime(), true, 'out of time 6 s early: the last validation takes that long');
});

test('a run needs a length: epochs or a positive budget', () => {
  assert.throws(() => new RunProgress(Infinity, undefined), /needs a number of epochs, a budget/);
  assert.throws(() => new RunProgress(10, 0), /positive number of minutes/);
  assert.throws(() => new RunProgress(10, Number.NaN), /positive number of minutes/);
});
